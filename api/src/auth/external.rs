//! Tokens from a municipality's own identity provider (Keycloak, Entra ID, ...): accepted
//! when their issuer is configured with its JWKS URL, the audience to expect and the claim
//! that names the partner (e.g. `azp` for a client's service account). The claim's value
//! acts only as the partner bound to (issuer, value) by `leernet partner bind` (or `partner
//! create --issuer`): an issuer cannot name partners of its own choosing, never the system
//! partner, and passes on admin rights only where the binding grants them.
//!
//! The issuer's keys are fetched with a timeout and cached; a token naming a `kid` not in
//! the cache makes one refetch, at most once per [`REFETCH_INTERVAL`] per issuer, so that
//! made-up `kid`s cannot turn the service into a load generator against the issuer. Each
//! key's algorithm comes from the key (its `alg`, else its type and curve), never from the
//! token's header; symmetric keys are never accepted.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::{Mutex, RwLock};

use crate::auth::LEEWAY_SECS;
use crate::auth::token::Invalid;

/// Least time between two fetches of one issuer's keys on an unknown `kid`.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// How long a fetch of an issuer's keys may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A configured external issuer, as given on the command line:
/// `issuer=https://...,jwks=https://.../certs,audience=leernet,claim=azp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIssuer {
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// Where its public keys are.
    pub jwks_url: String,
    /// The `aud` its tokens for this service carry.
    pub audience: String,
    /// The claim whose value names the partner (through its binding to this issuer).
    pub claim: String,
}

impl FromStr for ExternalIssuer {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let mut fields: HashMap<&str, &str> = HashMap::new();
        for part in spec.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=value"))?;
            fields.insert(key.trim(), value.trim());
        }
        let take = |key: &str| {
            fields
                .get(key)
                .filter(|v| !v.is_empty())
                .map(|v| (*v).to_owned())
                .ok_or_else(|| {
                    format!("{key}= is missing (issuer=URL,jwks=URL,audience=AUD,claim=CLAIM)")
                })
        };
        let issuer = ExternalIssuer {
            issuer: take("issuer")?,
            jwks_url: take("jwks")?,
            audience: take("audience")?,
            claim: take("claim")?,
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["issuer", "jwks", "audience", "claim"].contains(k))
        {
            return Err(format!("unknown key {unknown}"));
        }
        url::Url::parse(&issuer.jwks_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| format!("jwks={} is not an http(s) URL", issuer.jwks_url))?;
        Ok(issuer)
    }
}

/// An issuer's keys as last fetched.
#[derive(Default)]
struct Cache {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
}

/// The configured external issuers and their cached keys.
pub struct ExternalIssuers {
    issuers: Vec<(ExternalIssuer, RwLock<Cache>, Mutex<Option<Instant>>)>,
    http: reqwest::Client,
}

/// The algorithm a key is for: its `alg` if given, else what its type and curve allow.
fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    if let Some(alg) = &jwk.common.key_algorithm {
        let alg = Algorithm::from_str(&format!("{alg:?}")).ok()?;
        return (!matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .then_some(alg);
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => {
            (okp.curve == EllipticCurve::Ed25519).then_some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

/// What an external token says once verified: its subject, and its scopes.
pub struct ExternalClaims {
    /// The value of the issuer's partner claim (looked up among the issuer's bindings).
    pub partner: String,
    /// Its `scope` (or `scp`) claim, if any.
    pub scopes: Option<Vec<String>>,
}

impl ExternalIssuers {
    /// The issuers from the configuration.
    pub fn new(issuers: Vec<ExternalIssuer>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            issuers: issuers
                .into_iter()
                .map(|i| (i, RwLock::new(Cache::default()), Mutex::new(None)))
                .collect(),
            http,
        }
    }

    /// Whether `iss` is a configured external issuer.
    pub fn knows(&self, iss: &str) -> bool {
        self.issuers.iter().any(|(i, _, _)| i.issuer == iss)
    }

    /// Fetches an issuer's keys, unless they were fetched less than
    /// [`REFETCH_INTERVAL`] ago.
    async fn refetch(
        &self,
        issuer: &ExternalIssuer,
        cache: &RwLock<Cache>,
        last: &Mutex<Option<Instant>>,
    ) -> Result<(), Invalid> {
        let mut last = last.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let set: JwkSet = async {
            self.http
                .get(&issuer.jwks_url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await
        .map_err(|e| {
            tracing::warn!(issuer = %issuer.issuer, error = %e, "cannot fetch the issuer's keys");
            Invalid("the issuer's keys cannot be fetched right now")
        })?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let alg = algorithm_of(jwk)?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, (key, alg)))
            })
            .collect();
        cache.write().await.keys = keys;
        Ok(())
    }

    /// Verifies a token from external issuer `iss`.
    pub async fn verify(
        &self,
        iss: &str,
        kid: &str,
        token: &str,
    ) -> Result<ExternalClaims, Invalid> {
        let Some((issuer, cache, last)) = self.issuers.iter().find(|(i, _, _)| i.issuer == iss)
        else {
            return Err(Invalid("the token is from another issuer"));
        };
        let mut found = cache.read().await.keys.get(kid).cloned();
        if found.is_none() {
            self.refetch(issuer, cache, last).await?;
            found = cache.read().await.keys.get(kid).cloned();
        }
        let (key, algorithm) = found.ok_or(Invalid(
            "the token is signed with a key its issuer does not publish",
        ))?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&issuer.issuer]);
        validation.set_audience(&[&issuer.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|e| crate::auth::token::invalid_from(&e))?;
        let claims = data.claims;
        let partner = claims[issuer.claim.as_str()]
            .as_str()
            .ok_or(Invalid("the token does not name a partner"))?
            .to_owned();
        let scopes = claims["scope"]
            .as_str()
            .or_else(|| claims["scp"].as_str())
            .map(|s| s.split_whitespace().map(str::to_owned).collect());
        let iat = claims["iat"]
            .as_u64()
            .ok_or(Invalid("the token's iat is not a time"))?;
        if iat > crate::auth::token::unix_now() + LEEWAY_SECS {
            return Err(Invalid("the token is issued in the future"));
        }
        Ok(ExternalClaims { partner, scopes })
    }
}
