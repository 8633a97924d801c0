//! Lua scripts, called by hash with `EVALSHA` and loaded on demand.
//!
//! ```no_run
//! use resp_conn::{Connection, Script};
//!
//! let mut con = Connection::open("redis://127.0.0.1")?;
//! let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
//! let n: i64 = script.key("counter").arg(5).invoke(&mut con)?;
//! # Ok::<(), resp_conn::Error>(())
//! ```
//!
//! A call sends `EVALSHA`; if the server answers `NOSCRIPT` (a new server, a restart, a
//! `SCRIPT FLUSH`) the script is loaded with `SCRIPT LOAD` and the call repeated. In a
//! [`Pipeline`], scripts the connection has not loaded yet are loaded
//! in the same write before the pipeline's commands.

use std::collections::HashSet;
use std::sync::Arc;

use resp_parser::encode::ToArg;

use crate::cmd::{Cmd, Pipeline, cmd};
use resp_parser::GenericFrame;

use crate::error::Result;
use crate::reply::{FromFrame, Value};
use crate::sync::Connection;

/// A Lua script and its SHA1 hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    source: Arc<str>,
    hash: String,
}

impl Script {
    /// Wraps a script's source, computing its hash.
    pub fn new(source: &str) -> Script {
        Script {
            hash: sha1_smol::Sha1::from(source).digest().to_string(),
            source: Arc::from(source),
        }
    }

    /// The script's SHA1 hash in hex, as `EVALSHA` wants it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The script's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn source_arc(&self) -> Arc<str> {
        self.source.clone()
    }

    /// Starts a call with a first key.
    pub fn key<K: ToArg>(&self, key: K) -> ScriptInvocation<'_> {
        let mut inv = self.prepare();
        inv.key(key);
        inv
    }

    /// Starts a call with a first argument.
    pub fn arg<A: ToArg>(&self, arg: A) -> ScriptInvocation<'_> {
        let mut inv = self.prepare();
        inv.arg(arg);
        inv
    }

    /// Starts a call with no keys or arguments yet.
    pub fn prepare(&self) -> ScriptInvocation<'_> {
        ScriptInvocation {
            script: self,
            keys: Cmd::new(),
            args: Cmd::new(),
        }
    }

    /// The `SCRIPT LOAD` command for this script.
    pub fn load_cmd(&self) -> Cmd {
        load_cmd(&self.source)
    }
}

/// One call of a [`Script`]: its keys (`KEYS[i]`) and arguments (`ARGV[i]`).
#[derive(Debug, Clone)]
pub struct ScriptInvocation<'s> {
    script: &'s Script,
    keys: Cmd,
    args: Cmd,
}

impl<'s> ScriptInvocation<'s> {
    /// Adds a key.
    pub fn key<K: ToArg>(&mut self, key: K) -> &mut Self {
        self.keys.arg(key);
        self
    }

    /// Adds an argument.
    pub fn arg<A: ToArg>(&mut self, arg: A) -> &mut Self {
        self.args.arg(arg);
        self
    }

    /// The script being called.
    pub fn script(&self) -> &'s Script {
        self.script
    }

    /// The `EVALSHA` command for this call.
    pub fn evalsha(&self) -> Cmd {
        self.command("EVALSHA", self.script.hash())
    }

    /// The `EVAL` command for this call (sends the whole source).
    pub fn eval(&self) -> Cmd {
        self.command("EVAL", self.script.source())
    }

    fn command(&self, verb: &str, body: &str) -> Cmd {
        let mut c = cmd(verb);
        c.arg(body).arg(self.keys.argc());
        c.append(&self.keys);
        c.append(&self.args);
        c
    }

    /// Runs the call on a blocking connection: `EVALSHA`, and if the server does not
    /// have the script (`NOSCRIPT`), `EVAL` with its source, which also caches it. One
    /// round trip more, the first time only; unlike a `SCRIPT LOAD` and a second
    /// `EVALSHA`, no `SCRIPT FLUSH` in between can make the call fail.
    pub fn invoke<T: FromFrame>(&self, con: &mut Connection) -> Result<T> {
        let mut reply = con.request(&self.evalsha())?;
        if is_noscript(&reply) {
            reply = con.request(&self.eval())?;
            if !reply.is_error() {
                // EVAL cached it (a script that does not compile is not cached).
                con.script_loaded(self.script.hash());
            }
        }
        T::from_frame(reply)
    }
}

/// True for a `NOSCRIPT` error reply. Checked on the raw frame, so that it works
/// whatever type the caller converts the reply to (a `Value` keeps error frames).
pub(crate) fn is_noscript(reply: &Value) -> bool {
    matches!(
        reply.without_attributes(),
        GenericFrame::SimpleError(text) | GenericFrame::BulkError(text) if text.starts_with(b"NOSCRIPT")
    )
}

/// The `SCRIPT LOAD` commands a pipeline needs before it runs on a connection that
/// has loaded `loaded`.
pub(crate) fn missing_scripts(pipeline: &Pipeline, loaded: &HashSet<String>) -> Vec<Cmd> {
    pipeline
        .scripts()
        .iter()
        .filter(|(sha, _)| !loaded.contains(sha))
        .map(|(_, source)| load_cmd(source))
        .collect()
}

/// `SCRIPT LOAD <source>` (no need to hash the source again to build it).
pub(crate) fn load_cmd(source: &str) -> Cmd {
    let mut c = cmd("SCRIPT");
    c.arg("LOAD").arg(source);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha1_hex() {
        // The SHA1 of the empty script, as Redis computes it.
        assert_eq!(
            Script::new("").hash(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }

    #[test]
    fn evalsha_lists_keys_then_args() {
        let s = Script::new("return 1");
        let mut inv = s.key("k1");
        inv.key("k2").arg("a");
        let expected = {
            let mut c = cmd("EVALSHA");
            c.arg(s.hash()).arg(2).arg("k1").arg("k2").arg("a");
            c
        };
        assert_eq!(inv.evalsha(), expected);
    }
}
