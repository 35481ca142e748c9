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

async fn token_request(client: &reqwest::Client, base: &str, id: &str, secret: &str) -> reqwest::Response {
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process's status");
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
        let peak = peak_rss(leernet.pid());
        eprintln!("peak RSS: idle {} MiB, after the flood {} MiB; {refused_quickly} of 200 refused before hashing; the real client needed {attempts} attempt(s)", idle >> 20, peak >> 20);
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
