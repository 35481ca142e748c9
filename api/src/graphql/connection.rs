//! Relay connections over the service's keyset pages: `first`/`after` page forwards and
//! `last`/`before` backwards, `filter` is the collection's REST filter, `orderBy` its sort,
//! `search` REST's `q` and `updatedSince` the same. Every page is one call of
//! [`service::list_cached`] (so GraphQL and REST share the read cache), which decides what
//! the caller sees; nothing here adds a rule.
//!
//! Cursors are REST's (`crate::dto::cursor`): a `nextCursor` may be passed as `after` and an
//! `endCursor` as `cursor`. A backward page is the service's forward page in the opposite
//! order, after the `before` row, turned round. `pageInfo.hasNextPage` is known when paging
//! forwards and `hasPreviousPage` when paging backwards; the other is `true` when the page
//! starts from a cursor (the cursor's row lies on that side) and `false` otherwise.
//! `totalCount` is every row the connection's filter, search and `updatedSince` match, on
//! all pages: counted by its own statement, and only when the query asks for it.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ErrorExtensions, Object, OutputType};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::dto::cursor;
use crate::error::Error;
use crate::graphql::error::{Resolved, renamed};
use crate::graphql::limits::DEFAULT_PAGE;
use crate::service::resource::{After, MAX_PAGE_SIZE, PageRequest, Sort};
use crate::service::{self, Actor, Resource};
use crate::state::AppState;

/// A connection of `T`, its cursors REST's, with its `totalCount`.
pub type Page<T> = Connection<String, T, TotalCount>;

/// How a connection counts its rows when asked.
type Counter =
    Arc<dyn Fn() -> BoxFuture<'static, async_graphql::Result<u64>> + Send + Sync + 'static>;

/// A connection's `totalCount`, counted only when a query selects it.
pub struct TotalCount(Counter);

impl TotalCount {
    /// The count `counter` makes.
    pub fn new(counter: Counter) -> Self {
        Self(counter)
    }
}

#[Object]
impl TotalCount {
    /// How many rows match the connection's filter, search and `updatedSince`, on all its
    /// pages (read by a statement of its own: select it only when needed).
    async fn total_count(&self) -> async_graphql::Result<u64> {
        (self.0)().await
    }
}

/// What a row is listed by: its id and its value of the sort field, from which its cursor
/// is made exactly as the service makes the cursor of a page's last row.
pub trait Listed {
    /// The row's id.
    fn row_id(&self) -> Uuid;
    /// The value of `field` (`updatedAt`, `name`, `title`) the row is sorted by, as the
    /// service compares it; `None` for `createdAt`, whose key is the id.
    fn sort_key(&self, field: &str) -> Option<String>;
}

/// A time as a sort key: RFC 3339 with microseconds, as the service writes one.
pub fn time_key(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The paging arguments of a connection field.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    /// Forwards: at most this many rows.
    pub first: Option<i32>,
    /// Forwards: after the row of this cursor.
    pub after: Option<String>,
    /// Backwards: at most this many rows.
    pub last: Option<i32>,
    /// Backwards: before the row of this cursor.
    pub before: Option<String>,
    /// Full-text search (REST's `q`).
    pub search: Option<String>,
    /// Only rows changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
}

/// A connection's page as the service asks for it, with what is needed to turn the
/// service's page into the connection.
pub struct Asked {
    /// The service's page request (a backward page is a forward one in the other order).
    pub request: PageRequest,
    /// Paging backwards (`last`/`before`).
    backward: bool,
    /// The order the caller asked for.
    sort: Sort,
    /// How the service's parameter names are named here (`limit` is `first`, ...).
    names: [(&'static str, &'static str); 5],
}

impl Asked {
    /// Reads the paging arguments of a connection of `R`, refusing what cannot be a page.
    pub fn new<R: Resource>(sort: Sort, paging: Paging) -> Result<Self, Error> {
        let backward = paging.last.is_some() || paging.before.is_some();
        if backward && (paging.first.is_some() || paging.after.is_some()) {
            return Err(Error::invalid(
                "last",
                "page forwards (first, after) or backwards (last, before), not both at once",
            ));
        }
        let (size_name, cursor_name) = if backward {
            ("last", "before")
        } else {
            ("first", "after")
        };
        let names = [
            ("limit", size_name),
            ("cursor", cursor_name),
            ("q", "search"),
            ("sort", "orderBy"),
            ("updatedSince", "updatedSince"),
        ];
        let size = if backward { paging.last } else { paging.first }.unwrap_or(DEFAULT_PAGE);
        // The service refuses a size outside 1 to 500 (naming it); a negative one cannot
        // reach it as a count, so it is refused here in the same words.
        let Ok(limit) = u64::try_from(size) else {
            return Err(Error::invalid(
                size_name,
                format!("must be between 1 and {MAX_PAGE_SIZE}, got {size}"),
            ));
        };
        let cursor = if backward {
            paging.before
        } else {
            paging.after
        };
        let after = cursor
            .map(|c| cursor::decode(R::TYPE, &sort, &c))
            .transpose()
            .map_err(|e| renamed(e, &names))?;
        let request = PageRequest {
            limit,
            after,
            sort: Sort {
                field: sort.field.clone(),
                descending: sort.descending != backward,
            },
            updated_since: paging.updated_since,
            q: paging.search,
        };
        Ok(Self {
            request,
            backward,
            sort,
            names,
        })
    }

    /// A service error with the page's parameters named as this connection names them.
    pub fn error(&self, error: &Error) -> async_graphql::Error {
        match error {
            Error::Validation(params) => {
                renamed(Error::Validation(params.clone()), &self.names).extend()
            }
            other => other.extend(),
        }
    }

    /// The service's page of `R` as the connection, counting its rows with `total`.
    pub fn connection<R>(&self, page: &service::Page<R::Dto>, total: TotalCount) -> Page<R::Dto>
    where
        R: Resource,
        R::Dto: OutputType + Clone + Listed + 'static,
    {
        let backward = self.backward;
        let more = page.next.is_some();
        let mut items = page.items.clone();
        if backward {
            items.reverse();
        }
        // The row at the page's far end has the service's own cursor; the others are made
        // the same way from their fields.
        let far_end = if backward {
            0
        } else {
            items.len().saturating_sub(1)
        };
        // Beyond the cursor a page starts from lies at least the cursor's row.
        let from_cursor = self.request.after.is_some();
        let mut connection = Connection::with_additional_fields(
            if backward { more } else { from_cursor },
            if backward { from_cursor } else { more },
            total,
        );
        for (index, dto) in items.into_iter().enumerate() {
            let after = match &page.next {
                Some(next) if index == far_end => next.clone(),
                _ => After {
                    key: dto.sort_key(&self.sort.field),
                    id: dto.row_id(),
                },
            };
            connection
                .edges
                .push(Edge::new(cursor::encode(R::TYPE, &self.sort, &after), dto));
        }
        connection
    }
}

/// A page of `R` under `filter` in `sort` order, as a connection.
pub async fn list<R>(
    ctx: &Context<'_>,
    filter: R::Filter,
    sort: Sort,
    paging: Paging,
) -> async_graphql::Result<Page<R::Dto>>
where
    R: Resource,
    R::Dto: OutputType + Clone + Listed + 'static,
{
    let state = ctx.data::<AppState>()?;
    let actor = ctx.data::<Actor>()?;
    let asked = Asked::new::<R>(sort, paging).resolved()?;
    let result = service::list_cached::<R>(
        &state.db,
        &state.cache,
        actor,
        &filter,
        asked.request.clone(),
    )
    .await
    .map_err(|e| asked.error(&e))?;
    let (state, actor, request) = (state.clone(), actor.clone(), asked.request.clone());
    let total = TotalCount::new(Arc::new(move || {
        let (state, actor, filter, request) = (
            state.clone(),
            actor.clone(),
            filter.clone(),
            request.clone(),
        );
        Box::pin(async move {
            service::resource::count::<R>(&state.db, &actor, &filter, request)
                .await
                .map_err(|e| e.extend())
        })
    }));
    Ok(asked.connection::<R>(&result.value, total))
}

/// Implements [`Listed`] for DTOs: by the field each may be sorted by besides
/// `createdAt` and `updatedAt` (`name` or `title`), or by those two alone.
macro_rules! listed {
    ($($Dto:ty $(: $field:ident = $name:literal)?),+ $(,)?) => {
        $(
            impl Listed for $Dto {
                fn row_id(&self) -> Uuid {
                    self.meta.id
                }

                fn sort_key(&self, field: &str) -> Option<String> {
                    match field {
                        "updatedAt" => Some(time_key(&self.meta.updated_at)),
                        $($name => Some(self.$field.clone()),)?
                        _ => None,
                    }
                }
            }
        )+
    };
}

listed!(
    crate::dto::Region: name = "name",
    crate::dto::Organization: name = "name",
    crate::dto::Theme: name = "name",
    crate::dto::Network: name = "name",
    crate::dto::Programme: name = "name",
    crate::dto::Goal: title = "title",
    crate::dto::Report: title = "title",
    crate::dto::PracticeExample: title = "title",
    crate::dto::Initiative: title = "title",
    crate::dto::Lesson: title = "title",
    crate::dto::Assignment: title = "title",
    crate::dto::Membership,
    crate::dto::Transfer,
);
