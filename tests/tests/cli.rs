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
