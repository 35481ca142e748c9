//! Regressions of an attack review, through the real server (or the real `leernet`
//! process where memory is measured): each of these held before it was fixed.

use std::net::IpAddr;
use std::time::Duration;

use api::service::partners::{self, NewPartner};
use reqwest::StatusCode;
use serde_json::Value;
use tests::{TestApp, TestDb, both_backends};

use crate::process::Process;

/// A client whose requests come from `address` (any of 127.0.0.0/8 reaches loopback), as
/// partners behind different gateways do.
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().expect("an address"))
        .build()
        .expect("a client")
}

async fn token_request(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("a token request")
}

/// The peak resident memory of a process, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process's status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

/// The bound the flood must stay under: the idle service plus a few concurrent hashes
/// (argon2id takes 19 MiB each), nowhere near one per request.
const RSS_BOUND: u64 = 200 * 1024 * 1024;

both_backends!(
    async fn a_flood_of_unknown_clients_neither_exhausts_memory_nor_locks_out_a_real_one(backend) {
        let Some(test_db) = TestDb::new(backend).await else { return };
        let mut leernet = Process::start(&["serve", "--addr", "127.0.0.1:0", "--database-url", &test_db.url, "--seed-on-first-start", "false"]);
        let addr = leernet.wait_for_log("leernet is ready")["addr"].as_str().expect("an address").to_owned();
        let base = format!("http://{addr}");
        let db = api::connect(&api::config::Config::for_database(&test_db.url).db).await.expect("a pool");
        let real = partners::create(&db, NewPartner {
            name: "gemeente-emmen".to_owned(), kind: "municipality".to_owned(),
            scopes: vec!["read".to_owned()], unconfined: true, ..Default::default()
        }).await.expect("a partner");
        let idle = peak_rss(leernet.pid());

        // 200 concurrent token requests with made-up client ids, from one address.
        let flooder = client_from("127.0.0.1");
        let flood: Vec<_> = (0..200)
            .map(|i| {
                let (client, base) = (flooder.clone(), base.clone());
                tokio::spawn(async move {
                    let response = token_request(&client, &base, &format!("lnc_onbekend_{i}"), "geraden-geheim").await;
                    let status = response.status();
                    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().expect("ascii").to_owned());
                    let body: Value = response.json().await.expect("an OAuth error body");
                    (status, retry_after, body)
                })
            })
            .collect();
        // Meanwhile the real partner, from its own address, gets its token (retrying when told to).
        let own = client_from("127.0.0.2");
        let mut attempts = 0;
        let token = loop {
            attempts += 1;
            let response = token_request(&own, &base, &real.client_id, &real.client_secret).await;
            match response.status() {
                StatusCode::OK => break response.json::<Value>().await.expect("json")["access_token"].as_str().expect("a token").to_owned(),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS if attempts < 120 => {
                    let wait: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
                    tokio::time::sleep(Duration::from_millis(wait.min(1) * 500)).await;
                }
                other => panic!("the real partner got {other} after {attempts} attempts"),
            }
        };
        let mut refused_quickly = 0;
        for request in flood {
            let (status, retry_after, body) = request.await.expect("a flood request");
            match status {
                StatusCode::UNAUTHORIZED => assert_eq!(body["error"], "invalid_client", "{body}"),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                    refused_quickly += 1;
                    assert!(retry_after.is_some(), "{status} carries Retry-After");
                    assert!(body["error"].is_string() && body["error_description"].is_string(), "an OAuth error: {body}");
                }
                other => panic!("a flood request got {other}: {body}"),
            }
        }
        let after_flood = peak_rss(leernet.pid());
        // A second flood, and failures one at a time (each checked on whatever thread is
        // free): the working memory is reused, so the peak does not grow with them.
        let again: Vec<_> = (0..200)
            .map(|i| {
                let (client, base) = (flooder.clone(), base.clone());
                tokio::spawn(async move { token_request(&client, &base, &format!("lnc_weer_{i}"), "geraden").await.status() })
            })
            .collect();
        for request in again {
            let status = request.await.expect("a flood request");
            assert!([StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS, StatusCode::SERVICE_UNAVAILABLE].contains(&status), "{status}");
        }
        for i in 0..8 {
            let status = token_request(&client_from(&format!("127.0.0.{}", 40 + i)), &base, &format!("lnc_een_{i}"), "geraden").await.status();
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let peak = peak_rss(leernet.pid());
        eprintln!("peak RSS: idle {} MiB, after a flood {} MiB, after another and 8 failures one by one {} MiB; {refused_quickly} of 200 refused before hashing; the real client needed {attempts} attempt(s)", idle >> 20, after_flood >> 20, peak >> 20);
        assert!(peak < RSS_BOUND, "the peak RSS was {} MiB", peak >> 20);
        assert!(refused_quickly > 0, "a flood this size cannot all be hashed at once");
        let themes = own.get(format!("{base}/api/v1/themes")).bearer_auth(&token).send().await.expect("themes");
        assert_eq!(themes.status(), StatusCode::OK);
        leernet.signal("-TERM");
        leernet.wait();
        db.close().await.ok();
    }
);

both_backends!(
    async fn wrong_secrets_from_elsewhere_do_not_lock_out_the_right_one(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.token_failures_per_minute = 1).await else { return };
        let base = format!("http://{}", app.addr);
        let real = partners::create(&app.db, NewPartner {
            name: "gemeente-emmen".to_owned(), kind: "municipality".to_owned(),
            scopes: vec!["read".to_owned()], unconfined: true, ..Default::default()
        }).await.expect("a partner");
        // Someone who knows the client id sprays wrong secrets from twelve addresses: each
        // (client, address) pair is blocked after its allowance, and the client id after ten
        // times as many failures, from then on a wrong secret is a 429 from anywhere.
        let mut unauthorized = 0;
        for i in 10..22 {
            let attacker = client_from(&format!("127.0.0.{i}"));
            for _ in 0..5 {
                let response = token_request(&attacker, &base, &real.client_id, "geraden").await;
                if response.status() == StatusCode::TOO_MANY_REQUESTS {
                    assert!(response.headers()["retry-after"].to_str().expect("ascii").parse::<u64>().expect("seconds") >= 1);
                    let body: Value = response.json().await.expect("an OAuth error, not a problem");
                    assert_eq!(body["error"], "slow_down", "{body}");
                    break;
                }
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
                unauthorized += 1;
            }
        }
        // Ten for the client id (and a few more as its allowance refills while hashing).
        assert!((10..=16).contains(&unauthorized), "{unauthorized} wrong secrets were answered 401");
        // The partner itself, from its own address, gets its token every time.
        let own = client_from("127.0.0.2");
        for _ in 0..5 {
            let response = token_request(&own, &base, &real.client_id, &real.client_secret).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        // Wrong secrets while the client id is under attack are 429s from any address (one
        // may pass as 401 where the allowance has refilled a failure meanwhile).
        let mut limited = 0;
        for i in 30..33 {
            let response = token_request(&client_from(&format!("127.0.0.{i}")), &base, &real.client_id, "geraden").await;
            limited += usize::from(response.status() == StatusCode::TOO_MANY_REQUESTS);
        }
        assert!(limited >= 2, "{limited} of 3 wrong secrets were limited");
    }
);

/// Sends `method path` with `body` as `token`; answers the status and the JSON body.
async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, body) = tests::call(app, token, method, path, body).await;
    (status, body)
}

fn names(problem: &Value) -> Vec<String> {
    problem["invalidParams"]
        .as_array()
        .map(|params| {
            params
                .iter()
                .map(|p| p["name"].as_str().expect("name").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

both_backends!(
    async fn a_bulk_item_the_database_refuses_is_a_400_naming_it_and_nothing_is_written(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:themes", &[]).await;
        let entries = tests::count(&app.db, "change_log", "").await;
        // Two items claim one slug: the database's unique index refuses the second.
        let items = serde_json::json!({"items": [
            {"externalId": "t-1", "slug": "voeding", "name": "Voeding"},
            {"externalId": "t-2", "slug": "voeding", "name": "Voeding bis"},
            {"externalId": "t-3", "slug": "bewegen", "name": "Bewegen"},
        ]});
        let (status, problem) = call(&app, &token, reqwest::Method::POST, "/api/v1/themes/bulk", Some(items)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        let refused = names(&problem);
        assert_eq!(refused[0], "items[1].slug", "{problem}");
        assert_eq!(tests::count(&app.db, "change_log", "").await, entries, "all or nothing");
        assert_eq!(tests::count(&app.db, "themes", "").await, 0);

        // A text too large to index is refused before the database sees it, with the limit.
        let words: Vec<String> = (0..20_000u32)
            .map(|i| [i % 32, (i / 32) % 32, (i / 1024) % 32].iter().map(|c| char::from_u32(0x430 + c).expect("Cyrillic")).collect())
            .collect();
        let text = words.join(" ");
        let token = tests::token_for(&app, "gemeente", "municipality", "read write:practice-examples", &[]).await;
        for (path, body) in [
            ("/api/v1/practice-examples", serde_json::json!({"slug": "lang", "title": "Lang", "summary": text, "context": text, "approach": text})),
            ("/api/v1/practice-examples/bulk", serde_json::json!({"items": [{"externalId": "p-1", "slug": "lang", "title": "Lang", "summary": text, "context": text, "approach": text}]})),
        ] {
            let (status, problem) = call(&app, &token, reqwest::Method::POST, path, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
            assert!(problem["invalidParams"][0]["reason"].as_str().expect("reason").contains("200000"), "{problem}");
        }
        assert_eq!(tests::count(&app.db, "practice_examples", "").await, 0);
    }
);

both_backends!(
    async fn a_confined_partner_cannot_place_a_row_partly_outside_its_territory(backend) {
        let app = tests::app_or_skip!(backend);
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        // Groningen's province may write in PV20's subtree only.
        let token = tests::token_for(&app, "provincie-groningen", "provincial_network", "read write:networks write:practice-examples", &["PV20"]).await;
        let network = |slug: &str, regions: &[&str]| serde_json::json!({
            "slug": slug, "name": slug, "kind": "learning_network", "status": "active",
            "regions": regions.iter().map(|r| serde_json::json!({"regionCode": r})).collect::<Vec<_>>(),
        });
        let (status, problem) = call(&app, &token, reqwest::Method::POST, "/api/v1/networks", Some(network("ook-in-emmen", &["PV20", "GM0114"]))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        let (status, created) = call(&app, &token, reqwest::Method::POST, "/api/v1/networks", Some(network("alleen-groningen", &["PV20"]))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        // Nor by adding a region later.
        let path = format!("/api/v1/networks/{}", created["id"].as_str().expect("id"));
        let (status, problem) = call(&app, &token, reqwest::Method::PUT, &path, Some(network("alleen-groningen", &["PV20", "GM0114"]))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        // Emmen's lists do not show it.
        let admin = tests::token_for(&app, "beheer", "admin", "admin", &[]).await;
        let (_, emmen) = call(&app, &admin, reqwest::Method::GET, "/api/v1/networks?region=GM0114", None).await;
        let slugs: Vec<&str> = emmen["items"].as_array().expect("items").iter().map(|n| n["slug"].as_str().expect("slug")).collect();
        assert!(!slugs.contains(&"ook-in-emmen") && !slugs.contains(&"alleen-groningen"), "{slugs:?}");
    }
);

both_backends!(
    async fn another_partners_draft_pins_a_row_without_revealing_itself(backend) {
        let app = tests::app_or_skip!(backend);
        let admin = tests::token_for(&app, "beheer", "admin", "admin", &[]).await;
        let province = tests::token_for(&app, "provincie", "provincial_network", "read write:themes write:practice-examples", &[]).await;
        let school = tests::token_for(&app, "school", "provincial_network", "read write:practice-examples", &[]).await;
        let (status, theme) = call(&app, &province, reqwest::Method::POST, "/api/v1/themes", Some(serde_json::json!({"slug": "voeding", "name": "Voeding"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let theme = format!("/api/v1/themes/{}", theme["id"].as_str().expect("id"));
        let (status, draft) = call(&app, &school, reqwest::Method::POST, "/api/v1/practice-examples",
            Some(serde_json::json!({"slug": "geheim-plan", "title": "Geheim plan", "status": "draft", "themes": ["voeding"]}))).await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        // The theme's owner cannot rename or delete it while the draft refers to it (the
        // database keeps references whole), and the 409 neither names nor counts the draft.
        for (method, body) in [
            (reqwest::Method::PATCH, Some(serde_json::json!({"slug": "gezonde-voeding"}))),
            (reqwest::Method::DELETE, None),
        ] {
            let (status, problem) = call(&app, &province, method.clone(), &theme, body).await;
            assert_eq!(status, StatusCode::CONFLICT, "{method}: {problem}");
            let detail = problem["detail"].as_str().expect("detail");
            assert!(detail.contains("not visible to you"), "{detail}");
            assert!(!detail.contains("practice examples") && !detail.contains("(1)"), "{detail}");
        }
        // Whoever may see it is told what it is.
        let (status, problem) = call(&app, &admin, reqwest::Method::DELETE, &theme, None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(problem["detail"].as_str().expect("detail").contains("practice examples (1)"), "{problem}");
        // Once it is published, it is named to everyone.
        let draft = format!("/api/v1/practice-examples/{}", draft["id"].as_str().expect("id"));
        let (status, _) = call(&app, &school, reqwest::Method::PATCH, &draft, Some(serde_json::json!({"status": "published"}))).await;
        assert_eq!(status, StatusCode::OK);
        let (_, problem) = call(&app, &province, reqwest::Method::DELETE, &theme, None).await;
        assert!(problem["detail"].as_str().expect("detail").contains("practice examples (1)"), "{problem}");
    }
);

both_backends!(
    async fn a_partner_that_may_not_write_is_refused_before_its_body_is_read(backend) {
        let Some(test_db) = TestDb::new(backend).await else { return };
        let mut leernet = Process::start(&["serve", "--addr", "127.0.0.1:0", "--database-url", &test_db.url, "--seed-on-first-start", "false"]);
        let addr = leernet.wait_for_log("leernet is ready")["addr"].as_str().expect("an address").to_owned();
        let base = format!("http://{addr}");
        let db = api::connect(&api::config::Config::for_database(&test_db.url).db).await.expect("a pool");
        let mut tokens = Vec::new();
        for (name, scopes) in [("dashboard", "read"), ("gemeente", "read write:practice-examples")] {
            let credentials = partners::create(&db, NewPartner {
                name: name.to_owned(), kind: "municipality".to_owned(),
                scopes: scopes.split_whitespace().map(str::to_owned).collect(), unconfined: true, ..Default::default()
            }).await.expect("a partner");
            let response: Value = token_request(&reqwest::Client::new(), &base, &credentials.client_id, &credentials.client_secret).await.json().await.expect("json");
            tokens.push(response["access_token"].as_str().expect("a token").to_owned());
        }
        // Nearly 16 MiB (the bulk limit) of small items.
        let item = r#"{"externalId":"x","title":"x"},"#;
        let mut body = String::from(r#"{"items":["#);
        while body.len() < 16 * 1024 * 1024 - 64 {
            body.push_str(item);
        }
        body.pop();
        body.push_str("]}");
        let body = std::sync::Arc::new(body);
        let send = |token: String| {
            let (base, body) = (base.clone(), body.clone());
            tokio::spawn(async move {
                reqwest::Client::new().post(format!("{base}/api/v1/practice-examples/bulk")).bearer_auth(token)
                    .header("content-type", "application/json").body(body.as_str().to_owned()).send().await
                    .map(|r| r.status())
            })
        };
        // Four read-only partners' bodies at once: 403, without the bodies being buffered
        // (the server may answer before the client has sent it all, and close).
        let refused: Vec<_> = (0..4).map(|_| send(tokens[0].clone())).collect();
        let mut forbidden = 0;
        for request in refused {
            match request.await.expect("a request") {
                Ok(status) => {
                    assert_eq!(status, StatusCode::FORBIDDEN);
                    forbidden += 1;
                }
                Err(error) => assert!(error.is_request() || error.is_body(), "{error}"),
            }
        }
        let after_refusals = peak_rss(leernet.pid());
        // A writer's oversized bulk is read (items are kept as slices of the body) and
        // refused for its item count.
        let writer = send(tokens[1].clone()).await.expect("a request").expect("an answer");
        assert_eq!(writer, StatusCode::BAD_REQUEST);
        let after_writer = peak_rss(leernet.pid());
        eprintln!("peak RSS after four refused 16 MiB bodies: {} MiB ({forbidden} of them answered 403, the others cut off); after a writer's: {} MiB", after_refusals >> 20, after_writer >> 20);
        assert!(after_refusals < 100 * 1024 * 1024, "{} MiB", after_refusals >> 20);
        assert!(after_writer < RSS_BOUND, "{} MiB", after_writer >> 20);
        leernet.signal("-TERM");
        leernet.wait();
        db.close().await.ok();
    }
);
