//! stdnet-orm against the same Redis work written by hand with redis-rs.
//!
//! One private redis-server (started here by `stdnet-test-support` on a free port,
//! never the machine's shared 6379). Function ids are `stdnet-orm` (a [`Db`] on
//! resp-conn's blocking connection) and `hand-written` (redis-rs's blocking
//! connection, plain commands and pipelines). Both sides use the key layout of
//! `stdnet_orm::keys` with the same index maintenance, so they store byte-identical
//! data (checked at start-up, before anything is timed) and read the same keys.
//!
//! The model has three indexed fields and two plain ones:
//!
//! | field      | index              | keys written per object                                |
//! |------------|--------------------|--------------------------------------------------------|
//! | `username` | `#[model(unique)]` | `{B}:uni:username` (hash, also its equality index)      |
//! | `country`  | `#[model(index)]`  | `{B}:idx:country:<v>` (10 values)                      |
//! | `age`      | `#[model(index)]`  | `{B}:idx:age:<v>`, `{B}:num:age`                       |
//! | `score`, `email` | none         | only the object hash `{B}:obj:<id>`                    |
//!
//! plus `{B}:id` (every id) and the `{B}:ids` counter. `insert_100k_prefix` inserts the
//! same objects as `PrefixUser`, whose two text indexes also answer `startswith`
//! (`#[model(unique, prefix)]`, `#[model(index, prefix)]`): that adds `{B}:lex:username`
//! and `{B}:lex:country`, 8 writes per object instead of 6. Ages are 0..=989 for the first
//! 99,000 objects (100 objects per age) and 1000..=1099 for the last 1,000 (10 per
//! age), so an equality filter returns 100 objects and the range 1000..=1009 spans ten
//! scores and also returns 100.
//!
//! | workload                  | stdnet-orm                                  | hand-written (redis-rs)                          |
//! |---------------------------|---------------------------------------------|--------------------------------------------------|
//! | `insert_100k`             | `save_all` in batches of 1000               | per batch: HMGET unique check, INCRBY, one pipeline of HSET + HSET/SADD/ZADD per object |
//! | `insert_100k_prefix`      | the same, as `PrefixUser`                   | the same, plus a ZADD to each `lex` set per object |
//! | `get_by_id`               | `db.get::<User>(id)`                        | HGETALL + decode                                 |
//! | `filter_eq_100_of_100k`   | `db.all(filter(AGE.eq(500)))`               | SMEMBERS + pipelined HGETALL + decode, id order  |
//! | `range_filter`            | `db.all(filter(AGE.between(1000, 1009)))`   | ZRANGEBYSCORE + pipelined HGETALL + decode, id order |
//! | `sort_limit_10_of_100k`   | `db.all(sort_by(AGE, Desc).limit(10))`      | ZRANGE num:age 0 9 REV + pipelined HGETALL       |
//! | `count`                   | `db.count(filter(COUNTRY.eq("IT")))` (10k): exact, skips ids whose hash is gone | SMEMBERS + one EXISTS of every hash |
//! | `count_indexed`           | `db.count_indexed(filter(COUNTRY.eq("IT")))` (10k): the index's size | SCARD                         |
//!
//! `insert_100k` starts every iteration on an empty server (FLUSHALL SYNC, and the
//! copy of the objects to insert, are outside the timed part: `iter_custom`); its
//! throughput is 100k elements, so criterion reports objects/s. The read workloads
//! share one 100k dataset inserted once before them (not timed), and each checks once,
//! untimed, that both sides return the same objects.
//!
//! `ORM_BENCH_COMMANDSTATS=1` also prints, for every workload and side, the Redis
//! commands the server ran per iteration (`INFO commandstats`, which counts commands
//! called from Lua too) and the server time they took.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use stdnet_orm::{Db, Model, Order};
use stdnet_test_support::RedisServer;

mod orm_data;
use orm_data::{PrefixUser, User, dataset};

/// Objects in the dataset.
const OBJECTS: usize = 100_000;
/// Objects per `save_all` call and per hand-written pipeline.
const BATCH: usize = 1000;
/// The model's key prefix (hash tag) with the empty namespace: `{<app>.<name>}`.
const B: &str = "{bench.user}";
/// The age whose equality filter the `filter_eq_100_of_100k` workload runs.
const EQ_AGE: u32 = 500;
/// The inclusive age range of `range_filter`.
const RANGE: (u32, u32) = (1000, 1009);
/// The country whose matches `count` counts (10,000 of them).
const COUNT_COUNTRY: &str = "IT";
/// `sort_limit_10_of_100k` returns this many objects.
const LIMIT: usize = 10;

// ---------------------------------------------------------------------------------
// Hand-written: the same keys and index entries as stdnet-orm's save.lua/query.lua,
// with redis-rs commands and pipelines.
// ---------------------------------------------------------------------------------

fn obj_key(id: u64) -> String {
    format!("{B}:obj:{id}")
}

/// Inserts `users` (all new) like `Db::save_all`: refuses a username that is taken
/// (stored or twice in the batch) before writing anything, assigns the next ids, then
/// writes each hash with its index entries in one pipeline. With `prefix`, also the
/// lexicographic entries of `PrefixUser`.
fn hand_insert(
    con: &mut redis::Connection,
    users: &mut [User],
    prefix: bool,
) -> redis::RedisResult<()> {
    let uni = format!("{B}:uni:username");
    let mut check = redis::cmd("HMGET");
    check.arg(&uni);
    let mut seen = HashSet::with_capacity(users.len());
    for u in users.iter() {
        assert!(
            seen.insert(u.username.as_str()),
            "duplicate username in batch"
        );
        check.arg(&u.username);
    }
    let owners: Vec<Option<u64>> = check.query(con)?;
    assert!(owners.iter().all(Option::is_none), "username taken");

    let last: u64 = redis::cmd("INCRBY")
        .arg(format!("{B}:ids"))
        .arg(users.len())
        .query(con)?;
    let first = last + 1 - users.len() as u64;

    let mut p = redis::Pipeline::with_capacity(users.len() * 8);
    let (lex_username, lex_country) = (format!("{B}:lex:username"), format!("{B}:lex:country"));
    let (num_age, all_ids) = (format!("{B}:num:age"), format!("{B}:id"));
    for (k, u) in users.iter_mut().enumerate() {
        let id = first + k as u64;
        u.id = id;
        // Indexes in field order, as save.lua's index() does them.
        p.cmd("HSET").arg(&uni).arg(&u.username).arg(id).ignore();
        if prefix {
            p.cmd("ZADD")
                .arg(&lex_username)
                .arg(0)
                .arg(format!("{}\0{id}", u.username))
                .ignore();
        }
        p.cmd("SADD")
            .arg(format!("{B}:idx:country:{}", u.country))
            .arg(id)
            .ignore();
        if prefix {
            p.cmd("ZADD")
                .arg(&lex_country)
                .arg(0)
                .arg(format!("{}\0{id}", u.country))
                .ignore();
        }
        p.cmd("SADD")
            .arg(format!("{B}:idx:age:{}", u.age))
            .arg(id)
            .ignore();
        p.cmd("ZADD").arg(&num_age).arg(u.age).arg(id).ignore();
        p.cmd("HSET")
            .arg(obj_key(id))
            .arg("username")
            .arg(&u.username)
            .arg("country")
            .arg(&u.country)
            .arg("age")
            .arg(u.age)
            .arg("score")
            .arg(u.score.to_string())
            .arg("email")
            .arg(&u.email)
            .ignore();
        p.cmd("ZADD").arg(&all_ids).arg(id).arg(id).ignore();
    }
    p.query::<()>(con)
}

/// Builds a `User` from its hash, as a hand-written client would.
fn hand_decode(id: u64, mut h: HashMap<String, String>) -> User {
    let mut take = |f: &str| h.remove(f).unwrap_or_else(|| panic!("{id} has no {f}"));
    User {
        id,
        username: take("username"),
        country: take("country"),
        age: take("age").parse().expect("age"),
        score: take("score").parse().expect("score"),
        email: take("email"),
    }
}

/// HGETALL of every id in one pipeline, decoded in the same order.
fn hand_load(con: &mut redis::Connection, ids: &[u64]) -> redis::RedisResult<Vec<User>> {
    let mut p = redis::Pipeline::with_capacity(ids.len());
    for &id in ids {
        p.cmd("HGETALL").arg(obj_key(id));
    }
    let hashes: Vec<HashMap<String, String>> = p.query(con)?;
    Ok(ids
        .iter()
        .zip(hashes)
        .map(|(&id, h)| hand_decode(id, h))
        .collect())
}

fn hand_get(con: &mut redis::Connection, id: u64) -> redis::RedisResult<User> {
    let h: HashMap<String, String> = redis::cmd("HGETALL").arg(obj_key(id)).query(con)?;
    assert!(!h.is_empty(), "no object {id}");
    Ok(hand_decode(id, h))
}

/// SMEMBERS of the age index, in id order (stdnet-orm's default order), loaded.
fn hand_filter_eq(con: &mut redis::Connection, age: u32) -> redis::RedisResult<Vec<User>> {
    let mut ids: Vec<u64> = redis::cmd("SMEMBERS")
        .arg(format!("{B}:idx:age:{age}"))
        .query(con)?;
    ids.sort_unstable();
    hand_load(con, &ids)
}

/// ZRANGEBYSCORE of the age sorted set, in id order, loaded.
fn hand_range(con: &mut redis::Connection, low: u32, high: u32) -> redis::RedisResult<Vec<User>> {
    let mut ids: Vec<u64> = redis::cmd("ZRANGEBYSCORE")
        .arg(format!("{B}:num:age"))
        .arg(low)
        .arg(high)
        .query(con)?;
    ids.sort_unstable();
    hand_load(con, &ids)
}

/// The `limit` oldest, straight from the age sorted set, loaded.
fn hand_sort_limit(con: &mut redis::Connection, limit: usize) -> redis::RedisResult<Vec<User>> {
    let ids: Vec<u64> = redis::cmd("ZRANGE")
        .arg(format!("{B}:num:age"))
        .arg(0)
        .arg(limit - 1)
        .arg("REV")
        .query(con)?;
    hand_load(con, &ids)
}

fn hand_count_indexed(con: &mut redis::Connection, country: &str) -> redis::RedisResult<usize> {
    redis::cmd("SCARD")
        .arg(format!("{B}:idx:country:{country}"))
        .query(con)
}

/// What `count` promises by hand: the index's ids whose hash exists.
fn hand_count(con: &mut redis::Connection, country: &str) -> redis::RedisResult<usize> {
    let ids: Vec<u64> = redis::cmd("SMEMBERS")
        .arg(format!("{B}:idx:country:{country}"))
        .query(con)?;
    let mut exists = redis::cmd("EXISTS");
    for id in &ids {
        exists.arg(obj_key(*id));
    }
    exists.query(con)
}

// ---------------------------------------------------------------------------------
// stdnet-orm
// ---------------------------------------------------------------------------------

fn orm_insert<M: Model>(db: &mut Db, users: &mut [M]) {
    for chunk in users.chunks_mut(BATCH) {
        db.save_all(chunk).expect("save_all");
    }
}

fn orm_filter_eq(db: &mut Db, age: u32) -> Vec<User> {
    db.all(&User::objects().filter(User::AGE.eq(age)))
        .expect("filter")
}

fn orm_range(db: &mut Db, low: u32, high: u32) -> Vec<User> {
    db.all(&User::objects().filter(User::AGE.between(low, high)))
        .expect("range")
}

fn orm_sort_limit(db: &mut Db, limit: usize) -> Vec<User> {
    db.all(&User::objects().sort_by(User::AGE, Order::Desc).limit(limit))
        .expect("sort")
}

fn orm_count(db: &mut Db, country: &str) -> usize {
    db.count(&User::objects().filter(User::COUNTRY.eq(country)))
        .expect("count")
}

fn orm_count_indexed(db: &mut Db, country: &str) -> usize {
    db.count_indexed(&User::objects().filter(User::COUNTRY.eq(country)))
        .expect("count_indexed")
}

// ---------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------

struct Env {
    _server: RedisServer,
    db: Db,
    hand: redis::Connection,
    /// A third connection for FLUSHALL, checks and statistics.
    admin: redis::Connection,
    stats: bool,
}

impl Env {
    fn flushall(&mut self) {
        redis::cmd("FLUSHALL")
            .arg("SYNC")
            .query::<()>(&mut self.admin)
            .expect("FLUSHALL");
    }

    /// Every key with its type and content, for comparing what two writers stored.
    fn snapshot(&mut self) -> BTreeMap<Vec<u8>, Stored> {
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut self.admin).unwrap();
        let con = &mut self.admin;
        keys.into_iter()
            .map(|k| {
                let kind: String = redis::cmd("TYPE").arg(&k).query(con).unwrap();
                let v = match kind.as_str() {
                    "hash" => Stored::Hash(redis::cmd("HGETALL").arg(&k).query(con).unwrap()),
                    "set" => Stored::Set(redis::cmd("SMEMBERS").arg(&k).query(con).unwrap()),
                    "zset" => Stored::Zset(
                        redis::cmd("ZRANGE")
                            .arg(&k)
                            .arg(0)
                            .arg(-1)
                            .arg("WITHSCORES")
                            .query(con)
                            .unwrap(),
                    ),
                    "string" => Stored::Str(redis::cmd("GET").arg(&k).query(con).unwrap()),
                    other => panic!("unexpected key type {other}"),
                };
                (k, v)
            })
            .collect()
    }

    fn reset_stats(&mut self) {
        if self.stats {
            redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query::<()>(&mut self.admin)
                .unwrap();
        }
    }

    /// Prints the server's command counts and time per iteration since `reset_stats`.
    fn print_stats(&mut self, id: &str, iterations: u64) {
        if !self.stats {
            return;
        }
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut self.admin)
            .unwrap();
        let per = iterations.max(1) as f64;
        let mut rows = Vec::new();
        for line in info.lines() {
            let Some(rest) = line.strip_prefix("cmdstat_") else {
                continue;
            };
            let (name, fields) = rest.split_once(':').unwrap();
            if name.starts_with("config") || matches!(name, "info" | "flushall") {
                continue;
            }
            let field = |f: &str| -> f64 {
                fields
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(f)?.strip_prefix('='))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0)
            };
            rows.push((name.to_owned(), field("calls") / per, field("usec") / per));
        }
        rows.sort_by(|a, b| b.2.total_cmp(&a.2));
        // EVALSHA's time includes the commands its script ran, which are counted again
        // on their own rows.
        eprintln!("commandstats {id}: {iterations} iterations (evalsha includes its calls)");
        for (name, calls, usec) in rows {
            eprintln!("  {name:<16} calls/iter {calls:>12.1}  usec/iter {usec:>12.1}");
        }
    }
}

#[derive(Debug, PartialEq)]
enum Stored {
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Zset(Vec<(Vec<u8>, f64)>),
    Str(Vec<u8>),
}

fn setup() -> Env {
    let server = RedisServer::start();
    let db = Db::open(server.url()).expect("stdnet-orm Db");
    let client = redis::Client::open(server.url()).expect("redis-rs client");
    let hand = client.get_connection().expect("redis-rs connection");
    let admin = client.get_connection().expect("redis-rs connection");
    let stats = std::env::var_os("ORM_BENCH_COMMANDSTATS").is_some_and(|v| v != "0");
    let mut env = Env {
        _server: server,
        db,
        hand,
        admin,
        stats,
    };

    // Both writers must store exactly the same keys and values, with and without
    // prefix lookups.
    let n = 3 * BATCH + 17;
    for prefix in [false, true] {
        env.flushall();
        if prefix {
            let mut users: Vec<PrefixUser> = dataset(n).into_iter().map(Into::into).collect();
            orm_insert(&mut env.db, &mut users);
        } else {
            orm_insert(&mut env.db, &mut dataset(n));
        }
        let by_orm = env.snapshot();
        env.flushall();
        for chunk in dataset(n).chunks_mut(BATCH) {
            hand_insert(&mut env.hand, chunk, prefix).unwrap();
        }
        let by_hand = env.snapshot();
        assert_eq!(by_orm.len(), by_hand.len(), "different key counts");
        assert!(
            by_orm == by_hand,
            "stdnet-orm and hand-written stored different data (prefix: {prefix})"
        );
        eprintln!(
            "orm bench: both writers stored the same {} keys for {n} objects (prefix: {prefix})",
            by_orm.len()
        );
    }
    env.flushall();
    env
}

/// Runs `routine(env, iteration)` `iters` times and returns the time it took.
fn timed(env: &mut Env, iters: u64, mut routine: impl FnMut(&mut Env, u64)) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        routine(env, i);
    }
    start.elapsed()
}

fn insert_group(c: &mut Criterion, env: &mut Env, prefix: bool) {
    let template = dataset(OBJECTS);
    let prefix_template: Vec<PrefixUser> = template.iter().cloned().map(Into::into).collect();
    let name = if prefix {
        "insert_100k_prefix"
    } else {
        "insert_100k"
    };
    let mut g = c.benchmark_group(format!("orm/{name}"));
    g.throughput(Throughput::Elements(OBJECTS as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(8));
    for side in ["stdnet-orm", "hand-written"] {
        let mut iterations = 0;
        env.reset_stats();
        g.bench_function(side, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    env.flushall();
                    let mut users = template.clone();
                    let mut prefix_users = prefix_template.clone();
                    let start = Instant::now();
                    if side == "hand-written" {
                        for chunk in users.chunks_mut(BATCH) {
                            hand_insert(&mut env.hand, chunk, prefix).unwrap();
                        }
                    } else if prefix {
                        orm_insert(&mut env.db, &mut prefix_users);
                    } else {
                        orm_insert(&mut env.db, &mut users);
                    }
                    total += start.elapsed();
                    black_box((&users, &prefix_users));
                }
                iterations += iters;
                total
            })
        });
        env.print_stats(&format!("{name}/{side}"), iterations);
    }
    g.finish();
}

/// One read workload: both sides, after checking that they return the same result.
fn read_workload<T: PartialEq + std::fmt::Debug>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    env: &mut Env,
    name: &str,
    orm: impl Fn(&mut Db, u64) -> T,
    hand: impl Fn(&mut redis::Connection, u64) -> T,
) {
    let (a, b) = (orm(&mut env.db, 0), hand(&mut env.hand, 0));
    assert!(a == b, "{name}: stdnet-orm and hand-written differ");
    let mut iterations = 0;
    env.reset_stats();
    g.bench_function("stdnet-orm", |b| {
        b.iter_custom(|iters| {
            iterations += iters;
            timed(env, iters, |env, i| {
                black_box(orm(&mut env.db, i));
            })
        })
    });
    env.print_stats(&format!("{name}/stdnet-orm"), iterations);
    iterations = 0;
    env.reset_stats();
    g.bench_function("hand-written", |b| {
        b.iter_custom(|iters| {
            iterations += iters;
            timed(env, iters, |env, i| {
                black_box(hand(&mut env.hand, i));
            })
        })
    });
    env.print_stats(&format!("{name}/hand-written"), iterations);
}

fn read_groups(c: &mut Criterion, env: &mut Env) {
    env.flushall();
    orm_insert(&mut env.db, &mut dataset(OBJECTS));

    // A different id every call, spread over the whole dataset.
    let id_of = |i: u64| 1 + (i * 7919) % OBJECTS as u64;
    let workloads: [(&str, usize, u64, SamplingMode); 6] = [
        // (name, sample size, measurement seconds, sampling): flat sampling for the
        // workload whose stdnet-orm side takes a large fraction of a second per call.
        ("get_by_id", 50, 3, SamplingMode::Auto),
        ("filter_eq_100_of_100k", 30, 4, SamplingMode::Auto),
        ("range_filter", 30, 4, SamplingMode::Auto),
        ("sort_limit_10_of_100k", 10, 6, SamplingMode::Flat),
        ("count", 30, 4, SamplingMode::Auto),
        ("count_indexed", 30, 4, SamplingMode::Auto),
    ];
    for (name, samples, secs, mode) in workloads {
        let mut g = c.benchmark_group(format!("orm/{name}"));
        g.sampling_mode(mode)
            .sample_size(samples)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(secs));
        match name {
            "get_by_id" => read_workload(
                &mut g,
                env,
                name,
                |db, i| db.get::<User>(id_of(i)).expect("get"),
                |con, i| hand_get(con, id_of(i)).unwrap(),
            ),
            "filter_eq_100_of_100k" => read_workload(
                &mut g,
                env,
                name,
                |db, _| orm_filter_eq(db, EQ_AGE),
                |con, _| hand_filter_eq(con, EQ_AGE).unwrap(),
            ),
            "range_filter" => read_workload(
                &mut g,
                env,
                name,
                |db, _| orm_range(db, RANGE.0, RANGE.1),
                |con, _| hand_range(con, RANGE.0, RANGE.1).unwrap(),
            ),
            "sort_limit_10_of_100k" => read_workload(
                &mut g,
                env,
                name,
                |db, _| orm_sort_limit(db, LIMIT),
                |con, _| hand_sort_limit(con, LIMIT).unwrap(),
            ),
            "count" => read_workload(
                &mut g,
                env,
                name,
                |db, _| orm_count(db, COUNT_COUNTRY),
                |con, _| hand_count(con, COUNT_COUNTRY).unwrap(),
            ),
            "count_indexed" => read_workload(
                &mut g,
                env,
                name,
                |db, _| orm_count_indexed(db, COUNT_COUNTRY),
                |con, _| hand_count_indexed(con, COUNT_COUNTRY).unwrap(),
            ),
            other => unreachable!("{other}"),
        }
        g.finish();
    }
}

fn main() {
    let mut env = setup();
    let mut c = Criterion::default().configure_from_args();
    insert_group(&mut c, &mut env, false);
    insert_group(&mut c, &mut env, true);
    read_groups(&mut c, &mut env);
    c.final_summary();
}
