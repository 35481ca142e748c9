//! Issuing and verifying the service's access tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::external::ExternalIssuers;
use crate::auth::{KeyRing, LEEWAY_SECS};
use crate::error::{Error, Result};

/// The claims of an access token (RFC 9068).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer: the service's public URL.
    pub iss: String,
    /// The audience.
    pub aud: String,
    /// The partner id.
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// A unique id of this token.
    pub jti: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The OAuth client the token was issued to (absent for `leernet token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A signed token and what the token endpoint says about it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Signs a token for `partner_id` with `scopes`, valid for `ttl`.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one claim or the means to sign"
)]
pub async fn issue(
    ring: &KeyRing,
    db: &DatabaseConnection,
    issuer: &str,
    audience: &str,
    partner_id: Uuid,
    scopes: &[String],
    ttl: Duration,
    client_id: Option<String>,
) -> Result<IssuedToken> {
    let (kid, key) = ring
        .signing(db)
        .await
        .ok_or_else(|| Error::Unavailable("no signing key is loaded".to_owned()))?;
    let now = unix_now();
    let scope = scopes.join(" ");
    let claims = Claims {
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        sub: partner_id.to_string(),
        exp: now + ttl.as_secs(),
        iat: now,
        nbf: now,
        jti: Uuid::now_v7().to_string(),
        scope: scope.clone(),
        client_id,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid);
    header.typ = Some("at+jwt".to_owned());
    let token = jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| Error::internal(anyhow::anyhow!("signing a token: {e}")))?;
    Ok(IssuedToken {
        token,
        expires_in: ttl.as_secs(),
        scope,
    })
}

/// Why a token was refused: said to the caller without helping an attacker (no key
/// material, no hint which part of a signature failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

/// Who a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A partner, by id: our own tokens' `sub`.
    Partner(Uuid),
    /// The value of an external issuer's partner claim: it acts as the partner bound to
    /// (issuer, subject), if any (`leernet partner bind`).
    External {
        /// The issuer.
        issuer: String,
        /// The claim's value.
        subject: String,
    },
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Whom the token names.
    pub subject: Subject,
    /// The scopes granted; `None` when an external token grants none explicitly (then the
    /// partner's own scopes apply).
    pub scopes: Option<Vec<String>>,
}

/// Maps a library error to what the caller is told.
pub fn invalid_from(e: &jsonwebtoken::errors::Error) -> Invalid {
    use jsonwebtoken::errors::ErrorKind;
    Invalid(match e.kind() {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidIssuer => "the token is from another issuer",
        ErrorKind::InvalidAudience => "the token is for another audience",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted",
        _ => "the token's signature or contents are invalid",
    })
}

/// Verifies `token`: one of ours, or one from a configured external issuer.
pub async fn verify(
    ring: &KeyRing,
    external: &ExternalIssuers,
    db: &DatabaseConnection,
    issuer: &str,
    audience: &str,
    token: &str,
) -> std::result::Result<Verified, Invalid> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| Invalid("the token is not a JWT"))?;
    let kid = header
        .kid
        .clone()
        .ok_or(Invalid("the token names no signing key (kid)"))?;
    let typ = header.typ.as_deref().map(str::to_ascii_lowercase);
    // Which keys to check against is chosen by the (not yet verified) issuer; what is
    // accepted is then decided by those keys alone.
    let claimed_issuer =
        jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(token)
            .ok()
            .and_then(|c| c["iss"].as_str().map(str::to_owned));
    if let Some(iss) = claimed_issuer.as_deref()
        && iss != issuer
    {
        if !external.knows(iss) {
            return Err(Invalid("the token is from another issuer"));
        }
        if !matches!(typ.as_deref(), Some("at+jwt" | "jwt")) {
            return Err(Invalid("the token is not an access token (typ)"));
        }
        let claims = external.verify(iss, &kid, token).await?;
        return Ok(Verified {
            subject: Subject::External {
                issuer: iss.to_owned(),
                subject: claims.partner,
            },
            scopes: claims.scopes,
        });
    }
    if typ.as_deref() != Some("at+jwt") {
        return Err(Invalid(
            "the token is not an access token (typ must be at+jwt)",
        ));
    }
    let key = ring
        .decoding(db, &kid)
        .await
        .map_err(|_| Invalid("the signing keys cannot be read right now"))?
        .ok_or(Invalid(
            "the token is signed with a key this service does not know",
        ))?;
    // The algorithm comes from our key (Ed25519), never from the token's header.
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    // Decoded loosely so that a missing claim is reported as such by the required-claims
    // check, not as a shape error.
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .map_err(|e| invalid_from(&e))?;
    let claims = data.claims;
    let iat = claims["iat"]
        .as_u64()
        .ok_or(Invalid("the token's iat is not a time"))?;
    if iat > unix_now() + LEEWAY_SECS {
        return Err(Invalid("the token is issued in the future"));
    }
    let partner_id = claims["sub"]
        .as_str()
        .and_then(|s| Uuid::try_parse(s).ok())
        .ok_or(Invalid("the token's subject is not a partner"))?;
    Ok(Verified {
        subject: Subject::Partner(partner_id),
        scopes: Some(
            claims["scope"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        ),
    })
}
