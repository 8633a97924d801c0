//! Errors: from the network, the protocol, the server, and converting replies.
//!
//! # Where, and no secrets
//!
//! A connection that cannot be opened (refused, timed out, broken or failing during
//! the handshake) is [`Error::Connect`], naming the address (`host:port` or the Unix
//! socket path); credentials the server rejects, or credentials it wants and was not
//! given, are [`Error::Auth`]. Both come from `open`, never from the first command
//! (the handshake always runs at once), and from reconnects.
//!
//! No error text or `Debug` output contains a password: URLs in
//! [`Error::InvalidConfig`] have their user information replaced by `***`, and an
//! error reply to the handshake that echoes its arguments (a server without `HELLO`,
//! or with `AUTH` renamed: "unknown command ..., with args beginning with: ...") has
//! them, and any copy of the password, replaced by `***`.

use std::fmt;
use std::io;

/// A specialized `Result` for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed (connection refused or reset, broken pipe...).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The server sent bytes that are not valid RESP; the connection is closed.
    #[error("protocol error: {0}")]
    Protocol(#[from] resp_parser::ParseError),
    /// The server answered with an error reply.
    #[error("{0}")]
    Server(#[from] ServerError),
    /// A reply could not be converted into the requested Rust type.
    #[error("cannot convert {got} reply to {expected}{}", context_suffix(.context))]
    Conversion {
        /// The Rust type that was asked for.
        expected: &'static str,
        /// The RESP type (or value) that arrived.
        got: String,
        /// Where in a nested reply, if anywhere (e.g. `element 3`).
        context: Option<String>,
    },
    /// A read or write took longer than its configured timeout. (Opening a connection
    /// that takes longer than `connect_timeout` is [`Error::Connect`] around this.)
    #[error("timed out")]
    Timeout,
    /// Opening a connection to `addr` failed: refused, unreachable, not done within
    /// `connect_timeout` (handshake included), or broken or answered with an error
    /// during the handshake. `source` says which (see [`Error::is_timeout`]).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The server's address: `host:port`, or the Unix socket path.
        addr: String,
        /// What went wrong.
        source: Box<Error>,
    },
    /// The server at `addr` rejected the credentials, or wants credentials that were
    /// not given (`WRONGPASS`, `NOAUTH`, or an error reply to `AUTH`), during the
    /// handshake of an open or a reconnect.
    #[error("authentication failed at {addr}: {source}")]
    Auth {
        /// The server's address: `host:port`, or the Unix socket path.
        addr: String,
        /// The server's error reply.
        source: ServerError,
    },
    /// The connection was closed by the server, or is not usable after an earlier error.
    #[error("connection closed")]
    ConnectionClosed,
    /// A connection URL or setting is invalid.
    #[error("invalid connection info: {0}")]
    InvalidConfig(String),
    /// The server sent a reply when none was expected: the connection is out of step
    /// and is closed.
    #[error("unexpected reply from the server: {0}")]
    UnexpectedReply(String),
    /// A WATCH transaction kept failing because watched keys kept changing.
    #[error("transaction aborted {attempts} times because watched keys changed")]
    TransactionConflict {
        /// How many times the transaction was tried.
        attempts: usize,
    },
}

fn context_suffix(context: &Option<String>) -> String {
    context
        .as_ref()
        .map(|c| format!(" (at {c})"))
        .unwrap_or_default()
}

impl Error {
    /// The server error, if this is one.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// True when the connection can no longer be used and must be re-established:
    /// I/O errors, protocol errors, timeouts, closed connections, and connections
    /// that could not be opened. ([`Error::Auth`] is not one: connecting again with
    /// the same credentials fails the same way.)
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            Error::Io(_)
                | Error::Protocol(_)
                | Error::Timeout
                | Error::ConnectionClosed
                | Error::UnexpectedReply(_)
                | Error::Connect { .. }
        )
    }

    /// True for a timeout: of a read or write ([`Error::Timeout`]), or of opening a
    /// connection ([`Error::Connect`] around one).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout => true,
            Error::Connect { source, .. } => source.is_timeout(),
            _ => false,
        }
    }

    /// True when the server refused the credentials ([`Error::Auth`]).
    pub fn is_auth_error(&self) -> bool {
        matches!(self, Error::Auth { .. })
    }

    /// A copy of this error, for telling many waiting callers about one failure.
    /// (`std::io::Error` is not `Clone`; the copy keeps its kind and message.)
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io(e) => Error::Io(io::Error::new(e.kind(), e.to_string())),
            Error::Protocol(e) => Error::Protocol(*e),
            Error::Server(e) => Error::Server(e.clone()),
            Error::Conversion {
                expected,
                got,
                context,
            } => Error::Conversion {
                expected,
                got: got.clone(),
                context: context.clone(),
            },
            Error::Timeout => Error::Timeout,
            Error::Connect { addr, source } => Error::Connect {
                addr: addr.clone(),
                source: Box::new(source.duplicate()),
            },
            Error::Auth { addr, source } => Error::Auth {
                addr: addr.clone(),
                source: source.clone(),
            },
            Error::ConnectionClosed => Error::ConnectionClosed,
            Error::InvalidConfig(s) => Error::InvalidConfig(s.clone()),
            Error::UnexpectedReply(s) => Error::UnexpectedReply(s.clone()),
            Error::TransactionConflict { attempts } => Error::TransactionConflict {
                attempts: *attempts,
            },
        }
    }

    pub(crate) fn conversion(expected: &'static str, got: impl Into<String>) -> Error {
        Error::Conversion {
            expected,
            got: got.into(),
            context: None,
        }
    }

    /// Adds where in a nested reply a conversion failed.
    pub(crate) fn in_context(self, at: impl FnOnce() -> String) -> Error {
        match self {
            Error::Conversion {
                expected,
                got,
                context,
            } => Error::Conversion {
                expected,
                got,
                context: Some(match context {
                    Some(inner) => format!("{}, {inner}", at()),
                    None => at(),
                }),
            },
            other => other,
        }
    }

    /// Maps a timed-out socket operation to [`Error::Timeout`].
    pub(crate) fn from_io(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout,
            io::ErrorKind::UnexpectedEof => Error::ConnectionClosed,
            _ => Error::Io(e),
        }
    }
}

/// The kinds of error replies Redis sends, by their first word.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// `ERR`: the generic error.
    Err,
    /// `WRONGTYPE`: the command does not apply to the key's type.
    WrongType,
    /// `NOSCRIPT`: EVALSHA of a script the server does not have.
    NoScript,
    /// `MOVED <slot> <addr>`: the slot lives on another cluster node.
    Moved {
        /// The hash slot.
        slot: u16,
        /// The node that serves it, `host:port`.
        addr: String,
    },
    /// `ASK <slot> <addr>`: ask another node, for this command only (slot migration).
    Ask {
        /// The hash slot.
        slot: u16,
        /// The node to ask, `host:port`.
        addr: String,
    },
    /// `BUSY`: a script is running.
    Busy,
    /// `LOADING`: the server is loading its dataset.
    Loading,
    /// `READONLY`: a write sent to a replica.
    ReadOnly,
    /// `NOAUTH`: authentication required.
    NoAuth,
    /// `WRONGPASS`: wrong user name or password.
    WrongPass,
    /// `NOPERM`: the user lacks permission.
    NoPerm,
    /// `EXECABORT`: EXEC discarded the transaction after an earlier error.
    ExecAbort,
    /// `CROSSSLOT`: keys of one command in different cluster slots.
    CrossSlot,
    /// `TRYAGAIN`: retry later (cluster resharding).
    TryAgain,
    /// `CLUSTERDOWN`: the cluster cannot serve.
    ClusterDown,
    /// `OOM`: the server is out of memory.
    OutOfMemory,
    /// Any other code, e.g. a module's or a Lua script's own.
    Other(String),
}

/// An error reply from the server: its kind and its whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The kind, from the first word of the reply.
    pub kind: ServerErrorKind,
    /// The whole error text as sent, e.g. `WRONGTYPE Operation against a key holding
    /// the wrong kind of value`.
    pub message: String,
}

impl ServerError {
    /// Classifies an error reply's text.
    pub fn parse(text: &[u8]) -> ServerError {
        let message = String::from_utf8_lossy(text).into_owned();
        let mut words = message.split(' ');
        let code = words.next().unwrap_or_default();
        let redirect = |words: &mut std::str::Split<'_, char>| -> Option<(u16, String)> {
            let slot = words.next()?.parse().ok()?;
            let addr = words.next()?.to_owned();
            Some((slot, addr))
        };
        let kind = match code {
            "ERR" => ServerErrorKind::Err,
            "WRONGTYPE" => ServerErrorKind::WrongType,
            "NOSCRIPT" => ServerErrorKind::NoScript,
            "MOVED" | "ASK" => match redirect(&mut words) {
                Some((slot, addr)) if code == "MOVED" => ServerErrorKind::Moved { slot, addr },
                Some((slot, addr)) => ServerErrorKind::Ask { slot, addr },
                None => ServerErrorKind::Other(code.to_owned()),
            },
            "BUSY" => ServerErrorKind::Busy,
            "LOADING" => ServerErrorKind::Loading,
            "READONLY" => ServerErrorKind::ReadOnly,
            "NOAUTH" => ServerErrorKind::NoAuth,
            "WRONGPASS" => ServerErrorKind::WrongPass,
            "NOPERM" => ServerErrorKind::NoPerm,
            "EXECABORT" => ServerErrorKind::ExecAbort,
            "CROSSSLOT" => ServerErrorKind::CrossSlot,
            "TRYAGAIN" => ServerErrorKind::TryAgain,
            "CLUSTERDOWN" => ServerErrorKind::ClusterDown,
            "OOM" => ServerErrorKind::OutOfMemory,
            other => ServerErrorKind::Other(other.to_owned()),
        };
        ServerError { kind, message }
    }

    /// The text after the error code, e.g. `Operation against a key...` for WRONGTYPE.
    pub fn detail(&self) -> &str {
        self.message
            .split_once(' ')
            .map(|(_, rest)| rest)
            .unwrap_or_default()
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server error: {}", self.message)
    }
}

impl std::error::Error for ServerError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_come_from_the_first_word() {
        let e = ServerError::parse(
            b"WRONGTYPE Operation against a key holding the wrong kind of value",
        );
        assert_eq!(e.kind, ServerErrorKind::WrongType);
        assert_eq!(
            e.detail(),
            "Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            ServerError::parse(b"MOVED 3999 127.0.0.1:6381").kind,
            ServerErrorKind::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            }
        );
        assert_eq!(
            ServerError::parse(b"ASK 3999 127.0.0.1:6381").kind,
            ServerErrorKind::Ask {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            }
        );
        assert_eq!(
            ServerError::parse(b"MOVED nonsense").kind,
            ServerErrorKind::Other("MOVED".into())
        );
        assert_eq!(
            ServerError::parse(b"MYMODULE failed").kind,
            ServerErrorKind::Other("MYMODULE".into())
        );
        assert_eq!(
            ServerError::parse(b"").kind,
            ServerErrorKind::Other(String::new())
        );
    }
}
