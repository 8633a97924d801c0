//! The key layout (version 1). Stable: changing it needs a migration.
//!
//! For a model with base `B = <namespace><app>.<name>` every key starts with the hash
//! tag `{B}`, so all keys of a model map to one Redis Cluster slot and one Lua script
//! may touch any of them:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{B}:obj:<id>` | hash | one instance: field name -> stored value |
//! | `{B}:ids` | string | the id counter (`INCR`) |
//! | `{B}:id` | sorted set | every id, score = id |
//! | `{B}:idx:<field>:<value>` | set | ids whose `#[model(index)]` field equals `value` |
//! | `{B}:num:<field>` | sorted set | ids by the value of an indexed number or date field |
//! | `{B}:lex:<field>` | sorted set | `<value>\0<id>` for text fields indexed with `prefix` (prefix lookups) |
//! | `{B}:uni:<field>` | hash | value -> id for a `#[model(unique)]` field (it answers equality lookups on that field, so a unique field has no per-value sets) |
//! | `{B}:tmp:<n>` | any | a query's intermediate result; deleted before the query returns |
//!
//! Which index keys a field has follows from its declaration. Changing it on a model
//! with saved data (adding `#[model(index)]`, or `prefix`, say) leaves the new index
//! empty for the instances saved before, and removing one leaves its keys behind:
//! re-save the instances, or delete the old keys, when a declaration changes.

use crate::model::ModelMeta;

/// The keys of one model under one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    label: String,
}

impl Keys {
    /// The keys of the model described by `meta` under `namespace`.
    pub fn new(namespace: &str, meta: &ModelMeta) -> Keys {
        let label = meta.label();
        Keys {
            prefix: format!("{{{namespace}{label}}}"),
            label,
        }
    }

    /// The hash tag every key starts with: `{<namespace><app>.<name>}`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The model's label (`app.name`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The hash of instance `id`.
    pub fn instance(&self, id: u64) -> String {
        format!("{}:obj:{id}", self.prefix)
    }

    /// The id counter.
    pub fn counter(&self) -> String {
        format!("{}:ids", self.prefix)
    }

    /// The sorted set of all ids.
    pub fn ids(&self) -> String {
        format!("{}:id", self.prefix)
    }

    /// The equality index set of `field` = `value`.
    pub fn index(&self, field: &str, value: &[u8]) -> Vec<u8> {
        let mut key = format!("{}:idx:{field}:", self.prefix).into_bytes();
        key.extend_from_slice(value);
        key
    }

    /// The sorted set of a numeric or date field.
    pub fn numeric(&self, field: &str) -> String {
        format!("{}:num:{field}", self.prefix)
    }

    /// The lexicographic sorted set of a text field.
    pub fn lex(&self, field: &str) -> String {
        format!("{}:lex:{field}", self.prefix)
    }

    /// The unique hash of a field.
    pub fn unique(&self, field: &str) -> String {
        format!("{}:uni:{field}", self.prefix)
    }

    /// The pattern that matches every key of the model.
    pub fn pattern(&self) -> String {
        format!(
            "{}:*",
            self.prefix
                .replace('[', "\\[")
                .replace('*', "\\*")
                .replace('?', "\\?")
        )
    }
}
