//! Configuration: every setting is a command-line flag and a `LEERNET_*` environment
//! variable (plus `DATABASE_URL`), with a default that works on a fresh machine, and is
//! listed with that default in `leernet <command> --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use crate::service::db::DbOptions;

/// The address `leernet serve` listens on by default.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The default `--api-contact-email`: a placeholder in a domain reserved never to exist
/// (`.invalid`, RFC 2606), so that the document has the address linters ask for and
/// plainly names none; an operator sets a mailbox that is read.
pub const DEFAULT_CONTACT_EMAIL: &str = "api@leernet.invalid";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// Database URL: `postgres://user@host/db` or `sqlite://path/to/file.db`. Default: the
    /// SQLite file `leernet.db` in the data directory, created on first start.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the embedded SQLite database (used when no database URL is given).
    #[arg(long, env = "LEERNET_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,

    /// Maximum number of pooled database connections. Default: 4 per core (at least 8) on
    /// PostgreSQL, whose connections wait on the network between statements; 2 per core (at
    /// least 4) on SQLite, which reads on the service's own cores.
    #[arg(long, env = "LEERNET_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,

    /// How long a SQLite writer waits for another writer before giving up (e.g. `5s`).
    #[arg(long, env = "LEERNET_DB_BUSY_TIMEOUT", default_value = "5s")]
    pub db_busy_timeout: humantime::Duration,

    /// How long to wait for a database connection (e.g. `5s`).
    #[arg(long, env = "LEERNET_DB_CONNECT_TIMEOUT", default_value = "5s")]
    pub db_connect_timeout: humantime::Duration,
}

impl DbConfig {
    /// The database URL to use, checking the data directory for the SQLite default.
    pub fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            let url = url.trim();
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                return Ok(url.to_owned());
            }
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                if path.is_empty() {
                    bail!("DATABASE_URL {url:?} names no file; use e.g. sqlite://leernet.db");
                }
                let mut url = url.to_owned();
                if !path.contains("mode=") && !path.contains(":memory:") {
                    url.push(if path.contains('?') { '&' } else { '?' });
                    url.push_str("mode=rwc");
                }
                return Ok(url);
            }
            bail!(
                "DATABASE_URL must start with postgres:// or sqlite://, got {:?}",
                redact(url)
            );
        }
        let dir = &self.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let probe = dir.join(".leernet-write-test");
        std::fs::write(&probe, b"")
            .with_context(|| format!("the data directory {} is not writable", dir.display()))?;
        let _ = std::fs::remove_file(&probe);
        Ok(format!(
            "sqlite://{}?mode=rwc",
            dir.join("leernet.db").display()
        ))
    }

    /// Pool options for [`crate::service::db::connect`].
    pub fn options(&self) -> anyhow::Result<DbOptions> {
        if self.db_max_connections == Some(0) {
            bail!("--db-max-connections (LEERNET_DB_MAX_CONNECTIONS) must be at least 1");
        }
        let url = self.url()?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        let max_connections = self.db_max_connections.unwrap_or_else(|| {
            if url.starts_with("postgres") {
                (4 * cores).max(8)
            } else {
                (2 * cores).max(4)
            }
        });
        Ok(DbOptions {
            url,
            max_connections,
            busy_timeout: self.db_busy_timeout.into(),
            connect_timeout: self.db_connect_timeout.into(),
        })
    }
}

/// Settings of `leernet serve`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where the data lives.
    #[command(flatten)]
    pub db: DbConfig,

    /// Address and port to listen on.
    #[arg(long, env = "LEERNET_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,

    /// Load the seed data when the database is created (first start).
    #[arg(long, env = "LEERNET_SEED_ON_FIRST_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub seed_on_first_start: bool,

    /// How long to let running requests finish on SIGINT/SIGTERM (e.g. `30s`).
    #[arg(long, env = "LEERNET_SHUTDOWN_TIMEOUT", default_value = "30s")]
    pub shutdown_timeout: humantime::Duration,

    /// Longest a request may take before it is answered with 503 (e.g. `30s`).
    #[arg(long, env = "LEERNET_REQUEST_TIMEOUT", default_value = "30s")]
    pub request_timeout: humantime::Duration,

    /// How long a client may take to send a request's head (request line and header
    /// fields) once it has begun, and a new connection to begin its first request; a slower
    /// connection is closed.
    #[arg(long, env = "LEERNET_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: humantime::Duration,

    /// How long a client may take to send a request's body, from the end of its head; a
    /// slower body is answered 408.
    #[arg(long, env = "LEERNET_BODY_READ_TIMEOUT", default_value = "20s")]
    pub body_read_timeout: humantime::Duration,

    /// How long an idle keep-alive connection waits for its next request before it is
    /// closed (longer than a load balancer's idle timeout, commonly 60 s).
    #[arg(long, env = "LEERNET_KEEP_ALIVE_TIMEOUT", default_value = "75s")]
    pub keep_alive_timeout: humantime::Duration,

    /// Most connections open at once. One more closes the oldest idle connection, and is
    /// refused only when all are serving requests. Keep it below the file limit (`ulimit
    /// -n`) less the database pool.
    #[arg(long, env = "LEERNET_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,

    /// Address to serve Prometheus metrics on (`GET /metrics`), apart from the API's so
    /// that partners never reach it; unset, metrics are not served.
    #[arg(long, env = "LEERNET_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// A secret of at least 32 visible ASCII characters (surrounding whitespace dropped)
    /// with which `GET /metrics` is also served on the
    /// API's address, to a scraper sending `Authorization: Bearer <secret>` (for a platform
    /// that reaches an instance on one port only); unset, the API's address has no
    /// `/metrics`. Prefer the environment variable: a flag shows in the process list.
    #[arg(long, env = "LEERNET_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<MetricsToken>,

    /// Requests running at once (the health checks not counted); one more is answered 503
    /// with `Retry-After` at once rather than queued behind them.
    #[arg(long, env = "LEERNET_MAX_CONCURRENT_REQUESTS", default_value_t = 256)]
    pub max_concurrent_requests: usize,

    /// Who the service's tokens are from and for.
    #[command(flatten)]
    pub tokens: TokenConfig,

    /// How long an access token from `/oauth/token` is valid (e.g. `15m`).
    #[arg(long, env = "LEERNET_TOKEN_TTL", default_value = "15m")]
    pub token_ttl: humantime::Duration,

    /// Failed token requests allowed per client id from one address per minute (four times
    /// as many per address, ten per client id) before `/oauth/token` answers 429.
    #[arg(long, env = "LEERNET_TOKEN_FAILURES_PER_MINUTE", default_value_t = 10)]
    pub token_failures_per_minute: u32,

    /// API calls each partner may make per minute (in bursts of up to as many); past it,
    /// 429 with `Retry-After`.
    #[arg(long, env = "LEERNET_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u32,

    /// An identity provider whose access tokens are accepted too:
    /// `issuer=URL,jwks=URL,audience=AUD,claim=CLAIM`, where the claim's value (e.g.
    /// `claim=azp`) acts as the partner bound to it with `leernet partner bind`. Repeat the
    /// flag, or separate several with `;` in the variable.
    #[arg(
        long = "external-issuer",
        env = "LEERNET_EXTERNAL_ISSUERS",
        value_delimiter = ';'
    )]
    pub external_issuers: Vec<crate::auth::external::ExternalIssuer>,

    /// The largest request body accepted, in bytes; a larger one is answered 413.
    #[arg(long, env = "LEERNET_MAX_BODY_SIZE", default_value_t = 1024 * 1024)]
    pub max_body_size: usize,

    /// Bytes of list pages and stats kept in memory, keyed by the change feed (answers are
    /// counted at their JSON size); 0 keeps none.
    #[arg(long, env = "LEERNET_READ_CACHE_SIZE", default_value_t = 64 * 1024 * 1024)]
    pub read_cache_size: usize,

    /// Deepest a GraphQL query may nest its fields (the fields of introspection, `__schema`
    /// and `__type`, not counted); a deeper query is refused before it runs.
    #[arg(long, env = "LEERNET_GRAPHQL_MAX_DEPTH", default_value_t = 10)]
    pub graphql_max_depth: usize,

    /// Highest cost a GraphQL query may have: a field costs 1 plus what it selects, a
    /// connection `first` (or `last`; 50 when neither is given) times what one of its edges
    /// selects; a costlier query is refused before it runs.
    #[arg(long, env = "LEERNET_GRAPHQL_MAX_COMPLEXITY", default_value_t = 20_000)]
    pub graphql_max_complexity: usize,

    /// Most aliased fields (`a: networks`, `b: networks`) a GraphQL query may hold, counted
    /// through its fragments; a query with more is refused before it runs.
    #[arg(long, env = "LEERNET_GRAPHQL_MAX_ALIASES", default_value_t = 50)]
    pub graphql_max_aliases: usize,

    /// Most fields an operation may select at its root (each a read or a write of its own),
    /// counted through its fragments; more is refused before it runs.
    #[arg(long, env = "LEERNET_GRAPHQL_MAX_ROOT_FIELDS", default_value_t = 30)]
    pub graphql_max_root_fields: usize,

    /// The GraphQL cost that counts as one call against the partner's rate limit: an
    /// operation counts as its cost divided by this, rounded up, and at least one call.
    #[arg(long, env = "LEERNET_GRAPHQL_COST_PER_CALL", default_value_t = 100)]
    pub graphql_cost_per_call: usize,

    /// Most GraphQL documents kept for automatic persisted queries (sent once with their
    /// SHA-256, then by the hash alone); 0 turns them off.
    #[arg(
        long,
        env = "LEERNET_GRAPHQL_PERSISTED_QUERIES",
        default_value_t = 1_000
    )]
    pub graphql_persisted_queries: usize,

    /// Most operations one GraphQL request may carry as a batch (a JSON array of requests),
    /// each counted against the rate limit; 0 refuses batches.
    #[arg(long, env = "LEERNET_GRAPHQL_MAX_BATCH", default_value_t = 0)]
    pub graphql_max_batch: usize,

    /// Most GraphQL subscriptions one partner may hold open at once, over all its
    /// websockets; one more is refused with `too_many_subscriptions`.
    #[arg(long, env = "LEERNET_GRAPHQL_MAX_SUBSCRIPTIONS", default_value_t = 10)]
    pub graphql_max_subscriptions: usize,

    /// Most operations (subscriptions, queries, mutations) running at once over one
    /// websocket; one more closes it (1008, with the reason).
    #[arg(
        long,
        env = "LEERNET_GRAPHQL_MAX_SOCKET_OPERATIONS",
        default_value_t = 20
    )]
    pub graphql_max_socket_operations: usize,

    /// Most authenticated websockets (`/graphql/ws`) open at once, over all partners; the
    /// `connection_init` of one more is refused (the socket closes with the reason). They
    /// are not counted in `--max-connections`.
    #[arg(long, env = "LEERNET_GRAPHQL_MAX_WEBSOCKETS", default_value_t = 1_000)]
    pub graphql_max_websockets: usize,

    /// Websockets one address may hold open before they have sent their
    /// `connection_init` (with the token); one more is answered 503. Authenticated ones
    /// count in `--graphql-max-websockets` instead.
    #[arg(
        long,
        env = "LEERNET_GRAPHQL_MAX_PENDING_WEBSOCKETS",
        default_value_t = 16
    )]
    pub graphql_max_pending_websockets: usize,

    /// Time a new websocket has to send its `connection_init` (with the token); one that
    /// has not is closed.
    #[arg(long, env = "LEERNET_GRAPHQL_WS_INIT_TIMEOUT", default_value = "10s")]
    pub graphql_ws_init_timeout: humantime::Duration,

    /// How often a subscription looks for new changes when no notification came (on
    /// PostgreSQL a committed change wakes it at once; on SQLite a write of this process
    /// does, another process's is found here).
    #[arg(
        long,
        env = "LEERNET_GRAPHQL_SUBSCRIPTION_POLL_INTERVAL",
        default_value = "1s"
    )]
    pub graphql_subscription_poll_interval: humantime::Duration,

    /// Answer GraphQL introspection (`__schema`, `__type`), which tools read the schema by.
    #[arg(long, env = "LEERNET_GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphql_introspection: bool,

    /// How long a level of a GraphQL answer gathers the keys of its relations (a page of
    /// networks' regions, themes, practice examples) before reading them in one statement
    /// per relation; keys that come later are read in another.
    #[arg(long, env = "LEERNET_GRAPHQL_BATCH_DELAY", default_value = "1ms")]
    pub graphql_batch_delay: humantime::Duration,

    /// Origins browsers may call the API from (CORS), comma-separated, or `*`; none by
    /// default.
    #[arg(long, env = "LEERNET_CORS_ALLOW_ORIGINS", value_delimiter = ',')]
    pub cors_allow_origins: Vec<String>,

    /// Let webhooks reach loopback and private addresses (tests, local development only).
    #[arg(long, env = "LEERNET_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// How long a webhook receiver may take to answer.
    #[arg(long, env = "LEERNET_WEBHOOK_TIMEOUT", default_value = "10s")]
    pub webhook_timeout: humantime::Duration,

    /// Failures in a row after which a webhook is disabled.
    #[arg(long, env = "LEERNET_WEBHOOK_MAX_FAILURES", default_value_t = 10)]
    pub webhook_max_failures: i32,

    /// How often the webhook worker looks for due deliveries when idle.
    #[arg(long, env = "LEERNET_WEBHOOK_POLL_INTERVAL", default_value = "1s")]
    pub webhook_poll_interval: humantime::Duration,

    /// Live webhooks one partner may have: each is a queue the worker serves, so one
    /// partner's many slow receivers would hold back everyone else's deliveries.
    #[arg(long, env = "LEERNET_WEBHOOK_MAX_PER_PARTNER", default_value_t = 10)]
    pub webhook_max_per_partner: u64,

    /// Send `Strict-Transport-Security` (set it when the service is reached over TLS).
    #[arg(long, env = "LEERNET_HSTS", default_value_t = false, action = clap::ArgAction::Set)]
    pub hsts: bool,

    /// Where partners read about the API and find whom to ask: `info.contact.url` of the
    /// OpenAPI document (an http or https URL). Default: the public URL's `/docs`.
    #[arg(long, env = "LEERNET_API_CONTACT_URL")]
    pub api_contact_url: Option<String>,

    /// The address partners write to about the API: `info.contact.email` of the OpenAPI
    /// document; empty leaves it out. The default is a placeholder that reaches no one
    /// (`api@leernet.invalid`): set a mailbox that is read.
    #[arg(long, env = "LEERNET_API_CONTACT_EMAIL", default_value = DEFAULT_CONTACT_EMAIL)]
    pub api_contact_email: String,
}

/// The issuer and audience of the service's access tokens; `serve` and `token` must agree.
#[derive(Debug, Clone, Args)]
pub struct TokenConfig {
    /// The service's public base URL as partners reach it, e.g. `https://leernet.example.nl`:
    /// the tokens' issuer (`iss`) and the base of the metadata's URLs. Default:
    /// `http://<addr>`.
    #[arg(long, env = "LEERNET_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The audience (`aud`) of the service's access tokens.
    #[arg(long, env = "LEERNET_TOKEN_AUDIENCE", default_value = "leernet")]
    pub token_audience: String,
}

impl TokenConfig {
    /// The issuer for a service listening on `addr`.
    pub fn issuer(&self, addr: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{addr}"),
        }
    }
}

impl Config {
    /// `info.contact.url` of the document served with `issuer` as the public URL.
    pub fn contact_url(&self, issuer: &str) -> String {
        self.api_contact_url
            .clone()
            .unwrap_or_else(|| format!("{}/docs", issuer.trim_end_matches('/')))
    }

    /// Settings for a test or an embedded use: the given database, a random local port.
    pub fn for_database(database_url: &str) -> Self {
        Self {
            db: DbConfig {
                database_url: Some(database_url.to_owned()),
                data_dir: PathBuf::from("."),
                db_max_connections: Some(4),
                db_busy_timeout: Duration::from_secs(10).into(),
                db_connect_timeout: Duration::from_secs(5).into(),
            },
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed_on_first_start: false,
            shutdown_timeout: Duration::from_secs(5).into(),
            request_timeout: Duration::from_secs(30).into(),
            header_read_timeout: Duration::from_secs(10).into(),
            body_read_timeout: Duration::from_secs(20).into(),
            keep_alive_timeout: Duration::from_secs(75).into(),
            max_connections: 512,
            max_concurrent_requests: 256,
            metrics_addr: None,
            metrics_token: None,
            tokens: TokenConfig {
                public_url: None,
                token_audience: crate::auth::DEFAULT_AUDIENCE.to_owned(),
            },
            token_ttl: Duration::from_secs(15 * 60).into(),
            token_failures_per_minute: 10,
            rate_limit_per_minute: 6_000,
            external_issuers: Vec::new(),
            max_body_size: 1024 * 1024,
            read_cache_size: 16 * 1024 * 1024,
            graphql_max_depth: 10,
            graphql_max_complexity: 20_000,
            graphql_max_aliases: 50,
            graphql_max_root_fields: 30,
            graphql_cost_per_call: 100,
            graphql_persisted_queries: 1_000,
            graphql_max_batch: 0,
            graphql_introspection: true,
            graphql_max_subscriptions: 10,
            graphql_max_socket_operations: 20,
            graphql_max_websockets: 1_000,
            graphql_max_pending_websockets: 16,
            graphql_ws_init_timeout: Duration::from_secs(10).into(),
            graphql_subscription_poll_interval: Duration::from_millis(200).into(),
            graphql_batch_delay: Duration::from_millis(1).into(),
            cors_allow_origins: Vec::new(),
            hsts: false,
            webhook_allow_private: true,
            webhook_timeout: Duration::from_secs(2).into(),
            webhook_max_failures: 10,
            webhook_poll_interval: Duration::from_millis(100).into(),
            webhook_max_per_partner: 10,
            api_contact_url: None,
            api_contact_email: DEFAULT_CONTACT_EMAIL.to_owned(),
        }
    }

    /// Refuses settings the service cannot run with.
    pub fn check(&self) -> anyhow::Result<()> {
        for (flag, value) in [
            ("--header-read-timeout", self.header_read_timeout),
            ("--body-read-timeout", self.body_read_timeout),
            ("--keep-alive-timeout", self.keep_alive_timeout),
            ("--request-timeout", self.request_timeout),
        ] {
            if Duration::from(value).is_zero() {
                bail!("{flag} must be longer than 0s");
            }
        }
        if let Some(token) = &self.metrics_token
            && (token.0.len() < 32 || !token.0.bytes().all(|b| b.is_ascii_graphic()))
        {
            bail!(
                "--metrics-token (LEERNET_METRICS_TOKEN) must be at least 32 visible ASCII characters, without spaces (a scraper sends it in a header)"
            );
        }
        if self.max_concurrent_requests == 0 {
            bail!("--max-concurrent-requests (LEERNET_MAX_CONCURRENT_REQUESTS) must be at least 1");
        }
        if self.max_connections == 0 {
            bail!("--max-connections (LEERNET_MAX_CONNECTIONS) must be at least 1");
        }
        if self.graphql_max_depth == 0 {
            bail!("--graphql-max-depth (LEERNET_GRAPHQL_MAX_DEPTH) must be at least 1");
        }
        if self.graphql_max_complexity == 0 {
            bail!("--graphql-max-complexity (LEERNET_GRAPHQL_MAX_COMPLEXITY) must be at least 1");
        }
        if self.graphql_max_socket_operations == 0 {
            bail!(
                "--graphql-max-socket-operations (LEERNET_GRAPHQL_MAX_SOCKET_OPERATIONS) must be at least 1"
            );
        }
        if self.graphql_max_root_fields == 0 {
            bail!("--graphql-max-root-fields (LEERNET_GRAPHQL_MAX_ROOT_FIELDS) must be at least 1");
        }
        if self.graphql_max_websockets == 0 {
            bail!("--graphql-max-websockets (LEERNET_GRAPHQL_MAX_WEBSOCKETS) must be at least 1");
        }
        if self.graphql_cost_per_call == 0 {
            bail!("--graphql-cost-per-call (LEERNET_GRAPHQL_COST_PER_CALL) must be at least 1");
        }
        if let Some(url) = &self.api_contact_url {
            // The rule every URL a partner sends is held to: a host, no credentials.
            let mut check = crate::service::check::Check::new();
            check.url("url", &Some(url.clone()));
            if !check.is_ok() {
                bail!(
                    "--api-contact-url (LEERNET_API_CONTACT_URL) must be an http or https URL with a host and no credentials, got {url:?}"
                );
            }
        }
        let email = &self.api_contact_email;
        let plausible = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        }) && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c));
        if !email.is_empty() && !plausible {
            bail!(
                "--api-contact-email (LEERNET_API_CONTACT_EMAIL) must be an email address such as api@example.nl (or empty), got {email:?}"
            );
        }
        Ok(())
    }
}

/// Names of parameters that carry a password in a database URL's query or a key=value
/// connection string (libpq's `password` and `sslpassword`, and common short forms).
const SECRET_PARAMETERS: &[&str] = &["password", "pass", "pwd", "sslpassword"];

/// The scraper's secret for `/metrics` on the API's address (`--metrics-token`), never
/// shown in a log or a debug print.
#[derive(Clone)]
pub struct MetricsToken(pub String);

impl std::str::FromStr for MetricsToken {
    type Err = std::convert::Infallible;

    /// Surrounding whitespace is not part of the secret (a secret read from a file ends
    /// with a newline).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.trim().to_owned()))
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

/// A database URL with every credential replaced by `***`, for messages and logs: the
/// password of the user info (`postgres://user:***@host`) and the value of every
/// `password=`, `pass=`, `pwd=` or `sslpassword=` parameter, whatever its case and also
/// when its name is percent-encoded (`pass%77ord=`).
pub fn redact(url: &str) -> String {
    let (prefix, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    // The user info ends at the last `@` before the query: a password may hold an `@`.
    let authority_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) if !prefix.is_empty() => {
            let (userinfo, tail) = rest.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***{tail}"),
                None => rest.to_owned(),
            }
        }
        _ => rest.to_owned(),
    };
    format!("{prefix}{}", redact_parameters(&rest))
}

/// `name=value` pieces separated by `?`, `&`, `;` or white space, with the value of a
/// secret parameter replaced.
fn redact_parameters(text: &str) -> String {
    const SEPARATORS: [char; 6] = ['?', '&', ';', ' ', '\t', '\n'];
    text.split_inclusive(SEPARATORS)
        .map(|piece| {
            let body = piece.strip_suffix(SEPARATORS).unwrap_or(piece);
            let separator = &piece[body.len()..];
            match body.split_once('=') {
                Some((name, _)) if is_secret_parameter(name) => format!("{name}=***{separator}"),
                _ => piece.to_owned(),
            }
        })
        .collect()
}

fn is_secret_parameter(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name.trim()).decode_utf8_lossy();
    SECRET_PARAMETERS
        .iter()
        .any(|secret| decoded.eq_ignore_ascii_case(secret))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn every_form_of_a_password_is_redacted() {
        let cases = [
            (
                "postgres://leernet:hunter2@db:5432/leernet",
                "postgres://leernet:***@db:5432/leernet",
            ),
            (
                "postgres://leernet:hun%40ter2@db/leernet",
                "postgres://leernet:***@db/leernet",
            ),
            (
                "postgres://leernet:hun@ter2@db/leernet",
                "postgres://leernet:***@db/leernet",
            ),
            (
                "postgres://leernet@db/leernet?password=hunter2",
                "postgres://leernet@db/leernet?password=***",
            ),
            (
                "postgres://db/leernet?sslmode=require&PassWord=hunter2&application_name=x",
                "postgres://db/leernet?sslmode=require&PassWord=***&application_name=x",
            ),
            (
                "postgres://db/leernet?pass=hunter2",
                "postgres://db/leernet?pass=***",
            ),
            (
                "postgres://db/leernet?PWD=hunter2",
                "postgres://db/leernet?PWD=***",
            ),
            (
                "postgres://db/leernet?sslpassword=hunter2&sslmode=verify-full",
                "postgres://db/leernet?sslpassword=***&sslmode=verify-full",
            ),
            (
                "postgres://db/leernet?pass%77ord=hunter2",
                "postgres://db/leernet?pass%77ord=***",
            ),
            (
                "postgres://db/leernet?%70assword=hun%74er2",
                "postgres://db/leernet?%70assword=***",
            ),
            (
                "postgres://u:a@db/leernet?password=b",
                "postgres://u:***@db/leernet?password=***",
            ),
            (
                "mysql://root:hunter2@localhost/x",
                "mysql://root:***@localhost/x",
            ),
            (
                "host=db user=leernet password=hunter2 dbname=x",
                "host=db user=leernet password=*** dbname=x",
            ),
            (
                "sqlite://leernet.db?mode=rwc",
                "sqlite://leernet.db?mode=rwc",
            ),
            (
                "postgres://leernet@db/leernet",
                "postgres://leernet@db/leernet",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected, "{url}");
            assert!(
                !redact(url).contains("hunter2") && !redact(url).contains("hun"),
                "{url}"
            );
        }
    }
}
