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
use sea_orm::sea_query::LockType;
use sea_orm::sea_query::{Expr, ExprTrait, Query, ValueType};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel, Iterable,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement, Value,
};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::Actor;
use crate::service::actor::Confinement;
use crate::service::cache::{ReadCache, Versioned, cached, visibility_class};
use crate::service::changes::{Action, Audience, Change};
use crate::service::check::Check;
use crate::service::db::{Tx, is_postgres, map_db_err, read, write};
use crate::service::refs;

/// A resource type: its entity, wire types and rules.
#[async_trait::async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The table.
    type Entity: EntityTrait<Model = Self::Model, ActiveModel = Self::ActiveModel> + Common;
    /// A row.
    type Model: ModelTrait<Entity = Self::Entity>
        + sea_orm::FromQueryResult
        + IntoActiveModel<Self::ActiveModel>
        + Clone
        + Send
        + Sync;
    /// A row being written.
    type ActiveModel: ActiveModelTrait<Entity = Self::Entity> + ActiveModelBehavior + Send + Sync;
    /// What a caller sends to create or replace one (every field optional, see [`Check`]).
    type Input: Send + Sync;
    /// What a caller gets back.
    type Dto: Serialize + Send + Sync + crate::dto::HasMeta;
    /// Child rows (themes, links, ...) resolved by [`Resource::apply`], written with the row.
    type Children: Send + Sync;
    /// List filters (their `Debug` form keys cached answers).
    type Filter: Send + Sync + Clone + std::fmt::Debug;

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
    /// (as `actor` may see them) and writes its data columns into `row`. `current` is the row
    /// being replaced, if any.
    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &Self::Input,
        row: &mut Self::ActiveModel,
        current: Option<&Self::Model>,
    ) -> Result<Self::Children>;

    /// Replaces the child rows of resource `id`, writing nothing where they are already
    /// what `children` says; answers whether anything changed.
    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        children: Self::Children,
    ) -> Result<bool>;

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

    /// For a sub-resource (a network's goals, a lesson's transfers), the parent whose owner
    /// and whose regions and networks govern writes (`auth.md`); `None` for a resource that
    /// governs itself.
    async fn parent<C: ConnectionTrait>(_conn: &C, _row: &Self::Model) -> Result<Option<Parent>> {
        Ok(None)
    }

    /// For a sub-resource (a network's goals, a lesson's transfers), the field naming its
    /// parent (`networkId`): the parent of its sub-collection path, which a write never
    /// changes (a row stays with its parent; it is deleted and created under another).
    const PARENT_FIELD: Option<&'static str> = None;

    /// The status column of a resource that has drafts (`status = 'draft'`): visible to
    /// its owner and admins only, in reads, lists, the feed and every write look-up
    /// ([`Resource::audience`], [`Resource::visible`]). `None` for a resource without.
    const DRAFT_STATUS: Option<<Self::Entity as EntityTrait>::Column> = None;

    /// Who may see the row as it is: everyone who may read, or its owner only (a draft).
    fn audience(row: &Self::Model) -> Audience {
        match Self::DRAFT_STATUS {
            Some(status) if value::<String>(row.get(status)).is_ok_and(|s| s == DRAFT) => {
                Audience::Owner
            }
            _ => Audience::Public,
        }
    }

    /// The natural key that other rows' DTOs show (a region's `code`, a slug). It cannot
    /// change while live rows refer to the resource (their versions and ETags would go
    /// stale without them changing).
    fn natural_key() -> Option<<Self::Entity as EntityTrait>::Column> {
        None
    }

    /// Fields, besides `createdAt` and `updatedAt`, that lists may be sorted by (never
    /// null), with their columns: the one declaration REST's `sort` and GraphQL's `orderBy`
    /// follow (GraphQL's enums are checked against it when the code is compiled).
    const SORTED_BY: &'static [(&'static str, <Self::Entity as EntityTrait>::Column)] = &[];

    /// Whether what a partner sees of the collection depends on who it is (drafts visible
    /// to their owner, a default filter by kind): cached answers are then kept per partner.
    const PER_PARTNER: bool = false;

    /// The resource types whose newest feed position versions the collection's answers
    /// (see [`cache`]): its own, and every type an answer shows or filters by (region
    /// codes and subtrees, theme slugs and names, network slugs, organizations, the
    /// programmes an assignment's `field` and `level` filters read).
    const VERSIONED_BY: &'static [&'static str] = &[
        Self::TYPE,
        "regions",
        "themes",
        "networks",
        "organizations",
        "programmes",
    ];

    /// The text columns full-text search (`q`) looks in: its table's in
    /// [`migration::search::SEARCHED`], the one list the search index is built from.
    fn search_columns() -> &'static [&'static str] {
        migration::search::columns(sea_orm::EntityName::table_name(&Self::Entity::default()))
    }

    /// What `actor` gets by default for what `filter` leaves open (an education platform
    /// sees open and in-progress assignments unless it asks for a status).
    fn default_condition(_actor: &Actor, _filter: &Self::Filter) -> Condition {
        Condition::all()
    }

    /// Which rows `actor` may see at all (`auth.md`: drafts are visible to their owner and
    /// admins only). Applied to every read, list and write lookup.
    fn visible(actor: &Actor) -> Condition {
        match Self::DRAFT_STATUS {
            Some(status) => drafts_hidden::<Self::Entity>(actor, status),
            None => Condition::all(),
        }
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

    /// How many live rows refer to `id`: those `actor` may see, and the others (drafts of
    /// other partners, which an admin sees too).
    async fn count<C: ConnectionTrait>(
        &self,
        conn: &C,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(i64, i64)> {
        let rows = self.owner.map_or(self.table, |(owner, _)| owner);
        let hidden = if DRAFTED.contains(&rows) && !actor.is_admin() {
            Expr::col((rows, "status"))
                .eq("draft")
                .and(Expr::col((rows, "owner_partner_id")).ne(actor.partner_id))
        } else {
            Expr::val(false)
        };
        let mut query = Query::select();
        query
            .expr_as(Expr::col((self.table, self.column)).count(), "n")
            .expr_as(
                Expr::case(hidden, Expr::val(1)).finally(Expr::val(0)).sum(),
                "hidden",
            )
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
        let Some(row) = conn.query_one(&query).await.map_err(map_db_err)? else {
            return Ok((0, 0));
        };
        let n: i64 = row.try_get("", "n").map_err(map_db_err)?;
        // SUM is NULL over no rows; PostgreSQL sums integers as bigint, SQLite as integer.
        let hidden: i64 = row
            .try_get::<Option<i64>>("", "hidden")
            .map_err(map_db_err)?
            .unwrap_or_default();
        Ok((n - hidden, hidden))
    }

    /// Soft-deletes the live rows referring to `id`, bumping their versions, and records a
    /// tombstone for each.
    async fn delete_all(
        &self,
        tx: &Tx,
        actor: &Actor,
        kind: &'static str,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let conn = tx.conn();
        let mut select = Query::select();
        select
            .columns(["id", "version", "owner_partner_id"])
            .from(self.table)
            .and_where(Expr::col(self.column).eq(id))
            .and_where(Expr::col("deleted_at").is_null());
        if is_postgres(conn.get_database_backend()) {
            select.lock(LockType::Update);
        }
        for row in conn.query_all(&select).await.map_err(map_db_err)? {
            let child: Uuid = row.try_get("", "id").map_err(map_db_err)?;
            let version: i32 = row.try_get("", "version").map_err(map_db_err)?;
            let owner: Uuid = row.try_get("", "owner_partner_id").map_err(map_db_err)?;
            let update = Query::update()
                .table(self.table)
                .value("deleted_at", at)
                .value("updated_at", at)
                .value("version", version + 1)
                .and_where(Expr::col("id").eq(child))
                .to_owned();
            conn.execute(&update).await.map_err(map_db_err)?;
            tx.record(Change {
                resource_type: kind,
                resource_id: child,
                action: Action::Delete,
                version: version + 1,
                at,
                data: None,
                owner,
                audience: Audience::Public,
                retracted: false,
                actor,
            });
        }
        Ok(())
    }
}

/// Tables whose rows can be drafts, seen by their owner and admins only.
pub(crate) const DRAFTED: &[&str] = &["practice_examples", "assignments"];

/// What live rows still refer to resource `id`, for messages: `what (count)` for the rows
/// `actor` may see, and one uncounted, unnamed mention of rows it may not (others' drafts,
/// which pin the row as any referrer does), so that a 409 reveals nothing of them.
async fn referrers<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<String>> {
    let mut referrers = Vec::new();
    let mut hidden = false;
    for dependent in R::DEPENDENTS.iter().filter(|d| d.cascade.is_none()) {
        let (seen, unseen) = dependent.count(conn, actor, id).await?;
        if seen > 0 {
            referrers.push(format!("{} ({seen})", dependent.what));
        }
        hidden |= unseen > 0;
    }
    if hidden {
        referrers.push("rows that are not visible to you".to_owned());
    }
    Ok(referrers)
}

/// Refuses to delete resource `id` while live rows refer to it, naming them all; then
/// deletes the sub-resources that go with it.
async fn delete_dependents<R: Resource>(
    tx: &Tx,
    actor: &Actor,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<()> {
    let blocking = referrers::<R, _>(tx.conn(), actor, id).await?;
    if !blocking.is_empty() {
        return Err(Error::Conflict(format!(
            "this {} is still referred to by {}; delete those or point them elsewhere first",
            singular(R::TYPE),
            blocking.join(", ")
        )));
    }
    for dependent in R::DEPENDENTS {
        if let Some(kind) = dependent.cascade {
            dependent.delete_all(tx, actor, kind, id, at).await?;
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

/// The parent that governs writes of a sub-resource ([`Resource::parent`]).
#[derive(Debug, Clone)]
pub struct Parent {
    /// What the parent is called in messages (`network`).
    pub what: &'static str,
    /// The parent's owner: it (or an admin) writes the sub-resources.
    pub owner: Uuid,
    /// Where the parent lies, for confined partners.
    pub anchors: Anchors,
}

/// The row `id` of `P` as the [`Parent`] that governs a sub-resource of it (`what` names
/// it in messages): its owner and where it lies. `None` when there is no such row.
pub async fn parent_of<P: Resource, C: ConnectionTrait>(
    conn: &C,
    what: &'static str,
    id: Uuid,
) -> Result<Option<Parent>> {
    let Some(row) = P::Entity::find()
        .filter(<P::Entity as Common>::id().eq(id))
        .one(conn)
        .await
        .map_err(map_db_err)?
    else {
        return Ok(None);
    };
    Ok(Some(Parent {
        what,
        owner: owner_of::<P>(&row)?,
        anchors: P::anchors(conn, &row).await?,
    }))
}

/// Refuses a write of `row` unless `actor` may write it: the owner of the row (or, for a
/// sub-resource, of its parent) or an admin, and the row (or parent) lies inside the
/// actor's confinement. Called before a change (on the row as it is) and after it (on the
/// row as written), so that nothing moves out of, or into, a partner's territory.
async fn authorize<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    row: &R::Model,
) -> Result<()> {
    let (what, owner, anchors) = match R::parent(conn, row).await? {
        Some(parent) => (parent.what.to_owned(), parent.owner, parent.anchors),
        None => (
            singular(R::TYPE),
            owner_of::<R>(row)?,
            R::anchors(conn, row).await?,
        ),
    };
    actor.require_owner(owner, &what)?;
    require_inside(conn, actor, &anchors, &what).await
}

/// Refuses unless `anchors` lie inside the actor's confinement. Admins and unconfined
/// partners pass; a partner confined to nothing writes nowhere. A row is inside when it
/// belongs to one of the partner's networks (its network, or for a network itself, it or
/// its parent), or when *every* region it names lies in the subtree of one of the
/// partner's regions: one region outside is enough to refuse, or a partner could place a
/// row in someone else's territory by naming its own region too.
async fn require_inside<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    anchors: &Anchors,
    what: &str,
) -> Result<()> {
    let (regions, networks) = match &actor.confinement {
        _ if actor.is_admin() => return Ok(()),
        Confinement::Unconfined => return Ok(()),
        Confinement::Within { regions, networks } => (regions, networks),
    };
    if regions.is_empty() && networks.is_empty() {
        return Err(Error::Forbidden(
            "this partner is confined to no region and no network, so it may write nowhere; \
             an administrator can give it regions or networks"
                .to_owned(),
        ));
    }
    if anchors.networks.iter().any(|n| networks.contains(n)) {
        return Ok(());
    }
    if !anchors.regions.is_empty() && !regions.is_empty() {
        let ancestry = refs::ancestry(conn, &anchors.regions).await?;
        let inside = |region: &Uuid| {
            ancestry
                .iter()
                .any(|(start, ancestor)| start == region && regions.contains(ancestor))
        };
        if anchors.regions.iter().all(inside) {
            return Ok(());
        }
    }
    Err(Error::Forbidden(format!(
        "this {what} lies (partly) outside the regions and networks this partner may write"
    )))
}

/// Visibility of resources with a `draft` status: others' drafts are hidden from
/// non-admins.
pub fn drafts_hidden<E: EntityTrait + Common>(actor: &Actor, status: E::Column) -> Condition {
    if actor.is_admin() {
        Condition::all()
    } else {
        Condition::any()
            .add(status.ne(DRAFT))
            .add(E::owner_partner_id().eq(actor.partner_id))
    }
}

/// The status value of a draft ([`Resource::DRAFT_STATUS`]).
pub const DRAFT: &str = "draft";

/// The current time as stored: UTC, microsecond precision (what PostgreSQL keeps).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn value<T: ValueType>(v: Value) -> Result<T> {
    T::try_from(v).map_err(|e| Error::internal(anyhow::anyhow!("unexpected column value: {e:?}")))
}

pub(crate) fn id_of<R: Resource>(row: &R::Model) -> Result<Uuid> {
    value(row.get(<R::Entity as Common>::id()))
}

fn version_of<R: Resource>(row: &R::Model) -> Result<i32> {
    value(row.get(<R::Entity as Common>::version()))
}

fn owner_of<R: Resource>(row: &R::Model) -> Result<Uuid> {
    value(row.get(<R::Entity as Common>::owner_partner_id()))
}

fn is_deleted<R: Resource>(row: &R::Model) -> bool {
    !matches!(
        row.get(<R::Entity as Common>::deleted_at()),
        Value::ChronoDateTimeUtc(None)
    )
}

fn not_found<R: Resource>(key: impl ToString) -> Error {
    Error::NotFound {
        resource: R::TYPE,
        key: key.to_string(),
    }
}

/// How a write locks the row it reads first (PostgreSQL; SQLite's `BEGIN IMMEDIATE`
/// already runs writers one at a time). An update takes `FOR NO KEY UPDATE`, which lets
/// writers that only refer to the row (`FOR KEY SHARE`, see [`refs`]) go on; a delete, and
/// a change of a natural key, take `FOR UPDATE`, which waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// A plain read.
    None,
    /// `FOR NO KEY UPDATE`: the row will be updated.
    Update,
    /// `FOR UPDATE`: the row will be deleted, or its natural key changed.
    Delete,
}

fn locked<E: EntityTrait, C: ConnectionTrait>(query: Select<E>, conn: &C, lock: Lock) -> Select<E> {
    if !is_postgres(conn.get_database_backend()) {
        return query;
    }
    match lock {
        Lock::None => query,
        Lock::Update => query.lock(LockType::NoKeyUpdate),
        Lock::Delete => query.lock(LockType::Update),
    }
}

/// The live (not deleted) row with `id`, if `actor` may see it, locked as `lock` says so
/// that concurrent writers of one row queue behind each other instead of one failing.
pub async fn find_live<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: Uuid,
    lock: Lock,
) -> Result<Option<R::Model>> {
    let query = R::Entity::find()
        .filter(<R::Entity as Common>::id().eq(id))
        .filter(<R::Entity as Common>::deleted_at().is_null())
        .filter(R::visible(actor));
    locked(query, conn, lock)
        .one(conn)
        .await
        .map_err(map_db_err)
}

/// The live row whose natural key ([`Resource::natural_key`]: a slug, a CBS code) is
/// `key`, if `actor` may see it.
pub async fn find_by_key<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    key: &str,
) -> Result<Option<R::Model>> {
    let Some(column) = R::natural_key() else {
        return Ok(None);
    };
    R::Entity::find()
        .filter(column.eq(key))
        .filter(<R::Entity as Common>::deleted_at().is_null())
        .filter(R::visible(actor))
        .one(conn)
        .await
        .map_err(map_db_err)
}

/// The row `owner` knows by `external_id`, deleted or not (an upsert revives a deleted one).
async fn find_external<R: Resource, C: ConnectionTrait>(
    conn: &C,
    owner: Uuid,
    external_id: &str,
    lock: Lock,
) -> Result<Option<R::Model>> {
    let query = R::Entity::find()
        .filter(<R::Entity as Common>::owner_partner_id().eq(owner))
        .filter(<R::Entity as Common>::external_id().eq(external_id));
    locked(query, conn, lock)
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
    get_under::<R>(db, actor, id, None).await
}

/// A sub-collection's parent: the field of a row that names it (as the API names it,
/// `networkId`) and its id. A row of another parent is not found under this one, and a
/// write there cannot move it to another.
pub type Under = Option<(&'static str, Uuid)>;

/// The column of `R` that the API calls `field` (`networkId` is `network_id`).
fn column_of<R: Resource>(field: &str) -> Result<<R::Entity as EntityTrait>::Column> {
    use std::str::FromStr;
    let mut column_name = String::with_capacity(field.len() + 2);
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            column_name.push('_');
        }
        column_name.push(c.to_ascii_lowercase());
    }
    <R::Entity as EntityTrait>::Column::from_str(&column_name)
        .map_err(|_| Error::internal(anyhow::anyhow!("{} has no column {column_name}", R::TYPE)))
}

/// Whether `row` belongs to `parent` (every row does without one).
fn is_under<R: Resource>(row: &R::Model, parent: Under) -> Result<bool> {
    let Some((field, id)) = parent else {
        return Ok(true);
    };
    Ok(value::<Option<Uuid>>(row.get(column_of::<R>(field)?))? == Some(id))
}

/// Refuses a write that would move a sub-resource to another parent
/// ([`Resource::PARENT_FIELD`]): by id, by `externalId` or through another parent's path,
/// a row stays with its parent.
fn refuse_move<R: Resource>(row: &R::ActiveModel, current: &R::Model) -> Result<()> {
    let Some(field) = R::PARENT_FIELD else {
        return Ok(());
    };
    let column = column_of::<R>(field)?;
    match row.get(column).into_value() {
        Some(new) if new != current.get(column) => Err(Error::invalid(
            field,
            format!(
                "names another parent than this one's: one of {} stays with its parent (delete it, and create it under the other)",
                R::TYPE
            ),
        )),
        _ => Ok(()),
    }
}

/// `row` when it belongs to `parent`; not found as `key` otherwise.
fn found_under<R: Resource>(row: R::Model, parent: Under, key: impl ToString) -> Result<R::Model> {
    if is_under::<R>(&row, parent)? {
        Ok(row)
    } else {
        Err(not_found::<R>(key))
    }
}

/// [`get`] under a sub-collection's `parent` ([`Under`]).
pub async fn get_under<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    parent: Under,
) -> Result<R::Dto> {
    actor.require_read()?;
    read(db, move |txn| async move {
        let row = find_live::<R, _>(&txn, actor, id, Lock::None)
            .await?
            .map(|row| found_under::<R>(row, parent, id))
            .ok_or_else(|| not_found::<R>(id))??;
        let dto = dto_of::<R, _>(&txn, row).await?;
        Ok((txn, dto))
    })
    .await
}

/// One live resource by the caller's own id for it (`externalId`): what it pushed, read
/// back without keeping our ids.
pub async fn get_external<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    external_id: &str,
) -> Result<R::Dto> {
    get_external_under::<R>(db, actor, external_id, None).await
}

/// [`get_external`] under a sub-collection's `parent` ([`Under`]).
pub async fn get_external_under<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    external_id: &str,
    parent: Under,
) -> Result<R::Dto> {
    actor.require_read()?;
    let mut check = Check::new();
    check.external_id("externalId", external_id);
    check.finish()?;
    read(db, move |txn| async move {
        let row = find_external::<R, _>(&txn, actor.partner_id, external_id, Lock::None)
            .await?
            .filter(|row| !is_deleted::<R>(row))
            .map(|row| found_under::<R>(row, parent, external_id))
            .ok_or_else(|| not_found::<R>(external_id))??;
        let dto = dto_of::<R, _>(&txn, row).await?;
        Ok((txn, dto))
    })
    .await
}

/// One resource by its natural key (a slug, a CBS code).
pub async fn get_by_key<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    key: &str,
) -> Result<R::Dto> {
    actor.require_read()?;
    read(db, move |txn| async move {
        let row = find_by_key::<R, _>(&txn, actor, key)
            .await?
            .ok_or_else(|| not_found::<R>(key))?;
        let dto = dto_of::<R, _>(&txn, row).await?;
        Ok((txn, dto))
    })
    .await
}

/// The most items one page may hold.
pub const MAX_PAGE_SIZE: u64 = 500;

/// Refuses a page size outside 1 to [`MAX_PAGE_SIZE`] rather than clamping it, so that a
/// caller asking for 1000 does not believe it got them all.
pub fn check_limit(limit: u64) -> Result<()> {
    check_page_size(limit, MAX_PAGE_SIZE)
}

/// Refuses a page size outside 1 to `max`.
pub fn check_page_size(limit: u64, max: u64) -> Result<()> {
    if (1..=max).contains(&limit) {
        Ok(())
    } else {
        Err(Error::invalid(
            "limit",
            format!("must be between 1 and {max}, got {limit}"),
        ))
    }
}

/// How a list is ordered: by a field of the resource, ascending or descending, then by id
/// (so the order is total and the keyset exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// The field as the API names it: `createdAt` (the default), `updatedAt`, or one the
    /// resource offers ([`Resource::SORTED_BY`]).
    pub field: String,
    /// Descending (`-field`).
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            field: "createdAt".to_owned(),
            descending: false,
        }
    }
}

impl Sort {
    /// Parses `field` or `-field`.
    pub fn parse(text: &str) -> Self {
        match text.strip_prefix('-') {
            Some(field) => Self {
                field: field.to_owned(),
                descending: true,
            },
            None => Self {
                field: text.trim_start_matches('+').to_owned(),
                descending: false,
            },
        }
    }

    /// As given: `field` or `-field`.
    pub fn as_param(&self) -> String {
        if self.descending {
            format!("-{}", self.field)
        } else {
            self.field.clone()
        }
    }
}

/// Where a page starts: after the row with this sort key and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The previous row's sort value as text (`None` when sorting by creation: the id is
    /// the key).
    pub key: Option<String>,
    /// The previous row's id.
    pub id: Uuid,
}

/// A page request: at most `limit` items after `after`, in `sort` order, of the rows
/// changed since `updated_since` that match the full-text query `q`. Keyset paging: no
/// OFFSET, and a walk sees every row that lives throughout it exactly once.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Items per page: 1 to [`MAX_PAGE_SIZE`] (default 50). Anything else is refused rather
    /// than silently clamped, so that a caller asking for 1000 does not believe it got
    /// them all.
    pub limit: u64,
    /// Continue after this row.
    pub after: Option<After>,
    /// The order.
    pub sort: Sort,
    /// Only rows changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// Full-text search over the resource's text fields ([`Resource::search_columns`]),
    /// from an index on both backends ([`search_condition`]).
    pub q: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(50)
    }
}

impl PageRequest {
    /// The first page of `limit` items in creation order.
    pub fn first(limit: u64) -> Self {
        Self {
            limit,
            after: None,
            sort: Sort::default(),
            updated_since: None,
            q: None,
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in the requested order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    #[serde(skip)]
    pub next: Option<After>,
}

/// The column and the text of a sort key, for the keyset.
fn sort_key<R: Resource>(
    row: &R::Model,
    column: <R::Entity as EntityTrait>::Column,
) -> Option<String> {
    match row.get(column) {
        Value::String(Some(s)) => Some(s.to_string()),
        Value::ChronoDateTimeUtc(Some(t)) => {
            Some(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        Value::Int(Some(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The key's text as the column's value.
fn key_value(column_is_time: bool, key: &str) -> Result<Value> {
    if column_is_time {
        DateTime::parse_from_rfc3339(key)
            .map(|t| Value::from(t.with_timezone(&Utc)))
            .map_err(|_| Error::invalid("cursor", "is not a cursor of this list"))
    } else {
        Ok(Value::from(key.to_owned()))
    }
}

/// The full-text condition for `q` over the resource's search index.
///
/// PostgreSQL: `websearch_to_tsquery('dutch', q)` (words, `"a phrase"`, `-not`, `or`, with
/// Dutch stemming and stop words) against the table's stored `search` vector, from its GIN
/// index. SQLite: every word of three or more characters must occur in the row's text and
/// no `-word` may, case-insensitively, found in the table's FTS5 trigram index; so a part
/// of a compound word finds it too (`preventie` finds `valpreventie`), and quotes and `or`
/// are not operators there. A query with no such word to look for is refused on both, so
/// that the same query never means "everything" on one backend and "nothing" on the other.
pub fn search_condition<R: Resource>(backend: DbBackend, q: &str) -> Result<Condition> {
    let table = sea_orm::EntityName::table_name(&R::Entity::default());
    if R::search_columns().is_empty() {
        return Err(Error::invalid(
            "q",
            format!("{} cannot be searched", R::TYPE),
        ));
    }
    if q.trim().is_empty() || q.chars().count() > 200 || q.chars().any(char::is_control) {
        return Err(Error::invalid("q", "must be 1 to 200 characters of text"));
    }
    let (words, excluded) = search_words(q);
    if words.is_empty() {
        return Err(Error::invalid(
            "q",
            "must hold a word of at least 3 letters or digits that is not a Dutch stop word (de, het, een, ...)",
        ));
    }
    Ok(Condition::all().add(if is_postgres(backend) {
        Expr::cust_with_values(
            format!(r#""{table}"."search" @@ websearch_to_tsquery('dutch', $1)"#),
            [q.to_owned()],
        )
    } else {
        // Each word as an FTS5 string (a trigram phrase): all wanted, none excluded.
        let quoted =
            |words: &[String]| words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>();
        let mut query = quoted(&words).join(" AND ");
        for word in quoted(&excluded) {
            query = format!("({query}) NOT {word}");
        }
        let fts = migration::search::fts_table(table);
        Expr::cust_with_values(
            format!(r#""{table}".rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)"#),
            [query],
        )
    }))
}

/// PostgreSQL's Dutch stop words (`tsearch_data/dutch.stop`, Snowball's list): words
/// the Dutch configuration leaves out of every text search vector and query. SQLite drops
/// them from a query too, so that a query of stop words means the same on both.
const DUTCH_STOP_WORDS: &[&str] = &[
    "de", "en", "van", "ik", "te", "dat", "die", "in", "een", "hij", "het", "niet", "zijn", "is",
    "was", "op", "aan", "met", "als", "voor", "had", "er", "maar", "om", "hem", "dan", "zou", "of",
    "wat", "mijn", "men", "dit", "zo", "door", "over", "ze", "zich", "bij", "ook", "tot", "je",
    "mij", "uit", "der", "daar", "haar", "naar", "heb", "hoe", "heeft", "hebben", "deze", "u",
    "want", "nog", "zal", "me", "zij", "nu", "ge", "geen", "omdat", "iets", "worden", "toch", "al",
    "waren", "veel", "meer", "doen", "toen", "moet", "ben", "zonder", "kan", "hun", "dus", "alles",
    "onder", "ja", "eens", "hier", "wie", "werd", "altijd", "doch", "wordt", "wezen", "kunnen",
    "ons", "zelf", "tegen", "na", "reeds", "wil", "kon", "niets", "uw", "iemand", "geweest",
    "andere",
];

/// The words of a query that search looks for, and the words it excludes (`-word`):
/// runs of letters and digits (with `-` and `'` inside a word, as in `zorg-en-welzijn`) of
/// at least three characters, lowercased, without Dutch stop words.
fn search_words(q: &str) -> (Vec<String>, Vec<String>) {
    let (mut wanted, mut excluded) = (Vec::new(), Vec::new());
    for token in q.split(char::is_whitespace) {
        let into = if token.trim_start_matches('"').starts_with('-') {
            &mut excluded
        } else {
            &mut wanted
        };
        into.extend(
            token
                .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
                .map(|w| w.trim_matches(|c: char| c == '-' || c == '\''))
                .filter(|w| w.chars().count() >= 3)
                .map(str::to_lowercase)
                .filter(|w| !DUTCH_STOP_WORDS.contains(&w.as_str())),
        );
    }
    (wanted, excluded)
}

/// A filtered page of live resources.
pub async fn list<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &R::Filter,
    page: PageRequest,
) -> Result<Page<R::Dto>> {
    actor.require_read()?;
    read(db, move |txn| async move {
        let page = list_in::<R>(&txn, actor, filter, page).await?;
        Ok((txn, page))
    })
    .await
}

/// How many live resources `actor` may see match `filter` and the page's search and
/// `updatedSince`, on every page (the page's cursor and size play no part): a list's total.
pub async fn count<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &R::Filter,
    page: PageRequest,
) -> Result<u64> {
    actor.require_read()?;
    let page = PageRequest {
        after: None,
        limit: 1,
        ..page
    };
    read(db, move |txn| async move {
        let Planned { query, .. } = planned::<R>(&txn, actor, filter, &page).await?;
        let counted: Option<i64> = query
            .select_only()
            .expr_as(Expr::cust("COUNT(*)"), "n")
            .into_tuple()
            .one(&txn)
            .await
            .map_err(map_db_err)?;
        Ok((
            txn,
            <u64 as TryFrom<i64>>::try_from(counted.unwrap_or_default()).unwrap_or_default(),
        ))
    })
    .await
}

/// [`list`] with the version of the collection it was read at ([`cache`]): from `cache`
/// when it holds the answer at that version.
pub async fn list_cached<R: Resource>(
    db: &DatabaseConnection,
    cache: &ReadCache,
    actor: &Actor,
    filter: &R::Filter,
    page: PageRequest,
) -> Result<Versioned<Page<R::Dto>>>
where
    R::Dto: 'static,
{
    actor.require_read()?;
    check_limit(page.limit)?;
    let query = format!("{filter:?}|{page:?}");
    let class = visibility_class(actor, R::PER_PARTNER);
    read(db, move |txn| async move {
        let answer = cached(cache, &txn, R::VERSIONED_BY, R::TYPE, query, class, || {
            list_in::<R>(&txn, actor, filter, page)
        })
        .await?;
        Ok((txn, answer))
    })
    .await
}

/// A list's statement before its page is cut: every row `actor` may see that matches the
/// filter, the search and `updatedSince`, after the cursor; with the sort column (`None`:
/// the id, for `createdAt`) and the direction. [`list_in`] and the per-parent pages of
/// [`crate::service::related`] both read through it, so a rule added here holds for both.
pub(crate) struct Planned<R: Resource> {
    /// The filtered statement (no order, no limit yet).
    pub query: Select<R::Entity>,
    /// The sort column besides the id.
    pub column: Option<<R::Entity as EntityTrait>::Column>,
    /// Ascending or descending.
    pub order: sea_orm::Order,
}

/// The rows of `R` changed at or after `since` (`updatedSince`), all when `None`. A time
/// before the year 1 or after 9999 is refused: no row has one, and PostgreSQL cannot hold
/// every time that can be sent.
pub(crate) fn changed_since<R: Resource>(since: Option<DateTime<Utc>>) -> Result<Condition> {
    use chrono::Datelike;
    let Some(since) = since else {
        return Ok(Condition::all());
    };
    if !(1..=9999).contains(&since.year()) {
        return Err(Error::invalid(
            "updatedSince",
            "must be a time between the years 1 and 9999",
        ));
    }
    Ok(Condition::all().add(<R::Entity as Common>::updated_at().gte(since)))
}

/// Plans a page of `R` under `filter` for `actor` (see [`Planned`]).
pub(crate) async fn planned<R: Resource>(
    txn: &DatabaseTransaction,
    actor: &Actor,
    filter: &R::Filter,
    page: &PageRequest,
) -> Result<Planned<R>> {
    check_limit(page.limit)?;
    let id = <R::Entity as Common>::id();
    let column = match page.sort.field.as_str() {
        "createdAt" => None,
        "updatedAt" => Some(<R::Entity as Common>::updated_at()),
        other => Some(
            R::SORTED_BY
                .iter()
                .find(|(name, _)| *name == other)
                .map(|(_, column)| *column)
                .ok_or_else(|| {
                    let fields: Vec<&str> = ["createdAt", "updatedAt"]
                        .into_iter()
                        .chain(R::SORTED_BY.iter().map(|(name, _)| *name))
                        .collect();
                    Error::invalid(
                        "sort",
                        format!(
                            "{} cannot be sorted by {other}; use {}",
                            R::TYPE,
                            fields.join(", ")
                        ),
                    )
                })?,
        ),
    };
    let is_time = page.sort.field == "updatedAt";
    let backend = txn.get_database_backend();
    let mut query = R::Entity::find()
        .filter(<R::Entity as Common>::deleted_at().is_null())
        .filter(R::visible(actor))
        .filter(R::default_condition(actor, filter))
        .filter(R::condition(txn, filter).await?);
    query = query.filter(changed_since::<R>(page.updated_since)?);
    if let Some(q) = &page.q {
        query = query.filter(search_condition::<R>(backend, q)?);
    }
    let descending = page.sort.descending;
    if let Some(after) = &page.after {
        query = query.filter(match (column, &after.key) {
            (None, None) if descending => Condition::all().add(id.lt(after.id)),
            (None, None) => Condition::all().add(id.gt(after.id)),
            (Some(column), Some(key)) => {
                let key = key_value(is_time, key)?;
                // `key >= k AND (key > k OR id > i)`: the first conjunct lets the index
                // range start at the cursor (with the OR alone, PostgreSQL walks the
                // index from the first row and filters, so late pages get slow).
                let (bound, beyond, tie) = if descending {
                    (column.lte(key.clone()), column.lt(key), id.lt(after.id))
                } else {
                    (column.gte(key.clone()), column.gt(key), id.gt(after.id))
                };
                Condition::all()
                    .add(bound)
                    .add(Condition::any().add(beyond).add(tie))
            }
            _ => return Err(Error::invalid("cursor", "is not a cursor of this list")),
        });
    }
    let order = if descending {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    };
    Ok(Planned {
        query,
        column,
        order,
    })
}

/// Cuts `rows` (read with one row more than `limit`) to the page, and answers where the
/// next page starts: after its last row, when there was one more.
pub(crate) fn cut<R: Resource>(
    rows: &mut Vec<R::Model>,
    limit: u64,
    column: Option<<R::Entity as EntityTrait>::Column>,
) -> Result<Option<After>> {
    if rows.len() as u64 <= limit {
        return Ok(None);
    }
    rows.truncate(limit as usize);
    match rows.last() {
        Some(last) => Ok(Some(After {
            key: column.and_then(|c| sort_key::<R>(last, c)),
            id: id_of::<R>(last)?,
        })),
        None => Ok(None),
    }
}

/// [`list`] in the read transaction `txn`.
async fn list_in<R: Resource>(
    txn: &DatabaseTransaction,
    actor: &Actor,
    filter: &R::Filter,
    page: PageRequest,
) -> Result<Page<R::Dto>> {
    let limit = page.limit;
    let id = <R::Entity as Common>::id();
    let Planned {
        mut query,
        column,
        order,
    } = planned::<R>(txn, actor, filter, &page).await?;
    if let Some(column) = column {
        query = query.order_by(column, order.clone());
    }
    // The page's ids first, then its rows: the ids can come from indexes alone (the
    // filters' columns are indexed with the id), and only the page's rows are read,
    // whichever plan the database keeps for the statement.
    let ids = query
        .select_only()
        .column(id)
        .order_by(id, order.clone())
        .limit(limit + 1)
        .into_query();
    let custom = custom_plan_for_subtrees(txn, &ids, page.q.is_some()).await?;
    let mut rows = R::Entity::find().filter(id.in_subquery(ids));
    if let Some(column) = column {
        rows = rows.order_by(column, order.clone());
    }
    let mut rows = rows
        .order_by(id, order)
        .all(txn)
        .await
        .map_err(map_db_err)?;
    if custom {
        // The rest of the transaction (the rows' follow-ups, a GraphQL query's other
        // reads) keeps the plans PostgreSQL chooses.
        txn.execute_unprepared("SET LOCAL plan_cache_mode = auto")
            .await
            .map_err(map_db_err)?;
    }
    let next = cut::<R>(&mut rows, limit, column)?;
    let items = R::to_dtos(txn, rows).await?;
    Ok(Page { items, next })
}

/// On PostgreSQL, plans a list page filtered by a region subtree for its actual values
/// (`SET LOCAL plan_cache_mode = force_custom_plan`, for this read transaction only).
/// The statement is prepared once per connection, and after five executions PostgreSQL
/// keeps a generic plan, which assumes a subtree of a few regions and walks a province's
/// hundreds of regions one by one: measured on 50,000 practice examples, a province and a
/// theme, 13,777 buffers and 17 ms against 3,777 and 8 ms planned for the values; through
/// the server, 1.5-2.4× the list pages a second for a province and a theme, the same for
/// a province alone. Not for searches, nor for other statements: there the generic plan
/// measured as good and planning each time cost up to half the throughput.
/// Answers whether it set it (the caller sets it back after the statement).
async fn custom_plan_for_subtrees(
    txn: &DatabaseTransaction,
    ids: &sea_orm::sea_query::SelectStatement,
    searching: bool,
) -> Result<bool> {
    let backend = txn.get_database_backend();
    if searching || !is_postgres(backend) || !backend.build(ids).sql.contains("region_closure") {
        return Ok(false);
    }
    txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
        .await
        .map_err(map_db_err)?;
    Ok(true)
}

/// A live resource the actor owns, read for the answer to one of its own writes: its
/// write scope suffices (a partner that may only write still learns what it wrote), and a
/// row it does not own is not found.
pub async fn get_own<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<R::Dto> {
    actor.require_write(R::SCOPE)?;
    read(db, move |txn| async move {
        let row = find_live::<R, _>(&txn, actor, id, Lock::None)
            .await?
            .filter(|row| owner_of::<R>(row).is_ok_and(|owner| owner == actor.partner_id))
            .ok_or_else(|| not_found::<R>(id))?;
        let dto = dto_of::<R, _>(&txn, row).await?;
        Ok((txn, dto))
    })
    .await
}

/// Creates a resource owned by the actor.
pub async fn create<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    input: R::Input,
) -> Result<R::Dto> {
    actor.require_write(R::SCOPE)?;
    let input = &input;
    write(db, move |tx| async move {
        if let Some(external_id) = R::external_id(input).filter(|e| valid_external_id(e))
            && find_external::<R, _>(tx.conn(), actor.partner_id, external_id, Lock::None)
                .await?
                .is_some()
        {
            return Err(Error::invalid(
                "externalId",
                format!(
                    "you already have one of {} with this externalId: change that one (an upsert by externalId) rather than create another",
                    R::TYPE
                ),
            ));
        }
        let dto = create_in::<R>(&tx, actor, input, R::external_id(input)).await?;
        Ok((tx, dto))
    })
    .await
}

/// Creates a resource inside the caller's transaction.
pub(crate) async fn create_in<R: Resource>(
    tx: &Tx,
    actor: &Actor,
    input: &R::Input,
    external_id: Option<&str>,
) -> Result<R::Dto> {
    let conn = tx.conn();
    let mut row = R::ActiveModel::new();
    let children = apply::<R>(conn, actor, input, &mut row, None, external_id).await?;
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
    authorize::<R, _>(conn, actor, &row).await?;
    let audience = R::audience(&row);
    let dto = dto_of::<R, _>(conn, row).await?;
    tx.record(Change {
        resource_type: R::TYPE,
        resource_id: id,
        action: Action::Create,
        version: 1,
        at,
        data: Some(serde_json::to_value(&dto).map_err(Error::internal)?),
        owner: actor.partner_id,
        audience,
        retracted: false,
        actor,
    });
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
    update_under::<R>(db, actor, id, input, expected_version, None).await
}

/// [`update`] under a sub-collection's `parent` ([`Under`]): the row is found under it
/// in the write's own transaction, locked, so it cannot move out meanwhile.
pub async fn update_under<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: R::Input,
    expected_version: Option<i32>,
    parent: Under,
) -> Result<R::Dto> {
    actor.require_write(R::SCOPE)?;
    actor.require_version(expected_version)?;
    let input = &input;
    write(db, move |tx| async move {
        let current = find_live::<R, _>(tx.conn(), actor, id, Lock::Update)
            .await?
            .map(|row| found_under::<R>(row, parent, id))
            .ok_or_else(|| not_found::<R>(id))??;
        let dto = update_in::<R>(&tx, actor, current, input, expected_version).await?;
        Ok((tx, dto))
    })
    .await
}

/// Fields of a representation that a request cannot set.
const READ_ONLY: &[&str] = &["id", "version", "createdAt", "updatedAt", "ownerPartnerId"];

/// References given by id and by natural key: a patch that sets one drops the other from
/// the current representation, so that they cannot contradict each other.
const REFERENCE_PAIRS: &[(&str, &str)] = &[
    ("regionId", "regionCode"),
    ("networkId", "networkSlug"),
    ("parentId", "parentCode"),
    ("parentNetworkId", "parentNetworkSlug"),
    ("originRegionId", "originRegionCode"),
];

/// RFC 7396: `patch` applied to `target`.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(
                        target.entry(key.clone()).or_insert(serde_json::Value::Null),
                        value,
                    );
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Changes the fields `patch` names (a JSON merge patch, RFC 7396: `null` clears a field)
/// and keeps the others, validated exactly like a replacement ([`update`]). `parent`
/// (the field naming it, and its id) confines the patch to a parent's sub-collection: a row
/// of another parent is not found, and the patch may not move it to another.
///
/// The patch is applied to the version read: the write expects that version even when the
/// caller named none, so a change made in between is never undone; it is then a conflict
/// (409) to send again, or with `expected_version` the precondition failure (412) it is.
pub async fn patch<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    patch: &serde_json::Value,
    expected_version: Option<i32>,
    parent: Under,
) -> Result<R::Dto>
where
    R::Input: serde::de::DeserializeOwned,
{
    actor.require_write(R::SCOPE)?;
    if !patch.is_object() {
        return Err(Error::invalid(
            "body",
            "must be a JSON object (a merge patch)",
        ));
    }
    actor.require_version(expected_version)?;
    let current = get_under::<R>(db, actor, id, parent).await?;
    let version = crate::dto::HasMeta::meta(&current).version;
    let current = serde_json::to_value(current).map_err(Error::internal)?;
    if let Some(expected) = expected_version
        && expected != version
    {
        return Err(Error::PreconditionFailed {
            expected,
            current: version,
        });
    }
    let mut merged = current;
    if let Some(object) = merged.as_object_mut() {
        for field in READ_ONLY {
            object.remove(*field);
        }
        // A patch naming a reference by one of its fields (a new value, or `null` to clear
        // it) drops the other's current value, which named the reference it replaces.
        for (by_id, by_key) in REFERENCE_PAIRS {
            if patch.get(*by_key).is_some() && patch.get(*by_id).is_none() {
                object.remove(*by_id);
            }
            if patch.get(*by_id).is_some() && patch.get(*by_key).is_none() {
                object.remove(*by_key);
            }
        }
    }
    merge_patch(&mut merged, patch);
    if let (Some((field, parent)), Some(object)) = (parent, merged.as_object_mut()) {
        match object.get(field) {
            None | Some(serde_json::Value::Null) => {
                object.insert(field.to_owned(), parent.to_string().into());
            }
            Some(given) if given.as_str() == Some(parent.to_string().as_str()) => {}
            Some(_) => {
                return Err(Error::invalid(
                    field,
                    "must be the parent in the path (or be left out)",
                ));
            }
        }
    }
    let input: R::Input = crate::service::json::from_json(merged)?;
    match update_under::<R>(db, actor, id, input, Some(version), parent).await {
        Err(Error::PreconditionFailed { .. }) if expected_version.is_none() => {
            Err(Error::Conflict(
                "the resource changed while the patch was applied; send it again".to_owned(),
            ))
        }
        other => other,
    }
}

/// Whether `external_id` may be looked up (the rule itself is [`Check::external_id`]; an
/// invalid one is reported with the other fields by [`apply`]).
fn valid_external_id(external_id: &str) -> bool {
    let mut check = Check::new();
    check.external_id("externalId", external_id);
    check.is_ok()
}

/// The most text a row's search columns ([`Resource::search_columns`]) may hold together:
/// PostgreSQL's text-search vector of it stays well under its 1 MB limit (about 640 KB at
/// worst, measured with 200,000 characters of distinct four-letter Cyrillic words), so
/// that the limit is this stated one, the same on both backends.
pub const MAX_SEARCHABLE: usize = 200_000;

/// Refuses a row whose search columns hold more than [`MAX_SEARCHABLE`] characters
/// together, naming the longest of them.
fn searchable_within<R: Resource>(check: &mut Check, row: &R::ActiveModel) {
    use std::str::FromStr;
    let lengths: Vec<(&str, usize)> = R::search_columns()
        .iter()
        .filter_map(|name| {
            let column = <R::Entity as EntityTrait>::Column::from_str(name).ok()?;
            let text = value::<Option<String>>(row.get(column).into_value()?).ok()??;
            Some((*name, text.chars().count()))
        })
        .collect();
    let total: usize = lengths.iter().map(|(_, n)| n).sum();
    if total > MAX_SEARCHABLE
        && let Some((longest, _)) = lengths.iter().max_by_key(|(_, n)| *n)
    {
        let names: Vec<String> = lengths
            .iter()
            .map(|(name, _)| crate::service::db::camel(name))
            .collect();
        check.fail(
            crate::service::db::camel(longest),
            format!(
                "{} together hold {total} characters; the searchable text of one row may hold at most {MAX_SEARCHABLE}",
                names.join(", ")
            ),
        );
    }
}

/// [`Resource::apply`], with the `externalId` checked too (one rule for every resource),
/// every invalid field reported together.
async fn apply<R: Resource>(
    conn: &DatabaseTransaction,
    actor: &Actor,
    input: &R::Input,
    row: &mut R::ActiveModel,
    current: Option<&R::Model>,
    external_id: Option<&str>,
) -> Result<R::Children> {
    let mut check = Check::new();
    if let Some(external_id) = external_id {
        check.external_id("externalId", external_id);
    }
    let applied = R::apply(conn, actor, input, row, current).await;
    if applied.is_ok() {
        searchable_within::<R>(&mut check, row);
    }
    match (check.finish(), applied) {
        (Ok(()), applied) => applied,
        (Err(Error::Validation(mut problems)), Err(Error::Validation(more))) => {
            problems.extend(more);
            Err(Error::Validation(problems))
        }
        (Err(error), Ok(_)) => Err(error),
        (Err(_), Err(other)) => Err(other),
    }
}

/// Whether `row` (as [`Resource::apply`] left it) differs from `current` in any column.
fn columns_changed<R: Resource>(row: &R::ActiveModel, current: &R::Model) -> bool {
    <R::Entity as EntityTrait>::Column::iter()
        .any(|c| row.get(c).into_value().is_some_and(|v| v != current.get(c)))
}

/// Replaces `current` inside the caller's transaction. A no-op is found before anything is
/// written: the columns as [`Resource::apply`] resolves them are compared with the row, and
/// [`Resource::write_children`] leaves equal child rows alone.
async fn update_in<R: Resource>(
    tx: &Tx,
    actor: &Actor,
    current: R::Model,
    input: &R::Input,
    expected_version: Option<i32>,
) -> Result<R::Dto> {
    let conn = tx.conn();
    authorize::<R, _>(conn, actor, &current).await?;
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
    if let Some(external_id) = R::external_id(input).filter(|e| valid_external_id(e))
        && let Some(other) =
            find_external::<R, _>(conn, actor.partner_id, external_id, Lock::None).await?
        && id_of::<R>(&other)? != id
    {
        return Err(Error::invalid(
            "externalId",
            format!("another of your {} already has this externalId", R::TYPE),
        ));
    }
    let was_deleted = is_deleted::<R>(&current);
    let mut row: R::ActiveModel = current.clone().into_active_model();
    let children = apply::<R>(
        conn,
        actor,
        input,
        &mut row,
        Some(&current),
        R::external_id(input),
    )
    .await?;
    if let Some(external_id) = R::external_id(input) {
        row.set(
            <R::Entity as Common>::external_id(),
            Some(external_id.to_owned()).into(),
        );
    }
    refuse_move::<R>(&row, &current)?;
    if !was_deleted {
        refuse_key_change::<R>(conn, actor, &row, &current, id).await?;
    }
    let columns_changed = columns_changed::<R>(&row, &current);
    let children_changed = R::write_children(conn, id, children).await?;
    if !was_deleted && !columns_changed && !children_changed {
        return dto_of::<R, _>(conn, current).await;
    }
    let at = now();
    row.set(<R::Entity as Common>::version(), (version + 1).into());
    row.set(<R::Entity as Common>::updated_at(), at.into());
    row.set(
        <R::Entity as Common>::deleted_at(),
        Option::<DateTime<Utc>>::None.into(),
    );
    let row = R::Entity::update(row)
        .validate()
        .map_err(map_db_err)?
        .filter(<R::Entity as Common>::version().eq(version))
        .exec(conn)
        .await
        .map_err(map_db_err)?;
    authorize::<R, _>(conn, actor, &row).await?;
    let retracted = !was_deleted
        && R::audience(&current) == Audience::Public
        && R::audience(&row) == Audience::Owner;
    let audience = R::audience(&row);
    let owner = owner_of::<R>(&row)?;
    let dto = dto_of::<R, _>(conn, row).await?;
    tx.record(Change {
        resource_type: R::TYPE,
        resource_id: id,
        action: Action::Update,
        version: version + 1,
        at,
        data: Some(serde_json::to_value(&dto).map_err(Error::internal)?),
        owner,
        audience,
        retracted,
        actor,
    });
    Ok(dto)
}

/// Refuses to change the natural key of a live row that live rows refer to: their DTOs show
/// the key, and would change without a new version. The row is locked `FOR UPDATE` first,
/// which waits for writers holding a reference to it (`FOR KEY SHARE`) and makes later ones
/// wait, so the count is complete.
async fn refuse_key_change<R: Resource>(
    conn: &DatabaseTransaction,
    actor: &Actor,
    row: &R::ActiveModel,
    current: &R::Model,
    id: Uuid,
) -> Result<()> {
    let Some(key) = R::natural_key() else {
        return Ok(());
    };
    if !row
        .get(key)
        .into_value()
        .is_some_and(|v| v != current.get(key))
    {
        return Ok(());
    }
    if is_postgres(conn.get_database_backend()) {
        R::Entity::find()
            .filter(<R::Entity as Common>::id().eq(id))
            .lock(LockType::Update)
            .one(conn)
            .await
            .map_err(map_db_err)?;
    }
    let referrers = referrers::<R, _>(conn, actor, id).await?;
    if referrers.is_empty() {
        return Ok(());
    }
    let field = crate::service::db::camel(sea_orm::IdenStatic::as_str(&key));
    Err(Error::Conflict(format!(
        "the {field} of this {} cannot change while {} show it; point those elsewhere first, or \
         create a new {} and move them to it",
        singular(R::TYPE),
        referrers.join(", "),
        singular(R::TYPE)
    )))
}

/// Whether the transaction can still run statements: a PostgreSQL transaction in which a
/// statement failed cannot (SQLite's can).
async fn usable(conn: &DatabaseTransaction) -> bool {
    !is_postgres(conn.get_database_backend()) || conn.execute_unprepared("SELECT 1").await.is_ok()
}

/// A bulk item's refusal as field problems at `items[index]`; an error that is not about
/// the item (the database is unreachable, ...) fails the whole request as it is.
fn item_problems(index: usize, error: Error) -> Result<Vec<crate::error::InvalidParam>> {
    match error {
        Error::Validation(params) => Ok(params
            .into_iter()
            .map(|p| {
                crate::error::InvalidParam::new(format!("items[{index}].{}", p.name), p.reason)
            })
            .collect()),
        // A refusal of the item as a whole (another partner's row, outside the partner's
        // territory, a stale or missing version): reported at the item.
        error @ (Error::Forbidden(_)
        | Error::Conflict(_)
        | Error::NotFound { .. }
        | Error::PreconditionFailed { .. }
        | Error::PreconditionRequired) => Ok(vec![crate::error::InvalidParam::new(
            format!("items[{index}]"),
            error.to_string(),
        )]),
        other => Err(other),
    }
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
    let mut check = Check::new();
    check.external_id("externalId", external_id);
    check.finish()?;
    let input = &input;
    write(db, move |tx| async move {
        let result = upsert_in::<R>(&tx, actor, external_id, input, expected_version).await?;
        Ok((tx, result))
    })
    .await
}

/// [`upsert`] inside the caller's transaction (a bulk request upserts many in one).
///
/// Two first upserts of one external id may race on PostgreSQL (SQLite runs writers one at
/// a time). When no row exists, the writer takes a transaction-scoped advisory lock on
/// (type, owner, external id) and looks again: the second writer waits for the first to
/// commit, then finds its row and updates it, so both succeed. This needs no savepoint (an
/// insert that failed on the unique index would abort the transaction), and unlike
/// `INSERT ... ON CONFLICT DO NOTHING` it cannot lose the race on another unique index
/// (a slug) that both writers checked before either inserted.
pub async fn upsert_in<R: Resource>(
    tx: &Tx,
    actor: &Actor,
    external_id: &str,
    input: &R::Input,
    expected_version: Option<i32>,
) -> Result<(R::Dto, bool)> {
    actor.require_write(R::SCOPE)?;
    let conn = tx.conn();
    let mut current =
        find_external::<R, _>(conn, actor.partner_id, external_id, Lock::Update).await?;
    if current.is_none() && is_postgres(conn.get_database_backend()) {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("{}/{}/{external_id}", R::TYPE, actor.partner_id).into()],
        ))
        .await
        .map_err(map_db_err)?;
        current = find_external::<R, _>(conn, actor.partner_id, external_id, Lock::Update).await?;
    }
    match current {
        Some(current) => {
            if !is_deleted::<R>(&current) {
                actor.require_version(expected_version)?;
            }
            Ok((
                update_in::<R>(tx, actor, current, input, expected_version).await?,
                false,
            ))
        }
        None if expected_version.is_some() => Err(not_found::<R>(external_id)),
        None => Ok((
            create_in::<R>(tx, actor, input, Some(external_id)).await?,
            true,
        )),
    }
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
    delete_under::<R>(db, actor, id, expected_version, None).await
}

/// [`delete`] under a sub-collection's `parent` ([`Under`]), checked on the locked row.
pub async fn delete_under<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    parent: Under,
) -> Result<()> {
    actor.require_write(R::SCOPE)?;
    actor.require_version(expected_version)?;
    write(db, move |tx| async move {
        delete_in::<R>(&tx, actor, id, expected_version, parent).await?;
        Ok((tx, ()))
    })
    .await
}

/// [`delete`] inside the caller's transaction.
async fn delete_in<R: Resource>(
    tx: &Tx,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    parent: Under,
) -> Result<()> {
    let conn = tx.conn();
    let current = find_live::<R, _>(conn, actor, id, Lock::Delete)
        .await?
        .map(|row| found_under::<R>(row, parent, id))
        .ok_or_else(|| not_found::<R>(id))??;
    authorize::<R, _>(conn, actor, &current).await?;
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
    delete_dependents::<R>(tx, actor, id, at).await?;
    let result = R::Entity::update_many()
        .col_expr(<R::Entity as Common>::deleted_at(), at.into())
        .col_expr(<R::Entity as Common>::updated_at(), at.into())
        .col_expr(<R::Entity as Common>::version(), (version + 1).into())
        .filter(<R::Entity as Common>::id().eq(id))
        .filter(<R::Entity as Common>::version().eq(version))
        .exec(conn)
        .await
        .map_err(map_db_err)?;
    if result.rows_affected != 1 {
        return Err(map_db_err(sea_orm::DbErr::RecordNotUpdated));
    }
    tx.record(Change {
        resource_type: R::TYPE,
        resource_id: id,
        action: Action::Delete,
        version: version + 1,
        at,
        data: None,
        owner: owner_of::<R>(&current)?,
        audience: R::audience(&current),
        retracted: false,
        actor,
    });
    Ok(())
}

/// The most items one bulk request may hold.
pub const MAX_BULK: usize = 1000;

/// What a bulk upsert did to one item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkItem {
    /// The item's position in the request.
    pub index: usize,
    /// Its `externalId`.
    pub external_id: String,
    /// Its id.
    pub id: Uuid,
    /// Its version now (unchanged when the content was the same).
    pub version: i32,
    /// Whether it was created.
    pub created: bool,
}

/// Upserts every item by its `externalId` in one transaction: all or nothing. Refused
/// items are reported together, each invalid field prefixed with `items[<index>]`.
pub async fn bulk_upsert<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    items: &[(Option<String>, R::Input)],
) -> Result<Vec<BulkItem>> {
    actor.require_write(R::SCOPE)?;
    if items.is_empty() || items.len() > MAX_BULK {
        return Err(Error::invalid(
            "items",
            format!("must hold 1 to {MAX_BULK} items, got {}", items.len()),
        ));
    }
    let mut check = Check::new();
    let mut seen = std::collections::HashSet::new();
    for (index, (external_id, _)) in items.iter().enumerate() {
        match external_id {
            None => check.fail(
                format!("items[{index}].externalId"),
                "is required in a bulk request",
            ),
            Some(id) => {
                check.external_id(&format!("items[{index}].externalId"), id);
                if !seen.insert(id.as_str()) {
                    check.fail(
                        format!("items[{index}].externalId"),
                        "appears twice in this request",
                    );
                }
            }
        }
    }
    check.finish()?;
    write(db, move |tx| async move {
        let mut done = Vec::with_capacity(items.len());
        let mut problems = Vec::new();
        for (index, (external_id, input)) in items.iter().enumerate() {
            let external_id = external_id.as_deref().unwrap_or_default();
            let outcome = upsert_in::<R>(&tx, actor, external_id, input, None).await;
            // A refusal raised by the database itself (a value it cannot store) ends a
            // PostgreSQL transaction: nothing more can run in it. The item is reported and
            // the rest go unchecked; all or nothing holds, as nothing is committed.
            if outcome.is_err() && !usable(tx.conn()).await {
                if let Err(error) = outcome {
                    problems.extend(item_problems(index, error)?);
                }
                if index + 1 < items.len() {
                    problems.push(crate::error::InvalidParam::new(
                        format!("items[{}]", index + 1),
                        format!(
                            "not checked: the database refused items[{index}], so items[{}] to items[{}] were not tried",
                            index + 1,
                            items.len() - 1
                        ),
                    ));
                }
                return Err(Error::Validation(problems));
            }
            match outcome {
                Ok((dto, created)) => {
                    let meta = crate::dto::HasMeta::meta(&dto);
                    done.push(BulkItem {
                        index,
                        external_id: external_id.to_owned(),
                        id: meta.id,
                        version: meta.version,
                        created,
                    });
                }
                Err(error) => problems.extend(item_problems(index, error)?),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        Ok((tx, done))
    })
    .await
}
