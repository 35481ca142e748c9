//! The change feed over REST: commit order, tombstones, types and audiences filtered in the
//! query, cursors, the newest cursor, and 410 after retention pruned a cursor's past.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{TestApp, app_or_skip, both_backends};

async fn token(app: &TestApp, name: &str, scopes: &str) -> String {
    tests::token_for(app, name, "municipality", scopes, &[]).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn send(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

both_backends!(
    async fn the_feed_pages_in_commit_order_with_tombstones_types_and_audiences(backend) {
        let app = app_or_skip!(backend);
        let writer = token(&app, "gemeente", "read changes:read write:themes write:practice-examples").await;
        let other = token(&app, "provincie", "read changes:read").await;
        let theme = send(&app, &writer, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "voeding", "name": "voeding"}))).await;
        let path = format!("/api/v1/themes/{}", theme["id"].as_str().expect("id"));
        send(&app, &writer, reqwest::Method::PATCH, &path, Some(json!({"name": "Voeding"}))).await;
        send(&app, &writer, reqwest::Method::POST, "/api/v1/practice-examples", Some(json!({"slug": "concept", "title": "Concept", "status": "draft"}))).await;
        send(&app, &writer, reqwest::Method::DELETE, &path, None).await;

        let (status, page) = get(&app, &writer, "/api/v1/changes").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let seen: Vec<(String, String, i64)> = page["items"].as_array().expect("items").iter()
            .map(|e| (e["type"].as_str().expect("type").to_owned(), e["op"].as_str().expect("op").to_owned(), e["version"].as_i64().expect("version")))
            .collect();
        assert_eq!(seen, [
            ("themes".into(), "upsert".into(), 1), ("themes".into(), "upsert".into(), 2),
            ("practice-examples".into(), "upsert".into(), 1), ("themes".into(), "delete".into(), 3),
        ]);
        assert_eq!(page["items"][1]["data"]["name"], "Voeding");
        assert!(page["items"][3]["data"].is_null(), "a tombstone");
        assert_eq!(page["hasMore"], false);

        // Another partner does not see the draft; the filter is in the query, so a page is
        // never cut short.
        let (_, theirs) = get(&app, &other, "/api/v1/changes?limit=3").await;
        assert_eq!(theirs["items"].as_array().expect("items").len(), 3);
        assert!(theirs["items"].as_array().expect("items").iter().all(|e| e["type"] == "themes"));
        assert_eq!(theirs["hasMore"], false);

        // Page by page with types.
        let mut cursor = None::<String>;
        let mut versions = Vec::new();
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/changes?types=themes&limit=1&after={c}"),
                None => "/api/v1/changes?types=themes&limit=1".to_owned(),
            };
            let (status, page) = get(&app, &writer, &path).await;
            assert_eq!(status, StatusCode::OK);
            versions.extend(page["items"].as_array().expect("items").iter().map(|e| e["version"].as_i64().expect("v")));
            cursor = page["nextCursor"].as_str().map(str::to_owned);
            if page["hasMore"] == false {
                break;
            }
        }
        assert_eq!(versions, [1, 2, 3]);
        let (status, empty) = get(&app, &writer, &format!("/api/v1/changes?after={}", cursor.clone().expect("cursor"))).await;
        assert_eq!((status, empty["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "the theme's tombstone was the last entry");

        // From the newest cursor, only what commits later.
        let (_, newest) = get(&app, &writer, "/api/v1/changes/newest").await;
        send(&app, &writer, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "rookvrij", "name": "rookvrij"}))).await;
        let (_, later) = get(&app, &writer, &format!("/api/v1/changes?after={}", newest["cursor"].as_str().expect("cursor"))).await;
        assert_eq!(later["items"].as_array().expect("items").len(), 1);
        assert_eq!(later["items"][0]["data"]["slug"], "rookvrij");

        for (query, status) in [("?types=colours", StatusCode::BAD_REQUEST), ("?after=bogus", StatusCode::BAD_REQUEST), ("?limit=0", StatusCode::BAD_REQUEST), ("?limit=1001", StatusCode::BAD_REQUEST), ("?limit=1000", StatusCode::OK), ("?colour=1", StatusCode::BAD_REQUEST)] {
            assert_eq!(get(&app, &writer, &format!("/api/v1/changes{query}")).await.0, status, "{query}");
        }
        let reader_only = token(&app, "dashboard", "read").await;
        assert_eq!(get(&app, &reader_only, "/api/v1/changes").await.0, StatusCode::FORBIDDEN);
    }
);

both_backends!(
    async fn a_cursor_older_than_the_retention_answers_410_gone(backend) {
        let app = app_or_skip!(backend);
        let writer = token(&app, "gemeente", "read changes:read write:themes").await;
        send(&app, &writer, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "a", "name": "a"}))).await;
        let (_, page) = get(&app, &writer, "/api/v1/changes").await;
        let old = page["items"][0]["cursor"].as_str().expect("cursor").to_owned();
        send(&app, &writer, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "b", "name": "b"}))).await;
        let pruned = api::service::changes::prune(&app.db, chrono::Utc::now() + chrono::Duration::seconds(1)).await.expect("prune");
        assert_eq!(pruned, 2);
        let (status, problem) = get(&app, &writer, &format!("/api/v1/changes?after={old}")).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::GONE, Some("gone")));
        assert!(problem["detail"].as_str().expect("detail").contains("resync"), "{problem}");
        // A reader starting from the beginning gets a cursor the feed still takes.
        let (status, start) = get(&app, &writer, "/api/v1/changes").await;
        assert_eq!((status, start["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
        let (status, _) = get(&app, &writer, &format!("/api/v1/changes?after={}", start["nextCursor"].as_str().expect("a cursor"))).await;
        assert_eq!(status, StatusCode::OK);
        // Following from the newest cursor works again.
        let (_, newest) = get(&app, &writer, "/api/v1/changes/newest").await;
        send(&app, &writer, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "c", "name": "c"}))).await;
        let (status, page) = get(&app, &writer, &format!("/api/v1/changes?after={}", newest["cursor"].as_str().expect("cursor"))).await;
        assert_eq!((status, page["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    }
);

both_backends!(
    async fn a_cursor_with_a_negative_position_is_a_400_naming_after_not_a_410(backend) {
        use base64::Engine;
        let app = app_or_skip!(backend);
        let writer = token(&app, "gemeente", "read changes:read write:themes").await;
        send(&app, &writer, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "a", "name": "a"}))).await;
        api::service::changes::prune(&app.db, chrono::Utc::now() + chrono::Duration::seconds(1)).await.expect("prune");
        for raw in ["feed:-1:0", "feed:-9223372036854775808:0", "feed:0:-1"] {
            let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
            let (status, problem) = get(&app, &writer, &format!("/api/v1/changes?after={cursor}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}: {problem}");
            assert_eq!((problem["code"].as_str(), problem["invalidParams"][0]["name"].as_str()), (Some("validation_failed"), Some("after")), "{raw}");
        }
    }
);

both_backends!(
    async fn a_reader_following_the_feed_over_http_misses_nothing_while_8_writers_race(backend) {
        use std::collections::{HashMap, HashSet};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let app = app_or_skip!(backend);
        let writer = token(&app, "gemeente", "read changes:read write:themes").await;
        let reader_token = token(&app, "provincie", "read changes:read").await;
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (client, base, token, done) = (app.client.clone(), app.url(""), reader_token.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen: Vec<(String, i64)> = Vec::new();
                let mut cursor: Option<String> = None;
                let mut last_round = false;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    loop {
                        let url = match &cursor {
                            Some(c) => format!("{base}/api/v1/changes?limit=37&after={c}"),
                            None => format!("{base}/api/v1/changes?limit=37"),
                        };
                        let page: Value = client.get(url).bearer_auth(&token).send().await.expect("read").json().await.expect("json");
                        for entry in page["items"].as_array().expect("items") {
                            seen.push((entry["id"].as_str().expect("id").to_owned(), entry["version"].as_i64().expect("version")));
                        }
                        cursor = page["nextCursor"].as_str().map(str::to_owned);
                        if page["hasMore"] == false {
                            break;
                        }
                    }
                    if last_round {
                        return seen;
                    }
                    last_round = finished;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
        };
        let mut writers = Vec::new();
        for w in 0..8 {
            let (client, base, token) = (app.client.clone(), app.url(""), writer.clone());
            writers.push(tokio::spawn(async move {
                let mut writes = 0;
                let mut round = 0;
                while writes < 63 {
                    round += 1;
                    if round % 6 == 0 {
                        // A bulk of five.
                        let items: Vec<Value> = (0..5).map(|j| {
                            let k = (w + round + j) % 12;
                            json!({"externalId": format!("t-{k}"), "slug": format!("thema-{k}"), "name": format!("thema {k} door {w} ronde {round}")})
                        }).collect();
                        let response = client.post(format!("{base}/api/v1/themes/bulk")).bearer_auth(&token).json(&json!({"items": items})).send().await.expect("bulk");
                        assert!(response.status().is_success(), "bulk: {}", response.status());
                        writes += 5;
                    } else {
                        let k = (w * 5 + round) % 12;
                        let response = client.put(format!("{base}/api/v1/themes/external/t-{k}")).bearer_auth(&token)
                            .json(&json!({"slug": format!("thema-{k}"), "name": format!("thema {k} door {w} ronde {round}")})).send().await.expect("put");
                        assert!(response.status().is_success(), "put: {}", response.status());
                        writes += 1;
                    }
                }
                writes
            }));
        }
        let mut total = 0;
        for w in writers {
            total += w.await.expect("writer");
        }
        assert!(total >= 500, "{total} writes");
        done.store(true, Ordering::SeqCst);
        let seen = reader.await.expect("reader");
        let unique: HashSet<&(String, i64)> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "every (id, version) exactly once");
        assert_eq!(seen.len() as i64, tests::count(&app.db, "change_log", "").await, "nothing missed");
        let mut last: HashMap<&str, i64> = HashMap::new();
        for (id, version) in &seen {
            let before = last.insert(id.as_str(), *version).unwrap_or(0);
            assert_eq!(*version, before + 1, "versions of {id} in order");
        }
        assert_eq!(last.len(), 12);
    }
);

both_backends!(
    async fn an_lms_pulls_open_assignments_by_default_and_follows_their_changes(backend) {
        let app = app_or_skip!(backend);
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let school = token(&app, "hanze", "read write:assignments write:programmes").await;
        let lms = tests::token_for(&app, "lms", "education_platform", "read changes:read", &[]).await;
        let (_, organizations) = get(&app, &school, "/api/v1/organizations?limit=1").await;
        let organization = organizations["items"][0]["id"].clone();
        let nutrition = send(&app, &school, reqwest::Method::POST, "/api/v1/programmes",
            Some(json!({"organizationId": organization, "name": "Voeding en diëtetiek", "level": "bachelor", "field": "nutrition"}))).await;
        let (_, newest) = get(&app, &lms, "/api/v1/changes/newest").await;
        for (title, status, levels, starts, ends) in [
            ("Concept", "draft", vec!["mbo"], "2024-02-01", "2024-06-30"),
            ("Open voor mbo", "open", vec!["mbo"], "2024-02-01", "2024-06-30"),
            ("Loopt al", "in_progress", vec!["bachelor"], "2023-09-01", "2024-01-31"),
            ("Afgesloten", "closed", vec!["master"], "2022-09-01", "2023-01-31"),
        ] {
            send(&app, &school, reqwest::Method::POST, "/api/v1/assignments", Some(json!({
                "title": title, "status": status, "levels": levels, "networkSlug": "legro", "regionCode": "PV20",
                "programmeIds": if title == "Open voor mbo" { vec![nutrition["id"].clone()] } else { vec![] },
                "startsOn": starts, "endsOn": ends,
            }))).await;
        }
        let titles = |page: &Value| -> Vec<String> {
            let mut t: Vec<String> = page["items"].as_array().expect("items").iter().map(|a| a["title"].as_str().expect("title").to_owned()).collect();
            t.sort();
            t
        };
        let (status, page) = get(&app, &lms, "/api/v1/assignments").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(titles(&page), ["Loopt al", "Open voor mbo"], "open and in progress by default");
        assert_eq!(titles(&get(&app, &lms, "/api/v1/assignments?status=closed").await.1), ["Afgesloten"]);
        assert_eq!(titles(&get(&app, &lms, "/api/v1/assignments?level=mbo").await.1), ["Open voor mbo"]);
        assert_eq!(titles(&get(&app, &lms, "/api/v1/assignments?field=nutrition").await.1), ["Open voor mbo"]);
        assert_eq!(titles(&get(&app, &lms, "/api/v1/assignments?startsAfter=2024-01-01").await.1), ["Open voor mbo"]);
        assert_eq!(titles(&get(&app, &lms, "/api/v1/assignments?endsBefore=2024-02-15&status=in_progress").await.1), ["Loopt al"]);
        assert_eq!(titles(&get(&app, &lms, "/api/v1/assignments?region=PV20").await.1), ["Loopt al", "Open voor mbo"]);
        // The school (not an education platform) sees every status it asks for, its draft too.
        assert_eq!(titles(&get(&app, &school, "/api/v1/assignments").await.1).len(), 4);
        // The delta: the LMS's feed shows the three published ones, never the draft.
        let (_, delta) = get(&app, &lms, &format!("/api/v1/changes?types=assignments&after={}", newest["cursor"].as_str().expect("cursor"))).await;
        let mut seen: Vec<String> = delta["items"].as_array().expect("items").iter().map(|e| e["data"]["title"].as_str().expect("title").to_owned()).collect();
        seen.sort();
        assert_eq!(seen, ["Afgesloten", "Loopt al", "Open voor mbo"]);
    }
);
