//! Arbitrary JSON bodies and query strings thrown at the write and list endpoints through
//! the real server: never a 5xx, and a refused write leaves the database as it was.

use api::service::{Actor, seed::seed};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{TestApp, app_or_skip, both_backends, count};

const CASES: usize = 60;

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "", " ", "\0", "GM0114", "voeding", "legro", "published", "draft", "open", "mbo",
            "x--y", "bulk", "https://javascript:alert(1)", "2023-02-30", "9999-12-31",
            "01934f4e-7b1c-7000-8000-000000000001", "ééé", "-title", "title", "updatedAt",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::hash_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn json_body(fields: &'static [&'static str]) -> BoxedStrategy<Value> {
    proptest::collection::vec((proptest::sample::select(fields), json_value()), 0..6)
        .prop_map(|pairs| {
            Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        })
        .boxed()
}

fn query() -> BoxedStrategy<String> {
    proptest::collection::vec(
        (
            proptest::sample::select(vec![
                "limit",
                "cursor",
                "sort",
                "q",
                "region",
                "theme",
                "status",
                "year",
                "updatedSince",
                "kind",
                "regionId",
                "x",
            ]),
            text(),
        ),
        0..4,
    )
    .prop_map(|pairs| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            serializer.append_pair(k, &v);
        }
        serializer.finish()
    })
    .boxed()
}

async fn fingerprint(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "themes",
        "networks",
        "practice_examples",
        "practice_example_themes",
        "network_regions",
        "change_log",
        "audit_log",
    ] {
        out.push(count(&app.db, table, "").await);
    }
    out
}

both_backends!(
    async fn arbitrary_bodies_and_queries_never_get_a_5xx_and_refusals_change_nothing(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "fuzz", "admin", "admin", &[]).await;
        let (_, legro): (u16, Value) = {
            let r = app.client.get(app.url("/api/v1/networks/legro")).bearer_auth(&token).send().await.expect("get");
            (r.status().as_u16(), r.json().await.expect("json"))
        };
        let legro = legro["id"].as_str().expect("id").to_owned();
        let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::default() });
        let targets: Vec<(&str, &'static [&'static str])> = vec![
            ("/api/v1/themes", &["slug", "name", "externalId"]),
            ("/api/v1/networks", &["slug", "name", "kind", "status", "themes", "regions", "startYear", "parentNetworkSlug", "educationLevels"]),
            ("/api/v1/practice-examples", &["slug", "title", "regionCode", "networkSlug", "themes", "links", "status", "year", "summary", "language"]),
        ];
        let mut refused = 0;
        for (path, fields) in &targets {
            let bodies = json_body(fields);
            let queries = query();
            for case in 0..CASES {
                let json = bodies.new_tree(&mut runner).expect("a body").current();
                let (method, url) = match case % 4 {
                    0 => (Method::POST, path.to_string()),
                    1 => (Method::PUT, format!("{path}/external/fuzz-{case}")),
                    2 => (Method::POST, format!("{path}/bulk")),
                    _ => (Method::PATCH, format!("/api/v1/networks/{legro}")),
                };
                let payload = if case % 4 == 2 { json!({"items": [json]}) } else { json.clone() };
                let before = fingerprint(&app).await;
                let response = app.client.request(method.clone(), app.url(&url)).bearer_auth(&token).json(&payload).send().await.expect("send");
                let status = response.status();
                let answer = response.text().await.unwrap_or_default();
                assert!(status.as_u16() < 500, "{method} {url} {payload}: {status} {answer}");
                if !status.is_success() {
                    refused += 1;
                    assert_eq!(fingerprint(&app).await, before, "{method} {url} {payload} was refused ({status}) but changed the database");
                }
                let q = queries.new_tree(&mut runner).expect("a query").current();
                let list = app.client.get(app.url(&format!("{path}?{q}"))).bearer_auth(&token).send().await.expect("list");
                assert!(list.status().as_u16() < 500, "GET {path}?{q}: {}", list.status());
            }
        }
        assert!(refused > 0, "some input was refused");
    }
);
