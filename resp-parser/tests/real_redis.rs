//! The parser against replies from a real, private `redis-server` (RESP2 and RESP3).
//!
//! Each test starts its own server (`stdnet-test-support`), sends commands encoded with
//! `encode::encode_command` over a plain `TcpStream`, and reads the socket into a
//! buffer until [`parse`] says a reply is complete. Every reply read is also checked
//! for what a client relies on whatever the command:
//!
//! * `parse` uses exactly the reply's bytes, and every strict prefix of them is
//!   `Ok(None)` (incomplete, never an error or a wrong frame);
//! * the frame encodes back to the very bytes the server sent;
//! * at the end of each test, the whole byte stream of the connection, fed to a
//!   [`Decoder`] in 1-, 7- and 4096-byte pieces, gives the same frames as `parse`.
//!
//! The expected frames were taken from Redis 7.0 (captured first, then written down).
//! Error texts are checked by their prefix, which is what differs between versions.
//!
//! With `WRITE_FUZZ_SEEDS=1`, the test `write_fuzz_seeds` runs the others again and
//! writes each distinct reply read (up to 64 KiB) and each connection's whole stream
//! to `fuzz/corpus/seed/` as `resp2-*.resp`, `resp3-*.resp` and `session-*.resp`:
//!
//! ```sh
//! WRITE_FUZZ_SEEDS=1 cargo test -p resp-parser --test real_redis
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

use resp_parser::encode::encode_command;
use resp_parser::{Attributed, Decoder, Double, Frame, GenericFrame, parse};
use stdnet_test_support::RedisServer;

/// An owned frame, for comparing frames parsed from different buffers.
type Owned = GenericFrame<Vec<u8>>;

/// Replies up to this size are saved as seeds.
const SMALL: usize = 64 * 1024;

fn server() -> RedisServer {
    RedisServer::builder()
        .arg("--enable-debug-command")
        .arg("yes")
        .start()
}

fn bulk(s: &[u8]) -> Frame<'_> {
    Frame::BulkString(s)
}

fn simple(s: &[u8]) -> Frame<'_> {
    Frame::SimpleString(s)
}

fn int(i: i64) -> Frame<'static> {
    Frame::Integer(i)
}

fn double(text: &str) -> Frame<'_> {
    Frame::Double(Double::from_text(text.as_bytes()).expect("a valid double"))
}

fn ints(values: &[i64]) -> Vec<Frame<'static>> {
    values.iter().map(|&i| Frame::Integer(i)).collect()
}

fn to_owned(frame: Frame<'_>) -> Owned {
    frame.map_payload(&mut |p: &[u8]| p.to_vec())
}

/// Parses one whole reply: it must use every byte.
fn frame(raw: &[u8]) -> Frame<'_> {
    let (frame, used) = parse(raw)
        .unwrap_or_else(|e| panic!("{e} in {:?}", show(raw)))
        .unwrap_or_else(|| panic!("incomplete: {:?}", show(raw)));
    assert_eq!(used, raw.len(), "{:?}", show(raw));
    frame
}

/// The payload of a simple or bulk error, as text.
fn error_text(raw: &[u8]) -> String {
    match frame(raw) {
        Frame::SimpleError(text) | Frame::BulkError(text) => {
            String::from_utf8(text.to_vec()).unwrap()
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Bytes for failure messages, cut short.
fn show(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(300)]).into_owned();
    if raw.len() > 300 {
        format!("{text}... ({} bytes)", raw.len())
    } else {
        text
    }
}

/// A raw connection that records everything it reads.
struct Client {
    stream: TcpStream,
    /// Received, not yet parsed.
    pending: Vec<u8>,
    /// Every reply read, in order, as received.
    transcript: Vec<u8>,
    /// How many replies `transcript` holds.
    replies: usize,
    /// Names for the fuzz seeds of the commands in flight, oldest first.
    names: std::collections::VecDeque<String>,
    /// Seed name -> reply bytes.
    seeds: BTreeMap<String, Vec<u8>>,
    tag: &'static str,
    proto: u8,
}

impl Client {
    /// A RESP2 connection; `tag` names its session seed.
    fn new(server: &RedisServer, tag: &'static str) -> Client {
        Client {
            stream: server.connect_raw(),
            pending: Vec::new(),
            transcript: Vec::new(),
            replies: 0,
            names: Default::default(),
            seeds: BTreeMap::new(),
            tag,
            proto: 2,
        }
    }

    /// A connection switched to RESP3 with `HELLO 3`, whose reply is checked.
    fn resp3(server: &RedisServer, tag: &'static str) -> Client {
        let mut c = Client::new(server, tag);
        c.proto = 3;
        let raw = c.call(&["HELLO", "3"]);
        let Frame::Map(pairs) = frame(&raw) else {
            panic!("HELLO 3 is not a map: {}", show(&raw));
        };
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| k.as_bytes().unwrap()).collect();
        assert_eq!(
            keys,
            [
                &b"server"[..],
                b"version",
                b"proto",
                b"id",
                b"mode",
                b"role",
                b"modules"
            ]
        );
        assert_eq!(pairs[0].1, bulk(b"redis"));
        assert!(
            matches!(pairs[1].1, Frame::BulkString(v) if v.starts_with(b"7.") || v.starts_with(b"8."))
        );
        assert_eq!(pairs[2].1, int(3));
        assert!(matches!(pairs[3].1, Frame::Integer(id) if id > 0));
        assert_eq!(pairs[4].1, bulk(b"standalone"));
        assert_eq!(pairs[5].1, bulk(b"master"));
        assert_eq!(pairs[6].1, Frame::Array(vec![]));
        c
    }

    fn send_bytes(&mut self, args: &[&[u8]]) {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        self.stream.write_all(&out).unwrap();
        self.names.push_back(self.seed_name(args));
    }

    fn send(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_bytes(&args);
    }

    /// Sends a command and returns the raw bytes of its reply.
    fn call(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    fn call_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_bytes(args);
        self.read_reply()
    }

    /// Reads until `parse` finds a whole reply at the front of the buffer, checks
    /// it (see the module docs) and returns its bytes. The reply may be a push
    /// rather than the answer to the oldest command in flight: the caller knows.
    fn read_reply(&mut self) -> Vec<u8> {
        let mut chunk = [0u8; 1024];
        let used = loop {
            match parse(&self.pending) {
                Ok(Some((_, used))) => break used,
                Ok(None) => {}
                Err(e) => panic!("{e} in {:?}", show(&self.pending)),
            }
            let n = self.stream.read(&mut chunk).expect("a reply in time");
            assert!(n > 0, "the server closed the connection");
            self.pending.extend_from_slice(&chunk[..n]);
        };
        let raw: Vec<u8> = self.pending.drain(..used).collect();
        check_reply(&raw);
        self.transcript.extend_from_slice(&raw);
        self.replies += 1;
        let name = self
            .names
            .pop_front()
            .unwrap_or_else(|| format!("resp{}-push", self.proto));
        if raw.len() <= SMALL {
            self.seeds.entry(name).or_insert_with(|| raw.clone());
        }
        raw
    }

    /// Marks the next reply as unsolicited (a push), for the seed names.
    fn expect_push(&mut self, name: &str) {
        self.names
            .push_front(format!("resp{}-push-{}", self.proto, sanitize(name)));
    }

    fn seed_name(&self, args: &[&[u8]]) -> String {
        let mut name = format!("resp{}", self.proto);
        for arg in args {
            if name.len() > 60 {
                break;
            }
            name.push('-');
            name.push_str(&sanitize(&String::from_utf8_lossy(
                &arg[..arg.len().min(24)],
            )));
        }
        name
    }

    /// Checks the connection's whole stream with the decoder, and saves seeds if
    /// asked to.
    fn finish(self) {
        assert!(
            self.pending.is_empty(),
            "unread bytes: {:?}",
            show(&self.pending)
        );
        let expected = parse_all(&self.transcript);
        assert_eq!(expected.len(), self.replies);
        let mut sizes = vec![7, 4096];
        if self.transcript.len() <= 256 * 1024 {
            sizes.insert(0, 1);
        }
        for size in sizes {
            let decoded = decode_in_pieces(&self.transcript, size);
            assert!(
                decoded == expected,
                "{}: the decoder fed {size}-byte pieces disagrees with parse",
                self.tag
            );
        }
        SEEDS.with_borrow_mut(|seeds| {
            if let Some(seeds) = seeds {
                let mut add = |name: String, raw: Vec<u8>| {
                    let known = seeds.entry(raw).or_insert_with(|| name.clone());
                    if name < *known {
                        *known = name;
                    }
                };
                if self.transcript.len() <= SMALL {
                    add(
                        format!("session-{}-resp{}", self.tag, self.proto),
                        self.transcript,
                    );
                }
                for (name, raw) in self.seeds {
                    add(name, raw);
                }
            }
        });
    }
}

thread_local! {
    /// Set by [`write_fuzz_seeds`]: reply bytes -> seed name.
    static SEEDS: std::cell::RefCell<Option<BTreeMap<Vec<u8>, String>>> =
        const { std::cell::RefCell::new(None) };
}

/// With `WRITE_FUZZ_SEEDS=1`, runs every test above again in this thread, collecting
/// their replies, and writes each distinct one to `fuzz/corpus/seed/` (the smallest
/// name wins for equal bytes), replacing the seeds an earlier run wrote. Otherwise
/// does nothing, so CI never writes.
#[test]
fn write_fuzz_seeds() {
    if std::env::var_os("WRITE_FUZZ_SEEDS").is_none_or(|v| v != "1") {
        return;
    }
    SEEDS.with_borrow_mut(|seeds| *seeds = Some(BTreeMap::new()));
    resp2_strings_nulls_and_aggregates();
    resp3_strings_nulls_and_aggregates();
    many_elements();
    debug_protocol_resp2();
    debug_protocol_resp3();
    error_replies_in_both_protocols();
    pubsub_messages_are_arrays_in_resp2_and_pushes_in_resp3();
    client_side_caching_invalidations();
    info_is_a_verbatim_string_in_resp3();
    nested_replies_of_command_and_streams();
    a_one_mebibyte_value();
    a_pipeline_of_1000_commands();
    let seeds = SEEDS.with_borrow_mut(Option::take).unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/seed");
    std::fs::create_dir_all(&dir).unwrap();
    let ours = |name: &str| {
        ["resp2-", "resp3-", "session-"]
            .iter()
            .any(|p| name.starts_with(p))
            && name.ends_with(".resp")
    };
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if ours(&name) {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
    }
    // Different bytes under one name (e.g. unsubscribe events in either order) get
    // numbered names.
    let mut used = std::collections::HashSet::new();
    let mut by_name: Vec<(&String, &Vec<u8>)> = seeds.iter().map(|(r, n)| (n, r)).collect();
    by_name.sort();
    for (name, raw) in by_name {
        let mut file = format!("{name}.resp");
        let mut n = 2;
        while !used.insert(file.clone()) {
            file = format!("{name}-{n}.resp");
            n += 1;
        }
        std::fs::write(dir.join(file), raw).unwrap();
    }
    eprintln!("wrote {} seeds to {}", seeds.len(), dir.display());
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// What a client relies on for any reply: exact length, no early completion, and
/// a faithful re-encoding.
fn check_reply(raw: &[u8]) {
    let f = frame(raw);
    let mut encoded = Vec::new();
    f.encode(&mut encoded);
    assert!(
        encoded == raw,
        "re-encoding differs:\n  sent {:?}\n  encoded {:?}",
        show(raw),
        show(&encoded)
    );
    // Every prefix of small replies; about 100 spread over larger ones.
    let step = (raw.len() / 100).max(1);
    let cuts = (0..raw.len())
        .step_by(step)
        .chain(raw.len().saturating_sub(3)..raw.len());
    for cut in cuts {
        match parse(&raw[..cut]) {
            Ok(None) => {}
            other => panic!(
                "a {cut}-byte prefix of {:?} gave {other:?} instead of incomplete",
                show(raw)
            ),
        }
    }
}

/// `parse` called reply after reply over the whole stream.
fn parse_all(stream: &[u8]) -> Vec<(Owned, usize)> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let (f, used) = parse(rest)
            .unwrap()
            .expect("the stream ends with a whole reply");
        out.push((to_owned(f), used));
        rest = &rest[used..];
    }
    out
}

/// The stream fed to a [`Decoder`] `size` bytes at a time, as from a socket.
fn decode_in_pieces(stream: &[u8], size: usize) -> Vec<(Owned, usize)> {
    let mut decoder = Decoder::new();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for piece in stream.chunks(size) {
        buf.extend_from_slice(piece);
        while let Some((f, used)) = decoder.decode(&buf).unwrap() {
            out.push((to_owned(f), used));
            buf.drain(..used);
        }
    }
    assert!(buf.is_empty() && !decoder.in_progress());
    out
}

/// Sorted payloads of a set or array of bulk strings.
fn sorted_bulks<'a>(items: &[Frame<'a>]) -> Vec<&'a [u8]> {
    let mut out: Vec<&[u8]> = items
        .iter()
        .map(|f| match f {
            Frame::BulkString(b) => *b,
            other => panic!("not a bulk string: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn resp2_strings_nulls_and_aggregates() {
    let server = server();
    let mut c = Client::new(&server, "types");
    assert_eq!(frame(&c.call(&["PING"])), simple(b"PONG"));
    assert_eq!(frame(&c.call(&["SET", "k", "v"])), simple(b"OK"));
    assert_eq!(frame(&c.call(&["GET", "k"])), bulk(b"v"));
    assert_eq!(frame(&c.call(&["GET", "missing"])), Frame::NullBulkString);
    assert!(frame(&c.call(&["GET", "missing"])).is_null());
    assert_eq!(frame(&c.call(&["SET", "empty", ""])), simple(b"OK"));
    assert_eq!(frame(&c.call(&["GET", "empty"])), bulk(b""));
    assert_eq!(
        frame(&c.call(&["MGET", "k", "missing", "k"])),
        Frame::Array(vec![bulk(b"v"), Frame::NullBulkString, bulk(b"v")])
    );
    assert_eq!(frame(&c.call(&["RPUSH", "l", "a", "b", "c"])), int(3));
    assert_eq!(
        frame(&c.call(&["LRANGE", "l", "0", "-1"])),
        Frame::Array(vec![bulk(b"a"), bulk(b"b"), bulk(b"c")])
    );
    assert_eq!(
        frame(&c.call(&["LRANGE", "nolist", "0", "-1"])),
        Frame::Array(vec![])
    );
    assert_eq!(
        frame(&c.call(&["HSET", "h", "f1", "v1", "f2", "v2"])),
        int(2)
    );
    assert_eq!(
        frame(&c.call(&["HGETALL", "h"])),
        Frame::Array(vec![bulk(b"f1"), bulk(b"v1"), bulk(b"f2"), bulk(b"v2")])
    );
    assert_eq!(frame(&c.call(&["SADD", "s", "x", "y", "z"])), int(3));
    let raw = c.call(&["SMEMBERS", "s"]);
    let Frame::Array(members) = frame(&raw) else {
        panic!("SMEMBERS in RESP2 is an array: {}", show(&raw));
    };
    assert_eq!(sorted_bulks(&members), [b"x", b"y", b"z"]);
    assert_eq!(frame(&c.call(&["INCRBYFLOAT", "fl", "1.5"])), bulk(b"1.5"));
    assert_eq!(frame(&c.call(&["INCRBYFLOAT", "fl", "-3"])), bulk(b"-1.5"));
    assert_eq!(frame(&c.call(&["INCR", "n"])), int(1));
    assert_eq!(
        frame(&c.call(&["INCRBY", "n", "-9223372036854775807"])),
        int(-9223372036854775806)
    );
    assert_eq!(
        frame(&c.call(&["ZADD", "z", "1.5", "m1", "2", "m2"])),
        int(2)
    );
    assert_eq!(frame(&c.call(&["ZSCORE", "z", "m1"])), bulk(b"1.5"));
    assert_eq!(
        frame(&c.call(&["ZSCORE", "z", "nope"])),
        Frame::NullBulkString
    );
    assert_eq!(
        frame(&c.call(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])),
        Frame::Array(vec![bulk(b"m1"), bulk(b"1.5"), bulk(b"m2"), bulk(b"2")])
    );
    // A nested array with a status and an error inside, as scripts return them.
    let raw = c.call(&[
        "EVAL",
        "return {1, {2, 'x'}, redis.status_reply('FINE'), redis.error_reply('ERR bad')}",
        "0",
    ]);
    assert_eq!(
        frame(&raw),
        Frame::Array(vec![
            int(1),
            Frame::Array(vec![int(2), bulk(b"x")]),
            simple(b"FINE"),
            Frame::SimpleError(b"ERR bad"),
        ])
    );
    assert!(
        !frame(&raw).is_error(),
        "an array holding an error is not an error"
    );
    // A blocking pop that times out: the null array.
    assert_eq!(
        frame(&c.call(&["BLPOP", "nolist", "0.01"])),
        Frame::NullArray
    );
    c.finish();
}

#[test]
fn resp3_strings_nulls_and_aggregates() {
    let server = server();
    let mut c = Client::resp3(&server, "types");
    assert_eq!(frame(&c.call(&["PING"])), simple(b"PONG"));
    assert_eq!(frame(&c.call(&["SET", "k", "v"])), simple(b"OK"));
    assert_eq!(frame(&c.call(&["GET", "k"])), bulk(b"v"));
    assert_eq!(frame(&c.call(&["GET", "missing"])), Frame::Null);
    assert!(frame(&c.call(&["GET", "missing"])).is_null());
    assert_eq!(
        frame(&c.call(&["MGET", "k", "missing", "k"])),
        Frame::Array(vec![bulk(b"v"), Frame::Null, bulk(b"v")])
    );
    assert_eq!(frame(&c.call(&["RPUSH", "l", "a", "b", "c"])), int(3));
    assert_eq!(
        frame(&c.call(&["LRANGE", "l", "0", "-1"])),
        Frame::Array(vec![bulk(b"a"), bulk(b"b"), bulk(b"c")])
    );
    assert_eq!(
        frame(&c.call(&["HSET", "h", "f1", "v1", "f2", "v2"])),
        int(2)
    );
    assert_eq!(
        frame(&c.call(&["HGETALL", "h"])),
        Frame::Map(vec![(bulk(b"f1"), bulk(b"v1")), (bulk(b"f2"), bulk(b"v2"))])
    );
    assert_eq!(frame(&c.call(&["HGETALL", "nohash"])), Frame::Map(vec![]));
    assert_eq!(frame(&c.call(&["SADD", "s", "x", "y", "z"])), int(3));
    let raw = c.call(&["SMEMBERS", "s"]);
    let Frame::Set(members) = frame(&raw) else {
        panic!("SMEMBERS in RESP3 is a set: {}", show(&raw));
    };
    assert_eq!(sorted_bulks(&members), [b"x", b"y", b"z"]);
    // Small integer sets are kept sorted, so their order is known.
    assert_eq!(frame(&c.call(&["SADD", "is", "3", "1", "2"])), int(3));
    assert_eq!(
        frame(&c.call(&["SMEMBERS", "is"])),
        Frame::Set(vec![bulk(b"1"), bulk(b"2"), bulk(b"3")])
    );
    assert_eq!(frame(&c.call(&["SMEMBERS", "noset"])), Frame::Set(vec![]));
    // INCRBYFLOAT stays a bulk string in RESP3; scores become doubles.
    assert_eq!(frame(&c.call(&["INCRBYFLOAT", "fl", "1.5"])), bulk(b"1.5"));
    assert_eq!(
        frame(&c.call(&["ZADD", "z", "1.5", "m1", "2", "m2"])),
        int(2)
    );
    let raw = c.call(&["ZSCORE", "z", "m1"]);
    assert_eq!(frame(&raw), double("1.5"));
    let Frame::Double(d) = frame(&raw) else {
        unreachable!()
    };
    assert_eq!(d.value, 1.5);
    assert_eq!(frame(&c.call(&["ZSCORE", "z", "nope"])), Frame::Null);
    assert_eq!(
        frame(&c.call(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])),
        Frame::Array(vec![
            Frame::Array(vec![bulk(b"m1"), double("1.5")]),
            Frame::Array(vec![bulk(b"m2"), double("2")]),
        ])
    );
    assert_eq!(
        frame(&c.call(&["ZADD", "z", "-inf", "low", "inf", "high"])),
        int(2)
    );
    let raw = c.call(&["ZSCORE", "z", "low"]);
    assert_eq!(frame(&raw), double("-inf"));
    let Frame::Double(d) = frame(&raw) else {
        unreachable!()
    };
    assert_eq!(d.value, f64::NEG_INFINITY);
    assert_eq!(frame(&c.call(&["ZSCORE", "z", "high"])), double("inf"));
    assert_eq!(
        frame(&c.call(&["CONFIG", "GET", "maxmemory-policy"])),
        Frame::Map(vec![(bulk(b"maxmemory-policy"), bulk(b"noeviction"))])
    );
    // A timed-out blocking pop is RESP3's one null, not `*-1`.
    assert_eq!(frame(&c.call(&["BLPOP", "nolist", "0.01"])), Frame::Null);
    c.finish();
}

#[test]
fn many_elements() {
    let server = server();
    for proto in [2, 3] {
        let mut c = if proto == 2 {
            Client::new(&server, "many")
        } else {
            Client::resp3(&server, "many")
        };
        let key = format!("list{proto}");
        let mut rpush = vec!["RPUSH".to_owned(), key.clone()];
        rpush.extend((0..10_000).map(|i| i.to_string()));
        let rpush: Vec<&str> = rpush.iter().map(String::as_str).collect();
        assert_eq!(frame(&c.call(&rpush)), int(10_000));
        let raw = c.call(&["LRANGE", &key, "0", "-1"]);
        let Frame::Array(items) = frame(&raw) else {
            panic!("not an array")
        };
        assert_eq!(items.len(), 10_000);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(item.as_bytes().unwrap(), i.to_string().as_bytes());
        }
        // A hash past the listpack limits (a real hashtable) as a map.
        let hash = format!("hash{proto}");
        let mut hset = vec!["HSET".to_owned(), hash.clone()];
        for i in 0..1000 {
            hset.push(format!("field:{i}"));
            hset.push(format!("value:{i}"));
        }
        let hset: Vec<&str> = hset.iter().map(String::as_str).collect();
        assert_eq!(frame(&c.call(&hset)), int(1000));
        let raw = c.call(&["HGETALL", &hash]);
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = match frame(&raw) {
            Frame::Map(pairs) if proto == 3 => pairs
                .into_iter()
                .map(|(k, v)| (k.to_vec().unwrap(), v.to_vec().unwrap()))
                .collect(),
            Frame::Array(flat) if proto == 2 => flat
                .chunks(2)
                .map(|kv| (kv[0].to_vec().unwrap(), kv[1].to_vec().unwrap()))
                .collect(),
            other => panic!("HGETALL in RESP{proto}: {}", other.kind_name()),
        };
        pairs.sort();
        let mut expected: Vec<(Vec<u8>, Vec<u8>)> = (0..1000)
            .map(|i| {
                (
                    format!("field:{i}").into_bytes(),
                    format!("value:{i}").into_bytes(),
                )
            })
            .collect();
        expected.sort();
        assert_eq!(pairs, expected);
        c.finish();
    }
}

#[test]
fn debug_protocol_resp2() {
    let server = server();
    let mut c = Client::new(&server, "debug-protocol");
    let mut debug = |kind: &str| c.call(&["DEBUG", "PROTOCOL", kind]);
    assert_eq!(frame(&debug("string")), bulk(b"Hello World"));
    assert_eq!(frame(&debug("integer")), int(12345));
    // RESP2 has no double, big number, null, set, map, boolean or verbatim type:
    // Redis sends the nearest RESP2 type.
    assert_eq!(frame(&debug("double")), bulk(b"3.141"));
    assert_eq!(
        frame(&debug("bignum")),
        bulk(b"1234567999999999999999999999999999999")
    );
    assert_eq!(frame(&debug("null")), Frame::NullBulkString);
    assert_eq!(frame(&debug("array")), Frame::Array(ints(&[0, 1, 2])));
    assert_eq!(frame(&debug("set")), Frame::Array(ints(&[0, 1, 2])));
    assert_eq!(
        frame(&debug("map")),
        Frame::Array(ints(&[0, 0, 1, 1, 2, 0]))
    );
    // The attribute is dropped in RESP2.
    assert_eq!(
        frame(&debug("attrib")),
        bulk(b"Some real reply following the attribute")
    );
    let raw = debug("push");
    assert!(frame(&raw).is_error());
    assert!(error_text(&raw).starts_with("ERR "), "{}", show(&raw));
    assert_eq!(
        frame(&debug("verbatim")),
        bulk(b"This is a verbatim\nstring")
    );
    assert_eq!(frame(&debug("true")), int(1));
    assert_eq!(frame(&debug("false")), int(0));
    c.finish();
}

#[test]
fn debug_protocol_resp3() {
    let server = server();
    let mut c = Client::resp3(&server, "debug-protocol");
    let mut debug = |kind: &str| c.call(&["DEBUG", "PROTOCOL", kind]);
    assert_eq!(frame(&debug("string")), bulk(b"Hello World"));
    assert_eq!(frame(&debug("integer")), int(12345));
    let raw = debug("double");
    assert_eq!(frame(&raw), double("3.141"));
    let Frame::Double(d) = frame(&raw) else {
        unreachable!()
    };
    assert_eq!(d.value, "3.141".parse::<f64>().unwrap()); // Redis's text, not π
    assert_eq!(
        frame(&debug("bignum")),
        Frame::BigNumber(b"1234567999999999999999999999999999999")
    );
    assert_eq!(frame(&debug("null")), Frame::Null);
    assert_eq!(frame(&debug("array")), Frame::Array(ints(&[0, 1, 2])));
    assert_eq!(frame(&debug("set")), Frame::Set(ints(&[0, 1, 2])));
    assert_eq!(
        frame(&debug("map")),
        Frame::Map(vec![
            (int(0), Frame::Boolean(false)),
            (int(1), Frame::Boolean(true)),
            (int(2), Frame::Boolean(false)),
        ])
    );
    // The attribute and the reply it describes are one frame.
    let raw = debug("attrib");
    let attributed = frame(&raw);
    assert_eq!(
        attributed,
        Frame::Attributed(Box::new(Attributed {
            attributes: vec![(
                bulk(b"key-popularity"),
                Frame::Array(vec![bulk(b"key:123"), int(90)]),
            )],
            frame: bulk(b"Some real reply following the attribute"),
        }))
    );
    assert_eq!(
        attributed.without_attributes(),
        &bulk(b"Some real reply following the attribute")
    );
    // A push comes first, as a frame of its own, then the command's reply.
    let raw = debug("push");
    assert_eq!(
        frame(&raw),
        Frame::Push(vec![bulk(b"server-cpu-usage"), int(42)])
    );
    c.names.push_front("resp3-debug-protocol-push-reply".into());
    assert_eq!(
        frame(&c.read_reply()),
        bulk(b"Some real reply following the push reply")
    );
    let mut debug = |kind: &str| c.call(&["DEBUG", "PROTOCOL", kind]);
    assert_eq!(
        frame(&debug("verbatim")),
        Frame::VerbatimString {
            format: *b"txt",
            text: b"This is a verbatim\nstring"
        }
    );
    assert_eq!(frame(&debug("true")), Frame::Boolean(true));
    assert_eq!(frame(&debug("false")), Frame::Boolean(false));
    c.finish();
}

#[test]
fn error_replies_in_both_protocols() {
    let server = server();
    for proto in [2, 3] {
        let mut c = if proto == 2 {
            Client::new(&server, "errors")
        } else {
            Client::resp3(&server, "errors")
        };
        assert_eq!(frame(&c.call(&["RPUSH", "list", "a"])), int(1));
        let raw = c.call(&["INCR", "list"]);
        assert!(frame(&raw).is_error());
        assert!(error_text(&raw).starts_with("WRONGTYPE "), "{}", show(&raw));
        let raw = c.call(&["NOSUCHCOMMAND", "x"]);
        assert!(
            error_text(&raw).starts_with("ERR unknown command"),
            "{}",
            show(&raw)
        );
        let raw = c.call(&["GET"]);
        assert!(
            error_text(&raw).starts_with("ERR wrong number of arguments"),
            "{}",
            show(&raw)
        );
        let raw = c.call(&["INCR", "list:missing:but:not:a:number:"]);
        assert_eq!(frame(&raw), int(1));
        let raw = c.call(&["SET", "word", "abc"]);
        assert_eq!(frame(&raw), simple(b"OK"));
        let raw = c.call(&["INCR", "word"]);
        assert!(
            error_text(&raw).starts_with("ERR value is not an integer"),
            "{}",
            show(&raw)
        );
        // An error in a transaction's results does not end the array.
        assert_eq!(frame(&c.call(&["MULTI"])), simple(b"OK"));
        assert_eq!(frame(&c.call(&["INCR", "word"])), simple(b"QUEUED"));
        assert_eq!(frame(&c.call(&["GET", "word"])), simple(b"QUEUED"));
        let raw = c.call(&["EXEC"]);
        let Frame::Array(results) = frame(&raw) else {
            panic!("EXEC gives an array: {}", show(&raw));
        };
        assert_eq!(results.len(), 2);
        assert!(
            matches!(results[0], Frame::SimpleError(e) if e.starts_with(b"ERR value is not an integer"))
        );
        assert_eq!(results[1], bulk(b"abc"));
        // The connection goes on normally after errors.
        assert_eq!(frame(&c.call(&["GET", "word"])), bulk(b"abc"));
        assert_eq!(frame(&c.call(&["DEL", "list", "word"])), int(2));
        assert_eq!(
            frame(&c.call(&["DEL", "list:missing:but:not:a:number:"])),
            int(1)
        );
        c.finish();
    }
}

#[test]
fn pubsub_messages_are_arrays_in_resp2_and_pushes_in_resp3() {
    let server = server();
    let mut publisher = Client::new(&server, "publisher");
    for proto in [2, 3] {
        let mut sub = if proto == 2 {
            Client::new(&server, "pubsub")
        } else {
            Client::resp3(&server, "pubsub")
        };
        // RESP2 sends pub/sub events as arrays, RESP3 as pushes with the same items.
        let event = |items: Vec<Frame<'static>>| -> Frame<'static> {
            if proto == 2 {
                Frame::Array(items)
            } else {
                Frame::Push(items)
            }
        };
        sub.send(&["SUBSCRIBE", "ch1", "ch2"]);
        assert_eq!(
            frame(&sub.read_reply()),
            event(vec![bulk(b"subscribe"), bulk(b"ch1"), int(1)])
        );
        sub.expect_push("subscribe-ch2");
        assert_eq!(
            frame(&sub.read_reply()),
            event(vec![bulk(b"subscribe"), bulk(b"ch2"), int(2)])
        );
        assert_eq!(
            frame(&sub.call(&["PSUBSCRIBE", "p*"])),
            event(vec![bulk(b"psubscribe"), bulk(b"p*"), int(3)])
        );
        // PUBLISH returns once the message is queued for the subscriber, so the
        // subscriber's read below needs no other synchronisation.
        assert_eq!(frame(&publisher.call(&["PUBLISH", "ch1", "hello"])), int(1));
        sub.expect_push("message");
        assert_eq!(
            frame(&sub.read_reply()),
            event(vec![bulk(b"message"), bulk(b"ch1"), bulk(b"hello")])
        );
        let payload = b"bin\r\n$-1\r\n\x00\xff";
        let raw = publisher.call_bytes(&[b"PUBLISH", b"pq", payload]);
        assert_eq!(frame(&raw), int(1));
        sub.expect_push("pmessage");
        assert_eq!(
            frame(&sub.read_reply()),
            event(vec![
                bulk(b"pmessage"),
                bulk(b"p*"),
                bulk(b"pq"),
                bulk(payload)
            ])
        );
        // PING while subscribed: RESP2 answers with an array, RESP3 as usual.
        let raw = sub.call(&["PING"]);
        if proto == 2 {
            assert_eq!(frame(&raw), Frame::Array(vec![bulk(b"pong"), bulk(b"")]));
        } else {
            assert_eq!(frame(&raw), simple(b"PONG"));
            // RESP3 allows any command while subscribed; a message that was
            // published before it arrives first, as a push.
            assert_eq!(frame(&publisher.call(&["PUBLISH", "ch2", "x"])), int(1));
            sub.send(&["GET", "nokey"]);
            sub.expect_push("message-before-reply");
            assert_eq!(
                frame(&sub.read_reply()),
                event(vec![bulk(b"message"), bulk(b"ch2"), bulk(b"x")])
            );
            assert_eq!(frame(&sub.read_reply()), Frame::Null);
        }
        // Unsubscribing from all channels: one event per channel, any order.
        sub.send(&["UNSUBSCRIBE"]);
        let mut channels = Vec::new();
        for remaining in [2, 1] {
            let raw = sub.read_reply();
            let (Frame::Array(items) | Frame::Push(items)) = frame(&raw) else {
                panic!("unsubscribe event: {}", show(&raw));
            };
            assert_eq!(frame(&raw).kind_name(), event(vec![]).kind_name());
            assert_eq!(items[0], bulk(b"unsubscribe"));
            assert_eq!(items[2], int(remaining));
            channels.push(items[1].to_vec().unwrap());
            sub.expect_push("unsubscribe");
        }
        sub.names.pop_front();
        channels.sort();
        assert_eq!(channels, [b"ch1", b"ch2"]);
        assert_eq!(
            frame(&sub.call(&["PUNSUBSCRIBE"])),
            event(vec![bulk(b"punsubscribe"), bulk(b"p*"), int(0)])
        );
        // Out of subscribed mode, replies are ordinary again.
        assert_eq!(frame(&sub.call(&["PING"])), simple(b"PONG"));
        sub.finish();
    }
    publisher.finish();
}

#[test]
fn client_side_caching_invalidations() {
    let server = server();
    let mut writer = Client::new(&server, "tracking-writer");

    // RESP3: invalidations are pushes on the tracking connection itself.
    let mut c = Client::resp3(&server, "tracking");
    assert_eq!(frame(&c.call(&["CLIENT", "TRACKING", "on"])), simple(b"OK"));
    assert_eq!(frame(&c.call(&["GET", "tk"])), Frame::Null);
    assert_eq!(frame(&writer.call(&["SET", "tk", "1"])), simple(b"OK"));
    c.expect_push("invalidate");
    assert_eq!(
        frame(&c.read_reply()),
        Frame::Push(vec![bulk(b"invalidate"), Frame::Array(vec![bulk(b"tk")])])
    );
    assert_eq!(frame(&c.call(&["GET", "tk"])), bulk(b"1"));
    // FLUSHALL invalidates everything: the key list is a null.
    assert_eq!(frame(&writer.call(&["FLUSHALL"])), simple(b"OK"));
    c.expect_push("invalidate-all");
    assert_eq!(
        frame(&c.read_reply()),
        Frame::Push(vec![bulk(b"invalidate"), Frame::Null])
    );
    assert_eq!(frame(&c.call(&["PING"])), simple(b"PONG"));
    c.finish();

    // RESP2: invalidations are redirected to a pub/sub connection, as arrays.
    let mut sink = Client::new(&server, "tracking-sink");
    let Frame::Integer(sink_id) = frame(&sink.call(&["CLIENT", "ID"])) else {
        panic!("CLIENT ID is an integer");
    };
    assert_eq!(
        frame(&sink.call(&["SUBSCRIBE", "__redis__:invalidate"])),
        Frame::Array(vec![
            bulk(b"subscribe"),
            bulk(b"__redis__:invalidate"),
            int(1)
        ])
    );
    let mut c = Client::new(&server, "tracking");
    let id = sink_id.to_string();
    c.send(&["CLIENT", "TRACKING", "on", "REDIRECT", &id]);
    // A stable seed name: the id varies.
    *c.names.back_mut().unwrap() = "resp2-client-tracking-on-redirect".into();
    assert_eq!(frame(&c.read_reply()), simple(b"OK"));
    assert_eq!(frame(&c.call(&["GET", "tk2"])), Frame::NullBulkString);
    assert_eq!(frame(&writer.call(&["SET", "tk2", "2"])), simple(b"OK"));
    sink.expect_push("invalidate");
    assert_eq!(
        frame(&sink.read_reply()),
        Frame::Array(vec![
            bulk(b"message"),
            bulk(b"__redis__:invalidate"),
            Frame::Array(vec![bulk(b"tk2")]),
        ])
    );
    c.finish();
    sink.finish();
    writer.finish();
}

#[test]
fn info_is_a_verbatim_string_in_resp3() {
    let server = server();
    let mut c2 = Client::new(&server, "info");
    let raw = c2.call(&["INFO", "server"]);
    let Frame::BulkString(text2) = frame(&raw) else {
        panic!("INFO in RESP2 is a bulk string: {}", show(&raw));
    };
    assert!(text2.starts_with(b"# Server\r\nredis_version:"));
    c2.finish();

    let mut c3 = Client::resp3(&server, "info");
    let raw = c3.call(&["INFO", "server"]);
    let Frame::VerbatimString { format, text } = frame(&raw) else {
        panic!("INFO in RESP3 is a verbatim string: {}", show(&raw));
    };
    assert_eq!(&format, b"txt");
    // The text is what RESP2 sends, without the `txt:` prefix.
    assert!(
        text.starts_with(b"# Server\r\nredis_version:"),
        "{}",
        show(text)
    );
    assert!(!text.starts_with(b"txt:"));
    let field = |t: &[u8], name: &str| -> Option<String> {
        String::from_utf8_lossy(t)
            .lines()
            .find_map(|l| l.strip_prefix(name).map(str::to_owned))
    };
    assert_eq!(
        field(text, "redis_version:"),
        field(text2, "redis_version:")
    );
    assert_eq!(field(text, "tcp_port:"), Some(server.port().to_string()));
    assert_eq!(frame(&raw).as_bytes(), Some(text));
    // `CLIENT INFO` is verbatim too.
    let raw = c3.call(&["CLIENT", "INFO"]);
    assert!(
        matches!(frame(&raw), Frame::VerbatimString { format, text } if &format == b"txt" && text.starts_with(b"id=")),
        "{}",
        show(&raw)
    );
    c3.finish();
}

#[test]
fn nested_replies_of_command_and_streams() {
    let server = server();
    for proto in [2, 3] {
        let mut c = if proto == 2 {
            Client::new(&server, "nested")
        } else {
            Client::resp3(&server, "nested")
        };
        // RESP3 turns the flag lists into sets and the key specs into maps.
        let set = |items: Vec<Frame<'static>>| -> Frame<'static> {
            if proto == 2 {
                Frame::Array(items)
            } else {
                Frame::Set(items)
            }
        };
        let map = |pairs: Vec<(Frame<'static>, Frame<'static>)>| -> Frame<'static> {
            if proto == 2 {
                Frame::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
            } else {
                Frame::Map(pairs)
            }
        };
        // The whole command table (~65 KiB, hundreds of nested aggregates).
        let Frame::Integer(count) = frame(&c.call(&["COMMAND", "COUNT"])) else {
            panic!("COMMAND COUNT is an integer");
        };
        let raw = c.call(&["COMMAND"]);
        let Frame::Array(commands) = frame(&raw) else {
            panic!("COMMAND is an array");
        };
        assert_eq!(commands.len() as i64, count);
        let get = commands
            .iter()
            .find(|cmd| matches!(cmd, Frame::Array(info) if info[0] == bulk(b"get")))
            .expect("GET is in the command table");
        let Frame::Array(info) = get else {
            unreachable!()
        };
        assert_eq!(info.len(), 10);
        assert_eq!(info[1], int(2));
        assert_eq!(info[2], set(vec![simple(b"readonly"), simple(b"fast")]));
        let raw = c.call(&["COMMAND", "INFO", "get"]);
        assert_eq!(frame(&raw), Frame::Array(vec![get.clone()]));
        let key_spec = map(vec![
            (bulk(b"flags"), set(vec![simple(b"RO"), simple(b"access")])),
            (
                bulk(b"begin_search"),
                map(vec![
                    (bulk(b"type"), bulk(b"index")),
                    (bulk(b"spec"), map(vec![(bulk(b"index"), int(1))])),
                ]),
            ),
            (
                bulk(b"find_keys"),
                map(vec![
                    (bulk(b"type"), bulk(b"range")),
                    (
                        bulk(b"spec"),
                        map(vec![
                            (bulk(b"lastkey"), int(0)),
                            (bulk(b"keystep"), int(1)),
                            (bulk(b"limit"), int(0)),
                        ]),
                    ),
                ]),
            ),
        ]);
        assert_eq!(info[8], set(vec![key_spec]));
        let raw = c.call(&["COMMAND", "DOCS", "get"]);
        assert_eq!(
            frame(&raw),
            map(vec![(
                bulk(b"get"),
                map(vec![
                    (bulk(b"summary"), bulk(b"Get the value of a key")),
                    (bulk(b"since"), bulk(b"1.0.0")),
                    (bulk(b"group"), bulk(b"string")),
                    (bulk(b"complexity"), bulk(b"O(1)")),
                    (
                        bulk(b"arguments"),
                        Frame::Array(vec![map(vec![
                            (bulk(b"name"), bulk(b"key")),
                            (bulk(b"type"), bulk(b"key")),
                            (bulk(b"key_spec_index"), int(0)),
                        ])]),
                    ),
                ]),
            )])
        );
        // Streams: entries are arrays in both protocols; XREAD keys them by
        // stream name, as a map in RESP3.
        let st = format!("st{proto}");
        assert_eq!(
            frame(&c.call(&["XADD", &st, "1-1", "f", "v"])),
            bulk(b"1-1")
        );
        assert_eq!(
            frame(&c.call(&["XADD", &st, "2-1", "a", "b", "c", "d"])),
            bulk(b"2-1")
        );
        let entries = Frame::Array(vec![
            Frame::Array(vec![
                bulk(b"1-1"),
                Frame::Array(vec![bulk(b"f"), bulk(b"v")]),
            ]),
            Frame::Array(vec![
                bulk(b"2-1"),
                Frame::Array(vec![bulk(b"a"), bulk(b"b"), bulk(b"c"), bulk(b"d")]),
            ]),
        ]);
        assert_eq!(frame(&c.call(&["XRANGE", &st, "-", "+"])), entries);
        let raw = c.call(&["XREAD", "STREAMS", &st, "0"]);
        let name = bulk(st.as_bytes());
        let expected = if proto == 2 {
            Frame::Array(vec![Frame::Array(vec![name, entries])])
        } else {
            Frame::Map(vec![(name, entries)])
        };
        assert_eq!(frame(&raw), expected);
        c.finish();
    }
}

#[test]
fn a_one_mebibyte_value() {
    let server = server();
    // Every byte value, with CRLFs and RESP-looking text inside.
    let mut value: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    value[1000..1009].copy_from_slice(b"\r\n$-1\r\n\r\n");
    *value.last_mut().unwrap() = b'\r';
    for proto in [2, 3] {
        let mut c = if proto == 2 {
            Client::new(&server, "big")
        } else {
            Client::resp3(&server, "big")
        };
        let key = format!("big{proto}");
        assert_eq!(
            frame(&c.call_bytes(&[b"SET", key.as_bytes(), &value])),
            simple(b"OK")
        );
        assert_eq!(frame(&c.call(&["STRLEN", &key])), int(value.len() as i64));
        let raw = c.call(&["GET", &key]);
        assert_eq!(raw.len(), value.len() + b"$1048576\r\n\r\n".len());
        assert!(frame(&raw) == bulk(&value), "the 1 MiB value differs");
        // Twice in one array, between small items.
        let raw = c.call(&["MGET", &key, "nokey", &key]);
        let null = if proto == 2 {
            Frame::NullBulkString
        } else {
            Frame::Null
        };
        assert!(frame(&raw) == Frame::Array(vec![bulk(&value), null, bulk(&value)]));
        c.finish();
    }
}

#[test]
fn a_pipeline_of_1000_commands() {
    let server = server();
    for proto in [2, 3] {
        let mut c = if proto == 2 {
            Client::new(&server, "pipeline")
        } else {
            Client::resp3(&server, "pipeline")
        };
        let counter = format!("counter{proto}");
        let list = format!("list{proto}");
        // One write for all the commands; the replies come back in order.
        let mut out = Vec::new();
        for i in 0..1000 {
            let key = format!("key{proto}:{i}");
            match i % 5 {
                0 => encode_command(&mut out, &["SET", &key, &format!("value {i}\r\n")]),
                1 => encode_command(&mut out, &["GET", &format!("key{proto}:{}", i - 1)]),
                2 => encode_command(&mut out, &["INCR", &counter]),
                3 => encode_command(&mut out, &["RPUSH", &list, &i.to_string()]),
                _ => encode_command(&mut out, &["LRANGE", &list, "-2", "-1"]),
            }
        }
        c.stream.write_all(&out).unwrap();
        for i in 0..1000 {
            c.names.push_back(format!("resp{proto}-pipeline-{}", i % 5));
            let raw = c.read_reply();
            let f = frame(&raw);
            match i % 5 {
                0 => assert_eq!(f, simple(b"OK")),
                1 => assert_eq!(
                    f.to_vec().unwrap(),
                    format!("value {}\r\n", i - 1).into_bytes()
                ),
                2 => assert_eq!(f, int(i as i64 / 5 + 1)),
                3 => assert_eq!(f, int(i as i64 / 5 + 1)),
                _ => {
                    let n = i / 5;
                    let expected: Vec<String> = if n == 0 {
                        vec!["3".into()]
                    } else {
                        vec![(i - 6).to_string(), (i - 1).to_string()]
                    };
                    let expected: Vec<Frame<'_>> =
                        expected.iter().map(|s| bulk(s.as_bytes())).collect();
                    assert_eq!(f, Frame::Array(expected), "reply {i}");
                }
            }
        }
        assert!(frame(&c.call(&["GET", "never-set"])).is_null());
        c.finish();
    }
}
