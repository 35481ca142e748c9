//! The signing keys in memory: loaded from the database at start, and reloaded when a
//! token names a `kid` we do not know or when signing with keys older than
//! [`RELOAD_INTERVAL`] (another instance, or `leernet keys rotate`, may have rotated), at
//! most once per interval, so that a stream of made-up `kid`s cannot turn into a stream of
//! queries. The published keys (`/.well-known/jwks.json`) are served from memory: a stale
//! set is reloaded first, waiting at most [`REFRESH_WAIT`], and when the database does not
//! answer the keys in memory are served as they are, so that verifiers elsewhere keep
//! working while the database is down.

use std::time::{Duration, Instant};

use jsonwebtoken::{DecodingKey, EncodingKey};
use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, RwLock};

use crate::error::Result;
use crate::service::keys::{self, SigningKey};

/// Least time between two reloads on an unknown `kid`.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Longest a request for the published keys waits for a reload before it is served the
/// keys in memory.
pub const REFRESH_WAIT: Duration = Duration::from_secs(1);

/// A key ready to sign or verify.
#[derive(Clone)]
struct Loaded {
    key: SigningKey,
    decoding: DecodingKey,
}

/// The service's keys.
pub struct KeyRing {
    keys: RwLock<Vec<Loaded>>,
    last_reload: Mutex<Option<Instant>>,
    /// When the published keys were last reloaded or tried to be, held while one is.
    last_attempt: Mutex<Option<Instant>>,
}

impl KeyRing {
    /// Loads the published keys (making a first one when there is none).
    pub async fn load(db: &DatabaseConnection) -> Result<Self> {
        keys::ensure(db).await?;
        let ring = Self {
            keys: RwLock::new(Vec::new()),
            last_reload: Mutex::new(None),
            last_attempt: Mutex::new(None),
        };
        ring.reload(db).await?;
        Ok(ring)
    }

    async fn reload(&self, db: &DatabaseConnection) -> Result<()> {
        let loaded = keys::published(db)
            .await?
            .into_iter()
            .filter_map(|key| {
                let decoding = DecodingKey::from_ed_components(&key.x).ok()?;
                Some(Loaded { key, decoding })
            })
            .collect();
        *self.keys.write().await = loaded;
        *self.last_reload.lock().await = Some(Instant::now());
        Ok(())
    }

    /// Reloads now (after `leernet keys rotate` in this process, or on start).
    pub async fn refresh(&self, db: &DatabaseConnection) -> Result<()> {
        self.reload(db).await
    }

    /// Reloads the keys when they are older than [`RELOAD_INTERVAL`], trying at most once
    /// per interval and waiting at most [`REFRESH_WAIT`]; never fails: when the database
    /// does not answer (or another request is reloading), the keys in memory stay.
    pub async fn refresh_if_stale(&self, db: &DatabaseConnection) {
        let Ok(mut last_attempt) = self.last_attempt.try_lock() else {
            return;
        };
        if last_attempt.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) || !self.stale().await {
            return;
        }
        *last_attempt = Some(Instant::now());
        match tokio::time::timeout(REFRESH_WAIT, self.reload(db)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot reload the signing keys; publishing the loaded ones");
            }
            Err(_) => tracing::warn!(
                "reloading the signing keys takes too long; publishing the loaded ones"
            ),
        }
    }

    /// Whether the last reload is older than [`RELOAD_INTERVAL`].
    async fn stale(&self) -> bool {
        self.last_reload
            .lock()
            .await
            .is_none_or(|at| at.elapsed() >= RELOAD_INTERVAL)
    }

    /// The current key's id and its encoding key (reloaded first when stale, so that a
    /// rotation elsewhere is followed within [`RELOAD_INTERVAL`]).
    pub async fn signing(&self, db: &DatabaseConnection) -> Option<(String, EncodingKey)> {
        if self.stale().await
            && let Err(error) = self.reload(db).await
        {
            tracing::warn!(%error, "cannot reload the signing keys; signing with the loaded ones");
        }
        let keys = self.keys.read().await;
        keys.iter()
            .find(|k| k.key.current)
            .map(|k| (k.key.kid.clone(), EncodingKey::from_ed_der(&k.key.pkcs8)))
    }

    /// The verifying key for `kid`, reloading once (rate-limited) when it is unknown.
    pub async fn decoding(
        &self,
        db: &DatabaseConnection,
        kid: &str,
    ) -> Result<Option<DecodingKey>> {
        if let Some(found) = self.find(kid).await {
            return Ok(Some(found));
        }
        if !self.stale().await {
            return Ok(None);
        }
        self.reload(db).await?;
        Ok(self.find(kid).await)
    }

    async fn find(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .await
            .iter()
            .find(|k| k.key.kid == kid)
            .map(|k| k.decoding.clone())
    }

    /// The public keys as a JWK Set (RFC 7517).
    pub async fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .read()
            .await
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": k.key.x, "kid": k.key.kid,
                    "alg": "EdDSA", "use": "sig"
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}
