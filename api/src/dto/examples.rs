//! The examples of the OpenAPI document: every one is a row the seed writes
//! ([`crate::service::seed`]), nothing else, so a change to the seed is a change here.
//!
//! Each input example (`...Input`) is that row as a partner would send it to its upsert
//! route (`PUT .../external/{externalId}`, the `externalId` included): references by natural
//! key where the API takes one (`parentCode`, `parentNetworkSlug`, `regionCode`,
//! `networkSlug`), the parent of a sub-resource left to the path. Each representation
//! example is that row as the API answers it. The long texts are the seed's own constants;
//! ids and timestamps, which every database assigns for itself, are those of one seed run.
//! `tests/tests/openapi.rs` PUTs every input example to its seed row and expects the row
//! unchanged, and reads every representation example back, on SQLite and PostgreSQL.
//!
//! Reports, initiatives, lessons, transfers, programmes and assignments have no example:
//! the source documents name none, so the seed writes none.

use serde_json::{Value, json};

use crate::service::SYSTEM_PARTNER_ID;
use crate::service::seed::{
    LEGRO_APPROACH, LEGRO_CONTEXT, LEGRO_HOW_TO_APPLY, LEGRO_OUTCOME, LEGRO_SUMMARY, LEGRO_WHY,
    LIVING_LAB_GOALS,
};

// The ids one seed run gave the rows below and the rows they point at.
const PV22_DRENTHE: &str = "01a216a1-cd8e-732b-97f3-d0696445af49";
const PV20_GRONINGEN: &str = "01a216a1-cda3-70c8-8ce4-91bc536ecc55";
const GM0114_EMMEN: &str = "01a216a1-cdb4-70fc-96ed-0ed0f75b8bdf";
const THEME_POSITIEVE_GEZONDHEID: &str = "01a216a1-cdc7-7060-888a-be89947d9df0";
const HANZEHOGESCHOOL_GRONINGEN: &str = "01a216a1-cde0-74b8-b1b8-f3dc4f730718";
const LIVING_LAB_M_EN_GEZOND: &str = "01a216a1-cdee-711f-898c-501badf78d4f";
const LIVING_LAB_GOAL_1: &str = "01a216a1-cdf8-71a9-91d0-a51cdcad64ba";
const LIVING_LAB_HANZE_MEMBERSHIP: &str = "01a216a1-ce33-7771-93cc-fd7c8800e440";
const POG: &str = "01a216a1-ce3a-7279-9887-14959d8b722f";
const LEGRO: &str = "01a216a1-ce55-7478-828e-4909377f10c7";
const LEGRO_GEMEENTEDELERS_2023: &str = "01a216a1-ce68-76f6-a39f-43956236907f";

/// LEGrO's themes, in the order of the submission.
const LEGRO_THEMES: [&str; 4] = [
    "gezonde-leefomgeving",
    "voeding",
    "rookverboden",
    "fysieke-leefomgeving",
];

/// LEGrO's themes as the API answers them (sorted).
const LEGRO_THEMES_READ: [&str; 4] = [
    "fysieke-leefomgeving",
    "gezonde-leefomgeving",
    "rookverboden",
    "voeding",
];

/// A seeded row as read: the common fields (version 1, owned by the system partner),
/// then `fields`.
fn read(id: &str, created_at: &str, external_id: &str, fields: Value) -> Value {
    let mut row = json!({
        "id": id,
        "version": 1,
        "createdAt": created_at,
        "updatedAt": created_at,
        "ownerPartnerId": SYSTEM_PARTNER_ID,
        "externalId": external_id,
    });
    if let (Some(row), Value::Object(fields)) = (row.as_object_mut(), fields) {
        row.extend(fields);
    }
    row
}

/// The region Emmen (GM0114), as sent.
pub fn region_input() -> Value {
    json!({
        "externalId": "seed:region:GM0114",
        "code": "GM0114",
        "name": "Emmen",
        "kind": "municipality",
        "parentCode": "PV22",
        "deprived": false,
    })
}

/// The region Emmen (GM0114), as read.
pub fn region() -> Value {
    read(
        GM0114_EMMEN,
        "2026-11-26T06:53:52.436757Z",
        "seed:region:GM0114",
        json!({
            "code": "GM0114",
            "name": "Emmen",
            "kind": "municipality",
            "parentId": PV22_DRENTHE,
            "parentCode": "PV22",
            "deprived": false,
            "population": null,
        }),
    )
}

/// The Hanzehogeschool Groningen, as sent.
pub fn organization_input() -> Value {
    json!({
        "externalId": "seed:organization:hanzehogeschool-groningen",
        "name": "Hanzehogeschool Groningen",
        "kind": "university_of_applied_sciences",
    })
}

/// The Hanzehogeschool Groningen, as read.
pub fn organization() -> Value {
    read(
        HANZEHOGESCHOOL_GRONINGEN,
        "2026-11-26T06:53:52.480382Z",
        "seed:organization:hanzehogeschool-groningen",
        json!({
            "name": "Hanzehogeschool Groningen",
            "kind": "university_of_applied_sciences",
            "regionId": null,
            "regionCode": null,
            "website": null,
        }),
    )
}

/// The theme positieve gezondheid, as sent.
pub fn theme_input() -> Value {
    json!({
        "externalId": "seed:theme:positieve-gezondheid",
        "slug": "positieve-gezondheid",
        "name": "positieve gezondheid",
    })
}

/// The theme positieve gezondheid, as read.
pub fn theme() -> Value {
    read(
        THEME_POSITIEVE_GEZONDHEID,
        "2026-11-26T06:53:52.455096Z",
        "seed:theme:positieve-gezondheid",
        json!({
            "slug": "positieve-gezondheid",
            "name": "positieve gezondheid",
        }),
    )
}

/// The learning network LEGrO, as sent.
pub fn network_input() -> Value {
    json!({
        "externalId": "seed:network:legro",
        "slug": "legro",
        "name": "Leernetwerk Leefomgeving Groningen (LEGrO)",
        "kind": "learning_network",
        "summary": LEGRO_SUMMARY,
        "startYear": 2023,
        "endYear": 2027,
        "parentNetworkSlug": "pog",
        "themes": LEGRO_THEMES,
        "regions": [{ "regionCode": "PV20" }],
    })
}

/// The learning network LEGrO, as read.
pub fn network() -> Value {
    read(
        LEGRO,
        "2026-11-26T06:53:52.597267Z",
        "seed:network:legro",
        json!({
            "slug": "legro",
            "name": "Leernetwerk Leefomgeving Groningen (LEGrO)",
            "kind": "learning_network",
            "summary": LEGRO_SUMMARY,
            "description": null,
            "status": "active",
            "startYear": 2023,
            "endYear": 2027,
            "progressPercent": null,
            "projectNumber": null,
            "funderId": null,
            "fundingRound": null,
            "leadOrganizationId": null,
            "projectLeader": null,
            "meetingPlace": null,
            "parentNetworkId": POG,
            "parentNetworkSlug": "pog",
            "themes": LEGRO_THEMES_READ,
            "regions": [{ "regionId": PV20_GRONINGEN, "regionCode": "PV20", "role": "focus" }],
            "educationLevels": [],
            "educationFields": [],
        }),
    )
}

/// The Living Lab M&Gezond's first goal, as sent (to the Living Lab's goals).
pub fn goal_input() -> Value {
    let (title, description) = LIVING_LAB_GOALS[0];
    json!({
        "externalId": "seed:goal:living-lab-m-en-gezond:1",
        "position": 1,
        "title": title,
        "description": description,
    })
}

/// The Living Lab M&Gezond's first goal, as read.
pub fn goal() -> Value {
    let (title, description) = LIVING_LAB_GOALS[0];
    read(
        LIVING_LAB_GOAL_1,
        "2026-11-26T06:53:52.504666Z",
        "seed:goal:living-lab-m-en-gezond:1",
        json!({
            "networkId": LIVING_LAB_M_EN_GEZOND,
            "position": 1,
            "title": title,
            "description": description,
            "status": "planned",
            "progressPercent": null,
            "targetDate": null,
        }),
    )
}

/// The Hanzehogeschool Groningen as lead of the Living Lab M&Gezond, as sent (to the Living
/// Lab's members; an organization is named by its id only).
pub fn membership_input() -> Value {
    json!({
        "externalId": "seed:membership:living-lab-m-en-gezond:hanzehogeschool-groningen",
        "organizationId": HANZEHOGESCHOOL_GRONINGEN,
        "role": "lead",
    })
}

/// The Hanzehogeschool Groningen as lead of the Living Lab M&Gezond, as read.
pub fn membership() -> Value {
    read(
        LIVING_LAB_HANZE_MEMBERSHIP,
        "2026-11-26T06:53:52.563287Z",
        "seed:membership:living-lab-m-en-gezond:hanzehogeschool-groningen",
        json!({
            "networkId": LIVING_LAB_M_EN_GEZOND,
            "organizationId": HANZEHOGESCHOOL_GRONINGEN,
            "role": "lead",
            "since": null,
        }),
    )
}

/// LEGrO's submission to #GemeenteDelers 2023, as sent.
pub fn practice_example_input() -> Value {
    json!({
        "externalId": "seed:practice-example:legro-gemeentedelers-2023",
        "slug": "legro-gemeentedelers-2023",
        "title": "Leernetwerk Leefomgeving Groningen (LEGrO)",
        "year": 2023,
        "regionCode": "PV20",
        "networkSlug": "legro",
        "summary": LEGRO_SUMMARY,
        "context": LEGRO_CONTEXT,
        "approach": LEGRO_APPROACH,
        "whyItWorks": LEGRO_WHY,
        "howToApply": LEGRO_HOW_TO_APPLY,
        "expectedOutcome": LEGRO_OUTCOME,
        "collection": "#GemeenteDelers 2023",
        "themes": LEGRO_THEMES,
        "status": "published",
        "language": "nl",
    })
}

/// LEGrO's submission to #GemeenteDelers 2023, as read.
pub fn practice_example() -> Value {
    read(
        LEGRO_GEMEENTEDELERS_2023,
        "2026-11-26T06:53:52.616052Z",
        "seed:practice-example:legro-gemeentedelers-2023",
        json!({
            "slug": "legro-gemeentedelers-2023",
            "title": "Leernetwerk Leefomgeving Groningen (LEGrO)",
            "year": 2023,
            "regionId": PV20_GRONINGEN,
            "regionCode": "PV20",
            "networkId": LEGRO,
            "networkSlug": "legro",
            "summary": LEGRO_SUMMARY,
            "context": LEGRO_CONTEXT,
            "approach": LEGRO_APPROACH,
            "whyItWorks": LEGRO_WHY,
            "howToApply": LEGRO_HOW_TO_APPLY,
            "expectedOutcome": LEGRO_OUTCOME,
            "links": [],
            "collection": "#GemeenteDelers 2023",
            "themes": LEGRO_THEMES_READ,
            "status": "published",
            "language": "nl",
        }),
    )
}
