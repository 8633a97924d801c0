//! Parse errors: what was wrong with the input, and at which byte.

use core::fmt;

/// Why the input is not valid RESP, and where.
///
/// `offset` is the position, counted from the first byte of the input that was
/// passed in, of the byte that made the input invalid (for a line, usually its first
/// byte after the type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the fault in the input.
    pub offset: usize,
    /// What the fault is.
    pub kind: ErrorKind,
}

impl ParseError {
    pub(crate) const fn new(offset: usize, kind: ErrorKind) -> Self {
        ParseError { offset, kind }
    }
}

/// The kinds of malformed input, and the limits that input may exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The byte at the start of a value is not a RESP type byte.
    UnknownType(u8),
    /// An integer or length is not `0` or `-?[1-9][0-9]*` (leading zeros, `+`, `-0`,
    /// empty, non-digits).
    InvalidInteger,
    /// An integer does not fit in an `i64`.
    IntegerOverflow,
    /// A length or count is below -1 (or below 0 where -1 is not allowed, e.g. `;-1`).
    InvalidLength,
    /// A bulk payload is not followed by CRLF.
    MissingCrlf,
    /// A CR not followed by LF, or a bare LF, inside a line (simple string, error, header).
    InvalidLineEnding,
    /// A boolean other than `#t` or `#f`.
    InvalidBoolean,
    /// A double that does not follow the RESP3 grammar.
    InvalidDouble,
    /// A big number that is not `-?[0-9]+`.
    InvalidBigNumber,
    /// A verbatim string shorter than 4 bytes or without `:` after its 3-byte format.
    InvalidVerbatim,
    /// A null (`_`) with content before its CRLF, or an end marker (`.`) with content.
    InvalidNull,
    /// A streamed string chunk that is not `;N`, or an end marker `.` outside a streamed
    /// aggregate, or a streamed map ending after a key without its value.
    InvalidStream,
    /// An attribute with no value after it (its aggregate or stream ended first).
    DanglingAttribute,
    /// Nesting deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    DepthLimit,
    /// A bulk length above [`Limits::max_bulk_len`](crate::Limits::max_bulk_len).
    BulkTooLong,
    /// An element count above [`Limits::max_elements`](crate::Limits::max_elements).
    TooManyElements,
    /// A line longer than [`Limits::max_line_len`](crate::Limits::max_line_len).
    LineTooLong,
    /// Request parsing: a multibulk element that is not a bulk string.
    ExpectedBulk(u8),
    /// Request parsing: an inline command with unbalanced quotes, or a closing quote
    /// not followed by a space.
    UnbalancedQuotes,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnknownType(b) => {
                write!(f, "unknown type byte '{}'", core::ascii::escape_default(*b))
            }
            ErrorKind::InvalidInteger => f.write_str("invalid integer"),
            ErrorKind::IntegerOverflow => f.write_str("integer overflows i64"),
            ErrorKind::InvalidLength => f.write_str("invalid length"),
            ErrorKind::MissingCrlf => f.write_str("payload not followed by CRLF"),
            ErrorKind::InvalidLineEnding => f.write_str("CR or LF inside a line"),
            ErrorKind::InvalidBoolean => f.write_str("boolean is not #t or #f"),
            ErrorKind::InvalidDouble => f.write_str("invalid double"),
            ErrorKind::InvalidBigNumber => f.write_str("invalid big number"),
            ErrorKind::InvalidVerbatim => {
                f.write_str("verbatim string without 3-byte format and ':'")
            }
            ErrorKind::InvalidNull => f.write_str("null or end marker with content"),
            ErrorKind::InvalidStream => f.write_str("invalid streamed value"),
            ErrorKind::DanglingAttribute => f.write_str("attribute not followed by a value"),
            ErrorKind::DepthLimit => f.write_str("nesting depth limit exceeded"),
            ErrorKind::BulkTooLong => f.write_str("bulk length limit exceeded"),
            ErrorKind::TooManyElements => f.write_str("element count limit exceeded"),
            ErrorKind::LineTooLong => f.write_str("line length limit exceeded"),
            ErrorKind::ExpectedBulk(b) => write!(
                f,
                "expected '$' in multibulk request, got '{}'",
                core::ascii::escape_default(*b)
            ),
            ErrorKind::UnbalancedQuotes => f.write_str("unbalanced quotes in inline request"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RESP protocol error at byte {}: {}",
            self.offset, self.kind
        )
    }
}

impl core::error::Error for ParseError {}
