//! The seed data: what the two source documents say, and nothing they do not.
//!
//! Sources: the project page of Living Lab M&Gezond (Emmen) and the #GemeenteDelers 2023
//! submission of LEGrO (Groningen). Text stays in Dutch as written. CBS codes appear only
//! where they are real (PV22 Drenthe, PV20 Groningen, GM0114 Emmen); Emmen-Zuid and Bargeres
//! carry none. Every row is upserted by an external id of the system partner, so seeding
//! twice changes nothing and writes no new change-log entries.
//!
//! The OpenAPI examples (`api/src/dto/examples.rs`) show some of these rows, as sent and as
//! read: a change here is a change there (`tests/tests/openapi.rs` PUTs each to its row and
//! expects the row unchanged).

use std::fmt;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{
    GoalInput, MembershipInput, NetworkInput, NetworkRegionInput, OrganizationInput,
    PracticeExampleInput, RegionInput, ThemeInput,
};
use crate::error::Result;
use crate::service::{
    Actor, Goals, Memberships, Networks, Organizations, PracticeExamples, Regions, Resource,
    Themes, upsert,
};

/// What a seed run did.
#[derive(Debug, Default, Clone)]
pub struct SeedReport {
    /// Rows created.
    pub created: usize,
    /// Rows that were there already (left as they are when unchanged).
    pub existing: usize,
    /// The demo admin partner's credentials, when this run made it (a new database): to
    /// be shown once, never logged.
    pub demo_admin: Option<crate::service::partners::Credentials>,
}

/// The name of the demo admin partner a new database gets.
pub const DEMO_ADMIN: &str = "demo-admin";

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed data loaded: {} created, {} already present",
            self.created, self.existing
        )
    }
}

impl SeedReport {
    async fn put<R: Resource>(
        &mut self,
        db: &DatabaseConnection,
        actor: &Actor,
        external_id: &str,
        input: R::Input,
    ) -> Result<R::Dto> {
        let (dto, created) = upsert::<R>(db, actor, external_id, input, None).await?;
        if created {
            self.created += 1;
        } else {
            self.existing += 1;
        }
        Ok(dto)
    }
}

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// An enumeration's value as a request sends it.
fn e<E>(text: &str) -> Option<crate::dto::Text<E>> {
    Some(crate::dto::Text::from(text))
}

fn region(
    code: Option<&str>,
    name: &str,
    kind: &str,
    parent: Option<Uuid>,
    deprived: bool,
) -> RegionInput {
    RegionInput {
        code: code.map(str::to_owned),
        name: s(name),
        kind: e(kind),
        parent_id: parent,
        deprived: Some(deprived),
        ..Default::default()
    }
}

/// The Living Lab's five goals: title from the project description's list, description
/// from the summary of the application.
pub(crate) const LIVING_LAB_GOALS: [(&str, &str); 5] = [
    (
        "Het borgen van de samenwerking van het netwerk in Emmen-Zuid/Bargeres",
        "Borgen van samenwerking van het netwerk in Emmen-Zuid/Bargeres zodat in de toekomst het netwerk blijft samenwerken.",
    ),
    (
        "Het verbreden naar andere kansarme wijken binnen Emmen",
        "Verbreden van het netwerk naar andere kansarme wijken binnen Emmen zodat inwoners in andere wijken dan Emmen-Zuid/Bargeres ook een extra impuls krijgen vanuit het netwerk.",
    ),
    (
        "Het overbrengen van geleerde lessen vanuit Emmen-Zuid/Bargeres naar andere wijken binnen en buiten Emmen",
        "Geleerde lessen vanuit Emmen-Zuid/Bargeres overbrengen naar: a. andere wijken in Emmen zodat best practices direct toegepast kunnen worden ten gunste van de inwoners van andere wijken. b. andere gemeentes zodat best practices direct toegepast kunnen worden ten gunste van de inwoners van andere wijken in andere gemeentes via de innovatie werkplaats (IWP) Drenthe Gezond.",
    ),
    (
        "Het betrekken van meer inwoners zodat er meer initiatieven/activiteiten kunnen worden ontplooid",
        "Uitbreiden naar meer initiatieven vanuit inwoners zodat meer inwoners betrokken raken en daardoor een breder aanbod passend bij het doel te realiseren.",
    ),
    (
        "Het verankeren van de integrale aanpak in het onderwijs van de betrokken opleidingen",
        "Verankeren van integrale aanpak in het onderwijs van de betrokken opleidingen om duurzame samenwerking te bestendigen, integraal werken al in de opleiding aan te leren en in de praktijk extra denk- en uitvoeringskracht te hebben.",
    ),
];

const LIVING_LAB_SUMMARY: &str = "Het Living Lab M&Gezond heeft als doel om inwoners in Emmen meer gezonde jaren te geven. Dit wil ze doen door vanuit verschillende domeinen (sport, bewegen, zorg en welzijn) en met inwoners initiatieven op het gebied van positieve gezondheid op te zetten en uit te breiden. Het Living Lab heeft een stevig netwerk waarin buurtsportcoaches, welzijnswerkers samen werken en leren met docenten en studenten van drie opleidingen en verschillende niveaus (MBO/bachelor/master) op gebied van sport & bewegen, voeding en zorg & welzijn.";

const LIVING_LAB_DESCRIPTION: &str = "In het Living lab M&Gezond werken werkveldprofessionals vanuit verschillende sectoren samen met studenten, docenten en onderzoekers van verschillende opleidingen en niveaus op het thema positieve gezondheid. Zij betrekken hierin bewoners uit de wijk om te komen tot het activeren van inwoners tot initiatieven die bijdragen aan de gezondheid en leefbaarheid in de wijk Bargeres in Emmen-Zuid. Via een gezamenlijke fysieke werk/ontmoetingsplek in het buurthuis in de wijk, wordt ontmoeting en samenwerking tussen werkveldprofessionals, studenten, docenten, onderzoekers en wijkbewoners gestimuleerd. De gezamenlijke leer-werkplek waar werkveldprofessionals, studenten, docenten en onderzoekers ontmoeten midden in de wijk waar bewoners ook samenkomen en ontmoeten, is een belangrijk concept binnen het living lab M&Gezond. Huidig zijn eerste werkgroepen en initiatieven gestart die moeten gaan bijdragen aan de gezondheid en leefbaarheid.";

pub(crate) const LEGRO_SUMMARY: &str = "Het Leernetwerk Leefomgeving Groningen (LEGrO) is ontstaan via het Preventie Overleg Groningen (POG). Doel van LEGrO is het ontwikkelen van een regionaal, thematisch leernetwerk rond een gezonde leefomgeving in Groningen.";

pub(crate) const LEGRO_CONTEXT: &str = "De urgentie om in de provincie Groningen te werken aan een gezonde leefomgeving is hoog. 5 Groninger gemeenten behoren tot de tien kansarmste van Nederland. De gezondheid van de inwoners blijft achter bij het landelijke gemiddelde.";

pub(crate) const LEGRO_APPROACH: &str = "Samen leren op gezondheid thema's staat centraal in dit programma. Het leren wordt door middel van LEGrO op verschillende kennisniveau's opgepakt en aangemoedigd; systeem- en leefwereld leren elkaars taal te verstaan en op ontwikkel casuïstiek in de praktijk leert men hoe inwoners- overheid en kennisinstellingen elkaar kunnen versterken en op welke wijze samengewerkt kan worden aan aan het inrichten van een gezonde leefomgeving.";

pub(crate) const LEGRO_WHY: &str = "Het Leernetwerk Gezonde Leefomgeving Groningen is succesvol omdat dit leernetwerk kruisbestuiving tussen overheden (gemeente), kennisinstellingen, (zorg)professionals en inwoners mogelijk maakt.

LEGrO is van waarde voor gemeente door de integrale- en domein overstijgende leernetwerk bijeenkomsten. Ook leren gemeente anders te kijken naar de bijdrage van bewoners initiatieven en hun samenwerking met inwoners. LEGrO is van waarde voor inwoners omdat inwoners een kijkje kunnen nemen in de systeemwereld.

Kennis over een gezonde leefomgeving wordt via LEGrO ontsloten en draagt bij aan nieuwe denkbeelden over voeding, rookverboden en het inrichten van de fysieke leefomgeving. Kennisinstellingen werken nauw samen met de praktijk en trekken lering uit praktijkvoorbeelden. Wanneer LEGrO afloopt worden nieuwe opgezette structuren gekoppeld aan het bestaande Preventie Overleg Groningen (POG).";

pub(crate) const LEGRO_HOW_TO_APPLY: &str = "Het opzetten van een regionaal thematisch leernetwerk kan elders in Nederland ook toegepast worden. Door gebruik te maken van bestaande netwerken en activiteiten, kun je met wat sturing en procesbegeleiding kruisbestuiving organiseren op verschillende lagen. Thema's binnen LEGrO zijn actuele beleidsthema's en ook gemeenschappen hechten waarde aan een gezonde leefomgeving. LEGrO zorgt met name dat verbindingen tussen mensen, initiatieven en bestaande ideeën worden gemaakt.";

pub(crate) const LEGRO_OUTCOME: &str = "LEGrO is een prachtig initiatief dat begrip, ruimte- en tijd voor elkaars werkveld- en leefwereld mogelijk maakt. Door samenwerking, samen leren en verbinding ontstaat vertrouwen. En vanuit vertrouwen kun je de wereld aan impact genereren. Zo simpel is het. Er zijn in Nederland al veel gezondheidsinitiatieven. Het ontsluiten van bestaande kennis en het bundelen van wat er al is; dat gaat helpen om meer gezonde jaren voor ieder individu te realiseren.
Na 4 jaar is er een leernetnetwerk opgezet met kennis over effectieve ruimtelijke interventies in de regio en met handvaten voor beleid en praktijk.";

/// Themes named in the documents: slug and name.
pub const THEMES: [(&str, &str); 8] = [
    ("positieve-gezondheid", "positieve gezondheid"),
    ("leefbaarheid", "leefbaarheid"),
    ("sport-en-bewegen", "sport en bewegen"),
    ("zorg-en-welzijn", "zorg en welzijn"),
    ("gezonde-leefomgeving", "gezonde leefomgeving"),
    ("voeding", "voeding"),
    ("rookverboden", "rookverboden"),
    ("fysieke-leefomgeving", "fysieke leefomgeving"),
];

/// Loads the seed data as `actor` (the system partner). Idempotent.
pub async fn seed(db: &DatabaseConnection, actor: &Actor) -> Result<SeedReport> {
    let mut report = SeedReport::default();
    let r = &mut report;

    // Regions: Drenthe > Emmen > Emmen-Zuid (area) > Bargeres (district); Groningen.
    let nl = r
        .put::<Regions>(
            db,
            actor,
            "seed:region:nederland",
            region(None, "Nederland", "country", None, false),
        )
        .await?;
    let drenthe = r
        .put::<Regions>(
            db,
            actor,
            "seed:region:PV22",
            region(Some("PV22"), "Drenthe", "province", Some(nl.meta.id), false),
        )
        .await?;
    let groningen = r
        .put::<Regions>(
            db,
            actor,
            "seed:region:PV20",
            region(
                Some("PV20"),
                "Groningen",
                "province",
                Some(nl.meta.id),
                false,
            ),
        )
        .await?;
    let emmen = r
        .put::<Regions>(
            db,
            actor,
            "seed:region:GM0114",
            region(
                Some("GM0114"),
                "Emmen",
                "municipality",
                Some(drenthe.meta.id),
                false,
            ),
        )
        .await?;
    let emmen_zuid = r
        .put::<Regions>(
            db,
            actor,
            "seed:region:emmen-zuid",
            region(None, "Emmen-Zuid", "area", Some(emmen.meta.id), true),
        )
        .await?;
    let bargeres = r
        .put::<Regions>(
            db,
            actor,
            "seed:region:bargeres",
            region(None, "Bargeres", "district", Some(emmen_zuid.meta.id), true),
        )
        .await?;

    for (slug, name) in THEMES {
        r.put::<Themes>(
            db,
            actor,
            &format!("seed:theme:{slug}"),
            ThemeInput {
                slug: s(slug),
                name: s(name),
                ..Default::default()
            },
        )
        .await?;
    }

    let hanze = r
        .put::<Organizations>(
            db,
            actor,
            "seed:organization:hanzehogeschool-groningen",
            OrganizationInput {
                name: s("Hanzehogeschool Groningen"),
                kind: e("university_of_applied_sciences"),
                ..Default::default()
            },
        )
        .await?;

    let iwp = r
        .put::<Networks>(
            db,
            actor,
            "seed:network:iwp-drenthe-gezond",
            NetworkInput {
                slug: s("iwp-drenthe-gezond"),
                name: s("IWP Drenthe Gezond"),
                kind: e("innovation_workplace"),
                regions: Some(vec![NetworkRegionInput {
                    region_id: Some(drenthe.meta.id),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await?;

    let living_lab = r
        .put::<Networks>(
            db,
            actor,
            "seed:network:living-lab-m-en-gezond",
            NetworkInput {
                slug: s("living-lab-m-en-gezond"),
                name: s("Living Lab M&Gezond"),
                kind: e("living_lab"),
                summary: s(LIVING_LAB_SUMMARY),
                description: s(LIVING_LAB_DESCRIPTION),
                status: e("completed"),
                start_year: Some(2021),
                end_year: Some(2022),
                progress_percent: Some(100),
                project_number: s("10540012010010"),
                lead_organization_id: Some(hanze.meta.id),
                project_leader: s("dr. S.I. Brouwer"),
                meeting_place: s(
                    "gezamenlijke fysieke werk/ontmoetingsplek in het buurthuis in de wijk",
                ),
                parent_network_id: Some(iwp.meta.id),
                themes: Some(vec![
                    "positieve-gezondheid".into(),
                    "leefbaarheid".into(),
                    "sport-en-bewegen".into(),
                    "zorg-en-welzijn".into(),
                ]),
                regions: Some(vec![
                    NetworkRegionInput {
                        region_id: Some(bargeres.meta.id),
                        role: e("focus"),
                        ..Default::default()
                    },
                    NetworkRegionInput {
                        region_id: Some(emmen.meta.id),
                        role: e("expansion"),
                        ..Default::default()
                    },
                ]),
                education_levels: Some(vec!["mbo".into(), "bachelor".into(), "master".into()]),
                education_fields: Some(vec![
                    "sport_and_exercise".into(),
                    "nutrition".into(),
                    "care_and_welfare".into(),
                ]),
                ..Default::default()
            },
        )
        .await?;

    for (i, (title, description)) in LIVING_LAB_GOALS.iter().enumerate() {
        let position = i as i32 + 1;
        r.put::<Goals>(
            db,
            actor,
            &format!("seed:goal:living-lab-m-en-gezond:{position}"),
            GoalInput {
                network_id: Some(living_lab.meta.id),
                position: Some(position),
                title: s(title),
                description: s(description),
                ..Default::default()
            },
        )
        .await?;
    }

    r.put::<Memberships>(
        db,
        actor,
        "seed:membership:living-lab-m-en-gezond:hanzehogeschool-groningen",
        MembershipInput {
            network_id: Some(living_lab.meta.id),
            organization_id: Some(hanze.meta.id),
            role: e("lead"),
            ..Default::default()
        },
    )
    .await?;

    let pog = r
        .put::<Networks>(
            db,
            actor,
            "seed:network:pog",
            NetworkInput {
                slug: s("pog"),
                name: s("Preventie Overleg Groningen (POG)"),
                kind: e("consultation_body"),
                regions: Some(vec![NetworkRegionInput {
                    region_id: Some(groningen.meta.id),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await?;

    let legro_themes = vec![
        "gezonde-leefomgeving".to_owned(),
        "voeding".to_owned(),
        "rookverboden".to_owned(),
        "fysieke-leefomgeving".to_owned(),
    ];
    let legro = r
        .put::<Networks>(
            db,
            actor,
            "seed:network:legro",
            NetworkInput {
                slug: s("legro"),
                name: s("Leernetwerk Leefomgeving Groningen (LEGrO)"),
                kind: e("learning_network"),
                summary: s(LEGRO_SUMMARY),
                start_year: Some(2023),
                end_year: Some(2027),
                parent_network_id: Some(pog.meta.id),
                themes: Some(legro_themes.clone()),
                regions: Some(vec![NetworkRegionInput {
                    region_id: Some(groningen.meta.id),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await?;

    r.put::<PracticeExamples>(
        db,
        actor,
        "seed:practice-example:legro-gemeentedelers-2023",
        PracticeExampleInput {
            slug: s("legro-gemeentedelers-2023"),
            title: s("Leernetwerk Leefomgeving Groningen (LEGrO)"),
            year: Some(2023),
            region_id: Some(groningen.meta.id),
            network_id: Some(legro.meta.id),
            summary: s(LEGRO_SUMMARY),
            context: s(LEGRO_CONTEXT),
            approach: s(LEGRO_APPROACH),
            why_it_works: s(LEGRO_WHY),
            how_to_apply: s(LEGRO_HOW_TO_APPLY),
            expected_outcome: s(LEGRO_OUTCOME),
            collection: s("#GemeenteDelers 2023"),
            themes: Some(legro_themes),
            status: e("published"),
            language: s("nl"),
            ..Default::default()
        },
    )
    .await?;

    let demo_exists = entity::partner::Entity::find()
        .filter(entity::partner::Column::Name.eq(DEMO_ADMIN))
        .one(db)
        .await
        .map_err(crate::service::db::map_db_err)?
        .is_some();
    if !demo_exists {
        report.demo_admin = Some(
            crate::service::partners::create(
                db,
                crate::service::partners::NewPartner {
                    name: DEMO_ADMIN.to_owned(),
                    kind: "admin".to_owned(),
                    scopes: vec!["admin".to_owned()],
                    unconfined: true,
                    ..Default::default()
                },
            )
            .await?,
        );
    }
    Ok(report)
}
