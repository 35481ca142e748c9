//! The write side of the change feed and the audit log.
//!
//! Every write in the service layer records its changes on its [`Tx`](crate::service::db::Tx)
//! while it runs; the entries are buffered in a [`Journal`] and written by [`Journal::flush`]
//! as the transaction's last step. Each committed entry gets a feed position, taken from
//! the one-row `feed_clock`; entries of one transaction share it, and `seq` (the order of
//! insertion) orders them within it. A reader pages by `(position, seq)`.
//!
//! # Why positions follow commit order
//! The guarantee is that a reader who has seen position `n` can already see every entry
//! that will ever have a position up to `n`, and that two changes of one row are in the
//! order of their versions.
//!
//! **PostgreSQL: stamped after commit.** A write inserts its entries without a position
//! and commits; writers share no row, so their commits are flushed together. Then
//! [`settle`] runs a stamping transaction before the write answers: it increments the
//! clock row, whose lock it holds until its own commit, and gives that number to every
//! committed entry still without one, in one statement that starts once the clock is
//! held (at READ COMMITTED, so it sees every commit before it). Stamping runs are
//! therefore one at a time across all instances, and a run's entries are visible to new
//! snapshots before the clock is released (a transaction is visible before its locks are
//! released): whoever sees position `n` sees every position below it, and no later run
//! stamps below `n`. Of two changes of one row, the second was written after the first
//! committed (it waited for the row's lock), so no run sees the second without the first:
//! they share a position, the first with the lower `seq`, or the first has the lower
//! position. Entries without a position are invisible to readers (each query says
//! `position IS NOT NULL` or compares it). A write answers only after its entries are
//! stamped, so a client reads its own change in the feed and in cached collections at
//! once; if the stamping fails after the commit (the database went away), the entries
//! wait for the next run, which every instance's worker also starts each poll.
//! Webhook deliveries are written by the stamping run, for the entries it stamped, in
//! feed order.
//!
//! **SQLite: stamped in the write.** Writers run one at a time (`BEGIN IMMEDIATE`), so the
//! write takes the clock itself as its last statement and commits right after; nothing
//! is gained by stamping later.
//!
//! Measured in `bench/writes` (see the README): under 8 writers on PostgreSQL, the clock
//! taken inside each write serialized the commits and cost 40-45 % of the throughput.
//!
//! # Who may see an entry
//! Each entry stores the row's owner and its audience at the time of the write: `public`,
//! or `owner` for a draft (visible to its owner and admins only), so that a feed can filter
//! in SQL before paging. A row that goes from public back to draft is a delete for everyone
//! else: the log gets a public tombstone and an owner-only upsert. Draft text never reaches
//! a public entry. Who may follow the feed and which entries they see is one rule,
//! [`Follower`], applied alike to `GET /changes` and to every webhook delivery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::Actor;
use crate::service::db::map_db_err;

/// What a write did, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new resource.
    Create,
    /// A changed resource.
    Update,
    /// A soft-deleted resource.
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// Who may see a change-log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every partner that may read the collection.
    Public,
    /// The row's owner and admins only (a draft).
    Owner,
}

impl Audience {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Public => "public",
            Audience::Owner => "owner",
        }
    }
}

/// One committed change of one resource.
pub struct Change<'a> {
    /// The collection, e.g. `practice-examples`.
    pub resource_type: &'static str,
    /// The resource.
    pub resource_id: Uuid,
    /// What happened.
    pub action: Action,
    /// The resource's version after the write.
    pub version: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// The resource as a GET returns it; `None` for deletes.
    pub data: Option<serde_json::Value>,
    /// The row's owner.
    pub owner: Uuid,
    /// Who may see the row after the write.
    pub audience: Audience,
    /// Whether the row was public before this write and is not now (published → draft):
    /// everyone else is told it is gone.
    pub retracted: bool,
    /// Who.
    pub actor: &'a Actor,
}

/// One change-log row waiting for the transaction's position.
struct Entry {
    resource_type: &'static str,
    resource_id: Uuid,
    op: &'static str,
    version: i32,
    at: DateTime<Utc>,
    data: Option<serde_json::Value>,
    partner_id: Uuid,
    owner: Uuid,
    audience: Audience,
}

/// One audit-log row.
struct Audit {
    at: DateTime<Utc>,
    partner_id: Uuid,
    action: Action,
    resource_type: &'static str,
    resource_id: Uuid,
    version: i32,
    request_id: Option<String>,
}

/// Someone following the feed, over REST or through a webhook, and the one rule of what
/// they see: a live partner holding `changes:read` (or `admin`) may follow; an admin sees
/// every entry, anyone else the public ones and those of rows it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    partner_id: Uuid,
    admin: bool,
    may_follow: bool,
}

/// The scope that lets a partner follow the feed.
pub const FEED_SCOPE: &str = "changes:read";

impl Follower {
    /// The caller of a request, with the scopes its token grants.
    pub fn of_actor(actor: &Actor) -> Self {
        Self {
            partner_id: actor.partner_id,
            admin: actor.is_admin(),
            may_follow: actor.has_scope(FEED_SCOPE),
        }
    }

    /// A webhook's partner as it stands now, with no more than `granted` (the scopes of the
    /// token that registered the webhook, when it recorded them): revoked partners follow
    /// nothing.
    pub fn of_partner(partner: &entity::partner::Model, granted: Option<&str>) -> Self {
        let scopes: Vec<&str> = partner
            .scopes
            .split_whitespace()
            .filter(|s| granted.is_none_or(|g| g.split_whitespace().any(|t| t == *s)))
            .collect();
        let admin = scopes.contains(&"admin");
        Self {
            partner_id: partner.id,
            admin,
            may_follow: partner.revoked_at.is_none() && (admin || scopes.contains(&FEED_SCOPE)),
        }
    }

    /// Whether it may follow the feed at all.
    pub fn may_follow(&self) -> bool {
        self.may_follow
    }

    /// Refuses one that may not follow the feed.
    pub fn require(&self) -> Result<()> {
        if self.may_follow {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "the scope {FEED_SCOPE} is required"
            )))
        }
    }

    /// Whether it sees an entry of this audience and owner (the rule, for one entry).
    pub fn sees(&self, audience: &str, owner: Option<Uuid>) -> bool {
        self.may_follow
            && (self.admin
                || audience == Audience::Public.as_str()
                || owner == Some(self.partner_id))
    }

    /// The same rule as a condition on `change_log`, so that a page is filtered before it
    /// is cut.
    pub fn condition(&self) -> sea_orm::Condition {
        use entity::change::Column;
        use sea_orm::{ColumnTrait, Condition};
        if !self.may_follow {
            return Condition::all().add(Expr::val(false));
        }
        if self.admin {
            return Condition::all();
        }
        Condition::any()
            .add(Column::Audience.eq(Audience::Public.as_str()))
            .add(Column::OwnerPartnerId.eq(self.partner_id))
    }
}

/// The changes of one write transaction, written together as its last step.
#[derive(Default)]
pub struct Journal {
    pending: Mutex<(Vec<Entry>, Vec<Audit>)>,
}

/// The PostgreSQL channel on which every committed write is announced.
pub const CHANNEL: &str = "leernet_changes";

/// Rows per INSERT statement: well below both backends' limits on bound parameters.
const ROWS_PER_INSERT: usize = 400;

impl Journal {
    /// Records the change-log entries and the audit entry of one write.
    pub fn record(&self, change: Change<'_>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (entries, audits) = &mut *pending;
        let entry = |op, audience, data| Entry {
            resource_type: change.resource_type,
            resource_id: change.resource_id,
            op,
            version: change.version,
            at: change.at,
            data,
            partner_id: change.actor.partner_id,
            owner: change.owner,
            audience,
        };
        let op = if change.action == Action::Delete {
            "delete"
        } else {
            "upsert"
        };
        if change.retracted && op == "upsert" {
            entries.push(entry("delete", Audience::Public, None));
        }
        entries.push(entry(op, change.audience, change.data.clone()));
        audits.push(Audit {
            at: change.at,
            partner_id: change.actor.partner_id,
            action: change.action,
            resource_type: change.resource_type,
            resource_id: change.resource_id,
            version: change.version,
            request_id: change.actor.request_id.clone(),
        });
    }

    /// Writes what was recorded, as the last step of the transaction before its commit.
    /// On SQLite the entries get the next feed position here (see the module
    /// documentation); on PostgreSQL they are written without one, and answer `true`:
    /// [`settle`] stamps them once the transaction has committed.
    pub async fn flush(&self, txn: &DatabaseTransaction) -> Result<bool> {
        let (entries, audits) =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if entries.is_empty() && audits.is_empty() {
            return Ok(false);
        }
        for chunk in audits.chunks(ROWS_PER_INSERT) {
            let mut insert = Query::insert();
            insert.into_table("audit_log").columns([
                "at",
                "partner_id",
                "action",
                "resource_type",
                "resource_id",
                "version",
                "request_id",
            ]);
            for a in chunk {
                insert
                    .values([
                        Expr::val(a.at),
                        Expr::val(a.partner_id),
                        Expr::val(a.action.as_str()),
                        Expr::val(a.resource_type),
                        Expr::val(a.resource_id),
                        Expr::val(a.version),
                        Expr::val(a.request_id.clone()),
                    ])
                    .map_err(Error::internal)?;
            }
            txn.execute(&insert).await.map_err(map_db_err)?;
        }
        if entries.is_empty() {
            return Ok(false);
        }
        let stamped_later = crate::service::db::is_postgres(txn.get_database_backend());
        let position = if stamped_later {
            None
        } else {
            Some(tick(txn).await?)
        };
        for chunk in entries.chunks(ROWS_PER_INSERT) {
            let mut insert = Query::insert();
            insert.into_table("change_log").columns([
                "position",
                "resource_type",
                "resource_id",
                "op",
                "version",
                "changed_at",
                "partner_id",
                "owner_partner_id",
                "audience",
                "data",
            ]);
            for e in chunk {
                insert
                    .values([
                        Expr::val(position),
                        Expr::val(e.resource_type),
                        Expr::val(e.resource_id),
                        Expr::val(e.op),
                        Expr::val(e.version),
                        Expr::val(e.at),
                        Expr::val(e.partner_id),
                        Expr::val(e.owner),
                        Expr::val(e.audience.as_str()),
                        Expr::val(e.data.clone()),
                    ])
                    .map_err(Error::internal)?;
            }
            txn.execute(&insert).await.map_err(map_db_err)?;
        }
        if let Some(position) = position {
            enqueue_deliveries(txn, position).await?;
        }
        Ok(stamped_later)
    }
}

/// Stamps every entry committed before this call (PostgreSQL): when this returns `Ok`,
/// each of them has its position. Feed reads call it first, so that a reader sees every
/// change committed before its request.
pub async fn settle(db: &sea_orm::DatabaseConnection) -> Result<()> {
    if !crate::service::db::is_postgres(db.get_database_backend()) {
        return Ok(());
    }
    Stamper::of(db).settle(db).await
}

/// The stamping runs of one pool. One runs at a time, and a caller
/// waiting for its turn is done as soon as a run that began after its call has finished
/// (that run saw every entry committed before, and stamped it or found it stamped), so
/// that under load one run stamps the entries of many commits, as a database's group
/// commit flushes many commits at once. Instances share nothing but the database: their
/// runs queue on the clock row.
#[derive(Default)]
struct Stamper {
    /// How many runs have begun.
    begun: AtomicU64,
    /// The number of the last run finished, held while a run is under way.
    finished: tokio::sync::Mutex<u64>,
}

impl Stamper {
    /// The runs of `db`'s pool (as one instance has one), known by its options, which all
    /// its handles share and which live as long as it does.
    fn of(db: &sea_orm::DatabaseConnection) -> Arc<Stamper> {
        type Pools = Vec<(
            Weak<sea_orm::sqlx::postgres::PgConnectOptions>,
            Arc<Stamper>,
        )>;
        static STAMPERS: LazyLock<Mutex<Pools>> = LazyLock::new(Default::default);
        let options = db.get_postgres_connection_pool().connect_options();
        let mut stampers = STAMPERS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, runs)) = stampers
            .iter()
            .find(|(pool, _)| pool.upgrade().is_some_and(|o| Arc::ptr_eq(&o, &options)))
        {
            return runs.clone();
        }
        // The runs of pools that are gone go with them.
        stampers.retain(|(pool, _)| pool.strong_count() > 0);
        let runs = Arc::new(Stamper::default());
        stampers.push((Arc::downgrade(&options), runs.clone()));
        runs
    }

    async fn settle(&self, db: &sea_orm::DatabaseConnection) -> Result<()> {
        let begun_before = self.begun.load(Ordering::SeqCst);
        let mut finished = self.finished.lock().await;
        if *finished > begun_before {
            return Ok(());
        }
        let run = self.begun.fetch_add(1, Ordering::SeqCst) + 1;
        stamp(db).await?;
        *finished = run;
        Ok(())
    }
}

/// One stamping run (PostgreSQL): takes the next feed position from the clock row, whose
/// lock it holds until its commit, gives it to every committed entry without one, writes
/// their webhook deliveries and notifies listeners. Each statement reads the database as
/// committed when it starts (READ COMMITTED), so the stamping statement, which runs once
/// the clock is held, sees every entry committed before, including all that the previous
/// run left. See the module documentation for why the order holds. Takes no position
/// when no entry waits.
async fn stamp(db: &sea_orm::DatabaseConnection) -> Result<()> {
    // Mostly nothing waits (a feed read or a worker poll after the writers' own runs): one
    // probe of the partial index then, rather than a transaction. An entry a run has
    // stamped but not yet committed still reads as waiting, so `false` means done.
    let waiting = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT EXISTS (SELECT 1 FROM change_log WHERE position IS NULL) AS w",
        ))
        .await
        .map_err(map_db_err)?
        .map(|row| row.try_get::<bool>("", "w"))
        .transpose()
        .map_err(map_db_err)?
        .unwrap_or(false);
    if !waiting {
        return Ok(());
    }
    let begin = db.clone();
    let txn = crate::service::db::uncancelled(async move {
        begin
            .begin_with_config(Some(sea_orm::IsolationLevel::ReadCommitted), None)
            .await
    })
    .await?;
    let backend = txn.get_database_backend();
    let clock = txn
        .query_one_raw(Statement::from_string(
            backend,
            "UPDATE feed_clock SET n = n + 1 WHERE id = 1 \
               AND EXISTS (SELECT 1 FROM change_log WHERE position IS NULL) RETURNING n",
        ))
        .await
        .map_err(map_db_err)?;
    let Some(clock) = clock else {
        txn.rollback().await.map_err(map_db_err)?;
        return Ok(());
    };
    let position: i64 = clock.try_get("", "n").map_err(map_db_err)?;
    let stamped = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE change_log SET position = $1 WHERE position IS NULL",
            [position.into()],
        ))
        .await
        .map_err(map_db_err)?
        .rows_affected();
    if stamped > 0 {
        enqueue_deliveries(&txn, position).await?;
        // Delivered at commit to every instance listening (webhook workers, later
        // subscriptions); a lost notification only delays: the workers poll too.
        txn.execute_unprepared(&format!("NOTIFY {CHANNEL}, '{position}'"))
            .await
            .map_err(map_db_err)?;
    }
    txn.commit().await.map_err(map_db_err)
}

/// The webhook outbox: a delivery for every entry at `position` and every live webhook
/// that subscribes to its type and whose partner may see it ([`Follower`], the feed's own
/// rule), in the entry's own transaction, so that a committed change always has its
/// deliveries and a crash loses none. With no webhooks this is one query.
async fn enqueue_deliveries(txn: &DatabaseTransaction, position: i64) -> Result<()> {
    use entity::{change, partner, webhook};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::Active.eq(true))
        .filter(webhook::Column::DeletedAt.is_null())
        .all(txn)
        .await
        .map_err(map_db_err)?;
    if hooks.is_empty() {
        return Ok(());
    }
    let partners = partner::Entity::find()
        .filter(partner::Column::Id.is_in(hooks.iter().map(|h| h.partner_id)))
        .all(txn)
        .await
        .map_err(map_db_err)?;
    let at = crate::service::resource::now();
    for hook in hooks {
        let Some(follower) = partners
            .iter()
            .find(|p| p.id == hook.partner_id)
            .map(|p| Follower::of_partner(p, hook.scopes.as_deref()))
            .filter(Follower::may_follow)
        else {
            continue;
        };
        let types: Vec<&str> = hook.types.split_whitespace().collect();
        let mut select = change::Entity::find()
            .select_only()
            .expr(Expr::val(hook.id))
            .column(change::Column::Seq)
            .expr(Expr::val("pending"))
            .expr(Expr::val(0))
            .expr(Expr::val(at))
            .expr(Expr::val(at))
            .filter(change::Column::Position.eq(position))
            .filter(follower.condition());
        if !types.is_empty() {
            select = select.filter(change::Column::ResourceType.is_in(types));
        }
        let mut insert = Query::insert();
        insert
            .into_table("webhook_deliveries")
            .columns([
                "webhook_id",
                "change_seq",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ])
            .select_from(select.into_query())
            .map_err(Error::internal)?;
        txn.execute(&insert).await.map_err(map_db_err)?;
    }
    Ok(())
}

/// Takes the next feed position in a write (SQLite); the clock row stays locked until the
/// transaction ends.
async fn tick(txn: &DatabaseTransaction) -> Result<i64> {
    let backend: DbBackend = txn.get_database_backend();
    let row = txn
        .query_one_raw(Statement::from_string(
            backend,
            "UPDATE feed_clock SET n = n + 1 WHERE id = 1 RETURNING n",
        ))
        .await
        .map_err(map_db_err)?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the feed clock row is missing")))?;
    row.try_get::<i64>("", "n").map_err(map_db_err)
}

/// Where a feed reader stands: just after the entry at (`position`, `seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor {
    /// The committing transaction's feed position.
    pub position: i64,
    /// The entry's order within its transaction.
    pub seq: i64,
}

impl FeedCursor {
    /// The cursor as clients pass it: opaque, URL-safe.
    pub fn token(self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("feed:{}:{}", self.position, self.seq))
    }

    /// A cursor from its token; `None` when it is not one. Positions and sequence numbers
    /// start at 0, so a negative one was never handed out: it is not a cursor (rather than
    /// one from before the retention).
    pub fn from_token(text: &str) -> Option<Self> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())?;
        let mut parts = raw.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("feed"), Some(position), Some(seq), None) => Some(FeedCursor {
                position: position.parse().ok().filter(|p: &i64| *p >= 0)?,
                seq: seq.parse().ok().filter(|s: &i64| *s >= 0)?,
            }),
            _ => None,
        }
    }
}

/// One entry of the change feed, as a reader sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Continue after this entry.
    pub cursor: FeedCursor,
    /// The collection, e.g. `practice-examples`.
    pub resource_type: String,
    /// The resource.
    pub resource_id: Uuid,
    /// `upsert` or `delete`.
    pub op: String,
    /// The resource's version after the change.
    pub version: i32,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// The resource as a GET returned it then; `None` for a delete.
    pub data: Option<serde_json::Value>,
}

/// A page of the feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// Where it begins: the cursor it was read after, or without one the oldest point
    /// still kept (so that an empty page's next cursor is one the feed still takes).
    pub from: FeedCursor,
    /// Entries in feed order.
    pub entries: Vec<FeedEntry>,
    /// Whether more entries follow (already committed when this page was read).
    pub has_more: bool,
}

/// The largest feed page: larger than a list's, for partners catching up on a long feed.
pub const MAX_FEED_PAGE: u64 = 1000;

/// Reads up to `limit` entries after `after` (from the start without one) that `actor` may
/// see, of the collections in `types` (all when empty; one that is not in [`FEED_TYPES`] is
/// refused), in feed order. A follower without the feed's scope is refused. Visibility and type
/// filters are part of the query, so a page is never cut short by filtering.
pub async fn read_feed(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    after: Option<FeedCursor>,
    limit: u64,
    types: &[&str],
) -> Result<FeedPage> {
    use entity::change::{Column, Entity};
    use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let follower = Follower::of_actor(actor);
    follower.require()?;
    crate::service::resource::check_page_size(limit, MAX_FEED_PAGE)?;
    if let Some(unknown) = types.iter().find(|t| !FEED_TYPES.contains(t)) {
        return Err(Error::invalid(
            "types",
            format!(
                "{unknown} is not a collection of the feed; use {}",
                FEED_TYPES.join(", ")
            ),
        ));
    }
    // Every change committed before this request is in the feed when it is read.
    settle(db).await?;
    // Entries still waiting for their position are not in the feed yet.
    let mut query = Entity::find().filter(Column::Position.is_not_null());
    if let Some(after) = after {
        // `position >= p AND (position > p OR seq > s)`: the index range starts at the
        // cursor, so the millionth entry is found as fast as the first.
        query = query.filter(
            Condition::all()
                .add(Column::Position.gte(after.position))
                .add(
                    Condition::any()
                        .add(Column::Position.gt(after.position))
                        .add(Column::Seq.gt(after.seq)),
                ),
        );
    }
    query = query.filter(follower.condition());
    if !types.is_empty() {
        query = query.filter(Column::ResourceType.is_in(types.iter().copied()));
    }
    let (position, seq, newest) = pruned_through(db).await?;
    let from = after.unwrap_or(FeedCursor { position, seq });
    if let Some(after) = after {
        if after.position > newest {
            return Err(Error::invalid(
                "after",
                "is beyond the newest change of this feed, so no cursor it handed out; pass a cursor as it was received, or start from the newest cursor",
            ));
        }
        if (after.position, after.seq) < (position, seq) {
            return Err(Error::Gone(
                "entries after this cursor were pruned (retention); read the collections again (a full resync), then follow the feed from its newest cursor".to_owned(),
            ));
        }
    }
    let mut rows = query
        .order_by_asc(Column::Position)
        .order_by_asc(Column::Seq)
        .limit(limit + 1)
        .all(db)
        .await
        .map_err(map_db_err)?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(FeedPage {
        from,
        entries: rows
            .into_iter()
            .map(|r| FeedEntry {
                cursor: FeedCursor {
                    position: r.position,
                    seq: r.seq,
                },
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                op: r.op,
                version: r.version,
                changed_at: r.changed_at,
                data: r.data,
            })
            .collect(),
        has_more,
    })
}

/// Declares [`FEED_TYPES`] from the registry of collections.
macro_rules! feed_types {
    ($($R:ident => $Dto:ident;)+) => {
        /// The collections whose changes the feed carries: every one ([`crate::collections`]).
        pub const FEED_TYPES: &[&str] = &[$(<crate::service::$R as crate::service::Resource>::TYPE,)+];
    };
}
crate::collections!(feed_types);

/// The last entry pruned, `(position, seq)` (`(0, 0)` when nothing was), and the newest
/// position handed out.
async fn pruned_through(db: &sea_orm::DatabaseConnection) -> Result<(i64, i64, i64)> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT pruned_position, pruned_seq, n FROM feed_clock WHERE id = 1",
        ))
        .await
        .map_err(map_db_err)?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the feed clock row is missing")))?;
    Ok((
        row.try_get("", "pruned_position").map_err(map_db_err)?,
        row.try_get("", "pruned_seq").map_err(map_db_err)?,
        row.try_get("", "n").map_err(map_db_err)?,
    ))
}

/// The newest position of the feed: a cursor from which only changes committed later
/// follow (for a client that has just read the collections in full).
pub async fn newest(db: &sea_orm::DatabaseConnection, actor: &Actor) -> Result<FeedCursor> {
    Follower::of_actor(actor).require()?;
    settle(db).await?;
    // The last position handed out by a committed transaction; every entry committed
    // before this request is behind the cursor (seq at its maximum), every later commit
    // after it.
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT n FROM feed_clock WHERE id = 1",
        ))
        .await
        .map_err(map_db_err)?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the feed clock row is missing")))?;
    Ok(FeedCursor {
        position: row.try_get("", "n").map_err(map_db_err)?,
        seq: i64::MAX,
    })
}

/// Deletes the entries of every transaction that committed before `cutoff` (whole
/// positions, so that no transaction is half kept), with their webhook deliveries, and
/// remembers the last one so that older cursors are answered 410. Answers how many.
pub async fn prune(db: &sea_orm::DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64> {
    let txn = crate::service::db::begin_immediate(db).await?;
    let backend = txn.get_database_backend();
    let last = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            if crate::service::db::is_postgres(backend) {
                "SELECT MAX(position) AS position FROM change_log WHERE changed_at < $1"
            } else {
                "SELECT MAX(position) AS position FROM change_log WHERE changed_at < ?"
            },
            [cutoff.into()],
        ))
        .await
        .map_err(map_db_err)?
        .and_then(|row| row.try_get::<Option<i64>>("", "position").ok().flatten());
    let Some(position) = last else {
        return Ok(0);
    };
    let ph = if crate::service::db::is_postgres(backend) {
        "$1"
    } else {
        "?"
    };
    let seq: i64 = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT MAX(seq) AS seq FROM change_log WHERE position = {ph}"),
            [position.into()],
        ))
        .await
        .map_err(map_db_err)?
        .and_then(|row| row.try_get::<Option<i64>>("", "seq").ok().flatten())
        .unwrap_or_default();
    let deleted = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM change_log WHERE position <= {ph}"),
            [position.into()],
        ))
        .await
        .map_err(map_db_err)?
        .rows_affected();
    txn.execute(
        &Query::update()
            .table("feed_clock")
            .value("pruned_position", position)
            .value("pruned_seq", seq)
            .and_where(Expr::col("id").eq(1))
            .and_where(Expr::col("pruned_position").lte(position))
            .to_owned(),
    )
    .await
    .map_err(map_db_err)?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(deleted)
}

/// Told whenever changes may have been committed: after every write of this process, and,
/// on PostgreSQL, on every notification of the channel [`CHANNEL`] (a stamping run of any
/// instance), which the sync worker relays here ([`announce`]). The value only counts.
static ANNOUNCED: LazyLock<tokio::sync::watch::Sender<u64>> =
    LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Tells every follower of the feed in this process that changes may be there.
pub fn announce() {
    ANNOUNCED.send_modify(|n| *n = n.wrapping_add(1));
}

/// A receiver that is marked changed at each [`announce`].
pub fn announcements() -> tokio::sync::watch::Receiver<u64> {
    ANNOUNCED.subscribe()
}

/// How many entries a follower reads at a time.
const FOLLOW_PAGE: u64 = 100;

/// Follows the feed from `after` for as long as the stream is held: every entry committed
/// later that the follower may see, of `types` (all when empty), once each and in feed
/// order. It reads when changes are announced ([`announcements`]) and at least every
/// `poll` (a lost notification delays an entry, never drops it). Before each read it asks
/// `actor` who is following now, so that a revoked partner, an expired token or a lost
/// scope ends the stream with that error at the next change rather than seeing it. Ends
/// with an error when `after` is older than the retention ([`Error::Gone`]) or the types
/// are unknown; a database that does not answer is waited for.
///
/// The feed is read in a task of its own, which hands entries over through a bounded queue
/// ([`FOLLOW_PAGE`] entries): a follower that does not take them (a client that stopped
/// reading its socket) holds that much memory and no database connection, and the task
/// ends when the stream is dropped.
pub fn follow<A, F>(
    db: sea_orm::DatabaseConnection,
    after: FeedCursor,
    types: Vec<String>,
    poll: std::time::Duration,
    actor: A,
) -> impl futures_util::Stream<Item = Result<FeedEntry>> + Send + 'static
where
    A: FnMut() -> F + Send + 'static,
    F: Future<Output = Result<Actor>> + Send + 'static,
{
    use futures_util::StreamExt;
    let (sender, receiver) = tokio::sync::mpsc::channel(FOLLOW_PAGE as usize);
    tokio::spawn(async move {
        let mut entries = std::pin::pin!(reading(db, after, types, poll, actor));
        loop {
            tokio::select! {
                entry = entries.next() => match entry {
                    Some(entry) => {
                        if sender.send(entry).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
                () = sender.closed() => return,
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|entry| (entry, receiver))
    })
}

/// The reads of [`follow`].
fn reading<A, F>(
    db: sea_orm::DatabaseConnection,
    after: FeedCursor,
    types: Vec<String>,
    poll: std::time::Duration,
    actor: A,
) -> impl futures_util::Stream<Item = Result<FeedEntry>> + Send
where
    A: FnMut() -> F + Send,
    F: Future<Output = Result<Actor>> + Send,
{
    struct Following<A> {
        db: sea_orm::DatabaseConnection,
        after: FeedCursor,
        types: Vec<String>,
        poll: std::time::Duration,
        actor: A,
        ready: std::collections::VecDeque<FeedEntry>,
        announced: tokio::sync::watch::Receiver<u64>,
        done: bool,
    }
    let start = Following {
        db,
        after,
        types,
        poll,
        actor,
        ready: Default::default(),
        announced: announcements(),
        done: false,
    };
    futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if f.done {
                return None;
            }
            if let Some(entry) = f.ready.pop_front() {
                return Some((Ok(entry), f));
            }
            // An announcement from now on wakes the wait below, even one made while
            // this read runs.
            f.announced.borrow_and_update();
            let read = async {
                let actor = (f.actor)().await?;
                let types: Vec<&str> = f.types.iter().map(String::as_str).collect();
                read_feed(&f.db, &actor, Some(f.after), FOLLOW_PAGE, &types).await
            };
            match read.await {
                Ok(page) => {
                    if let Some(last) = page.entries.last() {
                        f.after = last.cursor;
                    }
                    f.ready.extend(page.entries);
                    if !f.ready.is_empty() {
                        continue;
                    }
                }
                Err(Error::Unavailable(reason)) => {
                    tracing::debug!(%reason, "a feed follower waits for the database");
                }
                Err(error) => {
                    f.done = true;
                    return Some((Err(error), f));
                }
            }
            tokio::select! {
                _ = f.announced.changed() => {}
                () = tokio::time::sleep(f.poll) => {}
            }
        }
    })
}
