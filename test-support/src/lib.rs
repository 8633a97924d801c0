//! Private, throwaway `redis-server` instances for tests.
//!
//! Every [`RedisServer`] is its own process on a free loopback port, with its own
//! temporary directory, no persistence (`--save "" --appendonly no`), and it is killed
//! when dropped. Tests that use it are hermetic and can run in parallel, and they can
//! stop and restart their server to test faults. They never touch the machine's
//! shared Redis on port 6379.
//!
//! ```no_run
//! use stdnet_test_support::RedisServer;
//! use std::io::{Read, Write};
//!
//! let server = RedisServer::builder().arg("--maxmemory").arg("64mb").start();
//! let mut stream = server.connect_raw();
//! stream.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
//! let mut reply = [0u8; 7];
//! stream.read_exact(&mut reply).unwrap();
//! assert_eq!(&reply, b"+PONG\r\n");
//! ```
//!
//! The binary is `redis-server` from the `PATH`, or the one named by the
//! `REDIS_SERVER_BIN` environment variable, or [`Builder::binary`].
#![deny(missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A configuration for a private redis-server; [`start`](Builder::start) runs it.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    binary: Option<PathBuf>,
    args: Vec<String>,
    unix_socket: bool,
    port: Option<u16>,
}

impl Builder {
    /// Adds a command-line argument, e.g. `.arg("--requirepass").arg("secret")`.
    pub fn arg(mut self, arg: impl Into<String>) -> Builder {
        self.args.push(arg.into());
        self
    }

    /// Also listens on a Unix socket in the server's temporary directory.
    pub fn unix_socket(mut self, on: bool) -> Builder {
        self.unix_socket = on;
        self
    }

    /// Runs this binary instead of `redis-server` from the `PATH`.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Builder {
        self.binary = Some(path.into());
        self
    }

    /// Enables cluster mode (`--cluster-enabled yes`, with its node file in the temp dir).
    pub fn cluster_enabled(self, on: bool) -> Builder {
        if on {
            self.arg("--cluster-enabled").arg("yes")
        } else {
            self
        }
    }

    /// Listens on this port instead of a free one.
    pub fn port(mut self, port: u16) -> Builder {
        self.port = Some(port);
        self
    }

    /// Starts the server and waits until it answers PING.
    ///
    /// # Panics
    /// If `redis-server` cannot be found (the message says how to install it), or the
    /// server does not become ready (the message includes the end of its log).
    pub fn start(self) -> RedisServer {
        let binary = self
            .binary
            .clone()
            .or_else(|| std::env::var_os("REDIS_SERVER_BIN").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("redis-server"));
        let dir = TempDir::new();
        // A free port can be taken by someone else between our probe and the server's
        // bind; try a few times.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = self.port.unwrap_or_else(free_port);
            let mut server = RedisServer {
                binary: binary.clone(),
                builder: self.clone(),
                dir: dir.clone_handle(),
                port,
                child: None,
            };
            match server.launch() {
                Ok(()) => return server,
                Err(log) => last_log = log,
            }
            if self.port.is_some() {
                break;
            }
        }
        panic!("redis-server did not start; last log lines:\n{last_log}");
    }
}

/// A running private redis-server, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    builder: Builder,
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with the default configuration.
    pub fn start() -> RedisServer {
        Builder::default().start()
    }

    /// A configuration to customise before starting.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TCP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The Unix socket, if the server was started with one.
    pub fn unix_socket_path(&self) -> Option<&Path> {
        self.builder.unix_socket.then(|| self.dir.socket())
    }

    /// The server's temporary directory (its working directory and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// True while the server process runs.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server (SIGKILL, like a crash) and waits for it to exit; its port
    /// then refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same configuration, and
    /// waits until it answers. The data is gone (nothing is persisted).
    ///
    /// # Panics
    /// If it does not come back.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.launch() {
                Ok(()) => return,
                // The old socket may linger for a moment; try again.
                Err(log) if Instant::now() > deadline => {
                    panic!("redis-server did not restart on port {}:\n{log}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// A raw TCP connection to the server, with 10 s read and write timeouts.
    pub fn connect_raw(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr()).expect("connect to the private redis-server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// Runs the process and waits for PING; on failure returns the log tail.
    fn launch(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .arg("--daemonize")
            .arg("no")
            .arg("--protected-mode")
            .arg("no");
        if self.builder.unix_socket {
            cmd.arg("--unixsocket").arg(self.dir.socket());
        }
        cmd.args(&self.builder.args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "cannot run {:?}: redis-server is not installed. Install it with \
                 `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis`, \
                 or set REDIS_SERVER_BIN to its path.",
                self.binary
            ),
            Err(e) => panic!("cannot run {:?}: {e}", self.binary),
        };
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if !self.is_running() {
                self.child = None;
                return Err(self.log_tail());
            }
            if ping(self.addr()) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop();
        Err(format!(
            "no PING reply within {READY_TIMEOUT:?}\n{}",
            self.log_tail()
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True if a server at `addr` answers PING (a server with a password answers
/// `-NOAUTH`, which also shows it is up).
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    s.read_exact(&mut reply).is_ok() && (&reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH"))
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

/// A temporary directory, removed when the last handle to it is dropped.
#[derive(Debug)]
struct TempDir {
    inner: std::sync::Arc<TempDirInner>,
}

#[derive(Debug)]
struct TempDirInner {
    path: PathBuf,
    socket: PathBuf,
}

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "stdnet-redis-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        let socket = path.join("redis.sock");
        TempDir {
            inner: std::sync::Arc::new(TempDirInner { path, socket }),
        }
    }

    fn clone_handle(&self) -> TempDir {
        TempDir {
            inner: self.inner.clone(),
        }
    }

    fn path(&self) -> &Path {
        &self.inner.path
    }

    fn socket(&self) -> &Path {
        &self.inner.socket
    }
}

impl Drop for TempDirInner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_dies_on_drop() {
        let server = RedisServer::start();
        let addr = server.addr();
        assert!(ping(addr));
        let other = RedisServer::start();
        assert_ne!(other.port(), server.port());
        drop(server);
        assert!(
            TcpStream::connect(addr).is_err(),
            "the port is closed after drop"
        );
    }

    #[test]
    fn stop_and_restart_keep_the_port() {
        let mut server = RedisServer::builder().unix_socket(true).start();
        let port = server.port();
        assert!(server.unix_socket_path().unwrap().exists());
        server.stop();
        assert!(!server.is_running());
        assert!(!ping(server.addr()));
        server.restart();
        assert_eq!(server.port(), port);
        assert!(ping(server.addr()));
    }

    #[test]
    #[should_panic(expected = "redis-server is not installed")]
    fn a_missing_binary_says_how_to_install_it() {
        RedisServer::builder()
            .binary("/nonexistent/redis-server")
            .start();
    }
}
