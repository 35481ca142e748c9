//! Networks with their regions, themes, education levels and fields; and the network's
//! sub-resources: goals, memberships and reports.

use entity::{goal, membership, network, region, report};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Value,
};
use uuid::Uuid;

use crate::dto::{
    Field, Goal, GoalInput, GoalStatus, Level, Membership, MembershipInput, MembershipRole,
    Network, NetworkChildFilter, NetworkFilter, NetworkInput, NetworkKind, NetworkRegion,
    NetworkStatus, RegionRole, Report, ReportInput, stored,
};
use crate::error::Result;
use crate::meta;
use crate::service::check::{Bounds, Check, PERCENT, YEARS};
use crate::service::refs::{self, LinkTable};
use crate::service::regions::{slug_of, unique_slug};
use crate::service::resource::{Anchors, Dependent, Parent, parent_of};
use crate::service::{Actor, Organizations, Regions, Resource};

/// Networks.
pub struct Networks;

const NETWORK_THEMES: LinkTable = LinkTable {
    table: "network_themes",
    parent: "network_id",
    child: "theme_id",
};
const NETWORK_REGIONS: LinkTable = LinkTable {
    table: "network_regions",
    parent: "network_id",
    child: "region_id",
};
const NETWORK_LEVELS: LinkTable = LinkTable {
    table: "network_levels",
    parent: "network_id",
    child: "level",
};
const NETWORK_FIELDS: LinkTable = LinkTable {
    table: "network_fields",
    parent: "network_id",
    child: "field",
};

/// What a network links to, resolved from its input.
pub struct NetworkLinks {
    themes: Vec<Uuid>,
    regions: Vec<(Uuid, RegionRole)>,
    levels: Vec<Level>,
    fields: Vec<Field>,
}

/// Parses a list of enum values, failing at `field[i]`, dropping duplicates.
pub fn enum_list<E: std::str::FromStr<Err = String> + PartialEq + Default>(
    check: &mut Check,
    field: &str,
    values: &Option<Vec<impl AsRef<str>>>,
) -> Vec<E> {
    let mut out = Vec::new();
    for (i, v) in values.iter().flatten().enumerate() {
        let value: E = check.enum_or(&format!("{field}[{i}]"), &Some(v.as_ref()), E::default());
        if check.is_ok() && !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

#[async_trait::async_trait]
impl Resource for Networks {
    type Entity = network::Entity;
    type Model = network::Model;
    type ActiveModel = network::ActiveModel;
    type Input = NetworkInput;
    type Dto = Network;
    type Children = NetworkLinks;
    type Filter = NetworkFilter;
    const TYPE: &'static str = "networks";

    const SORTED_BY: &'static [(&'static str, network::Column)] =
        &[("name", network::Column::Name)];

    const DEPENDENTS: &'static [Dependent] = &[
        Dependent::refuse("networks", "parent_network_id", "child networks"),
        Dependent::refuse("practice_examples", "network_id", "practice examples"),
        Dependent::refuse("initiatives", "network_id", "initiatives"),
        Dependent::refuse("lessons", "network_id", "lessons"),
        Dependent::refuse("assignments", "network_id", "assignments"),
        Dependent::cascade("goals", "network_id", Goals::TYPE),
        Dependent::cascade("memberships", "network_id", Memberships::TYPE),
        Dependent::cascade("reports", "network_id", Reports::TYPE),
    ];

    async fn anchors<C: ConnectionTrait>(conn: &C, row: &network::Model) -> Result<Anchors> {
        let regions = network_regions(conn, &[row.id]).await?;
        let regions: Vec<Option<Uuid>> = regions
            .get(&row.id)
            .into_iter()
            .flatten()
            .map(|r| Some(r.region_id))
            .collect();
        Ok(Anchors::of(
            &regions,
            &[Some(row.id), row.parent_network_id],
        ))
    }

    fn natural_key() -> Option<network::Column> {
        Some(network::Column::Slug)
    }

    fn external_id(input: &NetworkInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &NetworkInput,
        row: &mut network::ActiveModel,
        current: Option<&network::Model>,
    ) -> Result<NetworkLinks> {
        let mut check = Check::new();
        let me = current.map(|c| c.id);
        let name = check.line("name", &input.name);
        let slug = slug_of::<network::Entity, _>(
            conn,
            &mut check,
            &input.slug,
            current.map(|c| c.slug.as_str()),
            network::Column::Slug,
            &name,
        )
        .await?;
        unique_slug::<network::Entity, _>(conn, &mut check, network::Column::Slug, &slug, me)
            .await?;
        let kind: NetworkKind = check.enumeration("kind", &input.kind);
        let summary = check.opt_text("summary", &input.summary);
        let description = check.opt_text("description", &input.description);
        let status = check.enum_or("status", &input.status, NetworkStatus::Active);
        let start_year = check.opt_range("startYear", input.start_year, YEARS);
        let end_year = check.opt_range("endYear", input.end_year, YEARS);
        check.order(
            "endYear",
            start_year,
            end_year,
            "must not be before startYear",
        );
        let progress = check.opt_range("progressPercent", input.progress_percent, PERCENT);
        let project_number = check.opt_line("projectNumber", &input.project_number);
        let funding_round = check.opt_line("fundingRound", &input.funding_round);
        let project_leader = check.opt_line("projectLeader", &input.project_leader);
        let meeting_place = check.opt_text("meetingPlace", &input.meeting_place);
        let funder_id = refs::by_id::<Organizations, _>(
            conn,
            actor,
            &mut check,
            "organization",
            "funderId",
            input.funder_id,
        )
        .await?;
        let lead_organization_id = refs::by_id::<Organizations, _>(
            conn,
            actor,
            &mut check,
            "organization",
            "leadOrganizationId",
            input.lead_organization_id,
        )
        .await?;
        let parent_network_id = refs::network(
            conn,
            actor,
            &mut check,
            "parentNetworkId",
            input.parent_network_id,
            "parentNetworkSlug",
            &input.parent_network_slug,
        )
        .await?;
        if let (Some(me), Some(parent)) = (me, parent_network_id)
            && is_ancestor_or_self(conn, me, parent).await?
        {
            check.fail("parentNetworkId", "would make the network its own ancestor");
        }
        let themes = refs::themes(
            conn,
            actor,
            &mut check,
            input.themes.as_deref().unwrap_or_default(),
        )
        .await?;
        check.list_len("themes", &input.themes);
        check.list_len("regions", &input.regions);
        check.list_len("educationLevels", &input.education_levels);
        check.list_len("educationFields", &input.education_fields);
        let given = input
            .regions
            .as_deref()
            .filter(|r| r.len() <= crate::service::check::MAX_LIST)
            .unwrap_or_default();
        let wanted: Vec<refs::Ref<'_>> = given
            .iter()
            .enumerate()
            .map(|(i, r)| refs::Ref {
                id_field: format!("regions[{i}].regionId"),
                id: r.region_id,
                key_field: format!("regions[{i}].regionCode"),
                key: r.region_code.as_deref(),
            })
            .collect();
        let found = refs::resolve::<Regions, _>(
            conn,
            actor,
            &mut check,
            "region",
            region::Column::Code,
            &wanted,
        )
        .await?;
        let mut regions: Vec<(Uuid, RegionRole)> = Vec::new();
        for (i, (r, id)) in given.iter().zip(found).enumerate() {
            let field = format!("regions[{i}]");
            if r.region_id.is_none() && r.region_code.is_none() {
                check.fail(
                    format!("{field}.regionId"),
                    "regionId or regionCode is required",
                );
            }
            let role = check.enum_or(&format!("{field}.role"), &r.role, RegionRole::Focus);
            if let Some(id) = id {
                if regions.iter().any(|(other, _)| *other == id) {
                    check.fail(field, "lists a region twice");
                } else {
                    regions.push((id, role));
                }
            }
        }
        let levels = enum_list::<Level>(&mut check, "educationLevels", &input.education_levels);
        let fields = enum_list::<Field>(&mut check, "educationFields", &input.education_fields);
        check.finish()?;
        row.slug = Set(slug);
        row.name = Set(name);
        row.kind = Set(kind.as_str().to_owned());
        row.summary = Set(summary);
        row.description = Set(description);
        row.status = Set(status.as_str().to_owned());
        row.start_year = Set(start_year);
        row.end_year = Set(end_year);
        row.progress_percent = Set(progress);
        row.project_number = Set(project_number);
        row.funder_id = Set(funder_id);
        row.funding_round = Set(funding_round);
        row.lead_organization_id = Set(lead_organization_id);
        row.project_leader = Set(project_leader);
        row.meeting_place = Set(meeting_place);
        row.parent_network_id = Set(parent_network_id);
        Ok(NetworkLinks {
            themes,
            regions,
            levels,
            fields,
        })
    }

    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        links: NetworkLinks,
    ) -> Result<bool> {
        let one = |v: Value| vec![v];
        let mut changed = refs::replace_themes(conn, NETWORK_THEMES, id, links.themes).await?;
        changed |= refs::replace_links(
            conn,
            NETWORK_REGIONS,
            id,
            &["region_id", "role"],
            links
                .regions
                .into_iter()
                .map(|(r, role)| vec![r.into(), role.as_str().into()])
                .collect(),
        )
        .await?;
        changed |= refs::replace_links(
            conn,
            NETWORK_LEVELS,
            id,
            &["level"],
            links
                .levels
                .into_iter()
                .map(|l| one(l.as_str().into()))
                .collect(),
        )
        .await?;
        changed |= refs::replace_links(
            conn,
            NETWORK_FIELDS,
            id,
            &["field"],
            links
                .fields
                .into_iter()
                .map(|f| one(f.as_str().into()))
                .collect(),
        )
        .await?;
        Ok(changed)
    }

    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<network::Model>,
    ) -> Result<Vec<Network>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut themes = refs::linked_keys(conn, NETWORK_THEMES, "themes", "slug", &ids).await?;
        let mut levels = refs::linked_values(conn, NETWORK_LEVELS, "level", &ids).await?;
        let mut fields = refs::linked_values(conn, NETWORK_FIELDS, "field", &ids).await?;
        let mut regions = network_regions(conn, &ids).await?;
        let parents =
            refs::network_slugs(conn, rows.iter().map(|r| r.parent_network_id).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Network {
                meta: meta!(r),
                themes: themes.remove(&r.id).unwrap_or_default(),
                regions: regions.remove(&r.id).unwrap_or_default(),
                education_levels: levels
                    .remove(&r.id)
                    .unwrap_or_default()
                    .iter()
                    .map(|l| stored(l))
                    .collect(),
                education_fields: fields
                    .remove(&r.id)
                    .unwrap_or_default()
                    .iter()
                    .map(|f| stored(f))
                    .collect(),
                parent_network_slug: parents.key(r.parent_network_id),
                kind: stored(&r.kind),
                status: stored(&r.status),
                slug: r.slug,
                name: r.name,
                summary: r.summary,
                description: r.description,
                start_year: r.start_year,
                end_year: r.end_year,
                progress_percent: r.progress_percent,
                project_number: r.project_number,
                funder_id: r.funder_id,
                funding_round: r.funding_round,
                lead_organization_id: r.lead_organization_id,
                project_leader: r.project_leader,
                meeting_place: r.meeting_place,
                parent_network_id: r.parent_network_id,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(conn: &C, filter: &NetworkFilter) -> Result<Condition> {
        let mut condition = Condition::all()
            .add_option(filter.kind.map(|k| network::Column::Kind.eq(k.as_str())))
            .add_option(
                filter
                    .status
                    .map(|s| network::Column::Status.eq(s.as_str())),
            )
            .add_option(
                filter
                    .parent_network_id
                    .map(|p| network::Column::ParentNetworkId.eq(p)),
            );
        if let Some(theme) = &filter.theme {
            condition = condition.add(
                network::Column::Id.in_subquery(
                    Query::select()
                        .column(("network_themes", "network_id"))
                        .from("network_themes")
                        .inner_join(
                            "themes",
                            Expr::col(("themes", "id")).equals(("network_themes", "theme_id")),
                        )
                        .and_where(Expr::col(("themes", "slug")).eq(theme.as_str()))
                        .to_owned(),
                ),
            );
        }
        if let Some(root) = &filter.region {
            let root = refs::region_root(conn, root).await?;
            condition = condition.add(refs::in_subtree_then(
                conn.get_database_backend(),
                r#""networks"."id" IN (SELECT network_id FROM network_regions WHERE region_id"#,
                root,
                ")",
            ));
        }
        if let Some(region) = filter.region_id {
            condition = condition.add(
                network::Column::Id.in_subquery(
                    Query::select()
                        .column("network_id")
                        .from("network_regions")
                        .and_where(Expr::col("region_id").eq(region))
                        .to_owned(),
                ),
            );
        }
        Ok(condition)
    }
}

/// The network that governs writes of its goals, members and reports: its owner, and its
/// regions and networks for confined partners.
async fn network_parent<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Parent>> {
    parent_of::<Networks, C>(conn, "network", id).await
}

/// Whether `candidate` is `network` or one of its ancestors would be `network` — i.e.
/// whether making `candidate` the parent of `network` would close a loop.
async fn is_ancestor_or_self<C: ConnectionTrait>(
    conn: &C,
    network: Uuid,
    candidate: Uuid,
) -> Result<bool> {
    let mut next = Some(candidate);
    let mut steps = 0;
    while let Some(id) = next {
        if id == network {
            return Ok(true);
        }
        steps += 1;
        if steps > 64 {
            return Ok(true);
        }
        let step = network::Entity::find_by_id(id);
        // FOR SHARE, not the KEY SHARE of other references: it waits for a writer changing
        // this network's parent (FOR NO KEY UPDATE), so that two networks made each other's
        // parent at once are ordered (a deadlock PostgreSQL breaks; the rerun sees the loop).
        let step = if crate::service::db::is_postgres(conn.get_database_backend()) {
            step.lock(sea_orm::sea_query::LockType::Share)
        } else {
            step
        };
        next = step
            .one(conn)
            .await
            .map_err(crate::service::db::map_db_err)?
            .and_then(|n| n.parent_network_id);
    }
    Ok(false)
}

async fn network_regions<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<NetworkRegion>>> {
    let mut out: std::collections::HashMap<Uuid, Vec<NetworkRegion>> =
        std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let select = Query::select()
        .column(("network_regions", "network_id"))
        .column(("network_regions", "region_id"))
        .column(("network_regions", "role"))
        .column(("regions", "code"))
        .from("network_regions")
        .inner_join(
            "regions",
            Expr::col(("regions", "id")).equals(("network_regions", "region_id")),
        )
        .and_where(Expr::col(("network_regions", "network_id")).is_in(ids.iter().copied()))
        .order_by(("regions", "name"), sea_orm::sea_query::Order::Asc)
        .to_owned();
    let map = crate::service::db::map_db_err;
    for row in conn.query_all(&select).await.map_err(map)? {
        let network: Uuid = row.try_get("", "network_id").map_err(map)?;
        let role: String = row.try_get("", "role").map_err(map)?;
        out.entry(network).or_default().push(NetworkRegion {
            region_id: row.try_get("", "region_id").map_err(map)?,
            region_code: row.try_get("", "code").map_err(map)?,
            role: stored(&role),
        });
    }
    Ok(out)
}

/// Goals of networks.
pub struct Goals;

/// The positions a goal may have among its network's goals.
pub const POSITIONS: Bounds<i32> = Bounds {
    min: 0,
    max: 10_000,
};

#[async_trait::async_trait]
impl Resource for Goals {
    type Entity = goal::Entity;
    type Model = goal::Model;
    type ActiveModel = goal::ActiveModel;
    type Input = GoalInput;
    type Dto = Goal;
    type Children = ();
    type Filter = NetworkChildFilter;
    const TYPE: &'static str = "goals";
    const PARENT_FIELD: Option<&'static str> = Some("networkId");

    const SORTED_BY: &'static [(&'static str, goal::Column)] = &[("title", goal::Column::Title)];

    const SCOPE: &'static str = "networks";

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &goal::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[], &[Some(row.network_id)]))
    }

    async fn parent<C: ConnectionTrait>(conn: &C, row: &goal::Model) -> Result<Option<Parent>> {
        network_parent(conn, row.network_id).await
    }

    fn external_id(input: &GoalInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &GoalInput,
        row: &mut goal::ActiveModel,
        _current: Option<&goal::Model>,
    ) -> Result<()> {
        let mut check = Check::new();
        let network_id = refs::required_id::<Networks, _>(
            conn,
            actor,
            &mut check,
            "network",
            "networkId",
            input.network_id,
        )
        .await?;
        if input.position.is_none() {
            check.fail("position", "is required");
        }
        let position = check
            .opt_range("position", input.position, POSITIONS)
            .unwrap_or_default();
        let title = check.line("title", &input.title);
        let description = check.opt_text("description", &input.description);
        let status = check.enum_or("status", &input.status, GoalStatus::Planned);
        let progress = check.opt_range("progressPercent", input.progress_percent, PERCENT);
        let target_date = check.opt_date("targetDate", input.target_date);
        check.finish()?;
        row.network_id = Set(network_id);
        row.position = Set(position);
        row.title = Set(title);
        row.description = Set(description);
        row.status = Set(status.as_str().to_owned());
        row.progress_percent = Set(progress);
        row.target_date = Set(target_date);
        Ok(())
    }

    async fn write_children<C: ConnectionTrait>(
        _conn: &C,
        _id: Uuid,
        _children: (),
    ) -> Result<bool> {
        Ok(false)
    }

    async fn to_dtos<C: ConnectionTrait>(_conn: &C, rows: Vec<goal::Model>) -> Result<Vec<Goal>> {
        Ok(rows
            .into_iter()
            .map(|r| Goal {
                meta: meta!(r),
                status: stored(&r.status),
                network_id: r.network_id,
                position: r.position,
                title: r.title,
                description: r.description,
                progress_percent: r.progress_percent,
                target_date: r.target_date,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(
        _conn: &C,
        filter: &NetworkChildFilter,
    ) -> Result<Condition> {
        Ok(Condition::all().add_option(filter.network_id.map(|n| goal::Column::NetworkId.eq(n))))
    }
}

/// Memberships of organizations in networks.
pub struct Memberships;

#[async_trait::async_trait]
impl Resource for Memberships {
    type Entity = membership::Entity;
    type Model = membership::Model;
    type ActiveModel = membership::ActiveModel;
    type Input = MembershipInput;
    type Dto = Membership;
    type Children = ();
    type Filter = NetworkChildFilter;
    const TYPE: &'static str = "memberships";
    const PARENT_FIELD: Option<&'static str> = Some("networkId");
    const SCOPE: &'static str = "networks";

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &membership::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[], &[Some(row.network_id)]))
    }

    async fn parent<C: ConnectionTrait>(
        conn: &C,
        row: &membership::Model,
    ) -> Result<Option<Parent>> {
        network_parent(conn, row.network_id).await
    }

    fn external_id(input: &MembershipInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &MembershipInput,
        row: &mut membership::ActiveModel,
        current: Option<&membership::Model>,
    ) -> Result<()> {
        let mut check = Check::new();
        let network_id = refs::required_id::<Networks, _>(
            conn,
            actor,
            &mut check,
            "network",
            "networkId",
            input.network_id,
        )
        .await?;
        let organization_id = refs::required_id::<Organizations, _>(
            conn,
            actor,
            &mut check,
            "organization",
            "organizationId",
            input.organization_id,
        )
        .await?;
        let role = check.enum_or("role", &input.role, MembershipRole::Partner);
        let since = check.opt_date("since", input.since);
        if check.is_ok() {
            let duplicate = membership::Entity::find()
                .filter(membership::Column::NetworkId.eq(network_id))
                .filter(membership::Column::OrganizationId.eq(organization_id))
                .filter(membership::Column::Role.eq(role.as_str()))
                .filter(membership::Column::DeletedAt.is_null())
                .filter(
                    Condition::all().add_option(current.map(|c| membership::Column::Id.ne(c.id))),
                )
                .one(conn)
                .await
                .map_err(crate::service::db::map_db_err)?;
            if duplicate.is_some() {
                check.fail(
                    "organizationId",
                    format!("is already a member of this network as {role}"),
                );
            }
        }
        check.finish()?;
        row.network_id = Set(network_id);
        row.organization_id = Set(organization_id);
        row.role = Set(role.as_str().to_owned());
        row.since = Set(since);
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
        _conn: &C,
        rows: Vec<membership::Model>,
    ) -> Result<Vec<Membership>> {
        Ok(rows
            .into_iter()
            .map(|r| Membership {
                meta: meta!(r),
                role: stored(&r.role),
                network_id: r.network_id,
                organization_id: r.organization_id,
                since: r.since,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(
        _conn: &C,
        filter: &NetworkChildFilter,
    ) -> Result<Condition> {
        Ok(Condition::all().add_option(
            filter
                .network_id
                .map(|n| membership::Column::NetworkId.eq(n)),
        ))
    }
}

/// Reports of networks.
pub struct Reports;

#[async_trait::async_trait]
impl Resource for Reports {
    type Entity = report::Entity;
    type Model = report::Model;
    type ActiveModel = report::ActiveModel;
    type Input = ReportInput;
    type Dto = Report;
    type Children = ();
    type Filter = NetworkChildFilter;
    const TYPE: &'static str = "reports";
    const PARENT_FIELD: Option<&'static str> = Some("networkId");

    const SORTED_BY: &'static [(&'static str, report::Column)] =
        &[("title", report::Column::Title)];

    const SCOPE: &'static str = "networks";

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &report::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[], &[Some(row.network_id)]))
    }

    async fn parent<C: ConnectionTrait>(conn: &C, row: &report::Model) -> Result<Option<Parent>> {
        network_parent(conn, row.network_id).await
    }

    fn external_id(input: &ReportInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &ReportInput,
        row: &mut report::ActiveModel,
        _current: Option<&report::Model>,
    ) -> Result<()> {
        let mut check = Check::new();
        let network_id = refs::required_id::<Networks, _>(
            conn,
            actor,
            &mut check,
            "network",
            "networkId",
            input.network_id,
        )
        .await?;
        let title = check.line("title", &input.title);
        let url = check.opt_url("url", &input.url);
        let published_on = check.opt_date("publishedOn", input.published_on);
        check.finish()?;
        row.network_id = Set(network_id);
        row.title = Set(title);
        row.published_on = Set(published_on);
        row.url = Set(url);
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
        _conn: &C,
        rows: Vec<report::Model>,
    ) -> Result<Vec<Report>> {
        Ok(rows
            .into_iter()
            .map(|r| Report {
                meta: meta!(r),
                network_id: r.network_id,
                title: r.title,
                published_on: r.published_on,
                url: r.url,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(
        _conn: &C,
        filter: &NetworkChildFilter,
    ) -> Result<Condition> {
        Ok(Condition::all().add_option(filter.network_id.map(|n| report::Column::NetworkId.eq(n))))
    }
}
