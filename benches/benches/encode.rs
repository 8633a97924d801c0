//! Command encoding: resp-parser against redis-rs.
//!
//! Group `encode/command`, function ids `resp-parser` and `redis-rs`, parameter the
//! command. Each iteration writes one command into a `Vec<u8>` that is cleared and
//! reused, as a connection's write buffer is:
//!
//! * `set_16b`: `SET key:000123 <16-byte value>`.
//! * `hset_10`: `HSET user:000123` with 10 field/value pairs (fields of 6 to 7 bytes,
//!   values of 10 to 20 bytes).
//!
//! `resp-parser` writes the arguments straight into the buffer (`command!` for SET,
//! `write_command_header` + `ToArg::write_arg` for HSET's pairs). `redis-rs` builds a
//! `redis::Cmd` with `cmd(..).arg(..)` and packs it with `write_packed_command`, which is
//! what its connections do for every request; `redis-rs-pack-only` packs a `Cmd` built
//! once, outside the timed loop, to show the packing cost alone.
//!
//! Before timing, both encoders' bytes are checked to be identical.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::run;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use resp_parser::encode::{ToArg, write_command_header};

const KEY: &str = "key:000123";
const VALUE: &[u8; 16] = b"0123456789abcdef";
const HASH_KEY: &str = "user:000123";

fn hset_pairs() -> Vec<(String, Vec<u8>)> {
    (0..10)
        .map(|i| (format!("field{i}"), stdnet_benches::short_value(i)))
        .collect()
}

fn set_resp_parser(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    resp_parser::command!(out; "SET", key, value);
}

fn set_redis_rs(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .write_packed_command(out);
}

fn hset_resp_parser(out: &mut Vec<u8>, key: &str, pairs: &[(String, Vec<u8>)]) {
    write_command_header(out, 2 + 2 * pairs.len());
    "HSET".write_arg(out);
    key.write_arg(out);
    for (field, value) in pairs {
        field.write_arg(out);
        value.write_arg(out);
    }
}

fn hset_cmd(key: &str, pairs: &[(String, Vec<u8>)]) -> redis::Cmd {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(key);
    for (field, value) in pairs {
        cmd.arg(field).arg(value);
    }
    cmd
}

fn hset_redis_rs(out: &mut Vec<u8>, key: &str, pairs: &[(String, Vec<u8>)]) {
    hset_cmd(key, pairs).write_packed_command(out);
}

fn encode_benches(c: &mut Criterion) {
    let pairs = hset_pairs();
    let mut out = Vec::with_capacity(4096);

    // Both encoders must write the same bytes.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    set_resp_parser(&mut a, KEY, VALUE);
    set_redis_rs(&mut b, KEY, VALUE);
    assert_eq!(a, b, "SET encodings differ");
    a.clear();
    b.clear();
    hset_resp_parser(&mut a, HASH_KEY, &pairs);
    hset_redis_rs(&mut b, HASH_KEY, &pairs);
    assert_eq!(a, b, "HSET encodings differ");

    let mut g = c.benchmark_group("encode/command");
    g.throughput(Throughput::Elements(1));

    g.bench_function(BenchmarkId::new("resp-parser", "set_16b"), |b| {
        run(b, || {
            out.clear();
            set_resp_parser(&mut out, black_box(KEY), black_box(VALUE));
            black_box(&out);
        })
    });
    g.bench_function(BenchmarkId::new("redis-rs", "set_16b"), |b| {
        run(b, || {
            out.clear();
            set_redis_rs(&mut out, black_box(KEY), black_box(VALUE));
            black_box(&out);
        })
    });
    let set_cmd = redis::cmd("SET").arg(KEY).arg(VALUE).clone();
    g.bench_function(BenchmarkId::new("redis-rs-pack-only", "set_16b"), |b| {
        run(b, || {
            out.clear();
            black_box(&set_cmd).write_packed_command(&mut out);
            black_box(&out);
        })
    });

    g.bench_function(BenchmarkId::new("resp-parser", "hset_10"), |b| {
        run(b, || {
            out.clear();
            hset_resp_parser(&mut out, black_box(HASH_KEY), black_box(&pairs));
            black_box(&out);
        })
    });
    g.bench_function(BenchmarkId::new("redis-rs", "hset_10"), |b| {
        run(b, || {
            out.clear();
            hset_redis_rs(&mut out, black_box(HASH_KEY), black_box(&pairs));
            black_box(&out);
        })
    });
    let hset = hset_cmd(HASH_KEY, &pairs);
    g.bench_function(BenchmarkId::new("redis-rs-pack-only", "hset_10"), |b| {
        run(b, || {
            out.clear();
            black_box(&hset).write_packed_command(&mut out);
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = encode_benches
}
criterion_main!(benches);
