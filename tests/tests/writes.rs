//! Writes through the service layer: validation, versions, the change log and the audit
//! log, optimistic concurrency, authorization and concurrent writers.

use api::dto::{NetworkInput, ThemeInput};
use api::error::Error;
use api::service::{Actor, Networks, Themes, create, delete, get, update};
use tests::{app_or_skip, both_backends, count};
use uuid::Uuid;

fn theme(slug: &str, name: &str) -> ThemeInput {
    ThemeInput {
        slug: Some(slug.to_owned()),
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

fn fields(error: &Error) -> Vec<String> {
    match error {
        Error::Validation(params) => params.iter().map(|p| p.name.clone()).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

both_backends!(
    async fn invalid_input_lists_every_invalid_field_and_writes_nothing(backend) {
        let app = app_or_skip!(backend);
        let input = NetworkInput {
            slug: Some("Not A Slug".into()),
            kind: Some("wizardry".into()),
            progress_percent: Some(150),
            start_year: Some(2023),
            end_year: Some(2021),
            lead_organization_id: Some(Uuid::now_v7()),
            themes: Some(vec!["no-such-theme".into()]),
            ..Default::default()
        };
        let error = create::<Networks>(&app.db, &Actor::system(), input).await.expect_err("invalid");
        let names = fields(&error);
        for field in ["slug", "name", "kind", "progressPercent", "endYear", "leadOrganizationId", "themes[0]"] {
            assert!(names.contains(&field.to_owned()), "{field} missing from {names:?}");
        }
        let Error::Validation(params) = &error else { unreachable!() };
        let kind = params.iter().find(|p| p.name == "kind").expect("kind");
        assert!(kind.reason.contains("living_lab"), "the reason lists the allowed values: {}", kind.reason);
        assert_eq!(count(&app.db, "networks", "").await, 0);
        assert_eq!(count(&app.db, "change_log", "").await, 0);
        assert_eq!(count(&app.db, "audit_log", "").await, 0);
    }
);

both_backends!(
    async fn a_duplicate_slug_is_a_validation_error_on_slug(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        create::<Themes>(&app.db, &actor, theme("voeding", "voeding")).await.expect("first");
        let error = create::<Themes>(&app.db, &actor, theme("voeding", "nog eens voeding"))
            .await
            .expect_err("duplicate");
        assert_eq!(fields(&error), vec!["slug"]);
        assert_eq!(count(&app.db, "themes", "").await, 1);
    }
);

both_backends!(
    async fn a_deleted_slug_can_be_used_again(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let first = create::<Themes>(&app.db, &actor, theme("rookvrij", "rookvrij")).await.expect("first");
        delete::<Themes>(&app.db, &actor, first.meta.id, None).await.expect("delete");
        let second = create::<Themes>(&app.db, &actor, theme("rookvrij", "rookvrij")).await.expect("again");
        assert_ne!(first.meta.id, second.meta.id);
    }
);

both_backends!(
    async fn concurrent_creates_of_one_slug_give_one_resource_and_validation_errors(backend) {
        let app = app_or_skip!(backend);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let db = app.db.clone();
            tasks.push(tokio::spawn(async move {
                create::<Themes>(&db, &Actor::system(), theme("leefbaarheid", &format!("leefbaarheid {i}"))).await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => ok += 1,
                Err(error) => assert_eq!(fields(&error), vec!["slug"]),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(count(&app.db, "themes", "").await, 1);
        assert_eq!(count(&app.db, "change_log", "").await, 1);
    }
);

both_backends!(
    async fn concurrent_writers_queue_instead_of_failing(backend) {
        let app = app_or_skip!(backend);
        let mut tasks = Vec::new();
        for i in 0..24 {
            let db = app.db.clone();
            tasks.push(tokio::spawn(async move {
                create::<Themes>(&db, &Actor::system(), theme(&format!("thema-{i}"), &format!("thema {i}"))).await
            }));
        }
        for task in tasks {
            task.await.expect("task").expect("every writer succeeds");
        }
        assert_eq!(count(&app.db, "themes", "").await, 24);
        assert_eq!(count(&app.db, "change_log", "").await, 24);
    }
);

both_backends!(
    async fn every_write_bumps_the_version_and_logs_one_change(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let created = create::<Themes>(&app.db, &actor, theme("sport", "sport")).await.expect("create");
        assert_eq!(created.meta.version, 1);
        let id = created.meta.id;
        let entries = |filter: &'static str| count(&app.db, "change_log", filter);
        assert_eq!(entries("op = 'upsert' AND version = 1").await, 1);
        assert_eq!(count(&app.db, "audit_log", "action = 'create' AND version = 1").await, 1);

        let updated = update::<Themes>(&app.db, &actor, id, theme("sport", "sport en bewegen"), Some(1))
            .await
            .expect("update");
        assert_eq!(updated.meta.version, 2);
        assert!(updated.meta.updated_at > created.meta.updated_at);
        assert_eq!(updated.meta.created_at, created.meta.created_at);
        assert_eq!(entries("op = 'upsert' AND version = 2").await, 1);
        assert_eq!(count(&app.db, "audit_log", "action = 'update' AND version = 2").await, 1);

        // The same content again changes nothing.
        let same = update::<Themes>(&app.db, &actor, id, theme("sport", "sport en bewegen"), None)
            .await
            .expect("same update");
        assert_eq!(same.meta.version, 2);
        assert_eq!(entries("").await, 2);

        // A stale version is refused and changes nothing.
        let stale = update::<Themes>(&app.db, &actor, id, theme("sport", "iets anders"), Some(1))
            .await
            .expect_err("stale");
        assert!(matches!(stale, Error::PreconditionFailed { expected: 1, current: 2 }), "{stale:?}");

        // A failed write rolls back: no new version, no change entry.
        let invalid = update::<Themes>(&app.db, &actor, id, theme("sport", ""), None)
            .await
            .expect_err("blank name");
        assert_eq!(fields(&invalid), vec!["name"]);
        let current = get::<Themes>(&app.db, &actor, id).await.expect("get");
        assert_eq!(current.meta.version, 2);
        assert_eq!(current.name, "sport en bewegen");
        assert_eq!(entries("").await, 2);

        delete::<Themes>(&app.db, &actor, id, Some(2)).await.expect("delete");
        assert!(matches!(get::<Themes>(&app.db, &actor, id).await, Err(Error::NotFound { .. })));
        assert_eq!(entries("op = 'delete' AND version = 3 AND data IS NULL").await, 1);
        // Each committed write has a feed position of its own, in commit order.
        assert_eq!(count(&app.db, "change_log", "position > 0").await, 3);
        assert_eq!(
            count(&app.db, "change_log a", "EXISTS (SELECT 1 FROM change_log b WHERE b.seq > a.seq AND b.position <= a.position)").await,
            0
        );
        assert_eq!(count(&app.db, "audit_log", "action = 'delete'").await, 1);
        assert!(matches!(
            delete::<Themes>(&app.db, &actor, id, None).await,
            Err(Error::NotFound { .. })
        ));
    }
);

both_backends!(
    async fn a_partner_needs_the_write_scope_and_ownership(backend) {
        let app = app_or_skip!(backend);
        let system = Actor::system();
        let created = create::<Themes>(&app.db, &system, theme("zorg", "zorg")).await.expect("create");
        let reader = Actor {
            partner_id: Uuid::now_v7(),
            kind: "dashboard".into(),
            scopes: vec!["read".into()],
            confinement: api::service::Confinement::Unconfined,
            require_if_match: false,
            request_id: None,
        };
        let refused = create::<Themes>(&app.db, &reader, theme("welzijn", "welzijn")).await.expect_err("no scope");
        assert!(matches!(refused, Error::MissingScope(_)), "{refused:?}");
        let writer = Actor {
            scopes: vec!["read".into(), "write:themes".into()],
            ..reader
        };
        let refused = update::<Themes>(&app.db, &writer, created.meta.id, theme("zorg", "andere zorg"), None)
            .await
            .expect_err("not the owner");
        assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
        assert_eq!(get::<Themes>(&app.db, &system, created.meta.id).await.expect("get").name, "zorg");
    }
);

both_backends!(
    async fn errors_render_as_problem_json_without_internals(backend) {
        let app = app_or_skip!(backend);
        let error = create::<Themes>(&app.db, &Actor::system(), ThemeInput { slug: Some("Geen Slug".into()), ..Default::default() })
            .await
            .expect_err("invalid");
        let problem = serde_json::to_value(error.problem()).expect("json");
        assert_eq!(problem["status"], 400);
        assert_eq!(problem["code"], "validation_failed");
        let names: Vec<&str> = problem["invalidParams"]
            .as_array()
            .expect("invalidParams")
            .iter()
            .map(|p| p["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, vec!["name", "slug"]);
        let internal = Error::internal(anyhow::anyhow!("SQLSTATE 42P01 relation \"secret\" does not exist")).problem();
        let text = serde_json::to_string(&internal).expect("json");
        assert!(!text.contains("secret") && !text.contains("SQLSTATE"), "{text}");
        // Contention that outlived the service's own retries: 503, retry after a second.
        let busy = axum::response::IntoResponse::into_response(Error::Busy);
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.headers()["retry-after"], "1");
        assert_eq!(busy.headers()["content-type"], "application/problem+json");
    }
);

both_backends!(
    async fn concurrent_updates_of_one_row_queue_and_each_bumps_the_version(backend) {
        let app = app_or_skip!(backend);
        let created = create::<Themes>(&app.db, &Actor::system(), theme("bewegen", "bewegen 0"))
            .await
            .expect("create");
        let mut tasks = Vec::new();
        for i in 1..=10 {
            let db = app.db.clone();
            let id = created.meta.id;
            tasks.push(tokio::spawn(async move {
                update::<Themes>(&db, &Actor::system(), id, theme("bewegen", &format!("bewegen {i}")), None).await
            }));
        }
        let mut versions = Vec::new();
        for task in tasks {
            versions.push(task.await.expect("task").expect("every update succeeds").meta.version);
        }
        versions.sort();
        assert_eq!(versions, (2..=11).collect::<Vec<i32>>(), "each writer saw the previous one's version");
        assert_eq!(count(&app.db, "change_log", "").await, 11);
    }
);

both_backends!(
    async fn concurrent_first_upserts_of_one_external_id_all_succeed(backend) {
        let app = app_or_skip!(backend);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let db = app.db.clone();
            tasks.push(tokio::spawn(async move {
                api::service::upsert::<Themes>(&db, &Actor::system(), "gemeente-42", theme("wijk", "wijk"), None).await
            }));
        }
        let mut created = 0;
        for task in tasks {
            let (_, was_created) = task.await.expect("task").expect("every upsert succeeds");
            created += usize::from(was_created);
        }
        assert_eq!(created, 1);
        assert_eq!(count(&app.db, "themes", "").await, 1);
        assert_eq!(count(&app.db, "change_log", "").await, 1, "the same content again is no change");
    }
);

both_backends!(
    async fn a_write_failing_after_its_insert_leaves_nothing_behind(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let kept = create::<Themes>(&app.db, &actor, theme("kept", "kept")).await.expect("create");
        // Make the audit insert — the last step of every write — fail for themes.
        let statements: &[&str] = match backend {
            tests::Backend::Sqlite => &["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
                 WHEN NEW.resource_type = 'themes' BEGIN SELECT RAISE(ABORT, 'refused by test'); END"],
            tests::Backend::Postgres => &[
                "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN \
                 IF NEW.resource_type = 'themes' THEN RAISE EXCEPTION 'refused by test'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
            ],
        };
        use sea_orm::ConnectionTrait;
        for sql in statements {
            app.db.execute_unprepared(sql).await.expect("install the trigger");
        }
        let failed = create::<Themes>(&app.db, &actor, theme("lost", "lost")).await.expect_err("refused");
        assert!(matches!(failed, Error::Internal(_)), "{failed:?}");
        let problem = serde_json::to_string(&failed.problem()).expect("json");
        assert!(!problem.contains("refused by test"), "the database's message is not sent: {problem}");
        let failed = update::<Themes>(&app.db, &actor, kept.meta.id, theme("kept", "changed"), None)
            .await
            .expect_err("refused");
        assert!(matches!(failed, Error::Internal(_)), "{failed:?}");

        assert_eq!(count(&app.db, "themes", "").await, 1, "the new row was rolled back");
        let current = get::<Themes>(&app.db, &actor, kept.meta.id).await.expect("get");
        assert_eq!((current.name.as_str(), current.meta.version), ("kept", 1), "the update was rolled back");
        assert_eq!(count(&app.db, "change_log", "").await, 1, "no change entry outlived its write");
    }
);

both_backends!(
    async fn drafts_are_visible_to_their_owner_and_admins_only(backend) {
        let app = app_or_skip!(backend);
        let emmen = tests::partner(&app.db, "gemeente-emmen", &["read", "write:practice-examples"]).await;
        let other = tests::partner(&app.db, "gemeente-assen", &["read", "write:practice-examples"]).await;
        let example = |slug: &str, status: &str| api::dto::PracticeExampleInput {
            slug: Some(slug.into()),
            title: Some(slug.into()),
            status: Some(status.into()),
            ..Default::default()
        };
        use api::service::{PracticeExamples, list};
        let draft = create::<PracticeExamples>(&app.db, &emmen, example("concept", "draft"))
            .await
            .expect("draft");
        create::<PracticeExamples>(&app.db, &emmen, example("gepubliceerd", "published"))
            .await
            .expect("published");
        let slugs = |page: api::service::Page<api::dto::PracticeExample>| {
            page.items.into_iter().map(|e| e.slug).collect::<Vec<_>>()
        };
        let seen_by = |a: Actor| {
            let db = app.db.clone();
            async move { slugs(list::<PracticeExamples>(&db, &a, &Default::default(), Default::default()).await.expect("list")) }
        };
        assert_eq!(seen_by(emmen.clone()).await, vec!["concept", "gepubliceerd"]);
        assert_eq!(seen_by(Actor::system()).await, vec!["concept", "gepubliceerd"]);
        assert_eq!(seen_by(other.clone()).await, vec!["gepubliceerd"]);
        assert!(matches!(
            get::<PracticeExamples>(&app.db, &other, draft.meta.id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(get::<PracticeExamples>(&app.db, &emmen, draft.meta.id).await.is_ok());
    }
);

both_backends!(
    async fn a_networks_goals_are_written_with_the_networks_scope(backend) {
        let app = app_or_skip!(backend);
        use api::dto::GoalInput;
        use api::service::Goals;
        let networks_writer = tests::partner(&app.db, "iwp", &["read", "write:networks"]).await;
        let network = create::<Networks>(
            &app.db,
            &networks_writer,
            NetworkInput {
                slug: Some("netwerk".into()),
                name: Some("Netwerk".into()),
                kind: Some("living_lab".into()),
                ..Default::default()
            },
        )
        .await
        .expect("network");
        let goal = || GoalInput {
            network_id: Some(network.meta.id),
            position: Some(1),
            title: Some("Borgen".into()),
            ..Default::default()
        };
        let assignments_only = tests::partner(&app.db, "lms", &["read", "write:assignments"]).await;
        let refused = create::<Goals>(&app.db, &assignments_only, goal()).await.expect_err("no scope");
        assert!(matches!(&refused, Error::MissingScope(m) if m == "write:networks"), "{refused:?}");
        let created = create::<Goals>(&app.db, &networks_writer, goal()).await.expect("allowed");
        assert_eq!(created.meta.owner_partner_id, networks_writer.partner_id);
    }
);

both_backends!(
    async fn two_networks_made_each_others_parent_at_once_never_form_a_cycle(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let network = |slug: &str, parent: Option<Uuid>| NetworkInput {
            slug: Some(slug.to_owned()),
            name: Some(slug.to_owned()),
            kind: Some("learning_network".into()),
            parent_network_id: parent,
            ..Default::default()
        };
        for round in 0..4 {
            let (a, b) = (format!("a-{round}"), format!("b-{round}"));
            let a_id = create::<Networks>(&app.db, &actor, network(&a, None)).await.expect("a").meta.id;
            let b_id = create::<Networks>(&app.db, &actor, network(&b, None)).await.expect("b").meta.id;
            // Each update locks its own row and then the other as its parent: on PostgreSQL
            // that is a deadlock, which the database breaks and the service retries.
            let (db_a, db_b, a_input, b_input) = (app.db.clone(), app.db.clone(), network(&a, Some(b_id)), network(&b, Some(a_id)));
            let first = tokio::spawn(async move { update::<Networks>(&db_a, &Actor::system(), a_id, a_input, None).await });
            let second = tokio::spawn(async move { update::<Networks>(&db_b, &Actor::system(), b_id, b_input, None).await });
            let results = [first.await.expect("task"), second.await.expect("task")];
            let won = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(won, 1, "exactly one becomes the other's parent: {results:?}");
            let lost = results.into_iter().find_map(Result::err).expect("one refusal");
            assert_eq!(fields(&lost), ["parentNetworkId"], "{lost:?}");
        }
        assert_eq!(count(&app.db, "networks", "").await, 8);
        assert_eq!(count(&app.db, "networks", "parent_network_id IS NOT NULL").await, 4);
    }
);
