//! What commands do to the session of the connection they run on.
//!
//! Some commands leave state on their connection that the next command sees: a
//! `MULTI` queues what follows, a `WATCH` makes a later `EXEC` fail, `SUBSCRIBE` and
//! `MONITOR` make the server send messages unasked, `SELECT` and `CLIENT TRACKING`
//! change what every later command does. A connection that is lent to one user after
//! another (an [`aio::Pool`](crate::aio::Pool)'s dedicated connections) must not carry
//! that state from one to the next, or the next user's replies are not its own.
//!
//! [`Session`] follows the command names sent on one socket, without parsing the
//! replies, and says whether the session may still differ from the one the handshake
//! set up. It errs on the safe side: a `SELECT` back to the configured database, or a
//! command that failed, still counts as a change. Cost: one or two small
//! comparisons of the command name per command.

use crate::cmd::{Cmd, Pipeline};

/// The session state that commands sent on one socket may have left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Session {
    /// Inside `MULTI` (until `EXEC` or `DISCARD`).
    in_multi: bool,
    /// Keys watched (until `EXEC`, `DISCARD` or `UNWATCH`).
    watching: bool,
    /// Changed for good: subscribed, monitoring, another database, client options,
    /// another user or protocol.
    changed: bool,
}

impl Session {
    /// True while no command sent may have changed the session the handshake set up.
    pub(crate) fn is_pristine(&self) -> bool {
        *self == Session::default()
    }

    /// Notes a command sent on the socket.
    pub(crate) fn note(&mut self, command: &Cmd) {
        let (name, sub) = command.name_and_subcommand();
        self.note_name(name, sub);
    }

    /// Notes every command of a pipeline sent on the socket, in order. (An atomic
    /// pipeline's own `MULTI` and `EXEC` open and close in one write: they leave
    /// nothing.)
    pub(crate) fn note_pipeline(&mut self, pipeline: &Pipeline) {
        pipeline.each_name_and_subcommand(|name, sub| self.note_name(name, sub));
    }

    fn note_name(&mut self, name: &[u8], sub: Option<&[u8]>) {
        let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
        if is("MULTI") {
            self.in_multi = true;
        } else if is("WATCH") {
            self.watching = true;
        } else if is("EXEC") || is("DISCARD") {
            self.in_multi = false;
            self.watching = false;
        } else if is("UNWATCH") {
            self.watching = false;
        } else if [
            "SUBSCRIBE",
            "PSUBSCRIBE",
            "SSUBSCRIBE",
            "MONITOR",
            "SELECT",
            "HELLO",
            "AUTH",
            "RESET",
            "READONLY",
            "READWRITE",
            "SYNC",
            "PSYNC",
            "REPLCONF",
        ]
        .iter()
        .any(|w| is(w))
        {
            self.changed = true;
        } else if is("CLIENT") {
            let sub_is = |word: &str| sub.is_some_and(|s| s.eq_ignore_ascii_case(word.as_bytes()));
            if [
                "TRACKING", "REPLY", "SETNAME", "NO-EVICT", "NO-TOUCH", "SETINFO",
            ]
            .iter()
            .any(|w| sub_is(w))
            {
                self.changed = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    fn after(commands: &[&[&str]]) -> Session {
        let mut session = Session::default();
        for args in commands {
            let mut c = cmd(args[0]);
            c.args(&args[1..]);
            session.note(&c);
        }
        session
    }

    #[test]
    fn transactions_that_end_leave_nothing() {
        assert!(
            after(&[
                &["WATCH", "k"],
                &["GET", "k"],
                &["MULTI"],
                &["SET", "k", "1"],
                &["EXEC"]
            ])
            .is_pristine()
        );
        assert!(after(&[&["watch", "k"], &["unwatch"]]).is_pristine());
        assert!(after(&[&["MULTI"], &["DISCARD"]]).is_pristine());
        assert!(!after(&[&["WATCH", "k"]]).is_pristine());
        assert!(!after(&[&["MULTI"], &["SET", "k", "1"]]).is_pristine());
        assert!(!after(&[&["MULTI"], &["UNWATCH"]]).is_pristine());
    }

    #[test]
    fn commands_that_change_the_connection_are_never_undone() {
        for args in [
            &["SELECT", "0"][..],
            &["subscribe", "c"],
            &["PSUBSCRIBE", "p*"],
            &["MONITOR"],
            &["CLIENT", "TRACKING", "on"],
            &["client", "setname", "x"],
            &["CLIENT", "REPLY", "OFF"],
            &["HELLO", "3"],
            &["RESET"],
        ] {
            assert!(
                !after(&[args, &["EXEC"], &["UNWATCH"]]).is_pristine(),
                "{args:?}"
            );
        }
        for args in [
            &["CLIENT", "LIST"][..],
            &["CLIENT", "ID"],
            &["GET", "SELECT"],
            &["PING"],
        ] {
            assert!(after(&[args]).is_pristine(), "{args:?}");
        }
    }

    #[test]
    fn pipelines_are_noted_in_order() {
        let mut p = Pipeline::new();
        p.cmd("WATCH").arg("k");
        p.cmd("MULTI");
        p.cmd("INCR").arg("k");
        p.cmd("EXEC");
        let mut session = Session::default();
        session.note_pipeline(&p);
        assert!(session.is_pristine());
        p.cmd("SELECT").arg(1);
        session.note_pipeline(&p);
        assert!(!session.is_pristine());
    }
}
