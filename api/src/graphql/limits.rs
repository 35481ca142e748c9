//! What a query may cost, checked before it runs: how deep it nests its fields
//! (`--graphql-max-depth`), how many aliased fields it has (`--graphql-max-aliases`) and
//! root fields an operation selects (`--graphql-max-root-fields`), and its complexity
//! (`--graphql-max-complexity`: a field costs 1 plus what it selects, a connection `first`
//! or `last` times what one edge selects; see [`connection_cost`]). A refusal names the
//! limit, its setting and what the query came to (`extensions.code` `query_too_deep`,
//! `too_many_aliases`, `too_many_root_fields` or `query_too_complex`, with `limit` and
//! `cost`).
//!
//! The cost is what the partner's rate limit counts: an operation counts as its cost
//! divided by `--graphql-cost-per-call`, rounded up (at least one call), and is refused
//! (`rate_limited`, with `retryAfter`) before it runs when the partner has not that many
//! calls left. Every answer says what it cost in `extensions.cost`, as Shopify's do:
//! `requestedQueryCost`, `maximumQueryCost`, `countedCalls` and the partner's
//! `rateLimit { limit remaining resetSeconds }` after it.
//!
//! The depth is counted here rather than by async-graphql's `limit_depth`, which counts
//! introspection too: the introspection query every GraphQL tool sends nests its type
//! references deeper than any data query needs, and reads no data. Errors of a query that
//! does not parse or validate get an `extensions.code` of their own as well.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensions, Name, ServerError, ServerResult, ValidationResult, Value, Variables,
};

use crate::auth::ratelimit::{RateInfo, RateSlot};
use crate::error::Error;
use crate::service::Actor;
use crate::state::AppState;

/// A connection's page size when the query names neither `first` nor `last`.
pub const DEFAULT_PAGE: i32 = 50;

/// Fragments spread within fragments deeper than this are refused (a walk of them must
/// end, and no query needs so many).
const MAX_FRAGMENT_NESTING: usize = 32;

/// The most fields a document may hold with its fragments spread in place: fragments that
/// spread others several times grow it exponentially (27 levels of two spreads each are
/// 134 million fields in 1.5 KB), and validation walks every one of them, so such a
/// document is refused before it is validated. The widest real query is far below.
pub const MAX_EXPANDED_FIELDS: usize = 10_000;

/// The deepest a document may nest its brackets (selection sets, arguments, list and
/// object values) as written: async-graphql's parser recurses on each level, and a value
/// nested a few thousand deep overflows its stack, so a document is measured as text
/// first. No query needs a tenth of it.
pub const MAX_NESTING: usize = 128;

/// The most introspection lists (`types`, `fields`, `possibleTypes`, ...) a query may
/// nest within each other: each multiplies the answer by the schema's size (the
/// introspection query of GraphQL tools nests three: `types { fields { args } }`).
pub const MAX_INTROSPECTION_LISTS: usize = 3;

/// The introspection fields whose answers are lists.
const INTROSPECTION_LISTS: &[&str] = &[
    "types",
    "fields",
    "args",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
];

/// How deep `document` nests `{`, `[` and `(` as written, outside strings and comments.
pub fn nesting(document: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = document.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' | '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '"' => {
                // A block string ("""...""", where only \""" escapes) or a string ("...",
                // where \ escapes the next character).
                let block = chars.next_if_eq(&'"').is_some();
                if block && chars.next_if_eq(&'"').is_none() {
                    continue; // The empty string "".
                }
                let mut quotes = 0;
                while let Some(c) = chars.next() {
                    match c {
                        // In a block string only \""" escapes (three quotes); any other
                        // backslash is itself.
                        '\\' if block => {
                            quotes = 0;
                            let mut ahead = chars.clone();
                            if (0..3).all(|_| ahead.next() == Some('"')) {
                                chars = ahead;
                            }
                        }
                        '\\' => {
                            chars.next();
                        }
                        '"' if !block => break,
                        '"' => {
                            quotes += 1;
                            if quotes == 3 {
                                break;
                            }
                        }
                        _ => quotes = 0,
                    }
                }
            }
            _ => {}
        }
    }
    deepest
}

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
    /// The most aliased fields allowed.
    pub aliases: usize,
    /// The most fields an operation may select at its root.
    pub root_fields: usize,
    /// The cost that counts as one call against the rate limit.
    pub cost_per_call: usize,
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Metered {
            limits: *self,
            cost: Mutex::new(None),
        })
    }
}

/// The limits applied to one request, and what it was charged.
struct Metered {
    limits: Limits,
    cost: Mutex<Option<Charged>>,
}

/// What an operation cost and what it was counted as against the rate limit.
#[derive(Debug, Clone, Copy)]
struct Charged {
    cost: usize,
    calls: u32,
    standing: Option<RateInfo>,
}

impl Metered {
    /// Counts an operation of `cost` against the partner's rate limit: the request itself
    /// (or a websocket's operation) was counted as one call when its actor was made, so the
    /// calls beyond that one.
    fn charge(&self, ctx: &ExtensionContext<'_>, cost: usize) -> Result<(), ServerError> {
        let calls =
            u32::try_from(cost.div_ceil(self.limits.cost_per_call).max(1)).unwrap_or(u32::MAX);
        let mut standing = ctx.data_opt::<RateSlot>().and_then(RateSlot::get);
        let counted = calls - 1;
        if let (Some(state), Some(actor)) = (ctx.data_opt::<AppState>(), ctx.data_opt::<Actor>())
            && counted > 0
        {
            let slot = ctx.data_opt::<RateSlot>();
            match state.api_limits.charge(actor.partner_id, counted) {
                Ok(info) => {
                    standing = Some(info);
                    if let Some(slot) = slot {
                        slot.set(info);
                    }
                }
                Err((info, retry_after)) => {
                    if let Some(slot) = slot {
                        slot.set(info);
                    }
                    let coded = Error::RateLimited { retry_after }.extend();
                    let message = if calls > info.limit {
                        format!(
                            "the query costs {cost}, which counts as {calls} calls ({} of cost each, --graphql-cost-per-call): more than the partner's rate limit of {} calls a minute allows; ask for smaller pages or fewer fields",
                            self.limits.cost_per_call, info.limit
                        )
                    } else {
                        format!(
                            "the query costs {cost}, which counts as {calls} calls ({} of cost each, --graphql-cost-per-call) against the partner's rate limit of {} calls a minute, and fewer are left: try again in {retry_after} s, or ask for less",
                            self.limits.cost_per_call, info.limit
                        )
                    };
                    let mut error = ServerError::new(message, None);
                    error.extensions = coded.extensions;
                    if let Some(extensions) = error.extensions.as_mut() {
                        extensions.set("cost", cost);
                        extensions.set("calls", calls);
                    }
                    return Err(error);
                }
            }
        }
        *self.cost.lock().unwrap_or_else(|e| e.into_inner()) = Some(Charged {
            cost,
            calls,
            standing,
        });
        Ok(())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Metered {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let nested = nesting(query);
        if nested > MAX_NESTING {
            return Err(refusal(
                "query_too_deep",
                format!(
                    "the document nests its brackets ({{, [, () {nested} deep; at most {MAX_NESTING} is allowed"
                ),
                MAX_NESTING,
                nested,
            ));
        }
        // Fragments that spread fragments several times over make async-graphql's own walks
        // of the document (its recursion-depth check as it parses, then validation)
        // exponential: such a document is measured on a parse of its own first.
        if query.contains("fragment")
            && let Ok(document) = async_graphql::parser::parse_query(query)
        {
            let Some(shape) = shape_of(&document) else {
                return Err(too_nested_fragments(self.limits.depth));
            };
            if shape.fields > MAX_EXPANDED_FIELDS {
                return Err(refusal(
                    "query_too_complex",
                    format!(
                        "the query holds {} fields with its fragments spread in place; at most {MAX_EXPANDED_FIELDS} are allowed: spread each fragment where it is needed, not fragments within fragments many times",
                        shape.fields
                    ),
                    MAX_EXPANDED_FIELDS,
                    shape.fields,
                ));
            }
        }
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|error| coded(error, "graphql_parse_failed"))?;
        let limits = self.limits;
        let Some(shape) = shape_of(&document) else {
            return Err(too_nested_fragments(limits.depth));
        };
        if shape.schemas > 1 {
            return Err(refusal(
                "query_too_complex",
                format!(
                    "the query asks for __schema {} times; once is allowed (the whole schema in one answer)",
                    shape.schemas
                ),
                1,
                shape.schemas,
            ));
        }
        if shape.lists > MAX_INTROSPECTION_LISTS {
            return Err(refusal(
                "query_too_complex",
                format!(
                    "the query nests {} introspection lists (types, fields, possibleTypes, ...) within each other; at most {MAX_INTROSPECTION_LISTS} are allowed, as in the introspection query of GraphQL tools",
                    shape.lists
                ),
                MAX_INTROSPECTION_LISTS,
                shape.lists,
            ));
        }
        for (code, found, limit, what) in [
            (
                "query_too_deep",
                shape.depth,
                limits.depth,
                "the query nests its fields {found} deep; at most {limit} is allowed (--graphql-max-depth)",
            ),
            (
                "too_many_aliases",
                shape.aliases,
                limits.aliases,
                "the query has {found} aliased fields; at most {limit} are allowed (--graphql-max-aliases): ask for a list once, or write many rows with a bulk upsert",
            ),
            (
                "too_many_root_fields",
                shape.root_fields,
                limits.root_fields,
                "an operation selects {found} fields at its root; at most {limit} are allowed (--graphql-max-root-fields)",
            ),
        ] {
            if found > limit {
                let message = what
                    .replace("{found}", &found.to_string())
                    .replace("{limit}", &limit.to_string());
                return Err(refusal(code, message, limit, found));
            }
        }
        for (_, operation) in document.operations.iter() {
            if operation.node.ty != async_graphql::parser::types::OperationType::Subscription {
                continue;
            }
            if ctx.data_opt::<Held>().is_none() && ctx.data_opt::<ReadOnly>().is_none() {
                return Err(coded(
                    ServerError::new(
                        "a subscription is served over the websocket /graphql/ws (graphql-transport-ws), not over HTTP",
                        None,
                    ),
                    "subscription_needs_websocket",
                ));
            }
            let items = &operation.node.selection_set.node.items;
            if items.len() != 1 || !matches!(items[0].node, Selection::Field(_)) {
                return Err(coded(
                    ServerError::new(
                        "a subscription selects exactly one field at its root, and not through a fragment (GraphQL's single root field rule): subscribe once per stream",
                        None,
                    ),
                    "graphql_validation_failed",
                ));
            }
        }
        if ctx.data_opt::<ReadOnly>().is_some()
            && document.operations.iter().any(|(_, operation)| {
                operation.node.ty != async_graphql::parser::types::OperationType::Query
            })
        {
            return Err(coded(
                ServerError::new(
                    "only queries may be sent with GET; send a mutation with POST",
                    None,
                ),
                "method_not_allowed",
            ));
        }
        Ok(document)
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
        let limits = self.limits;
        if result.complexity > limits.complexity {
            return Err(vec![refusal(
                "query_too_complex",
                format!(
                    "the query costs {}; at most {} is allowed (--graphql-max-complexity): a field costs 1 plus what it selects, a connection first (or last) times what one edge selects; ask for smaller pages or fewer fields",
                    result.complexity, limits.complexity
                ),
                limits.complexity,
                result.complexity,
            )]);
        }
        self.charge(ctx, result.complexity)
            .map_err(|error| vec![error])?;
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let started = std::time::Instant::now();
        let mut response = next.run(ctx, operation_name).await;
        let charged = *self.cost.lock().unwrap_or_else(|e| e.into_inner());
        crate::prometheus::graphql_operation(
            operation_name,
            started.elapsed().as_secs_f64(),
            charged.map(|charged| charged.cost),
        );
        if let Some(charged) = charged {
            let mut cost = IndexMap::new();
            cost.insert(Name::new("requestedQueryCost"), Value::from(charged.cost));
            cost.insert(
                Name::new("maximumQueryCost"),
                Value::from(self.limits.complexity),
            );
            cost.insert(Name::new("countedCalls"), Value::from(charged.calls));
            if let Some(standing) = charged.standing {
                let mut limit = IndexMap::new();
                limit.insert(Name::new("limit"), Value::from(standing.limit));
                limit.insert(Name::new("remaining"), Value::from(standing.remaining));
                limit.insert(Name::new("resetSeconds"), Value::from(standing.reset));
                cost.insert(Name::new("rateLimit"), Value::Object(limit));
            }
            response
                .extensions
                .insert("cost".to_owned(), Value::Object(cost));
        }
        response
    }
}

/// Marks the operations of a websocket (where a subscription may run).
#[derive(Debug, Clone, Copy)]
pub struct Held;

/// Marks a request that came as a GET: it may only query.
#[derive(Debug, Clone, Copy)]
pub struct ReadOnly;

/// `error` with `extensions.code` set to `code` unless it has one.
fn coded(mut error: ServerError, code: &'static str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// The refusal of a document spreading fragments within fragments too deep to walk.
fn too_nested_fragments(depth: usize) -> ServerError {
    refusal(
        "query_too_deep",
        format!(
            "the query spreads fragments within fragments more than {MAX_FRAGMENT_NESTING} deep"
        ),
        depth,
        usize::MAX,
    )
}

fn refusal(code: &'static str, message: String, limit: usize, cost: usize) -> ServerError {
    let mut error = coded(ServerError::new(message, None), code);
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.set("limit", limit);
        extensions.set("cost", cost);
    }
    error
}

/// What a query document holds, as its limits count it.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Its deepest nesting of fields, not counting the fields of introspection.
    depth: usize,
    /// Its aliased fields, each fragment's counted as often as it is spread.
    aliases: usize,
    /// The most fields one operation selects at its root.
    root_fields: usize,
    /// Its fields with every fragment spread in place.
    fields: usize,
    /// The most introspection lists it nests within each other.
    lists: usize,
    /// Its `__schema` fields, with every fragment spread in place.
    schemas: usize,
}

/// What one selection set holds.
#[derive(Debug, Clone, Copy, Default)]
struct Counted {
    depth: usize,
    aliases: usize,
    width: usize,
    /// Its fields with every fragment spread in place (saturating).
    fields: usize,
    /// The most introspection lists nested within each other.
    lists: usize,
    /// Its `__schema` fields with every fragment spread in place (saturating).
    schemas: usize,
}

/// The shape of `document`; `None` when fragments are spread within each other too deep
/// to walk.
fn shape_of(document: &ExecutableDocument) -> Option<Shape> {
    let mut walk = Walk {
        document,
        fragments: HashMap::new(),
        stack: Vec::new(),
        introspection: 0,
    };
    let mut shape = Shape::default();
    for (_, operation) in document.operations.iter() {
        let counted = walk.set(&operation.node.selection_set.node)?;
        shape.depth = shape.depth.max(counted.depth);
        shape.aliases = shape.aliases.saturating_add(counted.aliases);
        shape.root_fields = shape.root_fields.max(counted.width);
        shape.fields = shape.fields.saturating_add(counted.fields);
        shape.lists = shape.lists.max(counted.lists);
        shape.schemas = shape.schemas.saturating_add(counted.schemas);
    }
    Some(shape)
}

/// A walk of a document's selections, each fragment counted once.
struct Walk<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a Name, Counted>,
    stack: Vec<&'a Name>,
    /// How many introspection fields (`__schema`, `__type`) the walk is within.
    introspection: usize,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Option<Counted> {
        let mut counted = Counted::default();
        for item in &set.items {
            let inner = match &item.node {
                // Introspection (`__schema`, `__type`, `__typename` and all within them):
                // not counted in the depth, but its lists nested in each other are.
                Selection::Field(field)
                    if self.introspection > 0 || field.node.name.node.starts_with("__") =>
                {
                    self.introspection += 1;
                    let below = self.set(&field.node.selection_set.node);
                    self.introspection -= 1;
                    let below = below?;
                    let list = INTROSPECTION_LISTS.contains(&field.node.name.node.as_str());
                    Counted {
                        depth: 0,
                        aliases: below
                            .aliases
                            .saturating_add(usize::from(field.node.alias.is_some())),
                        width: 0,
                        fields: below.fields.saturating_add(1),
                        lists: below.lists + usize::from(list),
                        schemas: below
                            .schemas
                            .saturating_add(usize::from(field.node.name.node == "__schema")),
                    }
                }
                Selection::Field(field) => {
                    let below = self.set(&field.node.selection_set.node)?;
                    Counted {
                        depth: 1 + below.depth,
                        aliases: below
                            .aliases
                            .saturating_add(usize::from(field.node.alias.is_some())),
                        width: 1,
                        fields: below.fields.saturating_add(1),
                        lists: below.lists,
                        schemas: below.schemas,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.set(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
            };
            counted.depth = counted.depth.max(inner.depth);
            counted.aliases = counted.aliases.saturating_add(inner.aliases);
            counted.width = counted.width.saturating_add(inner.width);
            counted.fields = counted.fields.saturating_add(inner.fields);
            counted.lists = counted.lists.max(inner.lists);
            counted.schemas = counted.schemas.saturating_add(inner.schemas);
        }
        Some(counted)
    }

    fn fragment(&mut self, name: &'a Name) -> Option<Counted> {
        if let Some(counted) = self.fragments.get(name) {
            return Some(*counted);
        }
        // A cycle is validation's to refuse; an unknown fragment too.
        let Some(definition) = self.document.fragments.get(name) else {
            return Some(Counted::default());
        };
        if self.stack.contains(&name) {
            return Some(Counted::default());
        }
        if self.stack.len() >= MAX_FRAGMENT_NESTING {
            return None;
        }
        self.stack.push(name);
        let counted = self.set(&definition.node.selection_set.node);
        self.stack.pop();
        let counted = counted?;
        self.fragments.insert(name, counted);
        Some(counted)
    }
}

#[cfg(test)]
mod tests {
    use super::nesting;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting("{ a { b(c: [[1]]) } }"), 5);
        assert_eq!(nesting(r#"{ a(s: "{{[[(") }"#), 2);
        assert_eq!(nesting(r#"{ a(s: "\" {{") }"#), 2);
        assert_eq!(nesting(r#"{ a(s: """ " "" {{{ \""" {{ """) }"#), 2);
        assert_eq!(nesting(r#"{ a(s: "") { b } }"#), 2);
        assert_eq!(nesting("{ a # {{{{\n { b } }"), 2);
        // \""" escapes three quotes in a block string, and only it: the string below ends
        // at its last """, and the brackets after it are outside.
        assert_eq!(nesting(r#"{ a(s: """a\\""" """, t: [[1]]) }"#), 4);
        assert_eq!(nesting(r#"{ a(s: """ \n\t\ """, t: [[1]]) }"#), 4);
        assert_eq!(nesting(r#"{ a(s: """ \""" [[[ """) }"#), 2);
        assert_eq!(
            nesting(&format!("{}{}", "[".repeat(500), "]".repeat(500))),
            500
        );
    }
}
