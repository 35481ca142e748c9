//! Every resource through the whole life cycle: create with references by natural key,
//! read, list with filters, replace, delete — each write logged once.

use api::dto::*;
use api::error::Error;
use api::service::*;
use chrono::NaiveDate;
use tests::{app_or_skip, both_backends, count};

fn s<'a, T: From<&'a str>>(text: &'a str) -> Option<T> {
    Some(T::from(text))
}

both_backends!(
    async fn every_resource_can_be_created_read_listed_replaced_and_deleted(backend) {
        let app = app_or_skip!(backend);
        let db = &app.db;
        let actor = Actor::system();
        let region = |code: Option<&str>, name: &str, kind: &str, parent: Option<&str>| RegionInput {
            code: code.map(str::to_owned),
            name: s(name),
            kind: s(kind),
            parent_code: parent.map(str::to_owned),
            ..Default::default()
        };
        create::<Regions>(db, &actor, region(Some("PV22"), "Drenthe", "province", None)).await.expect("province");
        let emmen = create::<Regions>(db, &actor, region(Some("GM0114"), "Emmen", "municipality", Some("PV22")))
            .await
            .expect("municipality");
        assert_eq!(emmen.parent_code.as_deref(), Some("PV22"));
        create::<Themes>(db, &actor, ThemeInput { slug: s("voeding"), name: s("voeding"), ..Default::default() })
            .await
            .expect("theme");
        let school = create::<Organizations>(
            db,
            &actor,
            OrganizationInput {
                name: s("Hanzehogeschool Groningen"),
                kind: s("university_of_applied_sciences"),
                region_code: s("GM0114"),
                website: s("https://www.hanze.nl"),
                ..Default::default()
            },
        )
        .await
        .expect("organization");
        assert_eq!(school.region_id, Some(emmen.meta.id));
        let network = create::<Networks>(
            db,
            &actor,
            NetworkInput {
                slug: s("netwerk"),
                name: s("Netwerk"),
                kind: s("learning_network"),
                themes: Some(vec!["voeding".into()]),
                regions: Some(vec![NetworkRegionInput { region_code: s("GM0114"), role: s("focus"), ..Default::default() }]),
                ..Default::default()
            },
        )
        .await
        .expect("network");
        assert_eq!(network.regions[0].region_code.as_deref(), Some("GM0114"));
        let goal = create::<Goals>(
            db,
            &actor,
            GoalInput { network_id: Some(network.meta.id), position: Some(1), title: s("Borgen"), ..Default::default() },
        )
        .await
        .expect("goal");
        create::<Memberships>(
            db,
            &actor,
            MembershipInput {
                network_id: Some(network.meta.id),
                organization_id: Some(school.meta.id),
                role: s("education"),
                since: NaiveDate::from_ymd_opt(2021, 1, 1),
                ..Default::default()
            },
        )
        .await
        .expect("membership");
        create::<Reports>(
            db,
            &actor,
            ReportInput { network_id: Some(network.meta.id), title: s("Verslag"), url: s("https://example.org/verslag"), ..Default::default() },
        )
        .await
        .expect("report");
        let example = create::<PracticeExamples>(
            db,
            &actor,
            PracticeExampleInput {
                slug: s("voorbeeld"),
                title: s("Voorbeeld"),
                year: Some(2023),
                region_code: s("GM0114"),
                network_slug: s("netwerk"),
                links: Some(vec![
                    LinkInput { title: s("Eerste"), url: s("https://example.org/1") },
                    LinkInput { title: s("Tweede"), url: s("https://example.org/2") },
                ]),
                themes: Some(vec!["voeding".into()]),
                status: s("published"),
                ..Default::default()
            },
        )
        .await
        .expect("practice example");
        assert_eq!(example.network_id, Some(network.meta.id));
        assert_eq!(example.links.iter().map(|l| l.title.as_str()).collect::<Vec<_>>(), vec!["Eerste", "Tweede"]);
        let initiative = create::<Initiatives>(
            db,
            &actor,
            InitiativeInput {
                network_slug: s("netwerk"),
                region_code: s("GM0114"),
                title: s("Wandelgroep"),
                status: s("running"),
                residents_reached: Some(40),
                themes: Some(vec!["voeding".into()]),
                ..Default::default()
            },
        )
        .await
        .expect("initiative");
        let lesson = create::<Lessons>(
            db,
            &actor,
            LessonInput { network_slug: s("netwerk"), origin_region_code: s("GM0114"), title: s("Les"), body: s("Wat we leerden."), ..Default::default() },
        )
        .await
        .expect("lesson");
        create::<Transfers>(
            db,
            &actor,
            TransferInput { lesson_id: Some(lesson.meta.id), region_code: s("PV22"), status: s("applied"), ..Default::default() },
        )
        .await
        .expect("transfer");
        let programme = create::<Programmes>(
            db,
            &actor,
            ProgrammeInput { organization_id: Some(school.meta.id), name: s("Voeding en Diëtetiek"), level: s("bachelor"), field: s("nutrition"), ..Default::default() },
        )
        .await
        .expect("programme");
        let assignment = create::<Assignments>(
            db,
            &actor,
            AssignmentInput {
                title: s("Onderzoek in de wijk"),
                network_slug: s("netwerk"),
                initiative_id: Some(initiative.meta.id),
                region_code: s("GM0114"),
                host_organization_id: Some(school.meta.id),
                levels: Some(vec!["bachelor".into(), "master".into()]),
                programme_ids: Some(vec![programme.meta.id]),
                ects: Some(7.5),
                starts_on: NaiveDate::from_ymd_opt(2026, 2, 1),
                ends_on: NaiveDate::from_ymd_opt(2026, 6, 30),
                status: s("open"),
                ..Default::default()
            },
        )
        .await
        .expect("assignment");
        assert_eq!(assignment.programme_ids, vec![programme.meta.id]);
        assert_eq!(assignment.levels, vec![Level::Bachelor, Level::Master]);

        // 14 creates, 14 change entries.
        assert_eq!(count(db, "change_log", "").await, 14);

        // Lists filter in SQL.
        let open = list::<Assignments>(
            db,
            &actor,
            &AssignmentFilter { level: Some(Level::Master), ..Default::default() },
            Default::default(),
        )
        .await
        .expect("list");
        assert_eq!(open.items.len(), 1);
        let none = list::<Assignments>(
            db,
            &actor,
            &AssignmentFilter { level: Some(Level::Mbo), ..Default::default() },
            Default::default(),
        )
        .await
        .expect("list");
        assert!(none.items.is_empty());
        let by_theme = list::<PracticeExamples>(
            db,
            &actor,
            &PracticeExampleFilter { theme: s("voeding"), ..Default::default() },
            Default::default(),
        )
        .await
        .expect("list");
        assert_eq!(by_theme.items.len(), 1);

        // Replace, then delete; each a new version and one change entry.
        let replaced = update::<Goals>(
            db,
            &actor,
            goal.meta.id,
            GoalInput { network_id: Some(network.meta.id), position: Some(1), title: s("Borgen"), status: s("achieved"), ..Default::default() },
            Some(1),
        )
        .await
        .expect("replace goal");
        assert_eq!((replaced.status, replaced.meta.version), (GoalStatus::Achieved, 2));
        delete::<Assignments>(db, &actor, assignment.meta.id, Some(1)).await.expect("delete");
        assert!(matches!(get::<Assignments>(db, &actor, assignment.meta.id).await, Err(Error::NotFound { .. })));
        assert_eq!(count(db, "change_log", "").await, 16);
        assert_eq!(count(db, "audit_log", "").await, 16);
    }
);

both_backends!(
    async fn lists_page_with_a_cursor_without_gaps_or_repeats(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        for i in 0..7 {
            create::<Themes>(&app.db, &actor, ThemeInput { slug: Some(format!("t-{i}")), name: Some(format!("t {i}")), ..Default::default() })
                .await
                .expect("theme");
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = list::<Themes>(&app.db, &actor, &api::dto::ThemeFilter::default(), PageRequest { limit: 3, after, ..Default::default() }).await.expect("page");
            seen.extend(page.items.iter().map(|t| t.slug.clone()));
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        let expected: Vec<String> = (0..7).map(|i| format!("t-{i}")).collect();
        assert_eq!(seen, expected);
    }
);

both_backends!(
    async fn a_page_size_outside_1_to_500_is_refused_not_clamped(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        for limit in [0, 501] {
            let error = list::<Themes>(&app.db, &actor, &api::dto::ThemeFilter::default(), PageRequest::first(limit))
                .await
                .expect_err("out of range");
            assert!(
                matches!(&error, Error::Validation(p) if p.len() == 1 && p[0].name == "limit" && p[0].reason.contains("500")),
                "{error:?}"
            );
        }
        let full = list::<Themes>(&app.db, &actor, &api::dto::ThemeFilter::default(), PageRequest::first(500)).await.expect("500 is allowed");
        assert!(full.items.is_empty() && full.next.is_none());
    }
);

both_backends!(
    async fn upserting_by_external_id_is_idempotent(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let input = || ThemeInput { slug: s("rookvrij"), name: s("rookvrij"), ..Default::default() };
        let (first, created) = upsert::<Themes>(&app.db, &actor, "crm-17", input(), None).await.expect("first");
        assert!(created);
        assert_eq!(first.meta.external_id.as_deref(), Some("crm-17"));
        let (second, created) = upsert::<Themes>(&app.db, &actor, "crm-17", input(), None).await.expect("again");
        assert!(!created);
        assert_eq!(second.meta.id, first.meta.id);
        assert_eq!(second.meta.version, 1);
        assert_eq!(count(&app.db, "change_log", "").await, 1);
        let duplicate = create::<Themes>(
            &app.db,
            &actor,
            ThemeInput { external_id: s("crm-17"), slug: s("ander"), name: s("ander") },
        )
        .await
        .expect_err("the external id is taken");
        assert!(matches!(duplicate, Error::Validation(ref p) if p[0].name == "externalId"), "{duplicate:?}");
    }
);

both_backends!(
    async fn region_codes_must_fit_their_kind_and_the_tree(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let error = create::<Regions>(
            &app.db,
            &actor,
            RegionInput { code: s("GM14"), name: s("Emmen"), kind: s("municipality"), ..Default::default() },
        )
        .await
        .expect_err("bad code");
        assert!(matches!(error, Error::Validation(ref p) if p[0].name == "code"), "{error:?}");
        let emmen = create::<Regions>(
            &app.db,
            &actor,
            RegionInput { code: s("GM0114"), name: s("Emmen"), kind: s("municipality"), ..Default::default() },
        )
        .await
        .expect("municipality");
        let error = create::<Regions>(
            &app.db,
            &actor,
            RegionInput { name: s("Drenthe"), kind: s("province"), code: s("PV22"), parent_id: Some(emmen.meta.id), ..Default::default() },
        )
        .await
        .expect_err("a province inside a municipality");
        assert!(matches!(error, Error::Validation(ref p) if p[0].name == "parentId"), "{error:?}");
    }
);
