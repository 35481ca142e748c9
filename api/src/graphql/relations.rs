//! Relations between the types, both ways: a network's regions, themes, goals and
//! practice examples, a region's parent, children and what lies in its subtree, an
//! assignment's programmes, and so on. Each is read through a [`DataLoader`] that gathers
//! the keys of every object at one level of the answer and reads them together: a related
//! object by id ([`related::get_many`]), a connection's page per parent
//! ([`related::pages_per_parent`], one statement for all parents). So the
//! number of statements a query runs depends on its shape, never on how many rows it meets.
//!
//! Nested connections have the root connections' arguments (`first`/`after`,
//! `last`/`before`, `filter`, `orderBy`, `search`, `updatedSince`), apply the same rules
//! (what the caller may see, drafts, filters), and cost the same in the complexity limit.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, ErrorExtensions, ID, OutputType};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::dto::*;
use crate::error::Error;
use crate::graphql::connection::{Asked, Listed, Page, Paging, TotalCount};
use crate::graphql::limits::connection_cost;
use crate::graphql::node::global_id;
use crate::graphql::query::*;
use crate::service::db::carried;
use crate::service::related::{self, Via};
use crate::service::resource::Sort;
use crate::service::{
    self, Actor, Assignments, Goals, Initiatives, Lessons, Memberships, Networks, Organizations,
    PracticeExamples, Programmes, Regions, Reports, Resource, Themes, Transfers,
};
use crate::state::AppState;

/// The most keys one batched read takes; a larger level of an answer is read in several.
const MAX_BATCH: usize = 5_000;

/// A request's loaders: what it reads for it, as its caller.
pub struct Loaders {
    state: AppState,
    actor: Actor,
}

/// The loaders of one request by `actor`.
pub fn loaders(state: &AppState, actor: &Actor) -> Arc<DataLoader<Loaders>> {
    Arc::new(
        DataLoader::new(
            Loaders {
                state: state.clone(),
                actor: actor.clone(),
            },
            |work| tokio::spawn(carried(work)),
        )
        .max_batch_size(MAX_BATCH)
        .delay(state.config.graphql_batch_delay.into()),
    )
}

/// The row of `R` with this id.
pub struct ById<R>(Uuid, PhantomData<fn() -> R>);

impl<R> Clone for ById<R> {
    fn clone(&self) -> Self {
        Self(self.0, PhantomData)
    }
}

impl<R> PartialEq for ById<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<R> Eq for ById<R> {}

impl<R> Hash for ById<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// What one connection field asks for: how its rows belong to their parent, the filter
/// and the page. Its `key` (all of them as text) tells equal requests apart.
pub struct Asking<R: Resource> {
    via: Via,
    filter: R::Filter,
    request: service::PageRequest,
    key: String,
}

/// The page of `R` a connection field asks for under one parent.
pub struct PerParent<R: Resource> {
    asking: Arc<Asking<R>>,
    parent: Uuid,
}

impl<R: Resource> Clone for PerParent<R> {
    fn clone(&self) -> Self {
        Self {
            asking: Arc::clone(&self.asking),
            parent: self.parent,
        }
    }
}

impl<R: Resource> PartialEq for PerParent<R> {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.asking.key == other.asking.key
    }
}

impl<R: Resource> Eq for PerParent<R> {}

impl<R: Resource> Hash for PerParent<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.asking.key.hash(state);
    }
}

/// The keys of a batch by the field that asked for them (its filter and page), each with
/// its parents: one read per field, for all of its parents.
fn by_field<'a, R: Resource + 'a>(
    keys: impl IntoIterator<Item = &'a PerParent<R>>,
) -> Vec<(Arc<Asking<R>>, Vec<Uuid>)> {
    let mut asked: Vec<(Arc<Asking<R>>, Vec<Uuid>)> = Vec::new();
    for key in keys {
        match asked.iter_mut().find(|(a, _)| a.key == key.asking.key) {
            Some((_, parents)) => parents.push(key.parent),
            None => asked.push((Arc::clone(&key.asking), vec![key.parent])),
        }
    }
    asked
}

impl<R: Resource> Loader<ById<R>> for Loaders
where
    R::Dto: Clone,
{
    type Value = R::Dto;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ById<R>]) -> Result<HashMap<ById<R>, R::Dto>, Arc<Error>> {
        let ids = keys.iter().map(|k| k.0).collect::<Vec<_>>();
        let found = related::get_many::<R>(&self.state.db, &self.actor, &ids)
            .await
            .map_err(Arc::new)?;
        Ok(found
            .into_iter()
            .map(|(id, dto)| (ById(id, PhantomData), dto))
            .collect())
    }
}

impl<R: Resource> Loader<PerParent<R>> for Loaders
where
    R::Dto: Clone,
{
    /// Each field's own answer: a field whose arguments the service refuses fails alone,
    /// not the other fields read in the same batch.
    type Value = Result<service::Page<R::Dto>, Arc<Error>>;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[PerParent<R>],
    ) -> Result<HashMap<PerParent<R>, Self::Value>, Arc<Error>> {
        let asked = by_field(keys);
        let mut answers = HashMap::with_capacity(keys.len());
        for (asking, parents) in asked {
            let pages = related::pages_per_parent::<R>(
                &self.state.db,
                &self.actor,
                asking.via,
                &parents,
                &asking.filter,
                asking.request.clone(),
            )
            .await;
            let key = |parent| PerParent {
                asking: Arc::clone(&asking),
                parent,
            };
            match pages {
                Ok(pages) => answers.extend(pages.into_iter().map(|(p, page)| (key(p), Ok(page)))),
                Err(error) => {
                    let error = Arc::new(error);
                    answers.extend(parents.iter().map(|p| (key(*p), Err(Arc::clone(&error)))));
                }
            }
        }
        Ok(answers)
    }
}

/// The number of rows of `R` a connection field matches under one parent (on all pages).
pub struct CountOf<R: Resource>(PerParent<R>);

impl<R: Resource> Clone for CountOf<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<R: Resource> PartialEq for CountOf<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<R: Resource> Eq for CountOf<R> {}

impl<R: Resource> Hash for CountOf<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<R: Resource> Loader<CountOf<R>> for Loaders {
    /// Each field's own answer, as [`PerParent`]'s.
    type Value = Result<u64, Arc<Error>>;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[CountOf<R>],
    ) -> Result<HashMap<CountOf<R>, Self::Value>, Arc<Error>> {
        let asked = by_field(keys.iter().map(|CountOf(key)| key));
        let mut answers = HashMap::with_capacity(keys.len());
        for (asking, parents) in asked {
            let counts = related::counts_per_parent::<R>(
                &self.state.db,
                &self.actor,
                asking.via,
                &parents,
                &asking.filter,
                asking.request.clone(),
            )
            .await;
            let key = |parent| {
                CountOf(PerParent {
                    asking: Arc::clone(&asking),
                    parent,
                })
            };
            match counts {
                Ok(counts) => answers.extend(counts.into_iter().map(|(p, n)| (key(p), Ok(n)))),
                Err(error) => {
                    let error = Arc::new(error);
                    answers.extend(parents.iter().map(|p| (key(*p), Err(Arc::clone(&error)))));
                }
            }
        }
        Ok(answers)
    }
}

/// The object of `R` with id `id`, if there is one and the caller may see it.
async fn one<R: Resource>(
    ctx: &Context<'_>,
    id: Option<Uuid>,
) -> async_graphql::Result<Option<R::Dto>>
where
    R::Dto: Clone,
{
    let Some(id) = id else {
        return Ok(None);
    };
    ctx.data::<Arc<DataLoader<Loaders>>>()?
        .load_one(ById::<R>(id, PhantomData))
        .await
        .map_err(|e| e.extend())
}

/// The connection of `R` under the parent `parent`, through `via`.
async fn many<R>(
    ctx: &Context<'_>,
    parent: Uuid,
    via: Via,
    filter: R::Filter,
    sort: Sort,
    paging: Paging,
) -> async_graphql::Result<Page<R::Dto>>
where
    R: Resource,
    R::Dto: OutputType + Clone + Listed + 'static,
{
    let asked = Asked::new::<R>(sort, paging).map_err(|e| e.extend())?;
    let request = asked.request.clone();
    let key = format!("{via:?}|{filter:?}|{request:?}");
    let asking = Arc::new(Asking::<R> {
        via,
        filter,
        request,
        key,
    });
    let loader = Arc::clone(ctx.data::<Arc<DataLoader<Loaders>>>()?);
    let key = PerParent { asking, parent };
    let page = loader
        .load_one(key.clone())
        .await
        .and_then(Option::transpose)
        .map_err(|e| asked.error(&e))?
        .unwrap_or(service::Page {
            items: Vec::new(),
            next: None,
        });
    let total = TotalCount::new(Arc::new(move || {
        let (loader, key) = (Arc::clone(&loader), CountOf(key.clone()));
        Box::pin(async move {
            loader
                .load_one(key)
                .await
                .and_then(Option::transpose)
                .map(Option::unwrap_or_default)
                .map_err(|e| e.extend())
        })
    }));
    Ok(asked.connection::<R>(&page, total))
}

/// The rows whose column `row` names a region in the parent region's subtree.
const fn subtree(row: &'static str) -> Via {
    Via::Link {
        table: "region_closure",
        parent: "ancestor_id",
        link: "descendant_id",
        row,
    }
}

/// The rows a link table pairs with the parent: `table` holds `parent` (the parent's id)
/// and `link` (the row's id).
const fn linked(table: &'static str, parent: &'static str, link: &'static str) -> Via {
    Via::Link {
        table,
        parent,
        link,
        row: "id",
    }
}

/// Declares each type's `id` and its relations: `one` a related object by the id a field
/// holds, `many` a connection of rows belonging to it `via` a column or link table (with
/// the related collection's filter, if it has one).
macro_rules! relations {
    ($(
        $Dto:ident {
            $(one $one:ident($one_doc:literal): $OneR:ty = $id:ident;)*
            $(many $many:ident $(as $name:literal)? ($many_doc:literal): $ManyDto:ident = $ManyR:ty, $Order:ty, [$via:expr] $(, $Filter:ty)?;)*
        }
    )+) => {
        $(
            #[ComplexObject]
            impl $Dto {
                /// The global id: opaque, naming the type and the row (for `node(id:)`).
                pub async fn id(&self) -> ID {
                    global_id(stringify!($Dto), self.meta.id)
                }

                $(
                    #[doc = $one_doc]
                    async fn $one(
                        &self,
                        ctx: &Context<'_>,
                    ) -> async_graphql::Result<Option<<$OneR as Resource>::Dto>> {
                        one::<$OneR>(ctx, self.$id.into()).await
                    }
                )*

                $(
                    #[doc = concat!(
                        $many_doc, " A page, oldest first unless ordered otherwise: `first` ",
                        "(1 to 500, default 50) after `after`, or `last` before `before`; ",
                        "with the collection's own `filter`, `orderBy`, `search` and `updatedSince`."
                    )]
                    #[graphql(complexity = "connection_cost(first, last, child_complexity)" $(, name = $name)?)]
                    #[expect(clippy::too_many_arguments, reason = "Relay's paging arguments, and a list's own")]
                    async fn $many(
                        &self,
                        ctx: &Context<'_>,
                        #[graphql(desc = "At most this many, from the start (or after `after`).")]
                        first: Option<i32>,
                        #[graphql(desc = "After the row of this cursor.")]
                        after: Option<String>,
                        #[graphql(desc = "At most this many, from the end (or before `before`).")]
                        last: Option<i32>,
                        #[graphql(desc = "Before the row of this cursor.")]
                        before: Option<String>,
                        $(
                            #[graphql(desc = "Only rows that match every field given.")]
                            filter: Option<$Filter>,
                        )?
                        #[graphql(desc = "The order; ties go by id.")]
                        order_by: Option<$Order>,
                        #[graphql(desc = "Full-text search in the collection's text fields.")]
                        search: Option<String>,
                        #[graphql(desc = "Only rows changed at or after this time.")]
                        updated_since: Option<DateTime<Utc>>,
                    ) -> async_graphql::Result<Page<$ManyDto>> {
                        let rows: <$ManyR as Resource>::Filter = filter_of!($(filter, $Filter)?);
                        let paging = Paging { first, after, last, before, search, updated_since };
                        let sort = order_by.map(Sort::from).unwrap_or_default();
                        many::<$ManyR>(ctx, self.meta.id, $via, rows, sort, paging).await
                    }
                )*
            }
        )+
    };
}

relations! {
    Region {
        one parent("The region it lies in (a municipality's province)."): Regions = parent_id;
        many children("The regions directly below it."): Region = Regions, RegionOrder, [Via::Column("parent_id")], RegionFilter;
        many networks("The networks with it among their regions (in any role)."): Network = Networks, NetworkOrder, [linked("network_regions", "region_id", "network_id")], NetworkFilter;
        many organizations("The organizations in it or in a region below it."): Organization = Organizations, OrganizationOrder, [subtree("region_id")], OrganizationFilter;
        many practice_examples("The practice examples in it or in a region below it, as REST's `region` filter."): PracticeExample = PracticeExamples, PracticeExampleOrder, [subtree("region_id")], PracticeExampleFilter;
        many initiatives("The initiatives in it or in a region below it."): Initiative = Initiatives, InitiativeOrder, [subtree("region_id")], InitiativeFilter;
        many lessons("The lessons learned in it or in a region below it."): Lesson = Lessons, LessonOrder, [subtree("origin_region_id")], LessonFilter;
        many assignments("The student assignments in it or in a region below it."): Assignment = Assignments, AssignmentOrder, [subtree("region_id")], AssignmentFilter;
    }
    Organization {
        one region("The region it is in."): Regions = region_id;
        many programmes("The education programmes it offers."): Programme = Programmes, ProgrammeOrder, [Via::Column("organization_id")], ProgrammeFilter;
        many memberships("Its memberships of networks."): Membership = Memberships, MembershipOrder, [Via::Column("organization_id")];
    }
    Theme {
        many networks("The networks working on it."): Network = Networks, NetworkOrder, [linked("network_themes", "theme_id", "network_id")], NetworkFilter;
        many practice_examples("The practice examples about it."): PracticeExample = PracticeExamples, PracticeExampleOrder, [linked("practice_example_themes", "theme_id", "practice_example_id")], PracticeExampleFilter;
        many initiatives("The initiatives about it."): Initiative = Initiatives, InitiativeOrder, [linked("initiative_themes", "theme_id", "initiative_id")], InitiativeFilter;
        many lessons("The lessons learned about it."): Lesson = Lessons, LessonOrder, [linked("lesson_themes", "theme_id", "lesson_id")], LessonFilter;
    }
    Network {
        one funder("The organization funding it."): Organizations = funder_id;
        one lead_organization("The organization responsible for it."): Organizations = lead_organization_id;
        one parent_network("The network it belongs to."): Networks = parent_network_id;
        many child_networks("The networks that belong to it."): Network = Networks, NetworkOrder, [Via::Column("parent_network_id")], NetworkFilter;
        many theme_list as "themes" ("Its themes."): Theme = Themes, ThemeOrder, [linked("network_themes", "network_id", "theme_id")];
        many goals("Its goals."): Goal = Goals, GoalOrder, [Via::Column("network_id")];
        many memberships("Its member organizations, with their role."): Membership = Memberships, MembershipOrder, [Via::Column("network_id")];
        many reports("Its reports."): Report = Reports, ReportOrder, [Via::Column("network_id")];
        many practice_examples("Its practice examples."): PracticeExample = PracticeExamples, PracticeExampleOrder, [Via::Column("network_id")], PracticeExampleFilter;
        many initiatives("Its resident initiatives."): Initiative = Initiatives, InitiativeOrder, [Via::Column("network_id")], InitiativeFilter;
        many lessons("Its lessons learned."): Lesson = Lessons, LessonOrder, [Via::Column("network_id")], LessonFilter;
        many assignments("Its student assignments."): Assignment = Assignments, AssignmentOrder, [Via::Column("network_id")], AssignmentFilter;
    }
    Goal {
        one network("The network whose goal it is."): Networks = network_id;
    }
    Membership {
        one network("The network."): Networks = network_id;
        one organization("The member organization."): Organizations = organization_id;
    }
    Report {
        one network("The network reported on."): Networks = network_id;
    }
    PracticeExample {
        one region("The region it took place in."): Regions = region_id;
        one network("The network it came from."): Networks = network_id;
        many theme_list as "themes" ("Its themes."): Theme = Themes, ThemeOrder, [linked("practice_example_themes", "practice_example_id", "theme_id")];
    }
    Initiative {
        one region("The region it works in."): Regions = region_id;
        one network("The network it belongs to."): Networks = network_id;
        many theme_list as "themes" ("Its themes."): Theme = Themes, ThemeOrder, [linked("initiative_themes", "initiative_id", "theme_id")];
        many assignments("The student assignments for it."): Assignment = Assignments, AssignmentOrder, [Via::Column("initiative_id")], AssignmentFilter;
    }
    Lesson {
        one network("The network that learned it."): Networks = network_id;
        one origin_region("The region it was learned in."): Regions = origin_region_id;
        many theme_list as "themes" ("Its themes."): Theme = Themes, ThemeOrder, [linked("lesson_themes", "lesson_id", "theme_id")];
        many transfers("Where it was taken to, region by region."): Transfer = Transfers, TransferOrder, [Via::Column("lesson_id")];
    }
    Transfer {
        one lesson("The lesson taken over."): Lessons = lesson_id;
        one region("The region that took it over."): Regions = region_id;
    }
    Programme {
        one organization("The organization offering it."): Organizations = organization_id;
        many assignments("The student assignments meant for it."): Assignment = Assignments, AssignmentOrder, [linked("assignment_programmes", "programme_id", "assignment_id")], AssignmentFilter;
    }
    Assignment {
        one network("The network offering it."): Networks = network_id;
        one initiative("The initiative it is for."): Initiatives = initiative_id;
        one region("The region it takes place in."): Regions = region_id;
        one host_organization("The organization hosting the students."): Organizations = host_organization_id;
        many programmes("The education programmes it is meant for."): Programme = Programmes, ProgrammeOrder, [linked("assignment_programmes", "assignment_id", "programme_id")];
    }
}

#[ComplexObject]
impl NetworkRegion {
    /// The region.
    async fn region(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Region>> {
        one::<Regions>(ctx, Some(self.region_id)).await
    }
}
