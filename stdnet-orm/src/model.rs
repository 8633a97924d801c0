//! The `Model` trait that `#[derive(Model)]` implements, and model metadata.

use std::marker::PhantomData;

use crate::error::Error;
use crate::field::FieldKind;

/// How a field is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Not indexed: stored only in the instance hash.
    None,
    /// `#[model(index)]`: equality sets, plus a sorted set for numbers and dates (and
    /// a lexicographic sorted set for text declared with `prefix`).
    Index,
    /// `#[model(unique)]`: an index, plus the unique hash (value -> id) that refuses
    /// a second instance with the same value.
    Unique,
}

/// Static description of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMeta {
    /// The field's name, also its name in the hash.
    pub name: &'static str,
    /// What its index can answer.
    pub kind: FieldKind,
    /// How it is indexed.
    pub index: IndexKind,
    /// True for `Option<T>` fields, which may have no value.
    pub nullable: bool,
    /// `#[model(index, prefix)]` or `#[model(unique, prefix)]` on a text field: it
    /// also has the lexicographic sorted set that `startswith` reads. Opt-in, as that
    /// set costs an entry per instance (about as much as the hash write itself) that
    /// only prefix lookups use.
    pub prefix: bool,
}

impl FieldMeta {
    /// True if the field has any index.
    pub fn is_indexed(&self) -> bool {
        self.index != IndexKind::None
    }

    /// The flags the Lua scripts read: `u` unique, `i` indexed, `n` numeric sorted
    /// set, `t` text (lexicographic) sorted set; empty for no index.
    pub(crate) fn script_flags(&self) -> &'static str {
        use crate::field::FieldKind;
        match (self.index, self.kind) {
            (IndexKind::None, _) => "",
            (IndexKind::Index, FieldKind::Number) => "in",
            (IndexKind::Index, FieldKind::Text) if self.prefix => "it",
            (IndexKind::Index, _) => "i",
            (IndexKind::Unique, FieldKind::Number) => "un",
            (IndexKind::Unique, FieldKind::Text) if self.prefix => "ut",
            (IndexKind::Unique, _) => "u",
        }
    }
}

/// Static description of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelMeta {
    /// The application label, `auth` in `auth.user`; may be empty.
    ///
    /// `#[derive(Model)]` accepts only ASCII letters, digits and `_` in `app` and
    /// `name` (and a non-empty `name`), so that a label reads one way only. Metadata
    /// written by hand may hold anything: [`Keys`](crate::keys::Keys) escapes what the
    /// derive would refuse.
    pub app: &'static str,
    /// The model name, `user` in `auth.user` (by default the type name in lower case).
    pub name: &'static str,
    /// The primary key field's name.
    pub pk: &'static str,
    /// Every stored field except the primary key (and the version), in declaration
    /// order.
    pub fields: &'static [FieldMeta],
    /// The `#[model(version)]` field's name (also its name in the hash), if the model
    /// has one: see [`Model::version`].
    pub version: Option<&'static str>,
}

impl ModelMeta {
    /// `app.name`, or `name` without an app.
    pub fn label(&self) -> String {
        if self.app.is_empty() {
            self.name.to_owned()
        } else {
            format!("{}.{}", self.app, self.name)
        }
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The largest id: 2^53 - 1.
///
/// Ids go from 1 to `MAX_ID`, the range in which the save script (Lua numbers are
/// doubles) compares and counts them exactly. Saving an explicit id above it is
/// [`Error::InvalidId`] before anything is sent; once the id counter has reached it, a
/// new instance is [`Error::IdsExhausted`] (nothing written; instances that have an id
/// still save). An explicit id moves the counter past it, so an explicit id at the cap
/// uses up the automatic ids.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// A type stored as one Redis hash per instance. Implemented by `#[derive(Model)]`.
pub trait Model: Sized + Send + Sync + 'static {
    /// The model's metadata.
    const META: ModelMeta;

    /// The primary key; 0 for an instance not saved yet (a new id is then assigned).
    /// At most [`MAX_ID`].
    fn pk(&self) -> u64;

    /// Sets the primary key (after an insert).
    fn set_pk(&mut self, id: u64);

    /// The stored form of field `index` of [`ModelMeta::fields`]; `None` for no value.
    /// A field with `#[model(default)]` whose value has no stored form gives the
    /// default's. [`Error::Encode`] when the value cannot be stored (a
    /// `#[model(json)]` value serde_json refuses); the save then sends nothing.
    fn field_value(&self, index: usize) -> Result<Option<Vec<u8>>, Error>;

    /// The sorted-set score of field `index`, for numeric and date fields.
    fn field_score(&self, index: usize) -> Option<f64>;

    /// Builds an instance from its id and a lookup of its stored fields.
    fn from_stored(id: u64, get: &dyn Fn(&str) -> Option<bytes::Bytes>) -> Result<Self, Error>;

    /// The `#[model(version)]` field, for optimistic concurrency; 0 without one.
    ///
    /// Every save (and update) of an instance that has an id checks, inside the save
    /// script, that the stored version (0 if the hash has none, or does not exist) is
    /// this one, stores it plus one and sets it on the instance; a stale version is
    /// [`Error::Conflict`] with nothing written. A new instance (id 0) is stored with
    /// version 1.
    fn version(&self) -> u64 {
        0
    }

    /// Sets the version field (after a save); does nothing without one.
    fn set_version(&mut self, version: u64) {
        let _ = version;
    }

    /// Checks the instance before it is saved; an error stops the save before
    /// anything is sent. Set with `#[model(validate = path::to::fn)]`.
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Marker: a field without an index (it can be stored, read, sorted by, but not
/// filtered on).
#[derive(Debug, Clone, Copy)]
pub struct Plain;
/// Marker: a field with `#[model(index)]`.
#[derive(Debug, Clone, Copy)]
pub struct Indexed;
/// Marker: a field with `#[model(unique)]`.
#[derive(Debug, Clone, Copy)]
pub struct Unique;
/// Marker: a text field with `#[model(index, prefix)]`.
#[derive(Debug, Clone, Copy)]
pub struct PrefixIndexed;
/// Marker: a text field with `#[model(unique, prefix)]`.
#[derive(Debug, Clone, Copy)]
pub struct PrefixUnique;

/// Index markers that allow filtering.
pub trait Filterable {}
impl Filterable for Indexed {}
impl Filterable for Unique {}
impl Filterable for PrefixIndexed {}
impl Filterable for PrefixUnique {}

/// Index markers that allow `startswith`: the field has a lexicographic sorted set.
pub trait PrefixFilterable: Filterable {}
impl PrefixFilterable for PrefixIndexed {}
impl PrefixFilterable for PrefixUnique {}

/// The phantom types of a [`Column`] (a function type, so that `Column` is `Copy`,
/// `Send` and `Sync` whatever `M`, `T` and `I` are).
type ColumnTypes<M, T, I> = fn() -> (M, T, I);

/// A typed handle on one field of model `M` with Rust type `T` and index marker `I`.
///
/// `#[derive(Model)]` generates one as an associated constant per field, named like
/// the field in upper case: `User::AGE`. Filtering methods exist only when `I` is
/// [`Indexed`] or [`Unique`], so filtering on a field without an index does not
/// compile:
///
/// ```compile_fail
/// # use stdnet_orm::Model;
/// #[derive(Model)]
/// struct Note { id: u64, text: String }
/// let q = Note::objects().filter(Note::TEXT.eq("hi")); // no index on `text`
/// ```
pub struct Column<M, T, I> {
    name: &'static str,
    _types: PhantomData<ColumnTypes<M, T, I>>,
}

impl<M, T, I> Clone for Column<M, T, I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T, I> Copy for Column<M, T, I> {}

impl<M, T, I> std::fmt::Debug for Column<M, T, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

impl<M, T, I> Column<M, T, I> {
    /// Used by `#[derive(Model)]`.
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _types: PhantomData,
        }
    }

    /// The field's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}
