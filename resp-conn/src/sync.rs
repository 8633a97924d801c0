//! The blocking connection, on std's `TcpStream` / `UnixStream`.
//!
//! One [`Connection`] is one socket. It is not `Sync`: share it behind a mutex, give
//! each thread its own, or use the async multiplexed handle
//! ([`aio::MultiplexedConnection`](crate::aio::MultiplexedConnection)).
//!
//! # Failure
//!
//! After an I/O error, a timeout, or a protocol error the connection is marked broken
//! (the byte stream may hold half a reply) and the call returns the error. The next
//! call reconnects first, with the same [`ConnectionInfo`] and handshake. A command
//! that failed this way may or may not have run on the server.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::BytesMut;
use resp_parser::GenericFrame;

use crate::cmd::{Cmd, Pipeline, cmd};
use crate::error::{Error, Result, ServerError};
use crate::handshake;
use crate::info::{Addr, ConnectionInfo, IntoConnectionInfo};
use crate::pipeline::{Discard, DiscardStep};
use crate::replies::Replies;
use crate::reply::{FromFrame, Value};

/// Smallest and largest single read; the size doubles while reads fill it.
const MIN_READ: usize = 16 * 1024;
const MAX_READ: usize = 4 * 1024 * 1024;
/// Reads up to this size go through the connection's scratch buffer.
const SCRATCH: usize = 64 * 1024;

/// How many times [`Connection::transaction`] retries by default.
pub const DEFAULT_TRANSACTION_ATTEMPTS: usize = 32;

enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Stream {
    /// Connects to `info`'s address, within what is left of `deadline`.
    fn connect(info: &ConnectionInfo, deadline: handshake::Deadline) -> Result<Stream> {
        match &info.addr {
            Addr::Tcp { host, port } => {
                let stream = connect_tcp(host, *port, deadline)?;
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
            #[cfg(unix)]
            Addr::Unix(path) => Ok(Stream::Unix(
                UnixStream::connect(path).map_err(Error::from_io)?,
            )),
            #[cfg(not(unix))]
            Addr::Unix(_) => Err(Error::InvalidConfig(
                "Unix sockets need a Unix system".into(),
            )),
        }
    }

    fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)?;
            }
            #[cfg(unix)]
            Stream::Unix(s) => {
                s.set_read_timeout(read)?;
                s.set_write_timeout(write)?;
            }
        }
        Ok(())
    }

    fn set_nonblocking(&self, on: bool) -> Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on)?,
            #[cfg(unix)]
            Stream::Unix(s) => s.set_nonblocking(on)?,
        }
        Ok(())
    }
}

/// Tries each address `host` resolves to in turn, each within what is left of the
/// deadline (or the operating system's timeout without one).
fn connect_tcp(host: &str, port: u16, deadline: handshake::Deadline) -> Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let attempt = match deadline.remaining(None)? {
            Some(timeout) => TcpStream::connect_timeout(&addr, timeout),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .map(Error::from_io)
        .unwrap_or_else(|| Error::InvalidConfig(format!("{host}:{port} resolves to no address"))))
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A blocking connection to one Redis server.
///
/// ```no_run
/// use resp_conn::{cmd, Connection};
///
/// let mut con = Connection::open("redis://127.0.0.1:6379")?;
/// con.query::<()>(cmd("SET").arg("greeting").arg("hello"))?;
/// let greeting: Option<String> = con.query(cmd("GET").arg("greeting"))?;
/// assert_eq!(greeting.as_deref(), Some("hello"));
/// # Ok::<(), resp_conn::Error>(())
/// ```
pub struct Connection {
    info: ConnectionInfo,
    stream: Option<Stream>,
    rbuf: BytesMut,
    read_size: usize,
    replies: Replies,
    wbuf: Vec<u8>,
    pushes: VecDeque<Value>,
    loaded_scripts: std::collections::HashSet<String>,
    scratch: Box<[u8]>,
    /// Set while a subscriber waits (see [`next_frame_within`](Self::next_frame_within)):
    /// a read timeout then leaves the connection open.
    timeout_keeps_stream: bool,
    /// Set while the handshake runs: every read then waits at most what is left of
    /// the open's time, so that a reply trickling in byte by byte (each byte within a
    /// socket timeout) cannot stretch the open past `connect_timeout`.
    opening: Option<handshake::Deadline>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.info.to_string())
            .field("connected", &self.stream.is_some())
            .finish()
    }
}

impl Connection {
    /// Connects and runs the handshake (HELLO / AUTH / CLIENT SETNAME / SELECT).
    pub fn open(info: impl IntoConnectionInfo) -> Result<Connection> {
        let mut con = Connection {
            info: info.into_connection_info()?,
            stream: None,
            rbuf: BytesMut::new(),
            read_size: MIN_READ,
            replies: Replies::default(),
            wbuf: Vec::new(),
            pushes: VecDeque::new(),
            loaded_scripts: Default::default(),
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            timeout_keeps_stream: false,
            opening: None,
        };
        con.reconnect()?;
        Ok(con)
    }

    /// The settings this connection was opened with.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// True until an I/O, timeout or protocol error breaks the connection.
    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Drops the socket and connects again, with the handshake.
    ///
    /// The connect and the handshake together take at most the `connect_timeout`.
    /// On failure the connection stays closed (the next call tries again), and the
    /// error is [`Error::Connect`] naming the address, or [`Error::Auth`].
    pub fn reconnect(&mut self) -> Result<()> {
        self.stream = None;
        self.rbuf.clear();
        self.replies.reset();
        self.loaded_scripts.clear();
        let opened = self.connect_and_handshake();
        self.opening = None;
        if opened.is_err() {
            // Half a handshake (say, a refused AUTH) is not a usable connection.
            self.stream = None;
        }
        opened.map_err(|e| handshake::failed(&self.info, e))
    }

    fn connect_and_handshake(&mut self) -> Result<()> {
        let deadline = handshake::Deadline::start(&self.info);
        let stream = Stream::connect(&self.info, deadline)?;
        let (read_timeout, write_timeout) = (self.info.read_timeout, self.info.write_timeout);
        stream.set_timeouts(
            deadline.remaining(read_timeout)?,
            deadline.remaining(write_timeout)?,
        )?;
        self.stream = Some(stream);
        self.opening = Some(deadline);
        let steps = handshake::steps(&self.info);
        self.write_all(&handshake::encode(&steps))?;
        for step in &steps {
            let reply = self.read_reply()?;
            handshake::check(&self.info, step, reply)?;
        }
        let stream = self.stream.as_ref().ok_or(Error::ConnectionClosed)?;
        stream.set_timeouts(read_timeout, write_timeout)
    }

    /// Changes the read timeout (`None`: wait forever), e.g. around a blocking command.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.info.read_timeout = timeout;
        if let Some(s) = &self.stream {
            s.set_timeouts(timeout, self.info.write_timeout)?;
        }
        Ok(())
    }

    /// Sends a command and converts its reply; an error reply becomes
    /// [`Error::Server`].
    pub fn query<T: FromFrame>(&mut self, command: &Cmd) -> Result<T> {
        T::from_frame(self.request(command)?)
    }

    /// Sends a command and returns its reply frame as it came, error replies included.
    pub fn request(&mut self, command: &Cmd) -> Result<Value> {
        self.send_with(|out| command.write_to(out))?;
        self.read_reply()
    }

    /// Sends a pipeline in one write and converts the list of its replies (the
    /// replies of [`ignore`](Pipeline::ignore)d commands left out). An atomic
    /// pipeline's result is `EXEC`'s reply, null if a `WATCH`ed key changed.
    ///
    /// Read into `()`, a non-atomic pipeline's replies are parsed (and an ignored
    /// command's error still fails the call, once every reply has been read) but no
    /// reply value is built: the cheapest way to run bulk writes.
    ///
    /// ```no_run
    /// # let mut con = resp_conn::Connection::open("redis://127.0.0.1")?;
    /// let mut pipe = resp_conn::Pipeline::new();
    /// pipe.cmd("SET").arg("a").arg(1).ignore();
    /// pipe.cmd("INCR").arg("a");
    /// pipe.cmd("GET").arg("a");
    /// let (n, text): (i64, String) = con.query_pipeline(&pipe)?;
    /// assert_eq!((n, text.as_str()), (2, "2"));
    /// # Ok::<(), resp_conn::Error>(())
    /// ```
    pub fn query_pipeline<T: FromFrame>(&mut self, pipeline: &Pipeline) -> Result<T> {
        if T::DISCARDS_REPLY && !pipeline.is_atomic() {
            // `()` keeps nothing of the replies: read them without building values.
            if !pipeline.is_empty() {
                self.send_pipeline(pipeline)?;
                self.discard_replies(pipeline)?;
            }
            return T::from_frame(GenericFrame::Array(Vec::new()));
        }
        T::from_frame(self.request_pipeline(pipeline)?)
    }

    /// Sends a pipeline and returns its replies as one array frame (or `EXEC`'s reply
    /// for an atomic pipeline), error replies in place.
    pub fn request_pipeline(&mut self, pipeline: &Pipeline) -> Result<Value> {
        if pipeline.is_empty() && !pipeline.is_atomic() {
            return Ok(GenericFrame::Array(Vec::new()));
        }
        self.send_pipeline(pipeline)?;
        let mut replies = Vec::with_capacity(pipeline.reply_count());
        for _ in 0..pipeline.reply_count() {
            replies.push(self.read_reply()?);
        }
        crate::pipeline::assemble(pipeline, replies)
    }

    /// Writes `pipeline`, preceded by a `SCRIPT LOAD` of each script it calls that this
    /// connection has not loaded, and reads those loads' replies: what is left to
    /// read is the pipeline's own replies.
    fn send_pipeline(&mut self, pipeline: &Pipeline) -> Result<()> {
        let preload = crate::script::missing_scripts(pipeline, &self.loaded_scripts);
        self.send_with(|out| {
            for load in &preload {
                load.write_to(out);
            }
            pipeline.write_to(out);
        })?;
        for _ in &preload {
            let sha: String = self.read_reply().and_then(FromFrame::from_frame)?;
            self.loaded_scripts.insert(sha);
        }
        Ok(())
    }

    /// Reads the replies of a non-atomic `pipeline` and drops them (see
    /// [`Discard`]).
    fn discard_replies(&mut self, pipeline: &Pipeline) -> Result<()> {
        let mut discard = Discard::new(pipeline);
        loop {
            match discard.step(&mut self.replies, &mut self.rbuf) {
                DiscardStep::Done => return discard.finish(),
                DiscardStep::Fill => self.fill()?,
                DiscardStep::ReadOne => {
                    let reply = self.read_reply()?;
                    discard.took(reply);
                }
            }
        }
    }

    /// Runs an optimistic transaction: `WATCH`es `keys`, lets `build` read what it needs
    /// and fill an atomic pipeline, and runs it; if a watched key changed in between
    /// (EXEC returned null) it starts over, up to [`DEFAULT_TRANSACTION_ATTEMPTS`] times.
    ///
    /// ```no_run
    /// use resp_conn::{cmd, Connection};
    /// # let mut con = Connection::open("redis://127.0.0.1")?;
    /// // Atomically double a counter that other clients also change.
    /// let (doubled,): (i64,) = con.transaction(&["counter"], |con, pipe| {
    ///     let n: i64 = con.query::<Option<i64>>(cmd("GET").arg("counter"))?.unwrap_or(0);
    ///     pipe.cmd("SET").arg("counter").arg(n * 2).ignore();
    ///     pipe.cmd("GET").arg("counter");
    ///     Ok(())
    /// })?;
    /// # Ok::<(), resp_conn::Error>(())
    /// ```
    pub fn transaction<K, T, F>(&mut self, keys: &[K], mut build: F) -> Result<T>
    where
        K: resp_parser::encode::ToArg,
        T: FromFrame,
        F: FnMut(&mut Connection, &mut Pipeline) -> Result<()>,
    {
        for _ in 0..DEFAULT_TRANSACTION_ATTEMPTS {
            self.query::<()>(cmd("WATCH").args(keys))?;
            let mut pipe = Pipeline::new();
            pipe.atomic();
            if let Err(e) = build(self, &mut pipe) {
                // Leave the connection as it was; the build error is what matters.
                let _ = self.query::<()>(&cmd("UNWATCH"));
                return Err(e);
            }
            let reply = self.request_pipeline(&pipe)?;
            if !reply.is_null() {
                return T::from_frame(reply);
            }
        }
        Err(Error::TransactionConflict {
            attempts: DEFAULT_TRANSACTION_ATTEMPTS,
        })
    }

    /// Sends raw bytes (one or more encoded commands) without reading anything.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.send_with(|out| out.extend_from_slice(bytes))
    }

    /// Reads the next reply frame (push frames in RESP3 are set aside; see
    /// [`take_pushes`](Self::take_pushes)).
    pub fn recv(&mut self) -> Result<Value> {
        self.read_reply()
    }

    /// Takes the RESP3 push frames (client-side caching invalidations, for example)
    /// that arrived between replies.
    pub fn take_pushes(&mut self) -> Vec<Value> {
        self.pushes.drain(..).collect()
    }

    /// Marks scripts as loaded on this connection (used by [`Script`](crate::Script)).
    pub(crate) fn script_loaded(&mut self, sha: &str) {
        self.loaded_scripts.insert(sha.to_owned());
    }

    /// Encodes with `fill` into the write buffer and writes it, reconnecting first if
    /// the connection is broken.
    fn send_with(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        if self.stream.is_none() {
            self.reconnect()?;
        }
        let mut out = std::mem::take(&mut self.wbuf);
        out.clear();
        fill(&mut out);
        let sent = self.write_all(&out);
        if out.capacity() > MAX_READ {
            // Do not keep a huge buffer around after one large write.
            out = Vec::new();
        }
        self.wbuf = out;
        sent
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let stream = self.stream.as_mut().ok_or(Error::ConnectionClosed)?;
        if let Err(e) = stream.write_all(bytes) {
            self.stream = None;
            return Err(Error::from_io(e));
        }
        Ok(())
    }

    /// Reads the next reply that is not a push.
    fn read_reply(&mut self) -> Result<Value> {
        loop {
            let value = self.read_value()?;
            if matches!(value, GenericFrame::Push(_)) {
                self.pushes.push_back(value);
                continue;
            }
            return Ok(value);
        }
    }

    /// Reads the next frame of any kind.
    pub(crate) fn read_value(&mut self) -> Result<Value> {
        loop {
            match self.replies.next(&mut self.rbuf) {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => {
                    self.stream = None;
                    return Err(Error::Protocol(e));
                }
            }
            self.fill()?;
        }
    }

    /// Reads the next frame of any kind, waiting at most `timeout` (`None`: forever,
    /// zero: only what has arrived); `Ok(None)` when it runs out. For subscribers: a
    /// timeout is not an error and leaves the connection open and in step (a frame
    /// that had half arrived is completed by the next call).
    pub(crate) fn next_frame_within(&mut self, timeout: Option<Duration>) -> Result<Option<Value>> {
        let zero = timeout.is_some_and(|t| t.is_zero());
        let stream = self.stream.as_ref().ok_or(Error::ConnectionClosed)?;
        // A socket refuses a zero timeout: a zero wait is a non-blocking read.
        if zero {
            stream.set_nonblocking(true)?;
        } else {
            stream.set_timeouts(timeout, self.info.write_timeout)?;
        }
        self.timeout_keeps_stream = true;
        let frame = self.read_value();
        self.timeout_keeps_stream = false;
        if let Some(stream) = &self.stream {
            if zero {
                stream.set_nonblocking(false)?;
            }
            stream.set_timeouts(self.info.read_timeout, self.info.write_timeout)?;
        }
        match frame {
            Ok(frame) => Ok(Some(frame)),
            Err(Error::Timeout) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads what the socket has into the read buffer.
    ///
    /// Reads up to [`SCRATCH`] bytes go through a scratch buffer that was zeroed once:
    /// reading straight into the `BytesMut` would need its spare room zero-filled
    /// before every read (safe Rust cannot hand uninitialised memory to `read`), which
    /// costs more than copying the few bytes a small reply has. Larger reads, during a
    /// large reply, go straight into the buffer, where the zero-fill is small next to
    /// the data.
    fn fill(&mut self) -> Result<()> {
        let stream = self.stream.as_mut().ok_or(Error::ConnectionClosed)?;
        if let Some(deadline) = self.opening {
            stream.set_timeouts(
                deadline.remaining(self.info.read_timeout)?,
                self.info.write_timeout,
            )?;
        }
        let len = self.rbuf.len();
        let want = self.read_size;
        if let Some(needed) = self.replies.bytes_needed() {
            // A large value is arriving: grow the buffer towards its announced end in
            // big steps rather than a read at a time, but never past twice what has
            // arrived (plus one read): the length is only the peer's claim, and a bare
            // `$536870912\r\n` must not reserve 512 MiB. Doubling keeps the copies of a
            // large value linear in its size.
            self.rbuf
                .reserve(needed.saturating_sub(len).min(len.max(want)));
        }
        let small = want <= SCRATCH;
        if !small {
            self.rbuf.resize(len + want, 0);
        }
        loop {
            let target = if small {
                &mut self.scratch[..want]
            } else {
                &mut self.rbuf[len..]
            };
            match stream.read(target) {
                Ok(0) => {
                    self.rbuf.truncate(len);
                    self.stream = None;
                    return Err(Error::ConnectionClosed);
                }
                Ok(n) => {
                    if small {
                        self.rbuf.extend_from_slice(&self.scratch[..n]);
                    } else {
                        self.rbuf.truncate(len + n);
                    }
                    // A full read suggests a large reply: read more at a time.
                    if n == want {
                        self.read_size = (want * 2).min(MAX_READ);
                    } else if n < MIN_READ {
                        self.read_size = MIN_READ;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.rbuf.truncate(len);
                    let e = Error::from_io(e);
                    // A timed-out read took no bytes: the stream is still in step, and a
                    // subscriber, which waits for no particular reply, keeps it.
                    if !(self.timeout_keeps_stream && matches!(e, Error::Timeout)) {
                        self.stream = None;
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Turns an error reply frame into an error, leaving other frames alone.
pub(crate) fn check_error(value: Value) -> Result<Value> {
    match value.without_attributes() {
        GenericFrame::SimpleError(text) | GenericFrame::BulkError(text) => {
            Err(Error::Server(ServerError::parse(text)))
        }
        _ => Ok(value),
    }
}
