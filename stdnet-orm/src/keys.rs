//! The key layout (version 1). Stable: changing it needs a migration.
//!
//! For a model with base `B = <namespace><app>.<name>` (`<namespace><name>` without an
//! app) every key starts with the hash tag `{B}`, so all keys of a model map to one
//! Redis Cluster slot and one Lua script may touch any of them.
//!
//! # Two models never share a key
//!
//! The base is built so that it reads one way only:
//!
//! - `app` and `name` hold only ASCII letters, digits and `_` (`#[derive(Model)]`
//!   refuses anything else at compile time; for metadata written by hand, any other
//!   byte is written `%XX`, so `a.b` + `c` and `a` + `b.c` stay apart);
//! - in the namespace, `%`, `{` and `}` are written `%25`, `%7B` and `%7D`, so the
//!   hash tag always ends where the base does;
//! - a namespace that ends in a character a label can hold (an ASCII letter, digit,
//!   `_` or `.`) gets a `:` appended: `ab` + `c` is `{ab:c}` and `a` + `bc` is
//!   `{a:bc}`. So `demo` and `demo:` name the same namespace; one ending in `:`, `/`
//!   or another separator is used as is.
//!
//! # The keys
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
//! | `{B}:tmp:<n>` | any | a query's intermediate result: emptied when the query creates it, deleted before it returns, on errors too |
//!
//! Which index keys a field has follows from its declaration. Changing it on a model
//! with saved data (adding `#[model(index)]`, or `prefix`, say) leaves the new index
//! empty for the instances saved before, and removing one leaves its keys behind:
//! run [`Db::repair`](crate::Db::repair) after adding an index (it fills the new
//! index from the hashes), and delete the old keys after removing one (repair does
//! not look at keys the model no longer declares).

use crate::model::ModelMeta;

/// The keys of one model under one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    label: String,
}

impl Keys {
    /// The keys of the model described by `meta` under `namespace` (see the module
    /// docs for how the namespace and labels are written).
    pub fn new(namespace: &str, meta: &ModelMeta) -> Keys {
        let mut prefix =
            String::with_capacity(namespace.len() + meta.app.len() + meta.name.len() + 4);
        prefix.push('{');
        escape(&mut prefix, namespace, |c| !matches!(c, '%' | '{' | '}'));
        if prefix.ends_with(|c: char| is_label_char(c) || c == '.') {
            prefix.push(':');
        }
        if !meta.app.is_empty() {
            escape(&mut prefix, meta.app, is_label_char);
            prefix.push('.');
        }
        escape(&mut prefix, meta.name, is_label_char);
        prefix.push('}');
        Keys {
            prefix,
            label: meta.label(),
        }
    }

    /// The hash tag every key starts with: `{<namespace><app>.<name>}`, written as
    /// the module docs say.
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
                .replace('\\', "\\\\")
                .replace('[', "\\[")
                .replace('*', "\\*")
                .replace('?', "\\?")
        )
    }
}

/// The characters a label part (`app`, `name`) keeps as they are.
fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Appends `text` with every character that `keep` refuses written as `%XX` per
/// UTF-8 byte (and `keep` must refuse `%`, which keeps the writing reversible).
fn escape(out: &mut String, text: &str, keep: impl Fn(char) -> bool) {
    if text.chars().all(&keep) {
        out.push_str(text);
        return;
    }
    let mut buf = [0; 4];
    for c in text.chars() {
        if keep(c) {
            out.push(c);
        } else {
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(app: &'static str, name: &'static str) -> ModelMeta {
        ModelMeta {
            app,
            name,
            pk: "id",
            fields: &[],
            version: None,
        }
    }

    #[test]
    fn bases_are_written_as_documented() {
        let base = |ns, app, name| Keys::new(ns, &meta(app, name)).prefix().to_owned();
        assert_eq!(base("demo:", "auth", "user"), "{demo:auth.user}");
        assert_eq!(base("", "auth", "user"), "{auth.user}");
        assert_eq!(base("", "", "user"), "{user}");
        assert_eq!(base("demo", "", "user"), "{demo:user}");
        assert_eq!(base("v1.", "", "user"), "{v1.:user}");
        assert_eq!(base("x/", "", "user"), "{x/user}");
        assert_eq!(base("a{b}%:", "", "user"), "{a%7Bb%7D%25:user}");
        assert_eq!(base("", "a.b", "c"), "{a%2Eb.c}");
        assert_eq!(base("", "a", "b.c"), "{a.b%2Ec}");
        assert_eq!(base("", "", "é"), "{%C3%A9}");
    }

    #[test]
    fn patterns_escape_glob_characters_of_the_namespace() {
        let keys = Keys::new("a*b?[c]\\:", &meta("", "m"));
        assert_eq!(keys.pattern(), "{a\\*b\\?\\[c]\\\\:m}:*");
    }
}
