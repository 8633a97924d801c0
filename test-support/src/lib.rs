//! Private, throwaway `redis-server` instances for tests.
//!
//! Every [`RedisServer`] is its own process on a free loopback port, with its own
//! temporary directory, no persistence (`--save "" --appendonly no`), and it is killed
//! (SIGKILL) when dropped, after which its directory is removed. Tests that use it are
//! hermetic and can run in parallel, in one process or many. They can stop and restart
//! their server to test faults. They never touch a shared Redis such as the one that
//! may listen on port 6379.
//!
//! ```
//! use stdnet_test_support::RedisServer;
//! use std::io::{Read, Write};
//!
//! let server = RedisServer::builder()
//!     .arg("--enable-debug-command")
//!     .arg("yes")
//!     .start();
//! let mut stream = server.connect_raw();
//! stream.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
//! let mut reply = [0u8; 7];
//! stream.read_exact(&mut reply).unwrap();
//! assert_eq!(&reply, b"+PONG\r\n");
//! // Dropping `server` kills the process and removes its directory.
//! ```
//!
//! The binary is [`Builder::binary`] if given, else the one named by the
//! `REDIS_SERVER_BIN` environment variable, else `redis-server` from the `PATH`. If it
//! cannot be run, [`Builder::start`] panics with a message that says how to install it.
//!
//! A server is only taken as ready once the process that answers PING on its port
//! reports the process id of the child that was started (`INFO server`), so a test can
//! never be handed a server that another test started on the same port by chance.
#![deny(missing_docs)]

pub mod peak;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many free ports [`Builder::start`] tries when another process takes the port
/// between the probe and the server's bind.
const PORT_ATTEMPTS: usize = 5;

/// The name of the server's log file (its stdout and stderr) in its directory.
const LOG_FILE: &str = "redis.log";

/// How many log lines [`RedisServer::log_tail`] returns.
const LOG_TAIL_LINES: usize = 30;

/// A configuration for a private redis-server; [`start`](Builder::start) runs it.
///
/// ```
/// use stdnet_test_support::RedisServer;
///
/// let server = RedisServer::builder()
///     .password("secret")
///     .unix_socket(true)
///     .arg("--maxmemory")
///     .arg("64mb")
///     .start();
/// assert!(server.unix_socket_path().is_some());
/// assert!(server.url().starts_with("redis://:secret@127.0.0.1:"));
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a Builder does nothing until `.start()`"]
pub struct Builder {
    binary: Option<PathBuf>,
    args: Vec<String>,
    password: Option<String>,
    unix_socket: bool,
    port: Option<u16>,
}

impl Builder {
    /// Adds a command-line argument, e.g. `.arg("--maxmemory").arg("64mb")`.
    ///
    /// Arguments come after the defaults (`--port`, `--bind`, `--save ""`,
    /// `--appendonly no`, `--dir`, ...), so they can override most of them.
    pub fn arg(mut self, arg: impl Into<String>) -> Builder {
        self.args.push(arg.into());
        self
    }

    /// Requires this password (`--requirepass`). The readiness check authenticates
    /// with it, and [`RedisServer::url`] includes it.
    pub fn password(mut self, password: impl Into<String>) -> Builder {
        self.password = Some(password.into());
        self
    }

    /// Also listens on a Unix socket in the server's temporary directory; see
    /// [`RedisServer::unix_socket_path`].
    pub fn unix_socket(mut self, on: bool) -> Builder {
        self.unix_socket = on;
        self
    }

    /// Runs this binary instead of `REDIS_SERVER_BIN` or `redis-server` from the `PATH`.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Builder {
        self.binary = Some(path.into());
        self
    }

    /// Enables cluster mode (`--cluster-enabled yes`); its node file is written to
    /// the server's temporary directory. The slots are not assigned: the test does that.
    pub fn cluster_enabled(self, on: bool) -> Builder {
        if on {
            self.arg("--cluster-enabled").arg("yes")
        } else {
            self
        }
    }

    /// Listens on this port instead of a free one (no retry if it is taken).
    pub fn port(mut self, port: u16) -> Builder {
        self.port = Some(port);
        self
    }

    /// Starts the server and waits until it answers PING.
    ///
    /// # Panics
    /// If the binary cannot be run (the message says how to install redis-server), or
    /// the server does not become ready within 10 s, e.g. because of a bad argument
    /// or a taken port (the message includes the end of its log).
    pub fn start(self) -> RedisServer {
        let binary = self
            .binary
            .clone()
            .or_else(|| std::env::var_os("REDIS_SERVER_BIN").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("redis-server"));
        let dir = Arc::new(TempDir::new());
        let attempts = if self.port.is_some() {
            1
        } else {
            PORT_ATTEMPTS
        };
        let mut failures = Vec::new();
        for _ in 0..attempts {
            let port = self.port.unwrap_or_else(free_port);
            let mut server = RedisServer {
                binary: binary.clone(),
                builder: self.clone(),
                dir: Arc::clone(&dir),
                port,
                child: None,
            };
            match server.launch() {
                Ok(()) => return server,
                Err(why) => failures.push(format!("port {port}: {why}")),
            }
        }
        panic!(
            "redis-server ({}) did not start with args {:?}:\n{}",
            binary.display(),
            self.args,
            failures.join("\n---\n")
        );
    }
}

/// A running private redis-server, killed when dropped.
///
/// See the [crate documentation](crate) for an example.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    builder: Builder,
    dir: Arc<TempDir>,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with the default configuration.
    ///
    /// # Panics
    /// As [`Builder::start`].
    pub fn start() -> RedisServer {
        Builder::default().start()
    }

    /// A configuration to customise before starting.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The TCP port (the same after [`restart`](Self::restart)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TCP address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `redis://127.0.0.1:<port>`, or `redis://:<password>@127.0.0.1:<port>` if the
    /// server was started with [`Builder::password`].
    pub fn url(&self) -> String {
        match &self.builder.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The password given to [`Builder::password`].
    pub fn password(&self) -> Option<&str> {
        self.builder.password.as_deref()
    }

    /// The Unix socket, if the server was started with [`Builder::unix_socket`].
    pub fn unix_socket_path(&self) -> Option<&Path> {
        self.builder.unix_socket.then(|| self.dir.socket())
    }

    /// The server's temporary directory (its working directory and log), removed
    /// when the server is dropped.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of the server's log (its stdout and stderr, across restarts),
    /// for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir.path().join(LOG_FILE))
    }

    /// True while the server process runs (false after [`stop`](Self::stop) or if it
    /// died).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server (SIGKILL, like a crash) and waits for it to exit; its port
    /// then refuses connections. Does nothing if it is not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again (stopping it first if it runs) on the same port with
    /// the same configuration, and waits until it answers. The data is gone: nothing
    /// is persisted.
    ///
    /// # Panics
    /// If it does not come back within 10 s, e.g. because another process took the
    /// port meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.launch() {
                Ok(()) => return,
                Err(why) if Instant::now() >= deadline => {
                    panic!("redis-server did not restart on port {}: {why}", self.port)
                }
                // The port may still be held for a moment; try again.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// A new raw TCP connection to the server, with 10 s read and write timeouts
    /// (so a test waiting for a reply that never comes fails instead of hanging).
    ///
    /// # Panics
    /// If the server does not accept the connection.
    pub fn connect_raw(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr()).unwrap_or_else(|e| {
            panic!(
                "cannot connect to the private redis-server at {}: {e}\n{}",
                self.addr(),
                self.log_tail()
            )
        });
        set_timeouts(&stream, Duration::from_secs(10));
        let _ = stream.set_nodelay(true);
        stream
    }

    /// A new raw connection to the server's Unix socket, with 10 s read and write
    /// timeouts.
    ///
    /// # Panics
    /// If the server was not started with [`Builder::unix_socket`], or does not
    /// accept the connection.
    #[cfg(unix)]
    pub fn connect_unix_raw(&self) -> std::os::unix::net::UnixStream {
        let path = self
            .unix_socket_path()
            .expect("the server was started without `.unix_socket(true)`");
        let stream = std::os::unix::net::UnixStream::connect(path).unwrap_or_else(|e| {
            panic!(
                "cannot connect to the private redis-server at {}: {e}\n{}",
                path.display(),
                self.log_tail()
            )
        });
        let timeout = Some(Duration::from_secs(10));
        stream.set_read_timeout(timeout).unwrap();
        stream.set_write_timeout(timeout).unwrap();
        stream
    }

    /// Runs the process and waits until it answers; on failure returns why, with the
    /// log tail.
    fn launch(&mut self) -> Result<(), String> {
        let log_path = self.dir.path().join(LOG_FILE);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
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
            .arg("")
            .arg("--daemonize")
            .arg("no")
            .arg("--protected-mode")
            .arg("no");
        if self.builder.unix_socket {
            cmd.arg("--unixsocket").arg(self.dir.socket());
        }
        if let Some(password) = &self.builder.password {
            cmd.arg("--requirepass").arg(password);
        }
        cmd.args(&self.builder.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "cannot run {:?}: redis-server is not installed. Install it with \
                 `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` \
                 (macOS), or set REDIS_SERVER_BIN to the path of a redis-server binary.",
                self.binary
            ),
            Err(e) => panic!("cannot run {:?}: {e}", self.binary),
        };
        let pid = child.id();
        self.child = Some(child);
        let password = self.effective_password();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if !self.is_running() {
                self.stop();
                return Err(format!(
                    "redis-server exited before it was ready; its log ends:\n{}",
                    self.log_tail()
                ));
            }
            match probe(self.addr(), password.as_deref()) {
                // Another process answers on our port: ours will fail to bind, or
                // has already. Either way this attempt failed.
                Probe::Ready(Some(other)) if other != pid => {
                    self.stop();
                    return Err(format!(
                        "port {} is taken by another redis-server (pid {other}); \
                         ours (pid {pid}) logged:\n{}",
                        self.port,
                        self.log_tail()
                    ));
                }
                Probe::Ready(Some(_)) => return Ok(()),
                // A server that will not say who it is (a password we do not know):
                // take it as ours while our process runs (a failed bind exits).
                Probe::Ready(None) if self.is_running() => return Ok(()),
                Probe::Ready(None) => {}
                Probe::NotReady => {}
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "no PING reply within {READY_TIMEOUT:?}; its log ends:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The password the readiness check authenticates with: the builder's, or one
    /// passed as `--requirepass` in the extra arguments.
    fn effective_password(&self) -> Option<String> {
        let args = &self.builder.args;
        args.iter()
            .rposition(|a| a == "--requirepass")
            .and_then(|i| args.get(i + 1).cloned())
            .or_else(|| self.builder.password.clone())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a readiness probe found.
enum Probe {
    /// Nothing answers PING (yet).
    NotReady,
    /// A server answers PING; its process id, if `INFO server` told it.
    Ready(Option<u32>),
}

/// Sends PING (after AUTH if a password is given) and `INFO server` to `addr`.
fn probe(addr: SocketAddr, password: Option<&str>) -> Probe {
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return Probe::NotReady;
    };
    set_timeouts(&stream, Duration::from_millis(1000));
    let mut request = Vec::new();
    if let Some(password) = password {
        write_command(&mut request, &[b"AUTH", password.as_bytes()]);
    }
    write_command(&mut request, &[b"PING"]);
    write_command(&mut request, &[b"INFO", b"server"]);
    let mut writer = &stream;
    if writer.write_all(&request).is_err() {
        return Probe::NotReady;
    }
    let mut reader = BufReader::new(&stream);
    if password.is_some() && !matches!(read_line(&mut reader).as_deref(), Some(b"+OK")) {
        // A wrong or unknown password: the server is up but will not say who it is.
        return Probe::Ready(None);
    }
    match read_line(&mut reader).as_deref() {
        Some(b"+PONG") => {}
        // `-NOAUTH`: up, with a password we do not know.
        Some(line) if line.starts_with(b"-NOAUTH") => return Probe::Ready(None),
        // `-LOADING` and friends, or nothing yet.
        _ => return Probe::NotReady,
    }
    let pid = read_bulk(&mut reader).and_then(|info| {
        let info = String::from_utf8_lossy(&info).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|pid| pid.trim().parse().ok())
    });
    Probe::Ready(pid)
}

/// Appends `args` as a RESP multibulk command.
fn write_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// One CRLF-terminated line, without the CRLF.
fn read_line(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    line.strip_suffix(b"\r\n").map(<[u8]>::to_vec)
}

/// A `$N` bulk string (RESP2) or `=N` verbatim string (RESP3), without its framing.
fn read_bulk(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let header = read_line(reader)?;
    let (&kind, len) = header.split_first()?;
    if kind != b'$' && kind != b'=' {
        return None;
    }
    let len: usize = std::str::from_utf8(len).ok()?.parse().ok()?;
    let mut body = vec![0; len + 2];
    reader.read_exact(&mut body).ok()?;
    body.truncate(len);
    Some(body)
}

fn set_timeouts(stream: &TcpStream, timeout: Duration) {
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
}

/// The last [`LOG_TAIL_LINES`] lines of the file at `path`.
fn log_tail(path: &Path) -> String {
    let log = std::fs::read(path).unwrap_or_default();
    let log = String::from_utf8_lossy(&log);
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

/// A fresh temporary directory, removed when dropped.
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
    socket: PathBuf,
}

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = std::env::temp_dir().join(format!(
                "stdnet-redis-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            // `create_dir` fails if the directory exists, so it is ours alone.
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let socket = path.join("redis.sock");
                    return TempDir { path, socket };
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The pid of the server that answers on `addr`, if it says.
    fn pid_at(addr: SocketAddr, password: Option<&str>) -> Option<u32> {
        match probe(addr, password) {
            Probe::Ready(pid) => pid,
            Probe::NotReady => None,
        }
    }

    fn pid_of(server: &RedisServer) -> u32 {
        server.child.as_ref().expect("running").id()
    }

    /// A connection that keeps its read buffer between replies.
    struct Conn<S: Read + Write>(BufReader<S>);

    impl<S: Read + Write> Conn<S> {
        fn send(&mut self, args: &[&[u8]]) {
            let mut request = Vec::new();
            write_command(&mut request, args);
            self.0.get_mut().write_all(&request).unwrap();
        }

        fn line(&mut self) -> Vec<u8> {
            read_line(&mut self.0).expect("a reply line")
        }

        fn bulk(&mut self) -> Vec<u8> {
            read_bulk(&mut self.0).expect("a bulk reply")
        }

        /// Sends a command and returns the first line of its reply.
        fn roundtrip(&mut self, args: &[&[u8]]) -> Vec<u8> {
            self.send(args);
            self.line()
        }

        /// `CONFIG GET name` -> the value.
        fn config_get(&mut self, name: &str) -> Vec<u8> {
            assert_eq!(self.roundtrip(&[b"CONFIG", b"GET", name.as_bytes()]), b"*2");
            assert_eq!(self.bulk(), name.as_bytes());
            self.bulk()
        }
    }

    fn conn(server: &RedisServer) -> Conn<TcpStream> {
        Conn(BufReader::new(server.connect_raw()))
    }

    #[test]
    fn a_started_server_answers_ping_and_is_ours() {
        let mut server = RedisServer::start();
        assert!(server.is_running());
        assert_eq!(pid_at(server.addr(), None), Some(pid_of(&server)));
        assert_eq!(conn(&server).roundtrip(&[b"PING"]), b"+PONG");
        assert_ne!(server.port(), 6379);
        assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
        assert_eq!(
            server.addr().to_string(),
            format!("127.0.0.1:{}", server.port())
        );
        assert_eq!(server.password(), None);
        assert!(server.unix_socket_path().is_none());
        assert!(
            server.log_tail().contains("Ready to accept connections"),
            "{}",
            server.log_tail()
        );
    }

    #[test]
    fn the_defaults_are_private_and_volatile() {
        let server = RedisServer::start();
        let mut c = conn(&server);
        assert_eq!(c.config_get("save"), b"");
        assert_eq!(c.config_get("appendonly"), b"no");
        assert_eq!(c.config_get("bind"), b"127.0.0.1");
        // Redis canonicalises the directory; compare canonical forms.
        let dir = std::fs::canonicalize(server.dir()).unwrap();
        assert_eq!(c.config_get("dir"), dir.to_str().unwrap().as_bytes());
    }

    #[test]
    fn two_servers_at_once_get_different_ports_and_dirs() {
        let a = RedisServer::start();
        let b = RedisServer::start();
        assert_ne!(a.port(), b.port());
        assert_ne!(a.dir(), b.dir());
        assert_eq!(pid_at(a.addr(), None), Some(pid_of(&a)));
        assert_eq!(pid_at(b.addr(), None), Some(pid_of(&b)));
    }

    #[test]
    fn many_servers_start_in_parallel() {
        let servers: Vec<RedisServer> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(RedisServer::start)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut ports: Vec<u16> = servers.iter().map(RedisServer::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), servers.len());
        for server in &servers {
            assert_eq!(pid_at(server.addr(), None), Some(pid_of(server)));
        }
    }

    #[test]
    fn drop_kills_the_server_and_removes_its_dir() {
        let server = RedisServer::start();
        let addr = server.addr();
        let dir = server.dir().to_owned();
        let pid = pid_of(&server);
        assert!(dir.exists());
        drop(server);
        assert!(TcpStream::connect(addr).is_err(), "port closed after drop");
        assert!(!dir.exists(), "temp dir removed after drop");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} reaped after drop"
        );
    }

    #[test]
    fn stop_closes_the_port_and_restart_reopens_it_empty() {
        let mut server = RedisServer::start();
        let port = server.port();
        let mut c = conn(&server);
        assert_eq!(c.roundtrip(&[b"SET", b"k", b"v"]), b"+OK");
        server.stop();
        assert!(!server.is_running());
        assert!(TcpStream::connect(server.addr()).is_err());
        // The old connection sees the crash as EOF or a reset.
        let _ = c.0.get_mut().write_all(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(read_line(&mut c.0), None);
        server.stop(); // stopping twice is harmless
        server.restart();
        assert!(server.is_running());
        assert_eq!(server.port(), port);
        assert_eq!(pid_at(server.addr(), None), Some(pid_of(&server)));
        assert_eq!(conn(&server).roundtrip(&[b"EXISTS", b"k"]), b":0");
        // Restarting a running server works too.
        let old_pid = pid_of(&server);
        server.restart();
        assert_ne!(pid_of(&server), old_pid);
        assert_eq!(pid_at(server.addr(), None), Some(pid_of(&server)));
        // The log keeps both runs.
        let log = std::fs::read_to_string(server.dir().join(LOG_FILE)).unwrap();
        assert_eq!(log.matches("Ready to accept connections").count(), 3);
    }

    #[test]
    fn extra_args_reach_the_server() {
        let server = RedisServer::builder()
            .arg("--enable-debug-command")
            .arg("yes")
            .arg("--maxmemory")
            .arg("12mb")
            .start();
        let mut c = conn(&server);
        assert_eq!(c.config_get("maxmemory"), b"12582912");
        assert_eq!(c.roundtrip(&[b"HELLO", b"3"]).first(), Some(&b'%'));
    }

    #[test]
    fn a_password_is_required_and_used_for_readiness() {
        let server = RedisServer::builder().password("s3cret").start();
        assert_eq!(server.password(), Some("s3cret"));
        assert_eq!(
            server.url(),
            format!("redis://:s3cret@127.0.0.1:{}", server.port())
        );
        assert_eq!(pid_at(server.addr(), Some("s3cret")), Some(pid_of(&server)));
        let mut c = conn(&server);
        assert!(c.roundtrip(&[b"PING"]).starts_with(b"-NOAUTH"));
        assert_eq!(c.roundtrip(&[b"AUTH", b"s3cret"]), b"+OK");
        assert_eq!(c.roundtrip(&[b"PING"]), b"+PONG");
    }

    #[test]
    fn a_password_given_as_an_arg_is_used_for_readiness() {
        let server = RedisServer::builder()
            .arg("--requirepass")
            .arg("other")
            .start();
        assert_eq!(pid_at(server.addr(), Some("other")), Some(pid_of(&server)));
        assert!(conn(&server).roundtrip(&[b"PING"]).starts_with(b"-NOAUTH"));
    }

    #[cfg(unix)]
    #[test]
    fn a_unix_socket_lives_in_the_temp_dir() {
        let mut server = RedisServer::builder().unix_socket(true).start();
        let path = server.unix_socket_path().unwrap().to_owned();
        assert!(path.starts_with(server.dir()));
        let mut c = Conn(BufReader::new(server.connect_unix_raw()));
        assert_eq!(c.roundtrip(&[b"PING"]), b"+PONG");
        server.restart();
        let mut c = Conn(BufReader::new(server.connect_unix_raw()));
        assert_eq!(c.roundtrip(&[b"PING"]), b"+PONG");
    }

    #[test]
    fn cluster_mode_keeps_its_node_file_in_the_temp_dir() {
        let server = RedisServer::builder().cluster_enabled(true).start();
        let mut c = conn(&server);
        c.send(&[b"INFO", b"cluster"]);
        let info = String::from_utf8(c.bulk()).unwrap();
        assert!(info.contains("cluster_enabled:1"), "{info}");
        assert!(server.dir().join("nodes.conf").exists());
    }

    #[test]
    #[should_panic(expected = "redis-server is not installed")]
    fn a_missing_binary_says_how_to_install_it() {
        let _ = RedisServer::builder()
            .binary("/nonexistent/redis-server")
            .start();
    }

    #[test]
    #[should_panic(expected = "Bad directive or wrong number of arguments")]
    fn a_bad_argument_panics_with_the_server_log() {
        let _ = RedisServer::builder()
            .arg("--no-such-directive")
            .arg("x")
            .start();
    }

    #[test]
    fn a_port_held_by_another_server_is_not_mistaken_for_ours() {
        let first = RedisServer::start();
        let port = first.port();
        let result = std::panic::catch_unwind(|| RedisServer::builder().port(port).start());
        let message = match result {
            Ok(_) => panic!("a second server on port {port} claimed to start"),
            Err(payload) => payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default(),
        };
        assert!(message.contains(&format!("port {port}")), "{message}");
        // The first server is untouched and still the one answering.
        assert_eq!(pid_at(first.addr(), None), Some(pid_of(&first)));
    }
}
