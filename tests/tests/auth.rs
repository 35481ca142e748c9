//! Partners, the token endpoint, signing keys and the one verifier, through the real server:
//! every refused token is a 401 with `WWW-Authenticate` and problem+json; a token without
//! the scope is a 403.

use std::time::Duration;

use api::service::partners::{self, Credentials, NewPartner};
use api::service::{Actor, Themes, create};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tests::{TestApp, app_or_skip, both_backends};

async fn partner(app: &TestApp, name: &str, scopes: &str) -> Credentials {
    partners::create(
        &app.db,
        NewPartner {
            name: name.to_owned(),
            kind: "admin".to_owned(),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            unconfined: true,
            ..Default::default()
        },
    )
    .await
    .expect("a partner")
}

/// `POST /oauth/token` with HTTP Basic and a form body.
async fn token_response(app: &TestApp, id: &str, secret: &str, form: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("token request")
}

async fn token(app: &TestApp, credentials: &Credentials) -> String {
    let response = token_response(
        app,
        &credentials.client_id,
        &credentials.client_secret,
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

async fn audit(app: &TestApp, token: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = app.client.get(app.url(&format!("/api/v1/audit{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("audit request")
}

/// Asserts a 401 with a Bearer challenge and a problem body; answers the detail.
async fn refused(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"leernet\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(problem["status"], 401);
    problem["detail"].as_str().expect("detail").to_owned()
}

both_backends!(
    async fn a_client_gets_a_token_by_basic_or_form_and_uses_it(backend) {
        let app = app_or_skip!(backend);
        let admin = partner(&app, "provincie", "read admin").await;
        let response = token_response(&app, &admin.client_id, &admin.client_secret, "grant_type=client_credentials").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.expect("json");
        assert_eq!((body["token_type"].as_str(), body["expires_in"].as_u64(), body["scope"].as_str()), (Some("Bearer"), Some(900), Some("read admin")));
        let access = body["access_token"].as_str().expect("token");
        assert_eq!(audit(&app, Some(access), "").await.status(), StatusCode::OK);

        // Credentials in the form work too, and `scope` narrows the grant: without admin, 403.
        let form = format!("grant_type=client_credentials&client_id={}&client_secret={}&scope=read", admin.client_id, admin.client_secret);
        let response = app.client.post(app.url("/oauth/token")).header("content-type", "application/x-www-form-urlencoded").body(form).send().await.expect("post");
        assert_eq!(response.status(), StatusCode::OK);
        let narrowed = response.json::<Value>().await.expect("json")["access_token"].as_str().expect("token").to_owned();
        let forbidden = audit(&app, Some(&narrowed), "").await;
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(forbidden.json::<Value>().await.expect("problem")["code"], "forbidden");

        // A scope the client does not hold is refused.
        let response = token_response(&app, &admin.client_id, &admin.client_secret, "grant_type=client_credentials&scope=write:themes").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.json::<Value>().await.expect("json")["error"], "invalid_scope");
    }
);

both_backends!(
    async fn the_token_endpoint_answers_oauth_errors(backend) {
        let app = app_or_skip!(backend);
        let client = partner(&app, "gemeente", "read").await;
        let error = |response: reqwest::Response| async move {
            let status = response.status();
            let basic = response.headers().get("www-authenticate").map(|v| v.to_str().expect("ascii").to_owned());
            (status, response.json::<Value>().await.expect("json")["error"].as_str().expect("error").to_owned(), basic)
        };
        let (status, code, _) = error(token_response(&app, &client.client_id, &client.client_secret, "grant_type=password").await).await;
        assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "unsupported_grant_type"));
        let (status, code, _) = error(token_response(&app, &client.client_id, &client.client_secret, "scope=read").await).await;
        assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "invalid_request"));
        let json = app.client.post(app.url("/oauth/token")).basic_auth(&client.client_id, Some(&client.client_secret)).json(&json!({"grant_type": "client_credentials"})).send().await.expect("post");
        assert_eq!(error(json).await.1, "invalid_request");

        // A wrong secret and an unknown client are indistinguishable.
        let wrong = token_response(&app, &client.client_id, "not-the-secret", "grant_type=client_credentials").await;
        let unknown = token_response(&app, "lnc_nobody", "not-the-secret", "grant_type=client_credentials").await;
        let (wrong, unknown) = (error(wrong).await, error(unknown).await);
        assert_eq!(wrong, unknown);
        assert_eq!((wrong.0, wrong.1.as_str(), wrong.2.as_deref()), (StatusCode::UNAUTHORIZED, "invalid_client", Some("Basic realm=\"leernet\"")));
    }
);

both_backends!(
    async fn repeated_failures_are_rate_limited(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.token_failures_per_minute = 2).await else { return };
        let client = partner(&app, "gemeente", "read").await;
        for _ in 0..2 {
            let response = token_response(&app, &client.client_id, "wrong", "grant_type=client_credentials").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        // The third failure uses up the allowance; from then on even the right secret waits.
        token_response(&app, &client.client_id, "wrong", "grant_type=client_credentials").await;
        let limited = token_response(&app, &client.client_id, &client.client_secret, "grant_type=client_credentials").await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.headers()["retry-after"].to_str().expect("ascii").parse::<u64>().expect("seconds") >= 1);
    }
);

/// The server's current signing key, read from the database as an attacker could not.
async fn signing_key(app: &TestApp) -> (String, Vec<u8>, String) {
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT kid, private_key, public_jwk FROM signing_keys WHERE retired_at IS NULL",
        ))
        .await
        .expect("query")
        .expect("a key");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk: Value = row.try_get("", "public_jwk").expect("jwk");
    (
        row.try_get("", "kid").expect("kid"),
        b64.decode(row.try_get::<String>("", "private_key").expect("key"))
            .expect("base64"),
        jwk.to_string(),
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

both_backends!(
    async fn every_bad_token_is_a_401_with_a_bearer_challenge(backend) {
        let app = app_or_skip!(backend);
        let admin = partner(&app, "provincie", "read admin").await;
        let good = token(&app, &admin).await;
        let (kid, pkcs8, jwk) = signing_key(&app).await;
        let key = EncodingKey::from_ed_der(&pkcs8);
        let claims = |changes: Value| {
            let mut c = json!({
                "iss": app.issuer(), "aud": "leernet", "sub": admin.partner_id.to_string(),
                "exp": now() + 600, "iat": now(), "nbf": now(), "jti": "t", "scope": "read admin"
            });
            for (k, v) in changes.as_object().expect("object") {
                if v.is_null() { c.as_object_mut().expect("object").remove(k); } else { c[k] = v.clone(); }
            }
            c
        };
        let signed = |header: Header, claims: Value| jsonwebtoken::encode(&header, &claims, &key).expect("sign");
        let header = || {
            let mut h = Header::new(Algorithm::EdDSA);
            h.kid = Some(kid.clone());
            h.typ = Some("at+jwt".into());
            h
        };
        // The well-formed control: signed by us, as the server signs.
        assert_eq!(audit(&app, Some(&signed(header(), claims(json!({})))), "").await.status(), StatusCode::OK);

        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut tampered: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut payload: Value = serde_json::from_slice(&b64.decode(&tampered[1]).expect("b64")).expect("json");
        payload["sub"] = json!(uuid::Uuid::now_v7().to_string());
        tampered[1] = b64.encode(payload.to_string());
        let none = format!(
            "{}.{}.",
            b64.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string()),
            b64.encode(claims(json!({})).to_string())
        );
        let hs256 = |secret: &[u8]| {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some(kid.clone());
            h.typ = Some("at+jwt".into());
            jsonwebtoken::encode(&h, &claims(json!({})), &EncodingKey::from_secret(secret)).expect("hs256")
        };
        let public_x = b64.decode(serde_json::from_str::<Value>(&jwk).expect("jwk")["x"].as_str().expect("x")).expect("x");
        let mut unknown_kid = header();
        unknown_kid.kid = Some("someone-elses-key".into());
        let mut no_typ = header();
        no_typ.typ = None;
        let cases: Vec<(&str, String, &str)> = vec![
            ("expired", signed(header(), claims(json!({"exp": now() - 3600, "iat": now() - 7200, "nbf": now() - 7200}))), "expired"),
            ("not yet valid", signed(header(), claims(json!({"nbf": now() + 3600}))), "not valid yet"),
            ("issued in the future", signed(header(), claims(json!({"iat": now() + 3600}))), "future"),
            ("wrong issuer", signed(header(), claims(json!({"iss": "https://elsewhere.example"}))), "issuer"),
            ("wrong audience", signed(header(), claims(json!({"aud": "another-api"}))), "audience"),
            ("no subject", signed(header(), claims(json!({"sub": null}))), "required claim"),
            ("no expiry", signed(header(), claims(json!({"exp": null}))), "required claim"),
            ("tampered payload", tampered.join("."), "signature"),
            ("alg none", none, ""),
            ("HS256 with the public key", hs256(&public_x), "algorithm"),
            ("HS256 with the JWK text", hs256(jwk.as_bytes()), "algorithm"),
            ("unknown kid", signed(unknown_kid, claims(json!({}))), "key this service does not know"),
            ("missing typ", signed(no_typ, claims(json!({}))), "typ"),
            ("garbage", "not.a.token".to_owned(), "not a JWT"),
        ];
        for (case, bad, expected) in cases {
            let detail = refused(audit(&app, Some(&bad), "").await).await;
            assert!(detail.contains(expected), "{case}: {detail}");
        }
        // No token at all: a challenge without an error code (RFC 6750 §3.1).
        let missing = audit(&app, None, "").await;
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(missing.headers()["www-authenticate"], "Bearer realm=\"leernet\"");
    }
);

both_backends!(
    async fn a_revoked_partners_unexpired_token_stops_working_at_once(backend) {
        let app = app_or_skip!(backend);
        let admin = partner(&app, "provincie", "read admin").await;
        let access = token(&app, &admin).await;
        assert_eq!(audit(&app, Some(&access), "").await.status(), StatusCode::OK);
        partners::revoke(&app.db, "provincie").await.expect("revoke");
        let detail = refused(audit(&app, Some(&access), "").await).await;
        assert!(detail.contains("revoked"), "{detail}");
        let again = token_response(&app, &admin.client_id, &admin.client_secret, "grant_type=client_credentials").await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    }
);

both_backends!(
    async fn rotating_keys_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(backend) {
        let app = app_or_skip!(backend);
        let admin = partner(&app, "provincie", "read admin").await;
        let old = token(&app, &admin).await;
        let old_kid = jsonwebtoken::decode_header(&old).expect("header").kid.expect("kid");
        let new_kid = api::service::keys::rotate(&app.db, chrono::Utc::now() + chrono::Duration::minutes(20)).await.expect("rotate");
        tokio::time::sleep(api::auth::keyring::RELOAD_INTERVAL + Duration::from_millis(100)).await;
        let new = token(&app, &admin).await;
        assert_eq!(jsonwebtoken::decode_header(&new).expect("header").kid.as_deref(), Some(new_kid.as_str()));
        assert_ne!(new_kid, old_kid);
        assert_eq!(audit(&app, Some(&old), "").await.status(), StatusCode::OK, "the old key is still trusted");
        assert_eq!(audit(&app, Some(&new), "").await.status(), StatusCode::OK);
        let jwks: Value = app.client.get(app.url("/.well-known/jwks.json")).send().await.expect("jwks").json().await.expect("json");
        let kids: Vec<&str> = jwks["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid")).collect();
        assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
        assert!(jwks["keys"][0].get("d").is_none(), "no private part is published");
    }
);

both_backends!(
    async fn the_metadata_and_keys_are_public(backend) {
        let app = app_or_skip!(backend);
        let metadata: Value = app.client.get(app.url("/.well-known/oauth-authorization-server")).send().await.expect("get").json().await.expect("json");
        assert_eq!(metadata["issuer"], app.issuer());
        assert_eq!(metadata["token_endpoint"], format!("{}/oauth/token", app.issuer()));
        assert_eq!(metadata["grant_types_supported"], json!(["client_credentials"]));
        assert!(metadata["scopes_supported"].as_array().expect("scopes").contains(&json!("write:practice-examples")));
        let jwks: Value = app.client.get(app.url("/.well-known/jwks.json")).send().await.expect("get").json().await.expect("json");
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    }
);

both_backends!(
    async fn admins_read_the_audit_log_with_filters_and_pages(backend) {
        let app = app_or_skip!(backend);
        let admin = partner(&app, "provincie", "read admin").await;
        let access = token(&app, &admin).await;
        let writer = Actor { request_id: Some("req-thema-1".into()), ..Actor::system() };
        for slug in ["voeding", "rookvrij", "leefbaarheid"] {
            create::<Themes>(&app.db, &writer, api::dto::ThemeInput { slug: Some(slug.into()), name: Some(slug.into()), ..Default::default() })
                .await
                .expect("theme");
        }
        let page: Value = audit(&app, Some(&access), "?resourceType=themes&limit=2").await.json().await.expect("json");
        let items = page["items"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["requestId"], "req-thema-1");
        assert_eq!(items[0]["partnerId"], api::service::SYSTEM_PARTNER_ID.to_string());
        assert_eq!(items[0]["action"], "create");
        let cursor = page["nextCursor"].as_i64().expect("a next page");
        let rest: Value = audit(&app, Some(&access), &format!("?resourceType=themes&limit=2&cursor={cursor}")).await.json().await.expect("json");
        assert_eq!(rest["items"].as_array().expect("items").len(), 1);
        assert!(rest["nextCursor"].is_null());
        let none: Value = audit(&app, Some(&access), "?resourceType=networks").await.json().await.expect("json");
        assert!(none["items"].as_array().expect("items").is_empty());
        let typo = audit(&app, Some(&access), "?resourcetype=themes").await;
        assert_eq!(typo.status(), StatusCode::BAD_REQUEST);
        let problem: Value = typo.json().await.expect("problem");
        assert_eq!(problem["invalidParams"][0]["name"], "resourcetype");
    }
);

both_backends!(
    async fn each_partner_is_rate_limited_with_ratelimit_headers(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.rate_limit_per_minute = 3).await else { return };
        let busy = token(&app, &partner(&app, "druk", "read admin").await).await;
        let quiet = token(&app, &partner(&app, "rustig", "read admin").await).await;
        for remaining in ["2", "1", "0"] {
            let response = audit(&app, Some(&busy), "").await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["ratelimit-limit"], "3");
            assert_eq!(response.headers()["ratelimit-remaining"], remaining);
            assert_eq!(response.headers()["ratelimit-policy"], "3;w=60");
        }
        let limited = audit(&app, Some(&busy), "").await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.headers()["retry-after"].to_str().expect("ascii").parse::<u64>().expect("seconds") >= 1);
        assert_eq!(limited.headers()["ratelimit-remaining"], "0");
        assert_eq!(limited.headers()["ratelimit-reset"], limited.headers()["retry-after"], "one moment, named twice");
        assert_eq!(limited.json::<Value>().await.expect("problem")["code"], "rate_limited");
        assert_eq!(audit(&app, Some(&quiet), "").await.status(), StatusCode::OK, "another partner is not held back");
        // Public endpoints carry no rate-limit headers.
        let health = app.client.get(app.url("/health/live")).send().await.expect("health");
        assert!(health.headers().get("ratelimit-limit").is_none());
    }
);

/// A municipality's identity provider on loopback: serves its JWKS and counts the fetches.
struct IdentityProvider {
    issuer: String,
    jwks_url: String,
    key: EncodingKey,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl IdentityProvider {
    async fn start() -> Self {
        Self::start_as("drenthe").await
    }

    /// An identity provider whose issuer is the realm `realm`.
    async fn start_as(realm: &str) -> Self {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("a key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("the key");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "idp-1", "alg": "EdDSA", "use": "sig"}]});
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = fetches.clone();
        let router = axum::Router::new().route(
            &format!("/realms/{realm}/certs"),
            axum::routing::get(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            issuer: format!("https://sso.{realm}.example/realms/{realm}"),
            jwks_url: format!("http://{addr}/realms/{realm}/certs"),
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            fetches,
        }
    }

    fn token(&self, kid: &str, claims: Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        header.typ = Some("JWT".to_owned());
        let mut all = json!({"iss": self.issuer, "aud": "leernet", "azp": "gemeente-emmen", "exp": now() + 300, "iat": now(), "scope": "read admin"});
        for (k, v) in claims.as_object().expect("object") {
            all[k] = v.clone();
        }
        jsonwebtoken::encode(&header, &all, &self.key).expect("sign")
    }
}

both_backends!(
    async fn an_external_issuers_token_is_accepted_for_its_bound_partner(backend) {
        let idp = IdentityProvider::start().await;
        let spec = format!("issuer={},jwks={},audience=leernet,claim=azp", idp.issuer, idp.jwks_url);
        let Some(app) = TestApp::spawn_with(backend, |c| c.external_issuers = vec![spec.parse().expect("an issuer")]).await else { return };
        partner(&app, "gemeente-emmen", "read admin").await;
        let bind = |admin| partners::IssuerBinding { issuer: idp.issuer.clone(), subject: "gemeente-emmen".to_owned(), admin };
        partners::bind(&app.db, "gemeente-emmen", bind(true)).await.expect("bound");

        let ok = audit(&app, Some(&idp.token("idp-1", json!({}))), "").await;
        assert_eq!(ok.status(), StatusCode::OK);
        let narrowed = audit(&app, Some(&idp.token("idp-1", json!({"scope": "read"}))), "").await;
        assert_eq!(narrowed.status(), StatusCode::FORBIDDEN, "the token's scope narrows the partner's");
        assert_eq!(idp.fetches.load(std::sync::atomic::Ordering::SeqCst), 1, "the keys are cached");

        let detail = refused(audit(&app, Some(&idp.token("idp-1", json!({"azp": "onbekend"}))), "").await).await;
        assert!(detail.contains("unknown"), "{detail}");
        let detail = refused(audit(&app, Some(&idp.token("idp-1", json!({"aud": "account"}))), "").await).await;
        assert!(detail.contains("audience"), "{detail}");
        let detail = refused(audit(&app, Some(&idp.token("idp-1", json!({"iss": "https://sso.elders.example"}))), "").await).await;
        assert!(detail.contains("another issuer"), "{detail}");
        // An unknown kid is refused; it refetches the keys at most once a minute.
        for _ in 0..3 {
            let detail = refused(audit(&app, Some(&idp.token("idp-2", json!({}))), "").await).await;
            assert!(detail.contains("does not publish"), "{detail}");
        }
        assert_eq!(idp.fetches.load(std::sync::atomic::Ordering::SeqCst), 1, "no refetch within a minute");

        // Unbound and rebound without admin: the partner's admin scope no longer passes.
        partners::unbind(&app.db, "gemeente-emmen", &idp.issuer, "gemeente-emmen").await.expect("unbound");
        refused(audit(&app, Some(&idp.token("idp-1", json!({}))), "").await).await;
        partners::bind(&app.db, "gemeente-emmen", bind(false)).await.expect("bound again");
        let token = idp.token("idp-1", json!({}));
        assert_eq!(audit(&app, Some(&token), "").await.status(), StatusCode::FORBIDDEN, "admin only where the binding grants it");
        let themes = app.client.get(app.url("/api/v1/themes")).bearer_auth(&token).send().await.expect("themes");
        assert_eq!(themes.status(), StatusCode::OK, "its other scopes stand");
        assert!("issuer=x,jwks=ftp://x,audience=a,claim=b".parse::<api::auth::external::ExternalIssuer>().is_err());
        assert!("issuer=x,jwks=https://x".parse::<api::auth::external::ExternalIssuer>().is_err());
    }
);

both_backends!(
    async fn an_external_issuer_cannot_name_unbound_partners_the_system_partner_or_another_issuers(backend) {
        let drenthe = IdentityProvider::start().await;
        let groningen = IdentityProvider::start_as("groningen").await;
        let specs: Vec<api::auth::external::ExternalIssuer> = [&drenthe, &groningen]
            .iter()
            .map(|idp| format!("issuer={},jwks={},audience=leernet,claim=azp", idp.issuer, idp.jwks_url).parse().expect("an issuer"))
            .collect();
        let Some(app) = TestApp::spawn_with(backend, |c| c.external_issuers = specs).await else { return };
        let demo = partner(&app, "demo-admin", "admin").await;
        partner(&app, "gemeente-emmen", "read write:themes").await;
        partners::bind(&app.db, "gemeente-emmen", partners::IssuerBinding { issuer: drenthe.issuer.clone(), subject: "emmen-sso".to_owned(), admin: true }).await.expect("bound");
        let system = api::service::SYSTEM_PARTNER_ID.to_string();
        let demo_id = demo.partner_id.to_string();
        // Neither by name nor by id may an issuer name a partner it is not bound to.
        for name in ["leernet-system", system.as_str(), "demo-admin", demo_id.as_str(), "gemeente-emmen"] {
            for idp in [&drenthe, &groningen] {
                let token = idp.token("idp-1", json!({"azp": name}));
                refused(audit(&app, Some(&token), "").await).await;
                let created = app.client.post(app.url("/api/v1/themes")).bearer_auth(&token)
                    .json(&json!({"name": "Overgenomen", "slug": "overgenomen"})).send().await.expect("create");
                assert_eq!(created.status(), StatusCode::UNAUTHORIZED, "{name} through {}", idp.issuer);
            }
        }
        // A binding belongs to its issuer: the same subject from another issuer is nobody.
        refused(audit(&app, Some(&groningen.token("idp-1", json!({"azp": "emmen-sso"}))), "").await).await;
        let bound = drenthe.token("idp-1", json!({"azp": "emmen-sso"}));
        let themes = app.client.get(app.url("/api/v1/themes")).bearer_auth(&bound).send().await.expect("themes");
        assert_eq!(themes.status(), StatusCode::OK);
        assert_eq!(audit(&app, Some(&bound), "").await.status(), StatusCode::FORBIDDEN, "an admin grant gives nothing the partner lacks");
        // The system partner cannot be bound at all, and a subject names one partner.
        let refused_binding = partners::bind(&app.db, "leernet-system", partners::IssuerBinding { issuer: drenthe.issuer.clone(), subject: "leernet-system".to_owned(), admin: true }).await;
        assert!(refused_binding.is_err(), "{refused_binding:?}");
        let twice = partners::bind(&app.db, "demo-admin", partners::IssuerBinding { issuer: drenthe.issuer.clone(), subject: "emmen-sso".to_owned(), admin: false }).await;
        assert!(matches!(twice, Err(api::error::Error::Conflict(_))), "{twice:?}");
        assert_eq!(tests::count(&app.db, "themes", "slug = 'overgenomen'").await, 0);
    }
);
