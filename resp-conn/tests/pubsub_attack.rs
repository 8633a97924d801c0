//! An outside attack on the pub/sub restore after a refusal: when the server refuses
//! to restore a subscription (an ACL change), the refused names are forgotten, every
//! other one is restored, and the refusal is returned once. Here: an error that is not
//! a refusal (`BUSY`, a script running) answered to the restore, the ACL refusing
//! patterns only, a shard channel, or one name of 1,000.
//!
//! Every test talks to a private redis-server. Loops are bounded.

use std::time::Duration;

use resp_conn::{Connection, ConnectionInfo, Protocol, PubSub, aio, cmd};
use stdnet_test_support::RedisServer;

mod common;
use common::listener_may_use;

fn info(server: &RedisServer) -> ConnectionInfo {
    ConnectionInfo::tcp("127.0.0.1", server.port())
        .with_read_timeout(Some(Duration::from_secs(5)))
        // HELLO may run while a script keeps the server busy; PING may not.
        .with_protocol(Protocol::Resp3)
}

fn admin(server: &RedisServer) -> Connection {
    Connection::open(info(server)).unwrap()
}

fn publish(server: &RedisServer, channel: &str, payload: &str) -> i64 {
    let mut con = admin(server);
    let mut c = cmd(if channel.starts_with('{') {
        "SPUBLISH"
    } else {
        "PUBLISH"
    });
    c.arg(channel).arg(payload);
    con.query(&c).unwrap()
}

/// A server whose scripts are "busy" (refusing other clients' commands with `BUSY`)
/// after 100 ms.
fn busy_server() -> RedisServer {
    RedisServer::builder()
        .arg("--busy-reply-threshold")
        .arg("100")
        .start()
}

/// Runs a script that keeps the server busy for about `ms` milliseconds, on a thread
/// of its own; returns once the server answers others with `BUSY`.
fn keep_busy(server: &RedisServer, ms: u64) -> std::thread::JoinHandle<()> {
    let mut con = Connection::open(
        ConnectionInfo::tcp("127.0.0.1", server.port())
            .with_read_timeout(Some(Duration::from_secs(30))),
    )
    .unwrap();
    let handle = std::thread::spawn(move || {
        let script = "local t = redis.call('TIME') \
            while true do local n = redis.call('TIME') \
            if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > tonumber(ARGV[1]) * 1000 then break end end";
        let _ = con.request(cmd("EVAL").arg(script).arg(0).arg(ms));
    });
    std::thread::sleep(Duration::from_millis(300));
    handle
}

fn kill_subscribers(server: &RedisServer) {
    let mut con = admin(server);
    let _: i64 = con
        .query(cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"))
        .unwrap();
}

/// A `BUSY` answered to the restore is not a refusal: the server refused nothing for
/// good, and the subscriptions must come back once it is free. (Before: each name was
/// retried, each got `BUSY`, each was forgotten: the subscriber lost every channel.)
#[test]
fn a_busy_server_during_the_restore_loses_no_subscription_sync() {
    let server = busy_server();
    let mut sub = PubSub::open(info(&server)).unwrap();
    sub.subscribe(["a", "b"]).unwrap();
    sub.psubscribe(["p*"]).unwrap();
    kill_subscribers(&server);
    let script = keep_busy(&server, 1500);
    // The dropped socket, then a restore answered BUSY (errors, expected).
    for _ in 0..3 {
        let _ = sub.next_message_timeout(Some(Duration::from_millis(50)));
    }
    script.join().unwrap();
    let mut got = std::collections::BTreeSet::new();
    for i in 0..40 {
        for channel in ["a", "b", "p1"] {
            if !got.contains(channel) {
                publish(&server, channel, &format!("m{i}"));
            }
        }
        while let Ok(Some(m)) = sub.next_message_timeout(Some(Duration::from_millis(50))) {
            got.insert(m.channel_str().unwrap().to_owned());
        }
        if got.len() == 3 {
            break;
        }
    }
    assert_eq!(
        got.len(),
        3,
        "subscriptions lost after a BUSY restore: got only {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_during_the_restore_loses_no_subscription_async() {
    let server = busy_server();
    let mut sub = aio::PubSub::open(info(&server)).await.unwrap();
    sub.subscribe(["a", "b"]).await.unwrap();
    sub.psubscribe(["p*"]).await.unwrap();
    kill_subscribers(&server);
    let script = tokio::task::block_in_place(|| keep_busy(&server, 1500));
    for _ in 0..3 {
        let _ = tokio::time::timeout(Duration::from_millis(50), sub.next_message()).await;
    }
    tokio::task::block_in_place(|| script.join().unwrap());
    let mut got = std::collections::BTreeSet::new();
    for i in 0..40 {
        for channel in ["a", "b", "p1"] {
            if !got.contains(channel) {
                tokio::task::block_in_place(|| publish(&server, channel, &format!("m{i}")));
            }
        }
        while let Ok(Ok(m)) =
            tokio::time::timeout(Duration::from_millis(50), sub.next_message()).await
        {
            got.insert(m.channel_str().unwrap().to_owned());
        }
        if got.len() == 3 {
            break;
        }
    }
    assert_eq!(
        got.len(),
        3,
        "subscriptions lost after a BUSY restore: got only {got:?}"
    );
}

/// Reads messages until every channel in `want` has given one, publishing to the
/// missing ones each round; errors (the dropped socket, the refusal) are counted.
fn collect_sync(server: &RedisServer, sub: &mut PubSub, want: &[&str]) -> (usize, Vec<String>) {
    let mut got = std::collections::BTreeSet::new();
    let mut errors = 0;
    for i in 0..30 {
        for channel in want {
            if !got.contains(*channel) {
                publish(server, channel, &format!("m{i}"));
            }
        }
        loop {
            match sub.next_message_timeout(Some(Duration::from_millis(50))) {
                Ok(Some(m)) => {
                    got.insert(m.channel_str().unwrap().to_owned());
                }
                Ok(None) => break,
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
        }
        if want.iter().all(|c| got.contains(*c)) {
            break;
        }
    }
    (errors, got.into_iter().collect())
}

/// Patterns refused while channels stay allowed, shard channels refused, every name
/// refused, one name of 1,000 refused: what is allowed comes back, the subscriber
/// fails at most twice (the dropped socket, the refusal), then works.
#[test]
fn refusals_of_each_kind_forget_only_the_refused_names() {
    let server = RedisServer::start();
    let mut admin = admin(&server);
    let user = || info(&server).with_auth(Some("listener"), "pw");

    // Patterns refused, channels allowed.
    listener_may_use(&mut admin, &["&c*", "&p*"]);
    let mut sub = PubSub::open(user()).unwrap();
    sub.subscribe(["c1"]).unwrap();
    sub.psubscribe(["p*"]).unwrap();
    sub.ssubscribe(["{s}1"]).unwrap_err(); // `&c* &p*` gives no `{s}1`
    listener_may_use(&mut admin, &["&c*", "&{s}*"]);
    let mut sub2 = PubSub::open(user()).unwrap();
    sub2.subscribe(["c1"]).unwrap();
    sub2.ssubscribe(["{s}1"]).unwrap();
    // Now refuse the shard channel, keep the channel.
    listener_may_use(&mut admin, &["&c*"]);
    let (errors, got) = collect_sync(&server, &mut sub, &["c1"]);
    assert!(
        got.contains(&"c1".to_owned()) && errors <= 2,
        "patterns refused: {errors} errors, got {got:?}"
    );
    let (errors, got) = collect_sync(&server, &mut sub2, &["c1"]);
    assert!(
        got.contains(&"c1".to_owned()) && errors <= 2,
        "shard refused: {errors} errors, got {got:?}"
    );

    // Every name refused: the subscriber fails once or twice, then waits quietly.
    listener_may_use(&mut admin, &["&c*"]);
    let mut sub3 = PubSub::open(user()).unwrap();
    sub3.subscribe(["c1", "c2"]).unwrap();
    listener_may_use(&mut admin, &["&z*"]);
    let mut errors = 0;
    for _ in 0..10 {
        if sub3
            .next_message_timeout(Some(Duration::from_millis(20)))
            .is_err()
        {
            errors += 1;
        }
    }
    assert!(
        errors <= 2,
        "every name refused: {errors} errors in 10 waits"
    );
    // A name allowed again can be subscribed to afterwards.
    listener_may_use(&mut admin, &["&z*", "&c*"]);
    sub3.subscribe(["c9"]).unwrap();
    let (_, got) = collect_sync(&server, &mut sub3, &["c9"]);
    assert!(got.contains(&"c9".to_owned()), "{got:?}");

    // One name of 1,000 refused.
    listener_may_use(&mut admin, &["&n*", "&bad"]);
    let mut sub4 = PubSub::open(user()).unwrap();
    let names: Vec<String> = (0..1000).map(|i| format!("n{i}")).collect();
    sub4.subscribe(&names).unwrap();
    sub4.subscribe(["bad"]).unwrap();
    listener_may_use(&mut admin, &["&n*"]);
    let (errors, got) = collect_sync(&server, &mut sub4, &["n0"]);
    assert!(errors <= 2, "{errors} errors");
    assert!(got.contains(&"n0".to_owned()), "{got:?}");
    // Every one of the 1,000 is back: the server counts the subscriptions.
    let subs: Vec<resp_conn::Value> = admin
        .query(cmd("PUBSUB").arg("NUMSUB").args(&names))
        .unwrap();
    let counts: Vec<i64> = subs
        .chunks(2)
        .map(|pair| match &pair[1] {
            resp_conn::Value::Integer(n) => *n,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        counts.iter().all(|&n| n == 1),
        "some of the 1,000 were not restored"
    );
}

/// A fake server for the next test: connection 1 confirms `SUBSCRIBE a b c` and
/// closes; connection 2 refuses the restore's `SUBSCRIBE a b c` and `SUBSCRIBE a`
/// (NOPERM), then closes in the middle of the name-by-name retry; connection 3
/// confirms everything and sends a message on `b`. Every other command gets `+PONG`.
fn refusing_then_closing_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate().take(3) {
            let Ok(mut stream) = stream else { return };
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            'conn: while let Ok(got @ 1..) = stream.read(&mut buf) {
                pending.extend_from_slice(&buf[..got]);
                while let Ok(Some((request, used))) = resp_parser::request::parse_request(&pending)
                {
                    let args: Vec<Vec<u8>> = request.args.iter().map(|a| a.to_vec()).collect();
                    pending.drain(..used);
                    if !args[0].eq_ignore_ascii_case(b"SUBSCRIBE") {
                        stream.write_all(b"+PONG\r\n").unwrap();
                        continue;
                    }
                    let names = &args[1..];
                    let confirm = |stream: &mut std::net::TcpStream| {
                        for (i, name) in names.iter().enumerate() {
                            let mut out = b"*3\r\n$9\r\nsubscribe\r\n".to_vec();
                            out.extend_from_slice(format!("${}\r\n", name.len()).as_bytes());
                            out.extend_from_slice(name);
                            out.extend_from_slice(format!("\r\n:{}\r\n", i + 1).as_bytes());
                            stream.write_all(&out).unwrap();
                        }
                    };
                    match n {
                        0 => {
                            confirm(&mut stream);
                            break 'conn;
                        }
                        1 if names.len() > 1 || names[0] == b"a" => {
                            stream.write_all(b"-NOPERM no\r\n").unwrap();
                        }
                        1 => break 'conn,
                        _ => {
                            confirm(&mut stream);
                            stream
                                .write_all(b"*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nhi\r\n")
                                .unwrap();
                        }
                    }
                }
            }
        }
    });
    port
}

/// A connection error in the middle of the name-by-name retry: the refused name is
/// forgotten, and its refusal is still returned (once) when a later restore finishes.
/// (Before: the refusal was dropped with the cut restore, so the caller never learnt
/// that `a` was gone.)
#[test]
fn a_refusal_cut_short_by_a_connection_error_is_still_returned() {
    let port = refusing_then_closing_server();
    let info =
        ConnectionInfo::tcp("127.0.0.1", port).with_read_timeout(Some(Duration::from_secs(5)));
    let mut sub = PubSub::open(info).unwrap();
    sub.subscribe(["a", "b", "c"]).unwrap();
    let mut refusals = 0;
    let mut message = None;
    for _ in 0..6 {
        match sub.next_message_timeout(Some(Duration::from_millis(200))) {
            Ok(Some(m)) => {
                message = Some(m);
                break;
            }
            Ok(None) => {}
            Err(e) if e.server_error().is_some() => refusals += 1,
            Err(_) => {} // the closed sockets
        }
    }
    assert_eq!(
        refusals, 1,
        "the refusal of `a` was returned {refusals} times"
    );
    let m = message.expect("b was not restored");
    assert_eq!(m.channel_str(), Some("b"));
}

/// After an ACL change drops the subscriber, a `subscribe` of an allowed channel
/// subscribes it and reports its own outcome, not the refusal of the revoked channel
/// the restore met; that refusal comes once, from the next wait, and then messages
/// of the new channel and of the pattern that came back arrive.
#[test]
fn a_subscribe_after_a_refused_restore_reports_its_own_outcome() {
    let server = RedisServer::start();
    let mut admin = Connection::open(info(&server)).unwrap();
    listener_may_use(&mut admin, &["&chan1", "&pat*", "&ok2"]);
    let mut sub = PubSub::open(info(&server).with_auth(Some("listener"), "pw")).unwrap();
    sub.subscribe(["chan1"]).unwrap();
    sub.psubscribe(["pat*"]).unwrap();
    listener_may_use(&mut admin, &["&pat*", "&ok2"]);
    let mut subscribed = false;
    for _ in 0..5 {
        match sub.subscribe(["ok2"]) {
            Ok(()) => {
                subscribed = true;
                break;
            }
            Err(e) => assert!(
                e.server_error().is_none(),
                "subscribe(ok2) returned another name's refusal: {e}"
            ),
        }
    }
    assert!(subscribed, "subscribe(ok2) never went through");
    let mut refusals = 0;
    let mut got = std::collections::BTreeSet::new();
    for i in 0..20 {
        publish(&server, "ok2", &format!("m{i}"));
        publish(&server, "pat.x", &format!("m{i}"));
        loop {
            match sub.next_message_timeout(Some(Duration::from_millis(50))) {
                Ok(Some(m)) => {
                    got.insert(m.channel_str().unwrap().to_owned());
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(e.server_error().is_some(), "{e}");
                    refusals += 1;
                }
            }
        }
        if got.len() == 2 {
            break;
        }
    }
    assert_eq!(refusals, 1, "the restore's refusal is returned once");
    assert_eq!(got, ["ok2", "pat.x"].map(String::from).into());
}
