//! The integration-test harness: real databases, the real server on a random port.
//!
//! [`TestApp::spawn`] gives each test a fresh database — a temporary SQLite file, or a new
//! PostgreSQL database (created from `LEERNET_TEST_POSTGRES_URL` and dropped when the test
//! ends) — migrates it, starts the real HTTP server on port 0 and hands back a client.
//! [`both_backends!`] turns one test body into a SQLite test and a PostgreSQL test.

use std::net::SocketAddr;

use api::config::Config;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The environment variable naming a PostgreSQL server to test against, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_ENV: &str = "LEERNET_TEST_POSTGRES_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the PostgreSQL server named by [`POSTGRES_ENV`].
    Postgres,
}

/// A fresh, empty database that is removed when dropped.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// Creates a database; `None` when the backend is PostgreSQL and none is configured.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temporary directory");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("leernet.db").display()
                );
                Some(Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
                    eprintln!(
                        "{POSTGRES_ENV} is not set: skipping the PostgreSQL run of this test"
                    );
                    return None;
                };
                let name = format!("leernet_test_{}", Uuid::now_v7().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("connect to {POSTGRES_ENV}: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                Some(Self {
                    url,
                    backend,
                    _dir: None,
                    postgres: Some((admin_url, name)),
                })
            }
        }
    }
}

/// `postgres://u@h:5432/postgres?x` with database `name` instead.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any async context we could await in: use a small runtime on a
        // thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// The real service on a random port, over a fresh database.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// A pool on the same database, for service calls and checks.
    pub db: DatabaseConnection,
    /// Which backend.
    pub backend: Backend,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The database (kept alive for the test's duration).
    pub test_db: TestDb,
}

impl TestApp {
    /// Starts the service over a fresh, migrated (not seeded) database; `None` when the
    /// backend is not available.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with a chance to change the configuration first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<Self> {
        let test_db = TestDb::new(backend).await?;
        let mut config = Config::for_database(&test_db.url);
        configure(&mut config);
        let server = api::Server::start(config).await.expect("start the service");
        let addr = server.local_addr();
        let db = server.db();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Some(Self {
            addr,
            client: reqwest::Client::new(),
            db,
            backend,
            stop: Some(stop),
            server: Some(server),
            test_db,
        })
    }

    /// The issuer (`iss`) of this service's tokens.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Defines a test that runs once on SQLite and once on PostgreSQL:
///
/// ```ignore
/// both_backends!(async fn a_thing_works(backend) { ... });
/// ```
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            use super::*;

            async fn body($backend: $crate::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body($crate::Backend::Postgres).await;
            }
        }
    };
}

/// Starts a [`TestApp`] for `backend`, or returns from the test when the backend is not
/// configured (PostgreSQL without `LEERNET_TEST_POSTGRES_URL`).
#[macro_export]
macro_rules! app_or_skip {
    ($backend:expr) => {
        match $crate::TestApp::spawn($backend).await {
            Some(app) => app,
            None => return,
        }
    };
}

/// `SELECT COUNT(*)` of `table` with an optional `WHERE` clause.
pub async fn count(db: &DatabaseConnection, table: &str, filter: &str) -> i64 {
    let sql = if filter.is_empty() {
        format!("SELECT COUNT(*) AS n FROM {table}")
    } else {
        format!("SELECT COUNT(*) AS n FROM {table} WHERE {filter}")
    };
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .expect("count query")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("a count")
}

/// Inserts an unconfined partner row (API client) named `name` and returns an
/// [`api::service::Actor`] for it with `scopes`, as a token would give. Tests that need a
/// confined partner set `confinement` on the result.
pub async fn partner(db: &DatabaseConnection, name: &str, scopes: &[&str]) -> api::service::Actor {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let now = chrono::Utc::now();
    let row = entity::partner::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        kind: Set("municipality".to_owned()),
        scopes: Set(scopes.join(" ")),
        require_if_match: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        revoked_at: Set(None),
        unconfined: Set(true),
    }
    .insert(db)
    .await
    .expect("insert a partner");
    api::service::Actor {
        partner_id: row.id,
        kind: "municipality".to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        confinement: api::service::Confinement::Unconfined,
        require_if_match: false,
        request_id: None,
    }
}

/// Makes a partner (`kind`, space-separated `scopes`; confined to `regions` by CBS code, or
/// unconfined when none are given) and answers a token for it from the real
/// `/oauth/token`, as a partner gets one.
pub async fn token_for(
    app: &TestApp,
    name: &str,
    kind: &str,
    scopes: &str,
    regions: &[&str],
) -> String {
    let credentials = api::service::partners::create(
        &app.db,
        api::service::partners::NewPartner {
            name: name.to_owned(),
            kind: kind.to_owned(),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            unconfined: regions.is_empty(),
            ..Default::default()
        },
    )
    .await
    .expect("a partner");
    token_with(app, &credentials).await
}

/// A token from the real `/oauth/token` for a partner's `credentials`.
pub async fn token_with(
    app: &TestApp,
    credentials: &api::service::partners::Credentials,
) -> String {
    token_from(&app.client, &app.issuer(), credentials).await
}

/// A token from the `/oauth/token` of the service at `base` (`http://host:port`) for a
/// partner's `credentials`: another process's too.
pub async fn token_from(
    client: &reqwest::Client,
    base: &str,
    credentials: &api::service::partners::Credentials,
) -> String {
    let response: serde_json::Value = client
        .post(format!("{base}/oauth/token"))
        .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("a token request")
        .json()
        .await
        .expect("a token response");
    response["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// Sends `method path` with an optional JSON `body` as `token`'s partner; answers the
/// status, the headers and the JSON body (`null` when there is none).
pub async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    serde_json::Value,
) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("a request");
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}
