//! Random queries over random objects give what a brute-force filter over the same
//! objects in memory gives, and leave no temporary keys behind.

mod common;

use common::{User, index_problems, user};
use proptest::prelude::*;
use stdnet_orm::{Db, Model, Order, Query};
use stdnet_test_support::RedisServer;

const COUNTRIES: [&str; 3] = ["IT", "FR", "DE"];

/// A filter, both as a query condition and as a predicate.
#[derive(Debug, Clone)]
enum Cond {
    Country(usize),
    CountryIn(Vec<usize>),
    AgeGte(u32),
    AgeLt(u32),
    AgeBetween(u32, u32),
    NameStarts(char),
}

impl Cond {
    fn matches(&self, u: &User) -> bool {
        match self {
            Cond::Country(c) => u.country == COUNTRIES[*c],
            Cond::CountryIn(cs) => cs.iter().any(|c| u.country == COUNTRIES[*c]),
            Cond::AgeGte(a) => u.age >= *a,
            Cond::AgeLt(a) => u.age < *a,
            Cond::AgeBetween(a, b) => u.age >= *a && u.age <= *b,
            Cond::NameStarts(c) => u.username.starts_with(*c),
        }
    }

    fn filter(&self) -> stdnet_orm::Filter<User> {
        match self {
            Cond::Country(c) => User::COUNTRY.eq(COUNTRIES[*c]),
            Cond::CountryIn(cs) => {
                User::COUNTRY.is_in(cs.iter().map(|c| COUNTRIES[*c].to_string()))
            }
            Cond::AgeGte(a) => User::AGE.gte(*a),
            Cond::AgeLt(a) => User::AGE.lt(*a),
            Cond::AgeBetween(a, b) => User::AGE.between(*a, *b),
            Cond::NameStarts(c) => User::USERNAME.startswith(&c.to_string()),
        }
    }
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        (0..3usize).prop_map(Cond::Country),
        proptest::collection::vec(0..3usize, 0..3).prop_map(Cond::CountryIn),
        (0..60u32).prop_map(Cond::AgeGte),
        (0..60u32).prop_map(Cond::AgeLt),
        (0..60u32, 0..60u32).prop_map(|(a, b)| Cond::AgeBetween(a.min(b), a.max(b))),
        prop::sample::select(vec!['a', 'b', 'c', 'x']).prop_map(Cond::NameStarts),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    filters: Vec<Cond>,
    excludes: Vec<Cond>,
    union: Option<Cond>,
    sort: Option<(u8, bool)>,
    offset: isize,
    limit: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::collection::vec(cond(), 0..3),
        proptest::collection::vec(cond(), 0..2),
        proptest::option::of(cond()),
        proptest::option::of((0..3u8, any::<bool>())),
        -8isize..8,
        proptest::option::of(0usize..8),
    )
        .prop_map(|(filters, excludes, union, sort, offset, limit)| Spec {
            filters,
            excludes,
            union,
            sort,
            offset,
            limit,
        })
}

fn people() -> impl Strategy<Value = Vec<(String, usize, u32)>> {
    proptest::collection::vec(("[abcx][a-z]{0,3}", 0..3usize, 0..60u32), 0..25)
}

fn build(spec: &Spec) -> Query<User> {
    let mut q = User::objects();
    for f in &spec.filters {
        q = q.filter(f.filter());
    }
    for e in &spec.excludes {
        q = q.exclude(e.filter());
    }
    if let Some(u) = &spec.union {
        q = q.union(User::objects().filter(u.filter()));
    }
    if let Some((field, desc)) = spec.sort {
        let order = if desc { Order::Desc } else { Order::Asc };
        q = match field {
            0 => q.sort_by(User::AGE, order),
            1 => q.sort_by(User::USERNAME, order),
            _ => q.order_by_id(order),
        };
    }
    q = q.offset(spec.offset);
    if let Some(l) = spec.limit {
        q = q.limit(l);
    }
    q
}

/// The expected ids: filter in memory, order, slice.
fn brute_force(users: &[User], spec: &Spec) -> (Vec<u64>, usize) {
    let mut hits: Vec<&User> = users
        .iter()
        .filter(|u| {
            let base = spec.filters.iter().all(|f| f.matches(u))
                && !spec.excludes.iter().any(|e| e.matches(u));
            base || spec.union.as_ref().is_some_and(|c| c.matches(u))
        })
        .collect();
    let count = hits.len();
    hits.sort_by_key(|u| u.id);
    if let Some((field, desc)) = spec.sort {
        match field {
            // Ties in a sorted set are ordered by member, i.e. the id as text.
            0 => hits.sort_by(|a, b| {
                a.age
                    .cmp(&b.age)
                    .then(a.id.to_string().cmp(&b.id.to_string()))
            }),
            1 => hits.sort_by(|a, b| a.username.cmp(&b.username)),
            _ => {}
        }
        if desc {
            hits.reverse();
        }
    }
    let start = if spec.offset < 0 {
        hits.len().saturating_sub(spec.offset.unsigned_abs())
    } else {
        (spec.offset as usize).min(hits.len())
    };
    let end = spec
        .limit
        .map_or(hits.len(), |l| (start + l).min(hits.len()));
    (hits[start..end].iter().map(|u| u.id).collect(), count)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn queries_match_a_brute_force_filter(people in people(), specs in proptest::collection::vec(spec(), 1..6)) {
        let server = RedisServer::start();
        let mut db = Db::open(server.url()).unwrap().with_namespace("p:");
        let mut users: Vec<User> = people
            .iter()
            .enumerate()
            .map(|(i, (name, c, age))| user(&format!("{name}{i}"), COUNTRIES[*c], *age))
            .collect();
        db.save_all(&mut users).unwrap();
        for spec in &specs {
            let query = build(spec);
            let (expected, count) = brute_force(&users, spec);
            let got = db.ids(&query).unwrap();
            // Username order is unique, age ties are broken by id as text, id order is total.
            prop_assert_eq!(&got, &expected, "{:?}", spec);
            prop_assert_eq!(db.count(&query).unwrap(), count);
            let loaded: Vec<u64> = db.all(&query).unwrap().iter().map(|u| u.pk()).collect();
            prop_assert_eq!(loaded, expected);
        }
        let mut con = resp_conn::Connection::open(server.url()).unwrap();
        let problems = index_problems::<User>(&mut con, "p:");
        prop_assert!(problems.is_empty(), "{:?}", problems);
    }
}
