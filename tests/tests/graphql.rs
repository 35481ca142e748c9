//! GraphQL (`/graphql`) through the real server: connections with REST's filters and
//! cursors, global ids, natural keys, stats equal to REST's, errors with their codes,
//! authentication and visibility as REST has them, the limits, the transport, and a
//! GraphQL client nobody here wrote (Python's `gql`); and the committed schema
//! `openapi/schema.graphql` (run `cargo run -p api -- graphql-schema >
//! openapi/schema.graphql` after a change to it).

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{TestApp, both_backends};

const COMMITTED_SCHEMA: &str = include_str!("../../openapi/schema.graphql");

#[test]
fn the_committed_graphql_schema_is_what_the_code_produces() {
    assert!(
        api::graphql::sdl() == COMMITTED_SCHEMA,
        "openapi/schema.graphql is out of date: run `cargo run -p api -- graphql-schema > openapi/schema.graphql`"
    );
}

/// Posts `query` with `variables` as `token`'s partner: the status and the JSON answer.
async fn gql(app: &TestApp, token: &str, query: &str, variables: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("a GraphQL request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The data of an answer that must have no errors.
async fn data(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, answer) = gql(app, token, query, variables).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("errors").is_none(), "{answer}");
    answer["data"].clone()
}

/// The first error of an answer that must have one.
async fn error(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, answer) = gql(app, token, query, variables).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["errors"][0].clone()
}

/// Creates networks through REST: `(slug, name, kind)`.
async fn networks(app: &TestApp, token: &str, rows: &[(&str, &str, &str)]) {
    let items: Vec<Value> = rows
        .iter()
        .map(|(slug, name, kind)| json!({"externalId": slug, "slug": slug, "name": name, "kind": kind, "status": "active"}))
        .collect();
    let (status, _, body) = tests::call(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/networks/bulk",
        Some(json!({"items": items})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

const NETWORK_PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $filter: NetworkFilter, $order: NetworkOrder) {
  networks(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $order) {
    edges { cursor node { slug kind } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// Every slug of a walk forwards in pages of `size`, through `endCursor` (or, with
/// `by_edge`, the last edge's own cursor).
async fn walk_forwards(
    app: &TestApp,
    token: &str,
    size: i32,
    filter: Value,
    order: Value,
    by_edge: bool,
) -> Vec<String> {
    let (mut slugs, mut after) = (Vec::new(), Value::Null);
    loop {
        let page = data(
            app,
            token,
            NETWORK_PAGE,
            json!({"first": size, "after": after, "filter": filter, "order": order}),
        )
        .await;
        let connection = &page["networks"];
        let edges = connection["edges"].as_array().expect("edges");
        assert!(edges.len() <= size as usize);
        slugs.extend(
            edges
                .iter()
                .map(|e| e["node"]["slug"].as_str().expect("slug").to_owned()),
        );
        if connection["pageInfo"]["hasNextPage"] != json!(true) {
            return slugs;
        }
        after = if by_edge {
            edges.last().expect("an edge")["cursor"].clone()
        } else {
            connection["pageInfo"]["endCursor"].clone()
        };
    }
}

both_backends!(
    async fn a_filtered_connection_pages_forwards_and_backwards_and_sees_every_row_once(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:networks", &[]).await;
        let rows: Vec<(String, String, &str)> = (0..11)
            .map(|i| (format!("lab-{i:02}"), format!("Lab {}", (b'a' + (i * 7 % 11) as u8) as char), if i % 3 == 0 { "learning_network" } else { "living_lab" }))
            .collect();
        let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(s, n, k)| (s.as_str(), n.as_str(), *k)).collect();
        networks(&app, &token, &rows).await;
        let labs: Vec<String> = rows.iter().filter(|r| r.2 == "living_lab").map(|r| r.0.to_owned()).collect();
        let filter = json!({"kind": "LIVING_LAB"});

        // Creation order, forwards: every living lab once, in order, and nothing else.
        let forwards = walk_forwards(&app, &token, 3, filter.clone(), Value::Null, false).await;
        assert_eq!(forwards, labs);

        // By name, descending, following the edges' own cursors: the same rows.
        let by_name = json!({"field": "NAME", "direction": "DESC"});
        let named = walk_forwards(&app, &token, 3, filter.clone(), by_name.clone(), false).await;
        assert_eq!(walk_forwards(&app, &token, 3, filter.clone(), by_name.clone(), true).await, named);
        let mut expected: Vec<(&str, &str)> = rows.iter().filter(|r| r.2 == "living_lab").map(|r| (r.1, r.0)).collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(named, expected.iter().map(|(_, slug)| (*slug).to_owned()).collect::<Vec<_>>());
        let by_update = json!({"field": "UPDATED_AT"});
        assert_eq!(
            walk_forwards(&app, &token, 2, filter.clone(), by_update.clone(), true).await,
            walk_forwards(&app, &token, 2, filter.clone(), by_update, false).await,
        );

        // Backwards from the end, in pages of 3: the same rows, each page in list order.
        let (mut backwards, mut before) = (Vec::new(), Value::Null);
        loop {
            let page = data(&app, &token, NETWORK_PAGE, json!({"last": 3, "before": before, "filter": filter, "order": by_name})).await;
            let connection = &page["networks"];
            let slugs: Vec<String> = connection["edges"].as_array().expect("edges").iter().map(|e| e["node"]["slug"].as_str().expect("slug").to_owned()).collect();
            backwards.splice(0..0, slugs);
            if connection["pageInfo"]["hasPreviousPage"] != json!(true) {
                break;
            }
            before = connection["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(backwards, named);

        // A cursor is REST's: GraphQL's endCursor continues a REST list, and REST's
        // nextCursor a connection.
        let page = data(&app, &token, NETWORK_PAGE, json!({"first": 2, "filter": filter})).await;
        let end = page["networks"]["pageInfo"]["endCursor"].as_str().expect("a cursor").to_owned();
        let (status, _, rest) = tests::call(&app, &token, reqwest::Method::GET, &format!("/api/v1/networks?kind=living_lab&limit=2&cursor={end}"), None).await;
        assert_eq!(status, StatusCode::OK, "{rest}");
        assert_eq!(rest["items"][0]["slug"].as_str(), Some(labs[2].as_str()));
        let (_, _, first) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/networks?kind=living_lab&limit=2", None).await;
        assert_eq!(first["nextCursor"].as_str(), Some(end.as_str()), "the same cursor from both faces");
        let next = data(&app, &token, NETWORK_PAGE, json!({"first": 2, "after": rest["nextCursor"], "filter": filter})).await;
        assert_eq!(next["networks"]["edges"][0]["node"]["slug"].as_str(), Some(labs[4].as_str()));

        // A cursor of another order is refused, named as this face names it.
        let refused = error(&app, &token, NETWORK_PAGE, json!({"first": 2, "after": end, "order": by_name})).await;
        assert_eq!(refused["extensions"]["code"], "validation_failed", "{refused}");
        assert_eq!(refused["extensions"]["invalidParams"][0]["name"], "after", "{refused}");
    }
);

both_backends!(
    async fn global_ids_and_natural_keys_read_back_what_rest_shows(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let keys = data(&app, &token, r#"{
            region(code: "GM0114") { id rowId name kind code }
            network(slug: "legro") { id rowId slug name kind status }
            theme(slug: "voeding") { id rowId slug name }
            practiceExample(slug: "legro-gemeentedelers-2023") { id rowId slug status themes: themeSlugs collection }
            missing: region(code: "GM9999") { id }
        }"#, json!({})).await;
        assert_eq!((keys["region"]["name"].as_str(), keys["region"]["kind"].as_str()), (Some("Emmen"), Some("MUNICIPALITY")), "{keys}");
        assert_eq!(keys["network"]["kind"], "LEARNING_NETWORK", "{keys}");
        assert_eq!(keys["practiceExample"]["status"], "PUBLISHED", "{keys}");
        assert_eq!(keys["missing"], Value::Null);
        // The same rows as REST's, by the row ids REST calls id.
        for (field, path) in [("region", "regions"), ("network", "networks"), ("theme", "themes"), ("practiceExample", "practice-examples")] {
            let row = &keys[field];
            let (status, _, rest) = tests::call(&app, &token, reqwest::Method::GET, &format!("/api/v1/{path}/{}", row["rowId"].as_str().expect("rowId")), None).await;
            assert_eq!(status, StatusCode::OK, "{rest}");
            assert_eq!(&rest["id"], &row["rowId"], "{field}");
            for (name, value) in row.as_object().expect("an object") {
                if !matches!(name.as_str(), "id" | "rowId" | "kind" | "status") {
                    assert_eq!(&rest[name], value, "{field}.{name}");
                }
            }
        }

        // node(id:) and nodes(ids:) round trip, with the type the id names.
        let ids: Vec<Value> = ["region", "network", "theme", "practiceExample"].iter().map(|f| keys[*f]["id"].clone()).collect();
        let node = data(&app, &token, "query($id: ID!) { node(id: $id) { __typename id ... on Network { slug } } }", json!({"id": ids[1]})).await;
        assert_eq!(node["node"], json!({"__typename": "Network", "id": ids[1], "slug": "legro"}));
        let nodes = data(&app, &token, "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Region { code } ... on Theme { slug } } }", json!({"ids": ids})).await;
        let typenames: Vec<&str> = nodes["nodes"].as_array().expect("nodes").iter().map(|n| n["__typename"].as_str().expect("a type")).collect();
        assert_eq!(typenames, ["Region", "Network", "Theme", "PracticeExample"]);
        assert_eq!((nodes["nodes"][0]["code"].as_str(), nodes["nodes"][2]["slug"].as_str()), (Some("GM0114"), Some("voeding")));
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(&nodes["nodes"][i]["id"], id);
        }
        // A well-formed id of nothing is null; one that is not a global id an error naming it.
        use base64::Engine;
        let nothing = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("Network:{}", uuid::Uuid::now_v7()));
        let gone = data(&app, &token, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({"ids": [nothing, ids[0]]})).await;
        assert_eq!(gone["nodes"][0], Value::Null);
        assert_eq!(gone["nodes"][1]["id"], ids[0]);
        let row_id = keys["region"]["rowId"].clone();
        let refused = error(&app, &token, "query($id: ID!) { node(id: $id) { id } }", json!({"id": row_id})).await;
        assert_eq!(refused["extensions"]["code"], "validation_failed", "{refused}");
        assert_eq!(refused["extensions"]["invalidParams"], json!([{"name": "id", "reason": "is not a global id of this API (the id of a node, not its rowId)"}]));
    }
);

both_backends!(
    async fn stats_are_rest_stats_for_the_same_filter(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:networks write:practice-examples", &[]).await;
        for (i, region) in ["GM0114", "PV20", "PV22"].iter().enumerate() {
            let (status, _, body) = tests::call(&app, &token, reqwest::Method::POST, "/api/v1/practice-examples",
                Some(json!({"title": format!("Voorbeeld {i}"), "regionCode": region, "status": "published", "themes": ["voeding"], "year": 2023 + i}))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let cases = [
            ("practiceExamples(groupBy: REGION, regionLevel: PROVINCE)", "/api/v1/stats/practice-examples?groupBy=region&regionLevel=province"),
            ("practiceExamples(groupBy: REGION, filter: {theme: \"voeding\"})", "/api/v1/stats/practice-examples?groupBy=region&theme=voeding"),
            ("practiceExamples(groupBy: YEAR, filter: {region: \"PV22\"}, search: \"voorbeeld\")", "/api/v1/stats/practice-examples?groupBy=year&region=PV22&q=voorbeeld"),
            ("networks(groupBy: THEME)", "/api/v1/stats/networks?groupBy=theme"),
            ("networks(groupBy: REGION, regionLevel: PROVINCE, filter: {status: ACTIVE})", "/api/v1/stats/networks?groupBy=region&regionLevel=province&status=active"),
            ("initiatives(groupBy: REGION)", "/api/v1/stats/initiatives?groupBy=region"),
            ("assignments(groupBy: YEAR)", "/api/v1/stats/assignments?groupBy=year"),
            ("lessons(groupBy: THEME, updatedSince: \"2000-01-01T00:00:00Z\")", "/api/v1/stats/lessons?groupBy=theme&updatedSince=2000-01-01T00:00:00Z"),
        ];
        for (field, path) in cases {
            let answer = data(&app, &token, &format!("{{ stats {{ counted: {field} {{ collection groupBy level totalOf groups {{ key label count total }} }} }} }}"), json!({})).await;
            let (status, _, mut rest) = tests::call(&app, &token, reqwest::Method::GET, path, None).await;
            assert_eq!(status, StatusCode::OK, "{rest}");
            // REST leaves out some fields that are null, GraphQL has every field asked for.
            let mut ours = answer["stats"]["counted"].clone();
            strip_nulls(&mut ours);
            strip_nulls(&mut rest);
            assert_eq!(ours, rest, "{field}");
        }
        let provinces = data(&app, &token, "{ stats { practiceExamples(groupBy: REGION, regionLevel: PROVINCE) { groups { key count } } } }", json!({})).await;
        assert!(provinces["stats"]["practiceExamples"]["groups"].as_array().expect("groups").iter().any(|g| g["key"] == "PV22"), "{provinces}");
    }
);

/// `value` without its null fields, as REST sends it.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.retain(|_, v| !v.is_null());
            object.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

both_backends!(
    async fn errors_carry_the_codes_rest_has_and_name_graphql_arguments(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:networks", &[]).await;
        for (query, name) in [
            ("{ networks(first: 0) { edges { cursor } } }", "first"),
            ("{ networks(first: 501) { edges { cursor } } }", "first"),
            ("{ networks(last: -1) { edges { cursor } } }", "last"),
            ("{ networks(search: \"de\") { edges { cursor } } }", "search"),
            ("{ networks(filter: {region: \"GM9999\"}) { edges { cursor } } }", "filter.region"),
            ("{ networks(after: \"bm90IGEgY3Vyc29y\") { edges { cursor } } }", "after"),
            ("{ networks(first: 2, last: 2) { edges { cursor } } }", "last"),
            ("{ stats { networks(groupBy: YEAR, search: \"x\") { groups { key } } } }", "search"),
            // What no row can hold, which PostgreSQL would refuse to compare.
            ("{ practiceExamples(filter: {collection: \"a\\u0000b\"}) { edges { cursor } } }", "filter.collection"),
            ("{ practiceExamples(updatedSince: \"-262143-01-01T00:00:00Z\") { edges { cursor } } }", "updatedSince"),
            ("{ stats { practiceExamples(groupBy: YEAR, updatedSince: \"+20000-01-01T00:00:00Z\") { groups { key } } } }", "updatedSince"),
        ] {
            let refused = error(&app, &token, query, json!({})).await;
            assert_eq!(refused["extensions"]["code"], "validation_failed", "{query}: {refused}");
            assert_eq!(refused["extensions"]["invalidParams"][0]["name"], name, "{query}: {refused}");
            assert!(refused["path"].is_array(), "{refused}");
        }
        // Without the read scope: forbidden, as REST's 403.
        let feed_only = tests::token_for(&app, "volger", "dashboard", "changes:read", &[]).await;
        let refused = error(&app, &feed_only, "{ themes { edges { cursor } } }", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "forbidden", "{refused}");
        let (status, _, rest) = tests::call(&app, &feed_only, reqwest::Method::GET, "/api/v1/themes", None).await;
        assert_eq!((status, rest["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
        // A query that does not parse or validate has a code too.
        let refused = error(&app, &token, "{ networks { edges { nosuchfield } } }", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "graphql_validation_failed", "{refused}");
        let refused = error(&app, &token, "{ networks { ", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "graphql_parse_failed", "{refused}");
    }
);

both_backends!(
    async fn graphql_authenticates_and_meters_like_rest(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| config.rate_limit_per_minute = 3).await else { return };
        let query = json!({"query": "{ themes { edges { cursor } } }"});
        let anonymous = app.client.post(app.url("/graphql")).json(&query).send().await.expect("post");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer realm=\"leernet\"");
        assert!(anonymous.headers().contains_key("x-request-id") && anonymous.headers().contains_key("api-version"));
        assert_eq!(anonymous.json::<Value>().await.expect("a problem")["code"], "unauthorized");
        let forged = app.client.get(app.url("/graphql?query=%7Bthemes%7Bedges%7Bcursor%7D%7D%7D")).bearer_auth("not.a.token").send().await.expect("get");
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        assert!(forged.headers()["www-authenticate"].to_str().expect("ascii").contains("error=\"invalid_token\""));

        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let response = app.client.post(app.url("/graphql")).bearer_auth(&token).header("x-request-id", "mijn-verzoek-1").json(&query).send().await.expect("post");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-request-id"], "mijn-verzoek-1");
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(response.headers()["ratelimit-remaining"], "2");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("application/json"));
        // GET for a query, 405 for a mutation.
        let response = app.client.get(app.url("/graphql?query=%7Bthemes%7Bedges%7Bcursor%7D%7D%7D")).bearer_auth(&token).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.expect("json")["data"]["themes"]["edges"], json!([]));
        let response = app.client.get(app.url("/graphql?query=mutation%7Bx%7D")).bearer_auth(&token).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        // Past the partner's limit: 429 with Retry-After, as REST.
        let response = app.client.post(app.url("/graphql")).bearer_auth(&token).json(&query).send().await.expect("post");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
        let (status, _, _) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/themes", None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "one limit for both faces");
    }
);

both_backends!(
    async fn another_partners_draft_is_invisible_as_in_rest(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let owner = tests::token_for(&app, "gemeente", "municipality", "read write:practice-examples", &[]).await;
        let other = tests::token_for(&app, "andere", "municipality", "read", &[]).await;
        let (status, _, draft) = tests::call(&app, &owner, reqwest::Method::POST, "/api/v1/practice-examples",
            Some(json!({"title": "Nog niet af", "slug": "nog-niet-af", "status": "draft", "year": 2024}))).await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        let query = r#"query($id: ID!) {
            practiceExamples { edges { node { slug } } }
            practiceExample(slug: "nog-niet-af") { slug }
            node(id: $id) { id }
        }"#;
        let mine = data(&app, &owner, "{ practiceExamples { nodes { id slug status } } }", json!({})).await;
        let id = mine["practiceExamples"]["nodes"][0]["id"].clone();
        assert_eq!(mine["practiceExamples"]["nodes"][0]["status"], "DRAFT");
        let seen = data(&app, &owner, query, json!({"id": id})).await;
        assert_eq!(seen["practiceExample"]["slug"], "nog-niet-af");
        assert_eq!(seen["node"]["id"], id);
        let unseen = data(&app, &other, query, json!({"id": id})).await;
        assert_eq!(unseen, json!({"practiceExamples": {"edges": []}, "practiceExample": null, "node": null}));
        let (status, _, _) = tests::call(&app, &other, reqwest::Method::GET, &format!("/api/v1/practice-examples/{}", draft["id"].as_str().expect("id")), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "REST agrees");
        let stats = "{ stats { practiceExamples(groupBy: YEAR) { groups { key count } } } }";
        let counted = data(&app, &owner, stats, json!({})).await;
        assert_eq!(counted["stats"]["practiceExamples"]["groups"], json!([{"key": "2024", "count": 1}]));
        let counted = data(&app, &other, stats, json!({})).await;
        assert_eq!(counted["stats"]["practiceExamples"]["groups"], json!([]), "nor is it counted");
    }
);

both_backends!(
    async fn queries_over_the_limits_are_refused_before_they_run(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_depth = 3;
            config.graphql_max_complexity = 200;
        }).await else { return };
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        // Depth: regions > edges > node > name is 4.
        let refused = error(&app, &token, "{ regions(first: 5) { edges { node { name } } } }", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "query_too_deep", "{refused}");
        assert_eq!((refused["extensions"]["limit"].as_u64(), refused["extensions"]["cost"].as_u64()), (Some(3), Some(4)), "{refused}");
        assert!(refused["message"].as_str().expect("a message").contains("--graphql-max-depth"), "{refused}");
        // Through fragments too.
        let refused = error(&app, &token, "{ regions(first: 5) { ...page } } fragment page on RegionConnection { edges { ...row } } fragment row on RegionEdge { node { name } }", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "query_too_deep", "{refused}");
        data(&app, &token, "{ regions(first: 5) { nodes { name } } }", json!({})).await;
        // Introspection is not counted: tools read the schema by it.
        let schema = data(&app, &token, "{ __schema { queryType { fields { name type { kind ofType { kind ofType { name } } } } } } }", json!({})).await;
        assert!(schema["__schema"]["queryType"]["fields"].as_array().expect("fields").iter().any(|f| f["name"] == "practiceExamples"));
        // Complexity: a connection costs its page size times what one edge selects.
        let refused = error(&app, &token, "{ regions(first: 101) { nodes { name } } }", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "query_too_complex", "{refused}");
        assert_eq!((refused["extensions"]["limit"].as_u64(), refused["extensions"]["cost"].as_u64()), (Some(200), Some(202)), "{refused}");
        data(&app, &token, "{ regions(first: 100) { nodes { name } } }", json!({})).await;
        // With application/graphql-response+json, a query refused before it ran is a 400.
        let response = app.client.post(app.url("/graphql")).bearer_auth(&token)
            .header("accept", "application/graphql-response+json")
            .json(&json!({"query": "{ regions(first: 101) { nodes { name } } }"})).send().await.expect("post");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["content-type"], "application/graphql-response+json");
        // Batches are off by default.
        let response = app.client.post(app.url("/graphql")).bearer_auth(&token)
            .json(&json!([{"query": "{ themes { nodes { name } } }"}, {"query": "{ themes { nodes { slug } } }"}])).send().await.expect("post");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.json::<Value>().await.expect("a problem")["invalidParams"][0]["name"], "body");
        // The body limit applies.
        let huge = json!({"query": format!("{{ themes {{ nodes {{ name }} }} }} # {}", "x".repeat(1024 * 1024))});
        let response = app.client.post(app.url("/graphql")).bearer_auth(&token).json(&huge).send().await.expect("post");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
);

/// Python's `gql` (a GraphQL client nobody here wrote) over HTTP: it reads the schema by
/// introspection, validates the query against it, runs it with variables and pages on.
const GQL_CLIENT: &str = r#"
import json, sys
from gql import Client, gql
from gql.graphql_request import GraphQLRequest
from gql.transport.requests import RequestsHTTPTransport
url, token = sys.argv[1], sys.argv[2]
transport = RequestsHTTPTransport(url=url, headers={"Authorization": "Bearer " + token}, retries=0)
client = Client(transport=transport, fetch_schema_from_transport=True)
query = gql("""
query Themes($first: Int!, $after: String) {
  themes(first: $first, after: $after, orderBy: {field: NAME}) {
    edges { cursor node { id rowId slug name } }
    pageInfo { hasNextPage endCursor }
  }
}
""")
names, after = [], None
while True:
    page = client.execute(GraphQLRequest(query, variable_values={"first": 3, "after": after}))["themes"]
    names += [edge["node"]["name"] for edge in page["edges"]]
    if not page["pageInfo"]["hasNextPage"]:
        break
    after = page["pageInfo"]["endCursor"]
assert client.schema.get_type("Node") is not None
print(json.dumps(names))
"#;

both_backends!(
    async fn pythons_gql_client_reads_the_schema_and_pages_through_a_connection(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        if !crate::interop::python_module("gql") {
            return;
        }
        let url = app.url("/graphql");
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3").args(["-c", GQL_CLIENT, &url, &token]).output()
        }).await.expect("the run").expect("python3");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "gql: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        let names: Vec<String> = serde_json::from_str(stdout.trim()).expect("the names as JSON");
        let mut expected: Vec<String> = api::service::seed::THEMES.iter().map(|(_, name)| (*name).to_owned()).collect();
        expected.sort();
        assert_eq!(names, expected);
    }
);

/// The `rowId`s of a connection's nodes.
fn row_ids(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["rowId"].as_str().expect("rowId").to_owned())
        .collect()
}

/// The slugs of a connection's nodes, sorted.
fn slugs(connection: &Value) -> Vec<String> {
    let mut slugs: Vec<String> = connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["slug"].as_str().expect("slug").to_owned())
        .collect();
    slugs.sort();
    slugs
}

/// Bulk-writes `items` to `collection` through REST.
async fn bulk(app: &TestApp, token: &str, collection: &str, items: Vec<Value>) {
    let (status, _, body) = tests::call(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/{collection}/bulk"),
        Some(json!({"items": items})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

both_backends!(
    /// Every relation gives what the related collection's own list gives for the same
    /// filter, both ways, and pages like a root connection.
    async fn relations_answer_what_the_filtered_lists_answer(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_complexity = 10_000_000;
            config.rate_limit_per_minute = 1_000_000;
        }).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let writer = tests::token_for(&app, "gemeente", "municipality", "read write:practice-examples", &[]).await;
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let theme = api::service::seed::THEMES[0].0;
        bulk(&app, &writer, "practice-examples", (0..5).map(|i| json!({
            "externalId": format!("pe-{i}"), "slug": format!("voorbeeld-{i}"), "title": format!("Voorbeeld {i}"),
            "year": 2024, "status": "published", "regionCode": "GM0114", "networkSlug": "living-lab-m-en-gezond", "themes": [theme],
        })).collect()).await;

        let all = data(&app, &token, r#"{ networks(first: 500) { nodes {
            rowId slug themeSlugs
            themes { nodes { slug networks { nodes { slug } } } }
            regions { regionId regionCode role region { rowId code networks { nodes { slug } } } }
            parentNetwork { slug childNetworks { nodes { slug } } }
            childNetworks { nodes { slug parentNetwork { slug } } }
            goals { nodes { rowId network { slug } } }
            memberships { nodes { rowId network { slug } organization { rowId } } }
            reports { nodes { rowId } }
            practiceExamples { nodes { rowId network { slug } region { rowId } themes { nodes { slug } } } }
        } } }"#, json!({})).await;
        let lists = r#"query($id: UUID!) {
            goals(filter: {networkId: $id}) { nodes { rowId } }
            memberships(filter: {networkId: $id}) { nodes { rowId } }
            reports(filter: {networkId: $id}) { nodes { rowId } }
            practiceExamples(filter: {networkId: $id}) { nodes { rowId } }
            networks(filter: {parentNetworkId: $id}) { nodes { slug } }
        }"#;
        let networks = all["networks"]["nodes"].as_array().expect("networks");
        assert!(networks.len() >= 4, "{all}");
        let mut seen = std::collections::HashMap::<&str, usize>::new();
        for network in networks {
            let slug = network["slug"].as_str().expect("slug");
            let listed = data(&app, &token, lists, json!({"id": network["rowId"]})).await;
            for (relation, list) in [("goals", "goals"), ("memberships", "memberships"), ("reports", "reports"), ("practiceExamples", "practiceExamples")] {
                assert_eq!(row_ids(&network[relation]), row_ids(&listed[list]), "{slug}: {relation}");
                *seen.entry(relation).or_default() += network[relation]["nodes"].as_array().expect("nodes").len();
            }
            assert_eq!(slugs(&network["childNetworks"]), slugs(&listed["networks"]), "{slug}: childNetworks");
            for child in network["childNetworks"]["nodes"].as_array().expect("children") {
                assert_eq!(child["parentNetwork"]["slug"], slug);
                *seen.entry("childNetworks").or_default() += 1;
            }
            if let Some(parent) = network["parentNetwork"].as_object() {
                assert!(slugs(&parent["childNetworks"]).iter().any(|s| s == slug), "{slug} is among its parent's children");
            }
            for item in ["goals", "memberships", "practiceExamples"] {
                for node in network[item]["nodes"].as_array().expect("nodes") {
                    assert_eq!(node["network"]["slug"], slug, "{item} point back");
                }
            }
            // Themes: the objects of the slugs, and each theme's networks hold this one.
            let mut theme_slugs: Vec<String> = network["themeSlugs"].as_array().expect("slugs").iter().map(|s| s.as_str().expect("slug").to_owned()).collect();
            theme_slugs.sort();
            assert_eq!(slugs(&network["themes"]), theme_slugs, "{slug}: themes");
            for theme in network["themes"]["nodes"].as_array().expect("themes") {
                assert!(slugs(&theme["networks"]).iter().any(|s| s == slug));
                *seen.entry("themes").or_default() += 1;
            }
            // Regions with their role: the region objects, whose networks hold this one.
            for region in network["regions"].as_array().expect("regions") {
                assert_eq!(region["region"]["rowId"], region["regionId"]);
                assert_eq!(region["region"]["code"], region["regionCode"]);
                assert!(slugs(&region["region"]["networks"]).iter().any(|s| s == slug));
                *seen.entry("regions").or_default() += 1;
            }
        }
        for relation in ["goals", "memberships", "practiceExamples", "childNetworks", "themes", "regions"] {
            assert!(seen.get(relation).copied().unwrap_or(0) > 0, "the data set exercises {relation}: {seen:?}");
        }

        // A region's subtree, as REST's `region` filter has it, and its children.
        let region = data(&app, &token, r#"{
            region(code: "PV22") { rowId code children { nodes { code parent { code } } } practiceExamples { nodes { rowId region { rowId } } } }
            practiceExamples(filter: {region: "PV22"}) { nodes { rowId } }
        }"#, json!({})).await;
        let subtree = row_ids(&region["region"]["practiceExamples"]);
        assert!(subtree.len() >= 5, "{region}");
        assert_eq!(subtree, row_ids(&region["practiceExamples"]));
        let children = data(&app, &token, "query($id: UUID!) { regions(filter: {parentId: $id}) { nodes { code } } }", json!({"id": region["region"]["rowId"]})).await;
        assert_eq!(region["region"]["children"]["nodes"].as_array().expect("children").len(), children["regions"]["nodes"].as_array().expect("regions").len());
        for child in region["region"]["children"]["nodes"].as_array().expect("children") {
            assert_eq!(child["parent"]["code"], "PV22");
        }
        let themed = data(&app, &token, "query($slug: String!) { theme(slug: $slug) { practiceExamples { nodes { rowId } } } practiceExamples(filter: {theme: $slug}) { nodes { rowId } } }", json!({"slug": theme})).await;
        assert_eq!(row_ids(&themed["theme"]["practiceExamples"]), row_ids(&themed["practiceExamples"]));

        // A nested connection pages forwards and backwards like a root one.
        let page = r#"query($first: Int, $after: String, $last: Int, $before: String) {
            region(code: "PV22") { practiceExamples(first: $first, after: $after, last: $last, before: $before, orderBy: {field: TITLE, direction: DESC}) {
                nodes { rowId } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"#;
        let whole = data(&app, &token, page, json!({"first": 500})).await;
        let whole = row_ids(&whole["region"]["practiceExamples"]);
        let (mut forwards, mut after) = (Vec::new(), Value::Null);
        loop {
            let answer = data(&app, &token, page, json!({"first": 2, "after": after})).await;
            let connection = &answer["region"]["practiceExamples"];
            forwards.extend(row_ids(connection));
            if connection["pageInfo"]["hasNextPage"] != json!(true) { break; }
            after = connection["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(forwards, whole);
        let (mut backwards, mut before) = (Vec::new(), Value::Null);
        loop {
            let answer = data(&app, &token, page, json!({"last": 2, "before": before})).await;
            let connection = &answer["region"]["practiceExamples"];
            backwards.splice(0..0, row_ids(connection));
            if connection["pageInfo"]["hasPreviousPage"] != json!(true) { break; }
            before = connection["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(backwards, whole);

        // A nested connection's arguments are refused by their own names.
        let refused = error(&app, &token, r#"{ region(code: "PV22") { practiceExamples(first: 0) { nodes { rowId } } } }"#, json!({})).await;
        assert_eq!(refused["extensions"]["invalidParams"][0]["name"], "first", "{refused}");
        let refused = error(&app, &token, r#"{ region(code: "PV22") { networks(filter: {region: "GM9999"}) { nodes { slug } } } }"#, json!({})).await;
        assert_eq!(refused["extensions"]["invalidParams"][0]["name"], "filter.region", "{refused}");

        // Another partner's draft is not among a relation's rows; its owner's it is.
        let (status, _, draft) = tests::call(&app, &writer, reqwest::Method::POST, "/api/v1/practice-examples",
            Some(json!({"title": "Nog niet af", "slug": "nog-niet-af", "status": "draft", "year": 2024, "regionCode": "GM0114"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        let query = r#"{ region(code: "GM0114") { practiceExamples(first: 500) { nodes { rowId } } } }"#;
        let owner = data(&app, &writer, query, json!({})).await;
        assert!(row_ids(&owner["region"]["practiceExamples"]).contains(&draft["id"].as_str().expect("id").to_owned()));
        let other = data(&app, &token, query, json!({})).await;
        assert!(!row_ids(&other["region"]["practiceExamples"]).contains(&draft["id"].as_str().expect("id").to_owned()));
    }
);

/// The SQL statements a request ran, from its `Server-Timing` header.
fn statements(response: &reqwest::Response) -> u64 {
    let timing = response.headers()["server-timing"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let count = timing
        .split("desc=\"")
        .nth(1)
        .and_then(|d| d.split(' ').next())
        .unwrap_or_else(|| panic!("a count in {timing}"));
    count
        .parse()
        .unwrap_or_else(|_| panic!("a count in {timing}"))
}

both_backends!(
    /// A query's statements depend on its shape, never on its rows: three levels of
    /// relations under 5 networks and under 500 run the same number.
    async fn a_query_runs_as_many_statements_for_500_networks_as_for_5(backend) {
        // A long batch delay, so that a slow (debug) build on a busy machine gathers every
        // key of a level.
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_complexity = 1_000_000;
            config.graphql_batch_delay = std::time::Duration::from_millis(1000).into();
            config.rate_limit_per_minute = 100_000;
        }).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let writer = tests::token_for(&app, "provincie", "provincial_network", "read write:networks write:practice-examples", &[]).await;
        let theme = api::service::seed::THEMES[1].0;
        let add = |from: usize, to: usize| {
            let networks: Vec<Value> = (from..to).map(|i| json!({
                "externalId": format!("n-{i}"), "slug": format!("netwerk-{i}"), "name": format!("Netwerk {i}"), "kind": "living_lab", "status": "active",
                "regions": [{"regionCode": "GM0114", "role": "focus"}], "themes": [theme],
            })).collect();
            let examples: Vec<Value> = (from..to).map(|i| json!({
                "externalId": format!("pe-{i}"), "slug": format!("voorbeeld-{i}"), "title": format!("Voorbeeld {i}"), "year": 2024,
                "status": "published", "regionCode": "GM0114", "networkSlug": format!("netwerk-{i}"), "themes": [theme],
            })).collect();
            (networks, examples)
        };
        let query = json!({"query": r#"{ networks(first: 500) { nodes {
            name
            regions { role region { code parent { code } } }
            themes(first: 5) { nodes { slug } }
            practiceExamples(first: 5) { nodes { title region { name } themes(first: 5) { nodes { slug } } } }
        } } }"#});
        let mut counts = Vec::new();
        for (from, to, total) in [(0, 1, 5), (1, 496, 500)] {
            let (networks, examples) = add(from, to);
            bulk(&app, &writer, "networks", networks).await;
            bulk(&app, &writer, "practice-examples", examples).await;
            let response = app.client.post(app.url("/graphql")).bearer_auth(&writer).json(&query).send().await.expect("post");
            assert_eq!(response.status(), StatusCode::OK);
            let count = statements(&response);
            let answer: Value = response.json().await.expect("json");
            assert!(answer.get("errors").is_none(), "{answer}");
            let nodes = answer["data"]["networks"]["nodes"].as_array().expect("nodes");
            assert_eq!(nodes.len(), total);
            let added = nodes.iter().find(|n| n["name"] == "Netwerk 0").expect("an added network");
            assert_eq!(added["practiceExamples"]["nodes"][0]["region"]["name"], "Emmen", "{added}");
            assert_eq!(added["regions"][0]["region"]["parent"]["code"], "PV22", "{added}");
            assert_eq!(added["practiceExamples"]["nodes"][0]["themes"]["nodes"][0]["slug"], theme, "{added}");
            counts.push(count);
        }
        eprintln!("statements for 5 and for 500 networks: {counts:?}");
        assert_eq!(counts[0], counts[1], "statements over 5 and over 500 networks");
    }
);

both_backends!(
    /// A query's levels, read by separate batched reads, see one committed state: a
    /// practice example written after the query read its network (and before it read the
    /// network's practice examples) is not in its answer, and is in the next one.
    async fn a_query_reads_every_level_in_one_snapshot(backend) {
        // A long batch delay holds the second level back while another request writes.
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_batch_delay = std::time::Duration::from_millis(2500).into();
            config.read_cache_size = 0;
        }).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let writer = tests::token_for(&app, "provincie", "provincial_network", "read write:networks write:practice-examples", &[]).await;
        let example = |i: usize| json!({
            "externalId": format!("pe-{i}"), "slug": format!("voorbeeld-{i}"), "title": format!("Voorbeeld {i}"), "year": 2024,
            "status": "published", "regionCode": "GM0114", "networkSlug": "netwerk-snapshot",
        });
        bulk(&app, &writer, "networks", vec![json!({
            "externalId": "n-snapshot", "slug": "netwerk-snapshot", "name": "Netwerk", "kind": "living_lab", "status": "active",
            "regions": [{"regionCode": "GM0114", "role": "focus"}],
        })]).await;
        bulk(&app, &writer, "practice-examples", vec![example(1)]).await;
        let query = r#"{ network(slug: "netwerk-snapshot") { name practiceExamples(first: 50) { nodes { title } } } }"#;
        let titles = |answer: &Value| -> Vec<String> {
            answer["network"]["practiceExamples"]["nodes"].as_array().expect("nodes").iter()
                .map(|n| n["title"].as_str().expect("title").to_owned()).collect()
        };
        let reading = data(&app, &writer, query, json!({}));
        let writing = async {
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            bulk(&app, &writer, "practice-examples", vec![example(2)]).await;
        };
        let (answer, ()) = tokio::join!(reading, writing);
        assert_eq!(titles(&answer), ["Voorbeeld 1"], "{answer}");
        let after = data(&app, &writer, query, json!({})).await;
        let mut seen = titles(&after);
        seen.sort();
        assert_eq!(seen, ["Voorbeeld 1", "Voorbeeld 2"], "{after}");
    }
);

both_backends!(
    /// A row under several parents is whole under each; a nested field whose arguments are
    /// refused fails alone, not the fields read beside it; a batch runs in order, so a
    /// query after a mutation sees its write.
    async fn nested_reads_keep_to_their_own_field(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_batch = 5;
        }).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let writer = tests::token_for(&app, "provincie", "provincial_network", "read write:networks write:practice-examples", &[]).await;
        let (first, second) = (api::service::seed::THEMES[6].0, api::service::seed::THEMES[7].0);
        bulk(&app, &writer, "networks", vec![json!({
            "externalId": "n-twice", "slug": "netwerk-twee-themas", "name": "Netwerk", "kind": "living_lab", "status": "active",
            "regions": [{"regionCode": "GM0114", "role": "focus"}], "themes": [first, second],
        })]).await;
        bulk(&app, &writer, "practice-examples", vec![json!({
            "externalId": "pe-1", "slug": "voorbeeld-1", "title": "Voorbeeld 1", "year": 2024,
            "status": "published", "regionCode": "GM0114", "networkSlug": "netwerk-twee-themas",
        })]).await;
        // The network under both of its themes, whole under each.
        let query = format!(r#"{{ a: theme(slug: "{first}") {{ networks(first: 50) {{ nodes {{ slug themeSlugs regions {{ role }} }} }} }}
            b: theme(slug: "{second}") {{ networks(first: 50) {{ nodes {{ slug themeSlugs regions {{ role }} }} }} }} }}"#);
        let answer = data(&app, &writer, &query, json!({})).await;
        for alias in ["a", "b"] {
            let nodes = answer[alias]["networks"]["nodes"].as_array().expect("nodes");
            let network = nodes.iter().find(|n| n["slug"] == "netwerk-twee-themas").unwrap_or_else(|| panic!("{answer}"));
            assert_eq!(network["themeSlugs"].as_array().map(Vec::len), Some(2), "{alias}: {answer}");
            assert_eq!(network["regions"][0]["role"], "FOCUS", "{alias}: {answer}");
        }
        // A refused filter under one field; the same relation without it beside it.
        let (status, answer) = gql(&app, &writer, r#"{ a: network(slug: "netwerk-twee-themas") { practiceExamples(first: 1, filter: {region: "XX9999"}) { nodes { title } } }
            c: network(slug: "netwerk-twee-themas") { practiceExamples(first: 2) { nodes { title } } } }"#, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["data"]["c"]["practiceExamples"]["nodes"][0]["title"], "Voorbeeld 1", "{answer}");
        let errors = answer["errors"].as_array().expect("errors");
        assert!(!errors.is_empty() && errors.iter().all(|e| e["path"][0] == "a"), "{answer}");
        // A mutation, then queries of what it wrote, in one batch.
        let (status, _, batch) = tests::call(&app, &writer, reqwest::Method::POST, "/graphql", Some(json!([
            {"query": r#"mutation { createPracticeExample(input: {slug: "in-een-batch", title: "In een batch", year: 2024, regionCode: "GM0114", networkSlug: "netwerk-twee-themas", status: PUBLISHED}) { practiceExample { slug } userErrors { field message } } }"#},
            {"query": r#"{ practiceExample(slug: "in-een-batch") { title } }"#},
            {"query": r#"{ network(slug: "netwerk-twee-themas") { practiceExamples(first: 1, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { title } } } }"#},
        ]))).await;
        assert_eq!(status, StatusCode::OK, "{batch}");
        assert_eq!(batch[0]["data"]["createPracticeExample"]["practiceExample"]["slug"], "in-een-batch", "{batch}");
        assert_eq!(batch[1]["data"]["practiceExample"]["title"], "In een batch", "{batch}");
        assert_eq!(batch[2]["data"]["network"]["practiceExamples"]["nodes"][0]["title"], "In een batch", "{batch}");
    }
);

/// The hex SHA-256 of `text`, as automatic persisted queries name a document.
fn sha256(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Posts a GraphQL request body as `token`'s partner: the answer and its headers.
async fn raw(app: &TestApp, token: &str, body: Value) -> (reqwest::header::HeaderMap, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    (headers, response.json().await.expect("a JSON answer"))
}

both_backends!(
    /// An operation counts against the rate limit as its cost in calls (100 of cost each,
    /// rounded up), says so in `extensions.cost`, and one that needs more calls than the
    /// partner has left is refused before it runs.
    async fn graphql_cost_is_what_the_rate_limit_counts_and_every_answer_says_it(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| config.rate_limit_per_minute = 10).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let (headers, cheap) = raw(&app, &token, json!({"query": "{ themes(first: 1) { nodes { slug } } }"})).await;
        let cost = &cheap["extensions"]["cost"];
        assert!(cost["requestedQueryCost"].as_u64().is_some_and(|c| (1..=100).contains(&c)), "{cheap}");
        assert_eq!((cost["countedCalls"].as_u64(), cost["maximumQueryCost"].as_u64()), (Some(1), Some(20_000)), "{cheap}");
        assert_eq!((cost["rateLimit"]["limit"].as_u64(), cost["rateLimit"]["remaining"].as_u64()), (Some(10), Some(9)), "{cheap}");
        assert_eq!(headers["ratelimit-remaining"], "9");

        let (headers, wide) = raw(&app, &token, json!({"query": "{ regions(first: 300) { nodes { name } } }"})).await;
        let cost = &wide["extensions"]["cost"];
        let requested = cost["requestedQueryCost"].as_u64().expect("a cost");
        assert!(requested > 300, "{wide}");
        let calls = requested.div_ceil(100);
        assert_eq!(cost["countedCalls"].as_u64(), Some(calls), "{wide}");
        assert_eq!(cost["rateLimit"]["remaining"].as_u64(), Some(9 - calls), "{wide}");
        assert_eq!(headers["ratelimit-remaining"].to_str().expect("ascii"), (9 - calls).to_string(), "the headers say the same");
        assert!(wide["data"]["regions"]["nodes"].as_array().is_some_and(|nodes| !nodes.is_empty()), "{wide}");

        // More calls than the partner has left: refused, nothing read, the calls kept.
        let (_, refused) = raw(&app, &token, json!({"query": "{ regions(first: 500) { nodes { name code } } }"})).await;
        assert_eq!(refused["data"], Value::Null, "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["code"], "rate_limited", "{refused}");
        assert!(refused["errors"][0]["extensions"]["retryAfter"].as_u64().is_some(), "{refused}");
        assert!(refused["errors"][0]["message"].as_str().is_some_and(|m| m.contains("--graphql-cost-per-call")), "{refused}");
        assert!(refused["errors"][0].get("locations").is_none(), "{refused}");
        let (_, after) = raw(&app, &token, json!({"query": "{ themes(first: 1) { nodes { slug } } }"})).await;
        assert!(after["errors"].is_null(), "the refused query used no more than its own call: {after}");
    }
);

both_backends!(
    async fn aliases_and_root_fields_over_their_limits_are_refused_before_they_run(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_aliases = 2;
            config.graphql_max_root_fields = 3;
        }).await else { return };
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let refused = error(&app, &token, "{ a: themes(first: 1) { nodes { slug } } b: themes(first: 1) { nodes { slug } } c: themes(first: 1) { nodes { slug } } }", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "too_many_aliases", "{refused}");
        assert_eq!((refused["extensions"]["limit"].as_u64(), refused["extensions"]["cost"].as_u64()), (Some(2), Some(3)), "{refused}");
        assert!(refused["message"].as_str().is_some_and(|m| m.contains("--graphql-max-aliases")), "{refused}");
        // Through fragments too.
        let refused = error(&app, &token, "{ ...pair c: __typename } fragment pair on Query { a: themes(first: 1) { nodes { slug } } b: themes(first: 1) { nodes { name } } }", json!({})).await;
        assert_eq!(refused["extensions"]["code"], "too_many_aliases", "{refused}");
        assert_eq!(refused["extensions"]["cost"].as_u64(), Some(3), "{refused}");
        let root = "{ themes(first: 1) { nodes { slug } } regions(first: 1) { nodes { name } } networks(first: 1) { nodes { slug } } goals(first: 1) { nodes { title } } }";
        let refused = error(&app, &token, root, json!({})).await;
        assert_eq!(refused["extensions"]["code"], "too_many_root_fields", "{refused}");
        assert_eq!((refused["extensions"]["limit"].as_u64(), refused["extensions"]["cost"].as_u64()), (Some(3), Some(4)), "{refused}");
        data(&app, &token, "{ a: themes(first: 1) { nodes { slug } } b: regions(first: 1) { nodes { name } } networks(first: 1) { nodes { slug } } }", json!({})).await;
    }
);

both_backends!(
    /// Automatic persisted queries as Apollo's clients send them: the hash alone is not
    /// found until the query has been sent with it (its SHA-256 checked), then the hash
    /// is enough, over POST and GET; a persisted mutation over GET is still a 405.
    async fn persisted_queries_are_sent_once_then_by_their_hash(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let query = r#"{ theme(slug: "voeding") { slug name } }"#;
        let persisted = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}});
        let (_, unknown) = raw(&app, &token, json!({"extensions": persisted})).await;
        assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound", "{unknown}");
        assert_eq!(unknown["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{unknown}");
        let (_, wrong) = raw(&app, &token, json!({"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ x }")}}})).await;
        assert_eq!(wrong["errors"][0]["extensions"]["code"], "persisted_query_invalid", "{wrong}");
        let (_, first) = raw(&app, &token, json!({"query": query, "extensions": persisted})).await;
        assert_eq!(first["data"]["theme"]["slug"], "voeding", "{first}");
        let (_, by_hash) = raw(&app, &token, json!({"extensions": persisted})).await;
        assert_eq!(by_hash["data"], first["data"], "{by_hash}");
        let extensions = persisted.to_string();
        let response = app.client.get(app.url("/graphql")).bearer_auth(&token).query(&[("extensions", extensions.as_str())]).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.expect("json")["data"], first["data"]);

        // A mutation persisted over POST (refused there for want of a scope) is no GET's.
        let mutation = r#"mutation { deleteTheme(id: "VGhlbWU6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw") { deletedId } }"#;
        let persisted = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256(mutation)}});
        let (_, refused) = raw(&app, &token, json!({"query": mutation, "extensions": persisted})).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "forbidden", "{refused}");
        let extensions = persisted.to_string();
        let response = app.client.get(app.url("/graphql")).bearer_auth(&token).query(&[("extensions", extensions.as_str())]).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
);

both_backends!(
    /// `totalCount` is every matching row on all pages, read by a statement of its own
    /// only when asked, on root and nested connections alike; `pageInfo` knows the side a
    /// page's cursor lies on.
    async fn total_count_is_counted_only_when_asked_and_page_info_knows_both_sides(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:networks write:practice-examples", &[]).await;
        let (status, _, example) = tests::call(&app, &token, reqwest::Method::POST, "/api/v1/practice-examples",
            Some(json!({"title": "Telling in Emmen", "regionCode": "GM0114", "status": "published"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{example}");
        let rows: Vec<(String, String)> = (0..7).map(|i| (format!("telling-{i}"), format!("Telling {i}"))).collect();
        let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(s, n)| (s.as_str(), n.as_str(), "consultation_body")).collect();
        networks(&app, &token, &rows).await;
        let filter = json!({"kind": "CONSULTATION_BODY"});
        let (_, _, rest) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/networks?kind=consultation_body&limit=500", None).await;
        let matching = rest["items"].as_array().expect("items").len() as u64;
        assert!(matching >= 7, "{rest}");

        let counted = "query($first: Int, $after: String, $last: Int, $before: String, $filter: NetworkFilter) {
            networks(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
                totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
        let first = data(&app, &token, counted, json!({"first": 3, "filter": filter})).await;
        assert_eq!(first["networks"]["totalCount"].as_u64(), Some(matching), "{first}");
        assert_eq!(first["networks"]["pageInfo"]["hasPreviousPage"], json!(false), "{first}");
        let second = data(&app, &token, counted, json!({"first": 3, "after": first["networks"]["pageInfo"]["endCursor"], "filter": filter})).await;
        assert_eq!(second["networks"]["totalCount"].as_u64(), Some(matching), "the count is of all pages");
        assert_eq!(second["networks"]["pageInfo"]["hasPreviousPage"], json!(true), "{second}");
        let last = data(&app, &token, counted, json!({"last": 3, "filter": filter})).await;
        assert_eq!((last["networks"]["pageInfo"]["hasNextPage"].as_bool(), last["networks"]["pageInfo"]["hasPreviousPage"].as_bool()), (Some(false), Some(true)), "{last}");
        let before = data(&app, &token, counted, json!({"last": 3, "before": last["networks"]["pageInfo"]["startCursor"], "filter": filter})).await;
        assert_eq!(before["networks"]["pageInfo"]["hasNextPage"], json!(true), "{before}");

        // Counted only when asked: one statement more, on both connections of the query
        // (the query without it runs twice first, so that both find the same pages cached;
        // a space apart, so that the second is not the first's kept answer).
        let ask = |with: &str| format!(r#"{{ networks(first: 2, filter: {{kind: CONSULTATION_BODY}}) {{ {with} nodes {{ slug }} }}
            region(code: "PV22") {{ networks(first: 1) {{ {with} nodes {{ slug }} }} }} }}"#);
        let mut counts = Vec::new();
        for with in ["", " ", "totalCount"] {
            let response = app.client.post(app.url("/graphql")).bearer_auth(&token).json(&json!({"query": ask(with)})).send().await.expect("post");
            let statements = statements(&response);
            let answer: Value = response.json().await.expect("json");
            assert!(answer["errors"].is_null(), "{answer}");
            counts.push((statements, answer));
        }
        assert_eq!(counts[2].0, counts[1].0 + 2, "one count statement per counted connection");
        assert_eq!(counts[2].1["data"]["networks"]["totalCount"].as_u64(), Some(matching));

        // A nested count equals the root list's under the same filter, for every parent.
        let nested = data(&app, &token, "{ regions(first: 50) { nodes { code practiceExamples(first: 1) { totalCount } } } }", json!({})).await;
        for region in nested["regions"]["nodes"].as_array().expect("regions") {
            let Some(code) = region["code"].as_str() else { continue };
            let root = data(&app, &token, "query($code: String!) { practiceExamples(filter: {region: $code}) { totalCount } }", json!({"code": code})).await;
            assert_eq!(region["practiceExamples"]["totalCount"], root["practiceExamples"]["totalCount"], "{code}");
        }
        let pv22 = nested["regions"]["nodes"].as_array().expect("regions").iter().find(|r| r["code"] == "PV22").expect("Drenthe");
        assert!(pv22["practiceExamples"]["totalCount"].as_u64().is_some_and(|n| n > 0), "{pv22}");
    }
);

both_backends!(
    /// A query's answer is kept by the feed's version: asked again with nothing committed in
    /// between, it runs one statement (the version's) and answers the same; any committed
    /// change makes the next one read again (the version is read per request, so this holds
    /// across servers on one database as REST's cached lists do). Another
    /// partner, or a token with other scopes, has answers of its own; the cost is charged
    /// every time.
    async fn a_query_is_answered_from_memory_until_a_change_commits(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let writer = tests::token_for(&app, "provincie", "provincial_network", "read write:themes", &[]).await;
        let query = json!({"query": "query($n: Int) { themes(first: $n) { nodes { slug name } } }", "variables": {"n": 50}});
        let ask = |token: String, body: Value| {
            let app = &app;
            async move {
                let response = app.client.post(app.url("/graphql")).bearer_auth(token).json(&body).send().await.expect("post");
                let count = statements(&response);
                let answer: Value = response.json().await.expect("json");
                assert!(answer.get("errors").is_none(), "{answer}");
                (count, answer)
            }
        };
        let (first, answer) = ask(writer.clone(), query.clone()).await;
        let (again, same) = ask(writer.clone(), query.clone()).await;
        assert!(first > 1, "{first}");
        assert_eq!(again, 2, "kept: only the partner and the version are read");
        assert_eq!(answer["data"], same["data"]);
        assert!(same["extensions"]["cost"]["requestedQueryCost"].as_u64().is_some_and(|c| c > 0), "{same}");
        // Other variables are another query; another partner has its own answers.
        let (other, _) = ask(writer.clone(), json!({"query": query["query"], "variables": {"n": 49}})).await;
        assert!(other > 1);
        let reader = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let (theirs, _) = ask(reader.clone(), query.clone()).await;
        assert!(theirs > 1);
        // A change committed by another partner is seen at once.
        let credentials = api::service::partners::create(&app.db, api::service::partners::NewPartner {
            name: "gemeente".to_owned(), kind: "municipality".to_owned(),
            scopes: vec!["read".to_owned(), "write:themes".to_owned()], unconfined: true, ..Default::default()
        }).await.expect("a partner");
        let token = tests::token_with(&app, &credentials).await;
        let (status, _, _) = tests::call(&app, &token, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "aaa-nieuw", "name": "Nieuw"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (after, fresh) = ask(writer.clone(), query.clone()).await;
        assert!(after > 1, "read again after a change");
        assert!(fresh["data"]["themes"]["nodes"].as_array().expect("nodes").iter().any(|n| n["slug"] == "aaa-nieuw"), "{fresh}");
        // A mutation is never kept, nor the feed.
        let feed = tests::token_for(&app, "volger", "dashboard", "read changes:read", &[]).await;
        let body = json!({"query": "{ changes(first: 1) { nextCursor } }"});
        let (a, _) = ask(feed.clone(), body.clone()).await;
        let (b, _) = ask(feed, body).await;
        assert!(a > 1 && b > 1, "{a} {b}");
    }
);

both_backends!(
    /// A body declared larger than the limit is refused at once, before any of it is sent.
    async fn a_body_declared_too_large_is_refused_before_it_arrives(backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
        let head = format!("POST /graphql HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n", app.addr);
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = vec![0; 4096];
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer)).await.expect("an answer within 5 s").expect("read");
        let text = String::from_utf8_lossy(&answer[..read]);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        // REST's writes too, at their own limit (a create's is --max-body-size).
        let writer = tests::token_for(&app, "provincie", "provincial_network", "read write:themes", &[]).await;
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
        let head = format!("POST /api/v1/themes HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {writer}\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n", app.addr);
        stream.write_all(head.as_bytes()).await.expect("write");
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer)).await.expect("an answer within 5 s").expect("read");
        let text = String::from_utf8_lossy(&answer[..read]);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    }
);

both_backends!(
    /// Fragments spreading fragments twice over, 27 deep, would be 134 million fields: such
    /// a document is refused at once, before validation walks it.
    async fn a_document_that_explodes_through_its_fragments_is_refused_at_once(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let mut query = "query { ...F0 }".to_owned();
        for level in 0..27 {
            query.push_str(&format!(" fragment F{level} on Query {{ ...F{} ...F{} }}", level + 1, level + 1));
        }
        query.push_str(" fragment F27 on Query { __typename }");
        let started = std::time::Instant::now();
        let answer = error(&app, &token, &query, json!({})).await;
        assert_eq!(answer["extensions"]["code"], "query_too_complex", "{answer}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
);

both_backends!(
    /// Documents built to exhaust the service are refused before they are parsed or
    /// walked, whichever way they come (POST, GET, persisted), and it answers on.
    async fn hostile_documents_are_refused_before_they_run_and_the_service_answers_on(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        // An argument value nested thousands deep (the parser would overflow its stack).
        let deep_list = format!("{{ themes(first: 1, search: {}\"a\"{}) {{ totalCount }} }}", "[".repeat(5000), "]".repeat(5000));
        let deep_object = format!("{{ themes(first: 1, filter: {}) {{ totalCount }} }}", "{a: ".repeat(5000) + "1" + &"}".repeat(5000));
        for query in [&deep_list, &deep_object] {
            let refused = error(&app, &token, query, json!({})).await;
            assert_eq!(refused["extensions"]["code"], "query_too_deep", "{refused}");
            assert_eq!(refused["extensions"]["limit"], api::graphql::MAX_NESTING, "{refused}");
        }
        let response = app.client.get(app.url("/graphql")).bearer_auth(&token).query(&[("query", deep_list.as_str())]).send().await.expect("get");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "query_too_deep", "{answer}");
        // Nor hidden after a block string whose \""" a scanner might take for an end.
        let hidden = format!(r#"{{ themes(search: """a\\""" """, first: {}1{}) {{ totalCount }} }}"#, "[".repeat(3000), "]".repeat(3000));
        let refused = error(&app, &token, &hidden, json!({})).await;
        assert_eq!(refused["extensions"]["code"], "query_too_deep", "{refused}");
        // Brackets within strings and comments are not nesting.
        let quoted = format!("{{ themes(first: 1, search: \"valpreventie {}\") {{ totalCount }} }} # {}", "[".repeat(150), "{".repeat(150));
        data(&app, &token, &quoted, json!({})).await;

        // Introspection lists nested in each other multiply the answer by the schema.
        let bomb = r#"{ __type(name: "Node") { possibleTypes { interfaces { possibleTypes { interfaces { name } } } } } }"#;
        let refused = error(&app, &token, bomb, json!({})).await;
        assert_eq!(refused["extensions"]["code"], "query_too_complex", "{refused}");
        assert_eq!((refused["extensions"]["limit"].as_u64(), refused["extensions"]["cost"].as_u64()), (Some(3), Some(4)), "{refused}");
        // The whole schema once per document, not side by side under aliases.
        let twice = "{ a: __schema { types { name } } b: __schema { types { name } } }";
        let refused = error(&app, &token, twice, json!({})).await;
        assert_eq!(refused["extensions"]["code"], "query_too_complex", "{refused}");
        assert_eq!((refused["extensions"]["limit"].as_u64(), refused["extensions"]["cost"].as_u64()), (Some(1), Some(2)), "{refused}");
        // Three, as in the tools' introspection query, are answered.
        let answered = data(&app, &token, "{ __schema { types { name fields { name args { name } } } } }", json!({})).await;
        assert!(answered["__schema"]["types"].as_array().is_some_and(|t| t.len() > 50), "{answered}");
        // Fragments spread twice per level on introspection types are counted in place too.
        let mut query = r#"{ __type(name: "Node") { ...T0 } }"#.to_owned();
        for level in 0..24 {
            query.push_str(&format!(" fragment T{level} on __Type {{ ...T{} ...T{} }}", level + 1, level + 1));
        }
        query.push_str(" fragment T24 on __Type { name }");
        let refused = error(&app, &token, &query, json!({})).await;
        assert_eq!(refused["extensions"]["code"], "query_too_complex", "{refused}");
        assert!(refused["extensions"]["cost"].as_u64().is_some_and(|c| c > 10_000), "{refused}");

        let live = app.client.get(app.url("/health/live")).send().await.expect("live");
        assert_eq!(live.status(), StatusCode::OK);
        data(&app, &token, "{ themes(first: 1) { totalCount } }", json!({})).await;
    }
);

both_backends!(
    /// Every persisted document has its own answer (the answer cache keys the text a hash
    /// stands for), and a persisted document meets the limits its text would.
    async fn persisted_documents_are_answered_and_limited_as_their_text(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let persisted = |query: &str| json!({"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}});
        let themes = "{ themes(first: 2) { nodes { slug } } }";
        let regions = "{ regions(first: 2) { nodes { code } } }";
        for _ in 0..2 {
            for query in [themes, regions] {
                let (_, sent) = raw(&app, &token, json!({"query": query, "extensions": persisted(query)})).await;
                let (_, by_hash) = raw(&app, &token, json!({"extensions": persisted(query)})).await;
                let plain = data(&app, &token, query, json!({})).await;
                assert_eq!(sent["data"], plain, "{query}: {sent}");
                assert_eq!(by_hash["data"], plain, "{query}: {by_hash}");
            }
        }
        let mut bomb = "query { ...F0 }".to_owned();
        for level in 0..22 {
            bomb.push_str(&format!(" fragment F{level} on Query {{ ...F{} ...F{} }}", level + 1, level + 1));
        }
        bomb.push_str(" fragment F22 on Query { __typename }");
        let (_, sent) = raw(&app, &token, json!({"query": bomb, "extensions": persisted(&bomb)})).await;
        assert_eq!(sent["errors"][0]["extensions"]["code"], "query_too_complex", "{sent}");
        let (_, by_hash) = raw(&app, &token, json!({"extensions": persisted(&bomb)})).await;
        assert_eq!(by_hash["errors"][0]["extensions"]["code"], "query_too_complex", "{by_hash}");
    }
);

both_backends!(
    /// An input field given a variable the request leaves out is not given: the update
    /// keeps it, as GraphQL's input coercion says (null would clear it).
    async fn an_update_keeps_the_fields_whose_variables_are_not_provided(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:themes", &[]).await;
        let created = data(&app, &token, "mutation { createTheme(input: {slug: \"kept\", name: \"Before\", externalId: \"ext-1\"}) { theme { id } userErrors { message } } }", json!({})).await;
        let id = created["createTheme"]["theme"]["id"].as_str().expect("an id").to_owned();
        let update = "mutation($id: ID!, $name: String, $externalId: String) { updateTheme(id: $id, input: {name: $name, externalId: $externalId}) { theme { name externalId } userErrors { message } } }";
        let updated = data(&app, &token, update, json!({"id": id, "name": "After"})).await;
        assert_eq!(updated["updateTheme"]["theme"], json!({"name": "After", "externalId": "ext-1"}), "{updated}");
        // A variable given is applied.
        let updated = data(&app, &token, update, json!({"id": id, "externalId": "ext-2"})).await;
        assert_eq!(updated["updateTheme"]["theme"], json!({"name": "After", "externalId": "ext-2"}), "{updated}");
    }
);
