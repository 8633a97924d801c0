//! The ORM's rules, one test each, against a private redis-server.

mod common;
use common::raw;

use common::{Prefs, Role, User, index_problems, model_keys, user};
use resp_conn::cmd;
use stdnet_orm::keys::Keys;
use stdnet_orm::{Db, Error, Model, Order, Query};
use stdnet_test_support::RedisServer;

const NS: &str = "test:";

fn db(server: &RedisServer) -> Db {
    common::db_in(server, NS)
}

fn keys() -> Keys {
    Keys::new(NS, &User::META)
}

#[test]
fn auto_ids_count_up_and_explicit_ids_bump_the_counter() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut users: Vec<User> = ["a", "b", "c"].iter().map(|n| user(n, "IT", 30)).collect();
    for u in &mut users {
        db.save(u).unwrap();
    }
    assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), [1, 2, 3]);
    let mut explicit = user("d", "IT", 30);
    explicit.id = 10;
    db.save(&mut explicit).unwrap();
    let mut next = user("e", "IT", 30);
    db.save(&mut next).unwrap();
    assert_eq!((explicit.id, next.id), (10, 11));
    assert_eq!(db.get::<User>(10).unwrap(), explicit);
}

#[test]
fn a_batch_mixing_new_and_saved_instances_gets_the_right_ids() {
    // The save script sends a new instance with every field in one slot and one with
    // an empty field in four, and replies with the first new id only: the ids each
    // instance gets back must still be its own.
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut saved = user("saved", "IT", 30);
    db.save(&mut saved).unwrap();
    let full = |name: &str| User {
        bio: Some(format!("{name} has a bio")),
        ..user(name, "FR", 40)
    };
    saved.age = 31;
    let mut explicit = full("explicit");
    explicit.id = 7;
    let mut batch = vec![
        full("new1"),
        user("new2", "DE", 50),
        saved.clone(),
        full("new3"),
        explicit,
        user("new4", "DE", 51),
    ];
    db.save_all(&mut batch).unwrap();
    let ids: Vec<u64> = batch.iter().map(|u| u.id).collect();
    // The explicit id moves the counter first; the new ones come after it.
    assert_eq!(ids, [8, 9, saved.id, 10, 7, 11]);
    for u in &batch {
        assert_eq!(&db.get::<User>(u.id).unwrap(), u, "instance {}", u.id);
    }
    let mut next = full("after");
    db.save(&mut next).unwrap();
    assert_eq!(next.id, 12);
    assert!(index_problems::<User>(&mut raw(&server), NS).is_empty());
}

#[test]
fn saved_instances_read_back_equal() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut u = user("ann", "IT", 31);
    u.bio = Some("hello: world\r\n".into());
    u.prefs = Prefs {
        theme: "light".into(),
        emails: true,
    };
    u.role = Role::Admin;
    db.save(&mut u).unwrap();
    assert_eq!(db.get::<User>(u.id).unwrap(), u);
    assert!(matches!(
        db.get::<User>(999),
        Err(Error::DoesNotExist { .. })
    ));
    // The stored layout is the documented one.
    let mut con = raw(&server);
    let stored: std::collections::HashMap<String, String> = con
        .query(cmd("HGETALL").arg(keys().instance(u.id)))
        .unwrap();
    assert_eq!(stored["username"], "ann");
    assert_eq!(stored["role"], "Admin");
    assert_eq!(stored["joined"], "2024-05-17T10:00:00.000000Z");
    assert_eq!(stored["prefs"], r#"{"theme":"light","emails":true}"#);
}

#[test]
fn a_unique_clash_leaves_no_trace() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut first = user("ann", "IT", 31);
    db.save(&mut first).unwrap();
    let mut con = raw(&server);
    let before = model_keys::<User>(&mut con, NS);
    let mut clash = user("ann", "FR", 40);
    match db.save(&mut clash) {
        Err(Error::Unique {
            model,
            field,
            value,
        }) => {
            assert_eq!(
                (model.as_str(), field.as_str(), value.as_str()),
                ("auth.user", "username", "ann")
            );
        }
        other => panic!("expected a unique error, got {other:?}"),
    }
    assert_eq!(clash.id, 0);
    assert_eq!(
        model_keys::<User>(&mut con, NS),
        before,
        "no hash, no index entry"
    );
    let counter: u64 = con.query(cmd("GET").arg(keys().counter())).unwrap();
    assert_eq!(counter, 1, "counter not advanced");
    // A batch with a clash inside it writes none of the batch.
    let mut batch = vec![
        user("bob", "DE", 20),
        user("cid", "DE", 21),
        user("bob", "DE", 22),
    ];
    assert!(matches!(db.save_all(&mut batch), Err(Error::Unique { .. })));
    assert_eq!(model_keys::<User>(&mut con, NS), before);
    assert!(index_problems::<User>(&mut con, NS).is_empty());
}

#[test]
fn validation_runs_before_anything_is_sent() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut bad = user("", "IT", 30);
    match db.save(&mut bad) {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "username"),
        other => panic!("{other:?}"),
    }
    assert!(model_keys::<User>(&mut raw(&server), NS).is_empty());
}

#[test]
fn an_update_moves_index_entries() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut u = user("ann", "IT", 31);
    db.save(&mut u).unwrap();
    u.country = "FR".into();
    u.username = "anna".into();
    u.age = 32;
    db.save(&mut u).unwrap();
    let mut con = raw(&server);
    let old: Vec<u64> = con
        .query(cmd("SMEMBERS").arg(keys().index("country", b"IT")))
        .unwrap();
    assert!(old.is_empty(), "the old value's set no longer holds the id");
    assert_eq!(
        db.ids(&User::objects().filter(User::COUNTRY.eq("FR")))
            .unwrap(),
        [u.id]
    );
    // The old unique value is free again.
    db.save(&mut user("ann", "IT", 20)).unwrap();
    assert!(index_problems::<User>(&mut con, NS).is_empty());
}

#[test]
fn a_partial_update_touches_only_its_fields() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut u = user("ann", "IT", 31);
    db.save(&mut u).unwrap();
    let mut con = raw(&server);
    // Someone else changes the country behind our back.
    con.query::<()>(
        cmd("HSET")
            .arg(keys().instance(u.id))
            .arg("score")
            .arg("7.5"),
    )
    .unwrap();
    u.age = 40;
    u.score = 0.0; // not in the update: must not be written
    db.update(&mut u, &["age"]).unwrap();
    let back = db.get::<User>(u.id).unwrap();
    assert_eq!((back.age, back.score), (40, 7.5));
    assert_eq!(
        db.ids(&User::objects().filter(User::AGE.eq(40))).unwrap(),
        [u.id]
    );
    assert!(
        db.ids(&User::objects().filter(User::AGE.eq(31)))
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        db.update(&mut u, &["nonexistent"]),
        Err(Error::InvalidQuery { .. })
    ));
}

#[test]
fn delete_removes_every_key_of_the_instance() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut con = raw(&server);
    let mut keep = user("keep", "IT", 1);
    db.save(&mut keep).unwrap();
    let before = model_keys::<User>(&mut con, NS);
    let mut gone = user("gone", "FR", 2);
    gone.bio = Some("bio".into());
    db.save(&mut gone).unwrap();
    assert!(db.delete(&gone).unwrap());
    assert!(!db.delete(&gone).unwrap(), "already gone");
    assert_eq!(model_keys::<User>(&mut con, NS), before);
    assert!(index_problems::<User>(&mut con, NS).is_empty());
}

#[test]
fn stored_data_that_does_not_fit_is_a_decode_error() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut u = user("ann", "IT", 31);
    db.save(&mut u).unwrap();
    raw(&server)
        .query::<()>(cmd("HSET").arg(keys().instance(u.id)).arg("age").arg("abc"))
        .unwrap();
    match db.get::<User>(u.id) {
        Err(Error::Decode {
            model,
            id,
            field,
            reason,
        }) => {
            assert_eq!(
                (model.as_str(), id, field.as_str()),
                ("auth.user", u.id, "age")
            );
            assert!(reason.contains("abc"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

fn populate(db: &mut Db) -> Vec<User> {
    let mut users = vec![
        user("ann", "IT", 31),
        user("bob", "FR", 17),
        user("carl", "IT", 45),
        user("cora", "DE", 25),
        user("dan", "FR", 31),
        user("dora", "IT", 62),
    ];
    users[3].bio = Some("x".into());
    users[5].role = Role::Guest;
    db.save_all(&mut users).unwrap();
    users
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

#[test]
fn filters_ranges_and_prefixes() {
    let server = RedisServer::start();
    let mut db = db(&server);
    populate(&mut db);
    let q = |q: Query<User>| -> Vec<String> {
        names(&db_all(&server, &q))
            .into_iter()
            .map(String::from)
            .collect()
    };
    assert_eq!(
        q(User::objects().filter(User::COUNTRY.eq("IT"))),
        ["ann", "carl", "dora"]
    );
    assert_eq!(
        q(User::objects().filter(User::COUNTRY.is_in(["FR", "DE"]))),
        ["bob", "cora", "dan"]
    );
    assert_eq!(
        q(User::objects().filter(User::AGE.gte(31))),
        ["ann", "carl", "dan", "dora"]
    );
    assert_eq!(
        q(User::objects().filter(User::AGE.gt(31))),
        ["carl", "dora"]
    );
    assert_eq!(q(User::objects().filter(User::AGE.lt(25))), ["bob"]);
    assert_eq!(
        q(User::objects().filter(User::AGE.lte(25))),
        ["bob", "cora"]
    );
    assert_eq!(
        q(User::objects().filter(User::AGE.between(25, 31))),
        ["ann", "cora", "dan"]
    );
    assert_eq!(
        q(User::objects().filter(User::USERNAME.startswith("c"))),
        ["carl", "cora"]
    );
    assert_eq!(
        q(User::objects().filter(User::ROLE.eq(Role::Guest))),
        ["dora"]
    );
    assert_eq!(
        q(User::objects()
            .filter(User::COUNTRY.eq("IT"))
            .exclude(User::AGE.gt(40))),
        ["ann"]
    );
    assert_eq!(
        q(User::objects()
            .filter(User::COUNTRY.eq("DE"))
            .union(User::objects().filter(User::AGE.lt(18)))),
        ["bob", "cora"]
    );
    assert_eq!(
        q(User::objects()
            .filter(User::AGE.gte(30))
            .intersect(User::objects().filter(User::COUNTRY.eq("FR")))),
        ["dan"]
    );
    assert!(q(User::objects().filter(User::COUNTRY.eq("XX"))).is_empty());
}

fn db_all(server: &RedisServer, q: &Query<User>) -> Vec<User> {
    db(server).all(q).unwrap()
}

#[test]
fn sorting_and_slicing() {
    let server = RedisServer::start();
    let mut db = db(&server);
    populate(&mut db);
    let all = |db: &mut Db, q: Query<User>| names(&db.all(&q).unwrap()).join(",");
    assert_eq!(
        all(
            &mut db,
            User::objects().sort_by(User::AGE, Order::Asc).limit(3)
        ),
        "bob,cora,ann"
    );
    assert_eq!(
        all(
            &mut db,
            User::objects().sort_by(User::AGE, Order::Desc).limit(2)
        ),
        "dora,carl"
    );
    assert_eq!(
        all(
            &mut db,
            User::objects()
                .sort_by(User::USERNAME, Order::Desc)
                .limit(2)
        ),
        "dora,dan"
    );
    // Not indexed: sorted through the hashes.
    assert_eq!(
        all(
            &mut db,
            User::objects().sort_by(User::SCORE, Order::Asc).limit(2)
        ),
        "bob,cora"
    );
    assert_eq!(
        all(&mut db, User::objects().order_by_id(Order::Desc).limit(1)),
        "dora"
    );
    assert_eq!(all(&mut db, User::objects().offset(1).limit(2)), "bob,carl");
    assert_eq!(all(&mut db, User::objects().offset(-2)), "dan,dora");
    assert_eq!(
        all(
            &mut db,
            User::objects()
                .sort_by(User::AGE, Order::Asc)
                .offset(-2)
                .limit(1)
        ),
        "carl"
    );
    assert_eq!(all(&mut db, User::objects().offset(10)), "");
    assert_eq!(all(&mut db, User::objects().limit(0)), "");
}

#[test]
fn counts_ids_values_and_partial_loads() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let users = populate(&mut db);
    let it = User::objects().filter(User::COUNTRY.eq("IT"));
    assert_eq!(db.count(&it).unwrap(), 3);
    // A unique field counts through its value -> id hash.
    assert_eq!(
        db.count(&User::objects().filter(User::USERNAME.eq("ann")))
            .unwrap(),
        1
    );
    assert_eq!(
        db.count(&User::objects().filter(User::USERNAME.eq("nobody")))
            .unwrap(),
        0
    );
    assert_eq!(
        db.ids(&User::objects().filter(User::USERNAME.is_in(["bob", "carl", "nobody"])))
            .unwrap(),
        [users[1].id, users[2].id]
    );
    assert!(db.exists(&it).unwrap());
    assert!(
        !db.exists(&User::objects().filter(User::AGE.gt(100)))
            .unwrap()
    );
    assert_eq!(
        db.ids(&it).unwrap(),
        [users[0].id, users[2].id, users[5].id]
    );
    assert_eq!(db.values(&it, User::AGE).unwrap(), [31, 45, 62]);
    assert_eq!(
        db.values(&User::objects(), User::BIO).unwrap()[3].as_deref(),
        Some("x")
    );
    let rows = db
        .load_only(&it.clone().limit(1), &["username", "age"])
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get(User::USERNAME).unwrap(), "ann");
    assert_eq!(rows[0].get(User::AGE).unwrap(), 31);
    assert!(rows[0].raw("country").is_none(), "not loaded");
}

#[test]
fn get_by_one_and_or_create() {
    let server = RedisServer::start();
    let mut db = db(&server);
    populate(&mut db);
    assert_eq!(db.get_by(User::USERNAME, "carl").unwrap().age, 45);
    assert!(matches!(
        db.get_by(User::USERNAME, "zed"),
        Err(Error::DoesNotExist { .. })
    ));
    match db.one(&User::objects().filter(User::COUNTRY.eq("IT"))) {
        Err(Error::MultipleObjects { count, .. }) => assert!(count >= 2),
        other => panic!("{other:?}"),
    }
    let lookup = User::objects().filter(User::USERNAME.eq("zed"));
    let (zed, created) = db.get_or_create(&lookup, || user("zed", "US", 50)).unwrap();
    assert!(created && zed.id > 0);
    let (again, created) = db.get_or_create(&lookup, || unreachable!()).unwrap();
    assert!(!created);
    assert_eq!(again.id, zed.id);
    let (updated, created) = db
        .update_or_create(&lookup, |u| u.age = 51, || unreachable!())
        .unwrap();
    assert!(!created);
    assert_eq!(db.get::<User>(updated.id).unwrap().age, 51);
}

#[test]
fn deleting_a_query_removes_its_instances() {
    let server = RedisServer::start();
    let mut db = db(&server);
    populate(&mut db);
    let n = db
        .delete_matching(&User::objects().filter(User::COUNTRY.eq("FR")))
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(db.count(&User::objects()).unwrap(), 4);
    assert!(index_problems::<User>(&mut raw(&server), NS).is_empty());
}

#[test]
fn namespaces_keep_tenants_apart() {
    let server = RedisServer::start();
    let mut a = Db::open(format!("{}?namespace=a:", server.url())).unwrap();
    let mut b = Db::open(server.url()).unwrap().with_namespace("b:");
    a.save(&mut user("same", "IT", 1)).unwrap();
    b.save(&mut user("same", "IT", 1)).unwrap();
    assert_eq!(a.count(&User::objects()).unwrap(), 1);
    assert_eq!(b.count(&User::objects()).unwrap(), 1);
}

#[tokio::test]
async fn the_async_front_runs_the_same_operations() {
    let server = RedisServer::start();
    let db = stdnet_orm::AsyncDb::open(format!("{}?namespace={NS}", server.url()))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut u = user(&format!("user{i}"), if i % 2 == 0 { "IT" } else { "FR" }, i);
            db.save(&mut u).await.unwrap();
            u.id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    assert_eq!(ids, (1..=50).collect::<Vec<u64>>());
    let it = User::objects()
        .filter(User::COUNTRY.eq("IT"))
        .filter(User::AGE.lt(10));
    assert_eq!(db.count(&it).await.unwrap(), 5);
    let youngest = db
        .first(&User::objects().sort_by(User::AGE, Order::Asc))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(youngest.username, "user0");
    assert!(index_problems::<User>(&mut raw(&server), NS).is_empty());
}

#[test]
fn concurrent_saves_keep_indexes_consistent() {
    let server = RedisServer::start();
    let url = format!("{}?namespace={NS}", server.url());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut db = Db::open(url.as_str()).unwrap();
                for i in 0..100u32 {
                    // Everyone updates a shared set of usernames and creates new ones.
                    let name = format!("shared{}", i % 10);
                    let found = db
                        .first(&User::objects().filter(User::USERNAME.eq(name.clone())))
                        .unwrap();
                    let mut u = found.unwrap_or_else(|| user(&name, "IT", i));
                    u.country = ["IT", "FR", "DE"][(i as usize + t) % 3].into();
                    u.age = i + t as u32;
                    match db.save(&mut u) {
                        Ok(()) | Err(Error::Unique { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    db.save(&mut user(&format!("t{t}-{i}"), "US", i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut con = raw(&server);
    let problems = index_problems::<User>(&mut con, NS);
    assert!(problems.is_empty(), "{problems:#?}");
    let mut db = db(&server);
    assert_eq!(
        db.count(&User::objects().filter(User::COUNTRY.eq("US")))
            .unwrap(),
        800
    );
}

#[derive(stdnet_orm::Model, Debug, Clone, PartialEq)]
#[model(app = "blog")]
struct Post {
    #[model(pk)]
    number: u64,
    #[model(index)]
    published: stdnet_orm::Date,
    #[model(index)]
    views: Option<u64>,
    #[model(default)]
    tags: String,
    #[model(default = "\"draft\".to_string()")]
    state: String,
}

fn post(day: u32, views: Option<u64>) -> Post {
    Post {
        number: 0,
        published: stdnet_orm::Date::from_ymd_opt(2024, 1, day).unwrap(),
        views,
        tags: "rust".into(),
        state: "live".into(),
    }
}

#[test]
fn dates_optional_numbers_and_defaults() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut posts = vec![
        post(1, Some(10)),
        post(5, None),
        post(9, Some(3)),
        post(20, Some(7)),
    ];
    db.save_all(&mut posts).unwrap();
    assert_eq!(
        posts.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "a pk not named id"
    );
    let early = Post::objects().filter(Post::PUBLISHED.between(
        stdnet_orm::Date::from_ymd_opt(2024, 1, 2).unwrap(),
        stdnet_orm::Date::from_ymd_opt(2024, 1, 10).unwrap(),
    ));
    assert_eq!(db.ids(&early).unwrap(), [2, 3]);
    // A nullable number: `None` has no index entry, and sorting keeps it (via SORT BY).
    assert_eq!(
        db.ids(&Post::objects().filter(Post::VIEWS.gte(5))).unwrap(),
        [1, 4]
    );
    assert_eq!(
        db.ids(&Post::objects().sort_by(Post::VIEWS, Order::Desc))
            .unwrap(),
        [1, 4, 3, 2]
    );
    // Fields missing from a stored hash take their declared defaults.
    let key = Keys::new(NS, &Post::META).instance(1);
    raw(&server)
        .query::<()>(cmd("HDEL").arg(&key).arg("tags").arg("state"))
        .unwrap();
    let p = db.get::<Post>(1).unwrap();
    assert_eq!((p.tags.as_str(), p.state.as_str()), ("", "draft"));
    // An empty `in` matches nothing; exclude alone starts from everything.
    assert!(
        db.ids(&Post::objects().filter(Post::VIEWS.is_in::<u64>([])))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.ids(&Post::objects().exclude(Post::VIEWS.lt(8))).unwrap(),
        [1, 2]
    );
}
