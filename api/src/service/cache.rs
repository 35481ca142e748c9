//! Collections keyed by the change feed: a bounded in-process cache of list pages and
//! stats.
//!
//! Every committed write has change entries, which get a feed position in commit order
//! ([`crate::service::changes`]). The newest position among a collection's resource type
//! and the types its answers show or filter by (a practice example shows its region's
//! code and is filtered by region subtree and theme), with the number of their committed
//! entries still waiting for a position, is therefore a version of everything a list or
//! stats query over it can answer ([`version_of`]): while it stays the same, no row such
//! an answer reads has changed. It is read per request, in the read's own snapshot, from
//! the change log's `(resource_type, position, seq)` index (a backward index-only probe per
//! type; no row is written for it) and the partial index of waiting entries, so a write
//! through any instance on the same database is seen by the next read on every other.
//!
//! An answer is cached under (collection, the query as parsed, the caller's visibility
//! class, that version); a request at a newer version misses and replaces it. The cache
//! holds at most its configured number of bytes (counted as the answers' JSON size) and
//! evicts the least recently used answers first. Lists and stats also answer `ETag` (the
//! version) and 304 with it.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::Result;
use crate::service::Actor;
use crate::service::db::map_db_err;

/// The longest query kept (its parsed filters and page as text): answers to longer ones
/// are read every time.
const MAX_KEY: usize = 2048;

/// A cached answer with the version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    /// The version of the types the answer depends on ([`version_of`]); 0 when it cannot
    /// be told.
    pub version: i64,
    /// The answer.
    pub value: Arc<T>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    collection: &'static str,
    query: String,
    class: String,
}

struct Entry {
    version: i64,
    value: Arc<dyn Any + Send + Sync>,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    bytes: usize,
    clock: u64,
}

/// The cache; `max_bytes` 0 turns it off.
pub struct ReadCache {
    max_bytes: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

/// What a cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Bytes held.
    pub bytes: usize,
    /// Answers held.
    pub entries: usize,
}

impl ReadCache {
    /// A cache of at most `max_bytes` (0: nothing is kept).
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether it keeps anything.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// What it holds now (its hits and misses are counted in the metrics).
    pub fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats {
            bytes: state.bytes,
            entries: state.entries.len(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves only counters and whole entries behind.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The answer kept for `key` at `version`, if any.
    fn get<T: Send + Sync + 'static>(&self, key: &Key, version: i64) -> Option<Arc<T>> {
        let mut state = self.lock();
        state.clock += 1;
        let clock = state.clock;
        let found = state
            .entries
            .get_mut(key)
            .filter(|e| e.version == version)
            .and_then(|e| {
                e.used = clock;
                e.value.clone().downcast::<T>().ok()
            });
        crate::prometheus::cache_lookup(found.is_some());
        found
    }

    /// Keeps `value` (of `bytes`) for `key` at `version`, replacing an older one, evicting
    /// the least recently used answers to stay within the bound.
    fn put(&self, key: Key, version: i64, value: Arc<dyn Any + Send + Sync>, bytes: usize) {
        if bytes > self.max_bytes / 8 {
            return; // One answer never takes more than an eighth of the cache.
        }
        let mut state = self.lock();
        state.clock += 1;
        let used = state.clock;
        if let Some(old) = state.entries.get(&key)
            && old.version > version
        {
            return; // A newer answer is kept already.
        }
        if let Some(old) = state.entries.remove(&key) {
            state.bytes -= old.bytes;
        }
        while state.bytes + bytes > self.max_bytes {
            let Some(oldest) = state
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = state.entries.remove(&oldest) {
                state.bytes -= gone.bytes;
            }
        }
        state.bytes += bytes;
        state.entries.insert(
            key,
            Entry {
                version,
                value,
                bytes,
                used,
            },
        );
    }
}

/// Who sees what: everyone the same (`all`), or per partner where drafts or defaults depend
/// on who asks; the partner's kind is part of it (an education platform's default filter).
pub fn visibility_class(actor: &Actor, per_partner: bool) -> String {
    let who = if !per_partner {
        "all".to_owned()
    } else if actor.is_admin() {
        "admin".to_owned()
    } else {
        actor.partner_id.to_string()
    };
    format!("{}:{who}", actor.kind)
}

/// Entries waiting for a position beyond which a collection's version is not told apart
/// (its answers are then read every time, with no entity tag).
const MAX_WAITING: i64 = (1 << WAITING_BITS) - 1;
const WAITING_BITS: u32 = 20;

/// The feed position a [`version_of`] answer was read at (without its count of entries
/// waiting for theirs).
pub fn position_of(version: i64) -> i64 {
    version >> WAITING_BITS
}

/// The version of what `types`' collections can answer, read in the caller's snapshot
/// (0 when it cannot be told: no entry yet, or too many waiting): the newest feed position
/// among them (one backward index probe per type), and how many of their committed entries
/// wait for a position (PostgreSQL stamps positions after commit; a partial index holds
/// the few that wait). A commit adds waiting entries; a stamping run that stamps any of
/// them gives a newer position: so every change gives a version never seen before.
pub async fn version_of<C: ConnectionTrait>(conn: &C, types: &[&str]) -> Result<i64> {
    let backend = conn.get_database_backend();
    let p = |i: usize| {
        if backend == DbBackend::Postgres {
            format!("${i}")
        } else {
            "?".to_owned()
        }
    };
    let probes: Vec<String> = (1..=types.len())
        .map(|i| {
            format!(
                "SELECT (SELECT MAX(position) FROM change_log WHERE resource_type = {}) AS p",
                p(i)
            )
        })
        .collect();
    let listed: Vec<String> = (types.len() + 1..=2 * types.len()).map(p).collect();
    // SQLite stamps inside the write: no entry ever waits there.
    let postgres = backend == DbBackend::Postgres;
    let waiting = if postgres {
        format!(
            "(SELECT COUNT(*) FROM change_log WHERE position IS NULL AND resource_type IN ({}))",
            listed.join(", ")
        )
    } else {
        "0".to_owned()
    };
    let sql = format!(
        "SELECT COALESCE(MAX(p), 0) AS p, {waiting} AS waiting FROM ({}) v",
        probes.join(" UNION ALL ")
    );
    let values: Vec<sea_orm::Value> = types
        .iter()
        .chain(types.iter().filter(|_| postgres))
        .map(|t| (*t).into())
        .collect();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .map_err(map_db_err)?;
    let Some(row) = row else { return Ok(0) };
    let position: i64 = row.try_get("", "p").map_err(map_db_err)?;
    let waiting: i64 = row.try_get("", "waiting").map_err(map_db_err)?;
    if waiting > MAX_WAITING || position >= 1 << (63 - WAITING_BITS) {
        return Ok(0);
    }
    Ok((position << WAITING_BITS) | waiting)
}

/// A whole answer of another face (a GraphQL query's `data`) kept under (`face`, `query`,
/// `class`) at `version` ([`version_of`] over every type it may read): the one kept, if
/// any. Longer queries than the cache keys are never kept.
pub fn answer<T: Send + Sync + 'static>(
    cache: &ReadCache,
    face: &'static str,
    query: &str,
    class: &str,
    version: i64,
) -> Option<Arc<T>> {
    if !cache.enabled() || version <= 0 || query.len() > MAX_KEY {
        return None;
    }
    cache.get::<T>(
        &Key {
            collection: face,
            query: query.to_owned(),
            class: class.to_owned(),
        },
        version,
    )
}

/// Keeps a whole answer for [`answer`].
pub fn keep_answer<T: serde::Serialize + Send + Sync + 'static>(
    cache: &ReadCache,
    face: &'static str,
    query: &str,
    class: &str,
    version: i64,
    value: Arc<T>,
) {
    if !cache.enabled() || version <= 0 || query.len() > MAX_KEY {
        return;
    }
    let bytes = serde_json::to_vec(&*value).map_or(usize::MAX, |v| v.len())
        + query.len()
        + class.len()
        + 256;
    cache.put(
        Key {
            collection: face,
            query: query.to_owned(),
            class: class.to_owned(),
        },
        version,
        value,
        bytes,
    );
}

/// The answer for (`collection`, `query`, `class`) at the version read from `conn` over
/// `types`: from the cache when it holds that version, else from `load` (then kept).
pub async fn cached<T, C, F, Fut>(
    cache: &ReadCache,
    conn: &C,
    types: &[&str],
    collection: &'static str,
    query: String,
    class: String,
    load: F,
) -> Result<Versioned<T>>
where
    T: serde::Serialize + Send + Sync + 'static,
    C: ConnectionTrait,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let version = version_of(conn, types).await?;
    if !cache.enabled() {
        let value = Arc::new(load().await?);
        return Ok(Versioned { version, value });
    }
    let key = Key {
        collection,
        query,
        class,
    };
    if version > 0
        && let Some(value) = cache.get::<T>(&key, version)
    {
        return Ok(Versioned { version, value });
    }
    let value = Arc::new(load().await?);
    if version > 0 && key.query.len() <= MAX_KEY {
        // The key counts too: a query of long filter values must not hold more memory
        // than it is charged for.
        let bytes = serde_json::to_vec(&*value).map_or(usize::MAX, |v| v.len())
            + key.query.len()
            + key.class.len()
            + 256;
        cache.put(key, version, value.clone(), bytes);
    }
    Ok(Versioned { version, value })
}
