//! What every request handler can reach.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::KeyRing;
use crate::auth::external::ExternalIssuers;
use crate::auth::ratelimit::ApiLimits;
use crate::auth::ratelimit::FailureLimits;
use crate::config::Config;

/// Shared state of the running service.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The settings it was started with.
    pub config: Arc<Config>,
    /// The token signing keys.
    pub keys: Arc<KeyRing>,
    /// The tokens' issuer (`iss`): the public URL.
    pub issuer: String,
    /// The tokens' audience (`aud`).
    pub audience: String,
    /// Failed token requests, per client id and address.
    pub token_failures: Arc<FailureLimits>,
    /// API calls per partner.
    pub api_limits: Arc<ApiLimits>,
    /// List pages and stats keyed by the change feed.
    pub cache: Arc<crate::service::cache::ReadCache>,
    /// Identity providers whose tokens are accepted too.
    pub external_issuers: Arc<ExternalIssuers>,
    /// GraphQL subscriptions held open, per partner.
    pub subscriptions: Arc<crate::auth::ratelimit::Holds>,
    /// Room for authenticated websockets (`--graphql-max-websockets`).
    pub websockets: Arc<tokio::sync::Semaphore>,
    /// Authenticated websockets, per partner (at most `--graphql-max-subscriptions`).
    pub partner_websockets: Arc<crate::auth::ratelimit::Holds>,
    /// Websockets not yet authenticated, per address.
    pub pending_websockets: Arc<crate::auth::ratelimit::Holds<std::net::IpAddr>>,
    /// Set when the service stops: what runs on its own (the webhook worker, websockets)
    /// ends.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}
