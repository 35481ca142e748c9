//! The read path at scale: region subtrees from the closure (kept across moves, also under
//! concurrent writers), full-text search from an index with the same rows on both backends.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{Backend, TestApp, both_backends, call};

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .patch(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .expect("a patch");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The titles a list answers (one page of up to 100).
async fn titles(app: &TestApp, token: &str, query: &str) -> BTreeSet<String> {
    let (status, _, page) = call(
        app,
        token,
        Method::GET,
        &format!("/api/v1/practice-examples?limit=100&{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().expect("a title").to_owned())
        .collect()
}

/// The count per group key of a stats answer.
async fn groups(app: &TestApp, token: &str, query: &str) -> Vec<(String, i64)> {
    let (status, _, stats) = call(
        app,
        token,
        Method::GET,
        &format!("/api/v1/stats/practice-examples?{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {stats}");
    stats["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"].as_str().expect("a key").to_owned(),
                g["count"].as_i64().expect("a count"),
            )
        })
        .collect()
}

async fn region(
    app: &TestApp,
    token: &str,
    code: &str,
    name: &str,
    kind: &str,
    parent: Option<&str>,
) -> Value {
    let (status, _, body) = call(
        app,
        token,
        Method::POST,
        "/api/v1/regions",
        Some(json!({"code": code, "name": name, "kind": kind, "parentCode": parent})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

both_backends!(
    async fn subtree_filters_and_stats_follow_region_moves(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:regions write:practice-examples", &[]).await;
        region(&app, &token, "PV98", "Noorderprovincie", "province", None).await;
        region(&app, &token, "PV99", "Zuiderprovincie", "province", None).await;
        let municipality = region(&app, &token, "GM9801", "Proefgemeente", "municipality", Some("PV98")).await;
        region(&app, &token, "WK980101", "Proefwijk", "district", Some("GM9801")).await;
        for (title, code) in [("In de wijk", "WK980101"), ("In de gemeente", "GM9801"), ("In de provincie", "PV98")] {
            let (status, _, body) = call(&app, &token, Method::POST, "/api/v1/practice-examples",
                Some(json!({"title": title, "regionCode": code, "status": "published"}))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        assert_eq!(titles(&app, &token, "region=PV98").await, set(&["In de wijk", "In de gemeente", "In de provincie"]));
        assert_eq!(titles(&app, &token, "region=PV99").await, set(&[]));
        assert_eq!(groups(&app, &token, "groupBy=region&regionLevel=province").await, vec![("PV98".to_owned(), 3)]);
        assert_eq!(groups(&app, &token, "groupBy=region&regionLevel=municipality").await, vec![("GM9801".to_owned(), 2)]);

        // The municipality moves to the other province, with its district.
        let id = municipality["id"].as_str().expect("an id");
        let (status, body) = patch(&app, &token, &format!("/api/v1/regions/{id}"), json!({"parentCode": "PV99"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(titles(&app, &token, "region=PV98").await, set(&["In de provincie"]));
        assert_eq!(titles(&app, &token, "region=PV99").await, set(&["In de wijk", "In de gemeente"]));
        assert_eq!(titles(&app, &token, "region=GM9801").await, set(&["In de wijk", "In de gemeente"]));
        let mut by_province = groups(&app, &token, "groupBy=region&regionLevel=province").await;
        by_province.sort();
        assert_eq!(by_province, vec![("PV98".to_owned(), 1), ("PV99".to_owned(), 2)]);

        // A district made below it after the move lies in the new province.
        region(&app, &token, "WK980102", "Nieuwe wijk", "district", Some("GM9801")).await;
        let (status, _, body) = call(&app, &token, Method::POST, "/api/v1/practice-examples",
            Some(json!({"title": "In de nieuwe wijk", "regionCode": "WK980102", "status": "published"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(titles(&app, &token, "region=PV99").await, set(&["In de wijk", "In de gemeente", "In de nieuwe wijk"]));
        let (status, _, regions) = call(&app, &token, Method::GET, "/api/v1/regions?region=PV99&limit=100", None).await;
        assert_eq!(status, StatusCode::OK);
        let codes: BTreeSet<String> = regions["items"].as_array().expect("items").iter().map(|r| r["code"].as_str().expect("a code").to_owned()).collect();
        assert_eq!(codes, set(&["PV99", "GM9801", "WK980101", "WK980102"]));
        assert_closure_is_the_tree(&app).await;
    }
);

/// The closure holds exactly the (ancestor, descendant, depth) triples the parent links
/// give, computed here by walking the tree recursively.
async fn assert_closure_is_the_tree(app: &TestApp) {
    let walk = "WITH RECURSIVE down(a, d, depth) AS (SELECT id, id, 0 FROM regions \
                UNION ALL SELECT down.a, r.id, down.depth + 1 FROM regions r JOIN down ON r.parent_id = down.d) \
                SELECT a, d, depth FROM down";
    for (missing, query) in [
        (
            "the walk has rows the closure lacks",
            format!(
                "SELECT COUNT(*) AS n FROM ({walk}) w WHERE NOT EXISTS \
            (SELECT 1 FROM region_closure c WHERE c.ancestor_id = w.a AND c.descendant_id = w.d AND c.depth = w.depth)"
            ),
        ),
        (
            "the closure has rows the walk lacks",
            format!(
                "SELECT COUNT(*) AS n FROM region_closure c WHERE NOT EXISTS \
            (SELECT 1 FROM ({walk}) w WHERE c.ancestor_id = w.a AND c.descendant_id = w.d AND c.depth = w.depth)"
            ),
        ),
    ] {
        use sea_orm::ConnectionTrait;
        let n: i64 = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                query,
            ))
            .await
            .expect("a count")
            .expect("a row")
            .try_get("", "n")
            .expect("n");
        assert_eq!(n, 0, "{missing}");
    }
}

#[tokio::test]
async fn concurrent_moves_and_creations_keep_the_closure_whole_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let token = tests::token_for(
        &app,
        "provincie",
        "provincial_network",
        "read write:regions",
        &[],
    )
    .await;
    region(&app, &token, "PV97", "Westerprovincie", "province", None).await;
    region(&app, &token, "PV96", "Oosterprovincie", "province", None).await;
    let mut municipalities = Vec::new();
    for i in 1..=4 {
        let m = region(
            &app,
            &token,
            &format!("GM970{i}"),
            &format!("Gemeente {i}"),
            "municipality",
            Some("PV97"),
        )
        .await;
        municipalities.push(m["id"].as_str().expect("an id").to_owned());
    }
    // A writer holds its transaction open while it makes a district below Gemeente 1,
    // which the movers move meanwhile.
    let actor = tests::partner(&app.db, "houder", &["read", "write:regions"]).await;
    let held = {
        let db = app.db.clone();
        tokio::spawn(async move {
            api::service::db::write(&db, |tx| {
                let actor = actor.clone();
                async move {
                    let input = api::dto::RegionInput {
                        code: Some("WK970199".to_owned()),
                        name: Some("Vastgehouden wijk".to_owned()),
                        kind: Some("district".into()),
                        parent_code: Some("GM9701".to_owned()),
                        ..Default::default()
                    };
                    let (dto, _) = api::service::resource::upsert_in::<api::service::Regions>(
                        &tx, &actor, "vast-1", &input, None,
                    )
                    .await?;
                    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                    Ok((tx, dto))
                }
            })
            .await
            .expect("the held write")
        })
    };
    let mut tasks = Vec::new();
    for (i, id) in municipalities.iter().enumerate() {
        let (client, base, bearer, id) =
            (app.client.clone(), app.url(""), token.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let token = bearer;
            for round in 0..6 {
                let parent = if (round + i) % 2 == 0 { "PV96" } else { "PV97" };
                let response = client
                    .patch(format!("{base}/api/v1/regions/{id}"))
                    .bearer_auth(&token)
                    .header("content-type", "application/merge-patch+json")
                    .body(json!({"parentCode": parent}).to_string())
                    .send()
                    .await
                    .expect("a move");
                assert_eq!(
                    response.status(),
                    StatusCode::OK,
                    "{}",
                    response.text().await.unwrap_or_default()
                );
            }
        }));
        let (client, base, bearer) = (app.client.clone(), app.url(""), token.clone());
        tasks.push(tokio::spawn(async move {
            let token = bearer;
            for d in 0..6 {
                let response = client.post(format!("{base}/api/v1/regions")).bearer_auth(&token)
                    .json(&json!({"code": format!("WK970{}{d:02}", i + 1), "name": format!("Wijk {i}-{d}"), "kind": "district", "parentCode": format!("GM970{}", i + 1)}))
                    .send().await.expect("a creation");
                assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer");
    }
    held.await.expect("the held writer");
    assert_closure_is_the_tree(&app).await;
    // And the API's subtrees agree with where each municipality ended up.
    for province in ["PV96", "PV97"] {
        let (status, _, page) = call(
            &app,
            &token,
            Method::GET,
            &format!("/api/v1/regions?region={province}&limit=100"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, children) = call(
            &app,
            &token,
            Method::GET,
            &format!(
                "/api/v1/regions?parentId={}&limit=100",
                page["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .find(|r| r["code"] == province)
                    .expect("the province")["id"]
                    .as_str()
                    .expect("id")
            ),
            None,
        )
        .await;
        let mut expected = 1;
        for m in children["items"].as_array().expect("items") {
            let (_, _, below) = call(
                &app,
                &token,
                Method::GET,
                &format!(
                    "/api/v1/regions?parentId={}&limit=100",
                    m["id"].as_str().expect("id")
                ),
                None,
            )
            .await;
            expected += 1 + below["items"].as_array().expect("items").len();
        }
        assert_eq!(
            page["items"].as_array().expect("items").len(),
            expected,
            "{province}'s subtree"
        );
    }
}

both_backends!(
    async fn search_finds_the_same_rows_on_both_backends(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:practice-examples", &[]).await;
        for (title, summary) in [
            ("Valpreventie voor ouderen", "Ouderen bewegen samen in de wijk."),
            ("Beweegtuin in Bargeres", "Een beweegtuin nodigt uit tot beweging."),
            ("Gezonde schoolkantine", "Kinderen eten gezonder op school."),
        ] {
            let (status, _, body) = call(&app, &token, Method::POST, "/api/v1/practice-examples",
                Some(json!({"title": title, "summary": summary, "status": "published"}))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        for (q, expected) in [
            ("valpreventie", vec!["Valpreventie voor ouderen"]),
            ("VALPREVENTIE", vec!["Valpreventie voor ouderen"]),
            ("beweegtuin", vec!["Beweegtuin in Bargeres"]),
            ("schoolkantine", vec!["Gezonde schoolkantine"]),
            ("gezonde", vec!["Gezonde schoolkantine"]),
            ("ouderen wijk", vec!["Valpreventie voor ouderen"]),
            ("beweegtuin -bargeres", vec![]),
            ("beweegtuin -\"bargeres\"", vec![]),
            ("-\"kinderen\" ouderen", vec!["Valpreventie voor ouderen"]),
            ("valpreventie het", vec!["Valpreventie voor ouderen"]),
            ("kinderen", vec!["Gezonde schoolkantine"]),
            ("fietsenstalling", vec![]),
        ] {
            let expected: Vec<&str> = expected;
            assert_eq!(titles(&app, &token, &format!("q={}", urlencode(q))).await, set(&expected), "q={q}");
        }
        // Dutch stemming on PostgreSQL: `beweging` finds `bewegen` too.
        let stems = titles(&app, &token, "q=beweging").await;
        match backend {
            Backend::Postgres => assert_eq!(stems, set(&["Valpreventie voor ouderen", "Beweegtuin in Bargeres"])),
            Backend::Sqlite => assert_eq!(stems, set(&["Beweegtuin in Bargeres"])),
        }
        // A query with no word to look for is refused on both, naming q.
        for q in ["de", "het", "een+zijn", "-valpreventie"] {
            let (status, _, problem) = call(&app, &token, Method::GET, &format!("/api/v1/practice-examples?q={q}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "q={q}: {problem}");
            assert_eq!(problem["invalidParams"][0]["name"], "q");
        }
        // An edited text is found by its new words, not its old ones.
        let (_, _, page) = call(&app, &token, Method::GET, "/api/v1/practice-examples?q=schoolkantine", None).await;
        let id = page["items"][0]["id"].as_str().expect("an id").to_owned();
        let (status, body) = patch(&app, &token, &format!("/api/v1/practice-examples/{id}"), json!({"title": "Gezonde sportkantine"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(titles(&app, &token, "q=schoolkantine").await, set(&[]));
        assert_eq!(titles(&app, &token, "q=sportkantine").await, set(&["Gezonde sportkantine"]));
        // A deleted row is not found.
        let (status, _, _) = call(&app, &token, Method::DELETE, &format!("/api/v1/practice-examples/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(titles(&app, &token, "q=sportkantine").await, set(&[]));
    }
);

fn urlencode(q: &str) -> String {
    q.replace(' ', "+")
}

/// Clients that hang up at any point of their requests (before, during and after the
/// transaction's `BEGIN`) leave no connection behind inside a transaction: every request
/// after them succeeds.
#[tokio::test]
async fn clients_hanging_up_mid_request_leave_the_pool_clean_on_postgres() {
    let Some(app) =
        TestApp::spawn_with(Backend::Postgres, |c| c.db.db_max_connections = Some(4)).await
    else {
        return;
    };
    let token = tests::token_for(&app, "dashboard", "dashboard", "read write:themes", &[]).await;
    for i in 0..30 {
        let (status, _, _) = call(
            &app,
            &token,
            Method::POST,
            "/api/v1/themes",
            Some(json!({"slug": format!("thema-{i}"), "name": format!("Thema {i}")})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut tasks = Vec::new();
    for worker in 0..32u64 {
        let (client, base, token) = (app.client.clone(), app.url(""), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while std::time::Instant::now() < deadline {
                n += 1;
                // Hang up after 0 to 12 ms: some before the request is read, some in the
                // middle of its statements, some after.
                let after =
                    std::time::Duration::from_micros((worker * 7919 + n * 104_729) % 12_000);
                let path = if n.is_multiple_of(3) {
                    "/api/v1/themes?q=thema&limit=20"
                } else {
                    "/api/v1/themes?limit=30"
                };
                let _ = tokio::time::timeout(
                    after,
                    client
                        .get(format!("{base}{path}"))
                        .bearer_auth(&token)
                        .send(),
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("a client");
    }
    for i in 0..60 {
        let (status, _, body) = if i % 2 == 0 {
            call(&app, &token, Method::GET, "/api/v1/themes?limit=30", None).await
        } else {
            call(
                &app,
                &token,
                Method::POST,
                "/api/v1/themes",
                Some(json!({"slug": format!("daarna-{i}"), "name": format!("Daarna {i}")})),
            )
            .await
        };
        assert!(
            status.is_success(),
            "request {i} after the hang-ups: {status} {body}"
        );
    }
}

/// A token from `base`'s `/oauth/token` for `credentials`.
async fn token_at(
    client: &reqwest::Client,
    base: &str,
    credentials: &api::service::partners::Credentials,
) -> String {
    let response: Value = client
        .post(format!("{base}/oauth/token"))
        .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("a token")
        .json()
        .await
        .expect("json");
    response["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

both_backends!(
    async fn cached_lists_and_stats_follow_writes_through_another_instance_at_once(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        // A second instance on the same database, with its own cache.
        let other = api::Server::start(api::config::Config::for_database(&app.test_db.url)).await.expect("a second instance");
        let other_base = format!("http://{}", other.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(other.run(async move { let _ = stopped.await; }));

        let writer = api::service::partners::create(&app.db, api::service::partners::NewPartner {
            name: "provincie".to_owned(), kind: "provincial_network".to_owned(),
            scopes: ["read", "write:themes", "write:regions", "write:practice-examples"].map(str::to_owned).to_vec(),
            unconfined: true, ..Default::default()
        }).await.expect("a partner");
        let reader = api::service::partners::create(&app.db, api::service::partners::NewPartner {
            name: "dashboard".to_owned(), kind: "dashboard".to_owned(), scopes: vec!["read".to_owned()],
            unconfined: true, ..Default::default()
        }).await.expect("a partner");
        let write_token = token_at(&app.client, &app.url(""), &writer).await;
        let read_token = token_at(&app.client, &other_base, &reader).await;
        let get = |path: String, tag: Option<String>| {
            let (client, base, token) = (app.client.clone(), other_base.clone(), read_token.clone());
            async move {
                let mut request = client.get(format!("{base}{path}")).bearer_auth(&token);
                if let Some(tag) = tag {
                    request = request.header("if-none-match", tag);
                }
                let response = request.send().await.expect("a read");
                let status = response.status();
                let tag = response.headers().get("etag").map(|t| t.to_str().expect("ascii").to_owned());
                (status, tag, response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        for slug in ["voeding", "bewegen"] {
            let (status, _, _) = call(&app, &write_token, Method::POST, "/api/v1/themes", Some(json!({"slug": slug, "name": slug}))).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, tag, page) = get("/api/v1/themes".to_owned(), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["items"].as_array().expect("items").len(), 2);
        let tag = tag.expect("a list has an ETag");
        let (again, _, cached) = get("/api/v1/themes".to_owned(), None).await;
        assert_eq!((again, &cached), (StatusCode::OK, &page), "the same answer again");
        let (status, _, _) = get("/api/v1/themes".to_owned(), Some(tag.clone())).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);

        // A write through the first instance is seen by the second's next read.
        let (status, _, _) = call(&app, &write_token, Method::POST, "/api/v1/themes", Some(json!({"slug": "wonen", "name": "wonen"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, new_tag, page) = get("/api/v1/themes".to_owned(), Some(tag.clone())).await;
        assert_eq!(status, StatusCode::OK, "the list changed");
        assert_eq!(page["items"].as_array().expect("items").len(), 3);
        assert_ne!(new_tag, Some(tag));

        // Stats and a subtree list, then a region moves: both follow at once.
        region(&app, &write_token, "PV98", "Noord", "province", None).await;
        region(&app, &write_token, "PV99", "Zuid", "province", None).await;
        let municipality = region(&app, &write_token, "GM9801", "Proefgemeente", "municipality", Some("PV98")).await;
        let (status, _, _) = call(&app, &write_token, Method::POST, "/api/v1/practice-examples",
            Some(json!({"title": "Samen bewegen", "regionCode": "GM9801", "status": "published", "themes": ["bewegen"]}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let stats = "/api/v1/stats/practice-examples?groupBy=region&regionLevel=province".to_owned();
        let (_, _, before) = get(stats.clone(), None).await;
        assert_eq!(before["groups"][0]["key"], "PV98");
        let (_, _, listed) = get("/api/v1/practice-examples?region=PV98".to_owned(), None).await;
        assert_eq!(listed["items"].as_array().expect("items").len(), 1);
        let (status, body) = patch(&app, &write_token, &format!("/api/v1/regions/{}", municipality["id"].as_str().expect("id")), json!({"parentCode": "PV99"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, _, after) = get(stats.clone(), None).await;
        assert_eq!(after["groups"][0]["key"], "PV99", "{after}");
        let (_, _, listed) = get("/api/v1/practice-examples?region=PV98".to_owned(), None).await;
        assert_eq!(listed["items"].as_array().expect("items").len(), 0, "{listed}");

        // A draft is its owner's: the same query by another partner never gets it from the cache.
        let (status, _, _) = call(&app, &write_token, Method::POST, "/api/v1/practice-examples",
            Some(json!({"title": "Nog een concept", "status": "draft"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let reader_here = token_at(&app.client, &app.url(""), &reader).await;
        assert_eq!(titles(&app, &write_token, "q=concept").await, set(&["Nog een concept"]));
        assert_eq!(titles(&app, &reader_here, "q=concept").await, set(&[]), "not the owner's cached answer");
        assert_eq!(titles(&app, &write_token, "q=concept").await, set(&["Nog een concept"]));
        let _ = stop.send(());
        running.await.expect("the second instance").expect("stops cleanly");
    }
);
