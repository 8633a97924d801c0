//! Inserts the ORM bench's objects into a server, in batches of 1000, and prints the
//! time: the load that `benches/orm-server-instructions.sh` counts redis-server's
//! instructions for.
//!
//! ```sh
//! cargo run --release -p stdnet-benches --example orm_insert -- redis://127.0.0.1:6379/0 20000 [prefix]
//! ```
//!
//! With `prefix` the objects are saved as `PrefixUser` (lexicographic sets on both
//! text fields), else as `User`. It writes under the `{bench.user}` keys of the
//! database it is given.

#[path = "../benches/orm_data/mod.rs"]
mod orm_data;

use std::time::Instant;

use orm_data::{PrefixUser, User, dataset};
use stdnet_orm::{Db, Model};

fn insert<M: Model>(db: &mut Db, mut objects: Vec<M>) {
    for chunk in objects.chunks_mut(1000) {
        db.save_all(chunk).expect("save_all");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: orm_insert <redis-url> <objects> [prefix]");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("a number of objects");
    let prefix = args.next().as_deref() == Some("prefix");
    let mut db = Db::open(url.as_str()).expect("connect");
    let start = Instant::now();
    if prefix {
        insert(
            &mut db,
            dataset(n).into_iter().map(PrefixUser::from).collect(),
        );
    } else {
        insert::<User>(&mut db, dataset(n));
    }
    eprintln!("inserted {n} objects in {:?}", start.elapsed());
}
