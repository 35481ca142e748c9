//! The initial schema: every partner-data table (with the common columns `id`, `created_at`,
//! `updated_at`, `version`, `deleted_at`, `owner_partner_id`, `external_id`) and every
//! service table (partners, credentials, keys, change log, audit log, webhooks, idempotency).
//!
//! Written with sea-query's builders so one definition runs on SQLite and PostgreSQL. Enums
//! are text columns with a named CHECK (`ck_<table>_<column>`), so a bad value is refused by
//! the database too and the service can name the column in its error. Uniqueness that must
//! ignore soft-deleted rows (slugs, region codes) uses partial indexes (`WHERE deleted_at IS
//! NULL`), which both backends support.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The initial schema.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The id of the built-in system partner (also `api::service::SYSTEM_PARTNER_ID`).
pub const SYSTEM_PARTNER_ID: sea_orm_migration::sea_orm::prelude::Uuid =
    sea_orm_migration::sea_orm::prelude::Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);

/// Tables in creation order (referenced tables first); dropped in reverse.
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        let db = manager.get_connection();
        for sql in PARTIAL_UNIQUE_INDEXES {
            db.execute_unprepared(sql).await?;
        }
        // The built-in system partner owns seeded rows and acts for the command line.
        let now = chrono::Utc::now();
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("partners")
                    .columns([
                        "id",
                        "name",
                        "kind",
                        "scopes",
                        "require_if_match",
                        "created_at",
                        "updated_at",
                    ])
                    .values_panic([
                        SYSTEM_PARTNER_ID.into(),
                        "leernet-system".into(),
                        "admin".into(),
                        "admin".into(),
                        false.into(),
                        now.into(),
                        now.into(),
                    ])
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            // The change feed orders entries by the id of the transaction that wrote them and
            // hands out only those below the oldest running transaction (sync.md), so each
            // entry records its writer's transaction id.
            db.execute_unprepared(
                "ALTER TABLE change_log ALTER COLUMN tx_id SET DEFAULT (pg_current_xact_id()::text::bigint)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table("partners")
            .col(uuid("id").primary_key())
            .col(string("name"))
            .col(string("kind").check((
                "ck_partners_kind",
                Expr::col("kind").is_in([
                    "municipality",
                    "provincial_network",
                    "education_platform",
                    "dashboard",
                    "admin",
                ]),
            )))
            .col(text("scopes"))
            .col(boolean("require_if_match").default(false))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(timestamp_with_time_zone_null("revoked_at"))
            .to_owned(),
        Table::create()
            .table("regions")
            .col(uuid("id").primary_key())
            .col(string_null("code"))
            .col(string("name"))
            .col(string("kind").check((
                "ck_regions_kind",
                Expr::col("kind").is_in([
                    "country",
                    "province",
                    "municipality",
                    "area",
                    "district",
                    "neighbourhood",
                ]),
            )))
            .col(uuid_null("parent_id"))
            .col(boolean("deprived").default(false))
            .col(
                integer_null("population")
                    .check(("ck_regions_population", Expr::cust("population >= 0"))),
            )
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_regions_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_regions_parent_id")
                    .from("regions", "parent_id")
                    .to("regions", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_regions_owner_partner_id")
                    .from("regions", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("organizations")
            .col(uuid("id").primary_key())
            .col(string("name"))
            .col(string("kind").check((
                "ck_organizations_kind",
                Expr::col("kind").is_in([
                    "municipality",
                    "province",
                    "university_of_applied_sciences",
                    "university",
                    "vocational_school",
                    "welfare",
                    "sports",
                    "healthcare",
                    "community_centre",
                    "funder",
                    "network_body",
                    "other",
                ]),
            )))
            .col(uuid_null("region_id"))
            .col(string_null("website"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_organizations_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_organizations_region_id")
                    .from("organizations", "region_id")
                    .to("regions", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_organizations_owner_partner_id")
                    .from("organizations", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("themes")
            .col(uuid("id").primary_key())
            .col(string("slug"))
            .col(string("name"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_themes_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_themes_owner_partner_id")
                    .from("themes", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("networks")
            .col(uuid("id").primary_key())
            .col(string("slug"))
            .col(string("name"))
            .col(string("kind").check((
                "ck_networks_kind",
                Expr::col("kind").is_in([
                    "living_lab",
                    "learning_network",
                    "innovation_workplace",
                    "consultation_body",
                    "other",
                ]),
            )))
            .col(text_null("summary"))
            .col(text_null("description"))
            .col(string("status").check((
                "ck_networks_status",
                Expr::col("status").is_in(["planned", "active", "completed", "stopped"]),
            )))
            .col(integer_null("start_year"))
            .col(integer_null("end_year"))
            .col(integer_null("progress_percent").check((
                "ck_networks_progress_percent",
                Expr::cust("progress_percent BETWEEN 0 AND 100"),
            )))
            .col(string_null("project_number"))
            .col(uuid_null("funder_id"))
            .col(string_null("funding_round"))
            .col(uuid_null("lead_organization_id"))
            .col(string_null("project_leader"))
            .col(text_null("meeting_place"))
            .col(uuid_null("parent_network_id"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_networks_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .check((
                "ck_networks_years",
                Expr::cust("start_year IS NULL OR end_year IS NULL OR start_year <= end_year"),
            ))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_networks_funder_id")
                    .from("networks", "funder_id")
                    .to("organizations", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_networks_lead_organization_id")
                    .from("networks", "lead_organization_id")
                    .to("organizations", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_networks_parent_network_id")
                    .from("networks", "parent_network_id")
                    .to("networks", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_networks_owner_partner_id")
                    .from("networks", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("network_regions")
            .col(uuid("network_id"))
            .col(uuid("region_id"))
            .col(string("role").check((
                "ck_network_regions_role",
                Expr::col("role").is_in(["focus", "expansion", "transfer_target"]),
            )))
            .primary_key(Index::create().col("network_id").col("region_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_network_regions_network_id")
                    .from("network_regions", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_network_regions_region_id")
                    .from("network_regions", "region_id")
                    .to("regions", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("network_levels")
            .col(uuid("network_id"))
            .col(string("level").check((
                "ck_network_levels_level",
                Expr::col("level").is_in(["mbo", "bachelor", "master"]),
            )))
            .primary_key(Index::create().col("network_id").col("level"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_network_levels_network_id")
                    .from("network_levels", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("network_fields")
            .col(uuid("network_id"))
            .col(string("field").check((
                "ck_network_fields_field",
                Expr::col("field").is_in([
                    "sport_and_exercise",
                    "nutrition",
                    "care_and_welfare",
                    "other",
                ]),
            )))
            .primary_key(Index::create().col("network_id").col("field"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_network_fields_network_id")
                    .from("network_fields", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("network_themes")
            .col(uuid("network_id"))
            .col(uuid("theme_id"))
            .primary_key(Index::create().col("network_id").col("theme_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_network_themes_network_id")
                    .from("network_themes", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_network_themes_theme_id")
                    .from("network_themes", "theme_id")
                    .to("themes", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("goals")
            .col(uuid("id").primary_key())
            .col(uuid("network_id"))
            .col(integer("position").check(("ck_goals_position", Expr::cust("position >= 0"))))
            .col(string("title"))
            .col(text_null("description"))
            .col(string("status").check((
                "ck_goals_status",
                Expr::col("status").is_in(["planned", "in_progress", "achieved", "dropped"]),
            )))
            .col(integer_null("progress_percent").check((
                "ck_goals_progress_percent",
                Expr::cust("progress_percent BETWEEN 0 AND 100"),
            )))
            .col(date_null("target_date"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_goals_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_goals_network_id")
                    .from("goals", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_goals_owner_partner_id")
                    .from("goals", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("memberships")
            .col(uuid("id").primary_key())
            .col(uuid("network_id"))
            .col(uuid("organization_id"))
            .col(string("role").check((
                "ck_memberships_role",
                Expr::col("role").is_in(["lead", "partner", "education", "funder", "coordinator"]),
            )))
            .col(date_null("since"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_memberships_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_memberships_network_id")
                    .from("memberships", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_memberships_organization_id")
                    .from("memberships", "organization_id")
                    .to("organizations", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_memberships_owner_partner_id")
                    .from("memberships", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("reports")
            .col(uuid("id").primary_key())
            .col(uuid("network_id"))
            .col(string("title"))
            .col(date_null("published_on"))
            .col(string_null("url"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_reports_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_reports_network_id")
                    .from("reports", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_reports_owner_partner_id")
                    .from("reports", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("practice_examples")
            .col(uuid("id").primary_key())
            .col(string("slug"))
            .col(string("title"))
            .col(integer_null("year"))
            .col(uuid_null("region_id"))
            .col(uuid_null("network_id"))
            .col(text_null("summary"))
            .col(text_null("context"))
            .col(text_null("approach"))
            .col(text_null("why_it_works"))
            .col(text_null("how_to_apply"))
            .col(text_null("expected_outcome"))
            .col(string_null("collection"))
            .col(string("status").check((
                "ck_practice_examples_status",
                Expr::col("status").is_in(["draft", "published", "archived"]),
            )))
            .col(string("language").default("nl"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(
                integer("version")
                    .check(("ck_practice_examples_version", Expr::cust("version >= 1"))),
            )
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_practice_examples_region_id")
                    .from("practice_examples", "region_id")
                    .to("regions", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_practice_examples_network_id")
                    .from("practice_examples", "network_id")
                    .to("networks", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_practice_examples_owner_partner_id")
                    .from("practice_examples", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("practice_example_links")
            .col(uuid("id").primary_key())
            .col(uuid("practice_example_id"))
            .col(integer("position"))
            .col(string("title"))
            .col(string("url"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_practice_example_links_practice_example_id")
                    .from("practice_example_links", "practice_example_id")
                    .to("practice_examples", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("practice_example_themes")
            .col(uuid("practice_example_id"))
            .col(uuid("theme_id"))
            .primary_key(Index::create().col("practice_example_id").col("theme_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_practice_example_themes_practice_example_id")
                    .from("practice_example_themes", "practice_example_id")
                    .to("practice_examples", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_practice_example_themes_theme_id")
                    .from("practice_example_themes", "theme_id")
                    .to("themes", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("initiatives")
            .col(uuid("id").primary_key())
            .col(uuid_null("network_id"))
            .col(uuid_null("region_id"))
            .col(string("title"))
            .col(text_null("description"))
            .col(string("status").check((
                "ck_initiatives_status",
                Expr::col("status").is_in(["idea", "running", "finished"]),
            )))
            .col(date_null("started_on"))
            .col(date_null("ended_on"))
            .col(integer_null("residents_reached").check((
                "ck_initiatives_residents_reached",
                Expr::cust("residents_reached >= 0"),
            )))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_initiatives_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .check((
                "ck_initiatives_dates",
                Expr::cust("started_on IS NULL OR ended_on IS NULL OR started_on <= ended_on"),
            ))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_initiatives_network_id")
                    .from("initiatives", "network_id")
                    .to("networks", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_initiatives_region_id")
                    .from("initiatives", "region_id")
                    .to("regions", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_initiatives_owner_partner_id")
                    .from("initiatives", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("initiative_themes")
            .col(uuid("initiative_id"))
            .col(uuid("theme_id"))
            .primary_key(Index::create().col("initiative_id").col("theme_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_initiative_themes_initiative_id")
                    .from("initiative_themes", "initiative_id")
                    .to("initiatives", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_initiative_themes_theme_id")
                    .from("initiative_themes", "theme_id")
                    .to("themes", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("lessons")
            .col(uuid("id").primary_key())
            .col(uuid_null("network_id"))
            .col(uuid_null("origin_region_id"))
            .col(string("title"))
            .col(text("body"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_lessons_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_lessons_network_id")
                    .from("lessons", "network_id")
                    .to("networks", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_lessons_origin_region_id")
                    .from("lessons", "origin_region_id")
                    .to("regions", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_lessons_owner_partner_id")
                    .from("lessons", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("lesson_themes")
            .col(uuid("lesson_id"))
            .col(uuid("theme_id"))
            .primary_key(Index::create().col("lesson_id").col("theme_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_lesson_themes_lesson_id")
                    .from("lesson_themes", "lesson_id")
                    .to("lessons", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_lesson_themes_theme_id")
                    .from("lesson_themes", "theme_id")
                    .to("themes", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("transfers")
            .col(uuid("id").primary_key())
            .col(uuid("lesson_id"))
            .col(uuid("region_id"))
            .col(string("status").check((
                "ck_transfers_status",
                Expr::col("status").is_in(["planned", "applied"]),
            )))
            .col(text_null("notes"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_transfers_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_transfers_lesson_id")
                    .from("transfers", "lesson_id")
                    .to("lessons", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_transfers_region_id")
                    .from("transfers", "region_id")
                    .to("regions", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_transfers_owner_partner_id")
                    .from("transfers", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("programmes")
            .col(uuid("id").primary_key())
            .col(uuid("organization_id"))
            .col(string("name"))
            .col(string("level").check((
                "ck_programmes_level",
                Expr::col("level").is_in(["mbo", "bachelor", "master"]),
            )))
            .col(string("field").check((
                "ck_programmes_field",
                Expr::col("field").is_in([
                    "sport_and_exercise",
                    "nutrition",
                    "care_and_welfare",
                    "other",
                ]),
            )))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_programmes_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_programmes_organization_id")
                    .from("programmes", "organization_id")
                    .to("organizations", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_programmes_owner_partner_id")
                    .from("programmes", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("assignments")
            .col(uuid("id").primary_key())
            .col(string("title"))
            .col(text_null("description"))
            .col(text_null("learning_outcomes"))
            .col(uuid_null("network_id"))
            .col(uuid_null("initiative_id"))
            .col(uuid_null("region_id"))
            .col(uuid_null("host_organization_id"))
            .col(double_null("ects").check(("ck_assignments_ects", Expr::cust("ects >= 0"))))
            .col(integer_null("hours_estimate").check((
                "ck_assignments_hours_estimate",
                Expr::cust("hours_estimate >= 0"),
            )))
            .col(date_null("starts_on"))
            .col(date_null("ends_on"))
            .col(date_null("application_deadline"))
            .col(
                integer_null("capacity")
                    .check(("ck_assignments_capacity", Expr::cust("capacity >= 0"))),
            )
            .col(string("status").check((
                "ck_assignments_status",
                Expr::col("status").is_in(["draft", "open", "in_progress", "closed"]),
            )))
            .col(string_null("contact"))
            .col(string("language").default("nl"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(integer("version").check(("ck_assignments_version", Expr::cust("version >= 1"))))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .col(uuid("owner_partner_id"))
            .col(string_null("external_id"))
            .check((
                "ck_assignments_dates",
                Expr::cust("starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on"),
            ))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignments_network_id")
                    .from("assignments", "network_id")
                    .to("networks", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignments_initiative_id")
                    .from("assignments", "initiative_id")
                    .to("initiatives", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignments_region_id")
                    .from("assignments", "region_id")
                    .to("regions", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignments_host_organization_id")
                    .from("assignments", "host_organization_id")
                    .to("organizations", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignments_owner_partner_id")
                    .from("assignments", "owner_partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("assignment_levels")
            .col(uuid("assignment_id"))
            .col(string("level").check((
                "ck_assignment_levels_level",
                Expr::col("level").is_in(["mbo", "bachelor", "master"]),
            )))
            .primary_key(Index::create().col("assignment_id").col("level"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignment_levels_assignment_id")
                    .from("assignment_levels", "assignment_id")
                    .to("assignments", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("assignment_programmes")
            .col(uuid("assignment_id"))
            .col(uuid("programme_id"))
            .primary_key(Index::create().col("assignment_id").col("programme_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignment_programmes_assignment_id")
                    .from("assignment_programmes", "assignment_id")
                    .to("assignments", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_assignment_programmes_programme_id")
                    .from("assignment_programmes", "programme_id")
                    .to("programmes", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("partner_regions")
            .col(uuid("partner_id"))
            .col(uuid("region_id"))
            .primary_key(Index::create().col("partner_id").col("region_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_partner_regions_partner_id")
                    .from("partner_regions", "partner_id")
                    .to("partners", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_partner_regions_region_id")
                    .from("partner_regions", "region_id")
                    .to("regions", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("partner_networks")
            .col(uuid("partner_id"))
            .col(uuid("network_id"))
            .primary_key(Index::create().col("partner_id").col("network_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_partner_networks_partner_id")
                    .from("partner_networks", "partner_id")
                    .to("partners", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_partner_networks_network_id")
                    .from("partner_networks", "network_id")
                    .to("networks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("client_credentials")
            .col(uuid("id").primary_key())
            .col(uuid("partner_id"))
            .col(string("client_id"))
            .col(string("secret_hash"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone_null("last_used_at"))
            .col(timestamp_with_time_zone_null("revoked_at"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_client_credentials_partner_id")
                    .from("client_credentials", "partner_id")
                    .to("partners", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("signing_keys")
            .col(string("kid").primary_key())
            .col(string("algorithm"))
            .col(text("private_key"))
            .col(json_binary("public_jwk"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone_null("retired_at"))
            .col(timestamp_with_time_zone_null("published_until"))
            .to_owned(),
        Table::create()
            .table("change_log")
            .col(big_pk_auto("seq"))
            .col(big_integer_null("tx_id"))
            .col(string("resource_type"))
            .col(uuid("resource_id"))
            .col(string("op").check((
                "ck_change_log_op",
                Expr::col("op").is_in(["upsert", "delete"]),
            )))
            .col(integer("version"))
            .col(timestamp_with_time_zone("changed_at"))
            .col(uuid_null("partner_id"))
            .col(json_binary_null("data"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_change_log_partner_id")
                    .from("change_log", "partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("audit_log")
            .col(big_pk_auto("id"))
            .col(timestamp_with_time_zone("at"))
            .col(uuid_null("partner_id"))
            .col(string("action").check((
                "ck_audit_log_action",
                Expr::col("action").is_in(["create", "update", "delete"]),
            )))
            .col(string("resource_type"))
            .col(uuid("resource_id"))
            .col(integer("version"))
            .col(string_null("request_id"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_audit_log_partner_id")
                    .from("audit_log", "partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("webhooks")
            .col(uuid("id").primary_key())
            .col(uuid("partner_id"))
            .col(string("url"))
            .col(text("types"))
            .col(string("secret"))
            .col(boolean("active").default(true))
            .col(integer("consecutive_failures").default(0))
            .col(timestamp_with_time_zone_null("disabled_at"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_webhooks_partner_id")
                    .from("webhooks", "partner_id")
                    .to("partners", "id"),
            )
            .to_owned(),
        Table::create()
            .table("webhook_deliveries")
            .col(big_pk_auto("id"))
            .col(uuid("webhook_id"))
            .col(big_integer("change_seq"))
            .col(string("status").check((
                "ck_webhook_deliveries_status",
                Expr::col("status").is_in(["pending", "delivered", "failed"]),
            )))
            .col(integer("attempts").default(0))
            .col(timestamp_with_time_zone("next_attempt_at"))
            .col(timestamp_with_time_zone_null("last_attempt_at"))
            .col(integer_null("response_status"))
            .col(text_null("error"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone_null("delivered_at"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_webhook_deliveries_webhook_id")
                    .from("webhook_deliveries", "webhook_id")
                    .to("webhooks", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_webhook_deliveries_change_seq")
                    .from("webhook_deliveries", "change_seq")
                    .to("change_log", "seq"),
            )
            .to_owned(),
        Table::create()
            .table("idempotency_keys")
            .col(uuid("partner_id"))
            .col(string("key"))
            .col(string("request_hash"))
            .col(integer("response_status"))
            .col(text("response_body"))
            .col(timestamp_with_time_zone("created_at"))
            .primary_key(Index::create().col("partner_id").col("key"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_idempotency_keys_partner_id")
                    .from("idempotency_keys", "partner_id")
                    .to("partners", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ux_partners_name")
            .table("partners")
            .col("name")
            .unique()
            .to_owned(),
        Index::create()
            .name("ux_regions_owner_partner_id_external_id")
            .table("regions")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_regions_updated_at")
            .table("regions")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_regions_parent_id")
            .table("regions")
            .col("parent_id")
            .to_owned(),
        Index::create()
            .name("ix_regions_kind")
            .table("regions")
            .col("kind")
            .to_owned(),
        Index::create()
            .name("ix_regions_name")
            .table("regions")
            .col("name")
            .to_owned(),
        Index::create()
            .name("ux_organizations_owner_partner_id_external_id")
            .table("organizations")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_organizations_updated_at")
            .table("organizations")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_organizations_region_id")
            .table("organizations")
            .col("region_id")
            .to_owned(),
        Index::create()
            .name("ix_organizations_kind")
            .table("organizations")
            .col("kind")
            .to_owned(),
        Index::create()
            .name("ix_organizations_name")
            .table("organizations")
            .col("name")
            .to_owned(),
        Index::create()
            .name("ux_themes_owner_partner_id_external_id")
            .table("themes")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_themes_updated_at")
            .table("themes")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ux_networks_owner_partner_id_external_id")
            .table("networks")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_networks_updated_at")
            .table("networks")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_networks_kind")
            .table("networks")
            .col("kind")
            .to_owned(),
        Index::create()
            .name("ix_networks_status")
            .table("networks")
            .col("status")
            .to_owned(),
        Index::create()
            .name("ix_networks_start_year")
            .table("networks")
            .col("start_year")
            .to_owned(),
        Index::create()
            .name("ix_networks_funder_id")
            .table("networks")
            .col("funder_id")
            .to_owned(),
        Index::create()
            .name("ix_networks_lead_organization_id")
            .table("networks")
            .col("lead_organization_id")
            .to_owned(),
        Index::create()
            .name("ix_networks_parent_network_id")
            .table("networks")
            .col("parent_network_id")
            .to_owned(),
        Index::create()
            .name("ix_network_regions_region_id")
            .table("network_regions")
            .col("region_id")
            .to_owned(),
        Index::create()
            .name("ix_network_levels_level")
            .table("network_levels")
            .col("level")
            .to_owned(),
        Index::create()
            .name("ix_network_fields_field")
            .table("network_fields")
            .col("field")
            .to_owned(),
        Index::create()
            .name("ix_network_themes_theme_id")
            .table("network_themes")
            .col("theme_id")
            .to_owned(),
        Index::create()
            .name("ux_goals_owner_partner_id_external_id")
            .table("goals")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_goals_updated_at")
            .table("goals")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_goals_network_id_position")
            .table("goals")
            .col("network_id")
            .col("position")
            .to_owned(),
        Index::create()
            .name("ix_goals_status")
            .table("goals")
            .col("status")
            .to_owned(),
        Index::create()
            .name("ux_memberships_owner_partner_id_external_id")
            .table("memberships")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_memberships_updated_at")
            .table("memberships")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_memberships_network_id")
            .table("memberships")
            .col("network_id")
            .to_owned(),
        Index::create()
            .name("ix_memberships_organization_id")
            .table("memberships")
            .col("organization_id")
            .to_owned(),
        Index::create()
            .name("ux_reports_owner_partner_id_external_id")
            .table("reports")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_reports_updated_at")
            .table("reports")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_reports_network_id")
            .table("reports")
            .col("network_id")
            .to_owned(),
        Index::create()
            .name("ux_practice_examples_owner_partner_id_external_id")
            .table("practice_examples")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_practice_examples_updated_at")
            .table("practice_examples")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_practice_examples_region_id")
            .table("practice_examples")
            .col("region_id")
            .to_owned(),
        Index::create()
            .name("ix_practice_examples_network_id")
            .table("practice_examples")
            .col("network_id")
            .to_owned(),
        Index::create()
            .name("ix_practice_examples_status")
            .table("practice_examples")
            .col("status")
            .to_owned(),
        Index::create()
            .name("ix_practice_examples_year")
            .table("practice_examples")
            .col("year")
            .to_owned(),
        Index::create()
            .name("ix_practice_examples_collection")
            .table("practice_examples")
            .col("collection")
            .to_owned(),
        Index::create()
            .name("ix_practice_example_links_practice_example_id_position")
            .table("practice_example_links")
            .col("practice_example_id")
            .col("position")
            .to_owned(),
        Index::create()
            .name("ix_practice_example_themes_theme_id")
            .table("practice_example_themes")
            .col("theme_id")
            .to_owned(),
        Index::create()
            .name("ux_initiatives_owner_partner_id_external_id")
            .table("initiatives")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_initiatives_updated_at")
            .table("initiatives")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_initiatives_network_id")
            .table("initiatives")
            .col("network_id")
            .to_owned(),
        Index::create()
            .name("ix_initiatives_region_id")
            .table("initiatives")
            .col("region_id")
            .to_owned(),
        Index::create()
            .name("ix_initiatives_status")
            .table("initiatives")
            .col("status")
            .to_owned(),
        Index::create()
            .name("ix_initiatives_started_on")
            .table("initiatives")
            .col("started_on")
            .to_owned(),
        Index::create()
            .name("ix_initiative_themes_theme_id")
            .table("initiative_themes")
            .col("theme_id")
            .to_owned(),
        Index::create()
            .name("ux_lessons_owner_partner_id_external_id")
            .table("lessons")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_lessons_updated_at")
            .table("lessons")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_lessons_network_id")
            .table("lessons")
            .col("network_id")
            .to_owned(),
        Index::create()
            .name("ix_lessons_origin_region_id")
            .table("lessons")
            .col("origin_region_id")
            .to_owned(),
        Index::create()
            .name("ix_lesson_themes_theme_id")
            .table("lesson_themes")
            .col("theme_id")
            .to_owned(),
        Index::create()
            .name("ux_transfers_owner_partner_id_external_id")
            .table("transfers")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_transfers_updated_at")
            .table("transfers")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_transfers_lesson_id")
            .table("transfers")
            .col("lesson_id")
            .to_owned(),
        Index::create()
            .name("ix_transfers_region_id")
            .table("transfers")
            .col("region_id")
            .to_owned(),
        Index::create()
            .name("ix_transfers_status")
            .table("transfers")
            .col("status")
            .to_owned(),
        Index::create()
            .name("ux_programmes_owner_partner_id_external_id")
            .table("programmes")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_programmes_updated_at")
            .table("programmes")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_programmes_organization_id")
            .table("programmes")
            .col("organization_id")
            .to_owned(),
        Index::create()
            .name("ix_programmes_level")
            .table("programmes")
            .col("level")
            .to_owned(),
        Index::create()
            .name("ix_programmes_field")
            .table("programmes")
            .col("field")
            .to_owned(),
        Index::create()
            .name("ux_assignments_owner_partner_id_external_id")
            .table("assignments")
            .col("owner_partner_id")
            .col("external_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_assignments_updated_at")
            .table("assignments")
            .col("updated_at")
            .to_owned(),
        Index::create()
            .name("ix_assignments_network_id")
            .table("assignments")
            .col("network_id")
            .to_owned(),
        Index::create()
            .name("ix_assignments_initiative_id")
            .table("assignments")
            .col("initiative_id")
            .to_owned(),
        Index::create()
            .name("ix_assignments_region_id")
            .table("assignments")
            .col("region_id")
            .to_owned(),
        Index::create()
            .name("ix_assignments_host_organization_id")
            .table("assignments")
            .col("host_organization_id")
            .to_owned(),
        Index::create()
            .name("ix_assignments_status")
            .table("assignments")
            .col("status")
            .to_owned(),
        Index::create()
            .name("ix_assignments_starts_on")
            .table("assignments")
            .col("starts_on")
            .to_owned(),
        Index::create()
            .name("ix_assignment_levels_level")
            .table("assignment_levels")
            .col("level")
            .to_owned(),
        Index::create()
            .name("ix_assignment_programmes_programme_id")
            .table("assignment_programmes")
            .col("programme_id")
            .to_owned(),
        Index::create()
            .name("ix_partner_regions_region_id")
            .table("partner_regions")
            .col("region_id")
            .to_owned(),
        Index::create()
            .name("ix_partner_networks_network_id")
            .table("partner_networks")
            .col("network_id")
            .to_owned(),
        Index::create()
            .name("ux_client_credentials_client_id")
            .table("client_credentials")
            .col("client_id")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_client_credentials_partner_id")
            .table("client_credentials")
            .col("partner_id")
            .to_owned(),
        Index::create()
            .name("ix_signing_keys_retired_at")
            .table("signing_keys")
            .col("retired_at")
            .to_owned(),
        Index::create()
            .name("ix_change_log_resource_type_seq")
            .table("change_log")
            .col("resource_type")
            .col("seq")
            .to_owned(),
        Index::create()
            .name("ix_change_log_tx_id_seq")
            .table("change_log")
            .col("tx_id")
            .col("seq")
            .to_owned(),
        Index::create()
            .name("ix_change_log_resource_id_seq")
            .table("change_log")
            .col("resource_id")
            .col("seq")
            .to_owned(),
        Index::create()
            .name("ix_change_log_changed_at")
            .table("change_log")
            .col("changed_at")
            .to_owned(),
        Index::create()
            .name("ix_change_log_partner_id")
            .table("change_log")
            .col("partner_id")
            .to_owned(),
        Index::create()
            .name("ix_audit_log_partner_id_id")
            .table("audit_log")
            .col("partner_id")
            .col("id")
            .to_owned(),
        Index::create()
            .name("ix_audit_log_resource_type_resource_id")
            .table("audit_log")
            .col("resource_type")
            .col("resource_id")
            .to_owned(),
        Index::create()
            .name("ix_audit_log_at")
            .table("audit_log")
            .col("at")
            .to_owned(),
        Index::create()
            .name("ix_webhooks_partner_id")
            .table("webhooks")
            .col("partner_id")
            .to_owned(),
        Index::create()
            .name("ix_webhooks_active")
            .table("webhooks")
            .col("active")
            .to_owned(),
        Index::create()
            .name("ux_webhook_deliveries_webhook_id_change_seq")
            .table("webhook_deliveries")
            .col("webhook_id")
            .col("change_seq")
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_webhook_deliveries_status_next_attempt_at")
            .table("webhook_deliveries")
            .col("status")
            .col("next_attempt_at")
            .to_owned(),
        Index::create()
            .name("ix_webhook_deliveries_change_seq")
            .table("webhook_deliveries")
            .col("change_seq")
            .to_owned(),
        Index::create()
            .name("ix_idempotency_keys_created_at")
            .table("idempotency_keys")
            .col("created_at")
            .to_owned(),
    ]
}

/// Unique among live rows only: a soft-deleted network frees its slug.
const PARTIAL_UNIQUE_INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX ux_regions_code ON regions (code) WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX ux_themes_slug ON themes (slug) WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX ux_networks_slug ON networks (slug) WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX ux_memberships_network_id_organization_id_role ON memberships (network_id, organization_id, role) WHERE deleted_at IS NULL",
    "CREATE UNIQUE INDEX ux_practice_examples_slug ON practice_examples (slug) WHERE deleted_at IS NULL",
];
