//! Leernet: one shared, trustworthy data model for Dutch health learning networks.
//!
//! Three thin faces — REST ([`rest`]), GraphQL ([`graphql`]) and the command line
//! ([`cli`]) — over one [`service`] layer, which alone talks to the database. Start-up (connect, migrate, seed
//! on first start, bind, serve, shut down gracefully) is in this file so that `main.rs`
//! and the tests start the same service.
#![warn(missing_docs)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod dto;
pub mod error;
pub mod graphql;
pub mod prometheus;
pub mod rest;
pub mod service;
pub mod state;
pub mod sync;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::cli::{Cli, Command};
use crate::config::{Config, DbConfig, redact};
use crate::service::Actor;
use crate::state::AppState;

/// The whole HTTP application over `state`: REST's face and GraphQL's, neither knowing the
/// other, under the middleware every response passes ([`rest::app`]).
pub fn app(state: AppState) -> axum::Router {
    let faces = graphql::routes(&state).merge(prometheus::routes(&state));
    rest::app(state, faces)
}

/// The `leernet` program: parse the command line, run it, and turn a failure into one line
/// on stderr and exit code 1. `main.rs` is this call and nothing else, so that the tests can
/// run the very same program as a child process (signals, exit codes, what stderr shows).
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = Cli::parse();
    let result = telemetry::init(cli.log_format, cli.log_filter.as_deref()).and_then(|()| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .and_then(|runtime| runtime.block_on(run(cli)))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("leernet: {}", format!("{error:#}").replace('\n', " "));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line (logging is the caller's to set up: [`main`] does).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            let server = Server::start(*config).await?;
            server.run(shutdown_signal()).await
        }
        Command::Migrate(db) => {
            let conn = connect(&db).await?;
            let applied = migrate(&conn).await?;
            println!("migrations applied: {applied}; the schema is up to date");
            conn.close().await.ok();
            Ok(())
        }
        Command::Seed(db) => {
            let conn = connect(&db).await?;
            migrate(&conn).await?;
            let report = service::seed::seed(&conn, &Actor::system())
                .await
                .map_err(|e| anyhow!("seeding failed: {e}"))?;
            println!("{report}");
            if let Some(demo) = &report.demo_admin {
                print_demo_admin(demo, &seed_token_url());
            }
            conn.close().await.ok();
            Ok(())
        }
        Command::Partner(command) => cli::partner(command).await,
        Command::Keys(command) => cli::keys(command).await,
        Command::Token(command) => cli::token(command).await,
        Command::Changes(command) => cli::changes(command).await,
        Command::Openapi => {
            println!("{}", rest::openapi::document());
            Ok(())
        }
        Command::GraphqlSchema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
    }
}

/// Prints the demo admin's credentials once, on standard output (never to the log), with
/// the command that gets a token from `token_url`.
pub fn print_demo_admin(demo: &service::partners::Credentials, token_url: &str) {
    println!(
        "demo admin partner (shown once, store it now):\n  clientId:     {}\n  clientSecret: {}\n  get a token:  curl -s -u '{}:{}' -d grant_type=client_credentials {token_url}",
        demo.client_id, demo.client_secret, demo.client_id, demo.client_secret
    );
}

/// Where `leernet serve` would answer token requests with the same environment
/// (`LEERNET_PUBLIC_URL`, else `LEERNET_ADDR`, else the default address): for `leernet
/// seed`, which runs without a server.
fn seed_token_url() -> String {
    let base = std::env::var("LEERNET_PUBLIC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            format!(
                "http://{}",
                std::env::var("LEERNET_ADDR").unwrap_or_else(|_| config::DEFAULT_ADDR.to_owned())
            )
        });
    format!("{}/oauth/token", base.trim_end_matches('/'))
}

/// Opens the database, with a one-line error a person can act on.
pub async fn connect(db: &DbConfig) -> anyhow::Result<DatabaseConnection> {
    let options = db.options()?;
    service::db::connect(&options).await.map_err(|e| {
        let reason = match e {
            sea_orm::DbErr::Custom(reason) => reason,
            other => other.to_string(),
        }
        .replace('\n', " ");
        anyhow!(
            "cannot open the database {}: {reason}",
            redact(&options.url)
        )
    })
}

/// Applies pending migrations; returns how many were applied.
pub async fn migrate(conn: &DatabaseConnection) -> anyhow::Result<usize> {
    let pending = Migrator::get_pending_migrations(conn)
        .await
        .context("cannot read the migration state")?
        .len();
    Migrator::up(conn, None)
        .await
        .context("migrating the database failed")?;
    Ok(pending)
}

/// A bound, migrated, ready-to-run service.
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Binds the address, then connects, migrates and seeds a new database (when
    /// configured). Binding first makes a port in use fail at once, before the database is
    /// touched; requests that arrive meanwhile wait in the listen backlog.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        config.check()?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|e| anyhow!("cannot listen on {}: {e}", config.addr))?;
        let db = connect(&config.db).await?;
        let first_start = Migrator::get_applied_migrations(&db)
            .await
            .map(|applied| applied.is_empty())
            .unwrap_or(true);
        migrate(&db).await?;
        if first_start && config.seed_on_first_start {
            let report = service::seed::seed(&db, &Actor::system())
                .await
                .map_err(|e| anyhow!("seeding the new database failed: {e}"))?;
            tracing::info!(%report, "new database seeded");
            if let Some(demo) = &report.demo_admin {
                let bound = listener.local_addr().unwrap_or(config.addr);
                print_demo_admin(
                    demo,
                    &format!("{}/oauth/token", config.tokens.issuer(bound)),
                );
            }
        }
        if let Err(error) = service::db::optimize(&db).await {
            tracing::warn!(%error, "the query planner's statistics could not be brought up to date");
        }
        let keys = auth::KeyRing::load(&db)
            .await
            .map_err(|e| anyhow!("cannot load the token signing keys: {e}"))?;
        let bound = listener.local_addr().unwrap_or(config.addr);
        tracing::info!(
            addr = %bound,
            backend = ?db.get_database_backend(),
            startup_ms = started.elapsed().as_millis() as u64,
            "leernet is ready"
        );
        Ok(Self {
            listener,
            state: AppState {
                db,
                keys: Arc::new(keys),
                issuer: config.tokens.issuer(bound),
                audience: config.tokens.token_audience.clone(),
                token_failures: Arc::new(auth::ratelimit::FailureLimits::new(
                    config.token_failures_per_minute,
                )),
                api_limits: Arc::new(auth::ratelimit::ApiLimits::new(
                    config.rate_limit_per_minute,
                )),
                external_issuers: Arc::new(auth::external::ExternalIssuers::new(
                    config.external_issuers.clone(),
                )),
                cache: Arc::new(service::cache::ReadCache::new(config.read_cache_size)),
                subscriptions: Arc::new(auth::ratelimit::Holds::new(
                    config.graphql_max_subscriptions,
                )),
                websockets: Arc::new(tokio::sync::Semaphore::new(config.graphql_max_websockets)),
                partner_websockets: Arc::new(auth::ratelimit::Holds::new(
                    config.graphql_max_subscriptions,
                )),
                pending_websockets: Arc::new(auth::ratelimit::Holds::new(
                    config.graphql_max_pending_websockets,
                )),
                stopping: Arc::new(tokio::sync::watch::channel(false).0),
                config: Arc::new(config),
            },
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.config.addr)
    }

    /// The database pool.
    pub fn db(&self) -> DatabaseConnection {
        self.state.db.clone()
    }

    /// Serves until `shutdown` resolves, then lets running requests finish (up to the
    /// configured timeout) and closes the pool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let config = self.state.config.clone();
        let grace: std::time::Duration = config.shutdown_timeout.into();
        let limits = connections::Limits {
            header_read_timeout: config.header_read_timeout.into(),
            keep_alive_timeout: config.keep_alive_timeout.into(),
            max_connections: config.max_connections,
        };
        let db = self.state.db.clone();
        let stopping = self.state.stopping.clone();
        let worker = tokio::spawn(sync::run(self.state.clone(), stopping.subscribe()));
        let relay = tokio::spawn(sync::relay(
            self.state.clone(),
            config.webhook_poll_interval.into(),
            stopping.subscribe(),
        ));
        let statistics = tokio::spawn({
            let (db, mut stopping) = (db.clone(), stopping.subscribe());
            async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(service::db::OPTIMIZE_EVERY) => {}
                        _ = stopping.wait_for(|stopping| *stopping) => return,
                    }
                    if let Err(error) = service::db::optimize(&db).await {
                        tracing::warn!(%error, "the query planner's statistics could not be brought up to date");
                    }
                }
            }
        });
        prometheus::serve(self.state.clone(), config.metrics_addr).await?;
        connections::serve(self.listener, app(self.state), limits, shutdown, grace).await;
        // Websockets close; the webhook worker finishes the delivery it is making (bounded
        // by its timeout).
        stopping.send_replace(true);
        relay.abort();
        statistics.abort();
        if tokio::time::timeout(grace, worker).await.is_err() {
            tracing::warn!("the webhook worker did not stop in time");
        }
        db.close().await.ok();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The registry of collections ([`collections!`]) against every list it cannot make: a
/// new collection missing from one fails here.
#[cfg(test)]
mod registry {
    use sea_orm::{EntityName, Iterable};

    use crate::service::Resource;

    /// Each collection's feed type, table, write scope, whether it has drafts, and its DTO.
    struct Entry {
        ty: &'static str,
        table: &'static str,
        scope: &'static str,
        drafts: bool,
        dto: &'static str,
        columns: Vec<String>,
    }

    macro_rules! entries {
        ($($R:ident => $Dto:ident;)+) => {
            fn entries() -> Vec<Entry> {
                vec![$(Entry {
                    ty: <crate::service::$R as Resource>::TYPE,
                    table: <<crate::service::$R as Resource>::Entity as Default>::default().table_name(),
                    scope: <crate::service::$R as Resource>::SCOPE,
                    drafts: <crate::service::$R as Resource>::DRAFT_STATUS.is_some(),
                    dto: stringify!($Dto),
                    columns: <<crate::service::$R as Resource>::Entity as sea_orm::EntityTrait>::Column::iter()
                        .map(|c| sea_orm::IdenStatic::as_str(&c).to_owned())
                        .collect(),
                },)+]
            }
        };
    }
    crate::collections!(entries);

    #[test]
    fn every_collection_is_in_every_list() {
        let entries = entries();
        assert_eq!(crate::service::changes::FEED_TYPES.len(), entries.len());
        let writable: Vec<&str> = entries
            .iter()
            .filter(|e| e.scope == e.ty)
            .map(|e| e.ty)
            .collect();
        assert_eq!(crate::service::partners::WRITABLE, writable.as_slice());
        let drafted: Vec<&str> = entries
            .iter()
            .filter(|e| e.drafts)
            .map(|e| e.table)
            .collect();
        assert_eq!(crate::service::resource::DRAFTED, drafted.as_slice());
        for (table, columns) in migration::search::SEARCHED {
            let entry = entries
                .iter()
                .find(|e| e.table == *table)
                .unwrap_or_else(|| panic!("the searched table {table} is no collection"));
            for column in *columns {
                assert!(
                    entry.columns.iter().any(|c| c == column),
                    "{table}.{column}"
                );
            }
        }
        let (_, api) = crate::rest::openapi::documented(1024);
        let sdl = crate::graphql::sdl();
        for entry in &entries {
            assert!(
                crate::service::TABLES.contains(&entry.table),
                "{} in TABLES",
                entry.table
            );
            let schemas = &api.components.as_ref().expect("components").schemas;
            for schema in [entry.dto.to_owned(), format!("Page_{}", entry.dto)] {
                assert!(schemas.contains_key(&schema), "REST: the schema {schema}");
            }
            for graphql in [
                format!("type {} implements Node", entry.dto),
                format!("type {}Connection", entry.dto),
                format!("create{}(", entry.dto),
                format!("update{}(", entry.dto),
                format!("delete{}(", entry.dto),
                format!("upsert{}(", entry.dto),
            ] {
                assert!(sdl.contains(&graphql), "GraphQL: {graphql}");
            }
        }
    }
}
