//! Opening connections under faults: a server that accepts and never answers, a port
//! nobody listens on, missing and wrong passwords. Every open fails at `open` (not at
//! the first command), within the connect timeout, with an error that names the
//! address and never shows the password.

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use resp_conn::{Connection, ConnectionInfo, Error, Protocol, PubSub, aio, cmd};
use stdnet_test_support::RedisServer;

/// The password the tests hide; also a wrong password for servers that want another.
const SECRET: &str = "hunter2-Zq9x";

/// A server that accepts connections and never sends a byte, until the test ends.
fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(s) => held.push(s),
                Err(_) => return,
            }
        }
    });
    port
}

/// A port that refuses connections, held by the returned guard: the local end of a
/// connected socket, which is bound but does not listen. (A port bound and released
/// could be taken meanwhile by a redis-server another test starts.)
fn refusing_port() -> (u16, (TcpListener, TcpStream)) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let port = client.local_addr().unwrap().port();
    (port, (listener, client))
}

/// Every handshake shape: none (RESP2), HELLO (RESP3), AUTH, SELECT, SETNAME.
fn handshake_variants(port: u16) -> Vec<ConnectionInfo> {
    let base = ConnectionInfo::tcp("127.0.0.1", port);
    vec![
        base.clone(),
        base.clone().with_protocol(Protocol::Resp3),
        base.clone().with_auth(Some("app"), SECRET),
        base.clone()
            .with_protocol(Protocol::Resp3)
            .with_auth(None, SECRET),
        base.clone().with_db(3).with_client_name("worker"),
    ]
}

const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Far longer than the connect timeout: an open still running then is hung.
const HUNG: Duration = Duration::from_secs(10);

/// Runs a sync open on its own thread and fails the test if it has not returned
/// within [`HUNG`].
fn bounded<T: Send + 'static>(what: &str, open: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(open());
    });
    rx.recv_timeout(HUNG)
        .unwrap_or_else(|_| panic!("{what}: open hung past the connect timeout"))
}

/// Checks an error from opening `addr`: it names the address, hides the secret.
fn assert_names_address(what: &str, err: &Error, addr: &str) {
    let shown = err.to_string();
    assert!(
        shown.contains(addr),
        "{what}: {shown:?} does not name {addr}"
    );
    assert_hides_secret(what, err);
}

fn assert_hides_secret(what: &str, err: &Error) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(
            !text.contains(SECRET),
            "{what}: the password shows in {text:?}"
        );
    }
}

fn assert_is_timeout(what: &str, err: &Error) {
    assert!(err.is_timeout(), "{what}: not a timeout: {err:?}");
}

#[test]
fn sync_open_is_bounded_by_the_connect_timeout_handshake_included() {
    let port = silent_server();
    let addr = format!("127.0.0.1:{port}");
    for info in handshake_variants(port) {
        let info = info.with_connect_timeout(Some(CONNECT_TIMEOUT));
        let what = format!("{info:?}");
        let started = Instant::now();
        let opened = bounded(&what, {
            let info = info.clone();
            move || Connection::open(info).map(drop)
        });
        let err = opened.expect_err("a server that never answers cannot be opened");
        assert!(started.elapsed() < HUNG);
        assert_is_timeout(&what, &err);
        assert_names_address(&what, &err, &addr);
        let err = bounded(&what, move || PubSub::open(info).map(drop)).unwrap_err();
        assert_is_timeout(&what, &err);
        assert_names_address(&what, &err, &addr);
    }
}

#[tokio::test]
async fn async_open_is_bounded_by_the_connect_timeout_handshake_included() {
    let port = silent_server();
    let addr = format!("127.0.0.1:{port}");
    for info in handshake_variants(port) {
        let info = info.with_connect_timeout(Some(CONNECT_TIMEOUT));
        let what = format!("{info:?}");
        let errors = tokio::time::timeout(HUNG, async {
            [
                aio::Connection::open(&info).await.map(drop),
                aio::MultiplexedConnection::open(&info).await.map(drop),
                aio::PubSub::open(&info).await.map(drop),
                aio::Pool::new(&info, 2).unwrap().get().await.map(drop),
            ]
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: open hung past the connect timeout"));
        for result in errors {
            let err = result.expect_err("a server that never answers cannot be opened");
            assert_is_timeout(&what, &err);
            assert_names_address(&what, &err, &addr);
        }
    }
}

#[test]
fn a_refused_connection_names_the_address() {
    let (port, _held) = refusing_port();
    let addr = format!("127.0.0.1:{port}");
    for info in handshake_variants(port) {
        let what = format!("{info:?}");
        let err = Connection::open(&info).unwrap_err();
        assert!(err.is_connection_error(), "{what}: {err:?}");
        assert_names_address(&what, &err, &addr);
        let err = PubSub::open(&info).unwrap_err();
        assert_names_address(&what, &err, &addr);
    }
    // A Unix socket that does not exist: the error names its path.
    let path = "/nonexistent-dir-for-resp-conn/redis.sock";
    let err = Connection::open(format!("unix://{path}")).unwrap_err();
    assert_names_address("unix", &err, path);
}

#[tokio::test]
async fn a_refused_async_connection_names_the_address() {
    let (port, _held) = refusing_port();
    let addr = format!("127.0.0.1:{port}");
    for info in handshake_variants(port) {
        let what = format!("{info:?}");
        for result in [
            aio::Connection::open(&info).await.map(drop),
            aio::MultiplexedConnection::open(&info).await.map(drop),
            aio::PubSub::open(&info).await.map(drop),
            aio::Pool::new(&info, 2).unwrap().get().await.map(drop),
        ] {
            let err = result.unwrap_err();
            assert!(err.is_connection_error(), "{what}: {err:?}");
            assert_names_address(&what, &err, &addr);
        }
    }
    let path = "/nonexistent-dir-for-resp-conn/redis.sock";
    let err = aio::MultiplexedConnection::open(format!("unix://{path}"))
        .await
        .unwrap_err();
    assert_names_address("unix", &err, path);
}

/// A server that wants a password, with the wrong or no password given.
fn bad_credentials(port: u16) -> Vec<ConnectionInfo> {
    let base = ConnectionInfo::tcp("127.0.0.1", port);
    let mut out = Vec::new();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let base = base.clone().with_protocol(protocol);
        out.push(base.clone());
        out.push(base.clone().with_db(2));
        out.push(base.clone().with_auth(None, SECRET));
        out.push(base.clone().with_auth(Some("default"), SECRET));
    }
    out
}

fn assert_auth_error(what: &str, result: Result<(), Error>, addr: &str) {
    let err = match result {
        Ok(()) => panic!("{what}: opened without the right password"),
        Err(e) => e,
    };
    assert!(err.is_auth_error(), "{what}: not an auth error: {err:?}");
    assert_names_address(what, &err, addr);
}

#[test]
fn a_missing_or_wrong_password_fails_at_open() {
    let server = RedisServer::builder().password("the-right-one").start();
    let addr = format!("127.0.0.1:{}", server.port());
    for info in bad_credentials(server.port()) {
        let what = format!("{info:?}");
        assert_auth_error(&what, Connection::open(&info).map(drop), &addr);
        assert_auth_error(&what, PubSub::open(&info).map(drop), &addr);
    }
    // The right password opens, and the URL form works too.
    let mut con = Connection::open(server.url()).unwrap();
    assert_eq!(con.query::<String>(&cmd("PING")).unwrap(), "PONG");
}

#[tokio::test]
async fn a_missing_or_wrong_password_fails_at_async_open() {
    let server = RedisServer::builder().password("the-right-one").start();
    let addr = format!("127.0.0.1:{}", server.port());
    for info in bad_credentials(server.port()) {
        let what = format!("{info:?}");
        assert_auth_error(&what, aio::Connection::open(&info).await.map(drop), &addr);
        assert_auth_error(
            &what,
            aio::MultiplexedConnection::open(&info).await.map(drop),
            &addr,
        );
        assert_auth_error(&what, aio::PubSub::open(&info).await.map(drop), &addr);
        assert_auth_error(
            &what,
            aio::Pool::new(&info, 1).unwrap().get().await.map(drop),
            &addr,
        );
    }
    let con = aio::MultiplexedConnection::open(server.url())
        .await
        .unwrap();
    assert_eq!(con.query::<String>(&cmd("PING")).await.unwrap(), "PONG");
}

/// URLs with a password in them that are wrong in some other way.
fn bad_urls_with_a_password() -> Vec<String> {
    [
        "redis://app:{}@localhost/abc",
        "redis://app:{}@localhost?protocol=resp9",
        "redis://app:{}@localhost?bogus=1",
        "redis://app:{}@localhost?db=x",
        "redis://app:{}@localhost:99999",
        "redis://app:{}@:6379",
        "redis://app:{}@",
        "http://app:{}@localhost",
        "redis:app:{}@localhost",
        "redis://app:{}/x@localhost:notaport",
        "redis://app:{}#frag@localhost:1:2",
        "redis://app:{}%zz@localhost",
        "redis://%zz:{}@localhost",
        "redis://app:{}@local host",
        "unix://app:{}@",
        "redis+unix://app:{}@/tmp/x.sock?nope=1",
    ]
    .iter()
    .map(|u| u.replace("{}", SECRET))
    .collect()
}

#[test]
fn url_errors_never_show_the_password() {
    for url in bad_urls_with_a_password() {
        let err = ConnectionInfo::from_url(&url).expect_err(&url);
        assert!(matches!(err, Error::InvalidConfig(_)), "{url}: {err:?}");
        assert_hides_secret(&url, &err);
        // The same through every open.
        let err = Connection::open(url.as_str()).unwrap_err();
        assert_hides_secret(&url, &err);
    }
}

#[test]
fn debug_of_connection_info_and_handles_hides_the_password() {
    let server = RedisServer::builder().password(SECRET).start();
    let url = format!("redis://defaul%74:{SECRET}@127.0.0.1:{}/0", server.port());
    let from_url = ConnectionInfo::from_url(&url).unwrap();
    assert_eq!(from_url.password.as_deref(), Some(SECRET));
    let infos = [
        from_url,
        ConnectionInfo::tcp("127.0.0.1", server.port()).with_auth(None, SECRET),
        ConnectionInfo::tcp("127.0.0.1", server.port())
            .with_auth(Some("default"), SECRET)
            .with_protocol(Protocol::Resp3),
    ];
    for info in &infos {
        for text in [format!("{info:?}"), format!("{info:#?}"), info.to_string()] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(text.contains("127.0.0.1"), "{text}");
        }
        let con = Connection::open(info).unwrap();
        let sub = PubSub::open(info).unwrap();
        for text in [
            format!("{con:?}"),
            format!("{sub:?}"),
            format!("{:?}", con.info()),
        ] {
            assert!(!text.contains(SECRET), "{text}");
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for info in &infos {
            let con = aio::Connection::open(info).await.unwrap();
            let mux = aio::MultiplexedConnection::open(info).await.unwrap();
            let sub = aio::PubSub::open(info).await.unwrap();
            let pool = aio::Pool::new(info, 1).unwrap();
            let lent = pool.get().await.unwrap();
            for text in [
                format!("{con:?}"),
                format!("{mux:?}"),
                format!("{sub:?}"),
                format!("{pool:?}"),
                format!("{lent:?}"),
                format!("{:?}", mux.info()),
            ] {
                assert!(!text.contains(SECRET), "{text}");
            }
        }
    });
}

#[test]
fn errors_opening_with_a_password_never_show_it() {
    // Refused, timed out, and rejected: each with the secret as the password.
    let (refused, _held) = refusing_port();
    let silent = silent_server();
    let server = RedisServer::builder().password("the-right-one").start();
    for port in [refused, silent, server.port()] {
        for protocol in [Protocol::Resp2, Protocol::Resp3] {
            let info = ConnectionInfo::tcp("127.0.0.1", port)
                .with_auth(Some("default"), SECRET)
                .with_protocol(protocol)
                .with_connect_timeout(Some(CONNECT_TIMEOUT));
            let what = format!("port {port} {protocol:?}");
            let err = bounded(&what, {
                let info = info.clone();
                move || Connection::open(info).map(drop)
            })
            .unwrap_err();
            assert_hides_secret(&what, &err);
            let url = format!(
                "redis://default:{SECRET}@127.0.0.1:{port}?protocol={}",
                if protocol == Protocol::Resp3 {
                    "resp3"
                } else {
                    "resp2"
                }
            );
            let err = bounded(&what, move || {
                let mut info = ConnectionInfo::from_url(&url)?;
                info.connect_timeout = Some(CONNECT_TIMEOUT);
                Connection::open(info).map(drop)
            })
            .unwrap_err();
            assert_hides_secret(&what, &err);
        }
    }
}

/// Makes the server want a password and drops every client connection, `admin`'s too.
fn require_password_and_kick_everyone(admin: &mut Connection) {
    admin
        .query::<()>(cmd("CONFIG").arg("SET").arg("requirepass").arg(SECRET))
        .unwrap();
    let _ = admin.query::<i64>(cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal"));
}

/// Calls `attempt` until it fails with an auth error (the first calls may find the
/// old socket dead instead); panics after 50 tries or on any other outcome.
fn until_auth_error(what: &str, mut attempt: impl FnMut() -> Result<String, Error>) -> Error {
    for _ in 0..50 {
        match attempt() {
            Err(e) if e.is_auth_error() => return e,
            Err(e) if e.is_connection_error() => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("{what}: expected an auth error at reconnect, got {other:?}"),
        }
    }
    panic!("{what}: never reconnected");
}

#[test]
fn a_reconnect_the_server_refuses_to_authenticate_is_an_auth_error() {
    let server = RedisServer::start();
    let addr = format!("127.0.0.1:{}", server.port());
    let info = ConnectionInfo::tcp("127.0.0.1", server.port());
    let mut con = Connection::open(&info).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mux = rt
        .block_on(aio::MultiplexedConnection::open(&info))
        .unwrap();
    let mut single = rt.block_on(aio::Connection::open(&info)).unwrap();
    require_password_and_kick_everyone(&mut Connection::open(&info).unwrap());
    let err = until_auth_error("sync", || con.query(&cmd("PING")));
    assert_names_address("sync", &err, &addr);
    let err = until_auth_error("multiplexed", || rt.block_on(mux.query(&cmd("PING"))));
    assert_names_address("multiplexed", &err, &addr);
    let err = until_auth_error("single", || rt.block_on(single.query(&cmd("PING"))));
    assert_names_address("single", &err, &addr);
}
