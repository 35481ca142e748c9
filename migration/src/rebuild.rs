//! Changing what SQLite cannot `ALTER`: a CHECK constraint (a new enum value) or a foreign
//! key's delete rule, by rebuilding the table.
//!
//! SQLite can only change a constraint by creating the table anew, copying the rows,
//! dropping the old table and renaming the new one. With foreign keys on, dropping the old
//! table deletes its rows first and so cascades into every table that refers to it (a
//! rebuild of `practice_examples` would empty `practice_example_themes`). [`rebuild_sqlite`]
//! therefore follows SQLite's own procedure (<https://sqlite.org/lang_altertable.html>,
//! "Making Other Kinds Of Table Schema Changes"): on one connection, foreign keys off,
//! everything in one transaction, the indexes recreated, and `PRAGMA foreign_key_check`
//! before the commit, so a rebuild that would leave a dangling reference changes nothing.
//!
//! PostgreSQL alters constraints in place ([`replace_check`] and [`replace_foreign_key`]
//! choose the way per backend). A migration using these helpers must not run in a
//! transaction on SQLite (the default: sea-orm-migration uses one on PostgreSQL only), since
//! `PRAGMA foreign_keys` is ignored inside one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::sqlx::{self, Row};
use sea_orm_migration::sea_orm::{DatabaseExecutor, DbBackend};

/// Replaces the CHECK constraint `constraint` of `table` with `CHECK (<check>)`, e.g. to
/// allow one more enum value: `replace_check(m, "practice_examples",
/// "ck_practice_examples_status", "status IN ('draft', 'published', 'archived', 'retracted')")`.
pub async fn replace_check(
    manager: &SchemaManager<'_>,
    table: &str,
    constraint: &str,
    check: &str,
) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {constraint}, \
                     ADD CONSTRAINT {constraint} CHECK ({check})"
                ))
                .await?;
            Ok(())
        }
        _ => {
            let marker = format!("CONSTRAINT \"{constraint}\" CHECK (");
            rebuild_sqlite(manager, table, |sql| {
                let start = sql.find(&marker).ok_or_else(|| {
                    DbErr::Migration(format!("{table} has no constraint {constraint}"))
                })? + marker.len();
                let end = closing_paren(sql, start).ok_or_else(|| {
                    DbErr::Migration(format!("cannot read the constraint {constraint}"))
                })?;
                Ok(format!("{}{check}{}", &sql[..start], &sql[end..]))
            })
            .await
        }
    }
}

/// Gives the foreign key from `table.column` to `target(target_column)` the delete rule
/// `on_delete` (`CASCADE`, `SET NULL`, or `NO ACTION`); `name` is its constraint name on
/// PostgreSQL.
pub async fn replace_foreign_key(
    manager: &SchemaManager<'_>,
    name: &str,
    (table, column): (&str, &str),
    (target, target_column): (&str, &str),
    on_delete: &str,
) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} \
                     FOREIGN KEY ({column}) REFERENCES {target} ({target_column}) ON DELETE {on_delete}"
                ))
                .await?;
            Ok(())
        }
        _ => {
            let clause =
                format!("FOREIGN KEY (\"{column}\") REFERENCES \"{target}\" (\"{target_column}\")");
            rebuild_sqlite(manager, table, |sql| {
                let start = sql.find(&clause).ok_or_else(|| {
                    DbErr::Migration(format!("{table} has no foreign key {clause}"))
                })?;
                let after = start + clause.len();
                // Drop an existing rule, up to the next column or constraint (or the end).
                let rest = &sql[after..];
                let stop = rest
                    .find(", ")
                    .unwrap_or_else(|| rest.rfind(')').unwrap_or(rest.len()));
                let rule = if on_delete.eq_ignore_ascii_case("NO ACTION") {
                    String::new()
                } else {
                    format!(" ON DELETE {on_delete}")
                };
                Ok(format!("{}{clause}{rule}{}", &sql[..start], &rest[stop..]))
            })
            .await
        }
    }
}

/// The index just past the `)` that closes the parenthesis opened before `start`.
fn closing_paren(sql: &str, start: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut quoted = false;
    for (i, c) in sql[start..].char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Some(start + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Rebuilds SQLite table `table` from its `CREATE TABLE` statement as changed by `edit`
/// (same columns, in the same order), keeping its rows (with their rowids), its indexes,
/// its triggers, the views and every reference to it. Refuses (and changes nothing) when the result would break a foreign key.
pub async fn rebuild_sqlite(
    manager: &SchemaManager<'_>,
    table: &str,
    edit: impl FnOnce(&str) -> Result<String, DbErr>,
) -> Result<(), DbErr> {
    let DatabaseExecutor::Connection(db) = manager.get_connection() else {
        return Err(DbErr::Migration(
            "a SQLite table rebuild must run outside a transaction (foreign keys are switched off for it)"
                .to_owned(),
        ));
    };
    let mut conn = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(sql_err)?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await
        .map_err(sql_err)?;
    let result = rebuild_on(&mut conn, table, edit).await;
    if result.is_err() {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    }
    // Back on before the connection returns to the pool, whatever happened.
    let on = sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await
        .map_err(sql_err);
    if on.is_err() {
        conn.detach();
    }
    result.and(on.map(|_| ()))
}

async fn rebuild_on(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    edit: impl FnOnce(&str) -> Result<String, DbErr>,
) -> Result<(), DbErr> {
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(sql_err)?;
    let create: String =
        sqlx::query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(table)
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql_err)?
            .ok_or_else(|| DbErr::Migration(format!("no table {table}")))?
            .try_get(0)
            .map_err(sql_err)?;
    let indexes: Vec<String> = sqlx::query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(sql_err)?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()
    .map_err(sql_err)?;
    // Triggers go with the table and views that name it stop the rename (SQLite checks
    // every view against the schema): both are made again after it, as they were.
    let triggers = schema_sql(
        conn,
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
        Some(table),
    )
    .await?;
    let views: Vec<(String, String)> =
        sqlx::query("SELECT name, sql FROM sqlite_master WHERE type = 'view'")
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err)?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sql_err)?;
    // The rows keep their rowids: the full-text indexes refer to rows by rowid.
    let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err)?
        .iter()
        .map(|r| r.try_get::<String, _>(0).map(|c| format!("\"{c}\"")))
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    let columns = columns.join(", ");
    let edited = edit(&create)?;
    let scratch = format!("{table}__rebuild");
    let head = format!("CREATE TABLE \"{table}\"");
    let Some(body) = edited.strip_prefix(&head) else {
        return Err(DbErr::Migration(format!(
            "the edited statement must still begin with {head}"
        )));
    };
    let drop_views: Vec<String> = views
        .iter()
        .map(|(name, _)| format!("DROP VIEW \"{name}\""))
        .collect();
    for sql in drop_views
        .iter()
        .chain(&[
            format!("CREATE TABLE \"{scratch}\"{body}"),
            format!(
                "INSERT INTO \"{scratch}\" (rowid, {columns}) SELECT rowid, {columns} FROM \"{table}\""
            ),
            format!("DROP TABLE \"{table}\""),
            format!("ALTER TABLE \"{scratch}\" RENAME TO \"{table}\""),
        ])
        .chain(indexes.iter())
        .chain(triggers.iter())
        .chain(views.iter().map(|(_, sql)| sql))
    {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&mut *conn)
            .await
            .map_err(sql_err)?;
    }
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err)?;
    if !broken.is_empty() {
        return Err(DbErr::Migration(format!(
            "rebuilding {table} would leave {} rows referring to missing rows; nothing was changed",
            broken.len()
        )));
    }
    sqlx::query("COMMIT")
        .execute(&mut *conn)
        .await
        .map_err(sql_err)?;
    Ok(())
}

/// The `sql` column of the schema rows `query` selects (bound to `table` when given).
async fn schema_sql(
    conn: &mut sqlx::SqliteConnection,
    query: &'static str,
    table: Option<&str>,
) -> Result<Vec<String>, DbErr> {
    let mut query = sqlx::query(query);
    if let Some(table) = table {
        query = query.bind(table.to_owned());
    }
    query
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err)?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()
        .map_err(sql_err)
}

fn sql_err(e: sqlx::Error) -> DbErr {
    DbErr::Migration(format!("table rebuild: {e}"))
}
