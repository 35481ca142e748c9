//! Start-up in process: the embedded default (a new SQLite file, migrated, seeded, with the
//! pragmas that make it behave) and an in-memory database. How the program reports a
//! failed start is tested on the real process, in `process.rs`.

use api::config::Config;

#[tokio::test]
async fn the_embedded_default_creates_migrates_and_seeds_a_new_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::for_database("unused");
    config.db.database_url = None;
    config.db.data_dir = dir.path().to_owned();
    config.seed_on_first_start = true;
    let server = api::Server::start(config).await.expect("start");
    assert!(dir.path().join("leernet.db").exists());
    let db = server.db();
    let actor = api::service::Actor::system();
    let networks = api::service::list::<api::service::Networks>(
        &db,
        &actor,
        &Default::default(),
        Default::default(),
    )
    .await
    .expect("list networks");
    let slugs: Vec<&str> = networks.items.iter().map(|n| n.slug.as_str()).collect();
    assert!(slugs.contains(&"living-lab-m-en-gezond"), "{slugs:?}");
    // WAL and foreign keys are on for the embedded database.
    use sea_orm::ConnectionTrait;
    let mode = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .expect("pragma")
        .expect("a row");
    assert_eq!(mode.try_get_by_index::<String>(0).expect("mode"), "wal");
    let fk = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "PRAGMA foreign_keys",
        ))
        .await
        .expect("pragma")
        .expect("a row");
    assert_eq!(fk.try_get_by_index::<i32>(0).expect("fk"), 1);
    // The query planner has statistics from the start (`PRAGMA optimize` once migrated
    // and seeded), for the seeded tables and their indexes.
    let analyzed = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl IN ('networks', 'regions', 'themes')",
        ))
        .await
        .expect("the statistics table")
        .expect("a row");
    assert!(
        analyzed.try_get_by_index::<i64>(0).expect("a count") >= 3,
        "the seeded tables are analyzed"
    );
    for (pragma, expected) in [("synchronous", 1), ("busy_timeout", 10_000)] {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("PRAGMA {pragma}"),
            ))
            .await
            .expect("pragma")
            .expect("a row");
        // synchronous=NORMAL is 1; the busy timeout is in milliseconds (the tests' 10 s).
        assert_eq!(
            row.try_get_by_index::<i32>(0).expect(pragma),
            expected,
            "{pragma}"
        );
    }
}

#[tokio::test]
async fn an_in_memory_database_keeps_its_data_on_its_single_connection() {
    let mut config = Config::for_database("sqlite::memory:");
    config.seed_on_first_start = true;
    let server = api::Server::start(config).await.expect("start");
    let db = server.db();
    let actor = api::service::Actor::system();
    for _ in 0..3 {
        let themes = api::service::list::<api::service::Themes>(
            &db,
            &actor,
            &api::dto::ThemeFilter::default(),
            Default::default(),
        )
        .await
        .expect("list themes");
        assert_eq!(
            themes.items.len(),
            8,
            "every query sees the seeded database"
        );
    }
}
