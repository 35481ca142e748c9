//! Webhook subscriptions and their deliveries (`sync.md`).
//!
//! A partner with `webhooks:manage` registers `{url, types, secret, signature}`: how its
//! deliveries are signed is its choice, [`SignatureScheme`]. Every committed
//! change gets a delivery row per matching subscription in its own transaction (the
//! outbox, see [`crate::service::changes`]). A worker on each instance claims due
//! deliveries — the oldest pending one of each subscription, so that a subscription gets
//! its changes in feed order — by setting a lease in a short transaction (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so two instances never take the same one), sends them with no
//! transaction open, and records the outcome: delivered, or retried with exponential
//! backoff and jitter, the subscription disabled after too many consecutive failures.
//!
//! Targets are checked against SSRF when registered and again at every delivery, on the
//! addresses actually connected to ([`target`]), unless private targets are allowed (tests,
//! local development).

pub mod target;

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::dto::stored;
use crate::error::{Error, Result};
use crate::service::Actor;
use crate::service::changes::{FEED_TYPES, Follower};
use crate::service::check::{Check, Rule};
use crate::service::db::{is_postgres, map_db_err};
use crate::service::resource::{check_limit, now};

pub use target::{check_target, forbidden_address};

/// How a webhook's deliveries are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    /// `Leernet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`, keyed
    /// with the secret's UTF-8 bytes.
    #[default]
    Leernet,
    /// Standard Webhooks (<https://www.standardwebhooks.com/>): `webhook-id`,
    /// `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
    /// "<id>.<timestamp>.<body>">`, keyed with the bytes of a `whsec_` secret.
    StandardWebhooks,
}

impl SignatureScheme {
    /// Every scheme.
    pub const ALL: &'static [SignatureScheme] =
        &[SignatureScheme::Leernet, SignatureScheme::StandardWebhooks];

    /// The name, as sent and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::Leernet => "leernet",
            SignatureScheme::StandardWebhooks => "standard-webhooks",
        }
    }
}

impl std::str::FromStr for SignatureScheme {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        SignatureScheme::ALL
            .iter()
            .copied()
            .find(|scheme| scheme.as_str() == s)
            .ok_or_else(|| "must be one of: leernet, standard-webhooks".to_owned())
    }
}

/// The prefix of a Standard Webhooks secret.
const STANDARD_SECRET_PREFIX: &str = "whsec_";

/// The key bytes of a Standard Webhooks secret: `whsec_` and the base64 (padded or not) of
/// 24 to 64 bytes, as the specification asks; `None` for anything else.
pub fn standard_secret(secret: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const BASE64: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let key = BASE64
        .decode(secret.strip_prefix(STANDARD_SECRET_PREFIX)?)
        .ok()?;
    (24..=64).contains(&key.len()).then_some(key)
}

/// What a partner registers.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookInput {
    /// Where to POST the events: an http(s) URL.
    #[schema(required, nullable = false)]
    pub url: Option<String>,
    /// The collections to be told about (all when left out).
    pub types: Option<Vec<String>>,
    /// The shared secret that signs every delivery: with `leernet`, any text of the length
    /// this schema allows; with `standard-webhooks`, `whsec_` and the base64 of 24 to 64
    /// random bytes.
    #[schema(required, nullable = false)]
    pub secret: Option<String>,
    /// How deliveries are signed: `leernet` (the default) or `standard-webhooks`.
    #[schema(value_type = Option<SignatureScheme>)]
    pub signature: Option<String>,
}

/// The length of a secret.
pub const SECRET_LENGTH: (usize, usize) = (16, 200);

impl crate::dto::Rules for WebhookInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("url", Rule::Url),
        ("types", Rule::List(&Rule::OneOf(FEED_TYPES))),
        ("secret", Rule::Length(SECRET_LENGTH.0, SECRET_LENGTH.1)),
        ("signature", Rule::Enum),
    ];
}

/// A subscription, as shown (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// The partner it delivers to (whose visibility it follows).
    pub partner_id: Uuid,
    /// The target.
    pub url: String,
    /// The collections it gets (empty: all).
    pub types: Vec<String>,
    /// How its deliveries are signed.
    pub signature: SignatureScheme,
    /// Whether deliveries are being made.
    pub active: bool,
    /// Failures in a row so far.
    pub consecutive_failures: i32,
    /// When it was disabled after too many failures.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// One delivery attempt record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Its id.
    pub id: i64,
    /// The change-log entry it carries.
    pub change_seq: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status.
    pub response_status: Option<i32>,
    /// The last failure.
    pub error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

fn to_webhook(row: webhook::Model) -> Webhook {
    Webhook {
        id: row.id,
        partner_id: row.partner_id,
        url: row.url,
        types: row.types.split_whitespace().map(str::to_owned).collect(),
        signature: stored(&row.signature),
        active: row.active,
        consecutive_failures: row.consecutive_failures,
        disabled_at: row.disabled_at,
        created_at: row.created_at,
    }
}

fn to_delivery(row: webhook_delivery::Model) -> Delivery {
    Delivery {
        id: row.id,
        change_seq: row.change_seq,
        status: row.status,
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        last_attempt_at: row.last_attempt_at,
        response_status: row.response_status,
        error: row.error,
        delivered_at: row.delivered_at,
    }
}

/// Refuses a caller without `webhooks:manage`.
pub fn require_manage(actor: &Actor) -> Result<()> {
    if actor.has_scope("webhooks:manage") {
        Ok(())
    } else {
        Err(Error::MissingScope("webhooks:manage".to_owned()))
    }
}

/// Records a registration or removal in the audit log, in its transaction.
async fn audit<C: ConnectionTrait>(conn: &C, actor: &Actor, action: &str, id: Uuid) -> Result<()> {
    entity::audit::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        at: Set(now()),
        partner_id: Set(Some(actor.partner_id)),
        action: Set(action.to_owned()),
        resource_type: Set("webhooks".to_owned()),
        resource_id: Set(id),
        version: Set(1),
        request_id: Set(actor.request_id.clone()),
    }
    .insert(conn)
    .await
    .map_err(map_db_err)?;
    Ok(())
}

/// Registers a subscription for `actor`.
pub async fn register(
    db: &DatabaseConnection,
    actor: &Actor,
    input: WebhookInput,
    allow_private: bool,
    max_per_partner: u64,
) -> Result<Webhook> {
    require_manage(actor)?;
    // A webhook is the feed pushed: whoever may not read the feed gets no webhook.
    Follower::of_actor(actor).require()?;
    let mut check = Check::new();
    let url = check.url("url", &input.url);
    let types = input.types.clone().unwrap_or_default();
    check.list_len("types", &input.types);
    for (i, t) in types.iter().enumerate() {
        if !FEED_TYPES.contains(&t.as_str()) {
            check.fail(
                format!("types[{i}]"),
                format!("must be one of {}", FEED_TYPES.join(", ")),
            );
        }
    }
    let signature = check.enum_or("signature", &input.signature, SignatureScheme::Leernet);
    let (shortest, longest) = SECRET_LENGTH;
    match (&input.secret, signature) {
        (None, SignatureScheme::Leernet) => check.fail(
            "secret",
            format!("is required: {shortest} to {longest} characters"),
        ),
        (Some(secret), SignatureScheme::Leernet)
            if !(shortest..=longest).contains(&secret.chars().count()) =>
        {
            check.fail(
                "secret",
                format!("must be {shortest} to {longest} characters"),
            )
        }
        (Some(secret), SignatureScheme::Leernet) if secret.chars().any(char::is_control) => {
            check.fail("secret", "must not contain control characters")
        }
        (Some(_), SignatureScheme::Leernet) => {}
        (secret, SignatureScheme::StandardWebhooks) => {
            if secret.as_deref().and_then(standard_secret).is_none() {
                check.fail(
                    "secret",
                    "must be whsec_ followed by the base64 of 24 to 64 random bytes (Standard Webhooks)",
                );
            }
        }
    }
    if check.is_ok_at("url")
        && let Err(reason) = check_target(&url, allow_private).await
    {
        check.fail("url", reason);
    }
    check.finish()?;
    let at = now();
    let txn = crate::service::db::begin_immediate(db).await?;
    // Registrations of one partner queue on its row (SQLite's writers queue anyway), so
    // two at once cannot both find room for one more.
    if is_postgres(db.get_database_backend()) {
        entity::partner::Entity::find_by_id(actor.partner_id)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(map_db_err)?;
    }
    let live = webhook::Entity::find()
        .filter(webhook::Column::PartnerId.eq(actor.partner_id))
        .filter(webhook::Column::DeletedAt.is_null())
        .count(&txn)
        .await
        .map_err(map_db_err)?;
    if live >= max_per_partner {
        return Err(Error::Conflict(format!(
            "this partner has {live} webhooks, the most it may have; delete one first (one webhook can take every type)"
        )));
    }
    let row = webhook::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(actor.partner_id),
        url: Set(url),
        types: Set(types.join(" ")),
        secret: Set(input.secret.unwrap_or_default()),
        signature: Set(signature.as_str().to_owned()),
        active: Set(true),
        consecutive_failures: Set(0),
        disabled_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
        // What the registering token may read is all its deliveries will carry.
        scopes: Set(Some(actor.scopes.join(" "))),
    }
    .insert(&txn)
    .await
    .map_err(map_db_err)?;
    audit(&txn, actor, "create", row.id).await?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(to_webhook(row))
}

async fn own(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<webhook::Model> {
    require_manage(actor)?;
    webhook::Entity::find_by_id(id)
        .filter(webhook::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(map_db_err)?
        .filter(|w| w.partner_id == actor.partner_id || actor.is_admin())
        .ok_or_else(|| Error::NotFound {
            resource: "webhooks",
            key: id.to_string(),
        })
}

/// One subscription: the actor's own, or any for an admin; not found otherwise.
pub async fn get(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<Webhook> {
    own(db, actor, id).await.map(to_webhook)
}

/// A page of subscriptions.
#[derive(Debug, Clone)]
pub struct WebhookPage {
    /// The subscriptions, oldest first.
    pub items: Vec<Webhook>,
    /// The page after this one continues after this subscription; `None` on the last page.
    pub next: Option<Uuid>,
}

/// Up to `limit` (1 to 500) of the actor's subscriptions (an admin's list holds every
/// partner's), oldest first, those after subscription `after` when given: a keyset on the
/// id, a UUID v7 that grows with the time of registration.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    limit: u64,
    after: Option<Uuid>,
) -> Result<WebhookPage> {
    require_manage(actor)?;
    check_limit(limit)?;
    let mut query = webhook::Entity::find().filter(webhook::Column::DeletedAt.is_null());
    if !actor.is_admin() {
        query = query.filter(webhook::Column::PartnerId.eq(actor.partner_id));
    }
    if let Some(after) = after {
        query = query.filter(webhook::Column::Id.gt(after));
    }
    let mut rows = query
        .order_by_asc(webhook::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await
        .map_err(map_db_err)?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(WebhookPage {
        items: rows.into_iter().map(to_webhook).collect(),
        next,
    })
}

/// Deletes a subscription: no further deliveries.
pub async fn delete(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<()> {
    let hook = own(db, actor, id).await?;
    let at = now();
    let txn = crate::service::db::begin_immediate(db).await?;
    webhook::Entity::update_many()
        .col_expr(webhook::Column::DeletedAt, at.into())
        .col_expr(webhook::Column::Active, false.into())
        .col_expr(webhook::Column::UpdatedAt, at.into())
        .filter(webhook::Column::Id.eq(hook.id))
        .exec(&txn)
        .await
        .map_err(map_db_err)?;
    audit(&txn, actor, "delete", hook.id).await?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(())
}

/// A page of a subscription's deliveries.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    /// The deliveries, newest first.
    pub items: Vec<Delivery>,
    /// The page after this one continues below this delivery id; `None` on the last page.
    pub next: Option<i64>,
}

/// Up to `limit` (1 to 500) deliveries of a subscription, newest first, those below
/// delivery id `before` when given: a keyset on the id, which grows with every delivery.
pub async fn deliveries(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    limit: u64,
    before: Option<i64>,
) -> Result<DeliveryPage> {
    let hook = own(db, actor, id).await?;
    check_limit(limit)?;
    let mut query =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(hook.id));
    if let Some(before) = before {
        query = query.filter(webhook_delivery::Column::Id.lt(before));
    }
    let mut rows = query
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await
        .map_err(map_db_err)?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(DeliveryPage {
        items: rows.into_iter().map(to_delivery).collect(),
        next,
    })
}

/// Sends a delivery again (and re-enables its subscription): it becomes due now.
pub async fn redeliver(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    delivery: i64,
) -> Result<Delivery> {
    let hook = own(db, actor, id).await?;
    let row = webhook_delivery::Entity::find_by_id(delivery)
        .filter(webhook_delivery::Column::WebhookId.eq(hook.id))
        .one(db)
        .await
        .map_err(map_db_err)?
        .ok_or_else(|| Error::NotFound {
            resource: "deliveries",
            key: delivery.to_string(),
        })?;
    let mut active: webhook_delivery::ActiveModel = row.into();
    active.status = Set("pending".to_owned());
    active.next_attempt_at = Set(now());
    active.lease_until = Set(None);
    let row = active.update(db).await.map_err(map_db_err)?;
    webhook::Entity::update_many()
        .col_expr(webhook::Column::Active, true.into())
        .col_expr(
            webhook::Column::DisabledAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(webhook::Column::ConsecutiveFailures, 0.into())
        .filter(webhook::Column::Id.eq(hook.id))
        .exec(db)
        .await
        .map_err(map_db_err)?;
    Ok(to_delivery(row))
}

/// A delivery claimed for sending, with what it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery.
    pub id: i64,
    /// Attempts before this one.
    pub attempts: i32,
    /// The subscription.
    pub webhook_id: Uuid,
    /// Its target.
    pub url: String,
    /// Its secret.
    pub secret: String,
    /// How it is signed.
    pub signature: SignatureScheme,
    /// The entry.
    pub entry: entity::change::Model,
}

/// One webhook's queue, for the metrics: deliveries waiting, and the feed position of the
/// newest change delivered (none while nothing has been, or it has been pruned).
#[derive(Debug, Clone)]
pub struct Queue {
    /// The webhook.
    pub webhook_id: Uuid,
    /// Its deliveries not yet made (due or in backoff).
    pub pending: i64,
    /// The feed position of the newest change delivered to it.
    pub delivered_position: Option<i64>,
}

/// Every registered webhook's [`Queue`]: per webhook, a count over its pending deliveries
/// and one backward probe of its delivered ones (both from the `(webhook_id, status, id)`
/// index).
pub async fn queues(db: &DatabaseConnection) -> Result<Vec<Queue>> {
    let backend = db.get_database_backend();
    let sql = "SELECT w.id AS webhook_id, \
                 (SELECT COUNT(*) FROM webhook_deliveries d \
                   WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending, \
                 (SELECT c.position FROM webhook_deliveries d JOIN change_log c ON c.seq = d.change_seq \
                   WHERE d.webhook_id = w.id AND d.status = 'delivered' \
                   ORDER BY d.id DESC LIMIT 1) AS delivered_position \
               FROM webhooks w WHERE w.deleted_at IS NULL ORDER BY w.id";
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .map_err(map_db_err)?
        .iter()
        .map(|row| {
            Ok(Queue {
                webhook_id: row.try_get("", "webhook_id").map_err(map_db_err)?,
                pending: row.try_get("", "pending").map_err(map_db_err)?,
                delivered_position: row.try_get("", "delivered_position").map_err(map_db_err)?,
            })
        })
        .collect()
}

/// Claims up to `limit` due deliveries, each the oldest pending one of its subscription
/// (so that a subscription gets its changes in order), for `lease`.
pub async fn claim(db: &DatabaseConnection, limit: u64, lease: Duration) -> Result<Vec<Claimed>> {
    let backend = db.get_database_backend();
    let at = now();
    let until = at + chrono::Duration::from_std(lease).map_err(Error::internal)?;
    // SQLite: take the write lock up front, so that two instances' claims are ordered and
    // the second sees the first's lease.
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .map_err(map_db_err)?;
    let (lock, p) = if is_postgres(backend) {
        (" FOR UPDATE OF d SKIP LOCKED", ["$1", "$2", "$3"])
    } else {
        ("", ["?", "?", "?"])
    };
    // Each active webhook's queue head (its oldest pending delivery, one index probe per
    // webhook), when it is due and not leased: a webhook's deliveries go out in order, one
    // at a time, and a head in backoff holds back the rest of its queue.
    let select = format!(
        "SELECT d.id FROM webhooks w JOIN webhook_deliveries d ON d.id = \
           (SELECT MIN(e.id) FROM webhook_deliveries e \
             WHERE e.webhook_id = w.id AND e.status = 'pending') \
         WHERE w.active = TRUE AND w.deleted_at IS NULL \
           AND d.next_attempt_at <= {} \
           AND (d.lease_until IS NULL OR d.lease_until < {}) \
         ORDER BY d.id LIMIT {}{lock}",
        p[0], p[1], p[2]
    );
    let ids: Vec<i64> = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            select,
            [at.into(), at.into(), (limit as i64).into()],
        ))
        .await
        .map_err(map_db_err)?
        .iter()
        .filter_map(|r| r.try_get::<i64>("", "id").ok())
        .collect();
    if ids.is_empty() {
        txn.commit().await.map_err(map_db_err)?;
        return Ok(Vec::new());
    }
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LeaseUntil, until.into())
        .filter(webhook_delivery::Column::Id.is_in(ids.clone()))
        .exec(&txn)
        .await
        .map_err(map_db_err)?;
    let rows = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Id.is_in(ids))
        .order_by_asc(webhook_delivery::Column::Id)
        .all(&txn)
        .await
        .map_err(map_db_err)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let hook = webhook::Entity::find_by_id(row.webhook_id)
            .one(&txn)
            .await
            .map_err(map_db_err)?;
        let entry = entity::change::Entity::find_by_id(row.change_seq)
            .one(&txn)
            .await
            .map_err(map_db_err)?;
        // The partner is asked again now: one revoked, or that lost the feed's scope, since
        // the change was written gets nothing more.
        let follower = match &hook {
            Some(hook) => entity::partner::Entity::find_by_id(hook.partner_id)
                .one(&txn)
                .await
                .map_err(map_db_err)?
                .map(|p| Follower::of_partner(&p, hook.scopes.as_deref())),
            None => None,
        };
        let allowed = match (&follower, &entry) {
            (Some(follower), Some(entry)) => follower.sees(&entry.audience, entry.owner_partner_id),
            _ => false,
        };
        if !allowed {
            webhook_delivery::Entity::update_many()
                .col_expr(webhook_delivery::Column::Status, "failed".into())
                .col_expr(
                    webhook_delivery::Column::LeaseUntil,
                    Option::<DateTime<Utc>>::None.into(),
                )
                .col_expr(
                    webhook_delivery::Column::Error,
                    "not sent: the partner is revoked or may no longer read this change".into(),
                )
                .filter(webhook_delivery::Column::Id.eq(row.id))
                .exec(&txn)
                .await
                .map_err(map_db_err)?;
            continue;
        }
        if let (Some(hook), Some(entry)) = (hook, entry) {
            claimed.push(Claimed {
                id: row.id,
                attempts: row.attempts,
                webhook_id: hook.id,
                url: hook.url,
                secret: hook.secret,
                signature: stored(&hook.signature),
                entry,
            });
        }
    }
    txn.commit().await.map_err(map_db_err)?;
    Ok(claimed)
}

/// What an attempt came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// It did not (its status, if it answered) and why.
    Failed(Option<u16>, String),
}

/// Records an attempt: delivered; or due again after a backoff that doubles per attempt
/// (1 s, 2 s, 4 s, ... up to an hour, with jitter), the subscription disabled once it has
/// failed `max_failures` times in a row.
pub async fn record(
    db: &DatabaseConnection,
    claimed: &Claimed,
    outcome: Outcome,
    max_failures: i32,
) -> Result<()> {
    let txn = crate::service::db::begin_immediate(db).await?;
    let at = now();
    let mut delivery: webhook_delivery::ActiveModel =
        webhook_delivery::Entity::find_by_id(claimed.id)
            .one(&txn)
            .await
            .map_err(map_db_err)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("delivery {} vanished", claimed.id)))?
            .into();
    delivery.attempts = Set(claimed.attempts + 1);
    delivery.last_attempt_at = Set(Some(at));
    delivery.lease_until = Set(None);
    match &outcome {
        Outcome::Delivered(status) => {
            delivery.status = Set("delivered".to_owned());
            delivery.response_status = Set(Some(i32::from(*status)));
            delivery.error = Set(None);
            delivery.delivered_at = Set(Some(at));
            webhook::Entity::update_many()
                .col_expr(webhook::Column::ConsecutiveFailures, 0.into())
                .filter(webhook::Column::Id.eq(claimed.webhook_id))
                .exec(&txn)
                .await
                .map_err(map_db_err)?;
        }
        Outcome::Failed(status, error) => {
            let exponent = claimed.attempts.clamp(0, 12) as u32;
            let base = 2u64.pow(exponent).min(3600);
            let jitter = u64::from(Uuid::now_v7().as_bytes()[15] % 100) * base / 400;
            delivery.next_attempt_at = Set(at + chrono::Duration::seconds((base + jitter) as i64));
            delivery.response_status = Set(status.map(i32::from));
            delivery.error = Set(Some(error.chars().take(500).collect()));
            let hook = webhook::Entity::find_by_id(claimed.webhook_id)
                .one(&txn)
                .await
                .map_err(map_db_err)?;
            if let Some(hook) = hook {
                let failures = hook.consecutive_failures + 1;
                let mut hook: webhook::ActiveModel = hook.into();
                hook.consecutive_failures = Set(failures);
                if failures >= max_failures {
                    hook.active = Set(false);
                    hook.disabled_at = Set(Some(at));
                    delivery.status = Set("failed".to_owned());
                }
                hook.update(&txn).await.map_err(map_db_err)?;
            }
        }
    }
    delivery.update(&txn).await.map_err(map_db_err)?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    /// The OpenAPI schema lists exactly the names sent, accepted and stored.
    #[test]
    fn the_schemes_schema_lists_the_wire_names() {
        let schema = serde_json::to_value(SignatureScheme::schema()).expect("a schema");
        let names: Vec<&str> = SignatureScheme::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(schema["enum"], serde_json::json!(names));
        for scheme in SignatureScheme::ALL {
            assert_eq!(
                serde_json::json!(scheme),
                serde_json::json!(scheme.as_str())
            );
            assert_eq!(scheme.as_str().parse::<SignatureScheme>(), Ok(*scheme));
        }
    }

    #[test]
    fn a_standard_secret_is_whsec_and_the_base64_of_24_to_64_bytes() {
        use base64::Engine;
        let encode = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        for n in [24, 32, 64] {
            assert_eq!(
                standard_secret(&format!("whsec_{}", encode(n))),
                Some(vec![7u8; n])
            );
            let unpadded = format!("whsec_{}", encode(n).trim_end_matches('='));
            assert_eq!(standard_secret(&unpadded).map(|k| k.len()), Some(n));
        }
        for refused in [
            format!("whsec_{}", encode(23)),
            format!("whsec_{}", encode(65)),
            encode(32),
            "whsec_niet-base64!".to_owned(),
            "een-lang-gedeeld-geheim".to_owned(),
        ] {
            assert_eq!(standard_secret(&refused), None, "{refused}");
        }
    }
}
