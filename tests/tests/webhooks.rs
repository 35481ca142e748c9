//! Webhooks through the real server and a receiver on loopback: signed CloudEvents, retried
//! with backoff after a failure and a timeout, delivered in order, logged; SSRF targets
//! refused at registration and again at connect (by the addresses connected to); a webhook
//! that keeps failing is disabled, and a redelivery revives it. Standard Webhooks
//! signatures are checked by that specification's own Python library; registrations are
//! read back by their `Location`, and the delivery log pages like every list.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{TestApp, both_backends};

/// How a receiver answers its n-th request.
#[derive(Clone, Copy)]
enum Script {
    /// 500, then a hang past the timeout, then 200 for good.
    FailThenHangThenOk,
    /// Always 500.
    AlwaysFail,
    /// Always 200.
    AlwaysOk,
    /// 500, then 200 for good.
    FailOnceThenOk,
}

/// What a receiver got: (the status it answered, the signature, the body) per answered
/// request, how many requests arrived (a timed-out one is cut off before it answers), and
/// every answered request's headers.
#[derive(Clone, Default)]
struct Received(
    Arc<Mutex<Vec<(u16, String, String)>>>,
    Arc<std::sync::atomic::AtomicUsize>,
    Arc<Mutex<Vec<axum::http::HeaderMap>>>,
);

async fn receiver(script: Script) -> (String, Received) {
    let received = Received::default();
    let log = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let n = log.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let status = match (script, n) {
                    (Script::AlwaysFail, _)
                    | (Script::FailThenHangThenOk, 0)
                    | (Script::FailOnceThenOk, 0) => 500,
                    (Script::AlwaysOk, _) => 200,
                    (Script::FailThenHangThenOk, 1) => {
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                        200
                    }
                    _ => 200,
                };
                let signature = headers
                    .get("leernet-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                log.0.lock().expect("lock").push((status, signature, body));
                log.2.lock().expect("lock").push(headers);
                axum::http::StatusCode::from_u16(status).expect("status")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/hook"), received)
}

/// How a receiver checks a delivery (the README shows the same steps): the HMAC-SHA256 of
/// `"<t>." + body` with the shared secret must equal `v1`, and `t` must be recent.
fn verify(secret: &str, header: &str, body: &str, now: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now - t).abs() > 300 {
        return false;
    }
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let expected: String = aws_lc_rs::hmac::sign(&key, format!("{t}.{body}").as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

async fn token(app: &TestApp, name: &str, scopes: &str) -> String {
    tests::token_for(app, name, "provincial_network", scopes, &[]).await
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    // Generous: under a loaded CI machine the retries' backoff and the polls stretch.
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

both_backends!(
    async fn changes_arrive_signed_in_order_after_a_failure_and_a_timeout(backend) {
        let scraper = "s".repeat(40);
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.webhook_timeout = Duration::from_millis(500).into();
            c.metrics_token = Some(api::config::MetricsToken(scraper.clone()));
        }).await else { return };
        let (url, received) = receiver(Script::FailThenHangThenOk).await;
        let attempts = |outcome: &str| -> f64 {
            let label = format!("leernet_webhook_deliveries_total{{outcome=\"{outcome}\"}} ");
            api::prometheus::render().lines()
                .find_map(|line| line.strip_prefix(&label)?.parse().ok())
                .unwrap_or(0.0)
        };
        let before = (attempts("delivered"), attempts("failed"));
        let province = token(&app, "provincie", "read changes:read webhooks:manage write:themes").await;
        let secret = "een-lang-gedeeld-geheim";
        let (status, hook) = post(&app, &province, "/api/v1/webhooks", json!({"url": url, "types": ["themes"], "secret": secret})).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        assert!(hook.get("secret").is_none(), "the secret is never shown");
        for slug in ["voeding", "rookvrij", "bewegen"] {
            post(&app, &province, "/api/v1/themes", json!({"slug": slug, "name": slug})).await;
        }
        post(&app, &province, "/api/v1/practice-examples", json!({"slug": "niet-geabonneerd", "title": "x"})).await;
        wait_for(|| received.0.lock().expect("lock").iter().filter(|r| r.0 == 200).count() >= 3, "three good deliveries").await;
        let log = received.0.lock().expect("lock").clone();
        let now = chrono::Utc::now().timestamp();
        let delivered: Vec<Value> = log.iter().filter(|r| r.0 == 200).map(|r| serde_json::from_str(&r.2).expect("JSON")).collect();
        // The first event failed, then timed out, then arrived; the rest followed in order.
        let slugs: Vec<&str> = delivered.iter().map(|e| e["data"]["data"]["slug"].as_str().expect("slug")).collect();
        assert_eq!(slugs, ["voeding", "rookvrij", "bewegen"], "{slugs:?}");
        assert_eq!(received.1.load(std::sync::atomic::Ordering::SeqCst), 5, "a failure, a timeout, three deliveries");
        // Counted by outcome (the metrics are the process's: other tests may add to them).
        assert!(attempts("delivered") - before.0 >= 3.0 && attempts("failed") - before.1 >= 2.0, "{}", api::prometheus::render());
        // The webhook's queue is empty and its newest delivered change is the last theme's.
        let hook_id = hook["id"].as_str().expect("id");
        let newest_theme = sea_orm::ConnectionTrait::query_one_raw(&app.db, sea_orm::Statement::from_string(app.db.get_database_backend(),
            "SELECT MAX(position) AS p FROM change_log WHERE resource_type = 'themes'")).await.expect("query").expect("a row")
            .try_get::<i64>("", "p").expect("a position");
        let metrics = app.client.get(app.url("/metrics")).bearer_auth(&scraper).send().await.expect("GET /metrics").text().await.expect("text");
        let gauge = |name: &str| metrics.lines().find_map(|l| l.strip_prefix(&format!("{name}{{webhook=\"{hook_id}\"}} "))?.parse::<f64>().ok());
        assert_eq!(gauge("leernet_webhook_queue_depth"), Some(0.0), "{metrics}");
        assert_eq!(gauge("leernet_webhook_delivered_position"), Some(newest_theme as f64), "{metrics}");
        // The feed's head is a position too, comparable with it (the process's gauge: another
        // test's server may have set it, with a position of the same order).
        let head = metrics.lines().find_map(|l| l.strip_prefix("leernet_feed_head_position ")?.parse::<f64>().ok()).expect("the head");
        assert!(head < f64::from(1 << 20), "a position, not a cache version: {head}");
        let event = &delivered[0];
        assert_eq!((event["specversion"].as_str(), event["type"].as_str()), (Some("1.0"), Some("nl.leernet.themes.upserted")));
        assert_eq!(event["subject"], event["data"]["id"]);
        assert!(event["id"].as_str().expect("id").starts_with("change-"));
        for (status, signature, body) in &log {
            assert!(verify(secret, signature, body, now), "a valid signature ({status})");
            assert!(!verify("een-ander-geheim-van-lengte", signature, body, now));
        }
        let deliveries: Value = app.client.get(app.url(&format!("/api/v1/webhooks/{}/deliveries", hook["id"].as_str().expect("id"))))
            .bearer_auth(&province).send().await.expect("get").json().await.expect("json");
        let first = deliveries["items"].as_array().expect("deliveries").last().expect("the oldest").clone();
        assert_eq!((first["status"].as_str(), first["attempts"].as_i64()), (Some("delivered"), Some(3)), "{first}");
        assert_eq!(deliveries["items"].as_array().expect("deliveries").len(), 3, "only themes");
    }
);

both_backends!(
    async fn targets_that_reach_inside_are_refused(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.webhook_allow_private = false).await else { return };
        let province = token(&app, "provincie", "read changes:read webhooks:manage").await;
        for url in ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data", "http://10.0.0.8/", "http://[::1]/", "http://localhost/", "ftp://example.org/", "https://user:pw@example.org/",
            "http://[::127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b:1::a9fe:a9fe]/", "http://192.0.0.8/", "http://198.18.0.1/", "http://[2002:a9fe:a9fe::]/"] {
            let (status, problem) = post(&app, &province, "/api/v1/webhooks", json!({"url": url, "secret": "een-lang-gedeeld-geheim"})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {problem}");
            assert_eq!(problem["invalidParams"][0]["name"], "url", "{url}");
        }
        let (status, problem) = post(&app, &province, "/api/v1/webhooks", json!({"url": "https://example.org/hook", "secret": "kort", "types": ["kleuren"]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let names: Vec<&str> = problem["invalidParams"].as_array().expect("params").iter().map(|p| p["name"].as_str().expect("name")).collect();
        assert!(names.contains(&"secret") && names.contains(&"types[0]"), "{names:?}");
        let reader = token(&app, "dashboard", "read").await;
        let (status, _) = post(&app, &reader, "/api/v1/webhooks", json!({"url": "https://example.org/hook", "secret": "een-lang-gedeeld-geheim"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

both_backends!(
    async fn a_webhook_that_keeps_failing_is_disabled_and_a_redelivery_revives_it(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.webhook_max_failures = 2).await else { return };
        let (url, received) = receiver(Script::AlwaysFail).await;
        let province = token(&app, "provincie", "read changes:read webhooks:manage write:themes").await;
        let (_, hook) = post(&app, &province, "/api/v1/webhooks", json!({"url": url, "secret": "een-lang-gedeeld-geheim"})).await;
        let id = hook["id"].as_str().expect("id").to_owned();
        post(&app, &province, "/api/v1/themes", json!({"slug": "voeding", "name": "voeding"})).await;
        let list = || {
            let (client, url, token) = (app.client.clone(), app.url("/api/v1/webhooks"), province.clone());
            async move { client.get(url).bearer_auth(token).send().await.expect("get").json::<Value>().await.expect("json")["items"].clone() }
        };
        // The webhook as it was read before it failed: its representation's tag.
        let location = format!("/api/v1/webhooks/{id}");
        let (_, headers, _) = get(&app, &province, &location).await;
        let healthy = headers.get("etag").and_then(|t| t.to_str().ok()).expect("an ETag").to_owned();
        for _ in 0..1200 {
            if list().await[0]["active"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let hooks = list().await;
        assert_eq!((hooks[0]["active"].as_bool(), hooks[0]["consecutiveFailures"].as_i64()), (Some(false), Some(2)), "{hooks}");
        assert!(hooks[0]["disabledAt"].is_string());
        assert_eq!(received.0.lock().expect("lock").len(), 2);
        // Its failures changed what it shows, so its tag: the old one is no longer current.
        let response = app.client.get(app.url(&location)).bearer_auth(&province).header("if-none-match", &healthy).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK, "the disabled webhook is another representation");
        let disabled = response.headers().get("etag").and_then(|t| t.to_str().ok()).expect("an ETag").to_owned();
        assert_ne!(disabled, healthy);
        let response = app.client.get(app.url(&location)).bearer_auth(&province).header("if-none-match", &disabled).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let deliveries: Value = app.client.get(app.url(&format!("/api/v1/webhooks/{id}/deliveries"))).bearer_auth(&province).send().await.expect("get").json().await.expect("json");
        assert_eq!(deliveries["items"][0]["status"], "failed");
        assert_eq!(deliveries["items"][0]["responseStatus"], 500);
        let delivery = deliveries["items"][0]["id"].as_i64().expect("id");
        let (status, again) = post(&app, &province, &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver"), json!({})).await;
        assert_eq!((status, again["status"].as_str()), (StatusCode::OK, Some("pending")), "{again}");
        assert_eq!(list().await[0]["active"], true);
        wait_for(|| received.0.lock().expect("lock").len() >= 3, "another attempt").await;
        let response = app.client.delete(app.url(&format!("/api/v1/webhooks/{id}"))).bearer_auth(&province).send().await.expect("delete");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(list().await.as_array().map(Vec::len), Some(0));
    }
);

both_backends!(
    async fn two_server_processes_never_overlap_and_wake_on_changes_committed_elsewhere(backend) {
        use std::collections::HashMap;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use crate::process::Process;
        let Some(test_db) = tests::TestDb::new(backend).await else { return };
        // On PostgreSQL the workers poll only every ten minutes: within the wait below, only
        // LISTEN/NOTIFY can wake them. SQLite has no notifications and polls.
        let poll = if backend == tests::Backend::Postgres { "600s" } else { "100ms" };
        let args = ["serve", "--addr", "127.0.0.1:0", "--database-url", &test_db.url, "--seed-on-first-start", "false",
            "--webhook-allow-private", "true", "--webhook-poll-interval", poll];
        // Two `leernet` processes on one database (the second starts once the first has migrated it).
        let mut first = Process::start(&args);
        let addr = first.wait_for_log("leernet is ready")["addr"].as_str().expect("an address").to_owned();
        let mut second = Process::start(&args);
        second.wait_for_log("leernet is ready");

        // A receiver that notes every event id and how many requests are in flight at once.
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (in_flight, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let router = {
            let (seen, in_flight, most) = (seen.clone(), in_flight.clone(), most.clone());
            axum::Router::new().route("/hook", axum::routing::post(move |body: String| {
                let (seen, in_flight, most) = (seen.clone(), in_flight.clone(), most.clone());
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let event: Value = serde_json::from_str(&body).expect("JSON");
                    *seen.lock().expect("lock").entry(event["id"].as_str().expect("id").to_owned()).or_default() += 1;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    axum::http::StatusCode::OK
                }
            }))
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });

        // The province registers its webhook with the first process, as a partner does.
        let db = api::service::db::connect(&api::service::db::DbOptions {
            url: test_db.url.clone(),
            max_connections: 2,
            busy_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }).await.expect("a pool of the test's own");
        let credentials = api::service::partners::create(&db, api::service::partners::NewPartner {
            name: "provincie".to_owned(), kind: "provincial_network".to_owned(),
            scopes: vec!["read".to_owned(), "changes:read".to_owned(), "webhooks:manage".to_owned()], unconfined: true, ..Default::default()
        }).await.expect("a partner");
        let client = reqwest::Client::new();
        let token: Value = client.post(format!("http://{addr}/oauth/token"))
            .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send().await.expect("token").json().await.expect("JSON");
        let registered = client.post(format!("http://{addr}/api/v1/webhooks"))
            .bearer_auth(token["access_token"].as_str().expect("a token"))
            .json(&json!({"url": url, "types": ["themes"], "secret": "een-lang-gedeeld-geheim"}))
            .send().await.expect("register");
        assert_eq!(registered.status(), StatusCode::CREATED);
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Written by neither process: straight through the service layer on the test's pool.
        for i in 0..20 {
            api::service::create::<api::service::Themes>(&db, &api::service::Actor::system(), api::dto::ThemeInput {
                slug: Some(format!("thema-{i}")), name: Some(format!("thema {i}")), ..Default::default()
            }).await.expect("theme");
        }
        wait_for(|| seen.lock().expect("lock").len() >= 20, "twenty deliveries (woken by the commits)").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(seen.lock().expect("lock").values().all(|n| *n == 1), "each event once: {:?}", seen.lock().expect("lock"));
        assert_eq!(most.load(Ordering::SeqCst), 1, "one webhook's deliveries never overlap, across processes");
        db.close().await.ok();
        for process in [first, second] {
            process.signal("-TERM");
            let (status, stderr) = process.wait();
            assert_eq!(status.code(), Some(0), "each process stops cleanly: {stderr:#?}");
        }
    }
);

/// The change events `token`'s partner reads from `GET /changes`, as webhook event ids.
async fn feed_ids(app: &TestApp, token: &str) -> Vec<String> {
    let page: Value = app
        .client
        .get(app.url("/api/v1/changes?limit=1000"))
        .bearer_auth(token)
        .send()
        .await
        .expect("feed")
        .json()
        .await
        .expect("json");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            format!(
                "{}:{}:{}",
                e["type"].as_str().expect("type"),
                e["id"].as_str().expect("id"),
                e["version"]
            )
        })
        .collect()
}

/// The same key for a webhook event: type, resource id and version.
fn event_keys(received: &Received) -> Vec<String> {
    received
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|r| {
            let event: Value = serde_json::from_str(&r.2).expect("JSON");
            format!(
                "{}:{}:{}",
                event["data"]["type"].as_str().expect("type"),
                event["data"]["id"].as_str().expect("id"),
                event["data"]["version"]
            )
        })
        .collect()
}

both_backends!(
    async fn webhooks_follow_the_feeds_rule_and_stop_for_revoked_partners(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.webhook_max_failures = 100).await else { return };
        let register = |token: String, url: String| {
            let app = &app;
            async move { post(app, &token, "/api/v1/webhooks", json!({"url": url, "secret": "een-lang-gedeeld-geheim"})).await }
        };
        // Without the feed's scope there is no webhook: it would be the feed pushed.
        let blind = token(&app, "zonder-feed", "read webhooks:manage write:themes").await;
        let (status, problem) = register(blind.clone(), "http://127.0.0.1:9/hook".to_owned()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert!(problem["detail"].as_str().expect("detail").contains("changes:read"), "{problem}");

        let province = token(&app, "provincie", "read changes:read webhooks:manage write:themes write:practice-examples").await;
        let school = token(&app, "school", "read changes:read webhooks:manage write:practice-examples").await;
        let admin = token(&app, "beheer", "admin").await;
        let stale = token(&app, "vertrokken", "read changes:read webhooks:manage").await;
        // An admin whose token is narrowed to the feed: its webhook sees what that token
        // sees, not what the partner could (an identity provider's binding without admin
        // rights narrows the same way).
        let narrowed = {
            let credentials = api::service::partners::create(&app.db, api::service::partners::NewPartner {
                name: "beheer-smal".to_owned(), kind: "admin".to_owned(),
                scopes: vec!["admin".to_owned(), "changes:read".to_owned(), "webhooks:manage".to_owned()], unconfined: true, ..Default::default()
            }).await.expect("a partner");
            let response: Value = app.client.post(app.url("/oauth/token")).basic_auth(&credentials.client_id, Some(&credentials.client_secret))
                .form(&[("grant_type", "client_credentials"), ("scope", "changes:read webhooks:manage")])
                .send().await.expect("token").json().await.expect("json");
            response["access_token"].as_str().expect("a token").to_owned()
        };
        let mut receivers = Vec::new();
        for (who, script) in [(&province, Script::AlwaysOk), (&school, Script::AlwaysOk), (&admin, Script::AlwaysOk), (&stale, Script::AlwaysFail), (&narrowed, Script::AlwaysOk)] {
            let (url, received) = receiver(script).await;
            let (status, hook) = register(who.clone(), url).await;
            assert_eq!(status, StatusCode::CREATED, "{hook}");
            receivers.push((hook, received));
        }
        // The partner to be revoked gets its first delivery (and fails it), so that one of
        // its deliveries is queued, written while it was live, when it is revoked.
        post(&app, &province, "/api/v1/themes", json!({"slug": "voeding", "name": "Voeding"})).await;
        wait_for(|| receivers[3].1.1.load(std::sync::atomic::Ordering::SeqCst) >= 1, "the first attempt").await;
        api::service::partners::revoke(&app.db, "vertrokken").await.expect("revoked");

        // A draft of the school's, a published example, and a theme.
        let (status, _) = post(&app, &school, "/api/v1/practice-examples", json!({"slug": "concept", "title": "Concept", "status": "draft"})).await;
        assert_eq!(status, StatusCode::CREATED);
        post(&app, &province, "/api/v1/practice-examples", json!({"slug": "legro", "title": "LEGrO"})).await;
        post(&app, &province, "/api/v1/themes", json!({"slug": "rookvrij", "name": "Rookvrij"})).await;

        // Each live partner's webhook got exactly what its feed shows, in the same order.
        for (i, who) in [(0, &province), (1, &school), (2, &admin), (4, &narrowed)] {
            let expected = feed_ids(&app, who).await;
            wait_for(|| event_keys(&receivers[i].1).len() >= expected.len(), "the deliveries").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(event_keys(&receivers[i].1), expected, "webhook {i} follows its partner's feed");
        }
        assert_eq!(feed_ids(&app, &admin).await.len(), 4, "the admin sees the draft");
        assert_eq!(feed_ids(&app, &province).await.len(), 3, "the province does not");
        assert_eq!(event_keys(&receivers[4].1).len(), 2, "a webhook registered with a token narrowed below admin gets the public themes only, no draft");
        // The revoked partner's queued delivery is not sent again, nor anything after it.
        wait_for_count(&app, "webhook_deliveries", "error LIKE 'not sent%'", 1).await;
        assert_eq!(receivers[3].1.1.load(std::sync::atomic::Ordering::SeqCst), 1, "one attempt, before the revocation");
        let stale_id = receivers[3].0["id"].as_str().expect("id").to_owned();
        assert_eq!(tests::count(&app.db, "webhook_deliveries", &format!("webhook_id = '{stale_id}' AND status <> 'failed'")).await, 0,
            "nothing written after the revocation is queued for it");

        // An admin lists every partner's webhooks; registrations and removals are audited.
        let all: Value = app.client.get(app.url("/api/v1/webhooks")).bearer_auth(&admin).send().await.expect("list").json().await.expect("json");
        assert_eq!(all["items"].as_array().map(Vec::len), Some(5), "{all}");
        let own: Value = app.client.get(app.url("/api/v1/webhooks")).bearer_auth(&school).send().await.expect("list").json().await.expect("json");
        assert_eq!(own["items"].as_array().map(Vec::len), Some(1), "{own}");
        let school_hook = receivers[1].0["id"].as_str().expect("id");
        let deleted = app.client.delete(app.url(&format!("/api/v1/webhooks/{school_hook}"))).bearer_auth(&school).send().await.expect("delete");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let audit: Value = app.client.get(app.url("/api/v1/audit?resourceType=webhooks")).bearer_auth(&admin).send().await.expect("audit").json().await.expect("json");
        let actions: Vec<(String, String)> = audit["items"].as_array().expect("items").iter()
            .map(|e| (e["action"].as_str().expect("action").to_owned(), e["resourceId"].as_str().expect("id").to_owned()))
            .collect();
        assert_eq!(actions.len(), 6, "{audit}");
        assert_eq!(actions.last(), Some(&("delete".to_owned(), school_hook.to_owned())));
    }
);

async fn wait_for_count(app: &TestApp, table: &str, filter: &str, n: i64) {
    for _ in 0..1200 {
        if tests::count(&app.db, table, filter).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {n} rows of {table} where {filter}");
}

both_backends!(
    async fn a_delivery_to_a_name_that_resolves_inside_is_refused_at_connect(backend) {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
        let Some(app) = TestApp::spawn_with(backend, |c| c.webhook_allow_private = false).await else { return };
        let (url, received) = receiver(Script::AlwaysFail).await;
        // Registration would refuse it; a row written before the name pointed inside (DNS
        // rebinding) is what the delivery must still refuse, by the addresses it connects to.
        let url = url.replace("127.0.0.1", "localhost");
        let owner = tests::partner(&app.db, "provincie", &["read", "changes:read", "webhooks:manage"]).await;
        let now = chrono::Utc::now();
        let hook = entity::webhook::ActiveModel {
            id: Set(uuid::Uuid::now_v7()), partner_id: Set(owner.partner_id), url: Set(url),
            types: Set(String::new()), secret: Set("een-lang-gedeeld-geheim".to_owned()), signature: Set("leernet".to_owned()), active: Set(true),
            consecutive_failures: Set(0), disabled_at: Set(None), created_at: Set(now), updated_at: Set(now), deleted_at: Set(None), scopes: Set(None),
        }.insert(&app.db).await.expect("a webhook row");
        let writer = token(&app, "schrijver", "write:themes").await;
        let (status, _) = post(&app, &writer, "/api/v1/themes", json!({"slug": "voeding", "name": "voeding"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let mut attempted = None;
        for _ in 0..200 {
            let rows = entity::webhook_delivery::Entity::find()
                .filter(entity::webhook_delivery::Column::WebhookId.eq(hook.id))
                .all(&app.db).await.expect("deliveries");
            if let Some(row) = rows.into_iter().find(|d| d.attempts >= 1) {
                attempted = Some(row);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let delivery = attempted.expect("an attempt is recorded");
        let error = delivery.error.unwrap_or_default();
        assert!(error.starts_with("target refused") && error.contains("loopback"), "{error}");
        assert_eq!(delivery.status, "pending", "retried later, as any failure");
        assert_eq!(received.1.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing reached the receiver");
    }
);

#[tokio::test]
async fn the_delivery_client_checks_the_addresses_it_connects_to() {
    let (url, received) = receiver(Script::AlwaysFail).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    let guarded = api::sync::delivery_client(Duration::from_secs(2), false).expect("a client");
    let error = guarded
        .post(&by_name)
        .body("{}")
        .send()
        .await
        .expect_err("refused at connect");
    let refused = api::service::webhooks::target::refusal(&error).expect("refused by the resolver");
    assert!(refused.0.contains("loopback"), "{refused}");
    assert_eq!(received.1.load(std::sync::atomic::Ordering::SeqCst), 0);
    // With private targets allowed (tests, local development) the same name is reached.
    let open = api::sync::delivery_client(Duration::from_secs(2), true).expect("a client");
    let response = open
        .post(&by_name)
        .body("{}")
        .send()
        .await
        .expect("reached");
    assert_eq!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "the receiver's answer"
    );
    assert_eq!(received.1.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A GET with `token`: its status, headers and JSON body (null when there is none).
async fn get(
    app: &TestApp,
    token: &str,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The names of a problem's invalid parameters.
fn invalid_names(problem: &Value) -> Vec<String> {
    problem["invalidParams"]
        .as_array()
        .map(|params| {
            params
                .iter()
                .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

both_backends!(
    async fn a_registered_webhook_is_read_at_its_location_by_its_owner_or_an_admin(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let province = token(&app, "provincie", "read changes:read webhooks:manage").await;
        let other = token(&app, "gemeente", "read changes:read webhooks:manage").await;
        let admin = token(&app, "beheer", "admin").await;
        let reader = token(&app, "dashboard", "read").await;
        let response = app.client.post(app.url("/api/v1/webhooks")).bearer_auth(&province)
            .json(&json!({"url": "http://127.0.0.1:9/hook", "types": ["themes"], "secret": "een-lang-gedeeld-geheim"}))
            .send().await.expect("post");
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).expect("a Location").to_owned();
        let created: Value = response.json().await.expect("json");
        assert_eq!(location, format!("/api/v1/webhooks/{}", created["id"].as_str().expect("id")));
        assert_eq!(created["signature"], "leernet", "the default scheme: {created}");

        let same = |read: &Value| ["id", "partnerId", "url", "types", "signature", "active"].iter().all(|f| read[f] == created[f]);
        let (status, _, read) = get(&app, &province, &location).await;
        assert!(status == StatusCode::OK && same(&read), "{status}: {read}");
        assert!(read.get("secret").is_none(), "the secret is never shown");
        let (status, _, read) = get(&app, &admin, &location).await;
        assert!(status == StatusCode::OK && same(&read), "an admin reads any partner's: {status}: {read}");
        let (status, _, problem) = get(&app, &other, &location).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another partner's webhook is not there for it: {problem}");
        let (status, _, _) = get(&app, &reader, &location).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "without webhooks:manage");
        let (status, _, problem) = get(&app, &province, "/api/v1/webhooks/geen-id").await;
        assert_eq!((status, invalid_names(&problem)), (StatusCode::BAD_REQUEST, vec!["id".to_owned()]));
        let deleted = app.client.delete(app.url(&location)).bearer_auth(&province).send().await.expect("delete");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let (status, _, _) = get(&app, &province, &location).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a deleted webhook is gone");
    }
);

both_backends!(
    async fn deliveries_are_paged_newest_first_by_cursor_and_link(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let (url, _received) = receiver(Script::AlwaysOk).await;
        let province = token(&app, "provincie", "read changes:read webhooks:manage write:themes").await;
        let mut hooks = Vec::new();
        for _ in 0..2 {
            let (status, hook) = post(&app, &province, "/api/v1/webhooks", json!({"url": url, "types": ["themes"], "secret": "een-lang-gedeeld-geheim"})).await;
            assert_eq!(status, StatusCode::CREATED, "{hook}");
            hooks.push(hook["id"].as_str().expect("id").to_owned());
        }
        for slug in ["voeding", "rookvrij", "bewegen", "slapen", "ontmoeten"] {
            let (status, _) = post(&app, &province, "/api/v1/themes", json!({"slug": slug, "name": slug})).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        // The outbox is written with each change: all five are listed at once, sent or not.
        let base = format!("/api/v1/webhooks/{}/deliveries", hooks[0]);
        let (status, headers, all) = get(&app, &province, &base).await;
        assert_eq!(status, StatusCode::OK, "{all}");
        let all_ids: Vec<i64> = all["items"].as_array().expect("items").iter().map(|d| d["id"].as_i64().expect("id")).collect();
        assert_eq!(all_ids.len(), 5, "{all}");
        assert!(all_ids.windows(2).all(|w| w[0] > w[1]), "newest first: {all_ids:?}");
        assert!(all.get("nextCursor").is_none() && headers.get("link").is_none(), "one page (of 50) holds them all");
        assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));

        // Two at a time, following the Link header as a client library does: 2 + 2 + 1.
        let (mut path, mut seen, mut sizes) = (format!("{base}?limit=2"), Vec::new(), Vec::new());
        loop {
            let (status, headers, page) = get(&app, &province, &path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().expect("items");
            sizes.push(items.len());
            seen.extend(items.iter().map(|d| d["id"].as_i64().expect("id")));
            let Some(link) = headers.get("link") else {
                assert!(page.get("nextCursor").is_none(), "no Link, no nextCursor: {page}");
                break;
            };
            let link = link.to_str().expect("text");
            let target = link.strip_prefix('<').and_then(|l| l.strip_suffix(">; rel=\"next\"")).expect("<...>; rel=\"next\"");
            let next = url::Url::parse(&app.url(target)).expect("a URL");
            assert_eq!(next.path(), base, "{link}");
            let cursor = next.query_pairs().find(|(k, _)| k == "cursor").map(|(_, v)| v.into_owned());
            assert_eq!(cursor.as_deref(), page["nextCursor"].as_str(), "the Link carries nextCursor: {link}");
            assert!(next.query_pairs().any(|(k, v)| k == "limit" && v == "2"), "and keeps the limit: {link}");
            path = target.to_owned();
        }
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(seen, all_ids, "every delivery once, in order");

        // A page size outside 1 to 500 (or no number), an unknown parameter, and a cursor
        // that is not one of this list's are refused, each named.
        let (_, _, other) = get(&app, &province, &format!("/api/v1/webhooks/{}/deliveries?limit=1", hooks[1])).await;
        let foreign = other["nextCursor"].as_str().expect("the other webhook's next page").to_owned();
        for (query, name) in [("limit=0", "limit"), ("limit=501", "limit"), ("limit=-1", "limit"), ("limit=veel", "limit"), ("limit=", "limit"),
            ("limt=2", "limt"), ("cursor=bogus", "cursor"), (&format!("cursor={foreign}"), "cursor")] {
            let (status, _, problem) = get(&app, &province, &format!("{base}?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
            assert_eq!(invalid_names(&problem), [name], "{query}: {problem}");
        }
        let (status, _, page) = get(&app, &province, &format!("{base}?limit=500")).await;
        assert_eq!((status, page["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(5)));
        let stranger = token(&app, "gemeente", "read changes:read webhooks:manage").await;
        let (status, _, _) = get(&app, &stranger, &base).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another partner's deliveries are not there for it");
    }
);

both_backends!(
    async fn a_standard_webhooks_secret_is_whsec_and_the_base64_of_24_to_64_bytes(backend) {
        use base64::Engine;
        use sea_orm::ConnectionTrait;
        let Some(app) = TestApp::spawn(backend).await else { return };
        let province = token(&app, "provincie", "read changes:read webhooks:manage").await;
        let whsec = |n: usize| format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(vec![42u8; n]));
        for secret in [json!("een-lang-gedeeld-geheim"), json!(whsec(16)), json!(whsec(65)), json!("whsec_dit is geen base64"),
            json!(whsec(32).replace("whsec_", "")), Value::Null] {
            let mut body = json!({"url": "http://127.0.0.1:9/hook", "signature": "standard-webhooks"});
            if !secret.is_null() {
                body["secret"] = secret.clone();
            }
            let (status, problem) = post(&app, &province, "/api/v1/webhooks", body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{secret}: {problem}");
            assert_eq!(invalid_names(&problem), ["secret"], "{secret}: {problem}");
            assert!(problem["invalidParams"][0]["reason"].as_str().expect("a reason").contains("whsec_"), "{problem}");
        }
        for n in [24, 64] {
            let (status, hook) = post(&app, &province, "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/hook", "signature": "standard-webhooks", "secret": whsec(n)})).await;
            assert_eq!((status, hook["signature"].as_str()), (StatusCode::CREATED, Some("standard-webhooks")), "{hook}");
        }
        // An unknown scheme is named along with every other invalid field.
        let (status, problem) = post(&app, &province, "/api/v1/webhooks", json!({"url": "geen url", "signature": "hmac", "secret": "kort"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let mut names = invalid_names(&problem);
        names.sort();
        assert_eq!(names, ["secret", "signature", "url"], "{problem}");
        // The database refuses a scheme the service does not know, too.
        let refused = app.db.execute_unprepared("UPDATE webhooks SET signature = 'hmac'").await.expect_err("the CHECK refuses it");
        assert!(refused.to_string().contains("ck_webhooks_signature") || refused.to_string().contains("CHECK"), "{refused}");
    }
);

/// Standard Webhooks' own library as a receiver uses it: the secret and the request's
/// headers (as JSON) as arguments, the raw body on standard input; it exits non-zero (with
/// `WebhookVerificationError`) when the delivery does not verify.
const STANDARD_WEBHOOKS_RECEIVER: &str = r#"
import json, sys
from standardwebhooks import Webhook
secret, headers = sys.argv[1], json.loads(sys.argv[2])
event = Webhook(secret).verify(sys.stdin.buffer.read(), headers)
assert event["id"] == headers["webhook-id"], event["id"]
print("verified")
"#;

/// Runs [`STANDARD_WEBHOOKS_RECEIVER`] on one received request.
async fn standard_webhooks_verify(
    secret: &str,
    headers: &axum::http::HeaderMap,
    body: &str,
) -> std::process::Output {
    use std::io::Write;
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                json!(value.to_str().expect("a text header")),
            )
        })
        .collect();
    let (secret, headers, body) = (
        secret.to_owned(),
        Value::Object(headers).to_string(),
        body.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("python3")
            .args(["-c", STANDARD_WEBHOOKS_RECEIVER, &secret, &headers])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .expect("its input")
            .write_all(body.as_bytes())
            .expect("the body");
        child.wait_with_output().expect("the run")
    })
    .await
    .expect("the run")
}

both_backends!(
    async fn standard_webhooks_deliveries_verify_with_the_specifications_own_library(backend) {
        use base64::Engine;
        let Some(app) = TestApp::spawn(backend).await else { return };
        let (url, received) = receiver(Script::FailOnceThenOk).await;
        let province = token(&app, "provincie", "read changes:read webhooks:manage write:themes").await;
        let key: Vec<u8> = (0u8..32).map(|b| b.wrapping_mul(37)).collect();
        let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(&key));
        let (status, hook) = post(&app, &province, "/api/v1/webhooks",
            json!({"url": url, "types": ["themes"], "secret": secret, "signature": "standard-webhooks"})).await;
        assert_eq!((status, hook["signature"].as_str()), (StatusCode::CREATED, Some("standard-webhooks")), "{hook}");
        post(&app, &province, "/api/v1/themes", json!({"slug": "voeding", "name": "Voeding"})).await;
        wait_for(|| received.2.lock().expect("lock").len() >= 2, "a failed attempt and its retry").await;
        let attempts: Vec<(axum::http::HeaderMap, String)> = received.2.lock().expect("lock").iter().cloned()
            .zip(received.0.lock().expect("lock").iter().map(|r| r.2.clone()))
            .collect();
        let header = |headers: &axum::http::HeaderMap, name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let event: Value = serde_json::from_str(&attempts[0].1).expect("a CloudEvents body");
        assert_eq!(event["type"], "nl.leernet.themes.upserted");
        for (headers, body) in &attempts {
            // The event id, the same in every attempt; the scheme chosen, and no other.
            let id = header(headers, "webhook-id").expect("webhook-id");
            assert_eq!(Some(id.as_str()), event["id"].as_str());
            assert_eq!(header(headers, "leernet-signature"), None);
            let t: i64 = header(headers, "webhook-timestamp").expect("webhook-timestamp").parse().expect("unix seconds");
            assert!((chrono::Utc::now().timestamp() - t).abs() < 300, "{t}");
            // The signature as the specification defines it...
            let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key), format!("{id}.{t}.{body}").as_bytes());
            let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()));
            assert_eq!(header(headers, "webhook-signature"), Some(expected));
        }
        // ...and as its own library checks it: every attempt verifies, a tampered body not.
        if !crate::interop::python_module("standardwebhooks") {
            return;
        }
        for (headers, body) in &attempts {
            let verified = standard_webhooks_verify(&secret, headers, body).await;
            assert!(verified.status.success(), "standardwebhooks: {}\n{}", String::from_utf8_lossy(&verified.stdout), String::from_utf8_lossy(&verified.stderr));
        }
        let (headers, body) = &attempts[1];
        let tampered = body.replacen("Voeding", "Snoepen", 1);
        assert_ne!(&tampered, body);
        let refused = standard_webhooks_verify(&secret, headers, &tampered).await;
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && stderr.contains("WebhookVerificationError"), "a tampered body must not verify: {stderr}");
    }
);

both_backends!(
    async fn a_partner_has_at_most_the_configured_number_of_webhooks_even_registering_at_once(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.webhook_max_per_partner = 3).await else { return };
        let province = token(&app, "provincie", "read changes:read webhooks:manage").await;
        let attempts: Vec<_> = (0..8)
            .map(|i| {
                let (client, url, token) = (app.client.clone(), app.url("/api/v1/webhooks"), province.clone());
                tokio::spawn(async move {
                    client.post(url).bearer_auth(token)
                        .json(&json!({"url": format!("http://127.0.0.1:9/hook-{i}"), "secret": "een-lang-gedeeld-geheim"}))
                        .send().await.expect("post").status()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for attempt in attempts {
            statuses.push(attempt.await.expect("a registration"));
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 3, "{statuses:?}");
        assert!(statuses.iter().all(|s| [StatusCode::CREATED, StatusCode::CONFLICT].contains(s)), "{statuses:?}");
        assert_eq!(tests::count(&app.db, "webhooks", "deleted_at IS NULL").await, 3);
        // Another partner has room of its own.
        let school = token(&app, "school", "read changes:read webhooks:manage").await;
        let (status, _) = post(&app, &school, "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/school", "secret": "een-lang-gedeeld-geheim"})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
);

both_backends!(
    async fn webhooks_are_listed_in_pages_by_cursor_and_link(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let province = token(&app, "provincie", "read changes:read webhooks:manage").await;
        let school = token(&app, "school", "read changes:read webhooks:manage").await;
        let admin = token(&app, "beheer", "admin").await;
        let mut created = Vec::new();
        for n in 0..5 {
            let (status, hook) = post(&app, &province, "/api/v1/webhooks", json!({"url": format!("http://127.0.0.1:9/hook-{n}"), "secret": "een-lang-gedeeld-geheim"})).await;
            assert_eq!(status, StatusCode::CREATED, "{hook}");
            created.push(hook["id"].as_str().expect("id").to_owned());
        }
        let (status, _) = post(&app, &school, "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/school", "secret": "een-lang-gedeeld-geheim"})).await;
        assert_eq!(status, StatusCode::CREATED);

        // One page holds them all by default, oldest first, and is never cached.
        let (status, headers, all) = get(&app, &province, "/api/v1/webhooks").await;
        assert_eq!(status, StatusCode::OK, "{all}");
        let ids = |page: &Value| -> Vec<String> { page["items"].as_array().expect("items").iter().map(|h| h["id"].as_str().expect("id").to_owned()).collect() };
        assert_eq!(ids(&all), created, "this partner's own, in the order registered");
        assert!(all.get("nextCursor").is_none() && headers.get("link").is_none(), "one page (of 50) holds them all");
        assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));

        // Two at a time, following the Link header as a client library does: 2 + 2 + 1.
        let (mut path, mut seen, mut sizes) = ("/api/v1/webhooks?limit=2".to_owned(), Vec::new(), Vec::new());
        loop {
            let (status, headers, page) = get(&app, &province, &path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            sizes.push(page["items"].as_array().expect("items").len());
            seen.extend(ids(&page));
            let Some(link) = headers.get("link") else {
                assert!(page.get("nextCursor").is_none(), "no Link, no nextCursor: {page}");
                break;
            };
            let link = link.to_str().expect("text");
            let target = link.strip_prefix('<').and_then(|l| l.strip_suffix(">; rel=\"next\"")).expect("<...>; rel=\"next\"");
            let next = url::Url::parse(&app.url(target)).expect("a URL");
            assert_eq!(next.path(), "/api/v1/webhooks", "{link}");
            let cursor = next.query_pairs().find(|(k, _)| k == "cursor").map(|(_, v)| v.into_owned());
            assert_eq!(cursor.as_deref(), page["nextCursor"].as_str(), "the Link carries nextCursor: {link}");
            assert!(next.query_pairs().any(|(k, v)| k == "limit" && v == "2"), "and keeps the limit: {link}");
            path = target.to_owned();
        }
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(seen, created, "every webhook once, in order");

        // A webhook deleted meanwhile is not listed; the walk goes on past it.
        let (_, _, first) = get(&app, &province, "/api/v1/webhooks?limit=2").await;
        let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();
        let deleted = app.client.delete(app.url(&format!("/api/v1/webhooks/{}", created[2]))).bearer_auth(&province).send().await.expect("delete");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let (_, _, rest) = get(&app, &province, &format!("/api/v1/webhooks?limit=2&cursor={cursor}")).await;
        assert_eq!(ids(&rest), [created[3].clone(), created[4].clone()]);

        // An admin's list holds every partner's.
        let (_, _, everyone) = get(&app, &admin, "/api/v1/webhooks?limit=500").await;
        assert_eq!(everyone["items"].as_array().map(Vec::len), Some(5), "{everyone}");

        // A page size outside 1 to 500 (or no number), an unknown parameter, and a cursor
        // that is not one of this list's (a delivery log's) are refused, each named.
        let (_, _, log) = get(&app, &province, &format!("/api/v1/webhooks/{}/deliveries?limit=1", created[0])).await;
        assert!(log["items"].is_array(), "{log}");
        let foreign = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, format!("deliveries:{}:7", created[0]));
        for (query, name) in [("limit=0", "limit"), ("limit=501", "limit"), ("limit=veel", "limit"), ("limt=2", "limt"),
            ("cursor=bogus", "cursor"), (&format!("cursor={foreign}"), "cursor")] {
            let (status, _, problem) = get(&app, &province, &format!("/api/v1/webhooks?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
            assert_eq!(invalid_names(&problem), [name], "{query}: {problem}");
        }
        let reader = token(&app, "dashboard", "read").await;
        let (status, _, _) = get(&app, &reader, "/api/v1/webhooks?limit=veel").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "without webhooks:manage, whatever the parameters");
    }
);

both_backends!(
    async fn a_webhook_read_has_an_etag_for_if_none_match_and_if_match(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let province = token(&app, "provincie", "read changes:read webhooks:manage").await;
        let (status, hook) = post(&app, &province, "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/hook", "secret": "een-lang-gedeeld-geheim"})).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().expect("id"));
        let read = |encoding: &'static str, condition: Option<(&'static str, String)>| {
            let mut request = app.client.get(app.url(&path)).bearer_auth(&province).header("accept-encoding", encoding);
            if let Some((name, value)) = condition {
                request = request.header(name, value);
            }
            request.send()
        };
        let identity = read("identity", None).await.expect("get");
        assert_eq!(identity.status(), StatusCode::OK);
        assert_eq!(identity.headers()["cache-control"], "private, no-cache");
        let tag = identity.headers()["etag"].to_str().expect("text").to_owned();
        let inner = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).expect("a strong tag");
        assert!(!inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit()), "{tag}");
        assert_eq!(read("identity", None).await.expect("get").headers()["etag"], tag.as_str(), "the same representation, the same tag");
        let gzip = read("gzip", None).await.expect("get");
        assert_eq!(gzip.headers()["content-encoding"], "gzip");
        let gzip_tag = format!("\"{inner}-gzip\"");
        assert_eq!(gzip.headers()["etag"], gzip_tag.as_str(), "a compressed representation has a tag of its own");

        // If-None-Match compares weakly: each coding's tag, a weak one and `*` are this one.
        for sent in [tag.clone(), gzip_tag.clone(), format!("W/{tag}"), "\"anders\", ".to_owned() + &tag, "*".to_owned()] {
            let cached = read("gzip", Some(("if-none-match", sent.clone()))).await.expect("get");
            assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{sent}");
            assert_eq!(cached.headers()["cache-control"], "private, no-cache", "the 304 carries what the 200 would");
            assert_eq!(cached.headers()["vary"], "accept-encoding");
            assert!(cached.headers().get("etag").is_some());
        }
        assert_eq!(read("identity", Some(("if-none-match", "\"anders\"".to_owned()))).await.expect("get").status(), StatusCode::OK);

        // If-Match on the read compares strongly.
        for (sent, status) in [(tag.clone(), StatusCode::OK), (gzip_tag.clone(), StatusCode::OK), ("*".to_owned(), StatusCode::OK),
            (format!("W/{tag}"), StatusCode::PRECONDITION_FAILED), ("\"anders\"".to_owned(), StatusCode::PRECONDITION_FAILED),
            (format!("\"{inner}-deflate\""), StatusCode::PRECONDITION_FAILED), ("geen-tag".to_owned(), StatusCode::BAD_REQUEST)] {
            let response = read("identity", Some(("if-match", sent.clone()))).await.expect("get");
            assert_eq!(response.status(), status, "If-Match: {sent}");
        }
        // The tag is the webhook's, not anyone's: another partner still finds none.
        let other = token(&app, "gemeente", "read changes:read webhooks:manage").await;
        let response = app.client.get(app.url(&path)).bearer_auth(&other).header("if-none-match", &tag).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
);
