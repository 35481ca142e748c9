//! `leernet-bench`: measurements of the service layer that print figures.
//!
//! ```sh
//! cargo run --release -p bench -- writes
//! LEERNET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --release -p bench -- writes
//! ```
//!
//! `writes`: 8 concurrent writers, each creating and then updating its own themes through
//! the service layer (every write with its change-log and audit entries), on a new SQLite
//! file and, when `LEERNET_TEST_POSTGRES_URL` names a PostgreSQL server (as for the tests),
//! on a new PostgreSQL database there (dropped afterwards).
//! Prints writes per second, the median of three runs.
//!
//! `log-size`: what the change log costs on disk. Writes 2,000 practice examples (a
//! summary of about 1,200 characters, three themes, two links) and updates each once, then
//! prints the change log's bytes per entry (table, TOAST and indexes) and per million
//! entries.
//!
//! `feed`: the change feed's full pull, webhook deliveries/s and the feed's lag behind a
//! commit (see [`feed`]).
//!
//! `rest`: the REST API's requests/s and latencies over a realistic data set (served by
//! the release binary), the first against the 1,000th page, and on PostgreSQL the
//! database's own ceiling for a list page (see [`rest`]).
//!
//! `graphql`: the GraphQL face's requests/s, latencies, statements and memory for three
//! queries over the same data set, and on PostgreSQL PostGraphile 5 beside it (see
//! [`graphql`]).
//!
//! `dataset URL`: writes the data set of `rest` into the database at `URL` and keeps it.
//!
//! `plans`: on PostgreSQL, `EXPLAIN (ANALYZE, BUFFERS)` of every statement each REST
//! endpoint issues over the same data set (see [`rest::plans`]).

mod feed;
mod graphql;
mod rest;

use std::time::Instant;

use anyhow::{Context, Result, bail};
use api::dto::ThemeInput;
use api::service::db::{DbOptions, connect};
use api::service::{Actor, Themes, create, update};
use migration::{Migrator, MigratorTrait};
use tests::{Backend, POSTGRES_ENV, TestDb};

const WRITERS: usize = 8;
const ROWS_PER_WRITER: usize = 100;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("writes") => {
            writes(Backend::Sqlite).await?;
            if std::env::var(POSTGRES_ENV).is_ok() {
                writes(Backend::Postgres).await?;
            }
            Ok(())
        }
        Some("log-size") => {
            log_size(Backend::Sqlite).await?;
            if std::env::var(POSTGRES_ENV).is_ok() {
                log_size(Backend::Postgres).await?;
            }
            Ok(())
        }
        Some("feed") => {
            feed::run(Backend::Sqlite).await?;
            if std::env::var(POSTGRES_ENV).is_ok() {
                feed::run(Backend::Postgres).await?;
            }
            Ok(())
        }
        Some("rest") => rest::run().await,
        Some("graphql") => graphql::run().await,
        Some("plans") => rest::plans().await,
        Some("dataset") => match args.get(1) {
            Some(url) => rest::keep(url).await,
            None => bail!("usage: leernet-bench dataset DATABASE_URL"),
        },
        _ => bail!(
            "usage: leernet-bench writes | log-size | feed | rest | graphql | plans | dataset URL"
        ),
    }
}

async fn writes(backend: Backend) -> Result<()> {
    let mut figures = Vec::new();
    for _ in 0..3 {
        let test_db = TestDb::new(backend).await.context("a database")?;
        let db = connect(&DbOptions {
            url: test_db.url.clone(),
            // One more for the feed's stamping runs (PostgreSQL), as a server's pool has.
            max_connections: WRITERS as u32 + 1,
            busy_timeout: std::time::Duration::from_secs(30),
            connect_timeout: std::time::Duration::from_secs(5),
        })
        .await?;
        Migrator::up(&db, None).await?;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let actor = Actor::system();
                for i in 0..ROWS_PER_WRITER {
                    let input = |name: String| ThemeInput {
                        slug: Some(format!("thema-{w}-{i}")),
                        name: Some(name),
                        ..Default::default()
                    };
                    let theme =
                        create::<Themes>(&db, &actor, input(format!("thema {w} {i}"))).await?;
                    update::<Themes>(
                        &db,
                        &actor,
                        theme.meta.id,
                        input(format!("thema {w} {i} (2)")),
                        None,
                    )
                    .await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let elapsed = started.elapsed();
        let total = WRITERS * ROWS_PER_WRITER * 2;
        figures.push(total as f64 / elapsed.as_secs_f64());
        db.close().await.ok();
    }
    figures.sort_by(f64::total_cmp);
    println!(
        "{backend:?}: {WRITERS} writers, {} writes each: {:.0} writes/s (median of 3; runs: {})",
        ROWS_PER_WRITER * 2,
        figures[1],
        figures
            .iter()
            .map(|f| format!("{f:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// A practice example of realistic size: the length of the seeded one's sections.
fn example(i: usize, version: usize) -> api::dto::PracticeExampleInput {
    let summary = "Studenten, docenten en professionals werken in de wijk samen met bewoners aan \
        een gezonde leefstijl; "
        .repeat(12);
    api::dto::PracticeExampleInput {
        slug: Some(format!("voorbeeld-{i}")),
        title: Some(format!("Praktijkvoorbeeld {i} (versie {version})")),
        year: Some(2023),
        region_code: Some("GM0114".into()),
        summary: Some(summary),
        themes: Some(vec![
            "voeding".into(),
            "rookvrij".into(),
            "leefbaarheid".into(),
        ]),
        links: Some(vec![
            api::dto::LinkInput {
                title: Some("Verslag".into()),
                url: Some(format!("https://example.org/verslag/{i}")),
            },
            api::dto::LinkInput {
                title: Some("Website".into()),
                url: Some("https://example.org".into()),
            },
        ]),
        status: Some("published".into()),
        collection: Some("#GemeenteDelers 2023".into()),
        ..Default::default()
    }
}

/// The region and themes [`example`] names.
async fn example_references(db: &sea_orm::DatabaseConnection) -> Result<()> {
    use api::dto::RegionInput;
    use api::service::Regions;
    let actor = Actor::system();
    create::<Regions>(
        db,
        &actor,
        RegionInput {
            code: Some("GM0114".into()),
            name: Some("Emmen".into()),
            kind: Some("municipality".into()),
            ..Default::default()
        },
    )
    .await?;
    for slug in ["voeding", "rookvrij", "leefbaarheid"] {
        create::<Themes>(
            db,
            &actor,
            ThemeInput {
                slug: Some(slug.into()),
                name: Some(slug.into()),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}

async fn log_size(backend: Backend) -> Result<()> {
    use api::service::PracticeExamples;
    use sea_orm::{ConnectionTrait, Statement};
    const EXAMPLES: usize = 2_000;
    let test_db = TestDb::new(backend).await.context("a database")?;
    let db = connect(&DbOptions {
        url: test_db.url.clone(),
        max_connections: 4,
        busy_timeout: std::time::Duration::from_secs(30),
        connect_timeout: std::time::Duration::from_secs(5),
    })
    .await?;
    Migrator::up(&db, None).await?;
    let actor = Actor::system();
    example_references(&db).await?;
    for i in 0..EXAMPLES {
        let created = create::<PracticeExamples>(&db, &actor, example(i, 1)).await?;
        update::<PracticeExamples>(&db, &actor, created.meta.id, example(i, 2), None).await?;
    }
    let backend_db = db.get_database_backend();
    let sql = match backend {
        Backend::Postgres => {
            "SELECT pg_total_relation_size('change_log')::bigint AS bytes, \
             (SELECT COUNT(*) FROM change_log)::bigint AS n, \
             (SELECT AVG(length(data::text))::bigint FROM change_log) AS data"
        }
        Backend::Sqlite => {
            "SELECT (SELECT SUM(pgsize) FROM dbstat WHERE name = 'change_log' OR name IN \
             (SELECT name FROM sqlite_master WHERE tbl_name = 'change_log' AND type = 'index')) AS bytes, \
             (SELECT COUNT(*) FROM change_log) AS n, \
             (SELECT CAST(AVG(length(data)) AS INTEGER) FROM change_log) AS data"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(backend_db, sql))
        .await?
        .context("a row")?;
    let bytes: i64 = row.try_get("", "bytes")?;
    let n: i64 = row.try_get("", "n")?;
    let data: i64 = row.try_get("", "data")?;
    let per_entry = bytes as f64 / n as f64;
    println!(
        "{backend:?}: change log of {n} entries (data {data} bytes of JSON on average): {per_entry:.0} bytes per entry, \
         {:.2} GiB per million entries",
        per_entry * 1e6 / (1024.0 * 1024.0 * 1024.0)
    );
    db.close().await.ok();
    Ok(())
}
