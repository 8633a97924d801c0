//! The ORM's errors.

/// A specialized `Result` for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong storing or querying models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such instance: `get` of an id, `one`/`get_by` of a query that matches
    /// nothing, or an `update`/`increment` of an instance that is not saved or whose
    /// hash is gone.
    #[error("{model} {} does not exist", match .id { Some(id) => format!("{id}"), None => "matching the query".to_owned() })]
    DoesNotExist {
        /// The model's label (`app.name`).
        model: String,
        /// The instance's id when one was asked for (`None` for a query; `Some(0)` for
        /// an instance never saved).
        id: Option<u64>,
    },
    /// `get` found more than one instance.
    #[error("get() returned {count} {model} instances, expected one")]
    MultipleObjects {
        /// The model's label.
        model: String,
        /// How many matched.
        count: usize,
    },
    /// A save would give a unique field a value another instance already has; nothing
    /// was written.
    #[error("{model}.{field} must be unique: {value:?} is taken")]
    Unique {
        /// The model's label.
        model: String,
        /// The unique field.
        field: String,
        /// The clashing value.
        value: String,
    },
    /// An instance failed validation; nothing was sent.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field (or `__all__` for the instance as a whole).
        field: String,
        /// Why.
        reason: String,
    },
    /// Stored data does not fit the model (someone wrote `abc` into an integer field).
    #[error("cannot decode {model} {id} field {field}: {reason}")]
    Decode {
        /// The model's label.
        model: String,
        /// The instance's id.
        id: u64,
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A field's value has no stored form (a `#[model(json)]` value that serde_json
    /// cannot write, or that would not read back); nothing was sent.
    #[error("cannot store {model}.{field}: {reason}")]
    Encode {
        /// The model's label.
        model: String,
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A query on a field without an index, or on a field the model does not have.
    #[error("cannot {operation} on {model}.{field}: {reason}")]
    InvalidQuery {
        /// The model's label.
        model: String,
        /// The field.
        field: String,
        /// The operation (filter, sort...).
        operation: &'static str,
        /// Why not.
        reason: String,
    },
    /// [`Db::increment`](crate::Db::increment) would take a field out of its
    /// type's range (or a float to infinity); nothing was written.
    #[error("cannot increment {model} {id} field {field} = {value}: {reason}")]
    Overflow {
        /// The model's label.
        model: String,
        /// The instance's id.
        id: u64,
        /// The field.
        field: String,
        /// Its stored value, left as it was.
        value: String,
        /// Why not, with the amount.
        reason: String,
    },
    /// A value the server cannot store or order (a NaN in a number field); nothing
    /// was sent.
    #[error("invalid value for {model}.{field}: {value}: {reason}")]
    InvalidValue {
        /// The model's label.
        model: String,
        /// The field.
        field: String,
        /// The value, as text.
        value: String,
        /// Why it cannot be stored.
        reason: &'static str,
    },
    /// An explicit id above [`MAX_ID`](crate::MAX_ID); nothing was sent.
    #[error("{model} id {id} is out of range: ids go from 1 to 2^53 - 1")]
    InvalidId {
        /// The model's label.
        model: String,
        /// The refused id.
        id: u64,
    },
    /// The id counter has reached [`MAX_ID`](crate::MAX_ID): no id is left for a new
    /// instance; nothing was written (instances with an id still save).
    #[error("{model} has no id left for a new instance (the counter is at 2^53 - 1)")]
    IdsExhausted {
        /// The model's label.
        model: String,
    },
    /// A batch names the same instance twice; nothing was sent.
    #[error("the batch saves {model} {id} more than once")]
    DuplicateId {
        /// The model's label.
        model: String,
        /// The id named twice.
        id: u64,
    },
    /// Optimistic concurrency: the instance's version is not the stored one (another
    /// save came first, or the instance was deleted); nothing was written.
    #[error("{model} {id} was changed or deleted since it was read (stale version)")]
    Conflict {
        /// The model's label.
        model: String,
        /// The instance's id.
        id: u64,
    },
    /// A key a write (save, update, delete, `delete_matching`, increment) would touch
    /// holds something the ORM did not write there (a key of the wrong type, a counter
    /// that is not a number, the hash of a new id already taken); nothing was written.
    #[error("cannot write {model}: key {key}: {reason}")]
    Corrupt {
        /// The model's label.
        model: String,
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection or the server failed.
    #[error(transparent)]
    Connection(#[from] resp_conn::Error),
}

impl Error {
    /// A validation error, for use in `validate` hooks.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
