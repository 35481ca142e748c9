//! The OpenAPI document: served, public, rendered at /docs, and identical to the committed
//! `openapi/openapi.json` (run `cargo run -p api -- openapi > openapi/openapi.json` after a
//! change to the API).

use std::collections::HashSet;

use serde_json::Value;
use tests::{app_or_skip, both_backends};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[test]
fn the_committed_openapi_document_is_what_the_code_produces() {
    let produced: Value = serde_json::from_str(&api::rest::openapi::document()).expect("JSON");
    let committed: Value = serde_json::from_str(COMMITTED).expect("committed JSON");
    assert!(
        produced == committed,
        "openapi/openapi.json is out of date: run `cargo run -p api -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_operation_has_a_unique_verb_resource_id_and_named_schemas() {
    let doc: Value = serde_json::from_str(COMMITTED).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["contact"].is_object());
    let mut ids = HashSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            let verb = id.split('_').next().expect("a verb");
            assert!(
                [
                    "list", "get", "create", "replace", "patch", "delete", "upsert", "bulk"
                ]
                .contains(&verb),
                "{id}"
            );
            assert!(ids.insert(id.to_owned()), "{id} is unique");
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| r.len() >= 2),
                "{id} documents its errors"
            );
            for (_, response) in operation["responses"].as_object().expect("responses") {
                for (_, content) in response["content"].as_object().into_iter().flatten() {
                    let schema = &content["schema"];
                    assert!(
                        schema.get("$ref").is_some()
                            || schema.get("type").is_some()
                            || schema.as_object().is_some_and(|o| o.is_empty()),
                        "{id}: {schema}"
                    );
                }
            }
        }
    }
    assert!(ids.len() >= 90, "{} operations", ids.len());
}

both_backends!(
    async fn the_document_is_served_publicly_and_swagger_ui_renders_it(backend) {
        let app = app_or_skip!(backend);
        let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("get");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let served: Value = response.json().await.expect("JSON");
        assert_eq!(served, serde_json::from_str::<Value>(COMMITTED).expect("committed"));
        let docs = app.client.get(app.url("/docs/")).send().await.expect("docs");
        assert_eq!(docs.status(), 200);
        assert!(docs.text().await.expect("html").contains("swagger"), "Swagger UI");
        let script = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.expect("bundle");
        assert_eq!(script.status(), 200, "the UI is vendored, served without internet");
    }
);
