//! stdnet-orm: models stored in Redis, with secondary indexes and server-side queries,
//! on nothing but core Redis (no modules).
//!
//! ```no_run
//! use stdnet_orm::{Db, Model, Order, Timestamp};
//!
//! #[derive(Model, Debug)]
//! #[model(app = "auth", name = "user")]
//! struct User {
//!     id: u64,
//!     #[model(unique)]
//!     username: String,
//!     #[model(index)]
//!     country: String,
//!     #[model(index)]
//!     age: u32,
//!     score: f64,
//!     bio: Option<String>,
//! }
//!
//! let mut db = Db::open("redis://127.0.0.1/0?namespace=demo:")?;
//! let mut ann = User { id: 0, username: "ann".into(), country: "IT".into(), age: 31, score: 9.5, bio: None };
//! db.save(&mut ann)?; // ann.id is now 1
//! let adults = db.all(
//!     &User::objects()
//!         .filter(User::AGE.gte(18))
//!         .filter(User::COUNTRY.is_in(["IT", "FR"]))
//!         .sort_by(User::SCORE, Order::Desc)
//!         .limit(10),
//! )?;
//! # Ok::<(), stdnet_orm::Error>(())
//! ```
//!
//! # Model
//!
//! Each instance is one Redis hash. `#[derive(Model)]` maps a struct with named
//! fields: the primary key is the `id: u64` field (or the one marked
//! `#[model(pk)]`; 0 means "not saved yet"), `#[model(index)]` and
//! `#[model(unique)]` add indexes, `prefix` beside either (`#[model(index, prefix)]`)
//! lets a text field answer `startswith` too, `#[model(json)]` stores any serde type as JSON,
//! `#[model(default)]` or `#[model(default = "expr")]` gives a field a default (see
//! below), `#[model(version)]` on a `u64` field makes saves optimistic (see
//! [`Model::version`]: a stale version is [`Error::Conflict`]), and
//! `#[model(validate = path)]` on the struct names a
//! `fn(&Self) -> Result<(), Error>` run before every save. Field types: see
//! [`field`]. Unit-only enums derive [`FieldEnum`] to be stored by variant name.
//!
//! `#[model(app = "...", name = "...")]` label the model (`name` is the type name in
//! lower case by default). Both hold only ASCII letters, digits and `_`, so that two
//! models never share keys (see [`keys`]). A field is stored under its name; a raw
//! identifier drops its `r#`: `r#type: String` is the hash field `type` and the
//! column `TYPE`.
//!
//! ## Defaults are stored
//!
//! A default is applied at save, as Python stdnet does: when a field's value has no
//! stored form (an `Option` field's `None`), the default's is stored instead, so the
//! hash, the field's indexes and range queries all hold what a read returns:
//!
//! ```
//! # use stdnet_orm::Model;
//! #[derive(Model)]
//! struct Player {
//!     id: u64,
//!     #[model(index, default = "Some(1)")]
//!     level: Option<u32>, // saved as None: stored, indexed and read back as Some(1)
//! }
//! ```
//!
//! A `None` can therefore not be stored in a field whose default is `Some`. On read,
//! the default also fills a field the hash does not have (an instance saved before
//! the field existed, or written outside the ORM); such an instance is not in the
//! field's index until it is saved again. A `#[model(json)]` value always has a
//! stored form (`None` is `null`), so there the default only fills a missing field.
//!
//! ## Values that cannot be stored
//!
//! Saving a `#[model(json)]` value that serde_json cannot write (a map with
//! non-string keys, a `Serialize` that fails), or whose JSON would not read back (a
//! NaN or infinite `f64` inside it, which serde_json writes as `null`), is
//! [`Error::Encode`], naming the model, the field and why; nothing is sent, for the
//! whole batch. Floats have one stored form per number: `-0.0` is stored as `0`, so
//! `eq(0.0)` finds it; infinities are stored as `inf` / `-inf` and round trip, in
//! indexes too; a NaN in any number field is [`Error::InvalidValue`] (a sorted-set
//! score cannot be NaN, and any field can be sorted by).
//!
//! The derive also generates one typed [`Column`] constant per field (`User::AGE`)
//! and `User::objects()`, the query of every instance.
//!
//! A struct that cannot be mapped is a compile error that says why: no primary key,
//! a primary key that is not `u64`, an index on a JSON field, a field type that is
//! not a [`Field`], an enum variant with data under [`FieldEnum`]:
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! struct NoKey { name: String } // "a model needs a primary key: a field `id: u64`..."
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! struct Doc { id: u64, #[model(json, index)] body: Vec<String> } // "a #[model(json)] field cannot be indexed"
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! struct Tag { id: u64, #[model(prefix)] name: String } // "`prefix` adds prefix lookups to an index"
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! struct Crate { id: u64, #[model(index, prefix)] size: u32 } // u32 is not a TextField
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! struct Odd { id: u64, when: std::time::Instant } // Instant is not a stdnet_orm::Field
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! #[model(app = "a.b")] // "the model app \"a.b\" has '.': a model's app and name may hold only ASCII letters, digits and `_`..."
//! struct A { id: u64 }
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! #[model(name = "{x}")] // "the model name \"{x}\" has '{': ..."
//! struct X { id: u64 }
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! #[model(name = "")] // "the model `name` cannot be empty"
//! struct Nameless { id: u64 }
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! struct Ñandú { id: u64 } // "the model name \"ñandú\" has 'ñ': ...; name the model with #[model(name = \"...\")]"
//! ```
//!
//! ```compile_fail
//! #[derive(stdnet_orm::Model)]
//! struct Counter { #[model(default = "5")] id: u64 } // "the primary key has no default: ..."
//! ```
//!
//! # Keys
//!
//! The layout is documented in [`keys`]; every key of a model shares one hash tag,
//! so the whole model lives in one Redis Cluster slot.
//!
//! # Writes
//!
//! Saves and deletes are Lua scripts: one round trip, atomic, indexes always in step
//! with the hashes. See [`Db::save`], [`Db::save_all`], [`Db::update`], [`Db::delete`],
//! and [`Db::increment`] for a counter that concurrent clients update without losing
//! an update. [`Db::repair`] rebuilds a model's indexes from its hashes when they were
//! changed outside the ORM (a hash deleted or expired by hand) or when an index is
//! declared on saved data; see [`repair`] for its cost and guarantees.
//!
//! A save writes everything or nothing. Redis does not roll a script back, so what
//! would make a write fail is refused first: NaN in a number field, ids above
//! [`MAX_ID`] (2^53 - 1) and a batch naming one id twice before anything is sent;
//! unique clashes, stale versions, an update of an instance whose hash is gone, no id
//! left, and keys of the wrong type where the save writes (or a counter that is not a
//! number) inside the script, before its first write. The script needs Redis 7.0
//! (it checks the types of a batch's index sets with one `SINTERCARD`). Deletes (one
//! instance, or every match of a query) and increments check the type of every key
//! they write the same way first: a key of another type is [`Error::Corrupt`], with
//! nothing written.
//!
//! Every key a script can know before it runs is passed in `KEYS`, which is what Redis
//! Cluster routing and key-pattern ACLs look at: the id set and counter, each indexed
//! field's unique hash and sorted sets, the hashes of instances that already have an
//! id, and the index sets of the values being written or filtered on. Keys that depend
//! on stored data are built inside the script from the model's hash tag, so they are
//! in the same slot: the index sets of an instance's old values (moved on update and
//! delete), the hash of an id the script assigns, the hashes a query finds, and
//! temporary query results.
//!
//! # What the ORM guarantees, and what it cannot
//!
//! While a model's keys are written only through the ORM, every acknowledged save,
//! update, increment and delete is atomic (one script, checked before its first
//! write), and the indexes hold exactly the instances' stored values. Concurrent
//! writers do not lose each other's changes to one instance when they use
//! [`Db::increment`] or a `#[model(version)]` field (a stale save is
//! [`Error::Conflict`]); plain saves are last-writer-wins per instance.
//!
//! Changes made outside the ORM are handled as follows:
//!
//! - **An instance hash that disappears** (`DEL` by hand, `EXPIRE` set by hand,
//!   eviction): every read skips it (`get`, `all`, `first`, `one`, `get_by`,
//!   `values`, `load_only`, `ids`, `count`, `exists`, and pages count only live
//!   instances), so no read reports it as live. Its index entries stay until a
//!   [`Db::delete`] or [`Db::delete_matching`] meets it (both remove them), a save
//!   takes its unique value (allowed: the stale owner counts as free), or
//!   [`Db::repair`] runs. [`Db::count_indexed`] is the O(1) count of the indexes,
//!   which counts such instances too.
//! - **An index key that disappears or is changed** (eviction, a user's write):
//!   queries miss or misreport instances until [`Db::repair`] rebuilds the indexes
//!   from the hashes. A key of the wrong type where a save would write is
//!   [`Error::Corrupt`] before anything is written; a query that meets one fails
//!   with the server's error and leaves no temporary key.
//! - **Eviction.** With `maxmemory-policy` `noeviction` or any `volatile-*` policy,
//!   Redis never evicts the ORM's keys (they have no TTL), and the guarantees above
//!   hold. With an `allkeys-*` policy any key may vanish, index keys included: the
//!   data stays readable by id, queries may miss instances, and [`Db::repair`] is the
//!   way back. Use `noeviction` for data you store with the ORM.
//!
//! # Queries
//!
//! See [`query`]: filters, excludes, unions, intersections, sorting and slicing run
//! server-side in one script call.
//!
//! # Sync and async
//!
//! [`Db`] runs on a blocking [`resp_conn::Connection`], [`AsyncDb`] on the async
//! multiplexed handle; their methods are the same.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

// Lets the derive's `::stdnet_orm::` paths resolve inside this crate's own tests.
extern crate self as stdnet_orm;

mod db;
pub mod error;
pub mod field;
pub mod increment;
pub mod keys;
pub mod model;
mod ops;
pub mod query;
pub mod repair;

pub use db::{AsyncDb, Db};
pub use error::{Error, Result};
pub use field::{Date, Field, FieldKind, NumericField, TextField, Timestamp};
pub use increment::Counter;
pub use model::{
    Column, FieldMeta, Filterable, IndexKind, Indexed, MAX_ID, Model, ModelMeta, Plain,
    PrefixFilterable, PrefixIndexed, PrefixUnique, Unique,
};
pub use ops::Row;
pub use query::{Filter, IntoField, Order, Query};
pub use repair::RepairReport;
pub use stdnet_orm_derive::{FieldEnum, Model};

/// Re-exports the generated code needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::field::{json_from_stored, json_to_stored, score_or_default, stored_or_default};
    pub use bytes::Bytes;
}
