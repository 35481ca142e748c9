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
        _ => bail!("usage: leernet-bench writes"),
    }
}

async fn writes(backend: Backend) -> Result<()> {
    let mut figures = Vec::new();
    for _ in 0..3 {
        let test_db = TestDb::new(backend).await.context("a database")?;
        let db = connect(&DbOptions {
            url: test_db.url.clone(),
            max_connections: WRITERS as u32,
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
