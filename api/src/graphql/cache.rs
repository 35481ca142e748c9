//! Answers to queries kept by the change feed, as REST keeps list pages and stats
//! ([`crate::service::cache`]): a query's `data` is kept under its text, variables and
//! operation, the caller's visibility class and scopes, and the feed's version over every
//! collection ([`version_of`] of all [`FEED_TYPES`], one statement of index probes). While
//! no change has been committed anywhere, the same query by the same kind of caller is
//! answered from memory without reading a table; any committed change (through any
//! instance: the version is read per request) makes the next request read again. The
//! cache is the read cache's (`--read-cache-size`, least recently used first; 0 turns it
//! off).
//!
//! Kept: a single query operation whose answer has no error. Not kept: mutations,
//! subscriptions, documents with several operations, and queries of the feed itself
//! (`changes`, `newestChangeCursor`), whose answers depend on its retention as well. The
//! limits and the rate limit apply to a kept answer as to any other ([`super::limits`] runs
//! around this).
//!
//! Such a query only reads, and every read it makes shares one read transaction
//! ([`one_snapshot`]): its levels, read by separate batched reads, see one committed state,
//! and it costs one `BEGIN`/`COMMIT`, not one per read.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use async_graphql::{ServerResult, Value, Variables};

use crate::service::Actor;
use crate::service::cache::{answer, keep_answer, version_of, visibility_class};
use crate::service::changes::FEED_TYPES;
use crate::service::db::one_snapshot;
use crate::state::AppState;

/// Root fields whose answers are not kept.
const NOT_KEPT: &[&str] = &["changes", "newestChangeCursor"];

/// The cache, as a schema extension.
pub struct AnswerCache;

impl ExtensionFactory for AnswerCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Keeping {
            query: Mutex::new(None),
        })
    }
}

/// One request: its query and variables, when its answer may be kept.
struct Keeping {
    query: Mutex<Option<String>>,
}

/// Whether the answer to `document` may be kept: one query, selecting at its root fields
/// (no fragments) other than the feed's.
fn keepable(document: &ExecutableDocument) -> bool {
    let DocumentOperations::Single(operation) = &document.operations else {
        return false;
    };
    operation.node.ty == OperationType::Query
        && operation
            .node
            .selection_set
            .node
            .items
            .iter()
            .all(|item| match &item.node {
                Selection::Field(field) => !NOT_KEPT.contains(&field.node.name.node.as_str()),
                _ => false,
            })
}

#[async_graphql::async_trait::async_trait]
impl Extension for Keeping {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if keepable(&document) {
            let variables = serde_json::to_string(variables).unwrap_or_default();
            *self.query.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("{query}\n{variables}"));
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let query = self.query.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (Some(query), Some(state), Some(actor)) =
            (query, ctx.data_opt::<AppState>(), ctx.data_opt::<Actor>())
        else {
            return next.run(ctx, operation_name).await;
        };
        // A query that may be kept only reads, each level of its answer in a batched read
        // of the service: all of them in one snapshot.
        one_snapshot(async move {
            if !state.cache.enabled() {
                return next.run(ctx, operation_name).await;
            }
            Self::kept(state, actor, query, ctx, operation_name, next).await
        })
        .await
    }
}

impl Keeping {
    /// The answer kept for `query` by this kind of caller at the feed's version, or the
    /// answer `next` gives, kept.
    async fn kept(
        state: &AppState,
        actor: &Actor,
        query: String,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        // Drafts and defaults differ per partner, and a token may hold fewer scopes than
        // its partner.
        let class = format!(
            "{} {}",
            visibility_class(actor, true),
            actor.scopes.join(" ")
        );
        let version = version_of(&state.db, FEED_TYPES).await.unwrap_or(0);
        if let Some(data) = answer::<Value>(&state.cache, "graphql", &query, &class, version) {
            return async_graphql::Response::new((*data).clone());
        }
        let response = next.run(ctx, operation_name).await;
        if response.errors.is_empty() {
            keep_answer(
                &state.cache,
                "graphql",
                &query,
                &class,
                version,
                Arc::new(response.data.clone()),
            );
        }
        response
    }
}
