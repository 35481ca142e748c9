//! Where the [`Actor`] comes from: access tokens the service signs (OAuth 2.0 client
//! credentials, RFC 6749 §4.4; JWT access tokens, RFC 9068), the keys that sign them, and
//! the one verifier every HTTP face uses (the [`Actor`] extractor in [`extract`]).
//!
//! Tokens are EdDSA (Ed25519) JWTs with `typ: at+jwt` and a `kid`, carrying `iss`, `aud`,
//! `sub` (the partner id), `exp`, `iat`, `nbf`, `jti` and `scope`. Verification follows
//! RFC 8725: the key is chosen by `kid` among our own keys, and the accepted algorithm comes
//! from that key (EdDSA), never from the token's header; `exp`, `nbf`, `iss`, `aud` and
//! `sub` are required and checked with at most 60 s leeway; `typ` and an `iat` not in the
//! future are checked by our own code (the library does not); and the partner must still be
//! live, so revoking it stops its tokens at once. Tokens from a municipality's own identity
//! provider are accepted when its issuer is configured ([`external`]). Every actor counts
//! against its partner's rate limit ([`ratelimit`]), which REST and GraphQL share.

pub mod external;
pub mod extract;
pub mod keyring;
pub mod ratelimit;
pub mod token;

pub use keyring::KeyRing;
pub use token::{Claims, IssuedToken, issue};

use crate::service::Actor;

/// The audience of the service's own tokens, unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "leernet";

/// Most seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;

/// The scopes a partner may ask for, in the order the metadata lists them.
pub fn supported_scopes() -> Vec<String> {
    let mut scopes: Vec<String> = ["read", "changes:read", "webhooks:manage", "admin"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    scopes.extend(
        crate::service::partners::WRITABLE
            .iter()
            .map(|c| format!("write:{c}")),
    );
    scopes
}

/// Whether `actor` was authenticated (always, when it reached a handler): a marker for docs.
pub fn authenticated(_actor: &Actor) {}
