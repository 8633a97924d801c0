//! A small pool of dedicated connections, for blocking commands.
//!
//! Ordinary traffic needs no pool: one [`MultiplexedConnection`](super::MultiplexedConnection)
//! serves any number of tasks. But a blocking command (`BLPOP`, `BRPOPLPUSH`,
//! `XREAD BLOCK`, `WAIT`) holds its socket until it returns, so each task that blocks
//! needs a socket of its own. A [`Pool`] keeps up to `size` such connections, opens
//! them on demand, reuses them, and makes further callers wait for a free one.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Connection;
use crate::error::Result;
use crate::info::{ConnectionInfo, IntoConnectionInfo};

/// Up to `size` dedicated async connections, lent one at a time.
///
/// ```no_run
/// # async fn demo() -> resp_conn::Result<()> {
/// use resp_conn::{aio::Pool, cmd};
///
/// let pool = Pool::new("redis://127.0.0.1", 8)?;
/// let mut con = pool.get().await?; // waits while all 8 are lent out
/// let job: Option<(String, String)> = con.query(cmd("BLPOP").arg("jobs").arg(0)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    info: ConnectionInfo,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("aio::Pool")
            .field("server", &self.inner.info.to_string())
            .field("available", &self.inner.permits.available_permits())
            .finish()
    }
}

impl Pool {
    /// A pool of at most `size` connections (at least one); none is opened yet.
    pub fn new(info: impl IntoConnectionInfo, size: usize) -> Result<Pool> {
        Ok(Pool {
            inner: Arc::new(Inner {
                info: info.into_connection_info()?,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size.max(1))),
            }),
        })
    }

    /// Borrows a connection: an idle one, or a new one if fewer than `size` exist;
    /// otherwise waits until one is returned. It goes back to the pool when the
    /// guard is dropped, unless it broke.
    pub async fn get(&self) -> Result<PooledConnection> {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        let idle = self.inner.idle.lock().expect("pool lock").pop();
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

/// A connection borrowed from a [`Pool`]; derefs to [`Connection`].
pub struct PooledConnection {
    con: Option<Connection>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
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
        // A broken connection would reconnect on its next use anyway; keeping it is
        // fine. The permit is released after the connection is back in the pool.
        if let Some(con) = self.con.take() {
            self.pool.idle.lock().expect("pool lock").push(con);
        }
    }
}
