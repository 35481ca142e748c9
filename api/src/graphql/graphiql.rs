//! GraphiQL, the GraphQL IDE, at `GET /graphql` for a browser (a request that accepts HTML
//! and carries no query): the page and every asset it loads are served by the service from
//! `api/assets/graphiql/` (GraphiQL 3.8.3 and React 18.3.1, MIT licensed, their licences
//! beside them), so it works offline and no partner's queries or tokens reach a CDN. A
//! strict `Content-Security-Policy` lets the page load from this origin only.
//!
//! The token goes into GraphiQL's Headers tab (`{"Authorization": "Bearer ..."}`); the page
//! itself needs none.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// The path the assets are served under; the version in it lets browsers keep them.
pub const ASSETS: &str = "/graphql/assets/3.8.3";

/// How browsers may keep GraphiQL's files: for a year (a new version has a new path).
const KEPT: &str = "public, max-age=31536000, immutable";

/// How browsers may keep the service's own start script: asking each time, as it changes
/// with the service, not with GraphiQL's version.
const CHECKED: &str = "no-cache";

/// The assets: name, media type, caching, bytes.
const FILES: &[(&str, &str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        KEPT,
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        KEPT,
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        KEPT,
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        KEPT,
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "start.js",
        "text/javascript; charset=utf-8",
        CHECKED,
        START.as_bytes(),
    ),
];

/// Starts GraphiQL on the page (a file of its own: the policy allows no inline script).
const START: &str = r#"(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
  var query = '# Leernet GraphQL. Put your token in the Headers tab below:\n' +
    '# {"Authorization": "Bearer <access_token from POST /oauth/token>"}\n' +
    '{\n  networks(first: 5) {\n    totalCount\n    nodes { id name kind regions { role region { name code } } }\n  }\n}\n';
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: query,
      defaultHeaders: '{"Authorization": "Bearer "}',
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false
    })
  );
})();
"#;

/// The page's policy: everything from this origin; GraphiQL sets inline styles and its
/// fonts and icons are `data:` URLs.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    connect-src 'self'; img-src 'self' data:; font-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Whether a `GET /graphql` is a browser asking for the IDE: it accepts HTML and sends no
/// GraphQL request (no `query`, no persisted query's `extensions`).
pub fn wanted(headers: &HeaderMap, query: Option<&str>) -> bool {
    let asks_graphql = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes())
            .any(|(name, _)| name == "query" || name == "extensions")
    });
    !asks_graphql
        && headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html"))
}

/// The IDE's page.
pub fn page() -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Leernet GraphQL</title>
<link rel="stylesheet" href="{ASSETS}/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{ASSETS}/react.production.min.js"></script>
<script src="{ASSETS}/react-dom.production.min.js"></script>
<script src="{ASSETS}/graphiql.min.js"></script>
<script src="{ASSETS}/start.js"></script>
</body>
</html>
"#
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
        ],
        html,
    )
        .into_response()
}

/// `GET /graphql/assets/3.8.3/{file}`: an asset of the page; GraphiQL's own kept by
/// browsers for a year, the start script checked each time.
pub async fn asset(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _, _)| *name == file) {
        Some((_, media_type, caching, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static(caching)),
            ],
            *bytes,
        )
            .into_response(),
        None => Error::NotFound {
            resource: "graphiql-asset",
            key: file,
        }
        .into_response(),
    }
}
