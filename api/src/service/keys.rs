//! The service's token signing keys: Ed25519, kept in the database so that every instance
//! signs and verifies with the same keys.
//!
//! One key is current (it signs); rotating retires it and makes a new one. A retired key
//! stays published (`/.well-known/jwks.json`) and trusted until every token it signed has
//! expired (`published_until`), then it is dropped from both.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use chrono::{DateTime, Utc};
use entity::signing_key;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;

use crate::error::{Error, Result};
use crate::service::db::map_db_err;
use crate::service::resource::now;

/// A signing key as the token code uses it.
#[derive(Clone)]
pub struct SigningKey {
    /// Its key id (`kid`).
    pub kid: String,
    /// PKCS#8 DER of the private key.
    pub pkcs8: Vec<u8>,
    /// The raw 32-byte public key, base64url (the JWK's `x`).
    pub x: String,
    /// Whether it is the current (signing) key.
    pub current: bool,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

fn generate() -> Result<signing_key::ActiveModel> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let document = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|e| Error::internal(anyhow::anyhow!("generating a signing key: {e}")))?;
    let pair = Ed25519KeyPair::from_pkcs8(document.as_ref())
        .map_err(|e| Error::internal(anyhow::anyhow!("reading a new signing key: {e}")))?;
    let x = b64().encode(pair.public_key().as_ref());
    let created = now();
    let kid = format!("{}-{}", created.format("%Y%m%d"), &x[..8]);
    Ok(signing_key::ActiveModel {
        kid: Set(kid.clone()),
        algorithm: Set("EdDSA".to_owned()),
        private_key: Set(b64().encode(document.as_ref())),
        public_jwk: Set(json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"
        })),
        created_at: Set(created),
        retired_at: Set(None),
        published_until: Set(None),
    })
}

fn to_key(row: signing_key::Model) -> Result<SigningKey> {
    let pkcs8 = b64()
        .decode(&row.private_key)
        .map_err(|e| Error::internal(anyhow::anyhow!("signing key {}: {e}", row.kid)))?;
    let x = row
        .public_jwk
        .get("x")
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_owned();
    Ok(SigningKey {
        kid: row.kid,
        pkcs8,
        x,
        current: row.retired_at.is_none(),
    })
}

/// Makes a current key when there is none (first start). Two instances starting at once
/// may both make one; the newest then signs and both verify.
pub async fn ensure(db: &DatabaseConnection) -> Result<()> {
    let current = signing_key::Entity::find()
        .filter(signing_key::Column::RetiredAt.is_null())
        .one(db)
        .await
        .map_err(map_db_err)?;
    if current.is_none() {
        generate()?.insert(db).await.map_err(map_db_err)?;
    }
    Ok(())
}

/// Retires the current key (trusted until `trusted_until`, when the last token it signed
/// expires) and makes a new one. Answers the new key's id.
pub async fn rotate(db: &DatabaseConnection, trusted_until: DateTime<Utc>) -> Result<String> {
    let txn = crate::service::db::begin_immediate(db).await?;
    signing_key::Entity::update_many()
        .col_expr(signing_key::Column::RetiredAt, now().into())
        .col_expr(signing_key::Column::PublishedUntil, trusted_until.into())
        .filter(signing_key::Column::RetiredAt.is_null())
        .exec(&txn)
        .await
        .map_err(map_db_err)?;
    let key = generate()?.insert(&txn).await.map_err(map_db_err)?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(key.kid)
}

/// The keys to publish and trust: the current ones (newest first) and retired ones whose
/// tokens may still be valid.
pub async fn published(db: &DatabaseConnection) -> Result<Vec<SigningKey>> {
    signing_key::Entity::find()
        .filter(
            Condition::any()
                .add(signing_key::Column::RetiredAt.is_null())
                .add(signing_key::Column::PublishedUntil.gt(now())),
        )
        .order_by_desc(signing_key::Column::CreatedAt)
        .all(db)
        .await
        .map_err(map_db_err)?
        .into_iter()
        .map(to_key)
        .collect()
}
