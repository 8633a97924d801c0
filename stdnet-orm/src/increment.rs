//! [`Db::increment`](crate::Db::increment): add to a number field in one atomic
//! script, so that concurrent increments never lose an update (a read, `+= n`,
//! `save` from two clients at once keeps only one of them).
//!
//! The script reads the stored value, adds, checks the result against the field's
//! type, and writes the value and its index entries (equality set, numeric score,
//! unique hash) in one step; everything it can refuse it refuses before writing:
//!
//! - integers (`i8` ... `i64`, `u8` ... `u64`, `isize`, `usize`) add exactly, over
//!   their whole range (the script adds decimal text: Lua numbers are doubles), like
//!   `INCRBY`; a result outside the type is [`Error::Overflow`];
//! - `f64` adds as a double and `f32` as a float, like `INCRBYFLOAT`; a result that
//!   is not finite is [`Error::Overflow`] (so is any increment of a stored infinity);
//! - a stored value that is not a number of the type is [`Error::Decode`], and so is a
//!   field with no stored value (the ORM does not guess the default the model would
//!   read: re-save the instance first);
//! - a unique field whose new value another instance holds is [`Error::Unique`];
//! - an instance whose hash is gone is [`Error::DoesNotExist`];
//! - a key the write touches holding another type (the instance's key, the field's
//!   equality sets of the old and new values, its sorted set or unique hash) is
//!   [`Error::Corrupt`].
//!
//! Only [`Counter`] columns can be incremented, so incrementing a text, date or
//! optional field does not compile:
//!
//! ```compile_fail
//! # use stdnet_orm::{Db, Model};
//! #[derive(Model)]
//! struct Page { id: u64, title: String }
//! fn bump(db: &mut Db, page: &Page) {
//!     db.increment(page, Page::TITLE, 1); // String is not a Counter
//! }
//! ```
//!
//! The object passed is only read for its id: its field keeps its old value, and
//! the new one is returned.

use bytes::Bytes;
use resp_conn::{FromFrame, ScriptInvocation, Value};

use crate::error::{Error, Result};
use crate::field::NumericField;
use crate::keys::Keys;
use crate::model::{Column, Model};
use crate::ops;

mod sealed {
    pub trait Sealed {}
}

/// A number type [`Db::increment`](crate::Db::increment) can add to: the integers,
/// `f32` and `f64`. Sealed: the script's arithmetic and stored form are these
/// types' own.
pub trait Counter: NumericField + sealed::Sealed {
    /// The type of the amount added: `i64` for every integer (so that unsigned
    /// fields can go down too), the float type itself for floats.
    type Delta: Copy + std::fmt::Display;

    /// The script's arguments after the amount: its kind, and for integers the
    /// type's bounds.
    #[doc(hidden)]
    fn kind() -> (&'static str, Option<(String, String)>);

    /// The amount as the script reads it, or why it cannot be added.
    #[doc(hidden)]
    fn amount(by: Self::Delta) -> std::result::Result<String, &'static str>;
}

macro_rules! integer_counters {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Counter for $t {
            type Delta = i64;
            fn kind() -> (&'static str, Option<(String, String)>) {
                ("int", Some((<$t>::MIN.to_string(), <$t>::MAX.to_string())))
            }
            fn amount(by: i64) -> std::result::Result<String, &'static str> {
                Ok(by.to_string())
            }
        }
    )*};
}

integer_counters!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! float_counters {
    ($($t:ty => $kind:literal),*) => {$(
        impl sealed::Sealed for $t {}
        impl Counter for $t {
            type Delta = $t;
            fn kind() -> (&'static str, Option<(String, String)>) {
                ($kind, None)
            }
            fn amount(by: $t) -> std::result::Result<String, &'static str> {
                if !by.is_finite() {
                    return Err("the amount must be a finite number");
                }
                // The exact value, as a double the script reads back unchanged.
                Ok(format!("{:?}", f64::from(by)))
            }
        }
    )*};
}

float_counters!(f32 => "f32", f64 => "f64");

/// The increment of `column` of the instance `id` by `by`.
pub(crate) fn increment_call<M: Model, T: Counter, I>(
    keys: &Keys,
    id: u64,
    column: Column<M, T, I>,
    by: T::Delta,
) -> Result<ScriptInvocation<'static>> {
    let field = ops::field_number::<M>(column.name(), "increment")?;
    let amount = T::amount(by).map_err(|reason| Error::validation(column.name(), reason))?;
    let mut call = ops::header(ops::increment_script(), keys, &ops::all_fields::<M>());
    call.key(keys.instance(id));
    let (kind, bounds) = T::kind();
    // The version field ('' for none) is bumped with the value, so that a copy read
    // before the increment cannot be saved over it.
    call.inv
        .arg(id)
        .arg(field)
        .arg(kind)
        .arg(amount)
        .arg(M::META.version.unwrap_or(""));
    if let Some((min, max)) = bounds {
        call.inv.arg(min).arg(max);
    }
    Ok(call.inv)
}

/// Reads the increment reply: the new value, or what stopped it.
pub(crate) fn increment_reply<M: Model, T: Counter, I>(
    reply: Value,
    id: u64,
    column: Column<M, T, I>,
    by: T::Delta,
) -> Result<T> {
    let items: Vec<Bytes> = Vec::from_frame(reply)?;
    let status = items.first().map(|s| &s[..]).unwrap_or_default();
    let text =
        |at: usize| String::from_utf8_lossy(items.get(at).map_or(&[][..], |b| &b[..])).into_owned();
    let decode = |reason: String| Error::Decode {
        model: M::META.label(),
        id,
        field: column.name().to_owned(),
        reason,
    };
    let type_name = std::any::type_name::<T>();
    match status {
        b"ok" => T::from_stored(items.get(1).map(|b| &b[..])).map_err(decode),
        b"badversion" => Err(decode(format!(
            "its version {:?} is not a version number",
            text(1)
        ))),
        b"missing" => Err(Error::DoesNotExist {
            model: M::META.label(),
            id: Some(id),
        }),
        b"novalue" => Err(decode("no stored value to add to".into())),
        b"nan" => Err(decode(format!("{:?} is not a {type_name}", text(1)))),
        b"overflow" => Err(Error::Overflow {
            model: M::META.label(),
            id,
            field: column.name().to_owned(),
            value: text(1),
            reason: format!("adding {by} does not fit a {type_name}"),
        }),
        b"corrupt" => Err(Error::Corrupt {
            model: M::META.label(),
            key: text(1),
            reason: text(2),
        }),
        b"unique" => Err(Error::Unique {
            model: M::META.label(),
            field: column.name().to_owned(),
            value: text(1),
        }),
        other => Err(ops::bad_reply(
            "the increment script's reply",
            format!("status {:?}", String::from_utf8_lossy(other)),
        )),
    }
}
