//! Sync as partners live it, one story per partner kind, through the real server.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{TestApp, app_or_skip, both_backends, token_for};

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

both_backends!(
    async fn a_municipality_pushes_and_the_province_sees_exactly_that_and_the_dashboard_follows(backend) {
        let app = app_or_skip!(backend);
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let emmen = token_for(&app, "gemeente-emmen", "municipality", "read write:practice-examples", &["GM0114"]).await;
        let province = token_for(&app, "iwp-drenthe", "provincial_network", "read changes:read", &[]).await;
        let dashboard = token_for(&app, "dashboard-drenthe", "dashboard", "read", &[]).await;

        // The province follows the feed from now; the dashboard knows today's count.
        let (_, newest) = call(&app, &province, Method::GET, "/api/v1/changes/newest", None).await;
        let count = |stats: &Value| -> i64 {
            stats["groups"].as_array().expect("groups").iter().find(|g| g["key"] == "GM0114").map_or(0, |g| g["count"].as_i64().expect("count"))
        };
        let (_, before) = call(&app, &dashboard, Method::GET, "/api/v1/stats/practice-examples?groupBy=region&regionLevel=municipality", None).await;

        // The municipal system pushes its five examples, edits two, deletes one.
        let items: Vec<Value> = (1..=5).map(|i| json!({
            "externalId": format!("emmen-{i}"), "slug": format!("emmen-voorbeeld-{i}"), "title": format!("Voorbeeld {i}"),
            "regionCode": "GM0114", "status": "published", "themes": ["voeding"],
        })).collect();
        let (status, pushed) = call(&app, &emmen, Method::POST, "/api/v1/practice-examples/bulk", Some(json!({"items": items.clone()}))).await;
        assert_eq!(status, StatusCode::OK, "{pushed}");
        for i in [2, 4] {
            let mut edited = items[i - 1].clone();
            edited["title"] = json!(format!("Voorbeeld {i}, bijgewerkt"));
            let (status, _) = call(&app, &emmen, Method::PUT, &format!("/api/v1/practice-examples/external/emmen-{i}"), Some(edited)).await;
            assert_eq!(status, StatusCode::OK);
        }
        let gone = pushed["items"][2]["id"].as_str().expect("id").to_owned();
        let (status, _) = call(&app, &emmen, Method::DELETE, &format!("/api/v1/practice-examples/{gone}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // The province's feed shows exactly those eight changes, in that order.
        let (status, feed) = call(&app, &province, Method::GET, &format!("/api/v1/changes?after={}", newest["cursor"].as_str().expect("cursor")), None).await;
        assert_eq!(status, StatusCode::OK);
        let story: Vec<(String, i64, String)> = feed["items"].as_array().expect("items").iter().map(|e| (
            e["op"].as_str().expect("op").to_owned(),
            e["version"].as_i64().expect("version"),
            e["data"]["title"].as_str().unwrap_or("—").to_owned(),
        )).collect();
        let expected: Vec<(String, i64, String)> = vec![
            ("upsert".into(), 1, "Voorbeeld 1".into()), ("upsert".into(), 1, "Voorbeeld 2".into()),
            ("upsert".into(), 1, "Voorbeeld 3".into()), ("upsert".into(), 1, "Voorbeeld 4".into()),
            ("upsert".into(), 1, "Voorbeeld 5".into()), ("upsert".into(), 2, "Voorbeeld 2, bijgewerkt".into()),
            ("upsert".into(), 2, "Voorbeeld 4, bijgewerkt".into()), ("delete".into(), 2, "—".into()),
        ];
        assert_eq!(story, expected);
        assert_eq!(feed["items"][7]["id"], gone);
        assert_eq!(feed["hasMore"], false);

        // The dashboard's count follows: four more examples in Emmen than before.
        let (_, after) = call(&app, &dashboard, Method::GET, "/api/v1/stats/practice-examples?groupBy=region&regionLevel=municipality", None).await;
        assert_eq!(count(&after), count(&before) + 4);
        // Pushing the same five again (one of them now deleted: revived) changes only that one.
        let (_, again) = call(&app, &emmen, Method::POST, "/api/v1/practice-examples/bulk", Some(json!({"items": items}))).await;
        let versions: Vec<i64> = again["items"].as_array().expect("items").iter().map(|r| r["version"].as_i64().expect("v")).collect();
        assert_eq!(versions, [1, 3, 3, 3, 1], "unchanged ones keep their version; edited ones go back; the deleted one is revived");
    }
);
