//! The websocket `/graphql/ws`, over which subscriptions run: the graphql-transport-ws
//! protocol (`graphql-ws` clients), and the older subscriptions-transport-ws, chosen by
//! `Sec-WebSocket-Protocol`.
//!
//! The token comes in `connection_init`'s payload, as `{"Authorization": "Bearer
//! <token>"}` (also accepted: the same under `headers`, or `{"token": "<token>"}`), and is
//! checked there as a request's header is ([`admit`]: a call against the partner's rate
//! limit); a refusal closes the socket with the reason, and with graphql-transport-ws's
//! close codes ([`Guard`]): 4403 for a credential refused, 1013 (try again later) for a
//! limit, 4408 when no `connection_init` came in time, 1001 when the service stops. Each subscription started is
//! counted like a query, by its cost, and checks the token again before each change it
//! delivers ([`super::changes`]). Bounds: `--graphql-max-pending-websockets` per address
//! before `connection_init` (one more is answered 503), `--graphql-ws-init-timeout` to send
//! it, `--graphql-max-websockets` authenticated at once (one more is refused at its
//! `connection_init`), `--graphql-max-subscriptions` per partner, and `--max-body-size`
//! per message. Websockets close when the service stops.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, ClientMessage, WebSocket, WebSocketProtocols, WsMessage,
};
use async_graphql::{Data, ErrorExtensions};
use axum::Extension;
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt};

use crate::auth::extract::admit;
use crate::auth::ratelimit::Hold;
use crate::error::{Error, Problem};
use crate::graphql::LeernetSchema;
use crate::graphql::changes::Credential;
use crate::graphql::limits::Held;
use crate::state::AppState;

/// The longest reason a close frame carries (RFC 6455: 125 bytes with the code).
const MAX_CLOSE_REASON: usize = 123;

/// Close codes: RFC 6455's, and graphql-transport-ws's (which `graphql-ws` clients read to
/// decide whether to reconnect: 1001 and 1013 they retry, the 44xx but 4403 they do not).
const GOING_AWAY: u16 = 1001;
const PROTOCOL_ERROR: u16 = 1002;
const POLICY_VIOLATION: u16 = 1008;
const TRY_AGAIN_LATER: u16 = 1013;
const BAD_REQUEST: u16 = 4400;
const UNAUTHORIZED: u16 = 4401;
const FORBIDDEN: u16 = 4403;
const INIT_TIMEOUT: u16 = 4408;
const SUBSCRIBER_EXISTS: u16 = 4409;

/// How long the closing frame may take to go out to a peer that does not read.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// `GET /graphql/ws`: upgrades to a websocket speaking a GraphQL subscription protocol.
pub async fn upgrade(
    Extension(schema): Extension<LeernetSchema>,
    State(state): State<AppState>,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    // Writes over the socket are audited with the upgrade request's id.
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The first of the client's protocols that is one of ours.
    let protocol = parts
        .headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .split(',')
                .find_map(|protocol| protocol.trim().parse::<WebSocketProtocols>().ok())
        });
    let Some(protocol) = protocol else {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "open /graphql/ws as a websocket with Sec-WebSocket-Protocol: graphql-transport-ws (or graphql-ws)",
        )
        .into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return Problem::new(
                rejection.status(),
                "validation_failed",
                format!(
                    "/graphql/ws is a websocket: {} (send queries and mutations to /graphql)",
                    rejection.body_text()
                ),
            )
            .into_response();
        }
    };
    // Before it is authenticated, a socket counts against its address's pending sockets,
    // so that sockets sent without a token cannot take the room partners share.
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
    let Some(pending) = state.pending_websockets.hold(address) else {
        return Error::Unavailable(format!(
            "this address holds {} websockets that have not sent connection_init, the most allowed (--graphql-max-pending-websockets); retry later",
            state.pending_websockets.max()
        ))
        .into_response();
    };
    // A message is held to the body limit of a request.
    let max_message = state.config.max_body_size;
    let credential = Arc::new(Mutex::new(None));
    let guard = Arc::new(Mutex::new(Guard::new(
        protocol,
        state.config.graphql_max_socket_operations,
        state.config.max_body_size,
    )));
    let executor = Rechecked {
        guard: guard.clone(),
        schema,
        state: state.clone(),
        credential: credential.clone(),
        request_id: request_id.clone(),
    };
    upgrade
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let init_timeout: Duration = state.config.graphql_ws_init_timeout.into();
            let initialized = Arc::new(AtomicBool::new(false));
            // The pending hold until connection_init; then the room of an authenticated
            // socket and the partner's, held as long as the socket is open.
            let slots = Arc::new(Mutex::new(Slots {
                pending: Some(pending),
                room: None,
                partner: None,
            }));
            let (flag, init_state, init_slots) =
                (initialized.clone(), state.clone(), slots.clone());
            let (init_guard, input_guard, output_guard) =
                (guard.clone(), guard.clone(), guard.clone());
            let (mut sink, stream) = socket.split();
            let input = stream
                .take_while(|message| std::future::ready(message.is_ok()))
                .filter_map(|message| {
                    std::future::ready(match message {
                        Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                            Some(message.into_data())
                        }
                        _ => None,
                    })
                })
                .scan((), move |(), bytes| {
                    std::future::ready(lock(&input_guard).admit(&bytes))
                });
            let output = WebSocket::from_message_stream(executor, input, protocol)
                .on_connection_init(move |payload| async move {
                    flag.store(true, Ordering::SeqCst);
                    init_slots.lock().unwrap_or_else(|e| e.into_inner()).pending = None;
                    let refuse = |code: u16, reason: String| {
                        lock(&init_guard).refusal = Some(code);
                        async_graphql::Error::new(shortened(reason))
                    };
                    let authorization = self::credential(&payload);
                    let (data, partner) =
                        connection_init(&init_state, authorization.as_deref(), request_id)
                            .await
                            .map_err(|(code, reason)| refuse(code, reason))?;
                    let room = init_state.websockets.clone().try_acquire_owned().map_err(|_| {
                        refuse(
                            TRY_AGAIN_LATER,
                            "unavailable: as many websockets are open as this service takes (--graphql-max-websockets); retry later".to_owned(),
                        )
                    })?;
                    let held = init_state.partner_websockets.hold(partner).ok_or_else(|| {
                        refuse(
                            TRY_AGAIN_LATER,
                            format!(
                                "conflict: this partner holds {} websockets, the most allowed (--graphql-max-subscriptions)",
                                init_state.partner_websockets.max()
                            ),
                        )
                    })?;
                    {
                        let mut slots = init_slots.lock().unwrap_or_else(|e| e.into_inner());
                        slots.room = Some(room);
                        slots.partner = Some(held);
                    }
                    *credential.lock().unwrap_or_else(|e| e.into_inner()) = authorization;
                    Ok(data)
                })
                .map(move |message| lock(&output_guard).send(message));
            let late = async {
                tokio::time::sleep(init_timeout).await;
                if initialized.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
            };
            let mut stopping = state.stopping.subscribe();
            let close = {
                let pump = async {
                    futures_util::pin_mut!(output);
                    while let Some(message) = output.next().await {
                        if sink.send(message).await.is_err() {
                            return None;
                        }
                        // An operation refused its credential ends the socket.
                        if lock(&guard).close.is_some() {
                            break;
                        }
                    }
                    lock(&guard).close.take()
                };
                tokio::select! {
                    close = pump => close,
                    () = late => {
                        tracing::debug!("a websocket sent no connection_init in time");
                        Some((INIT_TIMEOUT, "Connection initialisation timeout".to_owned()))
                    }
                    _ = stopping.wait_for(|stopping| *stopping) => {
                        Some((GOING_AWAY, "the service is stopping; reconnect".to_owned()))
                    }
                }
            };
            if let Some((code, reason)) = close {
                let frame = Message::Close(Some(CloseFrame {
                    code,
                    reason: shortened(reason).into(),
                }));
                // A peer that does not read is not waited for.
                let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(frame)).await;
            }
            drop(slots);
        })
}

/// What an open socket holds: a pending place of its address until `connection_init`,
/// then a place among all authenticated sockets and among its partner's.
struct Slots {
    pending: Option<Hold<IpAddr>>,
    room: Option<tokio::sync::OwnedSemaphorePermit>,
    partner: Option<Hold>,
}

/// The schema as a socket runs it: every operation sent over it (a subscription, a query,
/// a mutation) is run with the actor its credential stands for at that moment, checked
/// and counted as a request's header is ([`admit`]: one call, whether or not the operation
/// parses; its cost beyond that as over HTTP, [`super::limits`]), so that a partner
/// revoked, a token expired or a scope taken away holds nothing over a socket it opened
/// before: the refusal is the operation's error, and the socket then closes (4403).
#[derive(Clone)]
struct Rechecked {
    guard: Arc<Mutex<Guard>>,
    schema: LeernetSchema,
    state: AppState,
    credential: Arc<Mutex<Option<String>>>,
    request_id: Option<String>,
}

impl async_graphql::Executor for Rechecked {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        // A socket streams every operation (`execute_stream`); this is not reached.
        let mut answers = self.execute_stream(request, None);
        futures_util::StreamExt::next(&mut answers)
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let this = self.clone();
        futures_util::stream::once(async move {
            let authorization = this
                .credential
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            match admit(
                &this.state,
                authorization.as_deref(),
                this.request_id.clone(),
                None,
            )
            .await
            {
                Ok(actor) => {
                    let request = request
                        .data(super::relations::loaders(&this.state, &actor))
                        .data(actor);
                    this.schema
                        .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                }
                Err(refusal) => {
                    let refused = Error::from(refusal);
                    let problem = refused.problem();
                    if matches!(problem.status, 401 | 403) {
                        lock(&this.guard).close = Some((FORBIDDEN, problem.detail));
                    }
                    let error = refused
                        .extend()
                        .into_server_error(async_graphql::Pos::default());
                    futures_util::stream::once(async move {
                        async_graphql::Response::from_errors(vec![error])
                    })
                    .boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }
}

/// The context of a websocket's operations, from the credential of its `connection_init`
/// (counted as a call), and its partner: the credential each operation is checked by
/// again ([`Rechecked`], which gives each its actor and loaders). A refusal is the close
/// code and reason: 4403 for a credential refused, 1013 (try again later) for a rate limit
/// or an unavailable database.
async fn connection_init(
    state: &AppState,
    authorization: Option<&str>,
    request_id: Option<String>,
) -> Result<(Data, uuid::Uuid), (u16, String)> {
    let actor = admit(state, authorization, request_id, None)
        .await
        .map_err(|refusal| {
            let problem = Error::from(refusal).problem();
            let code = match problem.status {
                429 | 503 => TRY_AGAIN_LATER,
                _ => FORBIDDEN,
            };
            (code, problem.detail)
        })?;
    let partner = actor.partner_id;
    let mut data = Data::default();
    data.insert(Credential {
        authorization: authorization.unwrap_or_default().to_owned(),
    });
    data.insert(Held);
    Ok((data, partner))
}

/// The graphql-transport-ws rules async-graphql leaves to its user, kept for one socket:
/// a message that does not parse closes it with 4400, a `subscribe` before the
/// `connection_ack` with 4401, a `subscribe` reusing the id of one still running with
/// 4409, and a refused `connection_init` closes it with the refusal's code (async-graphql
/// would send 1002 for all of them, run a subscribe before the acknowledgement's 1011,
/// and replace a running subscription by a new one of the same id). The older protocol
/// keeps async-graphql's behaviour but for the bound both have: more than
/// `--graphql-max-socket-operations` operations running at once, or more than
/// `--max-body-size` bytes of their messages, closes the socket (1008).
struct Guard {
    protocol: WebSocketProtocols,
    max_running: usize,
    /// The most bytes the messages of running operations may hold together.
    max_bytes: usize,
    acknowledged: bool,
    /// The running operations' ids, with the size of the message that started each.
    running: HashMap<String, usize>,
    /// The code `connection_init` was refused with.
    refusal: Option<u16>,
    /// The close a client's message called for.
    close: Option<(u16, String)>,
}

impl Guard {
    fn new(protocol: WebSocketProtocols, max_running: usize, max_bytes: usize) -> Self {
        Self {
            protocol,
            max_running,
            max_bytes,
            acknowledged: false,
            running: HashMap::new(),
            refusal: None,
            close: None,
        }
    }

    /// A client's message as async-graphql takes it, or `None` (ending the socket's input)
    /// when it breaks the protocol, with the close it calls for kept.
    fn admit(&mut self, bytes: &[u8]) -> Option<serde_json::Result<ClientMessage>> {
        let message = ClientMessage::from_bytes(bytes);
        let transport_ws = self.protocol == WebSocketProtocols::GraphQLWS;
        let close = match &message {
            Ok(ClientMessage::Start { .. }) if self.running.len() >= self.max_running => (
                POLICY_VIOLATION,
                format!(
                    "{} operations are running on this socket, the most allowed (--graphql-max-socket-operations)",
                    self.max_running
                ),
            ),
            Ok(ClientMessage::Start { .. })
                if self.running.values().sum::<usize>() + bytes.len() > self.max_bytes =>
            {
                (
                    POLICY_VIOLATION,
                    "the operations running on this socket would hold more than --max-body-size bytes; wait for their answers".to_owned(),
                )
            }
            _ if !transport_ws => {
                if let Ok(ClientMessage::Start { id, .. }) = &message {
                    self.running.insert(id.clone(), bytes.len());
                } else if let Ok(ClientMessage::Stop { id }) = &message {
                    self.running.remove(id);
                }
                return Some(message);
            }
            Err(error) => (BAD_REQUEST, format!("Invalid message received: {error}")),
            Ok(ClientMessage::Start { .. }) if !self.acknowledged => {
                (UNAUTHORIZED, "Unauthorized".to_owned())
            }
            Ok(ClientMessage::Start { id, .. })
                if self.running.insert(id.clone(), bytes.len()).is_some() =>
            {
                (
                    SUBSCRIBER_EXISTS,
                    format!("Subscriber for {id} already exists"),
                )
            }
            Ok(ClientMessage::Stop { id }) => {
                self.running.remove(id);
                return Some(message);
            }
            Ok(_) => return Some(message),
        };
        self.close = Some(close);
        None
    }

    /// A message of async-graphql's as the socket sends it: an acknowledgement is noted,
    /// an operation ended (`complete`, `error`) frees its id, and the 1002 of a refused
    /// `connection_init` gets the refusal's code.
    fn send(&mut self, message: WsMessage) -> Message {
        match message {
            WsMessage::Text(text) => {
                if text.starts_with(r#"{"type":"connection_ack""#) {
                    self.acknowledged = true;
                } else if text.starts_with(r#"{"type":"complete""#)
                    || text.starts_with(r#"{"type":"error""#)
                {
                    #[derive(serde::Deserialize)]
                    struct Ended {
                        id: String,
                    }
                    if let Ok(ended) = serde_json::from_str::<Ended>(&text) {
                        self.running.remove(&ended.id);
                    }
                }
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                let code = match (self.protocol, code) {
                    (WebSocketProtocols::GraphQLWS, PROTOCOL_ERROR) => {
                        self.refusal.unwrap_or(FORBIDDEN)
                    }
                    _ => code,
                };
                Message::Close(Some(CloseFrame {
                    code,
                    reason: shortened(reason).into(),
                }))
            }
        }
    }
}

/// The guard, whatever a panic elsewhere left in it.
fn lock(guard: &Mutex<Guard>) -> std::sync::MutexGuard<'_, Guard> {
    guard.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `Authorization` value a `connection_init` payload carries: `Authorization` (in any
/// case) at its top or under `headers`, or a bare `token`.
fn credential(payload: &serde_json::Value) -> Option<String> {
    let object = payload.as_object()?;
    let authorization = |object: &serde_json::Map<String, serde_json::Value>| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.as_str())
            .map(str::to_owned)
    };
    authorization(object)
        .or_else(|| {
            object
                .get("headers")
                .and_then(serde_json::Value::as_object)
                .and_then(authorization)
        })
        .or_else(|| {
            object
                .get("token")
                .and_then(serde_json::Value::as_str)
                .map(|token| format!("Bearer {token}"))
        })
}

/// `reason` cut to what a close frame carries, at a character boundary.
fn shortened(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_credential_is_found_where_clients_put_it() {
        for payload in [
            json!({"Authorization": "Bearer t"}),
            json!({"authorization": "Bearer t"}),
            json!({"headers": {"Authorization": "Bearer t"}}),
            json!({"token": "t"}),
        ] {
            assert_eq!(
                super::credential(&payload).as_deref(),
                Some("Bearer t"),
                "{payload}"
            );
        }
        assert_eq!(super::credential(&json!({})), None);
        assert_eq!(super::credential(&json!("Bearer t")), None);
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        let long = "é".repeat(100);
        let short = super::shortened(long);
        assert!(short.len() <= super::MAX_CLOSE_REASON);
        assert!(short.chars().all(|c| c == 'é'));
    }
}
