//! The REST face through the real server: every collection's life cycle, ETags and
//! preconditions, natural keys, sub-collections, paging, errors as problems, and who may
//! see and write what (401, 403 and 404 chosen so that nothing leaks).

use api::service::{Actor, seed::seed};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{TestApp, app_or_skip, both_backends};

/// A partner and a token for it.
async fn client(app: &TestApp, name: &str, kind: &str, scopes: &str, regions: &[&str]) -> String {
    tests::token_for(app, name, kind, scopes, regions).await
}

async fn admin(app: &TestApp) -> String {
    client(app, "beheer", "admin", "read admin", &[]).await
}

/// Sends a request; answers status, headers and the JSON body (Null when empty).
async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, headers, json)
}

fn names(problem: &Value) -> Vec<String> {
    problem["invalidParams"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The life cycle of one collection: create, read, 304, patch with If-Match, stale 412,
/// replace, list, upsert twice, delete, gone.
async fn life_cycle(
    app: &TestApp,
    token: &str,
    base: &str,
    create: Value,
    patch: Value,
    field: &str,
) {
    life_cycle_with(app, token, base, create.clone(), patch, field, create).await;
}

/// [`life_cycle`], upserting `external` by external id.
async fn life_cycle_with(
    app: &TestApp,
    token: &str,
    base: &str,
    create: Value,
    patch: Value,
    field: &str,
    external: Value,
) {
    let (status, headers, created) =
        call(app, token, Method::POST, base, Some(create.clone()), &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{base}: {created}");
    assert_eq!(headers["etag"], "\"1\"", "{base}");
    let location = headers["location"].to_str().expect("location").to_owned();
    assert_eq!(
        location,
        format!("{base}/{}", created["id"].as_str().expect("id"))
    );
    let (status, _, read) = call(app, token, Method::GET, &location, None, &[]).await;
    assert_eq!((status, &read), (StatusCode::OK, &created), "{base}");
    let (status, _, _) = call(
        app,
        token,
        Method::GET,
        &location,
        None,
        &[("if-none-match", "\"1\"")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "{base}");

    let (status, headers, patched) = call(
        app,
        token,
        Method::PATCH,
        &location,
        Some(patch.clone()),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{base}: {patched}");
    assert_eq!(
        (headers["etag"].to_str().ok(), patched["version"].as_i64()),
        (Some("\"2\""), Some(2)),
        "{base}"
    );
    assert_eq!(patched[field], patch[field], "{base}: the patched field");
    let (status, _, stale) = call(
        app,
        token,
        Method::PUT,
        &location,
        Some(create.clone()),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(
        (status, stale["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("precondition_failed")),
        "{base}"
    );
    let (status, _, replaced) = call(
        app,
        token,
        Method::PUT,
        &location,
        Some(create.clone()),
        &[("if-match", "\"2\"")],
    )
    .await;
    assert_eq!(
        (status, replaced["version"].as_i64()),
        (StatusCode::OK, Some(3)),
        "{base}: {replaced}"
    );

    let (status, _, page) = call(app, token, Method::GET, base, None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{base}: {page}");
    assert!(
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["id"] == created["id"]),
        "{base}"
    );

    let mut external = external;
    if external.get("slug").is_some() {
        external["slug"] = json!(format!(
            "{}-extern",
            external["slug"].as_str().expect("slug")
        ));
    }
    if external.get("code").is_some() {
        external["code"] = Value::Null;
    }
    let ext_path = format!("{base}/external/sync-1");
    let (status, _, first) = call(
        app,
        token,
        Method::PUT,
        &ext_path,
        Some(external.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{base}: {first}");
    let (status, _, second) = call(app, token, Method::PUT, &ext_path, Some(external), &[]).await;
    assert_eq!(
        (status, second["version"].as_i64(), &second["id"]),
        (StatusCode::OK, Some(1), &first["id"]),
        "{base}: same content, one version"
    );

    let (status, _, _) = call(
        app,
        token,
        Method::DELETE,
        &location,
        None,
        &[("if-match", "\"3\"")],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{base}");
    let (status, _, gone) = call(app, token, Method::GET, &location, None, &[]).await;
    assert_eq!(
        (status, gone["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{base}"
    );
}

both_backends!(
    async fn every_collection_and_sub_collection_has_its_life_cycle_over_http(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = admin(&app).await;
        let (_, _, legro) = call(&app, &token, Method::GET, "/api/v1/networks/legro", None, &[]).await;
        let legro_id = legro["id"].as_str().expect("legro").to_owned();
        let (_, _, organizations) = call(&app, &token, Method::GET, "/api/v1/organizations?limit=1", None, &[]).await;
        let organization = organizations["items"][0]["id"].as_str().expect("an organization").to_owned();
        let (_, _, lesson) = call(&app, &token, Method::POST, "/api/v1/lessons", Some(json!({"title": "Les", "body": "Tekst", "networkSlug": "legro"})), &[]).await;
        let lesson_id = lesson["id"].as_str().expect("a lesson").to_owned();

        life_cycle(&app, &token, "/api/v1/regions",
            json!({"name": "Angelslo", "kind": "district", "code": "WK011403", "parentCode": "GM0114"}),
            json!({"population": 4200}), "population").await;
        life_cycle(&app, &token, "/api/v1/organizations",
            json!({"name": "Buurthuis", "kind": "community_centre", "regionCode": "GM0114"}),
            json!({"website": "https://buurthuis.example.nl/"}), "website").await;
        life_cycle(&app, &token, "/api/v1/themes", json!({"slug": "bewegen", "name": "bewegen"}), json!({"name": "Bewegen"}), "name").await;
        life_cycle(&app, &token, "/api/v1/networks",
            json!({"slug": "nieuw-netwerk", "name": "Nieuw netwerk", "kind": "learning_network", "themes": ["voeding"], "regions": [{"regionCode": "GM0114"}]}),
            json!({"status": "completed"}), "status").await;
        life_cycle(&app, &token, "/api/v1/practice-examples",
            json!({"slug": "wijkaanpak", "title": "Wijkaanpak", "regionCode": "GM0114", "status": "published", "themes": ["voeding"]}),
            json!({"summary": "Samen met bewoners."}), "summary").await;
        life_cycle(&app, &token, "/api/v1/initiatives",
            json!({"title": "Wandelgroep", "networkSlug": "legro", "regionCode": "PV20"}),
            json!({"residentsReached": 40}), "residentsReached").await;
        life_cycle(&app, &token, "/api/v1/lessons",
            json!({"title": "Begin klein", "body": "Eerst één wijk.", "networkSlug": "legro"}),
            json!({"body": "Eerst één wijk, dan meer."}), "body").await;
        life_cycle(&app, &token, "/api/v1/programmes",
            json!({"organizationId": organization, "name": "Voeding", "level": "bachelor", "field": "nutrition"}),
            json!({"level": "master"}), "level").await;
        life_cycle(&app, &token, "/api/v1/assignments",
            json!({"title": "Onderzoek beweegaanbod", "networkSlug": "legro", "status": "open", "levels": ["mbo"]}),
            json!({"capacity": 4}), "capacity").await;
        life_cycle(&app, &token, &format!("/api/v1/networks/{legro_id}/goals"),
            json!({"position": 1, "title": "Leernetwerk opzetten"}), json!({"status": "achieved"}), "status").await;
        life_cycle_with(&app, &token, &format!("/api/v1/networks/{legro_id}/members"),
            json!({"organizationId": organization, "role": "partner"}), json!({"since": "2023-01-01"}), "since",
            json!({"organizationId": organization, "role": "funder"})).await;
        life_cycle(&app, &token, &format!("/api/v1/networks/{legro_id}/reports"),
            json!({"title": "Jaarverslag"}), json!({"url": "https://legro.example.nl/verslag"}), "url").await;
        life_cycle(&app, &token, &format!("/api/v1/lessons/{lesson_id}/transfers"),
            json!({"regionCode": "GM0114"}), json!({"status": "applied"}), "status").await;
    }
);

both_backends!(
    async fn natural_keys_sub_collections_and_references_by_key(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = admin(&app).await;
        for (path, field, value) in [
            ("/api/v1/regions/GM0114", "name", "Emmen"),
            ("/api/v1/networks/legro", "slug", "legro"),
            ("/api/v1/themes/voeding", "name", "voeding"),
            ("/api/v1/practice-examples/legro-gemeentedelers-2023", "collection", "#GemeenteDelers 2023"),
        ] {
            let (status, _, body) = call(&app, &token, Method::GET, path, None, &[]).await;
            assert_eq!((status, body[field].as_str()), (StatusCode::OK, Some(value)), "{path}");
        }
        let (status, _, _) = call(&app, &token, Method::GET, "/api/v1/organizations/not-an-id", None, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "organizations have no natural key");

        // A goal of one network is not found under another.
        let (_, _, legro) = call(&app, &token, Method::GET, "/api/v1/networks/legro", None, &[]).await;
        let (_, _, lab) = call(&app, &token, Method::GET, "/api/v1/networks/living-lab-m-en-gezond", None, &[]).await;
        let (_, _, goals) = call(&app, &token, Method::GET, &format!("/api/v1/networks/{}/goals", lab["id"].as_str().expect("id")), None, &[]).await;
        let goal = goals["items"][0]["id"].as_str().expect("a goal of the lab").to_owned();
        assert_eq!(goals["items"].as_array().expect("items").len(), 5, "the lab's five goals");
        let (status, _, _) = call(&app, &token, Method::GET, &format!("/api/v1/networks/{}/goals/{goal}", legro["id"].as_str().expect("id")), None, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, problem) = call(&app, &token, Method::POST, &format!("/api/v1/networks/{}/goals", legro["id"].as_str().expect("id")),
            Some(json!({"networkId": lab["id"], "position": 1, "title": "x"})), &[]).await;
        assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec!["networkId".to_owned()]));

        // PATCH a reference by key: the id it replaces is dropped, not contradicted.
        let (_, _, example) = call(&app, &token, Method::POST, "/api/v1/practice-examples",
            Some(json!({"slug": "verhuizen", "title": "Verhuizen", "regionCode": "GM0114"})), &[]).await;
        let (status, _, moved) = call(&app, &token, Method::PATCH, &format!("/api/v1/practice-examples/{}", example["id"].as_str().expect("id")),
            Some(json!({"regionCode": "PV20"})), &[("content-type", "application/merge-patch+json")]).await;
        assert_eq!((status, moved["regionCode"].as_str()), (StatusCode::OK, Some("PV20")), "{moved}");
        assert_ne!(moved["regionId"], example["regionId"]);
        // Clearing it by either field clears it, not only the field named.
        for (field, code) in [("regionId", "GM0114"), ("regionCode", "PV22")] {
            let (status, _, placed) = call(&app, &token, Method::PATCH, &format!("/api/v1/practice-examples/{}", example["id"].as_str().expect("id")),
                Some(json!({"regionCode": code})), &[("content-type", "application/merge-patch+json")]).await;
            assert_eq!((status, placed["regionCode"].as_str()), (StatusCode::OK, Some(code)), "{placed}");
            let (status, _, cleared) = call(&app, &token, Method::PATCH, &format!("/api/v1/practice-examples/{}", example["id"].as_str().expect("id")),
                Some(json!({field: null})), &[("content-type", "application/merge-patch+json")]).await;
            assert_eq!(status, StatusCode::OK, "{field}: null: {cleared}");
            assert_eq!((&cleared["regionId"], &cleared["regionCode"]), (&Value::Null, &Value::Null), "{field}: null: {cleared}");
        }

        // A query parameter that does not parse is named, as an unknown one is.
        for (query, name) in [("year=abc", "year"), ("limit=-1", "limit"), ("updatedSince=gisteren", "updatedSince"), ("bogus=1", "bogus")] {
            let (status, _, problem) = call(&app, &token, Method::GET, &format!("/api/v1/practice-examples?{query}"), None, &[]).await;
            assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec![name.to_owned()]), "{query}: {problem}");
        }
        let (status, _, problem) = call(&app, &token, Method::GET, "/api/v1/stats/practice-examples?groupBy=year&year=abc", None, &[]).await;
        assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec!["year".to_owned()]), "{problem}");
    }
);

both_backends!(
    async fn a_walk_through_pages_sees_every_surviving_row_once_while_rows_come_and_go(backend) {
        let app = app_or_skip!(backend);
        let token = admin(&app).await;
        let mut ids = Vec::new();
        for i in 0..20 {
            let (_, _, theme) = call(&app, &token, Method::POST, "/api/v1/themes", Some(json!({"slug": format!("thema-{i}"), "name": format!("thema {i}")})), &[]).await;
            ids.push(theme["id"].as_str().expect("id").to_owned());
        }
        let mut seen: Vec<String> = Vec::new();
        let mut next = Some("/api/v1/themes?limit=6".to_owned());
        let mut round = 0;
        let mut deleted = Vec::new();
        while let Some(path) = next {
            let (status, headers, page) = call(&app, &token, Method::GET, &path, None, &[]).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            seen.extend(page["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id").to_owned()));
            next = page["nextCursor"].as_str().map(|c| format!("/api/v1/themes?limit=6&cursor={c}"));
            if let Some(link) = headers.get("link") {
                assert!(link.to_str().expect("ascii").ends_with("rel=\"next\""));
            }
            if next.is_none() {
                break;
            }
            // Between pages: delete a row not yet seen, and add one.
            round += 1;
            let unseen = ids.iter().rev().find(|id| !seen.contains(id) && !deleted.contains(*id)).cloned();
            if let Some(victim) = unseen {
                call(&app, &token, Method::DELETE, &format!("/api/v1/themes/{victim}"), None, &[]).await;
                deleted.push(victim);
            }
            let (_, _, added) = call(&app, &token, Method::POST, "/api/v1/themes", Some(json!({"slug": format!("nieuw-{round}"), "name": "nieuw"})), &[]).await;
            ids.push(added["id"].as_str().expect("id").to_owned());
        }
        let survivors: Vec<&String> = ids.iter().filter(|id| !deleted.contains(id)).collect();
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no row twice");
        for id in &survivors {
            assert!(seen.contains(id), "every surviving row is seen");
        }
        assert!(deleted.iter().all(|d| !seen.contains(d)), "no deleted row");
    }
);

both_backends!(
    async fn bad_requests_are_problems_naming_what_is_wrong(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.max_body_size = 2_000).await else { return };
        let token = admin(&app).await;
        let post = |body: &'static str, content_type: &'static str| {
            let request = app.client.post(app.url("/api/v1/themes")).bearer_auth(&token).header("content-type", content_type).body(body);
            async move {
                let response = request.send().await.expect("post");
                let status = response.status();
                let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
                (status, content_type, response.json::<Value>().await.expect("a problem"))
            }
        };
        let (status, content_type, problem) = post(r#"{"slug": "x", "name": "x", "colour": "blauw"}"#, "application/json").await;
        assert_eq!((status, content_type.as_str(), names(&problem)), (StatusCode::BAD_REQUEST, "application/problem+json", vec!["colour".to_owned()]));
        let (status, _, problem) = post(r#"{"slug": 12, "name": "x"}"#, "application/json").await;
        assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec!["slug".to_owned()]));
        let (status, _, problem) = post(r#"{"slug": "x", "#, "application/json").await;
        assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec!["body".to_owned()]));
        let (status, _, problem) = post(r#"{}"#, "application/json").await;
        assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec!["name".to_owned()]), "a slug left out is derived; the name is required");
        let (status, _, problem) = post("slug=x", "application/x-www-form-urlencoded").await;
        assert_eq!((status, problem["status"].as_u64()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(415)));
        let big: &'static str = Box::leak(format!(r#"{{"slug": "x", "name": "{}"}}"#, "x".repeat(5_000)).into_boxed_str());
        let (status, _, problem) = post(big, "application/json").await;
        assert_eq!((status, problem["status"].as_u64()), (StatusCode::PAYLOAD_TOO_LARGE, Some(413)));

        for (path, expected, name) in [
            ("/api/v1/themes?colour=blauw", StatusCode::BAD_REQUEST, Some("colour")),
            ("/api/v1/themes?limit=1000", StatusCode::BAD_REQUEST, Some("limit")),
            ("/api/v1/themes?limit=veel", StatusCode::BAD_REQUEST, Some("limit")),
            ("/api/v1/themes?cursor=bogus", StatusCode::BAD_REQUEST, Some("cursor")),
            ("/api/v1/regions?kind=galaxy", StatusCode::BAD_REQUEST, None),
            ("/api/v1/initiatives/not-a-uuid", StatusCode::BAD_REQUEST, Some("id")),
            ("/api/v1/themes/", StatusCode::NOT_FOUND, None),
            ("/api/v1/nothing", StatusCode::NOT_FOUND, None),
        ] {
            let (status, _, problem) = call(&app, &token, Method::GET, path, None, &[]).await;
            assert_eq!(status, expected, "{path}: {problem}");
            if let Some(name) = name {
                assert_eq!(names(&problem), [name], "{path}");
            }
        }
        // A cursor of another collection is refused too.
        for i in 0..3 {
            call(&app, &token, Method::POST, "/api/v1/themes", Some(json!({"slug": format!("t{i}"), "name": "t"})), &[]).await;
        }
        let (_, _, page) = call(&app, &token, Method::GET, "/api/v1/themes?limit=1", None, &[]).await;
        let cursor = page["nextCursor"].as_str().expect("a cursor");
        let (status, _, _) = call(&app, &token, Method::GET, &format!("/api/v1/regions?cursor={cursor}"), None, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, headers, _) = call(&app, &token, Method::DELETE, "/api/v1/themes", None, &[]).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(headers.get("allow").is_some());
    }
);

both_backends!(
    async fn who_may_see_and_write_what_is_decided_without_leaking(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let emmen = client(&app, "gemeente-emmen", "municipality", "read write:practice-examples", &["GM0114"]).await;
        let groningen = client(&app, "gemeente-groningen", "municipality", "read write:practice-examples", &["PV20"]).await;
        let reader = client(&app, "dashboard", "dashboard", "read", &[]).await;

        // No token: 401; a token without the write scope: 403.
        let anonymous = app.client.get(app.url("/api/v1/practice-examples")).send().await.expect("get");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let (status, _, _) = call(&app, &reader, Method::POST, "/api/v1/practice-examples", Some(json!({"slug": "x", "title": "x"})), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Emmen's draft: invisible to others (404, as if it did not exist), not a 403.
        let (status, _, draft) = call(&app, &emmen, Method::POST, "/api/v1/practice-examples",
            Some(json!({"slug": "concept-emmen", "title": "Concept", "regionCode": "GM0114", "status": "draft"})), &[]).await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        let draft_path = format!("/api/v1/practice-examples/{}", draft["id"].as_str().expect("id"));
        for token in [&groningen, &reader] {
            let (status, _, _) = call(&app, token, Method::GET, &draft_path, None, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            let (status, _, _) = call(&app, token, Method::GET, "/api/v1/practice-examples/concept-emmen", None, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        // A partner that may write practice examples is told the draft does not exist; one
        // that may not write them learns only that (403), before any row is looked at.
        let (status, _, _) = call(&app, &groningen, Method::DELETE, &draft_path, None, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = call(&app, &reader, Method::DELETE, &draft_path, None, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, _, list) = call(&app, &groningen, Method::GET, "/api/v1/practice-examples", None, &[]).await;
        assert!(list["items"].as_array().expect("items").iter().all(|i| i["slug"] != "concept-emmen"));

        // Published, Groningen sees it but may not change or delete it: 403.
        let (status, _, _) = call(&app, &emmen, Method::PATCH, &draft_path, Some(json!({"status": "published"})), &[]).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = call(&app, &groningen, Method::GET, &draft_path, None, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, problem) = call(&app, &groningen, Method::PATCH, &draft_path, Some(json!({"title": "Overgenomen"})), &[]).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
        let (status, _, _) = call(&app, &groningen, Method::DELETE, &draft_path, None, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Emmen writing in Groningen: 403, and nothing written.
        let (status, _, problem) = call(&app, &emmen, Method::POST, "/api/v1/practice-examples",
            Some(json!({"slug": "in-groningen", "title": "Elders", "regionCode": "PV20", "status": "published"})), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(problem["detail"].as_str().expect("detail").contains("outside"), "{problem}");
        let (status, _, _) = call(&app, &emmen, Method::GET, "/api/v1/practice-examples/in-groningen", None, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

both_backends!(
    async fn a_write_over_http_is_audited_with_its_partner_and_request_id(backend) {
        let app = app_or_skip!(backend);
        let token = admin(&app).await;
        let (status, _, theme) = call(&app, &token, Method::POST, "/api/v1/themes",
            Some(json!({"slug": "gezond-eten", "name": "gezond eten"})), &[("x-request-id", "sync-run-42")]).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _, audit) = call(&app, &token, Method::GET, &format!("/api/v1/audit?resourceId={}", theme["id"].as_str().expect("id")), None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        let entry = &audit["items"][0];
        assert_eq!((entry["requestId"].as_str(), entry["action"].as_str(), entry["version"].as_i64()), (Some("sync-run-42"), Some("create"), Some(1)));
        assert_eq!(entry["partnerId"], theme["ownerPartnerId"]);
    }
);

both_backends!(
    async fn large_responses_are_compressed_and_cors_and_hsts_follow_the_configuration(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.cors_allow_origins = vec!["https://dashboard.drenthe.example".to_owned()];
            c.hsts = true;
        })
        .await
        else {
            return;
        };
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = admin(&app).await;
        let response = app.client.get(app.url("/api/v1/practice-examples")).bearer_auth(&token)
            .header("accept-encoding", "br, gzip").send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-encoding"], "br");
        assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(response.headers().get("api-version").is_some());
        let preflight = app.client.request(Method::OPTIONS, app.url("/api/v1/practice-examples"))
            .header("origin", "https://dashboard.drenthe.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send().await.expect("preflight");
        assert_eq!(preflight.headers()["access-control-allow-origin"], "https://dashboard.drenthe.example");
        // A browser script may read every header the API answers with.
        let cross = app.client.get(app.url("/api/v1/themes")).bearer_auth(&token)
            .header("origin", "https://dashboard.drenthe.example").send().await.expect("get");
        let exposed: Vec<String> = cross.headers()["access-control-expose-headers"].to_str().expect("ascii")
            .split(',').map(|h| h.trim().to_ascii_lowercase()).collect();
        for needed in ["api-version", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy", "retry-after", "idempotent-replayed", "location", "link", "etag", "x-request-id"] {
            assert!(exposed.iter().any(|h| h == needed), "{needed} is not exposed: {exposed:?}");
        }
        let other = app.client.get(app.url("/health/live")).header("origin", "https://elsewhere.example").send().await.expect("get");
        assert!(other.headers().get("access-control-allow-origin").is_none());
    }
);

both_backends!(
    async fn an_idempotency_key_replays_the_first_response_and_refuses_another_body(backend) {
        let app = app_or_skip!(backend);
        let token = admin(&app).await;
        let body = json!({"slug": "eenmalig", "name": "eenmalig"});
        let key = [("idempotency-key", "run-7-item-1")];
        let (status, headers, first) = call(&app, &token, Method::POST, "/api/v1/themes", Some(body.clone()), &key).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(headers.get("idempotent-replayed").is_none());
        let (status, headers, again) = call(&app, &token, Method::POST, "/api/v1/themes", Some(body), &key).await;
        assert_eq!((status, &again), (StatusCode::CREATED, &first), "the first response, again");
        assert_eq!(headers["idempotent-replayed"], "true");
        assert_eq!(headers["location"].to_str().expect("location"), format!("/api/v1/themes/{}", first["id"].as_str().expect("id")));
        let (status, _, problem) = call(&app, &token, Method::POST, "/api/v1/themes", Some(json!({"slug": "anders", "name": "anders"})), &key).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_key_reused")));
        let (_, _, page) = call(&app, &token, Method::GET, "/api/v1/themes", None, &[]).await;
        assert_eq!(page["items"].as_array().expect("items").len(), 1, "one theme, however often it was sent");
        assert_eq!(tests::count(&app.db, "change_log", "").await, 1);
    }
);

both_backends!(
    async fn a_bulk_upsert_is_all_or_nothing_and_repeating_it_changes_nothing(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = admin(&app).await;
        let items: Vec<Value> = (0..300)
            .map(|i| json!({"externalId": format!("gm-{i}"), "slug": format!("voorbeeld-{i}"), "title": format!("Voorbeeld {i}"), "regionCode": "GM0114", "status": "published", "themes": ["voeding"]}))
            .collect();
        let (status, _, result) = call(&app, &token, Method::POST, "/api/v1/practice-examples/bulk", Some(json!({"items": items.clone()})), &[]).await;
        assert_eq!(status, StatusCode::OK, "{result}");
        let results = result["items"].as_array().expect("items");
        assert_eq!(results.len(), 300);
        assert!(results.iter().all(|r| r["created"] == true && r["version"] == 1));
        assert_eq!(results[7]["index"], 7);
        assert_eq!(results[7]["externalId"], "gm-7");
        let entries = tests::count(&app.db, "change_log", "").await;

        // The same bulk again: nothing changes, nothing is logged.
        let (status, _, again) = call(&app, &token, Method::POST, "/api/v1/practice-examples/bulk", Some(json!({"items": items.clone()})), &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(again["items"].as_array().expect("items").iter().all(|r| r["created"] == false && r["version"] == 1));
        assert_eq!(tests::count(&app.db, "change_log", "").await, entries);

        // One change and two bad items: nothing is written, both bad items are named.
        let mut mixed = items.clone();
        mixed[0]["title"] = json!("Veranderd");
        mixed[5]["regionCode"] = json!("GM9999");
        mixed[9]["status"] = json!("weg");
        let (status, _, problem) = call(&app, &token, Method::POST, "/api/v1/practice-examples/bulk", Some(json!({"items": mixed})), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let mut refused = names(&problem);
        refused.sort();
        assert_eq!(refused, ["items[5].regionCode", "items[9].status"]);
        assert_eq!(tests::count(&app.db, "change_log", "").await, entries, "all or nothing");
        let (_, _, first) = call(&app, &token, Method::GET, "/api/v1/practice-examples/voorbeeld-0", None, &[]).await;
        assert_eq!(first["title"], "Voorbeeld 0");

        // Items need their own externalId, once each.
        let (status, _, problem) = call(&app, &token, Method::POST, "/api/v1/practice-examples/bulk",
            Some(json!({"items": [{"slug": "a", "title": "a"}, items[1], items[1]]})), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(names(&problem), ["items[0].externalId", "items[2].externalId"]);
    }
);

both_backends!(
    async fn lists_sort_search_and_filter_by_region_subtree_and_time(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = admin(&app).await;
        let (_, _, bargeres) = call(&app, &token, Method::GET, "/api/v1/regions?q=Bargeres", None, &[]).await;
        let bargeres = bargeres["items"][0]["id"].as_str().expect("Bargeres").to_owned();
        let before = chrono::Utc::now();
        for (slug, title, region) in [
            ("wijkteam", "Een wijkteam voor jongeren", json!({"regionId": bargeres})),
            ("dorpen", "Gezonde dorpen", json!({"regionCode": "PV20"})),
            ("zwemmen", "Alle wijken zwemmen", json!({"regionCode": "GM0114"})),
        ] {
            let mut body = json!({"slug": slug, "title": title, "status": "published"});
            body.as_object_mut().expect("object").extend(region.as_object().expect("object").clone());
            let (status, _, created) = call(&app, &token, Method::POST, "/api/v1/practice-examples", Some(body), &[]).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
        }
        let slugs = |page: &Value| -> Vec<String> {
            page["items"].as_array().expect("items").iter().map(|i| i["slug"].as_str().expect("slug").to_owned()).collect()
        };
        // Emmen (GM0114) includes Bargeres, a district of Emmen-Zuid within it.
        let (status, _, page) = call(&app, &token, Method::GET, "/api/v1/practice-examples?region=GM0114&sort=title", None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(slugs(&page), ["zwemmen", "wijkteam"]);
        let (_, _, page) = call(&app, &token, Method::GET, "/api/v1/practice-examples?region=PV22", None, &[]).await;
        assert_eq!(slugs(&page).len(), 2, "Drenthe holds Emmen's two");
        let (status, _, problem) = call(&app, &token, Method::GET, "/api/v1/practice-examples?region=GM9999", None, &[]).await;
        assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec!["region".to_owned()]));
        let (_, _, networks) = call(&app, &token, Method::GET, "/api/v1/networks?region=PV22", None, &[]).await;
        assert!(networks["items"].as_array().expect("items").iter().any(|n| n["slug"] == "living-lab-m-en-gezond"));

        // Sorted descending by title, walked one at a time.
        let mut walked = Vec::new();
        let mut path = "/api/v1/practice-examples?sort=-title&limit=1".to_owned();
        loop {
            let (status, _, page) = call(&app, &token, Method::GET, &path, None, &[]).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            walked.extend(slugs(&page));
            match page["nextCursor"].as_str() {
                Some(cursor) => path = format!("/api/v1/practice-examples?sort=-title&limit=1&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(walked.len(), 4, "three and the seeded one: {walked:?}");
        let (_, _, whole) = call(&app, &token, Method::GET, "/api/v1/practice-examples?sort=-title", None, &[]).await;
        assert_eq!(walked, slugs(&whole), "page by page as in one page");
        let position = |slug: &str| walked.iter().position(|s| s == slug).expect("walked");
        assert!(position("dorpen") < position("wijkteam") && position("wijkteam") < position("zwemmen"), "descending: {walked:?}");
        let (status, _, _) = call(&app, &token, Method::GET, "/api/v1/practice-examples?sort=colour", None, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, _, first) = call(&app, &token, Method::GET, "/api/v1/practice-examples?sort=title&limit=1", None, &[]).await;
        let (status, _, _) = call(&app, &token, Method::GET, &format!("/api/v1/practice-examples?sort=-title&cursor={}", first["nextCursor"].as_str().expect("cursor")), None, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a cursor of another sort");

        // Changed since: only the three new ones, not the seeded one.
        let since = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
        let (_, _, page) = call(&app, &token, Method::GET, &format!("/api/v1/practice-examples?updatedSince={since}"), None, &[]).await;
        assert_eq!(slugs(&page).len(), 3, "{page}");

        // Full text: PostgreSQL stems Dutch (dorp finds dorpen); SQLite matches substrings.
        let (status, _, page) = call(&app, &token, Method::GET, "/api/v1/practice-examples?q=wijken", None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(slugs(&page).contains(&"zwemmen".to_owned()), "{page}");
        if backend == tests::Backend::Postgres {
            let (_, _, page) = call(&app, &token, Method::GET, "/api/v1/practice-examples?q=dorp", None, &[]).await;
            assert_eq!(slugs(&page), ["dorpen"], "dorp finds dorpen by its stem");
        }
        let (_, _, page) = call(&app, &token, Method::GET, "/api/v1/practice-examples?q=leernetwerk", None, &[]).await;
        assert_eq!(slugs(&page), ["legro-gemeentedelers-2023"], "the seeded one's text is searched too");
    }
);

/// Every item of a list, walking its pages.
async fn all(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut next = format!("{path}{separator}limit=500");
    loop {
        let (status, _, page) = call(app, token, Method::GET, &next, None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["nextCursor"].as_str() {
            Some(cursor) => next = format!("{path}{separator}limit=500&cursor={cursor}"),
            None => return items,
        }
    }
}

both_backends!(
    async fn stats_equal_counts_taken_independently_and_come_as_csv_too(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = admin(&app).await;
        let (_, _, bargeres) = call(&app, &token, Method::GET, "/api/v1/regions?q=Bargeres", None, &[]).await;
        let bargeres = bargeres["items"][0]["id"].as_str().expect("Bargeres").to_owned();
        for (i, (region, themes, year)) in [
            (json!({"regionId": bargeres}), vec!["voeding"], 2022),
            (json!({"regionId": bargeres}), vec!["voeding", "leefbaarheid"], 2023),
            (json!({"regionCode": "GM0114"}), vec!["leefbaarheid"], 2023),
            (json!({"regionCode": "PV20"}), vec!["voeding"], 2021),
        ].into_iter().enumerate() {
            let mut body = json!({"slug": format!("telling-{i}"), "title": format!("Telling {i}"), "status": "published", "themes": themes, "year": year});
            body.as_object_mut().expect("object").extend(region.as_object().expect("object").clone());
            let (status, _, created) = call(&app, &token, Method::POST, "/api/v1/practice-examples", Some(body), &[]).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
        }
        for (title, residents) in [("Wandelen", 40), ("Koken", 25)] {
            let (status, _, _) = call(&app, &token, Method::POST, "/api/v1/initiatives",
                Some(json!({"title": title, "regionId": bargeres, "residentsReached": residents, "startedOn": "2023-04-01"})), &[]).await;
            assert_eq!(status, StatusCode::CREATED);
        }

        let (status, _, by_municipality) = call(&app, &token, Method::GET, "/api/v1/stats/practice-examples?groupBy=region&regionLevel=municipality", None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{by_municipality}");
        let emmen = by_municipality["groups"].as_array().expect("groups").iter().find(|g| g["key"] == "GM0114").expect("Emmen");
        assert_eq!(emmen["label"], "Emmen");
        assert_eq!(emmen["count"].as_u64(), Some(all(&app, &token, "/api/v1/practice-examples?region=GM0114").await.len() as u64));
        let (_, _, by_province) = call(&app, &token, Method::GET, "/api/v1/stats/practice-examples?groupBy=region&regionLevel=province", None, &[]).await;
        for group in by_province["groups"].as_array().expect("groups") {
            let code = group["key"].as_str().expect("code");
            let listed = all(&app, &token, &format!("/api/v1/practice-examples?region={code}")).await.len();
            assert_eq!(group["count"].as_u64(), Some(listed as u64), "{code}");
        }
        let (_, _, by_theme) = call(&app, &token, Method::GET, "/api/v1/stats/practice-examples?groupBy=theme", None, &[]).await;
        for group in by_theme["groups"].as_array().expect("groups") {
            let slug = group["key"].as_str().expect("slug");
            let listed = all(&app, &token, &format!("/api/v1/practice-examples?theme={slug}")).await.len();
            assert_eq!(group["count"].as_u64(), Some(listed as u64), "{slug}");
        }
        let (_, _, by_year) = call(&app, &token, Method::GET, "/api/v1/stats/practice-examples?groupBy=year&status=published", None, &[]).await;
        let count_2023 = by_year["groups"].as_array().expect("groups").iter().find(|g| g["key"] == "2023").expect("2023")["count"].as_u64();
        assert_eq!(count_2023, Some(all(&app, &token, "/api/v1/practice-examples?year=2023&status=published").await.len() as u64));

        let (_, _, initiatives) = call(&app, &token, Method::GET, "/api/v1/stats/initiatives?groupBy=region&regionLevel=district", None, &[]).await;
        let group = &initiatives["groups"][0];
        assert_eq!((group["label"].as_str(), group["count"].as_u64(), group["total"].as_u64()), (Some("Bargeres"), Some(2), Some(65)));
        assert_eq!(initiatives["totalOf"], "residentsReached");

        let response = app.client.get(app.url("/api/v1/stats/initiatives?groupBy=region&regionLevel=district")).bearer_auth(&token)
            .header("accept", "text/csv").send().await.expect("csv");
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let text = response.text().await.expect("text");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().expect("a header").iter().collect::<Vec<_>>(), ["key", "label", "count", "residentsReached"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a record")).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!((&rows[0][1], &rows[0][2], &rows[0][3]), ("Bargeres", "2", "65"));

        for (query, name) in [("", "groupBy"), ("?groupBy=colour", "groupBy"), ("?groupBy=region&regionLevel=galaxy", "regionLevel"), ("?groupBy=theme&colour=x", "colour")] {
            let (status, _, problem) = call(&app, &token, Method::GET, &format!("/api/v1/stats/practice-examples{query}"), None, &[]).await;
            assert_eq!((status, names(&problem)), (StatusCode::BAD_REQUEST, vec![name.to_owned()]), "{query}");
        }
        let (status, _, _) = call(&app, &token, Method::GET, "/api/v1/stats/assignments?groupBy=theme", None, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "assignments have no themes");
    }
);

both_backends!(
    async fn a_slug_left_out_is_derived_from_the_name_and_kept_on_replace(backend) {
        let app = app_or_skip!(backend);
        let token = admin(&app).await;
        let post = |name: &'static str| {
            let (app, token) = (&app, &token);
            async move { call(app, token, Method::POST, "/api/v1/themes", Some(json!({"name": name})), &[]).await }
        };
        let (status, _, first) = post("Gezonde leefstijl & Één wijk").await;
        assert_eq!((status, first["slug"].as_str()), (StatusCode::CREATED, Some("gezonde-leefstijl-en-een-wijk")));
        let (_, _, second) = post("Gezonde leefstijl & één wijk!").await;
        assert_eq!(second["slug"], "gezonde-leefstijl-en-een-wijk-2", "made unique");
        let (_, _, reserved) = post("Bulk").await;
        assert_eq!(reserved["slug"], "bulk-2", "never a reserved word");
        let path = format!("/api/v1/themes/{}", first["id"].as_str().expect("id"));
        let (status, _, replaced) = call(&app, &token, Method::PUT, &path, Some(json!({"name": "Anders genoemd"})), &[]).await;
        assert_eq!((status, replaced["slug"].as_str()), (StatusCode::OK, Some("gezonde-leefstijl-en-een-wijk")), "a replace keeps it");
        let (_, _, example) = call(&app, &token, Method::POST, "/api/v1/practice-examples", Some(json!({"title": "Café aan de Brink"})), &[]).await;
        assert_eq!(example["slug"], "cafe-aan-de-brink");
    }
);

both_backends!(
    async fn a_list_exports_as_csv_with_every_row_streamed_page_by_page(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let token = admin(&app).await;
        let items: Vec<Value> = (0..620)
            .map(|i| json!({"externalId": format!("e-{i}"), "slug": format!("export-{i}"), "title": format!("Export, \"nummer\" {i}"), "regionCode": "GM0114", "themes": ["voeding", "leefbaarheid"], "status": "published"}))
            .collect();
        let (status, _, _) = call(&app, &token, Method::POST, "/api/v1/practice-examples/bulk", Some(json!({"items": items})), &[]).await;
        assert_eq!(status, StatusCode::OK);
        let response = app.client.get(app.url("/api/v1/practice-examples?region=GM0114")).bearer_auth(&token).header("accept", "text/csv").send().await.expect("csv");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let text = response.text().await.expect("text");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().expect("a header").iter().map(str::to_owned).collect();
        for column in ["id", "slug", "title", "themes", "regionCode", "version"] {
            assert!(header.contains(&column.to_owned()), "{column} in {header:?}");
        }
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a record")).collect();
        assert_eq!(rows.len(), 620, "every row under the filter, across pages of 500");
        let title = header.iter().position(|h| h == "title").expect("title");
        let themes = header.iter().position(|h| h == "themes").expect("themes");
        let first = rows.iter().find(|r| &r[title] == "Export, \"nummer\" 0").expect("quoted fields read back");
        assert_eq!(&first[themes], "leefbaarheid;voeding");
    }
);
