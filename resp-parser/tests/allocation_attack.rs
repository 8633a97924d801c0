//! An outside attack on the parser's memory bound (48 bytes of heap per input byte,
//! plus the stack of open aggregates): shapes that `tests/allocation.rs` does not
//! try. Streamed maps of tiny pairs (whose `Vec`s start at four 64-byte slots),
//! attributes on every element, nested streamed aggregates that never end, many
//! small replies in one buffer, the `Decoder` fed one byte at a time, and replies at
//! exactly the limits (a 512 MiB bulk length, 512 levels), whose breach must be a
//! typed error naming the offset.
//!
//! Peaks are process-wide: `peak_during` takes a lock, so measurements run one at a
//! time; and each test holds [`serial`] throughout, so that no other test's setup
//! allocates during a measurement (that alone showed 100 bytes per byte).

use resp_parser::{Decoder, ErrorKind, parse};
use stdnet_test_support::peak::{PeakAlloc, assert_none, peak_during, serial};

mod common;
use common::{BOUND, decode_in_pieces};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const TOTAL: usize = 64 * 1024;

/// `head`, then `item` repeated up to about `TOTAL` bytes, then `tail`.
fn repeat(head: &[u8], item: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut input = head.to_vec();
    while input.len() + item.len() <= TOTAL {
        input.extend_from_slice(item);
    }
    input.extend_from_slice(tail);
    input
}

/// Hostile inputs, complete (`true`) or not.
fn hostile() -> Vec<(&'static str, Vec<u8>, bool)> {
    vec![
        (
            "a streamed array of tiny streamed maps",
            repeat(b"*?\r\n", b"%?\r\n_\r\n_\r\n.\r\n", b".\r\n"),
            true,
        ),
        (
            "a streamed array of tiny streamed sets, never ended",
            repeat(b"*?\r\n", b"~?\r\n_\r\n.\r\n", b""),
            false,
        ),
        (
            "an attribute on every element",
            repeat(b"*?\r\n", b"|1\r\n_\r\n_\r\n_\r\n", b".\r\n"),
            true,
        ),
        (
            "an empty attribute on every element",
            repeat(b"*?\r\n", b"|0\r\n_\r\n", b".\r\n"),
            true,
        ),
        (
            "attributes piling up on one value",
            repeat(b"*1\r\n", b"|1\r\n_\r\n_\r\n", b""),
            false,
        ),
        (
            "verbatim strings and big numbers in a huge map",
            repeat(b"%4294967295\r\n", b"=4\r\ntxt:\r\n(1\r\n", b""),
            false,
        ),
        (
            "streamed strings of one-byte chunks",
            repeat(b"*?\r\n", b"$?\r\n;1\r\nx\r\n;0\r\n", b".\r\n"),
            true,
        ),
        (
            "pushes and maps of huge counts, alternating, 511 deep",
            {
                let mut input = b">4294967295\r\n%4294967295\r\n".repeat(255);
                input.extend_from_slice(b"*4294967295\r\n");
                while input.len() < TOTAL {
                    input.extend_from_slice(b"_\r\n");
                }
                input
            },
            false,
        ),
    ]
}

#[test]
fn parse_stays_within_the_bound_on_every_shape() {
    let _serial = serial();
    let mut failures = Vec::new();
    for (what, input, complete) in hostile() {
        let (result, peak) = peak_during(|| parse(&input).map(|r| r.map(|(_, used)| used)));
        let expected = complete.then_some(input.len());
        assert_eq!(result, Ok(expected), "{what}");
        BOUND.check(&mut failures, &format!("parse, {what}"), input.len(), peak);
    }
    assert_none(&failures);
}

#[test]
fn the_decoder_stays_within_the_bound_in_pieces_and_byte_by_byte() {
    let _serial = serial();
    let mut failures = Vec::new();
    for (what, input, complete) in hostile() {
        for piece in [1, 3, 4096] {
            let (used, peak) = decode_in_pieces(&input, piece);
            assert_eq!(
                used,
                complete.then_some(input.len()),
                "{what}, pieces of {piece}"
            );
            BOUND.check(
                &mut failures,
                &format!("Decoder in pieces of {piece}, {what}"),
                input.len(),
                peak,
            );
        }
    }
    assert_none(&failures);
}

#[test]
fn many_small_replies_in_one_buffer_cost_each_its_own() {
    let _serial = serial();
    // A connection's buffer holding thousands of replies: each parse sees the whole
    // rest of the buffer, and must not reserve for it.
    let mut input = b"*2\r\n_\r\n_\r\n".repeat(4096);
    input.extend_from_slice(b"*4294967295\r\n");
    let (count, peak) = peak_during(|| {
        let (mut at, mut count) = (0, 0);
        while let Ok(Some((frame, used))) = parse(&input[at..]) {
            drop(frame);
            at += used;
            count += 1;
        }
        count
    });
    assert_eq!(count, 4096);
    // One reply at a time is live (2 frames): the peak does not grow with the buffer.
    assert!(
        peak < 4096,
        "{peak} bytes at the peak for replies of 10 bytes"
    );
}

#[test]
fn replies_exactly_at_the_limits_are_accepted_and_one_past_is_a_typed_error() {
    let _serial = serial();
    // 512 MiB announced: incomplete, nothing reserved; one more byte: refused at the
    // length, offset 1.
    let (r, peak) = peak_during(|| parse(b"$536870912\r\n").map(|r| r.is_some()));
    assert_eq!(r, Ok(false));
    assert!(peak < 1024, "{peak} bytes for a bare 512 MiB header");
    let e = parse(b"$536870913\r\n").unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::BulkTooLong, 1));
    // The same inside a streamed string and a verbatim string.
    let e = parse(b"$?\r\n;536870913\r\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::BulkTooLong);
    let e = parse(b"*1\r\n=536870913\r\n").unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::BulkTooLong, 5));
    // 512 levels: parsed; 513: refused where the 513th opens, in parse and Decoder.
    let mut deep = b"*1\r\n".repeat(512);
    deep.extend_from_slice(b":1\r\n");
    assert_eq!(parse(&deep).unwrap().map(|(_, n)| n), Some(deep.len()));
    let mut deeper = b"*1\r\n".repeat(513);
    deeper.extend_from_slice(b":1\r\n");
    let e = parse(&deeper).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::DepthLimit, 512 * 4));
    for piece in [1, 5, deeper.len()] {
        let mut decoder = Decoder::new();
        let mut buf = Vec::new();
        let mut got = None;
        for chunk in deeper.chunks(piece) {
            buf.extend_from_slice(chunk);
            match decoder.decode(&buf) {
                Ok(Some(_)) => panic!("513 levels accepted"),
                Ok(None) => {}
                Err(e) => {
                    got = Some(e);
                    break;
                }
            }
        }
        let e = got.expect("513 levels never refused");
        assert_eq!(
            (e.kind, e.offset),
            (ErrorKind::DepthLimit, 512 * 4),
            "{piece}"
        );
    }
    // Mixed kinds at depth 513 (streamed, maps, attributes, pushes).
    let mut mixed = Vec::new();
    for h in [&b"*?\r\n"[..], b"%1\r\n_\r\n", b"~?\r\n", b">1\r\n"]
        .iter()
        .cycle()
        .take(513)
    {
        mixed.extend_from_slice(h);
    }
    let e = parse(&mixed).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DepthLimit);
}
