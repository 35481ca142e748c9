//! The service's [`Error`] as a GraphQL error, in one place: the message is the problem
//! document's `detail` (an internal error's cause is logged, never sent), and
//! `extensions.code` is the same code REST's problem carries (`not_found`,
//! `validation_failed`, `forbidden`, ...), with `extensions.invalidParams` (`name`,
//! `reason`) for every invalid argument.

use async_graphql::indexmap::IndexMap;
use async_graphql::{ErrorExtensions, Name, Value};

use crate::error::{Error, InvalidParam};

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        if let Error::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let problem = self.problem();
        async_graphql::Error::new(problem.detail).extend_with(|_, extensions| {
            extensions.set("code", self.code());
            if !problem.invalid_params.is_empty() {
                extensions.set(
                    "invalidParams",
                    problem
                        .invalid_params
                        .iter()
                        .map(param)
                        .collect::<Vec<Value>>(),
                );
            }
            match self {
                Error::RateLimited { retry_after } => extensions.set("retryAfter", *retry_after),
                Error::PreconditionFailed { current, .. } => {
                    extensions.set("currentVersion", *current);
                }
                _ => {}
            }
        })
    }
}

fn param(param: &InvalidParam) -> Value {
    let mut object = IndexMap::new();
    object.insert(Name::new("name"), Value::from(param.name.as_str()));
    object.insert(Name::new("reason"), Value::from(param.reason.as_str()));
    Value::Object(object)
}

/// A service result as a resolver's: the error through [`ErrorExtensions`], never through
/// async-graphql's blanket conversion, which would keep the message and lose the code.
pub(crate) trait Resolved<T> {
    /// The result with the error as GraphQL's.
    fn resolved(self) -> async_graphql::Result<T>;
}

impl<T> Resolved<T> for Result<T, Error> {
    fn resolved(self) -> async_graphql::Result<T> {
        self.map_err(|error| error.extend())
    }
}

/// `error` with its invalid parameters named as this face names them: the service names
/// the page's parameters as REST does (`limit`, `cursor`, `q`, `sort`) and filters by
/// their own names, which GraphQL has as arguments of its own (`first`, `after`, `search`,
/// `orderBy`) and fields of `filter`. `names` maps the page's parameters; every other name
/// is a field of the `filter` argument.
pub(crate) fn renamed(error: Error, names: &[(&str, &str)]) -> Error {
    match error {
        Error::Validation(params) => Error::Validation(
            params
                .into_iter()
                .map(|p| {
                    let name = names
                        .iter()
                        .find(|(service, _)| *service == p.name)
                        .map_or_else(
                            || format!("filter.{}", p.name),
                            |(_, ours)| (*ours).to_owned(),
                        );
                    InvalidParam::new(name, p.reason)
                })
                .collect(),
        ),
        other => other,
    }
}
