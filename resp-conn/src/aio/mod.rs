//! Async connections on tokio.
//!
//! * [`MultiplexedConnection`]: a cheap `Clone + Send + Sync` handle that any number of
//!   tasks share. Requests queued at the same time go out in one write
//!   (auto-pipelining) and replies are matched to callers in order. When the
//!   connection drops, every request in flight fails at once with a connection error,
//!   and the next request reconnects (with backoff after failed attempts).
//! * [`Connection`]: one socket owned by one task, for what must not share a socket:
//!   blocking commands (`BLPOP`, `XREAD BLOCK`, `WAIT`) and `MONITOR`.
//! * [`Pool`]: a few multiplexed handles that ordinary requests share in turn, and
//!   dedicated [`Connection`]s lent one task at a time for blocking commands and
//!   transactions that span round trips.
//! * [`PubSub`]: a dedicated subscriber connection.
//!
//! # Which to use
//!
//! Use one `MultiplexedConnection` (or a [`Pool`]'s shared handles) for all ordinary
//! traffic of a process: it needs no checkout, and concurrency makes it faster (more
//! requests per write). A blocking command would stall every other caller of a
//! multiplexed handle, so give each blocking consumer its own [`Connection`], or
//! borrow one from a [`Pool`] with [`Pool::get`] when many tasks block. Pub/sub always
//! gets its own connection ([`PubSub`]).
//!
//! # Cancellation
//!
//! Any request future of these types may be dropped part-way (a timeout, `select!`,
//! an aborted task), and no reply ever goes to another request:
//!
//! * [`MultiplexedConnection`] (and a pool's shared handles): the request given up is
//!   still written if it was queued, and its reply is read and dropped by the driver;
//!   the connection and every other request on it go on unaffected.
//! * [`Connection`] (and a pool's lent connections): the socket is closed at the cut,
//!   so the server drops a half-written command and stops a blocking command's wait,
//!   and the next request reconnects ([details](Connection#cancellation)). A [`Pool`]
//!   never takes back a connection closed this way ([details](Pool#cancellation)).
//!
//! In every case the server may or may not have run the request given up.

mod connection;
mod multiplexed;
mod pool;
mod pubsub;
mod stream;

pub use connection::Connection;
pub use multiplexed::MultiplexedConnection;
pub use pool::{Pool, PoolBuilder, PooledConnection};
pub use pubsub::PubSub;
