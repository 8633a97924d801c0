//! resp-conn against redis-rs, end to end, on one private redis-server.
//!
//! Every workload runs the same commands through both clients, in the same run,
//! against the same server (started here by `stdnet-test-support` on a free port,
//! never the machine's shared 6379). Function ids are `resp-conn` and `redis-rs`.
//!
//! | workload                 | what one iteration does                                   |
//! |--------------------------|-----------------------------------------------------------|
//! | `ping_sync`              | one PING round trip, blocking connection                  |
//! | `ping_async`             | one PING round trip, multiplexed handle, one task         |
//! | `set_get_16b`            | SET then GET of a 16-byte value, blocking                 |
//! | `get_1m`                 | GET of a 1 MiB value into a `Vec<u8>`, blocking           |
//! | `pipeline_1000_set`      | one pipeline of 1000 SETs (built in the iteration)        |
//! | `mux_64_tasks_get`       | 64 spawned tasks, each one GET on one shared handle       |
//! | `mux_64_futures_get`     | 64 GETs in flight at once from one task (joined futures)  |
//! | `hgetall_20_x1000`       | 1000 HGETALLs of a 20-field hash into `HashMap<String,String>` |
//! | `pool_256_tasks_get`     | 256 spawned tasks, each one GET through a pool (see below) |
//!
//! `pool_256_tasks_get` has four ids: `resp-conn` (an `aio::Pool`'s shared handles,
//! 4 by default), `resp-conn-rr4` (4 multiplexed handles, task `i` on handle `i % 4`),
//! `resp-conn-checkout` (an exclusive `Pool::get` of one of 4 dedicated connections per
//! GET: what the pool was before it shared handles), and `redis-rs` (4 redis-rs
//! multiplexed handles round-robin: redis-rs has no async pool of its own, and its docs
//! recommend sharing multiplexed handles).
//!
//! Both clients run without a per-request timeout (redis-rs's multiplexed connection
//! has a 500 ms response timeout by default; it is turned off so that neither side pays
//! for a timer), and both build their commands inside the measured loop, as callers do.
//!
//! Besides the wall time that criterion reports, each iteration batch is timed with
//! the process's CPU clock (`CLOCK_PROCESS_CPUTIME_ID`: every thread of the bench
//! process, tokio workers included, but not redis-server). At the end the bench prints
//! the client CPU time per reply for each workload and client.
//!
//! A plain full run (no filter) then runs an interleaved A/B pass: short batches of
//! the two clients in turn, 15 rounds per workload (`CONN_AB_ROUNDS`, 0 to skip), and
//! prints the median of the per-round ratios (`pool_256_tasks_get` also against
//! `resp-conn-rr4`). `CONN_AB_ONLY=<part of a workload name>` runs the pass for the
//! matching workloads only, with any criterion filter (`-- conn/pool`). On a small
//! shared VM, where a round trip costs anything from 15 to 60 µs depending on where the scheduler puts client and
//! server, that ratio is steadier than two criterion results taken a minute apart.
//! For the steadiest figures pin everything to one CPU:
//! `taskset -c 0 cargo bench -p stdnet-benches --bench conn` (redis-server, started by
//! the bench, inherits the affinity).

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use stdnet_test_support::RedisServer;

const KEY_16B: &str = "bench:v16";
const KEY_1M: &str = "bench:v1m";
const KEY_HASH: &str = "bench:h20";
const VALUE_16B: &[u8; 16] = b"0123456789abcdef";
const PIPELINE_LEN: usize = 1000;
const MUX_TASKS: usize = 64;
const HGETALL_CALLS: usize = 1000;
const POOL_TASKS: usize = 256;
/// Handles of `conn/pool_256_tasks_get`'s round-robin ids, and dedicated connections of
/// its checkout id.
const POOL_HANDLES: usize = 4;

/// Client CPU time and replies counted per bench id, for the table printed at the end.
static CPU: Mutex<BTreeMap<String, Totals>> = Mutex::new(BTreeMap::new());

/// What one bench id used, summed over its batches (warm-up included).
#[derive(Default)]
struct Totals {
    cpu: Duration,
    user: Duration,
    wall: Duration,
    replies: u64,
}

/// CPU time used so far by every thread of this process: (user + system, user).
fn process_cpu() -> (Duration, Duration) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    let total = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    // SAFETY: an all-zero rusage is valid, and getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_SELF)");
    let user = Duration::new(
        usage.ru_utime.tv_sec as u64,
        usage.ru_utime.tv_usec as u32 * 1000,
    );
    (total, user)
}

/// Starts the clocks for one batch of `iters` iterations.
struct Batch {
    id: String,
    replies: u64,
    wall: Instant,
    cpu: (Duration, Duration),
}

impl Batch {
    fn start(group: &str, client: &str, iters: u64, replies_per_iter: u64) -> Batch {
        Batch {
            id: format!("{group}/{client}"),
            replies: iters * replies_per_iter,
            cpu: process_cpu(),
            wall: Instant::now(),
        }
    }

    /// Stops the clocks, records the CPU time, and returns the wall time for criterion.
    fn stop(self) -> Duration {
        let wall = self.wall.elapsed();
        let (cpu, user) = process_cpu();
        let mut table = CPU.lock().unwrap();
        let entry = table.entry(self.id).or_default();
        entry.cpu += cpu.saturating_sub(self.cpu.0);
        entry.user += user.saturating_sub(self.cpu.1);
        entry.wall += wall;
        entry.replies += self.replies;
        wall
    }
}

/// The workloads, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    PingSync,
    SetGet16b,
    Get1m,
    Pipeline1000Set,
    Hgetall20x1000,
    PingAsync,
    Mux64TasksGet,
    Mux64FuturesGet,
    Pool256TasksGet,
}

const WORKLOADS: [Workload; 9] = [
    Workload::PingSync,
    Workload::SetGet16b,
    Workload::Get1m,
    Workload::Pipeline1000Set,
    Workload::Hgetall20x1000,
    Workload::PingAsync,
    Workload::Mux64TasksGet,
    Workload::Mux64FuturesGet,
    Workload::Pool256TasksGet,
];

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::PingSync => "ping_sync",
            Workload::SetGet16b => "set_get_16b",
            Workload::Get1m => "get_1m",
            Workload::Pipeline1000Set => "pipeline_1000_set",
            Workload::Hgetall20x1000 => "hgetall_20_x1000",
            Workload::PingAsync => "ping_async",
            Workload::Mux64TasksGet => "mux_64_tasks_get",
            Workload::Mux64FuturesGet => "mux_64_futures_get",
            Workload::Pool256TasksGet => "pool_256_tasks_get",
        }
    }

    /// Replies per iteration (criterion's throughput elements, except for `get_1m`,
    /// whose throughput is in bytes, and `set_get_16b`, counted as one element).
    fn replies(self) -> u64 {
        match self {
            Workload::SetGet16b => 2,
            Workload::Pipeline1000Set => PIPELINE_LEN as u64,
            Workload::Hgetall20x1000 => HGETALL_CALLS as u64,
            Workload::Mux64TasksGet | Workload::Mux64FuturesGet => MUX_TASKS as u64,
            Workload::Pool256TasksGet => POOL_TASKS as u64,
            _ => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    RespConn,
    RedisRs,
    /// The multiplexed workloads with a client that does nothing per request: see
    /// [`mux_floor`]. Not a client anyone can use; the least the workload's shape costs.
    Floor,
    /// `pool_256_tasks_get` on 4 multiplexed handles used round-robin.
    RoundRobin,
    /// `pool_256_tasks_get` with an exclusive checkout per GET.
    Checkout,
}

impl Client {
    fn id(self) -> &'static str {
        match self {
            Client::RespConn => "resp-conn",
            Client::RedisRs => "redis-rs",
            Client::Floor => "floor",
            Client::RoundRobin => "resp-conn-rr4",
            Client::Checkout => "resp-conn-checkout",
        }
    }
}

/// Both clients' connections to the one private server.
struct Clients {
    ours: resp_conn::Connection,
    theirs: redis::Connection,
    aours: resp_conn::aio::MultiplexedConnection,
    atheirs: redis::aio::MultiplexedConnection,
    /// `pool_256_tasks_get`: the pool, 4 dedicated connections for its checkout id, and
    /// both clients' 4 round-robin handles.
    pool: resp_conn::aio::Pool,
    checkout: resp_conn::aio::Pool,
    rr_ours: Vec<resp_conn::aio::MultiplexedConnection>,
    rr_theirs: Vec<redis::aio::MultiplexedConnection>,
    /// A bare socket for [`mux_floor`].
    floor: std::sync::Arc<tokio::sync::Mutex<tokio::net::TcpStream>>,
    rt: tokio::runtime::Runtime,
    _server: RedisServer,
}

fn setup() -> Clients {
    let server = RedisServer::start();
    let url = server.url();
    // Both clients' drivers and the 64 tasks run on this runtime: two workers for two
    // cores, as a service on this machine would have.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut ours = resp_conn::Connection::open(url.as_str()).expect("resp-conn connect");
    ours.query::<()>(resp_conn::cmd("SET").arg(KEY_16B).arg(VALUE_16B))
        .unwrap();
    let big: Vec<u8> = (0..1 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    ours.query::<()>(resp_conn::cmd("SET").arg(KEY_1M).arg(&big))
        .unwrap();
    let mut hset = resp_conn::cmd("HSET");
    hset.arg(KEY_HASH);
    for i in 0..20 {
        hset.arg(format!("field:{i:02}"))
            .arg(format!("value-{i:02}-0123456789"));
    }
    ours.query::<()>(&hset).unwrap();

    let client = redis::Client::open(url.as_str()).expect("redis-rs client");
    let mut theirs = client.get_connection().expect("redis-rs connect");
    let aours = rt
        .block_on(resp_conn::aio::MultiplexedConnection::open(url.as_str()))
        .expect("resp-conn async connect");
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let atheirs = rt
        .block_on(client.get_multiplexed_async_connection_with_config(&config))
        .expect("redis-rs async connect");

    let pool = resp_conn::aio::Pool::new(url.as_str(), 1).expect("pool");
    // Open the pool's shared handles here, as the round-robin ones are opened below.
    for _ in 0..resp_conn::aio::Pool::DEFAULT_MULTIPLEXED {
        rt.block_on(pool.query::<String>(&resp_conn::cmd("PING")))
            .expect("pool PING");
    }
    let checkout = resp_conn::aio::Pool::new(url.as_str(), POOL_HANDLES).expect("pool");
    let rr_ours = (0..POOL_HANDLES)
        .map(|_| rt.block_on(resp_conn::aio::MultiplexedConnection::open(url.as_str())))
        .collect::<Result<Vec<_>, _>>()
        .expect("resp-conn async connect");
    let rr_theirs = (0..POOL_HANDLES)
        .map(|_| rt.block_on(client.get_multiplexed_async_connection_with_config(&config)))
        .collect::<Result<Vec<_>, _>>()
        .expect("redis-rs async connect");
    let floor = rt
        .block_on(tokio::net::TcpStream::connect(("127.0.0.1", server.port())))
        .expect("floor connect");
    floor.set_nodelay(true).expect("TCP_NODELAY");
    let floor = std::sync::Arc::new(tokio::sync::Mutex::new(floor));

    // A sanity check that both see the same data.
    let a: Vec<u8> = ours.query(resp_conn::cmd("GET").arg(KEY_1M)).unwrap();
    let b: Vec<u8> = redis::cmd("GET").arg(KEY_1M).query(&mut theirs).unwrap();
    assert!(a == big && a == b);
    let a: HashMap<String, String> = ours.query(resp_conn::cmd("HGETALL").arg(KEY_HASH)).unwrap();
    let b: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(KEY_HASH)
        .query(&mut theirs)
        .unwrap();
    assert!(a.len() == 20 && a == b);

    Clients {
        ours,
        theirs,
        aours,
        atheirs,
        pool,
        checkout,
        rr_ours,
        rr_theirs,
        floor,
        rt,
        _server: server,
    }
}

impl Clients {
    /// Runs `iters` iterations of `w` with `client` as one timed batch; returns the
    /// wall time.
    fn run(&mut self, w: Workload, client: Client, iters: u64) -> Duration {
        let batch = Batch::start(w.name(), client.id(), iters, w.replies());
        match (w, client) {
            (Workload::Pool256TasksGet, _) => {
                let (pool, checkout) = (self.pool.clone(), self.checkout.clone());
                let (rr_ours, rr_theirs) = (self.rr_ours.clone(), self.rr_theirs.clone());
                // On a worker, as the multiplexed workloads below (which say why).
                let timed = self.rt.spawn(async move {
                    for _ in 0..iters {
                        match client {
                            Client::RespConn => pool_ours(&pool).await,
                            Client::RoundRobin => round_robin_ours(&rr_ours).await,
                            Client::Checkout => checkout_ours(&checkout).await,
                            Client::RedisRs => round_robin_theirs(&rr_theirs).await,
                            Client::Floor => unreachable!("no floor for the pool"),
                        }
                    }
                });
                self.rt.block_on(timed).expect("bench task");
            }
            (Workload::PingAsync | Workload::Mux64TasksGet | Workload::Mux64FuturesGet, _) => {
                let (ours, theirs) = (self.aours.clone(), self.atheirs.clone());
                let floor = self.floor.clone();
                // The loop runs as a task on the runtime's workers, as a service's
                // request handlers do, not on the thread that calls `block_on`: from
                // there every wake-up of the connection's driver and back would cross
                // threads.
                let timed = self.rt.spawn(async move {
                    for _ in 0..iters {
                        match (w, client) {
                            (Workload::PingAsync, Client::RespConn) => ping_async_ours(&ours).await,
                            (Workload::PingAsync, Client::RedisRs) => {
                                ping_async_theirs(&theirs).await
                            }
                            (Workload::Mux64FuturesGet, Client::RespConn) => {
                                mux_futures_ours(&ours).await
                            }
                            (Workload::Mux64FuturesGet, Client::RedisRs) => {
                                mux_futures_theirs(&theirs).await
                            }
                            (Workload::Mux64FuturesGet, Client::Floor) => {
                                mux_floor(&mut *floor.lock().await, false).await
                            }
                            (_, Client::Floor) => mux_floor(&mut *floor.lock().await, true).await,
                            (_, Client::RespConn) => mux_ours(&ours).await,
                            (_, Client::RedisRs) => mux_theirs(&theirs).await,
                            (_, Client::RoundRobin | Client::Checkout) => {
                                unreachable!("{client:?} is for the pool workload")
                            }
                        }
                    }
                });
                self.rt.block_on(timed).expect("bench task");
            }
            (_, Client::RespConn) => {
                for _ in 0..iters {
                    sync_ours(w, &mut self.ours);
                }
            }
            (_, Client::Floor | Client::RoundRobin | Client::Checkout) => {
                unreachable!("{client:?} is for the async workloads")
            }
            (_, Client::RedisRs) => {
                for _ in 0..iters {
                    sync_theirs(w, &mut self.theirs);
                }
            }
        }
        batch.stop()
    }
}

/// One iteration of a sync workload on resp-conn.
fn sync_ours(w: Workload, con: &mut resp_conn::Connection) {
    use resp_conn::cmd;
    match w {
        Workload::PingSync => {
            let pong: String = con.query(&cmd("PING")).unwrap();
            black_box(pong);
        }
        Workload::SetGet16b => {
            con.query::<()>(cmd("SET").arg(KEY_16B).arg(VALUE_16B))
                .unwrap();
            let v: Vec<u8> = con.query(cmd("GET").arg(KEY_16B)).unwrap();
            black_box(v);
        }
        Workload::Get1m => {
            let v: Vec<u8> = con.query(cmd("GET").arg(KEY_1M)).unwrap();
            black_box(v);
        }
        Workload::Pipeline1000Set => {
            let mut pipe = resp_conn::Pipeline::with_capacity(PIPELINE_LEN);
            for i in 0..PIPELINE_LEN {
                pipe.cmd("SET").arg(format!("bench:p:{i}")).arg(VALUE_16B);
            }
            con.query_pipeline::<()>(&pipe).unwrap();
        }
        Workload::Hgetall20x1000 => {
            for _ in 0..HGETALL_CALLS {
                let m: HashMap<String, String> = con.query(cmd("HGETALL").arg(KEY_HASH)).unwrap();
                black_box(m);
            }
        }
        Workload::PingAsync
        | Workload::Mux64TasksGet
        | Workload::Mux64FuturesGet
        | Workload::Pool256TasksGet => unreachable!("async workload"),
    }
}

/// One iteration of a sync workload on redis-rs.
fn sync_theirs(w: Workload, con: &mut redis::Connection) {
    use redis::cmd;
    match w {
        Workload::PingSync => {
            let pong: String = cmd("PING").query(con).unwrap();
            black_box(pong);
        }
        Workload::SetGet16b => {
            cmd("SET")
                .arg(KEY_16B)
                .arg(VALUE_16B)
                .query::<()>(con)
                .unwrap();
            let v: Vec<u8> = cmd("GET").arg(KEY_16B).query(con).unwrap();
            black_box(v);
        }
        Workload::Get1m => {
            let v: Vec<u8> = cmd("GET").arg(KEY_1M).query(con).unwrap();
            black_box(v);
        }
        Workload::Pipeline1000Set => {
            let mut pipe = redis::Pipeline::with_capacity(PIPELINE_LEN);
            for i in 0..PIPELINE_LEN {
                pipe.cmd("SET").arg(format!("bench:p:{i}")).arg(VALUE_16B);
            }
            pipe.query::<()>(con).unwrap();
        }
        Workload::Hgetall20x1000 => {
            for _ in 0..HGETALL_CALLS {
                let m: HashMap<String, String> = cmd("HGETALL").arg(KEY_HASH).query(con).unwrap();
                black_box(m);
            }
        }
        Workload::PingAsync
        | Workload::Mux64TasksGet
        | Workload::Mux64FuturesGet
        | Workload::Pool256TasksGet => unreachable!("async workload"),
    }
}

async fn ping_async_ours(con: &resp_conn::aio::MultiplexedConnection) {
    let pong: String = con.query(&resp_conn::cmd("PING")).await.unwrap();
    black_box(pong);
}

async fn ping_async_theirs(con: &redis::aio::MultiplexedConnection) {
    let mut con = con.clone();
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    black_box(pong);
}

/// 64 spawned tasks, each one GET on a clone of the shared handle.
async fn mux_ours(con: &resp_conn::aio::MultiplexedConnection) {
    let mut tasks = Vec::with_capacity(MUX_TASKS);
    for _ in 0..MUX_TASKS {
        let con = con.clone();
        tasks.push(tokio::spawn(async move {
            let v: Option<Vec<u8>> = con.query(resp_conn::cmd("GET").arg(KEY_16B)).await.unwrap();
            v
        }));
    }
    for t in tasks {
        black_box(t.await.unwrap());
    }
}

async fn mux_theirs(con: &redis::aio::MultiplexedConnection) {
    let mut tasks = Vec::with_capacity(MUX_TASKS);
    for _ in 0..MUX_TASKS {
        let mut con = con.clone();
        tasks.push(tokio::spawn(async move {
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(KEY_16B)
                .query_async(&mut con)
                .await
                .unwrap();
            v
        }));
    }
    for t in tasks {
        black_box(t.await.unwrap());
    }
}

/// `POOL_TASKS` spawned tasks, task `i` doing the GET that `get(i)` makes.
async fn gets_in_tasks<F, Fut>(get: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Option<Vec<u8>>> + Send + 'static,
{
    let tasks: Vec<_> = (0..POOL_TASKS).map(|i| tokio::spawn(get(i))).collect();
    for t in tasks {
        black_box(t.await.unwrap());
    }
}

/// Each task GETs through the pool's shared handles.
async fn pool_ours(pool: &resp_conn::aio::Pool) {
    gets_in_tasks(|_| {
        let pool = pool.clone();
        async move {
            pool.query(resp_conn::cmd("GET").arg(KEY_16B))
                .await
                .unwrap()
        }
    })
    .await
}

/// Task `i` GETs on handle `i % 4`.
async fn round_robin_ours(handles: &[resp_conn::aio::MultiplexedConnection]) {
    gets_in_tasks(|i| {
        let con = handles[i % handles.len()].clone();
        async move { con.query(resp_conn::cmd("GET").arg(KEY_16B)).await.unwrap() }
    })
    .await
}

/// Each task checks a dedicated connection out for its GET.
async fn checkout_ours(pool: &resp_conn::aio::Pool) {
    gets_in_tasks(|_| {
        let pool = pool.clone();
        async move {
            let mut con = pool.get().await.unwrap();
            con.query(resp_conn::cmd("GET").arg(KEY_16B)).await.unwrap()
        }
    })
    .await
}

async fn round_robin_theirs(handles: &[redis::aio::MultiplexedConnection]) {
    gets_in_tasks(|i| {
        let mut con = handles[i % handles.len()].clone();
        async move {
            redis::cmd("GET")
                .arg(KEY_16B)
                .query_async(&mut con)
                .await
                .unwrap()
        }
    })
    .await
}

/// The 64 GETs of `conn/mux_64_*` with a client that does no work per request: the
/// callers (64 spawned tasks if `tasks`, else 64 joined futures, as in the two
/// workloads) each wait on a oneshot; one write sends a prebuilt buffer of 64 GETs,
/// the replies are only counted, and each oneshot is then completed. What remains is
/// the workload's own shape (spawn and join, or `join_all`; a oneshot and a wake-up
/// per caller) plus one write and the reads: the least that any client giving each
/// caller its own future can cost here, to put beside `redis-benchmark -P 64`.
async fn mux_floor(stream: &mut tokio::net::TcpStream, tasks: bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;
    // Built once: the floor pays for no encoding.
    static GETS: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut one = Vec::new();
        resp_conn::cmd("GET").arg(KEY_16B).write_to(&mut one);
        one.repeat(MUX_TASKS)
    });
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..MUX_TASKS).map(|_| oneshot::channel::<()>()).unzip();
    let driver = async {
        stream.write_all(&GETS).await.unwrap();
        let mut buf = Vec::with_capacity(4096);
        let (mut replies, mut used) = (0, 0);
        while replies < MUX_TASKS {
            let n = stream.read_buf(&mut buf).await.unwrap();
            assert!(n > 0, "server closed");
            while let Some((_, len)) = resp_parser::parse(&buf[used..]).unwrap() {
                used += len;
                replies += 1;
            }
        }
        for tx in senders {
            let _ = tx.send(());
        }
    };
    if tasks {
        let handles: Vec<_> = receivers
            .into_iter()
            .map(|rx| tokio::spawn(async move { rx.await.unwrap() }))
            .collect();
        driver.await;
        for h in handles {
            h.await.unwrap();
        }
    } else {
        let ((), done) = tokio::join!(driver, futures::future::join_all(receivers));
        black_box(done);
    }
}

/// 64 GETs in flight at once from one task: the multiplexer's own cost, without a
/// task spawn and a join handle per request (what `redis-benchmark -P 64` compares to).
async fn mux_futures_ours(con: &resp_conn::aio::MultiplexedConnection) {
    let gets = (0..MUX_TASKS).map(|_| async {
        let v: Option<Vec<u8>> = con.query(resp_conn::cmd("GET").arg(KEY_16B)).await.unwrap();
        v
    });
    black_box(futures::future::join_all(gets).await);
}

async fn mux_futures_theirs(con: &redis::aio::MultiplexedConnection) {
    let gets = (0..MUX_TASKS).map(|_| {
        let mut con = con.clone();
        async move {
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(KEY_16B)
                .query_async(&mut con)
                .await
                .unwrap();
            v
        }
    });
    black_box(futures::future::join_all(gets).await);
}

fn criterion_benches(c: &mut Criterion, clients: &mut Clients) {
    for w in WORKLOADS {
        let mut g = c.benchmark_group(format!("conn/{}", w.name()));
        let (throughput, secs) = match w {
            Workload::Get1m => (Throughput::Bytes(1 << 20), 4),
            Workload::SetGet16b => (Throughput::Elements(1), 3),
            Workload::PingSync | Workload::PingAsync => (Throughput::Elements(1), 3),
            Workload::Hgetall20x1000 => (Throughput::Elements(w.replies()), 5),
            _ => (Throughput::Elements(w.replies()), 4),
        };
        g.throughput(throughput)
            .sample_size(if w == Workload::Hgetall20x1000 {
                10
            } else {
                20
            })
            .warm_up_time(Duration::from_millis(700))
            .measurement_time(Duration::from_secs(secs));
        let floor = matches!(w, Workload::Mux64TasksGet | Workload::Mux64FuturesGet);
        let sides: &[Client] = if floor {
            &[Client::RespConn, Client::RedisRs, Client::Floor]
        } else if w == Workload::Pool256TasksGet {
            &[
                Client::RespConn,
                Client::RoundRobin,
                Client::Checkout,
                Client::RedisRs,
            ]
        } else {
            &[Client::RespConn, Client::RedisRs]
        };
        for &client in sides {
            g.bench_function(client.id(), |b| {
                b.iter_custom(|iters| clients.run(w, client, iters))
            });
        }
        g.finish();
    }
}

/// Interleaved A/B: short batches of resp-conn and another id in turn, so that the
/// drift of a noisy machine (other jobs, CPU placement of client and server) hits both
/// alike. The other id is redis-rs for every workload, plus resp-conn's own 4
/// round-robin handles for `pool_256_tasks_get`. Prints the median time per iteration
/// of each and the median of the per-round ratios. `only` keeps the workloads whose
/// name contains it.
fn interleaved(clients: &mut Clients, rounds: usize, only: Option<&str>) {
    println!("\ninterleaved A/B: {rounds} rounds of ~40 ms batches per client, medians");
    println!(
        "{:<24} {:>14} {:>14} {:>10}  B is",
        "workload", "resp-conn", "B", "B/resp-conn"
    );
    let pairs = WORKLOADS
        .iter()
        .map(|&w| (w, Client::RedisRs))
        .chain([(Workload::Pool256TasksGet, Client::RoundRobin)])
        .filter(|(w, _)| only.is_none_or(|only| w.name().contains(only)));
    for (w, other) in pairs {
        // Calibrate: iterations for ~40 ms.
        let one = clients
            .run(w, Client::RespConn, 1)
            .max(Duration::from_micros(1));
        let iters =
            (Duration::from_millis(40).as_nanos() / one.as_nanos()).clamp(1, 100_000) as u64;
        let (mut a, mut b, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Client::RespConn, other]
            } else {
                [other, Client::RespConn]
            };
            let mut t = [0.0; 2];
            for client in order {
                let per_iter = clients.run(w, client, iters).as_secs_f64() / iters as f64;
                t[(client == other) as usize] = per_iter;
            }
            a.push(t[0]);
            b.push(t[1]);
            ratio.push(t[1] / t[0]);
        }
        println!(
            "{:<24} {:>14} {:>14} {:>10.2}  {}",
            format!("conn/{}", w.name()),
            human(median(&mut a)),
            human(median(&mut b)),
            median(&mut ratio),
            other.id()
        );
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn human(secs: f64) -> String {
    if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.2} µs", secs * 1e6)
    }
}

/// Prints client CPU per reply and CPU per wall second for every bench that ran.
fn print_cpu_table() {
    let table = CPU.lock().unwrap();
    if table.is_empty() {
        return;
    }
    println!(
        "\nclient CPU per reply (all bench-process threads, not redis-server; warm-up included)"
    );
    println!(
        "{:<34} {:>12} {:>12} {:>12} {:>9}",
        "bench", "cpu ns", "user ns", "wall ns", "cpu/wall"
    );
    for (id, t) in table.iter() {
        let r = t.replies.max(1) as f64;
        println!(
            "{:<34} {:>12.0} {:>12.0} {:>12.0} {:>9.2}",
            format!("conn/{id}"),
            t.cpu.as_nanos() as f64 / r,
            t.user.as_nanos() as f64 / r,
            t.wall.as_nanos() as f64 / r,
            t.cpu.as_secs_f64() / t.wall.as_secs_f64().max(1e-9),
        );
    }
}

fn main() {
    let mut clients = setup();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &mut clients);
    c.final_summary();
    // The A/B pass runs in a full, plain run (no filter, no profiling or test mode),
    // or for the workloads whose name contains CONN_AB_ONLY whatever the arguments;
    // CONN_AB_ROUNDS=0 turns it off.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plain_run = args.iter().all(|a| a == "--bench");
    let only = std::env::var("CONN_AB_ONLY").ok();
    let rounds = std::env::var("CONN_AB_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    if (plain_run || only.is_some()) && rounds > 0 {
        interleaved(&mut clients, rounds, only.as_deref());
    }
    print_cpu_table();
}
