//! Confined partners write only inside their regions' subtrees and their networks
//! (`auth.md`); admins and unconfined partners are not held back.

use api::dto::{GoalInput, NetworkFilter, PracticeExampleInput, RegionFilter};
use api::error::Error;
use api::service::{
    Actor, Goals, Networks, PracticeExamples, Regions, create, get, list, seed::seed, update,
};
use tests::{app_or_skip, both_backends};
use uuid::Uuid;

fn example(slug: &str, region_code: Option<&str>) -> PracticeExampleInput {
    PracticeExampleInput {
        slug: Some(slug.into()),
        title: Some(slug.into()),
        region_code: region_code.map(str::to_owned),
        status: Some("published".into()),
        ..Default::default()
    }
}

async fn region_id(db: &sea_orm::DatabaseConnection, name: &str) -> Uuid {
    list::<Regions>(
        db,
        &Actor::system(),
        &RegionFilter::default(),
        Default::default(),
    )
    .await
    .expect("regions")
    .items
    .into_iter()
    .find(|r| r.name == name)
    .map(|r| r.meta.id)
    .expect(name)
}

async fn network_id(db: &sea_orm::DatabaseConnection, slug: &str) -> Uuid {
    list::<Networks>(
        db,
        &Actor::system(),
        &NetworkFilter::default(),
        Default::default(),
    )
    .await
    .expect("networks")
    .items
    .into_iter()
    .find(|n| n.slug == slug)
    .map(|n| n.meta.id)
    .expect(slug)
}

fn outside(result: Result<impl std::fmt::Debug, Error>) {
    match result {
        Err(Error::Forbidden(message)) => assert!(message.contains("outside"), "{message}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

both_backends!(
    async fn a_municipality_writes_only_inside_its_region_subtree(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let mut emmen = tests::partner(&app.db, "gemeente-emmen", &["read", "write:practice-examples"]).await;
        emmen.regions = vec![region_id(&app.db, "Emmen").await];

        let own = create::<PracticeExamples>(&app.db, &emmen, example("in-emmen", Some("GM0114")))
            .await
            .expect("inside its municipality");
        let bargeres = PracticeExampleInput {
            region_id: Some(region_id(&app.db, "Bargeres").await),
            ..example("in-bargeres", None)
        };
        create::<PracticeExamples>(&app.db, &emmen, bargeres).await.expect("inside its subtree");
        outside(create::<PracticeExamples>(&app.db, &emmen, example("in-groningen", Some("PV20"))).await);
        outside(create::<PracticeExamples>(&app.db, &emmen, example("nowhere", None)).await);
        outside(create::<PracticeExamples>(&app.db, &emmen, example("in-drenthe", Some("PV22"))).await);

        // Moving its own example out of its territory is refused and changes nothing.
        outside(update::<PracticeExamples>(&app.db, &emmen, own.meta.id, example("in-emmen", Some("PV20")), None).await);
        let current = get::<PracticeExamples>(&app.db, &emmen, own.meta.id).await.expect("get");
        assert_eq!((current.region_code.as_deref(), current.meta.version), (Some("GM0114"), 1));

        // An unconfined partner and an admin are not held back.
        let unconfined = tests::partner(&app.db, "dashboard", &["read", "write:practice-examples"]).await;
        create::<PracticeExamples>(&app.db, &unconfined, example("anywhere", Some("PV20"))).await.expect("unconfined");
        create::<PracticeExamples>(&app.db, &Actor::system(), example("admin", None)).await.expect("admin");
    }
);

both_backends!(
    async fn a_network_partner_writes_only_its_networks(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let lab = network_id(&app.db, "living-lab-m-en-gezond").await;
        let legro = network_id(&app.db, "legro").await;
        let mut partner = tests::partner(&app.db, "living-lab", &["read", "write:networks"]).await;
        partner.networks = vec![lab];
        let goal = |network: Uuid| GoalInput {
            network_id: Some(network),
            position: Some(6),
            title: Some("Nieuw doel".into()),
            ..Default::default()
        };
        create::<Goals>(&app.db, &partner, goal(lab)).await.expect("its own network");
        outside(create::<Goals>(&app.db, &partner, goal(legro)).await);
    }
);
