//! The health endpoints and the rules every HTTP response follows.

use tests::{app_or_skip, both_backends};

both_backends!(
    async fn liveness_and_readiness_answer_ok(backend) {
        let app = app_or_skip!(backend);
        let live = app.client.get(app.url("/health/live")).send().await.expect("GET /health/live");
        assert_eq!(live.status(), 200);
        let body: serde_json::Value = live.json().await.expect("JSON body");
        assert_eq!(body["status"], "ok");

        let ready = app.client.get(app.url("/health/ready")).send().await.expect("GET /health/ready");
        assert_eq!(ready.status(), 200);
        assert_eq!(ready.headers()["x-content-type-options"], "nosniff");
        let body: serde_json::Value = ready.json().await.expect("JSON body");
        assert_eq!(body["database"], "ok");
    }
);

both_backends!(
    async fn readiness_is_503_when_the_database_is_gone(backend) {
        let app = app_or_skip!(backend);
        app.db.clone().close().await.expect("close the pool");
        let ready = app.client.get(app.url("/health/ready")).send().await.expect("GET /health/ready");
        assert_eq!(ready.status(), 503);
        assert_eq!(ready.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = ready.json().await.expect("problem body");
        assert_eq!(body["status"], 503);
        assert_eq!(body["code"], "unavailable");
    }
);

both_backends!(
    async fn an_unknown_path_or_trailing_slash_is_a_404_problem(backend) {
        let app = app_or_skip!(backend);
        for path in ["/nope", "/health/live/"] {
            let response = app.client.get(app.url(path)).send().await.expect("GET");
            assert_eq!(response.status(), 404, "{path}");
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            let body: serde_json::Value = response.json().await.expect("problem body");
            assert_eq!(body["status"], 404);
            assert_eq!(body["instance"], path);
            assert!(body["detail"].as_str().is_some_and(|d| d.contains(path)), "{body}");
        }
    }
);

both_backends!(
    async fn a_wrong_method_is_a_405_problem_with_allow(backend) {
        let app = app_or_skip!(backend);
        let response = app.client.post(app.url("/health/live")).send().await.expect("POST");
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap_or_default().to_owned());
        assert!(allow.as_deref().is_some_and(|a| a.contains("GET")), "Allow: {allow:?}");
    }
);

both_backends!(
    async fn a_request_id_is_echoed_or_assigned(backend) {
        let app = app_or_skip!(backend);
        let echoed = app
            .client
            .get(app.url("/health/live"))
            .header("x-request-id", "partner-trace-42")
            .send()
            .await
            .expect("GET");
        assert_eq!(echoed.headers()["x-request-id"], "partner-trace-42");
        let assigned = app.client.get(app.url("/health/live")).send().await.expect("GET");
        let id = assigned.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    }
);

both_backends!(
    async fn the_server_stops_gracefully(backend) {
        let app = app_or_skip!(backend);
        let url = app.url("/health/live");
        app.stop().await.expect("a clean stop");
        assert!(reqwest::get(&url).await.is_err(), "nothing listens after the stop");
    }
);

both_backends!(
    async fn a_path_segment_that_is_not_utf8_is_a_400_problem(backend) {
        let app = app_or_skip!(backend);
        let token = tests::token_for(&app, "lezer", "dashboard", "read webhooks:manage", &[]).await;
        for path in ["/api/v1/themes/%FF", "/api/v1/networks/%C3%28/goals", "/api/v1/webhooks/%FF/deliveries"] {
            let response = app.client.get(app.url(path)).bearer_auth(&token).send().await.expect("GET");
            assert_eq!(response.status(), 400, "{path}");
            assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
            let body: serde_json::Value = response.json().await.expect("problem body");
            assert_eq!(body["invalidParams"][0]["name"], "path", "{path}: {body}");
            assert_eq!(body["instance"], path);
        }
    }
);
