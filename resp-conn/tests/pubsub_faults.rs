//! Pub/sub under faults: timed-out waits (sync) and waits cancelled while the
//! subscriber reconnects and subscribes again (async). No message published while the
//! subscriber is connected is lost, and no subscription is dropped.

use std::collections::BTreeSet;
use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use resp_conn::{Connection, ConnectionInfo, Message, Protocol, PubSub, aio, cmd};
use stdnet_test_support::RedisServer;

fn infos(server: &RedisServer) -> [ConnectionInfo; 2] {
    let base = ConnectionInfo::tcp("127.0.0.1", server.port())
        .with_read_timeout(Some(Duration::from_secs(10)));
    [base.clone(), base.with_protocol(Protocol::Resp3)]
}

/// How long a wait that must see a message may take before the test calls it lost.
const DELIVERY: Duration = Duration::from_secs(5);

#[test]
fn a_timed_out_wait_keeps_the_subscription_and_the_next_message_arrives() {
    let server = RedisServer::start();
    for info in infos(&server) {
        let mut sub = PubSub::open(&info).unwrap();
        sub.subscribe(["news"]).unwrap();
        sub.psubscribe(["alerts.*"]).unwrap();
        let mut publisher = Connection::open(&info).unwrap();
        for i in 0..200 {
            // A short wait, and a zero one (a poll), with nothing to read: no message.
            let wait = if i % 2 == 0 {
                Duration::from_millis(2)
            } else {
                Duration::ZERO
            };
            assert_eq!(
                sub.next_message_timeout(Some(wait)).unwrap(),
                None,
                "{:?} round {i}: nothing was published",
                info.protocol
            );
            // Published between two waits: the subscriber is still subscribed.
            let receivers: i64 = publisher.query(cmd("PUBLISH").arg("news").arg(i)).unwrap();
            assert_eq!(receivers, 1, "{:?} round {i}", info.protocol);
            publisher
                .query::<i64>(cmd("PUBLISH").arg("alerts.disk").arg(i))
                .unwrap();
            let m = sub
                .next_message_timeout(Some(DELIVERY))
                .unwrap()
                .unwrap_or_else(|| panic!("{:?} round {i}: message lost", info.protocol));
            assert_eq!(
                (m.channel_str(), m.payload_str()),
                (Some("news"), Some(i.to_string().as_str()))
            );
            let m = sub
                .next_message_timeout(Some(DELIVERY))
                .unwrap()
                .unwrap_or_else(|| panic!("{:?} round {i}: pattern message lost", info.protocol));
            assert_eq!(m.pattern.as_deref(), Some(&b"alerts.*"[..]));
            assert_eq!(m.payload_str(), Some(i.to_string().as_str()));
        }
        assert_eq!(
            sub.next_message_timeout(Some(Duration::from_millis(20)))
                .unwrap(),
            None,
            "nothing delivered twice"
        );
    }
}

/// A subscriber whose wait times out in the middle of a message keeps the half it
/// has: the next wait completes it. (A fake server on loopback, since a real one
/// sends a message whole.)
#[test]
fn a_wait_that_times_out_in_the_middle_of_a_message_gets_it_whole_next_time() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (rest_now, rest_signal) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(DELIVERY)).unwrap();
        let mut buf = [0u8; 1024];
        // Answer the handshake's PING, then SUBSCRIBE with its confirmation and half
        // a message.
        loop {
            let n = s.read(&mut buf).unwrap();
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            if got.contains("PING") {
                s.write_all(b"+PONG\r\n").unwrap();
            }
            if got.contains("SUBSCRIBE") {
                s.write_all(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
                    .unwrap();
                s.write_all(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhel")
                    .unwrap();
                break;
            }
        }
        // Bounded, so that a subscriber that went elsewhere fails instead of hanging.
        let _ = rest_signal.recv_timeout(DELIVERY);
        let _ = s.write_all(b"lo\r\n");
        // Hold the connection until the subscriber is done with it.
        let _ = s.read(&mut buf);
    });
    let info = ConnectionInfo::tcp("127.0.0.1", port).with_read_timeout(Some(DELIVERY));
    let mut sub = PubSub::open(info).unwrap();
    sub.subscribe(["ch"]).unwrap();
    assert_eq!(
        sub.next_message_timeout(Some(Duration::from_millis(50)))
            .unwrap(),
        None,
        "half a message is no message"
    );
    rest_now.send(()).unwrap();
    let m = sub
        .next_message_timeout(Some(DELIVERY))
        .unwrap()
        .expect("the rest of the message");
    assert_eq!(
        (m.channel_str(), m.payload_str()),
        (Some("ch"), Some("hello"))
    );
    drop(sub);
    server.join().unwrap();
}

/// Runs `fut` until it has returned `Pending` `polls` times, then drops it (returns
/// `None`): a cancellation at an exact await point, independent of timer resolution.
/// A future that stays pending without waking is dropped after `idle`.
async fn cancel_after_polls<F: Future>(polls: usize, idle: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut left = polls;
    let stepped = std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending => {
            left -= 1;
            if left == 0 {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        }
    });
    tokio::time::timeout(idle, stepped).await.ok().flatten()
}

/// Where a message came from: its pattern if it matched one, else its channel.
fn source(m: &Message) -> String {
    let name = m.pattern.as_ref().unwrap_or(&m.channel);
    String::from_utf8_lossy(name).into_owned()
}

/// Publishes to every channel until `sub` has had a message from each source in
/// `expected`; panics if one stays silent for [`DELIVERY`].
async fn assert_all_subscribed(sub: &mut aio::PubSub, info: &ConnectionInfo, expected: &[&str]) {
    let publisher = aio::MultiplexedConnection::open(info).await.unwrap();
    let publishing = tokio::spawn(async move {
        loop {
            for channel in ["a", "b", "c", "p.x", "q.y"] {
                publisher
                    .query::<i64>(cmd("PUBLISH").arg(channel).arg("ping"))
                    .await
                    .unwrap();
            }
            publisher
                .query::<i64>(cmd("SPUBLISH").arg("s").arg("ping"))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + DELIVERY;
    while !expected.is_subset(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sub.next_message()).await {
            Ok(Ok(m)) => {
                seen.insert(source(&m));
            }
            // One error is allowed: the subscriber may find its socket dead first.
            Ok(Err(e)) => assert!(e.is_connection_error(), "{e}"),
            Err(_) => break,
        }
    }
    publishing.abort();
    let missing: Vec<_> = expected.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{:?}: lost subscriptions {missing:?}",
        info.protocol
    );
}

#[tokio::test]
async fn a_wait_cancelled_while_resubscribing_loses_no_channel_or_pattern() {
    let mut server = RedisServer::start();
    let all = ["a", "b", "p.*", "q.*", "s"];
    for info in infos(&server) {
        let mut sub = aio::PubSub::open(&info).await.unwrap();
        sub.subscribe(["a", "b"]).await.unwrap();
        sub.psubscribe(["p.*", "q.*"]).await.unwrap();
        sub.ssubscribe(["s"]).await.unwrap();
        assert_all_subscribed(&mut sub, &info, &all).await;
        for round in 0..3 {
            server.restart();
            // Cancel the wait at every await point of reconnecting and resubscribing
            // in turn: after 1, 2, 3... polls. Once a wait is left idle (everything
            // restored, no message), later ones only cancel an idle read.
            for polls in 1..=16 {
                let outcome =
                    cancel_after_polls(polls, Duration::from_millis(30), sub.next_message()).await;
                if let Some(Ok(m)) = outcome {
                    panic!("round {round}: no message was published, got {m:?}");
                }
            }
            assert_all_subscribed(&mut sub, &info, &all).await;
        }
        // A subscribe dropped before its confirmation still takes effect: the
        // subscriber either has the channel or reconnects with it.
        let _ = cancel_after_polls(1, Duration::from_millis(30), sub.subscribe(["c"])).await;
        assert_all_subscribed(&mut sub, &info, &["a", "b", "c", "p.*", "q.*", "s"]).await;
        sub.unsubscribe(["c"]).await.unwrap();
    }
}
