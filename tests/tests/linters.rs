//! The served OpenAPI document as partners' tools read it: openapi-spec-validator (PyPI)
//! finds it valid, Spectral (npm `@stoplight/spectral-cli`) with its `spectral:oas` rules
//! finds no error, and the core rules of the Dutch API Design Rules that apply hold.
//! `.ci/run` installs the tools; without them (and without `LEERNET_REQUIRE_TOOLS`) the
//! tool runs say they did not run.

use std::process::Stdio;

use serde_json::Value;
use tests::{TestApp, both_backends};

use crate::contract::tool_available;

async fn served_document(app: &TestApp) -> (String, Value) {
    let text = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("the document")
        .text()
        .await
        .expect("text");
    let value = serde_json::from_str(&text).expect("JSON");
    (text, value)
}

/// Runs `program` with `args` in `dir`; answers whether it succeeded and what it printed.
async fn run(program: &'static str, args: Vec<String>, dir: std::path::PathBuf) -> (bool, String) {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(program)
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
    })
    .await
    .expect("the run")
    .expect("the tool runs");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

both_backends!(
    async fn openapi_spec_validator_and_spectral_find_no_error_in_the_served_document(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let (text, _) = served_document(&app).await;
        let dir = tempfile::tempdir().expect("a directory");
        let file = dir.path().join("openapi.json");
        std::fs::write(&file, text).expect("write the document");
        if tool_available("openapi-spec-validator", "--version") {
            let (ok, printed) = run("openapi-spec-validator", vec![file.display().to_string()], dir.path().to_owned()).await;
            assert!(ok, "openapi-spec-validator:\n{printed}");
        }
        if tool_available("spectral", "--version") {
            std::fs::write(dir.path().join(".spectral.yaml"), "extends: [\"spectral:oas\"]\n").expect("a ruleset");
            let args = vec!["lint".to_owned(), "--ruleset".to_owned(), ".spectral.yaml".to_owned(), "--fail-severity".to_owned(), "error".to_owned(), file.display().to_string()];
            let (ok, printed) = run("spectral", args, dir.path().to_owned()).await;
            assert!(ok && (printed.contains("0 errors") || printed.contains("No results")), "spectral:\n{printed}");
        }
    }
);

/// A `$ref`'s target in the document (`#/components/responses/BadRequest`).
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => reference
            .trim_start_matches("#/")
            .split('/')
            .fold(document, |at, key| &at[key]),
        None => value,
    }
}

both_backends!(
    async fn the_document_keeps_the_core_api_design_rules_that_apply(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let (_, document) = served_document(&app).await;
        // /core/doc-openapi: OpenAPI 3, served at the API's base.
        assert!(document["openapi"].as_str().expect("a version").starts_with("3."));
        // /core/uri-version: the major version in the server URL.
        let servers = document["servers"].as_array().expect("servers");
        assert!(!servers.is_empty());
        for server in servers {
            let url = server["url"].as_str().expect("a url");
            assert!(url.ends_with("/v1"), "{url}");
        }
        let paths = document["paths"].as_object().expect("paths");
        let mut responses = 0;
        for (path, item) in paths {
            // /core/no-trailing-slash
            assert!(!path.ends_with('/'), "{path}");
            // /core/naming-resources: lowercase, kebab-case segments.
            for segment in path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')) {
                assert!(segment.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{path}: {segment}");
            }
            for (method, operation) in item.as_object().expect("an item") {
                // /core/http-methods: only the standard methods.
                if method == "parameters" {
                    continue;
                }
                assert!(["get", "post", "put", "patch", "delete"].contains(&method.as_str()), "{method} {path}");
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    responses += 1;
                    let response = resolve(&document, response);
                    // /core/version-header: every response says which version answered.
                    assert!(response["headers"].get("API-Version").is_some(), "{method} {path} {status}: no API-Version");
                    // Problem details for every error.
                    if status.starts_with('4') || status.starts_with('5') {
                        let content = response["content"].as_object().expect("content");
                        assert!(content.keys().all(|k| k == "application/problem+json"), "{method} {path} {status}: {content:?}");
                    }
                }
            }
        }
        assert!(responses > 500, "{responses} responses checked");
        // The document is where the rule says, and every answer carries the header.
        let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("get");
        assert!(response.headers().get("api-version").is_some());
    }
);
