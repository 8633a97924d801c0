//! Queries under faults and awkward input: a query that fails part-way, sorting
//! without `SORT ... BY` (for a user whose ACL allows only the model's keys), the
//! primary-key column, very long `is_in` lists, nulls and NUL bytes, and index
//! entries whose instance hash is gone.

mod common;
use common::raw;

use std::cmp::Ordering;

use common::{User, index_problems, model_keys, user};
use proptest::prelude::*;
use resp_conn::{Connection, cmd};
use stdnet_orm::keys::Keys;
use stdnet_orm::{Date, Db, Error, FieldEnum, FieldKind, Model, Order, Query, Timestamp};
use stdnet_test_support::RedisServer;

const NS: &str = "faults:";

fn db(server: &RedisServer) -> Db {
    common::db_in(server, NS)
}

fn tmp_keys<M: Model>(con: &mut Connection, namespace: &str) -> Vec<String> {
    let tmp = format!("{}:tmp:", Keys::new(namespace, &M::META).prefix());
    model_keys::<M>(con, namespace)
        .into_iter()
        .filter(|k| k.starts_with(&tmp))
        .collect()
}

fn people(db: &mut Db) -> Vec<User> {
    let mut users: Vec<User> = [
        ("ann", "IT", 31),
        ("abe", "FR", 17),
        ("bob", "IT", 45),
        ("bea", "DE", 25),
        ("carl", "FR", 31),
        ("cora", "IT", 62),
    ]
    .iter()
    .map(|(n, c, a)| user(n, c, *a))
    .collect();
    db.save_all(&mut users).unwrap();
    users
}

fn ids_where(users: &[User], keep: impl Fn(&User) -> bool) -> Vec<u64> {
    users.iter().filter(|u| keep(u)).map(|u| u.id).collect()
}

// ---------------------------------------------------------------------------------
// 9: a failed query leaves nothing behind.

#[test]
fn a_query_failing_part_way_leaves_no_temporary_key_and_does_not_change_the_next() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let users = people(&mut db);
    // A key of the wrong type where an index set should be: the server refuses the
    // intersection after the script has already built a temporary result.
    let broken = Keys::new(NS, &User::META).index("country", b"XX");
    con.query::<()>(cmd("SET").arg(broken.as_slice()).arg("not a set"))
        .unwrap();
    let failing = [
        User::objects()
            .filter(User::USERNAME.startswith("a"))
            .filter(User::COUNTRY.eq("XX")),
        User::objects()
            .filter(User::USERNAME.is_in(["ann", "abe"]))
            .filter(User::COUNTRY.eq("XX")),
        User::objects()
            .filter(User::COUNTRY.is_in(["IT", "FR"]))
            .filter(User::COUNTRY.eq("XX")),
    ];
    for q in &failing {
        let err = db.ids(q).unwrap_err();
        assert!(
            err.to_string().contains("WRONGTYPE"),
            "the server's error comes back: {err}"
        );
        assert!(db.count(q).is_err());
        assert!(db.all(q).is_err());
        assert!(db.all(&q.clone().limit(2)).is_err());
        assert_eq!(tmp_keys::<User>(&mut con, NS), Vec::<String>::new());
        // The next queries build the same temporary keys; their results are exact.
        assert_eq!(
            db.ids(&User::objects().filter(User::USERNAME.startswith("b")))
                .unwrap(),
            ids_where(&users, |u| u.username.starts_with('b'))
        );
        assert_eq!(
            db.ids(&User::objects().filter(User::USERNAME.is_in(["bob"])))
                .unwrap(),
            ids_where(&users, |u| u.username == "bob")
        );
        assert_eq!(
            db.ids(&User::objects().filter(User::COUNTRY.is_in(["DE", "FR"])))
                .unwrap(),
            ids_where(&users, |u| u.country != "IT")
        );
        assert_eq!(tmp_keys::<User>(&mut con, NS), Vec::<String>::new());
    }
    con.query::<()>(cmd("DEL").arg(broken.as_slice())).unwrap();
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
}

#[derive(stdnet_orm::Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "gauge")]
struct Gauge {
    id: u64,
    #[model(index)]
    level: f64,
    #[model(index)]
    spare: Option<f64>,
}

#[test]
fn a_nan_or_missing_bound_is_a_typed_error_before_anything_is_sent() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut g = Gauge {
        id: 0,
        level: 1.0,
        spare: None,
    };
    db.save(&mut g).unwrap();
    let _: () = con.query(cmd("CONFIG").arg("RESETSTAT")).unwrap();
    for q in [
        Gauge::objects().filter(Gauge::LEVEL.gt(f64::NAN)),
        Gauge::objects().filter(Gauge::LEVEL.between(0.0, f64::NAN)),
        Gauge::objects().exclude(Gauge::LEVEL.lte(f64::NAN)),
        Gauge::objects().filter(Gauge::SPARE.gte(None::<f64>)),
    ] {
        for got in [
            db.ids(&q).map(drop),
            db.count(&q).map(drop),
            db.all(&q).map(drop),
        ] {
            assert!(
                matches!(&got, Err(Error::InvalidQuery { model, .. }) if model == "faults.gauge"),
                "{got:?}"
            );
        }
    }
    let stats: String = con.query(cmd("INFO").arg("commandstats")).unwrap();
    assert!(!stats.contains("cmdstat_evalsha"), "{stats}");
    // Infinite bounds are bounds.
    assert_eq!(
        db.ids(&Gauge::objects().filter(Gauge::LEVEL.lt(f64::INFINITY)))
            .unwrap(),
        [g.id]
    );
}

// ---------------------------------------------------------------------------------
// 10: sorting without SORT BY, for every field kind, as a user limited to the
// model's keys, in a namespace with glob characters.

#[derive(Debug, Clone, Copy, PartialEq, Eq, FieldEnum)]
enum Tier {
    Gold,
    Silver,
    Bronze,
}

#[derive(stdnet_orm::Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "item")]
struct Item {
    id: u64,
    #[model(index)]
    group: u32,
    title: String,
    #[model(index)]
    label: Option<String>,
    amount: i64,
    #[model(index)]
    rating: Option<f64>,
    ratio: f64,
    day: Date,
    #[model(index)]
    seen: Option<Timestamp>,
    stamp: Timestamp,
    flag: bool,
    #[model(index)]
    tier: Tier,
    blob: Vec<u8>,
    #[model(unique)]
    code: String,
}

const GLOB_NS: &str = "g*?[x:";

fn item_strategy() -> impl Strategy<Value = Item> {
    let text = prop::sample::select(vec!["", "a", "A", "b", "ab", "a b", "é", "z\u{0}", "z"]);
    let ratio = prop_oneof![
        (-3i32..3).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.5),
        // No NaN: a save refuses it in any number field (InvalidValue).
    ];
    (
        (0u32..3, text.clone(), proptest::option::of(text), -3i64..3),
        (
            proptest::option::of(-2i32..2),
            ratio,
            -800i32..800,
            proptest::option::of(-3i64..3),
        ),
        (
            -2i64..2,
            any::<bool>(),
            0usize..3,
            proptest::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff]), 0..3),
        ),
    )
        .prop_map(
            |(
                (group, title, label, amount),
                (rating, ratio, day, seen),
                (stamp, flag, tier, blob),
            )| {
                let epoch = Date::from_ymd_opt(1970, 1, 1).unwrap();
                let at = |s: i64| -> Timestamp {
                    "2024-05-17T10:00:00.250000Z".parse::<Timestamp>().unwrap()
                        + chrono::Duration::milliseconds(s * 1500)
                };
                Item {
                    id: 0,
                    group,
                    title: title.into(),
                    label: label.map(str::to_owned),
                    amount,
                    rating: rating.map(|r| f64::from(r) / 2.0),
                    ratio,
                    day: epoch + chrono::Duration::days(i64::from(day) * 37),
                    seen: seen.map(at),
                    stamp: at(stamp),
                    flag,
                    tier: [Tier::Gold, Tier::Silver, Tier::Bronze][tier],
                    blob,
                    code: String::new(),
                }
            },
        )
}

/// Every field's sort key as documented in `stdnet_orm::query`: numbers and dates by
/// value (no value sorts as 0, NaN after every number), everything else by its stored
/// bytes (no value first); ties by id as decimal text; `Desc` reverses the whole order.
fn brute_force_sort(items: &[Item], field: Option<usize>, order: Order) -> Vec<u64> {
    let mut ids: Vec<&Item> = items.iter().collect();
    let by_id = |a: &Item, b: &Item| a.id.to_string().cmp(&b.id.to_string());
    match field {
        None => ids.sort_by_key(|i| i.id),
        Some(f) if Item::META.fields[f].kind == FieldKind::Number => {
            let key = |i: &Item| i.field_score(f).unwrap_or(0.0);
            ids.sort_by(|a, b| {
                let (x, y) = (key(a), key(b));
                let o = match (x.is_nan(), y.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    (false, false) => x.partial_cmp(&y).unwrap(),
                };
                o.then_with(|| by_id(a, b))
            });
        }
        Some(f) => ids.sort_by(|a, b| {
            (a.field_value(f).unwrap())
                .cmp(&b.field_value(f).unwrap())
                .then_with(|| by_id(a, b))
        }),
    }
    let mut ids: Vec<u64> = ids.iter().map(|i| i.id).collect();
    if order == Order::Desc {
        ids.reverse();
    }
    ids
}

fn slice(ids: &[u64], offset: isize, limit: Option<usize>) -> Vec<u64> {
    let start = if offset < 0 {
        ids.len().saturating_sub(offset.unsigned_abs())
    } else {
        (offset as usize).min(ids.len())
    };
    let end = limit.map_or(ids.len(), |l| (start + l).min(ids.len()));
    ids[start..end].to_vec()
}

fn sorted(q: Query<Item>, field: Option<usize>, order: Order) -> Query<Item> {
    let Some(f) = field else {
        return q.order_by_id(order);
    };
    match Item::META.fields[f].name {
        "group" => q.sort_by(Item::GROUP, order),
        "title" => q.sort_by(Item::TITLE, order),
        "label" => q.sort_by(Item::LABEL, order),
        "amount" => q.sort_by(Item::AMOUNT, order),
        "rating" => q.sort_by(Item::RATING, order),
        "ratio" => q.sort_by(Item::RATIO, order),
        "day" => q.sort_by(Item::DAY, order),
        "seen" => q.sort_by(Item::SEEN, order),
        "stamp" => q.sort_by(Item::STAMP, order),
        "flag" => q.sort_by(Item::FLAG, order),
        "tier" => q.sort_by(Item::TIER, order),
        "blob" => q.sort_by(Item::BLOB, order),
        "code" => q.sort_by(Item::CODE, order),
        other => panic!("no column for {other}"),
    }
}

/// A server with a user `u` that may touch only the keys of `M` in `namespace`.
fn restricted_db<M: Model>(server: &RedisServer, namespace: &str) -> Db {
    let pattern = Keys::new(namespace, &M::META).pattern();
    let _: () = raw(server)
        .query(
            cmd("ACL")
                .arg("SETUSER")
                .arg("u")
                .arg("on")
                .arg(">pw")
                .arg(format!("~{pattern}"))
                .arg("+@all"),
        )
        .unwrap();
    Db::open(format!("redis://u:pw@{}/0", server.addr()))
        .unwrap()
        .with_namespace(namespace)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn sort_by_every_field_kind_matches_a_brute_force_sort(
        mut items in proptest::collection::vec(item_strategy(), 0..24),
        pages in proptest::collection::vec((-6isize..6, proptest::option::of(0usize..6)), 3),
    ) {
        let server = RedisServer::start();
        let mut db = restricted_db::<Item>(&server, GLOB_NS);
        for (n, item) in items.iter_mut().enumerate() {
            item.code = format!("c{}", (n * 7) % 11 + n);
        }
        db.save_all(&mut items).unwrap();
        let gold: Vec<Item> = items.iter().filter(|i| i.tier == Tier::Gold).cloned().collect();
        let fields = (0..Item::META.fields.len()).map(Some).chain([None]);
        for field in fields {
            for order in [Order::Asc, Order::Desc] {
                let expected = brute_force_sort(&items, field, order);
                let q = sorted(Item::objects(), field, order);
                prop_assert_eq!(&db.ids(&q).unwrap(), &expected, "{:?} {:?}", field, order);
                let loaded: Vec<u64> = db.all(&q).unwrap().iter().map(|i| i.id).collect();
                prop_assert_eq!(&loaded, &expected);
                // Through a filter (a result that is not the whole id set).
                let expected_gold = brute_force_sort(&gold, field, order);
                let qg = sorted(Item::objects().filter(Item::TIER.eq(Tier::Gold)), field, order);
                prop_assert_eq!(&db.ids(&qg).unwrap(), &expected_gold);
                for &(offset, limit) in &pages {
                    let page = q.clone().offset(offset);
                    let page = match limit { Some(l) => page.limit(l), None => page };
                    let want = slice(&expected, offset, limit);
                    prop_assert_eq!(&db.ids(&page).unwrap(), &want, "{:?} {:?} {} {:?}", field, order, offset, limit);
                    let loaded: Vec<u64> = db.all(&page).unwrap().iter().map(|i| i.id).collect();
                    prop_assert_eq!(&loaded, &want);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// 11: the primary-key column.

#[test]
fn the_primary_key_column_works_wherever_a_column_does() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let users = people(&mut db);
    let (a, b, c) = (users[0].id, users[1].id, users[2].id);
    assert_eq!(
        db.ids(&User::objects().filter(User::ID.eq(b))).unwrap(),
        [b]
    );
    assert_eq!(
        db.ids(&User::objects().filter(User::ID.eq(999))).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        db.ids(&User::objects().filter(User::ID.is_in([c, a, 999])))
            .unwrap(),
        [a, c]
    );
    assert_eq!(
        db.count(&User::objects().filter(User::ID.eq(a))).unwrap(),
        1
    );
    assert_eq!(
        db.ids(&User::objects().exclude(User::ID.is_in([a, b])))
            .unwrap(),
        users[2..].iter().map(|u| u.id).collect::<Vec<_>>()
    );
    assert_eq!(
        db.ids(
            &User::objects()
                .filter(User::ID.gt(a))
                .filter(User::ID.lte(c))
        )
        .unwrap(),
        [b, c]
    );
    assert_eq!(
        db.ids(
            &User::objects()
                .filter(User::COUNTRY.eq("IT"))
                .filter(User::ID.between(b, 999))
        )
        .unwrap(),
        ids_where(&users, |u| u.country == "IT" && u.id >= b)
    );
    assert_eq!(db.get_by(User::ID, c).unwrap(), users[2]);
    assert!(matches!(
        db.get_by(User::ID, 999),
        Err(Error::DoesNotExist { .. })
    ));
    let it = User::objects().filter(User::COUNTRY.eq("IT"));
    assert_eq!(
        db.values(&it, User::ID).unwrap(),
        ids_where(&users, |u| u.country == "IT")
    );
    let rows = db.load_only(&it, &["id", "age"]).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.get(User::ID).unwrap(), r.get(User::AGE).unwrap()))
            .collect::<Vec<_>>(),
        users
            .iter()
            .filter(|u| u.country == "IT")
            .map(|u| (u.id, u.age))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        rows[0].raw("id").map(|b| &b[..]),
        Some(a.to_string().as_bytes())
    );
    let bare = db.load_only(&it, &[]).unwrap();
    assert_eq!(
        bare.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids_where(&users, |u| u.country == "IT")
    );
    for row in &bare {
        for f in User::META.fields {
            assert!(row.raw(f.name).is_none(), "{} was not asked for", f.name);
        }
        assert_eq!(row.get(User::ID).unwrap(), row.id, "the id is always known");
    }
}

// ---------------------------------------------------------------------------------
// 12: long `is_in` lists.

#[test]
fn is_in_with_ten_thousand_values_on_unique_and_plain_indexes() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut users: Vec<User> = (0..300)
        .map(|n| user(&format!("u{n}"), &format!("C{}", n % 150), n % 90))
        .collect();
    db.save_all(&mut users).unwrap();
    let names: Vec<String> = (0..10_000).map(|n| format!("u{}", n * 3)).collect();
    let expected = ids_where(&users, |u| names.contains(&u.username));
    let by_name = User::objects().filter(User::USERNAME.is_in(names.iter().map(String::as_str)));
    assert_eq!(db.ids(&by_name).unwrap(), expected);
    assert_eq!(db.count(&by_name).unwrap(), expected.len());
    let countries: Vec<String> = (0..10_000).map(|n| format!("C{}", n * 2)).collect();
    let expected = ids_where(&users, |u| countries.contains(&u.country));
    let by_country =
        User::objects().filter(User::COUNTRY.is_in(countries.iter().map(String::as_str)));
    assert_eq!(db.ids(&by_country).unwrap(), expected);
    assert_eq!(db.all(&by_country).unwrap().len(), expected.len());
    let ages: Vec<u32> = (0..10_000).collect();
    assert_eq!(
        db.count(&User::objects().filter(User::AGE.is_in(ages)))
            .unwrap(),
        300
    );
    let ids: Vec<u64> = (1..=10_000).collect();
    assert_eq!(
        db.count(&User::objects().filter(User::ID.is_in(ids)))
            .unwrap(),
        300
    );
    let mut con = raw(&server);
    assert_eq!(tmp_keys::<User>(&mut con, NS), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------
// 7 (queries): a null is not the empty string; a prefix with a NUL byte.

#[derive(stdnet_orm::Model, Debug, Clone, PartialEq)]
#[model(app = "faults", name = "note")]
struct Note {
    id: u64,
    #[model(index, prefix)]
    text: Option<String>,
    #[model(unique)]
    tag: Option<String>,
}

#[test]
fn eq_none_is_a_typed_error_and_never_matches_the_empty_string() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut notes = vec![
        Note {
            id: 0,
            text: Some(String::new()),
            tag: Some(String::new()),
        },
        Note {
            id: 0,
            text: None,
            tag: None,
        },
        Note {
            id: 0,
            text: Some("ab".into()),
            tag: Some("x".into()),
        },
    ];
    db.save_all(&mut notes).unwrap();
    for q in [
        Note::objects().filter(Note::TEXT.eq(None::<String>)),
        Note::objects().filter(Note::TAG.eq(None::<String>)),
        Note::objects().filter(Note::TEXT.is_in([Some("ab".to_string()), None])),
        Note::objects().exclude(Note::TAG.eq(None::<String>)),
    ] {
        for got in [db.ids(&q).map(drop), db.count(&q).map(drop)] {
            assert!(
                matches!(&got, Err(Error::InvalidQuery { field, .. }) if field == "text" || field == "tag"),
                "{got:?}"
            );
        }
    }
    assert!(matches!(
        db.get_by(Note::TAG, None::<String>),
        Err(Error::InvalidQuery { .. })
    ));
    // The empty string is a value like any other.
    assert_eq!(
        db.ids(&Note::objects().filter(Note::TEXT.eq(""))).unwrap(),
        [notes[0].id]
    );
    assert_eq!(
        db.ids(&Note::objects().filter(Note::TAG.eq(""))).unwrap(),
        [notes[0].id]
    );
    assert_eq!(
        db.count(&Note::objects().filter(Note::TAG.eq(""))).unwrap(),
        1
    );
}

#[test]
fn startswith_a_prefix_ending_in_nul_does_not_match_the_shorter_value() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut notes: Vec<Note> = ["", "ab", "ab\0c", "b\u{ff}"]
        .iter()
        .map(|t| Note {
            id: 0,
            text: Some((*t).to_owned()),
            tag: None,
        })
        .collect();
    db.save_all(&mut notes).unwrap();
    // Lex members are `<value>\0<id>`: a prefix ending in NUL is not the separator.
    assert_eq!(
        db.ids(&Note::objects().filter(Note::TEXT.startswith("ab\0")))
            .unwrap(),
        [notes[2].id]
    );
    assert_eq!(
        db.ids(&Note::objects().filter(Note::TEXT.startswith("ab")))
            .unwrap(),
        [notes[1].id, notes[2].id]
    );
    assert_eq!(
        db.ids(&Note::objects().filter(Note::TEXT.startswith("")))
            .unwrap(),
        notes.iter().map(|n| n.id).collect::<Vec<_>>()
    );
    assert_eq!(
        db.ids(&Note::objects().filter(Note::TEXT.startswith("b\u{ff}")))
            .unwrap(),
        [notes[3].id]
    );
    assert_eq!(
        db.ids(&Note::objects().filter(Note::TEXT.startswith("ab\0c\0")))
            .unwrap(),
        Vec::<u64>::new()
    );
}

// ---------------------------------------------------------------------------------
// 13 (reads): an index entry whose hash is gone.

#[test]
fn an_instance_whose_hash_is_gone_is_reported_by_no_read() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let users = people(&mut db);
    // bob (IT, 45) and ann (the first of every id-ordered page) vanish behind the
    // ORM's back: their index entries stay.
    let keys = Keys::new(NS, &User::META);
    for gone in [&users[0], &users[2]] {
        let n: i64 = con.query(cmd("DEL").arg(keys.instance(gone.id))).unwrap();
        assert_eq!(n, 1);
    }
    let live: Vec<User> = users
        .iter()
        .filter(|u| u.username != "ann" && u.username != "bob")
        .cloned()
        .collect();
    let gone_ids = [users[0].id, users[2].id];

    let it = User::objects().filter(User::COUNTRY.eq("IT"));
    let queries: Vec<(Query<User>, Vec<u64>)> = vec![
        (User::objects(), live.iter().map(|u| u.id).collect()),
        (it.clone(), ids_where(&live, |u| u.country == "IT")),
        (
            User::objects().filter(User::AGE.gte(30)),
            ids_where(&live, |u| u.age >= 30),
        ),
        (
            User::objects().filter(User::USERNAME.is_in(["ann", "bob", "cora"])),
            ids_where(&live, |u| u.username == "cora"),
        ),
        (
            User::objects().filter(User::USERNAME.startswith("b")),
            ids_where(&live, |u| u.username.starts_with('b')),
        ),
        (User::objects().sort_by(User::AGE, Order::Desc), {
            let mut v = live.clone();
            v.sort_by(|a, b| {
                b.age
                    .cmp(&a.age)
                    .then(b.id.to_string().cmp(&a.id.to_string()))
            });
            v.iter().map(|u| u.id).collect()
        }),
        (User::objects().sort_by(User::USERNAME, Order::Asc), {
            let mut v = live.clone();
            v.sort_by(|a, b| a.username.cmp(&b.username));
            v.iter().map(|u| u.id).collect()
        }),
        (User::objects().sort_by(User::SCORE, Order::Asc), {
            let mut v = live.clone();
            v.sort_by(|a, b| {
                a.score
                    .total_cmp(&b.score)
                    .then(a.id.to_string().cmp(&b.id.to_string()))
            });
            v.iter().map(|u| u.id).collect()
        }),
    ];
    for (q, expected) in &queries {
        assert_eq!(&db.ids(q).unwrap(), expected, "{q:?}");
        assert_eq!(db.count(q).unwrap(), expected.len(), "{q:?}");
        assert_eq!(db.exists(q).unwrap(), !expected.is_empty(), "{q:?}");
        let loaded: Vec<u64> = db.all(q).unwrap().iter().map(|u| u.id).collect();
        assert_eq!(&loaded, expected, "{q:?}");
        assert_eq!(db.values(q, User::AGE).unwrap().len(), expected.len());
        let rows: Vec<u64> = db
            .load_only(q, &["age"])
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(&rows, expected);
        let bare: Vec<u64> = db.load_only(q, &[]).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(&bare, expected);
        assert_eq!(
            db.first(q).unwrap().map(|u| u.id),
            expected.first().copied(),
            "{q:?}"
        );
        // Pages count live instances: full while live ones remain.
        for offset in -5isize..6 {
            for limit in [None, Some(0), Some(1), Some(2), Some(3), Some(20)] {
                let mut page = q.clone().offset(offset);
                if let Some(l) = limit {
                    page = page.limit(l);
                }
                let want = slice(expected, offset, limit);
                assert_eq!(db.ids(&page).unwrap(), want, "{page:?}");
                let loaded: Vec<u64> = db.all(&page).unwrap().iter().map(|u| u.id).collect();
                assert_eq!(loaded, want, "{page:?}");
                let rows: Vec<u64> = db
                    .load_only(&page, &["age"])
                    .unwrap()
                    .iter()
                    .map(|r| r.id)
                    .collect();
                assert_eq!(rows, want, "{page:?}");
            }
        }
    }
    for id in gone_ids {
        assert!(matches!(
            db.get::<User>(id),
            Err(Error::DoesNotExist { .. })
        ));
        assert!(matches!(
            db.get_by(User::ID, id),
            Err(Error::DoesNotExist { .. })
        ));
    }
    for name in ["ann", "bob"] {
        let q = User::objects().filter(User::USERNAME.eq(name));
        assert_eq!(db.count(&q).unwrap(), 0);
        assert!(!db.exists(&q).unwrap());
        assert!(matches!(
            db.get_by(User::USERNAME, name),
            Err(Error::DoesNotExist { .. })
        ));
        assert!(matches!(db.one(&q), Err(Error::DoesNotExist { .. })));
    }
    assert_eq!(
        db.one(&it).err().map(|e| e.to_string()),
        db.one(&it).err().map(|e| e.to_string())
    );
    assert!(matches!(
        db.one(&User::objects().filter(User::COUNTRY.eq("FR"))),
        Err(Error::MultipleObjects { count: 2, .. })
    ));
    assert_eq!(
        db.one(&User::objects().filter(User::COUNTRY.eq("DE")))
            .unwrap()
            .username,
        "bea"
    );
    // The index count is O(1) and counts what the indexes hold, ghosts included.
    assert_eq!(db.count_indexed(&User::objects()).unwrap(), users.len());
    assert_eq!(db.count_indexed(&it).unwrap(), 3);
    assert_eq!(
        db.count_indexed(&User::objects().filter(User::USERNAME.eq("ann")))
            .unwrap(),
        1
    );
    assert_eq!(
        db.count_indexed(&User::objects().filter(User::AGE.gte(30)))
            .unwrap(),
        4
    );
    assert_eq!(tmp_keys::<User>(&mut con, NS), Vec::<String>::new());
}

#[tokio::test]
async fn the_async_front_skips_missing_hashes_too() {
    let server = RedisServer::start();
    let mut sync = db(&server);
    let users = people(&mut sync);
    let keys = Keys::new(NS, &User::META);
    let _: i64 = raw(&server)
        .query(cmd("DEL").arg(keys.instance(users[0].id)))
        .unwrap();
    let db = stdnet_orm::AsyncDb::open(format!("{}/0?namespace={NS}", server.url()))
        .await
        .unwrap();
    let q = User::objects().filter(User::COUNTRY.eq("IT"));
    assert_eq!(db.count(&q).await.unwrap(), 2);
    assert_eq!(db.count_indexed(&q).await.unwrap(), 3);
    assert_eq!(db.ids(&q.clone().limit(1)).await.unwrap(), [users[2].id]);
}
