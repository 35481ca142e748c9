//! The seed data: what the two documents say, loaded idempotently.

use api::dto::{
    Field, GoalStatus, Level, NetworkChildFilter, NetworkFilter, NetworkStatus, RegionRole,
};
use api::service::{
    Actor, Goals, Memberships, Networks, Organizations, PracticeExamples, Regions, Themes, list,
    seed::seed,
};
use tests::{app_or_skip, both_backends, count};

both_backends!(
    async fn seeding_twice_changes_nothing(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let first = seed(&app.db, &actor).await.expect("first seed");
        assert!(first.created >= 15, "{first}");
        assert_eq!(first.existing, 0);
        let changes = count(&app.db, "change_log", "").await;
        let audits = count(&app.db, "audit_log", "").await;
        assert_eq!(changes as usize, first.created);
        assert_eq!(audits as usize, first.created);

        let second = seed(&app.db, &actor).await.expect("second seed");
        assert_eq!(second.created, 0);
        assert_eq!(second.existing, first.created);
        assert_eq!(count(&app.db, "change_log", "").await, changes, "no new change entries");
        assert_eq!(count(&app.db, "audit_log", "").await, audits);
        assert_eq!(count(&app.db, "networks", "version <> 1").await, 0, "no version was bumped");
    }
);

both_backends!(
    async fn the_seed_holds_what_the_documents_say(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        seed(&app.db, &actor).await.expect("seed");

        let networks = list::<Networks>(&app.db, &actor, &NetworkFilter::default(), Default::default())
            .await
            .expect("networks")
            .items;
        let by_slug = |slug: &str| networks.iter().find(|n| n.slug == slug).cloned().expect(slug);
        let lab = by_slug("living-lab-m-en-gezond");
        let iwp = by_slug("iwp-drenthe-gezond");
        let legro = by_slug("legro");
        let pog = by_slug("pog");

        assert_eq!(lab.name, "Living Lab M&Gezond");
        assert_eq!(lab.project_number.as_deref(), Some("10540012010010"));
        assert_eq!((lab.start_year, lab.end_year), (Some(2021), Some(2022)));
        assert_eq!(lab.progress_percent, Some(100));
        assert_eq!(lab.status, NetworkStatus::Completed);
        assert_eq!(lab.project_leader.as_deref(), Some("dr. S.I. Brouwer"));
        assert!(lab.meeting_place.as_deref().is_some_and(|m| m.contains("buurthuis")));
        assert_eq!(lab.parent_network_id, Some(iwp.meta.id));
        assert_eq!(lab.parent_network_slug.as_deref(), Some("iwp-drenthe-gezond"));
        assert_eq!(lab.education_levels, vec![Level::Bachelor, Level::Master, Level::Mbo]);
        assert_eq!(lab.education_fields.len(), 3);
        assert!(lab.education_fields.contains(&Field::SportAndExercise));
        assert!(lab.education_fields.contains(&Field::Nutrition));
        assert!(lab.education_fields.contains(&Field::CareAndWelfare));
        assert!(lab.themes.contains(&"positieve-gezondheid".to_owned()));

        let regions = list::<Regions>(&app.db, &actor, &Default::default(), Default::default())
            .await
            .expect("regions")
            .items;
        let region = |name: &str| regions.iter().find(|r| r.name == name).cloned().expect(name);
        let bargeres = region("Bargeres");
        let emmen_zuid = region("Emmen-Zuid");
        let emmen = region("Emmen");
        let drenthe = region("Drenthe");
        assert_eq!(bargeres.code, None, "no invented CBS code");
        assert_eq!(emmen_zuid.code, None);
        assert_eq!(bargeres.parent_id, Some(emmen_zuid.meta.id));
        assert_eq!(emmen_zuid.parent_id, Some(emmen.meta.id));
        assert_eq!(emmen.code.as_deref(), Some("GM0114"));
        assert_eq!(emmen.parent_code.as_deref(), Some("PV22"));
        assert_eq!(drenthe.code.as_deref(), Some("PV22"));
        assert_eq!(region("Groningen").code.as_deref(), Some("PV20"));
        let codes: Vec<&str> = regions.iter().filter_map(|r| r.code.as_deref()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(sorted, vec!["GM0114", "PV20", "PV22"], "only real CBS codes");
        let focus = lab.regions.iter().find(|r| r.role == RegionRole::Focus).expect("a focus region");
        assert_eq!(focus.region_id, bargeres.meta.id);

        let goals = list::<Goals>(
            &app.db,
            &actor,
            &NetworkChildFilter { network_id: Some(lab.meta.id) },
            Default::default(),
        )
        .await
        .expect("goals")
        .items;
        assert_eq!(goals.len(), 5);
        let positions: Vec<i32> = goals.iter().map(|g| g.position).collect();
        assert_eq!(positions, vec![1, 2, 3, 4, 5]);
        assert!(goals[0].title.contains("Emmen-Zuid/Bargeres"));
        assert!(goals.iter().all(|g| g.status == GoalStatus::Planned));

        let members = list::<Memberships>(
            &app.db,
            &actor,
            &NetworkChildFilter { network_id: Some(lab.meta.id) },
            Default::default(),
        )
        .await
        .expect("memberships")
        .items;
        assert_eq!(members.len(), 1);
        assert_eq!(Some(members[0].organization_id), lab.lead_organization_id);

        assert_eq!(legro.start_year, Some(2023));
        assert_eq!(legro.parent_network_id, Some(pog.meta.id));
        for theme in ["voeding", "rookverboden", "fysieke-leefomgeving"] {
            assert!(legro.themes.contains(&theme.to_owned()), "{theme}");
        }

        let examples = list::<PracticeExamples>(&app.db, &actor, &Default::default(), Default::default())
            .await
            .expect("practice examples")
            .items;
        assert_eq!(examples.len(), 1);
        let example = &examples[0];
        assert_eq!(example.collection.as_deref(), Some("#GemeenteDelers 2023"));
        assert_eq!(example.year, Some(2023));
        assert_eq!(example.network_id, Some(legro.meta.id));
        assert_eq!(example.region_code.as_deref(), Some("PV20"));
        assert_eq!(example.language, "nl");
        assert!(example.context.as_deref().is_some_and(|c| c.contains("kansarmste van Nederland")));
        assert!(example.why_it_works.as_deref().is_some_and(|c| c.contains("kruisbestuiving")));
        assert!(example.how_to_apply.as_deref().is_some_and(|c| c.contains("elders in Nederland")));
        assert!(example.expected_outcome.as_deref().is_some_and(|c| c.contains("Na 4 jaar")));
        assert!(example.links.is_empty(), "the document lists no links");
    }
);

/// Every text the seed writes, as it reads back through the service (ids, keys, enum values
/// and timestamps left out).
fn texts(value: &serde_json::Value, key: &str, out: &mut Vec<String>) {
    const NOT_TEXT: &[&str] = &[
        "id",
        "createdAt",
        "updatedAt",
        "deletedAt",
        "externalId",
        "slug",
        "code",
        "kind",
        "status",
        "role",
        "language",
        "themes",
        "educationLevels",
        "educationFields",
    ];
    if NOT_TEXT.contains(&key)
        || key.ends_with("Id")
        || key.ends_with("Slug")
        || key.ends_with("Code")
    {
        return;
    }
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| texts(v, key, out)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| texts(v, k, out)),
        _ => {}
    }
}

/// Text with every run of white space made one space.
fn folded(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

both_backends!(
    async fn every_seeded_text_stands_in_the_source_documents(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        seed(&app.db, &actor).await.expect("seed");
        let sources = folded(&[
            include_str!("../sources/living-lab-m-en-gezond.txt"),
            include_str!("../sources/legro-gemeentedelers-2023.txt"),
        ].join("\n"));
        // Names the data model (domain.md) gives where the documents paraphrase: "innovatie
        // werkplaats (IWP) Drenthe Gezond", "sport & bewegen".
        let named_by_the_data_model = ["IWP Drenthe Gezond", "sport en bewegen"];

        let mut all = Vec::new();
        let page = api::service::PageRequest::default();
        let db = &app.db;
        let json = |value: Result<serde_json::Value, serde_json::Error>| value.expect("json");
        let lists = [
            json(serde_json::to_value(list::<Networks>(db, &actor, &Default::default(), page.clone()).await.expect("networks").items)),
            json(serde_json::to_value(list::<Goals>(db, &actor, &Default::default(), page.clone()).await.expect("goals").items)),
            json(serde_json::to_value(list::<Regions>(db, &actor, &Default::default(), page.clone()).await.expect("regions").items)),
            json(serde_json::to_value(list::<Themes>(db, &actor, &api::dto::ThemeFilter::default(), page.clone()).await.expect("themes").items)),
            json(serde_json::to_value(list::<Organizations>(db, &actor, &Default::default(), page.clone()).await.expect("organizations").items)),
            json(serde_json::to_value(list::<PracticeExamples>(db, &actor, &Default::default(), page.clone()).await.expect("examples").items)),
        ];
        for value in &lists {
            texts(value, "", &mut all);
        }
        assert!(all.len() > 40, "{} texts", all.len());
        for text in &all {
            assert!(
                sources.contains(&folded(text)) || named_by_the_data_model.contains(&text.as_str()),
                "not in the source documents: {text:?}"
            );
        }
    }
);
