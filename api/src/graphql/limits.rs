//! What a query may cost, checked before it runs: how deep it nests its fields
//! (`--graphql-max-depth`) and its complexity (`--graphql-max-complexity`: a field costs 1
//! plus what it selects, a connection `first` or `last` times what one edge selects; see
//! [`connection_cost`]). A refusal names the limit, its setting and what the query came to
//! (`extensions.code` `query_too_deep` or `query_too_complex`, with `limit` and `cost`).
//!
//! The depth is counted here rather than by async-graphql's `limit_depth`, which counts
//! introspection too: the introspection query every GraphQL tool sends nests its type
//! references deeper than any data query needs, and reads no data. Errors of a query that
//! does not parse or validate get an `extensions.code` of their own as well.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError, ServerResult, ValidationResult, Variables};

/// A connection's page size when the query names neither `first` nor `last`.
pub const DEFAULT_PAGE: i32 = 50;

/// Fragments spread within fragments deeper than this are refused (a walk of them must
/// end, and no query needs so many).
const MAX_FRAGMENT_NESTING: usize = 32;

/// The cost of a connection: what one edge selects, times the page size asked for.
pub fn connection_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let page = first.or(last).unwrap_or(DEFAULT_PAGE).max(1);
    usize::try_from(page)
        .unwrap_or(1)
        .saturating_mul(child_complexity.max(1))
}

/// The limits, as a schema extension.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The deepest nesting of fields allowed.
    pub depth: usize,
    /// The highest complexity allowed.
    pub complexity: usize,
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Limits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|error| coded(error, "graphql_parse_failed"))?;
        match depth_of(&document) {
            Some(depth) if depth <= self.depth => Ok(document),
            depth => Err(refusal(
                "query_too_deep",
                match depth {
                    Some(depth) => format!(
                        "the query nests its fields {depth} deep; at most {} is allowed (--graphql-max-depth)",
                        self.depth
                    ),
                    None => format!(
                        "the query spreads fragments within fragments more than {MAX_FRAGMENT_NESTING} deep"
                    ),
                },
                self.depth,
                depth.unwrap_or(usize::MAX),
            )),
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| coded(error, "graphql_validation_failed"))
                .collect::<Vec<_>>()
        })?;
        if result.complexity > self.complexity {
            return Err(vec![refusal(
                "query_too_complex",
                format!(
                    "the query costs {}; at most {} is allowed (--graphql-max-complexity): a field costs 1 plus what it selects, a connection first (or last) times what one edge selects; ask for smaller pages or fewer fields",
                    result.complexity, self.complexity
                ),
                self.complexity,
                result.complexity,
            )]);
        }
        Ok(result)
    }
}

/// `error` with `extensions.code` set to `code` unless it has one.
fn coded(mut error: ServerError, code: &'static str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

fn refusal(code: &'static str, message: String, limit: usize, cost: usize) -> ServerError {
    let mut error = coded(ServerError::new(message, None), code);
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.set("limit", limit);
        extensions.set("cost", cost);
    }
    error
}

/// The deepest nesting of fields in any operation of `document`, not counting the fields
/// of introspection (`__schema`, `__type`, `__typename`); `None` when fragments are spread
/// within each other too deep to walk.
fn depth_of(document: &ExecutableDocument) -> Option<usize> {
    let mut walk = Walk {
        document,
        fragments: HashMap::new(),
        stack: Vec::new(),
    };
    let mut deepest = 0;
    for (_, operation) in document.operations.iter() {
        deepest = deepest.max(walk.set(&operation.node.selection_set.node)?);
    }
    Some(deepest)
}

/// A walk of a document's selections, each fragment's depth counted once.
struct Walk<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a Name, usize>,
    stack: Vec<&'a Name>,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Option<usize> {
        let mut deepest = 0;
        for item in &set.items {
            let depth = match &item.node {
                Selection::Field(field) if field.node.name.node.starts_with("__") => 0,
                Selection::Field(field) => 1 + self.set(&field.node.selection_set.node)?,
                Selection::InlineFragment(fragment) => {
                    self.set(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
            };
            deepest = deepest.max(depth);
        }
        Some(deepest)
    }

    fn fragment(&mut self, name: &'a Name) -> Option<usize> {
        if let Some(depth) = self.fragments.get(name) {
            return Some(*depth);
        }
        // A cycle is validation's to refuse; an unknown fragment too.
        let Some(definition) = self.document.fragments.get(name) else {
            return Some(0);
        };
        if self.stack.contains(&name) {
            return Some(0);
        }
        if self.stack.len() >= MAX_FRAGMENT_NESTING {
            return None;
        }
        self.stack.push(name);
        let depth = self.set(&definition.node.selection_set.node);
        self.stack.pop();
        let depth = depth?;
        self.fragments.insert(name, depth);
        Some(depth)
    }
}
