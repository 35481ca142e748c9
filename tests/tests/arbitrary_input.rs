//! Arbitrary input to every resource's create and update, through the service layer: the
//! answer is success or an error the caller caused (a field error, a conflict, ...), never
//! an internal error, and a refused write leaves the database exactly as it was.

use api::error::Error;
use api::service::{
    Actor, Assignments, Goals, Initiatives, Lessons, Memberships, Networks, Organizations,
    PracticeExamples, Programmes, Regions, Reports, Resource, Themes, Transfers, create,
    get_by_key, seed::seed, update,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tests::{app_or_skip, both_backends};
use uuid::Uuid;

/// Cases per resource and operation.
const CASES: usize = 48;

/// Tables whose row counts (and the resource's versions) make up the fingerprint.
const TABLES: &[&str] = &[
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
    "change_log",
    "audit_log",
    "feed_clock",
];

/// Everything a write could touch, in one query.
async fn fingerprint(db: &DatabaseConnection) -> Vec<(String, i64)> {
    let sql = TABLES
        .iter()
        .map(|t| {
            let versions = if *t == "feed_clock" {
                "COALESCE(SUM(n), 0)".to_owned()
            } else if ["change_log", "audit_log"].contains(t)
                || t.contains('_') && !t.starts_with("practice_examples")
            {
                "0".to_owned()
            } else {
                "COALESCE(SUM(version), 0)".to_owned()
            };
            format!(
                "SELECT '{t}' AS t, CAST(COUNT(*) + {versions} * 1000000 AS BIGINT) AS n FROM {t}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("fingerprint")
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "t").expect("t"),
                r.try_get::<i64>("", "n").expect("n"),
            )
        })
        .collect()
}

/// Strings that probe the rules: empty, blank, NUL and other control characters, too long,
/// valid keys and enum values (so cases get past the first check), dates out of range,
/// URLs that only look like URLs.
fn text(ids: &[String]) -> BoxedStrategy<String> {
    let mut nasty: Vec<String> = [
        "",
        " ",
        "\0",
        "a\0b",
        "regel\u{0}",
        "\u{1}x",
        "cr\r",
        "\u{7f}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    nasty.push("x".repeat(501));
    nasty.push("y".repeat(2_001));
    nasty.push("z".repeat(100_001));
    let mut pool: Vec<String> = [
        "tab\there",
        "line\nbreak",
        "ééé 🙂",
        "GM0114",
        "PV22",
        "PV20",
        "WK011401",
        "voeding",
        "rookvrij",
        "legro",
        "living-lab-m-en-gezond",
        "external",
        "bulk",
        "a--b",
        "-a",
        "draft",
        "published",
        "archived",
        "open",
        "in_progress",
        "closed",
        "idea",
        "running",
        "finished",
        "planned",
        "applied",
        "active",
        "living_lab",
        "learning_network",
        "municipality",
        "province",
        "district",
        "area",
        "welfare",
        "focus",
        "expansion",
        "lead",
        "partner",
        "mbo",
        "bachelor",
        "master",
        "nutrition",
        "care_and_welfare",
        "achieved",
        "nl",
        "en-GB",
        "x-",
        "https://example.org/a",
        "https://javascript:alert(1)",
        "javascript:alert(1)",
        "http://",
        "https://user:pw@example.org",
        "2023-01-01",
        "9999-12-31",
        "0000-01-01",
        "2023-02-30",
        "01934f4e-7b1c-7000-8000-000000000001",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    pool.extend(ids.iter().cloned());
    prop_oneof![
        2 => proptest::sample::select(nasty),
        3 => proptest::sample::select(pool),
        1 => any::<String>(),
    ]
    .boxed()
}

fn value(ids: &[String]) -> BoxedStrategy<Value> {
    let text = text(ids);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(100),
            Just(101),
            Just(2023),
            Just(1899),
            Just(2201),
            Just(i64::from(i32::MAX)),
            Just(i64::from(i32::MAX) + 1),
            Just(i64::MIN),
            any::<i64>(),
        ]
        .prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text.clone().prop_map(Value::String),
    ];
    let item = prop_oneof![
        text.clone().prop_map(Value::String),
        (text.clone(), text.clone(), text.clone())
            .prop_map(|(a, b, c)| json!({"regionCode": a, "role": b, "title": c})),
        (text.clone(), text.clone()).prop_map(|(a, b)| json!({"title": a, "url": b})),
        (text.clone(), text).prop_map(|(a, b)| json!({"regionId": a, "role": b})),
    ];
    prop_oneof![
        6 => leaf,
        2 => proptest::collection::vec(item, 0..5).prop_map(Value::Array),
        1 => Just(Value::Array(vec![json!("voeding"); 101])),
    ]
    .boxed()
}

fn input(fields: &'static [&'static str], base: &Value, ids: &[String]) -> BoxedStrategy<Value> {
    let base = base.clone();
    proptest::collection::vec((proptest::sample::select(fields), value(ids)), 1..4)
        .prop_map(move |changes| {
            let mut object = base.clone();
            for (field, value) in changes {
                object[field] = value;
            }
            object
        })
        .boxed()
}

/// Feeds `CASES` arbitrary creates and updates (of `baseline`) of resource `R`.
async fn probe<R: Resource>(
    db: &DatabaseConnection,
    runner: &mut TestRunner,
    fields: &'static [&'static str],
    baseline: Value,
    ids: &[String],
) where
    R::Input: serde::de::DeserializeOwned,
{
    let actor = Actor::system();
    let base_input: R::Input = serde_json::from_value(baseline.clone())
        .unwrap_or_else(|e| panic!("{}: a valid baseline: {e}", R::TYPE));
    let created = create::<R>(db, &actor, base_input)
        .await
        .unwrap_or_else(|e| panic!("{}: baseline: {e:?}", R::TYPE));
    let id: Uuid = serde_json::to_value(&created).expect("json")["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("an id");
    let strategy = input(fields, &baseline, ids);
    let (mut accepted, mut refused, mut tries) = (0, 0, 0);
    while accepted + refused < CASES * 2 && tries < CASES * 40 {
        tries += 1;
        let case = accepted + refused;
        let mut json = strategy.new_tree(runner).expect("a case").current();
        if case % 2 == 0 {
            // Creates get keys of their own, unless the case changed them: a taken slug
            // would stop every create before it reached the rest of its input.
            for key in ["slug", "code"] {
                if json.get(key).is_some() && json[key] == baseline[key] {
                    json[key] = match key {
                        "slug" => json!(format!("proef-{tries}")),
                        _ => Value::Null,
                    };
                }
            }
        }
        let Ok(parsed) = serde_json::from_value::<R::Input>(json.clone()) else {
            continue; // a type error: the face's to report, before the service sees it
        };
        let before = fingerprint(db).await;
        let result = if case % 2 == 0 {
            create::<R>(db, &actor, parsed).await.map(|_| ())
        } else {
            update::<R>(db, &actor, id, parsed, None).await.map(|_| ())
        };
        match result {
            Ok(()) => accepted += 1,
            Err(Error::Internal(cause)) => {
                panic!("{}: an internal error ({cause:#}) for {json}", R::TYPE)
            }
            Err(error) => {
                refused += 1;
                assert_eq!(
                    fingerprint(db).await,
                    before,
                    "{}: {error:?} changed the database for {json}",
                    R::TYPE
                );
            }
        }
    }
    assert!(
        refused > 0 && accepted + refused == CASES * 2,
        "{}: too few cases reached the service ({accepted} accepted, {refused} refused in {tries} tries)",
        R::TYPE
    );
}

both_backends!(
    async fn arbitrary_input_is_a_field_error_or_success_never_internal_and_a_refusal_changes_nothing(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        seed(&app.db, &actor).await.expect("seed");
        let db = &app.db;
        let lab = get_by_key::<Networks>(db, &actor, "living-lab-m-en-gezond").await.expect("lab").meta.id;
        let emmen = get_by_key::<Regions>(db, &actor, "GM0114").await.expect("Emmen").meta.id;
        let organization: Uuid = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT id FROM organizations LIMIT 1"))
            .await
            .expect("query")
            .expect("an organization")
            .try_get("", "id")
            .expect("id");
        let lesson = create::<Lessons>(db, &actor, serde_json::from_value(json!({"title": "Les", "body": "Tekst", "networkId": lab})).expect("lesson"))
            .await
            .expect("a lesson")
            .meta
            .id;
        let ids: Vec<String> = [lab, emmen, organization, lesson, Uuid::now_v7()].iter().map(Uuid::to_string).collect();
        let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::default() });
        let r = &mut runner;

        probe::<Regions>(db, r, &["externalId", "code", "name", "kind", "parentId", "parentCode", "deprived", "population"],
            json!({"name": "Wijk", "kind": "district", "code": "WK011499", "parentCode": "GM0114"}), &ids).await;
        probe::<Organizations>(db, r, &["externalId", "name", "kind", "regionId", "regionCode", "website"],
            json!({"name": "Buurthuis", "kind": "community_centre", "regionCode": "GM0114"}), &ids).await;
        probe::<Themes>(db, r, &["externalId", "slug", "name"], json!({"slug": "proef", "name": "Proef"}), &ids).await;
        probe::<Networks>(db, r, &["externalId", "slug", "name", "kind", "summary", "description", "status", "startYear", "endYear",
            "progressPercent", "projectNumber", "funderId", "fundingRound", "leadOrganizationId", "projectLeader", "meetingPlace",
            "parentNetworkId", "parentNetworkSlug", "themes", "regions", "educationLevels", "educationFields"],
            json!({"slug": "proefnetwerk", "name": "Proef", "kind": "learning_network", "parentNetworkId": lab}), &ids).await;
        probe::<Goals>(db, r, &["externalId", "networkId", "position", "title", "description", "status", "progressPercent", "targetDate"],
            json!({"networkId": lab, "position": 9, "title": "Doel"}), &ids).await;
        probe::<Memberships>(db, r, &["externalId", "networkId", "organizationId", "role", "since"],
            json!({"networkId": lab, "organizationId": organization, "role": "funder"}), &ids).await;
        probe::<Reports>(db, r, &["externalId", "networkId", "title", "publishedOn", "url"],
            json!({"networkId": lab, "title": "Verslag"}), &ids).await;
        probe::<PracticeExamples>(db, r, &["externalId", "slug", "title", "year", "regionId", "regionCode", "networkId", "networkSlug",
            "summary", "context", "approach", "whyItWorks", "howToApply", "expectedOutcome", "links", "collection", "themes", "status", "language"],
            json!({"slug": "proefvoorbeeld", "title": "Proef", "regionCode": "GM0114"}), &ids).await;
        probe::<Initiatives>(db, r, &["externalId", "networkId", "networkSlug", "regionId", "regionCode", "title", "description", "status",
            "startedOn", "endedOn", "residentsReached", "themes"],
            json!({"title": "Wandelen", "networkId": lab}), &ids).await;
        probe::<Lessons>(db, r, &["externalId", "networkId", "networkSlug", "originRegionId", "originRegionCode", "title", "body", "themes"],
            json!({"title": "Les", "body": "Tekst"}), &ids).await;
        probe::<Transfers>(db, r, &["externalId", "lessonId", "regionId", "regionCode", "status", "notes"],
            json!({"lessonId": lesson, "regionCode": "GM0114"}), &ids).await;
        probe::<Programmes>(db, r, &["externalId", "organizationId", "name", "level", "field"],
            json!({"organizationId": organization, "name": "Sport en bewegen", "level": "mbo", "field": "sport_and_exercise"}), &ids).await;
        probe::<Assignments>(db, r, &["externalId", "title", "description", "learningOutcomes", "networkId", "networkSlug", "initiativeId",
            "regionId", "regionCode", "hostOrganizationId", "levels", "programmeIds", "ects", "hoursEstimate", "startsOn", "endsOn",
            "applicationDeadline", "capacity", "status", "contact", "language"],
            json!({"title": "Opdracht", "networkId": lab}), &ids).await;
    }
);
