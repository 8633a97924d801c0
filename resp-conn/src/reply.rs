//! Typed replies: converting frames into Rust values.
//!
//! A reply arrives as a [`Value`], resp-parser's `BytesFrame`: every payload in it is a
//! `Bytes` handle into the connection's read buffer, so keeping a `Value` or a
//! [`Bytes`] out of it copies nothing. [`FromFrame`] turns a `Value` into the type you
//! ask for:
//!
//! | Rust type | accepts |
//! |---|---|
//! | `()` | any reply that is not an error |
//! | `bool` | `#t`/`#f`, integers (non-zero is true), `+OK` (true), nulls (false), `"1"`/`"0"` |
//! | integers | integers, and strings holding one (`"42"`) |
//! | `f32`, `f64` | doubles, integers, strings holding a number (`"1.5"`, `"inf"`) |
//! | `String` | simple, bulk, verbatim and streamed strings (UTF-8 checked), integers, doubles |
//! | `Vec<u8>`, `Bytes` | strings (as bytes); `Bytes` shares the read buffer |
//! | `Option<T>` | null as `None`, anything else as `T` |
//! | `Vec<T>`, `HashSet<T>`, `BTreeSet<T>` | arrays, sets, pushes; a null as empty |
//! | `Vec<(A, B)>` and other tuple lists | arrays of pairs, or flat arrays taken two by two (RESP2 `WITHSCORES`) |
//! | `HashMap<K, V>`, `BTreeMap<K, V>` | maps, flat arrays of key, value (RESP2 `HGETALL`), arrays of pairs |
//! | tuples up to 12 | arrays with exactly that many elements |
//! | `Value` | anything, including error replies, unchanged |
//! | `Result<T, ServerError>` | an error reply as `Err`, anything else as `T` |
//!
//! An error reply converts to [`Error::Server`] for every type but the last two; a
//! reply of the wrong shape to [`Error::Conversion`], naming the expected type, what
//! arrived, and where in a nested reply. Attributes are dropped before converting.
//!
//! Implement [`FromFrame`] for your own types to read them straight from replies.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;
use resp_parser::GenericFrame;

use crate::error::{Error, Result, ServerError};

/// A reply frame whose payloads share the connection's read buffer.
pub type Value = resp_parser::BytesFrame;

/// Conversion of a reply into a Rust value.
pub trait FromFrame: Sized {
    /// Converts a reply.
    fn from_frame(frame: Value) -> Result<Self>;

    /// How many reply elements one value takes when a list of them arrives flat
    /// (`[k1, v1, k2, v2]` for pairs). 1 for everything but tuples.
    const FLAT_WIDTH: usize = 1;

    /// Builds a list of values from consecutive flat elements; used for tuples.
    #[doc(hidden)]
    fn from_flat(items: &mut std::vec::IntoIter<Value>) -> Result<Self> {
        match items.next() {
            Some(frame) => Self::from_frame(frame),
            None => Err(Error::conversion(
                std::any::type_name::<Self>(),
                "end of array",
            )),
        }
    }

    /// True for types that keep nothing of a reply (`()`): a pipeline read into one
    /// is parsed without building reply values.
    #[doc(hidden)]
    const DISCARDS_REPLY: bool = false;

    /// Lets `Vec<u8>` read a string reply as bytes rather than as a list of numbers.
    #[doc(hidden)]
    fn vec_from_bytes(_bytes: Bytes) -> Option<Vec<Self>> {
        None
    }
}

/// Strips attributes, and turns error replies into [`Error::Server`].
fn plain(frame: Value) -> Result<Value> {
    match frame {
        GenericFrame::Attributed(a) => plain(a.frame),
        GenericFrame::SimpleError(text) | GenericFrame::BulkError(text) => {
            Err(Error::Server(ServerError::parse(&text)))
        }
        other => Ok(other),
    }
}

fn unexpected<T>(expected: &'static str, frame: &Value) -> Result<T> {
    Err(Error::conversion(expected, describe(frame)))
}

/// A short description of a frame for error messages: its type, and its text if short.
fn describe(frame: &Value) -> String {
    match frame.as_bytes() {
        Some(b) if b.len() <= 32 => {
            format!("{} {:?}", frame.kind_name(), String::from_utf8_lossy(b))
        }
        _ => frame.kind_name().to_owned(),
    }
}

/// The text of a string-like frame (joined, for a streamed string).
fn text_of(frame: &Value) -> Option<Bytes> {
    match frame {
        GenericFrame::SimpleString(b)
        | GenericFrame::BulkString(b)
        | GenericFrame::VerbatimString { text: b, .. }
        | GenericFrame::BigNumber(b) => Some(b.clone()),
        GenericFrame::Double(d) => Some(d.text.clone()),
        GenericFrame::StreamedString(_) => frame.to_vec().map(Bytes::from),
        _ => None,
    }
}

impl FromFrame for Value {
    fn from_frame(frame: Value) -> Result<Self> {
        Ok(frame)
    }
}

impl<T: FromFrame> FromFrame for std::result::Result<T, ServerError> {
    fn from_frame(frame: Value) -> Result<Self> {
        match plain(frame) {
            Ok(frame) => T::from_frame(frame).map(Ok),
            Err(Error::Server(e)) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }
}

impl FromFrame for () {
    fn from_frame(frame: Value) -> Result<Self> {
        plain(frame).map(drop)
    }
    const DISCARDS_REPLY: bool = true;
}

impl FromFrame for bool {
    fn from_frame(frame: Value) -> Result<Self> {
        let frame = plain(frame)?;
        match &frame {
            GenericFrame::Boolean(b) => Ok(*b),
            GenericFrame::Integer(n) => Ok(*n != 0),
            f if f.is_null() => Ok(false),
            GenericFrame::SimpleString(s) if &s[..] == b"OK" => Ok(true),
            _ => match text_of(&frame).as_deref() {
                Some(b"1" | b"true") => Ok(true),
                Some(b"0" | b"false") => Ok(false),
                _ => unexpected("bool", &frame),
            },
        }
    }
}

macro_rules! integers {
    ($t:ty; $($hook:item)*) => {
        impl FromFrame for $t {
            fn from_frame(frame: Value) -> Result<Self> {
                let frame = plain(frame)?;
                let parsed = match &frame {
                    GenericFrame::Integer(n) => <$t>::try_from(*n).ok(),
                    _ => text_of(&frame)
                        .and_then(|t| std::str::from_utf8(&t).ok()?.parse::<$t>().ok()),
                };
                match parsed {
                    Some(n) => Ok(n),
                    None => unexpected(stringify!($t), &frame),
                }
            }
            $($hook)*
        }
    };
    ($($t:ty),*) => {$( integers!($t;); )*};
}

integers!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);
// `Vec<u8>` reads a string reply as its bytes, not as a list of numbers.
integers!(u8; fn vec_from_bytes(bytes: Bytes) -> Option<Vec<u8>> { Some(bytes.into()) });

macro_rules! floats {
    ($($t:ty),*) => {$(
        impl FromFrame for $t {
            fn from_frame(frame: Value) -> Result<Self> {
                let frame = plain(frame)?;
                let parsed = match &frame {
                    GenericFrame::Double(d) => Some(d.value as $t),
                    GenericFrame::Integer(n) => Some(*n as $t),
                    _ => text_of(&frame)
                        .and_then(|t| std::str::from_utf8(&t).ok()?.parse::<$t>().ok()),
                };
                match parsed {
                    Some(x) => Ok(x),
                    None => unexpected(stringify!($t), &frame),
                }
            }
        }
    )*};
}

floats!(f32, f64);

impl FromFrame for String {
    fn from_frame(frame: Value) -> Result<Self> {
        let frame = plain(frame)?;
        if let GenericFrame::Integer(n) = frame {
            return Ok(n.to_string());
        }
        match text_of(&frame) {
            Some(text) => String::from_utf8(text.into())
                .map_err(|_| Error::conversion("String", "bytes that are not UTF-8")),
            None => unexpected("String", &frame),
        }
    }
}

impl FromFrame for Bytes {
    fn from_frame(frame: Value) -> Result<Self> {
        let frame = plain(frame)?;
        match text_of(&frame) {
            Some(text) => Ok(text),
            None => unexpected("Bytes", &frame),
        }
    }
}

impl<T: FromFrame> FromFrame for Option<T> {
    fn from_frame(frame: Value) -> Result<Self> {
        let frame = plain(frame)?;
        if frame.is_null() {
            Ok(None)
        } else {
            T::from_frame(frame).map(Some)
        }
    }
}

/// The elements of an aggregate reply (a null is empty).
fn elements(frame: Value, expected: &'static str) -> Result<Vec<Value>> {
    match plain(frame)? {
        GenericFrame::Array(items) | GenericFrame::Set(items) | GenericFrame::Push(items) => {
            Ok(items)
        }
        GenericFrame::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        f if f.is_null() => Ok(Vec::new()),
        other => unexpected(expected, &other),
    }
}

/// Converts a list reply into values of `T`, taking flat elements `T::FLAT_WIDTH` at a
/// time when the elements are not themselves lists.
fn collect<T: FromFrame, C: FromIterator<T>>(frame: Value, expected: &'static str) -> Result<C> {
    let items = elements(frame, expected)?;
    let flat = T::FLAT_WIDTH > 1
        && !matches!(
            items.first(),
            Some(GenericFrame::Array(_) | GenericFrame::Set(_))
        );
    if flat {
        if items.len() % T::FLAT_WIDTH != 0 {
            return Err(Error::conversion(
                expected,
                format!("flat array of {} elements", items.len()),
            ));
        }
        let count = items.len() / T::FLAT_WIDTH;
        let mut iter = items.into_iter();
        (0..count)
            .map(|i| T::from_flat(&mut iter).map_err(|e| e.in_context(|| format!("element {i}"))))
            .collect()
    } else {
        items
            .into_iter()
            .enumerate()
            .map(|(i, f)| T::from_frame(f).map_err(|e| e.in_context(|| format!("element {i}"))))
            .collect()
    }
}

impl<T: FromFrame> FromFrame for Vec<T> {
    fn from_frame(frame: Value) -> Result<Self> {
        let frame = plain(frame)?;
        if let Some(text) = text_of(&frame) {
            if let Some(v) = T::vec_from_bytes(text) {
                return Ok(v);
            }
        }
        collect(frame, "Vec")
    }
}

impl<T: FromFrame + Eq + Hash, S: BuildHasher + Default> FromFrame for HashSet<T, S> {
    fn from_frame(frame: Value) -> Result<Self> {
        collect(frame, "HashSet")
    }
}

impl<T: FromFrame + Ord> FromFrame for BTreeSet<T> {
    fn from_frame(frame: Value) -> Result<Self> {
        collect(frame, "BTreeSet")
    }
}

/// The key/value pairs of a map reply, a flat array, or an array of pairs.
fn pairs<K: FromFrame, V: FromFrame, C: FromIterator<(K, V)>>(
    frame: Value,
    expected: &'static str,
) -> Result<C> {
    match plain(frame)? {
        GenericFrame::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| {
                let key = K::from_frame(k).map_err(|e| e.in_context(|| "a key".into()))?;
                let value = V::from_frame(v).map_err(|e| e.in_context(|| "a value".into()))?;
                Ok((key, value))
            })
            .collect(),
        other => collect::<(K, V), C>(other, expected),
    }
}

impl<K: FromFrame + Eq + Hash, V: FromFrame, S: BuildHasher + Default> FromFrame
    for HashMap<K, V, S>
{
    fn from_frame(frame: Value) -> Result<Self> {
        pairs(frame, "HashMap")
    }
}

impl<K: FromFrame + Ord, V: FromFrame> FromFrame for BTreeMap<K, V> {
    fn from_frame(frame: Value) -> Result<Self> {
        pairs(frame, "BTreeMap")
    }
}

macro_rules! tuples {
    ($($n:literal => ($($t:ident),+);)+) => {$(
        impl<$($t: FromFrame),+> FromFrame for ($($t,)+) {
            const FLAT_WIDTH: usize = $n;

            fn from_frame(frame: Value) -> Result<Self> {
                let items = elements(frame, concat!("tuple of ", $n))?;
                if items.len() != $n {
                    return Err(Error::conversion(
                        concat!("tuple of ", $n),
                        format!("array of {}", items.len()),
                    ));
                }
                let mut iter = items.into_iter();
                Self::from_flat(&mut iter)
            }

            #[allow(unused_assignments)] // the last field's increment
            fn from_flat(items: &mut std::vec::IntoIter<Value>) -> Result<Self> {
                let mut index = 0;
                Ok(($(
                    {
                        let frame = items.next().ok_or_else(|| {
                            Error::conversion(concat!("tuple of ", $n), "too few elements")
                        })?;
                        let value = $t::from_frame(frame)
                            .map_err(|e| e.in_context(|| format!("tuple field {index}")))?;
                        index += 1;
                        value
                    },
                )+))
            }
        }
    )+};
}

tuples! {
    1 => (A);
    2 => (A, B);
    3 => (A, B, C);
    4 => (A, B, C, D);
    5 => (A, B, C, D, E);
    6 => (A, B, C, D, E, F);
    7 => (A, B, C, D, E, F, G);
    8 => (A, B, C, D, E, F, G, H);
    9 => (A, B, C, D, E, F, G, H, I);
    10 => (A, B, C, D, E, F, G, H, I, J);
    11 => (A, B, C, D, E, F, G, H, I, J, K);
    12 => (A, B, C, D, E, F, G, H, I, J, K, L);
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp_parser::Double;

    fn bulk(s: &'static str) -> Value {
        GenericFrame::BulkString(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn scalars() {
        assert_eq!(i64::from_frame(GenericFrame::Integer(-5)).unwrap(), -5);
        assert_eq!(u8::from_frame(bulk("200")).unwrap(), 200);
        assert!(u8::from_frame(GenericFrame::Integer(300)).is_err());
        assert_eq!(String::from_frame(bulk("hé")).unwrap(), "hé");
        assert_eq!(String::from_frame(GenericFrame::Integer(7)).unwrap(), "7");
        let d = GenericFrame::Double(Double {
            value: 1.5,
            text: Bytes::from_static(b"1.5"),
        });
        assert_eq!(f64::from_frame(d).unwrap(), 1.5);
        assert_eq!(f64::from_frame(bulk("inf")).unwrap(), f64::INFINITY);
        assert!(bool::from_frame(GenericFrame::SimpleString(Bytes::from_static(b"OK"))).unwrap());
        assert!(!bool::from_frame(GenericFrame::NullBulkString).unwrap());
        assert_eq!(
            Option::<String>::from_frame(GenericFrame::Null).unwrap(),
            None
        );
        assert_eq!(Vec::<u8>::from_frame(bulk("ab")).unwrap(), b"ab");
    }

    #[test]
    fn errors_convert_to_server_errors() {
        let err = GenericFrame::SimpleError(Bytes::from_static(b"WRONGTYPE nope"));
        match String::from_frame(err.clone()) {
            Err(Error::Server(e)) => assert_eq!(e.kind, crate::ServerErrorKind::WrongType),
            other => panic!("{other:?}"),
        }
        let r = std::result::Result::<String, ServerError>::from_frame(err).unwrap();
        assert!(r.is_err());
    }

    #[test]
    fn conversion_errors_say_what_and_where() {
        let frame = GenericFrame::Array(vec![bulk("1"), bulk("x")]);
        let err = Vec::<i64>::from_frame(frame).unwrap_err().to_string();
        assert!(err.contains("i64") && err.contains("element 1"), "{err}");
    }

    #[test]
    fn pairs_from_flat_and_nested_arrays() {
        let flat = GenericFrame::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]);
        let v: Vec<(String, f64)> = FromFrame::from_frame(flat.clone()).unwrap();
        assert_eq!(v, [("a".to_owned(), 1.0), ("b".to_owned(), 2.0)]);
        let m: HashMap<String, i64> = FromFrame::from_frame(flat).unwrap();
        assert_eq!(m["b"], 2);
        let nested = GenericFrame::Array(vec![GenericFrame::Array(vec![bulk("a"), bulk("1")])]);
        let v: Vec<(String, i64)> = FromFrame::from_frame(nested).unwrap();
        assert_eq!(v, [("a".to_owned(), 1)]);
        let odd = GenericFrame::Array(vec![bulk("a")]);
        assert!(Vec::<(String, i64)>::from_frame(odd).is_err());
    }
}
