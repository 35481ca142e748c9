//! `Idempotency-Key` on creates: the same key with the same request within 24 hours gets
//! the first response again, and creates nothing; the same key with another request is
//! refused (422).
//!
//! The remembered response is written in the same transaction as the create, so a crash
//! cannot leave a created row without its key (a retry would create it twice). Two
//! requests with one key at once are ordered by a transaction-scoped advisory lock on
//! (partner, key) on PostgreSQL (SQLite runs writers one at a time): the second waits for
//! the first to commit, then replays its response.

use chrono::Duration;
use entity::idempotency_key;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, Statement,
};

use crate::error::{Error, Result};
use crate::service::db::{is_postgres, map_db_err, write};
use crate::service::resource::{create_in, now};
use crate::service::{Actor, Resource};

/// How long a key is remembered.
pub const KEY_LIFETIME_HOURS: i64 = 24;

/// A create's answer: made now, or the first answer to the same key replayed.
#[derive(Debug, Clone)]
pub enum Outcome<T> {
    /// Created by this request.
    Created(T),
    /// The first response to this key, with its status.
    Replayed(u16, serde_json::Value),
}

/// What identifies a request (or a key) among others: the URL-safe base64 of the SHA-256 of
/// `text`, which each face makes of what names its request (REST: the method, path and
/// body; GraphQL: the type, field and input).
pub fn digest(text: &str) -> String {
    use base64::Engine;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Refuses a key that cannot be one: empty, longer than 255 bytes, or with control
/// characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "Idempotency-Key",
            "must be 1 to 255 characters without control characters",
        ));
    }
    Ok(())
}

/// Creates `input` unless `key` was used before: then replays (same request) or refuses
/// (another request). `request_hash` identifies the request (method, path and body).
pub async fn create_once<R: Resource>(
    db: &DatabaseConnection,
    actor: &Actor,
    key: &str,
    request_hash: &str,
    input: R::Input,
) -> Result<Outcome<R::Dto>> {
    actor.require_write(R::SCOPE)?;
    check_key(key)?;
    let input = &input;
    write(db, move |tx| async move {
        let conn = tx.conn();
        if is_postgres(conn.get_database_backend()) {
            conn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                [format!("idempotency/{}/{key}", actor.partner_id).into()],
            ))
            .await
            .map_err(map_db_err)?;
        }
        // Keys past their lifetime are forgotten as the partner makes new ones.
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::PartnerId.eq(actor.partner_id))
            .filter(idempotency_key::Column::CreatedAt.lt(now() - Duration::hours(KEY_LIFETIME_HOURS)))
            .exec(conn)
            .await
            .map_err(map_db_err)?;
        let existing = idempotency_key::Entity::find()
            .filter(idempotency_key::Column::PartnerId.eq(actor.partner_id))
            .filter(idempotency_key::Column::Key.eq(key))
            .one(conn)
            .await
            .map_err(map_db_err)?;
        if let Some(existing) = existing {
            if existing.request_hash != request_hash {
                return Err(Error::Unprocessable(
                    "this Idempotency-Key was used for another request; use a new key for a new request".to_owned(),
                ));
            }
            let body = serde_json::from_str(&existing.response_body).map_err(Error::internal)?;
            let status = u16::try_from(existing.response_status).unwrap_or(201);
            return Ok((tx, Outcome::Replayed(status, body)));
        }
        let dto = create_in::<R>(&tx, actor, input, R::external_id(input)).await?;
        let body = serde_json::to_value(&dto).map_err(Error::internal)?;
        idempotency_key::ActiveModel {
            partner_id: Set(actor.partner_id),
            key: Set(key.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            response_status: Set(201),
            response_body: Set(body.to_string()),
            created_at: Set(now()),
        }
        .insert(conn)
        .await
        .map_err(map_db_err)?;
        Ok((tx, Outcome::Created(dto)))
    })
    .await
}
