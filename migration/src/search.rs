//! What full-text search reads: the searchable tables and their text columns, in the order
//! their text is joined. This is the one list: the migrations build the search columns
//! (PostgreSQL) and search tables (SQLite) from it, and the service bounds a row's
//! searchable text with it.

/// The searchable tables and their text columns.
pub const SEARCHED: &[(&str, &[&str])] = &[
    ("regions", &["name"]),
    ("organizations", &["name"]),
    ("themes", &["name"]),
    ("networks", &["name", "summary", "description"]),
    ("goals", &["title", "description"]),
    ("reports", &["title"]),
    (
        "practice_examples",
        &[
            "title",
            "summary",
            "context",
            "approach",
            "why_it_works",
            "how_to_apply",
            "expected_outcome",
        ],
    ),
    ("initiatives", &["title", "description"]),
    ("lessons", &["title", "body"]),
    ("programmes", &["name"]),
    (
        "assignments",
        &["title", "description", "learning_outcomes"],
    ),
];

/// The text columns of `table`; empty when it is not searchable.
pub fn columns(table: &str) -> &'static [&'static str] {
    SEARCHED
        .iter()
        .find(|(t, _)| *t == table)
        .map_or(&[], |(_, columns)| columns)
}

/// The searched text of a row: its text columns joined by spaces, with `prefix` before each
/// column name (`new.` in a trigger).
pub fn document(columns: &[&str], prefix: &str) -> String {
    columns
        .iter()
        .map(|c| format!("coalesce({prefix}{c}, '')"))
        .collect::<Vec<_>>()
        .join(" || ' ' || ")
}

/// The SQLite search table of `table` (an FTS5 index over [`document`]).
pub fn fts_table(table: &str) -> String {
    format!("{table}_search")
}
