//! `parse`: arbitrary bytes into the one-shot parser and the resumable decoder.
//!
//! Checks (any failure is a panic, i.e. a crash report):
//! * no panic, whatever the input;
//! * `Decoder::decode` on the whole input gives what `parse` gives (frame and length,
//!   or incomplete, or an error of the same kind); so do `parse_bytes` and
//!   `Decoder::decode_bytes` (which must split exactly `used` bytes off the buffer);
//! * on `Ok(Some((frame, used)))`: `0 < used <= len`; `parse(&data[..used])` gives the
//!   same; `frame.encode()` parses back to an equal frame using every byte, and is
//!   byte-identical to `data[..used]` unless the reply holds a streamed aggregate
//!   (`*?`, `%?`, ...), which is re-encoded with counts, or two attributes in a row,
//!   which the parser merges into one; `encode_to(BytesMut)` writes
//!   the same bytes; strict prefixes of `data[..used]` (lengths 0, 1, used/2, used-1)
//!   are `Ok(None)`, and a decoder fed such a prefix first then the whole reply gives
//!   the same frame;
//! * on `Ok(None)`: the same prefixes of `data` are `Ok(None)` too;
//! * on `Err(e)`: `e.offset <= len`, and appending bytes never makes the input valid
//!   (the parser reports an error only when no continuation could be valid);
//! * under tiny `Limits`, the result is the default one, or a limit error, or (where
//!   the default result is an error) another error.
#![no_main]

mod common;

use bytes::{Bytes, BytesMut};
use common::{Outcome, is_limit, outcome, owned, owned_from, show};
use libfuzzer_sys::fuzz_target;
use resp_parser::{Decoder, Limits, parse, parse_bytes, parse_with};

const TINY: Limits = Limits {
    max_depth: 3,
    max_bulk_len: 8,
    max_elements: 4,
    max_line_len: 8,
};

fuzz_target!(|data: &[u8]| {
    let one = parse(data);
    let expected = outcome(&one);

    // The resumable decoder, all bytes at once.
    let mut decoder = Decoder::new();
    let got = outcome(&decoder.decode(data));
    assert_eq!(got, expected, "Decoder::decode != parse on {}", show(data));
    assert!(!decoder.in_progress() || expected == Outcome::Incomplete);

    // The `Bytes` flavours.
    let shared = Bytes::copy_from_slice(data);
    let got = match parse_bytes(&shared) {
        Ok(Some((f, used))) => Outcome::Frame(owned_from(f), used),
        Ok(None) => Outcome::Incomplete,
        Err(e) => Outcome::Error(e.kind),
    };
    assert_eq!(got, expected, "parse_bytes != parse on {}", show(data));
    let mut buf = BytesMut::from(data);
    let got = match Decoder::new().decode_bytes(&mut buf) {
        Ok(Some(f)) => {
            let used = data.len() - buf.len();
            assert_eq!(&buf[..], &data[used..], "decode_bytes left the wrong bytes");
            Outcome::Frame(owned_from(f), used)
        }
        Ok(None) => {
            assert_eq!(&buf[..], data, "decode_bytes consumed bytes of an incomplete reply");
            Outcome::Incomplete
        }
        Err(e) => Outcome::Error(e.kind),
    };
    assert_eq!(got, expected, "Decoder::decode_bytes != parse on {}", show(data));

    // Tiny limits only ever turn a result into a limit error.
    let tiny = outcome(&parse_with(data, &TINY));
    match (&tiny, &expected) {
        (a, b) if a == b => {}
        (Outcome::Error(k), _) if is_limit(*k) => {}
        (Outcome::Error(_), Outcome::Error(_)) => {}
        _ => panic!("tiny limits gave {tiny:?}, default gave {expected:?} on {}", show(data)),
    }

    match one {
        Ok(Some((frame, used))) => {
            assert!(used > 0 && used <= data.len(), "used {used} of {} bytes", data.len());
            let reply = &data[..used];

            // The reply alone parses the same: the frame does not depend on what follows.
            assert_eq!(
                outcome(&parse(reply)),
                Outcome::Frame(owned(&frame), used),
                "reply parsed alone differs on {}",
                show(data)
            );

            // Round trip through the encoder.
            let mut v = Vec::new();
            frame.encode(&mut v);
            match parse(&v) {
                Ok(Some((frame2, n))) => {
                    assert_eq!(n, v.len(), "re-encoded reply: used {n} of {} bytes: {}", v.len(), show(&v));
                    assert_eq!(frame2, frame, "re-encoded reply parses to another frame: {}", show(&v));
                }
                other => panic!(
                    "re-encoded reply {} does not parse: {other:?} (input {})",
                    show(&v),
                    show(data)
                ),
            }
            // Exempt: streamed aggregates (re-encoded with counts), and consecutive
            // attributes, which the parser merges into one (`|1..|1..x` encodes as `|2..x`).
            if v != reply {
                assert!(
                    reply.windows(3).any(|w| w == b"?\r\n")
                        || reply.iter().filter(|&&b| b == b'|').count() >= 2,
                    "encode() is not byte-identical to the input:\n input   {}\n encoded {}",
                    show(reply),
                    show(&v)
                );
            }
            let mut bm = BytesMut::new();
            frame.encode_to(&mut bm);
            assert_eq!(&bm[..], &v[..], "encode_to(BytesMut) != encode(Vec)");

            // Strict prefixes are incomplete, and a decoder resumed from one finishes the job.
            for p in prefixes(used) {
                let r = parse(&reply[..p]);
                assert!(
                    matches!(r, Ok(None)),
                    "prefix of {p} bytes of a valid reply gave {r:?}: {}",
                    show(reply)
                );
                let mut d = Decoder::new();
                let first = d.decode(&reply[..p]);
                assert!(matches!(first, Ok(None)), "decoder on prefix {p} gave {first:?}");
                let second = outcome(&d.decode(data));
                assert_eq!(
                    second,
                    Outcome::Frame(owned(&frame), used),
                    "decoder resumed after {p} bytes differs on {}",
                    show(data)
                );
            }
        }
        Ok(None) => {
            for p in prefixes(data.len()) {
                let r = parse(&data[..p]);
                assert!(matches!(r, Ok(None)), "prefix {p} of an incomplete input gave {r:?}: {}", show(data));
            }
        }
        Err(e) => {
            assert!(e.offset <= data.len(), "error offset {} past the input ({} bytes)", e.offset, data.len());
            for tail in [&b"\r\n"[..], b"0\r\n\r\n:1\r\n+OK\r\n", b"\n"] {
                let mut longer = data.to_vec();
                longer.extend_from_slice(tail);
                let r = parse(&longer);
                assert!(
                    r.is_err(),
                    "input {} is an error ({:?}) but with {} appended gives {:?}",
                    show(data),
                    e,
                    show(tail),
                    outcome(&r)
                );
            }
        }
    }
});

/// A few strict prefix lengths of an `n`-byte input: 0, 1, n/2 and n-1.
fn prefixes(n: usize) -> impl Iterator<Item = usize> {
    let mut v = [0, 1, n / 2, n.saturating_sub(1)];
    v.sort_unstable();
    let mut last = usize::MAX;
    v.into_iter().filter(move |&p| {
        let keep = p < n && p != last;
        last = p;
        keep
    })
}
