//! [`Db::repair`](crate::Db::repair): rebuilds a model's indexes from its hashes, in
//! bounded steps, and reports what it fixed.
//!
//! # What it fixes
//!
//! The hashes are the truth; every index entry is checked against them:
//!
//! - an id listed in the id set whose hash is gone (a *ghost*: deleted, evicted or
//!   expired outside the ORM) leaves the id set, and every index entry of it goes;
//! - an entry that disagrees with its instance's hash (a value it no longer holds,
//!   a wrong score, a member that is not an id) is removed;
//! - every entry a hash calls for and the index lacks is added, the hash's id
//!   included (and the id counter moved past it, so that no later insert takes it):
//!   this is also how an index declared on a field with saved data
//!   (`#[model(index)]` added later) gets filled;
//! - each unique hash is rebuilt: a value whose entry names an instance that does
//!   not hold it is given to the one that does; two live instances holding one
//!   unique value are a [`Clash`], reported and left as they are (the entry stays
//!   with the instance it names, or the first one met) for the caller to resolve.
//!
//! Index keys of indexes the model no longer declares are not looked at. An
//! instance whose hash cannot be decoded as the model is listed in
//! [`RepairReport::undecodable`] and gets no new entries (its numeric scores cannot
//! be computed), though entries it disowns are still removed.
//!
//! # Cost and concurrency
//!
//! Repair never runs one long script. It SCANs the model's keys (`{B}:*`, COUNT
//! 1000 per call), reads hashes 256 at a time in one pipeline, and walks each index
//! with SSCAN/ZSCAN/HSCAN (COUNT 1000); each batch is checked and fixed by one
//! script call, whose work is bounded by the batch. Redis is blocked for one batch
//! at a time, never for the model. The total cost is one pass over the database's
//! keyspace (SCAN visits every key to match the pattern) plus a few commands per
//! instance and per index entry, in about `(instances + entries) / 256` round trips.
//!
//! Writers may run meanwhile. Every fix is decided inside its script against the
//! hashes as they are at that moment: an entry is removed only if its hash does not
//! hold it then, and an instance's entries are added only if its hash still holds
//! the values the client read (otherwise a writer changed it since, and indexed it
//! itself: it is counted in [`RepairReport::changed_meanwhile`] and left alone). So
//! repair never breaks an instance that the ORM keeps consistent, and every
//! inconsistency that exists when it starts and that nothing touches during the run
//! is fixed (SCAN returns every key that exists for the whole scan). Damage done
//! from outside the ORM while it runs may or may not be seen. A step that fails
//! (say, a key of the wrong type at an index key's name, which is reported before
//! the step writes anything) stops the repair with the fixes of the earlier steps
//! kept; each is correct on its own, so running repair again continues.

use std::marker::PhantomData;

use bytes::Bytes;
use resp_conn::{Cmd, FromFrame, Pipeline, ScriptInvocation, Value, cmd};

use crate::error::Result;
use crate::keys::Keys;
use crate::model::Model;
use crate::ops;

/// What [`Db::repair`](crate::Db::repair) found and fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepairReport {
    /// Instance hashes checked.
    pub hashes: u64,
    /// Ids removed from the id set because their hash is gone.
    pub ghosts_removed: u64,
    /// Ids of hashes that were missing from the id set, added.
    pub ids_added: u64,
    /// True if a hash's id was above the id counter, which was moved up to it.
    pub counter_raised: bool,
    /// Per indexed field, in declaration order: entries added and removed.
    pub fields: Vec<FieldRepair>,
    /// Unique values held by two live instances.
    pub clashes: Vec<Clash>,
    /// Instances a writer changed between repair's read and its fix; the writer
    /// indexed them, so repair left them alone.
    pub changed_meanwhile: u64,
    /// Ids whose hash cannot be decoded as the model: given no new entries.
    pub undecodable: Vec<u64>,
}

/// The entries of one indexed field that repair added and removed.
///
/// One entry is one member of an equality set, of the numeric or prefix sorted set,
/// or one value of the unique hash. An entry corrected in place (a wrong numeric
/// score, a unique value given to the instance that holds it) counts as one removed
/// and one added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldRepair {
    /// The field.
    pub field: &'static str,
    /// Entries added.
    pub added: u64,
    /// Entries removed.
    pub removed: u64,
}

/// Two live instances holding one value of a unique field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Clash {
    /// The unique field.
    pub field: &'static str,
    /// The value both hold.
    pub value: Bytes,
    /// The instance the unique hash gives the value to.
    pub owner: u64,
    /// The other instance holding it.
    pub other: u64,
}

impl RepairReport {
    /// The counts of one field; `None` if it has no index.
    pub fn field(&self, name: &str) -> Option<&FieldRepair> {
        self.fields.iter().find(|f| f.field == name)
    }

    /// True if repair found nothing to fix or report.
    pub fn is_clean(&self) -> bool {
        self.ghosts_removed == 0
            && self.ids_added == 0
            && !self.counter_raised
            && self.fields.iter().all(|f| f.added == 0 && f.removed == 0)
            && self.clashes.is_empty()
            && self.changed_meanwhile == 0
            && self.undecodable.is_empty()
    }
}

/// Hashes read and fixed per step.
const HASH_BATCH: usize = 256;
/// The COUNT hint of each SCAN-family call.
const SCAN_COUNT: usize = 1000;

/// One index structure walked with a SCAN-family command.
#[derive(Debug, Clone)]
enum Members {
    /// The id set.
    Ids,
    /// The numeric sorted set of field `.0` (a 0-based field number).
    Num(usize),
    /// The prefix sorted set of a field.
    Lex(usize),
    /// The unique hash of a field.
    Uni(usize),
    /// An equality set: its field, key and value.
    Idx(usize, Vec<u8>, Bytes),
}

/// A step to take.
enum Step {
    /// SCAN the model's keys from a cursor.
    Keys(Bytes),
    /// Read these hashes.
    Fetch(Vec<u64>),
    /// Run a fix.
    Fix(ScriptInvocation<'static>),
    /// Walk an index from a cursor.
    Walk(Members, Bytes),
}

/// What the reply being awaited answers.
enum Awaiting {
    Keys,
    Fetch(Vec<u64>),
    Fix,
    Walk(Members),
}

/// A request for the front to send.
pub(crate) enum Request {
    /// A plain command.
    Command(Cmd),
    /// A pipeline; its reply is the array of replies.
    Pipeline(Pipeline),
    /// A script call.
    Script(ScriptInvocation<'static>),
}

/// The repair of model `M`, driven by a front: it asks for requests with
/// [`next_request`](Repair::next_request) and hands back each reply with
/// [`feed`](Repair::feed), so that the sync and async fronts share every step.
pub(crate) struct Repair<M> {
    keys: Keys,
    todo: Vec<Step>,
    awaiting: Option<Awaiting>,
    report: RepairReport,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Repair<M> {
    pub(crate) fn new(keys: Keys) -> Repair<M> {
        let zero = || Bytes::from_static(b"0");
        // A stack: the keyspace scan first (hashes, equality sets), then the fixed
        // index keys.
        let mut todo = Vec::new();
        for (i, f) in M::META.fields.iter().enumerate().rev() {
            let flags = f.script_flags();
            if flags.contains('u') {
                todo.push(Step::Walk(Members::Uni(i), zero()));
            }
            if flags.contains('t') {
                todo.push(Step::Walk(Members::Lex(i), zero()));
            }
            if flags.contains('n') {
                todo.push(Step::Walk(Members::Num(i), zero()));
            }
        }
        todo.push(Step::Walk(Members::Ids, zero()));
        todo.push(Step::Keys(zero()));
        let fields = M::META
            .fields
            .iter()
            .filter(|f| f.is_indexed())
            .map(|f| FieldRepair {
                field: f.name,
                added: 0,
                removed: 0,
            })
            .collect();
        Repair {
            keys,
            todo,
            awaiting: None,
            report: RepairReport {
                fields,
                ..RepairReport::default()
            },
            _model: PhantomData,
        }
    }

    /// The next request to send, or `None` when the repair is done.
    pub(crate) fn next_request(&mut self) -> Option<Request> {
        let (request, awaiting) = match self.todo.pop()? {
            Step::Keys(cursor) => {
                let mut c = cmd("SCAN");
                c.arg(cursor)
                    .arg("MATCH")
                    .arg(self.keys.pattern())
                    .arg("COUNT")
                    .arg(SCAN_COUNT);
                (Request::Command(c), Awaiting::Keys)
            }
            Step::Fetch(ids) => (
                Request::Pipeline(ops::get_pipeline(&self.keys, &ids)),
                Awaiting::Fetch(ids),
            ),
            Step::Fix(inv) => (Request::Script(inv), Awaiting::Fix),
            Step::Walk(members, cursor) => {
                let (command, key): (&str, Vec<u8>) = match &members {
                    Members::Ids => ("ZSCAN", self.keys.ids().into_bytes()),
                    Members::Num(i) => ("ZSCAN", self.keys.numeric(name::<M>(*i)).into_bytes()),
                    Members::Lex(i) => ("ZSCAN", self.keys.lex(name::<M>(*i)).into_bytes()),
                    Members::Uni(i) => ("HSCAN", self.keys.unique(name::<M>(*i)).into_bytes()),
                    Members::Idx(_, key, _) => ("SSCAN", key.clone()),
                };
                let mut c = cmd(command);
                c.arg(key).arg(cursor).arg("COUNT").arg(SCAN_COUNT);
                (Request::Command(c), Awaiting::Walk(members))
            }
        };
        self.awaiting = Some(awaiting);
        Some(request)
    }

    /// Takes the reply to the last request.
    pub(crate) fn feed(&mut self, reply: Value) -> Result<()> {
        match self.awaiting.take() {
            None => Ok(()),
            Some(Awaiting::Keys) => {
                let (cursor, found): (Bytes, Vec<Bytes>) = FromFrame::from_frame(reply)?;
                self.found_keys(cursor, found);
                Ok(())
            }
            Some(Awaiting::Fetch(ids)) => self.fetched(&ids, reply),
            Some(Awaiting::Fix) => self.fixed(reply),
            Some(Awaiting::Walk(members)) => {
                let (cursor, items): (Bytes, Vec<Bytes>) = FromFrame::from_frame(reply)?;
                if &cursor[..] != b"0" {
                    self.todo.push(Step::Walk(members.clone(), cursor));
                }
                if !items.is_empty() {
                    let fix = self.walk_fix(&members, &items);
                    self.todo.push(Step::Fix(fix));
                }
                Ok(())
            }
        }
    }

    /// The report, once [`next_request`](Repair::next_request) returned `None`.
    pub(crate) fn into_report(self) -> RepairReport {
        self.report
    }

    /// Sorts a SCAN batch: instance hashes to read, equality sets to walk.
    fn found_keys(&mut self, cursor: Bytes, found: Vec<Bytes>) {
        if &cursor[..] != b"0" {
            self.todo.push(Step::Keys(cursor));
        }
        let obj = format!("{}:obj:", self.keys.prefix());
        let idx = format!("{}:idx:", self.keys.prefix());
        let mut ids = Vec::new();
        for key in found {
            if let Some(id) = key.strip_prefix(obj.as_bytes()).and_then(canonical_id) {
                ids.push(id);
            } else if let Some(rest) = key.strip_prefix(idx.as_bytes()) {
                // Field names are identifiers: the first ':' ends the name.
                let Some(colon) = rest.iter().position(|&b| b == b':') else {
                    continue;
                };
                let field = M::META.fields.iter().position(|f| {
                    f.name.as_bytes() == &rest[..colon] && f.script_flags().contains('i')
                });
                if let Some(i) = field {
                    let value = key.slice(key.len() - rest.len() + colon + 1..);
                    let walk = Members::Idx(i, key.to_vec(), value);
                    self.todo.push(Step::Walk(walk, Bytes::from_static(b"0")));
                }
            }
        }
        for chunk in ids.chunks(HASH_BATCH) {
            self.todo.push(Step::Fetch(chunk.to_vec()));
        }
    }

    /// Decodes read hashes and queues the fix that indexes them.
    fn fetched(&mut self, ids: &[u64], reply: Value) -> Result<()> {
        let replies: Vec<Value> = FromFrame::from_frame(reply)?;
        let mut call = ops::header(ops::repair_script(), &self.keys, &ops::all_fields::<M>());
        let indexed = ops::indexed_fields::<M>();
        let mut batch: Vec<(u64, Vec<Option<Bytes>>, M)> = Vec::with_capacity(ids.len());
        for (&id, fields) in ids.iter().zip(replies) {
            // A key that is not a hash answers with an error: not an instance.
            let Ok(map) = std::collections::HashMap::<String, Bytes>::from_frame(fields) else {
                self.report.undecodable.push(id);
                continue;
            };
            if map.is_empty() {
                // Deleted since the SCAN, by a writer that unindexed it.
                self.report.changed_meanwhile += 1;
                continue;
            }
            self.report.hashes += 1;
            match M::from_stored(id, &|name| map.get(name).cloned()) {
                Ok(obj) => {
                    let raw = indexed
                        .iter()
                        .map(|&i| map.get(M::META.fields[i].name).cloned())
                        .collect();
                    batch.push((id, raw, obj));
                }
                Err(_) => self.report.undecodable.push(id),
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let hashes: Vec<usize> = batch
            .iter()
            .map(|(id, _, _)| call.key(self.keys.instance(*id)))
            .collect();
        call.inv.arg("hashes").arg(batch.len());
        for ((id, raw, obj), hash) in batch.iter().zip(hashes) {
            call.inv.arg(*id).arg(hash).arg(ops::presence_mask(raw));
            for (&i, value) in indexed.iter().zip(raw) {
                let Some(value) = value else { continue };
                let meta = &M::META.fields[i];
                let flags = meta.script_flags();
                call.inv.arg(value);
                if flags.contains('n') {
                    // The score the save would write, from the stored value (read
                    // back through the model); none for NaN, which no sorted set holds.
                    match obj.field_score(i).filter(|s| !s.is_nan()) {
                        Some(score) => call.inv.arg(score),
                        None => call.inv.arg(""),
                    };
                }
                if flags.contains('i') {
                    let set = call.key(self.keys.index(meta.name, value));
                    call.inv.arg(set);
                }
            }
        }
        self.todo.push(Step::Fix(call.inv));
        Ok(())
    }

    /// The fix of one walked batch of index entries.
    fn walk_fix(&self, members: &Members, items: &[Bytes]) -> ScriptInvocation<'static> {
        let mut call = ops::header(ops::repair_script(), &self.keys, &ops::all_fields::<M>());
        // Declares the hash of a member that is an id; 0 for one that is not.
        let keys = &self.keys;
        let hash_of = |call: &mut ops::Call, id: &[u8]| {
            canonical_id(id).map_or(0, |id| call.key(keys.instance(id)))
        };
        match members {
            Members::Ids | Members::Num(_) => {
                let (mode, field) = match members {
                    Members::Num(i) => ("num", Some(*i + 1)),
                    _ => ("ids", None),
                };
                // ZSCAN: member, score pairs.
                let ids: Vec<&Bytes> = items.iter().step_by(2).collect();
                let hashes: Vec<usize> = ids.iter().map(|id| hash_of(&mut call, id)).collect();
                call.inv.arg(mode);
                if let Some(field) = field {
                    call.inv.arg(field);
                }
                call.inv.arg(ids.len());
                for (id, hash) in ids.iter().zip(hashes) {
                    call.inv.arg(*id).arg(hash);
                }
            }
            Members::Lex(i) => {
                let found: Vec<&Bytes> = items.iter().step_by(2).collect();
                let hashes: Vec<usize> = found
                    .iter()
                    .map(|m| {
                        let at = m.iter().rposition(|&b| b == 0);
                        at.map_or(0, |at| hash_of(&mut call, &m[at + 1..]))
                    })
                    .collect();
                call.inv.arg("lex").arg(*i + 1).arg(found.len());
                for (m, hash) in found.iter().zip(hashes) {
                    call.inv.arg(*m).arg(hash);
                }
            }
            Members::Uni(i) => {
                // HSCAN: value, id pairs.
                let entries: Vec<(&Bytes, &Bytes)> = items
                    .chunks_exact(2)
                    .map(|pair| (&pair[0], &pair[1]))
                    .collect();
                let hashes: Vec<usize> = entries
                    .iter()
                    .map(|(_, id)| hash_of(&mut call, id))
                    .collect();
                call.inv.arg("uni").arg(*i + 1).arg(entries.len());
                for ((value, id), hash) in entries.iter().zip(hashes) {
                    call.inv.arg(*value).arg(*id).arg(hash);
                }
            }
            Members::Idx(i, key, value) => {
                let set = call.key(key.as_slice());
                let hashes: Vec<usize> = items.iter().map(|id| hash_of(&mut call, id)).collect();
                call.inv
                    .arg("idx")
                    .arg(*i + 1)
                    .arg(set)
                    .arg(value)
                    .arg(items.len());
                for (id, hash) in items.iter().zip(hashes) {
                    call.inv.arg(id).arg(hash);
                }
            }
        }
        call.inv
    }

    /// Adds a fix's counts to the report.
    fn fixed(&mut self, reply: Value) -> Result<()> {
        let (ghosts, ids_added, raised, changed, added, removed, clashes): (
            u64,
            u64,
            u64,
            u64,
            Vec<u64>,
            Vec<u64>,
            Vec<Bytes>,
        ) = FromFrame::from_frame(reply)?;
        let r = &mut self.report;
        r.ghosts_removed += ghosts;
        r.ids_added += ids_added;
        r.counter_raised |= raised != 0;
        r.changed_meanwhile += changed;
        // The script counts per field of the header; the report has indexed ones.
        let mut slot = 0;
        for (i, f) in M::META.fields.iter().enumerate() {
            if f.is_indexed() {
                r.fields[slot].added += added.get(i).copied().unwrap_or(0);
                r.fields[slot].removed += removed.get(i).copied().unwrap_or(0);
                slot += 1;
            }
        }
        for c in clashes.chunks_exact(4) {
            let field = std::str::from_utf8(&c[0])
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| M::META.fields.get(n.wrapping_sub(1)));
            if let Some(field) = field {
                r.clashes.push(Clash {
                    field: field.name,
                    value: c[1].clone(),
                    owner: canonical_id(&c[2]).unwrap_or(0),
                    other: canonical_id(&c[3]).unwrap_or(0),
                });
            }
        }
        Ok(())
    }
}

fn name<M: Model>(i: usize) -> &'static str {
    M::META.fields[i].name
}

/// The id written in `text`, if it is an id as the ORM writes it (decimal, no sign,
/// no leading zero, not 0): anything else in an index is not an instance's entry.
fn canonical_id(text: &[u8]) -> Option<u64> {
    let id: u64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    (id != 0 && id.to_string().as_bytes() == text).then_some(id)
}
