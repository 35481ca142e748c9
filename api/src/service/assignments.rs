//! Education programmes and student assignments, with the levels and programmes an
//! assignment is meant for.

use std::collections::HashMap;

use entity::{assignment, assignment_programme, programme};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::dto::{
    Assignment, AssignmentFilter, AssignmentInput, AssignmentStatus, Field, Level, Programme,
    ProgrammeFilter, ProgrammeInput, stored,
};
use crate::error::Result;
use crate::meta;
use crate::service::check::{Bounds, Check};
use crate::service::db::map_db_err;
use crate::service::networks::enum_list;
use crate::service::refs::{self, LinkTable};
use crate::service::resource::{Anchors, Dependent};
use crate::service::{Actor, Initiatives, Organizations, Resource};

/// Education programmes.
pub struct Programmes;

#[async_trait::async_trait]
impl Resource for Programmes {
    type Entity = programme::Entity;
    type Model = programme::Model;
    type ActiveModel = programme::ActiveModel;
    type Input = ProgrammeInput;
    type Dto = Programme;
    type Children = ();
    type Filter = ProgrammeFilter;
    const TYPE: &'static str = "programmes";

    const SORTED_BY: &'static [(&'static str, programme::Column)] =
        &[("name", programme::Column::Name)];

    const DEPENDENTS: &'static [Dependent] = &[Dependent::linked(
        "assignment_programmes",
        "programme_id",
        "assignments",
        "assignment_id",
        "assignments",
    )];

    async fn anchors<C: ConnectionTrait>(conn: &C, row: &programme::Model) -> Result<Anchors> {
        let region = entity::organization::Entity::find_by_id(row.organization_id)
            .one(conn)
            .await
            .map_err(map_db_err)?
            .and_then(|o| o.region_id);
        Ok(Anchors::of(&[region], &[]))
    }

    fn external_id(input: &ProgrammeInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &ProgrammeInput,
        row: &mut programme::ActiveModel,
        _current: Option<&programme::Model>,
    ) -> Result<()> {
        let mut check = Check::new();
        let organization_id = refs::required_id::<Organizations, _>(
            conn,
            actor,
            &mut check,
            "organization",
            "organizationId",
            input.organization_id,
        )
        .await?;
        let name = check.line("name", &input.name);
        let level: Level = check.enumeration("level", &input.level);
        let field: Field = check.enumeration("field", &input.field);
        check.finish()?;
        row.organization_id = Set(organization_id);
        row.name = Set(name);
        row.level = Set(level.as_str().to_owned());
        row.field = Set(field.as_str().to_owned());
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
        rows: Vec<programme::Model>,
    ) -> Result<Vec<Programme>> {
        Ok(rows
            .into_iter()
            .map(|r| Programme {
                meta: meta!(r),
                level: stored(&r.level),
                field: stored(&r.field),
                organization_id: r.organization_id,
                name: r.name,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(
        _conn: &C,
        filter: &ProgrammeFilter,
    ) -> Result<Condition> {
        Ok(Condition::all()
            .add_option(
                filter
                    .organization_id
                    .map(|o| programme::Column::OrganizationId.eq(o)),
            )
            .add_option(
                filter
                    .level
                    .map(|l| programme::Column::Level.eq(l.as_str())),
            )
            .add_option(
                filter
                    .field
                    .map(|f| programme::Column::Field.eq(f.as_str())),
            ))
    }
}

/// Student assignments.
pub struct Assignments;

/// The study credits an assignment may be worth (a four-year bachelor's are 240).
pub const ECTS: Bounds<f64> = Bounds {
    min: 0.0,
    max: 240.0,
};
/// The hours an assignment may be estimated to take.
pub const HOURS: Bounds<i32> = Bounds {
    min: 0,
    max: 10_000,
};
/// How many students an assignment may take.
pub const CAPACITY: Bounds<i32> = Bounds {
    min: 0,
    max: 100_000,
};

const ASSIGNMENT_LEVELS: LinkTable = LinkTable {
    table: "assignment_levels",
    parent: "assignment_id",
    child: "level",
};
const ASSIGNMENT_PROGRAMMES: LinkTable = LinkTable {
    table: "assignment_programmes",
    parent: "assignment_id",
    child: "programme_id",
};

/// What an assignment links to, resolved from its input.
pub struct AssignmentLinks {
    levels: Vec<Level>,
    programmes: Vec<Uuid>,
}

#[async_trait::async_trait]
impl Resource for Assignments {
    type Entity = assignment::Entity;
    type Model = assignment::Model;
    type ActiveModel = assignment::ActiveModel;
    type Input = AssignmentInput;
    type Dto = Assignment;
    type Children = AssignmentLinks;
    type Filter = AssignmentFilter;
    const TYPE: &'static str = "assignments";
    const PER_PARTNER: bool = true;

    const SORTED_BY: &'static [(&'static str, assignment::Column)] =
        &[("title", assignment::Column::Title)];

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &assignment::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[row.region_id], &[row.network_id]))
    }

    fn external_id(input: &AssignmentInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &AssignmentInput,
        row: &mut assignment::ActiveModel,
        _current: Option<&assignment::Model>,
    ) -> Result<AssignmentLinks> {
        let mut check = Check::new();
        let title = check.line("title", &input.title);
        let description = check.opt_text("description", &input.description);
        let learning_outcomes = check.opt_text("learningOutcomes", &input.learning_outcomes);
        let network_id = refs::network(
            conn,
            actor,
            &mut check,
            "networkId",
            input.network_id,
            "networkSlug",
            &input.network_slug,
        )
        .await?;
        let initiative_id = refs::by_id::<Initiatives, _>(
            conn,
            actor,
            &mut check,
            "initiative",
            "initiativeId",
            input.initiative_id,
        )
        .await?;
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
        let host_organization_id = refs::by_id::<Organizations, _>(
            conn,
            actor,
            &mut check,
            "organization",
            "hostOrganizationId",
            input.host_organization_id,
        )
        .await?;
        let levels = enum_list::<Level>(&mut check, "levels", &input.levels);
        let programmes = refs::existing_ids::<Programmes, _>(
            conn,
            actor,
            &mut check,
            "programme",
            "programmeIds",
            input.programme_ids.as_deref().unwrap_or_default(),
        )
        .await?;
        let ects = check.opt_range_f64("ects", input.ects, ECTS);
        let hours_estimate = check.opt_range("hoursEstimate", input.hours_estimate, HOURS);
        let starts_on = check.opt_date("startsOn", input.starts_on);
        let ends_on = check.opt_date("endsOn", input.ends_on);
        let application_deadline =
            check.opt_date("applicationDeadline", input.application_deadline);
        check.order("endsOn", starts_on, ends_on, "must not be before startsOn");
        check.list_len("levels", &input.levels);
        check.list_len("programmeIds", &input.programme_ids);
        let capacity = check.opt_range("capacity", input.capacity, CAPACITY);
        let status = check.enum_or("status", &input.status, AssignmentStatus::Draft);
        let contact = check.opt_line("contact", &input.contact);
        let language = check.language("language", &input.language);
        check.finish()?;
        row.title = Set(title);
        row.description = Set(description);
        row.learning_outcomes = Set(learning_outcomes);
        row.network_id = Set(network_id);
        row.initiative_id = Set(initiative_id);
        row.region_id = Set(region_id);
        row.host_organization_id = Set(host_organization_id);
        row.ects = Set(ects);
        row.hours_estimate = Set(hours_estimate);
        row.starts_on = Set(starts_on);
        row.ends_on = Set(ends_on);
        row.application_deadline = Set(application_deadline);
        row.capacity = Set(capacity);
        row.status = Set(status.as_str().to_owned());
        row.contact = Set(contact);
        row.language = Set(language);
        Ok(AssignmentLinks { levels, programmes })
    }

    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        links: AssignmentLinks,
    ) -> Result<bool> {
        let levels = refs::replace_links(
            conn,
            ASSIGNMENT_LEVELS,
            id,
            &["level"],
            links
                .levels
                .into_iter()
                .map(|l| vec![l.as_str().into()])
                .collect(),
        )
        .await?;
        let programmes = refs::replace_links(
            conn,
            ASSIGNMENT_PROGRAMMES,
            id,
            &["programme_id"],
            links
                .programmes
                .into_iter()
                .map(|p| vec![p.into()])
                .collect(),
        )
        .await?;
        Ok(levels || programmes)
    }

    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<assignment::Model>,
    ) -> Result<Vec<Assignment>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut levels = refs::linked_values(conn, ASSIGNMENT_LEVELS, "level", &ids).await?;
        let mut programmes = programmes_of(conn, &ids).await?;
        let regions = refs::region_codes(conn, rows.iter().map(|r| r.region_id).collect()).await?;
        let networks =
            refs::network_slugs(conn, rows.iter().map(|r| r.network_id).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Assignment {
                meta: meta!(r),
                levels: levels
                    .remove(&r.id)
                    .unwrap_or_default()
                    .iter()
                    .map(|l| stored(l))
                    .collect(),
                programme_ids: programmes.remove(&r.id).unwrap_or_default(),
                region_code: regions.key(r.region_id),
                network_slug: networks.key(r.network_id),
                status: stored(&r.status),
                title: r.title,
                description: r.description,
                learning_outcomes: r.learning_outcomes,
                network_id: r.network_id,
                initiative_id: r.initiative_id,
                region_id: r.region_id,
                host_organization_id: r.host_organization_id,
                ects: r.ects,
                hours_estimate: r.hours_estimate,
                starts_on: r.starts_on,
                ends_on: r.ends_on,
                application_deadline: r.application_deadline,
                capacity: r.capacity,
                contact: r.contact,
                language: r.language,
            })
            .collect())
    }

    const DRAFT_STATUS: Option<assignment::Column> = Some(assignment::Column::Status);

    fn default_condition(actor: &Actor, filter: &AssignmentFilter) -> Condition {
        if actor.kind == "education_platform" && filter.status.is_none() {
            Condition::all().add(assignment::Column::Status.is_in([
                AssignmentStatus::Open.as_str(),
                AssignmentStatus::InProgress.as_str(),
            ]))
        } else {
            Condition::all()
        }
    }

    async fn condition<C: ConnectionTrait>(
        conn: &C,
        filter: &AssignmentFilter,
    ) -> Result<Condition> {
        let mut condition = Condition::all()
            .add_option(
                filter
                    .network_id
                    .map(|n| assignment::Column::NetworkId.eq(n)),
            )
            .add_option(filter.region_id.map(|r| assignment::Column::RegionId.eq(r)))
            .add_option(
                filter
                    .status
                    .map(|s| assignment::Column::Status.eq(s.as_str())),
            )
            .add_option(
                filter
                    .host_organization_id
                    .map(|o| assignment::Column::HostOrganizationId.eq(o)),
            );
        if let Some(level) = filter.level {
            condition = condition.add(assignment::Column::Id.in_subquery(refs::parents_with(
                ASSIGNMENT_LEVELS,
                "level",
                level.as_str(),
            )));
        }
        if let Some(field) = filter.field {
            condition = condition.add(
                assignment::Column::Id.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(("assignment_programmes", "assignment_id"))
                        .from("assignment_programmes")
                        .inner_join(
                            "programmes",
                            sea_orm::sea_query::Expr::col(("programmes", "id"))
                                .equals(("assignment_programmes", "programme_id")),
                        )
                        .and_where(
                            sea_orm::sea_query::Expr::col(("programmes", "field"))
                                .eq(field.as_str()),
                        )
                        .and_where(
                            sea_orm::sea_query::Expr::col(("programmes", "deleted_at")).is_null(),
                        )
                        .to_owned(),
                ),
            );
        }
        if let Some(date) = filter.starts_after {
            condition = condition.add(assignment::Column::StartsOn.gte(date));
        }
        if let Some(date) = filter.ends_before {
            condition = condition.add(assignment::Column::EndsOn.lte(date));
        }
        if let Some(programme) = filter.programme_id {
            condition = condition.add(assignment::Column::Id.in_subquery(refs::parents_with(
                ASSIGNMENT_PROGRAMMES,
                "programme_id",
                programme,
            )));
        }
        if let Some(region) = &filter.region {
            let root = refs::region_root(conn, region).await?;
            condition = condition.add(refs::in_subtree(
                conn.get_database_backend(),
                r#""assignments"."region_id""#,
                root,
            ));
        }
        Ok(condition)
    }
}

/// The programme ids of each assignment in `ids`, sorted; one query for all.
async fn programmes_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>> {
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = assignment_programme::Entity::find()
        .filter(assignment_programme::Column::AssignmentId.is_in(ids.iter().copied()))
        .order_by_asc(assignment_programme::Column::AssignmentId)
        .order_by_asc(assignment_programme::Column::ProgrammeId)
        .all(conn)
        .await
        .map_err(map_db_err)?;
    for row in rows {
        out.entry(row.assignment_id)
            .or_default()
            .push(row.programme_id);
    }
    Ok(out)
}
