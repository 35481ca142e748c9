//! Resolving references in requests: by id or by natural key (CBS code, slug), as partners
//! know them, with a field-level error for anything that does not exist (or is deleted).
//! And the batched look-ups DTOs need to carry both the id and the natural key.
//!
//! A write that refers to a row locks it `FOR SHARE` on PostgreSQL until the write commits
//! (see [`shared`]), so that a concurrent soft delete of that row either waits and then sees
//! the new reference (and refuses), or goes first and the reference finds no live row. On
//! SQLite, `BEGIN IMMEDIATE` already runs writers one at a time.

use std::collections::HashMap;

use entity::Common;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Select, Value};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::check::Check;
use crate::service::db::{is_postgres, map_db_err};

/// `query` with `FOR SHARE` on PostgreSQL: the rows it finds cannot be deleted (or otherwise
/// changed) by another transaction until this one ends.
fn shared<E: EntityTrait, C: ConnectionTrait>(query: Select<E>, conn: &C) -> Select<E> {
    if is_postgres(conn.get_database_backend()) {
        query.lock_shared()
    } else {
        query
    }
}

/// The id of the live row of `E` where `column = value` (locked against deletion, see
/// [`shared`]).
pub async fn live_id<E: EntityTrait + Common, C: ConnectionTrait>(
    conn: &C,
    column: E::Column,
    value: impl Into<Value>,
) -> Result<Option<Uuid>> {
    let query = E::find()
        .select_only()
        .column(E::id())
        .filter(column.eq(value))
        .filter(E::deleted_at().is_null());
    shared(query, conn)
        .into_tuple::<Uuid>()
        .one(conn)
        .await
        .map_err(map_db_err)
}

/// A reference given by id and/or natural key; checks it exists and both agree.
#[expect(
    clippy::too_many_arguments,
    reason = "two field names and two values per reference"
)]
pub async fn by_id_or_key<E: EntityTrait + Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    what: &str,
    id_field: &str,
    id: Option<Uuid>,
    key_field: &str,
    key_column: E::Column,
    key: &Option<String>,
) -> Result<Option<Uuid>> {
    let by_id = match id {
        Some(id) => {
            let found = live_id::<E, _>(conn, E::id(), id).await?;
            if found.is_none() {
                check.fail(id_field, format!("no {what} with this id exists"));
            }
            found
        }
        None => None,
    };
    let by_key = match key.as_deref() {
        Some(key) => {
            let found = live_id::<E, _>(conn, key_column, key.to_owned()).await?;
            if found.is_none() {
                check.fail(
                    key_field,
                    format!("no {what} with {key_field} {key} exists"),
                );
            }
            found
        }
        None => None,
    };
    if let (Some(a), Some(b)) = (by_id, by_key)
        && a != b
    {
        check.fail(key_field, format!("names another {what} than {id_field}"));
    }
    Ok(by_id.or(by_key))
}

/// A region given by id and/or CBS code.
pub async fn region<C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    id_field: &str,
    id: Option<Uuid>,
    code_field: &str,
    code: &Option<String>,
) -> Result<Option<Uuid>> {
    by_id_or_key::<entity::region::Entity, C>(
        conn,
        check,
        "region",
        id_field,
        id,
        code_field,
        entity::region::Column::Code,
        code,
    )
    .await
}

/// A network given by id and/or slug.
pub async fn network<C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    id_field: &str,
    id: Option<Uuid>,
    slug_field: &str,
    slug: &Option<String>,
) -> Result<Option<Uuid>> {
    by_id_or_key::<entity::network::Entity, C>(
        conn,
        check,
        "network",
        id_field,
        id,
        slug_field,
        entity::network::Column::Slug,
        slug,
    )
    .await
}

/// The ids of the themes named by `slugs` (field `themes`).
pub async fn themes<C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    slugs: &[String],
) -> Result<Vec<Uuid>> {
    ids_by_keys::<entity::theme::Entity, C>(
        conn,
        check,
        "theme",
        "themes",
        entity::theme::Column::Slug,
        slugs,
    )
    .await
}

/// A reference given by id only.
pub async fn by_id<E: EntityTrait + Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    what: &str,
    field: &str,
    id: Option<Uuid>,
) -> Result<Option<Uuid>> {
    by_id_or_key::<E, C>(conn, check, what, field, id, field, E::id(), &None).await
}

/// A required reference given by id.
pub async fn required_id<E: EntityTrait + Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    what: &str,
    field: &str,
    id: Option<Uuid>,
) -> Result<Uuid> {
    if id.is_none() {
        check.fail(field, "is required");
    }
    Ok(by_id::<E, C>(conn, check, what, field, id)
        .await?
        .unwrap_or_default())
}

/// Ids of the live rows of `E` whose `key_column` is one of `keys`; unknown keys fail at
/// `field[i]`. Keeps the given order and drops duplicates.
pub async fn ids_by_keys<E: EntityTrait + Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    what: &str,
    field: &str,
    key_column: E::Column,
    keys: &[String],
) -> Result<Vec<Uuid>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let query = E::find()
        .select_only()
        .column(key_column)
        .column(E::id())
        .filter(key_column.is_in(keys.iter().cloned()))
        .filter(E::deleted_at().is_null());
    let found: HashMap<String, Uuid> = shared(query, conn)
        .into_tuple::<(String, Uuid)>()
        .all(conn)
        .await
        .map_err(map_db_err)?
        .into_iter()
        .collect();
    let mut ids = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        match found.get(key) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => check.fail(format!("{field}[{i}]"), format!("no {what} {key} exists")),
        }
    }
    Ok(ids)
}

/// Ids of live rows of `E` among `ids`; unknown ones fail at `field[i]`.
pub async fn existing_ids<E: EntityTrait + Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    what: &str,
    field: &str,
    ids: &[Uuid],
) -> Result<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = E::find()
        .select_only()
        .column(E::id())
        .filter(E::id().is_in(ids.iter().copied()))
        .filter(E::deleted_at().is_null());
    let found: Vec<Uuid> = shared(query, conn)
        .into_tuple::<Uuid>()
        .all(conn)
        .await
        .map_err(map_db_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if !found.contains(id) {
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
/// `columns` after the parent column (the linked id, and e.g. a region's role).
pub async fn replace_links<C: ConnectionTrait>(
    conn: &C,
    link: LinkTable,
    parent: Uuid,
    columns: &[&'static str],
    rows: Vec<Vec<Value>>,
) -> Result<()> {
    let delete = Query::delete()
        .from_table(link.table)
        .and_where(Expr::col(link.parent).eq(parent))
        .to_owned();
    conn.execute(&delete).await.map_err(map_db_err)?;
    if rows.is_empty() {
        return Ok(());
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
    Ok(())
}

/// Replaces the themes of `parent` in `link` (a `<parent>_themes` table).
pub async fn replace_themes<C: ConnectionTrait>(
    conn: &C,
    link: LinkTable,
    parent: Uuid,
    themes: Vec<Uuid>,
) -> Result<()> {
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

/// The parents in `link` that link to a row of `target` whose `key` is `value` (e.g. the
/// networks with theme slug `voeding`): a subquery for `Column::Id.in_subquery(..)`.
pub fn parents_linked_by_key(
    link: LinkTable,
    target: &'static str,
    key: &'static str,
    value: impl Into<Value>,
) -> SelectStatement {
    Query::select()
        .column((link.table, link.parent))
        .from(link.table)
        .inner_join(
            target,
            Expr::col((target, "id")).equals((link.table, link.child)),
        )
        .and_where(Expr::col((target, key)).eq(value.into()))
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

/// `regions` with all their ancestors, in one recursive query.
pub async fn ancestors_or_self<C: ConnectionTrait>(
    conn: &C,
    regions: &[Uuid],
) -> Result<Vec<Uuid>> {
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
        "WITH RECURSIVE up(id, parent_id) AS ( \
           SELECT id, parent_id FROM regions WHERE id IN ({}) \
           UNION SELECT r.id, r.parent_id FROM regions r JOIN up ON r.id = up.parent_id \
         ) SELECT id FROM up",
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
        .map(|row| row.try_get::<Uuid>("", "id").map_err(map_db_err))
        .collect()
}
