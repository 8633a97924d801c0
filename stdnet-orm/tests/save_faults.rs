//! A save writes everything or nothing, against a private redis-server: bad values,
//! keys of the wrong type, updates of deleted instances, a batch naming one id twice,
//! ids at the edge of the range, stale versions and stale unique entries. Each test
//! snapshots every key of the server (`DUMP`) around the failing save.

mod common;
use common::raw;

use common::{index_problems, run, snapshot};
use resp_conn::cmd;
use stdnet_orm::keys::Keys;
use stdnet_orm::{Db, Error, MAX_ID, Model};
use stdnet_test_support::RedisServer;

const NS: &str = "faults:";

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "item")]
struct Item {
    id: u64,
    #[model(unique)]
    name: String,
    #[model(index)]
    color: String,
    #[model(index)]
    weight: f64,
    note: Option<String>,
}

fn item(name: &str, color: &str, weight: f64) -> Item {
    Item {
        id: 0,
        name: name.into(),
        color: color.into(),
        weight,
        note: None,
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "doc")]
struct Doc {
    id: u64,
    #[model(version)]
    version: u64,
    #[model(unique)]
    slug: String,
    #[model(index)]
    tag: String,
    body: String,
}

fn db(server: &RedisServer) -> Db {
    common::db_in(server, NS)
}

fn keys<M: Model>() -> Keys {
    Keys::new(NS, &M::META)
}

#[test]
fn a_nan_in_an_indexed_float_is_a_typed_error_and_touches_no_key() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    db.save(&mut item("first", "red", 1.0)).unwrap();
    let before = snapshot(&mut con);
    let mut batch = vec![item("ok", "blue", 2.0), item("bad", "green", f64::NAN)];
    match db.save_all(&mut batch) {
        Err(Error::InvalidValue {
            model,
            field,
            value,
            ..
        }) => assert_eq!(
            (model.as_str(), field.as_str(), value.as_str()),
            ("faults.item", "weight", "NaN")
        ),
        other => panic!("expected an invalid value error, got {other:?}"),
    }
    assert_eq!(snapshot(&mut con), before, "no key touched");
    assert_eq!(batch.iter().map(|i| i.id).collect::<Vec<_>>(), [0, 0]);
}

#[test]
fn infinite_scores_are_valid_and_indexed() {
    // Redis orders +inf and -inf in sorted sets; they are stored as `inf` / `-inf`.
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut batch = vec![
        item("up", "red", f64::INFINITY),
        item("down", "red", f64::NEG_INFINITY),
        item("mid", "red", 0.5),
    ];
    db.save_all(&mut batch).unwrap();
    let ids = |db: &mut Db, q| db.ids::<Item>(&q).unwrap();
    assert_eq!(
        ids(&mut db, Item::objects().filter(Item::WEIGHT.gt(1.0))),
        [batch[0].id]
    );
    assert_eq!(
        ids(&mut db, Item::objects().filter(Item::WEIGHT.lt(0.0))),
        [batch[1].id]
    );
    assert_eq!(db.get::<Item>(batch[0].id).unwrap(), batch[0]);
    assert_eq!(db.get::<Item>(batch[1].id).unwrap(), batch[1]);
    assert!(index_problems::<Item>(&mut raw(&server), NS).is_empty());
}

/// Saves `batch` after `plant` put a key of the wrong type somewhere the save writes:
/// the save must fail before any write, with an error naming the key.
fn refused_with_planted_key(plant: &[&[u8]], key: &[u8], mut batch: Vec<Item>) {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut saved = item("saved", "red", 1.0);
    db.save(&mut saved).unwrap();
    run(&mut con, cmd("DEL").arg(key));
    let mut c = cmd(std::str::from_utf8(plant[0]).unwrap());
    for a in &plant[1..] {
        c.arg(*a);
    }
    run(&mut con, &mut c);
    let before = snapshot(&mut con);
    for i in &mut batch {
        if i.name == "saved" {
            i.id = saved.id;
        }
    }
    match db.save_all(&mut batch) {
        Err(Error::Corrupt { model, key: k, .. }) => {
            assert_eq!(model, "faults.item");
            assert_eq!(k.as_bytes(), key, "the error names the key");
        }
        other => panic!(
            "{}: expected a corrupt-data error, got {other:?}",
            String::from_utf8_lossy(key)
        ),
    }
    assert_eq!(
        snapshot(&mut con),
        before,
        "{}: no key changed",
        String::from_utf8_lossy(key)
    );
}

#[test]
fn a_key_of_the_wrong_type_where_the_save_writes_stops_it_before_any_write() {
    let k = keys::<Item>();
    // An index set of a new value.
    let idx = k.index("color", b"green");
    refused_with_planted_key(
        &[b"SET", &idx, b"x"],
        &idx,
        vec![item("a", "blue", 2.0), item("b", "green", 3.0)],
    );
    // The index set of the old value an update moves out of ("red" of `saved`).
    let old = k.index("color", b"red");
    run_planted_over(&old);
    // The numeric sorted set, the unique hash, the id set.
    for key in [k.numeric("weight"), k.unique("name"), k.ids()] {
        refused_with_planted_key(
            &[b"SET", key.as_bytes(), b"x"],
            key.as_bytes(),
            vec![item("a", "blue", 2.0), item("b", "green", 3.0)],
        );
    }
    // The counter holds something INCR cannot count from.
    let counter = k.counter();
    refused_with_planted_key(
        &[b"SET", counter.as_bytes(), b"abc"],
        counter.as_bytes(),
        vec![item("a", "blue", 2.0)],
    );
    refused_with_planted_key(
        &[b"SADD", counter.as_bytes(), b"x"],
        counter.as_bytes(),
        vec![item("a", "blue", 2.0)],
    );
    // The hash of the next new id (not listed in the id set) is a string.
    let next = k.instance(2);
    refused_with_planted_key(
        &[b"SET", next.as_bytes(), b"x"],
        next.as_bytes(),
        vec![item("a", "blue", 2.0)],
    );
}

/// The old value's set of `saved` replaced by a string: its update must be refused.
fn run_planted_over(old: &[u8]) {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut saved = item("saved", "red", 1.0);
    db.save(&mut saved).unwrap();
    run(&mut con, cmd("DEL").arg(old));
    run(&mut con, cmd("SET").arg(old).arg("x"));
    let before = snapshot(&mut con);
    let mut batch = vec![
        item("new", "blue", 5.0),
        Item {
            color: "blue".into(),
            ..saved.clone()
        },
    ];
    match db.save_all(&mut batch) {
        Err(Error::Corrupt { key, .. }) => assert_eq!(key.as_bytes(), old),
        other => panic!("expected a corrupt-data error, got {other:?}"),
    }
    assert_eq!(snapshot(&mut con), before);
}

#[test]
fn an_instance_hash_of_the_wrong_type_stops_its_update() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut a = item("a", "red", 1.0);
    let mut b = item("b", "red", 1.0);
    db.save(&mut a).unwrap();
    db.save(&mut b).unwrap();
    let hash = keys::<Item>().instance(b.id);
    run(&mut con, cmd("DEL").arg(&hash));
    run(&mut con, cmd("SET").arg(&hash).arg("x"));
    let before = snapshot(&mut con);
    a.color = "blue".into();
    b.color = "blue".into();
    match db.save_all(&mut [a, b]) {
        Err(Error::Corrupt { key, .. }) => assert_eq!(key, hash),
        other => panic!("expected a corrupt-data error, got {other:?}"),
    }
    assert_eq!(snapshot(&mut con), before);
}

#[test]
fn an_update_of_a_deleted_instance_is_does_not_exist_and_writes_nothing() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut a = item("a", "red", 1.0);
    db.save(&mut a).unwrap();
    let mut other = a.clone();
    assert!(db.delete(&other).unwrap(), "another client deletes it");
    let before = snapshot(&mut con);
    other.color = "blue".into();
    let err = db.update(&mut other, &["color"]).unwrap_err();
    assert!(
        matches!(err, Error::DoesNotExist { id: Some(id), .. } if id == a.id),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("faults.item {} does not exist", a.id)
    );
    assert_eq!(snapshot(&mut con), before, "no partial hash brought back");
    // Also when only the hash went (deleted outside the ORM).
    let mut b = item("b", "red", 2.0);
    db.save(&mut b).unwrap();
    run(&mut con, cmd("DEL").arg(keys::<Item>().instance(b.id)));
    let before = snapshot(&mut con);
    b.weight = 3.0;
    assert!(matches!(
        db.update(&mut b, &["weight"]),
        Err(Error::DoesNotExist { id: Some(id), .. }) if id == b.id
    ));
    // A lookup by id names it; a query that matches nothing says so.
    assert!(matches!(
        db.get::<Item>(b.id),
        Err(Error::DoesNotExist { id: Some(id), .. }) if id == b.id
    ));
    let none = db.one(&Item::objects().filter(Item::COLOR.eq("green")));
    assert!(
        matches!(none, Err(Error::DoesNotExist { id: None, .. })),
        "{none:?}"
    );
    assert_eq!(snapshot(&mut con), before);
}

#[test]
fn a_full_save_with_an_explicit_id_and_no_hash_is_an_insert() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut a = item("a", "red", 1.0);
    a.id = 42;
    db.save(&mut a).unwrap();
    assert_eq!(db.get::<Item>(42).unwrap(), a);
    let mut next = item("b", "red", 1.0);
    db.save(&mut next).unwrap();
    assert_eq!(next.id, 43);
    assert!(index_problems::<Item>(&mut raw(&server), NS).is_empty());
}

#[test]
fn a_batch_naming_one_id_twice_is_refused_before_sending() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut a = item("a", "red", 1.0);
    db.save(&mut a).unwrap();
    let before = snapshot(&mut con);
    let mut batch = vec![
        Item {
            color: "blue".into(),
            name: "a1".into(),
            ..a.clone()
        },
        item("new", "red", 2.0),
        Item {
            color: "green".into(),
            name: "a2".into(),
            ..a.clone()
        },
    ];
    match db.save_all(&mut batch) {
        Err(Error::DuplicateId { model, id }) => {
            assert_eq!((model.as_str(), id), ("faults.item", a.id))
        }
        other => panic!("expected a duplicate id error, got {other:?}"),
    }
    assert_eq!(snapshot(&mut con), before);
    assert!(index_problems::<Item>(&mut con, NS).is_empty());
}

#[test]
fn explicit_ids_above_the_cap_are_refused_and_never_overwrite() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    assert_eq!(MAX_ID, (1 << 53) - 1);
    for id in [MAX_ID + 1, MAX_ID + 2, u64::MAX] {
        let mut a = item("big", "red", 1.0);
        a.id = id;
        match db.save(&mut a) {
            Err(Error::InvalidId { model, id: got }) => {
                assert_eq!((model.as_str(), got), ("faults.item", id))
            }
            other => panic!("{id}: expected an invalid id error, got {other:?}"),
        }
        assert!(snapshot(&mut con).is_empty(), "{id}: nothing written");
    }
    // Later inserts work and take ids from 1.
    let mut a = item("a", "red", 1.0);
    db.save(&mut a).unwrap();
    assert_eq!(a.id, 1);
}

#[test]
fn ids_are_exact_up_to_the_cap_and_the_counter_never_passes_it() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    // Two explicit ids that are distinct as integers but not far apart as doubles.
    let mut batch = vec![item("a", "red", 1.0), item("b", "red", 1.0)];
    batch[0].id = MAX_ID - 3;
    batch[1].id = MAX_ID - 2;
    db.save_all(&mut batch).unwrap();
    let mut next = item("c", "red", 1.0);
    db.save(&mut next).unwrap();
    assert_eq!(next.id, MAX_ID - 1);
    let mut last = item("d", "red", 1.0);
    db.save(&mut last).unwrap();
    assert_eq!(last.id, MAX_ID);
    for (name, id) in [("a", MAX_ID - 3), ("b", MAX_ID - 2), ("c", MAX_ID - 1)] {
        assert_eq!(db.get::<Item>(id).unwrap().name, name, "id {id}");
    }
    // No id is left for a new instance: a typed error, nothing written.
    let before = snapshot(&mut con);
    let mut one_more = item("e", "red", 1.0);
    match db.save(&mut one_more) {
        Err(Error::IdsExhausted { model }) => assert_eq!(model, "faults.item"),
        other => panic!("expected ids exhausted, got {other:?}"),
    }
    assert_eq!(snapshot(&mut con), before);
    // Instances with an id still save.
    last.color = "blue".into();
    db.save(&mut last).unwrap();
    let mut explicit = item("f", "red", 1.0);
    explicit.id = 5;
    db.save(&mut explicit).unwrap();
    assert!(index_problems::<Item>(&mut con, NS).is_empty());
}

#[test]
fn a_lost_counter_never_makes_a_new_instance_overwrite_a_listed_one() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut batch = vec![item("a", "red", 1.0), item("b", "red", 1.0)];
    db.save_all(&mut batch).unwrap();
    run(&mut con, cmd("DEL").arg(keys::<Item>().counter()));
    let mut c = item("c", "red", 1.0);
    db.save(&mut c).unwrap();
    assert_eq!(c.id, 3);
    assert_eq!(db.get::<Item>(1).unwrap(), batch[0]);
    assert!(index_problems::<Item>(&mut con, NS).is_empty());
}

#[test]
fn a_unique_value_held_by_a_deleted_hash_can_be_taken_again() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut a = item("ann", "red", 1.0);
    db.save(&mut a).unwrap();
    // Deleted outside the ORM: the unique hash still maps "ann" to it.
    run(&mut con, cmd("DEL").arg(keys::<Item>().instance(a.id)));
    let mut b = item("ann", "blue", 2.0);
    db.save(&mut b).unwrap();
    assert_ne!(b.id, a.id);
    assert_eq!(db.get_by(Item::NAME, "ann").unwrap(), b);
    let owner: u64 = con
        .query(cmd("HGET").arg(keys::<Item>().unique("name")).arg("ann"))
        .unwrap();
    assert_eq!(owner, b.id);
    // A live owner still refuses it.
    let mut c = item("ann", "green", 3.0);
    assert!(matches!(db.save(&mut c), Err(Error::Unique { .. })));
}

#[test]
fn a_stale_version_is_a_conflict_and_writes_nothing() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut doc = Doc {
        id: 0,
        version: 0,
        slug: "intro".into(),
        tag: "draft".into(),
        body: "v1".into(),
    };
    db.save(&mut doc).unwrap();
    assert_eq!(doc.version, 1, "new instances start at 1");
    assert_eq!(db.get::<Doc>(doc.id).unwrap(), doc);
    let mut first = db.get::<Doc>(doc.id).unwrap();
    let mut second = db.get::<Doc>(doc.id).unwrap();
    first.body = "first".into();
    first.tag = "published".into();
    second.body = "second".into();
    second.tag = "archived".into();
    second.slug = "intro-2".into();
    db.save(&mut first).unwrap();
    assert_eq!(first.version, 2);
    let before = snapshot(&mut con);
    match db.save(&mut second) {
        Err(Error::Conflict { model, id }) => {
            assert_eq!((model.as_str(), id), ("faults.doc", doc.id))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(second.version, 1, "the stale copy keeps its version");
    assert_eq!(snapshot(&mut con), before, "nothing written");
    assert_eq!(db.get::<Doc>(doc.id).unwrap(), first);
    assert_eq!(
        db.ids(&Doc::objects().filter(Doc::TAG.eq("published")))
            .unwrap(),
        [doc.id]
    );
    assert!(index_problems::<Doc>(&mut con, NS).is_empty());
    // A partial update checks and bumps the version too.
    let mut third = db.get::<Doc>(doc.id).unwrap();
    third.body = "third".into();
    db.update(&mut third, &["body"]).unwrap();
    assert_eq!(third.version, 3);
    first.body = "stale".into();
    assert!(matches!(
        db.update(&mut first, &["body"]),
        Err(Error::Conflict { .. })
    ));
    assert_eq!(db.get::<Doc>(doc.id).unwrap(), third);
    // A copy whose instance was deleted meanwhile is a conflict, not a re-insert.
    let mut gone = third.clone();
    db.delete(&third).unwrap();
    gone.body = "back".into();
    assert!(matches!(db.save(&mut gone), Err(Error::Conflict { .. })));
    assert!(snapshot(&mut con).keys().all(|k| !k.ends_with(b":obj:1")));
}
