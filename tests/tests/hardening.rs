//! Rules of the service layer that keep embedded keys honest, refuse bad input with field
//! errors (never a 500), and keep busy rows from serializing writers.

use std::time::Duration;

use api::dto::{
    GoalInput, NetworkInput, OrganizationInput, PracticeExampleInput, RegionInput, ThemeInput,
};
use api::error::Error;
use api::service::{
    Actor, Goals, Networks, Organizations, PracticeExamples, Regions, Themes, create, delete, get,
    get_by_key, update, upsert,
};
use sea_orm::{ConnectionTrait, TransactionTrait};
use tests::{app_or_skip, both_backends, count};

fn fields(error: &Error) -> Vec<String> {
    match error {
        Error::Validation(params) => params.iter().map(|p| p.name.clone()).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn theme(slug: &str) -> ThemeInput {
    ThemeInput {
        slug: Some(slug.into()),
        name: Some(slug.into()),
        ..Default::default()
    }
}

fn example(slug: &str, themes: &[&str]) -> PracticeExampleInput {
    PracticeExampleInput {
        slug: Some(slug.into()),
        title: Some(slug.into()),
        status: Some("published".into()),
        themes: Some(themes.iter().map(|t| (*t).to_owned()).collect()),
        ..Default::default()
    }
}

both_backends!(
    async fn a_slug_shown_by_live_rows_cannot_change_until_they_let_go(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let voeding = create::<Themes>(&app.db, &actor, theme("voeding")).await.expect("theme");
        let pe = create::<PracticeExamples>(&app.db, &actor, example("gezonde-school", &["voeding"])).await.expect("example");
        let refused = update::<Themes>(&app.db, &actor, voeding.meta.id, theme("gezonde-voeding"), None)
            .await
            .expect_err("referred to");
        match &refused {
            Error::Conflict(message) => assert!(message.contains("practice examples (1)"), "{message}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(get::<Themes>(&app.db, &actor, voeding.meta.id).await.expect("get").slug, "voeding");
        // The name may change; only the key is held.
        let renamed = update::<Themes>(&app.db, &actor, voeding.meta.id, ThemeInput { name: Some("Voeding".into()), ..theme("voeding") }, None)
            .await
            .expect("a new name");
        assert_eq!(renamed.meta.version, 2);
        // Once nothing shows it, the slug may change.
        update::<PracticeExamples>(&app.db, &actor, pe.meta.id, example("gezonde-school", &[]), None).await.expect("untag");
        let moved = update::<Themes>(&app.db, &actor, voeding.meta.id, theme("gezonde-voeding"), None).await.expect("free now");
        assert_eq!(moved.slug, "gezonde-voeding");
        let pe = get::<PracticeExamples>(&app.db, &actor, pe.meta.id).await.expect("get");
        assert!(pe.themes.is_empty());
    }
);

both_backends!(
    async fn a_region_code_shown_by_live_rows_cannot_change(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let region = |code: &str| RegionInput {
            code: Some(code.into()),
            name: Some("Emmen".into()),
            kind: Some("municipality".into()),
            ..Default::default()
        };
        let emmen = create::<Regions>(&app.db, &actor, region("GM0114")).await.expect("region");
        create::<Organizations>(&app.db, &actor, OrganizationInput {
            name: Some("Gemeente Emmen".into()),
            kind: Some("municipality".into()),
            region_code: Some("GM0114".into()),
            ..Default::default()
        })
        .await
        .expect("organization");
        let refused = update::<Regions>(&app.db, &actor, emmen.meta.id, region("GM0115"), None).await.expect_err("shown");
        assert!(matches!(&refused, Error::Conflict(m) if m.contains("organizations (1)")), "{refused:?}");
    }
);

both_backends!(
    async fn a_slug_may_not_look_like_an_id_or_a_reserved_path(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        for slug in ["external", "bulk", "01934f4e-7b1c-7000-8000-000000000001"] {
            let refused = create::<Themes>(&app.db, &actor, theme(slug)).await.expect_err(slug);
            assert_eq!(fields(&refused), ["slug"], "{slug}");
        }
        assert_eq!(count(&app.db, "themes", "").await, 0);
    }
);

both_backends!(
    async fn a_partner_that_must_send_if_match_is_refused_without_it(backend) {
        let app = app_or_skip!(backend);
        let mut strict = tests::partner(&app.db, "strikt", &["read", "write:themes"]).await;
        strict.require_if_match = true;
        let created = create::<Themes>(&app.db, &strict, theme("zorg")).await.expect("creating needs no version");
        let id = created.meta.id;
        assert!(matches!(update::<Themes>(&app.db, &strict, id, theme("welzijn"), None).await, Err(Error::PreconditionRequired)));
        assert!(matches!(delete::<Themes>(&app.db, &strict, id, None).await, Err(Error::PreconditionRequired)));
        upsert::<Themes>(&app.db, &strict, "eigen-1", theme("sport"), None).await.expect("a first upsert creates");
        assert!(matches!(
            upsert::<Themes>(&app.db, &strict, "eigen-1", theme("sport"), None).await,
            Err(Error::PreconditionRequired)
        ));
        update::<Themes>(&app.db, &strict, id, theme("welzijn"), Some(1)).await.expect("with its version");
        assert_eq!(get::<Themes>(&app.db, &strict, id).await.expect("get").meta.version, 2);
    }
);

both_backends!(
    async fn anothers_draft_cannot_be_reached_by_slug(backend) {
        let app = app_or_skip!(backend);
        let owner = tests::partner(&app.db, "gemeente", &["read", "write:practice-examples"]).await;
        let other = tests::partner(&app.db, "school", &["read", "write:practice-examples"]).await;
        create::<PracticeExamples>(&app.db, &owner, PracticeExampleInput { status: Some("draft".into()), ..example("concept", &[]) })
            .await
            .expect("draft");
        assert!(get_by_key::<PracticeExamples>(&app.db, &owner, "concept").await.is_ok());
        assert!(matches!(get_by_key::<PracticeExamples>(&app.db, &other, "concept").await, Err(Error::NotFound { .. })));
        // The slug is still taken (two live rows cannot share it); the refusal names the slug only.
        let taken = create::<PracticeExamples>(&app.db, &other, example("concept", &[])).await.expect_err("taken");
        assert_eq!(fields(&taken), ["slug"]);
    }
);

both_backends!(
    async fn nul_control_characters_and_bad_urls_are_field_errors_not_500s(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let input = PracticeExampleInput {
            summary: Some("met\0nul".into()),
            context: Some("regel\neen\ttab\r".into()),
            region_code: Some("GM\u{0}0114".into()),
            network_slug: Some("x\u{7}".into()),
            themes: Some(vec!["voe\0ding".into()]),
            links: Some(vec![api::dto::LinkInput { title: Some("x".into()), url: Some("https://javascript:alert(1)".into()) }]),
            external_id: Some(" ext\u{1}".into()),
            year: Some(2023),
            ..example("nul", &[])
        };
        let refused = create::<PracticeExamples>(&app.db, &actor, input).await.expect_err("invalid");
        let mut names = fields(&refused);
        names.sort();
        assert_eq!(names, ["context", "externalId", "links[0].url", "networkSlug", "regionCode", "summary", "themes[0]"]);
        // Text with newlines and tabs is fine; dates are range-checked; lists have a maximum.
        let fine = create::<PracticeExamples>(&app.db, &actor, PracticeExampleInput { summary: Some("regel\neen\ttab".into()), ..example("fijn", &[]) }).await;
        assert!(fine.is_ok(), "{fine:?}");
        let network = create::<Networks>(&app.db, &actor, NetworkInput {
            slug: Some("n".into()), name: Some("n".into()), kind: Some("other".into()),
            themes: Some((0..101).map(|i| format!("t{i}")).collect()),
            ..Default::default()
        }).await.expect_err("too many themes");
        assert_eq!(fields(&network), ["themes"]);
        let network = create::<Networks>(&app.db, &actor, NetworkInput {
            slug: Some("n".into()), name: Some("n".into()), kind: Some("other".into()), ..Default::default()
        }).await.expect("network");
        let far = create::<Goals>(&app.db, &actor, GoalInput {
            network_id: Some(network.meta.id), position: Some(1), title: Some("doel".into()),
            target_date: chrono::NaiveDate::from_ymd_opt(9999, 1, 1),
            ..Default::default()
        }).await.expect_err("a date far out");
        assert_eq!(fields(&far), ["targetDate"]);
        assert_eq!(count(&app.db, "practice_examples", "").await, 1);
    }
);

both_backends!(
    async fn writers_referring_to_a_busy_row_do_not_wait_for_its_updates_but_its_delete_waits_for_them(backend) {
        let app = app_or_skip!(backend);
        if backend != tests::Backend::Postgres {
            return; // SQLite runs writers one at a time; this is about PostgreSQL's row locks.
        }
        let actor = Actor::system();
        let voeding = create::<Themes>(&app.db, &actor, theme("voeding")).await.expect("theme");
        // Another transaction is updating the theme (FOR NO KEY UPDATE) and stays open.
        let held = app.db.begin().await.expect("begin");
        held.execute_unprepared(&format!("SELECT id FROM themes WHERE id = '{}' FOR NO KEY UPDATE", voeding.meta.id))
            .await
            .expect("lock");
        let referring = tokio::time::timeout(
            Duration::from_secs(3),
            create::<PracticeExamples>(&app.db, &actor, example("tegelijk", &["voeding"])),
        )
        .await
        .expect("a reference does not wait for an update of the row it refers to")
        .expect("created");
        held.rollback().await.expect("rollback");

        assert_eq!(referring.themes, ["voeding"]);
        delete::<PracticeExamples>(&app.db, &actor, referring.meta.id, None).await.expect("no referrer left");
        create::<PracticeExamples>(&app.db, &actor, example("later", &[])).await.expect("untagged");

        // A transaction taking a new reference to the theme (a foreign key check takes
        // FOR KEY SHARE, as the service does) makes its delete wait; the delete then sees
        // the reference and refuses, though there was none when it began.
        let holder = app.db.begin().await.expect("begin");
        holder.execute_unprepared(&format!(
            "INSERT INTO practice_example_themes (practice_example_id, theme_id) SELECT id, '{}' FROM practice_examples WHERE slug = 'later'",
            voeding.meta.id
        ))
        .await
        .expect("hold a key share");
        let db = app.db.clone();
        let id = voeding.meta.id;
        let deleting = tokio::spawn(async move { delete::<Themes>(&db, &Actor::system(), id, None).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!deleting.is_finished(), "the delete waits for the transaction holding a reference");
        holder.commit().await.expect("commit");
        let result = deleting.await.expect("task");
        assert!(matches!(&result, Err(Error::Conflict(m)) if m.contains("practice examples (1)")), "{result:?}");
    }
);

both_backends!(
    async fn a_key_change_waits_for_a_writer_holding_a_reference_and_then_refuses(backend) {
        let app = app_or_skip!(backend);
        if backend != tests::Backend::Postgres {
            return; // SQLite runs writers one at a time.
        }
        let actor = Actor::system();
        let voeding = create::<Themes>(&app.db, &actor, theme("voeding")).await.expect("theme");
        create::<PracticeExamples>(&app.db, &actor, example("school", &[])).await.expect("example");
        // A writer tagging the example with the theme holds its transaction open.
        let holder = app.db.begin().await.expect("begin");
        holder.execute_unprepared(&format!(
            "INSERT INTO practice_example_themes (practice_example_id, theme_id) SELECT id, '{}' FROM practice_examples WHERE slug = 'school'",
            voeding.meta.id
        ))
        .await
        .expect("tag");
        let db = app.db.clone();
        let id = voeding.meta.id;
        let renaming = tokio::spawn(async move { update::<Themes>(&db, &Actor::system(), id, theme("eten"), None).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!renaming.is_finished(), "the key change waits for the writer holding a reference");
        holder.commit().await.expect("commit");
        let result = renaming.await.expect("task");
        assert!(matches!(&result, Err(Error::Conflict(m)) if m.contains("practice examples (1)")), "{result:?}");
    }
);
