//! Reply parsing: resp-parser against redis-protocol, resp-rs and redis-rs.
//!
//! Every group `parse/<workload>` feeds the same bytes (from `stdnet_benches`) to each
//! parser, which parses reply after reply until the buffer is consumed, as a client
//! does with its read buffer, and passes every frame to `black_box`. Throughput is in
//! replies. The first time an id runs, its result is checked: it must
//! return exactly the workload's number of replies and use every byte.
//!
//! Each peer runs through the fastest API it offers that a client can use on bytes
//! from a socket (see benches/README.md for the choice):
//!
//! * `resp-parser`: `resp_parser::parse` (borrowed `Frame<'_>`); `Decoder::decode` when fed
//!   in pieces.
//! * `redis-protocol`: `resp2::decode::decode_range` (RESP3 input:
//!   `resp3::decode::complete::decode_range`), frames of ranges into the buffer.
//! * `resp-rs`: `resp2::parse_frame` / `resp3::parse_frame` on a `Bytes` buffer.
//! * `redis-rs`: `redis::ValueCodec`, the resumable decoder behind its async connections
//!   (into `redis::Value`).
//!
//! The chunked groups simulate a socket reader: the buffer grows by 4 KiB and after each
//! read the parser is asked for a reply. resp-parser keeps its progress in a `Decoder`;
//! redis-rs's codec is resumable too; redis-protocol and resp-rs have no resumable
//! decoder, so they parse the whole buffer again after each read, which is what their
//! APIs offer. `resp-parser-one-shot` parses the complete buffer once and
//! `resp-parser-reparse` re-runs the stateless `parse` after each read like the peers.

mod common;

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{run, run_batched};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use stdnet_benches::{CHUNK, Workload, feed_lengths};
use tokio_util::codec::Decoder as _;

// --- one reply after another from a complete buffer -----------------------------------

fn resp_parser_all(input: &[u8]) -> usize {
    let mut rest = input;
    let mut n = 0;
    while !rest.is_empty() {
        let (frame, used) = resp_parser::parse(rest)
            .expect("valid reply")
            .expect("complete reply");
        black_box(frame);
        rest = &rest[used..];
        n += 1;
    }
    n
}

fn redis_protocol_all(input: &[u8], resp3: bool) -> usize {
    let mut rest = input;
    let mut n = 0;
    while !rest.is_empty() {
        let used = if resp3 {
            let (frame, used) = redis_protocol::resp3::decode::complete::decode_range(rest)
                .expect("valid reply")
                .expect("complete reply");
            black_box(frame);
            used
        } else {
            let (frame, used) = redis_protocol::resp2::decode::decode_range(rest)
                .expect("valid reply")
                .expect("complete reply");
            black_box(frame);
            used
        };
        rest = &rest[used..];
        n += 1;
    }
    n
}

fn resp_rs_all(input: &Bytes, resp3: bool) -> usize {
    let mut rest = input.clone();
    let mut n = 0;
    while !rest.is_empty() {
        rest = if resp3 {
            let (frame, rest) = resp_rs::resp3::parse_frame(rest).expect("complete reply");
            black_box(frame);
            rest
        } else {
            let (frame, rest) = resp_rs::resp2::parse_frame(rest).expect("complete reply");
            black_box(frame);
            rest
        };
        n += 1;
    }
    n
}

/// redis-rs through `ValueCodec`: the caller's read buffer is a `BytesMut`, which the
/// codec advances past each reply.
fn redis_rs_all(codec: &mut redis::ValueCodec, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        let value = codec
            .decode(buf)
            .expect("valid reply")
            .expect("complete reply");
        black_box(value);
        n += 1;
    }
    n
}

/// Runs `parse_all` once, the first time a bench's closure is called, and checks that
/// it returned `replies` replies (each `*_all` function also checks that every byte was
/// used).
fn check_once(done: &mut bool, parse_all: impl FnOnce() -> usize, replies: usize) {
    if !*done {
        assert_eq!(parse_all(), replies, "wrong number of replies");
        *done = true;
    }
}

fn one_shot(c: &mut Criterion, w: &Workload) {
    let input = &w.input[..];
    let shared = Bytes::copy_from_slice(input);
    let mut codec = redis::ValueCodec::default();
    let mut checked = [false; 4];

    // Each parser must return every reply and use every byte before it is timed. The
    // check runs inside the closure, so a filtered-out id costs nothing.
    let mut g = c.benchmark_group(format!("parse/{}", w.name));
    g.throughput(Throughput::Elements(w.replies as u64));
    g.bench_function("resp-parser", |b| {
        check_once(&mut checked[0], || resp_parser_all(input), w.replies);
        run(b, || resp_parser_all(black_box(input)))
    });
    g.bench_function("redis-protocol", |b| {
        check_once(
            &mut checked[1],
            || redis_protocol_all(input, w.resp3),
            w.replies,
        );
        run(b, || redis_protocol_all(black_box(input), w.resp3))
    });
    g.bench_function("resp-rs", |b| {
        check_once(&mut checked[2], || resp_rs_all(&shared, w.resp3), w.replies);
        run(b, || resp_rs_all(black_box(&shared), w.resp3))
    });
    g.bench_function("redis-rs", |b| {
        check_once(
            &mut checked[3],
            || redis_rs_all(&mut codec, &mut BytesMut::from(input)),
            w.replies,
        );
        run_batched(
            b,
            input.len(),
            || BytesMut::from(input),
            |buf| redis_rs_all(&mut codec, buf),
        )
    });
    g.finish();
}

// --- one reply fed in 4 KiB pieces ----------------------------------------------------
//
// The socket read itself is not simulated by a copy: after the k-th read the parser is
// handed the first `k * CHUNK` bytes of the reply, a view of one buffer, as if the
// socket had read into a preallocated buffer. Only redis-rs's codec, which consumes the
// `BytesMut` it is given, needs its bytes appended (about 1 MiB of `memcpy` per reply
// for the bulk workload, a few percent of its time).

fn chunked_resp_parser(decoder: &mut resp_parser::Decoder, input: &[u8]) -> usize {
    let mut n = 0;
    for end in feed_lengths(input.len(), CHUNK) {
        if let Some((frame, used)) = decoder.decode(&input[..end]).expect("valid reply") {
            black_box(frame);
            assert_eq!(used, input.len());
            n += 1;
        }
    }
    n
}

fn chunked_resp_parser_reparse(input: &[u8]) -> usize {
    let mut n = 0;
    for end in feed_lengths(input.len(), CHUNK) {
        if let Some((frame, used)) = resp_parser::parse(&input[..end]).expect("valid reply") {
            black_box(frame);
            assert_eq!(used, input.len());
            n += 1;
        }
    }
    n
}

fn chunked_redis_protocol(input: &[u8]) -> usize {
    let mut n = 0;
    for end in feed_lengths(input.len(), CHUNK) {
        if let Some((frame, used)) =
            redis_protocol::resp2::decode::decode_range(&input[..end]).expect("valid reply")
        {
            black_box(frame);
            assert_eq!(used, input.len());
            n += 1;
        }
    }
    n
}

/// resp-rs parses a `Bytes`: a zero-copy `slice` of the first `end` bytes.
fn chunked_resp_rs(shared: &Bytes) -> usize {
    let mut n = 0;
    for end in feed_lengths(shared.len(), CHUNK) {
        match resp_rs::resp2::parse_frame(shared.slice(..end)) {
            Ok((frame, rest)) => {
                black_box(frame);
                assert!(rest.is_empty());
                n += 1;
            }
            Err(resp_rs::ParseError::Incomplete) => {}
            Err(e) => panic!("resp-rs: {e}"),
        }
    }
    n
}

/// redis-rs's codec resumes where it stopped and advances the buffer past what it has
/// consumed, so each read appends its piece to a reused `BytesMut`.
fn chunked_redis_rs(codec: &mut redis::ValueCodec, buf: &mut BytesMut, input: &[u8]) -> usize {
    buf.clear();
    let mut n = 0;
    let mut fed = 0;
    for end in feed_lengths(input.len(), CHUNK) {
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        if let Some(value) = codec.decode(buf).expect("valid reply") {
            black_box(value);
            n += 1;
        }
    }
    assert!(buf.is_empty());
    n
}

fn chunked(c: &mut Criterion, w: &Workload) {
    let input = &w.input[..];
    let shared = Bytes::copy_from_slice(input);
    let mut decoder = resp_parser::Decoder::new();
    let mut bytes_buf = BytesMut::with_capacity(input.len());
    let mut codec = redis::ValueCodec::default();

    let mut checked = [false; 6];

    let mut g = c.benchmark_group(format!("parse/{}", w.name));
    g.throughput(Throughput::Elements(w.replies as u64));
    // Some peers take a large fraction of a second per reply here: flat sampling keeps
    // the run short (criterion's default linear sampling needs 55 iterations).
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    g.bench_function("resp-parser", |b| {
        check_once(
            &mut checked[0],
            || chunked_resp_parser(&mut decoder, input),
            1,
        );
        run(b, || chunked_resp_parser(&mut decoder, black_box(input)))
    });
    g.bench_function("resp-parser-one-shot", |b| {
        check_once(&mut checked[1], || resp_parser_all(input), 1);
        run(b, || resp_parser_all(black_box(input)))
    });
    g.bench_function("resp-parser-reparse", |b| {
        check_once(&mut checked[2], || chunked_resp_parser_reparse(input), 1);
        run(b, || chunked_resp_parser_reparse(black_box(input)))
    });
    g.bench_function("redis-protocol", |b| {
        check_once(&mut checked[3], || chunked_redis_protocol(input), 1);
        run(b, || chunked_redis_protocol(black_box(input)))
    });
    g.bench_function("resp-rs", |b| {
        check_once(&mut checked[4], || chunked_resp_rs(&shared), 1);
        run(b, || chunked_resp_rs(black_box(&shared)))
    });
    g.bench_function("redis-rs", |b| {
        check_once(
            &mut checked[5],
            || chunked_redis_rs(&mut codec, &mut bytes_buf, input),
            1,
        );
        run(b, || {
            chunked_redis_rs(&mut codec, &mut bytes_buf, black_box(input))
        })
    });
    g.finish();
}

fn parse_benches(c: &mut Criterion) {
    for w in stdnet_benches::one_shot_workloads() {
        one_shot(c, &w);
    }
    chunked(c, &stdnet_benches::chunked_bulk());
    chunked(c, &stdnet_benches::chunked_array());
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = parse_benches
}
criterion_main!(benches);
