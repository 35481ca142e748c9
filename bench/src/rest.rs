//! `rest`: what the REST API serves over a realistic data set, measured from outside.
//!
//! ```sh
//! bench/rest                                             # SQLite
//! bench/rest postgres://postgres@127.0.0.1:5432/postgres # and PostgreSQL
//! LEERNET_BENCH_SCALE=0.05 LEERNET_BENCH_SECONDS=2 bench/rest ...   # a quick look
//! ```
//!
//! For each backend (SQLite; PostgreSQL when `LEERNET_TEST_POSTGRES_URL` is set, as for the
//! tests) on a new, migrated, unseeded database:
//!
//! 1. [`dataset`] writes a realistic data set through the service layer (`bulk_upsert` in
//!    batches of 1,000 as the system partner, four side by side on PostgreSQL, so rows,
//!    versions and change-log entries are real): the region tree of 12 provinces (`PVxx`), 342 municipalities (`GMxxxx`) and
//!    3,000 districts (`WKxxxxxx`), 12 themes, 500 networks, 50,000 practice examples (all
//!    published or archived, so every reader sees them) and 20,000 assignments. Practice
//!    examples and assignments lie in a province (10%), a municipality (60%) or a district
//!    (30%); their texts are Dutch sentences with inflected forms (`bewegen`/`beweging`,
//!    `gezonde`/`gezondheid`, `wijk`/`wijken`) and one of 40 rarer topics each.
//!    `LEERNET_BENCH_SCALE` (default 1) scales networks, practice examples and
//!    assignments; the region tree is always whole. PostgreSQL is then `VACUUM ANALYZE`d,
//!    as autovacuum would soon do; SQLite is left as the service leaves it. Prints how
//!    long it took and the database's size.
//! 2. Starts the release server (`leernet serve`, next to this program) over it with the
//!    response cache off (`--read-cache-size 0`), makes a read-only dashboard partner and
//!    a token, and runs `wrk -t2 -c32 -d<secs>s --latency --timeout 30s`
//!    (`LEERNET_BENCH_SECONDS`, default 10) against: a list page of 50 filtered by a province's subtree and a theme; a read
//!    by id; two full-text searches, a word most texts hold (`beweging`; PostgreSQL's Dutch
//!    stemming also finds `bewegen`, SQLite looks for the substring) and one a text in 40
//!    holds (`valpreventie`); the stats by municipality; and `/health/live` (the ceiling of
//!    the HTTP stack). Prints requests/s, p50, p99 and failed requests (with wrk's
//!    account of them), and how many practice examples each list matches (the stats by
//!    year count them). wrk runs on the same cores as the server. Before each run (and
//!    before 3.) it waits, up to 30 s, for the machine to be idle, so that requests wrk
//!    abandoned at the end of a run (still running in the server or the database) do not
//!    slow the next. Errors the server logged are printed after the table. On PostgreSQL
//!    each endpoint but the last is set beside pgbench (prepared, 32 clients) on the best
//!    single statement written by hand for the same answer ([`Best`]). Then the server
//!    runs again with the cache on, and the list and the stats are measured over a
//!    rotation of 200 distinct queries each (a wrk Lua script).
//! 3. Walks the unfiltered list (50 a page, following `nextCursor`) to page 1,000 (or the
//!    last page, at a smaller scale) and prints the median time of page 1 and of that page
//!    (15 fetches each, the same cursor) and their ratio.
//! 4. PostgreSQL only: the database's own ceiling for one list page. The exact statements
//!    one list-page request issues are captured from the running service: the bench
//!    database gets `log_statement = 'all'`, a second server run answers one warm-up
//!    request and then the request captured, and PostgreSQL's log is read through SQL
//!    (`pg_read_binary_file`, which needs a superuser; the log is `LEERNET_BENCH_PG_LOG`,
//!    `pg_current_logfile()`, or Debian's `/var/log/postgresql/postgresql-<major>-main.log`,
//!    the first that exists). Each `statement:`/`execute` entry of the bench database after
//!    the warm-up, with the values of its `DETAIL: parameters` inlined, becomes a line of a
//!    pgbench script, in order: the partner look-up, then the read transaction as the
//!    service runs it (`BEGIN`, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ
//!    ONLY`, the statements, `COMMIT`). Prints the statements, the transactions/s of
//!    `pgbench -n -c 32 -j 2 -T <secs>` (list pages/s the database alone can serve; the
//!    service holds `LEERNET_DB_MAX_CONNECTIONS` connections, default 8), the same with
//!    `-M prepared` (each statement planned once), and the service's list-page rate as a
//!    share of the first.
//!
//! The server and the databases go when it ends (the PostgreSQL one is dropped). It prints
//! figures; it never fails on a time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use api::dto::{
    AssignmentInput, LinkInput, NetworkInput, NetworkRegionInput, PracticeExampleInput,
    RegionInput, ThemeInput,
};
use api::service::db::{DbOptions, connect};
use api::service::resource::{MAX_BULK, bulk_upsert};
use api::service::{
    Actor, Assignments, Networks, PracticeExamples, Regions, Resource, Themes, partners,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::prelude::{ChronoDate, Uuid};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use tests::{Backend, POSTGRES_ENV, TestDb};

/// A word most texts hold (on PostgreSQL, with `bewegen`, nearly all).
const COMMON_WORD: &str = "beweging";
/// A word one text in 40 holds.
const RARE_WORD: &str = "valpreventie";

/// The twelve provinces, with their CBS codes.
const PROVINCES: [(&str, &str); 12] = [
    ("PV20", "Groningen"),
    ("PV21", "Fryslân"),
    ("PV22", "Drenthe"),
    ("PV23", "Overijssel"),
    ("PV24", "Flevoland"),
    ("PV25", "Gelderland"),
    ("PV26", "Utrecht"),
    ("PV27", "Noord-Holland"),
    ("PV28", "Zuid-Holland"),
    ("PV29", "Zeeland"),
    ("PV30", "Noord-Brabant"),
    ("PV31", "Limburg"),
];
const MUNICIPALITIES: usize = 342;
const DISTRICTS: usize = 3_000;

/// The seed's themes and four more, so that a theme filter selects a fraction of the rows.
static THEMES: std::sync::LazyLock<Vec<(&str, &str)>> = std::sync::LazyLock::new(|| {
    let more = [
        ("eenzaamheid", "eenzaamheid"),
        ("mentale-gezondheid", "mentale gezondheid"),
        ("armoede-en-schulden", "armoede en schulden"),
        ("gezond-opgroeien", "gezond opgroeien"),
    ];
    api::service::seed::THEMES
        .iter()
        .copied()
        .chain(more)
        .collect()
});

/// Sentences the texts are made of.
const SENTENCES: [&str; 24] = [
    "Studenten en bewoners werken samen aan meer beweging in de wijk.",
    "Kinderen bewegen te weinig, dus wordt het schoolplein een plek om te spelen en te bewegen.",
    "Een gezonde leefstijl begint bij gezonde voeding in de schoolkantine.",
    "De gemeente investeert in de gezondheid van ouderen in kwetsbare wijken.",
    "Buurtsportcoaches organiseren wekelijks wandelgroepen voor eenzame ouderen.",
    "Jongeren ontwerpen samen met de hogeschool een campagne voor een rookvrije generatie.",
    "Huisartsen verwijzen patiënten naar een programma in het buurthuis.",
    "Het project verbindt zorg en welzijn met sport en bewegen.",
    "Bewoners van de wijken Noord en Zuid delen hun ervaringen in een leernetwerk.",
    "De aanpak is gebaseerd op positieve gezondheid en eigen regie.",
    "Mbo-studenten koken gezonde maaltijden met statushouders.",
    "Het groen in de wijk nodigt uit tot ontmoeting en ontspanning.",
    "Er is aandacht voor schulden, stress en gezondheidsverschillen.",
    "Vrijwilligers begeleiden gezinnen naar betaalbare sportverenigingen.",
    "De resultaten worden gedeeld met andere gemeenten in de provincie.",
    "Lerarenopleidingen brengen dagelijks bewegen in het onderwijs.",
    "Een living lab onderzoekt hoe de fysieke leefomgeving gezond gedrag uitlokt.",
    "Ouders en scholen maken afspraken over water drinken en gezonde traktaties.",
    "Wijkverpleegkundigen signaleren eenzaamheid vroeg en zoeken samen naar oplossingen.",
    "Studenten onderzoeken hoe veilig en uitnodigend de speelplekken zijn.",
    "De wethouder opende het nieuwe beweegpark naast de bibliotheek.",
    "Na twee jaar is de samenwerking tussen onderwijs en praktijk stevig verankerd.",
    "Inwoners bepalen zelf welke activiteiten er in hun buurt komen.",
    "De gemeenteraad trok extra geld uit voor preventie en gezondheidsbevordering.",
];

/// What one text in 40 pays special attention to.
const RARE: [&str; 40] = [
    "valpreventie",
    "hittestress",
    "mantelzorg",
    "laaggeletterdheid",
    "voedselbanken",
    "schuldhulpverlening",
    "zwemvaardigheid",
    "fietsveiligheid",
    "slaapproblemen",
    "schermgebruik",
    "gehoorschade",
    "huiselijk geweld",
    "alcoholgebruik",
    "vapen",
    "dementie",
    "diabetes",
    "overgewicht",
    "mondzorg",
    "zonbescherming",
    "luchtkwaliteit",
    "geluidsoverlast",
    "energiearmoede",
    "statushouders",
    "eenoudergezinnen",
    "burn-out",
    "prestatiedruk",
    "pesten",
    "digitale vaardigheden",
    "zorgmijders",
    "dakloosheid",
    "verslaving",
    "rouwverwerking",
    "jonge ouders",
    "voorleesprojecten",
    "moestuinen",
    "watertappunten",
    "speeltuinen",
    "wandelroutes",
    "buurtmaaltijden",
    "kinderarmoede",
];

const TOPICS: [&str; 16] = [
    "Samen bewegen",
    "De gezonde school",
    "Rookvrije generatie",
    "Beweegvriendelijke wijken",
    "Gezond ouder worden",
    "Voeding op het mbo",
    "Ontmoeten in de buurt",
    "Gezonde leefomgeving",
    "Kansrijk opgroeien",
    "Sportief de wijk in",
    "Positieve gezondheid in de praktijk",
    "Groene schoolpleinen",
    "Schuldhulp en gezondheid",
    "Samen tegen eenzaamheid",
    "Water drinken op school",
    "Buurtsport voor iedereen",
];

const NAME_START: [&str; 19] = [
    "Noord", "Zuid", "Oost", "West", "Groot", "Klein", "Nieuw", "Oud", "Hoog", "Laag", "Sint",
    "Ter", "Wester", "Ooster", "Heer", "Holt", "Mark", "Zand", "Berg",
];
const NAME_END: [&str; 19] = [
    "broek", "dam", "veen", "horst", "wijk", "dorp", "burg", "hoven", "zijl", "loo", "sloot",
    "kerk", "hem", "rade", "berg", "meer", "woude", "haven", "voorde",
];

/// What [`dataset`] made.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The provinces' CBS codes.
    pub provinces: Vec<String>,
    /// The themes' slugs.
    pub themes: Vec<String>,
    /// Regions (provinces, municipalities, districts).
    pub regions: usize,
    /// Networks (`netwerk-<i>`).
    pub networks: usize,
    /// Practice examples (`praktijkvoorbeeld-<i>`, all published or archived).
    pub practice_examples: usize,
    /// Student assignments.
    pub assignments: usize,
    /// How long each collection took to write.
    pub took: Vec<(&'static str, Duration)>,
}

/// A number from `i` and `salt`, the same every run (SplitMix64).
fn mix(i: usize, salt: u64) -> u64 {
    let mut z = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One of `n`, for item `i`.
fn pick(i: usize, salt: u64, n: usize) -> usize {
    (mix(i, salt) % n as u64) as usize
}

/// `count` sentences for item `i`.
fn text(i: usize, salt: u64, count: usize) -> String {
    (0..count)
        .map(|k| SENTENCES[pick(i, salt + k as u64, SENTENCES.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// One to three distinct theme slugs for item `i`.
fn themes_of(i: usize, salt: u64) -> Vec<String> {
    let first = pick(i, salt, THEMES.len());
    (0..=pick(i, salt + 1, 3))
        .map(|k| THEMES[(first + 5 * k) % THEMES.len()].0.to_owned())
        .collect()
}

fn municipality_code(m: usize) -> String {
    format!("GM{:04}", m + 1)
}

fn municipality_name(m: usize) -> String {
    format!(
        "{}{}",
        NAME_START[m % NAME_START.len()],
        NAME_END[(m / NAME_START.len()) % NAME_END.len()]
    )
}

/// District `d` lies in municipality `d % 342` (which lies in province `m % 12`).
fn district_code(d: usize) -> String {
    format!(
        "WK{:04}{:02}",
        d % MUNICIPALITIES + 1,
        d / MUNICIPALITIES + 1
    )
}

/// A region for item `i`: a province (10%), a municipality (60%) or a district (30%),
/// with the name of its place.
fn region_of(i: usize, salt: u64) -> (String, String) {
    match pick(i, salt, 10) {
        0 => {
            let (code, name) = PROVINCES[pick(i, salt + 1, PROVINCES.len())];
            (code.to_owned(), name.to_owned())
        }
        1..=6 => {
            let m = pick(i, salt + 2, MUNICIPALITIES);
            (municipality_code(m), municipality_name(m))
        }
        _ => {
            let d = pick(i, salt + 3, DISTRICTS);
            (district_code(d), municipality_name(d % MUNICIPALITIES))
        }
    }
}

/// A date about `days` after 1 January 2024 (years of 365 days).
fn date(days: usize) -> Option<ChronoDate> {
    ChronoDate::from_yo_opt(2024 + (days / 365) as i32, 1 + (days % 365) as u32)
}

/// Upserts `n` items of `R` made by `make` as the system partner, 1,000 to a transaction;
/// answers how long it took.
async fn put<R: Resource>(
    db: &DatabaseConnection,
    n: usize,
    external_id: impl Fn(usize) -> String,
    make: impl Fn(usize) -> R::Input,
) -> Result<Duration>
where
    R::Input: Send + Sync + 'static,
{
    // PostgreSQL takes several bulks side by side (their rows interleave, as rows written
    // by many partners over time do); SQLite has one writer.
    let side_by_side = if db.get_database_backend() == DbBackend::Postgres {
        4
    } else {
        1
    };
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for start in (0..n).step_by(MAX_BULK) {
        let end = (start + MAX_BULK).min(n);
        let items: Vec<_> = (start..end)
            .map(|i| (Some(external_id(i)), make(i)))
            .collect();
        if running.len() >= side_by_side {
            running.join_next().await.expect("a running bulk")??;
        }
        let db = db.clone();
        running.spawn(async move {
            bulk_upsert::<R>(&db, &Actor::system(), &items)
                .await
                .map(|_| ())
                .map_err(|e| anyhow!("{} {start}..{end}: {e:?}", R::TYPE))
        });
    }
    while let Some(done) = running.join_next().await {
        done??;
    }
    Ok(started.elapsed())
}

/// Writes the data set described at the top of this module into the migrated database
/// `db`, through the service layer. `scale` multiplies the networks, practice examples and
/// assignments (the region tree and the themes are always whole). The same `scale` gives
/// the same data.
pub async fn dataset(db: &DatabaseConnection, scale: f64) -> Result<Dataset> {
    let scaled = |n: f64| ((n * scale).round() as usize).max(1);
    let networks = scaled(500.0);
    let examples = scaled(50_000.0);
    let assignments = scaled(20_000.0);
    let mut took = Vec::new();

    let started = Instant::now();
    put::<Themes>(
        db,
        THEMES.len(),
        |i| format!("bench:theme:{}", THEMES[i].0),
        |i| ThemeInput {
            slug: Some(THEMES[i].0.to_owned()),
            name: Some(THEMES[i].1.to_owned()),
            ..Default::default()
        },
    )
    .await?;
    put::<Regions>(
        db,
        PROVINCES.len(),
        |i| format!("bench:region:{}", PROVINCES[i].0),
        |i| RegionInput {
            code: Some(PROVINCES[i].0.to_owned()),
            name: Some(PROVINCES[i].1.to_owned()),
            kind: Some("province".into()),
            ..Default::default()
        },
    )
    .await?;
    put::<Regions>(
        db,
        MUNICIPALITIES,
        |m| format!("bench:region:{}", municipality_code(m)),
        |m| RegionInput {
            code: Some(municipality_code(m)),
            name: Some(municipality_name(m)),
            kind: Some("municipality".into()),
            parent_code: Some(PROVINCES[m % PROVINCES.len()].0.to_owned()),
            population: Some(5_000 + pick(m, 1, 200_000) as i32),
            ..Default::default()
        },
    )
    .await?;
    put::<Regions>(
        db,
        DISTRICTS,
        |d| format!("bench:region:{}", district_code(d)),
        |d| RegionInput {
            code: Some(district_code(d)),
            name: Some(format!(
                "Wijk {:02} {}",
                d / MUNICIPALITIES + 1,
                municipality_name(d % MUNICIPALITIES)
            )),
            kind: Some("district".into()),
            parent_code: Some(municipality_code(d % MUNICIPALITIES)),
            deprived: Some(pick(d, 2, 8) == 0),
            population: Some(500 + pick(d, 3, 20_000) as i32),
            ..Default::default()
        },
    )
    .await?;
    took.push(("regions and themes", started.elapsed()));

    const KINDS: [(&str, &str); 5] = [
        ("living_lab", "Living lab"),
        ("learning_network", "Leernetwerk"),
        ("innovation_workplace", "Innovatiewerkplaats"),
        ("consultation_body", "Preventieoverleg"),
        ("other", "Samenwerking"),
    ];
    let took_networks = put::<Networks>(
        db,
        networks,
        |i| format!("bench:network:{i}"),
        |i| {
            let (kind, kind_name) = KINDS[pick(i, 40, KINDS.len())];
            let p = pick(i, 41, PROVINCES.len());
            // Two distinct municipalities of province p (p, p + 12, ... below 342).
            let per_province = MUNICIPALITIES / PROVINCES.len();
            let first = pick(i, 42, per_province);
            let second = (first + 1 + pick(i, 43, per_province - 1)) % per_province;
            let start_year = 2016 + pick(i, 44, 8) as i32;
            NetworkInput {
                slug: Some(format!("netwerk-{i}")),
                name: Some(format!(
                    "{kind_name} {} {}",
                    TOPICS[pick(i, 45, TOPICS.len())].to_lowercase(),
                    PROVINCES[p].1
                )),
                kind: Some(kind.into()),
                summary: Some(text(i, 46, 2)),
                description: Some(text(i, 50, 6)),
                status: Some(
                    ["active", "active", "active", "completed", "planned"][pick(i, 47, 5)].into(),
                ),
                start_year: Some(start_year),
                end_year: Some(start_year + 4),
                themes: Some(themes_of(i, 48)),
                regions: Some(vec![
                    NetworkRegionInput {
                        region_code: Some(PROVINCES[p].0.to_owned()),
                        ..Default::default()
                    },
                    NetworkRegionInput {
                        region_code: Some(municipality_code(p + PROVINCES.len() * first)),
                        ..Default::default()
                    },
                    NetworkRegionInput {
                        region_code: Some(municipality_code(p + PROVINCES.len() * second)),
                        role: Some("expansion".into()),
                        ..Default::default()
                    },
                ]),
                education_levels: Some(
                    [
                        &["mbo"][..],
                        &["bachelor"],
                        &["mbo", "bachelor"],
                        &["bachelor", "master"],
                    ][pick(i, 39, 4)]
                    .iter()
                    .map(|s| (*s).into())
                    .collect(),
                ),
                ..Default::default()
            }
        },
    )
    .await?;
    took.push(("networks", took_networks));

    let took_examples = put::<PracticeExamples>(
        db,
        examples,
        |i| format!("bench:practice-example:{i}"),
        |i| {
            let (region_code, place) = region_of(i, 10);
            let year = 2018 + pick(i, 14, 8) as i32;
            PracticeExampleInput {
                slug: Some(format!("praktijkvoorbeeld-{i}")),
                title: Some(format!("{} in {place}", TOPICS[pick(i, 15, TOPICS.len())])),
                year: Some(year),
                region_code: Some(region_code),
                network_slug: (pick(i, 16, 2) == 0)
                    .then(|| format!("netwerk-{}", pick(i, 17, networks))),
                summary: Some(format!(
                    "{} Bijzondere aandacht gaat uit naar {}.",
                    text(i, 100, 6),
                    RARE[pick(i, 23, RARE.len())]
                )),
                context: Some(text(i, 200, 3)),
                approach: Some(text(i, 300, 4)),
                why_it_works: Some(text(i, 400, 2)),
                how_to_apply: Some(text(i, 500, 2)),
                expected_outcome: Some(text(i, 600, 2)),
                links: Some(
                    (0..pick(i, 18, 3))
                        .map(|k| LinkInput {
                            title: Some(["Verslag", "Website", "Filmpje"][k].to_owned()),
                            url: Some(format!("https://example.org/praktijk/{i}/{k}")),
                        })
                        .collect(),
                ),
                collection: (pick(i, 19, 5) == 0).then(|| format!("#GemeenteDelers {year}")),
                themes: Some(themes_of(i, 20)),
                status: Some(
                    if pick(i, 22, 10) == 0 {
                        "archived"
                    } else {
                        "published"
                    }
                    .into(),
                ),
                ..Default::default()
            }
        },
    )
    .await?;
    took.push(("practice examples", took_examples));

    const TASKS: [&str; 5] = [
        "Onderzoeksopdracht",
        "Stage",
        "Afstudeeropdracht",
        "Praktijkopdracht",
        "Minoropdracht",
    ];
    let took_assignments = put::<Assignments>(
        db,
        assignments,
        |i| format!("bench:assignment:{i}"),
        |i| {
            let (region_code, place) = region_of(i, 60);
            let starts = pick(i, 64, 700);
            AssignmentInput {
                title: Some(format!(
                    "{}: {} in {place}",
                    TASKS[pick(i, 65, TASKS.len())],
                    TOPICS[pick(i, 66, TOPICS.len())].to_lowercase()
                )),
                description: Some(text(i, 700, 4)),
                learning_outcomes: Some(text(i, 800, 2)),
                network_slug: (pick(i, 67, 5) != 0)
                    .then(|| format!("netwerk-{}", pick(i, 68, networks))),
                region_code: Some(region_code),
                levels: Some(
                    [
                        &["mbo"][..],
                        &["bachelor"],
                        &["mbo", "bachelor"],
                        &["master"],
                    ][pick(i, 69, 4)]
                    .iter()
                    .map(|s| (*s).into())
                    .collect(),
                ),
                ects: Some([5.0, 7.5, 15.0, 30.0][pick(i, 70, 4)]),
                hours_estimate: Some(40 + pick(i, 71, 360) as i32),
                starts_on: date(starts),
                ends_on: date(starts + 90),
                application_deadline: date(starts.saturating_sub(14)),
                capacity: Some(1 + pick(i, 72, 10) as i32),
                status: Some(
                    ["open", "open", "in_progress", "closed", "draft"][pick(i, 73, 5)].into(),
                ),
                contact: Some("stagebureau@example.org".to_owned()),
                ..Default::default()
            }
        },
    )
    .await?;
    took.push(("assignments", took_assignments));

    Ok(Dataset {
        provinces: PROVINCES
            .iter()
            .map(|(code, _)| (*code).to_owned())
            .collect(),
        themes: THEMES.iter().map(|(slug, _)| (*slug).to_owned()).collect(),
        regions: PROVINCES.len() + MUNICIPALITIES + DISTRICTS,
        networks,
        practice_examples: examples,
        assignments,
        took,
    })
}

/// `leernet-bench rest`: on SQLite, then on PostgreSQL when configured.
pub async fn run() -> Result<()> {
    let (bin, scale, seconds) = settings("rest", "per endpoint")?;
    rest(Backend::Sqlite, &bin, scale, seconds).await?;
    if std::env::var(POSTGRES_ENV).is_ok() {
        rest(Backend::Postgres, &bin, scale, seconds).await?;
    }
    Ok(())
}

/// What a run of `leernet-bench <what>` measures with: the release `leernet` beside this
/// program, `LEERNET_BENCH_SCALE` and `LEERNET_BENCH_SECONDS` (`per` what); printed.
pub(crate) fn settings(what: &str, per: &str) -> Result<(PathBuf, f64, u64)> {
    let scale: f64 = env_or("LEERNET_BENCH_SCALE", 1.0)?;
    let seconds: u64 = env_or("LEERNET_BENCH_SECONDS", 10)?;
    let bin = std::env::current_exe()?.with_file_name("leernet");
    if !bin.exists() {
        bail!(
            "{} is missing: cargo build --release -p api -p bench",
            bin.display()
        );
    }
    println!(
        "leernet-bench {what}: scale {scale}, {seconds} s {per}, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok((bin, scale, seconds))
}

/// A new database of `backend` holding the data set at `scale`, analyzed, with a partner
/// of kind dashboard that reads it (its id); the data set's figures printed.
pub(crate) async fn prepared(
    backend: Backend,
    scale: f64,
) -> Result<(TestDb, DatabaseConnection, Dataset, Uuid)> {
    let test_db = TestDb::new(backend).await.context("a database")?;
    let db = connect(&DbOptions {
        url: test_db.url.clone(),
        max_connections: 4,
        busy_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
    })
    .await?;
    Migrator::up(&db, None).await?;

    let started = Instant::now();
    let data = dataset(&db, scale).await?;
    let generated = started.elapsed();
    if backend == Backend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    println!(
        "\n{}: {} regions, {} networks, {} practice examples, {} assignments \
         generated in {:.1} s ({}); database {:.0} MiB",
        match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        },
        data.regions,
        data.networks,
        thousands(data.practice_examples as f64),
        thousands(data.assignments as f64),
        generated.as_secs_f64(),
        data.took
            .iter()
            .map(|(what, took)| format!("{what} {:.1} s", took.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        database_bytes(&db).await? as f64 / (1024.0 * 1024.0)
    );
    let partner = partners::create(
        &db,
        partners::NewPartner {
            name: "bench-dashboard".to_owned(),
            kind: "dashboard".to_owned(),
            scopes: vec!["read".to_owned()],
            unconfined: true,
            ..Default::default()
        },
    )
    .await?
    .partner_id;
    Ok((test_db, db, data, partner))
}

/// `leernet-bench dataset URL`: writes the data set of [`dataset`] (at
/// `LEERNET_BENCH_SCALE`) into the database at `URL` (migrated first) and keeps it, for
/// looking at plans or serving it with `leernet serve --database-url URL`.
pub async fn keep(url: &str) -> Result<()> {
    let scale: f64 = env_or("LEERNET_BENCH_SCALE", 1.0)?;
    let db = connect(&DbOptions {
        url: url.to_owned(),
        max_connections: 5,
        busy_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
    })
    .await?;
    Migrator::up(&db, None).await?;
    let started = Instant::now();
    let data = dataset(&db, scale).await?;
    let took = started.elapsed();
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    println!(
        "leernet-bench dataset: {} regions, {} networks, {} practice examples, {} assignments in {:.0} s ({})",
        data.regions,
        data.networks,
        thousands(data.practice_examples as f64),
        thousands(data.assignments as f64),
        took.as_secs_f64(),
        data.took
            .iter()
            .map(|(what, took)| format!("{what} {:.1} s", took.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|_| anyhow!("{name}={value} is not a number")),
        Err(_) => Ok(default),
    }
}

async fn rest(backend: Backend, bin: &Path, scale: f64, seconds: u64) -> Result<()> {
    let (test_db, db, data, partner) = prepared(backend, scale).await?;

    // Cache off: every request reads the database.
    let server =
        Server::start(bin, &db, &test_db.url, partner, &["--read-cache-size", "0"]).await?;
    let filter = format!("region={}&theme={}", data.provinces[2], data.themes[2]);
    let list = format!("/api/v1/practice-examples?limit=50&{filter}");
    let id = server.json(&list).await?["items"][0]["id"]
        .as_str()
        .context("the filtered list is empty")?
        .to_owned();
    let postgres = backend == Backend::Postgres;
    let best = Best::new(&db, postgres).await?;
    let mut endpoints = vec![
        Endpoint {
            name: format!("list, {filter} ({} match)", server.matches(&filter).await?),
            path: list.clone(),
            ceiling: best.list(&data.provinces[2], &data.themes[2]),
            rotation: list_rotation(&data),
        },
        Endpoint {
            name: "read by id".to_owned(),
            path: format!("/api/v1/practice-examples/{id}"),
            ceiling: best.read(&id),
            rotation: Vec::new(),
        },
    ];
    for q in [COMMON_WORD, RARE_WORD] {
        let matches = server.matches(&format!("q={q}")).await?;
        endpoints.push(Endpoint {
            name: format!("search, q={q} ({matches} match)"),
            path: format!("/api/v1/practice-examples?limit=50&q={q}"),
            ceiling: best.search(q),
            rotation: Vec::new(),
        });
    }
    endpoints.push(Endpoint {
        name: "stats, groupBy=region&regionLevel=municipality".to_owned(),
        path: "/api/v1/stats/practice-examples?groupBy=region&regionLevel=municipality".to_owned(),
        ceiling: best.stats_by_municipality(),
        rotation: stats_rotation(&data),
    });
    endpoints.push(Endpoint {
        name: "/health/live".to_owned(),
        path: "/health/live".to_owned(),
        ceiling: None,
        rotation: Vec::new(),
    });
    println!(
        "  {:<54} {:>9} {:>10} {:>10} {:>7}{}",
        "wrk -t2 -c32, cache off; lists 50 a page",
        "req/s",
        "p50",
        "p99",
        "failed",
        if postgres {
            "    ceiling (best SQL)"
        } else {
            ""
        }
    );
    let mut list_rps = 0.0;
    let mut settling = Settling::default();
    for (i, endpoint) in endpoints.iter().enumerate() {
        server.json(&endpoint.path).await?;
        settling.wait().await;
        let load = server.wrk(std::slice::from_ref(&endpoint.path), seconds)?;
        let ceiling = match &endpoint.ceiling {
            Some(sql) if postgres => {
                settling.wait().await;
                let tps = best.pgbench(sql, &test_db.url, seconds)?;
                format!("  {:>9}/s ({:.0}%)", thousands(tps), 100.0 * load.rps / tps)
            }
            _ => String::new(),
        };
        load.print(&endpoint.name, &ceiling);
        if i == 0 {
            // The list page's, for the database's ceiling.
            list_rps = load.rps;
        }
    }
    server.report_errors();
    drop(server);

    // Cache on: the same lists and stats over a rotation of distinct queries.
    let server = Server::start(bin, &db, &test_db.url, partner, &[]).await?;
    println!(
        "  {:<54} {:>9} {:>10} {:>10} {:>7}",
        "cache on, each over a rotation of distinct queries", "req/s", "p50", "p99", "failed"
    );
    for endpoint in endpoints.iter().filter(|e| !e.rotation.is_empty()) {
        settling.wait().await;
        let load = server.wrk(&endpoint.rotation, seconds)?;
        let name = format!(
            "{} ({} queries)",
            endpoint.name.split(',').next().unwrap_or_default(),
            endpoint.rotation.len()
        );
        load.print(&name, "");
    }

    settling.wait().await;
    pages(&server).await?;
    settling.report();
    server.report_errors();
    drop(server);
    if backend == Backend::Postgres {
        database_ceiling(bin, &db, &test_db.url, partner, &list, seconds, list_rps).await?;
    }
    db.close().await.ok();
    Ok(())
}

/// Waiting for the machine to be idle before a measurement: the requests wrk abandons at
/// the end of a run may still be running in the server or the database, and would slow
/// the next one.
#[derive(Debug, Default)]
pub(crate) struct Settling {
    waited: Duration,
    busy: usize,
}

impl Settling {
    /// Waits until less than a quarter of the machine's CPU time is busy over half a
    /// second, or 30 s at most.
    pub(crate) async fn wait(&mut self) {
        /// Busy and idle CPU time since boot, from `/proc/stat`.
        fn times() -> Option<(u64, u64)> {
            let stat = std::fs::read_to_string("/proc/stat").ok()?;
            let cpu: Vec<u64> = stat
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|n| n.parse().ok())
                .collect();
            let idle = cpu.get(3)? + cpu.get(4)?;
            Some((cpu.iter().sum::<u64>() - idle, idle))
        }
        let started = Instant::now();
        let Some(mut last) = times() else {
            return;
        };
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Some(now) = times() else {
                return;
            };
            let (busy, idle) = (now.0 - last.0, now.1 - last.1);
            last = now;
            if busy * 4 < busy + idle {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                self.busy += 1;
                break;
            }
        }
        self.waited += started.elapsed();
    }

    pub(crate) fn report(&self) {
        println!(
            "  waited {:.1} s in all for an idle machine before the measurements{}",
            self.waited.as_secs_f64(),
            match self.busy {
                0 => String::new(),
                n => format!("; {n} times it stayed busy for 30 s (other load?)"),
            }
        );
    }
}

/// The database's size in bytes.
async fn database_bytes(db: &DatabaseConnection) -> Result<i64> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT pg_database_size(current_database())::bigint AS n",
        _ => "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .context("a row")?;
    Ok(row.try_get("", "n")?)
}

/// Page 1 against page 1,000 of the unfiltered list (or the last page, if there are fewer).
async fn pages(server: &Server) -> Result<()> {
    const FETCHES: usize = 15;
    let first = "/api/v1/practice-examples?limit=50".to_owned();
    let mut deep = first.clone();
    let mut page = 1;
    while page < 1_000 {
        let body = server.json(&deep).await?;
        let Some(cursor) = body["nextCursor"].as_str() else {
            break;
        };
        deep = format!("{first}&cursor={cursor}");
        page += 1;
    }
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..FETCHES {
        for (i, path) in [&first, &deep].into_iter().enumerate() {
            let started = Instant::now();
            server.json(path).await?;
            times[i].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let [one, last] = times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    });
    println!(
        "  page 1 against page {page} (unfiltered, 50 a page, median of {FETCHES}): \
         {one:.2} ms against {last:.2} ms (x{:.2})",
        last / one
    );
    Ok(())
}

/// The service as a child process on a free port, with a token of `partner`.
pub(crate) struct Server {
    child: Child,
    base: String,
    token: String,
    log: PathBuf,
    client: reqwest::Client,
    /// Requests answered 500 and asked again.
    retried: std::sync::atomic::AtomicUsize,
}

impl Server {
    /// Starts `leernet serve` over `url` with `extra` arguments and waits until it is ready.
    pub(crate) async fn start(
        bin: &Path,
        db: &DatabaseConnection,
        url: &str,
        partner: Uuid,
        extra: &[&str],
    ) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!(
            "leernet-bench-rest-{}-{port}.log",
            std::process::id()
        ));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .arg("serve")
            .args(["--database-url", url])
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--rate-limit-per-minute", "1000000000"])
            .args(["--seed-on-first-start", "false"])
            .args(extra)
            .env("LEERNET_LOG", "warn")
            .env("LEERNET_LOG_FORMAT", "json")
            // As the image runs it (see the Dockerfile).
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let mut server = Self {
            child,
            base,
            token: String::new(),
            log,
            client: reqwest::Client::new(),
            retried: Default::default(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "leernet exited ({status}):\n{}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            let ready = server
                .client
                .get(format!("{}/health/ready", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            if Instant::now() > deadline {
                bail!("leernet was not ready within 2 minutes");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // After the server is ready, so that it has made the signing key.
        let ring = api::auth::KeyRing::load(db).await?;
        server.token = api::auth::issue(
            &ring,
            db,
            &server.base,
            api::auth::DEFAULT_AUDIENCE,
            partner,
            &["read".to_owned()],
            Duration::from_secs(4 * 3600),
            None,
        )
        .await?
        .token;
        Ok(server)
    }

    /// GETs `path`, refusing anything but 200 (a 500 is asked again once, and counted),
    /// and answers the JSON (or null).
    pub(crate) async fn json(&self, path: &str) -> Result<serde_json::Value> {
        let mut again = true;
        loop {
            let response = self
                .client
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await?;
            let status = response.status();
            let body = response.text().await?;
            if status == reqwest::StatusCode::INTERNAL_SERVER_ERROR && again {
                again = false;
                self.retried
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            if status != reqwest::StatusCode::OK {
                bail!("GET {path}: {status}: {body}");
            }
            return Ok(serde_json::from_str(&body).unwrap_or_default());
        }
    }

    /// How many practice examples a list with `filter` (`q=...&region=...`) holds, as the
    /// stats by year count them.
    async fn matches(&self, filter: &str) -> Result<String> {
        let stats = self
            .json(&format!(
                "/api/v1/stats/practice-examples?groupBy=year&{filter}"
            ))
            .await?;
        let groups = stats["groups"].as_array().context("no groups")?;
        let n: i64 = groups.iter().filter_map(|g| g["count"].as_i64()).sum();
        Ok(thousands(n as f64))
    }

    /// Prints the errors the server logged and the requests asked again, if any.
    pub(crate) fn report_errors(&self) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(r#""level":"ERROR""#))
            .collect();
        let retried = self.retried.load(std::sync::atomic::Ordering::Relaxed);
        if let Some(first) = errors.first() {
            let first: serde_json::Value = serde_json::from_str(first).unwrap_or_default();
            let first: String = first["error"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            println!(
                "  the server logged {} errors; the first: {first}",
                errors.len()
            );
        }
        if retried > 0 {
            println!(
                "  {retried} requests of this program's own answered 500 and were asked again"
            );
        }
    }

    /// wrk against `paths`: one path, or each in turn (a Lua script rotates them).
    pub(crate) fn wrk(&self, paths: &[String], seconds: u64) -> Result<Load> {
        let script = (paths.len() > 1).then(|| {
            let list: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
            format!(
                "local paths = {{{}}}\nlocal i = 0\n\
                 request = function()\n  i = i % #paths + 1\n  \
                 return wrk.format(\"GET\", paths[i])\nend\n",
                list.join(", ")
            )
        });
        wrk(
            &format!("{}{}", self.base, paths[0]),
            Some(&self.token),
            script.as_deref(),
            seconds,
        )
    }

    /// wrk POSTing `body` (JSON) to `path`.
    pub(crate) fn wrk_post(&self, path: &str, body: &str, seconds: u64) -> Result<Load> {
        wrk(
            &format!("{}{path}", self.base),
            Some(&self.token),
            Some(&post_script(body)),
            seconds,
        )
    }

    /// POSTs `body` (JSON) to `path`: the answer's headers and JSON.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(reqwest::header::HeaderMap, serde_json::Value)> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let headers = response.headers().clone();
        Ok((headers, response.json().await?))
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A wrk script that POSTs `body` as JSON.
pub(crate) fn post_script(body: &str) -> String {
    format!(
        "wrk.method = \"POST\"\nwrk.body = {body:?}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    )
}

/// `wrk -t2 -c32` against `url` for `seconds`, with a bearer `token` and a Lua `script`.
pub(crate) fn wrk(
    url: &str,
    token: Option<&str>,
    script: Option<&str>,
    seconds: u64,
) -> Result<Load> {
    let mut command = Command::new("wrk");
    command
        .args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency"])
        .args(["--timeout", "30s"]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let file = std::env::temp_dir().join(format!(
        "leernet-bench-{}-{}.lua",
        std::process::id(),
        Uuid::now_v7().simple()
    ));
    if let Some(script) = script {
        std::fs::write(&file, script)?;
        command.arg("-s").arg(&file);
    }
    let output = command.arg(url).output().context("run wrk")?;
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Load::parse(&text).with_context(|| format!("wrk's output:\n{text}"))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// What wrk measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Load {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Non-2xx answers and socket errors (timeouts included).
    pub(crate) failed: u64,
    /// wrk's lines about them.
    failures: Vec<String>,
}

impl Load {
    /// One line of the table, `after` appended, and wrk's account of any failure below it.
    pub(crate) fn print(&self, name: &str, after: &str) {
        println!(
            "  {name:<54} {:>9} {:>7.2} ms {:>7.2} ms {:>7}{after}",
            thousands(self.rps),
            self.p50_ms,
            self.p99_ms,
            self.failed
        );
        for failure in &self.failures {
            println!("  {:<54} ({failure})", "");
        }
    }

    fn parse(text: &str) -> Result<Self> {
        let (mut rps, mut p50, mut p99, mut failed) = (None, None, None, 0);
        let mut failures = Vec::new();
        let number = |s: &str| s.trim_end_matches(',').parse::<u64>().unwrap_or(0);
        for line in text.lines() {
            match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["Requests/sec:", n] => rps = n.parse().ok(),
                ["50%", t] => p50 = millis(t),
                ["99%", t] => p99 = millis(t),
                ["Non-2xx", "or", "3xx", "responses:", n] => {
                    failed += number(n);
                    failures.push(line.trim().to_owned());
                }
                ["Socket", "errors:", rest @ ..] => {
                    failed += rest.iter().map(|s| number(s)).sum::<u64>();
                    failures.push(line.trim().to_owned());
                }
                _ => {}
            }
        }
        Ok(Self {
            rps: rps.context("no Requests/sec")?,
            p50_ms: p50.context("no 50% latency")?,
            p99_ms: p99.context("no 99% latency")?,
            failed,
            failures,
        })
    }
}

/// wrk's `850.00us`, `1.23ms`, `2.00s`, `1.00m` in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let unit_at = text.find(|c: char| c.is_ascii_alphabetic())?;
    let value: f64 = text[..unit_at].parse().ok()?;
    let factor = match &text[unit_at..] {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(value * factor)
}

/// `12345.6` as `12,346`.
pub(crate) fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Captures the statements of one request of `list` from PostgreSQL's log and runs them
/// with pgbench (see the module's documentation).
async fn database_ceiling(
    bin: &Path,
    db: &DatabaseConnection,
    url: &str,
    partner: Uuid,
    list: &str,
    seconds: u64,
    list_rps: f64,
) -> Result<()> {
    let admin = Database::connect(std::env::var(POSTGRES_ENV)?).await?;
    let Some(log) = ServerLog::find(&admin).await? else {
        println!(
            "  database ceiling: skipped, PostgreSQL's log was not found (set LEERNET_BENCH_PG_LOG)"
        );
        return Ok(());
    };
    let name: String = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_database() AS n",
        ))
        .await?
        .context("a row")?
        .try_get("", "n")?;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" SET log_statement = 'all'"
        ))
        .await?;
    let captured = async {
        let server =
            Server::start(bin, db, url, partner, &["--webhook-poll-interval", "1h"]).await?;
        server.json(list).await?;
        let from = log.size(&admin).await?;
        server.json(list).await?;
        // Let the log be written (a log collector reads it from a pipe).
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(server);
        log.read(&admin, from).await
    }
    .await;
    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" RESET log_statement"))
        .await?;
    let statements = statements(&captured?, &name);
    if statements.is_empty() {
        bail!("no statement of the list request was found in {}", log.path);
    }
    let script = std::env::temp_dir().join(format!(
        "leernet-bench-list-page-{}.sql",
        std::process::id()
    ));
    let mut text = String::new();
    for statement in &statements {
        writeln!(text, "{statement};")?;
    }
    std::fs::write(&script, &text)?;
    println!(
        "  one list request's statements, captured from {} ({}):",
        log.path,
        statements.len()
    );
    for statement in &statements {
        println!("    {statement};");
    }
    // `-M simple` parses and plans every statement each time; `-M prepared` plans each once
    // per connection (the service's driver prepares its statements too, and PostgreSQL may
    // keep a generic plan of one after five runs).
    let simple = pgbench(&script, url, "simple", seconds);
    let prepared = pgbench(&script, url, "prepared", seconds);
    let _ = std::fs::remove_file(&script);
    let (simple, prepared) = (simple?, prepared?);
    println!(
        "  database ceiling, pgbench -c 32 -j 2 of those statements: {} list pages/s \
         ({} with -M prepared); the service serves {} ({:.0}% of it)",
        thousands(simple),
        thousands(prepared),
        thousands(list_rps),
        100.0 * list_rps / simple
    );
    admin.close().await.ok();
    Ok(())
}

/// pgbench's transactions/s of `script` on `url` (`-M mode`, 32 clients, 2 threads).
fn pgbench(script: &Path, url: &str, mode: &str, seconds: u64) -> Result<f64> {
    let output = Command::new("pgbench")
        .args(["-n", "-M", mode, "-c", "32", "-j", "2"])
        .args(["-T", &seconds.to_string(), "-f"])
        .arg(script)
        .arg(url)
        .output()
        .context("run pgbench")?;
    let out = String::from_utf8_lossy(&output.stdout);
    let failed = out
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .is_some_and(|l| !l.starts_with("0 "));
    match out
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
    {
        Some(tps) if output.status.success() && !failed => Ok(tps),
        _ => bail!(
            "pgbench -M {mode} failed:\n{out}{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// PostgreSQL's log file, read through SQL.
struct ServerLog {
    path: String,
}

impl ServerLog {
    /// `LEERNET_BENCH_PG_LOG`, the log collector's file, or Debian's log of the cluster
    /// `main`: the first that exists.
    async fn find(admin: &DatabaseConnection) -> Result<Option<Self>> {
        let row = admin
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_current_logfile() AS f, \
                 current_setting('server_version_num')::int / 10000 AS v",
            ))
            .await?
            .context("a row")?;
        let collector: Option<String> = row.try_get("", "f")?;
        let major: i32 = row.try_get("", "v")?;
        let candidates = std::env::var("LEERNET_BENCH_PG_LOG")
            .ok()
            .into_iter()
            .chain(collector)
            .chain([format!("/var/log/postgresql/postgresql-{major}-main.log")]);
        for path in candidates {
            let log = Self { path };
            if log.size(admin).await.is_ok() {
                return Ok(Some(log));
            }
        }
        Ok(None)
    }

    /// Its size in bytes.
    async fn size(&self, admin: &DatabaseConnection) -> Result<i64> {
        let row = admin
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT size FROM pg_stat_file($1, true)",
                [self.path.clone().into()],
            ))
            .await?
            .context("a row")?;
        row.try_get::<Option<i64>>("", "size")?
            .with_context(|| format!("no file {}", self.path))
    }

    /// What was written after byte `from`.
    async fn read(&self, admin: &DatabaseConnection, from: i64) -> Result<String> {
        let length = self.size(admin).await? - from;
        let row = admin
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_read_binary_file($1, $2, $3) AS b",
                [self.path.clone().into(), from.into(), length.into()],
            ))
            .await?
            .context("a row")?;
        let bytes: Vec<u8> = row.try_get("", "b")?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The SQL statements in a stretch of PostgreSQL's log (with `log_statement = 'all'`), in
/// order, with their parameters' values inlined. Where the log's line prefix names the
/// database, only lines of `database` count.
fn statements(log: &str, database: &str) -> Vec<String> {
    let named = log.contains(database);
    let ours = |prefix: &str| !named || prefix.contains(database);
    let mut statements: Vec<String> = Vec::new();
    // Whether continuation lines (a tab first) belong to the last statement.
    let mut continues = false;
    for line in log.lines() {
        if let Some(more) = line.strip_prefix('\t') {
            if continues && let Some(last) = statements.last_mut() {
                last.push(' ');
                last.push_str(more.trim());
            }
            continue;
        }
        continues = false;
        if let Some((prefix, sql)) = line.split_once("LOG:  statement: ") {
            if ours(prefix) {
                statements.push(sql.trim().to_owned());
                continues = true;
            }
        } else if let Some((prefix, rest)) = line.split_once("LOG:  execute ") {
            if ours(prefix)
                && let Some((_, sql)) = rest.split_once(": ")
            {
                statements.push(sql.trim().to_owned());
                continues = true;
            }
        } else if let Some((prefix, values)) = line.split_once("DETAIL:  parameters: ")
            && ours(prefix)
            && let Some(last) = statements.last_mut()
        {
            *last = inline(last, &parameters(values));
        }
    }
    statements
}

/// `$1 = 'a', $2 = NULL, $3 = 'it''s'` as the literals `'a'`, `NULL`, `'it''s'` by number.
fn parameters(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(after) = rest.strip_prefix('$') {
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        let Ok(n) = after[..digits].parse::<usize>() else {
            break;
        };
        let Some(value) = after[digits..].strip_prefix(" = ") else {
            break;
        };
        let end = if value.starts_with("NULL") {
            4
        } else if value.starts_with('\'') {
            // Up to the closing quote; a doubled quote is one quote of the value.
            let bytes = value.as_bytes();
            let mut i = 1;
            loop {
                match bytes.get(i) {
                    Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                    Some(b'\'') => break i + 1,
                    Some(_) => i += 1,
                    None => break i,
                }
            }
        } else {
            break;
        };
        out.push((n, value[..end].to_owned()));
        rest = value[end..].trim_start_matches(", ");
    }
    out
}

/// `sql` with each placeholder `$n` outside string literals replaced by its value.
fn inline(sql: &str, values: &[(usize, String)]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted {
            let digits: String = sql[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Some((_, value)) = digits
                .parse::<usize>()
                .ok()
                .and_then(|n| values.iter().find(|(k, _)| *k == n))
            {
                out.push_str(value);
                for _ in 0..digits.len() {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// `plans` (PostgreSQL): over the data set of [`dataset`] (at `LEERNET_BENCH_SCALE`), the
/// statements each endpoint of [`rest`] issues, captured from the running service's
/// statement log as [`database_ceiling`] does, each with its `EXPLAIN (ANALYZE, BUFFERS)`
/// and a summary line: its time, its buffers (shared hits and reads) and any sequential
/// scan of a table of more than 1,000 rows (a page should never need one).
pub async fn plans() -> Result<()> {
    let scale: f64 = env_or("LEERNET_BENCH_SCALE", 1.0)?;
    let bin = std::env::current_exe()?.with_file_name("leernet");
    if std::env::var(POSTGRES_ENV).is_err() {
        bail!("plans needs PostgreSQL: set {POSTGRES_ENV} (or pass a URL to bench/plans)");
    }
    let test_db = TestDb::new(Backend::Postgres).await.context("a database")?;
    let db = connect(&DbOptions {
        url: test_db.url.clone(),
        max_connections: 4,
        busy_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
    })
    .await?;
    Migrator::up(&db, None).await?;
    let data = dataset(&db, scale).await?;
    db.execute_unprepared("VACUUM ANALYZE").await?;
    println!(
        "leernet-bench plans: {} regions, {} networks, {} practice examples, {} assignments",
        data.regions,
        data.networks,
        thousands(data.practice_examples as f64),
        thousands(data.assignments as f64)
    );
    let partner = partners::create(
        &db,
        partners::NewPartner {
            name: "bench-dashboard".to_owned(),
            kind: "dashboard".to_owned(),
            scopes: vec!["read".to_owned(), "changes:read".to_owned()],
            unconfined: true,
            ..Default::default()
        },
    )
    .await?
    .partner_id;
    let filter = format!("region={}&theme={}", data.provinces[2], data.themes[2]);
    let server = Server::start(&bin, &db, &test_db.url, partner, &[]).await?;
    let id = server
        .json(&format!("/api/v1/practice-examples?limit=1&{filter}"))
        .await?["items"][0]["id"]
        .as_str()
        .context("the filtered list is empty")?
        .to_owned();
    drop(server);
    let endpoints = [
        (
            "list, province subtree and theme",
            format!("/api/v1/practice-examples?limit=50&{filter}"),
        ),
        (
            "list, unfiltered",
            "/api/v1/practice-examples?limit=50".to_owned(),
        ),
        (
            "list, by title",
            "/api/v1/practice-examples?limit=50&sort=title".to_owned(),
        ),
        (
            "list, changed since, newest first",
            "/api/v1/practice-examples?limit=50&sort=-updatedAt&updatedSince=2020-01-01T00:00:00Z"
                .to_owned(),
        ),
        ("read by id", format!("/api/v1/practice-examples/{id}")),
        (
            "search, common word",
            format!("/api/v1/practice-examples?limit=50&q={COMMON_WORD}"),
        ),
        (
            "search, rare word",
            format!("/api/v1/practice-examples?limit=50&q={RARE_WORD}"),
        ),
        (
            "stats by municipality",
            "/api/v1/stats/practice-examples?groupBy=region&regionLevel=municipality".to_owned(),
        ),
        (
            "stats by theme",
            "/api/v1/stats/practice-examples?groupBy=theme".to_owned(),
        ),
        (
            "assignments, province subtree",
            format!(
                "/api/v1/assignments?limit=50&region={}&status=open",
                data.provinces[2]
            ),
        ),
        (
            "networks, province subtree",
            format!("/api/v1/networks?limit=50&region={}", data.provinces[2]),
        ),
        (
            "regions, province subtree",
            format!("/api/v1/regions?limit=50&region={}", data.provinces[2]),
        ),
        ("change feed", "/api/v1/changes?limit=100".to_owned()),
    ];
    let admin = Database::connect(std::env::var(POSTGRES_ENV)?).await?;
    let Some(log) = ServerLog::find(&admin).await? else {
        bail!("PostgreSQL's log was not found (set LEERNET_BENCH_PG_LOG)");
    };
    let name: String = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_database() AS n",
        ))
        .await?
        .context("a row")?
        .try_get("", "n")?;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" SET log_statement = 'all'"
        ))
        .await?;
    let captured = async {
        let server = Server::start(
            &bin,
            &db,
            &test_db.url,
            partner,
            &["--webhook-poll-interval", "1h"],
        )
        .await?;
        let mut captured = Vec::new();
        for (what, path) in &endpoints {
            server.json(path).await?;
            let from = log.size(&admin).await?;
            server.json(path).await?;
            tokio::time::sleep(Duration::from_millis(400)).await;
            captured.push((
                *what,
                path.clone(),
                statements(&log.read(&admin, from).await?, &name),
            ));
        }
        drop(server);
        anyhow::Ok(captured)
    }
    .await;
    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" RESET log_statement"))
        .await?;
    let mut summary = Vec::new();
    for (what, path, statements) in captured? {
        println!("\n## {what}: GET {path}");
        for statement in statements.iter().filter(|s| {
            let s = s.trim_start().to_ascii_uppercase();
            s.starts_with("SELECT") || s.starts_with("WITH")
        }) {
            let rows = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("EXPLAIN (ANALYZE, BUFFERS) {statement}"),
                ))
                .await?;
            let plan: Vec<String> = rows
                .iter()
                .map(|r| r.try_get::<String>("", "QUERY PLAN"))
                .collect::<Result<_, _>>()?;
            let time = plan
                .iter()
                .find_map(|l| l.trim().strip_prefix("Execution Time: "))
                .unwrap_or("?")
                .to_owned();
            let buffers = plan
                .iter()
                .find_map(|l| l.trim().strip_prefix("Buffers: "))
                .unwrap_or("none")
                .to_owned();
            let seq_scans: Vec<String> = plan
                .iter()
                .filter(|l| l.contains("Seq Scan on"))
                .filter(|l| {
                    l.split("rows=")
                        .nth(2)
                        .and_then(|r| r.split_whitespace().next())
                        .and_then(|n| n.parse::<u64>().ok())
                        .is_some_and(|n| n > 1_000)
                        || l.contains("Seq Scan on practice_examples")
                        || l.contains("Seq Scan on assignments")
                })
                .map(|l| l.trim().to_owned())
                .collect();
            println!("  {statement};");
            for line in &plan {
                println!("    {line}");
            }
            let short: String = statement.chars().take(70).collect();
            summary.push(format!(
                "{what:<36} {time:>12} {buffers:<28} {}{short}",
                if seq_scans.is_empty() {
                    ""
                } else {
                    "SEQ SCAN "
                }
            ));
        }
    }
    println!("\n## Summary: endpoint, execution time, buffers, statement");
    for line in summary {
        println!("{line}");
    }
    admin.close().await.ok();
    db.close().await.ok();
    Ok(())
}

/// One endpoint measured: its path, the best hand-written SQL for the same answer
/// (PostgreSQL), and the distinct queries the cache-on run rotates over (none: not run).
struct Endpoint {
    name: String,
    path: String,
    ceiling: Option<String>,
    rotation: Vec<String>,
}

/// 200 distinct list pages: each province with each theme, then municipalities alone.
fn list_rotation(data: &Dataset) -> Vec<String> {
    let mut paths = Vec::new();
    for province in &data.provinces {
        for theme in &data.themes {
            paths.push(format!(
                "/api/v1/practice-examples?limit=50&region={province}&theme={theme}"
            ));
        }
    }
    let mut m = 0;
    while paths.len() < 200 {
        paths.push(format!(
            "/api/v1/practice-examples?limit=50&region={}",
            municipality_code(m)
        ));
        m += 1;
    }
    paths
}

/// 200 distinct stats queries: years per province and theme, then the other groupings.
fn stats_rotation(data: &Dataset) -> Vec<String> {
    let base = "/api/v1/stats/practice-examples";
    let mut paths = Vec::new();
    for province in &data.provinces {
        for theme in &data.themes {
            paths.push(format!(
                "{base}?groupBy=year&region={province}&theme={theme}"
            ));
        }
        paths.push(format!("{base}?groupBy=theme&region={province}"));
        paths.push(format!(
            "{base}?groupBy=region&regionLevel=district&region={province}"
        ));
    }
    for theme in &data.themes {
        paths.push(format!(
            "{base}?groupBy=region&regionLevel=municipality&theme={theme}"
        ));
        paths.push(format!("{base}?groupBy=year&theme={theme}"));
    }
    for year in 2018..2026 {
        paths.push(format!("{base}?groupBy=theme&year={year}"));
        if paths.len() >= 200 {
            break;
        }
    }
    paths.truncate(200);
    paths
}

/// The best SQL we can write by hand for each measured answer on PostgreSQL, over the
/// service's indexes: one statement per answer, returning everything the answer shows
/// (a list page's rows with their region code, network slug, theme slugs and links), with
/// what a dashboard partner may see (no drafts). pgbench on it is the ceiling.
struct Best {
    regions: std::collections::HashMap<String, Uuid>,
    themes: std::collections::HashMap<String, Uuid>,
    postgres: bool,
}

impl Best {
    async fn new(db: &DatabaseConnection, postgres: bool) -> Result<Self> {
        let (mut regions, mut themes) = Default::default();
        if postgres {
            let ids = |table: &str, key: &str| {
                format!("SELECT {key} AS k, id FROM {table} WHERE deleted_at IS NULL")
            };
            for (table, key, map) in [
                ("regions", "code", &mut regions),
                ("themes", "slug", &mut themes),
            ] {
                let map: &mut std::collections::HashMap<String, Uuid> = map;
                for row in db
                    .query_all_raw(Statement::from_string(DbBackend::Postgres, ids(table, key)))
                    .await?
                {
                    map.insert(row.try_get("", "k")?, row.try_get("", "id")?);
                }
            }
        }
        Ok(Best {
            regions,
            themes,
            postgres,
        })
    }

    /// A page of practice examples (at most 51 rows, as the service reads one more to
    /// know whether another page follows) with everything a page shows.
    fn decorated(page: &str) -> String {
        format!(
            "WITH page AS ({page}) \
             SELECT page.*, r.code AS region_code, n.slug AS network_slug, \
               (SELECT array_agg(th.slug ORDER BY th.slug) FROM practice_example_themes pt \
                  JOIN themes th ON th.id = pt.theme_id WHERE pt.practice_example_id = page.id) AS themes, \
               (SELECT json_agg(json_build_object('title', l.title, 'url', l.url) ORDER BY l.position) \
                  FROM practice_example_links l WHERE l.practice_example_id = page.id) AS links \
             FROM page LEFT JOIN regions r ON r.id = page.region_id \
               LEFT JOIN networks n ON n.id = page.network_id \
             ORDER BY page.id DESC;"
        )
    }

    fn list(&self, region: &str, theme: &str) -> Option<String> {
        let (region, theme) = (self.regions.get(region)?, self.themes.get(theme)?);
        self.postgres.then(|| {
            Self::decorated(&format!(
                "SELECT p.* FROM practice_examples p WHERE p.id IN (\
                   SELECT x.id FROM region_closure c \
                   JOIN practice_examples x ON x.region_id = c.descendant_id AND x.deleted_at IS NULL \
                   JOIN practice_example_themes t ON t.practice_example_id = x.id AND t.theme_id = '{theme}' \
                   WHERE c.ancestor_id = '{region}' AND x.status <> 'draft' \
                   ORDER BY x.id DESC LIMIT 51)"
            ))
        })
    }

    fn read(&self, id: &str) -> Option<String> {
        self.postgres.then(|| {
            Self::decorated(&format!(
                "SELECT p.* FROM practice_examples p \
                 WHERE p.id = '{id}' AND p.deleted_at IS NULL AND p.status <> 'draft'"
            ))
        })
    }

    fn search(&self, q: &str) -> Option<String> {
        self.postgres.then(|| {
            Self::decorated(&format!(
                "SELECT p.* FROM practice_examples p \
                 WHERE p.search @@ websearch_to_tsquery('dutch', '{q}') \
                   AND p.deleted_at IS NULL AND p.status <> 'draft' \
                 ORDER BY p.id DESC LIMIT 51"
            ))
        })
    }

    fn stats_by_municipality(&self) -> Option<String> {
        self.postgres.then(|| {
            "SELECT g.code, g.id, g.name, SUM(c.n)::bigint AS n \
             FROM (SELECT region_id, COUNT(*) AS n FROM practice_examples \
                   WHERE deleted_at IS NULL AND status <> 'draft' GROUP BY region_id) c \
               JOIN region_closure t ON t.descendant_id = c.region_id \
               JOIN regions g ON g.id = t.ancestor_id \
             WHERE g.kind = 'municipality' AND g.deleted_at IS NULL \
             GROUP BY g.id, g.code, g.name ORDER BY n DESC, g.name;"
                .to_owned()
        })
    }

    /// pgbench's transactions/s of `sql` (prepared, 32 clients).
    fn pgbench(&self, sql: &str, url: &str, seconds: u64) -> Result<f64> {
        let script = std::env::temp_dir().join(format!("leernet-best-{}.sql", std::process::id()));
        std::fs::write(&script, sql)?;
        let tps = pgbench(&script, url, "prepared", seconds);
        let _ = std::fs::remove_file(&script);
        tps
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn reads_wrk() -> Result<()> {
        let text = "Running 2s test @ http://127.0.0.1:1/health/live
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   850.00us    1.20ms  20.00ms   90.00%
  Latency Distribution
     50%  610.00us
     75%    1.00ms
     90%    2.00ms
     99%    1.50s
  40000 requests in 2.00s, 5.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:  20000.50
Transfer/sec:      2.50MB
";
        assert_eq!(
            Load::parse(text)?,
            Load {
                rps: 20000.5,
                p50_ms: 0.61,
                p99_ms: 1500.0,
                failed: 6,
                failures: vec![
                    "Socket errors: connect 0, read 1, write 0, timeout 2".to_owned(),
                    "Non-2xx or 3xx responses: 3".to_owned()
                ],
            }
        );
        Ok(())
    }

    #[test]
    fn inlines_logged_parameters() {
        let log = "2025-01-01 00:00:00.000 UTC [7] postgres@other LOG:  statement: SELECT 0
2025-01-01 00:00:00.000 UTC [8] postgres@bench LOG:  statement: BEGIN
2025-01-01 00:00:00.001 UTC [8] postgres@bench LOG:  execute sqlx_s_1: SELECT \"a\" FROM \"t\" WHERE \"b\" = $1 AND c <> 'x$2' AND \"d\" IN ($2, $10)
\t  LIMIT $3
2025-01-01 00:00:00.001 UTC [8] postgres@bench DETAIL:  parameters: $1 = 'it''s', $2 = NULL, $3 = '51', $10 = '2024-01-01 00:00:00+00'
2025-01-01 00:00:00.002 UTC [8] postgres@bench LOG:  statement: COMMIT
";
        assert_eq!(
            statements(log, "bench"),
            [
                "BEGIN",
                "SELECT \"a\" FROM \"t\" WHERE \"b\" = 'it''s' AND c <> 'x$2' AND \"d\" IN (NULL, \
                 '2024-01-01 00:00:00+00') LIMIT '51'",
                "COMMIT",
            ]
        );
    }

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
