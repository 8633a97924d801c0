//! A pool of async connections: multiplexed handles shared by every task for ordinary
//! requests, and dedicated connections lent one task at a time for what cannot share
//! a socket.
//!
//! The contract (what is shared, what is exclusive, cancellation) is on [`Pool`].

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::{Connection, MultiplexedConnection};
use crate::cmd::{Cmd, Pipeline};
use crate::error::Result;
use crate::info::{ConnectionInfo, IntoConnectionInfo};
use crate::reply::{FromFrame, Value};
use crate::script::ScriptInvocation;

/// Multiplexed handles shared by every task, and up to `exclusive` dedicated
/// connections lent one task at a time.
///
/// ```no_run
/// # async fn demo() -> resp_conn::Result<()> {
/// use resp_conn::{aio::Pool, cmd};
///
/// let pool = Pool::new("redis://127.0.0.1", 8)?;
/// // Ordinary requests: shared, no checkout, any number of tasks at once.
/// pool.query::<()>(cmd("RPUSH").arg("jobs").arg("job-1")).await?;
/// // A blocking command: a connection of its own, waiting while all 8 are lent out.
/// let mut con = pool.get().await?;
/// let job: Option<(String, String)> = con.query(cmd("BLPOP").arg("jobs").arg(5)).await?;
/// # Ok(()) }
/// ```
///
/// # Shared: ordinary requests
///
/// [`query`](Self::query), [`request`](Self::request),
/// [`query_pipeline`](Self::query_pipeline), [`request_pipeline`](Self::request_pipeline)
/// and [`invoke_script`](Self::invoke_script) go to the pool's
/// [`MultiplexedConnection`]s (4 by default, see [`PoolBuilder::multiplexed`]), one
/// after the other in turn (each thread turns through them on its own). There is no
/// checkout: a request costs what it costs on a multiplexed handle, and requests from
/// many tasks share writes. Any number of tasks can use them at once.
/// [`multiplexed`](Self::multiplexed) hands out one of these handles for code that
/// wants to keep it. Each handle is opened on its first use, and its driver task runs
/// on the tokio runtime of that first use, so use a pool within one runtime.
///
/// Shared handles suit every command that finishes at once and leaves no state on its
/// connection, and atomic [`Pipeline`]s (`MULTI` ... `EXEC` go out together in one
/// write). They do not suit commands that block (`BLPOP`, `BRPOPLPUSH`,
/// `XREAD BLOCK`, `WAIT`: every request behind one waits with it), transactions that
/// span round trips (`WATCH`, then reads, then `MULTI` ... `EXEC`), commands that change
/// the connection (`SELECT`, `CLIENT SETNAME`, `CLIENT TRACKING`), or `MONITOR`. For
/// those, check out a connection with [`get`](Self::get). Pub/sub gets a connection
/// of its own: [`PubSub::open`](super::PubSub::open) with [`info`](Self::info).
///
/// # Exclusive: dedicated connections
///
/// [`get`](Self::get) lends a [`Connection`] to one task until its
/// [`PooledConnection`] guard is dropped. The pool opens up to `exclusive` of them on
/// demand (see [`PoolBuilder::exclusive`]; `Pool::new`'s second argument), reuses
/// them, and makes further callers of `get` wait for one to come back. A connection
/// comes back only with its session as the handshake left it: the connection follows
/// the names of the commands sent on it, and one that may have left state for the
/// next borrower is closed when its guard is dropped and its place freed. That is a
/// `MULTI` or `WATCH` not ended by `EXEC`, `DISCARD` or `UNWATCH`, and for good any
/// `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`, `MONITOR`, `SELECT` (even back to the
/// configured database), `HELLO`, `AUTH`, `RESET`, `READONLY`/`READWRITE`, and
/// `CLIENT TRACKING`/`REPLY`/`SETNAME`/`NO-EVICT`/`NO-TOUCH`/`SETINFO`. An `EXEC`,
/// `DISCARD` or `UNWATCH` ends a transaction or watch only if the server can have
/// accepted it: not with arguments, not an `EXEC`/`DISCARD` with no `MULTI` before it
/// (the server keeps the keys watched), and not when it (or anything in its pipeline)
/// was answered with an error. So a WATCH
/// transaction that ends keeps its connection, and no borrower ever gets `QUEUED`,
/// a message or an invalidation meant for the one before.
/// [`discard`](PooledConnection::discard) closes a connection in any case. (State a
/// script leaves is not followed: scripts cannot change their caller's session.)
///
/// An idle connection the server has closed meanwhile (a restart, `CLIENT KILL`, an
/// idle `timeout`) is not lent: `get` lets it go and lends another or a new one.
/// (This is only as fresh as the runtime's last look at the socket: a close that
/// arrives in the instant of the `get` still fails the borrower's first request, as a
/// connection error.)
///
/// # Cancellation
///
/// A request may be cancelled (its future dropped: a timeout, `select!`, an aborted
/// task) at any point; no reply ever reaches another request.
///
/// * On the shared handles, a request given up stays in the queue or in flight; the
///   driver writes it if it has not yet, reads its reply and drops it. The handle and
///   every other request on it are unaffected (see [`MultiplexedConnection`]).
/// * On a lent connection, a request cut short closes the connection at that moment
///   (see [`Connection`'s cancellation](Connection#cancellation)), and the pool never
///   takes back a closed connection: when the guard is dropped, it is let go and its
///   place freed, so the next `get` opens a new one. A connection that goes back to
///   the pool has no request on it unfinished.
/// * A `get` cancelled while it waits for a free connection, or while it opens one,
///   takes nothing from the pool.
///
/// Whether the server ran a request given up is not known, on either kind.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

thread_local! {
    /// Which shared handle the next request from this thread takes, modulo their
    /// number. Per thread rather than one atomic per pool: tokio's workers then
    /// never write the same cache line per request, and each still turns through
    /// every handle.
    static NEXT: Cell<usize> = const { Cell::new(0) };
}

struct Inner {
    info: ConnectionInfo,
    /// The shared handles, each opened on first use.
    shared: Box<[OnceCell<MultiplexedConnection>]>,
    /// Dedicated connections not lent out, each open and in step.
    idle: Mutex<Vec<Connection>>,
    /// One per dedicated connection that may be lent at once.
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("aio::Pool")
            .field("server", &self.inner.info.to_string())
            .field("multiplexed", &self.inner.shared.len())
            .field(
                "exclusive_available",
                &self.inner.permits.available_permits(),
            )
            .finish()
    }
}

/// The sizes of a [`Pool`] before it is built: [`Pool::builder`].
#[derive(Debug)]
#[must_use = "a PoolBuilder does nothing until `.build()`"]
pub struct PoolBuilder {
    info: Result<ConnectionInfo>,
    multiplexed: usize,
    exclusive: usize,
}

impl PoolBuilder {
    /// How many multiplexed handles share out the ordinary requests (at least one;
    /// default [`Pool::DEFAULT_MULTIPLEXED`]). One handle already serves any number of tasks;
    /// a few more spread the client's work over more driver tasks, hence more cores.
    pub fn multiplexed(mut self, handles: usize) -> PoolBuilder {
        self.multiplexed = handles.max(1);
        self
    }

    /// How many dedicated connections [`Pool::get`] may lend at once (at least one;
    /// default 8).
    pub fn exclusive(mut self, connections: usize) -> PoolBuilder {
        self.exclusive = connections.max(1);
        self
    }

    /// The pool; no connection is opened yet.
    pub fn build(self) -> Result<Pool> {
        Ok(Pool {
            inner: Arc::new(Inner {
                info: self.info?,
                shared: (0..self.multiplexed).map(|_| OnceCell::new()).collect(),
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(self.exclusive)),
            }),
        })
    }
}

impl Pool {
    /// How many multiplexed handles a pool shares out unless told otherwise.
    pub const DEFAULT_MULTIPLEXED: usize = 4;

    /// A pool of [`DEFAULT_MULTIPLEXED`](Self::DEFAULT_MULTIPLEXED) shared handles and at most `exclusive`
    /// dedicated connections (at least one); none is opened yet.
    pub fn new(info: impl IntoConnectionInfo, exclusive: usize) -> Result<Pool> {
        Pool::builder(info).exclusive(exclusive).build()
    }

    /// A pool with other sizes than [`new`](Self::new)'s:
    /// `Pool::builder(url).multiplexed(2).exclusive(16).build()`.
    pub fn builder(info: impl IntoConnectionInfo) -> PoolBuilder {
        PoolBuilder {
            info: info.into_connection_info(),
            multiplexed: Pool::DEFAULT_MULTIPLEXED,
            exclusive: 8,
        }
    }

    /// The settings every connection of the pool is opened with.
    pub fn info(&self) -> &ConnectionInfo {
        &self.inner.info
    }

    /// The next shared handle in turn, opened now if this is its first use.
    async fn shared(&self) -> Result<&MultiplexedConnection> {
        let slots = &self.inner.shared;
        let slot = &slots[NEXT.with(|next| next.replace(next.get().wrapping_add(1))) % slots.len()];
        match slot.get() {
            Some(con) => Ok(con),
            None => self.open(slot).await,
        }
    }

    /// Opens a shared handle on its first use. Boxed: the opening future is large,
    /// and inline it would make every request's future (and every task spawned around
    /// one) larger to move, for a path taken once per handle.
    fn open<'a>(
        &'a self,
        slot: &'a OnceCell<MultiplexedConnection>,
    ) -> Pin<Box<dyn Future<Output = Result<&'a MultiplexedConnection>> + Send + 'a>> {
        Box::pin(slot.get_or_try_init(|| MultiplexedConnection::open(&self.inner.info)))
    }

    /// One of the shared handles (the next in turn), to keep: a clone of it, which
    /// the pool keeps using too.
    pub async fn multiplexed(&self) -> Result<MultiplexedConnection> {
        self.shared().await.cloned()
    }

    /// Sends a command on a shared handle and converts its reply.
    pub async fn query<T: FromFrame>(&self, command: &Cmd) -> Result<T> {
        let con = self.shared().await?;
        con.query(command).await
    }

    /// Sends a command on a shared handle and returns its reply frame, error replies
    /// included.
    pub async fn request(&self, command: &Cmd) -> Result<Value> {
        let con = self.shared().await?;
        con.request(command).await
    }

    /// Sends a pipeline on a shared handle (its commands stay together, in order, in
    /// one write) and converts its replies.
    pub async fn query_pipeline<T: FromFrame>(&self, pipeline: &Pipeline) -> Result<T> {
        let con = self.shared().await?;
        con.query_pipeline(pipeline).await
    }

    /// Sends a pipeline on a shared handle and returns its replies as one frame.
    pub async fn request_pipeline(&self, pipeline: &Pipeline) -> Result<Value> {
        let con = self.shared().await?;
        con.request_pipeline(pipeline).await
    }

    /// Calls a script on a shared handle, loading it if the server does not have it.
    pub async fn invoke_script<T: FromFrame>(&self, call: &ScriptInvocation<'_>) -> Result<T> {
        let con = self.shared().await?;
        con.invoke_script(call).await
    }

    /// Borrows a dedicated connection: an idle one, or a new one if fewer than
    /// `exclusive` are lent out; otherwise waits until one comes back. It comes back
    /// when the guard is dropped, unless it was closed (a request on it was cut short
    /// or broke): then its place is freed for a new one.
    pub async fn get(&self) -> Result<PooledConnection> {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        // An idle connection the server has closed meanwhile (a restart) is let go:
        // lent, it would fail its borrower's first request.
        let idle = loop {
            let Some(mut con) = self.inner.idle.lock().expect("pool lock").pop() else {
                break None;
            };
            if !con.closed_by_peer() {
                break Some(con);
            }
        };
        let con = match idle {
            Some(con) => con,
            None => Connection::open(&self.inner.info).await?,
        };
        Ok(PooledConnection {
            con: Some(con),
            pool: self.inner.clone(),
            _permit: permit,
        })
    }
}

/// A dedicated connection borrowed from a [`Pool`]; derefs to [`Connection`].
///
/// Dropping it gives the connection back to the pool if it is open; a connection
/// closed by a request cut short (or by a connection error) is let go instead.
pub struct PooledConnection {
    con: Option<Connection>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl PooledConnection {
    /// Closes the connection instead of giving it back, for one whose state commands
    /// changed (`SELECT`, `CLIENT SETNAME`, a `WATCH` or `MULTI` left open). Its place
    /// in the pool is freed.
    pub fn discard(mut self) {
        self.con = None;
    }
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PooledConnection").field(&self.con).finish()
    }
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.con.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.con.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        // Only an open connection with its session as the handshake left it goes
        // back: one closed by a request cut short would reconnect on its next use
        // anyway, and one left subscribed, inside MULTI or WATCH, on another database
        // or with client options changed would answer the next borrower with what the
        // last one asked for. The permit is released after the connection is back.
        if let Some(con) = self
            .con
            .take()
            .filter(|con| con.is_open() && con.is_pristine())
        {
            self.pool.idle.lock().expect("pool lock").push(con);
        }
    }
}
