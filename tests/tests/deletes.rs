//! Soft deletes keep references pointing at live rows: a resource that others still refer
//! to cannot be deleted, sub-resources go with their parent, and a delete racing a write
//! that refers to the same row never leaves a dangling reference.

use api::dto::{NetworkChildFilter, PracticeExampleInput, RegionInput};
use api::error::Error;
use api::service::{
    Actor, Goals, Networks, Organizations, PracticeExamples, Regions, Themes, create, delete, get,
    list, seed::seed,
};
use entity::{network, organization, region, theme};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tests::{app_or_skip, both_backends, count};
use uuid::Uuid;

async fn region_named(db: &DatabaseConnection, name: &str) -> Uuid {
    region::Entity::find()
        .filter(region::Column::Name.eq(name))
        .one(db)
        .await
        .expect("query")
        .expect("seeded region")
        .id
}

async fn network_slug(db: &DatabaseConnection, slug: &str) -> Uuid {
    network::Entity::find()
        .filter(network::Column::Slug.eq(slug))
        .one(db)
        .await
        .expect("query")
        .expect("seeded network")
        .id
}

fn conflict(result: Result<(), Error>) -> String {
    match result {
        Err(Error::Conflict(message)) => message,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

both_backends!(
    async fn a_resource_others_refer_to_cannot_be_deleted_and_the_refusal_names_them(backend) {
        let app = app_or_skip!(backend);
        let db = &app.db;
        let actor = Actor::system();
        seed(db, &actor).await.expect("seed");
        let changes = count(db, "change_log", "").await;

        let emmen = region_named(db, "Emmen").await;
        let message = conflict(delete::<Regions>(db, &actor, emmen, None).await);
        assert!(message.contains("child regions (1)") && message.contains("networks (1)"), "{message}");

        let voeding = theme::Entity::find().filter(theme::Column::Slug.eq("voeding")).one(db).await.expect("query").expect("theme").id;
        let message = conflict(delete::<Themes>(db, &actor, voeding, None).await);
        assert!(message.contains("networks (1)") && message.contains("practice examples (1)"), "{message}");

        let hanze = organization::Entity::find().one(db).await.expect("query").expect("organization").id;
        let message = conflict(delete::<Organizations>(db, &actor, hanze, None).await);
        assert!(message.contains("networks it leads (1)") && message.contains("network memberships (1)"), "{message}");

        let legro = network_slug(db, "legro").await;
        let message = conflict(delete::<Networks>(db, &actor, legro, None).await);
        assert!(message.contains("practice examples (1)"), "{message}");

        assert_eq!(count(db, "change_log", "").await, changes, "a refused delete writes nothing");
        assert_eq!(count(db, "audit_log", "").await, changes);
        assert_eq!(count(db, "regions", "deleted_at IS NOT NULL").await, 0);
        get::<Regions>(db, &actor, emmen).await.expect("Emmen is still there");
    }
);

both_backends!(
    async fn deleting_a_network_deletes_its_goals_and_members_each_with_a_tombstone(backend) {
        let app = app_or_skip!(backend);
        let db = &app.db;
        let actor = Actor::system();
        seed(db, &actor).await.expect("seed");
        let living_lab = network_slug(db, "living-lab-m-en-gezond").await;
        let changes = count(db, "change_log", "").await;

        delete::<Networks>(db, &actor, living_lab, None).await.expect("delete the Living Lab");

        let filter = NetworkChildFilter { network_id: Some(living_lab) };
        let goals = list::<Goals>(db, &actor, &filter, Default::default()).await.expect("goals");
        assert!(goals.items.is_empty(), "the goals went with their network");
        assert_eq!(count(db, "goals", "deleted_at IS NULL").await, 0);
        assert_eq!(count(db, "memberships", "deleted_at IS NULL").await, 0);
        assert_eq!(count(db, "goals", "version = 2").await, 5, "each goal's version went up");
        // One tombstone each: the network, its five goals and its one membership.
        assert_eq!(count(db, "change_log", "").await, changes + 7);
        assert_eq!(count(db, "change_log", "op = 'delete' AND resource_type = 'goals'").await, 5);
        assert_eq!(count(db, "change_log", "op = 'delete' AND resource_type = 'memberships'").await, 1);
        assert_eq!(count(db, "audit_log", "action = 'delete'").await, 7);

        // Nothing refers to Hanzehogeschool Groningen any more: it can go now.
        let hanze = organization::Entity::find().one(db).await.expect("query").expect("organization").id;
        delete::<Organizations>(db, &actor, hanze, None).await.expect("no live references left");
    }
);

both_backends!(
    async fn a_delete_racing_a_write_that_refers_to_the_row_never_leaves_a_dangling_reference(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let mut areas = Vec::new();
        for i in 0..12 {
            let input = RegionInput { name: Some(format!("Wijk {i}")), kind: Some("area".into()), ..Default::default() };
            areas.push(create::<Regions>(&app.db, &actor, input).await.expect("area").meta.id);
        }
        let mut races = Vec::new();
        for (i, area) in areas.iter().copied().enumerate() {
            let (db_a, db_b) = (app.db.clone(), app.db.clone());
            let deleting = tokio::spawn(async move { delete::<Regions>(&db_a, &Actor::system(), area, None).await });
            let referring = tokio::spawn(async move {
                let input = PracticeExampleInput {
                    slug: Some(format!("voorbeeld-{i}")),
                    title: Some(format!("Voorbeeld {i}")),
                    region_id: Some(area),
                    ..Default::default()
                };
                create::<PracticeExamples>(&db_b, &Actor::system(), input).await
            });
            races.push((deleting, referring));
        }
        for (deleting, referring) in races {
            let deleted = deleting.await.expect("task");
            let created = referring.await.expect("task");
            match (&deleted, &created) {
                (Ok(()), Err(Error::Validation(p))) => assert_eq!(p[0].name, "regionId", "{p:?}"),
                (Err(Error::Conflict(_)), Ok(_)) => {}
                other => panic!("exactly one of the two must win, cleanly: {other:?}"),
            }
        }
        let dangling = count(
            &app.db,
            "practice_examples p JOIN regions r ON r.id = p.region_id",
            "p.deleted_at IS NULL AND r.deleted_at IS NOT NULL",
        )
        .await;
        assert_eq!(dangling, 0);
    }
);
