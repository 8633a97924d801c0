//! Grammars of the scalar values: lines, integers, doubles and big numbers.
//!
//! Every reader takes the whole input and the offset where its value starts, and
//! answers with [`Step::Incomplete`] when the input ends before the value does. A
//! reader only reports an error when no continuation of the input could make it valid,
//! which is what keeps every strict prefix of a valid reply "incomplete".

use crate::error::{ErrorKind, ParseError};
use crate::limits::Limits;

/// Why a step of the parser did not produce a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// More input is needed.
    Incomplete,
    /// The input is malformed.
    Invalid(ParseError),
}

/// Result of one step of the parser.
pub(crate) type Step<T> = Result<T, Stop>;

/// The public form of a parse result: `Ok(None)` for incomplete input.
pub(crate) type Parsed<T> = Result<Option<T>, ParseError>;

/// Like `?` for a [`Step`] inside a function that returns [`Parsed`].
macro_rules! step {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err($crate::scalar::Stop::Incomplete) => return Ok(None),
            Err($crate::scalar::Stop::Invalid(e)) => return Err(e),
        }
    };
}
pub(crate) use step;

#[cold]
#[inline(never)]
pub(crate) fn invalid<T>(offset: usize, kind: ErrorKind) -> Step<T> {
    Err(Stop::Invalid(ParseError::new(offset, kind)))
}

/// Finds the CRLF ending the line that starts at `start` and returns the offset of
/// its CR. A line may contain neither CR nor LF.
#[inline(always)]
pub(crate) fn line_end(input: &[u8], start: usize, max_line_len: usize) -> Step<usize> {
    let rest = input.get(start..).unwrap_or_default();
    // Most lines (`OK`, `QUEUED`, a double) are a few bytes long: a plain loop over the
    // first bytes finds their end before memchr's dispatch into vector code would.
    const SHORT: usize = 16;
    let head = &rest[..rest.len().min(SHORT)];
    let found = match head.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) => Some(i),
        None if rest.len() <= SHORT => None,
        None => memchr::memchr2(b'\r', b'\n', &rest[SHORT..]).map(|i| i + SHORT),
    };
    match found {
        Some(i) if i > max_line_len => invalid(start + max_line_len, ErrorKind::LineTooLong),
        Some(i) => {
            if rest[i] == b'\n' {
                return invalid(start + i, ErrorKind::InvalidLineEnding);
            }
            match rest.get(i + 1) {
                Some(b'\n') => Ok(start + i),
                Some(_) => invalid(start + i, ErrorKind::InvalidLineEnding),
                None => Err(Stop::Incomplete),
            }
        }
        None if rest.len() > max_line_len => invalid(start + max_line_len, ErrorKind::LineTooLong),
        None => Err(Stop::Incomplete),
    }
}

/// Reads a canonical decimal integer (`0` or `-?[1-9][0-9]*`, like redis-server's
/// `string2ll`) and its CRLF, starting at `start`. Returns the value and the offset
/// just past the CRLF. Reports an error at the first byte that no continuation could
/// make valid.
///
/// This is the hot path of every header (`*3`, `$5`, `:42`), so it reads digits
/// directly instead of searching for the CR first.
#[inline(always)]
pub(crate) fn int_line(input: &[u8], start: usize) -> Step<(i64, usize)> {
    let mut pos = start;
    let negative = input.get(pos) == Some(&b'-');
    if negative {
        pos += 1;
    }
    let first = pos;
    // Magnitude, at most i64::MAX, or i64::MAX + 1 for a negative number.
    let max = i64::MAX as u64 + u64::from(negative);
    let mut magnitude: u64 = 0;
    loop {
        let Some(&b) = input.get(pos) else {
            return Err(Stop::Incomplete);
        };
        match b {
            b'0'..=b'9' => {
                if pos > first && input[first] == b'0' {
                    // `01`, `00`: a leading zero.
                    return invalid(first, ErrorKind::InvalidInteger);
                }
                if negative && b == b'0' && pos == first {
                    // `-0`, and whatever follows it.
                    return invalid(pos, ErrorKind::InvalidInteger);
                }
                magnitude = match magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(b - b'0')))
                {
                    Some(m) if m <= max => m,
                    _ => return invalid(pos, ErrorKind::IntegerOverflow),
                };
            }
            b'\r' if pos > first => {
                return match input.get(pos + 1) {
                    Some(b'\n') => {
                        let value = if negative {
                            0i64.wrapping_sub_unsigned(magnitude)
                        } else {
                            magnitude as i64
                        };
                        Ok((value, pos + 2))
                    }
                    Some(_) => invalid(pos, ErrorKind::InvalidLineEnding),
                    None => Err(Stop::Incomplete),
                };
            }
            b'\n' if pos > first => return invalid(pos, ErrorKind::InvalidLineEnding),
            _ => return invalid(pos, ErrorKind::InvalidInteger),
        }
        pos += 1;
    }
}

/// Checks the payload of a length-prefixed value whose length `len` was read at
/// `len_at` and whose data starts at `data`; returns the data's end and the offset
/// past its CRLF.
#[inline]
pub(crate) fn bulk_payload(
    input: &[u8],
    len_at: usize,
    len: i64,
    data: usize,
    limits: &Limits,
) -> Step<(usize, usize)> {
    let Ok(len) = usize::try_from(len) else {
        return invalid(len_at, ErrorKind::InvalidLength);
    };
    if len > limits.max_bulk_len {
        return invalid(len_at, ErrorKind::BulkTooLong);
    }
    let end = data + len;
    match input.get(end..end + 2) {
        Some(b"\r\n") => Ok((end, end + 2)),
        Some(_) => invalid(end, ErrorKind::MissingCrlf),
        None => {
            // Reject a wrong byte as soon as it arrives rather than waiting for two.
            match input.get(end) {
                Some(b'\r') | None => Err(Stop::Incomplete),
                Some(_) => invalid(end, ErrorKind::MissingCrlf),
            }
        }
    }
}

/// Checks the RESP3 double grammar and returns the value.
///
/// `[+-]?digits[.digits][(e|E)[+-]?digits]`, or `inf`, `+inf`, `-inf`, `nan`, `-nan`.
pub(crate) fn parse_double(text: &[u8]) -> Option<f64> {
    use nom::Parser;
    use nom::bytes::complete::tag;
    use nom::character::complete::{digit1, one_of};
    use nom::combinator::{all_consuming, opt, recognize};

    match text {
        b"inf" | b"+inf" => return Some(f64::INFINITY),
        b"-inf" => return Some(f64::NEG_INFINITY),
        b"nan" | b"-nan" => return Some(f64::NAN),
        _ => {}
    }
    let sign = || opt(one_of::<_, _, nom::error::Error<&[u8]>>("+-"));
    let number = recognize((
        sign(),
        digit1,
        opt((tag(&b"."[..]), digit1)),
        opt((one_of("eE"), sign(), digit1)),
    ));
    let (_, matched) = all_consuming(number).parse(text).ok()?;
    // The grammar admits only ASCII, so this is valid UTF-8 and a valid Rust float.
    core::str::from_utf8(matched).ok()?.parse().ok()
}

/// Checks the RESP3 big number grammar: `-?[0-9]+`.
pub(crate) fn is_big_number(text: &[u8]) -> bool {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_canonical() {
        assert_eq!(int_line(b"0\r\n", 0), Ok((0, 3)));
        assert_eq!(int_line(b"-12\r\n", 0), Ok((-12, 5)));
        assert_eq!(int_line(b"9223372036854775807\r\n", 0), Ok((i64::MAX, 21)));
        assert_eq!(int_line(b"-9223372036854775808\r\n", 0), Ok((i64::MIN, 22)));
        for bad in [
            &b"05\r\n"[..],
            b"-0\r\n",
            b"+5\r\n",
            b"\r\n",
            b"-\r\n",
            b"1a\r\n",
        ] {
            assert!(matches!(int_line(bad, 0), Err(Stop::Invalid(_))), "{bad:?}");
        }
        // Overflow is reported at the digit that overflows.
        assert_eq!(
            int_line(b"9223372036854775808\r\n", 0),
            invalid(18, ErrorKind::IntegerOverflow)
        );
        assert_eq!(
            int_line(b"-9223372036854775809\r\n", 0),
            invalid(19, ErrorKind::IntegerOverflow)
        );
        for prefix in [&b""[..], b"-", b"12", b"12\r"] {
            assert_eq!(int_line(prefix, 0), Err(Stop::Incomplete));
        }
    }

    #[test]
    fn doubles_follow_the_grammar() {
        for (text, value) in [
            (&b"1"[..], 1.0),
            (b"-1.5", -1.5),
            (b"1e3", 1000.0),
            (b"1.25E-2", 0.0125),
            (b"+2", 2.0),
            (b"inf", f64::INFINITY),
            (b"-inf", f64::NEG_INFINITY),
        ] {
            assert_eq!(parse_double(text), Some(value), "{text:?}");
        }
        assert!(parse_double(b"nan").unwrap().is_nan());
        for bad in [
            &b""[..],
            b".5",
            b"1.",
            b"1e",
            b"1.5.3",
            b"infinity",
            b"NaN",
            b"1 ",
            b"0x10",
        ] {
            assert_eq!(parse_double(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn big_numbers_are_digits() {
        assert!(is_big_number(
            b"3492890328409238509324850943850943825024385"
        ));
        assert!(is_big_number(b"-1"));
        assert!(!is_big_number(b""));
        assert!(!is_big_number(b"-"));
        assert!(!is_big_number(b"12a"));
        assert!(!is_big_number(b"+1"));
    }
}
