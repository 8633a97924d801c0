//! The scripts' keys, watched on a real server with `MONITOR`: every key a script
//! touches is under the model's hash tag, and every key the client could know before
//! the call was declared in `KEYS` (what Redis Cluster routing and key ACLs rely on).
//! The keys of each command are those the server itself names (`COMMAND GETKEYS`).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use common::{User, user};
use resp_conn::{Connection, cmd};
use stdnet_orm::keys::Keys;
use stdnet_orm::{Db, Model};
use stdnet_test_support::RedisServer;

const NS: &str = "watch:";

/// One script call as the server saw it: the keys it declared and those it touched.
#[derive(Debug)]
struct Call {
    declared: BTreeSet<String>,
    touched: BTreeSet<String>,
}

/// A `MONITOR` connection; [`Monitor::calls`] reads what ran since it started.
struct Monitor {
    reader: BufReader<TcpStream>,
    server_url: String,
}

impl Monitor {
    fn start(server: &RedisServer) -> Monitor {
        let mut stream = server.connect_raw();
        stream.write_all(b"MONITOR\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut ok = String::new();
        reader.read_line(&mut ok).unwrap();
        assert_eq!(ok, "+OK\r\n");
        Monitor {
            reader,
            server_url: server.url(),
        }
    }

    /// The script calls (`EVALSHA`/`EVAL`) since the last read, up to an `ECHO` of a
    /// marker sent now. Commands outside scripts are skipped.
    fn calls(&mut self) -> Vec<Call> {
        let mut con = Connection::open(self.server_url.clone()).unwrap();
        let marker = "monitor-marker";
        let _: String = con.query(cmd("ECHO").arg(marker)).unwrap();
        let mut calls: Vec<Call> = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            // `+<time> [<db> <client or lua>] "CMD" "arg" ...`
            let (source, command) = line[1..]
                .split_once(" [")
                .and_then(|(_, rest)| rest.split_once("] "))
                .expect("a MONITOR line");
            let args = split_args(command);
            if args[0].eq_ignore_ascii_case(b"ECHO") && args[1] == marker.as_bytes() {
                return calls;
            }
            if args[0].eq_ignore_ascii_case(b"COMMAND") {
                continue; // our own GETKEYS lookups
            }
            if args[0].eq_ignore_ascii_case(b"SCRIPT") {
                // The client loads a script after an EVALSHA that the server refused
                // (NOSCRIPT), and then sends that EVALSHA again.
                calls.pop();
                continue;
            }
            let keys = command_keys(&mut con, &args);
            if source.ends_with("lua") {
                let call = calls.last_mut().expect("a script command outside a script");
                call.touched.extend(keys);
            } else if args[0].eq_ignore_ascii_case(b"EVALSHA") {
                calls.push(Call {
                    declared: keys.into_iter().collect(),
                    touched: BTreeSet::new(),
                });
            }
        }
    }
}

/// Splits a MONITOR command line into its (unescaped) arguments, the way the
/// server's inline protocol splits them.
fn split_args(line: &str) -> Vec<Vec<u8>> {
    let (request, _) = resp_parser::request::parse_request(line.as_bytes())
        .expect("a quoted argument list")
        .expect("a whole line");
    request.iter().map(<[u8]>::to_vec).collect()
}

/// The keys of a command, as the server names them.
fn command_keys(con: &mut Connection, args: &[Vec<u8>]) -> Vec<String> {
    let mut c = cmd("COMMAND");
    c.arg("GETKEYS");
    for a in args {
        c.arg(a.as_slice());
    }
    // Commands without key arguments answer with an error.
    con.query::<Vec<String>>(&c).unwrap_or_default()
}

fn keys() -> Keys {
    Keys::new(NS, &User::META)
}

/// Checks the rule for one call: everything touched is under the hash tag, and what
/// was touched without being declared is in `unknowable` (keys that depend on stored
/// data or on ids the script assigns).
fn check(call: &Call, unknowable: impl Fn(&str) -> bool) {
    let prefix = keys().prefix().to_owned();
    for key in call.declared.iter().chain(&call.touched) {
        assert!(key.starts_with(&prefix), "{key} is outside {prefix}");
    }
    let undeclared: Vec<&String> = call.touched.difference(&call.declared).collect();
    for key in undeclared {
        assert!(
            unknowable(key),
            "{key} was known in advance but not declared"
        );
    }
}

#[test]
fn scripts_declare_every_key_known_in_advance() {
    let server = RedisServer::start();
    let mut db = Db::open(format!("{}/0?namespace={NS}", server.url())).unwrap();
    let k = keys();
    let mut monitor = Monitor::start(&server);

    // Insert: only the new instances' hashes (their ids come from the script).
    let mut ann = user("ann", "IT", 31);
    let mut bob = user("bob", "FR", 40);
    bob.bio = Some("a field with a value".into());
    db.save_all(&mut [ann.clone(), bob.clone()]).unwrap();
    ann.id = 1;
    bob.id = 2;
    let calls = monitor.calls();
    assert_eq!(calls.len(), 1);
    let insert = &calls[0];
    for declared in [
        k.ids(),
        k.counter(),
        k.unique("username"),
        k.numeric("age"),
        String::from_utf8(k.index("country", b"IT")).unwrap(),
        String::from_utf8(k.index("age", b"40")).unwrap(),
    ] {
        assert!(
            insert.declared.contains(&declared),
            "{declared} not declared"
        );
    }
    check(insert, |key| key == k.instance(1) || key == k.instance(2));
    assert!(insert.touched.contains(&k.instance(1)));

    // Update with a new country: the old value's index set is the only key that
    // depends on what was stored.
    ann.country = "ES".into();
    db.save(&mut ann).unwrap();
    let calls = monitor.calls();
    let update = &calls[0];
    assert!(update.declared.contains(&k.instance(1)));
    let old_index = String::from_utf8(k.index("country", b"IT")).unwrap();
    assert!(update.touched.contains(&old_index));
    let old_age = String::from_utf8(k.index("age", b"31")).unwrap();
    check(update, |key| key == old_index || key == old_age);

    // Query: index sets of the filter values are declared; temporary results and
    // the hashes of the instances found are not knowable.
    let found = db
        .all(&User::objects().filter(User::COUNTRY.is_in(["ES", "FR"])))
        .unwrap();
    assert_eq!(found.len(), 2);
    let calls = monitor.calls();
    let query = &calls[0];
    assert!(
        query
            .declared
            .contains(&String::from_utf8(k.index("country", b"FR")).unwrap())
    );
    check(query, |key| {
        key.starts_with(&format!("{}:tmp:", k.prefix()))
            || key == k.instance(1)
            || key == k.instance(2)
    });

    // Delete by id: the hash is declared; the stored values' index sets are not
    // knowable.
    db.delete::<User>(&bob).unwrap();
    let calls = monitor.calls();
    let delete = &calls[0];
    assert!(delete.declared.contains(&k.instance(2)));
    check(delete, |key| {
        key.starts_with(&format!("{}:idx:", k.prefix()))
    });
}
