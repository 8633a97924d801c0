//! The async subscriber connection.

use std::collections::VecDeque;
use std::time::Duration;

use crate::aio::stream::FrameStream;
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::info::{ConnectionInfo, IntoConnectionInfo};
use crate::pubsub::{Event, Kind, Message, Subscriptions, classify, is_refusal};

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// An async subscriber connection (see [`pubsub`](crate::pubsub)).
///
/// ```no_run
/// # async fn demo() -> resp_conn::Result<()> {
/// let mut sub = resp_conn::aio::PubSub::open("redis://127.0.0.1").await?;
/// sub.subscribe(["news"]).await?;
/// while let Ok(msg) = sub.next_message().await {
///     println!("{:?}: {:?}", msg.channel, msg.payload);
/// }
/// # Ok(()) }
/// ```
///
/// If the connection breaks, [`next_message`](Self::next_message) returns the error
/// once; the next call reconnects (with backoff while the server is away) and
/// subscribes again to every channel and pattern.
///
/// # Cancellation
///
/// Every method may be cancelled (its future dropped, e.g. by `tokio::time::timeout`)
/// without losing a subscription. A cancelled [`next_message`](Self::next_message)
/// that was waiting loses no message either: a message half read stays in the buffer
/// for the next call. A call cancelled while it had a command to the server under
/// way (a subscribe or unsubscribe, or the resubscription after a reconnect) leaves
/// the connection in an unknown state, so the next call drops it, reconnects and
/// subscribes again to everything recorded, the cancelled change included; messages
/// published in that gap are lost, as in any reconnect.
pub struct PubSub {
    info: ConnectionInfo,
    stream: Option<FrameStream>,
    /// False from the moment a command to the server is under way until it is
    /// confirmed, and while subscriptions are being restored: a connection left so
    /// by a cancelled call may miss subscriptions, or hold half a command, and is
    /// replaced.
    settled: bool,
    subs: Subscriptions,
    queued: VecDeque<Message>,
    backoff: Option<Duration>,
    /// A restore's refusal not yet returned (the restore was cut short after it).
    refused: Option<Error>,
}

impl std::fmt::Debug for PubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("aio::PubSub")
            .field("server", &self.info.to_string())
            .field("subscriptions", &self.subs)
            .finish()
    }
}

impl PubSub {
    /// Opens a dedicated connection for subscribing.
    pub async fn open(info: impl IntoConnectionInfo) -> Result<PubSub> {
        let info = info.into_connection_info()?;
        let stream = Some(FrameStream::connect(&info).await?);
        Ok(PubSub {
            info,
            stream,
            settled: true,
            subs: Subscriptions::default(),
            queued: VecDeque::new(),
            backoff: None,
            refused: None,
        })
    }

    /// Subscribes to channels.
    pub async fn subscribe<N: AsRef<[u8]>>(
        &mut self,
        channels: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Channel, true, channels).await
    }

    /// Subscribes to channel patterns.
    pub async fn psubscribe<N: AsRef<[u8]>>(
        &mut self,
        patterns: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Pattern, true, patterns).await
    }

    /// Subscribes to sharded channels (Redis 7+).
    pub async fn ssubscribe<N: AsRef<[u8]>>(
        &mut self,
        channels: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Shard, true, channels).await
    }

    /// Unsubscribes from channels (all of them if none are named).
    pub async fn unsubscribe<N: AsRef<[u8]>>(
        &mut self,
        channels: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Channel, false, channels).await
    }

    /// Unsubscribes from patterns (all of them if none are named).
    pub async fn punsubscribe<N: AsRef<[u8]>>(
        &mut self,
        patterns: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.change(Kind::Pattern, false, patterns).await
    }

    /// Waits for the next message.
    pub async fn next_message(&mut self) -> Result<Message> {
        if let Some(m) = self.queued.pop_front() {
            return Ok(m);
        }
        self.connected().await?;
        // A restore's refusal is reported by the next wait, once (a subscription
        // change reports only its own outcome).
        if let Some(refusal) = self.refused.take() {
            return Err(refusal);
        }
        let stream = self.stream.as_mut().ok_or(Error::ConnectionClosed)?;
        loop {
            let frame = match stream.read_frame().await {
                Ok(frame) => frame,
                Err(e) => {
                    self.stream = None;
                    return Err(e);
                }
            };
            match classify(frame) {
                Event::Message(m) => return Ok(m),
                Event::Confirmation | Event::Other(_) => {}
            }
        }
    }

    async fn change<N: AsRef<[u8]>>(
        &mut self,
        kind: Kind,
        subscribe: bool,
        names: impl IntoIterator<Item = N>,
    ) -> Result<()> {
        self.connected().await?;
        // Recorded first: if this call is cancelled, the reconnect that follows
        // applies the change.
        let before = self.subs.clone();
        let (command, confirmations) = self.subs.change(kind, subscribe, names);
        self.settled = false;
        let result = self.send_and_confirm(&command, confirmations).await;
        // A server error leaves the stream in step (the error replaced the
        // confirmations); a connection error has dropped it.
        self.settled = true;
        self.subs.forget_if_refused(before, &result);
        result
    }

    /// Sends `command` and reads its confirmations, queueing messages that arrive
    /// meanwhile. The caller marks the connection unsettled for the duration.
    async fn send_and_confirm(&mut self, command: &Cmd, mut confirmations: usize) -> Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Error::ConnectionClosed);
        };
        let result: Result<()> = async {
            stream.send(command).await?;
            while confirmations > 0 {
                match classify(stream.read_frame().await?) {
                    Event::Confirmation => confirmations -= 1,
                    Event::Message(m) => self.queued.push_back(m),
                    Event::Other(frame) => {
                        crate::sync::check_error(frame)?;
                    }
                }
            }
            Ok(())
        }
        .await;
        if matches!(&result, Err(e) if e.is_connection_error()) {
            self.stream = None;
        }
        result
    }

    /// The connection, reconnecting and restoring subscriptions if it broke or a
    /// cancelled call left it unsettled.
    async fn connected(&mut self) -> Result<&mut FrameStream> {
        if !self.settled {
            self.stream = None;
        }
        if self.stream.is_none() {
            // Unsettled until every subscription is back: a cancellation anywhere in
            // here makes the next call start over.
            self.settled = false;
            if let Some(delay) = self.backoff {
                tokio::time::sleep(delay).await;
            }
            match FrameStream::connect(&self.info).await {
                Ok(s) => {
                    self.backoff = None;
                    self.stream = Some(s);
                }
                Err(e) => {
                    self.backoff = Some(
                        self.backoff
                            .map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF)),
                    );
                    return Err(e);
                }
            }
            // As in the sync subscriber: a refusal (NOPERM) is retried name by name,
            // the refused names are forgotten and the first refusal is kept for the
            // next wait to return once every other subscription is back (kept in
            // `self`, so that a restore cut short by an error or a cancellation still
            // reports it later). Any other
            // error leaves the subscriber unsettled, every name kept, and the next
            // call restores again.
            for (kind, command, confirmations) in self.subs.restore() {
                match self.send_and_confirm(&command, confirmations).await {
                    Ok(()) => {}
                    Err(refusal) if is_refusal(&refusal) => {
                        self.refused.get_or_insert(refusal);
                        for (name, one) in self.subs.restore_one_by_one(kind) {
                            match self.send_and_confirm(&one, 1).await {
                                Ok(()) => {}
                                Err(e) if is_refusal(&e) => self.subs.forget(kind, &name),
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            self.settled = true;
        }
        self.stream.as_mut().ok_or(Error::ConnectionClosed)
    }
}
