//! Index entries whose hash is gone (ghosts) and `Db::repair`, against a private
//! redis-server: damage is planted by hand, the ORM must clean it, and the
//! consistency checker must find nothing afterwards.

mod common;
use common::raw;

use std::collections::BTreeSet;

use common::{User, index_problems, model_keys, user};
use resp_conn::{Connection, cmd};
use stdnet_orm::keys::Keys;
use stdnet_orm::{AsyncDb, Db, Model, RepairReport};
use stdnet_test_support::RedisServer;

const NS: &str = "rep:";

fn db(server: &RedisServer) -> Db {
    common::db_in(server, NS)
}

fn keys() -> Keys {
    Keys::new(NS, &User::META)
}

fn run(con: &mut Connection, args: &[&[u8]]) {
    let mut c = cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    con.query::<resp_conn::Value>(&c).unwrap();
}

/// Every key of the model holding `id` as an entry: set member, sorted-set member
/// (or `<value>\0<id>`), unique hash value.
fn entries_of(con: &mut Connection, id: u64) -> Vec<String> {
    let id_text = id.to_string();
    let mut found = Vec::new();
    for key in model_keys::<User>(con, NS) {
        let kind: String = con.query(cmd("TYPE").arg(&key)).unwrap();
        let hit = match kind.as_str() {
            "set" => con
                .query::<bool>(cmd("SISMEMBER").arg(&key).arg(&id_text))
                .unwrap(),
            "zset" => {
                let members: Vec<Vec<u8>> =
                    con.query(cmd("ZRANGE").arg(&key).arg(0).arg(-1)).unwrap();
                members
                    .iter()
                    .any(|m| m == id_text.as_bytes() || m.ends_with(format!("\0{id}").as_bytes()))
            }
            "hash" if key.contains(":uni:") => {
                let values: Vec<String> = con.query(cmd("HVALS").arg(&key)).unwrap();
                values.contains(&id_text)
            }
            _ => key == keys().instance(id),
        };
        if hit {
            found.push(key);
        }
    }
    found
}

fn three(db: &mut Db) -> Vec<User> {
    let mut users = vec![
        user("ann", "IT", 31),
        user("bob", "FR", 40),
        user("cid", "IT", 52),
    ];
    db.save_all(&mut users).unwrap();
    users
}

#[test]
fn deleting_an_instance_whose_hash_is_gone_removes_its_index_entries() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let users = three(&mut db);
    let mut con = raw(&server);
    run(&mut con, &[b"DEL", keys().instance(users[0].id).as_bytes()]);
    assert!(
        !entries_of(&mut con, users[0].id).is_empty(),
        "the ghost's entries are planted"
    );

    assert!(
        !db.delete(&users[0]).unwrap(),
        "a ghost is not a deleted instance"
    );
    assert_eq!(entries_of(&mut con, users[0].id), Vec::<String>::new());
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
    // The others are untouched, and the ghost's unique value is free.
    assert_eq!(db.count(&User::objects()).unwrap(), 2);
    db.save(&mut user("ann", "DE", 20)).unwrap();
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
}

#[test]
fn delete_matching_removes_the_entries_of_ghosts_it_finds() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let users = three(&mut db);
    let mut con = raw(&server);
    // Two ghosts: one the filter finds, one it does not.
    run(&mut con, &[b"DEL", keys().instance(users[0].id).as_bytes()]);
    run(&mut con, &[b"DEL", keys().instance(users[1].id).as_bytes()]);

    let deleted = db
        .delete_matching(&User::objects().filter(User::COUNTRY.eq("IT")))
        .unwrap();
    assert_eq!(deleted, 1, "only cid was a live instance");
    assert_eq!(entries_of(&mut con, users[0].id), Vec::<String>::new());
    assert_eq!(entries_of(&mut con, users[2].id), Vec::<String>::new());
    assert!(
        !entries_of(&mut con, users[1].id).is_empty(),
        "bob was not matched"
    );

    // Every instance: bob's ghost goes too, with no values known to the script.
    assert_eq!(db.delete_matching(&User::objects()).unwrap(), 0);
    assert_eq!(
        model_keys::<User>(&mut con, NS),
        BTreeSet::from([keys().counter()])
    );
}

/// Ann, bob, cid, dan, eve, fay saved; damage of every kind planted.
fn damage(db: &mut Db, con: &mut Connection) -> Vec<User> {
    let mut users = vec![
        user("ann", "IT", 31),
        user("bob", "FR", 40),
        user("cid", "IT", 52),
        user("dan", "DE", 23),
        user("eve", "DE", 64),
        user("fay", "FR", 35),
    ];
    db.save_all(&mut users).unwrap();
    let k = keys();
    let [bob, cid, dan, eve] = [1, 2, 3, 4].map(|n| users[n].id.to_string().into_bytes());
    let ann_hash = k.instance(users[0].id).into_bytes();
    let (ids, uni, age, lex) = (
        k.ids(),
        k.unique("username"),
        k.numeric("age"),
        k.lex("username"),
    );
    let (xx, it, member) = (
        k.index("country", b"XX"),
        k.index("country", b"IT"),
        k.index("role", b"Member"),
    );
    let dan_lex = [&b"dan\0"[..], &dan].concat();
    let (ids, uni, age, lex) = (
        ids.as_bytes(),
        uni.as_bytes(),
        age.as_bytes(),
        lex.as_bytes(),
    );
    let plants: [&[&[u8]]; 11] = [
        // ann's hash is gone: a ghost with every entry (username: unique + prefix;
        // country, role: a set each; age: a set and a score).
        &[b"DEL", &ann_hash],
        // bob: a stale country entry, and a unique value he does not hold.
        &[b"SADD", &xx, &bob],
        &[b"HSET", uni, b"nobody", &bob],
        // cid: missing from his country set, his age score, and his unique entry.
        &[b"SREM", &it, &cid],
        &[b"ZREM", age, &cid],
        &[b"HDEL", uni, b"cid"],
        // dan: a wrong score, and missing from his prefix set.
        &[b"ZADD", age, b"999", &dan],
        &[b"ZREM", lex, &dan_lex],
        // eve: missing from the id set.
        &[b"ZREM", ids, &eve],
        // Members that are not ids.
        &[b"SADD", &member, b"007"],
        &[b"ZADD", lex, b"0", b"zed\0x"],
    ];
    for args in plants {
        run(con, args);
    }
    users
}

/// The per-field counts `damage` calls for: (field, added, removed).
const FIELD_COUNTS: [(&str, u64, u64); 4] = [
    // ann's unique and prefix entries, bob's "nobody", the "zed\0x" member; cid's
    // unique entry and dan's prefix member added.
    ("username", 2, 4),
    // ann's, bob's XX; cid's IT.
    ("country", 1, 2),
    // ann's set member and score, dan's wrong score; cid's score and dan's right one.
    ("age", 2, 3),
    // ann's, "007".
    ("role", 0, 2),
];

/// The report `damage` calls for.
fn check_counts(report: &RepairReport) {
    // Five hashes left; ann's id a ghost, eve's missing.
    assert_eq!(
        (
            report.hashes,
            report.ghosts_removed,
            report.ids_added,
            report.counter_raised
        ),
        (5, 1, 1, false),
        "{report:#?}"
    );
    for (field, added, removed) in FIELD_COUNTS {
        let f = report.field(field).unwrap();
        assert_eq!(
            (f.added, f.removed),
            (added, removed),
            "{field}: {report:#?}"
        );
    }
    assert!(
        report.clashes.is_empty() && report.undecodable.is_empty(),
        "{report:#?}"
    );
    assert_eq!(report.changed_meanwhile, 0);
}

#[test]
fn repair_fixes_every_planted_problem_and_counts_it_exactly() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let users = damage(&mut db, &mut con);
    assert!(!index_problems::<User>(&mut con, NS).is_empty());

    let report = db.repair::<User>().unwrap();
    check_counts(&report);
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
    // eve is listed again (the checker starts from the id set, so ask directly).
    let score: Option<u64> = con
        .query(cmd("ZSCORE").arg(keys().ids()).arg(users[4].id))
        .unwrap();
    assert_eq!(score, Some(users[4].id));
    assert_eq!(entries_of(&mut con, users[0].id), Vec::<String>::new());
    // Queries see the repaired indexes.
    assert_eq!(
        db.ids(&User::objects().filter(User::COUNTRY.eq("IT")))
            .unwrap(),
        [users[2].id]
    );
    assert_eq!(db.get_by(User::USERNAME, "cid").unwrap().id, users[2].id);
    // A second run finds nothing.
    let again = db.repair::<User>().unwrap();
    assert!(again.is_clean(), "{again:#?}");
    assert_eq!(again.hashes, 5);
}

#[tokio::test]
async fn the_async_front_repairs_the_same_way() {
    let server = RedisServer::start();
    let mut con = raw(&server);
    damage(&mut db(&server), &mut con);
    let adb = AsyncDb::open(format!("{}/0?namespace={NS}", server.url()))
        .await
        .unwrap();
    let report = adb.repair::<User>().await.unwrap();
    check_counts(&report);
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
}

#[test]
fn repair_indexes_a_hash_written_by_hand_and_moves_the_counter_past_it() {
    let server = RedisServer::start();
    let mut db = db(&server);
    three(&mut db);
    let mut con = raw(&server);
    // A copy of ann's hash at id 100, unknown to every index.
    let hash: Vec<Vec<u8>> = con.query(cmd("HGETALL").arg(keys().instance(1))).unwrap();
    let mut c = cmd("HSET");
    c.arg(keys().instance(100));
    for (k, v) in hash.chunks(2).map(|p| (&p[0], &p[1])) {
        c.arg(k.as_slice());
        c.arg(if k == b"username" {
            &b"zoe"[..]
        } else {
            v.as_slice()
        });
    }
    con.query::<i64>(&c).unwrap();

    let report = db.repair::<User>().unwrap();
    assert_eq!(
        (report.ids_added, report.counter_raised),
        (1, true),
        "{report:#?}"
    );
    // username: unique + prefix; country, role: a set; age: a set and a score.
    let added: Vec<(&str, u64, u64)> = report
        .fields
        .iter()
        .map(|f| (f.field, f.added, f.removed))
        .collect();
    assert_eq!(
        added,
        [
            ("username", 2, 0),
            ("country", 1, 0),
            ("age", 2, 0),
            ("role", 1, 0)
        ]
    );
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
    assert_eq!(db.get_by(User::USERNAME, "zoe").unwrap().id, 100);
    let mut next = user("new", "IT", 1);
    db.save(&mut next).unwrap();
    assert_eq!(next.id, 101, "the next id comes after the repaired one");
}

#[test]
fn repair_reports_two_instances_holding_one_unique_value() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let users = three(&mut db);
    let mut con = raw(&server);
    // cid's hash says "ann" too (written outside the ORM); the unique hash still
    // gives "ann" to ann and "cid" to cid.
    run(
        &mut con,
        &[
            b"HSET",
            keys().instance(users[2].id).as_bytes(),
            b"username",
            b"ann",
        ],
    );

    let report = db.repair::<User>().unwrap();
    assert_eq!(report.clashes.len(), 1, "{report:#?}");
    let clash = &report.clashes[0];
    assert_eq!(
        (clash.field, &clash.value[..], clash.owner, clash.other),
        ("username", &b"ann"[..], users[0].id, users[2].id)
    );
    // The "cid" entry and prefix member are cid's no more; his "ann" prefix member
    // is added; "ann" stays with ann.
    let f = report.field("username").unwrap();
    assert_eq!((f.added, f.removed), (1, 2), "{report:#?}");
    assert_eq!(db.get_by(User::USERNAME, "ann").unwrap().id, users[0].id);
}

mod before {
    use stdnet_orm::Model;

    /// `post.note` as first deployed: `tag` has no index.
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(app = "post", name = "note")]
    pub struct Note {
        pub id: u64,
        pub tag: String,
        pub stars: u32,
        pub title: String,
    }
}

mod after {
    use stdnet_orm::Model;

    /// `post.note` after `#[model(index)]` on `tag` and `stars`, and `unique` on
    /// `title`.
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(app = "post", name = "note")]
    pub struct Note {
        pub id: u64,
        #[model(index)]
        pub tag: String,
        #[model(index)]
        pub stars: u32,
        #[model(unique)]
        pub title: String,
    }
}

#[test]
fn an_index_declared_on_saved_data_works_after_repair() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut old: Vec<before::Note> = (0..300u32)
        .map(|n| before::Note {
            id: 0,
            tag: ["red", "green", "blue"][n as usize % 3].into(),
            stars: n % 5,
            title: format!("note {n}"),
        })
        .collect();
    db.save_all(&mut old).unwrap();
    let red = || after::Note::objects().filter(after::Note::TAG.eq("red"));
    assert_eq!(db.count(&red()).unwrap(), 0, "no index yet");

    let report = db.repair::<after::Note>().unwrap();
    let counts: Vec<(&str, u64, u64)> = report
        .fields
        .iter()
        .map(|f| (f.field, f.added, f.removed))
        .collect();
    // stars: a set member and a score each.
    assert_eq!(
        counts,
        [("tag", 300, 0), ("stars", 600, 0), ("title", 300, 0)]
    );
    assert_eq!(report.hashes, 300);
    let mut con = raw(&server);
    assert_eq!(
        index_problems::<after::Note>(&mut con, NS),
        Vec::<String>::new()
    );
    let expected: Vec<u64> = old
        .iter()
        .filter(|n| n.tag == "red")
        .map(|n| n.id)
        .collect();
    assert_eq!(db.ids(&red()).unwrap(), expected);
    assert_eq!(
        db.count(&after::Note::objects().filter(after::Note::STARS.gte(3)))
            .unwrap(),
        120
    );
    assert_eq!(
        db.get_by(after::Note::TITLE, "note 7").unwrap().id,
        old[7].id
    );
}

#[test]
fn repair_walks_large_models_in_many_steps() {
    // More hashes than a step reads, and index sets larger than one SCAN page.
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut users: Vec<User> = (0..3000u32)
        .map(|n| user(&format!("u{n}"), ["IT", "FR"][n as usize % 2], 20 + n % 50))
        .collect();
    db.save_all(&mut users).unwrap();
    let mut con = raw(&server);
    // Every other hash gone; the id set emptied.
    for u in users.iter().step_by(2) {
        run(&mut con, &[b"DEL", keys().instance(u.id).as_bytes()]);
    }
    let listed: Vec<Vec<u8>> = con
        .query(cmd("ZRANGE").arg(keys().ids()).arg(0).arg(-1))
        .unwrap();
    let live: BTreeSet<Vec<u8>> = users
        .iter()
        .skip(1)
        .step_by(2)
        .map(|u| u.id.to_string().into_bytes())
        .collect();
    assert_eq!(listed.len(), 3000);
    run(&mut con, &[b"DEL", keys().ids().as_bytes()]);

    let report = db.repair::<User>().unwrap();
    assert_eq!(report.hashes, 1500);
    assert_eq!(report.ids_added, 1500);
    assert_eq!(report.ghosts_removed, 0, "the ghosts were in no id set");
    let removed: Vec<(&str, u64)> = report.fields.iter().map(|f| (f.field, f.removed)).collect();
    assert_eq!(
        removed,
        [
            ("username", 3000),
            ("country", 1500),
            ("age", 3000),
            ("role", 1500)
        ]
    );
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
    let listed: BTreeSet<Vec<u8>> = con
        .query(cmd("ZRANGE").arg(keys().ids()).arg(0).arg(-1))
        .unwrap();
    assert_eq!(listed, live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_running_beside_writers_leaves_every_index_consistent() {
    // Writers move 200 instances between values while repair walks a damaged
    // model: repair must not undo a writer's entries, nor leave its own damage.
    let server = RedisServer::start();
    let mut con = raw(&server);
    let mut sync = db(&server);
    damage(&mut sync, &mut con);
    let mut movers: Vec<User> = (0..200u32)
        .map(|n| user(&format!("m{n}"), "IT", n % 90))
        .collect();
    sync.save_all(&mut movers).unwrap();
    let adb = AsyncDb::open(format!("{}/0?namespace={NS}", server.url()))
        .await
        .unwrap();
    let writers: Vec<_> = movers
        .chunks(50)
        .map(|chunk| {
            let (adb, mut chunk) = (adb.clone(), chunk.to_vec());
            tokio::spawn(async move {
                for round in 0..10u32 {
                    for u in &mut chunk {
                        u.country = ["IT", "FR", "DE"][(round % 3) as usize].into();
                        u.age = (u.age + 7) % 90;
                        u.username = format!("m{}-{round}", u.id);
                        adb.save(u).await.unwrap();
                    }
                }
            })
        })
        .collect();
    let report = adb.repair::<User>().await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    assert!(report.clashes.is_empty(), "{report:#?}");
    assert_eq!(index_problems::<User>(&mut con, NS), Vec::<String>::new());
    // The planted damage (on instances no writer touched) is gone, and the writers'
    // instances are as consistent as they left them: a second run finds nothing.
    let again = adb.repair::<User>().await.unwrap();
    assert!(again.is_clean(), "{again:#?}");
}
