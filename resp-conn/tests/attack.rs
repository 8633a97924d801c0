//! An outside attack on the promises resp-conn's docs make: cancellation at every poll,
//! on every front and for every request kind; a paused, killed and restarted server;
//! pooled connections returned dirty, exhausted, dropped; pub/sub waits with odd
//! timeouts, messages split over reads, subscriptions refused by the server; opens
//! against servers that trickle, close, do not exist; and secrets in every `Debug`,
//! `Display` and error text.
//!
//! Every test talks to a private redis-server or to a fake server in the test. Loops are
//! bounded; times are only upper bounds ("fails within 5x the timeout").

use std::collections::BTreeSet;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use resp_conn::aio::{self, MultiplexedConnection, Pool};
use resp_conn::{
    Cmd, Connection, ConnectionInfo, Error, Pipeline, Protocol, PubSub, Script, Value, cmd,
};
use stdnet_test_support::RedisServer;

mod common;
use common::listener_may_use;

/// A reply that does not come in this long means the connection is out of step.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

fn info(server: &RedisServer) -> ConnectionInfo {
    ConnectionInfo::tcp("127.0.0.1", server.port()).with_read_timeout(Some(READ_TIMEOUT))
}

// ---------------------------------------------------------------------------------
// Cancellation at every poll count
// ---------------------------------------------------------------------------------

/// Polls `fut` `polls` times with a waker that does nothing, letting the runtime run
/// (its I/O driver included) between polls, then drops it: a cut at an exact poll,
/// independent of timers. `Some` if it finished first.
async fn cut_after_polls<F: Future>(polls: usize, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    for _ in 0..polls {
        // A fresh context per poll: a `Context` is not `Send`, and must not live
        // across the await below.
        let polled = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        if let Poll::Ready(out) = polled {
            return Some(out);
        }
        tokio::task::yield_now().await;
    }
    None
}

/// The request kinds every front offers.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Query,
    Request,
    Pipeline,
    Atomic,
    Discard,
    Script,
}

const KINDS: [Kind; 6] = [
    Kind::Query,
    Kind::Request,
    Kind::Pipeline,
    Kind::Atomic,
    Kind::Discard,
    Kind::Script,
];

/// Echoes its argument; flushed before each cut call so that the call takes the
/// `NOSCRIPT` fallback (EVALSHA, SCRIPT LOAD, EVALSHA) and may be cut inside it.
fn echo_script() -> Script {
    Script::new("return ARGV[1]")
}

fn echo(tag: &str) -> Cmd {
    let mut c = cmd("ECHO");
    c.arg(tag);
    c
}

/// What the four fronts share, so that one attack runs on each.
trait Front {
    async fn f_request(&mut self, c: &Cmd) -> resp_conn::Result<Value>;
    async fn f_query_string(&mut self, c: &Cmd) -> resp_conn::Result<String>;
    async fn f_pipeline_strings(&mut self, p: &Pipeline) -> resp_conn::Result<Vec<String>>;
    async fn f_atomic(&mut self, p: &Pipeline) -> resp_conn::Result<(String, i64)>;
    async fn f_discard(&mut self, p: &Pipeline) -> resp_conn::Result<()>;
    async fn f_script(&mut self, tag: &str) -> resp_conn::Result<String>;
}

macro_rules! front_by_ref {
    ($ty:ty, $this:ident => $con:expr) => {
        impl Front for $ty {
            async fn f_request(&mut self, c: &Cmd) -> resp_conn::Result<Value> {
                let $this = self;
                $con.request(c).await
            }
            async fn f_query_string(&mut self, c: &Cmd) -> resp_conn::Result<String> {
                let $this = self;
                $con.query(c).await
            }
            async fn f_pipeline_strings(&mut self, p: &Pipeline) -> resp_conn::Result<Vec<String>> {
                let $this = self;
                $con.query_pipeline(p).await
            }
            async fn f_atomic(&mut self, p: &Pipeline) -> resp_conn::Result<(String, i64)> {
                let $this = self;
                $con.query_pipeline(p).await
            }
            async fn f_discard(&mut self, p: &Pipeline) -> resp_conn::Result<()> {
                let $this = self;
                $con.query_pipeline(p).await
            }
            async fn f_script(&mut self, tag: &str) -> resp_conn::Result<String> {
                let $this = self;
                let script = echo_script();
                $con.invoke_script(&script.arg(tag)).await
            }
        }
    };
}

front_by_ref!(aio::Connection, this => this);
front_by_ref!(MultiplexedConnection, this => this);
front_by_ref!(Pool, this => this);

/// A pool's exclusive path: every call borrows a connection with `get` and gives it
/// back, so a cut lands in `get` or in the request on the lent connection.
struct Lent(Pool);

front_by_ref!(Lent, this => this.0.get().await?);

/// Runs one request of `kind` tagged `tag` to its end and checks that its reply is its
/// own.
async fn checked(front: &mut impl Front, kind: Kind, tag: &str) -> Result<(), String> {
    let mine = |got: &str, want: &str| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{kind:?} {want:?} got {got:?}"))
        }
    };
    let fail = |e: Error| format!("{kind:?} {tag}: {e}");
    match kind {
        Kind::Query => mine(&front.f_query_string(&echo(tag)).await.map_err(fail)?, tag),
        Kind::Request => {
            let reply = front.f_request(&echo(tag)).await.map_err(fail)?;
            let got = reply
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            mine(got.as_deref().unwrap_or("<not a string>"), tag)
        }
        Kind::Pipeline => {
            let mut p = Pipeline::new();
            p.add(&echo(&format!("{tag}-1")));
            p.add(&echo(&format!("{tag}-2")));
            let got = front.f_pipeline_strings(&p).await.map_err(fail)?;
            mine(&got.join(","), &format!("{tag}-1,{tag}-2"))
        }
        Kind::Atomic => {
            let mut p = Pipeline::new();
            p.atomic();
            p.add(&echo(tag));
            p.cmd("INCR").arg("attack:counter");
            let (got, _) = front.f_atomic(&p).await.map_err(fail)?;
            mine(&got, tag)
        }
        Kind::Discard => {
            let mut p = Pipeline::new();
            p.cmd("SET").arg("attack:discard").arg(tag).ignore();
            p.add(&echo(tag));
            front.f_discard(&p).await.map_err(fail)
        }
        Kind::Script => mine(&front.f_script(tag).await.map_err(fail)?, tag),
    }
}

/// Cuts every request kind after 1, 2, ... `max_polls` polls on `front`, each cut
/// followed by one request of every kind run to its end, which must get its own reply.
/// The script cache is flushed before each cut, so that scripts are cut in their
/// `NOSCRIPT` fallback too.
async fn cut_everywhere(
    name: &str,
    front: &mut impl Front,
    admin: &MultiplexedConnection,
    max_polls: usize,
) {
    let mut completed = 0;
    for polls in 1..=max_polls {
        for kind in KINDS {
            admin.query::<()>(cmd("SCRIPT").arg("FLUSH")).await.unwrap();
            let tag = format!("{name}-{polls}-{kind:?}");
            let cut = cut_after_polls(polls, checked(front, kind, &tag)).await;
            if let Some(done) = cut {
                // Finished before the cut: it must still be its own reply.
                done.unwrap_or_else(|e| panic!("{name}: uncut {e}"));
                completed += 1;
            }
            for after in KINDS {
                let tag = format!("{name}-{polls}-{kind:?}-then-{after:?}");
                checked(front, after, &tag)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: after a cut of {kind:?} at {polls}: {e}"));
            }
        }
    }
    // Some cuts must land before the end, or the attack attacked nothing.
    assert!(
        completed < max_polls * KINDS.len(),
        "{name}: no request was ever cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_kind_cut_at_every_poll_count_on_every_front_keeps_replies_in_step() {
    let server = RedisServer::start();
    let info = info(&server);
    let admin = MultiplexedConnection::open(&info).await.unwrap();
    let polls = 24;

    let mut con = aio::Connection::open(&info).await.unwrap();
    cut_everywhere("connection", &mut con, &admin, polls).await;

    // The multiplexed handle, with other tasks checking their own replies on it all
    // the while: a shift would show in theirs too.
    let mut mux = MultiplexedConnection::open(&info).await.unwrap();
    let bystanders: Vec<_> = (0..2)
        .map(|t| {
            let mut mux = mux.clone();
            tokio::spawn(async move {
                for i in 0..300 {
                    // No scripts: the SCRIPT FLUSH before each cut could come between
                    // a bystander's SCRIPT LOAD and its retry.
                    let kind = KINDS[i % (KINDS.len() - 1)];
                    checked(&mut mux, kind, &format!("bystander-{t}-{i}")).await?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    cut_everywhere("multiplexed", &mut mux, &admin, polls).await;
    for b in bystanders {
        b.await.unwrap().unwrap();
    }

    let mut pool = Pool::builder(&info)
        .multiplexed(2)
        .exclusive(2)
        .build()
        .unwrap();
    cut_everywhere("pool-shared", &mut pool, &admin, polls).await;
    let mut lent = Lent(Pool::new(&info, 2).unwrap());
    cut_everywhere("pool-get", &mut lent, &admin, polls).await;
}

/// A transaction built by hand on a lent connection (MULTI, commands, EXEC as separate
/// requests) and cut anywhere leaves no open MULTI to the next borrower: the cut
/// closes the connection, and the pool lets it go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_built_transaction_cut_anywhere_leaves_no_multi_to_the_next_borrower() {
    let server = RedisServer::start();
    let pool = Pool::new(info(&server), 1).unwrap();
    for polls in 1..=30 {
        let run = async {
            let mut con = pool.get().await?;
            con.query::<()>(&cmd("MULTI")).await?;
            con.query::<String>(cmd("INCR").arg("attack:tx")).await?;
            con.query::<Vec<i64>>(&cmd("EXEC")).await
        };
        if let Some(done) = cut_after_polls(polls, run).await {
            done.unwrap();
        }
        let mut next = pool.get().await.unwrap();
        // In a MULTI left open, PING would be answered QUEUED.
        let pong: String = next.query(&cmd("PING")).await.unwrap();
        assert_eq!(pong, "PONG", "after a cut at poll {polls}");
    }
}

/// Requests cut while the server is paused (`CLIENT PAUSE`): the replies come after
/// the pause, to requests that are gone; none reaches a later request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cut_while_the_server_is_paused_never_shift_replies() {
    let server = RedisServer::start();
    let info = info(&server);
    let admin = MultiplexedConnection::open(&info).await.unwrap();
    let mut con = aio::Connection::open(&info).await.unwrap();
    let mut mux = MultiplexedConnection::open(&info).await.unwrap();
    let mut pool = Pool::builder(&info)
        .multiplexed(1)
        .exclusive(1)
        .build()
        .unwrap();
    let mut lent = Lent(Pool::new(&info, 1).unwrap());
    // Open everything before the pause.
    checked(&mut con, Kind::Query, "warm").await.unwrap();
    checked(&mut pool, Kind::Query, "warm").await.unwrap();
    checked(&mut lent, Kind::Query, "warm").await.unwrap();
    for round in 0..3 {
        admin
            .query::<()>(cmd("CLIENT").arg("PAUSE").arg(150).arg("ALL"))
            .await
            .unwrap();
        for kind in KINDS {
            let tag = |front: &str| format!("paused-{round}-{front}-{kind:?}");
            let cut = Duration::from_millis(5);
            let _ = tokio::time::timeout(cut, checked(&mut con, kind, &tag("con"))).await;
            let _ = tokio::time::timeout(cut, checked(&mut mux, kind, &tag("mux"))).await;
            let _ = tokio::time::timeout(cut, checked(&mut pool, kind, &tag("pool"))).await;
            let _ = tokio::time::timeout(cut, checked(&mut lent, kind, &tag("lent"))).await;
        }
        for kind in KINDS {
            let tag = |front: &str| format!("after-{round}-{front}-{kind:?}");
            checked(&mut con, kind, &tag("con")).await.unwrap();
            checked(&mut mux, kind, &tag("mux")).await.unwrap();
            checked(&mut pool, kind, &tag("pool")).await.unwrap();
            checked(&mut lent, kind, &tag("lent")).await.unwrap();
        }
    }
}

/// Many tasks push their own tag on a multiplexed handle, a third of them cut at a
/// random poll: every push acknowledged is in the list, exactly once, and no tag is
/// there twice (a cut request is sent at most once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_never_lost_or_doubled_by_cuts() {
    let server = RedisServer::start();
    let info = info(&server);
    let mux = MultiplexedConnection::open(&info).await.unwrap();
    let pool = Pool::new(&info, 4).unwrap();
    let tasks: Vec<_> = (0..300usize)
        .map(|i| {
            let (mux, pool) = (mux.clone(), pool.clone());
            tokio::spawn(async move {
                let tag = format!("w{i}");
                let push = cmd("RPUSH").arg("attack:list").arg(&tag).clone();
                let polls = if i % 3 == 0 { 1 + i % 7 } else { 1_000_000 };
                let acked = match i % 3 {
                    0 | 1 => cut_after_polls(polls, mux.query::<i64>(&push)).await,
                    _ => {
                        cut_after_polls(polls, async {
                            let mut con = pool.get().await?;
                            con.query::<i64>(&push).await
                        })
                        .await
                    }
                };
                (tag, acked.map(|r| r.unwrap()).is_some())
            })
        })
        .collect();
    let mut acked = BTreeSet::new();
    for t in tasks {
        let (tag, ok) = t.await.unwrap();
        if ok {
            acked.insert(tag);
        }
    }
    let list: Vec<String> = mux
        .query(cmd("LRANGE").arg("attack:list").arg(0).arg(-1))
        .await
        .unwrap();
    let unique: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(unique.len(), list.len(), "a push ran twice: {list:?}");
    let lost: Vec<_> = acked.difference(&unique).collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
}

/// The server killed under requests on every front: every request either gets its own
/// reply or an error; once the server is back, every front serves again (the pool's
/// idle connections, opened before the kill, included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_requests_fails_them_and_every_front_recovers() {
    let mut server = RedisServer::start();
    let info = info(&server);
    let mut con = aio::Connection::open(&info).await.unwrap();
    let mux = MultiplexedConnection::open(&info).await.unwrap();
    let pool = Pool::new(&info, 2).unwrap();
    checked(&mut Lent(pool.clone()), Kind::Query, "warm")
        .await
        .unwrap();
    let load: Vec<_> = (0..4)
        .map(|t| {
            let mut mux = mux.clone();
            let mut pool = pool.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    let kind = KINDS[i % KINDS.len()];
                    let tag = format!("load-{t}-{i}");
                    let result = match t % 2 {
                        0 => checked(&mut mux, kind, &tag).await,
                        _ => checked(&mut pool, kind, &tag).await,
                    };
                    // An error is fine while the server is away; another's reply is not.
                    if let Err(e) = result {
                        assert!(!e.contains(" got "), "{e}");
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _server = tokio::task::spawn_blocking(move || {
        server.stop();
        server.restart();
        server
    })
    .await
    .unwrap();
    for l in load {
        l.abort();
        if let Err(e) = l.await {
            assert!(!e.is_panic(), "a request got another's reply: {e}");
        }
    }
    // The first request on a connection the server dropped may fail; the next must
    // not (a bounded number of tries for the multiplexed handle's backoff).
    let _ = checked(&mut con, Kind::Query, "after-kill").await;
    checked(&mut con, Kind::Query, "after-kill-2")
        .await
        .unwrap();
    let mut mux = mux;
    let mut served = false;
    for i in 0..20 {
        if checked(&mut mux, Kind::Query, &format!("mux-back-{i}"))
            .await
            .is_ok()
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the multiplexed handle never came back");
}

// ---------------------------------------------------------------------------------
// The pool
// ---------------------------------------------------------------------------------

/// A dedicated connection left idle in the pool while the server restarts is not lent
/// out dead: the borrower's first request succeeds. (The pool docs promise an idle
/// connection is "open and in step"; a multiplexed handle, whose driver notices the
/// close, already recovers without failing a request.)
#[tokio::test]
async fn a_connection_idle_in_the_pool_across_a_restart_serves_its_next_borrower() {
    let mut server = RedisServer::start();
    let pool = Pool::new(info(&server), 2).unwrap();
    {
        let (mut a, mut b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        let _: String = a.query(&cmd("PING")).await.unwrap();
        let _: String = b.query(&cmd("PING")).await.unwrap();
    }
    let server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();
    for round in 0..2 {
        let mut con = pool.get().await.unwrap();
        let pong: String = con
            .query(&cmd("PING"))
            .await
            .unwrap_or_else(|e| panic!("borrow {round} after the restart: {e}"));
        assert_eq!(pong, "PONG");
        drop(con);
    }
    drop(server);
}

/// `get` waits while every dedicated connection is lent (no error, no extra
/// connection), a `get` cancelled while it waits takes nothing, and a connection given
/// back ends the wait.
#[tokio::test]
async fn an_exhausted_pool_makes_get_wait_and_a_cancelled_wait_takes_nothing() {
    let server = RedisServer::start();
    let pool = Pool::new(info(&server), 2).unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    assert!(
        format!("{pool:?}").contains("exclusive_available: 0"),
        "{pool:?}"
    );
    for _ in 0..5 {
        assert!(
            tokio::time::timeout(Duration::from_millis(20), pool.get())
                .await
                .is_err(),
            "a third connection was lent"
        );
    }
    assert!(
        format!("{pool:?}").contains("exclusive_available: 0"),
        "{pool:?}"
    );
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut con = pool.get().await.unwrap();
            con.query::<String>(&cmd("PING")).await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    drop(a);
    let pong = tokio::time::timeout(READ_TIMEOUT, waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pong, "PONG");
    drop(b);
    assert!(
        format!("{pool:?}").contains("exclusive_available: 2"),
        "{pool:?}"
    );
}

/// The docs say a lent connection comes back in whatever state commands left it, and
/// that `discard` is the way out: a discarded connection's state never reaches the
/// next borrower, and its place is freed.
#[tokio::test]
async fn a_discarded_dirty_connection_leaves_nothing_to_the_next_borrower() {
    let server = RedisServer::start();
    let pool = Pool::new(info(&server), 1).unwrap();
    let admin = MultiplexedConnection::open(info(&server)).await.unwrap();
    admin
        .query::<()>(cmd("SET").arg("attack:db0").arg("zero"))
        .await
        .unwrap();
    {
        let mut con = pool.get().await.unwrap();
        con.query::<()>(cmd("SELECT").arg(5)).await.unwrap();
        con.query::<()>(cmd("CLIENT").arg("SETNAME").arg("dirty"))
            .await
            .unwrap();
        con.query::<()>(cmd("WATCH").arg("attack:db0"))
            .await
            .unwrap();
        con.query::<()>(&cmd("MULTI")).await.unwrap();
        con.discard();
    }
    let mut con = pool.get().await.unwrap();
    let got: Option<String> = con.query(cmd("GET").arg("attack:db0")).await.unwrap();
    assert_eq!(
        got.as_deref(),
        Some("zero"),
        "the SELECT 5 reached the next borrower"
    );
    let name: Option<String> = con.query(cmd("CLIENT").arg("GETNAME")).await.unwrap();
    assert_eq!(name, None);
}

/// A lent connection given back with state on its session (subscribed, inside
/// `MULTI`, `CLIENT TRACKING` on, another database) would answer the next borrower
/// with frames that are not its replies: a pub/sub message, `QUEUED`, an
/// invalidation, another database's data. The pool lets such a connection go; a
/// WATCH transaction that ends keeps its connection (same client id).
#[tokio::test]
async fn a_connection_given_back_with_session_state_never_answers_the_next_borrower() {
    let server = RedisServer::start();
    let pool = Pool::new(info(&server), 1).unwrap();
    let admin = MultiplexedConnection::open(info(&server)).await.unwrap();
    let client_id = async |pool: &Pool| -> i64 {
        let mut con = pool.get().await.unwrap();
        con.query(cmd("CLIENT").arg("ID")).await.unwrap()
    };
    let _: () = admin
        .query(cmd("SET").arg("attack:db0").arg("zero"))
        .await
        .unwrap();
    let dirty: [&[&str]; 5] = [
        &["SUBSCRIBE", "attack:leak"],
        &["MULTI"],
        &["CLIENT", "TRACKING", "on"],
        &["SELECT", "3"],
        &["WATCH", "attack:w"],
    ];
    for args in dirty {
        let before = client_id(&pool).await;
        {
            let mut con = pool.get().await.unwrap();
            let mut c = cmd(args[0]);
            c.args(&args[1..]);
            let _ = con.request(&c).await.unwrap();
            if args[0] == "CLIENT" {
                // Read a key, so that changing it sends this connection an invalidation.
                let _ = con.request(cmd("GET").arg("attack:tracked")).await.unwrap();
            }
        }
        let _: i64 = admin
            .query(
                cmd("PUBLISH")
                    .arg("attack:leak")
                    .arg("for the first borrower"),
            )
            .await
            .unwrap();
        let _: () = admin
            .query(cmd("SET").arg("attack:tracked").arg("changed"))
            .await
            .unwrap();
        let mut con = pool.get().await.unwrap();
        let got = con.request(&echo("mine")).await;
        assert!(
            matches!(&got, Ok(v) if v.as_bytes() == Some(b"mine".as_slice())),
            "after {args:?} the next borrower's ECHO got {got:?}"
        );
        let db: Option<String> = con.query(cmd("GET").arg("attack:db0")).await.unwrap();
        assert_eq!(db.as_deref(), Some("zero"), "after {args:?}: database 0");
        let id: i64 = con.query(cmd("CLIENT").arg("ID")).await.unwrap();
        assert_ne!(id, before, "after {args:?} the connection was let go");
    }
    // A WATCH transaction that runs to EXEC leaves nothing: the connection is kept.
    let before = client_id(&pool).await;
    {
        let mut con = pool.get().await.unwrap();
        let _ = con.request(cmd("WATCH").arg("attack:w")).await.unwrap();
        let mut tx = resp_conn::Pipeline::new();
        tx.cmd("MULTI");
        tx.cmd("INCR").arg("attack:w");
        tx.cmd("EXEC");
        let _ = con.request_pipeline(&tx).await.unwrap();
    }
    assert_eq!(
        client_id(&pool).await,
        before,
        "an ended transaction keeps its connection"
    );
}

/// Dropping every handle of a pool while its requests run: the requests finish (they
/// hold the pool) or are dropped with their tasks, and the pool's connections close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_pool_while_requests_run_closes_its_connections() {
    let server = RedisServer::start();
    let info = info(&server);
    let admin = MultiplexedConnection::open(&info).await.unwrap();
    let clients = async || -> usize {
        let list: String = admin.query(cmd("CLIENT").arg("LIST")).await.unwrap();
        list.lines().count()
    };
    let baseline = clients().await;
    let pool = Pool::new(&info, 3).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let mut pool = pool.clone();
            tokio::spawn(async move {
                for i in 0..1000 {
                    let kind = KINDS[i % KINDS.len()];
                    if t % 2 == 0 {
                        checked(&mut pool, kind, &format!("drop-{t}-{i}"))
                            .await
                            .unwrap();
                    } else {
                        let mut lent = Lent(pool.clone());
                        checked(&mut lent, kind, &format!("drop-{t}-{i}"))
                            .await
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(pool);
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut closed = false;
    for _ in 0..100 {
        if clients().await <= baseline {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "{} clients left", clients().await - baseline);
}

// ---------------------------------------------------------------------------------
// Pub/sub
// ---------------------------------------------------------------------------------

fn publish(server: &RedisServer, channel: &str, payload: &str) -> i64 {
    let mut con = Connection::open(info(server)).unwrap();
    con.query(cmd("PUBLISH").arg(channel).arg(payload)).unwrap()
}

/// Zero, tiny, ordinary and huge waits: none panics, a zero or tiny wait with nothing
/// there is `None` and keeps the subscription, and each returns a message that is
/// there. (`Duration::MAX` panicked: `Instant + Duration::MAX` overflows.)
#[test]
fn sync_waits_of_any_length_keep_the_subscription_and_never_panic() {
    let server = RedisServer::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut sub = PubSub::open(info(&server).with_protocol(protocol)).unwrap();
        sub.subscribe(["ch"]).unwrap();
        let waits = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_micros(1),
            Duration::from_millis(1),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ];
        for (i, wait) in waits.into_iter().enumerate() {
            if wait < Duration::from_millis(10) {
                assert_eq!(sub.next_message_timeout(Some(wait)).unwrap(), None);
            }
            let payload = format!("{protocol:?}-{i}");
            assert_eq!(publish(&server, "ch", &payload), 1, "still subscribed");
            // A zero or tiny wait may come before the message: bounded retries.
            let mut got = None;
            for _ in 0..2000 {
                got = sub.next_message_timeout(Some(wait)).unwrap();
                if got.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            let m = got.unwrap_or_else(|| panic!("{wait:?}: the message never came"));
            assert_eq!(m.payload_str(), Some(payload.as_str()), "{wait:?}");
        }
    }
}

/// A huge connect timeout is "no limit worth counting", not a panic.
#[test]
fn a_huge_connect_timeout_opens_and_never_panics() {
    let server = RedisServer::start();
    for timeout in [Duration::MAX, Duration::from_secs(u64::MAX)] {
        let info = info(&server).with_connect_timeout(Some(timeout));
        let mut con = Connection::open(&info).unwrap();
        let pong: String = con.query(&cmd("PING")).unwrap();
        assert_eq!(pong, "PONG");
        let mut sub = PubSub::open(&info).unwrap();
        sub.subscribe(["x"]).unwrap();
    }
}

/// Reads from `s` until what was read contains `needle` (bounded by the socket's
/// timeout).
fn read_until(s: &mut TcpStream, needle: &[u8]) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// A fake server that answers the open's PING, confirms one SUBSCRIBE and then sends
/// `messages` one byte per write.
fn trickling_pubsub_server(messages: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        assert!(read_until(&mut s, b"PING\r\n"));
        s.write_all(b"+PONG\r\n").unwrap();
        assert!(read_until(&mut s, b"ch\r\n"));
        s.write_all(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
            .unwrap();
        for m in messages {
            for byte in m {
                if s.write_all(&[byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_micros(300));
            }
        }
        // Hold the connection until the subscriber is done with it.
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
    });
    (port, handle)
}

/// Messages that arrive one byte per TCP read, waited for with zero and tiny
/// timeouts in turn: each is delivered whole, once, in order.
#[test]
fn messages_split_over_many_reads_arrive_whole_with_zero_and_tiny_waits() {
    let messages: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let payload = format!("payload-{i}-{}", "x".repeat(i * 10));
            format!(
                "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n${}\r\n{payload}\r\n",
                payload.len()
            )
            .into_bytes()
        })
        .collect();
    let (port, server) = trickling_pubsub_server(messages);
    let mut sub = PubSub::open(ConnectionInfo::tcp("127.0.0.1", port)).unwrap();
    sub.subscribe(["ch"]).unwrap();
    let mut got = Vec::new();
    for i in 0..50_000 {
        if got.len() == 3 {
            break;
        }
        let wait = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_micros(50),
        ][i % 3];
        if let Some(m) = sub.next_message_timeout(Some(wait)).unwrap() {
            got.push(m.payload_str().unwrap().to_owned());
        }
    }
    let want: Vec<String> = (0..3)
        .map(|i| format!("payload-{i}-{}", "x".repeat(i * 10)))
        .collect();
    assert_eq!(got, want);
    drop(sub);
    server.join().unwrap();
}

/// Messages published while a subscriber subscribes to 2,000 channels at once arrive
/// between the confirmations: every one published after the first channel was
/// confirmed is delivered, in order, none twice.
#[test]
fn messages_during_a_large_subscribe_are_kept_in_order() {
    let server = RedisServer::start();
    let mut sub = PubSub::open(info(&server)).unwrap();
    sub.subscribe(["hot"]).unwrap();
    let port = server.port();
    let publisher = std::thread::spawn(move || {
        let mut con = Connection::open(ConnectionInfo::tcp("127.0.0.1", port)).unwrap();
        for i in 0..400 {
            let _: i64 = con.query(cmd("PUBLISH").arg("hot").arg(i)).unwrap();
        }
    });
    let many: Vec<String> = (0..2000).map(|i| format!("cold-{i}")).collect();
    sub.subscribe(&many).unwrap();
    publisher.join().unwrap();
    let mut got = Vec::new();
    while let Some(m) = sub
        .next_message_timeout(Some(Duration::from_millis(200)))
        .unwrap()
    {
        got.push(m.payload_str().unwrap().parse::<i64>().unwrap());
        if got.len() == 400 {
            break;
        }
    }
    let want: Vec<i64> = (0..400).collect();
    assert_eq!(got, want);
}

/// An ACL user, `listener` (password `pw`), that may subscribe to `ok*` only.
fn listener_acl() -> Cmd {
    let mut c = cmd("ACL");
    c.arg("SETUSER")
        .arg("listener")
        .arg("on")
        .arg(">pw")
        .arg("~*");
    c.arg("resetchannels").arg("&ok*").arg("+@all");
    c
}

/// An ACL user may subscribe to `ok*` only. A refused `SUBSCRIBE bad` must not be
/// remembered as a subscription: after a reconnect the subscriber restores what it
/// had (`ok1`), and the refused channel does not make every later restore fail.
#[test]
fn a_refused_subscribe_is_not_restored_after_a_reconnect_sync() {
    let server = RedisServer::start();
    let mut admin = Connection::open(info(&server)).unwrap();
    admin.query::<()>(&listener_acl()).unwrap();
    let sub_info = info(&server).with_auth(Some("listener"), "pw");
    let mut sub = PubSub::open(&sub_info).unwrap();
    sub.subscribe(["ok1"]).unwrap();
    let refused = sub.subscribe(["bad"]).unwrap_err();
    assert!(
        matches!(refused.server_error(), Some(e) if e.kind == resp_conn::ServerErrorKind::NoPerm),
        "{refused}"
    );
    let _: i64 = admin
        .query(cmd("CLIENT").arg("KILL").arg("USER").arg("listener"))
        .unwrap();
    let mut delivered = false;
    for i in 0..20 {
        // The first wait finds the connection gone; the next ones restore.
        let _ = publish(&server, "ok1", &format!("m{i}"));
        match sub.next_message_timeout(Some(Duration::from_millis(100))) {
            Ok(Some(m)) => {
                assert_eq!(m.channel_str(), Some("ok1"));
                delivered = true;
                break;
            }
            Ok(None) => {}
            Err(e) => assert!(e.is_connection_error(), "restore failed: {e}"),
        }
    }
    assert!(delivered, "ok1 never came back after the reconnect");
}

#[tokio::test]
async fn a_refused_subscribe_is_not_restored_after_a_reconnect_async() {
    let server = RedisServer::start();
    let admin = MultiplexedConnection::open(info(&server)).await.unwrap();
    admin.query::<()>(&listener_acl()).await.unwrap();
    let sub_info = info(&server).with_auth(Some("listener"), "pw");
    let mut sub = aio::PubSub::open(&sub_info).await.unwrap();
    sub.subscribe(["ok1"]).await.unwrap();
    // A pattern is allowed when it is literally one of the user's channel rules.
    sub.psubscribe(["ok*"]).await.unwrap();
    assert!(sub.subscribe(["bad"]).await.is_err());
    assert!(sub.psubscribe(["bad.*"]).await.is_err());
    let _: i64 = admin
        .query(cmd("CLIENT").arg("KILL").arg("USER").arg("listener"))
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    for i in 0..40 {
        let _: i64 = admin.query(cmd("PUBLISH").arg("ok1").arg(i)).await.unwrap();
        match tokio::time::timeout(Duration::from_millis(100), sub.next_message()).await {
            Ok(Ok(m)) => {
                let source = m.pattern.as_ref().unwrap_or(&m.channel);
                seen.insert(String::from_utf8_lossy(source).into_owned());
            }
            Ok(Err(e)) => assert!(e.is_connection_error(), "restore failed: {e}"),
            Err(_) => {}
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "came back: {seen:?}");
}

/// Subscribe, psubscribe and unsubscribe calls cut at every poll count: a cut change
/// may or may not take effect (a call cut before it sent anything did nothing), but the
/// subscriber's record and the server never disagree: afterwards exactly one
/// connection subscribes, `stay` is there, nothing it never asked for is, and
/// unsubscribing from everything leaves the server with nothing and the subscriber in
/// step.
#[tokio::test]
async fn async_subscription_changes_cut_at_every_poll_leave_record_and_server_agreeing() {
    let server = RedisServer::start();
    let admin = MultiplexedConnection::open(info(&server)).await.unwrap();
    let mut sub = aio::PubSub::open(info(&server)).await.unwrap();
    sub.subscribe(["stay"]).await.unwrap();
    for polls in 1..=12 {
        let (ch, pat) = (format!("c{polls}"), format!("p{polls}.*"));
        let _ = cut_after_polls(polls, sub.subscribe([ch.as_str(), "stay"])).await;
        let _ = cut_after_polls(polls, sub.psubscribe([pat.as_str()])).await;
        let _ = cut_after_polls(polls, sub.unsubscribe([ch.as_str()])).await;
        let _ = cut_after_polls(polls, sub.punsubscribe([pat.as_str()])).await;
        let _ = cut_after_polls(polls, sub.next_message()).await;
    }
    // Run to its end: the subscriber is settled now, the server's view exact.
    sub.subscribe(["final"]).await.unwrap();
    let channels: BTreeSet<String> = admin
        .query::<Vec<String>>(cmd("PUBSUB").arg("CHANNELS"))
        .await
        .unwrap()
        .into_iter()
        .collect();
    let allowed: BTreeSet<String> = (1..=12)
        .map(|i| format!("c{i}"))
        .chain(["stay".into(), "final".into()])
        .collect();
    assert!(
        channels.contains("stay") && channels.contains("final"),
        "{channels:?}"
    );
    assert!(channels.is_subset(&allowed), "{channels:?}");
    let clients: String = admin.query(cmd("CLIENT").arg("LIST")).await.unwrap();
    let subscribed = |l: &&str| !(l.contains(" sub=0 ") && l.contains(" psub=0 "));
    assert_eq!(
        clients.lines().filter(subscribed).count(),
        1,
        "a replaced subscriber connection stayed open:\n{clients}"
    );
    // Unsubscribing from everything waits for one confirmation per recorded name: a
    // record larger than the server's view would wait forever.
    let bounded = Duration::from_secs(5);
    tokio::time::timeout(bounded, sub.unsubscribe(Vec::<&str>::new()))
        .await
        .expect("unsubscribe from all hung: record and server disagree")
        .unwrap();
    tokio::time::timeout(bounded, sub.punsubscribe(Vec::<&str>::new()))
        .await
        .expect("punsubscribe from all hung: record and server disagree")
        .unwrap();
    let channels: Vec<String> = admin.query(cmd("PUBSUB").arg("CHANNELS")).await.unwrap();
    let patterns: i64 = admin.query(cmd("PUBSUB").arg("NUMPAT")).await.unwrap();
    assert_eq!((channels, patterns), (Vec::new(), 0));
    sub.subscribe(["z"]).await.unwrap();
    let _: i64 = admin
        .query(cmd("PUBLISH").arg("z").arg("in step"))
        .await
        .unwrap();
    let m = tokio::time::timeout(bounded, sub.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.channel_str(), m.payload_str()),
        (Some("z"), Some("in step"))
    );
}

/// After a restart, a sync subscriber has every channel, pattern and shard channel
/// back.
#[test]
fn a_sync_subscriber_has_everything_back_after_a_restart() {
    let mut server = RedisServer::start();
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut sub = PubSub::open(info(&server).with_protocol(protocol)).unwrap();
        sub.subscribe(["a", "b"]).unwrap();
        sub.psubscribe(["p.*"]).unwrap();
        sub.ssubscribe(["s"]).unwrap();
        server.restart();
        let mut seen = BTreeSet::new();
        for i in 0..50 {
            let mut con = Connection::open(info(&server)).unwrap();
            for channel in ["a", "b", "p.x"] {
                let _: i64 = con.query(cmd("PUBLISH").arg(channel).arg(i)).unwrap();
            }
            let _: i64 = con.query(cmd("SPUBLISH").arg("s").arg(i)).unwrap();
            loop {
                match sub.next_message_timeout(Some(Duration::from_millis(50))) {
                    Ok(Some(m)) => {
                        let name = m.pattern.as_ref().unwrap_or(&m.channel);
                        seen.insert(String::from_utf8_lossy(name).into_owned());
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(e.is_connection_error(), "{e}");
                        break;
                    }
                }
            }
            if seen.len() == 4 {
                break;
            }
        }
        assert_eq!(seen.len(), 4, "{protocol:?}: back {seen:?}");
    }
}

// ---------------------------------------------------------------------------------
// Opening connections
// ---------------------------------------------------------------------------------

const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// A fake server that accepts one connection at a time and answers anything with a
/// long simple string, one byte every 100 ms: each byte comes well within the connect
/// timeout, the whole reply long after it.
fn trickling_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let _ = s.set_nodelay(true);
                let mut buf = [0u8; 256];
                if s.read(&mut buf).unwrap_or(0) == 0 {
                    return;
                }
                let reply = format!("+{}\r\n", "a".repeat(60));
                for byte in reply.bytes() {
                    if s.write_all(&[byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
    });
    port
}

/// The open of every handshake shape against a server that trickles its reply fails
/// with a timeout naming the address, within 5x the connect timeout, sync and async.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_against_a_trickling_server_is_bounded_by_the_connect_timeout() {
    let port = trickling_server();
    let addr = format!("127.0.0.1:{port}");
    let base = ConnectionInfo::tcp("127.0.0.1", port).with_connect_timeout(Some(CONNECT_TIMEOUT));
    for info in [
        base.clone(),
        base.clone().with_db(2),
        base.clone().with_protocol(Protocol::Resp3),
        base.clone().with_auth(Some("u"), "p@ss:w/rd%"),
    ] {
        let started = Instant::now();
        let sync_info = info.clone();
        let opened = tokio::task::spawn_blocking(move || Connection::open(sync_info).map(drop))
            .await
            .unwrap();
        let took = started.elapsed();
        // The old sync open set the socket timeout once per handshake reply, so a
        // reply trickling in took 6 s and then succeeded.
        assert!(
            took < CONNECT_TIMEOUT * 5,
            "sync open took {took:?}: {opened:?}"
        );
        let err = opened.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(err.to_string().contains(&addr), "{err}");
        let started = Instant::now();
        let err = aio::Connection::open(&info).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            took < CONNECT_TIMEOUT * 5,
            "async open took {took:?}: {err}"
        );
        assert!(err.is_timeout() && err.to_string().contains(&addr), "{err}");
    }
}

/// A server that closes every connection right after accepting it.
fn closing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    port
}

fn assert_connect_error(what: &str, err: &Error, addr: &str) {
    assert!(matches!(err, Error::Connect { .. }), "{what}: {err:?}");
    assert!(err.is_connection_error(), "{what}: {err}");
    assert!(
        err.to_string().contains(addr),
        "{what}: {err} does not name {addr}"
    );
    assert!(format!("{err:?}").contains(addr), "{what}: {err:?}");
}

/// A server that closes at once, a host that does not resolve, a Unix socket that does
/// not exist: each open fails promptly with `Error::Connect` naming where.
#[tokio::test]
async fn opens_that_cannot_succeed_fail_at_once_naming_where() {
    let closing = closing_server();
    let missing = std::env::temp_dir().join(format!("attack-{}-none.sock", std::process::id()));
    let cases = [
        (
            ConnectionInfo::tcp("127.0.0.1", closing),
            format!("127.0.0.1:{closing}"),
        ),
        (
            ConnectionInfo::tcp("no-such-host.invalid", 6390),
            "no-such-host.invalid:6390".to_owned(),
        ),
        (
            ConnectionInfo::unix(&missing),
            missing.display().to_string(),
        ),
    ];
    for (info, addr) in cases {
        let info = info.with_connect_timeout(Some(Duration::from_secs(5)));
        let started = Instant::now();
        let sync_info = info.clone();
        let err = tokio::task::spawn_blocking(move || Connection::open(sync_info).unwrap_err())
            .await
            .unwrap();
        assert_connect_error("sync", &err, &addr);
        assert_connect_error(
            "async",
            &aio::Connection::open(&info).await.unwrap_err(),
            &addr,
        );
        assert_connect_error(
            "multiplexed",
            &MultiplexedConnection::open(&info).await.unwrap_err(),
            &addr,
        );
        assert_connect_error(
            "pubsub",
            &aio::PubSub::open(&info).await.unwrap_err(),
            &addr,
        );
        let pool = Pool::new(&info, 1).unwrap();
        assert_connect_error("pool get", &pool.get().await.unwrap_err(), &addr);
        assert_connect_error(
            "pool shared",
            &pool.query::<String>(&cmd("PING")).await.unwrap_err(),
            &addr,
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{addr}: slow failure"
        );
    }
}

/// The password with URL-special characters.
const SECRET: &str = "p@ss:w/rd%";
/// What a wrong one looks like, with the same characters.
const WRONG: &str = "w@ong:p/ss%";

fn hides_secrets(what: &str, text: &str) {
    for secret in [SECRET, WRONG, "p%40ss%3Aw%2Frd%25", "w%40ong%3Ap%2Fss%25"] {
        assert!(!text.contains(secret), "{what} shows a password: {text}");
    }
}

fn error_hides_secrets(what: &str, err: &Error) {
    hides_secrets(what, &err.to_string());
    hides_secrets(what, &format!("{err:?}"));
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        hides_secrets(what, &s.to_string());
        hides_secrets(what, &format!("{s:?}"));
        source = s.source();
    }
}

/// A server whose password has `@ : / %` in it: the right password, percent-encoded
/// in a URL or given as is, opens; a wrong one fails at open with `Error::Auth` naming
/// the address; no error, `Debug` or `Display` shows either password, in any form.
#[tokio::test]
async fn passwords_with_url_special_characters_open_and_never_show() {
    let server = RedisServer::builder().password(SECRET).start();
    let port = server.port();
    let addr = format!("127.0.0.1:{port}");
    let encoded = "p%40ss%3Aw%2Frd%25";
    let right_url = format!("redis://default:{encoded}@127.0.0.1:{port}/0");
    let right = ConnectionInfo::from_url(&right_url).unwrap();
    assert_eq!(right.password.as_deref(), Some(SECRET));
    hides_secrets("info Debug", &format!("{right:?}"));
    hides_secrets("info Display", &right.to_string());
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let right = right.clone().with_protocol(protocol);
        let mut con = Connection::open(&right).unwrap();
        hides_secrets("sync Debug", &format!("{con:?}"));
        let _: String = con.query(&cmd("PING")).unwrap();
        let mux = MultiplexedConnection::open(&right).await.unwrap();
        hides_secrets("mux Debug", &format!("{mux:?}"));
        let pool = Pool::new(&right, 1).unwrap();
        let lent = pool.get().await.unwrap();
        hides_secrets("pool Debug", &format!("{pool:?}"));
        hides_secrets("lent Debug", &format!("{lent:?}"));
        hides_secrets("builder Debug", &format!("{:?}", Pool::builder(&right)));
        let sub = aio::PubSub::open(&right).await.unwrap();
        hides_secrets("aio pubsub Debug", &format!("{sub:?}"));
        let sub = PubSub::open(&right).unwrap();
        hides_secrets("pubsub Debug", &format!("{sub:?}"));
        let con = aio::Connection::open(&right).await.unwrap();
        hides_secrets("aio con Debug", &format!("{con:?}"));

        let wrong = ConnectionInfo::tcp("127.0.0.1", port)
            .with_protocol(protocol)
            .with_auth(Some("default"), WRONG);
        let missing_user = wrong.clone().with_auth(Some("nobody"), SECRET);
        for bad in [wrong, missing_user] {
            let errs = [
                Connection::open(&bad).unwrap_err(),
                aio::Connection::open(&bad).await.unwrap_err(),
                MultiplexedConnection::open(&bad).await.unwrap_err(),
                Pool::new(&bad, 1).unwrap().get().await.unwrap_err(),
                PubSub::open(&bad).unwrap_err(),
            ];
            for err in errs {
                assert!(err.is_auth_error(), "{protocol:?}: {err:?}");
                assert!(err.to_string().contains(&addr), "{err}");
                error_hides_secrets("auth error", &err);
            }
        }
    }
    // URLs that do not parse still never show the password, whatever is wrong.
    for url in [
        format!("redis://default:{SECRET}@127.0.0.1:{port}"),
        format!("redis://default:{encoded}@127.0.0.1:{port}/x"),
        format!("redis://default:{encoded}@127.0.0.1:{port}?protocol=9"),
        format!("redis://default:{encoded}@127.0.0.1:99999"),
        format!("redis://default:{WRONG}@"),
        format!("http://default:{SECRET}@127.0.0.1"),
        "redis://default:p%4@127.0.0.1".to_owned(),
    ] {
        if let Err(err) = ConnectionInfo::from_url(&url) {
            error_hides_secrets(&url, &err);
        }
        let builder = Pool::builder(url.as_str());
        hides_secrets("builder of a bad URL", &format!("{builder:?}"));
        if let Err(err) = builder.build() {
            error_hides_secrets(&url, &err);
        }
    }
}

/// ACL users the handshake's commands are refused to: opening fails at `open` with an
/// error that names the address and never the password.
#[tokio::test]
async fn a_user_refused_the_handshake_commands_fails_at_open_naming_the_address() {
    let server = RedisServer::start();
    let admin = MultiplexedConnection::open(info(&server)).await.unwrap();
    for (user, rules) in [("noselect", "-select"), ("nosetname", "-client")] {
        admin
            .query::<()>(
                cmd("ACL")
                    .arg("SETUSER")
                    .arg(user)
                    .arg("on")
                    .arg(format!(">{SECRET}"))
                    .arg("~*")
                    .arg("+@all")
                    .arg(rules),
            )
            .await
            .unwrap();
    }
    let addr = format!("127.0.0.1:{}", server.port());
    let base = |user: &str| info(&server).with_auth(Some(user), SECRET);
    for bad in [
        base("noselect").with_db(1),
        base("nosetname").with_client_name("worker"),
    ] {
        let errs = [
            Connection::open(&bad).unwrap_err(),
            aio::Connection::open(&bad).await.unwrap_err(),
            MultiplexedConnection::open(&bad).await.unwrap_err(),
        ];
        for err in errs {
            assert!(err.to_string().contains(&addr), "{err}");
            error_hides_secrets("handshake refusal", &err);
        }
    }
    // And the same users open fine with handshakes they may run.
    let _ = Connection::open(base("noselect")).unwrap();
    let _ = Connection::open(base("nosetname")).unwrap();
    // HELLO runs before authentication, so no ACL rule refuses it.
    let _ = Connection::open(base("noselect").with_protocol(Protocol::Resp3)).unwrap();
}

/// A server that lacks a handshake command (a Redis before 6 has no `HELLO`; a
/// server may rename `AUTH` away) answers it with "unknown command ..., with args
/// beginning with:" and the arguments: the password among them. The open fails, naming
/// the address, and its error never shows the password.
#[tokio::test]
async fn a_server_that_echoes_the_handshake_never_gets_the_password_into_an_error() {
    // Redis cuts the echoed arguments at 128 bytes: a long password shows in part.
    let long = format!("{SECRET}{}", "x".repeat(200));
    for (missing, protocol, password) in [
        ("HELLO", Protocol::Resp3, SECRET),
        ("AUTH", Protocol::Resp2, SECRET),
        ("HELLO", Protocol::Resp3, long.as_str()),
        ("AUTH", Protocol::Resp2, long.as_str()),
    ] {
        let server = RedisServer::builder()
            .arg("--rename-command")
            .arg(missing)
            .arg("")
            .start();
        let addr = format!("127.0.0.1:{}", server.port());
        let bad = info(&server)
            .with_protocol(protocol)
            .with_auth(Some("default"), password);
        let errs = [
            Connection::open(&bad).unwrap_err(),
            aio::Connection::open(&bad).await.unwrap_err(),
            MultiplexedConnection::open(&bad).await.unwrap_err(),
            aio::PubSub::open(&bad).await.unwrap_err(),
        ];
        for err in errs {
            assert!(err.to_string().contains(&addr), "{missing}: {err}");
            assert!(
                err.to_string().contains("unknown command"),
                "{missing}: {err}"
            );
            error_hides_secrets(missing, &err);
        }
    }
}

/// Permissions revoked while subscribed: the ACL change makes the server drop the
/// subscriber, and the restore's `SUBSCRIBE chan1` is refused (Redis refuses the whole
/// command for one denied name). The pattern, still allowed, is restored all the same;
/// the refused channel is forgotten and its refusal returned once.
#[test]
fn a_restore_refused_for_a_channel_still_restores_the_patterns() {
    let server = RedisServer::start();
    let mut admin = Connection::open(info(&server)).unwrap();
    let mut acl = |rules: &[&str]| listener_may_use(&mut admin, rules);
    acl(&["&chan1", "&pat*"]);
    let mut sub = PubSub::open(info(&server).with_auth(Some("listener"), "pw")).unwrap();
    sub.subscribe(["chan1"]).unwrap();
    sub.psubscribe(["pat*"]).unwrap();
    acl(&["&pat*"]);
    let mut delivered = false;
    for i in 0..20 {
        let _ = publish(&server, "pat.x", &format!("m{i}"));
        // An error is expected once or twice: the dropped socket, the refused restore.
        if let Ok(Some(m)) = sub.next_message_timeout(Some(Duration::from_millis(50))) {
            assert_eq!(m.pattern.as_deref(), Some(b"pat*".as_slice()));
            delivered = true;
            break;
        }
    }
    assert!(delivered, "the pattern was not restored");
}

/// The same on the async subscriber: the refused restore is returned once, then the
/// subscriber is settled with the pattern back (before, every later call reconnected
/// and failed with `NOPERM`).
#[tokio::test]
async fn an_async_restore_refused_for_a_channel_still_restores_the_patterns() {
    let server = RedisServer::start();
    let mut admin = Connection::open(info(&server)).unwrap();
    let mut acl = |rules: &[&str]| listener_may_use(&mut admin, rules);
    acl(&["&chan1", "&pat*"]);
    let mut sub = aio::PubSub::open(info(&server).with_auth(Some("listener"), "pw"))
        .await
        .unwrap();
    sub.subscribe(["chan1"]).await.unwrap();
    sub.psubscribe(["pat*"]).await.unwrap();
    acl(&["&pat*"]);
    let mut errors = 0;
    let mut delivered = false;
    for i in 0..20 {
        let _ = publish(&server, "pat.x", &format!("m{i}"));
        match tokio::time::timeout(Duration::from_millis(100), sub.next_message()).await {
            Ok(Ok(m)) => {
                assert_eq!(m.pattern.as_deref(), Some(b"pat*".as_slice()));
                delivered = true;
                break;
            }
            Ok(Err(_)) => errors += 1, // the dropped socket, the refused restore
            Err(_) => {}
        }
    }
    assert!(delivered, "the pattern was not restored");
    assert!(errors <= 2, "{errors} errors: the subscriber kept failing");
}
