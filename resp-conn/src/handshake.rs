//! The commands that prepare a new connection, shared by the sync and async fronts.

use crate::cmd::{Cmd, cmd};
use crate::error::Result;
use crate::info::{ConnectionInfo, Protocol};
use crate::reply::Value;
use crate::sync::check_error;

/// The handshake for `info`, sent in one write; each command has one reply.
///
/// RESP3 folds authentication and the client name into `HELLO 3`; RESP2 uses `AUTH`
/// and `CLIENT SETNAME`. `SELECT` follows when the database is not 0.
pub(crate) fn commands(info: &ConnectionInfo) -> Vec<Cmd> {
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
            steps.push(hello);
        }
        Protocol::Resp2 => {
            if let Some(password) = &info.password {
                let mut auth = cmd("AUTH");
                if let Some(user) = &info.username {
                    auth.arg(user.as_str());
                }
                auth.arg(password.as_str());
                steps.push(auth);
            }
            if let Some(name) = &info.client_name {
                let mut setname = cmd("CLIENT");
                setname.arg("SETNAME").arg(name.as_str());
                steps.push(setname);
            }
        }
    }
    if info.db != 0 {
        let mut select = cmd("SELECT");
        select.arg(info.db);
        steps.push(select);
    }
    steps
}

/// Checks one handshake reply: any error reply fails the connection.
pub(crate) fn check(_step: &Cmd, reply: Value) -> Result<()> {
    check_error(reply).map(drop)
}
