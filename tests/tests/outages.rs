//! The database out of reach: an exhausted pool, a request past its timeout, connections
//! killed mid-query and a database that refuses connections are 503 problems with
//! `Retry-After` (never a 500, never SQL), and the published keys keep being served.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::Value;
use tests::{Backend, TestApp, both_backends};

/// Asserts a 503 problem that says when to retry and quotes no SQL.
async fn assert_unavailable(response: Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    assert!(
        retry_after
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "{what}: Retry-After {retry_after:?}"
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "{what}"
    );
    let body: Value = response.json().await.expect("a problem");
    assert_eq!(body["code"], "unavailable", "{what}: {body}");
    let detail = body["detail"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        !detail.contains("select") && !detail.contains("sqlx") && !detail.contains("pool"),
        "{what}: {body}"
    );
}

/// Begins transactions until the pool has no connection left (the webhook worker may hold
/// one to listen for changes), and keeps them.
async fn exhaust(db: &sea_orm::DatabaseConnection) -> Vec<sea_orm::DatabaseTransaction> {
    let mut held = Vec::new();
    while let Ok(txn) = db.begin().await {
        held.push(txn);
    }
    assert!(!held.is_empty(), "at least one connection was free");
    held
}

both_backends!(
    async fn an_exhausted_pool_answers_503_with_retry_after(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.db.db_max_connections = Some(2);
            c.db.db_connect_timeout = Duration::from_millis(500).into();
        }).await else { return };
        let token = tests::token_for(&app, "lezer", "dashboard", "read", &[]).await;
        let held = exhaust(&app.db).await;
        let response = app.client.get(app.url("/api/v1/themes")).bearer_auth(&token).send().await.expect("GET");
        assert_unavailable(response, "pool exhausted").await;
        drop(held);
        let response = app.client.get(app.url("/api/v1/themes")).bearer_auth(&token).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "served again once the connections are back");
    }
);

both_backends!(
    async fn a_request_past_its_timeout_answers_503_with_retry_after(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.db.db_max_connections = Some(2);
            c.db.db_connect_timeout = Duration::from_secs(2).into();
            c.request_timeout = Duration::from_millis(300).into();
        }).await else { return };
        let held = exhaust(&app.db).await;
        // Readiness waits for a connection longer than the request may take.
        let response = app.client.get(app.url("/health/ready")).send().await.expect("GET");
        assert_unavailable(response, "request timeout").await;
        drop(held);
    }
);

both_backends!(
    async fn the_published_keys_are_served_while_the_database_is_down(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let before: Value = app.client.get(app.url("/.well-known/jwks.json")).send().await.expect("GET").json().await.expect("JSON");
        assert_eq!(before["keys"].as_array().map(Vec::len), Some(1), "{before}");
        let admin = match backend {
            Backend::Sqlite => {
                app.db.clone().close().await.expect("close the pool");
                None
            }
            Backend::Postgres => {
                let admin_url = std::env::var(tests::POSTGRES_ENV).expect("the server's URL");
                let admin = Database::connect(&admin_url).await.expect("an admin connection");
                let name = app.test_db.url.rsplit('/').next().and_then(|n| n.split('?').next()).expect("a name").to_owned();
                admin.execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await.expect("refuse connections");
                admin.execute_unprepared(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")).await.expect("terminate");
                Some((admin, name))
            }
        };
        // Past the reload interval: a reload is tried, fails, and the keys in memory are served.
        tokio::time::sleep(api::auth::keyring::RELOAD_INTERVAL + Duration::from_millis(200)).await;
        for _ in 0..3 {
            let response = app.client.get(app.url("/.well-known/jwks.json")).send().await.expect("GET");
            assert_eq!(response.status(), StatusCode::OK);
            let keys: Value = response.json().await.expect("JSON");
            assert_eq!(keys, before);
        }
        let ready = app.client.get(app.url("/health/ready")).send().await.expect("GET");
        assert_unavailable(ready, "readiness with the database down").await;
        if let Some((admin, name)) = admin {
            admin.execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await.expect("allow connections");
        }
    }
);

/// PostgreSQL ending the service's sessions (an administrator, a failover) while requests
/// run: each request succeeds or is a 503 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_terminated_mid_query_are_503_with_retry_after_never_500() {
    let Some(app) =
        TestApp::spawn_with(Backend::Postgres, |c| c.db.db_max_connections = Some(4)).await
    else {
        return;
    };
    let token = tests::token_for(&app, "lezer", "dashboard", "read changes:read", &[]).await;
    let killer = Database::connect(&app.test_db.url)
        .await
        .expect("the test's own connection");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (client, token) = (app.client.clone(), token.clone());
        let path = [
            "/api/v1/themes",
            "/api/v1/changes",
            "/api/v1/regions",
            "/health/ready",
            "/api/v1/networks",
            "/api/v1/practice-examples",
        ][i];
        let url = app.url(path);
        clients.spawn(async move {
            let mut seen = Vec::new();
            while tokio::time::Instant::now() < deadline {
                let response = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("an answer");
                let status = response.status();
                let retry_after = response.headers().contains_key("retry-after");
                let body = response.text().await.unwrap_or_default();
                seen.push((path, status, retry_after, body));
            }
            seen
        });
    }
    let mut terminated = 0u64;
    while tokio::time::Instant::now() < deadline {
        let rows = killer
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            ))
            .await
            .expect("terminate the service's sessions");
        terminated += rows.len() as u64;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut answers = Vec::new();
    while let Some(seen) = clients.join_next().await {
        answers.extend(seen.expect("a client"));
    }
    let unavailable = answers
        .iter()
        .filter(|a| a.1 == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    for (path, status, retry_after, body) in &answers {
        assert!(
            status.is_success() || *status == StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {status} {body}"
        );
        if *status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry_after, "{path}: 503 without Retry-After: {body}");
        }
    }
    eprintln!(
        "{} requests, {unavailable} answered 503, {terminated} sessions terminated",
        answers.len()
    );
    assert!(
        terminated > 0,
        "sessions were terminated while requests ran"
    );
}
