//! The life cycle every resource shares: create, read, list, update, upsert, soft delete.
//!
//! A resource module (regions, networks, ...) implements [`Resource`]: how to validate its
//! input into columns, which child rows to write, how to build its DTOs in a few batched
//! queries and how to filter lists. The generic functions here add what no resource may
//! forget: authorization, the id and common columns, `version` +1 and `updated_at` on every
//! change, optimistic concurrency, soft deletes, and the change-log and audit entries in
//! the same transaction as the write.

use chrono::{DateTime, SubsecRound, Utc};
use entity::Common;
use sea_orm::sea_query::{Expr, ExprTrait, Query, ValueType};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, TransactionSession, TransactionTrait, Value,
};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::Actor;
use crate::service::changes::{self, Action, Change};
use crate::service::db::{is_postgres, map_db_err, write};
use crate::service::refs;

/// A resource type: its entity, wire types and rules.
#[async_trait::async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The table.
    type Entity: EntityTrait<Model = Self::Model, ActiveModel = Self::ActiveModel> + Common;
    /// A row.
    type Model: ModelTrait<Entity = Self::Entity>
        + IntoActiveModel<Self::ActiveModel>
        + Clone
        + Send
        + Sync;
    /// A row being written.
    type ActiveModel: ActiveModelTrait<Entity = Self::Entity> + ActiveModelBehavior + Send + Sync;
    /// What a caller sends to create or replace one (every field optional, see [`Check`]).
    type Input: Send + Sync;
    /// What a caller gets back.
    type Dto: Serialize + Send + Sync;
    /// Child rows (themes, links, ...) resolved by [`Resource::apply`], written after the row.
    type Children: Send + Sync;
    /// List filters.
    type Filter: Send + Sync;

    /// The collection name, as in paths and the change feed (`practice-examples`).
    const TYPE: &'static str;

    /// The collection whose `write:` scope governs writes: the resource's own, or its
    /// parent's for sub-resources (a network's goals need `write:networks`).
    const SCOPE: &'static str = Self::TYPE;

    /// The rows elsewhere that refer to a resource of this type, and what its deletion does
    /// to them (see [`Dependent`]).
    const DEPENDENTS: &'static [Dependent] = &[];

    /// The caller's own id for the resource, if given.
    fn external_id(input: &Self::Input) -> Option<&str>;

    /// Validates `input` (reporting every invalid field at once), resolves its references
    /// and writes its data columns into `row`. `current` is the row being replaced, if any.
    async fn apply<C: ConnectionTrait>(
        conn: &C,
        input: &Self::Input,
        row: &mut Self::ActiveModel,
        current: Option<&Self::Model>,
    ) -> Result<Self::Children>;

    /// Replaces the child rows of resource `id`.
    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        children: Self::Children,
    ) -> Result<()>;

    /// Builds the DTOs of `rows`, in order, with a fixed number of queries.
    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<Self::Model>,
    ) -> Result<Vec<Self::Dto>>;

    /// The WHERE clause for a list filter.
    async fn condition<C: ConnectionTrait>(conn: &C, filter: &Self::Filter) -> Result<Condition>;

    /// The regions and networks a row belongs to, for partners confined to some
    /// (`auth.md`: a partner writes only inside its regions' subtrees and its networks).
    /// A row that belongs to none may be written by unconfined partners only.
    async fn anchors<C: ConnectionTrait>(_conn: &C, _row: &Self::Model) -> Result<Anchors> {
        Ok(Anchors::default())
    }

    /// Which rows `actor` may see at all (`auth.md`: drafts are visible to their owner and
    /// admins only). Applied to every read, list and write lookup.
    fn visible(_actor: &Actor) -> Condition {
        Condition::all()
    }
}

/// Rows of another table that refer to a resource. Deletes are soft, so the database's
/// foreign keys cannot see them: the service keeps references pointing at live rows.
#[derive(Debug, Clone, Copy)]
pub struct Dependent {
    /// The table holding the reference (`practice_examples`, or a link table such as
    /// `network_regions`).
    pub table: &'static str,
    /// Its column naming the resource (`region_id`).
    pub column: &'static str,
    /// For a link table: the table that owns its rows and the link table's column naming
    /// the owner (`("networks", "network_id")`); the reference counts while the owner lives.
    pub owner: Option<(&'static str, &'static str)>,
    /// What the referring rows are called in messages (`practice examples`).
    pub what: &'static str,
    /// `Some(type)` for sub-resources that go with their parent (a network's goals): they are
    /// soft-deleted with it, each with its own tombstone in the change log. `None`: while
    /// such rows live, the resource cannot be deleted (409).
    pub cascade: Option<&'static str>,
}

impl Dependent {
    /// Rows of `table` whose `column` refers to the resource; deleting it is refused while
    /// any of them lives.
    pub const fn refuse(table: &'static str, column: &'static str, what: &'static str) -> Self {
        Self {
            table,
            column,
            owner: None,
            what,
            cascade: None,
        }
    }

    /// Rows of the link table `table` whose `column` refers to the resource, counted while
    /// their owner (`owner_table` via `owner_column`) lives.
    pub const fn linked(
        table: &'static str,
        column: &'static str,
        owner_table: &'static str,
        owner_column: &'static str,
        what: &'static str,
    ) -> Self {
        Self {
            table,
            column,
            owner: Some((owner_table, owner_column)),
            what,
            cascade: None,
        }
    }

    /// Sub-resources (of type `kind`, in `table` by `column`) deleted with their parent.
    pub const fn cascade(table: &'static str, column: &'static str, kind: &'static str) -> Self {
        Self {
            table,
            column,
            owner: None,
            what: kind,
            cascade: Some(kind),
        }
    }

    /// How many live rows refer to `id`.
    async fn count<C: ConnectionTrait>(&self, conn: &C, id: Uuid) -> Result<i64> {
        let mut query = Query::select();
        query
            .expr_as(Expr::col((self.table, self.column)).count(), "n")
            .from(self.table)
            .and_where(Expr::col((self.table, self.column)).eq(id));
        match self.owner {
            Some((owner, via)) => {
                query
                    .inner_join(owner, Expr::col((owner, "id")).equals((self.table, via)))
                    .and_where(Expr::col((owner, "deleted_at")).is_null());
            }
            None => {
                query.and_where(Expr::col((self.table, "deleted_at")).is_null());
            }
        }
        let row = conn.query_one(&query).await.map_err(map_db_err)?;
        row.map(|r| r.try_get::<i64>("", "n"))
            .transpose()
            .map_err(map_db_err)
            .map(Option::unwrap_or_default)
    }

    /// Soft-deletes the live rows referring to `id`, bumping their versions, and records a
    /// tombstone for each.
    async fn delete_all<C: ConnectionTrait>(
        &self,
        conn: &C,
        actor: &Actor,
        kind: &'static str,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut select = Query::select();
        select
            .columns(["id", "version"])
            .from(self.table)
            .and_where(Expr::col(self.column).eq(id))
            .and_where(Expr::col("deleted_at").is_null());
        if is_postgres(conn.get_database_backend()) {
            select.lock_exclusive();
        }
        for row in conn.query_all(&select).await.map_err(map_db_err)? {
            let child: Uuid = row.try_get("", "id").map_err(map_db_err)?;
            let version: i32 = row.try_get("", "version").map_err(map_db_err)?;
            let update = Query::update()
                .table(self.table)
                .value("deleted_at", at)
                .value("updated_at", at)
                .value("version", version + 1)
                .and_where(Expr::col("id").eq(child))
                .to_owned();
            conn.execute(&update).await.map_err(map_db_err)?;
            changes::record(
                conn,
                Change {
                    resource_type: kind,
                    resource_id: child,
                    action: Action::Delete,
                    version: version + 1,
                    at,
                    data: None,
                    actor,
                },
            )
            .await?;
        }
        Ok(())
    }
}

/// Refuses to delete resource `id` while live rows refer to it, naming them all; then
/// deletes the sub-resources that go with it.
async fn delete_dependents<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<()> {
    let mut blocking = Vec::new();
    for dependent in R::DEPENDENTS.iter().filter(|d| d.cascade.is_none()) {
        let n = dependent.count(conn, id).await?;
        if n > 0 {
            blocking.push(format!("{} ({n})", dependent.what));
        }
    }
    if !blocking.is_empty() {
        return Err(Error::Conflict(format!(
            "this {} is still referred to by {}; delete those or point them elsewhere first",
            singular(R::TYPE),
            blocking.join(", ")
        )));
    }
    for dependent in R::DEPENDENTS {
        if let Some(kind) = dependent.cascade {
            dependent.delete_all(conn, actor, kind, id, at).await?;
        }
    }
    Ok(())
}

/// `practice-examples` → `practice example`.
fn singular(kind: &str) -> String {
    kind.strip_suffix('s').unwrap_or(kind).replace('-', " ")
}

/// Where a row belongs: regions (with their ancestors) and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anchors {
    /// Regions the row lies in.
    pub regions: Vec<Uuid>,
    /// Networks the row belongs to.
    pub networks: Vec<Uuid>,
}

impl Anchors {
    /// Anchors from optional region and network ids.
    pub fn of(regions: &[Option<Uuid>], networks: &[Option<Uuid>]) -> Self {
        Self {
            regions: regions.iter().flatten().copied().collect(),
            networks: networks.iter().flatten().copied().collect(),
        }
    }
}

/// Refuses a write of `row` by a confined partner when the row lies outside the partner's
/// regions (with their subtrees) and networks. Admins and partners confined to nothing
/// pass.
async fn require_inside<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    row: &R::Model,
) -> Result<()> {
    if actor.is_admin() || (actor.regions.is_empty() && actor.networks.is_empty()) {
        return Ok(());
    }
    let anchors = R::anchors(conn, row).await?;
    if anchors.networks.iter().any(|n| actor.networks.contains(n)) {
        return Ok(());
    }
    if !anchors.regions.is_empty() && !actor.regions.is_empty() {
        let within = refs::ancestors_or_self(conn, &anchors.regions).await?;
        if within.iter().any(|r| actor.regions.contains(r)) {
            return Ok(());
        }
    }
    Err(Error::Forbidden(format!(
        "this {} lies outside the regions and networks this partner may write",
        singular(R::TYPE)
    )))
}

/// Visibility of resources with a `draft` status: others' drafts are hidden from
/// non-admins.
pub fn drafts_hidden<E: EntityTrait + Common>(actor: &Actor, status: E::Column) -> Condition {
    if actor.is_admin() {
        Condition::all()
    } else {
        Condition::any()
            .add(status.ne("draft"))
            .add(E::owner_partner_id().eq(actor.partner_id))
    }
}

/// The current time as stored: UTC, microsecond precision (what PostgreSQL keeps).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn value<T: ValueType>(v: Value) -> Result<T> {
    T::try_from(v).map_err(|e| Error::internal(anyhow::anyhow!("unexpected column value: {e:?}")))
}

fn id_of<R: Resource>(row: &R::Model) -> Result<Uuid> {
    value(row.get(<R::Entity as Common>::id()))
}

fn version_of<R: Resource>(row: &R::Model) -> Result<i32> {
    value(row.get(<R::Entity as Common>::version()))
}

fn owner_of<R: Resource>(row: &R::Model) -> Result<Uuid> {
    value(row.get(<R::Entity as Common>::owner_partner_id()))
}

fn not_found<R: Resource>(key: impl ToString) -> Error {
    Error::NotFound {
        resource: R::TYPE,
        key: key.to_string(),
    }
}

/// The live (not deleted) row with `id`, if `actor` may see it. With `lock` it stays
/// locked for the rest of the transaction on PostgreSQL, so that concurrent writers of one
/// row queue behind each other instead of one of them failing (SQLite's `BEGIN IMMEDIATE`
/// already serializes writers).
pub async fn find_live<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: Uuid,
    lock: bool,
) -> Result<Option<R::Model>> {
    let query = R::Entity::find()
        .filter(<R::Entity as Common>::id().eq(id))
        .filter(<R::Entity as Common>::deleted_at().is_null())
        .filter(R::visible(actor));
    lock_for_write(query, conn, lock)
        .one(conn)
        .await
        .map_err(map_db_err)
}

/// Adds `FOR UPDATE` on PostgreSQL when `lock` is set.
fn lock_for_write<E: EntityTrait, C: ConnectionTrait>(
    query: Select<E>,
    conn: &C,
    lock: bool,
) -> Select<E> {
    if lock && is_postgres(conn.get_database_backend()) {
        query.lock_exclusive()
    } else {
        query
    }
}

/// The row `owner` knows by `external_id`, deleted or not (an upsert revives a deleted one);
/// with `lock`, locked like [`find_live`].
async fn find_external<R: Resource, C: ConnectionTrait>(
    conn: &C,
    owner: Uuid,
    external_id: &str,
    lock: bool,
) -> Result<Option<R::Model>> {
    let query = R::Entity::find()
        .filter(<R::Entity as Common>::owner_partner_id().eq(owner))
        .filter(<R::Entity as Common>::external_id().eq(external_id));
    lock_for_write(query, conn, lock)
        .one(conn)
        .await
        .map_err(map_db_err)
}

/// The DTO of one row.
pub async fn dto_of<R: Resource, C: ConnectionTrait>(conn: &C, row: R::Model) -> Result<R::Dto> {
    R::to_dtos(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("no DTO built for a {} row", R::TYPE)))
}

/// One resource by id.
pub async fn get<R: Resource>(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<R::Dto> {
    actor.require_read()?;
    let row = find_live::<R, _>(db, actor, id, false)
        .await?
        .ok_or_else(|| not_found::<R>(id))?;
    dto_of::<R, _>(db, row).await
}

/// The most items one page may hold.
pub const MAX_PAGE_SIZE: u64 = 500;

/// A page request: at most `limit` items after the cursor `after` (an id; ids are UUID v7,
/// so id order is creation order and the keyset needs no OFFSET).
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Items per page: 1 to [`MAX_PAGE_SIZE`]. Anything else is refused rather than
    /// silently clamped, so that a caller asking for 1000 does not believe it got them all.
    pub limit: u64,
    /// Continue after this id.
    pub after: Option<Uuid>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: 50,
            after: None,
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in id (creation) order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<Uuid>,
}

/// A filtered page of live resources.
pub async fn list<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &R::Filter,
    page: PageRequest,
) -> Result<Page<R::Dto>> {
    actor.require_read()?;
    let limit = page.limit;
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}, got {limit}"),
        ));
    }
    let mut query = R::Entity::find()
        .filter(<R::Entity as Common>::deleted_at().is_null())
        .filter(R::visible(actor))
        .filter(R::condition(db, filter).await?);
    if let Some(after) = page.after {
        query = query.filter(<R::Entity as Common>::id().gt(after));
    }
    let mut rows = query
        .order_by_asc(<R::Entity as Common>::id())
        .limit(limit + 1)
        .all(db)
        .await
        .map_err(map_db_err)?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(id_of::<R>).transpose()?
    } else {
        None
    };
    Ok(Page {
        items: R::to_dtos(db, rows).await?,
        next_cursor,
    })
}

/// Creates a resource owned by the actor.
pub async fn create<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    input: R::Input,
) -> Result<R::Dto> {
    actor.require_write(R::SCOPE)?;
    let input = &input;
    write(db, move |txn| async move {
        let dto = create_in::<R, _>(&txn, actor, input, R::external_id(input)).await?;
        Ok((txn, dto))
    })
    .await
}

/// Creates a resource inside the caller's transaction.
pub async fn create_in<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    input: &R::Input,
    external_id: Option<&str>,
) -> Result<R::Dto> {
    if let Some(external_id) = external_id
        && find_external::<R, _>(conn, actor.partner_id, external_id, false)
            .await?
            .is_some()
    {
        return Err(Error::invalid(
            "externalId",
            format!(
                "you already have {} with this externalId; update it with PUT /api/v1/{}/external/{{externalId}}",
                R::TYPE,
                R::TYPE
            ),
        ));
    }
    let mut row = R::ActiveModel::new();
    let children = R::apply(conn, input, &mut row, None).await?;
    let id = Uuid::now_v7();
    let at = now();
    row.set(<R::Entity as Common>::id(), id.into());
    row.set(<R::Entity as Common>::created_at(), at.into());
    row.set(<R::Entity as Common>::updated_at(), at.into());
    row.set(<R::Entity as Common>::version(), 1i32.into());
    row.set(
        <R::Entity as Common>::deleted_at(),
        Option::<DateTime<Utc>>::None.into(),
    );
    row.set(
        <R::Entity as Common>::owner_partner_id(),
        actor.partner_id.into(),
    );
    row.set(
        <R::Entity as Common>::external_id(),
        external_id.map(str::to_owned).into(),
    );
    let row = row.insert(conn).await.map_err(map_db_err)?;
    R::write_children(conn, id, children).await?;
    require_inside::<R, _>(conn, actor, &row).await?;
    let dto = dto_of::<R, _>(conn, row).await?;
    changes::record(
        conn,
        Change {
            resource_type: R::TYPE,
            resource_id: id,
            action: Action::Create,
            version: 1,
            at,
            data: Some(serde_json::to_value(&dto).map_err(Error::internal)?),
            actor,
        },
    )
    .await?;
    Ok(dto)
}

/// Replaces a resource (all fields), if `expected_version` (when given) is still current.
/// Sending the same content again changes nothing: no new version, no change entry.
pub async fn update<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: R::Input,
    expected_version: Option<i32>,
) -> Result<R::Dto> {
    actor.require_write(R::SCOPE)?;
    let input = &input;
    write(db, move |txn| async move {
        let current = find_live::<R, _>(&txn, actor, id, true)
            .await?
            .ok_or_else(|| not_found::<R>(id))?;
        let dto = update_in::<R, _>(&txn, actor, current, input, expected_version).await?;
        Ok((txn, dto))
    })
    .await
}

/// Replaces `current` inside the caller's transaction (a savepoint undoes a no-op write).
pub async fn update_in<R: Resource, C: ConnectionTrait + TransactionTrait>(
    conn: &C,
    actor: &Actor,
    current: R::Model,
    input: &R::Input,
    expected_version: Option<i32>,
) -> Result<R::Dto> {
    actor.require_owner(owner_of::<R>(&current)?)?;
    require_inside::<R, _>(conn, actor, &current).await?;
    let id = id_of::<R>(&current)?;
    let version = version_of::<R>(&current)?;
    if let Some(expected) = expected_version
        && expected != version
    {
        return Err(Error::PreconditionFailed {
            expected,
            current: version,
        });
    }
    if let Some(external_id) = R::external_id(input)
        && let Some(other) =
            find_external::<R, _>(conn, actor.partner_id, external_id, false).await?
        && id_of::<R>(&other)? != id
    {
        return Err(Error::invalid(
            "externalId",
            format!("another of your {} already has this externalId", R::TYPE),
        ));
    }
    let was_deleted = !matches!(
        current.get(<R::Entity as Common>::deleted_at()),
        Value::ChronoDateTimeUtc(None)
    );
    let before_dto = dto_of::<R, _>(conn, current.clone()).await?;
    let before = serde_json::to_value(&before_dto).map_err(Error::internal)?;
    let savepoint = conn.begin().await.map_err(map_db_err)?;
    let mut row: R::ActiveModel = current.clone().into_active_model();
    let children = R::apply(&savepoint, input, &mut row, Some(&current)).await?;
    let at = now();
    row.set(<R::Entity as Common>::version(), (version + 1).into());
    row.set(<R::Entity as Common>::updated_at(), at.into());
    row.set(
        <R::Entity as Common>::deleted_at(),
        Option::<DateTime<Utc>>::None.into(),
    );
    if let Some(external_id) = R::external_id(input) {
        row.set(
            <R::Entity as Common>::external_id(),
            Some(external_id.to_owned()).into(),
        );
    }
    let row = R::Entity::update(row)
        .validate()
        .map_err(map_db_err)?
        .filter(<R::Entity as Common>::version().eq(version))
        .exec(&savepoint)
        .await
        .map_err(map_db_err)?;
    R::write_children(&savepoint, id, children).await?;
    require_inside::<R, _>(&savepoint, actor, &row).await?;
    let dto = dto_of::<R, _>(&savepoint, row).await?;
    let after = serde_json::to_value(&dto).map_err(Error::internal)?;
    if !was_deleted && same_content(&before, &after) {
        savepoint.rollback().await.map_err(map_db_err)?;
        return Ok(before_dto);
    }
    changes::record(
        &savepoint,
        Change {
            resource_type: R::TYPE,
            resource_id: id,
            action: Action::Update,
            version: version + 1,
            at,
            data: Some(after),
            actor,
        },
    )
    .await?;
    savepoint.commit().await.map_err(map_db_err)?;
    Ok(dto)
}

/// Whether two renderings of a resource differ only in `version` and `updatedAt`.
fn same_content(before: &serde_json::Value, after: &serde_json::Value) -> bool {
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("version");
            map.remove("updatedAt");
        }
        v
    };
    strip(before) == strip(after)
}

/// Creates or replaces the resource the actor knows by `external_id` (idempotent: the same
/// content twice changes nothing). A deleted resource is revived.
pub async fn upsert<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    external_id: &str,
    input: R::Input,
    expected_version: Option<i32>,
) -> Result<(R::Dto, bool)> {
    actor.require_write(R::SCOPE)?;
    if R::external_id(&input).is_some_and(|e| e != external_id) {
        return Err(Error::invalid(
            "externalId",
            "must match the externalId in the path",
        ));
    }
    let input = &input;
    write(db, move |txn| async move {
        let result = upsert_in::<R>(&txn, actor, external_id, input, expected_version).await?;
        Ok((txn, result))
    })
    .await
}

/// [`upsert`] inside the caller's transaction.
async fn upsert_in<R: Resource>(
    txn: &DatabaseTransaction,
    actor: &Actor,
    external_id: &str,
    input: &R::Input,
    expected_version: Option<i32>,
) -> Result<(R::Dto, bool)> {
    Ok(
        match find_external::<R, _>(txn, actor.partner_id, external_id, true).await? {
            Some(current) => (
                update_in::<R, _>(txn, actor, current, input, expected_version).await?,
                false,
            ),
            None if expected_version.is_some() => return Err(not_found::<R>(external_id)),
            None => {
                // Two first upserts of one external id may race (on PostgreSQL; SQLite
                // serializes writers). The loser's insert hits the unique index; it then finds
                // the winner's row and updates that instead, so both calls succeed.
                let savepoint = txn.begin().await.map_err(map_db_err)?;
                match create_in::<R, _>(&savepoint, actor, input, Some(external_id)).await {
                    Ok(dto) => {
                        savepoint.commit().await.map_err(map_db_err)?;
                        (dto, true)
                    }
                    Err(Error::Validation(params))
                        if params.iter().any(|p| p.name == "externalId") =>
                    {
                        savepoint.rollback().await.map_err(map_db_err)?;
                        let current =
                            find_external::<R, _>(txn, actor.partner_id, external_id, true)
                                .await?
                                .ok_or_else(|| Error::Validation(params))?;
                        (
                            update_in::<R, _>(txn, actor, current, input, None).await?,
                            false,
                        )
                    }
                    Err(other) => return Err(other),
                }
            }
        },
    )
}

/// Soft-deletes a resource: it disappears from reads and lists and shows as a tombstone in
/// the change feed. Refused (409) while other live rows refer to it ([`Resource::DEPENDENTS`]);
/// its sub-resources (a network's goals, a lesson's transfers) are deleted with it.
pub async fn delete<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
) -> Result<()> {
    actor.require_write(R::SCOPE)?;
    write(db, move |txn| async move {
        delete_in::<R>(&txn, actor, id, expected_version).await?;
        Ok((txn, ()))
    })
    .await
}

/// [`delete`] inside the caller's transaction.
async fn delete_in<R: Resource>(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
) -> Result<()> {
    let current = find_live::<R, _>(txn, actor, id, true)
        .await?
        .ok_or_else(|| not_found::<R>(id))?;
    actor.require_owner(owner_of::<R>(&current)?)?;
    require_inside::<R, _>(txn, actor, &current).await?;
    let version = version_of::<R>(&current)?;
    if let Some(expected) = expected_version
        && expected != version
    {
        return Err(Error::PreconditionFailed {
            expected,
            current: version,
        });
    }
    let at = now();
    delete_dependents::<R, _>(txn, actor, id, at).await?;
    let result = R::Entity::update_many()
        .col_expr(<R::Entity as Common>::deleted_at(), at.into())
        .col_expr(<R::Entity as Common>::updated_at(), at.into())
        .col_expr(<R::Entity as Common>::version(), (version + 1).into())
        .filter(<R::Entity as Common>::id().eq(id))
        .filter(<R::Entity as Common>::version().eq(version))
        .exec(txn)
        .await
        .map_err(map_db_err)?;
    if result.rows_affected != 1 {
        return Err(map_db_err(sea_orm::DbErr::RecordNotUpdated));
    }
    changes::record(
        txn,
        Change {
            resource_type: R::TYPE,
            resource_id: id,
            action: Action::Delete,
            version: version + 1,
            at,
            data: None,
            actor,
        },
    )
    .await
}
