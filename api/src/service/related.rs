//! Reads for many parents at once, for a face that shows related rows (GraphQL's
//! `network { goals { ... } }`): the rows a set of ids names ([`get_many`]), and a page of
//! related rows per parent ([`pages_per_parent`]) and their number ([`counts_per_parent`])
//! — each one statement for every parent together, so that what a query costs depends on its shape, not on how many rows it
//! meets.
//!
//! A per-parent page is the list's page ([`resource::planned`]: the same visibility,
//! filters, search, order and cursor). On PostgreSQL each parent's page is a lateral
//! subquery that stops at the page size (an index on the parent's column walked in page
//! order); SQLite, which has no lateral subqueries, numbers the matching ids per parent by
//! a window function, cuts them at the page size, and only then joins them to the rows.

use std::collections::{HashMap, HashSet};

use entity::Common;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityName, EntityTrait, FromQueryResult,
    IdenStatic, Iterable, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::error::Result;
use crate::service::Actor;
use crate::service::db::{is_postgres, map_db_err, read};
use crate::service::resource::{self, Page, PageRequest, Planned, Resource, cut, id_of, planned};

/// How rows of a resource belong to a parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// A column of the row holds the parent's id (a goal's `network_id`).
    Column(&'static str),
    /// A link table pairs the parent (`parent`) with the row: its `link` column equals the
    /// row's `row` column (`network_regions`: a region's networks are the rows whose `id`
    /// is a `network_id` beside the region's `region_id`; `region_closure`: the rows in a
    /// region's subtree are those whose `region_id` is a `descendant_id` of the region).
    Link {
        /// The link table.
        table: &'static str,
        /// Its column holding the parent's id.
        parent: &'static str,
        /// Its column matched with the row.
        link: &'static str,
        /// The row's column it is matched with.
        row: &'static str,
    },
}

/// The rows of `R` with these ids that `actor` may see (live, not another partner's
/// draft), by id; an id with no such row is absent.
pub async fn get_many<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, R::Dto>> {
    actor.require_read()?;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = ids.to_vec();
    read(db, move |txn| async move {
        let rows = R::Entity::find()
            .filter(<R::Entity as Common>::id().is_in(ids))
            .filter(<R::Entity as Common>::deleted_at().is_null())
            .filter(R::visible(actor))
            .all(&txn)
            .await
            .map_err(map_db_err)?;
        let keys = rows.iter().map(id_of::<R>).collect::<Result<Vec<_>>>()?;
        let dtos = R::to_dtos(&txn, rows).await?;
        Ok((txn, keys.into_iter().zip(dtos).collect()))
    })
    .await
}

/// For each parent in `parents`, the page of `R` that belongs to it through `via`, as the
/// list of `R` under `filter` and `page` would give it (the cursor, if any, applies to
/// every parent): one statement for all parents, and the DTOs built in one batch. Every
/// parent has an entry, empty when nothing belongs to it.
pub async fn pages_per_parent<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    via: Via,
    parents: &[Uuid],
    filter: &R::Filter,
    page: PageRequest,
) -> Result<HashMap<Uuid, Page<R::Dto>>>
where
    R::Dto: Clone,
{
    actor.require_read()?;
    resource::check_limit(page.limit)?;
    let parents = parents.to_vec();
    read(db, move |txn| async move {
        let mut pages: HashMap<Uuid, Page<R::Dto>> = parents
            .iter()
            .map(|p| {
                (
                    *p,
                    Page {
                        items: Vec::new(),
                        next: None,
                    },
                )
            })
            .collect();
        if parents.is_empty() {
            return Ok((txn, pages));
        }
        let Planned {
            query,
            column,
            order,
        } = planned::<R>(&txn, actor, filter, &page).await?;
        let pages_of = PerParent::<R> {
            query,
            via,
            parents: &parents,
            column,
            order,
            limit: page.limit,
        };
        let statement = if is_postgres(txn.get_database_backend()) {
            pages_of.laterally()
        } else {
            pages_of.windowed()
        };
        let found = txn.query_all(&statement).await.map_err(map_db_err)?;
        // Rows grouped by parent, in page order.
        let mut grouped: Vec<(Uuid, Vec<R::Model>)> = Vec::new();
        for result in &found {
            let key: Uuid = result.try_get("", "parent_key").map_err(map_db_err)?;
            let row = R::Model::from_query_result(result, "").map_err(map_db_err)?;
            match grouped.last_mut() {
                Some((last, rows)) if *last == key => rows.push(row),
                _ => grouped.push((key, vec![row])),
            }
        }
        // A row under several parents (a network of several themes) is built once and
        // given to each.
        let mut cuts = Vec::with_capacity(grouped.len());
        let mut unique = Vec::new();
        let mut seen = HashSet::new();
        for (key, mut rows) in grouped {
            let next = cut::<R>(&mut rows, page.limit, column)?;
            let ids = rows.iter().map(id_of::<R>).collect::<Result<Vec<_>>>()?;
            for (row, id) in rows.into_iter().zip(&ids) {
                if seen.insert(*id) {
                    unique.push(row);
                }
            }
            cuts.push((key, ids, next));
        }
        let built: HashMap<Uuid, R::Dto> = unique
            .iter()
            .map(id_of::<R>)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .zip(R::to_dtos(&txn, unique).await?)
            .collect();
        for (key, ids, next) in cuts {
            let page = pages.entry(key).or_insert_with(|| Page {
                items: Vec::new(),
                next: None,
            });
            page.items
                .extend(ids.iter().filter_map(|id| built.get(id).cloned()));
            page.next = next;
        }
        Ok((txn, pages))
    })
    .await
}

/// The order keys of a page of `R` in `alias` (its sort column, then its id), as SQL.
fn order_keys<R: Resource>(
    alias: &str,
    column: Option<<R::Entity as EntityTrait>::Column>,
) -> Vec<String> {
    let id = <R::Entity as Common>::id();
    column
        .into_iter()
        .chain([id])
        .map(|column| format!(r#""{alias}"."{}""#, column.as_str()))
        .collect()
}

/// The statement of a page of `R` per parent: each parent's first `limit + 1` rows of
/// `query` (one more tells whether there is a next page) in page order, with `parent_key`,
/// grouped by parent.
struct PerParent<'a, R: Resource> {
    /// The list's statement ([`Planned`]).
    query: sea_orm::Select<R::Entity>,
    /// How a row belongs to a parent.
    via: Via,
    /// The parents.
    parents: &'a [Uuid],
    /// The sort column besides the id.
    column: Option<<R::Entity as EntityTrait>::Column>,
    /// Ascending or descending.
    order: sea_orm::Order,
    /// The page size.
    limit: u64,
}

impl<R: Resource> PerParent<'_, R> {
    /// For PostgreSQL: per parent, a lateral subquery that walks an index on the parent's
    /// column in page order and stops at the page, so a parent costs its page, not its rows.
    fn laterally(self) -> SelectStatement {
        let Self {
            query,
            via,
            parents,
            column,
            order,
            limit,
        } = self;
        let entity = R::Entity::default();
        let table = entity.table_name();
        let (parent_table, parent_column) = parent_of(via, table);
        // `(VALUES (parent, ordinal), ...) AS "p"`: PostgreSQL names its columns column1, column2.
        let p = Alias::new("p");
        let x = Alias::new("x");
        let mut page = query
            .filter(
                Expr::col((Alias::new(parent_table), Alias::new(parent_column)))
                    .equals((p.clone(), Alias::new("column1"))),
            )
            .into_query();
        linked(&mut page, via, table);
        for key in order_keys::<R>(table, column) {
            page.order_by_expr(Expr::cust(key), order.clone());
        }
        page.limit(limit + 1);
        let mut statement = Query::select();
        for column in <R::Entity as EntityTrait>::Column::iter() {
            statement.column((x.clone(), column));
        }
        statement
            .expr_as(Expr::col((p.clone(), Alias::new("column1"))), "parent_key")
            .from_values(
                parents
                    .iter()
                    .enumerate()
                    .map(|(i, parent)| (*parent, i64::try_from(i).unwrap_or(i64::MAX))),
                p.clone(),
            )
            .join_lateral(JoinType::InnerJoin, page, x, Expr::cust("TRUE"))
            .order_by((p, Alias::new("column2")), sea_orm::Order::Asc);
        for key in order_keys::<R>("x", column) {
            statement.order_by_expr(Expr::cust(key), order.clone());
        }
        statement
    }

    /// For SQLite, which has no lateral subqueries: the matching ids numbered per parent in
    /// page order by a window function, cut at `limit + 1` and only then joined to their rows.
    fn windowed(self) -> SelectStatement {
        let Self {
            query,
            via,
            parents,
            column,
            order,
            limit,
        } = self;
        let entity = R::Entity::default();
        let table = entity.table_name();
        let id = <R::Entity as Common>::id();
        let (parent_table, parent_column) = parent_of(via, table);
        let parent = Expr::col((Alias::new(parent_table), Alias::new(parent_column)));
        let direction = match order {
            sea_orm::Order::Desc => " DESC",
            _ => " ASC",
        };
        let keys: Vec<String> = order_keys::<R>(table, column)
            .into_iter()
            .map(|key| key + direction)
            .collect();
        let number = format!(
            r#"ROW_NUMBER() OVER (PARTITION BY "{parent_table}"."{parent_column}" ORDER BY {})"#,
            keys.join(", ")
        );
        let mut numbered = query
            .select_only()
            .expr_as(parent.clone(), "parent_key")
            .expr_as(Expr::col((entity, id)), "row_id")
            .expr_as(Expr::cust(number), "rn")
            .filter(parent.is_in(parents.iter().copied()))
            .into_query();
        linked(&mut numbered, via, table);
        let x = Alias::new("x");
        let mut statement = Query::select();
        for column in <R::Entity as EntityTrait>::Column::iter() {
            statement.column((entity, column));
        }
        statement
            .column((x.clone(), Alias::new("parent_key")))
            .from_subquery(numbered, x.clone())
            .join(
                JoinType::InnerJoin,
                entity,
                Expr::col((entity, id)).equals((x.clone(), Alias::new("row_id"))),
            )
            .and_where(Expr::col((x.clone(), Alias::new("rn"))).lte(limit + 1))
            .order_by((x.clone(), Alias::new("parent_key")), sea_orm::Order::Asc)
            .order_by((x, Alias::new("rn")), sea_orm::Order::Asc);
        statement
    }
}

/// The table and column holding the parent's id, for rows of `table` belonging to it
/// through `via`.
fn parent_of(via: Via, table: &'static str) -> (&'static str, &'static str) {
    match via {
        Via::Column(column) => (table, column),
        Via::Link { table, parent, .. } => (table, parent),
    }
}

/// Joins a statement over rows of `table` to the link table `via` names, if any.
fn linked(statement: &mut SelectStatement, via: Via, table: &'static str) {
    if let Via::Link {
        table: link_table,
        link,
        row,
        ..
    } = via
    {
        statement.join(
            JoinType::InnerJoin,
            Alias::new(link_table),
            Expr::col((Alias::new(link_table), Alias::new(link)))
                .equals((Alias::new(table), Alias::new(row))),
        );
    }
}

/// For each parent in `parents`, how many rows of `R` belong to it through `via` under
/// `filter` and the page's search and `updatedSince`, on every page ([`resource::count`]
/// per parent): one grouped statement for all parents. Every parent has an entry.
pub async fn counts_per_parent<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    via: Via,
    parents: &[Uuid],
    filter: &R::Filter,
    page: PageRequest,
) -> Result<HashMap<Uuid, u64>> {
    actor.require_read()?;
    let page = PageRequest {
        after: None,
        limit: 1,
        ..page
    };
    let parents = parents.to_vec();
    read(db, move |txn| async move {
        let mut counts: HashMap<Uuid, u64> = parents.iter().map(|p| (*p, 0)).collect();
        if parents.is_empty() {
            return Ok((txn, counts));
        }
        let Planned { query, .. } = planned::<R>(&txn, actor, filter, &page).await?;
        let table = R::Entity::default().table_name();
        let (parent_table, parent_column) = parent_of(via, table);
        let parent = Expr::col((Alias::new(parent_table), Alias::new(parent_column)));
        let mut statement = query
            .select_only()
            .expr_as(parent.clone(), "parent_key")
            .expr_as(Expr::cust("COUNT(*)"), "n")
            .filter(parent.clone().is_in(parents.iter().copied()))
            .into_query();
        linked(&mut statement, via, table);
        statement.add_group_by([parent]);
        for result in txn.query_all(&statement).await.map_err(map_db_err)? {
            let key: Uuid = result.try_get("", "parent_key").map_err(map_db_err)?;
            let n: i64 = result.try_get("", "n").map_err(map_db_err)?;
            counts.insert(key, u64::try_from(n).unwrap_or_default());
        }
        Ok((txn, counts))
    })
    .await
}
