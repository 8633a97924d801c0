//! Cancellation safety of the async request path, against a real, private redis-server.
//!
//! Every test drops request futures at random points (timeouts of random tiny lengths,
//! a future polled once and dropped, `select!` against a sleep) and checks that every
//! reply that does come back belongs to its own request, and that the request after a
//! cancelled one gets its own reply. The randomness is seeded: a failure names the seed
//! and the step.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use resp_conn::aio::{Connection, MultiplexedConnection, Pool};
use resp_conn::{Cmd, ConnectionInfo, FromFrame, Pipeline, cmd};
use stdnet_test_support::RedisServer;

/// A reply that does not come in this long means the connection is out of step (the
/// old code hung here waiting for a reply that had gone to someone else).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

fn info(server: &RedisServer) -> ConnectionInfo {
    ConnectionInfo::tcp("127.0.0.1", server.port()).with_read_timeout(Some(READ_TIMEOUT))
}

fn rng(seed: u8) -> TestRng {
    TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32])
}

/// How a request's future is dropped before it completes (if it has not completed by
/// then).
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// `tokio::time::timeout` of this many microseconds.
    Timeout(u64),
    /// Polled once, then dropped.
    PollOnce,
    /// `tokio::select!` against a sleep of this many microseconds.
    Select(u64),
    /// Not cut: runs to the end.
    Never,
}

impl Cut {
    fn random(rng: &mut TestRng) -> Cut {
        match rng.random_range(0..10) {
            0..=3 => Cut::Timeout(rng.random_range(0..400)),
            4..=5 => Cut::PollOnce,
            6..=8 => Cut::Select(rng.random_range(0..400)),
            _ => Cut::Never,
        }
    }

    /// Runs `fut` until it completes or this cut drops it (`None`).
    async fn run<T>(self, fut: impl Future<Output = T>) -> Option<T> {
        match self {
            Cut::Timeout(us) => tokio::time::timeout(Duration::from_micros(us), fut)
                .await
                .ok(),
            Cut::PollOnce => {
                let mut fut = pin!(fut);
                poll_fn(|cx| match fut.as_mut().poll(cx) {
                    Poll::Ready(out) => Poll::Ready(Some(out)),
                    Poll::Pending => Poll::Ready(None),
                })
                .await
            }
            Cut::Select(us) => tokio::select! {
                out = fut => Some(out),
                () = tokio::time::sleep(Duration::from_micros(us)) => None,
            },
            Cut::Never => Some(fut.await),
        }
    }
}

/// What the cut request is.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `ECHO <unique>`.
    Echo,
    /// `SET <unique key> <unique value>` before, then the cut `GET <key>`.
    Get,
    /// A pipeline of 50 `ECHO`s of unique values.
    EchoPipeline,
    /// A pipeline of SETs read into `()` (replies skipped, not built).
    DiscardPipeline,
    /// `BLPOP <unique list> 0`, with the job pushed before or by a pusher task after a
    /// random delay.
    Blpop,
}

impl Kind {
    fn random(rng: &mut TestRng) -> Kind {
        match rng.random_range(0..10) {
            0..=2 => Kind::Echo,
            3..=4 => Kind::Get,
            5 => Kind::EchoPipeline,
            6 => Kind::DiscardPipeline,
            _ => Kind::Blpop,
        }
    }
}

/// What [`cut_request`] needs of a connection: the two request calls, on whatever
/// kind of connection.
/// (`Send` futures, so that tasks generic over it can be spawned.)
trait Requests {
    fn query<T: FromFrame + Send>(
        &mut self,
        command: &Cmd,
    ) -> impl Future<Output = resp_conn::Result<T>> + Send;
    fn query_pipeline<T: FromFrame + Send>(
        &mut self,
        pipe: &Pipeline,
    ) -> impl Future<Output = resp_conn::Result<T>> + Send;
}

impl Requests for Connection {
    async fn query<T: FromFrame + Send>(&mut self, command: &Cmd) -> resp_conn::Result<T> {
        Connection::query(self, command).await
    }
    async fn query_pipeline<T: FromFrame + Send>(
        &mut self,
        pipe: &Pipeline,
    ) -> resp_conn::Result<T> {
        Connection::query_pipeline(self, pipe).await
    }
}

/// The pool's shared handles: every request goes to the next one in turn.
impl Requests for Pool {
    async fn query<T: FromFrame + Send>(&mut self, command: &Cmd) -> resp_conn::Result<T> {
        Pool::query(self, command).await
    }
    async fn query_pipeline<T: FromFrame + Send>(
        &mut self,
        pipe: &Pipeline,
    ) -> resp_conn::Result<T> {
        Pool::query_pipeline(self, pipe).await
    }
}

/// Runs one request of a random kind under a random cut on `con` and checks its reply
/// if it completed; `Ok(true)` if it was cut. `helper` sets up keys and pushes jobs.
async fn cut_request(
    rng: &mut TestRng,
    con: &mut impl Requests,
    helper: &MultiplexedConnection,
    tag: &str,
) -> Result<bool, String> {
    let cut = Cut::random(rng);
    let kind = Kind::random(rng);
    let ctx = format!("{tag}: {kind:?} under {cut:?}");
    match kind {
        Kind::Echo => {
            let unique = format!("echo-{tag}");
            let echo = cmd("ECHO").arg(&unique).clone();
            expect(&ctx, cut, con.query::<String>(&echo), unique.clone()).await
        }
        Kind::Get => {
            let (key, value) = (format!("key-{tag}"), format!("value-{tag}"));
            helper
                .query::<()>(cmd("SET").arg(&key).arg(&value))
                .await
                .unwrap();
            let get = cmd("GET").arg(&key).clone();
            expect(&ctx, cut, con.query::<String>(&get), value.clone()).await
        }
        Kind::EchoPipeline => {
            let values: Vec<String> = (0..50).map(|k| format!("pipe-{tag}-{k}")).collect();
            let mut pipe = Pipeline::new();
            for v in &values {
                pipe.cmd("ECHO").arg(v);
            }
            let echoes = con.query_pipeline::<Vec<String>>(&pipe);
            expect(&ctx, cut, echoes, values.clone()).await
        }
        Kind::DiscardPipeline => {
            let mut pipe = Pipeline::new();
            for k in 0..20 {
                pipe.cmd("SET").arg(format!("d-{tag}-{k}")).arg(k);
            }
            expect(&ctx, cut, con.query_pipeline::<()>(&pipe), ()).await
        }
        Kind::Blpop => {
            let (list, job) = (format!("list-{tag}"), format!("job-{tag}"));
            let push = cmd("RPUSH").arg(&list).arg(&job).clone();
            let pusher = if rng.random_bool(0.5) {
                helper.query::<i64>(&push).await.unwrap();
                None
            } else {
                let (helper, delay) = (helper.clone(), rng.random_range(0..1000));
                Some(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(delay)).await;
                    helper.query::<i64>(&push).await.unwrap();
                }))
            };
            let blpop = cmd("BLPOP").arg(&list).arg(0).clone();
            let blpop = con.query::<(String, String)>(&blpop);
            let cancelled = expect(&ctx, cut, blpop, (list.clone(), job.clone())).await;
            if let Some(p) = pusher {
                p.await.unwrap();
            }
            cancelled
        }
    }
}

/// Runs `request` under `cut`: `Ok(true)` if it was cut, `Ok(false)` if it answered
/// `want`, else what went wrong.
async fn expect<T: PartialEq + std::fmt::Debug>(
    ctx: &str,
    cut: Cut,
    request: impl Future<Output = resp_conn::Result<T>>,
    want: T,
) -> Result<bool, String> {
    match cut.run(request).await {
        None => Ok(true),
        Some(Err(e)) => Err(format!("{ctx}: {e}")),
        Some(Ok(got)) if got == want => Ok(false),
        Some(Ok(got)) => Err(format!("{ctx}: got {got:?}, its own reply is {want:?}")),
    }
}

/// The request after a cut one, never cut: its reply must be its own.
async fn checked_echo(con: &mut impl Requests, tag: &str) -> Result<(), String> {
    let unique = format!("check-{tag}");
    let echo = cmd("ECHO").arg(&unique).clone();
    let ctx = format!("{tag}: the request after a cut one");
    expect(&ctx, Cut::Never, con.query::<String>(&echo), unique.clone())
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomly_cancelled_requests_on_a_connection_never_shift_replies() {
    let server = RedisServer::start();
    let helper = MultiplexedConnection::open(info(&server)).await.unwrap();
    let mut con = Connection::open(info(&server)).await.unwrap();
    let seed = 10;
    let mut rng = rng(seed);
    let mut cancelled = 0;
    for i in 0..1000 {
        let tag = format!("seed {seed} step {i}");
        cancelled += cut_request(&mut rng, &mut con, &helper, &tag)
            .await
            .unwrap() as usize;
        checked_echo(&mut con, &tag).await.unwrap();
    }
    // The test only means something if many requests were cut short.
    assert!(
        cancelled >= 200,
        "only {cancelled} of 1000 requests were cut"
    );
}

/// A connection lent by the pool for each request (one checkout per request), given
/// back when the request ends or is cut.
#[derive(Clone)]
struct Lent(Pool);

impl Requests for Lent {
    async fn query<T: FromFrame + Send>(&mut self, command: &Cmd) -> resp_conn::Result<T> {
        self.0.get().await?.query(command).await
    }
    async fn query_pipeline<T: FromFrame + Send>(
        &mut self,
        pipe: &Pipeline,
    ) -> resp_conn::Result<T> {
        self.0.get().await?.query_pipeline(pipe).await
    }
}

/// 1,000 cut requests from 4 tasks at once, each followed by a checked one, on
/// clones of `con`; the seeds are `seed..seed + 4`.
async fn cut_in_four_tasks<R: Requests + Clone + Send + 'static>(
    con: &R,
    helper: &MultiplexedConnection,
    seed: u8,
) {
    let mut tasks = Vec::new();
    for task in 0..4 {
        let (mut con, helper) = (con.clone(), helper.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rng(seed + task);
            let mut cancelled = 0;
            for i in 0..250 {
                let tag = format!("seed {} step {i}", seed + task);
                cancelled += cut_request(&mut rng, &mut con, &helper, &tag)
                    .await
                    .unwrap() as usize;
                checked_echo(&mut con, &tag).await.unwrap();
            }
            cancelled
        }));
    }
    let mut cancelled = 0;
    for t in tasks {
        cancelled += t.await.unwrap();
    }
    assert!(
        cancelled >= 200,
        "only {cancelled} of 1000 requests were cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomly_cancelled_requests_on_pooled_connections_never_shift_replies() {
    let server = RedisServer::start();
    let helper = MultiplexedConnection::open(info(&server)).await.unwrap();
    // Fewer connections than tasks: a connection given back after a cut request is
    // soon lent to another task.
    let pool = Pool::new(info(&server), 2).unwrap();
    cut_in_four_tasks(&Lent(pool), &helper, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomly_cancelled_requests_on_the_pools_shared_handles_never_shift_replies() {
    let server = RedisServer::start();
    let helper = MultiplexedConnection::open(info(&server)).await.unwrap();
    let pool = Pool::builder(info(&server)).multiplexed(2).build().unwrap();
    cut_in_four_tasks(&pool, &helper, 40).await;
    // The shared handles were never closed for it: two connections, plus the helper.
    let clients: String = helper.query(cmd("CLIENT").arg("LIST")).await.unwrap();
    assert_eq!(clients.lines().count(), 3, "{clients}");
}

/// Writes a request of about `len` bytes on `con`: `SET <key> <len bytes>`.
fn big_set(key: &str, len: usize) -> Cmd {
    let value = vec![b'x'; len];
    cmd("SET").arg(key).arg(&value).clone()
}

#[tokio::test]
async fn a_large_set_cancelled_while_writing_leaves_no_half_command() {
    const BIG: usize = 10 << 20;
    let server = RedisServer::builder()
        .arg("--enable-debug-command")
        .arg("yes")
        .start();
    let helper = MultiplexedConnection::open(info(&server)).await.unwrap();
    let mut con = Connection::open(info(&server)).await.unwrap();
    let set = big_set("big", BIG);

    // The server sleeps and reads nothing, so 10 MB cannot all be written (the socket
    // buffers hold a few MB): the timeout cuts the write part-way.
    let sleeper = helper.clone();
    let sleeping =
        tokio::spawn(async move { sleeper.query::<()>(cmd("DEBUG").arg("SLEEP").arg(1)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cut = tokio::time::timeout(Duration::from_millis(200), con.query::<()>(&set)).await;
    assert!(cut.is_err(), "the write was not cut: {cut:?}");
    // The next request is answered as itself, not read by the server as the rest of
    // the 10 MB value.
    let echo: String = con.query(cmd("ECHO").arg("after")).await.unwrap();
    assert_eq!(echo, "after");
    sleeping.await.unwrap().unwrap();
    // The half-written SET was never run.
    let len: i64 = con.query(cmd("STRLEN").arg("big")).await.unwrap();
    assert_eq!(len, 0);

    // And at random points of the write, on a server that reads at full speed.
    let mut rng = rng(30);
    let mut cancelled = 0;
    for i in 0..30 {
        let key = format!("big-{i}");
        let set = big_set(&key, BIG);
        let cut = Duration::from_micros(rng.random_range(0..8000));
        match tokio::time::timeout(cut, con.query::<()>(&set)).await {
            Err(_) => cancelled += 1,
            Ok(done) => done.unwrap(),
        }
        let unique = format!("after-{i}");
        let echo: String = con.query(cmd("ECHO").arg(&unique)).await.unwrap();
        assert_eq!(echo, unique, "step {i}");
        // All of the value or none of it.
        let len: i64 = con.query(cmd("STRLEN").arg(&key)).await.unwrap();
        assert!(
            len == 0 || len == BIG as i64,
            "step {i}: {len} bytes stored"
        );
    }
    assert!(cancelled > 0, "no write was cut");
}

/// The server's count of clients blocked in a command such as BLPOP.
async fn blocked_clients(helper: &MultiplexedConnection) -> usize {
    let info: String = helper.query(cmd("INFO").arg("clients")).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .expect("INFO clients has blocked_clients")
        .trim()
        .parse()
        .unwrap()
}

/// Waits (bounded) until the server has no blocked client, and says whether it got there.
async fn no_client_blocked(helper: &MultiplexedConnection) -> bool {
    for _ in 0..200 {
        if blocked_clients(helper).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_cut_blpop_stops_waiting_on_the_server_and_takes_no_later_job() {
    let server = RedisServer::start();
    let helper = MultiplexedConnection::open(info(&server)).await.unwrap();
    let pool = Pool::new(info(&server), 1).unwrap();
    let mut con = Connection::open(info(&server)).await.unwrap();
    for lent in [false, true] {
        let list = format!("jobs-{lent}");
        let blpop = cmd("BLPOP").arg(&list).arg(0).clone();
        let cut = if lent {
            let mut pooled = pool.get().await.unwrap();
            tokio::time::timeout(
                Duration::from_millis(100),
                pooled.query::<(String, String)>(&blpop),
            )
            .await
        } else {
            tokio::time::timeout(
                Duration::from_millis(100),
                con.query::<(String, String)>(&blpop),
            )
            .await
        };
        assert!(cut.is_err(), "BLPOP returned: {cut:?}");
        // Nothing else is sent on the connection: the cut alone ends the server's wait,
        // so a job pushed now stays in the list instead of going to a caller who left.
        assert!(
            no_client_blocked(&helper).await,
            "the BLPOP still waits (lent: {lent})"
        );
        helper
            .query::<i64>(cmd("RPUSH").arg(&list).arg("job"))
            .await
            .unwrap();
        let left: i64 = helper.query(cmd("LLEN").arg(&list)).await.unwrap();
        assert_eq!(left, 1, "a cut BLPOP took the job (lent: {lent})");
    }
    // Both still work, the pooled one through a new connection.
    let echo: String = con.query(cmd("ECHO").arg("a")).await.unwrap();
    assert_eq!(echo, "a");
    let echo: String = pool
        .get()
        .await
        .unwrap()
        .query(cmd("ECHO").arg("b"))
        .await
        .unwrap();
    assert_eq!(echo, "b");
}
