//! The multiplexed connection: one socket shared by many tasks, with auto-pipelining.
//!
//! A background task (the driver) owns the socket. Callers encode their command (or
//! pipeline) straight into a shared queue, under a lock held only for that copy,
//! together with the number of replies it expects and a one-shot channel for them,
//! and wake the driver if the queue was empty. The driver takes everything queued in
//! one swap of buffers and writes it in one write, remembers the callers in order,
//! and hands each reply frame to the oldest caller still waiting. Redis answers in
//! order, so this matches replies to callers. Callers pay no allocation or copy of
//! their own for the hand-over, and the driver no channel operation per request.
//!
//! When the socket fails (the server dies, a protocol error), every request in
//! flight gets the error at once; none is left waiting. Requests queued but not yet
//! written stay queued. The driver then stays disconnected until a request is
//! queued, and reconnects for it. Connection attempts after a failed one wait with
//! exponential backoff (50 ms doubling to 2 s); when one fails, everything queued
//! gets its error.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use resp_parser::GenericFrame;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::aio::stream::FrameStream;
use crate::cmd::{Cmd, Pipeline};
use crate::error::{Error, Result};
use crate::info::{ConnectionInfo, IntoConnectionInfo, Protocol};
use crate::reply::{FromFrame, Value};
use crate::script::ScriptInvocation;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What callers and the driver share.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the driver: a request was queued into an empty queue, or the handles or
    /// the driver are gone.
    wake: Notify,
}

/// Requests waiting to be written, in order.
#[derive(Default)]
struct Queue {
    /// Their encoded commands, back to back.
    bytes: Vec<u8>,
    /// Their callers, in the same order as their bytes.
    waiting: Vec<Waiter>,
    /// Every handle has been dropped.
    handles_gone: bool,
    /// The driver task has ended (its runtime shut down): nothing will be sent.
    driver_gone: bool,
}

/// A caller waiting for the `count` replies of its request.
///
/// The reply of a single command (`count == 1`) is sent on as it is; the `count`
/// replies of a pipeline are collected in `got` and sent as one array. So the common
/// case, one command, allocates no vector of its own.
struct Waiter {
    reply: oneshot::Sender<Result<Value>>,
    count: usize,
    got: Vec<Value>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The lock is only held to copy bytes and move waiters; a panic there leaves
        // the queue as consistent as anything else would.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fails every request queued and not yet written with `error`.
    fn fail_queued(&self, error: &Error) {
        let waiting = {
            let mut q = self.lock();
            q.bytes.clear();
            std::mem::take(&mut q.waiting)
        };
        for w in waiting {
            let _ = w.reply.send(Err(error.duplicate()));
        }
    }
}

/// A cheap, cloneable handle to one shared connection.
///
/// ```no_run
/// # async fn demo() -> resp_conn::Result<()> {
/// use resp_conn::{aio::MultiplexedConnection, cmd};
///
/// let con = MultiplexedConnection::open("redis://127.0.0.1").await?;
/// let mut tasks = Vec::new();
/// for i in 0..100 {
///     let con = con.clone();
///     tasks.push(tokio::spawn(async move {
///         con.query::<i64>(cmd("INCRBY").arg("counter").arg(i)).await
///     }));
/// }
/// for t in tasks {
///     t.await.unwrap()?;
/// }
/// # Ok(()) }
/// ```
///
/// Each call waits at most the connection's read timeout (none by default) for its
/// reply. The driver task ends when the last handle is dropped.
#[derive(Clone)]
pub struct MultiplexedConnection {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    info: ConnectionInfo,
}

impl Drop for Inner {
    /// The last handle is gone: the driver can stop.
    fn drop(&mut self) {
        self.shared.lock().handles_gone = true;
        self.shared.wake.notify_one();
    }
}

/// Held by the driver task: when the task ends, or is dropped with its runtime,
/// every caller still queued gets an error and later requests fail at once.
struct DriverGuard(Arc<Shared>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        self.0.lock().driver_gone = true;
        self.0.fail_queued(&Error::ConnectionClosed);
    }
}

impl std::fmt::Debug for MultiplexedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiplexedConnection")
            .field("server", &self.inner.info.to_string())
            .finish()
    }
}

impl MultiplexedConnection {
    /// Connects (failing now if the server cannot be reached) and starts the driver
    /// task on the current tokio runtime.
    pub async fn open(info: impl IntoConnectionInfo) -> Result<MultiplexedConnection> {
        Self::open_inner(info.into_connection_info()?, None).await
    }

    /// Like [`open`](Self::open), and also returns the RESP3 push frames that are not
    /// replies (client-side caching invalidations, for example). Needs `protocol=resp3`
    /// for the server to send pushes on this connection.
    pub async fn open_with_pushes(
        info: impl IntoConnectionInfo,
    ) -> Result<(MultiplexedConnection, mpsc::UnboundedReceiver<Value>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let con = Self::open_inner(info.into_connection_info()?, Some(tx)).await?;
        Ok((con, rx))
    }

    async fn open_inner(
        info: ConnectionInfo,
        pushes: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<MultiplexedConnection> {
        let stream = FrameStream::connect(&info).await?;
        let shared = Arc::new(Shared::default());
        tokio::spawn(drive(
            info.clone(),
            DriverGuard(shared.clone()),
            stream,
            pushes,
        ));
        Ok(MultiplexedConnection {
            inner: Arc::new(Inner { shared, info }),
        })
    }

    /// The settings this connection was opened with.
    pub fn info(&self) -> &ConnectionInfo {
        &self.inner.info
    }

    /// Sends a command and converts its reply.
    pub async fn query<T: FromFrame>(&self, command: &Cmd) -> Result<T> {
        T::from_frame(self.request(command).await?)
    }

    /// Sends a command and returns its reply frame, error replies included.
    pub async fn request(&self, command: &Cmd) -> Result<Value> {
        self.exchange(1, |out| command.write_to(out)).await
    }

    /// Sends a pipeline (its commands stay together, in order, in one write) and
    /// converts its replies (see
    /// [`sync::Connection::query_pipeline`](crate::Connection::query_pipeline)).
    pub async fn query_pipeline<T: FromFrame>(&self, pipeline: &Pipeline) -> Result<T> {
        T::from_frame(self.request_pipeline(pipeline).await?)
    }

    /// Sends a pipeline and returns its replies as one frame.
    pub async fn request_pipeline(&self, pipeline: &Pipeline) -> Result<Value> {
        let count = crate::pipeline::reply_count_with_script_loads(pipeline);
        let encode = |out: &mut Vec<u8>| crate::pipeline::write_with_script_loads(pipeline, out);
        let replies = match self.exchange(count, encode).await? {
            one if count == 1 => vec![one],
            GenericFrame::Array(many) => many,
            other => unreachable!("{count} replies come as an array, not {other:?}"),
        };
        crate::pipeline::assemble_after_script_loads(pipeline, replies)
    }

    /// Calls a script: `EVALSHA`, then `EVAL` with its source if the server does not
    /// have it (see [`ScriptInvocation::invoke`](crate::ScriptInvocation::invoke)).
    pub async fn invoke_script<T: FromFrame>(&self, call: &ScriptInvocation<'_>) -> Result<T> {
        let mut reply = self.request(&call.evalsha()).await?;
        if crate::script::is_noscript(&reply) {
            reply = self.request(&call.eval()).await?;
        }
        T::from_frame(reply)
    }

    /// Queues a request of `count` commands, which `encode` writes, and waits for
    /// their replies: the reply itself when `count` is 1, else an array of the
    /// `count` replies.
    async fn exchange(&self, count: usize, encode: impl FnOnce(&mut Vec<u8>)) -> Result<Value> {
        if count == 0 {
            // Nothing to send, and nothing to wait for: an entry in flight that expects
            // no reply would take the next caller's.
            return Ok(GenericFrame::Array(Vec::new()));
        }
        let (reply, response) = oneshot::channel();
        let shared = &self.inner.shared;
        let first = {
            let mut q = shared.lock();
            if q.driver_gone {
                return Err(Error::ConnectionClosed);
            }
            encode(&mut q.bytes);
            q.waiting.push(Waiter {
                reply,
                count,
                got: Vec::new(),
            });
            q.waiting.len() == 1
        };
        // Only a request into an empty queue wakes the driver: it takes the whole
        // queue at once, so the ones behind it are seen too.
        if first {
            shared.wake.notify_one();
        }
        // Awaiting the receiver itself, not a future wrapping it, keeps this future
        // small: moving a larger one into a wrapper cost two `memcpy`s per request.
        let reply = match self.inner.info.read_timeout {
            None => response.await,
            Some(limit) => match tokio::time::timeout(limit, response).await {
                Ok(reply) => reply,
                Err(_) => return Err(Error::Timeout),
            },
        };
        reply.unwrap_or(Err(Error::ConnectionClosed))
    }
}

/// The driver: runs sessions, reconnecting between them on demand.
async fn drive(
    info: ConnectionInfo,
    guard: DriverGuard,
    stream: FrameStream,
    pushes: Option<mpsc::UnboundedSender<Value>>,
) {
    let shared = &guard.0;
    let mut stream = Some(stream);
    let mut backoff: Option<Duration> = None;
    loop {
        let Some(connected) = stream.take() else {
            // Disconnected: stay so until someone needs the connection.
            loop {
                {
                    let q = shared.lock();
                    if q.handles_gone {
                        return;
                    }
                    if !q.waiting.is_empty() {
                        break;
                    }
                }
                shared.wake.notified().await;
            }
            if let Some(delay) = backoff {
                tokio::time::sleep(delay).await;
            }
            match FrameStream::connect(&info).await {
                Ok(s) => {
                    backoff = None;
                    stream = Some(s);
                }
                Err(e) => {
                    backoff = Some(backoff.map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF)));
                    // Everyone waiting now gets the error rather than a longer wait.
                    shared.fail_queued(&e);
                }
            }
            continue;
        };
        let resp3 = info.protocol == Protocol::Resp3;
        match session(connected, shared, pushes.as_ref(), resp3).await {
            SessionEnd::HandlesGone => return,
            SessionEnd::Broken => {}
        }
    }
}

enum SessionEnd {
    /// Every handle was dropped: the driver can stop.
    HandlesGone,
    /// The connection failed; everything in flight was told.
    Broken,
}

/// Serves requests on one connection until it fails or every handle is gone.
async fn session(
    mut stream: FrameStream,
    shared: &Shared,
    pushes: Option<&mpsc::UnboundedSender<Value>>,
    resp3: bool,
) -> SessionEnd {
    let mut in_flight: VecDeque<Waiter> = VecDeque::new();
    let mut wbuf: Vec<u8> = Vec::new();
    let mut last_batch = 0;
    let failure = loop {
        let (queued, handles_gone) = {
            let q = shared.lock();
            (q.waiting.len(), q.handles_gone)
        };
        if handles_gone {
            // Every handle is gone: callers were dropped with them. Finish reading
            // the replies still owed, so the server is not cut off mid-reply, then stop.
            while !in_flight.is_empty() {
                if stream.fill().await.is_err()
                    || deliver(&mut stream, &mut in_flight, pushes, resp3).is_err()
                {
                    break;
                }
            }
            return SessionEnd::HandlesGone;
        }
        if queued > 0 {
            // Auto-pipelining: everything queued goes out in this one write. Under
            // concurrent load (this batch or the last had more than one request, or
            // replies are still owed), yield once first: tasks woken together are
            // often still queuing, and one scheduler turn lets them join this write
            // instead of each paying for a write of its own (with 64 spawned callers:
            // 5 writes per 64 requests, most of one request each, became 2). A caller
            // alone on an idle connection is written at once, so plain round trips
            // pay nothing for this.
            if queued > 1 || last_batch > 1 || !in_flight.is_empty() {
                tokio::task::yield_now().await;
            }
            wbuf.clear();
            {
                let mut q = shared.lock();
                std::mem::swap(&mut q.bytes, &mut wbuf);
                last_batch = q.waiting.len();
                in_flight.extend(q.waiting.drain(..));
            }
            if let Err(e) = stream.write_all(&wbuf).await {
                break e;
            }
            if wbuf.capacity() > 1 << 20 {
                wbuf = Vec::new();
            }
        }
        tokio::select! {
            biased;
            filled = stream.fill() => {
                if let Err(e) = filled {
                    break e;
                }
                if let Err(e) = deliver(&mut stream, &mut in_flight, pushes, resp3) {
                    break e;
                }
            }
            // A request was queued (or the handles are gone): look at the queue again.
            () = shared.wake.notified() => {}
        }
    };
    for waiting in in_flight {
        let _ = waiting.reply.send(Err(failure.duplicate()));
    }
    SessionEnd::Broken
}

/// Hands every complete frame in the read buffer to the request it answers.
fn deliver(
    stream: &mut FrameStream,
    in_flight: &mut VecDeque<Waiter>,
    pushes: Option<&mpsc::UnboundedSender<Value>>,
    resp3: bool,
) -> Result<()> {
    while let Some(frame) = stream.try_frame()? {
        if resp3 && matches!(frame, GenericFrame::Push(_)) {
            if let Some(tx) = pushes {
                let _ = tx.send(frame);
            }
            continue;
        }
        let Some(front) = in_flight.front_mut() else {
            // A reply nobody asked for: the stream is out of step; drop the connection.
            return Err(Error::UnexpectedReply(frame.kind_name().to_owned()));
        };
        if front.count == 1 {
            let done = in_flight.pop_front().expect("front exists");
            let _ = done.reply.send(Ok(frame));
            continue;
        }
        if front.got.is_empty() {
            front.got.reserve_exact(front.count);
        }
        front.got.push(frame);
        if front.got.len() == front.count {
            let done = in_flight.pop_front().expect("front exists");
            let _ = done.reply.send(Ok(GenericFrame::Array(done.got)));
        }
    }
    Ok(())
}
