//! Shared inputs for the stdnet-rs benches.
//!
//! Every parser bench (`benches/parse.rs`) feeds the same bytes, built here, to
//! resp-parser and to each peer, so that a difference in time is a difference in the
//! parser and never in the input. Generators are deterministic: the same call gives the
//! same bytes on every run and every machine.
//!
//! A [`Workload`] is one benchmark input: a byte buffer holding one or more complete
//! replies back to back, as a client's read buffer would hold them, and the number of
//! replies in it.

#![deny(missing_docs)]

use std::fmt::Write as _;
use std::time::Duration;

/// True when the benches should time with the calling thread's CPU clock instead of
/// the wall clock: set `STDNET_BENCH_CLOCK=cpu`.
///
/// On a shared machine (a build or a fuzzer on the other core) the wall clock also
/// counts the time the bench thread waits to be scheduled; the thread's CPU clock does
/// not, so it gives steadier numbers there. On an idle machine the two agree.
pub fn cpu_clock() -> bool {
    std::env::var_os("STDNET_BENCH_CLOCK").is_some_and(|v| v == "cpu")
}

/// CPU time used so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The piece size of the chunked-feed workloads: a socket read of 4 KiB.
pub const CHUNK: usize = 4 * 1024;

/// One benchmark input: complete replies back to back.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The workload's name, used as the criterion group suffix (`parse/<name>`).
    pub name: &'static str,
    /// The wire bytes: exactly `replies` complete replies, nothing before or after.
    pub input: Vec<u8>,
    /// How many replies `input` holds.
    pub replies: usize,
    /// True when the input uses RESP3-only types (peers must use their RESP3 decoder).
    pub resp3: bool,
}

impl Workload {
    fn new(name: &'static str, input: Vec<u8>, replies: usize, resp3: bool) -> Self {
        Workload {
            name,
            input,
            replies,
            resp3,
        }
    }
}

/// Appends a bulk string reply (`$<len>\r\n<payload>\r\n`) to `out`.
pub fn push_bulk(out: &mut Vec<u8>, payload: &[u8]) {
    write!(Wire(out), "${}\r\n", payload.len()).expect("writing to a Vec");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Appends an aggregate header (`<tag><count>\r\n`, e.g. `*3\r\n` or `%2\r\n`) to `out`.
pub fn push_header(out: &mut Vec<u8>, tag: u8, count: usize) {
    out.push(tag);
    write!(Wire(out), "{count}\r\n").expect("writing to a Vec");
}

/// Appends an integer reply (`:<n>\r\n`) to `out`.
pub fn push_integer(out: &mut Vec<u8>, n: i64) {
    write!(Wire(out), ":{n}\r\n").expect("writing to a Vec");
}

/// `fmt::Write` over a byte vector, so replies can be built with `write!`.
struct Wire<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Wire<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// `len` payload bytes: printable ASCII in a repeating, non-trivial pattern (no CR/LF).
pub fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i * 7 + i / 26) % 26) as u8)
        .collect()
}

/// A short value of 10 to 20 bytes, different for each `i`: `item:<i>:` padded with `x`.
pub fn short_value(i: usize) -> Vec<u8> {
    let mut v = format!("item:{i}:").into_bytes();
    let len = 10 + i % 11;
    v.resize(len.max(v.len()), b'x');
    v
}

/// `+OK\r\n` repeated `n` times: the reply to `n` pipelined SETs.
pub fn ok_replies(n: usize) -> Workload {
    Workload::new("ok_x10k", b"+OK\r\n".repeat(n), n, false)
}

/// `n` integer replies with values from 0 to about 10^9 (1 to 10 digits, some
/// negative): the replies to `n` pipelined INCRBYs.
pub fn int_replies(n: usize) -> Workload {
    let mut out = Vec::new();
    for i in 0..n {
        let magnitude = (i as i64 * 2_654_435_761) % 10_i64.pow((i % 10) as u32 + 1);
        push_integer(&mut out, if i % 7 == 3 { -magnitude } else { magnitude });
    }
    Workload::new("int_x10k", out, n, false)
}

/// One bulk reply with a `len`-byte payload: the reply to a GET.
pub fn get_reply(name: &'static str, len: usize) -> Workload {
    let mut out = Vec::with_capacity(len + 16);
    push_bulk(&mut out, &payload(len));
    Workload::new(name, out, 1, false)
}

/// One array of `n` replies alternating between a 16-byte bulk string and `$-1`:
/// the reply to an MGET of `n` keys, half of them missing.
pub fn mget_half_null(n: usize) -> Workload {
    let mut out = Vec::new();
    push_header(&mut out, b'*', n);
    for i in 0..n {
        if i % 2 == 0 {
            push_bulk(&mut out, format!("value:{i:010}").as_bytes());
        } else {
            out.extend_from_slice(b"$-1\r\n");
        }
    }
    Workload::new("mget_100_half_null", out, 1, false)
}

/// One array of `n` bulk strings of 10 to 20 bytes ([`short_value`]): the reply to
/// an LRANGE.
pub fn bulk_array(name: &'static str, n: usize) -> Workload {
    let mut out = Vec::new();
    push_header(&mut out, b'*', n);
    for i in 0..n {
        push_bulk(&mut out, &short_value(i));
    }
    Workload::new(name, out, 1, false)
}

/// One RESP3 map (`%`) of `n` bulk-string fields to bulk-string values: the reply to
/// an HGETALL on a RESP3 connection.
pub fn hgetall_map(n: usize) -> Workload {
    let mut out = Vec::new();
    push_header(&mut out, b'%', n);
    for i in 0..n {
        push_bulk(&mut out, format!("field:{i:03}").as_bytes());
        push_bulk(&mut out, &short_value(i));
    }
    Workload::new("hgetall_resp3_map", out, 1, true)
}

/// `n` mixed RESP2 replies, as a pipeline of different commands returns them. The
/// kinds cycle through `+OK`, `:<n>`, a 10-20 byte bulk string, `$-1`, a 3-element
/// array of bulk strings, and `-ERR ...`.
pub fn pipeline_mixed(n: usize) -> Workload {
    let mut out = Vec::new();
    for i in 0..n {
        match i % 6 {
            0 => out.extend_from_slice(b"+OK\r\n"),
            1 => push_integer(&mut out, i as i64 * 31),
            2 => push_bulk(&mut out, &short_value(i)),
            3 => out.extend_from_slice(b"$-1\r\n"),
            4 => {
                push_header(&mut out, b'*', 3);
                for j in 0..3 {
                    push_bulk(&mut out, &short_value(i + j));
                }
            }
            _ => out.extend_from_slice(
                b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            ),
        }
    }
    Workload::new("pipeline_mixed_1000", out, n, false)
}

/// Every one-shot workload of `benches/parse.rs`, in report order.
pub fn one_shot_workloads() -> Vec<Workload> {
    vec![
        ok_replies(10_000),
        int_replies(10_000),
        get_reply("get_16b", 16),
        get_reply("get_1k", 1024),
        get_reply("get_1m", 1024 * 1024),
        mget_half_null(100),
        bulk_array("lrange_1000", 1000),
        hgetall_map(100),
        pipeline_mixed(1000),
    ]
}

/// The chunked-feed bulk workload: one 1 MiB bulk reply (fed in [`CHUNK`] pieces).
pub fn chunked_bulk() -> Workload {
    get_reply("chunked_bulk_1m_4k", 1024 * 1024)
}

/// The chunked-feed array workload: one array of 100,000 short bulk strings (fed in
/// [`CHUNK`] pieces).
pub fn chunked_array() -> Workload {
    bulk_array("chunked_array_100k_4k", 100_000)
}

/// The lengths of the buffer after each socket read when `total` bytes arrive in
/// `chunk`-byte pieces: `chunk, 2 * chunk, ..., total`.
pub fn feed_lengths(total: usize, chunk: usize) -> impl Iterator<Item = usize> {
    (1..=total.div_ceil(chunk)).map(move |k| (k * chunk).min(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workload holds exactly `replies` complete replies, per resp-parser.
    #[test]
    fn workloads_hold_their_reply_count() {
        let mut all = one_shot_workloads();
        all.push(chunked_bulk());
        all.push(chunked_array());
        for w in all {
            let mut rest = &w.input[..];
            let mut n = 0;
            while !rest.is_empty() {
                let (_, used) = resp_parser::parse(rest)
                    .unwrap_or_else(|e| panic!("{}: {e}", w.name))
                    .unwrap_or_else(|| panic!("{}: incomplete", w.name));
                rest = &rest[used..];
                n += 1;
            }
            assert_eq!(n, w.replies, "{}", w.name);
        }
    }

    #[test]
    fn short_values_are_10_to_20_bytes() {
        for i in [0, 1, 9, 10, 99_999, 123_456] {
            let len = short_value(i).len();
            assert!((10..=20).contains(&len), "{i}: {len}");
        }
    }

    #[test]
    fn feed_lengths_end_at_total() {
        let v: Vec<_> = feed_lengths(10, 4).collect();
        assert_eq!(v, [4, 8, 10]);
    }
}
