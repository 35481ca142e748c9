//! `leernet-bench feed`: the change feed and webhooks, through the real server (in this
//! process, on a random port) over a new database, on SQLite and, given
//! `LEERNET_TEST_POSTGRES_URL`, on PostgreSQL.
//!
//! - **Full pull.** 1,000 practice examples of realistic size are written through the
//!   service; their change-log entries are then copied in SQL (new positions after the
//!   newest) until the log holds 1,000,000 entries. A reader follows `GET /api/v1/changes`
//!   from the start in pages of 1,000 to the end: entries/s of the whole pull, and the time
//!   of the first and of the last page (each fetched again 5 times, median).
//! - **Webhook deliveries/s.** Webhooks pointing at a receiver on loopback; 2,000 changes
//!   are written in two bulk upserts, and deliveries/s is counted from the first delivery
//!   received to the last, for one webhook (deliveries are in order per webhook, so one at
//!   a time) and for four.
//! - **Lag.** 8 writers commit 200 changes each through the service layer while a reader
//!   follows the feed over HTTP (asking again at once after a full page, after 5 ms after
//!   a short one); the lag of each change is the time from its writer's commit returning to
//!   the reader holding it: p50 and p99.
//!
//! `LEERNET_BENCH_FEED_ENTRIES` changes the size of the full pull (default 1,000,000).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use api::dto::ThemeInput;
use api::service::{Actor, PracticeExamples, Themes, create};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tests::{Backend, TestApp, token_for};

const PAGE: usize = 1_000;
const WRITERS: usize = 8;
const WRITES_PER_WRITER: usize = 200;

pub async fn run(backend: Backend) -> Result<()> {
    let entries: i64 = std::env::var("LEERNET_BENCH_FEED_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    full_pull(backend, entries).await?;
    for webhooks in [1, 4] {
        deliveries(backend, webhooks).await?;
    }
    lag(backend).await
}

/// A server over a new database, with the region and themes the examples name, and an
/// admin token.
async fn server(backend: Backend) -> Result<(TestApp, String)> {
    let app = TestApp::spawn_with(backend, |c| {
        c.rate_limit_per_minute = 10_000_000;
        c.webhook_poll_interval = Duration::from_secs(1).into();
        c.webhook_timeout = Duration::from_secs(10).into();
    })
    .await
    .context("a server")?;
    crate::example_references(&app.db).await?;
    let token = token_for(&app, "bench", "admin", "admin", &[]).await;
    Ok((app, token))
}

async fn sql(db: &DatabaseConnection, text: &str) -> Result<()> {
    db.execute_raw(Statement::from_string(db.get_database_backend(), text))
        .await
        .with_context(|| text.to_owned())?;
    Ok(())
}

async fn scalar(db: &DatabaseConnection, text: &str) -> Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), text))
        .await?
        .context("a row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Result<Value> {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("GET {path}: {}", response.status());
    }
    Ok(response.json().await?)
}

fn page_path(cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => format!("/api/v1/changes?limit={PAGE}&after={c}"),
        None => format!("/api/v1/changes?limit={PAGE}"),
    }
}

/// The median time of fetching `path` five times, in milliseconds.
async fn median_fetch(app: &TestApp, token: &str, path: &str) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        get_json(app, token, path).await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[2])
}

async fn full_pull(backend: Backend, entries: i64) -> Result<()> {
    let (app, token) = server(backend).await?;
    let actor = Actor::system();
    let seeded = Instant::now();
    let batch: Vec<_> = (0..1_000)
        .map(|i| (Some(format!("voorbeeld-{i}")), crate::example(i, 1)))
        .collect();
    api::service::resource::bulk_upsert::<PracticeExamples>(&app.db, &actor, &batch).await?;
    // Copy the entries, oldest first, after the newest position, until there are enough.
    loop {
        let count = scalar(&app.db, "SELECT COUNT(*) FROM change_log").await?;
        if count >= entries {
            break;
        }
        let newest = scalar(&app.db, "SELECT MAX(position) FROM change_log").await?;
        let n = (entries - count).min(count);
        sql(
            &app.db,
            &format!(
                "INSERT INTO change_log (position, resource_type, resource_id, op, version, \
                 changed_at, partner_id, owner_partner_id, audience, data) \
                 SELECT position + {newest}, resource_type, resource_id, op, version, changed_at, \
                 partner_id, owner_partner_id, audience, data FROM change_log \
                 ORDER BY position, seq LIMIT {n}"
            ),
        )
        .await?;
    }
    sql(
        &app.db,
        "UPDATE feed_clock SET n = (SELECT MAX(position) FROM change_log) WHERE id = 1",
    )
    .await?;
    if backend == Backend::Postgres {
        sql(&app.db, "VACUUM ANALYZE change_log").await?;
    }
    let total = scalar(&app.db, "SELECT COUNT(*) FROM change_log").await?;
    println!(
        "{backend:?}: a change log of {total} entries made in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let (mut cursor, mut read, mut pages) = (None::<String>, 0usize, 0usize);
    let mut last_page_from = None;
    loop {
        let page = get_json(&app, &token, &page_path(cursor.as_deref())).await?;
        read += page["items"].as_array().map_or(0, Vec::len);
        pages += 1;
        if page["hasMore"] != true {
            break;
        }
        last_page_from = cursor.clone();
        cursor = page["nextCursor"].as_str().map(str::to_owned);
    }
    let seconds = started.elapsed().as_secs_f64();
    let first = median_fetch(&app, &token, &page_path(None)).await?;
    let last = median_fetch(&app, &token, &page_path(last_page_from.as_deref())).await?;
    println!(
        "{backend:?}: full pull of {read} entries in {pages} pages of {PAGE}: {seconds:.1} s, \
         {:.0} entries/s; first page {first:.1} ms, last page {last:.1} ms (last/first {:.2})",
        read as f64 / seconds,
        last / first
    );
    app.stop().await?;
    Ok(())
}

/// A receiver on loopback that notes when each delivery arrived.
async fn receiver() -> Result<(String, Arc<Mutex<Vec<Instant>>>)> {
    let arrived: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = arrived.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: String| {
            let log = log.clone();
            async move {
                log.lock().expect("lock").push(Instant::now());
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, arrived))
}

async fn deliveries(backend: Backend, webhooks: usize) -> Result<()> {
    const CHANGES: usize = 2_000;
    let (app, token) = server(backend).await?;
    let (url, arrived) = receiver().await?;
    for i in 0..webhooks {
        let response = app
            .client
            .post(app.url("/api/v1/webhooks"))
            .bearer_auth(&token)
            .json(&json!({
                "url": format!("{url}?n={i}"),
                "types": ["themes"],
                "secret": "een-lang-gedeeld-geheim-voor-de-meting",
            }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("register a webhook: {}", response.status());
        }
    }
    let actor = Actor::system();
    for chunk in 0..CHANGES / 1_000 {
        let batch: Vec<_> = (0..1_000)
            .map(|i| {
                let n = chunk * 1_000 + i;
                (
                    Some(format!("thema-{n}")),
                    ThemeInput {
                        slug: Some(format!("thema-{n}")),
                        name: Some(format!("thema {n}")),
                        ..Default::default()
                    },
                )
            })
            .collect();
        api::service::resource::bulk_upsert::<Themes>(&app.db, &actor, &batch).await?;
    }
    let expected = CHANGES * webhooks;
    let deadline = Instant::now() + Duration::from_secs(600);
    while arrived.lock().expect("lock").len() < expected {
        if Instant::now() > deadline {
            bail!(
                "only {} of {expected} deliveries arrived",
                arrived.lock().expect("lock").len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let times = arrived.lock().expect("lock").clone();
    let span = times[times.len() - 1]
        .duration_since(times[0])
        .as_secs_f64();
    println!(
        "{backend:?}: {expected} webhook deliveries to {webhooks} webhook(s) on loopback: \
         {:.0} deliveries/s",
        (expected - 1) as f64 / span
    );
    app.stop().await?;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn lag(backend: Backend) -> Result<()> {
    let (app, token) = server(backend).await?;
    let app = Arc::new(app);
    // Follow from the newest entry: the setup's entries are not part of the measurement.
    let newest = get_json(&app, &token, "/api/v1/changes/newest").await?;
    let start = newest["cursor"].as_str().map(str::to_owned);
    let committed: Arc<Mutex<HashMap<(String, i64), Instant>>> = Arc::default();
    let expected = WRITERS * WRITES_PER_WRITER;

    let reader = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen: HashMap<(String, i64), Instant> = HashMap::new();
            while seen.len() < expected {
                let page = get_json(&app, &token, &page_path(cursor.as_deref())).await?;
                let now = Instant::now();
                let items = page["items"].as_array().cloned().unwrap_or_default();
                for item in &items {
                    let key = (
                        item["id"].as_str().unwrap_or_default().to_owned(),
                        item["version"].as_i64().unwrap_or_default(),
                    );
                    seen.entry(key).or_insert(now);
                }
                if let Some(c) = page["nextCursor"].as_str() {
                    cursor = Some(c.to_owned());
                }
                if items.len() < PAGE {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            anyhow::Ok(seen)
        })
    };

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (db, committed) = (app.db.clone(), committed.clone());
        writers.push(tokio::spawn(async move {
            let actor = Actor::system();
            for i in 0..WRITES_PER_WRITER {
                let theme = create::<Themes>(
                    &db,
                    &actor,
                    ThemeInput {
                        slug: Some(format!("thema-{w}-{i}")),
                        name: Some(format!("thema {w} {i}")),
                        ..Default::default()
                    },
                )
                .await?;
                committed
                    .lock()
                    .expect("lock")
                    .insert((theme.meta.id.to_string(), 1), Instant::now());
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let seen = tokio::time::timeout(Duration::from_secs(300), reader)
        .await
        .context("the reader did not see every change")???;
    let committed = committed.lock().expect("lock").clone();
    let mut lags: Vec<f64> = committed
        .iter()
        .filter_map(|(key, at)| {
            seen.get(key)
                .map(|s| s.saturating_duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    if lags.len() != expected {
        bail!("saw {} of {expected} changes", lags.len());
    }
    lags.sort_by(f64::total_cmp);
    println!(
        "{backend:?}: feed lag behind a commit, {WRITERS} writers, {expected} changes: \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags[lags.len() - 1]
    );
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await?;
    }
    Ok(())
}
