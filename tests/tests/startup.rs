//! Start-up failures are one clear line, not a panic.

use api::config::Config;

async fn start_error(configure: impl FnOnce(&mut Config)) -> String {
    let mut config = Config::for_database("sqlite://unused.db");
    configure(&mut config);
    match api::Server::start(config).await {
        Ok(_) => panic!("start-up should have failed"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn a_bad_database_url_says_what_is_expected() {
    let message =
        start_error(|c| c.db.database_url = Some("mysql://root:hunter2@localhost/x".into())).await;
    assert!(
        message.contains("must start with postgres:// or sqlite://"),
        "{message}"
    );
    assert!(
        !message.contains("hunter2"),
        "the password is not shown: {message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let message = start_error(|c| {
        c.db.database_url = Some("postgres://leernet:hunter2@127.0.0.1:1/leernet".into());
        c.db.db_connect_timeout = std::time::Duration::from_secs(2).into();
    })
    .await;
    assert!(
        message.contains("cannot open the database postgres://leernet:***@127.0.0.1:1/leernet"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn a_port_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let message = start_error(|c| {
        c.db.database_url = Some(url);
        c.addr = addr;
    })
    .await;
    assert!(
        message.contains(&format!("cannot listen on {addr}")),
        "{message}"
    );
}

#[tokio::test]
async fn an_unwritable_data_directory_is_reported() {
    let file = tempfile::NamedTempFile::new().expect("a file");
    let message = start_error(|c| {
        c.db.database_url = None;
        // A directory below a regular file can never be created, even by root.
        c.db.data_dir = file.path().join("data");
    })
    .await;
    assert!(message.contains("data directory"), "{message}");
}

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
}

#[tokio::test]
async fn an_in_memory_database_keeps_its_data_on_its_single_connection() {
    let mut config = Config::for_database("sqlite::memory:");
    config.seed_on_first_start = true;
    let server = api::Server::start(config).await.expect("start");
    let db = server.db();
    let actor = api::service::Actor::system();
    for _ in 0..3 {
        let themes =
            api::service::list::<api::service::Themes>(&db, &actor, &(), Default::default())
                .await
                .expect("list themes");
        assert_eq!(
            themes.items.len(),
            8,
            "every query sees the seeded database"
        );
    }
}
