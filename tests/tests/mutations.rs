//! GraphQL mutations through the real server: every write goes through the service as
//! REST's does (REST reads back what GraphQL wrote, the audit names the request), updates
//! change the fields given, user errors name the input field and leave the database as it
//! was, bulk upserts are all or nothing, `Idempotency-Key` replays a create, and the write
//! scope, GET and global ids of another type are refused.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{TestApp, both_backends};

/// Posts `query` with `variables` and extra `headers`: the JSON answer (always a 200).
async fn post(
    app: &TestApp,
    token: &str,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> Value {
    let mut request = app.client.post(app.url("/graphql")).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("a GraphQL request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("a JSON answer")
}

/// The data of an answer without errors.
async fn data(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let answer = post(app, token, &[], query, variables).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    answer["data"].clone()
}

async fn rest(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = tests::call(app, token, reqwest::Method::GET, path, None).await;
    (status, body)
}

const NETWORK: &str = "network { id rowId slug name kind status summary startYear version themeSlugs regions { role regionCode } }";

both_backends!(
    async fn mutations_write_through_the_service_as_rest_does(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:networks", &[]).await;
        let admin = tests::token_for(&app, "beheer", "admin", "admin", &[]).await;

        // Create: enums as GraphQL's, stored as REST's wire values; the request id audited.
        let created = post(&app, &token, &[("x-request-id", "gql-maak-1")], &format!(r#"mutation($input: NetworkInput!) {{
            createNetwork(input: $input) {{ created userErrors {{ field message code }} {NETWORK} }}
        }}"#), json!({"input": {"name": "Lab Zuidoost", "kind": "LIVING_LAB", "summary": "Samen gezond",
            "themeSlugs": ["voeding"], "regions": [{"regionCode": "GM0114", "role": "FOCUS"}]}})).await;
        let payload = &created["data"]["createNetwork"];
        assert_eq!(payload["userErrors"], json!([]), "{created}");
        assert_eq!(payload["created"], json!(true));
        let network = &payload["network"];
        assert_eq!((network["kind"].as_str(), network["version"].as_i64()), (Some("LIVING_LAB"), Some(1)), "{network}");
        let (id, row) = (network["id"].as_str().expect("id").to_owned(), network["rowId"].as_str().expect("rowId").to_owned());
        let (status, read) = rest(&app, &token, &format!("/api/v1/networks/{row}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((read["kind"].as_str(), read["summary"].as_str(), read["slug"].as_str()), (Some("living_lab"), Some("Samen gezond"), network["slug"].as_str()));
        assert_eq!(read["themes"], json!(["voeding"]));
        assert_eq!(read["regions"][0]["regionCode"], "GM0114");

        // Update: the fields given change (null clears), the others stay.
        let update = format!(r#"mutation($id: ID!, $input: NetworkInput!, $v: Int) {{
            updateNetwork(id: $id, input: $input, expectedVersion: $v) {{ created userErrors {{ field message code }} {NETWORK} }}
        }}"#);
        let updated = data(&app, &token, &update, json!({"id": id, "input": {"summary": null, "startYear": 2024}, "v": 1})).await;
        let network = &updated["updateNetwork"]["network"];
        assert_eq!(updated["updateNetwork"]["userErrors"], json!([]), "{updated}");
        assert_eq!((network["version"].as_i64(), network["startYear"].as_i64(), network["name"].as_str()), (Some(2), Some(2024), Some("Lab Zuidoost")), "{network}");
        assert_eq!(network["summary"], Value::Null);
        assert_eq!(network["themeSlugs"], json!(["voeding"]), "untouched fields stay");

        // A stale version and invalid fields are user errors, and nothing changes.
        let stale = data(&app, &token, &update, json!({"id": id, "input": {"name": "Weg"}, "v": 1})).await;
        assert_eq!(stale["updateNetwork"]["network"], Value::Null);
        assert_eq!(stale["updateNetwork"]["userErrors"][0]["field"], "expectedVersion", "{stale}");
        assert_eq!(stale["updateNetwork"]["userErrors"][0]["code"], "precondition_failed");
        let invalid = data(&app, &token, &update, json!({"id": id, "input": {"name": " ", "startYear": 1200, "themeSlugs": ["geen-thema"]}})).await;
        let fields: Vec<&str> = invalid["updateNetwork"]["userErrors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field")).collect();
        for field in ["input.name", "input.startYear", "input.themeSlugs[0]"] {
            assert!(fields.contains(&field), "{field} in {invalid}");
        }
        assert!(invalid["updateNetwork"]["userErrors"].as_array().expect("errors").iter().all(|e| e["code"] == "validation_failed"), "{invalid}");
        let (_, read) = rest(&app, &token, &format!("/api/v1/networks/{row}")).await;
        assert_eq!((read["version"].as_i64(), read["name"].as_str(), read["startYear"].as_i64()), (Some(2), Some("Lab Zuidoost"), Some(2024)), "{read}");

        // Upsert by externalId: created once, then the same content changes nothing.
        let upsert = format!(r#"mutation($input: NetworkInput!) {{
            upsertNetwork(externalId: "lab-noord", input: $input) {{ created userErrors {{ field code }} {NETWORK} }}
        }}"#);
        let input = json!({"input": {"name": "Lab Noord", "kind": "LEARNING_NETWORK", "status": "ACTIVE"}});
        let first = data(&app, &token, &upsert, input.clone()).await;
        let again = data(&app, &token, &upsert, input).await;
        assert_eq!((first["upsertNetwork"]["created"].as_bool(), again["upsertNetwork"]["created"].as_bool()), (Some(true), Some(false)), "{first} {again}");
        assert_eq!(first["upsertNetwork"]["network"]["rowId"], again["upsertNetwork"]["network"]["rowId"]);
        assert_eq!(again["upsertNetwork"]["network"]["version"], json!(1));

        // Bulk: one bad item and none is written; then all are, each readable by its id.
        let bulk = r#"mutation($items: [NetworkInput!]!) {
            bulkUpsertNetworks(items: $items) { items { index externalId id rowId version created } userErrors { field message code } }
        }"#;
        let refused = data(&app, &token, bulk, json!({"items": [
            {"externalId": "bulk-a", "name": "Bulk A", "kind": "LIVING_LAB"},
            {"externalId": "bulk-b", "kind": "LIVING_LAB"}]})).await;
        assert_eq!(refused["bulkUpsertNetworks"]["items"], json!([]));
        assert_eq!(refused["bulkUpsertNetworks"]["userErrors"][0]["field"], "items[1].name", "{refused}");
        let (status, _) = rest(&app, &token, "/api/v1/networks/external/bulk-a").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "all or nothing");
        let answer = post(&app, &token, &[], bulk, json!({"items": [
            {"externalId": "bulk-a", "name": "Bulk A", "kind": "LIVING_LAB"},
            {"externalId": "bulk-b", "name": "Bulk B", "kind": "LIVING_LAB"}]})).await;
        // A bulk costs by its items (5 each, beside the write's 10), so that many bulks in
        // one request are not one call.
        let cost = answer["extensions"]["cost"]["requestedQueryCost"].as_u64().expect("a cost");
        assert!(cost >= 10 + 2 * 5, "{answer}");
        let done = answer["data"].clone();
        let items = done["bulkUpsertNetworks"]["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), 2, "{done}");
        for item in &items {
            assert_eq!(item["created"], json!(true));
            let node = data(&app, &token, "query($id: ID!) { node(id: $id) { ... on Network { rowId name } } }", json!({"id": item["id"]})).await;
            assert_eq!(node["node"]["rowId"], item["rowId"], "{node}");
        }

        // Delete with the version it is meant for; then it is gone on both faces.
        let delete = r#"mutation($id: ID!, $v: Int) { deleteNetwork(id: $id, expectedVersion: $v) { deletedId deletedRowId userErrors { field code } } }"#;
        let stale = data(&app, &token, delete, json!({"id": id, "v": 1})).await;
        assert_eq!(stale["deleteNetwork"]["userErrors"][0]["code"], "precondition_failed", "{stale}");
        let deleted = data(&app, &token, delete, json!({"id": id, "v": 2})).await;
        assert_eq!((deleted["deleteNetwork"]["deletedId"].as_str(), deleted["deleteNetwork"]["deletedRowId"].as_str()), (Some(id.as_str()), Some(row.as_str())), "{deleted}");
        assert_eq!(data(&app, &token, "query($id: ID!) { node(id: $id) { id } }", json!({"id": id})).await["node"], Value::Null);
        assert_eq!(rest(&app, &token, &format!("/api/v1/networks/{row}")).await.0, StatusCode::NOT_FOUND);

        // The audit log has each write with the partner and the request that made it.
        let (status, audit) = rest(&app, &admin, &format!("/api/v1/audit?resourceId={row}")).await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        let actions: Vec<&str> = audit["items"].as_array().expect("items").iter().map(|e| e["action"].as_str().expect("action")).collect();
        assert_eq!(actions, ["create", "update", "delete"], "{audit}");
        assert_eq!(audit["items"][0]["requestId"], "gql-maak-1", "{audit}");
        assert!(audit["items"].as_array().expect("items").iter().all(|e| !e["partnerId"].is_null()), "{audit}");
    }
);

both_backends!(
    async fn a_create_with_an_idempotency_key_is_made_once_and_refused_for_another_request(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:practice-examples", &[]).await;
        let create = r#"mutation($input: PracticeExampleInput!) {
            eerste: createPracticeExample(input: $input) { practiceExample { rowId title status } replayed userErrors { field code } }
        }"#;
        let input = json!({"input": {"title": "Buurtmaaltijd", "regionCode": "GM0114", "status": "PUBLISHED", "themeSlugs": ["voeding"]}});
        let key = [("idempotency-key", "maaltijd-1")];
        let first = post(&app, &token, &key, create, input.clone()).await;
        let again = post(&app, &token, &key, create, input).await;
        let row = first["data"]["eerste"]["practiceExample"]["rowId"].as_str().expect("created").to_owned();
        assert_eq!(again["data"]["eerste"]["practiceExample"]["rowId"], json!(row), "{first} {again}");
        assert_eq!((first["data"]["eerste"]["replayed"].as_bool(), again["data"]["eerste"]["replayed"].as_bool()), (Some(false), Some(true)), "{first} {again}");
        assert_eq!(tests::count(&app.db, "practice_examples", "title = 'Buurtmaaltijd'").await, 1);
        // Another request under the same key is refused, and creates nothing.
        let other = post(&app, &token, &key, create, json!({"input": {"title": "Andere maaltijd", "regionCode": "GM0114"}})).await;
        assert_eq!(other["data"]["eerste"]["userErrors"][0]["code"], "idempotency_key_reused", "{other}");
        assert_eq!(tests::count(&app.db, "practice_examples", "title = 'Andere maaltijd'").await, 0);
        // A partner that may write but not read learns what it created, replayed too.
        let writer = tests::token_for(&app, "schrijver", "municipality", "write:practice-examples", &[]).await;
        let own = [("idempotency-key", "alleen-schrijven")];
        let input = json!({"input": {"title": "Alleen geschreven", "regionCode": "GM0114"}});
        for replayed in [false, true] {
            let answer = post(&app, &writer, &own, create, input.clone()).await;
            assert_eq!(answer["data"]["eerste"]["practiceExample"]["title"], "Alleen geschreven", "{answer}");
            assert_eq!(answer["data"]["eerste"]["replayed"], json!(replayed), "{answer}");
        }
        assert_eq!(tests::count(&app.db, "practice_examples", "title = 'Alleen geschreven'").await, 1);
        // Without a key, the same request creates another.
        let third = post(&app, &token, &[], create, json!({"input": {"title": "Buurtmaaltijd", "regionCode": "GM0114"}})).await;
        assert_ne!(third["data"]["eerste"]["practiceExample"]["rowId"], json!(row), "{third}");
    }
);

both_backends!(
    async fn mutations_need_the_write_scope_a_post_and_an_id_of_their_type(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let reader = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let writer = tests::token_for(&app, "provincie", "provincial_network", "read write:networks", &[]).await;
        let create = r#"mutation { createNetwork(input: {name: "Niet mijn lab", kind: LIVING_LAB}) { network { id } } }"#;
        let refused = post(&app, &reader, &[], create, json!({})).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "forbidden", "{refused}");
        assert_eq!(tests::count(&app.db, "networks", "name = 'Niet mijn lab'").await, 0);

        let get = app.client.get(app.url("/graphql")).bearer_auth(&writer).query(&[("query", create)]).send().await.expect("get");
        assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(tests::count(&app.db, "networks", "name = 'Niet mijn lab'").await, 0);

        // A theme's global id is no network's; an undefined enum value never reaches the service.
        let theme = data(&app, &writer, r#"{ theme(slug: "voeding") { id } }"#, json!({})).await;
        let wrong = post(&app, &writer, &[], "mutation($id: ID!) { deleteNetwork(id: $id) { deletedId } }", json!({"id": theme["theme"]["id"]})).await;
        assert_eq!(wrong["errors"][0]["extensions"]["code"], "validation_failed", "{wrong}");
        assert!(wrong["errors"][0]["message"].as_str().is_some_and(|m| m.contains("Theme")), "{wrong}");
        assert_eq!(tests::count(&app.db, "themes", "slug = 'voeding' AND deleted_at IS NULL").await, 1);
        let enum_value = post(&app, &writer, &[], r#"mutation { createNetwork(input: {name: "X", kind: "living_lab"}) { network { id } } }"#, json!({})).await;
        assert!(enum_value["errors"][0]["message"].as_str().is_some_and(|m| m.contains("NetworkKind")), "{enum_value}");
    }
);

both_backends!(
    /// A goal stays with its network: neither a PUT by `externalId` through another
    /// network's path nor a GraphQL update or upsert naming another network moves it, and
    /// nothing is written.
    async fn a_sub_resource_is_never_moved_to_another_parent(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:networks", &[]).await;
        let mut networks = Vec::new();
        for slug in ["eerste", "tweede"] {
            let (status, _, body) = tests::call(&app, &token, reqwest::Method::POST, "/api/v1/networks", Some(json!({"slug": slug, "name": slug, "kind": "living_lab"}))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            networks.push(body["id"].as_str().expect("an id").to_owned());
        }
        let (status, _, goal) = tests::call(&app, &token, reqwest::Method::PUT, &format!("/api/v1/networks/{}/goals/external/doel-1", networks[0]), Some(json!({"position": 1, "title": "Opzetten"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{goal}");
        let id = goal["id"].as_str().expect("an id").to_owned();

        let (status, _, refused) = tests::call(&app, &token, reqwest::Method::PUT, &format!("/api/v1/networks/{}/goals/external/doel-1", networks[1]), Some(json!({"position": 9, "title": "Gekaapt"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["invalidParams"][0]["name"], "networkId", "{refused}");

        use base64::Engine;
        let global = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("Goal:{id}"));
        let answer = data(&app, &token, "mutation($id: ID!, $n: UUID!) { updateGoal(id: $id, input: {networkId: $n}) { goal { networkId } userErrors { field code } } }", json!({"id": global, "n": networks[1]})).await;
        assert_eq!(answer["updateGoal"]["userErrors"][0]["field"], "input.networkId", "{answer}");
        let answer = data(&app, &token, "mutation($n: UUID!) { upsertGoal(externalId: \"doel-1\", input: {networkId: $n, position: 2, title: \"Anders\"}) { goal { networkId } userErrors { field code } } }", json!({"n": networks[1]})).await;
        assert_eq!(answer["upsertGoal"]["userErrors"][0]["field"], "input.networkId", "{answer}");

        let (status, still) = rest(&app, &token, &format!("/api/v1/networks/{}/goals/{id}", networks[0])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((still["title"].as_str(), still["version"].as_i64()), (Some("Opzetten"), Some(1)), "{still}");
        let (status, _) = rest(&app, &token, &format!("/api/v1/networks/{}/goals/{id}", networks[1])).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);
