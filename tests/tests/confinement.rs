//! Confined partners write only inside their regions' subtrees and their networks
//! (`auth.md`); admins and unconfined partners are not held back.

use api::dto::{
    GoalInput, NetworkFilter, NetworkInput, NetworkRegionInput, PracticeExampleInput, RegionFilter,
};
use api::error::Error;
use api::service::{
    Actor, Confinement, Goals, Networks, PracticeExamples, Regions, create, get, list, seed::seed,
    update,
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
        emmen.confinement = Confinement::Within {
            regions: vec![region_id(&app.db, "Emmen").await],
            networks: vec![],
        };

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

fn goal(network: Uuid, title: &str) -> GoalInput {
    GoalInput {
        network_id: Some(network),
        position: Some(6),
        title: Some(title.into()),
        ..Default::default()
    }
}

fn forbidden(result: Result<impl std::fmt::Debug, Error>, words: &str) {
    match result {
        Err(Error::Forbidden(message)) => assert!(message.contains(words), "{message}"),
        other => panic!("expected Forbidden ({words}), got {other:?}"),
    }
}

both_backends!(
    async fn a_network_partner_writes_only_its_networks(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let lab = network_id(&app.db, "living-lab-m-en-gezond").await;
        let mut partner = tests::partner(&app.db, "living-lab", &["read", "write:networks"]).await;
        partner.confinement = Confinement::Within { regions: vec![], networks: vec![lab] };
        // A child network of the lab lies inside it; one outside every network does not.
        let child = NetworkInput {
            slug: Some("lab-werkplaats".into()),
            name: Some("Werkplaats".into()),
            kind: Some("other".into()),
            parent_network_id: Some(lab),
            ..Default::default()
        };
        let own = create::<Networks>(&app.db, &partner, child.clone()).await.expect("inside its network");
        outside(create::<Networks>(&app.db, &partner, NetworkInput { slug: Some("elders".into()), parent_network_id: None, ..child }).await);
        create::<Goals>(&app.db, &partner, goal(own.meta.id, "Eigen doel")).await.expect("a goal of its own network");
    }
);

both_backends!(
    async fn sub_resources_are_written_under_their_parents_rules(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let emmen_id = region_id(&app.db, "Emmen").await;
        let legro = network_id(&app.db, "legro").await;
        // A municipality confined to its region owns a network there and adds goals to it.
        let mut emmen = tests::partner(&app.db, "gemeente-emmen", &["read", "write:networks"]).await;
        emmen.confinement = Confinement::Within { regions: vec![emmen_id], networks: vec![] };
        let network = create::<Networks>(&app.db, &emmen, NetworkInput {
            slug: Some("emmen-beweegt".into()),
            name: Some("Emmen beweegt".into()),
            kind: Some("learning_network".into()),
            regions: Some(vec![NetworkRegionInput { region_code: Some("GM0114".into()), ..Default::default() }]),
            ..Default::default()
        })
        .await
        .expect("a network in its region");
        create::<Goals>(&app.db, &emmen, goal(network.meta.id, "Meer bewegen")).await.expect("a goal of its own network");
        // An unconfined partner cannot add a goal to another partner's network ...
        let other = tests::partner(&app.db, "provincie", &["read", "write:networks"]).await;
        forbidden(create::<Goals>(&app.db, &other, goal(legro, "Ongevraagd")).await, "network");
        forbidden(create::<Goals>(&app.db, &other, goal(network.meta.id, "Ongevraagd")).await, "network");
        // ... and the network's owner edits a goal an admin added to it.
        let added = create::<Goals>(&app.db, &Actor::system(), goal(network.meta.id, "Door de provincie")).await.expect("admin");
        let edited = update::<Goals>(&app.db, &emmen, added.meta.id, goal(network.meta.id, "Aangepast door Emmen"), None)
            .await
            .expect("the parent's owner edits it");
        assert_eq!((edited.title.as_str(), edited.meta.version), ("Aangepast door Emmen", 2));
        // Moving a goal to another network is refused, its own or not: a goal stays with
        // its network.
        match update::<Goals>(&app.db, &emmen, added.meta.id, goal(legro, "Weg"), None).await {
            Err(Error::Validation(params)) => assert_eq!(params[0].name, "networkId", "{params:?}"),
            other => panic!("expected the move refused, got {other:?}"),
        }
    }
);

both_backends!(
    async fn a_partner_confined_to_nothing_writes_nowhere(backend) {
        let app = app_or_skip!(backend);
        seed(&app.db, &Actor::system()).await.expect("seed");
        let mut partner = tests::partner(&app.db, "leeg", &["read", "write:practice-examples"]).await;
        partner.confinement = Confinement::Within { regions: vec![], networks: vec![] };
        forbidden(create::<PracticeExamples>(&app.db, &partner, example("ergens", Some("GM0114"))).await, "nowhere");
        forbidden(create::<PracticeExamples>(&app.db, &partner, example("nergens", None)).await, "nowhere");
        assert_eq!(tests::count(&app.db, "practice_examples", "slug IN ('ergens', 'nergens')").await, 0);
    }
);
