//! A fake server on loopback that answers with bytes that are not RESP: the client
//! reports a protocol error and drops the connection, it never panics or hangs.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use resp_conn::{ConnectionInfo, Error, cmd};

/// Accepts connections and answers every read with `reply`, until the test ends;
/// except the first read, the handshake's PING, which gets its PONG.
fn fake_server(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut answer = &b"+PONG\r\n"[..];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(answer).is_err() {
                        return;
                    }
                    answer = reply;
                }
            });
        }
    });
    port
}

fn info(port: u16) -> ConnectionInfo {
    ConnectionInfo::tcp("127.0.0.1", port).with_read_timeout(Some(Duration::from_secs(5)))
}

#[test]
fn garbage_is_a_protocol_error_and_closes_the_connection() {
    for garbage in [
        &b"HTTP/1.1 400 Bad Request\r\n\r\n"[..],
        b"$3\r\nfooXY",
        b":05\r\n",
        b"*-7\r\n",
    ] {
        let port = fake_server(garbage);
        let mut con = resp_conn::Connection::open(info(port)).unwrap();
        match con.query::<String>(&cmd("PING")) {
            Err(Error::Protocol(e)) => assert!(e.to_string().contains("byte"), "{e}"),
            other => panic!(
                "{:?}: expected a protocol error, got {other:?}",
                String::from_utf8_lossy(garbage)
            ),
        }
        assert!(
            !con.is_open(),
            "the connection is dropped after a protocol error"
        );
    }
}

#[test]
fn a_reply_cut_short_by_the_server_is_a_connection_error() {
    // Half a reply, then the server closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        // The handshake's PING, then the command.
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"+PONG\r\n");
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"$10\r\nhalf");
    });
    let mut con = resp_conn::Connection::open(info(port)).unwrap();
    let err = con.query::<String>(cmd("GET").arg("k")).unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed), "{err}");
}

#[tokio::test]
async fn the_multiplexed_handle_fails_every_caller_on_garbage() {
    let port = fake_server(b"!!! not resp !!!\r\n");
    let con = resp_conn::aio::MultiplexedConnection::open(info(port))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let con = con.clone();
        tasks.push(tokio::spawn(async move {
            con.query::<String>(&cmd("PING")).await
        }));
    }
    for t in tasks {
        let err = tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("no hang")
            .unwrap()
            .unwrap_err();
        assert!(err.is_connection_error(), "{err}");
    }
}
