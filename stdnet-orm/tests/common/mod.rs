//! Models and helpers shared by the ORM's integration tests.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use resp_conn::{Connection, cmd};
use serde::{Deserialize, Serialize};
use stdnet_orm::keys::Keys;
use stdnet_orm::{Error, FieldEnum, IndexKind, Model, Timestamp};
use stdnet_test_support::RedisServer;

/// A `Db` on a private server, with every model under `namespace`.
pub fn db_in(server: &RedisServer, namespace: &str) -> stdnet_orm::Db {
    stdnet_orm::Db::open(format!("{}/0?namespace={namespace}", server.url())).unwrap()
}

/// A plain connection to a private server, for looking at (or damaging) its keys.
pub fn raw(server: &RedisServer) -> Connection {
    Connection::open(server.url()).unwrap()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prefs {
    pub theme: String,
    pub emails: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, FieldEnum)]
pub enum Role {
    Admin,
    Member,
    Guest,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "auth", name = "user", validate = check_user)]
pub struct User {
    pub id: u64,
    #[model(unique, prefix)]
    pub username: String,
    #[model(index)]
    pub country: String,
    #[model(index)]
    pub age: u32,
    pub score: f64,
    pub bio: Option<String>,
    pub joined: Timestamp,
    #[model(json)]
    pub prefs: Prefs,
    #[model(index)]
    pub role: Role,
}

pub fn check_user(user: &User) -> Result<(), Error> {
    if user.username.is_empty() {
        return Err(Error::validation("username", "must not be empty"));
    }
    Ok(())
}

pub fn user(username: &str, country: &str, age: u32) -> User {
    User {
        id: 0,
        username: username.into(),
        country: country.into(),
        age,
        score: f64::from(age) / 10.0,
        bio: None,
        joined: "2024-05-17T10:00:00Z".parse().unwrap(),
        prefs: Prefs {
            theme: "dark".into(),
            emails: age % 2 == 0,
        },
        role: Role::Member,
    }
}

/// Every key of the server with its contents: equal snapshots mean nothing changed.
/// Hashes and sets are compared by their sorted members, as the `DUMP` of a hash or
/// set in a hash table lists them in an order that changes without any write (a read
/// may move the table's incremental rehashing on); other keys by their `DUMP`.
pub fn snapshot(con: &mut Connection) -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let names: Vec<Vec<u8>> = con.query(cmd("KEYS").arg("*")).unwrap();
    names
        .into_iter()
        .map(|k| {
            let kind: String = con.query(cmd("TYPE").arg(k.as_slice())).unwrap();
            let mut contents: Vec<Vec<u8>> = match kind.as_str() {
                "hash" => {
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                        con.query(cmd("HGETALL").arg(k.as_slice())).unwrap();
                    pairs
                        .into_iter()
                        .map(|(f, mut v)| {
                            let mut entry = f;
                            entry.push(0);
                            entry.append(&mut v);
                            entry
                        })
                        .collect()
                }
                "set" => con.query(cmd("SMEMBERS").arg(k.as_slice())).unwrap(),
                _ => vec![con.query(cmd("DUMP").arg(k.as_slice())).unwrap()],
            };
            contents.sort();
            contents.insert(0, kind.into_bytes());
            (k, contents)
        })
        .collect()
}

/// Runs a command that must succeed.
pub fn run(con: &mut Connection, c: &mut resp_conn::Cmd) {
    let reply = con.query::<resp_conn::Value>(c).unwrap();
    assert!(!reply.is_error(), "{reply:?}");
}

/// Every key of the model `M` in the namespace, by SCAN.
pub fn model_keys<M: Model>(con: &mut Connection, namespace: &str) -> BTreeSet<String> {
    let keys = Keys::new(namespace, &M::META);
    let mut cursor = 0u64;
    let mut found = BTreeSet::new();
    loop {
        let (next, batch): (u64, Vec<String>) = con
            .query(
                cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(keys.pattern())
                    .arg("COUNT")
                    .arg(1000),
            )
            .unwrap();
        found.extend(batch);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// Compares every index of `M` with what the hashes say it should hold; returns the
/// differences (empty when consistent).
pub fn index_problems<M: Model>(con: &mut Connection, namespace: &str) -> Vec<String> {
    let keys = Keys::new(namespace, &M::META);
    let ids: Vec<u64> = con
        .query(cmd("ZRANGE").arg(keys.ids()).arg(0).arg(-1))
        .unwrap();
    let mut problems = Vec::new();
    let mut expected_sets: BTreeMap<Vec<u8>, BTreeSet<u64>> = BTreeMap::new();
    let mut expected_num: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
    let mut expected_lex: BTreeMap<String, BTreeSet<Vec<u8>>> = BTreeMap::new();
    let mut expected_uni: BTreeMap<String, BTreeMap<Vec<u8>, u64>> = BTreeMap::new();
    for &id in &ids {
        let hash: BTreeMap<String, Vec<u8>> =
            con.query(cmd("HGETALL").arg(keys.instance(id))).unwrap();
        if hash.is_empty() {
            problems.push(format!("id {id} listed but has no hash"));
        }
        let decoded = M::from_stored(id, &|name| {
            hash.get(name).map(|v| bytes::Bytes::copy_from_slice(v))
        })
        .ok();
        for f in M::META.fields.iter().filter(|f| f.is_indexed()) {
            let Some(value) = hash.get(f.name) else {
                continue;
            };
            // A unique field's equality index is its value -> id hash; other indexed
            // fields have one set per value.
            if f.index == IndexKind::Unique {
                expected_uni
                    .entry(f.name.into())
                    .or_default()
                    .insert(value.clone(), id);
            } else {
                expected_sets
                    .entry(keys.index(f.name, value))
                    .or_default()
                    .insert(id);
            }
            match f.kind {
                stdnet_orm::FieldKind::Number => {
                    // The score the save writes: the model's own (dates count days or
                    // seconds), or the stored text read as a number if the hash does
                    // not decode.
                    let at = M::META
                        .fields
                        .iter()
                        .position(|g| g.name == f.name)
                        .unwrap();
                    let score: f64 = decoded
                        .as_ref()
                        .and_then(|m| m.field_score(at))
                        .or_else(|| std::str::from_utf8(value).ok().and_then(|t| t.parse().ok()))
                        .unwrap_or(f64::NAN);
                    if !score.is_nan() {
                        expected_num
                            .entry(f.name.into())
                            .or_default()
                            .insert(id, score);
                    }
                }
                stdnet_orm::FieldKind::Text if f.prefix => {
                    let mut member = value.clone();
                    member.push(0);
                    member.extend_from_slice(id.to_string().as_bytes());
                    expected_lex
                        .entry(f.name.into())
                        .or_default()
                        .insert(member);
                }
                _ => {}
            }
        }
    }
    let all = model_keys::<M>(con, namespace);
    let idx_prefix = format!("{}:idx:", keys.prefix());
    for key in all.iter().filter(|k| k.starts_with(&idx_prefix)) {
        let members: BTreeSet<u64> = con.query(cmd("SMEMBERS").arg(key)).unwrap();
        let expected = expected_sets.remove(key.as_bytes()).unwrap_or_default();
        if members != expected {
            problems.push(format!("{key}: has {members:?}, hashes say {expected:?}"));
        }
    }
    for (key, ids) in expected_sets {
        problems.push(format!(
            "{} missing, should hold {ids:?}",
            String::from_utf8_lossy(&key)
        ));
    }
    for f in M::META.fields.iter().filter(|f| f.is_indexed()) {
        if f.kind == stdnet_orm::FieldKind::Number {
            let actual: Vec<(u64, f64)> = con
                .query(
                    cmd("ZRANGE")
                        .arg(keys.numeric(f.name))
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES"),
                )
                .unwrap();
            let actual: BTreeMap<u64, f64> = actual.into_iter().collect();
            let expected = expected_num.remove(f.name).unwrap_or_default();
            if actual != expected {
                problems.push(format!(
                    "{}: {actual:?} vs {expected:?}",
                    keys.numeric(f.name)
                ));
            }
        }
        // A text field without `prefix` must have no lexicographic set at all.
        if f.kind == stdnet_orm::FieldKind::Text {
            let actual: BTreeSet<Vec<u8>> = con
                .query(cmd("ZRANGE").arg(keys.lex(f.name)).arg(0).arg(-1))
                .unwrap();
            let expected = expected_lex.remove(f.name).unwrap_or_default();
            if actual != expected {
                problems.push(format!(
                    "{}: {} members vs {} expected",
                    keys.lex(f.name),
                    actual.len(),
                    expected.len()
                ));
            }
        }
        if f.index == IndexKind::Unique {
            let actual: BTreeMap<Vec<u8>, u64> =
                con.query(cmd("HGETALL").arg(keys.unique(f.name))).unwrap();
            let expected = expected_uni.remove(f.name).unwrap_or_default();
            if actual != expected {
                problems.push(format!(
                    "{}: {actual:?} vs {expected:?}",
                    keys.unique(f.name)
                ));
            }
        }
    }
    let tmp_prefix = format!("{}:tmp:", keys.prefix());
    for key in all.iter().filter(|k| k.starts_with(&tmp_prefix)) {
        problems.push(format!("temporary key left behind: {key}"));
    }
    problems
}
