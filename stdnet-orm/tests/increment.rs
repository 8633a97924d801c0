//! `Db::increment` against a private redis-server: atomic under concurrency, exact
//! over each type's range, typed errors that write nothing, indexes moved, and the
//! stored text the one Rust would write.

mod common;
use common::raw;

use common::index_problems;
use proptest::prelude::*;
use resp_conn::{Connection, cmd};
use stdnet_orm::keys::Keys;
use stdnet_orm::{AsyncDb, Db, Error, Model};
use stdnet_test_support::RedisServer;

const NS: &str = "inc:";

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "shop", name = "account")]
struct Account {
    id: u64,
    #[model(index)]
    views: u64,
    #[model(unique)]
    rank: u32,
    small: u8,
    signed: i64,
    #[model(index)]
    balance: f64,
    ratio: f32,
    name: String,
}

fn account(rank: u32) -> Account {
    Account {
        id: 0,
        views: 0,
        rank,
        small: 250,
        signed: 0,
        balance: 0.0,
        ratio: 0.0,
        name: format!("acct {rank}"),
    }
}

fn db(server: &RedisServer) -> Db {
    common::db_in(server, NS)
}

fn keys() -> Keys {
    Keys::new(NS, &Account::META)
}

fn stored(con: &mut Connection, id: u64, field: &str) -> Option<String> {
    con.query(cmd("HGET").arg(keys().instance(id)).arg(field))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_never_lose_an_update() {
    let server = RedisServer::start();
    let mut a = account(1);
    a.views = 1000;
    db(&server).save(&mut a).unwrap();
    let adb = AsyncDb::open(format!("{}/0?namespace={NS}", server.url()))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let adb = adb.clone();
            let a = a.clone();
            tokio::spawn(async move { adb.increment(&a, Account::VIEWS, 1).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    // Each increment saw its own value: 1001 ... 1200, once each.
    assert_eq!(seen, (1001..=1200).collect::<Vec<u64>>());
    assert_eq!(adb.get::<Account>(a.id).await.unwrap().views, 1200);
    let mut con = raw(&server);
    assert_eq!(
        index_problems::<Account>(&mut con, NS),
        Vec::<String>::new()
    );
    let found = adb
        .ids(&Account::objects().filter(Account::VIEWS.eq(1200u64)))
        .await
        .unwrap();
    assert_eq!(found, [a.id]);
}

#[test]
fn an_increment_moves_the_fields_index_entries() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut a = account(1);
    let mut b = account(5);
    db.save(&mut a).unwrap();
    db.save(&mut b).unwrap();
    assert_eq!(db.increment(&a, Account::VIEWS, 7).unwrap(), 7);
    assert_eq!(db.increment(&a, Account::RANK, 2).unwrap(), 3);
    assert_eq!(db.increment(&a, Account::BALANCE, -2.5).unwrap(), -2.5);
    let mut con = raw(&server);
    assert_eq!(
        index_problems::<Account>(&mut con, NS),
        Vec::<String>::new()
    );
    let q = Account::objects().filter(Account::VIEWS.eq(7u64));
    assert_eq!(db.ids(&q).unwrap(), [a.id]);
    let q = Account::objects().filter(Account::VIEWS.eq(0u64));
    assert_eq!(db.ids(&q).unwrap(), [b.id]);
    assert_eq!(
        db.ids(&Account::objects().filter(Account::BALANCE.lt(-1.0)))
            .unwrap(),
        [a.id]
    );
    assert_eq!(db.get_by(Account::RANK, 3u32).unwrap().id, a.id);
    assert!(
        db.get_by(Account::RANK, 1u32).is_err(),
        "the old value is free"
    );
    // An unindexed field changes only in the hash.
    assert_eq!(db.increment(&a, Account::SIGNED, -9).unwrap(), -9);
    assert_eq!(db.get::<Account>(a.id).unwrap().signed, -9);
}

#[test]
fn a_unique_clash_writes_nothing() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut a = account(1);
    let mut b = account(2);
    db.save(&mut a).unwrap();
    db.save(&mut b).unwrap();
    match db.increment(&a, Account::RANK, 1) {
        Err(Error::Unique { field, value, .. }) => {
            assert_eq!((field.as_str(), value.as_str()), ("rank", "2"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.get::<Account>(a.id).unwrap(), a);
    let mut con = raw(&server);
    assert_eq!(
        index_problems::<Account>(&mut con, NS),
        Vec::<String>::new()
    );
    // A value whose owner's hash is gone is free.
    con.query::<i64>(cmd("DEL").arg(keys().instance(b.id)))
        .unwrap();
    assert_eq!(db.increment(&a, Account::RANK, 1).unwrap(), 2);
    assert_eq!(db.get_by(Account::RANK, 2u32).unwrap().id, a.id);
}

#[test]
fn integers_add_exactly_and_refuse_to_leave_their_type() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut a = account(1);
    a.views = u64::MAX - 5;
    a.signed = i64::MIN + 3;
    db.save(&mut a).unwrap();
    let mut con = raw(&server);
    // Beyond 2^53, where a double would round.
    assert_eq!(db.increment(&a, Account::VIEWS, 4).unwrap(), u64::MAX - 1);
    assert_eq!(db.increment(&a, Account::VIEWS, 1).unwrap(), u64::MAX);
    assert_eq!(
        stored(&mut con, a.id, "views").unwrap(),
        u64::MAX.to_string()
    );
    assert_eq!(db.increment(&a, Account::SIGNED, -3).unwrap(), i64::MIN);
    assert_eq!(db.increment(&a, Account::SIGNED, i64::MAX).unwrap(), -1);
    assert_eq!(db.increment(&a, Account::SMALL, 5).unwrap(), 255);
    assert_eq!(db.increment(&a, Account::SMALL, -255).unwrap(), 0);
    let before = db.get::<Account>(a.id).unwrap();
    for (field, result) in [
        ("views", db.increment(&a, Account::VIEWS, 1).map(|_| ())),
        ("small", db.increment(&a, Account::SMALL, -1).map(|_| ())),
        ("small", db.increment(&a, Account::SMALL, 256).map(|_| ())),
        ("rank", db.increment(&a, Account::RANK, -2).map(|_| ())),
        (
            "signed",
            db.increment(&a, Account::SIGNED, i64::MIN).map(|_| ()),
        ),
    ] {
        match result {
            Err(Error::Overflow {
                field: f, model, ..
            }) => {
                assert_eq!((f.as_str(), model.as_str()), (field, "shop.account"))
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(db.get::<Account>(a.id).unwrap(), before, "nothing written");
    assert_eq!(
        index_problems::<Account>(&mut con, NS),
        Vec::<String>::new()
    );
}

#[test]
fn bad_stored_values_and_gone_instances_are_typed_errors() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut a = account(1);
    db.save(&mut a).unwrap();
    let mut con = raw(&server);
    let k = keys().instance(a.id);
    for (field, bad) in [
        ("views", "abc"),
        ("small", "300"),
        ("views", "-1"),
        ("balance", "0x10"),
        // ("balance", "inf") is a stored f64: adding to it is an Overflow (tests/attack.rs).
        ("views", "1.5"),
    ] {
        con.query::<i64>(cmd("HSET").arg(&k).arg(field).arg(bad))
            .unwrap();
        let result = match field {
            "views" => db.increment(&a, Account::VIEWS, 1).map(|_| ()),
            "small" => db.increment(&a, Account::SMALL, 1).map(|_| ()),
            _ => db.increment(&a, Account::BALANCE, 1.0).map(|_| ()),
        };
        match result {
            Err(Error::Decode {
                field: f,
                reason,
                id,
                ..
            }) => {
                assert_eq!((f.as_str(), id), (field, a.id));
                assert!(reason.contains(bad), "{reason}");
            }
            other => panic!("{field} = {bad}: {other:?}"),
        }
        assert_eq!(
            stored(&mut con, a.id, field).unwrap(),
            bad,
            "nothing written"
        );
    }
    con.query::<i64>(cmd("HDEL").arg(&k).arg("signed")).unwrap();
    assert!(matches!(
        db.increment(&a, Account::SIGNED, 1),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        db.increment(&a, Account::BALANCE, f64::NAN),
        Err(Error::Validation { .. })
    ));
    con.query::<i64>(cmd("DEL").arg(&k)).unwrap();
    assert!(matches!(
        db.increment(&a, Account::VIEWS, 1),
        Err(Error::DoesNotExist { .. })
    ));
    assert_eq!(stored(&mut con, a.id, "views"), None, "no partial hash");
    assert!(matches!(
        db.increment(&account(9), Account::VIEWS, 1),
        Err(Error::DoesNotExist { .. })
    ));
}

#[test]
fn floats_that_become_infinite_are_refused() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let mut a = account(1);
    a.balance = f64::MAX;
    a.ratio = f32::MAX;
    db.save(&mut a).unwrap();
    assert!(matches!(
        db.increment(&a, Account::BALANCE, f64::MAX),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        db.increment(&a, Account::RATIO, f32::MAX),
        Err(Error::Overflow { .. })
    ));
    assert_eq!(db.get::<Account>(a.id).unwrap(), a);
    // Far below an ulp: the value stays, and stays finite.
    assert_eq!(db.increment(&a, Account::RATIO, 1.0).unwrap(), f32::MAX);
}

/// Finite floats of every magnitude, subnormals and zeros included.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        (-1000i32..1000, 0u32..4).prop_map(|(n, d)| f64::from(n) / f64::from(10u32.pow(d))),
    ]
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        proptest::num::f32::NORMAL | proptest::num::f32::SUBNORMAL | proptest::num::f32::ZERO,
        (-1000i32..1000, 0u32..4).prop_map(|(n, d)| n as f32 / 10u32.pow(d) as f32),
    ]
}

#[test]
fn float_results_are_the_rust_sum_stored_as_rust_writes_it() {
    let server = RedisServer::start();
    let mut db = db(&server);
    let con = raw(&server);
    let mut a = account(1);
    db.save(&mut a).unwrap();
    let config = ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let strategy = (any_f64(), any_f64(), any_f32(), any_f32());
    let mut runner = proptest::test_runner::TestRunner::new(config);
    // The runner takes a `Fn`: the connections and the instance are borrowed per case.
    let state = std::cell::RefCell::new((db, con, a));
    let result = runner.run(&strategy, |(x, by, r, rby)| {
        let (db, con, a) = &mut *state.borrow_mut();
        let con = &mut *con;
        a.balance = x;
        a.ratio = r;
        db.save(a).unwrap();
        // The script's sum and stored text against Rust's, for one float column.
        macro_rules! check {
            ($column:expr, $field:literal, $x:expr, $by:expr) => {{
                let sum = $x + $by;
                match db.increment(&*a, $column, $by) {
                    Ok(got) => {
                        prop_assert!(sum.is_finite());
                        prop_assert_eq!(got.to_bits(), sum.to_bits(), "{} + {}", $x, $by);
                        prop_assert_eq!(stored(con, a.id, $field).unwrap(), sum.to_string());
                    }
                    Err(Error::Overflow { .. }) => prop_assert!(!sum.is_finite()),
                    Err(e) => return Err(TestCaseError::fail(format!("{} + {}: {e}", $x, $by))),
                }
            }};
        }
        check!(Account::BALANCE, "balance", x, by);
        check!(Account::RATIO, "ratio", r, rby);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (_, mut con, _) = state.into_inner();
    assert_eq!(
        index_problems::<Account>(&mut con, NS),
        Vec::<String>::new()
    );
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "shop", name = "stock")]
struct Stock {
    id: u64,
    #[model(index)]
    count: i32,
    #[model(version)]
    version: u64,
}

/// An increment bumps the version, so a copy read before it cannot be saved over it
/// (which would bring the old count back): the save is a conflict and writes nothing.
#[test]
fn an_increment_bumps_the_version_so_a_stale_copy_cannot_undo_it() {
    let server = RedisServer::start();
    let mut db = Db::open(server.url()).unwrap().with_namespace(NS);
    let mut stock = Stock {
        id: 0,
        count: 10,
        version: 0,
    };
    db.save(&mut stock).unwrap();
    assert_eq!(stock.version, 1);
    let mut stale = stock.clone();
    assert_eq!(db.increment(&stock, Stock::COUNT, 5).unwrap(), 15);
    let stored = db.get::<Stock>(stock.id).unwrap();
    assert_eq!((stored.count, stored.version), (15, 2));
    stale.count = 11;
    assert!(matches!(
        db.save(&mut stale),
        Err(Error::Conflict { id, .. }) if id == stock.id
    ));
    let stored = db.get::<Stock>(stock.id).unwrap();
    assert_eq!(
        (stored.count, stored.version),
        (15, 2),
        "the increment stands"
    );
    // The fresh copy saves.
    let mut fresh = stored;
    fresh.count = 16;
    db.save(&mut fresh).unwrap();
    assert_eq!(fresh.version, 3);
    let mut con = Connection::open(server.url()).unwrap();
    assert!(index_problems::<Stock>(&mut con, NS).is_empty());
}
