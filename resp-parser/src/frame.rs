//! The frame: one complete RESP2 or RESP3 value.
//!
//! A frame is generic over its payload type `P`, the type that holds the bytes of
//! strings, errors, big numbers and so on:
//!
//! * [`Frame<'a>`](crate::Frame) borrows every payload from the input slice
//!   (`P = &'a [u8]`). This is what [`parse`](crate::parse) returns; building it copies
//!   no payload byte and allocates only the `Vec`s of aggregates.
//! * `BytesFrame` (feature `bytes`) holds `bytes::Bytes` handles into one shared
//!   buffer (`P = Bytes`): owned, `'static`, and still without copying payloads.
//!
//! # Null
//!
//! RESP has three spellings of null and they are kept apart, so that a frame encodes
//! back to the bytes it came from: [`GenericFrame::NullBulkString`] (`$-1`),
//! [`GenericFrame::NullArray`] (`*-1`) and RESP3's [`GenericFrame::Null`] (`_`).
//! [`GenericFrame::is_null`] is true for all three.
//!
//! # Streamed values
//!
//! A RESP3 streamed aggregate (`*?`, `%?`, `~?` ... `.`) is returned as the ordinary
//! [`Array`](GenericFrame::Array), [`Map`](GenericFrame::Map) or [`Set`](GenericFrame::Set)
//! once its end marker has arrived. A streamed string (`$?` then `;N` chunks) cannot be
//! one borrowed slice, because chunk headers sit between its pieces; it is returned as
//! [`StreamedString`](GenericFrame::StreamedString), the list of its non-empty chunks.
//! [`GenericFrame::to_vec`] joins them when you need one buffer.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

/// A frame whose payloads borrow from the parsed input.
///
/// ```
/// use resp_parser::{parse, Frame};
///
/// let (frame, used) = parse(b"*2\r\n$3\r\nfoo\r\n:42\r\n").unwrap().unwrap();
/// assert_eq!(used, 18);
/// assert_eq!(frame, Frame::Array(vec![Frame::BulkString(b"foo"), Frame::Integer(42)]));
/// ```
pub type Frame<'a> = GenericFrame<&'a [u8]>;

/// A frame whose payloads are `bytes::Bytes` handles into one shared buffer.
#[cfg(feature = "bytes")]
pub type BytesFrame = GenericFrame<bytes::Bytes>;

/// One RESP value, generic over the payload type `P` (see the [module docs](self)).
///
/// The variants follow the RESP3 specification's type names; the byte that
/// introduces each one on the wire is given in its docs.
#[derive(Debug, Clone, PartialEq)]
// A word-sized tag keeps every payload word-aligned. With the default one-byte tag, a
// frame moving through `Result`/`Option` was copied as a 31-byte blob at odd offsets,
// which defeats store forwarding: small replies parsed 35% slower (benches/README.md).
#[repr(u64)]
pub enum GenericFrame<P> {
    /// `+` simple string: a line of text without CR or LF.
    SimpleString(P),
    /// `-` simple error: a line of text without CR or LF, e.g. `ERR unknown command`.
    SimpleError(P),
    /// `:` a signed 64-bit integer.
    Integer(i64),
    /// `$` a length-prefixed binary-safe string.
    BulkString(P),
    /// `$-1`: RESP2's null bulk string (also sent by RESP3 servers for some replies).
    NullBulkString,
    /// `*-1`: RESP2's null array.
    NullArray,
    /// `_` RESP3 null.
    Null,
    /// `,` RESP3 double, with its exact text kept.
    Double(Double<P>),
    /// `#t` / `#f` RESP3 boolean.
    Boolean(bool),
    /// `(` RESP3 big number: the decimal digits as sent, with an optional leading `-`.
    BigNumber(P),
    /// `!` RESP3 blob (bulk) error: a length-prefixed error text.
    BulkError(P),
    /// `=` RESP3 verbatim string: a three-byte format such as `txt` or `mkd`, and the text.
    VerbatimString {
        /// The format, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text after `fmt:`.
        text: P,
    },
    /// `*` array (also a completed `*?` streamed array).
    Array(Vec<GenericFrame<P>>),
    /// `%` RESP3 map, as key/value pairs in wire order (also a completed `%?` stream).
    Map(Vec<(GenericFrame<P>, GenericFrame<P>)>),
    /// `~` RESP3 set, in wire order (also a completed `~?` stream).
    Set(Vec<GenericFrame<P>>),
    /// `>` RESP3 push: out-of-band data such as pub/sub messages and invalidations.
    Push(Vec<GenericFrame<P>>),
    /// `$?` RESP3 streamed string: its chunks in order, none of them empty.
    StreamedString(Vec<P>),
    /// A frame preceded by a `|` RESP3 attribute; the attribute is never a reply of its own.
    Attributed(Box<Attributed<P>>),
}

/// A frame together with the `|` attribute that preceded it on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed<P> {
    /// The attribute's key/value pairs, in wire order.
    pub attributes: Vec<(GenericFrame<P>, GenericFrame<P>)>,
    /// The frame the attribute describes.
    pub frame: GenericFrame<P>,
}

/// A RESP3 double: its value and the exact text it was sent as.
///
/// Two doubles are equal when their texts are equal, so `nan` equals `nan` and
/// `1.0` differs from `1` (they encode differently).
#[derive(Debug, Clone, Copy)]
pub struct Double<P> {
    /// The value; `inf`, `-inf` and `nan` map to the IEEE values.
    pub value: f64,
    /// The text as sent, without the `,` and CRLF, e.g. `3.14`, `1e-5` or `-inf`.
    pub text: P,
}

impl<P: PartialEq> PartialEq for Double<P> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<'a> Double<&'a [u8]> {
    /// Checks `text` against the RESP3 double grammar and returns the double.
    ///
    /// Accepts `[+-]digits[.digits][(e|E)[+-]digits]`, `inf`, `+inf`, `-inf`, `nan`
    /// and `-nan`. Use this to build a [`Frame::Double`](GenericFrame::Double) to encode.
    ///
    /// ```
    /// let d = resp_parser::Double::from_text(b"1.5e3").unwrap();
    /// assert_eq!(d.value, 1500.0);
    /// assert!(resp_parser::Double::from_text(b"1.5.3").is_none());
    /// ```
    pub fn from_text(text: &'a [u8]) -> Option<Self> {
        crate::scalar::parse_double(text).map(|value| Double { value, text })
    }
}

impl<P> GenericFrame<P> {
    /// True for the three nulls: `$-1`, `*-1` and `_`.
    pub fn is_null(&self) -> bool {
        matches!(
            self,
            GenericFrame::NullBulkString | GenericFrame::NullArray | GenericFrame::Null
        )
    }

    /// True for `-` simple errors and `!` bulk errors (also under an attribute).
    pub fn is_error(&self) -> bool {
        match self {
            GenericFrame::SimpleError(_) | GenericFrame::BulkError(_) => true,
            GenericFrame::Attributed(a) => a.frame.is_error(),
            _ => false,
        }
    }

    /// The frame without its attribute, if it has one.
    pub fn without_attributes(&self) -> &Self {
        match self {
            GenericFrame::Attributed(a) => a.frame.without_attributes(),
            other => other,
        }
    }

    /// A short name of the frame's RESP type, for error messages (`"bulk string"`, `"map"`...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            GenericFrame::SimpleString(_) => "simple string",
            GenericFrame::SimpleError(_) => "simple error",
            GenericFrame::Integer(_) => "integer",
            GenericFrame::BulkString(_) => "bulk string",
            GenericFrame::NullBulkString => "null bulk string",
            GenericFrame::NullArray => "null array",
            GenericFrame::Null => "null",
            GenericFrame::Double(_) => "double",
            GenericFrame::Boolean(_) => "boolean",
            GenericFrame::BigNumber(_) => "big number",
            GenericFrame::BulkError(_) => "bulk error",
            GenericFrame::VerbatimString { .. } => "verbatim string",
            GenericFrame::Array(_) => "array",
            GenericFrame::Map(_) => "map",
            GenericFrame::Set(_) => "set",
            GenericFrame::Push(_) => "push",
            GenericFrame::StreamedString(_) => "streamed string",
            GenericFrame::Attributed(a) => a.frame.kind_name(),
        }
    }

    /// Converts every payload with `f`, keeping the shape of the frame.
    ///
    /// This is how a borrowed [`Frame`] becomes a frame over another
    /// buffer type, e.g. `frame.map_payload(&mut |s| bytes.slice_ref(s))`.
    pub fn map_payload<Q>(self, f: &mut impl FnMut(P) -> Q) -> GenericFrame<Q> {
        fn pairs<P, Q>(
            v: Vec<(GenericFrame<P>, GenericFrame<P>)>,
            f: &mut impl FnMut(P) -> Q,
        ) -> Vec<(GenericFrame<Q>, GenericFrame<Q>)> {
            v.into_iter()
                .map(|(k, v)| (k.map_payload(f), v.map_payload(f)))
                .collect()
        }
        fn items<P, Q>(
            v: Vec<GenericFrame<P>>,
            f: &mut impl FnMut(P) -> Q,
        ) -> Vec<GenericFrame<Q>> {
            // Bulk strings are most elements of most aggregates: convert them here
            // rather than through a recursive call. When `P` and `Q` have one size, the
            // collect reuses `v`'s allocation.
            v.into_iter()
                .map(|x| match x {
                    GenericFrame::BulkString(p) => GenericFrame::BulkString(f(p)),
                    x => other(x, f),
                })
                .collect()
        }
        // Out of line, so that the loop above keeps its values in registers: with the
        // recursive call inlined into it, every element went through the stack.
        #[inline(never)]
        fn other<P, Q>(x: GenericFrame<P>, f: &mut impl FnMut(P) -> Q) -> GenericFrame<Q> {
            x.map_payload(f)
        }
        match self {
            GenericFrame::SimpleString(p) => GenericFrame::SimpleString(f(p)),
            GenericFrame::SimpleError(p) => GenericFrame::SimpleError(f(p)),
            GenericFrame::Integer(i) => GenericFrame::Integer(i),
            GenericFrame::BulkString(p) => GenericFrame::BulkString(f(p)),
            GenericFrame::NullBulkString => GenericFrame::NullBulkString,
            GenericFrame::NullArray => GenericFrame::NullArray,
            GenericFrame::Null => GenericFrame::Null,
            GenericFrame::Double(d) => GenericFrame::Double(Double {
                value: d.value,
                text: f(d.text),
            }),
            GenericFrame::Boolean(b) => GenericFrame::Boolean(b),
            GenericFrame::BigNumber(p) => GenericFrame::BigNumber(f(p)),
            GenericFrame::BulkError(p) => GenericFrame::BulkError(f(p)),
            GenericFrame::VerbatimString { format, text } => GenericFrame::VerbatimString {
                format,
                text: f(text),
            },
            GenericFrame::Array(v) => GenericFrame::Array(items(v, f)),
            GenericFrame::Map(v) => GenericFrame::Map(pairs(v, f)),
            GenericFrame::Set(v) => GenericFrame::Set(items(v, f)),
            GenericFrame::Push(v) => GenericFrame::Push(items(v, f)),
            GenericFrame::StreamedString(v) => {
                GenericFrame::StreamedString(v.into_iter().map(&mut *f).collect())
            }
            GenericFrame::Attributed(a) => {
                let Attributed { attributes, frame } = *a;
                GenericFrame::Attributed(Box::new(Attributed {
                    attributes: pairs(attributes, f),
                    frame: frame.map_payload(f),
                }))
            }
        }
    }
}

impl<P: AsRef<[u8]>> GenericFrame<P> {
    /// The payload bytes of a string-like frame (simple/bulk/verbatim string, simple/bulk
    /// error, big number, double text), or `None` for other types. A streamed string has
    /// no single slice: use [`to_vec`](Self::to_vec).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            GenericFrame::SimpleString(p)
            | GenericFrame::SimpleError(p)
            | GenericFrame::BulkString(p)
            | GenericFrame::BigNumber(p)
            | GenericFrame::BulkError(p)
            | GenericFrame::VerbatimString { text: p, .. } => Some(p.as_ref()),
            GenericFrame::Double(d) => Some(d.text.as_ref()),
            GenericFrame::Attributed(a) => a.frame.as_bytes(),
            _ => None,
        }
    }

    /// The payload of a string-like frame as an owned buffer, joining the chunks of a
    /// streamed string.
    pub fn to_vec(&self) -> Option<Vec<u8>> {
        match self {
            GenericFrame::StreamedString(chunks) => {
                let mut out = Vec::with_capacity(chunks.iter().map(|c| c.as_ref().len()).sum());
                for c in chunks {
                    out.extend_from_slice(c.as_ref());
                }
                Some(out)
            }
            other => other.as_bytes().map(<[u8]>::to_vec),
        }
    }
}

impl<P: AsRef<[u8]>> fmt::Display for GenericFrame<P> {
    /// A human-readable rendering in the style of `redis-cli`, for logs and examples.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn text(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
            write!(f, "\"{}\"", b.escape_ascii())
        }
        fn list<P: AsRef<[u8]>>(
            f: &mut fmt::Formatter<'_>,
            open: &str,
            close: &str,
            items: &[GenericFrame<P>],
        ) -> fmt::Result {
            f.write_str(open)?;
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{x}")?;
            }
            f.write_str(close)
        }
        fn pairs<P: AsRef<[u8]>>(
            f: &mut fmt::Formatter<'_>,
            items: &[(GenericFrame<P>, GenericFrame<P>)],
        ) -> fmt::Result {
            f.write_str("{")?;
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str("}")
        }
        match self {
            GenericFrame::SimpleString(p) | GenericFrame::BulkString(p) => text(f, p.as_ref()),
            GenericFrame::SimpleError(p) | GenericFrame::BulkError(p) => {
                write!(f, "(error) {}", p.as_ref().escape_ascii())
            }
            GenericFrame::Integer(i) => write!(f, "(integer) {i}"),
            GenericFrame::NullBulkString | GenericFrame::NullArray | GenericFrame::Null => {
                f.write_str("(nil)")
            }
            GenericFrame::Double(d) => write!(f, "(double) {}", d.text.as_ref().escape_ascii()),
            GenericFrame::Boolean(b) => write!(f, "({b})"),
            GenericFrame::BigNumber(p) => write!(f, "(big number) {}", p.as_ref().escape_ascii()),
            GenericFrame::VerbatimString { format, text: t } => {
                write!(f, "{}:", format.escape_ascii())?;
                text(f, t.as_ref())
            }
            GenericFrame::Array(v) => list(f, "[", "]", v),
            GenericFrame::Set(v) => list(f, "set[", "]", v),
            GenericFrame::Push(v) => list(f, "push[", "]", v),
            GenericFrame::Map(v) => pairs(f, v),
            GenericFrame::StreamedString(chunks) => {
                f.write_str("\"")?;
                for c in chunks {
                    write!(f, "{}", c.as_ref().escape_ascii())?;
                }
                f.write_str("\"")
            }
            GenericFrame::Attributed(a) => {
                write!(f, "{} |", a.frame)?;
                pairs(f, &a.attributes)
            }
        }
    }
}

#[cfg(feature = "bytes")]
impl BytesFrame {
    /// Turns a frame that borrows from `buf` into one that holds `Bytes` handles into it,
    /// without copying any payload.
    ///
    /// # Panics
    /// If a payload of `frame` does not lie inside `buf` (it must come from parsing `buf`).
    pub fn from_borrowed(buf: &bytes::Bytes, frame: Frame<'_>) -> BytesFrame {
        frame.map_payload(&mut |s: &[u8]| buf.slice_ref(s))
    }
}
