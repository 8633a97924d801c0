//! How field values are stored: one hash field each, as text or bytes.
//!
//! | Rust type | stored as | index kind |
//! |---|---|---|
//! | `String` | the UTF-8 text | equality sets; with `prefix`, also a lexicographic sorted set for `startswith` |
//! | integers, `f32`, `f64` | decimal text (`1.5`, `-3`; floats: `inf`, `-inf`, `NaN`, and `0` for both zeros) | equality sets and a sorted set (score = the stored text read as an `f64`) |
//! | `bool` | `1` / `0` | equality sets |
//! | `Vec<u8>` | the bytes | equality sets |
//! | [`Date`] (`chrono::NaiveDate`) | `2024-05-17` | equality sets and a sorted set (score = days since 1970-01-01) |
//! | [`Timestamp`] (`chrono::DateTime<Utc>`) | RFC 3339 with microseconds, `2024-05-17T10:00:00.000000Z` (a year outside 0000-9999 with its sign and every digit, `+10000-01-01T00:00:00.000000Z`) | equality sets and a sorted set (score = seconds since the epoch) |
//! | unit-only enums (`#[derive(FieldEnum)]`) | the variant's name | equality sets |
//! | `Option<T>` | as `T`; `None` is no hash field at all | as `T`, with no entry for `None` |
//! | any serde type with `#[model(json)]` | JSON text | not indexable |
//!
//! Equal numbers have one stored form, so one index set: `-0.0` is stored as `0`.
//! The score of an `f32` is its stored text read as an `f64` (`0.1f32` scores
//! `0.1`), the number a script reading the hash computes; range bounds use the same
//! conversion, so `lte(0.1f32)` finds a stored `0.1f32`. A NaN cannot be saved in any
//! number field, indexed or not ([`Error::InvalidValue`](crate::Error::InvalidValue),
//! nothing sent): a sorted-set score cannot be NaN, and any field can be sorted by.
//!
//! A `#[model(json)]` value that serde_json cannot write, or whose text would not read
//! back (serde_json writes a NaN inside it as `null`), is
//! [`Error::Encode`](crate::Error::Encode) at save, before anything is sent.
//!
//! Implement [`Field`] to store a type of your own.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// What an index on a field can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Text: equality lookups (and `startswith` with `prefix`), alphabetical sorting.
    Text,
    /// A number (or date): equality, ranges and numeric ordering.
    Number,
    /// Anything else: equality only.
    Other,
}

/// A type that can be stored in a model field.
pub trait Field: Sized {
    /// What an index on this type can answer.
    const KIND: FieldKind;

    /// The stored bytes, or `None` for "no value" (the hash field is left out).
    fn to_stored(&self) -> Option<Vec<u8>>;

    /// Reads the stored bytes (`None` when the hash has no such field). The error
    /// says what is wrong; the caller adds the model, id and field.
    fn from_stored(stored: Option<&[u8]>) -> Result<Self, String>;

    /// The sorted-set score of a number or date, for range queries and ordering.
    ///
    /// For plain numbers it is the stored text read as an `f64` (what a script that
    /// reads the hash computes), and equal values have equal stored forms: a type of
    /// your own should keep both rules.
    fn score(&self) -> Option<f64> {
        None
    }
}

/// A field type whose index supports ranges (`gt`, `lt`, `between`) and numeric order.
pub trait NumericField: Field {}

/// A field type whose index supports `startswith`.
pub trait TextField: Field {}

fn require(stored: Option<&[u8]>) -> Result<&[u8], String> {
    stored.ok_or_else(|| "missing value".to_owned())
}

fn text(stored: Option<&[u8]>) -> Result<&str, String> {
    std::str::from_utf8(require(stored)?).map_err(|_| "not UTF-8 text".to_owned())
}

impl Field for String {
    const KIND: FieldKind = FieldKind::Text;
    fn to_stored(&self) -> Option<Vec<u8>> {
        Some(self.as_bytes().to_vec())
    }
    fn from_stored(stored: Option<&[u8]>) -> Result<Self, String> {
        text(stored).map(str::to_owned)
    }
}
impl TextField for String {}

impl Field for Vec<u8> {
    const KIND: FieldKind = FieldKind::Other;
    fn to_stored(&self) -> Option<Vec<u8>> {
        Some(self.clone())
    }
    fn from_stored(stored: Option<&[u8]>) -> Result<Self, String> {
        require(stored).map(<[u8]>::to_vec)
    }
}

impl Field for bool {
    const KIND: FieldKind = FieldKind::Other;
    fn to_stored(&self) -> Option<Vec<u8>> {
        Some(if *self { b"1".to_vec() } else { b"0".to_vec() })
    }
    fn from_stored(stored: Option<&[u8]>) -> Result<Self, String> {
        match require(stored)? {
            b"1" => Ok(true),
            b"0" => Ok(false),
            other => Err(format!(
                "{:?} is not a bool (1 or 0)",
                String::from_utf8_lossy(other)
            )),
        }
    }
}

/// Implements [`Field`] and [`NumericField`] for a number type, with `$stored` and
/// `$score` the stored bytes and the score of the value `$v`.
macro_rules! number {
    ($t:ty, |$v:ident| $stored:expr, $score:expr) => {
        impl Field for $t {
            const KIND: FieldKind = FieldKind::Number;
            fn to_stored(&self) -> Option<Vec<u8>> {
                let $v = *self;
                Some($stored)
            }
            fn from_stored(stored: Option<&[u8]>) -> Result<Self, String> {
                let t = text(stored)?;
                t.parse()
                    .map_err(|_| format!("{t:?} is not a {}", stringify!($t)))
            }
            fn score(&self) -> Option<f64> {
                let $v = *self;
                Some($score)
            }
        }
        impl NumericField for $t {}
    };
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        // `as` rounds to the nearest f64 exactly as reading the decimal text does, so
        // beyond 2^53 the score is still the stored text's number.
        number!($t, |v| v.to_string().into_bytes(), v as f64);
    )*};
}

integers!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// The stored text of a float: Rust's shortest round-trip decimal (`0.1`, `inf`,
/// `NaN`), except that both zeros are `0`, so that equal numbers have one stored form
/// (and one index set).
fn float_text(text: String, is_zero: bool) -> Vec<u8> {
    if is_zero {
        b"0".to_vec()
    } else {
        text.into_bytes()
    }
}

// Adding +0.0 turns -0.0 into 0.0 and leaves every other value as it is.
number!(f64, |v| float_text(v.to_string(), v == 0.0), v + 0.0);

// The score of an f32 is its stored text read as an f64 (0.1f32 scores 0.1, not
// 0.10000000149...), which is what a script reading the hash computes. Shortest
// decimals of distinct f32s are distinct and in the same order, so order holds.
number!(
    f32,
    |v| float_text(v.to_string(), v == 0.0),
    if v == 0.0 {
        0.0
    } else {
        v.to_string().parse().unwrap_or(f64::NAN)
    }
);

/// A calendar date.
pub type Date = NaiveDate;
/// A point in time, in UTC.
pub type Timestamp = DateTime<Utc>;

impl Field for NaiveDate {
    const KIND: FieldKind = FieldKind::Number;
    fn to_stored(&self) -> Option<Vec<u8>> {
        Some(self.format("%Y-%m-%d").to_string().into_bytes())
    }
    fn from_stored(stored: Option<&[u8]>) -> Result<Self, String> {
        let t = text(stored)?;
        NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|e| format!("{t:?} is not a date: {e}"))
    }
    fn score(&self) -> Option<f64> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        Some((*self - epoch).num_days() as f64)
    }
}
impl NumericField for NaiveDate {}

impl Field for DateTime<Utc> {
    const KIND: FieldKind = FieldKind::Number;
    fn to_stored(&self) -> Option<Vec<u8>> {
        Some(
            self.to_rfc3339_opts(SecondsFormat::Micros, true)
                .into_bytes(),
        )
    }
    fn from_stored(stored: Option<&[u8]>) -> Result<Self, String> {
        let t = text(stored)?;
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|e| {
                // A year outside 0000-9999 has no RFC 3339 form: chrono writes it
                // with a sign and more digits (`+10000-01-01T00:00:00.000000Z`),
                // which only this wider format reads back.
                chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.fZ")
                    .map(|d| d.and_utc())
                    .map_err(|_| e)
            })
            .map_err(|e| format!("{t:?} is not a timestamp: {e}"))
    }
    fn score(&self) -> Option<f64> {
        Some(self.timestamp() as f64 + f64::from(self.timestamp_subsec_micros()) / 1e6)
    }
}
impl NumericField for DateTime<Utc> {}

impl<T: Field> Field for Option<T> {
    const KIND: FieldKind = T::KIND;
    fn to_stored(&self) -> Option<Vec<u8>> {
        self.as_ref().and_then(T::to_stored)
    }
    fn from_stored(stored: Option<&[u8]>) -> Result<Self, String> {
        match stored {
            None => Ok(None),
            Some(_) => T::from_stored(stored).map(Some),
        }
    }
    fn score(&self) -> Option<f64> {
        self.as_ref().and_then(T::score)
    }
}
impl<T: NumericField> NumericField for Option<T> {}
impl<T: TextField> TextField for Option<T> {}

/// Stores a serde value as JSON text (used by `#[model(json)]`). An error says why
/// there is no stored form: serde_json refused the value (a map with non-string
/// keys, a `Serialize` that fails), or its text would not read back as a `T`
/// (serde_json writes a NaN or an infinity as `null`, which an `f64` cannot read).
pub fn json_to_stored<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: &T,
) -> Result<Vec<u8>, String> {
    let text = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    // Only a `null` can stand for something serde_json could not write as such, so
    // only text containing one is read back (at the cost of a parse).
    if text.windows(4).any(|w| w == b"null") {
        if let Err(e) = serde_json::from_slice::<T>(&text) {
            return Err(format!(
                "its JSON does not read back ({e}); serde_json writes NaN and infinities as null"
            ));
        }
    }
    Ok(text)
}

/// The stored form of a field with `#[model(default)]`: its own, or the default's
/// when it has none (an `Option` field's `None`), so that the hash and the indexes
/// hold what a read returns.
pub fn stored_or_default<T: Field>(value: &T, default: impl FnOnce() -> T) -> Option<Vec<u8>> {
    value.to_stored().or_else(|| default().to_stored())
}

/// The score that goes with [`stored_or_default`].
pub fn score_or_default<T: Field>(value: &T, default: impl FnOnce() -> T) -> Option<f64> {
    if value.to_stored().is_some() {
        value.score()
    } else {
        default().score()
    }
}

/// Reads a serde value from JSON text (used by `#[model(json)]`).
pub fn json_from_stored<T: serde::de::DeserializeOwned>(
    stored: Option<&[u8]>,
) -> Result<T, String> {
    serde_json::from_slice(require(stored)?).map_err(|e| format!("invalid JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Field + PartialEq + std::fmt::Debug>(v: T) {
        let stored = v.to_stored();
        assert_eq!(T::from_stored(stored.as_deref()).unwrap(), v);
    }

    #[test]
    fn values_round_trip() {
        round_trip(String::from("héllo"));
        round_trip(-42i64);
        round_trip(u64::MAX);
        round_trip(0.1f64);
        round_trip(1e300f64);
        round_trip(true);
        round_trip(vec![0u8, 255]);
        round_trip(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        round_trip(
            "2024-05-17T10:00:00.123456Z"
                .parse::<DateTime<Utc>>()
                .unwrap(),
        );
        round_trip(Some(5u32));
        round_trip(None::<u32>);
    }

    #[test]
    fn bad_stored_values_say_why() {
        assert!(
            u32::from_stored(Some(b"abc"))
                .unwrap_err()
                .contains("not a u32")
        );
        assert!(u32::from_stored(None).unwrap_err().contains("missing"));
        assert!(bool::from_stored(Some(b"yes")).is_err());
        assert!(NaiveDate::from_stored(Some(b"2024-13-01")).is_err());
    }

    #[test]
    fn both_zeros_have_one_stored_form_and_score() {
        for stored in [
            (-0.0f64).to_stored(),
            0.0f64.to_stored(),
            (-0.0f32).to_stored(),
        ] {
            assert_eq!(stored.as_deref(), Some(&b"0"[..]));
        }
        for score in [(-0.0f64).score(), (-0.0f32).score(), Some(-0.0f64).score()] {
            assert!(score.is_some_and(|s| s == 0.0 && s.is_sign_positive()));
        }
        assert_eq!(f64::from_stored(Some(b"-0")).unwrap(), 0.0);
        round_trip(f64::INFINITY);
        round_trip(f32::NEG_INFINITY);
        assert!(
            f64::from_stored(f64::NAN.to_stored().as_deref())
                .unwrap()
                .is_nan()
        );
    }

    fn text_score<T: Field>(v: &T) -> f64 {
        std::str::from_utf8(&v.to_stored().unwrap())
            .unwrap()
            .parse()
            .unwrap()
    }

    proptest::proptest! {
        #[test]
        fn a_number_scores_its_stored_text_and_keeps_its_order(
            a in proptest::num::f32::ANY,
            b in proptest::num::f32::ANY,
            x in proptest::num::f64::ANY,
            i in proptest::num::i64::ANY,
            u in proptest::num::u64::ANY,
        ) {
            for (v, s) in [(a, a.score()), (b, b.score())] {
                let s = s.unwrap();
                proptest::prop_assert!(s.to_bits() == text_score(&v).to_bits() || v.is_nan());
                let back = f32::from_stored(v.to_stored().as_deref()).unwrap();
                proptest::prop_assert!(back.to_bits() == (v + 0.0).to_bits() || (v.is_nan() && back.is_nan()));
            }
            if a < b {
                proptest::prop_assert!(a.score() < b.score());
            }
            if !x.is_nan() {
                proptest::prop_assert_eq!(x.score().unwrap(), text_score(&x));
            }
            proptest::prop_assert_eq!(i.score().unwrap(), text_score(&i));
            proptest::prop_assert_eq!(u.score().unwrap(), text_score(&u));
        }
    }

    #[test]
    fn json_that_cannot_be_written_or_read_back_says_why() {
        let mut tuple_keys = std::collections::HashMap::new();
        tuple_keys.insert((1u8, 2u8), 3u8);
        assert!(
            json_to_stored(&tuple_keys)
                .unwrap_err()
                .contains("key must be a string")
        );
        assert!(
            json_to_stored(&vec![f64::NAN])
                .unwrap_err()
                .contains("does not read back")
        );
        // A null that reads back is fine, so is the text "null" inside a string.
        assert_eq!(
            json_to_stored(&vec![None, Some(1.5)]).unwrap(),
            b"[null,1.5]"
        );
        assert_eq!(
            json_to_stored(&String::from("nullable")).unwrap(),
            b"\"nullable\""
        );
    }

    #[test]
    fn scores_order_like_values() {
        let a = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap();
        let b = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
        assert_eq!((a.score(), b.score()), (Some(-1.0), Some(1.0)));
        assert_eq!((-3i32).score(), Some(-3.0));
    }
}
