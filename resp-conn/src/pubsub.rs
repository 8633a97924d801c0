//! Pub/sub: subscriber connections and their messages.
//!
//! A subscribed connection can do little but receive, so a subscriber is its own
//! connection: [`PubSub`] (blocking) or [`aio::PubSub`](crate::aio::PubSub). Both
//! remember their channels and patterns and subscribe again after reconnecting, so a
//! subscriber survives a server restart (messages published while it was away are
//! lost: pub/sub does not store them). A subscription the server refuses to restore
//! (the user's ACL no longer allows the channel) is forgotten, every other one is
//! restored, and the next wait for a message returns the server's refusal once (a
//! subscribe or unsubscribe reports only its own outcome); Redis refuses a whole
//! `SUBSCRIBE` for one denied name, so the restore then goes name by name.
//!
//! Messages arrive as arrays in RESP2 and as push frames in RESP3; both become a
//! [`Message`].
//!
//! ```no_run
//! use resp_conn::{cmd, Connection, PubSub};
//!
//! let mut sub = PubSub::open("redis://127.0.0.1")?;
//! sub.subscribe(["news"])?;
//! let mut publisher = Connection::open("redis://127.0.0.1")?;
//! publisher.query::<i64>(cmd("PUBLISH").arg("news").arg("hello"))?;
//! let msg = sub.next_message()?;
//! assert_eq!(&msg.payload[..], b"hello");
//! # Ok::<(), resp_conn::Error>(())
//! ```

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use resp_parser::GenericFrame;

use crate::cmd::{Cmd, cmd};
use crate::error::Result;
use crate::info::IntoConnectionInfo;
use crate::reply::Value;
use crate::sync::Connection;

/// One published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern that matched, for `PSUBSCRIBE` subscriptions.
    pub pattern: Option<Bytes>,
    /// The message.
    pub payload: Bytes,
    /// True for a sharded channel (`SSUBSCRIBE`, `SPUBLISH`).
    pub sharded: bool,
}

impl Message {
    /// The payload as UTF-8 text, if it is.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }

    /// The channel name as UTF-8 text, if it is.
    pub fn channel_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.channel).ok()
    }
}

/// What a frame on a subscribed connection is.
#[derive(Debug)]
pub(crate) enum Event {
    Message(Message),
    /// A (un)subscribe confirmation: its kind (e.g. `subscribe`) and the number of
    /// subscriptions the connection has afterwards.
    Confirmation,
    /// Anything else (a reply to PING, for example).
    Other(Value),
}

/// Classifies a frame read on a subscribed connection.
pub(crate) fn classify(frame: Value) -> Event {
    let items = match &frame {
        GenericFrame::Push(items) | GenericFrame::Array(items) => items,
        _ => return Event::Other(frame),
    };
    let text = |i: usize| match items.get(i) {
        Some(GenericFrame::BulkString(b) | GenericFrame::SimpleString(b)) => Some(b.clone()),
        _ => None,
    };
    let Some(kind) = text(0) else {
        return Event::Other(frame);
    };
    match (&kind[..], items.len()) {
        (b"message" | b"smessage", 3) => match (text(1), text(2)) {
            (Some(channel), Some(payload)) => Event::Message(Message {
                channel,
                pattern: None,
                payload,
                sharded: &kind[..] == b"smessage",
            }),
            _ => Event::Other(frame),
        },
        (b"pmessage", 4) => match (text(1), text(2), text(3)) {
            (Some(pattern), Some(channel), Some(payload)) => Event::Message(Message {
                channel,
                pattern: Some(pattern),
                payload,
                sharded: false,
            }),
            _ => Event::Other(frame),
        },
        (
            b"subscribe" | b"unsubscribe" | b"psubscribe" | b"punsubscribe" | b"ssubscribe"
            | b"sunsubscribe",
            3,
        ) => Event::Confirmation,
        _ => Event::Other(frame),
    }
}

/// The subscriptions of one subscriber, to restore after a reconnect.
#[derive(Debug, Default, Clone)]
pub(crate) struct Subscriptions {
    pub(crate) channels: BTreeSet<Vec<u8>>,
    pub(crate) patterns: BTreeSet<Vec<u8>>,
    pub(crate) shard_channels: BTreeSet<Vec<u8>>,
}

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn verb(self, subscribe: bool) -> &'static str {
        match (self, subscribe) {
            (Kind::Channel, true) => "SUBSCRIBE",
            (Kind::Channel, false) => "UNSUBSCRIBE",
            (Kind::Pattern, true) => "PSUBSCRIBE",
            (Kind::Pattern, false) => "PUNSUBSCRIBE",
            (Kind::Shard, true) => "SSUBSCRIBE",
            (Kind::Shard, false) => "SUNSUBSCRIBE",
        }
    }
}

impl Subscriptions {
    fn set(&mut self, kind: Kind) -> &mut BTreeSet<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Records a change and returns the command for it with the number of
    /// confirmations the server sends (one per name; `UNSUBSCRIBE` with no names
    /// confirms once per current subscription, or once if there are none).
    pub(crate) fn change<N: AsRef<[u8]>>(
        &mut self,
        kind: Kind,
        subscribe: bool,
        names: impl IntoIterator<Item = N>,
    ) -> (Cmd, usize) {
        let mut c = cmd(kind.verb(subscribe));
        let names: Vec<Vec<u8>> = names.into_iter().map(|n| n.as_ref().to_vec()).collect();
        let set = self.set(kind);
        let confirmations = if names.is_empty() && !subscribe {
            let all = set.len().max(1);
            set.clear();
            all
        } else {
            names.len()
        };
        for name in names {
            c.arg(name.as_slice());
            if subscribe {
                set.insert(name);
            } else {
                set.remove(&name);
            }
        }
        (c, confirmations)
    }

    /// Goes back to `before` if `result` says the server refused the change just
    /// recorded (an ACL user's `NOPERM`): the server applies none of a refused
    /// command's names, and a refused name kept would make every later restore of the
    /// subscriptions fail with it.
    pub(crate) fn forget_if_refused(&mut self, before: Subscriptions, result: &Result<()>) {
        if matches!(result, Err(crate::Error::Server(_))) {
            *self = before;
        }
    }

    /// The commands that restore every subscription, one per kind, with their
    /// confirmation count.
    pub(crate) fn restore(&self) -> Vec<(Kind, Cmd, usize)> {
        let mut out = Vec::new();
        for (kind, set) in [
            (Kind::Channel, &self.channels),
            (Kind::Pattern, &self.patterns),
            (Kind::Shard, &self.shard_channels),
        ] {
            if !set.is_empty() {
                let mut c = cmd(kind.verb(true));
                c.args(set.iter().map(Vec::as_slice));
                out.push((kind, c, set.len()));
            }
        }
        out
    }

    /// The restore of one kind name by name, for when the server refused the whole
    /// command: Redis refuses a `SUBSCRIBE` for one name the user may no longer use
    /// (an ACL change), and the others must come back all the same.
    pub(crate) fn restore_one_by_one(&self, kind: Kind) -> Vec<(Vec<u8>, Cmd)> {
        let set = match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        };
        set.iter()
            .map(|name| {
                let mut c = cmd(kind.verb(true));
                c.arg(name.as_slice());
                (name.clone(), c)
            })
            .collect()
    }

    /// Forgets a subscription the server refused to restore.
    pub(crate) fn forget(&mut self, kind: Kind, name: &[u8]) {
        self.set(kind).remove(name);
    }
}

/// A blocking subscriber connection.
#[derive(Debug)]
pub struct PubSub {
    con: Connection,
    subs: Subscriptions,
    /// Messages that arrived while waiting for confirmations.
    queued: std::collections::VecDeque<Message>,
    /// Set when the connection broke: the next call restores the subscriptions.
    must_restore: bool,
    /// A restore's refusal not yet returned (the restore was cut short after it).
    refused: Option<crate::Error>,
}

impl PubSub {
    /// Opens a dedicated connection for subscribing.
    pub fn open(info: impl IntoConnectionInfo) -> Result<PubSub> {
        Ok(PubSub {
            con: Connection::open(info)?,
            subs: Subscriptions::default(),
            queued: Default::default(),
            must_restore: false,
            refused: None,
        })
    }

    /// Subscribes to channels.
    pub fn subscribe<N: AsRef<[u8]>>(
        &mut self,
        channels: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Channel, true, channels)
    }

    /// Subscribes to channel patterns (`news.*`).
    pub fn psubscribe<N: AsRef<[u8]>>(
        &mut self,
        patterns: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Pattern, true, patterns)
    }

    /// Subscribes to sharded channels (Redis 7+).
    pub fn ssubscribe<N: AsRef<[u8]>>(
        &mut self,
        channels: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Shard, true, channels)
    }

    /// Unsubscribes from channels (all of them if none are named).
    pub fn unsubscribe<N: AsRef<[u8]>>(
        &mut self,
        channels: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Channel, false, channels)
    }

    /// Unsubscribes from patterns (all of them if none are named).
    pub fn punsubscribe<N: AsRef<[u8]>>(
        &mut self,
        patterns: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Pattern, false, patterns)
    }

    /// Waits for the next message, for at most `timeout` if given (then `Ok(None)`;
    /// a zero timeout only looks at what has arrived).
    ///
    /// A timeout is not a disconnect: the subscriber stays connected and subscribed,
    /// and a message published after this returns `None` is delivered by the next
    /// call. If the connection breaks, this returns the error; the next call
    /// reconnects and subscribes again to everything.
    pub fn next_message_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Message>> {
        if let Some(m) = self.queued.pop_front() {
            return Ok(Some(m));
        }
        self.restore_if_needed()?;
        // A restore's refusal is reported by the next wait, once (a subscription
        // change reports only its own outcome).
        if let Some(refusal) = self.refused.take() {
            return Err(refusal);
        }
        // A wait too long to add to the clock (`Duration::MAX`) is a wait without end.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            // What is left of the wait, across confirmations and other frames.
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match self.con.next_frame_within(left) {
                Ok(Some(frame)) => match classify(frame) {
                    Event::Message(m) => return Ok(Some(m)),
                    Event::Confirmation | Event::Other(_) => continue,
                },
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.must_restore = true;
                    return Err(e);
                }
            }
        }
    }

    /// Waits for the next message.
    pub fn next_message(&mut self) -> Result<Message> {
        loop {
            if let Some(m) = self.next_message_timeout(None)? {
                return Ok(m);
            }
        }
    }

    /// An iterator over messages; it ends after the first error.
    pub fn messages(&mut self) -> impl Iterator<Item = Result<Message>> + '_ {
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            let m = self.next_message();
            failed = m.is_err();
            Some(m)
        })
    }

    fn change<N: AsRef<[u8]>>(
        &mut self,
        kind: Kind,
        subscribe: bool,
        names: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.restore_if_needed()?;
        let before = self.subs.clone();
        let (command, confirmations) = self.subs.change(kind, subscribe, names);
        let result = self.send_and_confirm(&command, confirmations);
        self.subs.forget_if_refused(before, &result);
        result
    }

    fn send_and_confirm(&mut self, command: &Cmd, mut confirmations: usize) -> Result<()> {
        let result: Result<()> = (|| {
            self.con.send_raw(&command.to_bytes())?;
            while confirmations > 0 {
                match classify(self.con.read_value()?) {
                    Event::Confirmation => confirmations -= 1,
                    Event::Message(m) => self.queued.push_back(m),
                    Event::Other(frame) => {
                        crate::sync::check_error(frame)?;
                    }
                }
            }
            Ok(())
        })();
        if matches!(&result, Err(e) if e.is_connection_error()) {
            self.must_restore = true;
        }
        result
    }

    fn restore_if_needed(&mut self) -> Result<()> {
        if !self.must_restore {
            return Ok(());
        }
        self.con.reconnect()?;
        self.must_restore = false;
        // A connection error on the way sets must_restore again, with every
        // subscription still recorded. A refusal (one name the user may no longer
        // use makes Redis refuse the whole command with NOPERM) is retried name by
        // name: the refused names are forgotten, and the first refusal is kept for
        // the next wait to return once every other subscription is back, so the
        // caller learns what is gone (kept across a restore cut short too).
        // Any other error (`BUSY` while a script runs, `LOADING`...) refuses nothing
        // for good: every name is kept and the next call restores again.
        for (kind, command, confirmations) in self.subs.restore() {
            match self.send_and_confirm(&command, confirmations) {
                Ok(()) => {}
                Err(refusal) if is_refusal(&refusal) => {
                    self.refused.get_or_insert(refusal);
                    for (name, one) in self.subs.restore_one_by_one(kind) {
                        match self.send_and_confirm(&one, 1) {
                            Ok(()) => {}
                            Err(e) if is_refusal(&e) => self.subs.forget(kind, &name),
                            Err(e) => return Err(self.restore_again(e)),
                        }
                    }
                }
                Err(e) => return Err(self.restore_again(e)),
            }
        }
        Ok(())
    }

    /// A restore stopped by `e`: the next call reconnects and restores again.
    fn restore_again(&mut self, e: crate::Error) -> crate::Error {
        self.must_restore = true;
        e
    }
}

/// Whether the server refused a subscription for good (`NOPERM`: the ACL user may not
/// use the name), as opposed to an error that passes (`BUSY`, `LOADING`).
pub(crate) fn is_refusal(e: &crate::Error) -> bool {
    matches!(e.server_error(), Some(s) if s.kind == crate::ServerErrorKind::NoPerm)
}
