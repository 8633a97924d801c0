//! stdnet-orm in one file: declare a model, save instances, query them.
//!
//! ```text
//! cargo run -p stdnet-orm --example quickstart                       # starts a private redis-server
//! REDIS_URL=redis://127.0.0.1:6379/0 cargo run -p stdnet-orm --example quickstart
//! ```
//!
//! Keys go under the namespace `quickstart:` (removed at the end), so the example
//! does not disturb other data on a shared server.

use serde::{Deserialize, Serialize};
use stdnet_orm::{Db, FieldEnum, Model, Order, Timestamp};
use stdnet_test_support::RedisServer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, FieldEnum)]
enum Plan {
    Free,
    Pro,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Prefs {
    theme: String,
    newsletter: bool,
}

#[derive(Model, Debug, Clone)]
#[model(app = "auth", name = "user")]
struct User {
    id: u64,
    #[model(unique, prefix)]
    username: String,
    #[model(index)]
    country: String,
    #[model(index)]
    age: u32,
    score: f64,
    bio: Option<String>,
    #[model(index)]
    joined: Timestamp,
    #[model(index)]
    plan: Plan,
    #[model(json)]
    prefs: Prefs,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, url) = match std::env::var("REDIS_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let server = RedisServer::start();
            let url = server.url();
            (Some(server), url)
        }
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    let mut db = Db::open(format!("{url}{separator}namespace=quickstart:"))?;
    println!("connected to {url}");

    let people = [
        ("ann", "IT", 31, 9.5, Plan::Pro),
        ("bob", "FR", 17, 4.0, Plan::Free),
        ("carla", "IT", 45, 7.25, Plan::Pro),
        ("dan", "DE", 28, 8.0, Plan::Free),
        ("eve", "FR", 52, 6.5, Plan::Pro),
    ];
    let mut users: Vec<User> = people
        .iter()
        .enumerate()
        .map(|(i, &(name, country, age, score, plan))| User {
            id: 0,
            username: name.into(),
            country: country.into(),
            age,
            score,
            bio: (i % 2 == 0).then(|| format!("{name} likes Redis")),
            joined: Timestamp::from_timestamp(1_700_000_000 + i as i64 * 86_400, 0).expect("valid"),
            plan,
            prefs: Prefs {
                theme: "dark".into(),
                newsletter: i % 2 == 1,
            },
        })
        .collect();
    db.save_all(&mut users)?; // one atomic script for the whole batch
    println!(
        "saved {} users with ids {:?}",
        users.len(),
        users.iter().map(|u| u.id).collect::<Vec<_>>()
    );

    let adults = db.all(
        &User::objects()
            .filter(User::AGE.gte(18))
            .filter(User::PLAN.eq(Plan::Pro))
            .sort_by(User::SCORE, Order::Desc),
    )?;
    println!("adult Pro users by score:");
    for u in &adults {
        println!(
            "  {:<6} {} age {:>2} score {:>5}",
            u.username, u.country, u.age, u.score
        );
    }

    let italians = User::objects().filter(User::COUNTRY.eq("IT"));
    println!("users in IT: {}", db.count(&italians)?);
    println!(
        "names starting with 'c' or 'd': {:?}",
        db.values(
            &User::objects()
                .filter(User::USERNAME.startswith("c"))
                .union(User::objects().filter(User::USERNAME.startswith("d"))),
            User::USERNAME,
        )?
    );
    let oldest = db
        .first(&User::objects().sort_by(User::AGE, Order::Desc))?
        .expect("users exist");
    println!("oldest: {} ({})", oldest.username, oldest.age);

    // Unique fields refuse duplicates, and nothing is written.
    let mut clash = users[0].clone();
    clash.id = 0;
    match db.save(&mut clash) {
        Err(e) => println!("saving a second 'ann': {e}"),
        Ok(()) => unreachable!("usernames are unique"),
    }

    // Update one field; its index moves with it.
    let mut bob = db.get_by(User::USERNAME, "bob")?;
    bob.age = 18;
    db.update(&mut bob, &["age"])?;
    println!(
        "adults now: {}",
        db.count(&User::objects().filter(User::AGE.gte(18)))?
    );

    let removed = db.delete_matching(&User::objects())?;
    println!("cleaned up {removed} users");
    Ok(())
}
