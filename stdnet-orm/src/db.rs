//! The two execution fronts: [`Db`] on a blocking connection, [`AsyncDb`] on the async
//! multiplexed handle. Both have the same methods (the async ones return futures);
//! they share everything but the sending, which is why one macro defines both.

use resp_conn::aio::MultiplexedConnection;
use resp_conn::{Connection, ScriptInvocation, Value};

use crate::error::{Error, Result};
use crate::field::Field;
use crate::keys::Keys;
use crate::model::{Column, Filterable, Model};
use crate::ops::{self, Output, Row};
use crate::query::Query;

/// Models on a blocking [`resp_conn::Connection`].
///
/// The key namespace comes from the connection's URL (`?namespace=...`) or builder,
/// or from [`with_namespace`](Db::with_namespace).
pub struct Db {
    con: Connection,
    namespace: String,
}

/// Models on an async [`resp_conn::aio::MultiplexedConnection`]; cheap to clone and
/// share between tasks.
#[derive(Clone)]
pub struct AsyncDb {
    con: MultiplexedConnection,
    namespace: String,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl std::fmt::Debug for AsyncDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncDb")
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Db {
    /// Wraps a connection; the namespace is the connection's.
    pub fn new(con: Connection) -> Db {
        let namespace = con.info().namespace.clone().unwrap_or_default();
        Db { con, namespace }
    }

    /// Opens a connection from a URL or [`resp_conn::ConnectionInfo`].
    pub fn open(info: impl resp_conn::IntoConnectionInfo) -> Result<Db> {
        Ok(Db::new(Connection::open(info)?))
    }

    /// Uses `namespace` as the key prefix of every model.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Db {
        self.namespace = namespace.into();
        self
    }

    /// The underlying connection, for plain Redis commands.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.con
    }

    fn eval(&mut self, call: ScriptInvocation<'_>) -> Result<Value> {
        ops::check(call.invoke::<Value>(&mut self.con)?)
    }

    fn command(&mut self, command: &resp_conn::Cmd) -> Result<Value> {
        ops::check(self.con.request(command)?)
    }

    fn pipeline(&mut self, pipeline: &resp_conn::Pipeline) -> Result<Value> {
        Ok(self.con.request_pipeline(pipeline)?)
    }
}

impl AsyncDb {
    /// Wraps a multiplexed handle; the namespace is the connection's.
    pub fn new(con: MultiplexedConnection) -> AsyncDb {
        let namespace = con.info().namespace.clone().unwrap_or_default();
        AsyncDb { con, namespace }
    }

    /// Opens a multiplexed connection from a URL or [`resp_conn::ConnectionInfo`].
    pub async fn open(info: impl resp_conn::IntoConnectionInfo) -> Result<AsyncDb> {
        Ok(AsyncDb::new(MultiplexedConnection::open(info).await?))
    }

    /// Uses `namespace` as the key prefix of every model.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> AsyncDb {
        self.namespace = namespace.into();
        self
    }

    /// The underlying handle, for plain Redis commands.
    pub fn connection(&self) -> &MultiplexedConnection {
        &self.con
    }

    async fn eval(&self, call: ScriptInvocation<'_>) -> Result<Value> {
        ops::check(self.con.invoke_script::<Value>(&call).await?)
    }

    async fn command(&self, command: &resp_conn::Cmd) -> Result<Value> {
        ops::check(self.con.request(command).await?)
    }

    async fn pipeline(&self, pipeline: &resp_conn::Pipeline) -> Result<Value> {
        Ok(self.con.request_pipeline(pipeline).await?)
    }
}

/// Defines the model operations once for both fronts. `[$recv] $s` is the receiver
/// (`&mut self` or `&self`; `self` is passed in so that the body may name it), `$($async)?` the `async` keyword or nothing, and
/// `$($aw)*` the `.await` after each send or nothing.
macro_rules! operations {
    ($front:ident, [$($recv:tt)*] $s:ident, [$($async:tt)?], [$($aw:tt)*]) => {
        impl $front {
            fn keys<M: Model>(&self) -> Keys {
                Keys::new(&self.namespace, &M::META)
            }

            /// Saves an instance: inserts it (assigning the next id if its id is 0) or
            /// updates it, with every index, atomically in one round trip. An explicit
            /// id whose hash does not exist is inserted with that id.
            ///
            /// Everything or nothing is written. Before anything is sent: the
            /// model's `validate` hook, ids above [`MAX_ID`](crate::MAX_ID)
            /// ([`Error::InvalidId`]), NaN in a number field ([`Error::InvalidValue`];
            /// infinities are valid). Inside the script, before its first write: a
            /// unique value taken ([`Error::Unique`]; by an instance whose hash still
            /// exists), a stale `#[model(version)]` ([`Error::Conflict`]), no id left
            /// ([`Error::IdsExhausted`]), a key to be written holding another type or
            /// a counter that is not a number ([`Error::Corrupt`]). On success the
            /// instance gets its id and, with a version field, its new version.
            pub $($async)? fn save<M: Model>($($recv)* $s, object: &mut M) -> Result<()> {
                $s.save_all(std::slice::from_mut(object)) $($aw)*
            }

            /// Saves many instances in one script: all of them, or none if any of
            /// them fails a check of [`save`](Self::save) (a unique value may also
            /// clash within the batch). A batch naming one id twice is
            /// [`Error::DuplicateId`] before anything is sent.
            pub $($async)? fn save_all<M: Model>($($recv)* $s, objects: &mut [M]) -> Result<()> {
                if objects.is_empty() {
                    return Ok(());
                }
                let call = ops::save_call(&$s.keys::<M>(), objects.iter(), None)?;
                let pks: Vec<u64> = objects.iter().map(|o| o.pk()).collect();
                let ids = ops::save_reply::<M>($s.eval(call) $($aw)* ?, pks)?;
                for (object, id) in objects.iter_mut().zip(ids) {
                    object.set_version(ops::saved_version(&*object));
                    object.set_pk(id);
                }
                Ok(())
            }

            /// Updates only the named fields of a saved instance (and only their
            /// indexes); other stored fields are left as they are. An instance whose
            /// hash no longer exists (deleted by another client, or outside the ORM)
            /// is [`Error::DoesNotExist`] and nothing is written: an update never
            /// brings back part of an instance. With a `#[model(version)]` field the
            /// version is checked and bumped as by [`save`](Self::save), and set on
            /// `object`.
            pub $($async)? fn update<M: Model>($($recv)* $s, object: &mut M, fields: &[&str]) -> Result<()> {
                if object.pk() == 0 {
                    return Err(Error::DoesNotExist { model: M::META.label(), id: Some(0) });
                }
                let call = ops::save_call(&$s.keys::<M>(), [&*object], Some(fields))?;
                ops::save_reply::<M>($s.eval(call) $($aw)* ?, [object.pk()])?;
                object.set_version(ops::saved_version(&*object));
                Ok(())
            }

            /// Deletes an instance and every index entry of it; false if it did not exist.
            ///
            /// An instance whose hash is gone (deleted or expired outside the ORM)
            /// returns false and its index entries are removed: those keyed by id
            /// directly, those keyed by value (equality sets, unique and prefix
            /// entries) from the values `object` holds. Entries under other values
            /// (a copy older than the lost hash) stay; queries skip them and
            /// [`repair`](Self::repair) removes them.
            ///
            /// Atomic: a key the delete writes holding another type (the instance's
            /// key, an index key of its values) is [`Error::Corrupt`] before anything
            /// is written.
            pub $($async)? fn delete<M: Model>($($recv)* $s, object: &M) -> Result<bool> {
                let call = ops::delete_call::<M>(&$s.keys::<M>(), &[object])?;
                Ok(ops::delete_reply::<M>($s.eval(call) $($aw)* ?)? > 0)
            }

            /// Adds `by` to a number field of `object`'s instance atomically (one
            /// script: concurrent increments never lose an update) and moves its index
            /// entries; returns the new value. Integers add exactly and refuse to
            /// leave their type ([`Error::Overflow`]); floats add like `INCRBYFLOAT`.
            /// Nothing is written on any error; an instance whose hash is gone is
            /// [`Error::DoesNotExist`]. `object` is read for its id only. See
            /// [`increment`](crate::increment).
            pub $($async)? fn increment<M: Model, T: crate::Counter, I>(
                $($recv)* $s,
                object: &M,
                column: Column<M, T, I>,
                by: T::Delta,
            ) -> Result<T> {
                if object.pk() == 0 {
                    return Err(Error::DoesNotExist { model: M::META.label(), id: Some(0) });
                }
                let call = crate::increment::increment_call(&$s.keys::<M>(), object.pk(), column, by)?;
                crate::increment::increment_reply($s.eval(call) $($aw)* ?, object.pk(), column, by)
            }

            /// Rebuilds the indexes of model `M` from its hashes, in bounded steps,
            /// and reports what it fixed: ids whose hash is gone, entries that disagree
            /// with their hash, entries a hash lacks (a newly declared index on saved
            /// data), unique values held twice. Safe to run while writers run; see
            /// [`repair`](crate::repair) for what it guarantees and what it costs.
            pub $($async)? fn repair<M: Model>($($recv)* $s) -> Result<crate::RepairReport> {
                let mut job = crate::repair::Repair::<M>::new($s.keys::<M>());
                while let Some(request) = job.next_request() {
                    let reply = match request {
                        crate::repair::Request::Command(c) => $s.command(&c) $($aw)* ?,
                        crate::repair::Request::Pipeline(p) => $s.pipeline(&p) $($aw)* ?,
                        crate::repair::Request::Script(inv) => $s.eval(inv) $($aw)* ?,
                    };
                    job.feed(reply)?;
                }
                Ok(job.into_report())
            }

            /// The instance with this id, or [`Error::DoesNotExist`].
            pub $($async)? fn get<M: Model>($($recv)* $s, id: u64) -> Result<M> {
                let reply = $s.command(&ops::get_cmd(&$s.keys::<M>(), id)) $($aw)* ?;
                ops::decode::<M>(id, reply)?.ok_or_else(|| Error::DoesNotExist { model: M::META.label(), id: Some(id) })
            }

            /// The instance whose indexed (typically unique) field, or primary key,
            /// equals `value`: [`Error::DoesNotExist`] if none (an index entry whose
            /// hash is gone included), [`Error::MultipleObjects`] if more.
            pub $($async)? fn get_by<M: Model, T: Field, I: Filterable>(
                $($recv)* $s,
                column: Column<M, T, I>,
                value: impl crate::query::IntoField<T>,
            ) -> Result<M> {
                $s.one(&Query::all().filter(column.eq(value))) $($aw)*
            }

            /// Every instance the query matches, in its order and slice.
            ///
            /// A query limited to a few instances (16 or fewer) is
            /// read in one script call. A larger one fetches the ids with the script
            /// and then every hash in one pipeline: two round trips, but far cheaper
            /// for the server than building a large nested reply in Lua. An instance
            /// deleted between the two is left out.
            ///
            /// Like every read, it skips index entries whose hash is gone (see
            /// [`count`](Self::count)); offset and limit count live instances.
            pub $($async)? fn all<M: Model>($($recv)* $s, query: &Query<M>) -> Result<Vec<M>> {
                let keys = $s.keys::<M>();
                if query.limit.is_some_and(|n| n <= ops::INLINE_LOAD) {
                    let call = ops::query_call(&keys, query, Output::Full)?;
                    return ops::decode_loaded($s.eval(call) $($aw)* ?);
                }
                let ids = $s.ids(query) $($aw)* ?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let pipeline = ops::get_pipeline(&keys, &ids);
                ops::decode_fetched(&ids, $s.pipeline(&pipeline) $($aw)* ?)
            }

            /// The first instance the query matches, if any.
            pub $($async)? fn first<M: Model>($($recv)* $s, query: &Query<M>) -> Result<Option<M>> {
                let query = query.clone().limit(1);
                Ok($s.all(&query) $($aw)* ?.into_iter().next())
            }

            /// The one instance the query matches: [`Error::DoesNotExist`] if none,
            /// [`Error::MultipleObjects`] if more.
            pub $($async)? fn one<M: Model>($($recv)* $s, query: &Query<M>) -> Result<M> {
                let query = query.clone().limit(2);
                let mut found = $s.all(&query) $($aw)* ?;
                match found.len() {
                    0 => Err(Error::DoesNotExist { model: M::META.label(), id: None }),
                    1 => Ok(found.remove(0)),
                    n => Err(Error::MultipleObjects { model: M::META.label(), count: n }),
                }
            }

            /// How many live instances the query matches (its slice is ignored).
            ///
            /// Exact even when index entries outlive their hash (an instance hash
            /// deleted outside the ORM, evicted or expired): the script checks that
            /// each candidate's hash exists, with one `EXISTS` per 4,000 candidates.
            /// That makes it O(candidates), about 2 us of server time each (measured:
            /// 18-28 ms for 10,000 matches, where `SCARD` took 1 us).
            /// [`count_indexed`](Self::count_indexed) is the O(1) count of the indexes
            /// themselves.
            pub $($async)? fn count<M: Model>($($recv)* $s, query: &Query<M>) -> Result<usize> {
                let call = ops::query_call(&$s.keys::<M>(), query, Output::Count)?;
                Ok(resp_conn::FromFrame::from_frame($s.eval(call) $($aw)* ?)?)
            }

            /// How many entries the indexes hold for the query (its slice is
            /// ignored), without looking at the hashes: O(1) for every instance
            /// (`ZCARD`) or one equality on a field (`SCARD`, or `HEXISTS` on a unique
            /// field), and the cost of the set operations for anything else.
            ///
            /// Equal to [`count`](Self::count) as long as no instance hash was
            /// removed outside the ORM (`DEL` by hand, eviction, expiry); otherwise
            /// it also counts those instances.
            pub $($async)? fn count_indexed<M: Model>($($recv)* $s, query: &Query<M>) -> Result<usize> {
                let keys = $s.keys::<M>();
                if let Some(command) = ops::count_cmd(&keys, query)? {
                    return Ok(resp_conn::FromFrame::from_frame($s.command(&command) $($aw)* ?)?);
                }
                let call = ops::query_call(&keys, query, Output::CountIndexed)?;
                Ok(resp_conn::FromFrame::from_frame($s.eval(call) $($aw)* ?)?)
            }

            /// True if the query matches a live instance (its order and slice are
            /// ignored). Stops at the first one found.
            pub $($async)? fn exists<M: Model>($($recv)* $s, query: &Query<M>) -> Result<bool> {
                let call = ops::query_call(&$s.keys::<M>(), query, Output::Exists)?;
                let found: i64 = resp_conn::FromFrame::from_frame($s.eval(call) $($aw)* ?)?;
                Ok(found > 0)
            }

            /// The ids the query matches, in its order and slice.
            pub $($async)? fn ids<M: Model>($($recv)* $s, query: &Query<M>) -> Result<Vec<u64>> {
                let call = ops::query_call(&$s.keys::<M>(), query, Output::Ids)?;
                Ok(resp_conn::FromFrame::from_frame($s.eval(call) $($aw)* ?)?)
            }

            /// Deletes every instance the query matches (in its slice), in one script;
            /// returns how many. All or nothing, as [`delete`](Self::delete): a key of
            /// the wrong type is [`Error::Corrupt`] before anything is written.
            pub $($async)? fn delete_matching<M: Model>($($recv)* $s, query: &Query<M>) -> Result<usize> {
                let call = ops::query_call(&$s.keys::<M>(), query, Output::Delete)?;
                ops::delete_reply::<M>($s.eval(call) $($aw)* ?)
            }

            /// One field of every matching instance, in order (`None` where it has no
            /// value). The primary-key column gives the ids.
            pub $($async)? fn values<M: Model, T: Field, I>(
                $($recv)* $s,
                query: &Query<M>,
                column: Column<M, T, I>,
            ) -> Result<Vec<T>> {
                let decode_error = |reason| Error::Decode {
                    model: M::META.label(),
                    id: 0,
                    field: column.name().to_owned(),
                    reason,
                };
                if column.name() == M::META.pk {
                    return $s.ids(query) $($aw)* ?
                        .into_iter()
                        .map(|id| T::from_stored(Some(id.to_string().as_bytes())).map_err(decode_error))
                        .collect();
                }
                let call = ops::query_call(&$s.keys::<M>(), query, Output::Values(column.name()))?;
                let raw: Vec<Option<bytes::Bytes>> = resp_conn::FromFrame::from_frame($s.eval(call) $($aw)* ?)?;
                raw.into_iter()
                    .map(|v| T::from_stored(v.as_deref()).map_err(decode_error))
                    .collect()
            }

            /// Only the named fields of every matching instance, as [`Row`]s: the
            /// primary key may be named (every row has its id anyway), and no names
            /// at all give rows with ids only.
            pub $($async)? fn load_only<M: Model>($($recv)* $s, query: &Query<M>, fields: &[&'static str]) -> Result<Vec<Row>> {
                let pk = M::META.pk;
                let stored: Vec<&'static str> = fields.iter().copied().filter(|f| *f != pk).collect();
                let call = ops::query_call(&$s.keys::<M>(), query, Output::Load(&stored))?;
                let named = (stored.len() < fields.len()).then_some(pk);
                ops::decode_rows($s.eval(call) $($aw)* ?, named)
            }

            /// The one instance the query matches, or a new one from `create`, saved.
            /// Returns it and whether it was created. Not atomic: if another client
            /// creates a clashing instance in between, the save fails with
            /// [`Error::Unique`] on unique fields.
            pub $($async)? fn get_or_create<M: Model>(
                $($recv)* $s,
                query: &Query<M>,
                create: impl FnOnce() -> M,
            ) -> Result<(M, bool)> {
                match $s.one(query) $($aw)* {
                    Ok(found) => Ok((found, false)),
                    Err(Error::DoesNotExist { .. }) => {
                        let mut created = create();
                        $s.save(&mut created) $($aw)* ?;
                        Ok((created, true))
                    }
                    Err(e) => Err(e),
                }
            }

            /// Updates the one instance the query matches with `apply` and saves it, or
            /// saves a new one from `create`. Returns it and whether it was created.
            pub $($async)? fn update_or_create<M: Model>(
                $($recv)* $s,
                query: &Query<M>,
                apply: impl FnOnce(&mut M),
                create: impl FnOnce() -> M,
            ) -> Result<(M, bool)> {
                match $s.one(query) $($aw)* {
                    Ok(mut found) => {
                        apply(&mut found);
                        $s.save(&mut found) $($aw)* ?;
                        Ok((found, false))
                    }
                    Err(Error::DoesNotExist { .. }) => {
                        let mut created = create();
                        $s.save(&mut created) $($aw)* ?;
                        Ok((created, true))
                    }
                    Err(e) => Err(e),
                }
            }
        }
    };
}

operations!(Db, [&mut] self, [], []);
operations!(AsyncDb, [&] self, [async], [.await]);
