//! Migrations run up, down and up again on both backends.

use migration::{DbErr, MigrationName, MigrationTrait, Migrator, MigratorTrait, SchemaManager};
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
    "partner_issuers",
    "client_credentials",
    "signing_keys",
    "change_log",
    "feed_clock",
    "audit_log",
    "webhooks",
    "webhook_deliveries",
    "idempotency_keys",
    "region_closure",
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
        if backend == tests::Backend::Sqlite {
            // Each searchable table's FTS5 index and its shadow tables.
            for (table, _) in migration::search::SEARCHED {
                let fts = migration::search::fts_table(table);
                expected.push(fts.clone());
                expected.extend(["config", "data", "docsize", "idx"].map(|t| format!("{fts}_{t}")));
            }
        }
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

/// A foreign key as the catalog describes it.
#[derive(Debug)]
struct ForeignKey {
    table: String,
    columns: Vec<String>,
    /// The delete rule as the backend spells it: PostgreSQL `a`/`r`/`c`/`n`/`d`, SQLite
    /// `NO ACTION`/`RESTRICT`/`CASCADE`/`SET NULL`/`SET DEFAULT`.
    on_delete: String,
}

/// Every foreign key, read from the catalog.
async fn foreign_keys(db: &DatabaseConnection) -> Vec<ForeignKey> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT c.conrelid::regclass::text AS tbl, c.conname AS name, a.attname AS col,
                    CAST(c.confdeltype AS TEXT) AS rule
             FROM pg_constraint c
             CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, pos)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             WHERE c.contype = 'f'
             ORDER BY tbl, name, k.pos"
        }
        _ => {
            "SELECT m.name AS tbl, CAST(f.id AS TEXT) AS name, f.\"from\" AS col,
                    f.on_delete AS rule
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f
             WHERE m.type = 'table'
             ORDER BY tbl, f.id, f.seq"
        }
    };
    grouped(db, sql)
        .await
        .into_iter()
        .map(|(table, columns, rule)| ForeignKey {
            table,
            columns,
            on_delete: rule.unwrap_or_default(),
        })
        .collect()
}

/// Every index's columns in order, primary keys included: `(table, columns)`.
async fn indexes(db: &DatabaseConnection) -> Vec<(String, Vec<String>)> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS name,
                    a.attname AS col
             FROM pg_index i
             CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             JOIN pg_class t ON t.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
             ORDER BY tbl, name, k.pos"
        }
        _ => {
            "SELECT m.name AS tbl, l.name AS name, c.name AS col
             FROM sqlite_master m, pragma_index_list(m.name) l, pragma_index_info(l.name) c
             WHERE m.type = 'table'
             ORDER BY tbl, l.name, c.seqno"
        }
    };
    grouped(db, sql)
        .await
        .into_iter()
        .map(|(table, columns, _)| (table, columns))
        .collect()
}

/// Runs a catalog query yielding `(tbl, name, col[, rule])` rows ordered by table and name,
/// and folds the columns of each `(tbl, name)` into one list: `(table, columns, rule)`.
async fn grouped(db: &DatabaseConnection, sql: &str) -> Vec<(String, Vec<String>, Option<String>)> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("read the catalog");
    let mut out: Vec<(String, String, Vec<String>, Option<String>)> = Vec::new();
    for row in rows {
        let table: String = row.try_get("", "tbl").expect("tbl");
        let name: String = row.try_get("", "name").expect("name");
        let column: String = row.try_get("", "col").expect("col");
        match out.last_mut() {
            Some((t, n, columns, _)) if *t == table && *n == name => columns.push(column),
            _ => out.push((table, name, vec![column], row.try_get("", "rule").ok())),
        }
    }
    out.into_iter().map(|(t, _, c, r)| (t, c, r)).collect()
}

both_backends!(
    async fn every_foreign_key_leads_an_index(backend) {
        let app = app_or_skip!(backend);
        let foreign_keys = foreign_keys(&app.db).await;
        let indexes = indexes(&app.db).await;
        // The schema has dozens of foreign keys: an empty catalog read must not pass.
        assert!(foreign_keys.len() >= TABLES.len() - 1, "{foreign_keys:?}");
        let unindexed: Vec<&ForeignKey> = foreign_keys
            .iter()
            .filter(|fk| {
                !indexes.iter().any(|(table, index)| {
                    *table == fk.table
                        && index.len() >= fk.columns.len()
                        && fk.columns.iter().all(|c| index[..fk.columns.len()].contains(c))
                })
            })
            .collect();
        assert!(
            unindexed.is_empty(),
            "foreign keys without an index that starts with their columns (deletes and joins on them would scan the table): {unindexed:?}"
        );
    }
);

both_backends!(
    async fn deleting_a_partner_never_deletes_what_it_owns(backend) {
        let app = app_or_skip!(backend);
        let owner_keys: Vec<ForeignKey> = foreign_keys(&app.db)
            .await
            .into_iter()
            .filter(|fk| fk.columns == ["owner_partner_id"])
            .collect();
        assert_eq!(owner_keys.len(), 13, "one per resource table: {owner_keys:?}");
        // No cascade, no set null: a partner that still owns rows cannot be deleted.
        let cascading: Vec<&ForeignKey> = owner_keys
            .iter()
            .filter(|fk| !matches!(fk.on_delete.as_str(), "a" | "r" | "NO ACTION" | "RESTRICT"))
            .collect();
        assert!(cascading.is_empty(), "owner foreign keys that would delete or orphan rows: {cascading:?}");
    }
);

/// A later migration that adds an enum value, as one would: through
/// `migration::rebuild::replace_check`.
struct AddRetractedStatus;

impl MigrationName for AddRetractedStatus {
    fn name(&self) -> &str {
        "m20991231_000001_practice_example_status_retracted"
    }
}

#[migration::async_trait::async_trait]
impl MigrationTrait for AddRetractedStatus {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        migration::rebuild::replace_check(
            manager,
            "practice_examples",
            "ck_practice_examples_status",
            "status IN ('draft', 'published', 'archived', 'retracted')",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        migration::rebuild::replace_check(
            manager,
            "practice_examples",
            "ck_practice_examples_status",
            "status IN ('draft', 'published', 'archived')",
        )
        .await
    }
}

/// Leernet's migrations plus [`AddRetractedStatus`].
struct WithRetracted;

impl MigratorTrait for WithRetracted {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = Migrator::migrations();
        all.push(Box::new(AddRetractedStatus));
        all
    }
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql)
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("n")
}

both_backends!(
    async fn adding_an_enum_value_keeps_every_row_and_every_reference(backend) {
        let app = app_or_skip!(backend);
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        let links = "SELECT COUNT(*) AS n FROM practice_example_themes";
        let before = scalar(&app.db, links).await;
        assert!(before > 0, "the seeded practice example has themes");
        let examples = scalar(&app.db, "SELECT COUNT(*) AS n FROM practice_examples").await;

        WithRetracted::up(&app.db, None).await.expect("add the value");
        assert_eq!(scalar(&app.db, links).await, before, "no link row was cascaded away");
        assert_eq!(scalar(&app.db, "SELECT COUNT(*) AS n FROM practice_examples").await, examples);
        app.db
            .execute_unprepared("UPDATE practice_examples SET status = 'retracted'")
            .await
            .expect("the new value is allowed");
        assert!(app.db.execute_unprepared("UPDATE practice_examples SET status = 'bogus'").await.is_err());
        // References into and out of the rebuilt table still hold, and its indexes are back.
        let dangling = format!(
            "INSERT INTO practice_example_themes (practice_example_id, theme_id) SELECT '{}', id FROM themes LIMIT 1",
            uuid::Uuid::now_v7()
        );
        assert!(app.db.execute_unprepared(&dangling).await.is_err(), "the foreign key to practice_examples holds");
        let indexes = indexes(&app.db).await;
        assert!(indexes.iter().any(|(table, columns)| table == "practice_examples" && columns == &["slug".to_owned()]), "{indexes:?}");
        let slug_taken = "INSERT INTO practice_examples (id, slug, title, status, language, created_at, updated_at, version, owner_partner_id) \
             SELECT id || 'x', slug, title, status, language, created_at, updated_at, version, owner_partner_id FROM practice_examples";
        if backend == tests::Backend::Sqlite {
            assert!(app.db.execute_unprepared(slug_taken).await.is_err(), "the partial unique index on slug is back");
        }
        app.db.execute_unprepared("UPDATE practice_examples SET status = 'published'").await.expect("reset");
        WithRetracted::down(&app.db, Some(1)).await.expect("and back");
        assert_eq!(scalar(&app.db, links).await, before);
    }
);

both_backends!(
    async fn a_rebuild_that_would_leave_a_dangling_reference_changes_nothing(backend) {
        let app = app_or_skip!(backend);
        if backend != tests::Backend::Sqlite {
            return; // PostgreSQL alters constraints in place and never leaves a dangling row.
        }
        api::service::seed::seed(&app.db, &api::service::Actor::system()).await.expect("seed");
        {
            use sea_orm::sqlx;
            let mut conn = app.db.get_sqlite_connection_pool().acquire().await.expect("a connection");
            sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await.expect("off");
            sqlx::query("INSERT INTO practice_example_themes (practice_example_id, theme_id) SELECT randomblob(16), id FROM themes LIMIT 1")
                .execute(&mut *conn)
                .await
                .expect("a dangling row");
            sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await.expect("on");
        }
        let refused = WithRetracted::up(&app.db, None).await.expect_err("refused");
        assert!(refused.to_string().contains("referring to missing rows"), "{refused}");
        assert!(
            app.db.execute_unprepared("UPDATE practice_examples SET status = 'retracted'").await.is_err(),
            "the old constraint is still in place"
        );
        assert_eq!(scalar(&app.db, "SELECT COUNT(*) AS n FROM practice_examples").await, 1);
    }
);
