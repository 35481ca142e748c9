//! Practice examples ("praktijkvoorbeelden") with their ordered links and their themes.

use std::collections::HashMap;

use entity::{practice_example, practice_example_link};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::dto::{
    Link, PracticeExample, PracticeExampleFilter, PracticeExampleInput, PracticeExampleStatus,
    stored,
};
use crate::error::Result;
use crate::meta;
use crate::service::check::{Check, YEARS};
use crate::service::db::map_db_err;
use crate::service::refs::{self, LinkTable};
use crate::service::regions::{slug_of, unique_slug};
use crate::service::resource::Anchors;
use crate::service::{Actor, Resource};

/// Practice examples.
pub struct PracticeExamples;

const PRACTICE_EXAMPLE_THEMES: LinkTable = LinkTable {
    table: "practice_example_themes",
    parent: "practice_example_id",
    child: "theme_id",
};
const PRACTICE_EXAMPLE_LINKS: LinkTable = LinkTable {
    table: "practice_example_links",
    parent: "practice_example_id",
    child: "id",
};

/// What a practice example links to, resolved from its input.
pub struct PracticeExampleChildren {
    themes: Vec<Uuid>,
    links: Vec<(String, String)>,
}

#[async_trait::async_trait]
impl Resource for PracticeExamples {
    type Entity = practice_example::Entity;
    type Model = practice_example::Model;
    type ActiveModel = practice_example::ActiveModel;
    type Input = PracticeExampleInput;
    type Dto = PracticeExample;
    type Children = PracticeExampleChildren;
    type Filter = PracticeExampleFilter;
    const TYPE: &'static str = "practice-examples";
    const PER_PARTNER: bool = true;

    const SORTED_BY: &'static [(&'static str, practice_example::Column)] =
        &[("title", practice_example::Column::Title)];

    async fn anchors<C: ConnectionTrait>(
        _conn: &C,
        row: &practice_example::Model,
    ) -> Result<Anchors> {
        Ok(Anchors::of(&[row.region_id], &[row.network_id]))
    }

    fn natural_key() -> Option<practice_example::Column> {
        Some(practice_example::Column::Slug)
    }

    fn external_id(input: &PracticeExampleInput) -> Option<&str> {
        input.external_id.as_deref()
    }

    async fn apply<C: ConnectionTrait>(
        conn: &C,
        actor: &Actor,
        input: &PracticeExampleInput,
        row: &mut practice_example::ActiveModel,
        current: Option<&practice_example::Model>,
    ) -> Result<PracticeExampleChildren> {
        let mut check = Check::new();
        let title = check.line("title", &input.title);
        let slug = slug_of::<practice_example::Entity, _>(
            conn,
            &mut check,
            &input.slug,
            current.map(|c| c.slug.as_str()),
            practice_example::Column::Slug,
            &title,
        )
        .await?;
        unique_slug::<practice_example::Entity, _>(
            conn,
            &mut check,
            practice_example::Column::Slug,
            &slug,
            current.map(|c| c.id),
        )
        .await?;

        let year = check.opt_range("year", input.year, YEARS);
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
        let summary = check.opt_text("summary", &input.summary);
        let context = check.opt_text("context", &input.context);
        let approach = check.opt_text("approach", &input.approach);
        let why_it_works = check.opt_text("whyItWorks", &input.why_it_works);
        let how_to_apply = check.opt_text("howToApply", &input.how_to_apply);
        let expected_outcome = check.opt_text("expectedOutcome", &input.expected_outcome);
        check.list_len("links", &input.links);
        check.list_len("themes", &input.themes);
        let links: Vec<(String, String)> = input
            .links
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, link)| {
                (
                    check.line(&format!("links[{i}].title"), &link.title),
                    check.url(&format!("links[{i}].url"), &link.url),
                )
            })
            .collect();
        let collection = check.opt_line("collection", &input.collection);
        let themes = refs::themes(
            conn,
            actor,
            &mut check,
            input.themes.as_deref().unwrap_or_default(),
        )
        .await?;
        let status = check.enum_or("status", &input.status, PracticeExampleStatus::Draft);
        let language = check.language("language", &input.language);
        check.finish()?;
        row.slug = Set(slug);
        row.title = Set(title);
        row.year = Set(year);
        row.region_id = Set(region_id);
        row.network_id = Set(network_id);
        row.summary = Set(summary);
        row.context = Set(context);
        row.approach = Set(approach);
        row.why_it_works = Set(why_it_works);
        row.how_to_apply = Set(how_to_apply);
        row.expected_outcome = Set(expected_outcome);
        row.collection = Set(collection);
        row.status = Set(status.as_str().to_owned());
        row.language = Set(language);
        Ok(PracticeExampleChildren { themes, links })
    }

    async fn write_children<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        children: PracticeExampleChildren,
    ) -> Result<bool> {
        let themes =
            refs::replace_themes(conn, PRACTICE_EXAMPLE_THEMES, id, children.themes).await?;
        let links = refs::replace_links(
            conn,
            PRACTICE_EXAMPLE_LINKS,
            id,
            &["id", "position", "title", "url"],
            (0i32..)
                .zip(children.links)
                .map(|(position, (title, url))| {
                    vec![
                        Uuid::now_v7().into(),
                        position.into(),
                        title.into(),
                        url.into(),
                    ]
                })
                .collect(),
        )
        .await?;
        Ok(themes || links)
    }

    async fn to_dtos<C: ConnectionTrait>(
        conn: &C,
        rows: Vec<practice_example::Model>,
    ) -> Result<Vec<PracticeExample>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut themes =
            refs::linked_keys(conn, PRACTICE_EXAMPLE_THEMES, "themes", "slug", &ids).await?;
        let mut links = links_of(conn, &ids).await?;
        let regions = refs::region_codes(conn, rows.iter().map(|r| r.region_id).collect()).await?;
        let networks =
            refs::network_slugs(conn, rows.iter().map(|r| r.network_id).collect()).await?;
        Ok(rows
            .into_iter()
            .map(|r| PracticeExample {
                meta: meta!(r),
                themes: themes.remove(&r.id).unwrap_or_default(),
                links: links.remove(&r.id).unwrap_or_default(),
                region_code: regions.key(r.region_id),
                network_slug: networks.key(r.network_id),
                status: stored(&r.status),
                slug: r.slug,
                title: r.title,
                year: r.year,
                region_id: r.region_id,
                network_id: r.network_id,
                summary: r.summary,
                context: r.context,
                approach: r.approach,
                why_it_works: r.why_it_works,
                how_to_apply: r.how_to_apply,
                expected_outcome: r.expected_outcome,
                collection: r.collection,
                language: r.language,
            })
            .collect())
    }

    const DRAFT_STATUS: Option<practice_example::Column> = Some(practice_example::Column::Status);

    async fn condition<C: ConnectionTrait>(
        conn: &C,
        filter: &PracticeExampleFilter,
    ) -> Result<Condition> {
        // A collection is matched exactly: what no practice example can hold is refused.
        let mut check = Check::new();
        check.opt_line("collection", &filter.collection);
        check.finish()?;
        let mut condition = Condition::all()
            .add_option(
                filter
                    .region_id
                    .map(|r| practice_example::Column::RegionId.eq(r)),
            )
            .add_option(
                filter
                    .network_id
                    .map(|n| practice_example::Column::NetworkId.eq(n)),
            )
            .add_option(
                filter
                    .status
                    .map(|s| practice_example::Column::Status.eq(s.as_str())),
            )
            .add_option(filter.year.map(|y| practice_example::Column::Year.eq(y)))
            .add_option(
                filter
                    .collection
                    .as_deref()
                    .map(|c| practice_example::Column::Collection.eq(c)),
            );
        if let Some(theme) = &filter.theme {
            condition = condition.add(practice_example::Column::Id.in_subquery(
                refs::parents_linked_by_key(
                    PRACTICE_EXAMPLE_THEMES,
                    "themes",
                    "slug",
                    theme.as_str(),
                ),
            ));
        }
        if let Some(region) = &filter.region {
            let root = refs::region_root(conn, region).await?;
            condition = condition.add(refs::in_subtree(
                conn.get_database_backend(),
                r#""practice_examples"."region_id""#,
                root,
            ));
        }
        Ok(condition)
    }
}

/// The links of each practice example in `ids`, in position order; one query for all.
async fn links_of<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Link>>> {
    let mut out: HashMap<Uuid, Vec<Link>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = practice_example_link::Entity::find()
        .filter(practice_example_link::Column::PracticeExampleId.is_in(ids.iter().copied()))
        .order_by_asc(practice_example_link::Column::PracticeExampleId)
        .order_by_asc(practice_example_link::Column::Position)
        .all(conn)
        .await
        .map_err(map_db_err)?;
    for link in rows {
        out.entry(link.practice_example_id).or_default().push(Link {
            title: link.title,
            url: link.url,
        });
    }
    Ok(out)
}
