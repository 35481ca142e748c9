//! Resident initiatives and activities, with their themes.

use entity::initiative;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait};
use uuid::Uuid;

use crate::dto::{Initiative, InitiativeFilter, InitiativeInput, InitiativeStatus, stored};
use crate::error::Result;
use crate::meta;
use crate::service::check::{COUNT, Check};
use crate::service::refs::{self, LinkTable};
use crate::service::resource::{Anchors, Dependent};
use crate::service::{Actor, Resource};

/// Initiatives.
pub struct Initiatives;

const INITIATIVE_THEMES: LinkTable = LinkTable {
    table: "initiative_themes",
    parent: "initiative_id",
    child: "theme_id",
};

#[async_trait::async_trait]
impl Resource for Initiatives {
    type Entity = initiative::Entity;
    type Model = initiative::Model;
    type ActiveModel = initiative::ActiveModel;
    type Input = InitiativeInput;
    type Dto = Initiative;
    /// The theme ids.
    type Children = Vec<Uuid>;
    type Filter = InitiativeFilter;
    const TYPE: &'static str = "initiatives";

    const SORTED_BY: &'static [(&'static str, initiative::Column)] =
        &[("title", initiative::Column::Title)];

    const DEPENDENTS: &'static [Dependent] = &[Dependent::refuse(
        "assignments",
        "initiative_id",
        "assignments",
    )];

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &initiative::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[row.region_id], &[row.network_id]))
    }

    fn external_id(input: &InitiativeInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &InitiativeInput,
        row: &mut initiative::ActiveModel,
        _current: Option<&initiative::Model>,
    ) -> Result<Vec<Uuid>> {
        let mut check = Check::new();
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
        let title = check.line("title", &input.title);
        let description = check.opt_text("description", &input.description);
        let status = check.enum_or("status", &input.status, InitiativeStatus::Idea);
        let started_on = check.opt_date("startedOn", input.started_on);
        let ended_on = check.opt_date("endedOn", input.ended_on);
        check.order(
            "endedOn",
            started_on,
            ended_on,
            "must not be before startedOn",
        );
        check.list_len("themes", &input.themes);
        let residents_reached = check.opt_range("residentsReached", input.residents_reached, COUNT);
        let themes = refs::themes(
            conn,
            actor,
            &mut check,
            input.themes.as_deref().unwrap_or_default(),
        )
        .await?;
        check.finish()?;
        row.network_id = Set(network_id);
        row.region_id = Set(region_id);
        row.title = Set(title);
        row.description = Set(description);
        row.status = Set(status.as_str().to_owned());
        row.started_on = Set(started_on);
        row.ended_on = Set(ended_on);
        row.residents_reached = Set(residents_reached);
        Ok(themes)
    }

    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        themes: Vec<Uuid>,
    ) -> Result<bool> {
        refs::replace_themes(conn, INITIATIVE_THEMES, id, themes).await
    }

    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<initiative::Model>,
    ) -> Result<Vec<Initiative>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut themes = refs::linked_keys(conn, INITIATIVE_THEMES, "themes", "slug", &ids).await?;
        let regions = refs::region_codes(conn, rows.iter().map(|r| r.region_id).collect()).await?;
        let networks =
            refs::network_slugs(conn, rows.iter().map(|r| r.network_id).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Initiative {
                meta: meta!(r),
                themes: themes.remove(&r.id).unwrap_or_default(),
                region_code: regions.key(r.region_id),
                network_slug: networks.key(r.network_id),
                status: stored(&r.status),
                network_id: r.network_id,
                region_id: r.region_id,
                title: r.title,
                description: r.description,
                started_on: r.started_on,
                ended_on: r.ended_on,
                residents_reached: r.residents_reached,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(
        conn: &C,
        filter: &InitiativeFilter,
    ) -> Result<Condition> {
        let mut condition = Condition::all()
            .add_option(
                filter
                    .network_id
                    .map(|n| initiative::Column::NetworkId.eq(n)),
            )
            .add_option(filter.region_id.map(|r| initiative::Column::RegionId.eq(r)))
            .add_option(
                filter
                    .status
                    .map(|s| initiative::Column::Status.eq(s.as_str())),
            );
        if let Some(theme) = &filter.theme {
            condition = condition.add(initiative::Column::Id.in_subquery(
                refs::parents_linked_by_key(INITIATIVE_THEMES, "themes", "slug", theme.as_str()),
            ));
        }
        if let Some(region) = &filter.region {
            let root = refs::region_root(conn, region).await?;
            condition = condition.add(refs::in_subtree(
                conn.get_database_backend(),
                r#""initiatives"."region_id""#,
                root,
            ));
        }
        Ok(condition)
    }
}
