//! A lean Redis client on [`resp_parser`]: sync and async connections, pipelines,
//! transactions, Lua scripts and pub/sub.
//!
//! ```no_run
//! use resp_conn::{cmd, Connection, Pipeline};
//!
//! let mut con = Connection::open("redis://127.0.0.1:6379/0")?;
//! con.query::<()>(cmd("SET").arg("visits").arg(0))?;
//!
//! let mut pipe = Pipeline::new();
//! pipe.cmd("INCR").arg("visits");
//! pipe.cmd("INCR").arg("visits");
//! let (a, b): (i64, i64) = con.query_pipeline(&pipe)?;
//! assert_eq!((a, b), (1, 2));
//! # Ok::<(), resp_conn::Error>(())
//! ```
//!
//! # Modules
//!
//! * [`info`]: where and how to connect (URLs, credentials, RESP2/RESP3, timeouts).
//! * [`cmd`](mod@cmd): commands and pipelines, encoded as they are built.
//! * [`reply`]: converting reply frames into Rust types ([`FromFrame`]).
//! * [`sync`]: the blocking [`Connection`].
//! * [`script`]: Lua scripts with `EVALSHA` and automatic loading.
//! * [`pubsub`]: subscriber connections that resubscribe after reconnecting.
//! * [`aio`] (feature `tokio`, on by default): the async connections, including the
//!   multiplexed handle that many tasks share.
//! * [`error`]: typed errors, with server errors classified by kind.
//!
//! Replies are resp-parser frames over `bytes::Bytes` ([`Value`]): a bulk string in a
//! reply is a handle into the read buffer, never a copy.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "tokio")]
pub mod aio;
pub mod cmd;
pub mod error;
mod handshake;
pub mod info;
mod pipeline;
pub mod pubsub;
mod replies;
pub mod reply;
pub mod script;
mod session;
pub mod sync;

pub use cmd::{Cmd, Pipeline, cmd};
pub use error::{Error, Result, ServerError, ServerErrorKind};
pub use info::{Addr, ConnectionInfo, IntoConnectionInfo, Protocol};
pub use pubsub::{Message, PubSub};
pub use reply::{FromFrame, Value};
pub use resp_parser::encode::ToArg;
pub use script::{Script, ScriptInvocation};
pub use sync::Connection;
