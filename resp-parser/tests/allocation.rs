//! The parser's promise that it "allocates nothing that the input's actual size does
//! not justify", measured: this test binary counts every byte allocated through a
//! global allocator, and feeds hostile inputs (length and count prefixes that announce
//! far more than follows, nested hundreds of levels deep) to `parse`, `parse_with` and
//! the `Decoder` (whole and in pieces).
//!
//! The bound: while one reply is parsed, the heap in use grows by at most
//! [`BOUND`]'s 48 bytes per input byte plus its slack. A frame is 32 bytes and the
//! smallest value takes 3 bytes of input, so the slots that the aggregates of a reply
//! reserve cost at most about 11 bytes per input byte (the parser's budget), and the
//! values actually read cost as much again, three times over while a `Vec` that
//! outgrew its reservation doubles (old and new buffer are both live during the
//! copy): about 43 bytes per byte in the worst case. The slack covers the stack of
//! open aggregates, at most 512 entries (the default depth limit) of 144 bytes, with
//! its own doubling. Measured: 11.7 bytes per byte for 511 nested `*4294967295`
//! (before the shared budget: over 5,000), 34 for the worst shape found (a chain of
//! aggregates that take the budget, then an attribute that grows by doubling).
//!
//! Peaks are process-wide: `peak_during` takes a lock, so measurements run one at a time.

use resp_parser::{Frame, Limits, parse, parse_with};
use stdnet_test_support::peak::{PeakAlloc, assert_none, peak_during, serial};

mod common;
use common::{BOUND, decode_in_pieces};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// `header` repeated `levels` times, then a bulk string header announcing more than
/// follows, then payload bytes up to `total` bytes in all: a reply that can never
/// complete within the bytes present, and whose every header announces billions of
/// elements.
fn nested(header: &[u8], levels: usize, total: usize) -> Vec<u8> {
    let mut input = header.repeat(levels);
    input.extend_from_slice(b"$1000000\r\n");
    input.resize(total, b'x');
    input
}

/// The hostile inputs, each with a name for the failure message.
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    const TOTAL: usize = 68 * 1024;
    let mut flat_tail = b"*4294967295\r\n".to_vec();
    while flat_tail.len() < TOTAL {
        flat_tail.extend_from_slice(b":1\r\n");
    }
    let mut mixed = Vec::new();
    for header in [
        &b"*4294967295\r\n"[..],
        b"%4294967295\r\n",
        b"~4294967295\r\n",
    ]
    .iter()
    .cycle()
    .take(300)
    {
        mixed.extend_from_slice(header);
    }
    mixed.extend_from_slice(b"|4294967295\r\n");
    while mixed.len() < TOTAL {
        mixed.extend_from_slice(b"_\r\n");
    }
    vec![
        (
            "511 nested *4294967295",
            nested(b"*4294967295\r\n", 511, TOTAL),
        ),
        (
            "511 nested %4294967295",
            nested(b"%4294967295\r\n", 511, TOTAL),
        ),
        (
            "511 nested >4294967295",
            nested(b">4294967295\r\n", 511, TOTAL),
        ),
        ("511 nested *?", nested(b"*?\r\n", 511, TOTAL)),
        ("*, % and ~ nested, then an attribute", mixed),
        ("a bare $536870912", b"$536870912\r\n".to_vec()),
        ("*4294967295 of integers, cut short", flat_tail),
        (
            "a deep chain of *1 (the largest stack per byte)",
            nested(b"*1\r\n", 511, 4 * 511 + 16),
        ),
    ]
}

#[test]
fn parse_allocates_at_most_a_small_multiple_of_its_input() {
    let _serial = serial();
    let mut failures = Vec::new();
    for (what, input) in hostile() {
        let (result, peak) = peak_during(|| parse(&input).map(|r| r.is_some()));
        assert_eq!(result, Ok(false), "{what}: incomplete, not an error");
        BOUND.check(&mut failures, &format!("parse, {what}"), input.len(), peak);
    }
    assert_none(&failures);
}

#[test]
fn parse_with_high_limits_allocates_no_more() {
    let _serial = serial();
    let mut failures = Vec::new();
    let limits = Limits {
        max_elements: usize::MAX >> 1,
        max_bulk_len: usize::MAX >> 1,
        ..Limits::DEFAULT
    };
    for (what, input) in hostile() {
        let (result, peak) = peak_during(|| parse_with(&input, &limits).map(|r| r.is_some()));
        assert_eq!(result, Ok(false), "{what}");
        BOUND.check(
            &mut failures,
            &format!("parse_with, {what}"),
            input.len(),
            peak,
        );
    }
    assert_none(&failures);
}

#[test]
fn the_decoder_allocates_at_most_a_small_multiple_of_what_it_was_given() {
    let _serial = serial();
    let mut failures = Vec::new();
    for (what, input) in hostile() {
        for piece in [input.len(), 4096, 7] {
            let (used, peak) = decode_in_pieces(&input, piece);
            assert_eq!(used, None, "{what}: incomplete");
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
fn a_whole_reply_still_gets_exactly_sized_aggregates() {
    let _serial = serial();
    // 500 nested arrays of two elements each, the last a large array of integers: the
    // budget never runs out for a reply that is all there, so nothing regrows.
    let mut input = b"*2\r\n:0\r\n".repeat(500);
    input.extend_from_slice(b"*1000\r\n");
    input.extend_from_slice(&b":7\r\n".repeat(1000));
    let (frame, _) = parse(&input).unwrap().unwrap();
    let mut level = &frame;
    for _ in 0..500 {
        let Frame::Array(items) = level else {
            panic!("expected an array")
        };
        assert_eq!((items.len(), items.capacity()), (2, 2));
        level = &items[1];
    }
    let Frame::Array(items) = level else {
        panic!("expected an array")
    };
    assert_eq!((items.len(), items.capacity()), (1000, 1000));
}
