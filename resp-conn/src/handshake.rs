//! The commands that prepare a new connection, and the rules for opening one, shared
//! by the sync and async fronts.
//!
//! The handshake is never empty: with nothing else to send it is a `PING`, so that
//! every open waits for one reply from the server. A server that wants a password
//! (`NOAUTH`), or that accepts connections and never answers, fails the open itself.
//! That costs one round trip per open for a RESP2 connection without credentials,
//! database or name.
//!
//! Everything that can fail in an open becomes [`Error::Connect`] naming the address,
//! except a refused login, which is [`Error::Auth`].

use std::time::{Duration, Instant};

use crate::cmd::{Cmd, cmd};
use crate::error::{Error, Result, ServerError, ServerErrorKind};
use crate::info::{ConnectionInfo, Protocol};
use crate::reply::Value;
use crate::sync::check_error;

/// One handshake command.
pub(crate) struct Step {
    pub(crate) command: Cmd,
    /// It carries credentials: any error reply to it is an authentication failure.
    authenticates: bool,
}

impl Step {
    fn new(command: Cmd, authenticates: bool) -> Step {
        Step {
            command,
            authenticates,
        }
    }
}

/// The handshake for `info`, sent in one write; each command has one reply.
///
/// RESP3 folds authentication and the client name into `HELLO 3`; RESP2 uses `AUTH`
/// and `CLIENT SETNAME`. `SELECT` follows when the database is not 0; `PING` when
/// there is nothing else.
pub(crate) fn steps(info: &ConnectionInfo) -> Vec<Step> {
    let mut steps = Vec::new();
    match info.protocol {
        Protocol::Resp3 => {
            let mut hello = cmd("HELLO");
            hello.arg("3");
            if let Some(password) = &info.password {
                hello
                    .arg("AUTH")
                    .arg(info.username.as_deref().unwrap_or("default"))
                    .arg(password.as_str());
            }
            if let Some(name) = &info.client_name {
                hello.arg("SETNAME").arg(name.as_str());
            }
            // HELLO also fails for reasons other than credentials (an old server
            // without it): only WRONGPASS / NOAUTH make it an authentication failure.
            steps.push(Step::new(hello, false));
        }
        Protocol::Resp2 => {
            if let Some(password) = &info.password {
                let mut auth = cmd("AUTH");
                if let Some(user) = &info.username {
                    auth.arg(user.as_str());
                }
                auth.arg(password.as_str());
                steps.push(Step::new(auth, true));
            }
            if let Some(name) = &info.client_name {
                let mut setname = cmd("CLIENT");
                setname.arg("SETNAME").arg(name.as_str());
                steps.push(Step::new(setname, false));
            }
        }
    }
    if info.db != 0 {
        let mut select = cmd("SELECT");
        select.arg(info.db);
        steps.push(Step::new(select, false));
    }
    if steps.is_empty() {
        steps.push(Step::new(cmd("PING"), false));
    }
    steps
}

/// The handshake's commands, back to back, for one write.
pub(crate) fn encode(steps: &[Step]) -> Vec<u8> {
    let mut out = Vec::new();
    for step in steps {
        step.command.write_to(&mut out);
    }
    out
}

/// Checks one handshake reply: any error reply fails the connection, as
/// [`Error::Auth`] if it is about credentials.
pub(crate) fn check(info: &ConnectionInfo, step: &Step, reply: Value) -> Result<()> {
    match check_error(reply) {
        Ok(_) => Ok(()),
        Err(Error::Server(e)) => {
            let e = without_password(info, e);
            if step.authenticates || is_auth_refusal(&e) {
                Err(Error::Auth {
                    addr: info.addr.to_string(),
                    source: e,
                })
            } else {
                Err(Error::Server(e))
            }
        }
        Err(e) => Err(e),
    }
}

/// How Redis introduces the arguments it echoes in "unknown command" errors.
const ECHOED_ARGS: &str = "with args beginning with:";

/// `e` without the password: a server that lacks a handshake command (a Redis
/// before 6 has no `HELLO`; `AUTH` may be renamed away) answers "unknown command
/// 'HELLO', with args beginning with: '3' 'AUTH' 'default' '<password>'". The echoed
/// arguments go (Redis cuts them at 128 bytes, so a long password may show only in
/// part), and so does any other copy of the password.
fn without_password(info: &ConnectionInfo, mut e: ServerError) -> ServerError {
    let Some(password) = info.password.as_deref().filter(|p| !p.is_empty()) else {
        return e;
    };
    if let Some(at) = e.message.find(ECHOED_ARGS) {
        e.message.truncate(at + ECHOED_ARGS.len());
        e.message.push_str(" ***");
    }
    if e.message.contains(password) {
        e.message = e.message.replace(password, "***");
    }
    e
}

fn is_auth_refusal(e: &ServerError) -> bool {
    matches!(e.kind, ServerErrorKind::WrongPass | ServerErrorKind::NoAuth)
}

/// Names the address in an error from opening a connection to `info`: anything but
/// an [`Error::Auth`] (which names it already) becomes [`Error::Connect`].
pub(crate) fn failed(info: &ConnectionInfo, e: Error) -> Error {
    match e {
        e @ (Error::Auth { .. } | Error::Connect { .. }) => e,
        e => Error::Connect {
            addr: info.addr.to_string(),
            source: Box::new(e),
        },
    }
}

/// The end of the time an open may take (`connect_timeout`), if it has one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// Starts the clock for opening a connection to `info`. A timeout too large to
    /// add to the clock (`Duration::MAX`) is no deadline at all, not a panic.
    pub(crate) fn start(info: &ConnectionInfo) -> Deadline {
        Deadline(
            info.connect_timeout
                .and_then(|t| Instant::now().checked_add(t)),
        )
    }

    /// How long the next step may take: what is left of the deadline, or `fallback`
    /// without one. A deadline already passed is [`Error::Timeout`] (never a zero
    /// duration, which sockets refuse as a timeout).
    pub(crate) fn remaining(self, fallback: Option<Duration>) -> Result<Option<Duration>> {
        match self.0 {
            None => Ok(fallback),
            Some(end) => match end.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(Error::Timeout),
            },
        }
    }
}
