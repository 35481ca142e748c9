//! GraphQL subscriptions over the websocket `/graphql/ws` (graphql-transport-ws), with a
//! websocket client of its own (tungstenite): the change feed as it commits, including
//! writes made by another `leernet` process on the same database (on PostgreSQL, woken by
//! its notification alone: the subscriber's poll is set to an hour), resuming after a
//! cursor, the pruned cursor, the token checked at `connection_init` and again before each
//! delivery, and the websocket's limits.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{Backend, TestApp, both_backends};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::process::Process;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The subscription every test here follows.
const CHANGES: &str = "subscription Follow($types: [ChangeType!], $after: String) { changes(types: $types, after: $after) { cursor type rowId nodeId op version data } }";

/// A websocket to `/graphql/ws` speaking graphql-transport-ws, not yet initialised.
async fn open(app: &TestApp) -> Socket {
    let mut request = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .expect("a websocket request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("a header value"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the websocket opens");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send on the websocket");
}

/// The next message: a JSON text, or the close frame's code and reason as
/// `{"close": code, "reason": ...}`; `None` when nothing came within `wait`.
async fn receive(socket: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(wait, socket.next()).await.ok()?;
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).expect("a JSON message");
                if value["type"] == "ping" {
                    send(socket, json!({"type": "pong"})).await;
                    continue;
                }
                return Some(value);
            }
            Some(Ok(Message::Close(frame))) => {
                return Some(match frame {
                    Some(frame) => {
                        json!({"close": u16::from(frame.code), "reason": frame.reason.as_str()})
                    }
                    None => json!({"close": null}),
                });
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Some(json!({"close": null})),
        }
    }
}

/// A websocket initialised with `token` (acknowledged).
async fn connect(app: &TestApp, token: &str) -> Socket {
    let mut socket = open(app).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    let ack = receive(&mut socket, Duration::from_secs(10)).await;
    assert_eq!(ack, Some(json!({"type": "connection_ack"})));
    socket
}

async fn subscribe(socket: &mut Socket, id: &str, variables: Value) {
    send(
        socket,
        json!({"id": id, "type": "subscribe", "payload": {"query": CHANGES, "variables": variables}}),
    )
    .await;
}

/// The next change delivered to subscription `id` (panics on anything else).
async fn next_change(socket: &mut Socket, id: &str) -> Value {
    let message = receive(socket, Duration::from_secs(15))
        .await
        .expect("a change within 15 s");
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("next"), Some(id)),
        "{message}"
    );
    assert!(message["payload"]["errors"].is_null(), "{message}");
    message["payload"]["data"]["changes"].clone()
}

/// The error subscription `id` ends with: its `extensions.code`.
async fn ending_error(socket: &mut Socket, id: &str) -> String {
    let message = receive(socket, Duration::from_secs(15))
        .await
        .expect("an answer within 15 s");
    assert_eq!(message["id"].as_str(), Some(id), "{message}");
    let code = message["payload"]["errors"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| message["payload"][0]["extensions"]["code"].as_str())
        .unwrap_or_else(|| panic!("an error: {message}"))
        .to_owned();
    let completed = receive(socket, Duration::from_secs(10))
        .await
        .expect("complete after the error");
    assert_eq!(
        (completed["type"].as_str(), completed["id"].as_str()),
        (Some("complete"), Some(id)),
        "{completed}"
    );
    code
}

/// Every message that arrives within `wait`.
async fn drain(socket: &mut Socket, wait: Duration) -> Vec<Value> {
    let mut messages = Vec::new();
    while let Some(message) = receive(socket, wait).await {
        let closed = message.get("close").is_some();
        messages.push(message);
        if closed {
            break;
        }
    }
    messages
}

/// Another `leernet` process, called with a token it issued.
struct Remote {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Remote {
    /// A token from the process at `addr` for a partner's `credentials`.
    async fn token(addr: &str, credentials: &api::service::partners::Credentials) -> Self {
        let client = reqwest::Client::new();
        let base = format!("http://{addr}");
        let token = tests::token_from(&client, &base, credentials).await;
        Self {
            base,
            token,
            client,
        }
    }

    /// `method path` with `body` (none when null); panics unless it succeeds.
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("a request");
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, _, body) = tests::call(app, token, reqwest::Method::POST, path, Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// The subscriber's server: on PostgreSQL it polls once an hour, so that only the
/// notification of a commit can wake it in time; SQLite has no notifications across
/// processes, so it polls often.
async fn subscriber(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |config| {
        config.graphql_subscription_poll_interval = match backend {
            Backend::Postgres => Duration::from_secs(3600),
            Backend::Sqlite => Duration::from_millis(100),
        }
        .into();
    })
    .await
}

both_backends!(
    async fn a_subscription_delivers_what_another_process_commits_in_feed_order(backend) {
        let Some(app) = subscriber(backend).await else { return };
        let credentials = api::service::partners::create(&app.db, api::service::partners::NewPartner {
            name: "gemeente".to_owned(),
            kind: "municipality".to_owned(),
            scopes: ["read", "changes:read", "write:themes", "write:networks"].map(str::to_owned).to_vec(),
            unconfined: true,
            ..Default::default()
        }).await.expect("a partner");
        let token = tests::token_with(&app, &credentials).await;
        let mut socket = connect(&app, &token).await;
        subscribe(&mut socket, "1", json!({"types": ["THEMES"]})).await;
        // Nothing is delivered of what was there before.
        assert_eq!(receive(&mut socket, Duration::from_millis(300)).await, None);

        // Another process on the same database writes.
        let mut other = Process::start(&["serve", "--addr", "127.0.0.1:0", "--database-url", &app.test_db.url, "--seed-on-first-start", "false"]);
        let addr = other.wait_for_log("leernet is ready")["addr"].as_str().expect("an address").to_owned();
        let writer = Remote::token(&addr, &credentials).await;
        writer.send(reqwest::Method::POST, "/api/v1/networks", json!({"name": "Netwerk", "kind": "living_lab"})).await;
        let first = writer.send(reqwest::Method::POST, "/api/v1/themes", json!({"slug": "rookvrij", "name": "Rookvrij"})).await;
        let first_id = first["id"].as_str().expect("an id").to_owned();
        writer.send(reqwest::Method::POST, "/api/v1/themes", json!({"slug": "bewegen", "name": "Bewegen"})).await;
        writer.send(reqwest::Method::PATCH, &format!("/api/v1/themes/{first_id}"), json!({"name": "Rookvrije generatie"})).await;

        let mut received = Vec::new();
        for _ in 0..3 {
            received.push(next_change(&mut socket, "1").await);
        }
        let names: Vec<(&str, &str, i64)> = received.iter().map(|c| (c["data"]["slug"].as_str().unwrap_or_default(), c["op"].as_str().unwrap_or_default(), c["version"].as_i64().unwrap_or_default())).collect();
        assert_eq!(names, [("rookvrij", "UPSERT", 1), ("bewegen", "UPSERT", 1), ("rookvrij", "UPSERT", 2)]);
        assert!(received.iter().all(|c| c["type"] == "THEMES"), "{received:?}");
        assert_eq!(received[0]["rowId"], first["id"]);
        // The node id reads the theme back; the cursors are the REST feed's, in its order.
        let node = app.client.post(app.url("/graphql")).bearer_auth(&token)
            .json(&json!({"query": "query($id: ID!) { node(id: $id) { ... on Theme { name } } }", "variables": {"id": received[0]["nodeId"]}}))
            .send().await.expect("node").json::<Value>().await.expect("json");
        assert_eq!(node["data"]["node"]["name"], "Rookvrije generatie");
        let (_, _, feed) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/changes?types=themes", None).await;
        let rest: Vec<&Value> = feed["items"].as_array().expect("items").iter().map(|e| &e["cursor"]).collect();
        let ours: Vec<&Value> = received.iter().map(|c| &c["cursor"]).collect();
        assert_eq!(rest, ours);

        // A delete is a tombstone.
        writer.send(reqwest::Method::DELETE, &format!("/api/v1/themes/{first_id}"), Value::Null).await;
        let gone = next_change(&mut socket, "1").await;
        assert_eq!((gone["op"].as_str(), gone["data"].is_null()), (Some("DELETE"), true), "{gone}");

        // Ending the subscription is acknowledged by the protocol's complete.
        send(&mut socket, json!({"id": "1", "type": "complete"})).await;
        other.signal("-TERM");
        let (status, _) = other.wait();
        assert!(status.success());
    }
);

both_backends!(
    async fn a_subscription_resumes_after_a_cursor_and_ends_on_a_pruned_one(backend) {
        let Some(app) = subscriber(backend).await else { return };
        let token = tests::token_for(&app, "gemeente", "municipality", "read changes:read write:themes", &[]).await;
        for (slug, name) in [("a", "A"), ("b", "B"), ("c", "C")] {
            post(&app, &token, "/api/v1/themes", json!({"slug": slug, "name": name})).await;
        }
        let (_, _, feed) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/changes", None).await;
        let first = feed["items"][0]["cursor"].clone();
        let mut socket = connect(&app, &token).await;
        subscribe(&mut socket, "resume", json!({"after": first})).await;
        assert_eq!(next_change(&mut socket, "resume").await["data"]["slug"], "b");
        assert_eq!(next_change(&mut socket, "resume").await["data"]["slug"], "c");
        // Then what commits next.
        post(&app, &token, "/api/v1/themes", json!({"slug": "d", "name": "D"})).await;
        assert_eq!(next_change(&mut socket, "resume").await["data"]["slug"], "d");

        api::service::changes::prune(&app.db, chrono::Utc::now() + chrono::Duration::seconds(1)).await.expect("prune");
        subscribe(&mut socket, "pruned", json!({"after": first})).await;
        assert_eq!(ending_error(&mut socket, "pruned").await, "gone");
        subscribe(&mut socket, "bogus", json!({"after": "not-a-cursor"})).await;
        assert_eq!(ending_error(&mut socket, "bogus").await, "validation_failed");
        // The first subscription still runs.
        post(&app, &token, "/api/v1/themes", json!({"slug": "e", "name": "E"})).await;
        assert_eq!(next_change(&mut socket, "resume").await["data"]["slug"], "e");
    }
);

both_backends!(
    async fn the_token_is_checked_at_init_and_before_every_delivery(backend) {
        let Some(app) = subscriber(backend).await else { return };
        let writer = tests::token_for(&app, "provincie", "provincial_network", "read write:themes", &[]).await;

        // Without a token, or with a forged one, the socket closes with the reason.
        for payload in [json!({}), json!({"Authorization": "Bearer not.a.token"})] {
            let mut socket = open(&app).await;
            send(&mut socket, json!({"type": "connection_init", "payload": payload})).await;
            let closed = receive(&mut socket, Duration::from_secs(10)).await.expect("an answer");
            assert!(closed["reason"].as_str().is_some_and(|r| r.starts_with("unauthorized")), "{closed}");
            // graphql-transport-ws's code for a refused connection_init.
            assert_eq!(closed["close"], 4403, "{closed}");
        }
        // A subscribe before connection_init is refused by the protocol: 4401.
        let mut socket = open(&app).await;
        subscribe(&mut socket, "early", json!({})).await;
        assert_eq!(receive(&mut socket, Duration::from_secs(10)).await.expect("an answer")["close"], 4401);
        // A message that is not the protocol's: 4400, with the reason.
        for garbage in ["not json", r#"{"type": "unheard_of"}"#, r#"{"type": "subscribe", "id": 7}"#] {
            let mut socket = open(&app).await;
            socket.send(Message::text(garbage)).await.expect("send");
            let closed = receive(&mut socket, Duration::from_secs(10)).await.expect("an answer");
            assert_eq!(closed["close"], 4400, "{garbage}: {closed}");
            assert!(closed["reason"].as_str().is_some_and(|r| r.starts_with("Invalid message received")), "{closed}");
        }
        // A second subscription under an id still running: 4409 (not a replacement).
        let reader = tests::token_for(&app, "twice", "dashboard", "read changes:read", &[]).await;
        let mut socket = connect(&app, &reader).await;
        subscribe(&mut socket, "same", json!({})).await;
        assert_eq!(drain(&mut socket, Duration::from_millis(300)).await, Vec::<Value>::new());
        subscribe(&mut socket, "same", json!({})).await;
        let closed = receive(&mut socket, Duration::from_secs(10)).await.expect("an answer");
        assert_eq!(closed, json!({"close": 4409, "reason": "Subscriber for same already exists"}));
        // An id whose operation has completed may be used again.
        let mut socket = connect(&app, &reader).await;
        for _ in 0..2 {
            send(&mut socket, json!({"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}})).await;
            let answers = drain(&mut socket, Duration::from_millis(500)).await;
            assert_eq!(answers.last().map(|m| m["type"].clone()), Some(json!("complete")), "{answers:?}");
        }

        // Without changes:read, a subscription is refused as the REST feed is.
        let reader = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let mut socket = connect(&app, &reader).await;
        subscribe(&mut socket, "1", json!({})).await;
        assert_eq!(ending_error(&mut socket, "1").await, "forbidden");

        // A partner revoked while it follows gets no further change: the subscription ends.
        let credentials = api::service::partners::create(&app.db, api::service::partners::NewPartner {
            name: "school".to_owned(),
            kind: "education_platform".to_owned(),
            scopes: vec!["read".to_owned(), "changes:read".to_owned()],
            unconfined: true,
            ..Default::default()
        }).await.expect("a partner");
        let follower = tests::token_with(&app, &credentials).await;
        let mut socket = connect(&app, &follower).await;
        // From the newest cursor, so that the write below is delivered however soon after
        // the subscribe message the subscription starts (without `after` it starts from
        // when it runs).
        let (_, _, newest) = tests::call(&app, &follower, reqwest::Method::GET, "/api/v1/changes/newest", None).await;
        subscribe(&mut socket, "1", json!({"after": newest["cursor"]})).await;
        post(&app, &writer, "/api/v1/themes", json!({"slug": "a", "name": "A"})).await;
        assert_eq!(next_change(&mut socket, "1").await["data"]["slug"], "a");
        api::service::partners::revoke(&app.db, "school").await.expect("revoke");
        post(&app, &writer, "/api/v1/themes", json!({"slug": "b", "name": "B"})).await;
        assert_eq!(ending_error(&mut socket, "1").await, "unauthorized");
        // Nor does the socket run anything else for it any more.
        send(&mut socket, json!({"id": "q", "type": "subscribe", "payload": {"query": "{ themes(first: 1) { nodes { slug } } }"}})).await;
        let refused = receive(&mut socket, Duration::from_secs(10)).await.expect("an answer");
        assert_eq!(refused["id"], "q", "{refused}");
        assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "unauthorized", "{refused}");
        // And closes the socket: 4403, as a refused connection_init.
        let closed = receive(&mut socket, Duration::from_secs(10)).await.expect("a close");
        assert_eq!(closed["close"], 4403, "{closed}");

        // A message over the body limit closes the socket.
        let mut greedy = connect(&app, &writer).await;
        send(&mut greedy, json!({"id": "big", "type": "subscribe", "payload": {"query": format!("{{ __typename }} # {}", "x".repeat(2 * 1024 * 1024))}})).await;
        let closed = drain(&mut greedy, Duration::from_secs(5)).await;
        assert!(closed.iter().any(|m| m.get("close").is_some()), "{closed:?}");

        // Queries run over the socket too, relations included, counted like any other.
        let mut socket = connect(&app, &writer).await;
        send(&mut socket, json!({"id": "q", "type": "subscribe", "payload": {"query": "{ themes(first: 5) { nodes { slug networks(first: 1) { nodes { name } } } } }"}})).await;
        let answer = receive(&mut socket, Duration::from_secs(10)).await.expect("an answer");
        assert_eq!((answer["type"].as_str(), answer["id"].as_str()), (Some("next"), Some("q")), "{answer}");
        assert!(answer["payload"]["errors"].is_null(), "{answer}");
        assert_eq!(answer["payload"]["data"]["themes"]["nodes"][0]["slug"], "a", "{answer}");

        // Over HTTP a subscription is refused, naming the websocket.
        let answer: Value = app.client.post(app.url("/graphql")).bearer_auth(&writer)
            .json(&json!({"query": "subscription { changes { cursor } }"}))
            .send().await.expect("post").json().await.expect("json");
        assert!(answer["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
        assert!(answer["data"].is_null(), "{answer}");
    }
);

both_backends!(
    async fn websockets_and_subscriptions_are_bounded(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_subscriptions = 2;
            config.graphql_max_websockets = 2;
            config.graphql_ws_init_timeout = Duration::from_millis(500).into();
        }).await else { return };
        let token = tests::token_for(&app, "gemeente", "municipality", "read changes:read", &[]).await;
        let mut socket = connect(&app, &token).await;
        for id in ["1", "2"] {
            subscribe(&mut socket, id, json!({})).await;
            assert_eq!(drain(&mut socket, Duration::from_millis(300)).await, Vec::<Value>::new());
        }
        subscribe(&mut socket, "3", json!({})).await;
        assert_eq!(ending_error(&mut socket, "3").await, "conflict");
        // One ended makes room for another.
        send(&mut socket, json!({"id": "1", "type": "complete"})).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        subscribe(&mut socket, "4", json!({})).await;
        let answers = drain(&mut socket, Duration::from_millis(500)).await;
        assert!(answers.iter().all(|m| m["id"] != "4"), "4 runs: {answers:?}");

        // A socket that never initialises is closed after the init timeout.
        let mut silent = open(&app).await;
        let closed = receive(&mut silent, Duration::from_secs(5)).await.expect("a close");
        assert_eq!(closed, json!({"close": 4408, "reason": "Connection initialisation timeout"}));
        // At most two authenticated websockets at once: a third one's init is refused.
        let _second = connect(&app, &token).await;
        let mut third = open(&app).await;
        send(&mut third, json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}})).await;
        let refused = receive(&mut third, Duration::from_secs(10)).await.expect("an answer");
        assert!(refused["reason"].as_str().is_some_and(|r| r.contains("--graphql-max-websockets")), "{refused}");
        // 1013: try again later, which graphql-ws clients retry.
        assert_eq!(refused["close"], 1013, "{refused}");
        // A subscription selects one root field, not two and not through a fragment.
        for (id, query) in [
            ("two", "subscription { a: changes { cursor } b: changes { cursor } }"),
            ("fragment", "subscription { ...F } fragment F on Subscription { changes { cursor } }"),
        ] {
            send(&mut socket, json!({"id": id, "type": "subscribe", "payload": {"query": query}})).await;
            let answer = receive(&mut socket, Duration::from_secs(10)).await.expect("an answer");
            assert_eq!(answer["id"], id, "{answer}");
            let code = answer["payload"]["errors"][0]["extensions"]["code"].as_str().or_else(|| answer["payload"][0]["extensions"]["code"].as_str());
            assert_eq!(code, Some("graphql_validation_failed"), "{answer}");
            let _ = drain(&mut socket, Duration::from_millis(200)).await;
        }
        // A plain GET is told what the address is.
        let plain = app.client.get(app.url("/graphql/ws")).send().await.expect("an answer");
        assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
        assert_eq!(plain.headers()["content-type"], "application/problem+json");
    }
);

both_backends!(
    async fn the_feed_connection_pages_as_the_rest_feed_does(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "gemeente", "municipality", "read changes:read write:themes write:networks", &[]).await;
        for slug in ["a", "b", "c", "d", "e"] {
            post(&app, &token, "/api/v1/themes", json!({"slug": slug, "name": slug})).await;
        }
        post(&app, &token, "/api/v1/networks", json!({"name": "Netwerk", "kind": "living_lab"})).await;
        let query = "query($after: String, $types: [ChangeType!]) { changes(first: 2, after: $after, types: $types) { nextCursor pageInfo { hasNextPage hasPreviousPage } edges { cursor node { cursor type op version data } } } }";
        let gql = |variables: Value| {
            let (app, token) = (&app, &token);
            async move {
                app.client.post(app.url("/graphql")).bearer_auth(token)
                    .json(&json!({"query": query, "variables": variables}))
                    .send().await.expect("post").json::<Value>().await.expect("json")
            }
        };
        let mut cursors = Vec::new();
        let mut after = Value::Null;
        loop {
            let answer = gql(json!({"after": after, "types": ["THEMES"]})).await;
            let page = &answer["data"]["changes"];
            assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null(), "{answer}");
            for edge in page["edges"].as_array().expect("edges") {
                assert_eq!(edge["cursor"], edge["node"]["cursor"]);
                assert_eq!(edge["node"]["type"], "THEMES");
                cursors.push(edge["cursor"].clone());
            }
            after = page["nextCursor"].clone();
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
        }
        let (_, _, rest) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/changes?types=themes", None).await;
        let expected: Vec<Value> = rest["items"].as_array().expect("items").iter().map(|e| e["cursor"].clone()).collect();
        assert_eq!(cursors, expected);
        assert_eq!(cursors.len(), 5);
        // All types: the network too; the newest cursor is REST's.
        let all = gql(json!({"after": cursors[4]})).await;
        assert_eq!(all["data"]["changes"]["edges"][0]["node"]["type"], "NETWORKS", "{all}");
        let newest = app.client.post(app.url("/graphql")).bearer_auth(&token)
            .json(&json!({"query": "{ newestChangeCursor }"})).send().await.expect("post").json::<Value>().await.expect("json");
        let (_, _, rest_newest) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/changes/newest", None).await;
        assert_eq!(newest["data"]["newestChangeCursor"], rest_newest["cursor"]);
        // A page size out of range names `first`; a bad cursor names `after`.
        for (variables, name) in [(json!({"after": "nope"}), "after")] {
            let answer = gql(variables).await;
            assert_eq!(answer["errors"][0]["extensions"]["invalidParams"][0]["name"], name, "{answer}");
        }
        let answer = app.client.post(app.url("/graphql")).bearer_auth(&token)
            .json(&json!({"query": "{ changes(first: 0) { nextCursor } }"})).send().await.expect("post").json::<Value>().await.expect("json");
        assert_eq!(answer["errors"][0]["extensions"]["invalidParams"][0]["name"], "first", "{answer}");
        let reader = tests::token_for(&app, "dashboard", "dashboard", "read", &[]).await;
        let refused = app.client.post(app.url("/graphql")).bearer_auth(&reader)
            .json(&json!({"query": "{ changes { nextCursor } }"})).send().await.expect("post").json::<Value>().await.expect("json");
        assert_eq!(refused["errors"][0]["extensions"]["code"], "forbidden", "{refused}");
    }
);

/// Python's `gql` (a GraphQL client nobody here wrote): a query and a mutation over HTTP,
/// and a subscription over its websockets transport (graphql-transport-ws), which receives
/// the change the mutation made after subscribing.
const GQL_CLIENT: &str = r#"
import asyncio, json, sys
from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport
from gql.transport.websockets import WebsocketsTransport
http_url, ws_url, token = sys.argv[1], sys.argv[2], sys.argv[3]
http = Client(transport=RequestsHTTPTransport(url=http_url, headers={"Authorization": "Bearer " + token}, retries=0), fetch_schema_from_transport=True)
themes = http.execute(gql("{ themes(first: 10) { totalCount } }"))["themes"]["totalCount"]
create = gql("mutation($input: ThemeInput!) { createTheme(input: $input) { theme { id slug } userErrors { field message } } }")

async def follow():
    transport = WebsocketsTransport(url=ws_url, init_payload={"Authorization": "Bearer " + token}, subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        changes = session.subscribe(gql("subscription { changes(types: [THEMES]) { type op data } }"))
        first = asyncio.ensure_future(changes.__anext__())
        await asyncio.sleep(0.5)
        created = await asyncio.to_thread(http.execute, create, variable_values={"input": {"slug": "valpreventie", "name": "Valpreventie"}})
        change = await asyncio.wait_for(first, 20)
        return created["createTheme"], change["changes"]

created, change = asyncio.run(follow())
print(json.dumps({"themes": themes, "created": created, "change": change}))
"#;

both_backends!(
    async fn pythons_gql_client_queries_mutates_and_subscribes(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let token = tests::token_for(&app, "gemeente", "municipality", "read changes:read write:themes", &[]).await;
        post(&app, &token, "/api/v1/themes", json!({"slug": "bewegen", "name": "Bewegen"})).await;
        if !crate::interop::python_module("gql") || !crate::interop::python_module("websockets") {
            return;
        }
        let (http, ws) = (app.url("/graphql"), format!("ws://{}/graphql/ws", app.addr));
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3").args(["-c", GQL_CLIENT, &http, &ws, &token]).output()
        }).await.expect("the run").expect("python3");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "gql: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        let answer: Value = serde_json::from_str(stdout.trim()).expect("JSON");
        assert_eq!(answer["themes"], 1);
        assert_eq!(answer["created"]["theme"]["slug"], "valpreventie", "{answer}");
        assert_eq!(answer["created"]["userErrors"], json!([]));
        assert_eq!(answer["change"]["type"], "THEMES");
        assert_eq!(answer["change"]["op"], "UPSERT");
        assert_eq!(answer["change"]["data"]["slug"], "valpreventie");
    }
);

both_backends!(
    async fn sockets_without_a_token_cannot_take_the_room_partners_share(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_pending_websockets = 3;
            config.graphql_max_websockets = 5;
        }).await else { return };
        let token = tests::token_for(&app, "gemeente", "municipality", "read changes:read", &[]).await;
        let mut silent = Vec::new();
        for _ in 0..3 {
            silent.push(open(&app).await);
        }
        // A fourth socket from this address without connection_init is a 503...
        let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("a request");
        request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().expect("a value"));
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert!(response.headers().contains_key("retry-after"));
            }
            other => panic!("a fourth pending websocket: {:?}", other.map(|(_, r)| r.status())),
        }
        // ...and once one of them authenticates, there is room again.
        send(&mut silent[0], json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}})).await;
        assert_eq!(receive(&mut silent[0], Duration::from_secs(10)).await, Some(json!({"type": "connection_ack"})));
        let mut socket = connect(&app, &token).await;
        subscribe(&mut socket, "1", json!({})).await;
        assert_eq!(drain(&mut socket, Duration::from_millis(300)).await, Vec::<Value>::new());

        // A subscription over HTTP is refused before it runs, naming the websocket.
        let answer: Value = app.client.post(app.url("/graphql")).bearer_auth(&token)
            .json(&json!({"query": "subscription { changes { cursor } }"}))
            .send().await.expect("post").json().await.expect("json");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "subscription_needs_websocket", "{answer}");
        assert!(answer["errors"][0]["message"].as_str().is_some_and(|m| m.contains("/graphql/ws")), "{answer}");
    }
);

both_backends!(
    /// Operations running at once on one socket are bounded, and every operation sent is a
    /// call against the partner's rate limit, whether or not it parses.
    async fn a_sockets_operations_are_bounded_and_each_is_counted(backend) {
        let Some(app) = TestApp::spawn_with(backend, |config| {
            config.graphql_max_socket_operations = 2;
            config.rate_limit_per_minute = 8;
            config.max_body_size = 64 * 1024;
        }).await else { return };
        let token = tests::token_for(&app, "gemeente", "municipality", "read changes:read", &[]).await;
        // One call for each connection_init, one per subscription.
        let mut busy = connect(&app, &token).await;
        for id in ["a", "b"] {
            subscribe(&mut busy, id, json!({})).await;
        }
        assert_eq!(drain(&mut busy, Duration::from_millis(500)).await, Vec::<Value>::new());
        subscribe(&mut busy, "c", json!({})).await;
        let answers = drain(&mut busy, Duration::from_secs(5)).await;
        let closed = answers.last().expect("a close");
        assert_eq!(closed["close"], 1008, "{answers:?}");
        assert!(closed["reason"].as_str().is_some_and(|r| r.contains("--graphql-max-socket-operations")), "{closed}");
        // And so are the bytes their messages hold: two of 40 KB are more than the 64 KB a
        // request may send.
        let mut heavy = connect(&app, &token).await;
        let big = |id: &str| json!({"id": id, "type": "subscribe", "payload": {"query": format!("{CHANGES} # {}", "x".repeat(40_000))}});
        send(&mut heavy, big("big1")).await;
        assert_eq!(drain(&mut heavy, Duration::from_millis(500)).await, Vec::<Value>::new());
        send(&mut heavy, big("big2")).await;
        let answers = drain(&mut heavy, Duration::from_secs(5)).await;
        let closed = answers.last().expect("a close");
        assert_eq!(closed["close"], 1008, "{answers:?}");
        assert!(closed["reason"].as_str().is_some_and(|r| r.contains("--max-body-size")), "{closed}");
        // Three calls are left of eight: documents that do not parse use them up.
        let mut socket = connect(&app, &token).await;
        let mut codes = Vec::new();
        for id in ["1", "2", "3"] {
            send(&mut socket, json!({"id": id, "type": "subscribe", "payload": {"query": "{ nope"}})).await;
            codes.push(ending_error(&mut socket, id).await);
        }
        assert_eq!(codes, ["graphql_parse_failed", "graphql_parse_failed", "rate_limited"]);
        let (status, _, _) = tests::call(&app, &token, reqwest::Method::GET, "/api/v1/themes", None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
);
