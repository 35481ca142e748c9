//! Regions (the CBS tree), organizations and themes.

use entity::{organization, region, theme};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::dto::{
    Organization, OrganizationFilter, OrganizationInput, OrganizationKind, Region, RegionFilter,
    RegionInput, RegionKind, Theme, ThemeFilter, ThemeInput, stored,
};
use crate::error::Result;
use crate::meta;
use crate::service::check::Check;
use crate::service::db::map_db_err;
use crate::service::refs;
use crate::service::resource::{Anchors, Dependent};
use crate::service::{Actor, Resource};

/// Regions.
pub struct Regions;

/// Whether `code` has the CBS shape for `kind`: `PV` + 2 digits for provinces, `GM` + 4 for
/// municipalities, `WK` + 6 for districts, `BU` + 8 for neighbourhoods. Areas have no code.
fn cbs_code_fits(kind: RegionKind, code: &str) -> bool {
    let Some((prefix, digits)) = kind.cbs_code() else {
        return false;
    };
    code.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == digits && rest.bytes().all(|b| b.is_ascii_digit()))
}

#[async_trait::async_trait]
impl Resource for Regions {
    type Entity = region::Entity;
    type Model = region::Model;
    type ActiveModel = region::ActiveModel;
    type Input = RegionInput;
    type Dto = Region;
    /// The parent to place it under in the closure, when that changes (a new region, or a
    /// new parent).
    type Children = Option<Option<Uuid>>;
    type Filter = RegionFilter;
    const TYPE: &'static str = "regions";

    const SORTED_BY: &'static [(&'static str, region::Column)] = &[("name", region::Column::Name)];

    const DEPENDENTS: &'static [Dependent] = &[
        Dependent::refuse("regions", "parent_id", "child regions"),
        Dependent::refuse("organizations", "region_id", "organizations"),
        Dependent::linked(
            "network_regions",
            "region_id",
            "networks",
            "network_id",
            "networks",
        ),
        Dependent::refuse("practice_examples", "region_id", "practice examples"),
        Dependent::refuse("initiatives", "region_id", "initiatives"),
        Dependent::refuse("lessons", "origin_region_id", "lessons"),
        Dependent::refuse("transfers", "region_id", "lesson transfers"),
        Dependent::refuse("assignments", "region_id", "assignments"),
    ];

    fn natural_key() -> Option<region::Column> {
        Some(region::Column::Code)
    }

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &region::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[Some(row.id)], &[]))
    }

    fn external_id(input: &RegionInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &RegionInput,
        row: &mut region::ActiveModel,
        current: Option<&region::Model>,
    ) -> Result<Option<Option<Uuid>>> {
        let mut check = Check::new();
        let name = check.line("name", &input.name);
        let kind: RegionKind = check.enumeration("kind", &input.kind);
        let code = check.opt_line("code", &input.code);
        if let Some(code) = &code
            && input.kind.is_some()
            && !cbs_code_fits(kind, code)
        {
            check.fail(
                "code",
                match kind {
                    RegionKind::Area => "areas have no CBS code; leave code out".to_owned(),
                    _ => format!(
                        "is not a CBS code for a {kind} (e.g. PV22, GM0114, WK011401, BU01140101)"
                    ),
                },
            );
        }
        let population =
            check.opt_range("population", input.population, crate::service::check::COUNT);
        let parent_id = refs::region(
            conn,
            actor,
            &mut check,
            "parentId",
            input.parent_id,
            "parentCode",
            &input.parent_code,
        )
        .await?;
        let me = current.map(|c| c.id);
        if let Some(parent_id) = parent_id {
            if Some(parent_id) == me {
                check.fail("parentId", "a region cannot be its own parent");
            } else if let Some(parent) = region::Entity::find_by_id(parent_id)
                .one(conn)
                .await
                .map_err(map_db_err)?
                && input.kind.is_some()
                && stored::<RegionKind>(&parent.kind).rank() >= kind.rank()
            {
                check.fail(
                    "parentId",
                    format!("a {kind} cannot lie within a {}", parent.kind),
                );
            }
        }
        if let (Some(me), true) = (me, input.kind.is_some()) {
            // Children must stay below this region in the tree.
            let children = region::Entity::find()
                .filter(region::Column::ParentId.eq(me))
                .filter(region::Column::DeletedAt.is_null())
                .all(conn)
                .await
                .map_err(map_db_err)?;
            if children
                .iter()
                .any(|c| stored::<RegionKind>(&c.kind).rank() <= kind.rank())
            {
                check.fail(
                    "kind",
                    format!("this region has children that cannot lie within a {kind}"),
                );
            }
        }
        if let Some(code) = &code {
            unique_key::<region::Entity, _>(
                conn,
                &mut check,
                "code",
                region::Column::Code,
                code,
                me,
            )
            .await?;
        }
        check.finish()?;
        row.code = Set(code);
        row.name = Set(name);
        row.kind = Set(kind.as_str().to_owned());
        row.parent_id = Set(parent_id);
        row.deprived = Set(input.deprived.unwrap_or(false));
        row.population = Set(population);
        let moved = current.is_none_or(|c| c.parent_id != parent_id);
        Ok(moved.then_some(parent_id))
    }

    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        parent: Option<Option<Uuid>>,
    ) -> Result<bool> {
        if let Some(parent) = parent {
            place_in_closure(conn, id, parent).await?;
        }
        // The closure is derived from `parent_id`: the row's own change is the change.
        Ok(false)
    }

    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<region::Model>,
    ) -> Result<Vec<Region>> {
        let parents = refs::region_codes(conn, rows.iter().map(|r| r.parent_id).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Region {
                meta: meta!(r),
                parent_code: parents.key(r.parent_id),
                kind: stored(&r.kind),
                code: r.code,
                name: r.name,
                parent_id: r.parent_id,
                deprived: r.deprived,
                population: r.population,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(conn: &C, filter: &RegionFilter) -> Result<Condition> {
        let mut condition = Condition::all()
            .add_option(filter.kind.map(|k| region::Column::Kind.eq(k.as_str())))
            .add_option(filter.parent_id.map(|p| region::Column::ParentId.eq(p)))
            .add_option(filter.deprived.map(|d| region::Column::Deprived.eq(d)));
        if let Some(root) = &filter.region {
            let root = refs::region_root(conn, root).await?;
            condition = condition.add(refs::in_subtree(
                conn.get_database_backend(),
                r#""regions"."id""#,
                root,
            ));
        }
        Ok(condition)
    }
}

/// Places region `id` (with everything below it) under `parent` in `region_closure`, in the
/// writing transaction: its subtree's rows to its old ancestors go, rows to the new
/// parent's ancestors (and the parent) come, and its own row (depth 0) is made when it is
/// new. On PostgreSQL the closure's writers take one transaction-scoped advisory lock
/// first and then read it afresh (writes run at READ COMMITTED), so a region moved while
/// another is created or moved below it is seen by the later one: a creation under `Y`
/// waits for `Y`'s move to commit and copies `Y`'s new ancestors, and a move of `Y` that
/// waits for a creation below it moves the new region along. On SQLite writers are
/// serialized already (`BEGIN IMMEDIATE`). Region writes are rare; serializing them costs
/// nothing readers notice.
pub async fn place_in_closure<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    parent: Option<Uuid>,
) -> Result<()> {
    let backend = conn.get_database_backend();
    let postgres = crate::service::db::is_postgres(backend);
    let p = |i: usize| {
        if postgres {
            format!("${i}")
        } else {
            format!("?{i}")
        }
    };
    let run = |sql: String, values: Vec<sea_orm::Value>| {
        conn.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
    };
    if postgres {
        run(
            format!(
                "SELECT pg_advisory_xact_lock(hashtextextended({}, 0))",
                p(1)
            ),
            vec!["region_closure".into()],
        )
        .await
        .map_err(map_db_err)?;
    }
    run(
        format!(
            "INSERT INTO region_closure (ancestor_id, descendant_id, depth) \
             SELECT {0}, {0}, 0 WHERE NOT EXISTS \
             (SELECT 1 FROM region_closure WHERE ancestor_id = {0} AND descendant_id = {0})",
            p(1)
        ),
        vec![id.into()],
    )
    .await
    .map_err(map_db_err)?;
    run(
        format!(
            "DELETE FROM region_closure \
             WHERE descendant_id IN (SELECT descendant_id FROM region_closure WHERE ancestor_id = {0}) \
             AND ancestor_id NOT IN (SELECT descendant_id FROM region_closure WHERE ancestor_id = {0})",
            p(1)
        ),
        vec![id.into()],
    )
    .await
    .map_err(map_db_err)?;
    if let Some(parent) = parent {
        run(
            format!(
                "INSERT INTO region_closure (ancestor_id, descendant_id, depth) \
                 SELECT up.ancestor_id, down.descendant_id, up.depth + down.depth + 1 \
                 FROM region_closure up, region_closure down \
                 WHERE up.descendant_id = {} AND down.ancestor_id = {}",
                p(1),
                p(2)
            ),
            vec![parent.into(), id.into()],
        )
        .await
        .map_err(map_db_err)?;
    }
    Ok(())
}

/// Organizations.
pub struct Organizations;

#[async_trait::async_trait]
impl Resource for Organizations {
    type Entity = organization::Entity;
    type Model = organization::Model;
    type ActiveModel = organization::ActiveModel;
    type Input = OrganizationInput;
    type Dto = Organization;
    type Children = ();
    type Filter = OrganizationFilter;
    const TYPE: &'static str = "organizations";

    const SORTED_BY: &'static [(&'static str, organization::Column)] =
        &[("name", organization::Column::Name)];

    const DEPENDENTS: &'static [Dependent] = &[
        Dependent::refuse("networks", "lead_organization_id", "networks it leads"),
        Dependent::refuse("networks", "funder_id", "networks it funds"),
        Dependent::refuse("memberships", "organization_id", "network memberships"),
        Dependent::refuse("programmes", "organization_id", "programmes"),
        Dependent::refuse(
            "assignments",
            "host_organization_id",
            "assignments it hosts",
        ),
    ];

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &organization::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[row.region_id], &[]))
    }

    fn external_id(input: &OrganizationInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &OrganizationInput,
        row: &mut organization::ActiveModel,
        _current: Option<&organization::Model>,
    ) -> Result<()> {
        let mut check = Check::new();
        let name = check.line("name", &input.name);
        let kind: OrganizationKind = check.enumeration("kind", &input.kind);
        let website = check.opt_url("website", &input.website);
        let region_id = refs::region(
            conn,
            actor,
            &mut check,
            "regionId",
            input.region_id,
            "regionCode",
            &input.region_code,
        )
        .await?;
        check.finish()?;
        row.name = Set(name);
        row.kind = Set(kind.as_str().to_owned());
        row.region_id = Set(region_id);
        row.website = Set(website);
        Ok(())
    }

    async fn write_children<C: ConnectionTrait>(
        _conn: &C,
        _id: Uuid,
        _children: (),
    ) -> Result<bool> {
        Ok(false)
    }

    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<organization::Model>,
    ) -> Result<Vec<Organization>> {
        let codes = refs::region_codes(conn, rows.iter().map(|r| r.region_id).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Organization {
                meta: meta!(r),
                region_code: codes.key(r.region_id),
                kind: stored(&r.kind),
                name: r.name,
                region_id: r.region_id,
                website: r.website,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(
        conn: &C,
        filter: &OrganizationFilter,
    ) -> Result<Condition> {
        Ok(Condition::all()
            .add_option(
                filter
                    .kind
                    .map(|k| organization::Column::Kind.eq(k.as_str())),
            )
            .add_option(
                filter
                    .region_id
                    .map(|r| organization::Column::RegionId.eq(r)),
            )
            .add_option(match &filter.region {
                Some(root) => Some(refs::in_subtree(
                    conn.get_database_backend(),
                    r#""organizations"."region_id""#,
                    refs::region_root(conn, root).await?,
                )),
                None => None,
            }))
    }
}

/// Themes.
pub struct Themes;

#[async_trait::async_trait]
impl Resource for Themes {
    type Entity = theme::Entity;
    type Model = theme::Model;
    type ActiveModel = theme::ActiveModel;
    type Input = ThemeInput;
    type Dto = Theme;
    type Children = ();
    type Filter = ThemeFilter;
    const TYPE: &'static str = "themes";

    const SORTED_BY: &'static [(&'static str, theme::Column)] = &[("name", theme::Column::Name)];

    const DEPENDENTS: &'static [Dependent] = &[
        Dependent::linked(
            "network_themes",
            "theme_id",
            "networks",
            "network_id",
            "networks",
        ),
        Dependent::linked(
            "practice_example_themes",
            "theme_id",
            "practice_examples",
            "practice_example_id",
            "practice examples",
        ),
        Dependent::linked(
            "initiative_themes",
            "theme_id",
            "initiatives",
            "initiative_id",
            "initiatives",
        ),
        Dependent::linked(
            "lesson_themes",
            "theme_id",
            "lessons",
            "lesson_id",
            "lessons",
        ),
    ];

    fn natural_key() -> Option<theme::Column> {
        Some(theme::Column::Slug)
    }

    fn external_id(input: &ThemeInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        _actor: &Actor,
        input: &ThemeInput,
        row: &mut theme::ActiveModel,
        current: Option<&theme::Model>,
    ) -> Result<()> {
        let mut check = Check::new();
        let name = check.line("name", &input.name);
        let slug = slug_of::<theme::Entity, _>(
            conn,
            &mut check,
            &input.slug,
            current.map(|c| c.slug.as_str()),
            theme::Column::Slug,
            &name,
        )
        .await?;
        unique_slug::<theme::Entity, _>(
            conn,
            &mut check,
            theme::Column::Slug,
            &slug,
            current.map(|c| c.id),
        )
        .await?;
        check.finish()?;
        row.slug = Set(slug);
        row.name = Set(name);
        Ok(())
    }

    async fn write_children<C: ConnectionTrait>(
        _conn: &C,
        _id: Uuid,
        _children: (),
    ) -> Result<bool> {
        Ok(false)
    }

    async fn to_dtos<C: ConnectionTrait>(_conn: &C, rows: Vec<theme::Model>) -> Result<Vec<Theme>> {
        Ok(rows
            .into_iter()
            .map(|r| Theme {
                meta: meta!(r),
                slug: r.slug,
                name: r.name,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(_conn: &C, _filter: &ThemeFilter) -> Result<Condition> {
        Ok(Condition::all())
    }
}

/// Fails `slug` when another live row of `E` has it.
pub async fn unique_slug<E: EntityTrait + entity::Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    column: E::Column,
    slug: &str,
    me: Option<Uuid>,
) -> Result<()> {
    unique_key::<E, C>(conn, check, "slug", column, slug, me).await
}

/// Fails `field` when another live row of `E` has `value` in `column` (a slug, a CBS code).
/// The check sees every partner's rows, drafts included, since two live rows cannot share
/// the key; the message names the value only, never the row that has it.
pub async fn unique_key<E: EntityTrait + entity::Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    field: &str,
    column: E::Column,
    value: &str,
    me: Option<Uuid>,
) -> Result<()> {
    if value.is_empty() || !check.is_ok_at(field) {
        return Ok(());
    }
    let taken = E::find()
        .select_only()
        .column(E::id())
        .filter(column.eq(value))
        .filter(E::deleted_at().is_null())
        .filter(Condition::all().add_option(me.map(|me| E::id().ne(me))))
        .into_tuple::<Uuid>()
        .one(conn)
        .await
        .map_err(map_db_err)?;
    if taken.is_some() {
        check.fail(field, format!("{value} is already taken"));
    }
    Ok(())
}

/// `text` as a slug: lowercase, diacritics folded (`Één` → `een`), every other run of
/// characters a single hyphen, at most 80 characters.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ç' => "c",
            'ñ' => "n",
            'ĳ' => "ij",
            'ß' => "ss",
            '&' => "-en-",
            c if c.is_ascii_alphanumeric() => {
                slug.push(c);
                continue;
            }
            _ => "-",
        };
        slug.push_str(folded);
    }
    let mut collapsed = String::with_capacity(slug.len());
    for part in slug.split('-').filter(|p| !p.is_empty()) {
        if !collapsed.is_empty() {
            collapsed.push('-');
        }
        collapsed.push_str(part);
        if collapsed.len() >= 80 {
            break;
        }
    }
    collapsed.truncate(80);
    let trimmed = collapsed.trim_end_matches('-').to_owned();
    if trimmed.is_empty() {
        "item".to_owned()
    } else {
        trimmed
    }
}

/// The slug a write gives a row: the one sent (checked), else the current one (a replace
/// keeps it), else one derived from `text` ([`derived_slug`]) for a new row.
pub async fn slug_of<E: EntityTrait + entity::Common, C: ConnectionTrait>(
    conn: &C,
    check: &mut Check,
    given: &Option<String>,
    current: Option<&str>,
    column: E::Column,
    text: &str,
) -> Result<String> {
    Ok(match (given, current) {
        (Some(_), _) => check.slug("slug", given),
        (None, Some(current)) => current.to_owned(),
        (None, None) if check.is_ok() => derived_slug::<E, C>(conn, column, text).await?,
        (None, None) => String::new(),
    })
}

/// A slug for a row that was sent without one: derived from `text` ([`slugify`]) and made
/// unique among the live rows of `E` with a numeric suffix (`gezonde-school-2`). The
/// candidates are looked up by exact value, a batch at a time (the base and its first 15
/// suffixes, then the next 64, ...), so each batch is a few probes of the slug's unique
/// index, whatever the size of the table (a prefix `LIKE` could not use that index under a
/// non-C collation, and scanned the table).
pub async fn derived_slug<E: EntityTrait + entity::Common, C: ConnectionTrait>(
    conn: &C,
    column: E::Column,
    text: &str,
) -> Result<String> {
    let base = slugify(text);
    let candidate = |n: usize| {
        if n < 2 {
            base.clone()
        } else {
            format!("{base}-{n}")
        }
    };
    let mut from = 1;
    let mut size = 16;
    loop {
        let batch: Vec<String> = (from..from + size)
            .map(candidate)
            .filter(|c| {
                !crate::service::check::RESERVED_SLUGS.contains(&c.as_str())
                    && uuid::Uuid::try_parse(c).is_err()
            })
            .collect();
        let taken: Vec<String> = E::find()
            .select_only()
            .column(column)
            .filter(column.is_in(batch.clone()))
            .filter(E::deleted_at().is_null())
            .into_tuple::<String>()
            .all(conn)
            .await
            .map_err(map_db_err)?;
        if let Some(free) = batch.into_iter().find(|c| !taken.contains(c)) {
            return Ok(free);
        }
        from += size;
        size = 64;
    }
}
