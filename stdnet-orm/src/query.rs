//! Lazy, composable queries, run server-side in one round trip.
//!
//! A [`Query`] only describes what to fetch; a [`Db`](crate::Db) or
//! [`AsyncDb`](crate::AsyncDb) runs it. Conditions come from the typed columns that
//! `#[derive(Model)]` generates (`User::AGE.gte(18)`), which exist only for indexed
//! fields, so a filter that would need a scan does not compile.
//!
//! ```
//! use stdnet_orm::{Model, Order};
//!
//! #[derive(Model)]
//! #[model(app = "shop")]
//! struct Item {
//!     id: u64,
//!     #[model(index)]
//!     category: String,
//!     #[model(index)]
//!     price: u32,
//!     title: String,
//! }
//!
//! let cheap_books = Item::objects()
//!     .filter(Item::CATEGORY.eq("books"))
//!     .filter(Item::PRICE.lt(20))
//!     .exclude(Item::PRICE.lt(5))
//!     .sort_by(Item::PRICE, Order::Desc)
//!     .limit(10);
//! # let _ = cheap_books;
//! ```
//!
//! # How it runs
//!
//! The query compiles to a small postfix program for one Lua script: equality filters
//! name index sets directly, `in` unions them (any number of values: long lists are
//! read in chunks), ranges copy a slice of a field's sorted set (`ZRANGESTORE ...
//! BYSCORE`), `startswith` reads the lexicographic set, and `filter` / `exclude` /
//! `union` / `intersect` become `ZINTERSTORE` / `ZDIFFSTORE` / `ZUNIONSTORE`. The
//! primary-key column (`User::ID`) filters like an indexed number, from the id set.
//! Slicing, counting and loading happen in the same script. Intermediate results are
//! temporary keys `{B}:tmp:<n>`: each is emptied when the script creates it, and all
//! are deleted before the script returns, when it fails part-way too, so a failed
//! query never changes a later one.
//!
//! A filter that cannot run is [`Error::InvalidQuery`](crate::Error::InvalidQuery)
//! before anything is sent: a NaN or `None` range bound, and `eq(None)` (or a `None`
//! in `is_in`) on an `Option` column, since an instance without a value is in no index
//! (and a null is never the empty string).
//!
//! # Order
//!
//! Without [`sort_by`](Query::sort_by), results come in id order. Sorting never uses
//! `SORT ... BY` or any key pattern, so it works on Redis Cluster and for users whose
//! ACL allows only the model's keys:
//!
//! - by id, or by an indexed number or date that cannot be empty: the field's sorted
//!   set (a page near the start costs O(log n + page));
//! - by any other field: inside the script, from each candidate's stored value (one
//!   `HGET` per candidate; a page near the start is selected in O(n log page), a deep
//!   one sorts all). Numbers and dates compare by value (dates by day, timestamps by
//!   instant); an instance without a value sorts as if it were 0 (as `SORT BY` did),
//!   and NaN after every number. Every other kind (text, bool, enums, bytes) compares
//!   by its stored bytes (in the server's collation, byte order under the C locales
//!   redis-server normally runs in); an instance without a value comes first.
//!
//! Ties are broken by id compared as decimal text (`10` before `9`: the order of equal
//! scores in a sorted set), so every order is total and deterministic, and
//! [`Order::Desc`] is the exact reverse of [`Order::Asc`], ties included.
//!
//! # Index entries without a hash
//!
//! An instance hash removed outside the ORM (`DEL` by hand, eviction, expiry) leaves
//! its index entries behind. Every read skips such ids: counts, `exists`, ids, loads,
//! values; offset and limit count live instances only, so a page is full as long as
//! live matches remain. [`Db::count_indexed`](crate::Db::count_indexed) is the
//! O(1) count that trusts the indexes.

use std::marker::PhantomData;

use crate::field::{Field, NumericField, TextField};
use crate::model::{Column, Filterable, Model, PrefixFilterable};

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// A condition on indexed fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    All,
    Eq(&'static str, Vec<u8>),
    In(&'static str, Vec<Vec<u8>>),
    /// Bounds in `ZRANGE BYSCORE` syntax: `5`, `(5`, `-inf`, `+inf`.
    Range(&'static str, String, String),
    Prefix(&'static str, Vec<u8>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Diff(Box<Cond>, Box<Cond>),
    /// A filter that cannot run (a NaN bound, `eq(None)`): the query fails with
    /// `Error::InvalidQuery` naming the field, before anything is sent.
    Invalid(&'static str, &'static str),
}

/// One condition on model `M`, made from a [`Column`].
#[derive(Debug, PartialEq)]
pub struct Filter<M> {
    pub(crate) cond: Cond,
    _model: PhantomData<fn() -> M>,
}

impl<M> Filter<M> {
    fn new(cond: Cond) -> Self {
        Filter {
            cond,
            _model: PhantomData,
        }
    }
}

/// A value a filter on a `T` column accepts: a `T`, a `T` for an `Option<T>` column,
/// or a `&str` for a `String` column. (Unlike `Into`, this keeps integer literals
/// working: `User::AGE.gte(18)`.)
pub trait IntoField<T> {
    /// The value as the column's type.
    fn into_field(self) -> T;
}

impl<T: Field> IntoField<T> for T {
    fn into_field(self) -> T {
        self
    }
}

impl<T: Field> IntoField<Option<T>> for T {
    fn into_field(self) -> Option<T> {
        Some(self)
    }
}

impl IntoField<String> for &str {
    fn into_field(self) -> String {
        self.to_owned()
    }
}

impl IntoField<Option<String>> for &str {
    fn into_field(self) -> Option<String> {
        Some(self.to_owned())
    }
}

/// The stored form of a filter value; `None` for "no value", which no index holds.
fn stored<T: Field>(value: &T) -> Option<Vec<u8>> {
    value.to_stored()
}

/// Why `eq(None)` and `is_in` with a `None` are refused.
const NO_NULL_LOOKUP: &str = "None has no index entry (an instance without a value is in no \
     index set, and a null is not the empty string): filter on values, or exclude them";

/// A range bound in `ZRANGE BYSCORE` syntax, or why there is none.
fn bound<T: Field>(value: &T, exclusive: bool) -> Result<String, &'static str> {
    match value.score() {
        None => Err("a range bound needs a value, not None"),
        Some(score) if score.is_nan() => Err("a NaN range bound matches nothing"),
        Some(score) if exclusive => Ok(format!("({score:?}")),
        Some(score) => Ok(format!("{score:?}")),
    }
}

impl<M: Model, T: Field, I: Filterable> Column<M, T, I> {
    /// The field equals `value`.
    ///
    /// `eq(None)` on an `Option` column is refused with [`Error::InvalidQuery`]
    /// when the query runs: instances without a value have no index entry to look up
    /// (and `None` never matches `Some("")`).
    ///
    /// [`Error::InvalidQuery`]: crate::Error::InvalidQuery
    pub fn eq(self, value: impl IntoField<T>) -> Filter<M> {
        Filter::new(match stored(&value.into_field()) {
            Some(v) => Cond::Eq(self.name(), v),
            None => Cond::Invalid(self.name(), NO_NULL_LOOKUP),
        })
    }

    /// The field equals one of `values` (any number of them: long lists are read in
    /// chunks). A `None` among them is refused as in [`eq`](Column::eq).
    pub fn is_in<V: IntoField<T>>(self, values: impl IntoIterator<Item = V>) -> Filter<M> {
        let values: Option<Vec<Vec<u8>>> = values
            .into_iter()
            .map(|v| stored(&v.into_field()))
            .collect();
        Filter::new(match values {
            Some(values) => Cond::In(self.name(), values),
            None => Cond::Invalid(self.name(), NO_NULL_LOOKUP),
        })
    }
}

impl<M: Model, T: NumericField, I: Filterable> Column<M, T, I> {
    /// A range filter, or the reason one bound is invalid (refused when it runs).
    fn range(
        self,
        min: Result<String, &'static str>,
        max: Result<String, &'static str>,
    ) -> Filter<M> {
        Filter::new(match (min, max) {
            (Ok(min), Ok(max)) => Cond::Range(self.name(), min, max),
            (Err(why), _) | (_, Err(why)) => Cond::Invalid(self.name(), why),
        })
    }

    /// The field is greater than `value`. A NaN or `None` bound is refused with
    /// [`Error::InvalidQuery`](crate::Error::InvalidQuery) before anything is sent,
    /// as in every range filter.
    pub fn gt(self, value: impl IntoField<T>) -> Filter<M> {
        self.range(bound(&value.into_field(), true), Ok("+inf".into()))
    }

    /// The field is greater than or equal to `value`.
    pub fn gte(self, value: impl IntoField<T>) -> Filter<M> {
        self.range(bound(&value.into_field(), false), Ok("+inf".into()))
    }

    /// The field is less than `value`.
    pub fn lt(self, value: impl IntoField<T>) -> Filter<M> {
        self.range(Ok("-inf".into()), bound(&value.into_field(), true))
    }

    /// The field is less than or equal to `value`.
    pub fn lte(self, value: impl IntoField<T>) -> Filter<M> {
        self.range(Ok("-inf".into()), bound(&value.into_field(), false))
    }

    /// The field is between `low` and `high`, both included.
    pub fn between(self, low: impl IntoField<T>, high: impl IntoField<T>) -> Filter<M> {
        self.range(
            bound(&low.into_field(), false),
            bound(&high.into_field(), false),
        )
    }
}

impl<M: Model, T: TextField, I: PrefixFilterable> Column<M, T, I> {
    /// The field starts with `prefix` (byte-wise). Only for text fields declared with
    /// `#[model(index, prefix)]` or `#[model(unique, prefix)]`:
    ///
    /// ```compile_fail
    /// # use stdnet_orm::Model;
    /// #[derive(Model)]
    /// struct City { id: u64, #[model(index)] name: String }
    /// let q = City::objects().filter(City::NAME.startswith("Ro")); // no `prefix`
    /// ```
    ///
    /// The primary key is a number, not text:
    ///
    /// ```compile_fail
    /// # use stdnet_orm::Model;
    /// #[derive(Model)]
    /// struct City { id: u64, #[model(index, prefix)] name: String }
    /// let q = City::objects().filter(City::ID.startswith("1"));
    /// ```
    pub fn startswith(self, prefix: &str) -> Filter<M> {
        Filter::new(Cond::Prefix(self.name(), prefix.as_bytes().to_vec()))
    }
}

/// What to fetch: conditions, order and slice. Cheap to build and clone; nothing runs
/// until a [`Db`](crate::Db) or [`AsyncDb`](crate::AsyncDb) executes it.
#[derive(Debug, PartialEq)]
pub struct Query<M> {
    pub(crate) cond: Cond,
    pub(crate) sort: Option<(&'static str, Order)>,
    pub(crate) offset: isize,
    pub(crate) limit: Option<usize>,
    _model: PhantomData<fn() -> M>,
}

// Manual impls: deriving would require `M: Clone`.
impl<M> Clone for Filter<M> {
    fn clone(&self) -> Self {
        Filter::new(self.cond.clone())
    }
}

impl<M> Clone for Query<M> {
    fn clone(&self) -> Self {
        Query {
            cond: self.cond.clone(),
            sort: self.sort,
            offset: self.offset,
            limit: self.limit,
            _model: PhantomData,
        }
    }
}

impl<M: Model> Default for Query<M> {
    fn default() -> Self {
        Query::all()
    }
}

impl<M: Model> Query<M> {
    /// Every instance of the model.
    pub fn all() -> Self {
        Query {
            cond: Cond::All,
            sort: None,
            offset: 0,
            limit: None,
            _model: PhantomData,
        }
    }

    /// Keeps instances matching `filter` as well.
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.cond = and(self.cond, filter.cond);
        self
    }

    /// Removes instances matching `filter`.
    pub fn exclude(mut self, filter: Filter<M>) -> Self {
        self.cond = Cond::Diff(Box::new(self.cond), Box::new(filter.cond));
        self
    }

    /// Instances matching this query or `other` (the order and slice of `self` apply).
    pub fn union(mut self, other: Query<M>) -> Self {
        self.cond = match self.cond {
            Cond::Or(mut items) => {
                items.push(other.cond);
                Cond::Or(items)
            }
            cond => Cond::Or(vec![cond, other.cond]),
        };
        self
    }

    /// Instances matching both this query and `other`.
    pub fn intersect(mut self, other: Query<M>) -> Self {
        self.cond = and(self.cond, other.cond);
        self
    }

    /// Orders by a field (any field: indexed numbers use their sorted set, others are
    /// sorted inside the script; see [Order](self#order) for where instances without
    /// a value go and how ties are broken). Without it, results come in id order.
    pub fn sort_by<T, I>(mut self, column: Column<M, T, I>, order: Order) -> Self {
        self.sort = Some((column.name(), order));
        self
    }

    /// Orders by id, descending for [`Order::Desc`].
    pub fn order_by_id(mut self, order: Order) -> Self {
        self.sort = Some((M::META.pk, order));
        self
    }

    /// Skips `offset` results; a negative offset counts from the end (`-10`: the last
    /// ten).
    pub fn offset(mut self, offset: isize) -> Self {
        self.offset = offset;
        self
    }

    /// Returns at most `limit` results.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

fn and(a: Cond, b: Cond) -> Cond {
    match (a, b) {
        (Cond::All, b) => b,
        (a, Cond::All) => a,
        (Cond::And(mut items), b) => {
            items.push(b);
            Cond::And(items)
        }
        (a, b) => Cond::And(vec![a, b]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate as stdnet_orm;

    #[derive(stdnet_orm::Model)]
    struct Thing {
        id: u64,
        #[model(index)]
        size: u32,
        #[model(index, prefix)]
        name: String,
    }

    #[test]
    fn filters_combine_into_one_condition() {
        let q = Thing::objects()
            .filter(Thing::SIZE.gt(3))
            .filter(Thing::NAME.startswith("a"))
            .exclude(Thing::NAME.eq("ab"));
        assert_eq!(
            q.cond,
            Cond::Diff(
                Box::new(Cond::And(vec![
                    Cond::Range("size", "(3.0".into(), "+inf".into()),
                    Cond::Prefix("name", b"a".to_vec()),
                ])),
                Box::new(Cond::Eq("name", b"ab".to_vec())),
            )
        );
    }
}
