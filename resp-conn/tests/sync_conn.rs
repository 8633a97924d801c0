//! The blocking connection against a real, private redis-server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use resp_conn::{
    Connection, ConnectionInfo, Error, Pipeline, Protocol, PubSub, Script, ServerError,
    ServerErrorKind, Value, cmd,
};
use resp_parser::GenericFrame;
use stdnet_test_support::RedisServer;

fn resp3(server: &RedisServer) -> ConnectionInfo {
    ConnectionInfo::tcp("127.0.0.1", server.port()).with_protocol(Protocol::Resp3)
}

/// The server in RESP2, then in RESP3.
fn both_protocols(server: &RedisServer) -> [ConnectionInfo; 2] {
    [
        ConnectionInfo::tcp("127.0.0.1", server.port()),
        resp3(server),
    ]
}

#[test]
fn set_get_and_typed_replies_in_both_protocols() {
    let server = RedisServer::start();
    for info in both_protocols(&server) {
        let mut con = Connection::open(&info).unwrap();
        con.query::<()>(cmd("DEL").arg("k").arg("h").arg("z"))
            .unwrap();
        con.query::<()>(cmd("SET").arg("k").arg(42)).unwrap();
        assert_eq!(con.query::<i64>(cmd("GET").arg("k")).unwrap(), 42);
        assert_eq!(con.query::<String>(cmd("GET").arg("k")).unwrap(), "42");
        assert_eq!(
            con.query::<Option<String>>(cmd("GET").arg("missing"))
                .unwrap(),
            None
        );
        con.query::<()>(cmd("HSET").arg("h").arg("a").arg(1).arg("b").arg(2))
            .unwrap();
        let h: HashMap<String, i64> = con.query(cmd("HGETALL").arg("h")).unwrap();
        assert_eq!(h, HashMap::from([("a".into(), 1), ("b".into(), 2)]));
        con.query::<()>(cmd("ZADD").arg("z").arg(1.5).arg("x").arg(2.5).arg("y"))
            .unwrap();
        let z: Vec<(String, f64)> = con
            .query(cmd("ZRANGE").arg("z").arg(0).arg(-1).arg("WITHSCORES"))
            .unwrap();
        assert_eq!(
            z,
            [("x".to_owned(), 1.5), ("y".to_owned(), 2.5)],
            "{:?}",
            info.protocol
        );
        let raw: Value = con.query(cmd("GET").arg("missing")).unwrap();
        assert!(raw.is_null());
    }
}

#[test]
fn server_errors_keep_their_kind() {
    let server = RedisServer::start();
    let mut con = Connection::open(server.url()).unwrap();
    con.query::<()>(cmd("LPUSH").arg("list").arg(1)).unwrap();
    match con.query::<String>(cmd("GET").arg("list")) {
        Err(Error::Server(e)) => {
            assert_eq!(e.kind, ServerErrorKind::WrongType);
            assert!(e.message.starts_with("WRONGTYPE"));
        }
        other => panic!("expected WRONGTYPE, got {other:?}"),
    }
    match con.query::<()>(
        cmd("EVALSHA")
            .arg("0123456789012345678901234567890123456789")
            .arg(0),
    ) {
        Err(Error::Server(e)) => assert_eq!(e.kind, ServerErrorKind::NoScript),
        other => panic!("expected NOSCRIPT, got {other:?}"),
    }
    // The connection is still usable after error replies.
    assert_eq!(con.query::<String>(&cmd("PING")).unwrap(), "PONG");
}

#[test]
fn conversion_failures_are_errors_not_panics() {
    let server = RedisServer::start();
    let mut con = Connection::open(server.url()).unwrap();
    con.query::<()>(cmd("SET").arg("word").arg("abc")).unwrap();
    let err = con.query::<i64>(cmd("GET").arg("word")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conversion {
                expected: "i64",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn database_auth_and_client_name_from_the_url() {
    let server = RedisServer::builder()
        .arg("--requirepass")
        .arg("s3cret")
        .start();
    let url = format!(
        "redis://:s3cret@127.0.0.1:{}/3?client_name=tester",
        server.port()
    );
    let mut con = Connection::open(url.as_str()).unwrap();
    con.query::<()>(cmd("SET").arg("where").arg("db3")).unwrap();
    let name: String = con.query(cmd("CLIENT").arg("GETNAME")).unwrap();
    assert_eq!(name, "tester");
    let mut db0 =
        Connection::open(format!("redis://:s3cret@127.0.0.1:{}/0", server.port())).unwrap();
    assert_eq!(
        db0.query::<Option<String>>(cmd("GET").arg("where"))
            .unwrap(),
        None
    );
    // RESP3 folds AUTH and SETNAME into HELLO.
    let info = ConnectionInfo::tcp("127.0.0.1", server.port())
        .with_protocol(Protocol::Resp3)
        .with_auth(None, "s3cret")
        .with_db(3);
    let mut con3 = Connection::open(info).unwrap();
    assert_eq!(
        con3.query::<String>(cmd("GET").arg("where")).unwrap(),
        "db3"
    );
    // A wrong password fails the connect with the server's error.
    match Connection::open(format!("redis://:wrong@127.0.0.1:{}", server.port())) {
        Err(Error::Auth { source: e, .. }) => assert_eq!(e.kind, ServerErrorKind::WrongPass),
        other => panic!("expected WRONGPASS, got {other:?}"),
    }
}

#[test]
fn unix_socket_urls() {
    let server = RedisServer::builder().unix_socket(true).start();
    let path = server
        .unix_socket_path()
        .expect("socket")
        .display()
        .to_string();
    let mut con = Connection::open(format!("unix://{path}?db=1")).unwrap();
    assert_eq!(con.query::<String>(&cmd("PING")).unwrap(), "PONG");
}

#[test]
fn large_values_round_trip() {
    let server = RedisServer::start();
    let mut con = Connection::open(server.url()).unwrap();
    let value: Vec<u8> = (0..64 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    con.query::<()>(cmd("SET").arg("big").arg(&value)).unwrap();
    let back: bytes::Bytes = con.query(cmd("GET").arg("big")).unwrap();
    assert_eq!(back.len(), value.len());
    assert!(back == value[..], "64 MiB value came back different");
}

#[test]
fn pipelines_keep_order_and_errors_in_place() {
    let server = RedisServer::start();
    let mut con = Connection::open(server.url()).unwrap();
    let mut pipe = Pipeline::with_capacity(10_000);
    for i in 0..10_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    con.query_pipeline::<()>(&pipe).unwrap();
    let mut pipe = Pipeline::new();
    for i in 0..10_000 {
        pipe.cmd("GET").arg(format!("key:{i}"));
    }
    let values: Vec<i64> = con.query_pipeline(&pipe).unwrap();
    assert_eq!(values, (0..10_000).collect::<Vec<_>>());

    let mut pipe = Pipeline::new();
    pipe.cmd("SET").arg("s").arg("text");
    pipe.cmd("INCR").arg("s");
    pipe.cmd("GET").arg("s");
    let (ok, incr, get): (String, Result<i64, ServerError>, String) =
        con.query_pipeline(&pipe).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(incr.unwrap_err().kind, ServerErrorKind::Err);
    assert_eq!(get, "text");
}

#[test]
fn a_pipeline_read_into_unit_keeps_errors_pushes_and_the_connection_in_step() {
    // `query_pipeline::<()>` parses the replies without building them. It must still
    // fail on an ignored command's error, read past it, take large replies through
    // the resumable decoder, and set RESP3 pushes aside.
    let server = RedisServer::start();
    for info in both_protocols(&server) {
        let mut con = Connection::open(&info).unwrap();
        con.query::<()>(&cmd("FLUSHALL")).unwrap();
        let mut pipe = Pipeline::new();
        pipe.cmd("SET").arg("s").arg("text");
        pipe.cmd("INCR").arg("s").ignore();
        pipe.cmd("SET").arg("after").arg(1);
        let err = con.query_pipeline::<()>(&pipe).unwrap_err();
        assert!(
            matches!(&err, Error::Server(e) if e.kind == ServerErrorKind::Err),
            "{err:?}"
        );
        assert_eq!(con.query::<i64>(cmd("GET").arg("after")).unwrap(), 1);

        // An error of a command whose reply is not ignored is not the caller's
        // concern here: `()` asked for none of them.
        let mut pipe = Pipeline::new();
        pipe.cmd("INCR").arg("s");
        pipe.cmd("INCR").arg("n");
        con.query_pipeline::<()>(&pipe).unwrap();
        assert_eq!(con.query::<i64>(cmd("GET").arg("n")).unwrap(), 1);

        // Replies of 1 MiB, each split across many reads.
        let big = vec![b'x'; 1 << 20];
        con.query::<()>(cmd("SET").arg("big").arg(&big[..]))
            .unwrap();
        let mut pipe = Pipeline::new();
        for _ in 0..3 {
            pipe.cmd("GET").arg("big");
            pipe.cmd("INCR").arg("n");
        }
        con.query_pipeline::<()>(&pipe).unwrap();
        assert_eq!(con.query::<i64>(cmd("GET").arg("n")).unwrap(), 4);
    }

    // A push in the middle of the replies: this client's own SET invalidates the key
    // it read, and the server sends the invalidation right away.
    let mut con = Connection::open(resp3(&server)).unwrap();
    con.query::<()>(cmd("CLIENT").arg("TRACKING").arg("on"))
        .unwrap();
    let mut pipe = Pipeline::new();
    pipe.cmd("GET").arg("tracked");
    pipe.cmd("SET").arg("tracked").arg(1);
    pipe.cmd("INCR").arg("tracked");
    con.query_pipeline::<()>(&pipe).unwrap();
    assert_eq!(con.query::<i64>(cmd("GET").arg("tracked")).unwrap(), 2);
    let pushes = con.take_pushes();
    assert!(
        pushes.iter().any(|p| matches!(p, GenericFrame::Push(items) if items.first().and_then(|f| f.as_bytes()) == Some(&b"invalidate"[..]))),
        "{pushes:?}"
    );
}

#[test]
fn transactions_are_atomic_and_watch_retries() {
    let server = RedisServer::start();
    let mut con = Connection::open(server.url()).unwrap();
    let mut pipe = Pipeline::new();
    pipe.atomic();
    pipe.cmd("SET").arg("t").arg(1).ignore();
    pipe.cmd("INCR").arg("t");
    pipe.cmd("INCR").arg("t");
    let (a, b): (i64, i64) = con.query_pipeline(&pipe).unwrap();
    assert_eq!((a, b), (2, 3));

    // A command refused at queue time aborts the whole transaction.
    let mut bad = Pipeline::new();
    bad.atomic();
    bad.cmd("SET").arg("t").arg(100);
    bad.cmd("NOSUCHCOMMAND");
    assert!(matches!(
        con.query_pipeline::<Value>(&bad),
        Err(Error::Server(_))
    ));
    assert_eq!(
        con.query::<i64>(cmd("GET").arg("t")).unwrap(),
        3,
        "nothing ran"
    );

    // WATCH: another client changes the key during the first attempt only.
    let mut other = Connection::open(server.url()).unwrap();
    let mut attempts = 0;
    let (doubled,): (i64,) = con
        .transaction(&["t"], |con, pipe| {
            attempts += 1;
            let n: i64 = con.query(cmd("GET").arg("t"))?;
            if attempts == 1 {
                other.query::<()>(cmd("SET").arg("t").arg(10))?;
            }
            pipe.cmd("SET").arg("t").arg(n * 2).ignore();
            pipe.cmd("GET").arg("t");
            Ok(())
        })
        .unwrap();
    assert_eq!((attempts, doubled), (2, 20));
}

#[test]
fn scripts_load_on_noscript_also_in_pipelines() {
    let server = RedisServer::start();
    let mut con = Connection::open(server.url()).unwrap();
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    assert_eq!(script.key("n").arg(5).invoke::<i64>(&mut con).unwrap(), 5);
    con.query::<()>(cmd("SCRIPT").arg("FLUSH")).unwrap();
    assert_eq!(script.key("n").arg(1).invoke::<i64>(&mut con).unwrap(), 6);

    // In an atomic pipeline on a fresh connection (the script flushed again): the
    // connection loads it before MULTI, so the transaction never meets NOSCRIPT.
    con.query::<()>(cmd("SCRIPT").arg("FLUSH")).unwrap();
    let mut fresh = Connection::open(server.url()).unwrap();
    let mut pipe = Pipeline::new();
    pipe.atomic();
    pipe.invoke_script(script.key("n").arg(10));
    pipe.cmd("GET").arg("n");
    let (n, text): (i64, String) = fresh.query_pipeline(&pipe).unwrap();
    assert_eq!((n, text.as_str()), (16, "16"));
}

#[test]
fn pubsub_in_resp2_and_resp3() {
    let server = RedisServer::start();
    for info in both_protocols(&server) {
        let mut sub = PubSub::open(&info).unwrap();
        sub.subscribe(["news"]).unwrap();
        sub.psubscribe(["alerts.*"]).unwrap();
        let mut publisher = Connection::open(server.url()).unwrap();
        assert_eq!(
            publisher
                .query::<i64>(cmd("PUBLISH").arg("news").arg("one"))
                .unwrap(),
            1
        );
        publisher
            .query::<i64>(cmd("PUBLISH").arg("alerts.disk").arg("two"))
            .unwrap();
        let m = sub.next_message().unwrap();
        assert_eq!(
            (m.channel_str(), m.payload_str(), m.pattern.is_none()),
            (Some("news"), Some("one"), true)
        );
        let m = sub.next_message().unwrap();
        assert_eq!(m.pattern.as_deref(), Some(&b"alerts.*"[..]));
        assert_eq!(m.channel_str(), Some("alerts.disk"));
        assert_eq!(
            sub.next_message_timeout(Some(Duration::from_millis(50)))
                .unwrap(),
            None,
            "no more messages"
        );
    }
}

#[test]
fn pubsub_resubscribes_after_a_restart() {
    let mut server = RedisServer::start();
    let mut sub = PubSub::open(server.url()).unwrap();
    sub.subscribe(["jobs"]).unwrap();
    server.stop();
    assert!(
        sub.next_message().is_err(),
        "the subscriber notices the server is gone"
    );
    server.restart();
    // Keep publishing until the subscriber is back (it reconnects on its next call).
    let url = server.url();
    let publisher = std::thread::spawn(move || {
        let mut p = Connection::open(url).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if p.query::<i64>(cmd("PUBLISH").arg("jobs").arg("after-restart"))
                .unwrap()
                > 0
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let m = sub.next_message().unwrap();
    assert_eq!(m.payload_str(), Some("after-restart"));
    assert!(publisher.join().unwrap());
}

#[test]
fn a_dead_server_is_an_error_and_the_next_call_reconnects() {
    let mut server = RedisServer::start();
    let info = ConnectionInfo::tcp("127.0.0.1", server.port())
        .with_read_timeout(Some(Duration::from_secs(5)));
    let mut con = Connection::open(info).unwrap();
    con.query::<()>(cmd("SET").arg("a").arg(1)).unwrap();
    // Kill the server in the middle of a pipeline's replies.
    let mut pipe = Pipeline::new();
    for _ in 0..1000 {
        pipe.cmd("PING");
    }
    pipe.cmd("BLPOP").arg("never").arg(3);
    let killer = {
        let started = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            server.stop();
            (server, started)
        })
    };
    let result = con.query_pipeline::<Value>(&pipe);
    let (mut server, started) = killer.join().unwrap();
    assert!(result.unwrap_err().is_connection_error());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the error came before the timeout"
    );
    assert!(!con.is_open());
    server.restart();
    assert_eq!(
        con.query::<String>(&cmd("PING")).unwrap(),
        "PONG",
        "reconnected"
    );
}

#[test]
fn read_timeouts_fire() {
    let server = RedisServer::start();
    let info = ConnectionInfo::tcp("127.0.0.1", server.port())
        .with_read_timeout(Some(Duration::from_millis(200)));
    let mut con = Connection::open(info).unwrap();
    let started = Instant::now();
    let err = con
        .query::<Value>(cmd("BLPOP").arg("nothing").arg(5))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        con.query::<String>(&cmd("PING")).unwrap(),
        "PONG",
        "usable again"
    );
}

#[test]
fn resp3_pushes_are_set_aside() {
    let server = RedisServer::start();
    let mut con = Connection::open(resp3(&server)).unwrap();
    con.query::<()>(cmd("CLIENT").arg("TRACKING").arg("on"))
        .unwrap();
    con.query::<()>(cmd("SET").arg("cached").arg(1)).unwrap();
    con.query::<i64>(cmd("GET").arg("cached")).unwrap();
    let mut other = Connection::open(server.url()).unwrap();
    other.query::<()>(cmd("SET").arg("cached").arg(2)).unwrap();
    // The invalidation push arrives before the next reply and is kept aside.
    assert_eq!(con.query::<i64>(cmd("GET").arg("cached")).unwrap(), 2);
    let pushes = con.take_pushes();
    assert!(
        pushes.iter().any(|p| matches!(p, GenericFrame::Push(items) if items.first().and_then(|f| f.as_bytes()) == Some(&b"invalidate"[..]))),
        "{pushes:?}"
    );
}
