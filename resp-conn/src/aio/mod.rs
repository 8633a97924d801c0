//! Async connections on tokio.
//!
//! * [`MultiplexedConnection`]: a cheap `Clone + Send + Sync` handle that any number of
//!   tasks share. Requests queued at the same time go out in one write
//!   (auto-pipelining) and replies are matched to callers in order. When the
//!   connection drops, every request in flight fails at once with a connection error,
//!   and the next request reconnects (with backoff after failed attempts).
//! * [`Connection`]: one socket owned by one task, for what must not share a socket:
//!   blocking commands (`BLPOP`, `XREAD BLOCK`, `WAIT`) and `MONITOR`.
//! * [`PubSub`]: a dedicated subscriber connection.
//!
//! # Which to use
//!
//! Use one `MultiplexedConnection` for all ordinary traffic of a process: it needs no
//! pool, and concurrency makes it faster (more requests per write). A blocking command
//! would stall every other caller of a multiplexed handle, so give each blocking
//! consumer its own [`Connection`], or borrow one from a [`Pool`] when many tasks block.
//! Pub/sub always gets its own connection ([`PubSub`]).

mod connection;
mod multiplexed;
mod pool;
mod pubsub;
mod stream;

pub use connection::Connection;
pub use multiplexed::MultiplexedConnection;
pub use pool::{Pool, PooledConnection};
pub use pubsub::PubSub;
