//! Where and how to connect: addresses, credentials, protocol, timeouts.
//!
//! A [`ConnectionInfo`] comes from a URL or is built field by field:
//!
//! ```
//! use std::time::Duration;
//! use resp_conn::{ConnectionInfo, Protocol};
//!
//! let info: ConnectionInfo = "redis://app:s3cret@127.0.0.1:6380/2?protocol=resp3".parse().unwrap();
//! assert_eq!(info.db, 2);
//! assert_eq!(info.username.as_deref(), Some("app"));
//! assert_eq!(info.protocol, Protocol::Resp3);
//!
//! let info = ConnectionInfo::tcp("127.0.0.1", 6379)
//!     .with_db(1)
//!     .with_client_name("worker-1")
//!     .with_read_timeout(Some(Duration::from_secs(2)));
//! assert_eq!(info.to_string(), "redis://127.0.0.1:6379/1");
//! ```
//!
//! URL forms: `redis://[user[:password]@]host[:port][/db]` (port 6379 by default) and
//! `unix:///path/to.sock` (also `redis+unix://`). Query parameters for both: `db=N`,
//! `protocol=resp2|resp3` (`resp3` makes the handshake send `HELLO 3`),
//! `client_name=NAME`, `namespace=PREFIX` (used by stdnet-orm for its keys).
//! User names and passwords may be percent-encoded.
//!
//! # Secrets
//!
//! The password never shows: `Debug` of a [`ConnectionInfo`] prints `password:
//! Some(***)`, its `Display` is the URL without user information, and an error about
//! a URL shows the URL with everything before its last `@` (the user information, if
//! the URL has any) replaced by `***`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// The protocol version the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, what every Redis speaks until told otherwise.
    #[default]
    Resp2,
    /// RESP3 (Redis 6+), negotiated with `HELLO 3`: maps, sets, doubles, pushes.
    Resp3,
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// A TCP host and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket.
    Unix(PathBuf),
}

impl fmt::Display for Addr {
    /// `host:port` (`[::1]:port` for an IPv6 address), or the socket path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Addr::Tcp { host, port } => write!(f, "{host}:{port}"),
            Addr::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Everything needed to open a connection and prepare it.
///
/// On connect the handshake sends, in one round trip: `HELLO 3` (RESP3 only, with
/// `AUTH` and `SETNAME` folded in), or `AUTH` and `CLIENT SETNAME`; then `SELECT` if
/// `db` is not 0; and a `PING` if none of these is sent, so that a server that wants
/// a password, or does not answer, fails the open rather than the first command.
/// The whole open, handshake included, takes at most `connect_timeout`.
///
/// `Debug` shows every field but the password (see [Secrets](self#secrets)).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Where the server listens.
    pub addr: Addr,
    /// The database to SELECT.
    pub db: i64,
    /// The ACL user, if any (`AUTH user password`).
    pub username: Option<String>,
    /// The password, if any.
    pub password: Option<String>,
    /// RESP2 or RESP3.
    pub protocol: Protocol,
    /// Sent as `CLIENT SETNAME`, to identify the connection in `CLIENT LIST`.
    pub client_name: Option<String>,
    /// A key prefix for libraries built on this crate (stdnet-orm uses it so that
    /// tests and tenants do not collide). The connection itself does not use it.
    pub namespace: Option<String>,
    /// How long opening a connection may take, from the first connect attempt to the
    /// handshake's last reply. Default 5 s. With `None` the operating system bounds
    /// the TCP connect and `read_timeout` each handshake reply. (Resolving a host
    /// name is not bounded.)
    pub connect_timeout: Option<Duration>,
    /// How long a reply may take to arrive. Default none (wait forever), so that
    /// blocking commands work; set one for request/response traffic.
    pub read_timeout: Option<Duration>,
    /// How long a write may block. Default none.
    pub write_timeout: Option<Duration>,
}

impl ConnectionInfo {
    /// A TCP connection to `host:port` with the defaults.
    pub fn tcp(host: impl Into<String>, port: u16) -> ConnectionInfo {
        ConnectionInfo::with_addr(Addr::Tcp {
            host: host.into(),
            port,
        })
    }

    /// A Unix-socket connection with the defaults.
    pub fn unix(path: impl Into<PathBuf>) -> ConnectionInfo {
        ConnectionInfo::with_addr(Addr::Unix(path.into()))
    }

    fn with_addr(addr: Addr) -> ConnectionInfo {
        ConnectionInfo {
            addr,
            db: 0,
            username: None,
            password: None,
            protocol: Protocol::Resp2,
            client_name: None,
            namespace: None,
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: None,
            write_timeout: None,
        }
    }

    /// Parses a `redis://` or `unix://` URL (see the [module docs](self)).
    pub fn from_url(url: &str) -> Result<ConnectionInfo> {
        let bad = |why: &str| Error::InvalidConfig(format!("{why} in {:?}", redact_url(url)));
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let decode = |s: &str| percent_decode(s).ok_or_else(|| bad("bad percent-encoding"));
        let mut info = match parsed.scheme() {
            "redis" => {
                let host = parsed
                    .host_str()
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| bad("no host"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let mut info = ConnectionInfo::tcp(host, parsed.port().unwrap_or(6379));
                let path = parsed.path().trim_start_matches('/');
                if !path.is_empty() {
                    info.db = path.parse().map_err(|_| bad("database is not a number"))?;
                }
                info
            }
            "unix" | "redis+unix" => {
                if parsed.path().is_empty() {
                    return Err(bad("no socket path"));
                }
                ConnectionInfo::unix(parsed.path())
            }
            other => return Err(bad(&format!("unsupported scheme {other:?}"))),
        };
        if !parsed.username().is_empty() {
            info.username = Some(decode(parsed.username())?);
        }
        if let Some(password) = parsed.password() {
            info.password = Some(decode(password)?);
        }
        for (key, value) in parsed.query_pairs() {
            match &*key {
                "db" => info.db = value.parse().map_err(|_| bad("db is not a number"))?,
                "protocol" => {
                    info.protocol = match &*value {
                        "resp2" | "2" => Protocol::Resp2,
                        "resp3" | "3" => Protocol::Resp3,
                        _ => return Err(bad("protocol must be resp2 or resp3")),
                    }
                }
                "client_name" => info.client_name = Some(value.into_owned()),
                "namespace" => info.namespace = Some(value.into_owned()),
                _ => return Err(bad(&format!("unknown parameter {key:?}"))),
            }
        }
        Ok(info)
    }

    /// Sets the database.
    pub fn with_db(mut self, db: i64) -> Self {
        self.db = db;
        self
    }

    /// Sets the password (and, with `Some`, the ACL user name).
    pub fn with_auth(mut self, username: Option<&str>, password: &str) -> Self {
        self.username = username.map(str::to_owned);
        self.password = Some(password.to_owned());
        self
    }

    /// Sets the protocol.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets the client name sent with `CLIENT SETNAME`.
    pub fn with_client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Sets the key namespace for libraries built on this crate.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the connect timeout (`None`: the operating system's).
    pub fn with_connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the read timeout (`None`: wait forever).
    pub fn with_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the write timeout (`None`: wait forever).
    pub fn with_write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = timeout;
        self
    }
}

/// The URL with everything between its scheme and its last `@` replaced by `***`,
/// for error messages: the user information goes whatever else is wrong with the URL
/// (a URL the parser rejects may still hold a password, and `@` cannot appear
/// unencoded anywhere else in a valid one).
fn redact_url(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_owned();
    };
    let start = url
        .find("://")
        .map(|i| i + 3)
        .or_else(|| url.find(':').map(|i| i + 1))
        .filter(|&start| start <= at)
        .unwrap_or(0);
    format!("{}***{}", &url[..start], &url[at..])
}

/// Prints `***` for a secret in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for ConnectionInfo {
    /// Every field, the password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("addr", &self.addr)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| Redacted))
            .field("protocol", &self.protocol)
            .field("client_name", &self.client_name)
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .finish()
    }
}

/// Decodes `%XX` escapes (the URL parser leaves user names and passwords encoded).
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

impl FromStr for ConnectionInfo {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        ConnectionInfo::from_url(url)
    }
}

impl fmt::Display for ConnectionInfo {
    /// The URL without credentials, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            Addr::Tcp { host, port } if host.contains(':') => {
                write!(f, "redis://[{host}]:{port}/{}", self.db)
            }
            Addr::Tcp { host, port } => write!(f, "redis://{host}:{port}/{}", self.db),
            Addr::Unix(path) => write!(f, "unix://{}?db={}", path.display(), self.db),
        }
    }
}

/// Anything that names a server: a URL string or a [`ConnectionInfo`].
pub trait IntoConnectionInfo {
    /// Converts into connection info.
    fn into_connection_info(self) -> Result<ConnectionInfo>;
}

impl IntoConnectionInfo for ConnectionInfo {
    fn into_connection_info(self) -> Result<ConnectionInfo> {
        Ok(self)
    }
}

impl IntoConnectionInfo for &ConnectionInfo {
    fn into_connection_info(self) -> Result<ConnectionInfo> {
        Ok(self.clone())
    }
}

impl IntoConnectionInfo for &str {
    fn into_connection_info(self) -> Result<ConnectionInfo> {
        ConnectionInfo::from_url(self)
    }
}

impl IntoConnectionInfo for String {
    fn into_connection_info(self) -> Result<ConnectionInfo> {
        ConnectionInfo::from_url(&self)
    }
}

impl IntoConnectionInfo for &String {
    fn into_connection_info(self) -> Result<ConnectionInfo> {
        ConnectionInfo::from_url(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_urls() {
        let info = ConnectionInfo::from_url("redis://localhost").unwrap();
        assert_eq!(
            info.addr,
            Addr::Tcp {
                host: "localhost".into(),
                port: 6379
            }
        );
        assert_eq!((info.db, info.protocol), (0, Protocol::Resp2));
        let info = ConnectionInfo::from_url("redis://:p%40ss@10.0.0.1:7000/3").unwrap();
        assert_eq!(info.password.as_deref(), Some("p@ss"));
        assert_eq!(info.username, None);
        assert_eq!(info.db, 3);
        let info = ConnectionInfo::from_url("redis://u:p@[::1]:7000?protocol=resp3&client_name=x")
            .unwrap();
        assert_eq!(
            info.addr,
            Addr::Tcp {
                host: "::1".into(),
                port: 7000
            }
        );
        assert_eq!(info.username.as_deref(), Some("u"));
        assert_eq!(info.protocol, Protocol::Resp3);
        assert_eq!(info.client_name.as_deref(), Some("x"));
    }

    #[test]
    fn unix_urls() {
        let info = ConnectionInfo::from_url("unix:///tmp/redis.sock?db=4").unwrap();
        assert_eq!(info.addr, Addr::Unix("/tmp/redis.sock".into()));
        assert_eq!(info.db, 4);
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("http://localhost", "unsupported scheme"),
            ("redis://localhost/abc", "database is not a number"),
            ("redis://localhost?protocol=resp9", "protocol must be"),
            ("redis://localhost?bogus=1", "unknown parameter"),
            ("not a url", "relative URL"),
        ] {
            let err = ConnectionInfo::from_url(url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn redacted_urls_keep_the_scheme_and_host() {
        for (url, shown) in [
            ("redis://u:p@host:1/2", "redis://***@host:1/2"),
            ("redis://host/abc", "redis://host/abc"),
            ("redis:u:p@host", "redis:***@host"),
            ("u:p@host", "u:***@host"),
            ("@@", "***@"),
            ("redis://a:b/c@d#e@f", "redis://***@f"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }
}
