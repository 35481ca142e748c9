//! Resolving references in requests: by id or by natural key (CBS code, slug), as partners
//! know them, with a field-level error for anything that does not exist (or is deleted, or
//! is not visible to the caller). And the batched look-ups DTOs need to carry both the id
//! and the natural key.
//!
//! Every look-up takes the [`Actor`] and applies the resource's visibility
//! ([`Resource::visible`]), so that no face can reach another partner's draft by id or slug:
//! such a reference reads as "does not exist". What remains observable is uniqueness: a
//! slug taken by another partner's draft is refused as taken, since two live rows cannot
//! share it; the message names the slug only, never the row.
//!
//! A write that refers to a row locks it `FOR KEY SHARE` on PostgreSQL until the write
//! commits (see [`shared`]), so that a concurrent soft delete of that row (which takes
//! `FOR UPDATE`) either waits and then sees the new reference (and refuses), or goes first
//! and the reference finds no live row; writers that merely update the referenced row
//! (`FOR NO KEY UPDATE`) do not wait for it. On SQLite, `BEGIN IMMEDIATE` already runs
//! writers one at a time. References in a list are resolved with one query per table.

use std::collections::HashMap;

use entity::Common;
use sea_orm::sea_query::{Expr, ExprTrait, LockType, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Select, Value,
};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::check::Check;
use crate::service::db::{is_postgres, map_db_err};
use crate::service::{Actor, Networks, Regions, Resource, Themes};

/// `query` with `FOR KEY SHARE` on PostgreSQL: the rows it finds cannot be deleted (or their
/// natural key changed) by another transaction until this one ends.
fn shared<E: EntityTrait, C: ConnectionTrait>(query: Select<E>, conn: &C) -> Select<E> {
    if is_postgres(conn.get_database_backend()) {
        query.lock(LockType::KeyShare)
    } else {
        query
    }
}

/// The live rows of `R` that `actor` may see.
fn visible<R: Resource>(actor: &Actor) -> Select<R::Entity> {
    <R::Entity as EntityTrait>::find()
        .filter(<R::Entity as Common>::deleted_at().is_null())
        .filter(R::visible(actor))
}

/// Whether a key may be sent to the database at all (PostgreSQL refuses NUL in text).
fn printable(check: &mut Check, field: &str, key: &str) -> bool {
    if key.chars().any(char::is_control) || key.chars().count() > crate::service::check::MAX_LINE {
        check.fail(
            field,
            "is not a valid key: too long, or with control characters",
        );
        false
    } else {
        true
    }
}

/// The ids of the live rows of `R` visible to `actor` where `column` is one of `values`
/// (locked against deletion, see [`shared`]), by value.
async fn ids_where<R: Resource, C: ConnectionTrait, K>(
    conn: &C,
    actor: &Actor,
    column: <R::Entity as EntityTrait>::Column,
    values: Vec<K>,
) -> Result<HashMap<K, Uuid>>
where
    K: Into<Value> + sea_orm::TryGetable + std::hash::Hash + Eq + Clone,
    (K, Uuid): sea_orm::TryGetableMany,
{
    if values.is_empty() {
        return Ok(HashMap::new());
    }
    let query = visible::<R>(actor)
        .select_only()
        .column(column)
        .column(<R::Entity as Common>::id())
        .filter(column.is_in(values));
    Ok(shared(query, conn)
        .into_tuple::<(K, Uuid)>()
        .all(conn)
        .await
        .map_err(map_db_err)?
        .into_iter()
        .collect())
}

/// Whether a list is past [`MAX_LIST`](crate::service::check::MAX_LIST) (then failed at
/// `field` once, and not looked up at all).
fn too_long(check: &mut Check, field: &str, n: usize) -> bool {
    let max = crate::service::check::MAX_LIST;
    if n <= max {
        return false;
    }
    if check.is_ok_at(field) {
        check.fail(field, format!("must have at most {max} items, got {n}"));
    }
    true
}

/// One reference given by id and/or natural key, as a request names it.
#[derive(Debug, Clone)]
pub struct Ref<'a> {
    /// The id field (`regionId`, `regions[2].regionId`).
    pub id_field: String,
    /// The id, if given.
    pub id: Option<Uuid>,
    /// The key field (`regionCode`).
    pub key_field: String,
    /// The natural key, if given.
    pub key: Option<&'a str>,
}

/// Resolves references to rows of `R` given by id and/or natural key (`key_column`) in two
/// queries at most, whatever their number; each unknown one, or one whose id and key name
/// different rows, fails at its field. Answers one id (or `None`) per reference, in order.
pub async fn resolve<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    what: &str,
    key_column: <R::Entity as EntityTrait>::Column,
    refs: &[Ref<'_>],
) -> Result<Vec<Option<Uuid>>> {
    let ids: Vec<Uuid> = refs.iter().filter_map(|r| r.id).collect();
    let mut keys: Vec<String> = Vec::new();
    for r in refs {
        if let Some(key) = r.key
            && printable(check, &r.key_field, key)
        {
            keys.push(key.to_owned());
        }
    }
    let by_id = ids_where::<R, C, Uuid>(conn, actor, <R::Entity as Common>::id(), ids).await?;
    let by_key = ids_where::<R, C, String>(conn, actor, key_column, keys).await?;
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        let from_id = r.id.map(|id| {
            let found = by_id.get(&id).copied();
            if found.is_none() {
                check.fail(&r.id_field, format!("no {what} with this id exists"));
            }
            found
        });
        let from_key = r.key.map(|key| {
            let found = by_key.get(key).copied();
            if found.is_none() && !key.chars().any(char::is_control) {
                check.fail(
                    &r.key_field,
                    format!("no {what} with {} {key} exists", r.key_field),
                );
            }
            found
        });
        if let (Some(Some(a)), Some(Some(b))) = (from_id, from_key)
            && a != b
        {
            check.fail(
                &r.key_field,
                format!("names another {what} than {}", r.id_field),
            );
        }
        out.push(from_id.flatten().or(from_key.flatten()));
    }
    Ok(out)
}

/// A reference given by id and/or natural key; checks it exists and both agree.
#[expect(
    clippy::too_many_arguments,
    reason = "two field names and two values per reference"
)]
pub async fn by_id_or_key<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    what: &str,
    id_field: &str,
    id: Option<Uuid>,
    key_field: &str,
    key: &Option<String>,
) -> Result<Option<Uuid>> {
    let key_column = R::natural_key().unwrap_or_else(<R::Entity as Common>::id);
    let one = Ref {
        id_field: id_field.to_owned(),
        id,
        key_field: key_field.to_owned(),
        key: key.as_deref(),
    };
    Ok(
        resolve::<R, C>(conn, actor, check, what, key_column, &[one])
            .await?
            .pop()
            .flatten(),
    )
}

/// A region given by id and/or CBS code.
pub async fn region<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    id_field: &str,
    id: Option<Uuid>,
    code_field: &str,
    code: &Option<String>,
) -> Result<Option<Uuid>> {
    by_id_or_key::<Regions, C>(conn, actor, check, "region", id_field, id, code_field, code).await
}

/// A network given by id and/or slug.
pub async fn network<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    id_field: &str,
    id: Option<Uuid>,
    slug_field: &str,
    slug: &Option<String>,
) -> Result<Option<Uuid>> {
    by_id_or_key::<Networks, C>(
        conn, actor, check, "network", id_field, id, slug_field, slug,
    )
    .await
}

/// The ids of the themes named by `slugs` (field `themes`).
pub async fn themes<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    slugs: &[String],
) -> Result<Vec<Uuid>> {
    ids_by_keys::<Themes, C>(conn, actor, check, "theme", "themes", slugs).await
}

/// A reference given by id only.
pub async fn by_id<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    what: &str,
    field: &str,
    id: Option<Uuid>,
) -> Result<Option<Uuid>> {
    by_id_or_key::<R, C>(conn, actor, check, what, field, id, field, &None).await
}

/// A required reference given by id.
pub async fn required_id<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    what: &str,
    field: &str,
    id: Option<Uuid>,
) -> Result<Uuid> {
    if id.is_none() {
        check.fail(field, "is required");
    }
    Ok(by_id::<R, C>(conn, actor, check, what, field, id)
        .await?
        .unwrap_or_default())
}

/// Ids of the live rows of `R` whose natural key is one of `keys`; unknown keys fail at
/// `field[i]`. Keeps the given order and drops duplicates. One query.
pub async fn ids_by_keys<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    what: &str,
    field: &str,
    keys: &[String],
) -> Result<Vec<Uuid>> {
    let Some(key_column) = R::natural_key() else {
        return Err(Error::internal(anyhow::anyhow!(
            "{} have no natural key",
            R::TYPE
        )));
    };
    if too_long(check, field, keys.len()) {
        return Ok(Vec::new());
    }
    let valid: Vec<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, k)| printable(check, &format!("{field}[{i}]"), k))
        .map(|(_, k)| k.clone())
        .collect();
    let found = ids_where::<R, C, String>(conn, actor, key_column, valid).await?;
    let mut ids = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        match found.get(key) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None if key.chars().any(char::is_control) => {}
            None => check.fail(format!("{field}[{i}]"), format!("no {what} {key} exists")),
        }
    }
    Ok(ids)
}

/// Ids of live rows of `R` among `ids`; unknown ones fail at `field[i]`. One query.
pub async fn existing_ids<R: Resource, C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    check: &mut Check,
    what: &str,
    field: &str,
    ids: &[Uuid],
) -> Result<Vec<Uuid>> {
    if too_long(check, field, ids.len()) {
        return Ok(Vec::new());
    }
    let found =
        ids_where::<R, C, Uuid>(conn, actor, <R::Entity as Common>::id(), ids.to_vec()).await?;
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if !found.contains_key(id) {
            check.fail(
                format!("{field}[{i}]"),
                format!("no {what} with this id exists"),
            );
        } else if !out.contains(id) {
            out.push(*id);
        }
    }
    Ok(out)
}

/// The natural key (`key_column`, e.g. a slug or CBS code) of each row of `E` in `ids`.
pub async fn keys_of<E: EntityTrait + Common, C: ConnectionTrait>(
    conn: &C,
    key_column: E::Column,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Option<String>>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(E::find()
        .select_only()
        .column(E::id())
        .column(key_column)
        .filter(E::id().is_in(ids))
        .into_tuple::<(Uuid, Option<String>)>()
        .all(conn)
        .await
        .map_err(map_db_err)?
        .into_iter()
        .collect())
}

/// Natural keys by id (CBS codes or slugs), as [`region_codes`] and [`network_slugs`] load
/// them for DTOs.
#[derive(Debug, Default)]
pub struct Keys(HashMap<Uuid, Option<String>>);

impl Keys {
    /// The key of `id`, if it has one.
    pub fn key(&self, id: Option<Uuid>) -> Option<String> {
        id.and_then(|id| self.0.get(&id).cloned().flatten())
    }
}

/// The CBS codes of the regions `ids` point at, in one query.
pub async fn region_codes<C: ConnectionTrait>(conn: &C, ids: Vec<Option<Uuid>>) -> Result<Keys> {
    keys_of::<entity::region::Entity, C>(
        conn,
        entity::region::Column::Code,
        ids.into_iter().flatten(),
    )
    .await
    .map(Keys)
}

/// The slugs of the networks `ids` point at, in one query.
pub async fn network_slugs<C: ConnectionTrait>(conn: &C, ids: Vec<Option<Uuid>>) -> Result<Keys> {
    keys_of::<entity::network::Entity, C>(
        conn,
        entity::network::Column::Slug,
        ids.into_iter().flatten(),
    )
    .await
    .map(Keys)
}

/// A link table between a parent and another table (`network_themes`: `network_id` →
/// `theme_id`).
#[derive(Debug, Clone, Copy)]
pub struct LinkTable {
    /// The table.
    pub table: &'static str,
    /// The parent's column.
    pub parent: &'static str,
    /// The linked row's column.
    pub child: &'static str,
}

/// Replaces the rows of `link` that belong to `parent`. Each row gives the values of
/// `columns` after the parent column (the linked id, and e.g. a region's role). Writes
/// nothing when the parent already has exactly these rows (compared on every column but a
/// generated `id`), and answers whether it wrote.
pub async fn replace_links<C: ConnectionTrait>(
    conn: &C,
    link: LinkTable,
    parent: Uuid,
    columns: &[&'static str],
    rows: Vec<Vec<Value>>,
) -> Result<bool> {
    if same_links(conn, link, parent, columns, &rows).await? {
        return Ok(false);
    }
    let delete = Query::delete()
        .from_table(link.table)
        .and_where(Expr::col(link.parent).eq(parent))
        .to_owned();
    conn.execute(&delete).await.map_err(map_db_err)?;
    if rows.is_empty() {
        return Ok(true);
    }
    let mut insert = Query::insert();
    insert
        .into_table(link.table)
        .columns(std::iter::once(link.parent).chain(columns.iter().copied()));
    for row in rows {
        let values = std::iter::once(Expr::val(parent)).chain(row.into_iter().map(Expr::val));
        insert.values(values).map_err(Error::internal)?;
    }
    conn.execute(&insert).await.map_err(map_db_err)?;
    Ok(true)
}

/// Whether `parent`'s rows in `link` are exactly `rows` (which hold no duplicates): as
/// many rows as given, each matching one of them.
async fn same_links<C: ConnectionTrait>(
    conn: &C,
    link: LinkTable,
    parent: Uuid,
    columns: &[&'static str],
    rows: &[Vec<Value>],
) -> Result<bool> {
    let count = |condition: Condition| {
        Query::select()
            .expr_as(Expr::col(link.parent).count(), "n")
            .from(link.table)
            .and_where(Expr::col(link.parent).eq(parent))
            .cond_where(condition)
            .to_owned()
    };
    let n = |statement: SelectStatement| async move {
        let row = conn.query_one(&statement).await.map_err(map_db_err)?;
        row.map(|r| r.try_get::<i64>("", "n"))
            .transpose()
            .map_err(map_db_err)
            .map(Option::unwrap_or_default)
    };
    let total = n(count(Condition::all())).await?;
    if total != rows.len() as i64 {
        return Ok(false);
    }
    if rows.is_empty() {
        return Ok(true);
    }
    let mut any = Condition::any();
    for row in rows {
        let mut all = Condition::all();
        for (column, value) in columns.iter().zip(row) {
            if *column != "id" {
                all = all.add(Expr::col(*column).eq(value.clone()));
            }
        }
        any = any.add(all);
    }
    Ok(n(count(any)).await? == total)
}

/// Replaces the themes of `parent` in `link` (a `<parent>_themes` table); answers whether
/// anything changed.
pub async fn replace_themes<C: ConnectionTrait>(
    conn: &C,
    link: LinkTable,
    parent: Uuid,
    themes: Vec<Uuid>,
) -> Result<bool> {
    let rows = themes.into_iter().map(|t| vec![t.into()]).collect();
    replace_links(conn, link, parent, &["theme_id"], rows).await
}

/// For each parent, the values of `column` in its rows of `link` (e.g. a network's
/// education levels), sorted; one query for all parents.
pub async fn linked_values<C: ConnectionTrait>(
    conn: &C,
    link: LinkTable,
    column: &'static str,
    parents: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>> {
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    if parents.is_empty() {
        return Ok(out);
    }
    let select = Query::select()
        .column(link.parent)
        .column(column)
        .from(link.table)
        .and_where(Expr::col(link.parent).is_in(parents.iter().copied()))
        .order_by(column, sea_orm::sea_query::Order::Asc)
        .to_owned();
    for row in conn.query_all(&select).await.map_err(map_db_err)? {
        let parent: Uuid = row.try_get("", link.parent).map_err(map_db_err)?;
        let value: String = row.try_get("", column).map_err(map_db_err)?;
        out.entry(parent).or_default().push(value);
    }
    Ok(out)
}

/// For each parent, the `key` column of the rows of `target` it links to (e.g. theme
/// slugs), sorted; one query for all parents.
pub async fn linked_keys<C: ConnectionTrait>(
    conn: &C,
    link: LinkTable,
    target: &'static str,
    key: &'static str,
    parents: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>> {
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    if parents.is_empty() {
        return Ok(out);
    }
    let select = Query::select()
        .column((link.table, link.parent))
        .column((target, key))
        .from(link.table)
        .inner_join(
            target,
            Expr::col((target, "id")).equals((link.table, link.child)),
        )
        .and_where(Expr::col((link.table, link.parent)).is_in(parents.iter().copied()))
        .order_by((target, key), sea_orm::sea_query::Order::Asc)
        .to_owned();
    for row in conn.query_all(&select).await.map_err(map_db_err)? {
        let parent: Uuid = row.try_get("", link.parent).map_err(map_db_err)?;
        let value: String = row.try_get("", key).map_err(map_db_err)?;
        out.entry(parent).or_default().push(value);
    }
    Ok(out)
}

/// The parents in `link` that link to the live row of `target` whose `key` is `value`
/// (e.g. the networks with theme slug `voeding`): a subquery for
/// `Column::Id.in_subquery(..)`. `key` is unique among live rows; the row is found first (a
/// scalar subquery), so that the planner looks the links up by (child, parent) whatever
/// `value` is, rather than probing `target` once per candidate parent.
pub fn parents_linked_by_key(
    link: LinkTable,
    target: &'static str,
    key: &'static str,
    value: impl Into<Value>,
) -> SelectStatement {
    let row = Query::select()
        .column("id")
        .from(target)
        .and_where(Expr::col(key).eq(value.into()))
        .and_where(Expr::col("deleted_at").is_null())
        .to_owned();
    Query::select()
        .column((link.table, link.parent))
        .from(link.table)
        .and_where(
            Expr::col((link.table, link.child)).eq(Expr::SubQuery(None, Box::new(row.into()))),
        )
        .to_owned()
}

/// The parents in `link` with a row whose `column` is `value` (e.g. the assignments open to
/// level `mbo`): a subquery for `Column::Id.in_subquery(..)`.
pub fn parents_with(
    link: LinkTable,
    column: &'static str,
    value: impl Into<Value>,
) -> SelectStatement {
    Query::select()
        .column(link.parent)
        .from(link.table)
        .and_where(Expr::col(column).eq(value.into()))
        .to_owned()
}

/// Each of `regions` with each of its ancestors and itself: `(region, ancestor)` pairs, in
/// one query (an index range of `region_closure` per region).
pub async fn ancestry<C: ConnectionTrait>(conn: &C, regions: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    if regions.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let placeholders: Vec<String> = (1..=regions.len())
        .map(|i| match backend {
            sea_orm::DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        })
        .collect();
    let sql = format!(
        "SELECT descendant_id AS start, ancestor_id AS id FROM region_closure \
         WHERE descendant_id IN ({})",
        placeholders.join(", ")
    );
    let values: Vec<Value> = regions.iter().map(|r| (*r).into()).collect();
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await
        .map_err(map_db_err)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<Uuid>("", "start").map_err(map_db_err)?,
                row.try_get::<Uuid>("", "id").map_err(map_db_err)?,
            ))
        })
        .collect()
}

/// The id of the region a list filter names by CBS code or id; a 400 naming `region` when
/// there is none (a typo must not silently match nothing).
pub async fn region_root<C: ConnectionTrait>(conn: &C, value: &str) -> Result<Uuid> {
    // A plain read (no lock): lists run in read-only transactions.
    let column = match Uuid::try_parse(value) {
        Ok(id) => entity::region::Column::Id.eq(id),
        Err(_) if printable(&mut Check::new(), "region", value) => {
            entity::region::Column::Code.eq(value)
        }
        Err(_) => return Err(Error::invalid("region", "is not a CBS code or an id")),
    };
    entity::region::Entity::find()
        .select_only()
        .column(entity::region::Column::Id)
        .filter(column)
        .filter(entity::region::Column::DeletedAt.is_null())
        .into_tuple::<Uuid>()
        .one(conn)
        .await
        .map_err(map_db_err)?
        .ok_or_else(|| Error::invalid("region", format!("no region with CBS code or id {value}")))
}

/// SQL for "`lhs` lies in the subtree of region `root`" (the region and everything below
/// it): one index range of `region_closure`.
pub fn in_subtree(backend: sea_orm::DbBackend, lhs: &str, root: Uuid) -> sea_orm::sea_query::Expr {
    in_subtree_then(backend, lhs, root, "")
}

/// [`in_subtree`], with `close` written after it (to close a subquery `lhs` opened).
pub fn in_subtree_then(
    backend: sea_orm::DbBackend,
    lhs: &str,
    root: Uuid,
    close: &str,
) -> sea_orm::sea_query::Expr {
    let placeholder = if is_postgres(backend) { "$1" } else { "?" };
    Expr::cust_with_values(
        format!(
            "{lhs} IN (SELECT descendant_id FROM region_closure WHERE ancestor_id = {placeholder}){close}"
        ),
        [root],
    )
}
