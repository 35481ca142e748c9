//! Webhook delivery: the worker every instance runs. It claims due deliveries (a lease, no
//! transaction held across the HTTP call), checks the target against SSRF again (the URL
//! here, the addresses in the client's resolver, at connect), POSTs the
//! change as a CloudEvents 1.0 structured JSON event signed with HMAC-SHA256 as the webhook
//! chose (`Leernet-Signature: t=<unix seconds>,v1=<hex>` over `"<t>." + body`, or the
//! Standard Webhooks headers, `webhook-signature: v1,<base64>` over
//! `"<event id>.<t>." + body`), and records the outcome. It wakes when changes are
//! announced ([`changes::announcements`]): by a write of this process, or on PostgreSQL by
//! `LISTEN leernet_changes`, which every run stamping feed positions notifies at commit on
//! whichever instance it ran and which [`relay`] passes on; it stamps entries left waiting
//! (see [`crate::service::changes`]), and it also polls (`--webhook-poll-interval`), so
//! that a lost notification delays a delivery but never drops it. A crash between sending and recording delivers again
//! after the lease: at least once, and the event `id` lets receivers de-duplicate.

use std::time::Duration;

use aws_lc_rs::hmac;
use sea_orm::sqlx::postgres::PgListener;
use serde_json::json;

use crate::service::changes::{self, FeedCursor};
use crate::service::webhooks::target::{GuardedResolver, check_url, refusal};
use crate::service::webhooks::{self, Claimed, Outcome, SignatureScheme, standard_secret};
use crate::state::AppState;

/// How long a claimed delivery is held before another instance may take it.
const LEASE: Duration = Duration::from_secs(60);

/// The CloudEvents 1.0 event for a change-log entry.
pub fn event(issuer: &str, entry: &entity::change::Model) -> serde_json::Value {
    let verb = if entry.op == "delete" {
        "deleted"
    } else {
        "upserted"
    };
    let cursor = FeedCursor {
        position: entry.position,
        seq: entry.seq,
    };
    json!({
        "specversion": "1.0",
        "id": event_id(entry),
        "source": format!("{issuer}/api/v1/changes"),
        "type": format!("nl.leernet.{}.{verb}", entry.resource_type),
        "subject": entry.resource_id,
        "time": entry.changed_at,
        "datacontenttype": "application/json",
        "data": {
            "cursor": cursor.token(),
            "type": entry.resource_type,
            "id": entry.resource_id,
            "op": entry.op,
            "version": entry.version,
            "changedAt": entry.changed_at,
            "data": entry.data,
        },
    })
}

/// The event id of a change-log entry: unique per entry, the same in every attempt, so
/// that receivers de-duplicate by it (and Standard Webhooks' `webhook-id`).
pub fn event_id(entry: &entity::change::Model) -> String {
    format!("change-{}", entry.seq)
}

/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>." + body>`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Standard Webhooks' `v1,<base64 HMAC-SHA256 of "<id>.<t>." + body>`, keyed with the
/// secret's decoded bytes.
pub fn standard_signature(key: &[u8], id: &str, t: i64, body: &str) -> String {
    use base64::Engine;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, format!("{id}.{t}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

async fn attempt(state: &AppState, client: &reqwest::Client, claimed: &Claimed) -> Outcome {
    if let Err(reason) = check_url(&claimed.url, state.config.webhook_allow_private) {
        return Outcome::Failed(None, format!("target refused: it {reason}"));
    }
    let body = event(&state.issuer, &claimed.entry).to_string();
    let t = chrono::Utc::now().timestamp();
    let request = client
        .post(&claimed.url)
        .header("content-type", "application/cloudevents+json")
        .header("leernet-delivery", claimed.id.to_string());
    let request = match claimed.signature {
        SignatureScheme::Leernet => {
            request.header("leernet-signature", signature(&claimed.secret, t, &body))
        }
        SignatureScheme::StandardWebhooks => {
            // Checked at registration; a secret that cannot be read signs nothing.
            let Some(key) = standard_secret(&claimed.secret) else {
                return Outcome::Failed(None, "the webhook's secret cannot be read".to_owned());
            };
            let id = event_id(&claimed.entry);
            let signed = standard_signature(&key, &id, t, &body);
            request
                .header("webhook-id", id)
                .header("webhook-timestamp", t.to_string())
                .header("webhook-signature", signed)
        }
    };
    let sent = request.body(body).send().await;
    match sent {
        Ok(response) if response.status().is_success() => {
            Outcome::Delivered(response.status().as_u16())
        }
        Ok(response) => Outcome::Failed(
            Some(response.status().as_u16()),
            format!("the receiver answered {}", response.status()),
        ),
        Err(ref error) if let Some(reason) = refusal(error) => {
            Outcome::Failed(None, format!("target refused: it {reason}"))
        }
        Err(error) if error.is_timeout() => {
            Outcome::Failed(None, "the receiver did not answer in time".to_owned())
        }
        Err(_) => Outcome::Failed(None, "the receiver could not be reached".to_owned()),
    }
}

/// The client deliveries go out with: no redirects (a redirect could lead anywhere), no
/// proxy from the environment (the target's addresses must be the ones connected to), and
/// the [`GuardedResolver`], which refuses a host resolving to a forbidden address at
/// connect, so that DNS changing between check and connect cannot reach inside.
pub fn delivery_client(timeout: Duration, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(std::sync::Arc::new(GuardedResolver { allow_private }))
        .build()
}

/// Delivers what is due, until told to stop.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let timeout: Duration = state.config.webhook_timeout.into();
    let poll: Duration = state.config.webhook_poll_interval.into();
    let client = match delivery_client(timeout, state.config.webhook_allow_private) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook client; no webhooks are delivered");
            return;
        }
    };
    let mut announced = changes::announcements();
    loop {
        if *stop.borrow() {
            return;
        }
        // Entries whose writer committed but could not stamp them (it lost the database
        // right after its commit) get their position here; deliveries are written then.
        if let Err(error) = changes::settle(&state.db).await {
            tracing::debug!(%error, "cannot stamp waiting change entries");
        }
        let claimed = match webhooks::claim(&state.db, 20, LEASE).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot claim webhook deliveries");
                Vec::new()
            }
        };
        let busy = !claimed.is_empty();
        // Each claimed delivery is another webhook's queue head: they go out side by side.
        let mut sending = tokio::task::JoinSet::new();
        for delivery in claimed {
            let (state, client) = (state.clone(), client.clone());
            sending.spawn(async move {
                let outcome = attempt(&state, &client, &delivery).await;
                crate::prometheus::webhook_delivery(matches!(outcome, Outcome::Delivered(_)));
                if let Outcome::Failed(_, reason) = &outcome {
                    tracing::info!(delivery = delivery.id, webhook = %delivery.webhook_id, %reason, "webhook delivery failed");
                }
                if let Err(error) = webhooks::record(
                    &state.db,
                    &delivery,
                    outcome,
                    state.config.webhook_max_failures,
                )
                .await
                {
                    tracing::warn!(%error, delivery = delivery.id, "cannot record a webhook delivery");
                }
            });
        }
        while sending.join_next().await.is_some() {}
        if !busy {
            wait(&mut announced, poll, &mut stop).await;
        }
    }
}

/// Waits for an announcement of committed changes ([`changes::announcements`]), the poll
/// interval, or the stop signal, whichever comes first.
async fn wait(
    announced: &mut tokio::sync::watch::Receiver<u64>,
    poll: Duration,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) {
    tokio::select! {
        _ = announced.changed() => {}
        () = tokio::time::sleep(poll) => {}
        _ = stop.changed() => {}
    }
}

/// Relays the notifications of [`changes::CHANNEL`] (sent by every stamping run, on any
/// instance) to this process's followers of the feed ([`changes::announce`]): the webhook
/// worker and GraphQL subscriptions. One connection listens; when it drops, it is opened
/// again after `retry`, and an announcement is made then, as changes may have been missed
/// meanwhile. Only PostgreSQL notifies; on SQLite this returns at once (every write of the
/// process announces itself, and followers poll).
pub async fn relay(state: AppState, retry: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    if !crate::service::db::is_postgres(state.db.get_database_backend()) {
        return;
    }
    loop {
        if let Some(mut listener) = connect_listener(&state).await {
            changes::announce();
            loop {
                tokio::select! {
                    received = listener.recv() => match received {
                        Ok(_) => changes::announce(),
                        Err(error) => {
                            tracing::debug!(%error, "the change listener dropped; followers poll until it is back");
                            break;
                        }
                    },
                    _ = stop.changed() => return,
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

async fn connect_listener(state: &AppState) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(state.db.get_postgres_connection_pool())
        .await
        .ok()?;
    listener.listen(changes::CHANNEL).await.ok()?;
    Some(listener)
}
