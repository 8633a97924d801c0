//! A hostile server cannot make a connection reserve memory for bytes it never sends.
//!
//! This test binary counts every byte allocated through a global allocator. A fake
//! server on loopback answers the handshake and then, to a `GET`, writes a reply that
//! announces far more than it sends: a bare `$536870912\r\n`, the same with part of
//! its payload, or hundreds of nested `*4294967295\r\n` headers followed by part of a
//! payload. It then closes its side (or holds the connection open until the client's
//! read timeout). The sync [`Connection`] and the async `aio::Connection` and
//! `aio::MultiplexedConnection` must fail the request with an error, having used at
//! the peak at most [`BOUND`]'s 64 bytes of heap per byte received plus its slack.
//!
//! What the bound covers: the read buffer (it at most doubles past what arrived,
//! plus one read), the stateless parse of the buffer and the resumable decoder's state
//! (the parser's own bound, `resp-parser/tests/allocation.rs`: at most 48 bytes per
//! byte, plus the stack of open aggregates), and the connection's fixed buffers.
//!
//! Peaks are process-wide: `peak_during` takes a lock, so measurements run one at a time.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use resp_conn::{ConnectionInfo, cmd};
use resp_parser::ErrorKind;
use resp_parser::request::parse_request;
use stdnet_test_support::peak::{Bound, PeakAlloc, assert_none, peak_during, serial};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Heap bytes per byte received that one request may use at its peak, plus a fixed
/// allowance: one read buffer's worth and the decoder's stack of open aggregates.
const BOUND: Bound = Bound {
    per_byte: 64,
    slack: 512 * 1024,
};

/// What the fake server does after writing its reply.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Shuts its write side down: the client reads the bytes, then the end of stream.
    Close,
    /// Sends nothing more and keeps the connection open: the client's read times out.
    Hold,
}

/// Serves connections on loopback: answers `GET` with `reply` and any other request
/// (a handshake command) with `+OK`; after the `GET` it ends as `ending` says and
/// waits for the client to close.
fn fake_server(reply: Arc<Vec<u8>>, ending: Ending) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let reply = Arc::clone(&reply);
            std::thread::spawn(move || serve(stream, &reply, ending));
        }
    });
    port
}

fn serve(mut stream: TcpStream, reply: &[u8], ending: Ending) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Ok(Some((request, used))) = parse_request(&pending) {
            let get = request.is_command(b"GET");
            pending.drain(..used);
            if !get {
                if stream.write_all(b"+OK\r\n").is_err() {
                    return;
                }
                continue;
            }
            if stream.write_all(reply).is_err() {
                return;
            }
            if let Ending::Close = ending {
                let _ = stream.shutdown(Shutdown::Write);
            }
            // Wait for the client to close, reading (and ignoring) whatever it sends.
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            return;
        }
    }
}

fn info(port: u16, ending: Ending) -> ConnectionInfo {
    let timeout = match ending {
        Ending::Close => Duration::from_secs(10),
        Ending::Hold => Duration::from_millis(300),
    };
    ConnectionInfo::tcp("127.0.0.1", port)
        .with_connect_timeout(Some(Duration::from_secs(10)))
        .with_read_timeout(Some(timeout))
}

/// `header` repeated `levels` times, then a bulk string header announcing more than
/// follows, then payload bytes up to `total` bytes in all.
fn nested(header: &[u8], levels: usize, total: usize) -> Vec<u8> {
    let mut reply = header.repeat(levels);
    reply.extend_from_slice(b"$1000000\r\n");
    reply.resize(total, b'x');
    reply
}

/// The hostile replies, each with a name for the failure message.
fn hostile() -> Vec<(&'static str, Vec<u8>, Ending)> {
    const TOTAL: usize = 68 * 1024;
    let mut partial_bulk = b"$536870912\r\n".to_vec();
    partial_bulk.resize(100 * 1024, b'x');
    let mut flat_tail = b"*4294967295\r\n".to_vec();
    while flat_tail.len() < TOTAL {
        flat_tail.extend_from_slice(b":1\r\n");
    }
    vec![
        (
            "a bare $536870912",
            b"$536870912\r\n".to_vec(),
            Ending::Close,
        ),
        (
            "a bare $536870912, held open",
            b"$536870912\r\n".to_vec(),
            Ending::Hold,
        ),
        ("$536870912 and 100 KiB of it", partial_bulk, Ending::Close),
        (
            "511 nested *4294967295, then part of a bulk string",
            nested(b"*4294967295\r\n", 511, TOTAL),
            Ending::Close,
        ),
        (
            "511 nested %4294967295, held open",
            nested(b"%4294967295\r\n", 511, TOTAL),
            Ending::Hold,
        ),
        (
            "*4294967295 of integers, cut short",
            flat_tail,
            Ending::Close,
        ),
    ]
}

/// Measures `request` (a `GET` to a fake server sending a hostile reply of `received`
/// bytes): it must fail, within the bound.
fn measure_request(
    failures: &mut Vec<String>,
    what: &str,
    received: usize,
    request: impl FnOnce() -> resp_conn::Result<resp_conn::Value>,
) {
    let (result, peak) = peak_during(|| request().map(drop));
    if result.is_ok() {
        failures.push(format!("{what}: a reply that never completes was answered"));
    }
    BOUND.check(failures, what, received, peak);
}

#[test]
fn the_sync_connection_reserves_only_what_arrived() {
    let _serial = serial();
    let mut failures = Vec::new();
    for (what, reply, ending) in hostile() {
        let received = reply.len();
        let port = fake_server(Arc::new(reply), ending);
        let mut con = resp_conn::Connection::open(info(port, ending)).unwrap();
        measure_request(&mut failures, &format!("sync, {what}"), received, || {
            con.request(cmd("GET").arg("k"))
        });
        if con.is_open() {
            failures.push(format!("sync, {what}: the connection stays open"));
        }
    }
    assert_none(&failures);
}

#[test]
fn the_async_connections_reserve_only_what_arrived() {
    let _serial = serial();
    let mut failures = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (what, reply, ending) in hostile() {
        let received = reply.len();
        let port = fake_server(Arc::new(reply), ending);
        let mut con = rt
            .block_on(resp_conn::aio::Connection::open(info(port, ending)))
            .unwrap();
        measure_request(
            &mut failures,
            &format!("aio::Connection, {what}"),
            received,
            || rt.block_on(con.request(cmd("GET").arg("k"))),
        );
        let mux = rt
            .block_on(resp_conn::aio::MultiplexedConnection::open(info(
                port, ending,
            )))
            .unwrap();
        let what = format!("aio::MultiplexedConnection, {what}");
        measure_request(&mut failures, &what, received, || {
            rt.block_on(mux.request(cmd("GET").arg("k")))
        });
    }
    assert_none(&failures);
}

/// Replies past one of the parser's default limits (`resp_parser::Limits::DEFAULT`),
/// each with the error kind and the offset, counted from the reply's first byte, that
/// the connection must report. The server holds the connection open afterwards, so a
/// limit that is only checked once the announced bytes arrive would show up as a
/// timeout instead.
fn over_limits() -> Vec<(&'static str, Vec<u8>, ErrorKind, usize)> {
    let mut deep = b"*1\r\n".repeat(513);
    deep.extend_from_slice(b":1\r\n");
    let mut long_line = b"+".to_vec();
    long_line.resize(64 * 1024 + 2, b'a');
    vec![
        (
            "a bulk string over 512 MiB",
            b"$536870913\r\n".to_vec(),
            ErrorKind::BulkTooLong,
            1,
        ),
        (
            "a nested bulk string over 512 MiB",
            b"*2\r\n:1\r\n$536870913\r\n".to_vec(),
            ErrorKind::BulkTooLong,
            9,
        ),
        (
            "a streamed string over 512 MiB in total",
            [&b"$?\r\n;4\r\nabcd\r\n"[..], b";536870909\r\n"].concat(),
            ErrorKind::BulkTooLong,
            15,
        ),
        (
            "an array of 2^32 elements",
            b"*4294967296\r\n".to_vec(),
            ErrorKind::TooManyElements,
            1,
        ),
        ("513 nested arrays", deep, ErrorKind::DepthLimit, 512 * 4),
        (
            "a simple string over 64 KiB",
            long_line,
            ErrorKind::LineTooLong,
            1 + 64 * 1024,
        ),
    ]
}

fn check_limit_error(
    failures: &mut Vec<String>,
    what: &str,
    got: resp_conn::Result<()>,
    kind: ErrorKind,
    offset: usize,
) {
    match got {
        Err(resp_conn::Error::Protocol(e)) if e.kind == kind && e.offset == offset => {
            let text = resp_conn::Error::Protocol(e).to_string();
            if !text.contains(&format!("at byte {offset}")) {
                failures.push(format!("{what}: the message does not say where: {text}"));
            }
        }
        other => failures.push(format!(
            "{what}: expected {kind:?} at byte {offset}, got {other:?}"
        )),
    }
}

#[test]
fn the_limits_are_typed_errors_that_say_what_and_where() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for (what, reply, kind, offset) in over_limits() {
        let port = fake_server(Arc::new(reply), Ending::Hold);
        let mut con = resp_conn::Connection::open(info(port, Ending::Hold)).unwrap();
        let got = con.request(cmd("GET").arg("k")).map(drop);
        check_limit_error(&mut failures, &format!("sync, {what}"), got, kind, offset);
        if con.is_open() {
            failures.push(format!("sync, {what}: the connection stays open"));
        }

        let mut con = rt
            .block_on(resp_conn::aio::Connection::open(info(port, Ending::Hold)))
            .unwrap();
        let got = rt.block_on(con.request(cmd("GET").arg("k"))).map(drop);
        check_limit_error(&mut failures, &format!("async, {what}"), got, kind, offset);
    }
    assert_none(&failures);
}
