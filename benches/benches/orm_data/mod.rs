//! The bench model and its dataset, shared by `benches/orm.rs` and
//! `examples/orm_insert.rs`.

use stdnet_orm::Model;

/// The ten countries, one per object in turn.
pub const COUNTRIES: [&str; 10] = ["IT", "FR", "DE", "ES", "US", "GB", "JP", "BR", "IN", "CN"];

/// The model with three indexes: unique `username`, indexed `country` and
/// `age` (6 writes per object).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "bench", name = "user")]
pub struct User {
    pub id: u64,
    #[model(unique)]
    pub username: String,
    #[model(index)]
    pub country: String,
    #[model(index)]
    pub age: u32,
    pub score: f64,
    pub email: String,
}

/// `User` with prefix lookups on its text indexes, stored under the same keys.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(app = "bench", name = "user")]
pub struct PrefixUser {
    pub id: u64,
    #[model(unique, prefix)]
    pub username: String,
    #[model(index, prefix)]
    pub country: String,
    #[model(index)]
    pub age: u32,
    pub score: f64,
    pub email: String,
}

impl From<User> for PrefixUser {
    fn from(u: User) -> Self {
        PrefixUser {
            id: u.id,
            username: u.username,
            country: u.country,
            age: u.age,
            score: u.score,
            email: u.email,
        }
    }
}

/// The `i`-th object of the dataset (not saved: id 0).
pub fn user(i: usize) -> User {
    let age = if i < 99_000 {
        (i % 990) as u32
    } else {
        1000 + (i % 100) as u32
    };
    User {
        id: 0,
        username: format!("user{i:06}"),
        country: COUNTRIES[i % COUNTRIES.len()].to_owned(),
        age,
        score: (i % 1000) as f64 / 8.0,
        email: format!("user{i:06}@example.com"),
    }
}

/// The first `n` objects of the dataset.
pub fn dataset(n: usize) -> Vec<User> {
    (0..n).map(user).collect()
}
