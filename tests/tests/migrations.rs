//! Migrations run up, down and up again on both backends.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tests::{app_or_skip, both_backends};

const TABLES: &[&str] = &[
    "partners",
    "regions",
    "organizations",
    "themes",
    "networks",
    "network_regions",
    "network_levels",
    "network_fields",
    "network_themes",
    "goals",
    "memberships",
    "reports",
    "practice_examples",
    "practice_example_links",
    "practice_example_themes",
    "initiatives",
    "initiative_themes",
    "lessons",
    "lesson_themes",
    "transfers",
    "programmes",
    "assignments",
    "assignment_levels",
    "assignment_programmes",
    "partner_regions",
    "partner_networks",
    "client_credentials",
    "signing_keys",
    "change_log",
    "audit_log",
    "webhooks",
    "webhook_deliveries",
    "idempotency_keys",
];

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("list tables");
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name").expect("name"))
        .filter(|n| n != "seaql_migrations" && !n.starts_with("sqlite_"))
        .collect();
    names.sort();
    names
}

both_backends!(
    async fn migrations_create_every_table_drop_them_and_apply_again(backend) {
        let app = app_or_skip!(backend);
        let mut expected: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        expected.sort();
        assert_eq!(tables(&app.db).await, expected);
        assert!(Migrator::get_pending_migrations(&app.db).await.expect("state").is_empty());

        Migrator::down(&app.db, None).await.expect("migrate down");
        assert_eq!(tables(&app.db).await, Vec::<String>::new());

        Migrator::up(&app.db, None).await.expect("migrate up again");
        assert_eq!(tables(&app.db).await, expected);
        let system = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT name FROM partners WHERE kind = 'admin'",
            ))
            .await
            .expect("query partners")
            .expect("the system partner exists");
        assert_eq!(system.try_get::<String>("", "name").expect("name"), "leernet-system");
    }
);

both_backends!(
    async fn migrating_twice_is_a_no_op(backend) {
        let app = app_or_skip!(backend);
        let applied = api::migrate(&app.db).await.expect("migrate again");
        assert_eq!(applied, 0);
    }
);

both_backends!(
    async fn the_database_refuses_a_bad_enum_even_without_the_service(backend) {
        let app = app_or_skip!(backend);
        let result = app
            .db
            .execute_unprepared("UPDATE partners SET kind = 'wizard'")
            .await;
        let err = result.expect_err("the CHECK constraint refuses the value");
        assert!(err.to_string().contains("ck_partners_kind") || err.to_string().contains("CHECK"), "{err}");
    }
);
