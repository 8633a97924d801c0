//! Limits that bound what a parser accepts, so that hostile input cannot make it
//! use unbounded memory or time.

/// Bounds on what the parser accepts. Input past a bound is a [`ParseError`](crate::ParseError).
///
/// The defaults follow redis-server: bulk strings up to 512 MiB (`proto-max-bulk-len`),
/// lines up to 64 KiB (like its inline-request buffer), nesting up to 512 levels.
///
/// None of them is an allocation: a length or count prefix never makes the parser
/// reserve memory for bytes that have not arrived. The aggregates of one reply reserve,
/// all together and however deep they nest, at most one slot for every three bytes of
/// input actually present (the smallest value, `_\r\n`, is three bytes), so
/// `*4294967295\r\n` allocates nothing, and neither do 511 of them nested.
///
/// ```
/// use resp_parser::{Limits, parse_with, ErrorKind};
///
/// let limits = Limits { max_depth: 2, ..Limits::DEFAULT };
/// let err = parse_with(b"*1\r\n*1\r\n*1\r\n:1\r\n", &limits).unwrap_err();
/// assert_eq!(err.kind, ErrorKind::DepthLimit);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of aggregates (a top-level array is depth 1). Default 512.
    /// Enforced with an explicit stack, never by recursion.
    pub max_depth: usize,
    /// Longest bulk string, bulk error, verbatim string or streamed string (in total).
    /// Default 512 MiB.
    pub max_bulk_len: usize,
    /// Most elements of one aggregate (a map counts its pairs), or chunks of one
    /// streamed string. Default 2^32 - 1.
    pub max_elements: usize,
    /// Longest line: a simple string, error, integer, double, big number or header.
    /// Default 64 KiB.
    pub max_line_len: usize,
}

impl Limits {
    /// The defaults, as a constant.
    pub const DEFAULT: Limits = Limits {
        max_depth: 512,
        max_bulk_len: 512 * 1024 * 1024,
        max_elements: u32::MAX as usize,
        max_line_len: 64 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
