//! The async socket and the frame reader shared by every async connection.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::handshake;
use crate::info::{Addr, ConnectionInfo};
use crate::pipeline::{Discard, DiscardStep};
use crate::replies::Replies;
use crate::reply::Value;

/// A TCP or Unix socket.
pub(crate) enum Socket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A socket with its read buffer and decoder: reads whole frames.
pub(crate) struct FrameStream {
    pub(crate) socket: Socket,
    rbuf: BytesMut,
    replies: Replies,
}

/// Runs `fut`, failing with [`Error::Timeout`] after `timeout` if one is set.
pub(crate) async fn with_timeout<T>(
    timeout: Option<std::time::Duration>,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .unwrap_or(Err(Error::Timeout)),
        None => fut.await,
    }
}

impl FrameStream {
    /// Connects and runs the handshake, all within `connect_timeout` (without one,
    /// each handshake reply within `read_timeout`). Errors name the address
    /// ([`Error::Connect`], [`Error::Auth`]).
    pub(crate) async fn connect(info: &ConnectionInfo) -> Result<FrameStream> {
        let opening = Self::connect_and_handshake(info);
        let opened = match info.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, opening)
                .await
                .unwrap_or(Err(Error::Timeout)),
            None => opening.await,
        };
        opened.map_err(|e| handshake::failed(info, e))
    }

    async fn connect_and_handshake(info: &ConnectionInfo) -> Result<FrameStream> {
        let socket = match &info.addr {
            Addr::Tcp { host, port } => {
                let s = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(Error::from_io)?;
                s.set_nodelay(true)?;
                Socket::Tcp(s)
            }
            #[cfg(unix)]
            Addr::Unix(path) => {
                Socket::Unix(UnixStream::connect(path).await.map_err(Error::from_io)?)
            }
            #[cfg(not(unix))]
            Addr::Unix(_) => {
                return Err(Error::InvalidConfig(
                    "Unix sockets need a Unix system".into(),
                ));
            }
        };
        let mut stream = FrameStream {
            socket,
            rbuf: BytesMut::with_capacity(16 * 1024),
            replies: Replies::default(),
        };
        let steps = handshake::steps(info);
        // Under a connect timeout the whole open is bounded already.
        let per_read = info.connect_timeout.map_or(info.read_timeout, |_| None);
        with_timeout(per_read, stream.write_all(&handshake::encode(&steps))).await?;
        for step in &steps {
            let reply = with_timeout(per_read, stream.read_frame()).await?;
            handshake::check(info, step, reply)?;
        }
        Ok(stream)
    }

    /// Writes all of `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.socket.write_all(bytes).await.map_err(Error::from_io)
    }

    /// Writes one command.
    pub(crate) async fn send(&mut self, command: &Cmd) -> Result<()> {
        self.write_all(&command.to_bytes()).await
    }

    /// Lets `discard` skip what it can of the read buffer (see [`Discard`]).
    pub(crate) fn discard_step(&mut self, discard: &mut Discard<'_>) -> DiscardStep {
        discard.step(&mut self.replies, &mut self.rbuf)
    }

    /// The next frame already in the read buffer, if a whole one is there.
    pub(crate) fn try_frame(&mut self) -> Result<Option<Value>> {
        Ok(self.replies.next(&mut self.rbuf)?)
    }

    /// Reads more bytes into the buffer; `Ok(false)` when the peer closed.
    pub(crate) async fn fill(&mut self) -> Result<()> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(64 * 1024);
        }
        match self.socket.read_buf(&mut self.rbuf).await {
            Ok(0) => Err(Error::ConnectionClosed),
            Ok(_) => Ok(()),
            Err(e) => Err(Error::from_io(e)),
        }
    }

    /// Whether the server has closed (or reset) this socket, found without waiting:
    /// whatever has arrived is read into the buffer, where it stays for the next
    /// frame. Only as fresh as the runtime's last look at the socket's readiness.
    pub(crate) fn closed_by_peer(&mut self) -> bool {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            // A full buffer reads nothing and would look like a close.
            self.rbuf.reserve(4096);
        }
        let read = match &self.socket {
            Socket::Tcp(s) => s.try_read_buf(&mut self.rbuf),
            #[cfg(unix)]
            Socket::Unix(s) => s.try_read_buf(&mut self.rbuf),
        };
        match read {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }

    /// Reads the next frame of any kind.
    pub(crate) async fn read_frame(&mut self) -> Result<Value> {
        loop {
            if let Some(frame) = self.try_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }
}
