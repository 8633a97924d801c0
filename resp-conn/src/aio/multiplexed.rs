//! The multiplexed connection: one socket shared by many tasks, with auto-pipelining.
//!
//! A background task (the driver) owns the socket. Callers send it requests, each
//! the encoded bytes of one command or pipeline plus the number of replies it
//! expects and a one-shot channel for them. The driver writes every request that is
//! queued when it gets to them in one write (draining the queue into one reused
//! buffer), remembers them in order, and hands each reply frame to the oldest request
//! still waiting. Redis answers in order, so this matches replies to callers.
//!
//! When the socket fails (the server dies, a protocol error), every request in
//! flight gets the error at once; none is left waiting. The driver then stays
//! disconnected until the next request arrives, and reconnects for it. Connection
//! attempts after a failed one wait with exponential backoff (50 ms doubling to 2 s).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use resp_parser::GenericFrame;
use tokio::sync::{mpsc, oneshot};

use crate::aio::stream::{FrameStream, with_timeout};
use crate::cmd::{Cmd, Pipeline};
use crate::error::{Error, Result};
use crate::info::{ConnectionInfo, IntoConnectionInfo, Protocol};
use crate::reply::{FromFrame, Value};
use crate::script::ScriptInvocation;

/// Most requests written in one batch; bounds the write buffer under heavy load.
const MAX_BATCH: usize = 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

struct Request {
    bytes: Vec<u8>,
    count: usize,
    reply: oneshot::Sender<Result<Value>>,
}

/// A request written to the socket and waiting for its replies.
///
/// The reply of a single command (`count == 1`) is sent on as it is; the `count`
/// replies of a pipeline are collected in `got` and sent as one array. So the common
/// case, one command, allocates no vector of its own.
struct InFlight {
    reply: oneshot::Sender<Result<Value>>,
    count: usize,
    got: Vec<Value>,
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
    requests: mpsc::UnboundedSender<Request>,
    info: ConnectionInfo,
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
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(info.clone(), rx, stream, pushes));
        Ok(MultiplexedConnection {
            inner: Arc::new(Inner { requests: tx, info }),
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
        self.exchange(command.to_bytes(), 1).await
    }

    /// Sends a pipeline (its commands stay together, in order, in one write) and
    /// converts its replies (see
    /// [`sync::Connection::query_pipeline`](crate::Connection::query_pipeline)).
    pub async fn query_pipeline<T: FromFrame>(&self, pipeline: &Pipeline) -> Result<T> {
        T::from_frame(self.request_pipeline(pipeline).await?)
    }

    /// Sends a pipeline and returns its replies as one frame.
    pub async fn request_pipeline(&self, pipeline: &Pipeline) -> Result<Value> {
        let (bytes, count) = crate::pipeline::encode_with_script_loads(pipeline);
        let replies = match self.exchange(bytes, count).await? {
            one if count == 1 => vec![one],
            GenericFrame::Array(many) => many,
            other => unreachable!("{count} replies come as an array, not {other:?}"),
        };
        crate::pipeline::assemble_after_script_loads(pipeline, replies)
    }

    /// Calls a script, loading it if the server does not have it.
    pub async fn invoke_script<T: FromFrame>(&self, call: &ScriptInvocation<'_>) -> Result<T> {
        let mut reply = self.request(&call.evalsha()).await?;
        if crate::script::is_noscript(&reply) {
            self.query::<String>(&call.script().load_cmd()).await?;
            reply = self.request(&call.evalsha()).await?;
        }
        T::from_frame(reply)
    }

    /// Sends `bytes` holding `count` commands and waits for their replies: the reply
    /// itself when `count` is 1, else an array of the `count` replies.
    async fn exchange(&self, bytes: Vec<u8>, count: usize) -> Result<Value> {
        if count == 0 {
            // Nothing to send, and nothing to wait for: an entry in flight that expects
            // no reply would take the next caller's.
            return Ok(GenericFrame::Array(Vec::new()));
        }
        let (reply, response) = oneshot::channel();
        self.inner
            .requests
            .send(Request {
                bytes,
                count,
                reply,
            })
            .map_err(|_| Error::ConnectionClosed)?;
        with_timeout(self.inner.info.read_timeout, async {
            response.await.unwrap_or(Err(Error::ConnectionClosed))
        })
        .await
    }
}

/// The driver: runs sessions, reconnecting between them on demand.
async fn drive(
    info: ConnectionInfo,
    mut requests: mpsc::UnboundedReceiver<Request>,
    stream: FrameStream,
    pushes: Option<mpsc::UnboundedSender<Value>>,
) {
    let mut stream = Some(stream);
    let mut first = None;
    let mut backoff: Option<Duration> = None;
    loop {
        let Some(connected) = stream.take() else {
            // Disconnected: stay so until someone needs the connection.
            let Some(request) = requests.recv().await else {
                return;
            };
            if let Some(delay) = backoff {
                tokio::time::sleep(delay).await;
            }
            match FrameStream::connect(&info).await {
                Ok(s) => {
                    backoff = None;
                    stream = Some(s);
                    first = Some(request);
                }
                Err(e) => {
                    backoff = Some(backoff.map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF)));
                    // Everyone waiting now gets the error rather than a longer wait.
                    while let Ok(other) = requests.try_recv() {
                        let _ = other.reply.send(Err(e.duplicate()));
                    }
                    let _ = request.reply.send(Err(e));
                }
            }
            continue;
        };
        let resp3 = info.protocol == Protocol::Resp3;
        match session(
            connected,
            &mut requests,
            first.take(),
            pushes.as_ref(),
            resp3,
        )
        .await
        {
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
    requests: &mut mpsc::UnboundedReceiver<Request>,
    first: Option<Request>,
    pushes: Option<&mpsc::UnboundedSender<Value>>,
    resp3: bool,
) -> SessionEnd {
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut wbuf: Vec<u8> = Vec::new();
    let mut batch: Vec<Request> = first.into_iter().collect();
    let mut last_batch = 0;
    let failure = loop {
        if !batch.is_empty() {
            // Auto-pipelining: everything already queued goes out in this one write.
            // Under concurrent load (this batch or the last had more than one request,
            // or replies are still owed), yield once and look again: tasks woken
            // together are often still enqueuing, and one scheduler turn lets them
            // join this write instead of each paying for a write of its own (with 64
            // spawned callers: 5 writes per 64 requests, most of one request each,
            // became 2). A caller alone on an idle connection is written at once, so
            // plain round trips pay nothing for this.
            drain(requests, &mut batch);
            let busy = batch.len() > 1 || last_batch > 1 || !in_flight.is_empty();
            if busy && batch.len() < MAX_BATCH {
                tokio::task::yield_now().await;
                drain(requests, &mut batch);
            }
            last_batch = batch.len();
            wbuf.clear();
            for r in batch.drain(..) {
                wbuf.extend_from_slice(&r.bytes);
                in_flight.push_back(InFlight {
                    reply: r.reply,
                    count: r.count,
                    got: Vec::new(),
                });
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
            request = requests.recv() => match request {
                Some(r) => batch.push(r),
                None if in_flight.is_empty() => return SessionEnd::HandlesGone,
                // Every handle is gone but replies are still owed: their callers may
                // have been dropped too; finish reading anyway, then stop.
                None => {
                    while !in_flight.is_empty() {
                        if stream.fill().await.is_err()
                            || deliver(&mut stream, &mut in_flight, pushes, resp3).is_err()
                        {
                            break;
                        }
                    }
                    return SessionEnd::HandlesGone;
                }
            },
        }
    };
    for waiting in in_flight {
        let _ = waiting.reply.send(Err(failure.duplicate()));
    }
    SessionEnd::Broken
}

/// Moves queued requests into `batch`, up to [`MAX_BATCH`].
fn drain(requests: &mut mpsc::UnboundedReceiver<Request>, batch: &mut Vec<Request>) {
    while batch.len() < MAX_BATCH {
        match requests.try_recv() {
            Ok(r) => batch.push(r),
            Err(_) => break,
        }
    }
}

/// Hands every complete frame in the read buffer to the request it answers.
fn deliver(
    stream: &mut FrameStream,
    in_flight: &mut VecDeque<InFlight>,
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
