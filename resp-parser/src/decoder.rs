//! A resumable decoder for replies that arrive in pieces.
//!
//! [`parse`](crate::parse) is stateless: given part of a reply it answers "incomplete",
//! and the next call starts again from the first byte. For a 100k-element array read
//! in 4 KiB pieces that is quadratic. A [`Decoder`] instead keeps what it has read so
//! far (the open aggregates and the values completed inside them) and, on the next
//! call, continues from the last value boundary it reached. Feeding a reply in pieces
//! of any size therefore costs about what one call on the whole reply costs, plus a
//! final pass that turns the recorded positions into slices (done in place, without a
//! second allocation per aggregate).
//!
//! # Contract
//!
//! Each call to [`Decoder::decode`] passes every byte received so far for the current
//! reply, starting at its first byte: the same bytes as the previous call, plus any
//! that arrived since. The buffer may move or be reallocated between calls, as a
//! growing `Vec` does; only its contents matter. When a reply is complete the decoder
//! returns it with its length and resets; the caller drops that many bytes from the
//! front of its buffer and calls again for the next reply. After an error the decoder
//! also resets; the connection's byte stream is then unusable and should be closed.
//!
//! Passing different bytes than before, without calling [`Decoder::reset`], gives
//! wrong frames or errors (never a panic or undefined behaviour).

use crate::error::ParseError;
use crate::frame::{Frame, GenericFrame};
use crate::limits::Limits;
use crate::parse::{Machine, Span, pending_payload_end};
use crate::scalar::Stop;

/// Parses replies that arrive in pieces, keeping its progress between calls.
///
/// ```
/// use resp_parser::{Decoder, Frame};
///
/// let reply = b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n";
/// let mut decoder = Decoder::new();
/// let mut buf = Vec::new();
/// let mut frames = Vec::new();
/// for piece in reply.chunks(4) {
///     buf.extend_from_slice(piece); // e.g. bytes read from a socket
///     if let Some((frame, used)) = decoder.decode(&buf).unwrap() {
///         frames.push(format!("{frame}"));
///         buf.drain(..used);
///     }
/// }
/// assert_eq!(frames, ["[\"hello\", \"world\"]"]);
/// ```
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    machine: Machine<Span>,
    /// How many bytes the reply needs before the machine can make progress: set while
    /// a bulk payload is arriving, so that each new piece of a large value costs one
    /// comparison instead of a walk back into the machine.
    need: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub const fn new() -> Self {
        Decoder::with_limits(Limits::DEFAULT)
    }

    /// A decoder with the given [`Limits`].
    pub const fn with_limits(limits: Limits) -> Self {
        Decoder {
            limits,
            machine: Machine::new(),
            need: 0,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Continues decoding the reply at the start of `buf`.
    ///
    /// Returns `Ok(None)` while the reply is incomplete, and `Ok(Some((frame, used)))`
    /// once it is whole: `used` is its length in bytes. See the [module docs](self) for
    /// what `buf` must hold.
    #[inline]
    pub fn decode<'b>(&mut self, buf: &'b [u8]) -> Result<Option<(Frame<'b>, usize)>, ParseError> {
        // Waiting for a large payload is most calls when a big reply arrives in
        // pieces; answer those without a call, with a freshly built `Ok(None)`.
        // Copying a `None` out of the out-of-line result would move the whole frame's
        // (undefined) bytes through memory, and that copy stalled on the store of the
        // tag: it was 70% of the time of a 1 MiB reply fed in 4 KiB pieces.
        if self.waiting(buf) {
            return Ok(None);
        }
        self.decode_slow(buf)
    }

    /// [`decode`](Self::decode) past the wait check.
    #[inline(never)]
    fn decode_slow<'b>(&mut self, buf: &'b [u8]) -> Result<Option<(Frame<'b>, usize)>, ParseError> {
        let Some((frame, used)) = self.decode_spans(buf)? else {
            return Ok(None);
        };
        Ok(Some((
            frame.map_payload(&mut |s: Span| slice(buf, s)),
            used,
        )))
    }

    /// True while `buf` still ends before the payload the decoder waits for.
    #[inline(always)]
    fn waiting(&self, buf: &[u8]) -> bool {
        // `need` is never below `pos`, so a buffer shorter than before (a broken
        // contract, handled by `decode_spans`) is never taken for waiting.
        buf.len() < self.need && buf.len() >= self.machine.pos
    }

    /// Continues decoding the reply at the start of `buf`, and when it is whole, splits
    /// its bytes off the front of `buf` and returns a frame that shares them.
    #[cfg(feature = "bytes")]
    pub fn decode_bytes(
        &mut self,
        buf: &mut bytes::BytesMut,
    ) -> Result<Option<crate::BytesFrame>, ParseError> {
        let Some((frame, used)) = self.decode_spans(buf)? else {
            return Ok(None);
        };
        let reply = buf.split_to(used).freeze();
        Ok(Some(frame.map_payload(&mut |s: Span| {
            if s.start < s.end {
                reply.slice(s.start..s.end)
            } else {
                bytes::Bytes::new()
            }
        })))
    }

    /// Forgets the reply in progress, e.g. after the connection was re-established.
    pub fn reset(&mut self) {
        self.machine.reset();
        self.need = 0;
    }

    /// While a bulk payload is arriving: how many bytes, counted from the start of
    /// the reply, the buffer must hold before decoding can go on. A reader can size
    /// its next read (or reserve its buffer) from it.
    pub fn bytes_needed(&self) -> Option<usize> {
        (self.need > 0).then_some(self.need)
    }

    /// True when the decoder holds part of a reply.
    pub fn in_progress(&self) -> bool {
        self.machine.pos != 0
    }

    fn decode_spans(
        &mut self,
        buf: &[u8],
    ) -> Result<Option<(GenericFrame<Span>, usize)>, ParseError> {
        if buf.len() < self.machine.pos {
            // The caller broke the contract (passed fewer bytes than before): start over.
            self.reset();
        }
        if self.waiting(buf) {
            return Ok(None);
        }
        match self.machine.run(buf, &self.limits) {
            Ok(frame) => {
                let used = self.machine.pos;
                self.reset();
                Ok(Some((frame, used)))
            }
            Err(Stop::Incomplete) => {
                self.need = pending_payload_end(buf, self.machine.pos).unwrap_or(0);
                Ok(None)
            }
            Err(Stop::Invalid(e)) => {
                self.reset();
                Err(e)
            }
        }
    }
}

/// The bytes a span records; empty if the span does not fit the buffer, which happens
/// only when the caller broke the contract.
fn slice(buf: &[u8], s: Span) -> &[u8] {
    buf.get(s.start..s.end).unwrap_or_default()
}
