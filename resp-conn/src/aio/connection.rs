//! A single-owner async connection, for blocking commands and other exclusive uses.
//!
//! Its cancellation contract is on the type: [cancellation](Connection#cancellation).

use resp_parser::GenericFrame;

use crate::aio::stream::{FrameStream, with_timeout};
use crate::cmd::{Cmd, Pipeline};
use crate::error::Result;
use crate::info::{ConnectionInfo, IntoConnectionInfo};
use crate::pipeline::{Discard, DiscardStep};
use crate::reply::{FromFrame, Value};
use crate::script::ScriptInvocation;
use crate::session::Session;

/// An async connection owned by one task.
///
/// Use it where a socket must not be shared: blocking commands such as `BLPOP` or
/// `XREAD BLOCK`. After a connection error the next call reconnects.
///
/// ```no_run
/// # async fn demo() -> resp_conn::Result<()> {
/// use resp_conn::{aio, cmd};
///
/// let mut worker = aio::Connection::open("redis://127.0.0.1").await?;
/// let job: Option<(String, String)> = worker.query(cmd("BLPOP").arg("jobs").arg(5)).await?;
/// # Ok(()) }
/// ```
///
/// # Cancellation
///
/// A request's future (`query`, `request`, the pipeline and script calls) may be
/// dropped at any await point: by `tokio::time::timeout`, by `tokio::select!`, or by
/// dropping a task. The reply of a request is never given to another request:
///
/// * While a request runs, its socket belongs to its future. If the future is dropped
///   before it has read every reply it asked for, the socket is dropped with it and
///   closed at that moment. The server then throws away a command written only in
///   part (a 10 MB `SET` cut mid-write is not run, and the next request is not read as
///   the rest of its value), and a blocking command still waiting (`BLPOP`,
///   `XREAD BLOCK`) stops waiting as soon as the server sees the socket close.
/// * The next request opens a new connection and runs the handshake of the
///   connection's [`ConnectionInfo`] (`AUTH`, `HELLO`, `SELECT`) again, as after a
///   connection error. What commands changed on the old connection (`WATCH`,
///   `MULTI`, `CLIENT SETNAME`, a `SELECT` sent by hand, `CLIENT TRACKING`) is gone.
/// * A future dropped before its first poll did nothing and closes nothing.
///
/// Whether the server ran a request cut short is not known: every byte of it may have
/// been written before the cut. A `BLPOP` cut after the server popped an element loses
/// that element with its reply; where that matters, bound the wait on the server
/// (`BLPOP jobs 5`) rather than with a client-side timeout.
///
/// The cost of a cut request is a reconnect, on the next request. Code that often
/// gives up on requests (short timeouts on ordinary commands) is better served by a
/// [`MultiplexedConnection`](super::MultiplexedConnection), where a request given up
/// costs nothing: its reply is read and dropped by the driver, and the connection
/// stays open.
pub struct Connection {
    info: ConnectionInfo,
    stream: Option<FrameStream>,
    pushes: Vec<Value>,
    /// What the commands sent on `stream` may have left on its session; a new
    /// socket starts pristine.
    session: Session,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("aio::Connection")
            .field("server", &self.info.to_string())
            .field("connected", &self.stream.is_some())
            .finish()
    }
}

impl Connection {
    /// Connects and runs the handshake.
    pub async fn open(info: impl IntoConnectionInfo) -> Result<Connection> {
        let info = info.into_connection_info()?;
        let stream = Some(FrameStream::connect(&info).await?);
        Ok(Connection {
            info,
            stream,
            pushes: Vec::new(),
            session: Session::default(),
        })
    }

    /// The settings this connection was opened with.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Sends a command and converts its reply.
    pub async fn query<T: FromFrame>(&mut self, command: &Cmd) -> Result<T> {
        T::from_frame(self.request(command).await?)
    }

    /// Sends a command and returns its reply frame, error replies included.
    pub async fn request(&mut self, command: &Cmd) -> Result<Value> {
        let replies = self.exchange(command.to_bytes(), 1).await;
        self.session.note(command, any_refused(&replies));
        Ok(replies?.pop().expect("one reply"))
    }

    /// Sends a pipeline in one write and converts its replies (see
    /// [`sync::Connection::query_pipeline`](crate::Connection::query_pipeline)).
    pub async fn query_pipeline<T: FromFrame>(&mut self, pipeline: &Pipeline) -> Result<T> {
        if T::DISCARDS_REPLY
            && !pipeline.is_atomic()
            && pipeline.scripts().is_empty()
            && !pipeline.is_empty()
        {
            // `()` keeps nothing of the replies: read them without building values.
            let done = self.discard_exchange(pipeline).await;
            // The discard path stops at nothing, but reports the first error.
            self.session.note_pipeline(pipeline, done.is_err());
            done?;
            return T::from_frame(GenericFrame::Array(Vec::new()));
        }
        T::from_frame(self.request_pipeline(pipeline).await?)
    }

    /// Sends a pipeline and returns its replies as one frame.
    pub async fn request_pipeline(&mut self, pipeline: &Pipeline) -> Result<Value> {
        let (bytes, replies) = crate::pipeline::encode_with_script_loads(pipeline);
        let replies = self.exchange(bytes, replies).await;
        self.session.note_pipeline(pipeline, any_refused(&replies));
        crate::pipeline::assemble_after_script_loads(pipeline, replies?)
    }

    /// Calls a script: `EVALSHA`, then `EVAL` with its source if the server does not
    /// have it (see [`ScriptInvocation::invoke`](crate::ScriptInvocation::invoke)).
    pub async fn invoke_script<T: FromFrame>(&mut self, call: &ScriptInvocation<'_>) -> Result<T> {
        let mut reply = self.request(&call.evalsha()).await?;
        if crate::script::is_noscript(&reply) {
            reply = self.request(&call.eval()).await?;
        }
        T::from_frame(reply)
    }

    /// Takes the RESP3 push frames that arrived between replies.
    pub fn take_pushes(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.pushes)
    }

    /// Writes a non-atomic `pipeline` that calls no script and reads its replies
    /// without building them (see [`Discard`]), like [`exchange`](Self::exchange)
    /// otherwise.
    async fn discard_exchange(&mut self, pipeline: &Pipeline) -> Result<()> {
        let mut stream = self.take_stream().await?;
        let (read_timeout, write_timeout) = (self.info.read_timeout, self.info.write_timeout);
        let pushes = &mut self.pushes;
        let result: Result<()> = async {
            let mut bytes = Vec::new();
            pipeline.write_to(&mut bytes);
            with_timeout(write_timeout, stream.write_all(&bytes)).await?;
            let mut discard = Discard::new(pipeline);
            loop {
                match stream.discard_step(&mut discard) {
                    DiscardStep::Done => return discard.finish(),
                    DiscardStep::Fill => with_timeout(read_timeout, stream.fill()).await?,
                    DiscardStep::ReadOne => {
                        let frame = with_timeout(read_timeout, stream.read_frame()).await?;
                        if matches!(frame, GenericFrame::Push(_)) {
                            pushes.push(frame);
                        } else {
                            discard.took(frame);
                        }
                    }
                }
            }
        }
        .await;
        self.put_back(stream, &result);
        result
    }

    /// Takes the socket out of the connection for one request, opening a new one if
    /// the last request broke or abandoned it.
    ///
    /// The request runs on the socket it owns, so a request whose future is dropped
    /// part-way drops the socket with it, closing it there and then: nothing half
    /// written or still owed stays behind for the next request (see the [type
    /// docs](Connection#cancellation)).
    async fn take_stream(&mut self) -> Result<FrameStream> {
        match self.stream.take() {
            Some(stream) => Ok(stream),
            None => {
                let stream = FrameStream::connect(&self.info).await?;
                self.session = Session::default();
                Ok(stream)
            }
        }
    }

    /// Gives the socket back after a request that ran to its end, unless a connection
    /// error broke it (then the next request reconnects); a server error leaves it in
    /// step, so it stays.
    fn put_back<T>(&mut self, stream: FrameStream, result: &Result<T>) {
        if !matches!(result, Err(e) if e.is_connection_error()) {
            self.stream = Some(stream);
        }
    }

    /// Whether the connection is open and owes no reply: what a pool may lend again.
    pub(crate) fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Whether no command sent on the open socket may have changed its session (see
    /// [`crate::session`]): a pool takes back only such a connection.
    pub(crate) fn is_pristine(&self) -> bool {
        self.session.is_pristine()
    }

    /// Whether the server has closed the connection while it was idle (a restart, a
    /// `CLIENT KILL`, an idle timeout), found without waiting: a pool lends no
    /// connection known to be dead.
    pub(crate) fn closed_by_peer(&mut self) -> bool {
        self.stream.as_mut().is_none_or(FrameStream::closed_by_peer)
    }

    /// Writes `bytes` and reads `count` replies (pushes set aside), on a socket taken
    /// out for this request ([`take_stream`](Self::take_stream)). The read timeout
    /// applies to each reply.
    async fn exchange(&mut self, bytes: Vec<u8>, count: usize) -> Result<Vec<Value>> {
        let mut stream = self.take_stream().await?;
        let (read_timeout, write_timeout) = (self.info.read_timeout, self.info.write_timeout);
        let pushes = &mut self.pushes;
        let result: Result<Vec<Value>> = async {
            with_timeout(write_timeout, stream.write_all(&bytes)).await?;
            let mut replies = Vec::with_capacity(count);
            while replies.len() < count {
                let frame = with_timeout(read_timeout, stream.read_frame()).await?;
                if matches!(frame, GenericFrame::Push(_)) {
                    pushes.push(frame);
                } else {
                    replies.push(frame);
                }
            }
            Ok(replies)
        }
        .await;
        self.put_back(stream, &result);
        result
    }
}

/// Whether a request's replies include an error (or did not all come): then a command
/// in it that would end a transaction or a watch is taken to have ended nothing (see
/// [`crate::session`]).
fn any_refused(replies: &Result<Vec<Value>>) -> bool {
    replies
        .as_ref()
        .map_or(true, |replies| replies.iter().any(GenericFrame::is_error))
}
