//! Writing frames and commands as RESP bytes.
//!
//! Everything here writes straight into the caller's buffer through [`Output`]: a
//! `Vec<u8>`, or with the `bytes` feature any `bytes::BufMut` (such as `BytesMut`).
//! Numbers are formatted on the stack; nothing allocates but the output buffer itself.
//!
//! A command is an array of bulk strings. Build one from arguments of mixed types with
//! the [`command!`](crate::command) macro, from a slice of one type with
//! [`encode_command`], or from any sequence with [`write_command_header`] followed by
//! one [`ToArg::write_arg`] per argument.
//!
//! ```
//! use resp_parser::command;
//!
//! let mut out = Vec::new();
//! command!(&mut out; "SET", "counter", 42);
//! assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$7\r\ncounter\r\n$2\r\n42\r\n");
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::frame::GenericFrame;

/// A buffer that RESP bytes are appended to.
pub trait Output {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

#[cfg(not(feature = "bytes"))]
impl Output for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

#[cfg(feature = "bytes")]
impl<B: bytes::BufMut> Output for B {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.put_slice(bytes);
    }
}

/// Formats integers on the stack.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    #[inline]
    fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits { buf, start }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// Writes a type byte, a decimal number and CRLF: `*3\r\n`, `$5\r\n`, `:-1\r\n`.
///
/// A number from 0 to 99 (most array counts and argument lengths) is written by
/// [`short_header`]; others are formatted in a stack buffer.
#[inline]
fn header<O: Output + ?Sized>(out: &mut O, ty: u8, n: i64) {
    if (0..100).contains(&n) {
        short_header(out, ty, n as u64);
        return;
    }
    let digits = Digits::new(n.unsigned_abs());
    let mut line = [0u8; 24];
    line[0] = ty;
    let mut len = 1;
    if n < 0 {
        line[1] = b'-';
        len = 2;
    }
    let d = digits.as_bytes();
    line[len..len + d.len()].copy_from_slice(d);
    len += d.len();
    line[len..len + 2].copy_from_slice(b"\r\n");
    out.put(&line[..len + 2]);
}

#[inline]
fn len_header<O: Output + ?Sized>(out: &mut O, ty: u8, n: usize) {
    header(out, ty, i64::try_from(n).unwrap_or(i64::MAX));
}

/// Writes `<ty><n>\r\n` for `n` below 100, built in a register and stored with one
/// 8-byte write. Assembling it byte by byte in a stack buffer and copying that out
/// made the copy's wide loads wait on the narrow stores just made (a store-forwarding
/// stall per header: two thirds of the time to encode a pipeline of SETs).
#[inline(always)]
fn short_header<O: Output + ?Sized>(out: &mut O, ty: u8, n: u64) {
    debug_assert!(n < 100);
    let (digits, width) = if n < 10 {
        (u64::from(b'0') + n, 1)
    } else {
        (
            (u64::from(b'0') + n / 10) | ((u64::from(b'0') + n % 10) << 8),
            2,
        )
    };
    let line = u64::from(ty) | (digits << 8) | (0x0a0d << (8 * (1 + width)));
    out.put(&line.to_le_bytes()[..width + 3]);
}

/// Writes a length-prefixed payload: `$5\r\nhello\r\n`.
#[inline]
fn blob<O: Output + ?Sized>(out: &mut O, ty: u8, payload: &[u8]) {
    if payload.len() < 100 {
        short_header(out, ty, payload.len() as u64);
    } else {
        len_header(out, ty, payload.len());
    }
    out.put(payload);
    out.put(b"\r\n");
}

/// Writes a line: `+OK\r\n`.
#[inline]
fn line<O: Output + ?Sized>(out: &mut O, ty: u8, text: &[u8]) {
    out.put(&[ty]);
    out.put(text);
    out.put(b"\r\n");
}

impl<P: AsRef<[u8]>> GenericFrame<P> {
    /// Appends the frame's RESP bytes to `out`.
    ///
    /// A frame produced by the parser encodes to the bytes it was parsed from, except
    /// that streamed aggregates are written with their counts and attributes that came
    /// one after another (merged into one by the parser) are written as one; parsing
    /// the encoding always gives back an equal frame. For frames you build,
    /// keep to the grammar: simple strings and errors without CR or LF, doubles from
    /// [`Double::from_text`](crate::Double::from_text), big numbers of digits, no
    /// empty chunk in a streamed string. Encoding recurses once per nesting level.
    ///
    /// ```
    /// use resp_parser::Frame;
    ///
    /// let mut out = Vec::new();
    /// Frame::Array(vec![Frame::BulkString(b"GET"), Frame::Null]).encode(&mut out);
    /// assert_eq!(out, b"*2\r\n$3\r\nGET\r\n_\r\n");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_to(out);
    }

    /// Appends the frame's RESP bytes to any [`Output`].
    pub fn encode_to<O: Output + ?Sized>(&self, out: &mut O) {
        match self {
            GenericFrame::SimpleString(p) => line(out, b'+', p.as_ref()),
            GenericFrame::SimpleError(p) => line(out, b'-', p.as_ref()),
            GenericFrame::Integer(n) => header(out, b':', *n),
            GenericFrame::BulkString(p) => blob(out, b'$', p.as_ref()),
            GenericFrame::NullBulkString => out.put(b"$-1\r\n"),
            GenericFrame::NullArray => out.put(b"*-1\r\n"),
            GenericFrame::Null => out.put(b"_\r\n"),
            GenericFrame::Double(d) => line(out, b',', d.text.as_ref()),
            GenericFrame::Boolean(true) => out.put(b"#t\r\n"),
            GenericFrame::Boolean(false) => out.put(b"#f\r\n"),
            GenericFrame::BigNumber(p) => line(out, b'(', p.as_ref()),
            GenericFrame::BulkError(p) => blob(out, b'!', p.as_ref()),
            GenericFrame::VerbatimString { format, text } => {
                let text = text.as_ref();
                len_header(out, b'=', text.len() + 4);
                out.put(format);
                out.put(b":");
                out.put(text);
                out.put(b"\r\n");
            }
            GenericFrame::Array(items) => list(out, b'*', items),
            GenericFrame::Set(items) => list(out, b'~', items),
            GenericFrame::Push(items) => list(out, b'>', items),
            GenericFrame::Map(pairs) => map(out, b'%', pairs),
            GenericFrame::StreamedString(chunks) => {
                out.put(b"$?\r\n");
                for chunk in chunks.iter().map(AsRef::as_ref).filter(|c| !c.is_empty()) {
                    blob(out, b';', chunk);
                }
                out.put(b";0\r\n");
            }
            GenericFrame::Attributed(a) => {
                map(out, b'|', &a.attributes);
                a.frame.encode_to(out);
            }
        }
    }
}

fn list<P: AsRef<[u8]>, O: Output + ?Sized>(out: &mut O, ty: u8, items: &[GenericFrame<P>]) {
    len_header(out, ty, items.len());
    for item in items {
        item.encode_to(out);
    }
}

fn map<P: AsRef<[u8]>, O: Output + ?Sized>(
    out: &mut O,
    ty: u8,
    pairs: &[(GenericFrame<P>, GenericFrame<P>)],
) {
    len_header(out, ty, pairs.len());
    for (k, v) in pairs {
        k.encode_to(out);
        v.encode_to(out);
    }
}

/// A value that can be one argument of a command (one bulk string).
///
/// Implemented for byte strings, strings, every integer type, `f32`, `f64` and `bool`
/// (as `1`/`0`, which is what Redis commands expect), and references to them.
/// Implement it for your own types to pass them to [`command!`](crate::command).
pub trait ToArg {
    /// Appends the argument as a bulk string: `$<len>\r\n<bytes>\r\n`.
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O);
}

impl<T: ToArg + ?Sized> ToArg for &T {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        (**self).write_arg(out);
    }
}

impl ToArg for [u8] {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', self);
    }
}

impl<const N: usize> ToArg for [u8; N] {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', self);
    }
}

impl ToArg for Vec<u8> {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', self);
    }
}

impl ToArg for alloc::borrow::Cow<'_, [u8]> {
    /// Lets a proxy re-encode a parsed [`Request`](crate::request::Request):
    /// `encode_command(&mut out, &request.args)`.
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', self);
    }
}

impl ToArg for str {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', self.as_bytes());
    }
}

impl ToArg for String {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', self.as_bytes());
    }
}

#[cfg(feature = "bytes")]
impl ToArg for bytes::Bytes {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', self);
    }
}

/// Writes an integer argument: formatted on the stack, then written as a bulk string.
#[inline]
fn int_arg<O: Output + ?Sized>(out: &mut O, negative: bool, magnitude: u64) {
    let digits = Digits::new(magnitude);
    let d = digits.as_bytes();
    len_header(out, b'$', d.len() + usize::from(negative));
    if negative {
        out.put(b"-");
    }
    out.put(d);
    out.put(b"\r\n");
}

macro_rules! signed_args {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            #[inline]
            fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
                int_arg(out, *self < 0, (*self as i64).unsigned_abs());
            }
        }
    )*};
}

macro_rules! unsigned_args {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            #[inline]
            fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
                int_arg(out, false, *self as u64);
            }
        }
    )*};
}

signed_args!(i8, i16, i32, i64, isize);
unsigned_args!(u8, u16, u32, u64, usize);

impl ToArg for i128 {
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        let mut buf = StackText::new();
        let _ = core::fmt::write(&mut buf, format_args!("{self}"));
        blob(out, b'$', buf.as_bytes());
    }
}

impl ToArg for u128 {
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        let mut buf = StackText::new();
        let _ = core::fmt::write(&mut buf, format_args!("{self}"));
        blob(out, b'$', buf.as_bytes());
    }
}

impl ToArg for bool {
    #[inline]
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        blob(out, b'$', if *self { b"1" } else { b"0" });
    }
}

impl ToArg for f64 {
    /// Writes the shortest text that reads back as the same `f64` (`1.5`, `1e300`,
    /// `inf`, `-inf`), which Redis' `strtold` reads exactly. Redis rejects NaN.
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        let mut buf = StackText::new();
        if self.is_finite() {
            // `{:?}` is the shortest round-trip form and switches to exponent notation
            // for very large and small magnitudes, so it always fits the stack buffer.
            let _ = core::fmt::write(&mut buf, format_args!("{self:?}"));
        } else if self.is_nan() {
            buf.push(b"nan");
        } else if *self > 0.0 {
            buf.push(b"inf");
        } else {
            buf.push(b"-inf");
        }
        blob(out, b'$', buf.as_bytes());
    }
}

impl ToArg for f32 {
    fn write_arg<O: Output + ?Sized>(&self, out: &mut O) {
        f64::from(*self).write_arg(out);
    }
}

/// A small text buffer on the stack for formatting numbers.
struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            buf: [0; 48],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl core::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Writes the array header of a command with `argc` arguments: `*<argc>\r\n`.
///
/// Follow it with exactly `argc` calls of [`ToArg::write_arg`].
///
/// ```
/// use resp_parser::encode::{write_command_header, ToArg};
///
/// let fields = [("name", "ada"), ("lang", "rust")];
/// let mut out = Vec::new();
/// write_command_header(&mut out, 2 + 2 * fields.len());
/// "HSET".write_arg(&mut out);
/// "user:1".write_arg(&mut out);
/// for (field, value) in fields {
///     field.write_arg(&mut out);
///     value.write_arg(&mut out);
/// }
/// assert!(resp_parser::request::parse_request(&out).unwrap().is_some());
/// ```
#[inline]
pub fn write_command_header<O: Output + ?Sized>(out: &mut O, argc: usize) {
    len_header(out, b'*', argc);
}

/// Writes a command whose arguments all have one type.
///
/// ```
/// let mut out = Vec::new();
/// resp_parser::encode::encode_command(&mut out, &["GET", "key"]);
/// assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
/// ```
pub fn encode_command<O: Output + ?Sized, A: ToArg>(out: &mut O, args: &[A]) {
    write_command_header(out, args.len());
    for arg in args {
        arg.write_arg(out);
    }
}

/// Writes a command from arguments of any [`ToArg`] types.
///
/// `command!(out; arg, ...)` where `out` is a `&mut` [`Output`], such as `&mut Vec<u8>`.
///
/// ```
/// let mut out = Vec::new();
/// resp_parser::command!(&mut out; "ZADD", "scores", 1.5, b"member");
/// assert_eq!(
///     out,
///     b"*4\r\n$4\r\nZADD\r\n$6\r\nscores\r\n$3\r\n1.5\r\n$6\r\nmember\r\n"
/// );
/// ```
#[macro_export]
macro_rules! command {
    ($out:expr; $($arg:expr),+ $(,)?) => {{
        let out = $out;
        $crate::encode::write_command_header(out, $crate::command!(@count $($arg),+));
        $( $crate::encode::ToArg::write_arg(&$arg, out); )+
    }};
    (@count $head:expr $(, $tail:expr)*) => { 1usize $(+ $crate::command!(@count1 $tail))* };
    (@count1 $x:expr) => { 1usize };
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn arg<A: ToArg + ?Sized>(a: &A) -> Vec<u8> {
        let mut out = Vec::new();
        a.write_arg(&mut out);
        out
    }

    #[test]
    fn headers_are_right_on_both_sides_of_each_digit_count() {
        for len in [0usize, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65536] {
            let payload = vec![b'x'; len];
            let mut expected = alloc::format!("${len}\r\n").into_bytes();
            expected.extend_from_slice(&payload);
            expected.extend_from_slice(b"\r\n");
            assert_eq!(arg(&payload[..]), expected, "payload of {len} bytes");
        }
        for n in [
            -100i64,
            -99,
            -10,
            -9,
            -1,
            0,
            9,
            10,
            99,
            100,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            GenericFrame::<&[u8]>::Integer(n).encode(&mut out);
            assert_eq!(out, alloc::format!(":{n}\r\n").into_bytes());
        }
        for count in [0usize, 3, 10, 99, 100, 12345] {
            let mut out = Vec::new();
            write_command_header(&mut out, count);
            assert_eq!(out, alloc::format!("*{count}\r\n").into_bytes());
        }
    }

    #[test]
    fn integers_format_like_redis() {
        assert_eq!(arg(&0i64), b"$1\r\n0\r\n");
        assert_eq!(arg(&-42i32), b"$3\r\n-42\r\n");
        assert_eq!(arg(&i64::MIN), b"$20\r\n-9223372036854775808\r\n");
        assert_eq!(arg(&u64::MAX), b"$20\r\n18446744073709551615\r\n");
        assert_eq!(arg(&i8::MIN), b"$4\r\n-128\r\n");
        assert_eq!(
            arg(&u128::MAX),
            b"$39\r\n340282366920938463463374607431768211455\r\n"
        );
    }

    #[test]
    fn floats_read_back_exactly() {
        for x in [0.1f64, -1.5, 1e300, 5e-324, f64::MAX, 123456789.125] {
            let out = arg(&x);
            let text = &out[out.iter().position(|&b| b == b'\n').unwrap() + 1..out.len() - 2];
            let back: f64 = core::str::from_utf8(text).unwrap().parse().unwrap();
            assert_eq!(back, x);
        }
        assert_eq!(arg(&f64::INFINITY), b"$3\r\ninf\r\n");
        assert_eq!(arg(&f64::NEG_INFINITY), b"$4\r\n-inf\r\n");
    }

    #[test]
    fn frames_encode_to_wire_bytes() {
        let mut out = Vec::new();
        GenericFrame::<&[u8]>::Map(vec![(
            GenericFrame::SimpleString(b"a"),
            GenericFrame::Integer(-7),
        )])
        .encode(&mut out);
        assert_eq!(out, b"%1\r\n+a\r\n:-7\r\n");
    }

    #[test]
    fn command_macro_counts_arguments() {
        let mut out = Vec::new();
        crate::command!(&mut out; "PING");
        assert_eq!(out, b"*1\r\n$4\r\nPING\r\n");
        out.clear();
        crate::command!(&mut out; "SET", String::from("k"), vec![1u8, 2], true,);
        assert_eq!(
            out,
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x01\x02\r\n$1\r\n1\r\n"
        );
    }
}
