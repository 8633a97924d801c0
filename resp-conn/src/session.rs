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
//! command that failed, still counts as a change, and a command that ends a
//! transaction or a watch ends it only when the server can have accepted it:
//!
//! * `EXEC`, `DISCARD` and `UNWATCH` with arguments are refused (their arity), and
//!   leave the `MULTI` or `WATCH` in place;
//! * `EXEC` or `DISCARD` with no `MULTI` before them is refused ("without MULTI") and
//!   leaves every watched key watched;
//! * a command that ends something but was answered with an error (an ACL refusal,
//!   `BUSY`, `EXECABORT`, or any error in the same pipeline, where the replies are
//!   not matched to commands) is taken to have ended nothing.
//!
//! The cost of erring: a connection closed and reopened that could have been kept.
//! Cost: one or two small comparisons of the command name per command.

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

    /// Notes a command sent on the socket; `refused` if its reply was an error (or
    /// never came).
    pub(crate) fn note(&mut self, command: &Cmd, refused: bool) {
        let (name, sub) = command.name_and_subcommand();
        self.note_name(name, sub, refused);
    }

    /// Notes every command of a pipeline sent on the socket, in order; `refused` if
    /// any of its replies was an error (or they did not all come). (An atomic
    /// pipeline's own `MULTI` and `EXEC` open and close in one write: they leave
    /// nothing.)
    pub(crate) fn note_pipeline(&mut self, pipeline: &Pipeline, refused: bool) {
        pipeline.each_name_and_subcommand(|name, sub| self.note_name(name, sub, refused));
    }

    /// `sub` is the command's second argument: for `EXEC`, `DISCARD` and `UNWATCH`,
    /// which take none, one means the server refused the command.
    fn note_name(&mut self, name: &[u8], sub: Option<&[u8]>, refused: bool) {
        let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
        // Whether an ending command can have been accepted (see the module docs).
        let accepted = !refused && sub.is_none();
        if is("MULTI") {
            self.in_multi = true;
        } else if is("WATCH") {
            self.watching = true;
        } else if is("EXEC") || is("DISCARD") {
            // Without a MULTI the server answers "without MULTI" and unwatches nothing.
            if accepted && self.in_multi {
                self.in_multi = false;
                self.watching = false;
            }
        } else if is("UNWATCH") {
            if accepted {
                self.watching = false;
            }
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
            session.note(&c, false);
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
    fn an_ending_command_the_server_refuses_ends_nothing() {
        // Refused for their arity, or "without MULTI": the server keeps the state.
        assert!(!after(&[&["MULTI"], &["EXEC", "x"]]).is_pristine());
        assert!(!after(&[&["MULTI"], &["DISCARD", "x"]]).is_pristine());
        assert!(!after(&[&["WATCH", "k"], &["EXEC"]]).is_pristine());
        assert!(!after(&[&["WATCH", "k"], &["DISCARD"]]).is_pristine());
        assert!(!after(&[&["WATCH", "k"], &["UNWATCH", "x"]]).is_pristine());
        // Answered with an error (an ACL refusal, BUSY): not ended either.
        let mut session = Session::default();
        session.note(&cmd("MULTI"), false);
        session.note(&cmd("EXEC"), true);
        assert!(!session.is_pristine());
        session.note(&cmd("EXEC"), false);
        assert!(session.is_pristine());
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
        session.note_pipeline(&p, false);
        assert!(session.is_pristine());
        p.cmd("SELECT").arg(1);
        session.note_pipeline(&p, false);
        assert!(!session.is_pristine());
    }
}
