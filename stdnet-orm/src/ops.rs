//! What each operation sends and how its reply is read, shared by the sync and async
//! fronts: they differ only in how they send.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use resp_conn::{Cmd, FromFrame, Script, ScriptInvocation, Value, cmd};

use crate::error::{Error, Result};
use crate::keys::Keys;
use crate::model::{FieldMeta, Model};
use crate::query::{Cond, Order, Query};

const COMMON: &str = include_str!("lua/common.lua");

fn script(cell: &'static OnceLock<Script>, body: &str) -> &'static Script {
    cell.get_or_init(|| Script::new(&format!("{COMMON}\n{body}")))
}

/// The save script (insert or update a batch).
pub(crate) fn save_script() -> &'static Script {
    static CELL: OnceLock<Script> = OnceLock::new();
    script(&CELL, include_str!("lua/save.lua"))
}

/// The delete script.
pub(crate) fn delete_script() -> &'static Script {
    static CELL: OnceLock<Script> = OnceLock::new();
    script(&CELL, include_str!("lua/delete.lua"))
}

/// The repair script (one bounded step of `Db::repair`).
pub(crate) fn repair_script() -> &'static Script {
    static CELL: OnceLock<Script> = OnceLock::new();
    script(&CELL, include_str!("lua/repair.lua"))
}

/// The increment script.
pub(crate) fn increment_script() -> &'static Script {
    static CELL: OnceLock<Script> = OnceLock::new();
    script(&CELL, include_str!("lua/increment.lua"))
}

/// The query script.
pub(crate) fn query_script() -> &'static Script {
    static CELL: OnceLock<Script> = OnceLock::new();
    script(&CELL, include_str!("lua/query.lua"))
}

/// An invocation being built, and the position (1-based, as in Lua) that the next
/// key it declares will have in `KEYS`.
pub(crate) struct Call {
    pub(crate) inv: ScriptInvocation<'static>,
    next_key: usize,
}

impl Call {
    /// Declares `key` and returns its position in `KEYS`.
    pub(crate) fn key(&mut self, key: impl resp_conn::ToArg) -> usize {
        self.inv.key(key);
        self.next_key += 1;
        self.next_key - 1
    }
}

/// Starts an invocation with the common header (see `lua/common.lua`): in ARGV the
/// prefix, label and field table; in KEYS the id set, the counter, and each field's
/// unique hash, numeric and lexicographic sorted sets.
pub(crate) fn header(script: &'static Script, keys: &Keys, fields: &[&FieldMeta]) -> Call {
    let mut call = Call {
        inv: script.prepare(),
        next_key: 1,
    };
    call.inv
        .arg(keys.prefix())
        .arg(keys.label())
        .arg(fields.len());
    call.key(keys.ids());
    call.key(keys.counter());
    for f in fields {
        let flags = f.script_flags();
        call.inv.arg(f.name).arg(flags);
        if flags.contains('u') {
            call.key(keys.unique(f.name));
        }
        if flags.contains('n') {
            call.key(keys.numeric(f.name));
        }
        if flags.contains('t') {
            call.key(keys.lex(f.name));
        }
    }
    call
}

pub(crate) fn all_fields<M: Model>() -> Vec<&'static FieldMeta> {
    M::META.fields.iter().collect()
}

/// The positions in [`ModelMeta::fields`](crate::ModelMeta::fields) of the indexed
/// fields: the order in which the scripts read an instance's old values (the
/// `indexed` list of `lua/common.lua`).
pub(crate) fn indexed_fields<M: Model>() -> Vec<usize> {
    (0..M::META.fields.len())
        .filter(|&i| M::META.fields[i].is_indexed())
        .collect()
}

/// The scripts' value mask: one `1` (a value follows) or `0` (none) per field.
pub(crate) fn presence_mask<T>(values: &[Option<T>]) -> String {
    values
        .iter()
        .map(|v| if v.is_some() { '1' } else { '0' })
        .collect()
}

/// The field's position in the model's field table, or an error naming it.
pub(crate) fn field_number<M: Model>(name: &str, operation: &'static str) -> Result<usize> {
    M::META
        .fields
        .iter()
        .position(|f| f.name == name)
        .map(|i| i + 1)
        .ok_or_else(|| Error::InvalidQuery {
            model: M::META.label(),
            field: name.to_owned(),
            operation,
            reason: "the model has no such stored field".into(),
        })
}

/// The save of `objects` (all fields, or only `only` for a partial update).
pub(crate) fn save_call<'a, M: Model>(
    keys: &Keys,
    objects: impl IntoIterator<Item = &'a M>,
    only: Option<&[&str]>,
) -> Result<ScriptInvocation<'static>> {
    let chosen: Vec<(usize, &'static FieldMeta)> = match only {
        None => M::META.fields.iter().enumerate().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                M::META
                    .fields
                    .iter()
                    .enumerate()
                    .find(|(_, f)| f.name == *n)
                    .ok_or_else(|| Error::InvalidQuery {
                        model: M::META.label(),
                        field: (*n).to_owned(),
                        operation: "update",
                        reason: "the model has no such stored field".into(),
                    })
            })
            .collect::<Result<_>>()?,
    };
    let metas: Vec<&FieldMeta> = chosen.iter().map(|(_, f)| *f).collect();
    let mut call = header(save_script(), keys, &metas);
    let objects: Vec<&M> = objects.into_iter().collect();
    // Validation first: nothing is sent for a batch with an invalid instance.
    check_ids::<M>(&objects)?;
    for obj in &objects {
        obj.validate()?;
        check_numbers(*obj, &chosen)?;
    }
    // Each instance's slots, as `lua/save.lua` reads them.
    let numeric: Vec<usize> = chosen
        .iter()
        .filter(|(_, f)| f.script_flags().contains('n'))
        .map(|(i, _)| *i)
        .collect();
    // Positions in `chosen` of the fields with per-value index sets, each with the
    // KEYS positions of the sets declared so far, by value.
    let mut sets: Vec<(usize, HashMap<Vec<u8>, usize>)> = chosen
        .iter()
        .enumerate()
        .filter(|(_, (_, f))| f.script_flags().contains('i'))
        .map(|(at, _)| (at, HashMap::new()))
        .collect();
    // Keys declared: the hash of each instance that has an id, then each distinct
    // index set of a new value.
    let hashes: Vec<usize> = objects
        .iter()
        .map(|obj| match obj.pk() {
            0 => 0,
            id => call.key(keys.instance(id)),
        })
        .collect();
    let version = M::META.version;
    call.inv
        .arg(objects.len())
        .arg(if only.is_some() { "1" } else { "0" })
        .arg(version.unwrap_or(""));
    let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(chosen.len());
    for (obj, hash) in objects.iter().zip(hashes) {
        values.clear();
        for (i, _) in &chosen {
            values.push(obj.field_value(*i)?);
        }
        let present = values.iter().filter(|v| v.is_some()).count();
        let full = present == values.len();
        if obj.pk() == 0 && full {
            // The common insert: one slot says "new, every field".
            call.inv.arg("");
        } else {
            let mask: String = if full {
                String::new()
            } else {
                presence_mask(&values)
            };
            call.inv.arg(obj.pk()).arg(hash).arg(present).arg(mask);
            if version.is_some() {
                call.inv.arg(if obj.pk() == 0 { 0 } else { obj.version() });
            }
        }
        for ((_, meta), value) in chosen.iter().zip(&values) {
            if let Some(value) = value {
                call.inv.arg(meta.name).arg(value.as_slice());
            }
        }
        if let Some(name) = version {
            call.inv.arg(name).arg(saved_version(*obj));
        }
        for i in &numeric {
            match obj.field_score(*i) {
                Some(score) => call.inv.arg(score),
                None => call.inv.arg(""),
            };
        }
        for (at, declared) in &mut sets {
            let position = match &values[*at] {
                None => 0,
                Some(value) => match declared.get(value.as_slice()) {
                    Some(&p) => p,
                    None => {
                        let p = call.key(keys.index(chosen[*at].1.name, value));
                        declared.insert(value.clone(), p);
                        p
                    }
                },
            };
            call.inv.arg(position);
        }
    }
    Ok(call.inv)
}

/// Explicit ids within the range and named once: refused before anything is sent, as
/// the script counts ids in doubles and one hash saved twice in a batch would leave
/// the first copy's index entries behind.
fn check_ids<M: Model>(objects: &[&M]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for obj in objects {
        let id = obj.pk();
        if id > crate::model::MAX_ID {
            return Err(Error::InvalidId {
                model: M::META.label(),
                id,
            });
        }
        // A single instance cannot clash with itself: no set to build.
        if id != 0 && objects.len() > 1 && !seen.insert(id) {
            return Err(Error::DuplicateId {
                model: M::META.label(),
                id,
            });
        }
    }
    Ok(())
}

/// A NaN in a number field is refused: `ZADD` rejects it (after earlier writes, were
/// it sent), and it has no place in any order, so sorting by the field could not use
/// it either. Infinities are valid scores and stored as `inf` / `-inf`.
fn check_numbers<M: Model>(obj: &M, chosen: &[(usize, &'static FieldMeta)]) -> Result<()> {
    for (i, meta) in chosen {
        if meta.kind == crate::field::FieldKind::Number
            && obj.field_score(*i).is_some_and(f64::is_nan)
        {
            let value = obj.field_value(*i)?.unwrap_or_default();
            return Err(Error::InvalidValue {
                model: M::META.label(),
                field: meta.name.to_owned(),
                value: String::from_utf8_lossy(&value).into_owned(),
                reason: "NaN cannot be indexed or sorted",
            });
        }
    }
    Ok(())
}

/// The version an instance has after a successful save: 1 for a new one, else the
/// stored one (which the script checked equals the instance's) plus one.
pub(crate) fn saved_version<M: Model>(obj: &M) -> u64 {
    if obj.pk() == 0 {
        1
    } else {
        obj.version().saturating_add(1)
    }
}

/// Reads the save reply of instances whose ids were `pks` (0 for new): their ids after
/// the save, in order, or the error the script found before writing anything.
pub(crate) fn save_reply<M: Model>(
    reply: Value,
    pks: impl IntoIterator<Item = u64>,
) -> Result<Vec<u64>> {
    let items: Vec<Value> = Vec::from_frame(reply)?;
    let mut items = items.into_iter();
    let mut text = || next_text(&mut items);
    let model = M::META.label();
    let status = text()?;
    let id = |text: String| -> Result<u64> {
        text.parse()
            .map_err(|_| bad_save_reply(format!("id {text:?}")))
    };
    match status.as_str() {
        "ok" => {}
        "unique" => {
            let field = text()?;
            let value = text()?;
            return Err(Error::Unique {
                model,
                field,
                value,
            });
        }
        "missing" => {
            let id = id(text()?)?;
            return Err(Error::DoesNotExist {
                model,
                id: Some(id),
            });
        }
        "conflict" => {
            let id = id(text()?)?;
            return Err(Error::Conflict { model, id });
        }
        "exhausted" => return Err(Error::IdsExhausted { model }),
        "corrupt" => return Err(corrupt::<M>(&mut items)?),
        "badarg" => {
            let what = text()?;
            let value = text()?;
            return Err(bad_save_reply(format!(
                "the script refused the {what} {value:?}"
            )));
        }
        other => return Err(bad_save_reply(format!("status {other:?}"))),
    }
    // New instances took consecutive ids from `first`, in batch order; ids start at 1,
    // so 0 (or nothing) with a new instance in the batch is a broken reply.
    let mut next: u64 = items
        .next()
        .map(u64::from_frame)
        .transpose()?
        .unwrap_or_default();
    pks.into_iter()
        .map(|pk| match (pk, next) {
            (0, 0) => Err(bad_save_reply("no first id for the new instances")),
            (0, id) => {
                next += 1;
                Ok(id)
            }
            (pk, _) => Ok(pk),
        })
        .collect()
}

/// The next item of a script reply as text ("" if there is none).
fn next_text(items: &mut impl Iterator<Item = Value>) -> Result<String> {
    let bytes: Bytes = items
        .next()
        .map(Bytes::from_frame)
        .transpose()?
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A save reply that is none of the documented ones (see `lua/save.lua`).
fn bad_save_reply(got: impl Into<String>) -> Error {
    bad_reply("the save script's reply", got)
}

/// A script's reply that is none of the documented ones: `expected` names it.
pub(crate) fn bad_reply(expected: &'static str, got: impl Into<String>) -> Error {
    Error::Connection(resp_conn::Error::Conversion {
        expected,
        got: got.into(),
        context: None,
    })
}

/// The delete of `objects`, with their values of the indexed fields: the script
/// unindexes an instance from its stored values, and uses the ones sent only for a
/// ghost (its hash is gone), whose values the server no longer has.
pub(crate) fn delete_call<M: Model>(
    keys: &Keys,
    objects: &[&M],
) -> Result<ScriptInvocation<'static>> {
    let mut call = header(delete_script(), keys, &all_fields::<M>());
    let indexed = indexed_fields::<M>();
    for obj in objects {
        call.key(keys.instance(obj.pk()));
        let values: Vec<Option<Vec<u8>>> = indexed
            .iter()
            .map(|&i| obj.field_value(i))
            .collect::<Result<_>>()?;
        call.inv.arg(obj.pk()).arg(presence_mask(&values));
        for value in values.iter().flatten() {
            call.inv.arg(value.as_slice());
        }
    }
    Ok(call.inv)
}

/// Reads the reply of a delete (the delete script, or a query's `delete` output): how
/// many instances existed, or the `{'corrupt', key, reason}` the script returned
/// before writing anything.
pub(crate) fn delete_reply<M: Model>(reply: Value) -> Result<usize> {
    if let Value::Integer(_) = reply {
        return Ok(usize::from_frame(reply)?);
    }
    let items: Vec<Value> = Vec::from_frame(reply)?;
    let mut items = items.into_iter();
    let status = next_text(&mut items)?;
    if status != "corrupt" {
        return Err(bad_reply(
            "the delete script's reply",
            format!("status {status:?}"),
        ));
    }
    Err(corrupt::<M>(&mut items)?)
}

/// The [`Error::Corrupt`] of a script's `{'corrupt', key, reason}` reply, from the
/// items after the status.
pub(crate) fn corrupt<M: Model>(items: &mut impl Iterator<Item = Value>) -> Result<Error> {
    let key = next_text(items)?;
    let reason = next_text(items)?;
    Ok(Error::Corrupt {
        model: M::META.label(),
        key,
        reason,
    })
}

/// Queries limited to at most this many instances load them inside the query script
/// (one round trip); larger ones fetch ids, then hashes in a pipeline.
pub(crate) const INLINE_LOAD: usize = 16;

/// `HGETALL` of each instance, in one pipeline.
pub(crate) fn get_pipeline(keys: &Keys, ids: &[u64]) -> resp_conn::Pipeline {
    let mut pipeline = resp_conn::Pipeline::with_capacity(ids.len());
    for id in ids {
        pipeline.cmd("HGETALL").arg(keys.instance(*id));
    }
    pipeline
}

/// Decodes the replies of [`get_pipeline`], leaving out instances that are gone.
pub(crate) fn decode_fetched<M: Model>(ids: &[u64], replies: Value) -> Result<Vec<M>> {
    let replies: Vec<Value> = Vec::from_frame(replies)?;
    let mut out = Vec::with_capacity(ids.len());
    for (id, fields) in ids.iter().zip(replies) {
        if let Some(m) = decode::<M>(*id, fields)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// `HGETALL` of one instance.
pub(crate) fn get_cmd(keys: &Keys, id: u64) -> Cmd {
    let mut c = cmd("HGETALL");
    c.arg(keys.instance(id));
    c
}

/// Decodes an instance from its hash; `None` if the hash is empty (no such instance).
pub(crate) fn decode<M: Model>(id: u64, fields: Value) -> Result<Option<M>> {
    let map: HashMap<String, Bytes> = HashMap::from_frame(fields)?;
    if map.is_empty() {
        return Ok(None);
    }
    M::from_stored(id, &|name| map.get(name).cloned()).map(Some)
}

/// The O(1) index count that needs no script ([`Db::count_indexed`]): every instance
/// (`ZCARD` of the id set) or one equality filter on a field (`SCARD` of its index
/// set, `HEXISTS` of a unique field's hash). `None` for anything else.
///
/// [`Db::count_indexed`]: crate::Db::count_indexed
pub(crate) fn count_cmd<M: Model>(keys: &Keys, query: &Query<M>) -> Result<Option<Cmd>> {
    Ok(match &query.cond {
        Cond::All => {
            let mut c = cmd("ZCARD");
            c.arg(keys.ids());
            Some(c)
        }
        Cond::Eq(field, value) if *field != M::META.pk => {
            let n = field_number::<M>(field, "filter")?;
            let meta = &M::META.fields[n - 1];
            match meta.index {
                crate::model::IndexKind::None => None, // the script reports the missing index
                crate::model::IndexKind::Unique => {
                    let mut c = cmd("HEXISTS");
                    c.arg(keys.unique(field)).arg(value.as_slice());
                    Some(c)
                }
                crate::model::IndexKind::Index => {
                    let mut c = cmd("SCARD");
                    c.arg(keys.index(field, value));
                    Some(c)
                }
            }
        }
        _ => None,
    })
}

/// What a query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output<'f> {
    /// The ids of live instances.
    Ids,
    /// How many live instances match.
    Count,
    /// The size of the combined index sets, instances whose hash is gone included.
    CountIndexed,
    /// 1 if any live instance matches (in no particular order), else 0.
    Exists,
    /// Every field of each live instance.
    Full,
    /// The named stored fields (not the primary key) of each live instance.
    Load(&'f [&'static str]),
    /// One stored field (not the primary key) of each live instance.
    Values(&'static str),
    /// Delete the matches.
    Delete,
}

/// The invocation that runs `query` with output `out`.
pub(crate) fn query_call<M: Model>(
    keys: &Keys,
    query: &Query<M>,
    out: Output<'_>,
) -> Result<ScriptInvocation<'static>> {
    let mut call = header(query_script(), keys, &all_fields::<M>());
    emit::<M>(&mut call, keys, &query.cond)?;
    let mut inv = call.inv;
    inv.arg("end");
    if let Some((field, order)) = query.sort {
        let how = sort_how::<M>(field)?;
        let number = if how == "id" {
            0
        } else {
            field_number::<M>(field, "sort")?
        };
        inv.arg("sort").arg(how).arg(number);
        inv.arg(if order == Order::Desc { "desc" } else { "asc" });
    }
    inv.arg("slice")
        .arg(query.offset)
        .arg(query.limit.map_or(-1, |l| l as i64));
    inv.arg("out");
    match out {
        Output::Ids => inv.arg("ids"),
        Output::Count => inv.arg("count"),
        Output::CountIndexed => inv.arg("indexed"),
        Output::Exists => inv.arg("exists"),
        Output::Full => inv.arg("full"),
        Output::Delete => inv.arg("delete"),
        Output::Values(field) => inv.arg("values").arg(field_number::<M>(field, "values")?),
        Output::Load(fields) => {
            inv.arg("load").arg(fields.len());
            for f in fields {
                inv.arg(field_number::<M>(f, "load")?);
            }
            &mut inv
        }
    };
    Ok(inv)
}

/// How the script orders by `field`: `id` and `score` read a sorted set (the id set,
/// or an indexed number's, which holds every instance only if the field cannot be
/// empty); `number` and `alpha` sort the stored values inside the script.
fn sort_how<M: Model>(field: &str) -> Result<&'static str> {
    use crate::field::FieldKind;
    if field == M::META.pk {
        return Ok("id");
    }
    let meta = M::META.field(field).ok_or_else(|| Error::InvalidQuery {
        model: M::META.label(),
        field: field.to_owned(),
        operation: "sort",
        reason: "the model has no such stored field".into(),
    })?;
    Ok(match meta.kind {
        FieldKind::Number if meta.is_indexed() && !meta.nullable => "score",
        FieldKind::Number => "number",
        FieldKind::Text | FieldKind::Other => "alpha",
    })
}

/// Writes a condition as postfix program steps.
fn emit<M: Model>(call: &mut Call, keys: &Keys, cond: &Cond) -> Result<()> {
    // The primary key is field 0: the script answers it from the id set.
    let indexed = |name: &str| -> Result<usize> {
        if name == M::META.pk {
            return Ok(0);
        }
        let n = field_number::<M>(name, "filter")?;
        if !M::META.fields[n - 1].is_indexed() {
            return Err(Error::InvalidQuery {
                model: M::META.label(),
                field: name.to_owned(),
                operation: "filter",
                reason: "the field has no index (add #[model(index)])".into(),
            });
        }
        Ok(n)
    };
    match cond {
        Cond::All => {
            call.inv.arg("all");
        }
        Cond::Invalid(field, reason) => {
            return Err(Error::InvalidQuery {
                model: M::META.label(),
                field: (*field).to_owned(),
                operation: "filter",
                reason: (*reason).to_owned(),
            });
        }
        Cond::Eq(field, value) => {
            let n = indexed(field)?;
            let key = index_set::<M>(call, keys, n, value);
            call.inv.arg("eq").arg(n).arg(value.as_slice()).arg(key);
        }
        Cond::In(field, values) => {
            let n = indexed(field)?;
            let positions: Vec<usize> = values
                .iter()
                .map(|v| index_set::<M>(call, keys, n, v))
                .collect();
            call.inv.arg("in").arg(n).arg(values.len());
            for (v, key) in values.iter().zip(positions) {
                call.inv.arg(v.as_slice()).arg(key);
            }
        }
        Cond::Range(field, min, max) => {
            call.inv
                .arg("range")
                .arg(indexed(field)?)
                .arg(min.as_str())
                .arg(max.as_str());
        }
        Cond::Prefix(field, prefix) => {
            call.inv
                .arg("prefix")
                .arg(indexed(field)?)
                .arg(prefix.as_slice());
        }
        Cond::And(items) | Cond::Or(items) => {
            for item in items {
                emit::<M>(call, keys, item)?;
            }
            let op = if matches!(cond, Cond::And(_)) {
                "and"
            } else {
                "or"
            };
            call.inv.arg(op).arg(items.len());
        }
        Cond::Diff(a, b) => {
            emit::<M>(call, keys, a)?;
            emit::<M>(call, keys, b)?;
            call.inv.arg("diff");
        }
    }
    Ok(())
}

/// Declares the index set of field `n` (1-based) = `value` and returns its position
/// in `KEYS`; 0 for the primary key (field 0) and a unique field, whose equality
/// lookups use the id set and the unique hash.
fn index_set<M: Model>(call: &mut Call, keys: &Keys, n: usize, value: &[u8]) -> usize {
    match n.checked_sub(1).map(|i| &M::META.fields[i]) {
        Some(meta) if meta.index != crate::model::IndexKind::Unique => {
            call.key(keys.index(meta.name, value))
        }
        _ => 0,
    }
}

/// Decodes a `load` reply into instances.
pub(crate) fn decode_loaded<M: Model>(reply: Value) -> Result<Vec<M>> {
    let rows: Vec<(u64, Value)> = Vec::from_frame(reply)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, fields) in rows {
        // The script leaves out ids whose hash is gone, so an empty hash here means a
        // broken reply: report it rather than make up an instance.
        match decode::<M>(id, fields)? {
            Some(m) => out.push(m),
            None => {
                return Err(Error::Decode {
                    model: M::META.label(),
                    id,
                    field: M::META.pk.to_owned(),
                    reason: "indexed but has no hash".into(),
                });
            }
        }
    }
    Ok(out)
}

/// A row of chosen fields, from [`Db::load_only`](crate::Db::load_only).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The instance's id.
    pub id: u64,
    fields: HashMap<String, Bytes>,
}

impl Row {
    /// The value of one loaded field, decoded as the column's type. The primary-key
    /// column is always there, loaded or not.
    pub fn get<M: Model, T: crate::field::Field, I>(
        &self,
        column: crate::model::Column<M, T, I>,
    ) -> Result<T> {
        let id;
        let stored = if column.name() == M::META.pk {
            id = self.id.to_string();
            Some(id.as_bytes())
        } else {
            self.fields.get(column.name()).map(|b| &b[..])
        };
        T::from_stored(stored).map_err(|reason| Error::Decode {
            model: M::META.label(),
            id: self.id,
            field: column.name().to_owned(),
            reason,
        })
    }

    /// The stored bytes of a field, if it was loaded and has a value (the primary key
    /// as decimal text, if it was named).
    pub fn raw(&self, field: &str) -> Option<&Bytes> {
        self.fields.get(field)
    }
}

/// Decodes a `load` reply of chosen fields into rows; `pk` names the primary key when
/// it was asked for, so that [`Row::raw`] has it too.
pub(crate) fn decode_rows(reply: Value, pk: Option<&str>) -> Result<Vec<Row>> {
    let rows: Vec<(u64, HashMap<String, Bytes>)> = Vec::from_frame(reply)?;
    Ok(rows
        .into_iter()
        .map(|(id, mut fields)| {
            if let Some(pk) = pk {
                fields.insert(pk.to_owned(), Bytes::from(id.to_string()));
            }
            Row { id, fields }
        })
        .collect())
}

/// Turns an error reply into an error.
pub(crate) fn check(reply: Value) -> Result<Value> {
    if reply.is_error() {
        // Converting an error frame yields the server error.
        <()>::from_frame(reply.clone())?;
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate as stdnet_orm;
    use bytes::Bytes;
    use resp_parser::GenericFrame;

    #[derive(stdnet_orm::Model)]
    #[model(app = "t", name = "thing")]
    struct Thing {
        id: u64,
        #[model(unique)]
        name: String,
    }

    fn reply(items: Vec<Value>) -> Value {
        GenericFrame::Array(items)
    }

    fn text(s: &'static str) -> Value {
        GenericFrame::BulkString(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn new_instances_take_consecutive_ids_from_the_first_and_saved_ones_keep_theirs() {
        let ok = reply(vec![text("ok"), GenericFrame::Integer(5)]);
        assert_eq!(save_reply::<Thing>(ok, [0, 9, 0, 0]).unwrap(), [5, 9, 6, 7]);
        let none_new = reply(vec![text("ok"), GenericFrame::Integer(0)]);
        assert_eq!(save_reply::<Thing>(none_new, [3, 4]).unwrap(), [3, 4]);
    }

    #[test]
    fn a_save_reply_that_does_not_fit_is_an_error_not_made_up_ids() {
        for broken in [
            reply(vec![text("ok")]),
            reply(vec![text("ok"), GenericFrame::Integer(0)]),
            reply(vec![text("maybe"), GenericFrame::Integer(1)]),
            reply(vec![]),
        ] {
            let got = save_reply::<Thing>(broken.clone(), [0]);
            assert!(
                matches!(
                    got,
                    Err(Error::Connection(resp_conn::Error::Conversion { .. }))
                ),
                "{broken:?}: {got:?}"
            );
        }
        let clash = reply(vec![text("unique"), text("name"), text("ann")]);
        assert!(matches!(
            save_reply::<Thing>(clash, [0]),
            Err(Error::Unique { ref field, ref value, .. }) if field == "name" && value == "ann"
        ));
    }
}
