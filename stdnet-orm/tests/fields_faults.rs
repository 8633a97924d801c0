//! Field values that used to be stored wrongly or silently lost, and keys that two
//! models could share: one test per rule, against a private redis-server.

mod common;
use common::raw;

use std::collections::{BTreeMap, HashMap};

use common::{index_problems, model_keys};
use resp_conn::{Connection, cmd};
use serde::{Deserialize, Serialize};
use stdnet_orm::keys::Keys;
use stdnet_orm::{Db, Error, FieldKind, IndexKind, Model, ModelMeta, Order};
use stdnet_test_support::RedisServer;

const NS: &str = "faults:";

fn db(server: &RedisServer) -> Db {
    common::db_in(server, NS)
}

fn dbsize(con: &mut Connection) -> u64 {
    con.query(&cmd("DBSIZE")).unwrap()
}

fn stored_hash<M: Model>(
    con: &mut Connection,
    namespace: &str,
    id: u64,
) -> BTreeMap<String, String> {
    con.query(cmd("HGETALL").arg(Keys::new(namespace, &M::META).instance(id)))
        .unwrap()
}

// ---- 5: a JSON value that cannot be serialized ----

/// A value whose `Serialize` always fails.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Unwritable;

impl Serialize for Unwritable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be written",
        ))
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "doc")]
struct Doc {
    id: u64,
    #[model(index)]
    tag: String,
    /// Tuple keys: serde_json refuses them ("key must be a string").
    #[model(json)]
    grid: HashMap<(u8, u8), String>,
    #[model(json)]
    extra: Option<Unwritable>,
    /// serde_json writes a NaN as `null`, which does not read back into an `f64`.
    #[model(json)]
    points: Vec<f64>,
}

fn doc(tag: &str) -> Doc {
    Doc {
        id: 0,
        tag: tag.into(),
        grid: HashMap::new(),
        extra: None,
        points: vec![1.5],
    }
}

fn assert_encode_error(got: Result<(), Error>, field: &str, reason: &str) {
    match got {
        Err(Error::Encode {
            model,
            field: f,
            reason: r,
        }) => {
            assert_eq!((model.as_str(), f.as_str()), ("faults.doc", field));
            assert!(r.contains(reason), "reason {r:?} should say {reason:?}");
        }
        other => panic!("expected an encode error on {field}, got {other:?}"),
    }
}

#[test]
fn a_json_value_that_cannot_be_serialized_is_an_error_and_nothing_is_written() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);

    let mut grid = doc("a");
    grid.grid.insert((1, 2), "x".into());
    assert_encode_error(db.save(&mut grid), "grid", "key must be a string");
    assert_eq!(grid.id, 0);

    let mut extra = doc("b");
    extra.extra = Some(Unwritable);
    assert_encode_error(db.save(&mut extra), "extra", "refuses to be written");

    let mut nan = doc("c");
    nan.points = vec![1.0, f64::NAN];
    assert_encode_error(db.save(&mut nan), "points", "does not read back");

    // In a batch, one bad instance stops the whole batch before anything is sent.
    let mut batch = vec![doc("ok1"), grid.clone(), doc("ok2")];
    assert_encode_error(db.save_all(&mut batch), "grid", "key must be a string");
    assert_eq!(dbsize(&mut con), 0, "no key written");

    // A partial update of only the bad field is refused the same way.
    let mut saved = doc("saved");
    db.save(&mut saved).unwrap();
    saved.extra = Some(Unwritable);
    assert_encode_error(db.update(&mut saved, &["extra"]), "extra", "refuses");
    let stored = stored_hash::<Doc>(&mut con, NS, saved.id);
    assert_eq!(stored["extra"], "null", "the saved None is still there");
    assert_eq!(
        db.get::<Doc>(saved.id).unwrap(),
        Doc {
            extra: None,
            ..saved.clone()
        }
    );
    assert!(index_problems::<Doc>(&mut con, NS).is_empty());
}

// ---- 6: defaults are stored, so indexes and range queries see them ----

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "player")]
struct Player {
    id: u64,
    #[model(index, default = "Some(7)")]
    level: Option<u32>,
    #[model(index, default = "Some(\"none\".to_owned())")]
    team: Option<String>,
    #[model(default = "Some(1.5)")]
    handicap: Option<f64>,
    note: Option<String>,
}

#[test]
fn a_default_is_stored_at_save_and_indexed() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut p = Player {
        id: 0,
        level: None,
        team: None,
        handicap: None,
        note: None,
    };
    db.save(&mut p).unwrap();
    let stored = stored_hash::<Player>(&mut con, NS, p.id);
    assert_eq!(stored.get("level").map(String::as_str), Some("7"));
    assert_eq!(stored.get("team").map(String::as_str), Some("none"));
    assert_eq!(stored.get("handicap").map(String::as_str), Some("1.5"));
    assert!(!stored.contains_key("note"), "no default, no value");
    let ids = |db: &mut Db, q| db.ids::<Player>(&q).unwrap();
    assert_eq!(
        ids(&mut db, Player::objects().filter(Player::LEVEL.eq(7))),
        [p.id]
    );
    assert_eq!(
        ids(&mut db, Player::objects().filter(Player::LEVEL.gte(5))),
        [p.id]
    );
    assert_eq!(
        ids(&mut db, Player::objects().filter(Player::TEAM.eq("none"))),
        [p.id]
    );
    let back = db.get::<Player>(p.id).unwrap();
    assert_eq!(
        (back.level, back.team.as_deref(), back.handicap),
        (Some(7), Some("none"), Some(1.5))
    );
    // A partial update of a defaulted field to `None` stores the default too.
    let mut q = back.clone();
    q.level = Some(2);
    db.save(&mut q).unwrap();
    assert_eq!(
        ids(&mut db, Player::objects().filter(Player::LEVEL.eq(2))),
        [p.id]
    );
    q.level = None;
    db.update(&mut q, &["level"]).unwrap();
    assert_eq!(
        ids(&mut db, Player::objects().filter(Player::LEVEL.eq(7))),
        [p.id]
    );
    assert!(ids(&mut db, Player::objects().filter(Player::LEVEL.eq(2))).is_empty());
    assert!(index_problems::<Player>(&mut con, NS).is_empty());
}

// ---- 7 (floats): one stored form per number ----

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "reading")]
struct Reading {
    id: u64,
    #[model(index)]
    value: f64,
    #[model(index)]
    small: f32,
    #[model(unique)]
    code: f64,
    plain: f64,
}

fn reading(value: f64, small: f32, code: f64) -> Reading {
    Reading {
        id: 0,
        value,
        small,
        code,
        plain: value,
    }
}

#[test]
fn minus_zero_is_stored_as_zero_and_found_by_eq_zero() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut r = reading(-0.0, -0.0, -0.0);
    db.save(&mut r).unwrap();
    for q in [
        Reading::objects().filter(Reading::VALUE.eq(0.0)),
        Reading::objects().filter(Reading::VALUE.eq(-0.0)),
        Reading::objects().filter(Reading::SMALL.eq(0.0f32)),
        Reading::objects().filter(Reading::VALUE.between(0.0, 0.0)),
    ] {
        assert_eq!(db.ids(&q).unwrap(), [r.id], "{q:?}");
    }
    let keys = Keys::new(NS, &Reading::META);
    let stored = stored_hash::<Reading>(&mut con, NS, r.id);
    for field in ["value", "small", "code", "plain"] {
        assert_eq!(stored[field], "0", "{field} in the hash");
    }
    let members: Vec<u64> = con
        .query(cmd("SMEMBERS").arg(keys.index("value", b"0")))
        .unwrap();
    assert_eq!(members, [r.id], "the index set of 0");
    let score: String = con
        .query(cmd("ZSCORE").arg(keys.numeric("value")).arg(r.id))
        .unwrap();
    assert_eq!(score, "0");
    assert_eq!(db.get_by(Reading::CODE, 0.0).unwrap().id, r.id);
    // 0.0 and -0.0 are one value of a unique field.
    let clash = db.save(&mut reading(1.0, 1.0, 0.0));
    assert!(matches!(clash, Err(Error::Unique { .. })), "{clash:?}");
    assert!(index_problems::<Reading>(&mut con, NS).is_empty());
}

#[test]
fn f32_scores_are_the_stored_text_read_as_a_number() {
    // A script (or a repair) that reads the hash computes the score from the stored
    // text; the client must compute the same one, and range bounds must agree.
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut r = reading(1.0, 0.1, 1.0);
    db.save(&mut r).unwrap();
    let keys = Keys::new(NS, &Reading::META);
    let stored = stored_hash::<Reading>(&mut con, NS, r.id);
    assert_eq!(stored["small"], "0.1");
    let score: f64 = con
        .query(cmd("ZSCORE").arg(keys.numeric("small")).arg(r.id))
        .unwrap();
    assert_eq!(score, 0.1f64);
    let found = |db: &mut Db, f| db.ids::<Reading>(&Reading::objects().filter(f)).unwrap();
    assert_eq!(found(&mut db, Reading::SMALL.eq(0.1f32)), [r.id]);
    assert_eq!(found(&mut db, Reading::SMALL.lte(0.1f32)), [r.id]);
    assert_eq!(found(&mut db, Reading::SMALL.gte(0.1f32)), [r.id]);
    assert!(found(&mut db, Reading::SMALL.gt(0.1f32)).is_empty());
    assert!(found(&mut db, Reading::SMALL.lt(0.1f32)).is_empty());
    assert_eq!(db.get::<Reading>(r.id).unwrap(), r);
    assert!(index_problems::<Reading>(&mut con, NS).is_empty());
}

#[test]
fn infinities_round_trip_and_nan_is_refused_even_in_a_plain_field() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let up = reading(f64::INFINITY, f32::INFINITY, f64::INFINITY);
    let down = reading(f64::NEG_INFINITY, f32::NEG_INFINITY, f64::NEG_INFINITY);
    let mut mid = reading(1e300, f32::MAX, 1e-300);
    // A NaN cannot be stored in a plain number field either: any field can be sorted
    // by, and no order has a place for it. Nothing of the batch is written.
    mid.plain = f64::NAN;
    let mut batch = vec![up.clone(), down.clone(), mid.clone()];
    assert!(matches!(
        db.save_all(&mut batch),
        Err(stdnet_orm::Error::InvalidValue { ref field, .. }) if field == "plain"
    ));
    assert!(db.ids(&Reading::objects()).unwrap().is_empty());
    mid.plain = 2.5;
    let mut batch = vec![up, down, mid];
    db.save_all(&mut batch).unwrap();
    let all = db.all(&Reading::objects().order_by_id(Order::Asc)).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!((all[0].value, all[0].small), (f64::INFINITY, f32::INFINITY));
    assert_eq!(
        (all[1].value, all[1].small),
        (f64::NEG_INFINITY, f32::NEG_INFINITY)
    );
    assert_eq!(
        (all[2].value, all[2].small, all[2].code),
        (1e300, f32::MAX, 1e-300)
    );
    assert_eq!(all[2].plain, 2.5);
    let found = |db: &mut Db, f| db.ids::<Reading>(&Reading::objects().filter(f)).unwrap();
    assert_eq!(found(&mut db, Reading::VALUE.eq(f64::INFINITY)), [1]);
    assert_eq!(found(&mut db, Reading::VALUE.gt(1e300)), [1]);
    assert_eq!(found(&mut db, Reading::VALUE.lt(-1e300)), [2]);
    assert_eq!(found(&mut db, Reading::SMALL.gt(f32::MAX)), [1]);
    assert_eq!(found(&mut db, Reading::SMALL.gte(f32::MAX)), [1, 3]);
    assert_eq!(
        db.ids(&Reading::objects().sort_by(Reading::VALUE, Order::Asc))
            .unwrap(),
        [2, 3, 1]
    );
}

// ---- 8: two models never share keys ----

const fn meta(app: &'static str, name: &'static str) -> ModelMeta {
    ModelMeta {
        app,
        name,
        pk: "id",
        fields: &[],
        version: None,
    }
}

/// The hash tag Redis Cluster hashes: from the first `{` to the first `}` after it.
fn hash_tag(key: &str) -> &str {
    let open = key.find('{').expect("a hash tag");
    let close = key[open..].find('}').expect("a closed hash tag") + open;
    &key[open + 1..close]
}

#[test]
fn labels_and_namespaces_never_run_together() {
    // Hand-written metadata (the derive refuses these labels) still gets distinct keys.
    let a = Keys::new("", &meta("a.b", "c"));
    let b = Keys::new("", &meta("a", "b.c"));
    assert_ne!(a.prefix(), b.prefix());
    assert_ne!(
        Keys::new("", &meta("", "a.b")).prefix(),
        Keys::new("", &meta("a", "b")).prefix()
    );
    // A namespace that does not end in a separator gets one.
    assert_ne!(
        Keys::new("ab", &meta("", "c")).prefix(),
        Keys::new("a", &meta("", "bc")).prefix()
    );
    assert_eq!(
        Keys::new("ns", &meta("x", "y")).prefix(),
        Keys::new("ns:", &meta("x", "y")).prefix()
    );
    // Braces cannot end the hash tag early: the tag is always the whole base.
    for ns in ["x}y:", "{x:", "}", "a{b}c:"] {
        let keys = Keys::new(ns, &meta("app", "m"));
        let key = keys.instance(1);
        assert_eq!(
            format!("{{{}}}", hash_tag(&key)),
            keys.prefix(),
            "namespace {ns:?}: {key}"
        );
        assert!(hash_tag(&key).ends_with("app.m"), "{key}");
    }
    // Distinct namespaces stay distinct after escaping.
    assert_ne!(
        Keys::new("%7B:", &meta("", "m")).prefix(),
        Keys::new("{:", &meta("", "m")).prefix()
    );
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(name = "c")]
struct C {
    id: u64,
    #[model(index)]
    v: u32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(name = "bc")]
struct Bc {
    id: u64,
    #[model(index)]
    v: u32,
}

#[test]
fn namespace_ab_model_c_and_namespace_a_model_bc_do_not_share_keys() {
    let server = RedisServer::start();
    let mut ab = Db::open(server.url()).unwrap().with_namespace("ab");
    let mut a = Db::open(server.url()).unwrap().with_namespace("a");
    ab.save(&mut C { id: 0, v: 1 }).unwrap();
    assert_eq!(a.count(&Bc::objects()).unwrap(), 0);
    assert!(matches!(a.get::<Bc>(1), Err(Error::DoesNotExist { .. })));
    a.save(&mut Bc { id: 0, v: 2 }).unwrap();
    assert_eq!(ab.get::<C>(1).unwrap().v, 1);
    assert_eq!(a.get::<Bc>(1).unwrap().v, 2);
    let mut con = raw(&server);
    assert!(index_problems::<C>(&mut con, "ab").is_empty());
    assert!(index_problems::<Bc>(&mut con, "a").is_empty());
    let all: Vec<String> = con.query(cmd("KEYS").arg("*")).unwrap();
    let (c_keys, bc_keys): (Vec<_>, Vec<_>) = all.iter().partition(|k| k.starts_with("{ab:c}:"));
    assert!(bc_keys.iter().all(|k| k.starts_with("{a:bc}:")), "{all:?}");
    assert_eq!(c_keys.len(), bc_keys.len(), "{all:?}");
    assert_eq!(model_keys::<C>(&mut con, "ab").len(), c_keys.len());
}

// ---- 21: raw identifiers as field names ----

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "kind")]
struct Kinded {
    id: u64,
    #[model(index, prefix)]
    r#type: String,
    #[model(index)]
    r#match: Option<u32>,
    r#loop: bool,
}

#[test]
fn raw_identifiers_are_stored_under_their_plain_names() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    assert_eq!(Kinded::TYPE.name(), "type");
    assert_eq!(Kinded::MATCH.name(), "match");
    assert_eq!(Kinded::LOOP.name(), "loop");
    let names: Vec<&str> = Kinded::META.fields.iter().map(|f| f.name).collect();
    assert_eq!(names, ["type", "match", "loop"]);
    let mut k = Kinded {
        id: 0,
        r#type: "fire".into(),
        r#match: Some(3),
        r#loop: true,
    };
    let mut other = Kinded {
        id: 0,
        r#type: "water".into(),
        r#match: None,
        r#loop: false,
    };
    db.save(&mut k).unwrap();
    db.save(&mut other).unwrap();
    let stored = stored_hash::<Kinded>(&mut con, NS, k.id);
    assert_eq!(
        stored.keys().map(String::as_str).collect::<Vec<_>>(),
        ["loop", "match", "type"]
    );
    assert_eq!(db.get::<Kinded>(k.id).unwrap(), k);
    let ids = |db: &mut Db, f| db.ids::<Kinded>(&Kinded::objects().filter(f)).unwrap();
    assert_eq!(ids(&mut db, Kinded::TYPE.eq("fire")), [k.id]);
    assert_eq!(ids(&mut db, Kinded::TYPE.startswith("wa")), [other.id]);
    assert_eq!(ids(&mut db, Kinded::MATCH.gte(1)), [k.id]);
    assert_eq!(
        db.ids(&Kinded::objects().sort_by(Kinded::TYPE, Order::Desc))
            .unwrap(),
        [other.id, k.id]
    );
    let rows = db.load_only(&Kinded::objects(), &["type"]).unwrap();
    assert_eq!(rows[0].get(Kinded::TYPE).unwrap(), "fire");
    assert_eq!(
        db.values(&Kinded::objects(), Kinded::LOOP).unwrap(),
        [true, false]
    );
    k.r#type = "earth".into();
    db.update(&mut k, &["type"]).unwrap();
    assert_eq!(ids(&mut db, Kinded::TYPE.eq("earth")), [k.id]);
    assert!(index_problems::<Kinded>(&mut con, NS).is_empty());
    // The metadata says what the derive was asked for.
    let kind = Kinded::META.field("match").unwrap();
    assert_eq!(
        (kind.kind, kind.index),
        (FieldKind::Number, IndexKind::Index)
    );
}

/// A raw identifier can be the primary key too, found by its plain name `id`.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "faults")]
struct r#Raw {
    r#id: u64,
    #[model(unique)]
    r#in: u8,
}

#[test]
fn a_raw_primary_key_and_type_name_work() {
    let server = RedisServer::start();
    let mut db = db(&server);
    assert_eq!(
        (Raw::META.label(), Raw::META.pk),
        ("faults.raw".into(), "id")
    );
    let mut r = Raw { id: 0, r#in: 4 };
    db.save(&mut r).unwrap();
    assert_eq!(db.get_by(Raw::IN, 4).unwrap(), r);
    assert_eq!((Raw::ID.name(), Raw::IN.name()), ("id", "in"));
}
