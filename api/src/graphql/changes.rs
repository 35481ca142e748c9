//! The change feed in GraphQL: `changes(first:, after:, types:)`, a page of the feed as a
//! connection (REST's `GET /api/v1/changes`), and `Subscription.changes(types:, after:)`,
//! the same entries pushed over the websocket `/graphql/ws` as they commit. Both read
//! [`changes::read_feed`], which decides who may follow and what each follower sees; a
//! cursor of one is a cursor of the other and of REST's feed.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use crate::error::Error;
use crate::graphql::error::{Resolved, renamed};
use crate::graphql::limits::connection_cost;
use crate::graphql::node::global_id;
use crate::service::Actor;
use crate::service::changes::{self, FeedCursor, FeedEntry, MAX_FEED_PAGE};
use crate::state::AppState;

/// Declares the collections of the feed as a GraphQL enum, from the registry of
/// collections ([`crate::collections`]): each with its name in the feed (REST's `types`) and
/// its GraphQL type (of its global ids).
macro_rules! change_types {
    ($($R:ident => $Dto:ident;)+) => {
        /// A collection whose changes the feed carries.
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ChangeType {
            $(
                #[doc = concat!("Changes of ", stringify!($Dto), "s.")]
                $R,
            )+
        }

        impl ChangeType {
            /// Its name in the feed.
            pub fn wire(self) -> &'static str {
                match self {
                    $(ChangeType::$R => <crate::service::$R as crate::service::Resource>::TYPE,)+
                }
            }

            /// The collection of this name in the feed.
            pub fn from_wire(name: &str) -> Option<Self> {
                $(
                    if name == <crate::service::$R as crate::service::Resource>::TYPE {
                        return Some(ChangeType::$R);
                    }
                )+
                None
            }

            /// The GraphQL type of its resources.
            pub fn type_name(self) -> &'static str {
                match self {
                    $(ChangeType::$R => stringify!($Dto),)+
                }
            }
        }
    };
}

crate::collections!(change_types);

/// What a change did.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// Created or changed: `data` is the resource as it is after.
    Upsert,
    /// Deleted (or, for everyone but its owner, turned back into a draft): `data` is null.
    Delete,
}

/// One committed change, in feed order.
pub struct Change(FeedEntry);

#[Object]
impl Change {
    /// This entry's place in the feed: pass it as `after` to continue after it.
    async fn cursor(&self) -> String {
        self.0.cursor.token()
    }

    /// The collection.
    #[graphql(name = "type")]
    async fn resource_type(&self) -> Option<ChangeType> {
        ChangeType::from_wire(&self.0.resource_type)
    }

    /// The resource's row id (REST's `id`).
    async fn row_id(&self) -> Uuid {
        self.0.resource_id
    }

    /// The resource's global id, for `node(id:)`.
    async fn node_id(&self) -> Option<ID> {
        ChangeType::from_wire(&self.0.resource_type)
            .map(|t| global_id(t.type_name(), self.0.resource_id))
    }

    /// Upsert or delete.
    async fn op(&self) -> ChangeOp {
        if self.0.op == "delete" {
            ChangeOp::Delete
        } else {
            ChangeOp::Upsert
        }
    }

    /// The resource's version after the change.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When it was made.
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }

    /// The resource as a read returned it then, in REST's JSON (camelCase fields, row
    /// ids); null for a delete. Apply it without reading the resource again.
    async fn data(&self) -> Option<Json<serde_json::Value>> {
        self.0.data.clone().map(Json)
    }
}

/// What a page of the feed adds to a connection.
#[derive(SimpleObject)]
pub struct FeedPageFields {
    /// Where to continue: after the page's last entry, or where it began when it is empty.
    /// Poll with it, or subscribe with it as `after`.
    next_cursor: String,
}

/// A page of the change feed.
pub type ChangeConnection = Connection<String, Change, FeedPageFields>;

/// A feed cursor passed as `field`.
fn cursor(field: &str, text: &str) -> Result<FeedCursor, Error> {
    FeedCursor::from_token(text).ok_or_else(|| {
        Error::invalid(
            field,
            "is not a cursor of the change feed; pass a change's cursor or nextCursor as it is",
        )
    })
}

fn wire(types: Option<&[ChangeType]>) -> Vec<&'static str> {
    types.unwrap_or_default().iter().map(|t| t.wire()).collect()
}

/// `changes` at the root.
#[derive(Default)]
pub struct ChangesQuery;

#[Object]
impl ChangesQuery {
    /// The change feed: every committed change the caller may see, in commit order, each
    /// once (REST's `/api/v1/changes`; the scope `changes:read`). Page with `after` (a
    /// change's `cursor` or the page's `nextCursor`); without it, from the oldest change
    /// kept. A cursor older than the retention is refused with `gone`: read the
    /// collections again and follow from the newest cursor.
    #[graphql(complexity = "connection_cost(first, None, child_complexity)")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Entries in this page, 1 to 1000 (100 when not given).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only changes of these collections (all when not given).")] types: Option<
            Vec<ChangeType>,
        >,
    ) -> async_graphql::Result<ChangeConnection> {
        let (state, actor) = (ctx.data::<AppState>()?, ctx.data::<Actor>()?);
        let read = async {
            let after = after.as_deref().map(|a| cursor("after", a)).transpose()?;
            let first = first.unwrap_or(100);
            let limit = u64::try_from(first).map_err(|_| {
                Error::invalid(
                    "first",
                    format!("must be between 1 and {MAX_FEED_PAGE}, got {first}"),
                )
            })?;
            let types = wire(types.as_deref());
            let page = changes::read_feed(&state.db, actor, after, limit, &types)
                .await
                .map_err(|e| renamed(e, &[("limit", "first"), ("types", "types")]))?;
            Ok::<_, Error>((after, page))
        };
        let (after, page) = read.await.resolved()?;
        let next = page.entries.last().map_or(page.from, |e| e.cursor);
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            page.has_more,
            FeedPageFields {
                next_cursor: next.token(),
            },
        );
        connection.edges.extend(
            page.entries
                .into_iter()
                .map(|entry| Edge::new(entry.cursor.token(), Change(entry))),
        );
        Ok(connection)
    }

    /// Where the change feed ends now: subscribe or poll from it after reading the
    /// collections in full (REST's `/api/v1/changes/newest`).
    async fn newest_change_cursor(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let (state, actor) = (ctx.data::<AppState>()?, ctx.data::<Actor>()?);
        changes::newest(&state.db, actor)
            .await
            .map(FeedCursor::token)
            .resolved()
    }
}

/// The bearer credential a websocket was opened with, checked again before each delivery.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The `Authorization` value, `Bearer <token>`.
    pub authorization: String,
}

/// The root subscription.
#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The change feed as it happens, over the websocket `/graphql/ws`
    /// (graphql-transport-ws; the token in `connection_init`, as `{"Authorization":
    /// "Bearer <token>"}`): each change the caller may see, after its commit, in feed
    /// order, whichever instance wrote it. From now on, or from `after` (a cursor of the
    /// feed: what was missed is delivered first). Ends with an error when `after` is older
    /// than the retention (`gone`), or when the token expires or its partner is revoked
    /// (`unauthorized`, at the next change): connect again with a new token and `after` the
    /// last cursor received.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only changes of these collections (all when not given).")] types: Option<
            Vec<ChangeType>,
        >,
        #[graphql(desc = "Deliver the changes after this cursor first.")] after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Change>> + use<>> {
        let state = ctx.data::<AppState>()?.clone();
        let actor = ctx.data::<Actor>()?.clone();
        let Some(credential) = ctx.data_opt::<Credential>().cloned() else {
            return Err(Error::invalid(
                "changes",
                "a subscription is served over the websocket /graphql/ws (graphql-transport-ws), not over HTTP",
            ))
            .resolved();
        };
        changes::Follower::of_actor(&actor).require().resolved()?;
        let after = match after {
            Some(after) => cursor("after", &after).resolved()?,
            None => changes::newest(&state.db, &actor).await.resolved()?,
        };
        let Some(hold) = state.subscriptions.hold(actor.partner_id) else {
            return Err(Error::Conflict(format!(
                "this partner holds {} subscriptions open, the most allowed (--graphql-max-subscriptions): end one first",
                state.subscriptions.max()
            )))
            .resolved();
        };
        let types = wire(types.as_deref())
            .into_iter()
            .map(str::to_owned)
            .collect();
        let poll = state.config.graphql_subscription_poll_interval.into();
        let db = state.db.clone();
        let request_id = actor.request_id.clone();
        let who = move || {
            let (state, credential, request_id) =
                (state.clone(), credential.clone(), request_id.clone());
            async move {
                crate::auth::extract::authenticate(
                    &state,
                    Some(&credential.authorization),
                    request_id,
                )
                .await
                .map_err(Error::from)
            }
        };
        Ok(
            changes::follow(db, after, types, poll, who).map(move |entry| {
                // Held for as long as the subscription runs.
                let _held = &hold;
                entry.map(Change).resolved()
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ChangeType;
    use crate::service::changes::FEED_TYPES;

    /// Every collection of the feed is a `ChangeType`, and back.
    #[test]
    fn change_types_are_the_feeds() {
        for name in FEED_TYPES {
            let ty = ChangeType::from_wire(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(ty.wire(), *name);
        }
        assert_eq!(
            <ChangeType as async_graphql::resolver_utils::EnumType>::items().len(),
            FEED_TYPES.len()
        );
    }
}
