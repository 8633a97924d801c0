//! Request parsing for servers and proxies: the commands that clients send, read
//! the way redis-server 7 reads them.
//!
//! ```
//! use resp_parser::request::parse_request;
//!
//! let input = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nSET k \"two words\"\r\n";
//!
//! // A multibulk request: every argument borrows from the input.
//! let (get, used) = parse_request(input)?.expect("a whole request");
//! assert_eq!(used, 22);
//! assert_eq!(get.command(), Some(&b"GET"[..]));
//! assert_eq!(get.get(1), Some(&b"key"[..]));
//!
//! // An inline request, split on spaces, with quotes as in redis-cli.
//! let (set, used) = parse_request(&input[22..])?.expect("a whole request");
//! assert_eq!(used, 19);
//! assert_eq!(set.args, [&b"SET"[..], b"k", b"two words"]);
//!
//! // A request cut short is incomplete: read more bytes and call again.
//! assert_eq!(parse_request(&input[..20])?, None);
//! # Ok::<(), resp_parser::ParseError>(())
//! ```
//!
//! # Contract
//!
//! [`parse_request`] reads one request from the start of its input. It returns
//! `Ok(Some((request, used)))` when the input holds a whole request, whose encoding is
//! the first `used` bytes (what follows is the next request); `Ok(None)` when the input
//! ends before the request does; and `Err` when no continuation of the input could make
//! it a valid request. Every strict prefix of a valid request is `Ok(None)`, never an
//! error, so a caller can parse whatever it has, and call again with more bytes
//! appended after `Ok(None)`. After an error the connection's byte stream cannot be
//! resynchronised: redis-server replies `-ERR Protocol error: ...` and closes it.
//!
//! Like redis-server, the parser picks the form from the first byte:
//!
//! * **Multibulk** (first byte `*`), what client libraries send: `*N\r\n`, then `N`
//!   bulk strings `$len\r\n<len bytes>\r\n`. Counts and lengths are canonical decimal
//!   integers, as redis-server's `string2ll` reads them: `0` or `-?[1-9][0-9]*`, so no
//!   `+`, no leading zero, no `-0`, and nothing empty. Arguments are slices of the
//!   input ([`Cow::Borrowed`]): parsing copies no payload.
//!
//!   A count of zero or below (`*0\r\n`, `*-1\r\n`, `*-5\r\n`) gives an **empty
//!   request**, [`Request::is_empty`], whose bytes are consumed: redis-server skips such
//!   requests without replying, and a server should do the same.
//!
//! * **Inline** (any other first byte), what a person types into `telnet`: one line
//!   ending at `\n`, with one `\r` before it removed. The line is split into arguments
//!   exactly as redis-server's `sdssplitargs` splits it:
//!   - Arguments are separated by runs of space, `\t` and `\r`; between arguments
//!     and after a closing quote, `\x0b` (VT) and `\x0c` (FF) count as blanks too,
//!     but inside an unquoted argument they are part of it (`a\x0bb` is one argument).
//!   - `"..."` quotes an argument, in which `\n`, `\r`, `\t`, `\b`, `\a`, `\\`, `\"`
//!     and `\xHH` (two hex digits of either case) are escapes, and a backslash before
//!     any other byte stands for that byte (`\q` is `q`, and `\x4` is `x4`).
//!   - `'...'` quotes an argument in which only `\'` is an escape.
//!   - A quote may also start in the middle of an argument: `ab"c d"` is the one
//!     argument `abc d`. A closing quote must be followed by whitespace or the end of
//!     the line (`"a"b` is an error), and every quote must be closed.
//!   - A NUL byte ends the arguments: the rest of the line up to its `\n` is ignored,
//!     as `sdssplitargs`, which reads a C string, ignores it.
//!   - An empty or blank line is an empty request (consumed, with no arguments).
//!
//!   An argument is borrowed from the input when its bytes appear there contiguously,
//!   which is the case unless it contains an escape or a quote that starts or ends in
//!   its middle; otherwise it is owned ([`Cow::Owned`]).
//!
//! # Errors
//!
//! The [`ParseError`]'s `offset` counts from the first byte of the input and points at
//! the offending byte:
//!
//! | input (offset marked `^`)           | kind                                  |
//! |-------------------------------------|---------------------------------------|
//! | `*2x` ^`x`, `*+1` ^`+`, `*\r` ^`\r` | [`InvalidInteger`]: not a digit where one must be |
//! | `*01` ^`0`, `*-0` ^`0`              | [`InvalidInteger`]: a leading zero, or minus zero |
//! | `*9223372036854775808` ^ last `8`   | [`IntegerOverflow`]: the digit taking it past `i64` |
//! | `*1\rX` ^`\r`, `*1\n` ^`\n`         | [`InvalidLineEnding`]: a CR without LF, or a bare LF |
//! | `*1\r\n:1` ^`:`                     | [`ExpectedBulk(b':')`]: an element that is not `$` |
//! | `*1\r\n$-1` ^`-`                    | [`InvalidLength`]: a negative bulk length |
//! | `*1\r\n$1\r\naXY` ^`X`, `...a\rY` ^`Y` | [`MissingCrlf`]: a payload not followed by CRLF |
//! | `*N` above `max_elements` ^ first digit | [`TooManyElements`]              |
//! | `$len` above `max_bulk_len` ^ first digit | [`BulkTooLong`]                |
//! | inline line of more than `max_line_len` bytes ^ the first byte past the limit | [`LineTooLong`] |
//! | `"a"b` ^`b`                         | [`UnbalancedQuotes`]: a closing quote followed by a non-space |
//! | `set "a` ^`"`                       | [`UnbalancedQuotes`]: the quote that is never closed |
//!
//! An inline request is also held to the same limits as a multibulk one: more than
//! `max_elements` arguments is [`TooManyElements`] at the first byte of the first
//! argument too many, and an argument longer than `max_bulk_len` is [`BulkTooLong`]
//! at its first byte.
//!
//! # Limits
//!
//! [`parse_request`] applies [`Limits::DEFAULT`]; [`parse_request_with`] takes others.
//! `max_elements` bounds the arguments of a request, `max_bulk_len` the length of each,
//! and `max_line_len` (64 KiB by default, redis-server's `PROTO_INLINE_MAX_SIZE`) the
//! length of an inline line, counted without its `\n` but with the `\r` before it: a
//! longer line is an error as soon as its first byte past the limit arrives, so a
//! client that never sends `\n` cannot make the caller buffer more than that.
//! `max_depth` does not apply: requests do not nest.
//!
//! redis-server additionally limits unauthenticated clients to 10 arguments of
//! 16 KiB; that is a server's policy, which a caller can get by passing tighter
//! [`Limits`] before `AUTH`.
//!
//! # Costs
//!
//! The parser keeps no state between calls, so each call reads the request from its
//! start.
//!
//! * Multibulk: time is linear in the number of arguments, plus the digits of their
//!   headers; payloads are never read (only the CRLF after each), so a 100 MiB
//!   argument costs as much as a 1-byte one. It allocates one `Vec` for the arguments,
//!   reserving at most one slot per 4 bytes of input actually present, so `*1000000000`
//!   allocates nothing until the arguments arrive.
//! * Inline: time is linear in the length of the line (a `memchr` for `\n`, then one
//!   pass to split it). It allocates the `Vec` of arguments, and one `Vec` for each
//!   argument that cannot be borrowed.
//!
//! A caller that retries after every read of a request that arrives in many pieces
//! pays for the part already received again each time: for multibulk, the headers
//! seen so far; for inline, the line so far (at most `max_line_len` bytes).
//!
//! # Differences from redis-server
//!
//! The verdict on a request is redis-server's, except where redis-server does not look:
//!
//! * The two bytes after a bulk payload, and after the CR of a header line, must be
//!   CRLF and LF; redis-server skips them whatever they are.
//! * An error is reported as soon as a byte makes the request invalid; redis-server
//!   waits for the end of the line it is in.
//! * A count or length beyond `i64` is [`IntegerOverflow`], and limits are those of
//!   [`Limits`] (by default up to `u32::MAX` arguments of up to 512 MiB; redis-server
//!   allows `i32::MAX` arguments and `proto-max-bulk-len`, 512 MiB by default).
//! * An inline line with a NUL byte is parsed up to the NUL. redis-server looks for
//!   the `\n` with `strchr`, which stops at the NUL, so it would wait for more input
//!   until the line limit.
//!
//! [`InvalidInteger`]: ErrorKind::InvalidInteger
//! [`IntegerOverflow`]: ErrorKind::IntegerOverflow
//! [`InvalidLineEnding`]: ErrorKind::InvalidLineEnding
//! [`ExpectedBulk(b':')`]: ErrorKind::ExpectedBulk
//! [`InvalidLength`]: ErrorKind::InvalidLength
//! [`MissingCrlf`]: ErrorKind::MissingCrlf
//! [`TooManyElements`]: ErrorKind::TooManyElements
//! [`BulkTooLong`]: ErrorKind::BulkTooLong
//! [`LineTooLong`]: ErrorKind::LineTooLong
//! [`UnbalancedQuotes`]: ErrorKind::UnbalancedQuotes

use alloc::borrow::Cow;
use alloc::vec::Vec;

use crate::error::{ErrorKind, ParseError};
use crate::limits::Limits;
use crate::scalar::{Step, Stop, bulk_payload, int_line, invalid};

/// One client request: the command name and its arguments.
///
/// `args[0]` is the command name as the client sent it (commands are
/// case-insensitive: see [`Request::is_command`]), the rest are its arguments. An
/// empty request (no arguments) is what an empty inline line or `*0\r\n` gives; a
/// server skips it.
///
/// ```
/// use resp_parser::request::parse_request;
///
/// let (req, _) = parse_request(b"set key 'it\\'s'\r\n").unwrap().unwrap();
/// assert!(req.is_command(b"SET"));
/// assert_eq!(req.len(), 3);
/// assert_eq!(req.iter().last(), Some(&b"it's"[..]));
/// let owned = req.into_owned(); // outlives the input buffer
/// assert_eq!(owned.get(1), Some(&b"key"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Request<'a> {
    /// The command name followed by its arguments, borrowed from the input where
    /// possible.
    pub args: Vec<Cow<'a, [u8]>>,
}

impl<'a> Request<'a> {
    /// A request with the given command name and arguments.
    pub fn new(args: Vec<Cow<'a, [u8]>>) -> Self {
        Request { args }
    }

    /// The command name (the first argument), or `None` for an empty request.
    pub fn command(&self) -> Option<&[u8]> {
        self.args.first().map(|a| &**a)
    }

    /// Whether the command name is `name`, ignoring ASCII case, as redis-server
    /// matches command names.
    pub fn is_command(&self, name: &[u8]) -> bool {
        self.command().is_some_and(|c| c.eq_ignore_ascii_case(name))
    }

    /// The number of arguments, counting the command name.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether the request has no arguments at all (not even a command name).
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The argument at `index` (0 is the command name).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.args.get(index).map(|a| &**a)
    }

    /// The arguments as byte slices, the command name first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator + '_ {
        self.args.iter().map(|a| &**a)
    }

    /// Copies the borrowed arguments, so that the request outlives the input.
    pub fn into_owned(self) -> Request<'static> {
        Request {
            args: self
                .args
                .into_iter()
                .map(|a| Cow::Owned(a.into_owned()))
                .collect(),
        }
    }
}

/// Parses one request from the start of `input` with the default [`Limits`].
///
/// Returns `Ok(None)` when `input` holds only part of a request, and
/// `Ok(Some((request, used)))` when it holds a whole one, whose encoding is the first
/// `used` bytes. See the [module documentation](self) for the grammar and the errors.
///
/// ```
/// use resp_parser::request::parse_request;
/// use resp_parser::ErrorKind;
///
/// let (req, used) = parse_request(b"*1\r\n$4\r\nPING\r\n").unwrap().unwrap();
/// assert_eq!((req.command(), used), (Some(&b"PING"[..]), 14));
/// assert_eq!(parse_request(b"*1\r\n$4\r\nPI").unwrap(), None);
/// let err = parse_request(b"*1\r\n+PING\r\n").unwrap_err();
/// assert_eq!((err.offset, err.kind), (4, ErrorKind::ExpectedBulk(b'+')));
/// ```
#[inline]
pub fn parse_request(input: &[u8]) -> Result<Option<(Request<'_>, usize)>, ParseError> {
    parse_request_with(input, &Limits::DEFAULT)
}

/// Parses one request from the start of `input` under the given [`Limits`].
///
/// See [`parse_request`] for the meaning of the result.
///
/// ```
/// use resp_parser::request::parse_request_with;
/// use resp_parser::{ErrorKind, Limits};
///
/// let limits = Limits { max_elements: 2, ..Limits::DEFAULT };
/// let err = parse_request_with(b"*3\r\n", &limits).unwrap_err();
/// assert_eq!((err.offset, err.kind), (1, ErrorKind::TooManyElements));
/// let err = parse_request_with(b"DEL a b\r\n", &limits).unwrap_err();
/// assert_eq!((err.offset, err.kind), (6, ErrorKind::TooManyElements));
/// ```
pub fn parse_request_with<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, ParseError> {
    let parsed = match input.first() {
        None => return Ok(None),
        Some(b'*') => multibulk(input, limits),
        Some(_) => inline(input, limits),
    };
    match parsed {
        Ok((args, used)) => Ok(Some((Request { args }, used))),
        Err(Stop::Incomplete) => Ok(None),
        Err(Stop::Invalid(e)) => Err(e),
    }
}

type Args<'a> = Vec<Cow<'a, [u8]>>;

// ---------------------------------------------------------------------------------
// Multibulk
// ---------------------------------------------------------------------------------

/// Reads `*N\r\n` and `N` bulk strings; `input[0]` is `*`.
fn multibulk<'a>(input: &'a [u8], limits: &Limits) -> Step<(Args<'a>, usize)> {
    let (count, mut pos) = int_line(input, 1)?;
    if count <= 0 {
        // redis-server resets the client and reads on: nothing to run.
        return Ok((Vec::new(), pos));
    }
    let count = match usize::try_from(count) {
        Ok(n) if n <= limits.max_elements => n,
        _ => return invalid(1, ErrorKind::TooManyElements),
    };
    // The smallest element, `$0\r\n\r\n`, is 6 bytes: never reserve for bytes that
    // are not there.
    let mut args = Vec::with_capacity(count.min((input.len() - pos) / 4));
    for _ in 0..count {
        let Some(&ty) = input.get(pos) else {
            return Err(Stop::Incomplete);
        };
        if ty != b'$' {
            return invalid(pos, ErrorKind::ExpectedBulk(ty));
        }
        let len_at = pos + 1;
        let (len, data) = int_line(input, len_at)?;
        let (end, next) = bulk_payload(input, len_at, len, data, limits)?;
        args.push(Cow::Borrowed(&input[data..end]));
        pos = next;
    }
    Ok((args, pos))
}

// ---------------------------------------------------------------------------------
// Inline
// ---------------------------------------------------------------------------------

/// Reads one inline line and splits it into arguments.
fn inline<'a>(input: &'a [u8], limits: &Limits) -> Step<(Args<'a>, usize)> {
    // The line may hold at most `max_line_len` bytes before its `\n`.
    let window = &input[..input.len().min(limits.max_line_len.saturating_add(1))];
    let newline = match memchr::memchr(b'\n', window) {
        Some(i) => i,
        None if input.len() > limits.max_line_len => {
            return invalid(limits.max_line_len, ErrorKind::LineTooLong);
        }
        None => return Err(Stop::Incomplete),
    };
    let mut line = &input[..newline];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    // `sdssplitargs` reads a C string: it ends at the first NUL.
    if let Some(nul) = memchr::memchr(0, line) {
        line = &line[..nul];
    }
    let args = split_args(line, limits).map_err(Stop::Invalid)?;
    Ok((args, newline + 1))
}

/// Whether C's `isspace` (in the C locale) holds for `b`.
#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The bytes that end an unquoted run: `sdssplitargs`' separators and the quotes.
#[inline]
fn ends_unquoted(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'')
}

/// The value of an ASCII hex digit.
#[inline]
fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// An argument being assembled: a range of the line while its bytes are contiguous
/// there, a copy once they are not.
enum Token {
    Empty,
    Borrowed(usize, usize),
    Owned(Vec<u8>),
}

impl Token {
    /// Appends `line[start..end]`.
    fn push_range(&mut self, line: &[u8], start: usize, end: usize) {
        if start == end {
            return;
        }
        match self {
            Token::Empty => *self = Token::Borrowed(start, end),
            Token::Borrowed(_, e) if *e == start => *e = end,
            Token::Borrowed(s, e) => {
                let mut owned = Vec::with_capacity(*e - *s + end - start);
                owned.extend_from_slice(&line[*s..*e]);
                owned.extend_from_slice(&line[start..end]);
                *self = Token::Owned(owned);
            }
            Token::Owned(owned) => owned.extend_from_slice(&line[start..end]),
        }
    }

    /// Appends a byte that is not in the line as such (the value of an escape).
    fn push_byte(&mut self, line: &[u8], byte: u8) {
        match self {
            Token::Owned(owned) => owned.push(byte),
            Token::Empty => *self = Token::Owned(alloc::vec![byte]),
            Token::Borrowed(s, e) => {
                let mut owned = Vec::with_capacity(*e - *s + 8);
                owned.extend_from_slice(&line[*s..*e]);
                owned.push(byte);
                *self = Token::Owned(owned);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Token::Empty => 0,
            Token::Borrowed(s, e) => e - s,
            Token::Owned(owned) => owned.len(),
        }
    }

    fn finish(self, line: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Token::Empty => Cow::Borrowed(&[]),
            Token::Borrowed(s, e) => Cow::Borrowed(&line[s..e]),
            Token::Owned(owned) => Cow::Owned(owned),
        }
    }
}

/// Where the splitter is inside an argument.
#[derive(Clone, Copy)]
enum Quoting {
    None,
    /// Inside `"..."` opened at this offset.
    Double(usize),
    /// Inside `'...'` opened at this offset.
    Single(usize),
}

/// Splits a line (without its line ending, and with no NUL byte) as redis-server's
/// `sdssplitargs` does. Offsets in errors are offsets in `line`, which starts the
/// input.
fn split_args<'a>(line: &'a [u8], limits: &Limits) -> Result<Args<'a>, ParseError> {
    let len = line.len();
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        // Skip blanks: `isspace`, which, unlike the separators inside an unquoted
        // argument, includes \v and \f.
        while p < len && is_space(line[p]) {
            p += 1;
        }
        if p == len {
            return Ok(args);
        }
        let token_start = p;
        if args.len() == limits.max_elements {
            return Err(ParseError::new(token_start, ErrorKind::TooManyElements));
        }
        let mut token = Token::Empty;
        let mut quoting = Quoting::None;
        loop {
            match quoting {
                Quoting::None => {
                    let run = line[p..].iter().position(|&b| ends_unquoted(b));
                    let end = run.map_or(len, |i| p + i);
                    token.push_range(line, p, end);
                    p = end;
                    match line.get(p) {
                        // The end of the line ends the argument.
                        None => break,
                        Some(b'"') => quoting = Quoting::Double(p),
                        Some(b'\'') => quoting = Quoting::Single(p),
                        // A separator ends the argument, and is consumed.
                        Some(_) => {
                            p += 1;
                            break;
                        }
                    }
                    p += 1;
                }
                Quoting::Double(open) => {
                    let run = line[p..].iter().position(|&b| b == b'"' || b == b'\\');
                    let end = run.map_or(len, |i| p + i);
                    token.push_range(line, p, end);
                    p = end;
                    match line.get(p) {
                        None => return Err(ParseError::new(open, ErrorKind::UnbalancedQuotes)),
                        Some(b'"') => {
                            p = close_quote(line, p)?;
                            break;
                        }
                        Some(_) => match (line.get(p + 1), line.get(p + 2), line.get(p + 3)) {
                            // A backslash.
                            (Some(b'x'), Some(&hi), Some(&lo))
                                if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() =>
                            {
                                token.push_byte(line, (hex_value(hi) << 4) | hex_value(lo));
                                p += 4;
                            }
                            (Some(&escaped), _, _) => {
                                let byte = match escaped {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 0x08,
                                    b'a' => 0x07,
                                    other => other,
                                };
                                token.push_byte(line, byte);
                                p += 2;
                            }
                            // A backslash that ends the line is itself; the quote is
                            // then unterminated.
                            (None, _, _) => {
                                token.push_range(line, p, p + 1);
                                p += 1;
                            }
                        },
                    }
                }
                Quoting::Single(open) => {
                    let run = line[p..].iter().position(|&b| b == b'\'' || b == b'\\');
                    let end = run.map_or(len, |i| p + i);
                    token.push_range(line, p, end);
                    p = end;
                    match line.get(p) {
                        None => return Err(ParseError::new(open, ErrorKind::UnbalancedQuotes)),
                        Some(b'\'') => {
                            p = close_quote(line, p)?;
                            break;
                        }
                        // A backslash: only `\'` is an escape.
                        Some(_) => {
                            if line.get(p + 1) == Some(&b'\'') {
                                token.push_byte(line, b'\'');
                                p += 2;
                            } else {
                                token.push_range(line, p, p + 1);
                                p += 1;
                            }
                        }
                    }
                }
            }
        }
        if token.len() > limits.max_bulk_len {
            return Err(ParseError::new(token_start, ErrorKind::BulkTooLong));
        }
        args.push(token.finish(line));
    }
}

/// Checks that the closing quote at `quote` is followed by whitespace or the end of
/// the line; returns the offset past it.
#[inline]
fn close_quote(line: &[u8], quote: usize) -> Result<usize, ParseError> {
    match line.get(quote + 1) {
        Some(&b) if !is_space(b) => Err(ParseError::new(quote + 1, ErrorKind::UnbalancedQuotes)),
        _ => Ok(quote + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use alloc::{format, string::ToString};
    use proptest::prelude::*;

    extern crate std;

    /// The arguments of a parse that must succeed and use all of `input`.
    fn args_of(input: &[u8]) -> Vec<Vec<u8>> {
        match parse_request(input) {
            Ok(Some((req, used))) => {
                assert_eq!(used, input.len(), "used for {input:?}");
                req.args.into_iter().map(Cow::into_owned).collect()
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn err_of(input: &[u8]) -> (usize, ErrorKind) {
        err_with(input, &Limits::DEFAULT)
    }

    fn err_with(input: &[u8], limits: &Limits) -> (usize, ErrorKind) {
        match parse_request_with(input, limits) {
            Err(e) => (e.offset, e.kind),
            other => panic!(
                "{:?}: expected an error, got {other:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }

    fn v(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|a| a.to_vec()).collect()
    }

    /// Encodes a multibulk request by hand (independent of the crate's encoder).
    fn multibulk_of<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Quotes an argument the way redis-server's `sdscatrepr` does.
    fn repr(arg: &[u8]) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &b in arg {
            match b {
                b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x07 => out.extend_from_slice(b"\\a"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x20..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.push(b'"');
        out
    }

    // -----------------------------------------------------------------------------
    // Multibulk
    // -----------------------------------------------------------------------------

    #[test]
    fn multibulk_happy_paths() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"*1\r\n$4\r\nPING\r\n", &[b"PING"]),
            (
                b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv a l\r\n",
                &[b"SET", b"k", b"v a l"],
            ),
            // Empty arguments and binary payloads, CRLF inside a payload.
            (
                b"*2\r\n$0\r\n\r\n$4\r\n\r\n\0\xff\r\n",
                &[b"", b"\r\n\0\xff"],
            ),
            // A payload holding what looks like another request.
            (
                b"*1\r\n$11\r\n*1\r\n$1\r\nx\r\n\r\n",
                &[b"*1\r\n$1\r\nx\r\n"],
            ),
            (b"*0\r\n", &[]),
            (b"*-1\r\n", &[]),
            // redis-server skips every count below one.
            (b"*-25\r\n", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(args_of(input), v(want), "{input:?}");
        }
    }

    #[test]
    fn multibulk_arguments_are_borrowed() {
        let input = multibulk_of(&[&b"GET"[..], b"key"]);
        let (req, _) = parse_request(&input).unwrap().unwrap();
        assert!(req.args.iter().all(|a| matches!(a, Cow::Borrowed(_))));
    }

    #[test]
    fn trailing_bytes_are_the_next_request() {
        let input = b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI";
        let (req, used) = parse_request(input).unwrap().unwrap();
        assert_eq!((req.command(), used), (Some(&b"PING"[..]), 14));
        assert_eq!(parse_request(&input[used..]).unwrap(), None);

        let input = b"*0\r\nPING\n";
        let (req, used) = parse_request(input).unwrap().unwrap();
        assert!(req.is_empty());
        assert_eq!(args_of(&input[used..]), v(&[b"PING"]));
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        let requests: &[&[u8]] = &[
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n",
            b"*2\r\n$0\r\n\r\n$2\r\n\r\n\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"*-10\r\n",
            b"*12\r\n$1\r\na\r\n",
            b"set a b\r\n",
            b"set \"a b\" 'c\\'d'\n",
            b"\r\n",
            b"\n",
            b"  \"unterminated\n",
        ];
        for input in requests {
            for end in 0..input.len() {
                let prefix = &input[..end];
                // Only whole requests (the `*12` one is never whole) are checked fully.
                assert_eq!(parse_request(prefix), Ok(None), "prefix {prefix:?}");
            }
        }
    }

    #[test]
    fn multibulk_errors_point_at_the_offending_byte() {
        let cases: &[(&[u8], usize, ErrorKind)] = &[
            // Counts.
            (b"*x\r\n", 1, ErrorKind::InvalidInteger),
            (b"*\r\n", 1, ErrorKind::InvalidInteger),
            (b"*+1\r\n", 1, ErrorKind::InvalidInteger),
            (b"*01\r\n", 1, ErrorKind::InvalidInteger),
            (b"*00", 1, ErrorKind::InvalidInteger),
            (b"*-0", 2, ErrorKind::InvalidInteger),
            (b"*-\r\n", 2, ErrorKind::InvalidInteger),
            (b"*1 \r\n", 2, ErrorKind::InvalidInteger),
            (b"*1x", 2, ErrorKind::InvalidInteger),
            (b"*1\rx", 2, ErrorKind::InvalidLineEnding),
            (b"*1\n", 2, ErrorKind::InvalidLineEnding),
            (b"*9223372036854775808\r\n", 19, ErrorKind::IntegerOverflow),
            (b"*-9223372036854775809\r\n", 20, ErrorKind::IntegerOverflow),
            (b"*99999999999999999999999", 19, ErrorKind::IntegerOverflow),
            (b"*4294967296\r\n", 1, ErrorKind::TooManyElements),
            // Elements.
            (b"*1\r\n:1\r\n", 4, ErrorKind::ExpectedBulk(b':')),
            (b"*2\r\n$1\r\na\r\nfoo", 11, ErrorKind::ExpectedBulk(b'f')),
            (b"*1\r\n*1\r\n", 4, ErrorKind::ExpectedBulk(b'*')),
            (b"*1\r\n$-1\r\n", 5, ErrorKind::InvalidLength),
            (b"*1\r\n$-2\r\n", 5, ErrorKind::InvalidLength),
            (b"*1\r\n$01\r\n", 5, ErrorKind::InvalidInteger),
            (b"*1\r\n$\r\n", 5, ErrorKind::InvalidInteger),
            (b"*1\r\n$1\r\r", 6, ErrorKind::InvalidLineEnding),
            (b"*1\r\n$536870913\r\n", 5, ErrorKind::BulkTooLong),
            (
                b"*1\r\n$99999999999999999999\r\n",
                23,
                ErrorKind::IntegerOverflow,
            ),
            // The CRLF after a payload.
            (b"*1\r\n$3\r\nfooXY", 11, ErrorKind::MissingCrlf),
            (b"*1\r\n$3\r\nfoo\rY", 11, ErrorKind::MissingCrlf),
            (b"*1\r\n$3\r\nfoo\n", 11, ErrorKind::MissingCrlf),
            (b"*1\r\n$0\r\nx", 8, ErrorKind::MissingCrlf),
        ];
        for &(input, offset, kind) in cases {
            assert_eq!(
                err_of(input),
                (offset, kind),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn multibulk_limits() {
        let limits = Limits {
            max_elements: 2,
            max_bulk_len: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            parse_request_with(b"*2\r\n$3\r\nabc\r\n$0\r\n\r\n", &limits)
                .unwrap()
                .map(|(r, n)| (r.len(), n)),
            Some((2, 19))
        );
        assert_eq!(
            err_with(b"*3\r\n", &limits),
            (1, ErrorKind::TooManyElements)
        );
        assert_eq!(
            err_with(b"*1\r\n$4\r\n", &limits),
            (5, ErrorKind::BulkTooLong)
        );
        // Limits are checked on the whole number: `*3` may still become `*30`.
        assert_eq!(parse_request_with(b"*3", &limits), Ok(None));
    }

    #[test]
    fn huge_counts_reserve_nothing() {
        // A count of four billion, and nothing after it: must not try to allocate.
        assert_eq!(parse_request(b"*4294967295\r\n"), Ok(None));
        let limits = Limits {
            max_elements: usize::MAX,
            ..Limits::DEFAULT
        };
        assert_eq!(
            parse_request_with(b"*9223372036854775807\r\n$1\r\n", &limits),
            Ok(None)
        );
    }

    // -----------------------------------------------------------------------------
    // Inline
    // -----------------------------------------------------------------------------

    #[test]
    fn inline_splitting() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"set a b\r\n", &[b"set", b"a", b"b"]),
            (b"set a b\n", &[b"set", b"a", b"b"]),
            (b"  set \t a\t\tb   \r\n", &[b"set", b"a", b"b"]),
            (b"PING\r\n", &[b"PING"]),
            // Empty and blank lines are empty requests.
            (b"\r\n", &[]),
            (b"\n", &[]),
            (b" \t \r\n", &[]),
            // Only one CR before the LF is the line ending; another CR separates.
            (b"a\r\r\n", &[b"a"]),
            (b"a\rb\r\n", &[b"a", b"b"]),
            // \v and \f separate only between arguments, not inside one.
            (b"a\x0b\x0cb\n", &[b"a\x0b\x0cb"]),
            (b"a \x0bb\n", &[b"a", b"b"]),
            (b"\x0c a\n", &[b"a"]),
            // Double quotes.
            (b"set \"a b\"\r\n", &[b"set", b"a b"]),
            (b"\"\"\n", &[b""]),
            (b"\"\" ''\n", &[b"", b""]),
            (b"\"\\x41\\n\"\n", &[b"A\n"]),
            (b"\"\\xfF\\x00\\X41\"\n", &[b"\xff\0X41"]),
            (b"\"\\x4\" \"\\xg0\"\n", &[b"x4", b"xg0"]),
            (b"\"\\r\\t\\b\\a\\\\\\\"\\q\"\n", &[b"\r\t\x08\x07\\\"q"]),
            (b"\"a\x0bb\" \"c\rd\"\n", &[b"a\x0bb", b"c\rd"]),
            // Single quotes: only \' is an escape.
            (b"'it\\'s'\n", &[b"it's"]),
            (b"'a\\nb\\x41'\n", &[b"a\\nb\\x41"]),
            (b"'say \"hi\"'\n", &[b"say \"hi\""]),
            (b"\"it's\"\n", &[b"it's"]),
            // A quote in the middle of an argument starts quoting there.
            (b"ab\"c d\"\n", &[b"abc d"]),
            (b"ab'c'\n", &[b"abc"]),
            (b"a\"\\x41\" b\n", &[b"aA", b"b"]),
            // A closing quote may be followed by any whitespace, or the line end.
            (b"\"a\"\tb\n", &[b"a", b"b"]),
            (b"\"a\"\x0bb\n", &[b"a", b"b"]),
            (b"'a'\r\n", &[b"a"]),
            // A NUL ends the arguments (sdssplitargs reads a C string).
            (b"set a\0b c\r\n", &[b"set", b"a"]),
            (b"\0\"\n", &[]),
            // Any first byte but `*` starts an inline request.
            (b"$3 :1 +x\n", &[b"$3", b":1", b"+x"]),
        ];
        for (input, want) in cases {
            assert_eq!(
                args_of(input),
                v(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn inline_borrows_unless_escaped() {
        let (req, _) = parse_request(b"set \"a b\" 'c' d\"e\" \"\\x41\" ''\n")
            .unwrap()
            .unwrap();
        let borrowed: Vec<bool> = req
            .args
            .iter()
            .map(|a| matches!(a, Cow::Borrowed(_)))
            .collect();
        assert_eq!(borrowed, [true, true, true, false, false, true]);
        assert_eq!(req.args, [&b"set"[..], b"a b", b"c", b"de", b"A", b""]);
    }

    #[test]
    fn inline_errors() {
        let cases: &[(&[u8], usize, ErrorKind)] = &[
            (b"\"unterminated\n", 0, ErrorKind::UnbalancedQuotes),
            (b"set k \"unterminated\r\n", 6, ErrorKind::UnbalancedQuotes),
            (b"'a\n", 0, ErrorKind::UnbalancedQuotes),
            (b"'a\\'\n", 0, ErrorKind::UnbalancedQuotes),
            (b"\"a\\\"\n", 0, ErrorKind::UnbalancedQuotes),
            (b"\"a\\\n", 0, ErrorKind::UnbalancedQuotes),
            (b"ab\"cd\n", 2, ErrorKind::UnbalancedQuotes),
            (b"\"a\"b\n", 3, ErrorKind::UnbalancedQuotes),
            (b"'a'b\n", 3, ErrorKind::UnbalancedQuotes),
            (b"\"a\"\"b\"\n", 3, ErrorKind::UnbalancedQuotes),
            (b"x \"a\"'b'\n", 5, ErrorKind::UnbalancedQuotes),
            // The NUL ends the line for splitting, so this quote is never closed.
            (b"\"a\0\"\n", 0, ErrorKind::UnbalancedQuotes),
        ];
        for &(input, offset, kind) in cases {
            assert_eq!(
                err_of(input),
                (offset, kind),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn inline_line_limit() {
        const MAX: usize = 64 * 1024;
        // A line of exactly the limit, then LF (or CR LF counted in the line).
        let mut line = vec![b'a'; MAX];
        line.push(b'\n');
        assert_eq!(args_of(&line), [vec![b'a'; MAX]]);
        let mut line = vec![b'a'; MAX - 1];
        line.extend_from_slice(b"\r\n");
        assert_eq!(args_of(&line), [vec![b'a'; MAX - 1]]);
        // Up to the limit with no LF: wait for more.
        assert_eq!(parse_request(&vec![b'a'; MAX]), Ok(None));
        // One byte more, with or without a LF after it, is too long.
        let long = vec![b'a'; MAX + 1];
        assert_eq!(err_of(&long), (MAX, ErrorKind::LineTooLong));
        let mut long_line = long.clone();
        long_line.push(b'\n');
        assert_eq!(err_of(&long_line), (MAX, ErrorKind::LineTooLong));
        let mut long_crlf = vec![b'a'; MAX];
        long_crlf.extend_from_slice(b"\r\n");
        assert_eq!(err_of(&long_crlf), (MAX, ErrorKind::LineTooLong));
        // Custom limit.
        let limits = Limits {
            max_line_len: 4,
            ..Limits::DEFAULT
        };
        assert_eq!(err_with(b"hello\n", &limits), (4, ErrorKind::LineTooLong));
        assert_eq!(
            parse_request_with(b"hell\n", &limits)
                .unwrap()
                .map(|(r, n)| (r.len(), n)),
            Some((1, 5))
        );
    }

    #[test]
    fn inline_limits() {
        let limits = Limits {
            max_elements: 2,
            max_bulk_len: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            err_with(b"a b c\n", &limits),
            (4, ErrorKind::TooManyElements)
        );
        assert_eq!(
            err_with(b"a  \"b\\x41cd\"\n", &limits),
            (3, ErrorKind::BulkTooLong)
        );
        assert_eq!(
            parse_request_with(b"abc \"\\x41\\x42\\x43\"\n", &limits)
                .unwrap()
                .map(|(r, n)| (r.into_owned().args, n)),
            Some((
                vec![Cow::Owned(b"abc".to_vec()), Cow::Owned(b"ABC".to_vec())],
                19
            ))
        );
    }

    #[test]
    fn request_accessors() {
        let (req, _) = parse_request(b"sEt k v\n").unwrap().unwrap();
        assert!(req.is_command(b"SET"));
        assert!(!req.is_command(b"SETX"));
        assert_eq!(req.command(), Some(&b"sEt"[..]));
        assert_eq!((req.len(), req.is_empty()), (3, false));
        assert_eq!(req.get(2), Some(&b"v"[..]));
        assert_eq!(req.get(3), None);
        assert_eq!(req.iter().next_back(), Some(&b"v"[..]));
        let owned: Request<'static> = req.clone().into_owned();
        assert_eq!(owned, req);
        assert!(owned.args.iter().all(|a| matches!(a, Cow::Owned(_))));

        let empty = Request::default();
        assert_eq!((empty.command(), empty.is_empty()), (None, true));
        assert!(!empty.is_command(b""));
        assert_eq!(
            Request::new(vec![Cow::Borrowed(&b"PING"[..])]).command(),
            Some(&b"PING"[..])
        );
    }

    #[test]
    fn empty_input_is_incomplete() {
        assert_eq!(parse_request(b""), Ok(None));
        assert_eq!(parse_request(b"*"), Ok(None));
    }

    // -----------------------------------------------------------------------------
    // A literal port of redis-server's sdssplitargs, to compare the splitter with.
    // (The splitter was also checked against a live redis-server 7.0.15, through
    // `RPUSH k <line>` and `LRANGE`, on 11,000 random lines: no difference.)
    // -----------------------------------------------------------------------------

    fn is_hex(c: u8) -> bool {
        c.is_ascii_hexdigit()
    }

    /// `sdssplitargs` on the C string `line` (read up to its first NUL); `None` where
    /// it returns NULL.
    fn sdssplitargs(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut s = line.to_vec();
        s.push(0);
        let at = |i: usize| s.get(i).copied().unwrap_or(0);
        let isspace = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
        let mut p = 0;
        let mut vector = Vec::new();
        loop {
            while at(p) != 0 && isspace(at(p)) {
                p += 1;
            }
            if at(p) == 0 {
                return Some(vector);
            }
            let (mut inq, mut insq, mut done) = (false, false, false);
            let mut current = Vec::new();
            while !done {
                if inq {
                    if at(p) == b'\\' && at(p + 1) == b'x' && is_hex(at(p + 2)) && is_hex(at(p + 3))
                    {
                        current.push(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3)));
                        p += 3;
                    } else if at(p) == b'\\' && at(p + 1) != 0 {
                        p += 1;
                        current.push(match at(p) {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            c => c,
                        });
                    } else if at(p) == b'"' {
                        if at(p + 1) != 0 && !isspace(at(p + 1)) {
                            return None;
                        }
                        done = true;
                    } else if at(p) == 0 {
                        return None;
                    } else {
                        current.push(at(p));
                    }
                } else if insq {
                    if at(p) == b'\\' && at(p + 1) == b'\'' {
                        p += 1;
                        current.push(b'\'');
                    } else if at(p) == b'\'' {
                        if at(p + 1) != 0 && !isspace(at(p + 1)) {
                            return None;
                        }
                        done = true;
                    } else if at(p) == 0 {
                        return None;
                    } else {
                        current.push(at(p));
                    }
                } else {
                    match at(p) {
                        b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                        b'"' => inq = true,
                        b'\'' => insq = true,
                        c => current.push(c),
                    }
                }
                if at(p) != 0 {
                    p += 1;
                }
            }
            vector.push(current);
        }
    }

    #[test]
    fn reference_port_agrees_with_redis_examples() {
        assert_eq!(
            sdssplitargs(b"call \"Sabrina\"    and \"Mark Smith\\n\""),
            Some(v(&[b"call", b"Sabrina", b"and", b"Mark Smith\n"]))
        );
        assert_eq!(sdssplitargs(b"\"foo\"bar"), None);
        assert_eq!(sdssplitargs(b"\"foo'"), None);
        assert_eq!(sdssplitargs(b""), Some(vec![]));
    }

    /// Bytes that exercise every branch of the splitter.
    fn tricky_line() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            Just(b'a'),
            Just(b'x'),
            Just(b'n'),
            Just(b'4'),
            Just(b'F'),
            Just(b' '),
            Just(b'\t'),
            Just(b'\r'),
            Just(0x0b),
            Just(b'"'),
            Just(b'\''),
            Just(b'\\'),
            Just(0u8),
            Just(0xffu8),
        ];
        proptest::collection::vec(byte, 0..24)
    }

    fn arg() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..24),
            "[a-zA-Z0-9]{1,8}".prop_map(String::into_bytes),
        ]
    }

    /// One request, as its encoding and the arguments it must parse to.
    fn request() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<u8>>)> {
        let args = || proptest::collection::vec(arg(), 0..6);
        prop_oneof![
            args().prop_map(|args| (multibulk_of(&args), args)),
            // Inline, every argument quoted like sdscatrepr, separated by blanks.
            (args(), any::<bool>()).prop_map(|(args, crlf)| {
                let mut line = Vec::new();
                for a in &args {
                    line.extend_from_slice(&repr(a));
                    line.push(b' ');
                }
                line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                (line, args)
            }),
            // Inline, bare words.
            proptest::collection::vec("[a-z0-9]{1,6}".prop_map(String::into_bytes), 0..5).prop_map(
                |args| {
                    let mut line = args.join(&b' ');
                    line.extend_from_slice(b"\r\n");
                    (line, args)
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn splitter_matches_sdssplitargs(line in tricky_line()) {
            let ours = inline_args(&line);
            prop_assert_eq!(ours, sdssplitargs(&line));
        }

        #[test]
        fn multibulk_round_trips(args in proptest::collection::vec(arg(), 0..8)) {
            let input = multibulk_of(&args);
            let (req, used) = parse_request(&input).unwrap().unwrap();
            prop_assert_eq!(used, input.len());
            prop_assert_eq!(req.args.len(), args.len());
            for (got, want) in req.args.iter().zip(&args) {
                prop_assert!(matches!(got, Cow::Borrowed(_)));
                prop_assert_eq!(&**got, &want[..]);
            }
            for end in 0..input.len() {
                prop_assert_eq!(parse_request(&input[..end]), Ok(None));
            }
        }

        #[test]
        fn inline_round_trips((input, args) in request()) {
            let (req, used) = parse_request(&input).unwrap().unwrap();
            prop_assert_eq!(used, input.len());
            let got: Vec<Vec<u8>> = req.args.into_iter().map(Cow::into_owned).collect();
            prop_assert_eq!(got, args);
            for end in 0..input.len() {
                prop_assert_eq!(parse_request(&input[..end]), Ok(None));
            }
        }

        #[test]
        fn chunked_stream_gives_the_same_requests(
            requests in proptest::collection::vec(request(), 1..6),
            cuts in proptest::collection::vec(0usize..400, 0..8),
        ) {
            let stream: Vec<u8> = requests.iter().flat_map(|(bytes, _)| bytes.clone()).collect();
            let want: Vec<Vec<Vec<u8>>> = requests.into_iter().map(|(_, args)| args).collect();

            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.push(stream.len());
            cuts.sort_unstable();

            // Feed the stream in pieces; parse whatever is buffered after each.
            let mut buffer = Vec::new();
            let mut fed = 0;
            let mut got = Vec::new();
            for cut in cuts {
                buffer.extend_from_slice(&stream[fed..cut]);
                fed = cut;
                while let Some((req, used)) = parse_request(&buffer).unwrap() {
                    got.push(req.into_owned().args.into_iter().map(Cow::into_owned).collect::<Vec<_>>());
                    buffer.drain(..used);
                }
            }
            prop_assert!(buffer.is_empty());
            prop_assert_eq!(got, want);
        }

        #[test]
        fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let limits = Limits { max_line_len: 16, max_elements: 4, max_bulk_len: 8, ..Limits::DEFAULT };
            for limits in [&Limits::DEFAULT, &limits] {
                match parse_request_with(&input, limits) {
                    Ok(Some((_, used))) => prop_assert!(used > 0 && used <= input.len()),
                    Ok(None) => {}
                    Err(e) => prop_assert!(e.offset < input.len()),
                }
            }
        }
    }

    /// The splitter on one line, through the public entry point.
    fn inline_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        // A `*` first byte would make it multibulk; sdssplitargs has no such rule.
        let mut input = vec![b' '];
        input.extend_from_slice(line);
        input.push(b'\n');
        match parse_request(&input) {
            Ok(Some((req, used))) => {
                assert_eq!(used, input.len());
                Some(req.args.into_iter().map(Cow::into_owned).collect())
            }
            Ok(None) => panic!("a whole line is never incomplete: {line:?}"),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::UnbalancedQuotes);
                None
            }
        }
    }

    #[test]
    fn display_mentions_the_offset() {
        let err = parse_request(b"\"a\"b\n").unwrap_err();
        assert!(err.to_string().contains('3'));
    }
}
