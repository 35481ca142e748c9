//! The websocket `/graphql/ws`, over which subscriptions run: the graphql-transport-ws
//! protocol (`graphql-ws` clients), and the older subscriptions-transport-ws, chosen by
//! `Sec-WebSocket-Protocol`.
//!
//! The token comes in `connection_init`'s payload, as `{"Authorization": "Bearer
//! <token>"}` (also accepted: the same under `headers`, or `{"token": "<token>"}`), and is
//! checked there as a request's header is ([`admit`]: a call against the partner's rate
//! limit); a refusal closes the socket with the reason. Each subscription started is
//! counted like a query, by its cost, and checks the token again before each change it
//! delivers ([`super::changes`]). Bounds: `--graphql-max-pending-websockets` per address
//! before `connection_init` (one more is answered 503), `--graphql-ws-init-timeout` to send
//! it, `--graphql-max-websockets` authenticated at once (one more is refused at its
//! `connection_init`), `--graphql-max-subscriptions` per partner, and `--max-body-size`
//! per message. Websockets close when the service stops.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ErrorExtensions};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Extension;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::auth::extract::{admit, authenticate};
use crate::auth::ratelimit::Hold;
use crate::error::{Error, Problem};
use crate::graphql::LeernetSchema;
use crate::graphql::changes::Credential;
use crate::graphql::limits::Held;
use crate::state::AppState;

/// The longest reason a close frame carries (RFC 6455: 125 bytes with the code).
const MAX_CLOSE_REASON: usize = 123;

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
    let Ok(protocol) = GraphQLProtocol::from_request_parts(&mut parts, &()).await else {
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
    let executor = Rechecked {
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
            let serve = GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    flag.store(true, Ordering::SeqCst);
                    init_slots.lock().unwrap_or_else(|e| e.into_inner()).pending = None;
                    let authorization = self::credential(&payload);
                    let (data, partner) =
                        connection_init(&init_state, authorization.as_deref(), request_id).await?;
                    let room = init_state.websockets.clone().try_acquire_owned().map_err(|_| {
                        async_graphql::Error::new(
                            "unavailable: as many websockets are open as this service takes (--graphql-max-websockets); retry later",
                        )
                    })?;
                    let held = init_state.partner_websockets.hold(partner).ok_or_else(|| {
                        async_graphql::Error::new(shortened(format!(
                            "conflict: this partner holds {} websockets, the most allowed (--graphql-max-subscriptions)",
                            init_state.partner_websockets.max()
                        )))
                    })?;
                    {
                        let mut slots = init_slots.lock().unwrap_or_else(|e| e.into_inner());
                        slots.room = Some(room);
                        slots.partner = Some(held);
                    }
                    *credential.lock().unwrap_or_else(|e| e.into_inner()) = authorization;
                    Ok(data)
                })
                .serve();
            let late = async {
                tokio::time::sleep(init_timeout).await;
                if initialized.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
            };
            let mut stopping = state.stopping.subscribe();
            tokio::select! {
                () = serve => {}
                () = late => tracing::debug!("a websocket sent no connection_init in time"),
                _ = stopping.wait_for(|stopping| *stopping) => {}
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
/// again as a request's header is, so that a partner revoked, a token expired or a scope
/// taken away holds nothing over a socket it opened before. Not counted as another call:
/// the operation's cost is ([`super::limits`]).
#[derive(Clone)]
struct Rechecked {
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
            match authenticate(
                &this.state,
                authorization.as_deref(),
                this.request_id.clone(),
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
                    let error = Error::from(refusal)
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
/// again ([`Rechecked`], which gives each its actor and loaders).
async fn connection_init(
    state: &AppState,
    authorization: Option<&str>,
    request_id: Option<String>,
) -> async_graphql::Result<(Data, uuid::Uuid)> {
    let actor = admit(state, authorization, request_id, None)
        .await
        .map_err(|refusal| {
            async_graphql::Error::new(shortened(Error::from(refusal).problem().detail))
        })?;
    let partner = actor.partner_id;
    let mut data = Data::default();
    data.insert(Credential {
        authorization: authorization.unwrap_or_default().to_owned(),
    });
    data.insert(Held);
    Ok((data, partner))
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
