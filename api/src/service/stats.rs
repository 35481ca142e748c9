//! Aggregates for provincial dashboards: how many networks, practice examples,
//! initiatives (and residents reached), assignments and lessons there are per region at a
//! chosen level of the tree, per theme, or per year, under the same filters as lists.
//!
//! SQL does the counting: the rows a list would return are a derived table (the very
//! filters, visibility and search of [`crate::service::resource::list`]), counted per
//! group: per year, per theme link, or per row's own region, whose counts are then summed
//! per ancestor at the chosen level through the region closure (networks, linked to
//! several regions, are counted once per ancestor instead). No row is loaded into memory. A row counts in the group of the region at the chosen level that
//! its own region lies in; a row whose region lies above that level (a practice example of
//! the whole province, grouped by municipality) is in no group.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryTrait, Statement,
};
use serde::Serialize;

use crate::dto::RegionKind;
use crate::error::{Error, Result};
use crate::service::cache::{ReadCache, Versioned, cached, visibility_class};
use crate::service::db::{is_postgres, map_db_err, read};
use crate::service::refs::LinkTable;
use crate::service::resource::{PageRequest, search_condition};
use crate::service::{Actor, Resource};
use entity::Common;

/// What to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The region at a level of the tree (`level`).
    Region(RegionKind),
    /// The theme.
    Theme,
    /// The year.
    Year,
}

/// Where a resource lies, for grouping by region.
#[derive(Debug, Clone, Copy)]
pub enum RegionOf {
    /// A column of its own table.
    Column(&'static str),
    /// Through a link table: (table, column naming the resource, column naming the region).
    Link(&'static str, &'static str, &'static str),
}

/// A resource that dashboards count.
pub trait Counted: Resource {
    /// Its region.
    const REGION: RegionOf;
    /// Its theme links, if it has themes.
    const THEMES: Option<LinkTable>;
    /// A numeric column summed per group besides the count (`residents_reached`).
    const SUM: Option<(&'static str, &'static str)> = None;
    /// The SQL expression of its year on the alias `x`, per backend.
    fn year(backend: DbBackend) -> String;
}

/// One group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "StatsGroup")]
pub struct Group {
    /// The region's CBS code (or id, for an area without one), the theme's slug, or the year.
    pub key: Option<String>,
    /// The region's or the theme's name.
    pub label: Option<String>,
    /// How many rows.
    pub count: i64,
    /// The sum of the counted resource's total column, where it has one
    /// (`residentsReached` for initiatives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// Counts per group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// The collection counted.
    pub collection: String,
    /// `region`, `theme` or `year`.
    pub group_by: String,
    /// For `region`: the level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// What `total` sums, if anything (`residentsReached`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_of: Option<String>,
    /// The groups, largest first.
    pub groups: Vec<Group>,
}

/// Counts the rows of `R` that a list with `filter` (and `page`'s `updatedSince` and `q`)
/// would return, per group.
pub async fn stats<R: Counted>(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &R::Filter,
    page: &PageRequest,
    group_by: GroupBy,
) -> Result<Stats> {
    actor.require_read()?;
    read(db, move |txn| async move {
        let stats = stats_in::<R>(&txn, actor, filter, page, group_by).await?;
        Ok((txn, stats))
    })
    .await
}

/// [`stats`] with the version of the collection it was read at, from `cache` when it holds
/// the answer at that version (see [`crate::service::cache`]).
pub async fn stats_cached<R: Counted>(
    db: &DatabaseConnection,
    cache: &ReadCache,
    actor: &Actor,
    filter: &R::Filter,
    page: &PageRequest,
    group_by: GroupBy,
) -> Result<Versioned<Stats>> {
    actor.require_read()?;
    let query = format!("stats|{filter:?}|{page:?}|{group_by:?}");
    let class = visibility_class(actor, R::PER_PARTNER);
    read(db, move |txn| async move {
        let answer = cached(cache, &txn, R::VERSIONED_BY, R::TYPE, query, class, || {
            stats_in::<R>(&txn, actor, filter, page, group_by)
        })
        .await?;
        Ok((txn, answer))
    })
    .await
}

async fn stats_in<R: Counted>(
    txn: &DatabaseTransaction,
    actor: &Actor,
    filter: &R::Filter,
    page: &PageRequest,
    group_by: GroupBy,
) -> Result<Stats> {
    let backend = txn.get_database_backend();
    {
        // The rows a list would return, every column: the derived table `x` below.
        let mut rows = R::Entity::find()
            .filter(<R::Entity as Common>::deleted_at().is_null())
            .filter(R::visible(actor))
            .filter(R::default_condition(actor, filter))
            .filter(R::condition(txn, filter).await?);
        rows = rows.filter(crate::service::resource::changed_since::<R>(
            page.updated_since,
        )?);
        if let Some(q) = &page.q {
            rows = rows.filter(search_condition::<R>(backend, q)?);
        }
        let subquery = backend.build(&rows.into_query());
        let rows = format!("({}) x", subquery.sql);
        let cast = if is_postgres(backend) { "::bigint" } else { "" };
        // Counts and sums per group `k` of the counted rows, then summed again per group
        // of the answer (`SUM(c.n)`), so that the joins after it see one row per group,
        // not one per counted row.
        let sum = |of: &str| match R::SUM {
            Some((column, _)) => format!(", SUM({}){cast} AS total", of.replace('*', column)),
            None => ", NULL AS total".to_owned(),
        };
        let sql = match group_by {
            GroupBy::Region(level) => {
                let level = level.as_str();
                match R::REGION {
                    // A row lies in one region, which has one ancestor at each level: the
                    // counts per region add up per ancestor without double counting.
                    // `CROSS JOIN` keeps SQLite to this order (without statistics its
                    // planner started from the regions of the level and probed the
                    // closure for every pair); PostgreSQL plans it as any inner join.
                    RegionOf::Column(column) => format!(
                        "SELECT g.code AS key, g.id AS region_id, g.name AS label, SUM(c.n){cast} AS n{} \
                         FROM (SELECT x.{column} AS k, COUNT(*) AS n{} FROM {rows} GROUP BY x.{column}) c \
                         CROSS JOIN region_closure t CROSS JOIN regions g \
                         WHERE t.descendant_id = c.k AND g.id = t.ancestor_id \
                           AND g.kind = '{level}' AND g.deleted_at IS NULL \
                         GROUP BY g.id, g.code, g.name ORDER BY n DESC, label",
                        sum("c.total"),
                        sum("x.*"),
                    ),
                    // A row linked to several regions under one ancestor counts there once.
                    RegionOf::Link(link, parent, region) => format!(
                        "SELECT g.code AS key, g.id AS region_id, g.name AS label, COUNT(DISTINCT x.id){cast} AS n{} \
                         FROM {rows} CROSS JOIN {link} l CROSS JOIN region_closure t CROSS JOIN regions g \
                         WHERE l.{parent} = x.id AND t.descendant_id = l.{region} AND g.id = t.ancestor_id \
                           AND g.kind = '{level}' AND g.deleted_at IS NULL \
                         GROUP BY g.id, g.code, g.name ORDER BY n DESC, label",
                        sum("x.*"),
                    ),
                }
            }
            GroupBy::Theme => {
                let link = R::THEMES.ok_or_else(|| {
                    Error::invalid("groupBy", format!("{} have no themes", R::TYPE))
                })?;
                // A link is unique per (row, theme): a row counts once per theme.
                format!(
                    "SELECT th.slug AS key, th.name AS label, c.n AS n, c.total AS total \
                     FROM (SELECT l.{child} AS k, COUNT(*){cast} AS n{} \
                           FROM {rows} JOIN {table} l ON l.{parent} = x.id GROUP BY l.{child}) c \
                     JOIN themes th ON th.id = c.k ORDER BY n DESC, label",
                    sum("x.*"),
                    table = link.table,
                    parent = link.parent,
                    child = link.child,
                )
            }
            GroupBy::Year => format!(
                "SELECT CAST({} AS TEXT) AS key, NULL AS label, COUNT(*){cast} AS n{} \
                 FROM {rows} GROUP BY 1 ORDER BY 1",
                R::year(backend),
                sum("x.*"),
            ),
        };
        let statement = match subquery.values {
            Some(values) => Statement::from_sql_and_values(backend, sql, values.0),
            None => Statement::from_string(backend, sql),
        };
        let groups = txn
            .query_all_raw(statement)
            .await
            .map_err(map_db_err)?
            .iter()
            .map(|row| {
                let mut key: Option<String> = row.try_get("", "key").map_err(map_db_err)?;
                if key.is_none() && matches!(group_by, GroupBy::Region(_)) {
                    // An area has no CBS code: its id names it.
                    let id: uuid::Uuid = row.try_get("", "region_id").map_err(map_db_err)?;
                    key = Some(id.to_string());
                }
                Ok(Group {
                    key,
                    label: row.try_get("", "label").map_err(map_db_err)?,
                    count: row.try_get("", "n").map_err(map_db_err)?,
                    total: match R::SUM {
                        Some(_) => row
                            .try_get::<Option<i64>>("", "total")
                            .map_err(map_db_err)?
                            .or(Some(0)),
                        None => None,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let stats = Stats {
            collection: R::TYPE.to_owned(),
            group_by: match group_by {
                GroupBy::Region(_) => "region",
                GroupBy::Theme => "theme",
                GroupBy::Year => "year",
            }
            .to_owned(),
            level: match group_by {
                GroupBy::Region(level) => Some(level.as_str().to_owned()),
                _ => None,
            },
            total_of: R::SUM.map(|(_, name)| name.to_owned()),
            groups,
        };
        Ok(stats)
    }
}

/// The year of a date column on the alias `x`.
pub fn year_of_date(backend: DbBackend, column: &str) -> String {
    if is_postgres(backend) {
        format!("EXTRACT(YEAR FROM x.{column})::int")
    } else {
        format!("CAST(strftime('%Y', x.{column}) AS INTEGER)")
    }
}

const fn themes_of(table: &'static str, parent: &'static str) -> Option<LinkTable> {
    Some(LinkTable {
        table,
        parent,
        child: "theme_id",
    })
}

impl Counted for crate::service::Networks {
    const REGION: RegionOf = RegionOf::Link("network_regions", "network_id", "region_id");
    const THEMES: Option<LinkTable> = themes_of("network_themes", "network_id");
    fn year(_backend: DbBackend) -> String {
        "x.start_year".to_owned()
    }
}

impl Counted for crate::service::PracticeExamples {
    const REGION: RegionOf = RegionOf::Column("region_id");
    const THEMES: Option<LinkTable> = themes_of("practice_example_themes", "practice_example_id");
    fn year(_backend: DbBackend) -> String {
        "x.year".to_owned()
    }
}

impl Counted for crate::service::Initiatives {
    const REGION: RegionOf = RegionOf::Column("region_id");
    const THEMES: Option<LinkTable> = themes_of("initiative_themes", "initiative_id");
    const SUM: Option<(&'static str, &'static str)> =
        Some(("residents_reached", "residentsReached"));
    fn year(backend: DbBackend) -> String {
        year_of_date(backend, "started_on")
    }
}

impl Counted for crate::service::Assignments {
    const REGION: RegionOf = RegionOf::Column("region_id");
    const THEMES: Option<LinkTable> = None;
    fn year(backend: DbBackend) -> String {
        year_of_date(backend, "starts_on")
    }
}

impl Counted for crate::service::Lessons {
    const REGION: RegionOf = RegionOf::Column("origin_region_id");
    const THEMES: Option<LinkTable> = themes_of("lesson_themes", "lesson_id");
    fn year(backend: DbBackend) -> String {
        year_of_date(backend, "created_at")
    }
}
