//! Talks to a real Redis with nothing but a `TcpStream` and this crate: encodes a few
//! commands, reads the replies with the resumable [`Decoder`], and prints them.
//!
//! ```text
//! cargo run -p resp-parser --example live                  # starts a private redis-server
//! REDIS_ADDR=127.0.0.1:6379 cargo run -p resp-parser --example live
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;

use resp_parser::{Decoder, command};
use stdnet_test_support::RedisServer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Use the server the user names, or start a private one that is killed on exit.
    let (_server, addr) = match std::env::var("REDIS_ADDR") {
        Ok(addr) => (None, addr),
        Err(_) => {
            let server = RedisServer::start();
            let addr = server.addr().to_string();
            (Some(server), addr)
        }
    };
    println!("talking to redis at {addr}");
    let mut stream = TcpStream::connect(&addr)?;

    // One write for the whole pipeline: RESP3, then a few commands.
    let mut out = Vec::new();
    command!(&mut out; "HELLO", "3");
    command!(&mut out; "SET", "resp-parser:example", "hello from Rust");
    command!(&mut out; "GET", "resp-parser:example");
    command!(&mut out; "RPUSH", "resp-parser:list", 1, 2.5, "three");
    command!(&mut out; "LRANGE", "resp-parser:list", 0, -1);
    command!(&mut out; "HSET", "resp-parser:hash", "field", "value");
    command!(&mut out; "HGETALL", "resp-parser:hash");
    command!(&mut out; "DEL", "resp-parser:example", "resp-parser:list", "resp-parser:hash");
    stream.write_all(&out)?;

    let names = [
        "HELLO 3", "SET", "GET", "RPUSH", "LRANGE", "HSET", "HGETALL", "DEL",
    ];
    let mut decoder = Decoder::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for name in names {
        let (frame, used) = loop {
            if let Some(done) = decoder.decode(&buf)? {
                break done;
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err("server closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        if name == "HELLO 3" {
            println!("{name:>8} -> {} ({used} bytes)", frame.kind_name());
        } else {
            println!("{name:>8} -> {frame}");
        }
        buf.drain(..used);
    }
    Ok(())
}
