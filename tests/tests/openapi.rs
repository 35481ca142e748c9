//! The OpenAPI document: served, public, rendered at /docs, and identical to the committed
//! `openapi/openapi.json` (run `cargo run -p api -- openapi > openapi/openapi.json` after a
//! change to the API). Its examples are seed rows: the input examples, PUT to their rows'
//! upsert routes, change nothing, and the representation examples are what reading the rows
//! answers.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use tests::{app_or_skip, both_backends, count};

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
        let mut served: Value = response.json().await.expect("JSON");
        // The contact is the deployment's (`--api-contact-url`, by default its own `/docs`);
        // everything else is the committed document.
        assert_eq!(served["info"]["contact"]["url"], app.url("/docs"));
        assert_eq!(served["info"]["contact"]["email"], api::config::DEFAULT_CONTACT_EMAIL);
        let committed: Value = serde_json::from_str(COMMITTED).expect("committed");
        served["info"]["contact"] = committed["info"]["contact"].clone();
        assert_eq!(served, committed);
        let docs = app.client.get(app.url("/docs/")).send().await.expect("docs");
        assert_eq!(docs.status(), 200);
        assert!(docs.text().await.expect("html").contains("swagger"), "Swagger UI");
        let script = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.expect("bundle");
        assert_eq!(script.status(), 200, "the UI is vendored, served without internet");
    }
);

both_backends!(
    async fn the_documents_contact_is_the_configured_one(backend) {
        let Some(app) = tests::TestApp::spawn_with(backend, |c| {
            c.api_contact_url = Some("https://leernet.example.nl/contact".to_owned());
            c.api_contact_email = "api@leernet.example.nl".to_owned();
        })
        .await
        else {
            return;
        };
        let served: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("get").json().await.expect("JSON");
        assert_eq!(
            served["info"]["contact"],
            serde_json::json!({"name": "Leernet", "url": "https://leernet.example.nl/contact", "email": "api@leernet.example.nl"})
        );
        // The public URL names where the docs are when no contact URL is given; an empty
        // email leaves it out.
        let Some(app) = tests::TestApp::spawn_with(backend, |c| {
            c.tokens.public_url = Some("https://leernet.example.nl/".to_owned());
            c.api_contact_email = String::new();
        })
        .await
        else {
            return;
        };
        let served: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("get").json().await.expect("JSON");
        assert_eq!(
            served["info"]["contact"],
            serde_json::json!({"name": "Leernet", "url": "https://leernet.example.nl/docs"})
        );
        // And the static document (`leernet openapi`) has the defaults.
        let committed: Value = serde_json::from_str(COMMITTED).expect("committed");
        assert_eq!(
            committed["info"]["contact"],
            serde_json::json!({"name": "Leernet", "url": "http://127.0.0.1:8080/docs", "email": api::config::DEFAULT_CONTACT_EMAIL})
        );
    }
);

/// The collections whose examples are seed rows: the input and representation schemas, and
/// for a sub-collection the slug of the seeded network it hangs off.
const SEEDED: [(&str, &str, Option<&str>); 7] = [
    ("RegionInput", "Region", None),
    ("OrganizationInput", "Organization", None),
    ("ThemeInput", "Theme", None),
    ("NetworkInput", "Network", None),
    ("GoalInput", "Goal", Some("living-lab-m-en-gezond")),
    (
        "MembershipInput",
        "Membership",
        Some("living-lab-m-en-gezond"),
    ),
    ("PracticeExampleInput", "PracticeExample", None),
];

/// The collections with an upsert route that the seed writes nothing to (the source
/// documents name no report, initiative, lesson, transfer, programme or assignment): their
/// schemas carry no example, as none could be a seed row.
const UNSEEDED: [&str; 6] = [
    "ReportInput",
    "InitiativeInput",
    "LessonInput",
    "TransferInput",
    "ProgrammeInput",
    "AssignmentInput",
];

/// Fields of a representation that every database assigns for itself.
const PER_DATABASE: [&str; 2] = ["createdAt", "updatedAt"];

/// A token of the system partner (the owner of the seed rows, whose external ids the
/// upsert routes look up), from the real `/oauth/token`.
async fn system_token(app: &tests::TestApp) -> String {
    let credentials =
        api::service::partners::rotate_secret(&app.db, api::service::SYSTEM_PARTNER_NAME)
            .await
            .expect("credentials for the system partner");
    tests::token_with(app, &credentials).await
}

/// Whether `key` holds an id that each database assigns (`id`, `networkId`, ...; not the
/// fixed `ownerPartnerId` of the system partner).
fn is_per_database_id(key: &str, value: &Value) -> bool {
    (key == "id" || key.ends_with("Id"))
        && key != "ownerPartnerId"
        && key != "externalId"
        && value
            .as_str()
            .is_some_and(|v| uuid::Uuid::try_parse(v).is_ok())
}

/// The differences between a representation `example` and the `actual` row, at `at`.
/// Timestamps are not compared; an id is compared through `ids` (the example rows' ids to
/// this database's) when it names an example row, and otherwise left to the natural key
/// beside it (`parentCode`, `regionCode`, ...) or the path the row was read under.
fn differences(
    at: &str,
    example: &Value,
    actual: &Value,
    ids: &HashMap<String, String>,
    out: &mut Vec<String>,
) {
    match (example, actual) {
        (Value::Object(example), Value::Object(actual)) => {
            let mut keys: Vec<&String> = example.keys().chain(actual.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let here = format!("{at}.{key}");
                match (example.get(key), actual.get(key)) {
                    // A field the row lacks is left out of the example, never `null`.
                    (None, Some(Value::Null)) => {}
                    (None, _) => out.push(format!("{here}: not in the example")),
                    (_, None) => out.push(format!("{here}: not in the row")),
                    (Some(_), Some(_)) if PER_DATABASE.contains(&key.as_str()) => {}
                    (Some(e), Some(a)) if is_per_database_id(key, e) => {
                        match ids.get(e.as_str().unwrap_or_default()) {
                            Some(mapped) if a.as_str() != Some(mapped.as_str()) => {
                                out.push(format!("{here}: {a} is not the row the example names"));
                            }
                            None if !is_per_database_id(key, a) => {
                                out.push(format!("{here}: the row has {a}, not an id"));
                            }
                            _ => {}
                        }
                    }
                    (Some(e), Some(a)) => differences(&here, e, a, ids, out),
                }
            }
        }
        (Value::Array(example), Value::Array(actual)) if example.len() == actual.len() => {
            for (i, (e, a)) in example.iter().zip(actual).enumerate() {
                differences(&format!("{at}[{i}]"), e, a, ids, out);
            }
        }
        (example, actual) if example != actual => {
            out.push(format!("{at}: the example has {example}, the row {actual}"));
        }
        _ => {}
    }
}

/// `value` with every string that is an example row's id replaced by this database's id.
fn translated(value: &Value, ids: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(items) => Value::Array(items.iter().map(|v| translated(v, ids)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), translated(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

both_backends!(
    async fn every_example_is_a_seed_row(backend) {
        let app = app_or_skip!(backend);
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = system_token(&app).await;
        let get = |path: String| {
            let request = app.client.get(app.url(&path)).bearer_auth(&token);
            async move {
                let response = request.send().await.expect("get");
                assert_eq!(response.status(), 200, "GET {path}");
                response.json::<Value>().await.expect("JSON")
            }
        };

        let doc: Value = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("the document")
            .json()
            .await
            .expect("JSON");
        let schemas = &doc["components"]["schemas"];

        // Every collection with an upsert route: its input schema, and the route.
        let mut upserts: HashMap<String, String> = HashMap::new();
        // Paths are relative to the server URL (`/api/v1`).
        let base = doc["servers"][0]["url"].as_str().expect("a server URL").to_owned();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            if path.ends_with("/external/{externalId}") {
                let schema = item["put"]["requestBody"]["content"]["application/json"]["schema"]
                    ["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("PUT {path} takes a named schema"));
                let name = schema.rsplit('/').next().expect("a schema name").to_owned();
                upserts.insert(name, format!("{base}{path}"));
            }
        }
        let mut covered: Vec<&str> =
            SEEDED.iter().map(|(input, ..)| *input).chain(UNSEEDED).collect();
        covered.sort_unstable();
        let mut routed: Vec<&str> = upserts.keys().map(String::as_str).collect();
        routed.sort_unstable();
        assert_eq!(routed, covered, "every upsert route is one of SEEDED or UNSEEDED");
        for input in UNSEEDED {
            let dto = input.trim_end_matches("Input");
            for name in [input, dto] {
                assert!(
                    schemas[name].get("example").is_none(),
                    "{name} has an example, but the seed writes no such row to prove it by"
                );
            }
        }

        // Read every representation example's row; learn this database's ids of the rows.
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut rows = Vec::new();
        for (input, dto, parent) in SEEDED {
            let example = &schemas[dto]["example"];
            let input_example = &schemas[input]["example"];
            assert!(example.is_object(), "{dto} has an example");
            assert!(input_example.is_object(), "{input} has an example");
            let external_id = example["externalId"].as_str().expect("the example's externalId");
            assert_eq!(
                input_example["externalId"].as_str(),
                Some(external_id),
                "{input} and {dto} show the same row"
            );
            let mut route = upserts[input].clone();
            if let Some(slug) = parent {
                let network = get(format!("/api/v1/networks/{slug}")).await;
                route = route.replace("{parentId}", network["id"].as_str().expect("an id"));
            }
            let collection = route.trim_end_matches("/external/{externalId}").to_owned();
            let page = get(format!("{collection}?limit=500")).await;
            let found = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|row| row["externalId"].as_str() == Some(external_id))
                .unwrap_or_else(|| panic!("the seed has {external_id} in {collection}"));
            let id = found["id"].as_str().expect("an id");
            let row = get(format!("{collection}/{id}")).await;
            ids.insert(
                example["id"].as_str().expect("the example's id").to_owned(),
                id.to_owned(),
            );
            rows.push((dto, input, example.clone(), input_example.clone(), collection, row));
        }
        assert_eq!(ids.len(), SEEDED.len(), "every example names another row");
        for (dto, _, example, _, collection, row) in &rows {
            let mut out = Vec::new();
            differences(dto, example, row, &ids, &mut out);
            assert!(
                out.is_empty(),
                "the {dto} example is not the row in {collection}:\n{}",
                out.join("\n")
            );
        }

        // Upsert every input example to its seed row: found identical, nothing written.
        let changes = count(&app.db, "change_log", "").await;
        for (dto, input, example, input_example, collection, row) in &rows {
            let external_id = input_example["externalId"].as_str().expect("externalId");
            let path = format!("{collection}/external/{external_id}");
            let response = app
                .client
                .put(app.url(&path))
                .bearer_auth(&token)
                .json(&translated(input_example, &ids))
                .send()
                .await
                .expect("put");
            let status = response.status();
            let answer: Value = response.json().await.expect("JSON");
            assert_eq!(status, 200, "PUT {path} with the {input} example: {answer}");
            assert_eq!(answer["id"], row["id"], "{input}: the seed row, not another");
            assert_eq!(answer["version"], row["version"], "{input}: the seed row is unchanged");
            let mut out = Vec::new();
            differences(dto, example, &answer, &ids, &mut out);
            assert!(out.is_empty(), "after the {input} example:\n{}", out.join("\n"));
        }
        assert_eq!(
            count(&app.db, "change_log", "").await,
            changes,
            "no example changed its seed row"
        );
    }
);
