//! What the parser's allocation tests share: the documented bound, and a reply fed
//! to the `Decoder` in pieces under the counting allocator.

use resp_parser::Decoder;
use stdnet_test_support::peak::{Bound, peak_during};

/// The documented bound: 48 heap bytes per input byte, plus 128 KiB for the stack of
/// open aggregates at the default depth limit (512 levels of 144 bytes, doubling).
pub const BOUND: Bound = Bound {
    per_byte: 48,
    slack: 128 * 1024,
};

/// Feeds `input` to a new `Decoder` in pieces of `piece` bytes, appended to one
/// buffer (made before measuring: it is the caller's), and returns how many bytes the
/// reply used if it completed, with the peak heap growth while decoding.
pub fn decode_in_pieces(input: &[u8], piece: usize) -> (Option<usize>, usize) {
    let mut buf = Vec::with_capacity(input.len());
    let mut decoder = Decoder::new();
    peak_during(|| {
        for chunk in input.chunks(piece) {
            buf.extend_from_slice(chunk);
            if let Some((_, used)) = decoder.decode(&buf).unwrap() {
                return Some(used);
            }
        }
        None
    })
}
