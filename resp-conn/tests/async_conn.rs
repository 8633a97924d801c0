//! The async connections against a real, private redis-server.

use std::time::{Duration, Instant};

use resp_conn::aio::{Connection, MultiplexedConnection, PubSub};
use resp_conn::{ConnectionInfo, Error, Pipeline, Protocol, Script, cmd};
use stdnet_test_support::RedisServer;

fn info(server: &RedisServer) -> ConnectionInfo {
    ConnectionInfo::tcp("127.0.0.1", server.port()).with_read_timeout(Some(Duration::from_secs(10)))
}

#[tokio::test]
async fn many_tasks_share_one_multiplexed_handle() {
    let server = RedisServer::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let con = MultiplexedConnection::open(info(&server).with_protocol(protocol))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for task in 0..100 {
            let con = con.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    let key = format!("task:{task}:{i}");
                    let value = format!("{task}-{i}");
                    con.query::<()>(cmd("SET").arg(&key).arg(&value))
                        .await
                        .unwrap();
                    let back: String = con.query(cmd("GET").arg(&key)).await.unwrap();
                    assert_eq!(back, value, "a reply went to the wrong caller");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
}

#[tokio::test]
async fn multiplexed_pipelines_stay_together() {
    let server = RedisServer::start();
    let con = MultiplexedConnection::open(info(&server)).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..20i64 {
        let con = con.clone();
        tasks.push(tokio::spawn(async move {
            let mut pipe = Pipeline::new();
            pipe.atomic();
            let key = format!("counter:{task}");
            for _ in 0..10 {
                pipe.cmd("INCRBY").arg(&key).arg(task);
            }
            let values: Vec<i64> = con.query_pipeline(&pipe).await.unwrap();
            assert_eq!(values, (1..=10).map(|i| i * task).collect::<Vec<_>>());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let script = Script::new("return #KEYS + #ARGV");
    let mut pipe = Pipeline::new();
    pipe.invoke_script(script.key("a").arg(1).arg(2));
    let (n,): (i64,) = con.query_pipeline(&pipe).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(con.invoke_script::<i64>(&script.arg(1)).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_that_give_up_never_shift_replies_to_others() {
    let server = RedisServer::start();
    let con = MultiplexedConnection::open(info(&server)).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let con = con.clone();
        tasks.push(tokio::spawn(async move {
            let mut gave_up = 0;
            for i in 0..200u64 {
                let key = format!("giveup:{task}:{i}");
                con.query::<()>(cmd("SET").arg(&key).arg(i)).await.unwrap();
                // Every third read is abandoned after a few microseconds: queued, or
                // written with its reply still owed, or already answered.
                if i % 3 == 0 {
                    let wait = Duration::from_micros((task * 7 + i) % 50);
                    let mut get = cmd("GET");
                    get.arg(&key);
                    if tokio::time::timeout(wait, con.query::<u64>(&get))
                        .await
                        .is_err()
                    {
                        gave_up += 1;
                    }
                }
                let back: u64 = con.query(cmd("GET").arg(&key)).await.unwrap();
                assert_eq!(back, i, "task {task} got another caller's reply");
            }
            gave_up
        }));
    }
    let mut gave_up = 0;
    for t in tasks {
        gave_up += t.await.unwrap();
    }
    // The test only means something if some callers did give up mid-request.
    assert!(gave_up > 0, "no caller gave up");
}

#[tokio::test]
async fn an_empty_pipeline_answers_at_once_and_takes_no_reply() {
    let server = RedisServer::start();
    let con = MultiplexedConnection::open(info(&server)).await.unwrap();
    // Ignored commands give an empty result too, but still expect their replies.
    let mut ignored = Pipeline::new();
    ignored.cmd("SET").arg("k").arg("v").ignore();
    for pipe in [Pipeline::new(), ignored] {
        let values: Vec<String> = con.query_pipeline(&pipe).await.unwrap();
        assert!(values.is_empty());
        // The next caller still gets its own reply, not one swallowed by the pipeline.
        let pong: String = tokio::time::timeout(Duration::from_secs(5), con.query(&cmd("PING")))
            .await
            .expect("PING answered")
            .unwrap();
        assert_eq!(pong, "PONG");
    }
    let single: (String,) = con
        .query_pipeline(Pipeline::new().cmd("GET").arg("k"))
        .await
        .unwrap();
    assert_eq!(single.0, "v");
}

/// How many clients the server has connected, counted by a plain sync connection
/// (which is one of them).
fn connected_clients(server: &RedisServer) -> usize {
    let mut admin = resp_conn::Connection::open(info(server)).unwrap();
    let list: String = admin.query(cmd("CLIENT").arg("LIST")).unwrap();
    list.lines().count()
}

#[test]
fn dropping_the_last_handle_closes_the_connection() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let con = rt
        .block_on(MultiplexedConnection::open(info(&server)))
        .unwrap();
    let copy = con.clone();
    let _: String = rt.block_on(copy.query(&cmd("PING"))).unwrap();
    assert_eq!(connected_clients(&server), 2);
    drop(con);
    // One handle left: the connection stays.
    let _: String = rt.block_on(copy.query(&cmd("PING"))).unwrap();
    assert_eq!(connected_clients(&server), 2);
    drop(copy);
    let deadline = Instant::now() + Duration::from_secs(5);
    while connected_clients(&server) != 1 {
        assert!(Instant::now() < deadline, "the driver kept its socket open");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_handle_whose_runtime_is_gone_fails_at_once() {
    let server = RedisServer::start();
    let first = tokio::runtime::Runtime::new().unwrap();
    let con = first
        .block_on(MultiplexedConnection::open(
            info(&server).with_read_timeout(None),
        ))
        .unwrap();
    // The driver task dies with its runtime.
    drop(first);
    let second = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let result = second.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), con.query::<String>(&cmd("PING"))).await
    });
    assert!(
        matches!(result, Ok(Err(Error::ConnectionClosed))),
        "got {result:?} after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_killed_server_fails_every_caller_then_the_handle_recovers() {
    let mut server = RedisServer::start();
    let con = MultiplexedConnection::open(info(&server)).await.unwrap();
    con.query::<()>(cmd("SET").arg("x").arg(1)).await.unwrap();
    // A burst of callers, each blocked on the server (BLPOP on a multiplexed handle
    // holds up everyone behind it: exactly the stalled state to kill it in).
    let mut tasks = Vec::new();
    let blocker = con.clone();
    tasks.push(tokio::spawn(async move {
        blocker
            .query::<Option<(String, String)>>(cmd("BLPOP").arg("never").arg(8))
            .await
            .map(drop)
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..49 {
        let con = con.clone();
        tasks.push(tokio::spawn(async move {
            con.query::<i64>(cmd("INCR").arg("x")).await.map(drop)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.stop();
    for t in tasks {
        let result = tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("no caller hangs")
            .unwrap();
        let err = result.expect_err("the server died before answering");
        assert!(err.is_connection_error(), "{err}");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // While the server is down, calls fail fast instead of hanging.
    assert!(
        con.query::<String>(&cmd("PING"))
            .await
            .unwrap_err()
            .is_connection_error()
    );
    server.restart();
    // The next request reconnects (after backoff from the failed attempt).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match con.query::<String>(&cmd("PING")).await {
            Ok(pong) => {
                assert_eq!(pong, "PONG");
                break;
            }
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_connection_error(), "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("did not recover: {e}"),
        }
    }
}

#[tokio::test]
async fn blocking_commands_on_a_dedicated_connection() {
    let server = RedisServer::start();
    let mut worker = Connection::open(info(&server)).await.unwrap();
    let shared = MultiplexedConnection::open(info(&server)).await.unwrap();
    let pusher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            // The shared handle is not held up by the worker's BLPOP.
            let started = Instant::now();
            shared.query::<String>(&cmd("PING")).await.unwrap();
            assert!(started.elapsed() < Duration::from_millis(500));
            shared
                .query::<i64>(cmd("RPUSH").arg("jobs").arg("job-1"))
                .await
                .unwrap();
        })
    };
    let job: Option<(String, String)> =
        worker.query(cmd("BLPOP").arg("jobs").arg(5)).await.unwrap();
    assert_eq!(job, Some(("jobs".into(), "job-1".into())));
    pusher.await.unwrap();
}

#[tokio::test]
async fn async_timeouts_fire() {
    let server = RedisServer::start();
    let short = ConnectionInfo::tcp("127.0.0.1", server.port())
        .with_read_timeout(Some(Duration::from_millis(200)));
    let mut con = Connection::open(short.clone()).await.unwrap();
    let err = con
        .query::<Option<String>>(cmd("BLPOP").arg("none").arg(5))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(
        con.query::<String>(&cmd("PING")).await.unwrap(),
        "PONG",
        "reconnected"
    );
    let mux = MultiplexedConnection::open(short).await.unwrap();
    let err = mux
        .query::<Option<String>>(cmd("BLPOP").arg("none").arg(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
}

#[tokio::test]
async fn async_pubsub_resumes_after_restart() {
    let mut server = RedisServer::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut sub = PubSub::open(info(&server).with_protocol(protocol))
            .await
            .unwrap();
        sub.subscribe(["events"]).await.unwrap();
        let publisher = MultiplexedConnection::open(info(&server)).await.unwrap();
        publisher
            .query::<i64>(cmd("PUBLISH").arg("events").arg("first"))
            .await
            .unwrap();
        assert_eq!(
            sub.next_message().await.unwrap().payload_str(),
            Some("first")
        );
        server.stop();
        assert!(sub.next_message().await.is_err());
        server.restart();
        let publishing = tokio::spawn({
            let info = info(&server);
            async move {
                let p = MultiplexedConnection::open(info).await.unwrap();
                loop {
                    if p.query::<i64>(cmd("PUBLISH").arg("events").arg("again"))
                        .await
                        .unwrap()
                        > 0
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        let msg = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match sub.next_message().await {
                    Ok(m) => return m,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        })
        .await
        .expect("resubscribed");
        assert_eq!(msg.payload_str(), Some("again"));
        publishing.await.unwrap();
    }
}

#[tokio::test]
async fn a_pool_lends_dedicated_connections_for_blocking_commands() {
    let server = RedisServer::start();
    let pool = resp_conn::aio::Pool::new(info(&server), 4).unwrap();
    let mux = MultiplexedConnection::open(info(&server)).await.unwrap();
    // Four consumers block at once, each on its own pooled connection.
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let pool = pool.clone();
        consumers.push(tokio::spawn(async move {
            let mut con = pool.get().await.unwrap();
            let (_, job): (String, String) =
                con.query(cmd("BLPOP").arg("queue").arg(5)).await.unwrap();
            job
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..4 {
        mux.query::<i64>(cmd("RPUSH").arg("queue").arg(format!("job{i}")))
            .await
            .unwrap();
    }
    let mut jobs = Vec::new();
    for c in consumers {
        jobs.push(c.await.unwrap());
    }
    jobs.sort();
    assert_eq!(jobs, ["job0", "job1", "job2", "job3"]);
    // The connections went back and are reused rather than reopened.
    let clients_before: String = mux.query(cmd("CLIENT").arg("LIST")).await.unwrap();
    for _ in 0..10 {
        let mut con = pool.get().await.unwrap();
        con.query::<String>(&cmd("PING")).await.unwrap();
    }
    let clients_after: String = mux.query(cmd("CLIENT").arg("LIST")).await.unwrap();
    assert_eq!(
        clients_before.lines().count(),
        clients_after.lines().count()
    );
}

#[tokio::test]
async fn a_pipeline_read_into_unit_on_the_async_connection_keeps_errors_and_pushes() {
    // The async connection's `query_pipeline::<()>` parses replies without building
    // them, like the blocking one: an ignored command's error still fails the call
    // (after every reply is read), large replies go through, pushes are set aside.
    let server = RedisServer::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut con = Connection::open(info(&server).with_protocol(protocol))
            .await
            .unwrap();
        con.query::<()>(&cmd("FLUSHALL")).await.unwrap();
        let mut pipe = Pipeline::new();
        pipe.cmd("SET").arg("s").arg("text");
        pipe.cmd("INCR").arg("s").ignore();
        pipe.cmd("SET").arg("after").arg(1);
        let err = con.query_pipeline::<()>(&pipe).await.unwrap_err();
        assert!(matches!(err, Error::Server(_)), "{err:?}");
        let after: i64 = con.query(cmd("GET").arg("after")).await.unwrap();
        assert_eq!(after, 1);

        let big = vec![b'x'; 1 << 20];
        con.query::<()>(cmd("SET").arg("big").arg(&big[..]))
            .await
            .unwrap();
        let mut pipe = Pipeline::new();
        for _ in 0..3 {
            pipe.cmd("GET").arg("big");
            pipe.cmd("INCR").arg("n");
        }
        con.query_pipeline::<()>(&pipe).await.unwrap();
        let n: i64 = con.query(cmd("GET").arg("n")).await.unwrap();
        assert_eq!(n, 3);
    }

    let mut con = Connection::open(info(&server).with_protocol(Protocol::Resp3))
        .await
        .unwrap();
    con.query::<()>(cmd("CLIENT").arg("TRACKING").arg("on"))
        .await
        .unwrap();
    let mut pipe = Pipeline::new();
    pipe.cmd("GET").arg("tracked");
    pipe.cmd("SET").arg("tracked").arg(1);
    pipe.cmd("INCR").arg("tracked");
    con.query_pipeline::<()>(&pipe).await.unwrap();
    let tracked: i64 = con.query(cmd("GET").arg("tracked")).await.unwrap();
    assert_eq!(tracked, 2);
    assert!(
        !con.take_pushes().is_empty(),
        "the invalidation push is kept aside"
    );
}
