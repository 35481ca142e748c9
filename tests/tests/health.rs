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

/// The value of the sample of `metric` whose line holds every one of `labels`, 0 when
/// there is none.
fn sample(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{metric}{{")) || line.starts_with(&format!("{metric} "))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

both_backends!(
    /// `/metrics` answers on its own address only, and each metric moves when its event
    /// happens: requests by route template and status, GraphQL operations by name with
    /// their cost, rate-limit refusals, the response cache, the pool and the feed.
    async fn metrics_are_served_apart_and_move_with_their_events(backend) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let Some(app) = tests::TestApp::spawn_with(backend, |config| {
            config.metrics_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
            config.rate_limit_per_minute = 12;
        }).await else { return };
        // Seeded, so that the feed has a position to key cached answers by.
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let metrics_url = format!("http://127.0.0.1:{port}/metrics");
        let scrape = || async {
            let response = reqwest::get(&metrics_url).await.expect("GET /metrics");
            assert_eq!(response.status(), 200);
            assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/plain"));
            response.text().await.expect("text")
        };
        // Not on the API's address.
        let public = app.client.get(app.url("/metrics")).send().await.expect("GET");
        assert_eq!(public.status(), 404);
        let token = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let before = scrape().await;
        let route = ["route=\"/api/v1/themes\"", "status=\"200\""];
        for _ in 0..2 {
            let (status, _, _) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/themes", None).await;
            assert_eq!(status, 200);
        }
        let (status, _, answer) = tests::call(&app, &token, reqwest::Method::POST, "/graphql",
            Some(serde_json::json!({"query": "query Probe { themes(first: 2) { nodes { slug } } }", "operationName": "Probe"}))).await;
        assert_eq!(status, 200, "{answer}");
        // Past the rate limit.
        let mut refused = false;
        for _ in 0..20 {
            let (status, _, _) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/themes", None).await;
            if status == 429 {
                refused = true;
                break;
            }
        }
        assert!(refused, "the rate limit refused a call");
        // A path with an id in it.
        let unknown = uuid::Uuid::now_v7().to_string();
        let missing = app.client.get(app.url(&format!("/api/v1/themes/{unknown}"))).bearer_auth(&token).send().await.expect("GET");
        assert!(matches!(missing.status().as_u16(), 404 | 429), "{}", missing.status());
        // A token that does not verify, and none.
        let forged = app.client.get(app.url("/api/v1/themes")).bearer_auth("not.a.token").send().await.expect("GET");
        assert_eq!(forged.status(), 401);
        let anonymous = app.client.get(app.url("/api/v1/themes")).send().await.expect("GET");
        assert_eq!(anonymous.status(), 401);
        // A method of the caller's making is no label of its own.
        let invented = reqwest::Method::from_bytes(b"ZELFVERZONNEN").expect("a method");
        let odd = app.client.request(invented, app.url("/api/v1/themes")).send().await.expect("an answer");
        assert!(odd.status().is_client_error(), "{}", odd.status());
        let after = scrape().await;
        let moved = |metric: &str, labels: &[&str]| sample(&after, metric, labels) - sample(&before, metric, labels);
        assert!(moved("leernet_http_requests_total", &route) >= 2.0, "{after}");
        assert!(moved("leernet_http_request_duration_seconds_count", &["route=\"/api/v1/themes\""]) >= 2.0, "{after}");
        assert!(moved("leernet_http_requests_total", &["route=\"/api/v1/themes\"", "status=\"429\""]) >= 1.0, "{after}");
        assert!(moved("leernet_graphql_operations_total", &["operation=\"Probe\""]) >= 1.0, "{after}");
        assert!(moved("leernet_graphql_operation_cost_count", &["operation=\"Probe\""]) >= 1.0, "{after}");
        assert!(moved("leernet_rate_limit_refusals_total", &[]) >= 1.0, "{after}");
        assert!(moved("leernet_token_refusals_total", &["reason=\"invalid\""]) >= 1.0, "{after}");
        assert!(moved("leernet_token_refusals_total", &["reason=\"missing\""]) >= 1.0, "{after}");
        // The second list of themes was answered from the cache.
        assert!(moved("leernet_response_cache_hits_total", &[]) >= 1.0, "{after}");
        assert!(sample(&after, "leernet_db_pool_connections", &["state=\"idle\""]) + sample(&after, "leernet_db_pool_connections", &["state=\"in_use\""]) >= 1.0, "{after}");
        assert_eq!(sample(&after, "leernet_db_up", &[]), 1.0, "{after}");
        // Every transaction begun waited for its connection: timed, and none waits now.
        assert!(moved("leernet_db_acquire_duration_seconds_count", &[]) >= 1.0, "{after}");
        assert!(after.contains("leernet_db_pool_waiting "), "{after}");
        assert!(after.contains("leernet_feed_head_position "), "{after}");
        // No path of a request is a label, only its route template.
        assert!(moved("leernet_http_requests_total", &["route=\"/api/v1/themes/{"]) >= 1.0, "{after}");
        assert!(!after.contains(&unknown), "{after}");
        assert!(moved("leernet_http_requests_total", &["route=\"/api/v1/themes\"", "method=\"other\""]) >= 1.0, "{after}");
        assert!(!after.contains("ZELFVERZONNEN"), "{after}");
    }
);

both_backends!(
    /// With `--metrics-token`, `/metrics` is served on the API's address too, to the
    /// scraper sending that token only: no token, another or a partner's access token is a
    /// 401 problem, counted as a refused token.
    async fn metrics_on_the_api_address_need_the_scrapers_token(backend) {
        let secret = "een-geheim-voor-de-prometheus-scraper-0123456789";
        let Some(app) = tests::TestApp::spawn_with(backend, |config| {
            config.metrics_token = Some(api::config::MetricsToken(secret.to_owned()));
        }).await else { return };
        let partner = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let refused_before = sample(&api::prometheus::render(), "leernet_token_refusals_total", &["reason=\"metrics\""]);
        for presented in [None, Some("een-ander-geheim-voor-de-prometheus-scraper-012345"), Some(&secret[..secret.len() - 1]), Some(partner.as_str())] {
            let mut request = app.client.get(app.url("/metrics"));
            if let Some(token) = presented {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("GET /metrics");
            assert_eq!(response.status(), 401, "{presented:?}");
            assert!(response.headers()["www-authenticate"].to_str().expect("ascii").starts_with("Bearer"));
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            let problem: serde_json::Value = response.json().await.expect("a problem");
            assert!(problem["detail"].as_str().is_some_and(|d| d.contains("--metrics-token")), "{problem}");
        }
        let refused_after = sample(&api::prometheus::render(), "leernet_token_refusals_total", &["reason=\"metrics\""]);
        assert!(refused_after - refused_before >= 4.0, "{refused_before} -> {refused_after}");
        // The scheme in any case and spaces around the secret, as partners' tokens.
        for authorization in [format!("bearer {secret}"), format!("Bearer  {secret} ")] {
            let response = app.client.get(app.url("/metrics")).header("authorization", authorization.as_str()).send().await.expect("GET /metrics");
            assert_eq!(response.status(), 200, "{authorization}");
        }
        let response = app.client.get(app.url("/metrics")).bearer_auth(secret).send().await.expect("GET /metrics");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let text = response.text().await.expect("text");
        assert_eq!(sample(&text, "leernet_db_up", &[]), 1.0, "{text}");
        assert!(text.contains("leernet_db_pool_max_connections "), "{text}");
    }
);
