//! Relay's object identification: every resource is a `Node` whose `id` is a global id
//! naming its type and its row (the base64url of `PracticeExample:<uuid>`), read back by
//! `node(id:)` and `nodes(ids:)` through [`service::get`]. The row's own UUID, which REST
//! calls `id` and references carry (`networkId`), is `rowId`.

use async_graphql::{Context, ID, Interface, Object};
use base64::Engine;
use uuid::Uuid;

use crate::dto::{
    Assignment, Goal, Initiative, Lesson, Membership, Network, Organization, PracticeExample,
    Programme, Region, Report, Theme, Transfer,
};
use crate::error::Error;
use crate::graphql::error::Resolved;
use crate::service::check::MAX_LIST;
use crate::service::{
    self, Actor, Assignments, Goals, Initiatives, Lessons, Memberships, Networks, Organizations,
    PracticeExamples, Programmes, Regions, Reports, Themes, Transfers,
};
use crate::state::AppState;

/// The global id of the row `id` of the GraphQL type `type_name`.
pub fn global_id(type_name: &str, id: Uuid) -> ID {
    ID(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// The type and row a global id names; `None` when it is not one of ours.
pub fn parse_global_id(id: &str) -> Option<(String, Uuid)> {
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())?;
    let (type_name, row) = text.split_once(':')?;
    Some((type_name.to_owned(), Uuid::try_parse(row).ok()?))
}

/// Declares the `Node` interface over the resources, each one's `id`, and the look-up of
/// a global id through the resource's service.
macro_rules! nodes {
    ($($R:ident => $Dto:ident;)+) => {
        /// An object with a global id, which `node(id:)` reads back.
        #[derive(Interface)]
        #[graphql(field(
            name = "id",
            ty = "ID",
            desc = "The global id: opaque, naming the type and the row (for node(id:))."
        ))]
        pub enum Node {
            $(
                #[doc = concat!("A ", stringify!($Dto), ".")]
                $Dto($Dto),
            )+
        }

        /// The node a global id names, if the caller may see it.
        async fn resolve(state: &AppState, actor: &Actor, id: &ID) -> Result<Option<Node>, Error> {
            let Some((type_name, row)) = parse_global_id(id) else {
                return Err(Error::invalid(
                    "id",
                    "is not a global id of this API (the id of a node, not its rowId)",
                ));
            };
            let node = match type_name.as_str() {
                $(stringify!($Dto) => service::get::<$R>(&state.db, actor, row).await.map(Node::$Dto),)+
                _ => return Err(Error::invalid("id", "is not a global id of this API (the id of a node, not its rowId)")),
            };
            match node {
                Ok(node) => Ok(Some(node)),
                Err(Error::NotFound { .. }) => Ok(None),
                Err(other) => Err(other),
            }
        }
    };
}

crate::collections!(nodes);

/// `node(id:)` and `nodes(ids:)`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object a global id names; null when there is none the caller may see (deleted,
    /// or another partner's draft).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        resolve(ctx.data::<AppState>()?, ctx.data::<Actor>()?, &id)
            .await
            .resolved()
    }

    /// The objects global ids name, in their order (at most 100); null for each that names
    /// none the caller may see.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_LIST {
            return Err(Error::invalid(
                "ids",
                format!("must hold at most {MAX_LIST} ids, got {}", ids.len()),
            ))
            .resolved();
        }
        let (state, actor) = (ctx.data::<AppState>()?, ctx.data::<Actor>()?);
        futures_util::future::try_join_all(ids.iter().map(|id| resolve(state, actor, id)))
            .await
            .resolved()
    }
}
