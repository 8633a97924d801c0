//! An outside attack on `aio::Pool`'s session rule: a lent connection goes back to the
//! pool only if no command sent on it may have changed its session. Each test dirties
//! a lent connection in some way, drops the guard, and checks that the next borrower
//! gets only its own replies, on db 0, with no watch, transaction, name or
//! subscription left over; and that clean use keeps the connection (same `CLIENT ID`).
//!
//! Every test talks to a private redis-server. Loops are bounded.

use std::time::Duration;

use resp_conn::aio::{Pool, PooledConnection};
use resp_conn::{ConnectionInfo, Pipeline, Script, Value, cmd};
use stdnet_test_support::RedisServer;

fn pool(server: &RedisServer) -> Pool {
    let info = ConnectionInfo::tcp("127.0.0.1", server.port())
        .with_read_timeout(Some(Duration::from_secs(5)));
    // One dedicated connection: the next `get` gets the one given back, if any.
    Pool::new(info, 1).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The next borrower's view: its `CLIENT ID`, and a check that the connection is
/// pristine: a transaction of its own on a key another client changes in between
/// succeeds (no WATCH left), a GET answers with the value (not QUEUED), the database
/// is 0, the connection has no name, and no reply is out of step.
async fn next_borrower_is_clean(pool: &Pool, what: &str) -> i64 {
    match borrower_check(pool).await {
        Ok(id) => id,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// [`next_borrower_is_clean`], as a `Result`, for tests that collect failures.
/// A connection that fails the check is discarded, so that one case's leftover state
/// does not leak into the next case.
async fn borrower_check(pool: &Pool) -> Result<i64, String> {
    let mut con = pool.get().await.map_err(|e| e.to_string())?;
    let result = check_connection(pool, &mut con).await;
    if result.is_err() {
        con.discard();
    }
    result
}

async fn check_connection(pool: &Pool, con: &mut PooledConnection) -> Result<i64, String> {
    let id: i64 = con
        .query(cmd("CLIENT").arg("ID"))
        .await
        .map_err(|e| format!("CLIENT ID: {e}"))?;
    // Another client changes every key a last borrower may have watched.
    for key in ["w", "k", "x"] {
        pool.query::<()>(cmd("SET").arg(key).arg("other"))
            .await
            .map_err(|e| e.to_string())?;
    }
    con.query::<()>(cmd("SET").arg("own").arg("mine"))
        .await
        .map_err(|e| format!("SET: {e}"))?;
    let got: Option<String> = con
        .query(cmd("GET").arg("own"))
        .await
        .map_err(|e| format!("GET: {e}"))?;
    if got.as_deref() != Some("mine") {
        return Err(format!("GET out of step: {got:?}"));
    }
    let info: String = con
        .query(cmd("CLIENT").arg("INFO"))
        .await
        .map_err(|e| format!("CLIENT INFO: {e}"))?;
    for (needle, fault) in [
        (" db=0 ", "not on db 0"),
        (" name= ", "a name is left"),
        (" multi=-1 ", "inside MULTI"),
        (" sub=0 psub=0", "subscribed"),
    ] {
        if !info.contains(needle) {
            return Err(format!("{fault}: {info}"));
        }
    }
    con.query::<()>(&cmd("MULTI"))
        .await
        .map_err(|e| format!("MULTI: {e}"))?;
    con.query::<()>(cmd("INCR").arg("counter"))
        .await
        .map_err(|e| format!("INCR: {e}"))?;
    let exec: Value = con.request(&cmd("EXEC")).await.map_err(|e| e.to_string())?;
    if !matches!(&exec, Value::Array(items) if items.len() == 1) {
        return Err(format!(
            "the borrower's own transaction failed (a WATCH was left): {exec:?}"
        ));
    }
    Ok(id)
}

async fn first_id(pool: &Pool) -> i64 {
    let mut con = pool.get().await.unwrap();
    con.query(cmd("CLIENT").arg("ID")).await.unwrap()
}

#[test]
fn odd_case_names_bytes_and_subcommands_are_followed() {
    let server = RedisServer::start();
    let rt = rt();
    rt.block_on(async {
        let pool = pool(&server);
        let cases: Vec<(&str, Vec<Vec<&str>>)> = vec![
            ("multi", vec![vec!["multi"], vec!["set", "k", "1"]]),
            ("MuLtI", vec![vec!["MuLtI"]]),
            ("wAtCh", vec![vec!["wAtCh", "w"]]),
            ("select", vec![vec!["sElEcT", "1"]]),
            ("client setname", vec![vec!["cLiEnT", "SeTnAmE", "x"]]),
            ("client tracking", vec![vec!["client", "tracking", "on"]]),
            ("subscribe", vec![vec!["Subscribe", "chan"]]),
            ("reset", vec![vec!["reset"]]),
        ];
        for (what, commands) in cases {
            {
                let mut con = pool.get().await.unwrap();
                for args in commands {
                    let mut c = cmd(args[0]);
                    c.args(&args[1..]);
                    // SUBSCRIBE's reply on RESP2 is an array; take whatever comes.
                    let _ = con.request(&c).await;
                }
            }
            next_borrower_is_clean(&pool, what).await;
        }
    });
}

#[test]
fn pipelines_atomic_or_not_and_the_discard_path_are_followed() {
    let server = RedisServer::start();
    let rt = rt();
    rt.block_on(async {
        let pool = pool(&server);
        for atomic in [false, true] {
            for discard in [false, true] {
                let what = format!("pipeline atomic={atomic} discard={discard}");
                {
                    let mut con = pool.get().await.unwrap();
                    let mut p = Pipeline::new();
                    if atomic {
                        p.atomic();
                    }
                    p.cmd("GET").arg("k");
                    p.cmd("select").arg(1);
                    p.cmd("GET").arg("k");
                    if discard {
                        let _ = con.query_pipeline::<()>(&p).await;
                    } else {
                        let _ = con.request_pipeline(&p).await;
                    }
                }
                next_borrower_is_clean(&pool, &what).await;
            }
            // A MULTI left open by a non-atomic pipeline, on the discard path.
            {
                let mut con = pool.get().await.unwrap();
                let mut p = Pipeline::new();
                p.cmd("WATCH").arg("w");
                p.cmd("multi");
                p.cmd("SET").arg("k").arg(1);
                let _ = con.query_pipeline::<()>(&p).await;
            }
            next_borrower_is_clean(&pool, "MULTI left open by a () pipeline").await;
        }
    });
}

#[test]
fn a_script_cannot_dirty_the_connection_and_keeps_it() {
    let server = RedisServer::start();
    let rt = rt();
    rt.block_on(async {
        let pool = pool(&server);
        let id = first_id(&pool).await;
        // A script that SELECTs another database: since Redis 7 it affects the
        // script only.
        let script = Script::new("redis.call('SELECT', 1); return redis.call('SET', KEYS[1], 'v')");
        {
            let mut con = pool.get().await.unwrap();
            let _: Value = con.invoke_script(&script.key("x")).await.unwrap();
        }
        assert_eq!(next_borrower_is_clean(&pool, "script").await, id);
    });
}

#[test]
fn clean_use_keeps_the_connection() {
    let server = RedisServer::start();
    let rt = rt();
    rt.block_on(async {
        let pool = pool(&server);
        let id = first_id(&pool).await;
        {
            let mut con = pool.get().await.unwrap();
            con.query::<()>(cmd("SET").arg("k").arg("v")).await.unwrap();
            let _: Option<String> = con.query(cmd("GET").arg("k")).await.unwrap();
            con.query::<()>(cmd("watch").arg("w")).await.unwrap();
            con.query::<()>(&cmd("multi")).await.unwrap();
            con.query::<()>(cmd("SET").arg("w").arg(1)).await.unwrap();
            let _: Value = con.request(&cmd("exec")).await.unwrap();
            con.query::<()>(cmd("WATCH").arg("w")).await.unwrap();
            con.query::<()>(&cmd("UNWATCH")).await.unwrap();
            con.query::<()>(&cmd("MULTI")).await.unwrap();
            con.query::<()>(&cmd("DISCARD")).await.unwrap();
        }
        assert_eq!(next_borrower_is_clean(&pool, "clean").await, id);
        // A WATCH ... MULTI ... EXEC in one non-atomic pipeline, replies discarded.
        {
            let mut con = pool.get().await.unwrap();
            let mut p = Pipeline::new();
            p.cmd("WATCH").arg("w");
            p.cmd("MULTI");
            p.cmd("INCR").arg("w2");
            p.cmd("EXEC");
            con.query_pipeline::<()>(&p).await.unwrap();
        }
        assert_eq!(next_borrower_is_clean(&pool, "clean pipeline").await, id);
    });
}

#[test]
fn an_exec_or_discard_the_server_refuses_does_not_end_the_transaction() {
    // `EXEC x` is refused for its arity *inside* the transaction: the server stays in
    // MULTI (and flags it), so the next borrower's GET would be answered QUEUED.
    // `EXEC` or `DISCARD` without MULTI is refused too, and leaves a WATCH in place:
    // the next borrower's transaction would then fail because of keys it never
    // watched. Same for `UNWATCH x`.
    let server = RedisServer::start();
    let rt = rt();
    rt.block_on(async {
        let pool = pool(&server);
        let cases: Vec<(&str, Vec<Vec<&str>>)> = vec![
            (
                "MULTI, then EXEC with an argument",
                vec![vec!["MULTI"], vec!["EXEC", "x"]],
            ),
            (
                "MULTI, then DISCARD with an argument",
                vec![vec!["MULTI"], vec!["DISCARD", "x"]],
            ),
            (
                "WATCH, then EXEC without MULTI",
                vec![vec!["WATCH", "w"], vec!["EXEC"]],
            ),
            (
                "WATCH, then DISCARD without MULTI",
                vec![vec!["WATCH", "w"], vec!["DISCARD"]],
            ),
            (
                "WATCH, then UNWATCH with an argument",
                vec![vec!["WATCH", "w"], vec!["UNWATCH", "x"]],
            ),
        ];
        let mut failures = Vec::new();
        for (what, commands) in cases {
            {
                let mut con = pool.get().await.unwrap();
                for args in &commands {
                    let mut c = cmd(args[0]);
                    c.args(&args[1..]);
                    let _ = con.request(&c).await.unwrap();
                }
            }
            if let Err(e) = borrower_check(&pool).await {
                failures.push(format!("{what}: {e}"));
            }
            // The same in one pipeline, replies kept and discarded.
            for discard in [false, true] {
                {
                    let mut con = pool.get().await.unwrap();
                    let mut p = Pipeline::new();
                    for args in &commands {
                        p.cmd(args[0]).args(&args[1..]);
                    }
                    if discard {
                        let _ = con.query_pipeline::<()>(&p).await;
                    } else {
                        let _ = con.request_pipeline(&p).await.unwrap();
                    }
                }
                if let Err(e) = borrower_check(&pool).await {
                    failures.push(format!("{what}, pipelined, discard={discard}: {e}"));
                }
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    });
}

#[test]
fn an_execabort_in_a_pipeline_leaves_nothing() {
    let server = RedisServer::start();
    let rt = rt();
    rt.block_on(async {
        let pool = pool(&server);
        {
            let mut con = pool.get().await.unwrap();
            let mut p = Pipeline::new();
            p.cmd("WATCH").arg("w");
            p.cmd("MULTI");
            p.cmd("SET").arg("k"); // wrong arity: EXEC answers EXECABORT
            p.cmd("EXEC");
            let _ = con.request_pipeline(&p).await;
        }
        next_borrower_is_clean(&pool, "EXECABORT").await;
    });
}

#[test]
fn multi_then_a_connection_error_or_a_cut_never_reaches_the_next_borrower() {
    let mut server = RedisServer::start();
    let rt = rt();
    rt.block_on(async {
        let pool = pool(&server);
        // A cut at every poll while the connection is inside MULTI.
        for polls in 0..6 {
            {
                let mut con = pool.get().await.unwrap();
                con.query::<()>(&cmd("MULTI")).await.unwrap();
                let mut set = cmd("SET");
                set.arg("k").arg(polls);
                let fut = con.request(&set);
                let _ = cut_after_polls(polls, fut).await;
            }
            next_borrower_is_clean(&pool, &format!("MULTI, cut after {polls} polls")).await;
        }
    });
    // MULTI, then the server goes away and comes back.
    rt.block_on(async {
        let pool = pool(&server);
        {
            let mut con = pool.get().await.unwrap();
            con.query::<()>(&cmd("MULTI")).await.unwrap();
            server.stop();
            assert!(con.request(cmd("SET").arg("k").arg(1)).await.is_err());
            server.restart();
            // The next request on this guard reconnects: a new, pristine session.
            let _: Option<String> = con.query(cmd("GET").arg("k")).await.unwrap();
        }
        next_borrower_is_clean(&pool, "MULTI, server restarted").await;
    });
}

/// Polls `fut` `polls` times, yielding to the runtime in between, then drops it.
async fn cut_after_polls<F: std::future::Future>(polls: usize, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..polls {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}
