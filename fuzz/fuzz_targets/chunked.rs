//! `chunked`: a stream of replies fed to `Decoder::decode` in pieces, against one-shot
//! `parse` called repeatedly on the whole stream.
//!
//! Input layout: if the last byte is `0xF0..=0xFF`, its low 4 bits `k` say how many
//! bytes before it are chunk sizes (each 0..=255, used in a cycle); those `k + 1`
//! bytes are cut off and the rest is the stream. Otherwise the whole input is the
//! stream and the chunk sizes cycle through 1, 2, 3, 5, 8, 13 (so seed files of plain
//! RESP work unchanged, split at many places). A chunk of size 0 calls `decode` again
//! with no new bytes.
//!
//! The decoder's buffer grows chunk by chunk; whenever it returns a frame, the used
//! bytes are drained from the front and `decode` is called again on the rest (which
//! may already hold the next reply). The sequence of (frame, used) values, and how the
//! stream ends (an error of some kind, or an incomplete tail), must equal the one-shot
//! sequence. After an error, both stop.
#![no_main]

mod common;

use common::{Outcome, outcome, show};
use libfuzzer_sys::fuzz_target;
use resp_parser::{Decoder, parse};

const DEFAULT_SIZES: [u8; 6] = [1, 2, 3, 5, 8, 13];

fuzz_target!(|input: &[u8]| {
    let (stream, sizes): (&[u8], &[u8]) = match input.last() {
        Some(&last) if last >= 0xF0 && input.len() > (last & 0x0F) as usize => {
            let k = (last & 0x0F) as usize;
            let cut = input.len() - 1 - k;
            (&input[..cut], &input[cut..input.len() - 1])
        }
        _ => (input, &[]),
    };
    let sizes: &[u8] = if sizes.iter().all(|&s| s == 0) { &DEFAULT_SIZES } else { sizes };

    // One-shot: parse the rest of the stream again and again.
    let mut expected = Vec::new();
    let mut pos = 0;
    loop {
        let o = outcome(&parse(&stream[pos..]));
        match &o {
            Outcome::Frame(_, used) => {
                assert!(*used > 0, "parse used 0 bytes");
                pos += used;
                expected.push(o);
            }
            _ => {
                expected.push(o);
                break;
            }
        }
    }

    // Resumable: feed the stream in chunks.
    let mut got = Vec::new();
    let mut decoder = Decoder::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut i = 0;
    let mut failed = false;
    'feed: while fed < stream.len() {
        let n = (sizes[i % sizes.len()] as usize).min(stream.len() - fed);
        i += 1;
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        loop {
            let r = decoder.decode(&buf);
            let o = outcome(&r);
            match o {
                Outcome::Frame(_, used) => {
                    drop(r);
                    got.push(o);
                    buf.drain(..used);
                }
                Outcome::Incomplete => break,
                Outcome::Error(_) => {
                    got.push(o);
                    failed = true;
                    break 'feed;
                }
            }
        }
    }
    if !failed {
        // Everything fed: what is left is an incomplete reply (possibly empty).
        let o = outcome(&decoder.decode(&buf));
        assert_eq!(o, Outcome::Incomplete, "decoder: final call on the tail {} gave {o:?}", show(&buf));
        got.push(o);
    }

    assert_eq!(
        got,
        expected,
        "chunked decoding differs from one-shot parsing\n stream {}\n sizes {:?}",
        show(stream),
        sizes
    );
});
