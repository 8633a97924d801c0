//! A single-owner async connection, for blocking commands and other exclusive uses.

use resp_parser::GenericFrame;

use crate::aio::stream::{FrameStream, with_timeout};
use crate::cmd::{Cmd, Pipeline};
use crate::error::Result;
use crate::info::{ConnectionInfo, IntoConnectionInfo};
use crate::pipeline::{Discard, DiscardStep};
use crate::reply::{FromFrame, Value};
use crate::script::ScriptInvocation;

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
pub struct Connection {
    info: ConnectionInfo,
    stream: Option<FrameStream>,
    pushes: Vec<Value>,
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
        let mut replies = self.exchange(command.to_bytes(), 1).await?;
        Ok(replies.pop().expect("one reply"))
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
            self.discard_exchange(pipeline).await?;
            return T::from_frame(GenericFrame::Array(Vec::new()));
        }
        T::from_frame(self.request_pipeline(pipeline).await?)
    }

    /// Sends a pipeline and returns its replies as one frame.
    pub async fn request_pipeline(&mut self, pipeline: &Pipeline) -> Result<Value> {
        let (bytes, replies) = crate::pipeline::encode_with_script_loads(pipeline);
        let replies = self.exchange(bytes, replies).await?;
        crate::pipeline::assemble_after_script_loads(pipeline, replies)
    }

    /// Calls a script, loading it if the server does not have it.
    pub async fn invoke_script<T: FromFrame>(&mut self, call: &ScriptInvocation<'_>) -> Result<T> {
        let mut reply = self.request(&call.evalsha()).await?;
        if crate::script::is_noscript(&reply) {
            self.query::<String>(&call.script().load_cmd()).await?;
            reply = self.request(&call.evalsha()).await?;
        }
        T::from_frame(reply)
    }

    /// Takes the RESP3 push frames that arrived between replies.
    pub fn take_pushes(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.pushes)
    }

    /// Writes a non-atomic `pipeline` that calls no script and reads its replies
    /// without building them (see [`Discard`]), like [`exchange`](Self::exchange)
    /// otherwise: reconnecting first if needed, the read timeout per read.
    async fn discard_exchange(&mut self, pipeline: &Pipeline) -> Result<()> {
        self.connect_if_broken().await?;
        let (read_timeout, write_timeout) = (self.info.read_timeout, self.info.write_timeout);
        let stream = self.stream.as_mut().expect("connected above");
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
        self.forget_broken(&result);
        result
    }

    /// Opens the connection again if the last exchange broke it.
    async fn connect_if_broken(&mut self) -> Result<()> {
        if self.stream.is_none() {
            self.stream = Some(FrameStream::connect(&self.info).await?);
        }
        Ok(())
    }

    /// Drops the connection after a connection error, so that the next call
    /// reconnects; a server error leaves it in place.
    fn forget_broken<T>(&mut self, result: &Result<T>) {
        if let Err(e) = result
            && e.is_connection_error()
        {
            self.stream = None;
        }
    }

    /// Writes `bytes` and reads `count` replies (pushes set aside), reconnecting first
    /// if the connection is broken. The read timeout applies to each reply.
    async fn exchange(&mut self, bytes: Vec<u8>, count: usize) -> Result<Vec<Value>> {
        self.connect_if_broken().await?;
        let timeout = self.info.read_timeout;
        let stream = self.stream.as_mut().expect("connected above");
        let result: Result<Vec<Value>> = async {
            with_timeout(self.info.write_timeout, stream.write_all(&bytes)).await?;
            let mut replies = Vec::with_capacity(count);
            while replies.len() < count {
                let frame = with_timeout(timeout, stream.read_frame()).await?;
                if matches!(frame, GenericFrame::Push(_)) {
                    self.pushes.push(frame);
                } else {
                    replies.push(frame);
                }
            }
            Ok(replies)
        }
        .await;
        self.forget_broken(&result);
        result
    }
}
