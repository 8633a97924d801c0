//! The reply parser: one loop over the input with an explicit stack of open aggregates.
//!
//! # Contract
//!
//! [`parse`] reads one complete reply from the start of its input and returns it with
//! the number of bytes it used, `Ok(None)` if the input ends before the reply does, or
//! a [`ParseError`] naming the offset and the fault. Every strict prefix of a valid
//! reply is `Ok(None)`; an error is reported only when no continuation could make the
//! input valid.
//!
//! # Costs
//!
//! Time is linear in the size of the reply's framing: a bulk payload is checked for
//! its trailing CRLF but never scanned, so parsing a 1 GiB bulk string costs the same as
//! a 1-byte one. Scalars and bulk strings allocate nothing. Each aggregate allocates one
//! `Vec`, whose capacity is the smaller of its declared count and what the input could
//! still hold: all the aggregates of one reply together reserve at most one element
//! slot for every 3 bytes of input (the smallest value, `_\r\n`, is 3 bytes), however
//! deep they nest, so a length prefix never allocates for bytes that are not there. A
//! reply that is all in the input is sized exactly, with no regrowth.
//! Nesting is tracked on a heap stack bounded by [`Limits::max_depth`], never by
//! recursion, so deep input cannot overflow the thread's stack.
//!
//! The same machine, with payloads recorded as offsets instead of slices, drives the
//! resumable [`Decoder`](crate::Decoder): because nothing in its state borrows the input,
//! it can stop at any value boundary and continue when more bytes arrive.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::error::{ErrorKind, ParseError};
use crate::frame::{Attributed, Double, Frame, GenericFrame};
use crate::limits::Limits;
use crate::scalar::{
    Parsed, Step, Stop, bulk_payload, int_line, invalid, is_big_number, line_end, parse_double,
    step,
};

/// Parses one reply from the start of `input` with the default [`Limits`].
///
/// Returns `Ok(None)` when `input` holds only part of a reply, and
/// `Ok(Some((frame, used)))` when it holds a whole one: `used` is the reply's length in
/// bytes, and whatever follows it is the next reply.
///
/// ```
/// use resp_parser::{parse, Frame};
///
/// assert_eq!(parse(b"+OK\r\n:1").unwrap(), Some((Frame::SimpleString(b"OK"), 5)));
/// assert_eq!(parse(b"$5\r\nhel").unwrap(), None); // wait for more bytes
/// let err = parse(b"$3\r\nfooXY").unwrap_err();
/// assert_eq!((err.offset, err.kind), (7, resp_parser::ErrorKind::MissingCrlf));
/// ```
#[inline]
pub fn parse(input: &[u8]) -> Result<Option<(Frame<'_>, usize)>, ParseError> {
    parse_with(input, &Limits::DEFAULT)
}

/// Parses one reply from the start of `input` under the given [`Limits`].
///
/// See [`parse`] for the meaning of the result.
#[inline(always)]
pub fn parse_with<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Frame<'a>, usize)>, ParseError> {
    // Most replies are scalars, which need none of the machine's state. `scalar`
    // returns the public type itself, so the frame is built in place: converting
    // between result types here cost a third of the time of a `+OK`.
    if !starts_aggregate(input, 0) {
        return scalar(input, 0, limits);
    }
    if input[0] == b'*' {
        if let Some(done) = flat_array(input, limits) {
            return Ok(Some(done));
        }
    }
    parse_nested(input, limits)
}

/// Parses an aggregate with the general machine (kept out of line, so that the fast
/// paths above inline into the caller's loop).
#[inline(never)]
fn parse_nested<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Frame<'a>, usize)>, ParseError> {
    let mut machine = Machine::<&'a [u8]>::new();
    match machine.run(input, limits) {
        Ok(frame) => Ok(Some((frame, machine.pos))),
        Err(Stop::Incomplete) => Ok(None),
        Err(Stop::Invalid(e)) => Err(e),
    }
}

/// Parses one reply from the start of a shared buffer into a frame that holds
/// `Bytes` handles into it: owned and `'static`, yet without copying a payload.
///
/// ```
/// use bytes::Bytes;
/// use resp_parser::{parse_bytes, BytesFrame};
///
/// let buf = Bytes::from_static(b"$5\r\nhello\r\n");
/// let (frame, used) = parse_bytes(&buf).unwrap().unwrap();
/// assert_eq!((frame, used), (BytesFrame::BulkString(Bytes::from_static(b"hello")), 11));
/// ```
#[cfg(feature = "bytes")]
pub fn parse_bytes(buf: &bytes::Bytes) -> Result<Option<(crate::BytesFrame, usize)>, ParseError> {
    Ok(parse(buf)?.map(|(frame, used)| (crate::BytesFrame::from_borrowed(buf, frame), used)))
}

/// How the machine records a payload found at `input[start..end]`.
pub(crate) trait Payload<'a>: Sized {
    fn take(input: &'a [u8], start: usize, end: usize) -> Self;
}

impl<'a> Payload<'a> for &'a [u8] {
    #[inline(always)]
    fn take(input: &'a [u8], start: usize, end: usize) -> Self {
        &input[start..end]
    }
}

/// A payload recorded by position, so that state survives the input buffer moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Payload<'_> for Span {
    #[inline(always)]
    fn take(_input: &[u8], start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

type Pairs<P> = Vec<(GenericFrame<P>, GenericFrame<P>)>;

/// What an open aggregate collects.
#[derive(Debug)]
enum Items<P> {
    /// `*`, `~`, `>`: a list of frames; `kind` is the type byte.
    List {
        kind: u8,
        items: Vec<GenericFrame<P>>,
    },
    /// `%` map or `|` attribute: pairs, and the key waiting for its value.
    Pairs {
        attribute: bool,
        pairs: Pairs<P>,
        key: Option<GenericFrame<P>>,
    },
    /// `$?` streamed string: its chunks and their total length so far.
    Chunks { chunks: Vec<P>, total: usize },
}

impl<P> Items<P> {
    /// Adds the value that `make` builds. `extend` reserves room before calling `make`,
    /// so a frame built in the closure is written straight into the `Vec` rather than
    /// assembled on the stack and copied.
    #[inline(always)]
    fn add(&mut self, make: impl FnOnce() -> GenericFrame<P>) {
        match self {
            Items::List { items, .. } => items.extend(core::iter::once_with(make)),
            Items::Pairs { pairs, key, .. } => match key.take() {
                None => *key = Some(make()),
                Some(k) => pairs.extend(core::iter::once_with(|| (k, make()))),
            },
            // Chunks receive payloads directly, never frames.
            Items::Chunks { .. } => unreachable!("a streamed string holds no frames"),
        }
    }
}

/// An aggregate whose elements are still arriving.
#[derive(Debug)]
struct Open<P> {
    items: Items<P>,
    /// Values still expected; `usize::MAX` for a streamed aggregate, which ends at `.`.
    remaining: usize,
    /// An attribute read at this level, waiting for the value it describes.
    attributes: Option<Pairs<P>>,
}

impl<P> Open<P> {
    fn streamed(&self) -> bool {
        self.remaining == usize::MAX
    }

    /// Adds a value; returns true if that completed a counted aggregate.
    #[inline]
    fn push(&mut self, value: GenericFrame<P>) -> bool {
        self.items.add(|| value);
        if self.remaining != usize::MAX {
            self.remaining -= 1;
            self.remaining == 0
        } else {
            false
        }
    }
}

/// What closing an aggregate produced.
enum Closed<P> {
    Value(GenericFrame<P>),
    Attribute(Pairs<P>),
}

/// The parser's whole state between two values: where it is and what is open.
#[derive(Debug)]
pub(crate) struct Machine<P> {
    /// Offset of the next unread byte.
    pub(crate) pos: usize,
    stack: Vec<Open<P>>,
    /// An attribute read at the top level, waiting for the reply it describes.
    attributes: Option<Pairs<P>>,
    /// Element slots reserved so far for this reply, over every aggregate opened
    /// (a pair counts as two): the budget that `open_or_end` draws on.
    reserved: usize,
}

impl<P> Machine<P> {
    pub(crate) const fn new() -> Self {
        Machine {
            pos: 0,
            stack: Vec::new(),
            attributes: None,
            reserved: 0,
        }
    }

    /// Forgets everything, keeping the stack's allocation.
    pub(crate) fn reset(&mut self) {
        self.pos = 0;
        self.stack.clear();
        self.attributes = None;
        self.reserved = 0;
    }

    /// Runs until one whole reply is read (`self.pos` is then its length) or the input
    /// ends. On `Incomplete` the state stays at the last value boundary, so a later call
    /// with the same bytes plus more continues from there.
    pub(crate) fn run<'a>(&mut self, input: &'a [u8], limits: &Limits) -> Step<GenericFrame<P>>
    where
        P: Payload<'a>,
    {
        loop {
            self.fill_list(input, limits)?;
            let in_streamed_string = matches!(
                self.stack.last(),
                Some(Open {
                    items: Items::Chunks { .. },
                    ..
                })
            );
            let mut value = if in_streamed_string {
                match self.next_chunk(input, limits)? {
                    Some(value) => value,
                    None => continue,
                }
            } else if starts_aggregate(input, self.pos) {
                match self.open_or_end(input, limits)? {
                    Some(value) => value,
                    None => continue,
                }
            } else {
                match scalar(input, self.pos, limits) {
                    Ok(Some((value, next))) => {
                        self.pos = next;
                        value
                    }
                    Ok(None) => return Err(Stop::Incomplete),
                    Err(e) => return Err(Stop::Invalid(e)),
                }
            };
            // Hand the value up through every aggregate it completes.
            loop {
                let level_attributes = match self.stack.last_mut() {
                    Some(open) => &mut open.attributes,
                    None => &mut self.attributes,
                };
                if let Some(attributes) = level_attributes.take() {
                    value = GenericFrame::Attributed(Box::new(Attributed {
                        attributes,
                        frame: value,
                    }));
                }
                let Some(open) = self.stack.last_mut() else {
                    return Ok(value);
                };
                if !open.push(value) {
                    break;
                }
                let open = self.stack.pop().expect("the stack has this level");
                match close(open.items) {
                    Closed::Value(v) => value = v,
                    Closed::Attribute(pairs) => {
                        self.attach_attribute(pairs);
                        break;
                    }
                }
            }
        }
    }

    /// The hot loop for the commonest shapes, lists and maps of scalars (`LRANGE`,
    /// `MGET`, `HGETALL`): reads scalars straight into the innermost open aggregate
    /// while at least one more value will follow, skipping the general per-value
    /// bookkeeping. Stops at anything else (an aggregate, an attribute, the last
    /// value, an error), which the general loop then handles.
    #[inline(always)]
    fn fill_list<'a>(&mut self, input: &'a [u8], limits: &Limits) -> Step<()>
    where
        P: Payload<'a>,
    {
        let Some(Open {
            items,
            remaining,
            attributes: None,
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        if matches!(
            items,
            Items::Chunks { .. }
                | Items::Pairs {
                    attribute: true,
                    ..
                }
        ) {
            return Ok(());
        }
        // Leave the last value to the general loop, which closes the aggregate.
        self.pos = read_scalars(items, remaining, 1, input, self.pos, limits)?;
        Ok(())
    }

    /// Stores an attribute at the current level for the next value there.
    fn attach_attribute(&mut self, pairs: Pairs<P>) {
        let slot = match self.stack.last_mut() {
            Some(open) => &mut open.attributes,
            None => &mut self.attributes,
        };
        match slot {
            Some(existing) => existing.extend(pairs),
            None => *slot = Some(pairs),
        }
    }

    /// Reads the item at `self.pos` that is not a scalar: an aggregate header, `$?` or
    /// `.`. Returns a value when the item completed one (an empty or null aggregate, the
    /// end of a stream), or `None` when it only changed the state.
    fn open_or_end(&mut self, input: &[u8], limits: &Limits) -> Step<Option<GenericFrame<P>>> {
        let start = self.pos;
        // `starts_aggregate` was true, so the type byte exists and opens or ends an aggregate.
        let ty = input[start];
        let body = start + 1;
        if ty == b'$' {
            // `$?`: a streamed string; its chunks are read by `next_chunk`.
            let next = expect_crlf(input, body + 1)?;
            let chunks = Items::Chunks {
                chunks: Vec::new(),
                total: 0,
            };
            self.open(chunks, usize::MAX, start, limits)?;
            self.pos = next;
            return Ok(None);
        }
        if ty == b'.' {
            let next = expect_crlf_or(input, body, ErrorKind::InvalidNull)?;
            let value = self.end_stream(start)?;
            self.pos = next;
            return Ok(value);
        }
        let (count, next) = if input.get(body) == Some(&b'?') && matches!(ty, b'*' | b'%' | b'~') {
            (usize::MAX, expect_crlf(input, body + 1)?)
        } else {
            let (n, next) = int_line(input, body)?;
            if n == -1 && ty == b'*' {
                self.pos = next;
                return Ok(Some(GenericFrame::NullArray));
            }
            let Ok(n) = usize::try_from(n) else {
                return invalid(body, ErrorKind::InvalidLength);
            };
            if n > limits.max_elements {
                return invalid(body, ErrorKind::TooManyElements);
            }
            (n, next)
        };
        // Reserve no more than the input can hold. Every value takes at least 3 bytes
        // of its own (`_\r\n`; an aggregate's header is at least 4), so the values of
        // the whole reply number at most `input.len() / 3`, and the reservations of all
        // its aggregates share that budget: a header nested in another one counts
        // against the same bytes. Per level alone, 511 nested `*4294967295` would each
        // reserve what the rest of the input could hold, hundreds of times the input.
        // A reply that is all there never exhausts the budget, so its aggregates are
        // still sized exactly; one still arriving (in a `Decoder`) grows as it comes.
        let room = ((input.len() - next) / 3).min((input.len() / 3).saturating_sub(self.reserved));
        let streamed = count == usize::MAX;
        let pairs = matches!(ty, b'%' | b'|');
        let items = if pairs {
            let values = if streamed { 0 } else { count.saturating_mul(2) };
            let slots = values.min(room) / 2;
            self.reserved += 2 * slots;
            Items::Pairs {
                attribute: ty == b'|',
                pairs: Vec::with_capacity(slots),
                key: None,
            }
        } else {
            let slots = if streamed { 0 } else { count.min(room) };
            self.reserved += slots;
            Items::List {
                kind: ty,
                items: Vec::with_capacity(slots),
            }
        };
        self.pos = next;
        if count == 0 {
            return Ok(match close(items) {
                Closed::Value(v) => Some(v),
                Closed::Attribute(pairs) => {
                    self.attach_attribute(pairs);
                    None
                }
            });
        }
        let remaining = if pairs && !streamed {
            match count.checked_mul(2) {
                Some(values) if values != usize::MAX => values,
                _ => return invalid(body, ErrorKind::TooManyElements),
            }
        } else {
            count
        };
        self.open(items, remaining, start, limits)?;
        Ok(None)
    }

    /// Pushes a new open aggregate, enforcing the depth limit.
    fn open(&mut self, items: Items<P>, remaining: usize, at: usize, limits: &Limits) -> Step<()> {
        if self.stack.len() >= limits.max_depth {
            return invalid(at, ErrorKind::DepthLimit);
        }
        self.stack.push(Open {
            items,
            remaining,
            attributes: None,
        });
        Ok(())
    }

    /// Handles `.`: closes the innermost streamed aggregate.
    fn end_stream(&mut self, at: usize) -> Step<Option<GenericFrame<P>>> {
        match self.stack.last() {
            Some(open) if open.streamed() => {
                if open.attributes.is_some() {
                    return invalid(at, ErrorKind::DanglingAttribute);
                }
                if let Items::Pairs { key: Some(_), .. } = open.items {
                    return invalid(at, ErrorKind::InvalidStream);
                }
            }
            _ => return invalid(at, ErrorKind::InvalidStream),
        }
        let open = self.stack.pop().expect("checked above");
        Ok(match close(open.items) {
            Closed::Value(v) => Some(v),
            // Attributes are never streamed, so this arm is not reached.
            Closed::Attribute(pairs) => {
                self.attach_attribute(pairs);
                None
            }
        })
    }

    /// Reads one `;N` chunk of the streamed string on top of the stack.
    fn next_chunk<'a>(&mut self, input: &'a [u8], limits: &Limits) -> Step<Option<GenericFrame<P>>>
    where
        P: Payload<'a>,
    {
        let start = self.pos;
        match input.get(start) {
            None => return Err(Stop::Incomplete),
            Some(b';') => {}
            Some(_) => return invalid(start, ErrorKind::InvalidStream),
        }
        let (len, data) = int_line(input, start + 1)?;
        if len == 0 {
            self.pos = data;
            let Some(Open {
                items: Items::Chunks { chunks, .. },
                ..
            }) = self.stack.pop()
            else {
                unreachable!("next_chunk runs only on a streamed string");
            };
            return Ok(Some(GenericFrame::StreamedString(chunks)));
        }
        let Some(Open {
            items: Items::Chunks { chunks, total },
            ..
        }) = self.stack.last_mut()
        else {
            unreachable!("next_chunk runs only on a streamed string");
        };
        // Check the total against the limit at the chunk's header, as a bulk string's
        // length is, not once its payload has arrived: a peer announcing too much is
        // refused at once instead of being waited for. (A negative length is left to
        // `bulk_payload`, which reports it.)
        if let Ok(n) = usize::try_from(len) {
            if total.saturating_add(n) > limits.max_bulk_len {
                return invalid(start + 1, ErrorKind::BulkTooLong);
            }
        }
        let (end, next) = bulk_payload(input, start + 1, len, data, limits)?;
        *total += end - data;
        if chunks.len() >= limits.max_elements {
            return invalid(start, ErrorKind::TooManyElements);
        }
        chunks.push(P::take(input, data, end));
        self.pos = next;
        Ok(None)
    }
}

/// Reads scalars at `pos` into `items` while more than `keep` values remain to be
/// read, stopping early at an aggregate, at the end of the input or at an error that
/// the general loop should report; returns where it stopped. An invalid scalar that
/// `scalar` itself rejects is returned as the error.
///
/// This is the hot loop of lists and maps of scalars (`LRANGE`, `MGET`, `HGETALL`).
#[inline(always)]
fn read_scalars<'a, P: Payload<'a>>(
    items: &mut Items<P>,
    remaining: &mut usize,
    keep: usize,
    input: &'a [u8],
    mut pos: usize,
    limits: &Limits,
) -> Step<usize> {
    while *remaining > keep && !starts_aggregate(input, pos) {
        if input.get(pos) == Some(&b'$') {
            // Bulk strings are built right in the aggregate: going through `scalar`'s
            // result spills the frame to the stack in pieces and reloads it whole, a
            // store-forwarding stall that cost a third of the time.
            let Ok((len, data)) = int_line(input, pos + 1) else {
                break;
            };
            if len == -1 {
                items.add(|| GenericFrame::NullBulkString);
                pos = data;
            } else {
                let Ok((end, next)) = bulk_payload(input, pos + 1, len, data, limits) else {
                    break;
                };
                items.add(|| GenericFrame::BulkString(P::take(input, data, end)));
                pos = next;
            }
        } else {
            match scalar(input, pos, limits) {
                Ok(Some((value, next))) => {
                    items.add(|| value);
                    pos = next;
                }
                Ok(None) => break,
                Err(e) => return Err(Stop::Invalid(e)),
            }
        }
        if *remaining != usize::MAX {
            *remaining -= 1;
        }
    }
    Ok(pos)
}

/// The fast path for a flat array of scalars (`*N` and `N` scalars, the shape of most
/// aggregate replies): no machine, no stack, one allocation. `None` means the array
/// holds an aggregate or is cut short, and the general machine should parse it.
#[inline]
fn flat_array<'a>(input: &'a [u8], limits: &Limits) -> Option<(Frame<'a>, usize)> {
    let (n, data) = int_line(input, 1).ok()?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= limits.max_elements)?;
    let room = (input.len() - data) / 3;
    let mut items = Items::List {
        kind: b'*',
        items: Vec::with_capacity(n.min(room)),
    };
    let mut remaining = n;
    let end = read_scalars(&mut items, &mut remaining, 0, input, data, limits).ok()?;
    if remaining != 0 {
        return None;
    }
    match close(items) {
        Closed::Value(frame) => Some((frame, end)),
        Closed::Attribute(_) => None,
    }
}

/// If the item at `at` is a complete bulk header (`$N\r\n`, also `!`, `=` and a
/// streamed string's `;N\r\n`) whose payload has not fully arrived, how long the
/// input must be before reading can go on: up to the byte after the payload, where a
/// wrong byte is reported as soon as it arrives.
pub(crate) fn pending_payload_end(input: &[u8], at: usize) -> Option<usize> {
    if !matches!(input.get(at), Some(b'$' | b'!' | b'=' | b';')) {
        return None;
    }
    let (len, data) = int_line(input, at + 1).ok()?;
    let after = data
        .checked_add(usize::try_from(len).ok()?)?
        .checked_add(1)?;
    (after > input.len()).then_some(after)
}

/// True if the value at `at` is an aggregate, a streamed string or an end marker:
/// the items that open or close a level of the machine rather than being a value.
#[inline(always)]
fn starts_aggregate(input: &[u8], at: usize) -> bool {
    match input.get(at) {
        Some(b'*' | b'%' | b'~' | b'>' | b'|' | b'.') => true,
        Some(b'$') => input.get(at + 1) == Some(&b'?'),
        _ => false,
    }
}

/// Reads the scalar value at `start` (the caller has checked that it is not an
/// aggregate) and returns it with the offset just past it.
#[inline(always)]
fn scalar<'a, P: Payload<'a>>(
    input: &'a [u8],
    start: usize,
    limits: &Limits,
) -> Parsed<(GenericFrame<P>, usize)> {
    let Some(&ty) = input.get(start) else {
        return Ok(None);
    };
    let body = start + 1;
    Ok(Some(match ty {
        b'+' | b'-' => {
            let end = step!(line_end(input, body, limits.max_line_len));
            let text = P::take(input, body, end);
            let value = if ty == b'+' {
                GenericFrame::SimpleString(text)
            } else {
                GenericFrame::SimpleError(text)
            };
            (value, end + 2)
        }
        b':' => {
            let (n, next) = step!(int_line(input, body));
            (GenericFrame::Integer(n), next)
        }
        b'$' | b'!' | b'=' => {
            let (len, data) = step!(int_line(input, body));
            if len == -1 && ty == b'$' {
                (GenericFrame::NullBulkString, data)
            } else {
                let (end, next) = step!(bulk_payload(input, body, len, data, limits));
                let value = match ty {
                    b'$' => GenericFrame::BulkString(P::take(input, data, end)),
                    b'!' => GenericFrame::BulkError(P::take(input, data, end)),
                    _ => step!(verbatim(input, data, end)),
                };
                (value, next)
            }
        }
        b'_' => (
            GenericFrame::Null,
            step!(expect_crlf_or(input, body, ErrorKind::InvalidNull)),
        ),
        b'#' => {
            let value = match input.get(body) {
                None => return Ok(None),
                Some(b't') => true,
                Some(b'f') => false,
                Some(_) => return Err(ParseError::new(body, ErrorKind::InvalidBoolean)),
            };
            (
                GenericFrame::Boolean(value),
                step!(expect_crlf_or(input, body + 1, ErrorKind::InvalidBoolean)),
            )
        }
        b',' => {
            let end = step!(line_end(input, body, limits.max_line_len));
            let Some(value) = parse_double(&input[body..end]) else {
                return Err(ParseError::new(body, ErrorKind::InvalidDouble));
            };
            let text = P::take(input, body, end);
            (GenericFrame::Double(Double { value, text }), end + 2)
        }
        b'(' => {
            let end = step!(line_end(input, body, limits.max_line_len));
            if !is_big_number(&input[body..end]) {
                return Err(ParseError::new(body, ErrorKind::InvalidBigNumber));
            }
            (GenericFrame::BigNumber(P::take(input, body, end)), end + 2)
        }
        other => return Err(ParseError::new(start, ErrorKind::UnknownType(other))),
    }))
}

/// Turns a finished aggregate into its frame, or an attribute into its pairs.
fn close<P>(items: Items<P>) -> Closed<P> {
    match items {
        Items::List { kind: b'*', items } => Closed::Value(GenericFrame::Array(items)),
        Items::List { kind: b'~', items } => Closed::Value(GenericFrame::Set(items)),
        Items::List { items, .. } => Closed::Value(GenericFrame::Push(items)),
        Items::Pairs {
            attribute: true,
            pairs,
            ..
        } => Closed::Attribute(pairs),
        Items::Pairs { pairs, .. } => Closed::Value(GenericFrame::Map(pairs)),
        Items::Chunks { chunks, .. } => Closed::Value(GenericFrame::StreamedString(chunks)),
    }
}

/// Builds a verbatim string from its payload `input[data..end]` (`fmt:text`).
fn verbatim<'a, P: Payload<'a>>(input: &'a [u8], data: usize, end: usize) -> Step<GenericFrame<P>> {
    match input.get(data..end) {
        Some([a, b, c, b':', ..]) => Ok(GenericFrame::VerbatimString {
            format: [*a, *b, *c],
            text: P::take(input, data + 4, end),
        }),
        _ => invalid(data, ErrorKind::InvalidVerbatim),
    }
}

/// Expects CRLF at `at` (after `$?`, `*?`...); returns the offset past it.
#[inline]
fn expect_crlf(input: &[u8], at: usize) -> Step<usize> {
    expect_crlf_or(input, at, ErrorKind::InvalidLength)
}

/// Expects CRLF at `at`, reporting `kind` at `at` if something else is there.
#[inline]
fn expect_crlf_or(input: &[u8], at: usize, kind: ErrorKind) -> Step<usize> {
    match input.get(at..at + 2) {
        Some(b"\r\n") => Ok(at + 2),
        Some(_) => invalid(at, kind),
        None => match input.get(at) {
            None | Some(b'\r') => Err(Stop::Incomplete),
            Some(_) => invalid(at, kind),
        },
    }
}
