//! Lessons learned, with their themes, and their transfers: where a lesson has been (or
//! will be) carried to.

use entity::{lesson, transfer};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait};
use uuid::Uuid;

use crate::dto::{
    Lesson, LessonFilter, LessonInput, Transfer, TransferFilter, TransferInput, TransferStatus,
    stored,
};
use crate::error::Result;
use crate::meta;
use crate::service::check::Check;
use crate::service::refs::{self, LinkTable};
use crate::service::resource::{Anchors, Dependent, Parent, parent_of};
use crate::service::{Actor, Resource};

/// Lessons learned.
pub struct Lessons;

const LESSON_THEMES: LinkTable = LinkTable {
    table: "lesson_themes",
    parent: "lesson_id",
    child: "theme_id",
};

#[async_trait::async_trait]
impl Resource for Lessons {
    type Entity = lesson::Entity;
    type Model = lesson::Model;
    type ActiveModel = lesson::ActiveModel;
    type Input = LessonInput;
    type Dto = Lesson;
    /// The theme ids.
    type Children = Vec<Uuid>;
    type Filter = LessonFilter;
    const TYPE: &'static str = "lessons";

    const SORTED_BY: &'static [(&'static str, lesson::Column)] =
        &[("title", lesson::Column::Title)];

    const DEPENDENTS: &'static [Dependent] = &[Dependent::cascade(
        "transfers",
        "lesson_id",
        Transfers::TYPE,
    )];

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &lesson::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[row.origin_region_id], &[row.network_id]))
    }

    fn external_id(input: &LessonInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &LessonInput,
        row: &mut lesson::ActiveModel,
        _current: Option<&lesson::Model>,
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
        let origin_region_id = refs::region(
            conn,
            actor,
            &mut check,
            "originRegionId",
            input.origin_region_id,
            "originRegionCode",
            &input.origin_region_code,
        )
        .await?;
        let title = check.line("title", &input.title);
        let body = check.text("body", &input.body);
        check.list_len("themes", &input.themes);
        let themes = refs::themes(
            conn,
            actor,
            &mut check,
            input.themes.as_deref().unwrap_or_default(),
        )
        .await?;
        check.finish()?;
        row.network_id = Set(network_id);
        row.origin_region_id = Set(origin_region_id);
        row.title = Set(title);
        row.body = Set(body);
        Ok(themes)
    }

    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        themes: Vec<Uuid>,
    ) -> Result<bool> {
        refs::replace_themes(conn, LESSON_THEMES, id, themes).await
    }

    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<lesson::Model>,
    ) -> Result<Vec<Lesson>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut themes = refs::linked_keys(conn, LESSON_THEMES, "themes", "slug", &ids).await?;
        let regions =
            refs::region_codes(conn, rows.iter().map(|r| r.origin_region_id).collect()).await?;
        let networks =
            refs::network_slugs(conn, rows.iter().map(|r| r.network_id).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Lesson {
                meta: meta!(r),
                themes: themes.remove(&r.id).unwrap_or_default(),
                origin_region_code: regions.key(r.origin_region_id),
                network_slug: networks.key(r.network_id),
                network_id: r.network_id,
                origin_region_id: r.origin_region_id,
                title: r.title,
                body: r.body,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(conn: &C, filter: &LessonFilter) -> Result<Condition> {
        let mut condition = Condition::all()
            .add_option(filter.network_id.map(|n| lesson::Column::NetworkId.eq(n)))
            .add_option(
                filter
                    .origin_region_id
                    .map(|r| lesson::Column::OriginRegionId.eq(r)),
            );
        if let Some(theme) = &filter.theme {
            condition = condition.add(lesson::Column::Id.in_subquery(refs::parents_linked_by_key(
                LESSON_THEMES,
                "themes",
                "slug",
                theme.as_str(),
            )));
        }
        if let Some(region) = &filter.region {
            let root = refs::region_root(conn, region).await?;
            condition = condition.add(refs::in_subtree(
                conn.get_database_backend(),
                r#""lessons"."origin_region_id""#,
                root,
            ));
        }
        Ok(condition)
    }
}

/// Transfers of lessons to other regions.
pub struct Transfers;

#[async_trait::async_trait]
impl Resource for Transfers {
    type Entity = transfer::Entity;
    type Model = transfer::Model;
    type ActiveModel = transfer::ActiveModel;
    type Input = TransferInput;
    type Dto = Transfer;
    type Children = ();
    type Filter = TransferFilter;
    const TYPE: &'static str = "transfers";
    const PARENT_FIELD: Option<&'static str> = Some("lessonId");
    const SCOPE: &'static str = "lessons";

    async fn anchors<C: ConnectionTrait>(_conn: &C, row: &transfer::Model) -> Result<Anchors> {
        Ok(Anchors::of(&[Some(row.region_id)], &[]))
    }

    async fn parent<C: ConnectionTrait>(conn: &C, row: &transfer::Model) -> Result<Option<Parent>> {
        parent_of::<Lessons, C>(conn, "lesson", row.lesson_id).await
    }

    fn external_id(input: &TransferInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &TransferInput,
        row: &mut transfer::ActiveModel,
        _current: Option<&transfer::Model>,
    ) -> Result<()> {
        let mut check = Check::new();
        let lesson_id = refs::required_id::<Lessons, _>(
            conn,
            actor,
            &mut check,
            "lesson",
            "lessonId",
            input.lesson_id,
        )
        .await?;
        if input.region_id.is_none() && input.region_code.is_none() {
            check.fail("regionId", "regionId or regionCode is required");
        }
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
        let status = check.enum_or("status", &input.status, TransferStatus::Planned);
        let notes = check.opt_text("notes", &input.notes);
        check.finish()?;
        row.lesson_id = Set(lesson_id);
        row.region_id = Set(region_id.unwrap_or_default());
        row.status = Set(status.as_str().to_owned());
        row.notes = Set(notes);
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
        rows: Vec<transfer::Model>,
    ) -> Result<Vec<Transfer>> {
        let regions =
            refs::region_codes(conn, rows.iter().map(|r| Some(r.region_id)).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| Transfer {
                meta: meta!(r),
                region_code: regions.key(Some(r.region_id)),
                status: stored(&r.status),
                lesson_id: r.lesson_id,
                region_id: r.region_id,
                notes: r.notes,
            })
            .collect())
    }

    async fn condition<C: ConnectionTrait>(
        _conn: &C,
        filter: &TransferFilter,
    ) -> Result<Condition> {
        Ok(Condition::all()
            .add_option(filter.lesson_id.map(|l| transfer::Column::LessonId.eq(l)))
            .add_option(filter.region_id.map(|r| transfer::Column::RegionId.eq(r)))
            .add_option(
                filter
                    .status
                    .map(|s| transfer::Column::Status.eq(s.as_str())),
            ))
    }
}
