//! The command line: `leernet migrate` and `leernet seed` as a person runs them, and the
//! promise that every setting is a flag, an environment variable and a line of help.

use api::cli::Cli;
use clap::{CommandFactory, Parser};
use sea_orm::Database;
use tests::{TestDb, both_backends, count};

async fn run(args: &[&str]) {
    let cli = Cli::try_parse_from(args).expect("the arguments parse");
    api::run(cli).await.expect("the command succeeds");
}

both_backends!(
    async fn migrate_then_seed_twice_from_the_command_line(backend) {
        let Some(test_db) = TestDb::new(backend).await else { return };
        let url = test_db.url.as_str();
        run(&["leernet", "migrate", "--database-url", url]).await;
        run(&["leernet", "seed", "--database-url", url]).await;
        let db = Database::connect(url).await.expect("connect");
        let networks = count(&db, "networks", "").await;
        let changes = count(&db, "change_log", "").await;
        assert_eq!(networks, 4, "IWP Drenthe Gezond, Living Lab M&Gezond, POG, LEGrO");
        run(&["leernet", "seed", "--database-url", url]).await;
        assert_eq!(count(&db, "networks", "").await, networks);
        assert_eq!(count(&db, "change_log", "").await, changes, "a second seed writes nothing");
        db.close().await.ok();
    }
);

#[test]
fn every_serve_setting_has_a_flag_an_environment_variable_and_help() {
    let mut command = Cli::command();
    // Propagates global settings (the log format) to the subcommands.
    command.build();
    let serve = command.find_subcommand("serve").expect("a serve command");
    let mut settings = 0;
    for arg in serve.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" {
            continue;
        }
        settings += 1;
        assert!(arg.get_long().is_some(), "{id} has a --flag");
        let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
        assert!(
            env.starts_with("LEERNET_") || env == "DATABASE_URL",
            "{id} has an environment variable, got {env:?}"
        );
        assert!(arg.get_help().is_some(), "{id} has a help line");
    }
    assert!(settings >= 10, "{settings} settings");
}

const LEERNET: &str = env!("CARGO_BIN_EXE_leernet-process");

/// Runs `leernet args...` as a process; answers (success, stdout, stderr).
fn leernet(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(LEERNET)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("LEERNET_PUBLIC_URL")
        .env_remove("LEERNET_ADDR")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run leernet");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

both_backends!(
    async fn partners_and_tokens_from_the_command_line(backend) {
        let Some(test_db) = TestDb::new(backend).await else { return };
        let url = test_db.url.clone();
        let url = url.as_str();
        let (ok, seeded, _) = leernet(&["seed", "--database-url", url]);
        assert!(ok);
        assert!(seeded.contains("demo admin partner") && seeded.contains("clientSecret"), "{seeded}");
        let (ok, again, _) = leernet(&["seed", "--database-url", url]);
        assert!(ok && !again.contains("clientSecret"), "the demo admin's secret is shown once: {again}");

        let (ok, out, err) = leernet(&[
            "partner", "create", "--name", "gemeente-emmen", "--kind", "municipality",
            "--scopes", "read write:practice-examples", "--regions", "GM0114", "--json", "--database-url", url,
        ]);
        assert!(ok, "{err}");
        let created: serde_json::Value = serde_json::from_str(&out).expect("JSON credentials");
        let partner_id = created["partnerId"].as_str().expect("partnerId").to_owned();
        assert!(created["clientId"].as_str().expect("clientId").starts_with("lnc_"));
        assert!(created["clientSecret"].as_str().expect("clientSecret").len() >= 40);

        let (ok, out, _) = leernet(&["partner", "list", "--json", "--database-url", url]);
        assert!(ok);
        let list: serde_json::Value = serde_json::from_str(&out).expect("JSON list");
        let emmen = list.as_array().expect("a list").iter().find(|p| p["name"] == "gemeente-emmen").expect("listed");
        assert_eq!((emmen["regions"].as_array().map(Vec::len), emmen["unconfined"].as_bool()), (Some(1), Some(false)));

        let (ok, out, err) = leernet(&[
            "token", "--partner", "gemeente-emmen", "--scopes", "read", "--ttl", "5m",
            "--public-url", "https://leernet.example.nl", "--database-url", url,
        ]);
        assert!(ok, "{err}");
        let payload = out.trim().split('.').nth(1).expect("a JWT");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).expect("base64"),
        )
        .expect("claims");
        assert_eq!((claims["iss"].as_str(), claims["sub"].as_str(), claims["scope"].as_str()), (Some("https://leernet.example.nl"), Some(partner_id.as_str()), Some("read")));
        assert_eq!(claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"), 300);
        let (ok, _, err) = leernet(&["token", "--partner", "gemeente-emmen", "--scopes", "admin", "--database-url", url]);
        assert!(!ok && err.contains("admin"), "{err}");

        let (ok, out, _) = leernet(&["partner", "rotate-secret", "gemeente-emmen", "--json", "--database-url", url]);
        assert!(ok);
        let rotated: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_ne!(rotated["clientId"], created["clientId"]);
        let (ok, out, _) = leernet(&["partner", "revoke", "gemeente-emmen", "--database-url", url]);
        assert!(ok && out.contains("revoked"), "{out}");
        let (ok, _, err) = leernet(&["token", "--partner", "gemeente-emmen", "--database-url", url]);
        assert!(!ok && err.contains("revoked"), "{err}");

        let (ok, _, err) = leernet(&["partner", "create", "--name", "x", "--kind", "wizard", "--scopes", "read fly", "--database-url", url]);
        assert!(!ok);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--kind") && err.contains("fly"), "{err}");
        let (ok, out, _) = leernet(&["keys", "rotate", "--database-url", url]);
        assert!(ok && out.contains("new signing key"), "{out}");
    }
);

/// `leernet serve` on an in-memory database with one more setting: the one line it prints
/// on stderr when it refuses to start, or `None` when it started.
fn refused_start(flag: &str, value: &str) -> Option<String> {
    let (ok, _, err) = leernet(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        "sqlite::memory:",
        flag,
        value,
    ]);
    assert_eq!(err.lines().count(), 1, "{err}");
    (!ok).then_some(err)
}

#[test]
fn a_contact_that_is_no_url_or_address_stops_the_start() {
    for (flag, value) in [
        ("--api-contact-url", "ftp://example.org/leernet"),
        ("--api-contact-url", "docs"),
        ("--api-contact-email", "geen adres"),
        ("--api-contact-email", "api@localhost"),
    ] {
        let err = refused_start(flag, value).unwrap_or_else(|| panic!("{flag} {value} is refused"));
        assert!(err.contains(flag) && err.contains(value), "{err}");
    }
}

#[test]
fn a_metrics_token_too_short_to_be_a_secret_stops_the_start() {
    // Too short once its surrounding whitespace is dropped, or not sendable in a header.
    for secret in [
        "kort-geheim",
        "een-geheim-van-eenendertig-tkns\n",
        "een geheim met spaties, langer dan 32 tekens",
        "ééééééééééééééééééééééééééééééééé",
    ] {
        let err = refused_start("--metrics-token", secret).expect("the token is refused");
        assert!(
            err.contains("--metrics-token") && err.contains("32"),
            "{err}"
        );
        assert!(
            !err.contains(secret.trim()),
            "the secret is not shown: {err}"
        );
    }
}
