//! The service layer: the only code that talks to the database.
//!
//! REST, GraphQL and the CLI are thin faces over these functions. Every function takes the
//! [`Actor`] that calls, checks what it may do, validates input (all invalid fields at once)
//! and, for writes, does the write, its change-log entry and its audit entry in one
//! transaction. One module per aggregate implements [`Resource`]; [`resource`] holds the
//! life cycle they share.

/// Every collection, once: its service type (a [`Resource`], which names its feed type,
/// scope, table and rules) and its DTO (the wire type, GraphQL's object type, and the name
/// in its global ids), in the order the API lists them. `collections!(then)` calls the
/// macro `then` with `Regions => Region; Organizations => Organization; ...`.
///
/// The lists of every collection are made from it (the feed's types, GraphQL's `Node` and
/// `ChangeType`); what cannot be (the entity's `Common`, which its bound on [`Resource`]
/// requires; each face's routes and fields, which differ per collection; the tables, the
/// write scopes and the search index) is checked against it by the `registry` tests in
/// `lib.rs`. A new collection starts here.
#[macro_export]
macro_rules! collections {
    ($then:ident) => {
        $then! {
            Regions => Region;
            Organizations => Organization;
            Themes => Theme;
            Networks => Network;
            Goals => Goal;
            Memberships => Membership;
            Reports => Report;
            PracticeExamples => PracticeExample;
            Initiatives => Initiative;
            Lessons => Lesson;
            Transfers => Transfer;
            Programmes => Programme;
            Assignments => Assignment;
        }
    };
}

mod actor;
pub mod assignments;
pub mod audit;
pub mod cache;
pub mod changes;
pub mod check;
pub mod db;
pub mod idempotency;
pub mod initiatives;
pub mod json;
pub mod keys;
pub mod lessons;
pub mod networks;
pub mod partners;
pub mod practice_examples;
pub mod refs;
pub mod regions;
pub mod related;
pub mod resource;
pub mod seed;
pub mod stats;
pub mod webhooks;

pub use actor::{Actor, Confinement, SYSTEM_PARTNER_ID, SYSTEM_PARTNER_NAME};
pub use assignments::{Assignments, Programmes};
pub use initiatives::Initiatives;
pub use lessons::{Lessons, Transfers};
pub use networks::{Goals, Memberships, Networks, Reports};
pub use practice_examples::PracticeExamples;
pub use regions::{Organizations, Regions, Themes};
pub use resource::{
    Page, PageRequest, Resource, create, delete, get, get_by_key, get_external, list, list_cached,
    update, upsert,
};

/// Every table, longest names first, to read constraint names (`ux_<table>_<columns>`).
pub(crate) const TABLES: &[&str] = &[
    "practice_example_themes",
    "practice_example_links",
    "assignment_programmes",
    "webhook_deliveries",
    "practice_examples",
    "client_credentials",
    "assignment_levels",
    "initiative_themes",
    "idempotency_keys",
    "partner_networks",
    "network_regions",
    "partner_regions",
    "network_themes",
    "network_levels",
    "network_fields",
    "organizations",
    "lesson_themes",
    "signing_keys",
    "assignments",
    "initiatives",
    "memberships",
    "programmes",
    "change_log",
    "feed_clock",
    "audit_log",
    "transfers",
    "networks",
    "partners",
    "webhooks",
    "regions",
    "lessons",
    "reports",
    "themes",
    "goals",
];
