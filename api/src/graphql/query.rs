//! The root query: a connection per collection (REST's collections, and the sub-collections
//! goals, memberships, reports and transfers, filtered by their parent), look-ups by natural
//! key, `node`/`nodes`, `stats` and the change feed (`changes`). Each field is one call
//! into the service.
//!
//! Relations between types (a network's goals, a region's children) are fields of the
//! types themselves, resolved in batches ([`super::relations`]); mutations are
//! [`super::mutation`], subscriptions [`super::changes`].

use async_graphql::{Context, Enum, InputObject, MergedObject, Object};
use chrono::{DateTime, Utc};

use crate::dto::*;
use crate::error::Error;
use crate::graphql::changes::ChangesQuery;
use crate::graphql::connection::{Page, Paging, list};
use crate::graphql::error::{Resolved, renamed};
use crate::graphql::limits::connection_cost;
use crate::graphql::node::NodeQuery;
use crate::service::resource::{PageRequest, Sort};
use crate::service::stats::{self, Counted, GroupBy, Stats};
use crate::service::{
    self, Actor, Assignments, Goals, Initiatives, Lessons, Memberships, Networks, Organizations,
    PracticeExamples, Programmes, Regions, Reports, Themes, Transfers,
};
use crate::state::AppState;

/// The root query type.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    NodeQuery,
    KeyQuery,
    StatsQuery,
    ChangesQuery,
    RegionsQuery,
    OrganizationsQuery,
    ThemesQuery,
    NetworksQuery,
    GoalsQuery,
    MembershipsQuery,
    ReportsQuery,
    PracticeExamplesQuery,
    InitiativesQuery,
    LessonsQuery,
    TransfersQuery,
    ProgrammesQuery,
    AssignmentsQuery,
);

/// Ascending or descending.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Smallest first (oldest, A to Z).
    #[default]
    Asc,
    /// Largest first (newest, Z to A).
    Desc,
}

/// Whether `names` are the fields `sorted` declares, in its order (for the check below).
const fn declared<C>(sorted: &[(&str, C)], names: &[&str]) -> bool {
    if sorted.len() != names.len() {
        return false;
    }
    let mut i = 0;
    while i < names.len() {
        let (a, b) = (sorted[i].0.as_bytes(), names[i].as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut j = 0;
        while j < a.len() {
            if a[j] != b[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Declares a collection's `orderBy` input: a field (`CREATED_AT`, `UPDATED_AT`, and the
/// fields the resource declares in [`crate::service::Resource::SORTED_BY`], which the code
/// does not compile without) and a direction; ties are broken by id.
macro_rules! order {
    ($Order:ident, $Field:ident, $R:ty $(, $Variant:ident = $name:literal)?) => {
        const _: () = assert!(
            declared(<$R as service::Resource>::SORTED_BY, &[$($name)?]),
            concat!(stringify!($Field), " must offer the fields ", stringify!($R), "::SORTED_BY declares")
        );

        #[doc = "A field a list can be ordered by."]
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $Field {
            /// When it was created (the default).
            CreatedAt,
            /// When it last changed.
            UpdatedAt,
            $(
                #[doc = concat!("Its ", $name, ".")]
                $Variant,
            )?
        }

        #[doc = "The order of a list."]
        #[derive(InputObject, Debug, Clone)]
        pub struct $Order {
            /// The field.
            pub field: $Field,
            /// The direction (ascending by default).
            #[graphql(default)]
            pub direction: OrderDirection,
        }

        impl From<$Order> for Sort {
            fn from(order: $Order) -> Sort {
                Sort {
                    field: match order.field {
                        $Field::CreatedAt => "createdAt",
                        $Field::UpdatedAt => "updatedAt",
                        $($Field::$Variant => $name,)?
                    }
                    .to_owned(),
                    descending: order.direction == OrderDirection::Desc,
                }
            }
        }
    };
}

order!(RegionOrder, RegionOrderField, Regions, Name = "name");
order!(
    OrganizationOrder,
    OrganizationOrderField,
    Organizations,
    Name = "name"
);
order!(ThemeOrder, ThemeOrderField, Themes, Name = "name");
order!(NetworkOrder, NetworkOrderField, Networks, Name = "name");
order!(GoalOrder, GoalOrderField, Goals, Title = "title");
order!(MembershipOrder, MembershipOrderField, Memberships);
order!(ReportOrder, ReportOrderField, Reports, Title = "title");
order!(
    PracticeExampleOrder,
    PracticeExampleOrderField,
    PracticeExamples,
    Title = "title"
);
order!(
    InitiativeOrder,
    InitiativeOrderField,
    Initiatives,
    Title = "title"
);
order!(LessonOrder, LessonOrderField, Lessons, Title = "title");
order!(TransferOrder, TransferOrderField, Transfers);
order!(
    ProgrammeOrder,
    ProgrammeOrderField,
    Programmes,
    Name = "name"
);
order!(
    AssignmentOrder,
    AssignmentOrderField,
    Assignments,
    Title = "title"
);

/// Declares a collection's root connection: Relay paging, the collection's REST filter as
/// `filter`, `orderBy`, `search` and `updatedSince`.
macro_rules! collection {
    ($Query:ident, $field:ident, $R:ty, $Dto:ty, $Order:ty, $what:literal $(, filter: $Filter:ty)?) => {
        #[doc = concat!("The `", stringify!($field), "` connection.")]
        #[derive(Default)]
        pub struct $Query;

        #[Object]
        impl $Query {
            #[doc = concat!(
                "A page of ", $what, ", oldest first unless ordered otherwise: `first` (1 to 500, ",
                "default 50) after the cursor `after`, or `last` before `before`; under `filter`, ",
                "a full-text `search` (REST's `q`) and `updatedSince`, exactly as REST's list."
            )]
            #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
            #[expect(clippy::too_many_arguments, reason = "Relay's paging arguments, and a list's own")]
            async fn $field(
                &self,
                ctx: &Context<'_>,
                #[graphql(desc = "At most this many, from the start (or after `after`).")]
                first: Option<i32>,
                #[graphql(desc = "After the row of this cursor (an edge's cursor, `endCursor`, or REST's `nextCursor`).")]
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
            ) -> async_graphql::Result<Page<$Dto>> {
                let rows: <$R as service::Resource>::Filter = filter_of!($(filter, $Filter)?);
                let paging = Paging { first, after, last, before, search, updated_since };
                list::<$R>(ctx, rows, order_by.map(Sort::from).unwrap_or_default(), paging).await
            }
        }
    };
}

collection!(RegionsQuery, regions, Regions, Region, RegionOrder, "regions", filter: RegionFilter);
collection!(OrganizationsQuery, organizations, Organizations, Organization, OrganizationOrder, "organizations", filter: OrganizationFilter);
collection!(ThemesQuery, themes, Themes, Theme, ThemeOrder, "themes");
collection!(NetworksQuery, networks, Networks, Network, NetworkOrder, "networks", filter: NetworkFilter);
collection!(GoalsQuery, goals, Goals, Goal, GoalOrder, "networks' goals", filter: NetworkChildFilter);
collection!(MembershipsQuery, memberships, Memberships, Membership, MembershipOrder, "networks' members", filter: NetworkChildFilter);
collection!(ReportsQuery, reports, Reports, Report, ReportOrder, "networks' reports", filter: NetworkChildFilter);
collection!(PracticeExamplesQuery, practice_examples, PracticeExamples, PracticeExample, PracticeExampleOrder, "practice examples", filter: PracticeExampleFilter);
collection!(InitiativesQuery, initiatives, Initiatives, Initiative, InitiativeOrder, "initiatives", filter: InitiativeFilter);
collection!(LessonsQuery, lessons, Lessons, Lesson, LessonOrder, "lessons", filter: LessonFilter);
collection!(TransfersQuery, transfers, Transfers, Transfer, TransferOrder, "lessons' transfers", filter: TransferFilter);
collection!(ProgrammesQuery, programmes, Programmes, Programme, ProgrammeOrder, "programmes", filter: ProgrammeFilter);
collection!(AssignmentsQuery, assignments, Assignments, Assignment, AssignmentOrder, "student assignments", filter: AssignmentFilter);

/// Look-ups by natural key.
#[derive(Default)]
pub struct KeyQuery;

/// The resource with natural key `key`, or null when there is none the caller may see.
async fn by_key<R: service::Resource>(
    ctx: &Context<'_>,
    key: &str,
) -> async_graphql::Result<Option<R::Dto>> {
    let state = ctx.data::<AppState>()?;
    match service::get_by_key::<R>(&state.db, ctx.data::<Actor>()?, key).await {
        Ok(dto) => Ok(Some(dto)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(other) => Err(other).resolved(),
    }
}

#[Object]
impl KeyQuery {
    /// The region with this CBS code (`GM0114`); null when there is none.
    async fn region(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<Option<Region>> {
        by_key::<Regions>(ctx, &code).await
    }

    /// The network with this slug (`legro`); null when there is none.
    async fn network(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Network>> {
        by_key::<Networks>(ctx, &slug).await
    }

    /// The theme with this slug (`voeding`); null when there is none.
    async fn theme(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Theme>> {
        by_key::<Themes>(ctx, &slug).await
    }

    /// The practice example with this slug; null when there is none the caller may see
    /// (another partner's draft is none).
    async fn practice_example(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<PracticeExample>> {
        by_key::<PracticeExamples>(ctx, &slug).await
    }
}

/// What to count by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsGroupBy {
    /// The region at `regionLevel` that a row's own region lies in.
    Region,
    /// The theme.
    Theme,
    /// The year.
    Year,
}

/// What to count assignments by (they have no themes).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStatsGroupBy {
    /// The region at `regionLevel` that a row's own region lies in.
    Region,
    /// The year.
    Year,
}

impl StatsGroupBy {
    fn with(self, level: Option<RegionKind>) -> GroupBy {
        match self {
            StatsGroupBy::Region => GroupBy::Region(level.unwrap_or(RegionKind::Municipality)),
            StatsGroupBy::Theme => GroupBy::Theme,
            StatsGroupBy::Year => GroupBy::Year,
        }
    }
}

impl From<AssignmentStatsGroupBy> for StatsGroupBy {
    fn from(group_by: AssignmentStatsGroupBy) -> Self {
        match group_by {
            AssignmentStatsGroupBy::Region => StatsGroupBy::Region,
            AssignmentStatsGroupBy::Year => StatsGroupBy::Year,
        }
    }
}

/// `stats`: counts for dashboards, as REST's `/api/v1/stats/{collection}`.
#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// Counts per region (at a level of the tree), theme or year, under the same filters as
    /// the lists: REST's `/api/v1/stats/{collection}`.
    async fn stats(&self) -> StatsCollections {
        StatsCollections
    }
}

/// The collections dashboards count.
pub struct StatsCollections;

/// The counts of `R` under `filter`, `search` and `updatedSince`, per group.
async fn counted<R: Counted>(
    ctx: &Context<'_>,
    filter: R::Filter,
    group_by: GroupBy,
    search: Option<String>,
    updated_since: Option<DateTime<Utc>>,
) -> async_graphql::Result<Stats> {
    let state = ctx.data::<AppState>()?;
    let page = PageRequest {
        q: search,
        updated_since,
        ..PageRequest::default()
    };
    let result = stats::stats_cached::<R>(
        &state.db,
        &state.cache,
        ctx.data::<Actor>()?,
        &filter,
        &page,
        group_by,
    )
    .await
    .map_err(|e| {
        renamed(
            e,
            &[
                ("q", "search"),
                ("updatedSince", "updatedSince"),
                ("groupBy", "groupBy"),
                ("regionLevel", "regionLevel"),
            ],
        )
    })
    .resolved()?;
    Ok(Stats::clone(&result.value))
}

/// Declares a collection's stats field.
macro_rules! stats_fields {
    ($($field:ident: $R:ty, $Filter:ty, $GroupBy:ty, $what:literal;)+) => {
        #[Object]
        impl StatsCollections {
            $(
                #[doc = concat!("Counts of ", $what, ".")]
                async fn $field(
                    &self,
                    ctx: &Context<'_>,
                    #[graphql(desc = "What to count by.")]
                    group_by: $GroupBy,
                    #[graphql(desc = "For REGION: the level of the region tree (default MUNICIPALITY).")]
                    region_level: Option<RegionKind>,
                    #[graphql(desc = "Only rows that match every field given, as in the list.")]
                    filter: Option<$Filter>,
                    #[graphql(desc = "Full-text search, as in the list.")]
                    search: Option<String>,
                    #[graphql(desc = "Only rows changed at or after this time.")]
                    updated_since: Option<DateTime<Utc>>,
                ) -> async_graphql::Result<Stats> {
                    let group_by = StatsGroupBy::from(group_by).with(region_level);
                    counted::<$R>(ctx, filter.unwrap_or_default(), group_by, search, updated_since).await
                }
            )+
        }
    };
}

stats_fields! {
    networks: Networks, NetworkFilter, StatsGroupBy, "networks";
    practice_examples: PracticeExamples, PracticeExampleFilter, StatsGroupBy, "practice examples";
    initiatives: Initiatives, InitiativeFilter, StatsGroupBy, "initiatives (and the residents they reached)";
    assignments: Assignments, AssignmentFilter, AssignmentStatsGroupBy, "student assignments";
    lessons: Lessons, LessonFilter, StatsGroupBy, "lessons";
}
