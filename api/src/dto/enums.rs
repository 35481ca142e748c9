//! The enumerations of the domain (`domain.md`), as snake_case strings on the wire and in
//! the database (where a CHECK constraint lists the same values). GraphQL names each value
//! by the same words in the upper case its conventions use (`living_lab` is `LIVING_LAB`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::Enum)]
        // The OpenAPI schema reads the enum's own `rename_all` (a per-variant `rename` that a
        // macro passes on is not seen by utoipa); a test checks that both give the same text.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the order of the domain model.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "must be one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl Wire for $name {
            fn wire(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// An enumeration with its wire text ([`Text`] takes one as the input of either face).
pub trait Wire: async_graphql::InputType + Copy + FromStr {
    /// The value as stored and sent.
    fn wire(self) -> &'static str;
}

/// An enumeration's value as a request sends it: REST sends the text (`living_lab`), which
/// is kept as sent so that the service can report a wrong one with the others
/// ([`crate::service::check::Check`]); GraphQL sends the enum (`LIVING_LAB`), which its
/// schema has already checked and which is kept as its text. So both faces give the service
/// the same input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text<E> {
    text: String,
    #[serde(skip)]
    of: std::marker::PhantomData<fn() -> E>,
}

impl<E> Text<E> {
    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<E> AsRef<str> for Text<E> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl<E> From<&str> for Text<E> {
    fn from(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            of: std::marker::PhantomData,
        }
    }
}

impl<E: Wire> From<E> for Text<E> {
    fn from(value: E) -> Self {
        Self::from(value.wire())
    }
}

impl<E: Wire> async_graphql::InputType for Text<E> {
    type RawValueType = Self;

    fn type_name() -> std::borrow::Cow<'static, str> {
        E::type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        E::create_type_info(registry)
    }

    fn parse(value: Option<async_graphql::Value>) -> async_graphql::InputValueResult<Self> {
        E::parse(value)
            .map(Self::from)
            .map_err(async_graphql::InputValueError::propagate)
    }

    fn to_value(&self) -> async_graphql::Value {
        match self.text.parse::<E>() {
            Ok(value) => value.to_value(),
            Err(_) => async_graphql::Value::String(self.text.clone()),
        }
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
}

/// Parses a stored value; the database's CHECK constraint guarantees it is valid, and a
/// value that is not falls back to the default rather than failing a read.
pub fn stored<E: FromStr + Default>(value: &str) -> E {
    value.parse().unwrap_or_default()
}

str_enum!(
    /// What kind of region.
    RegionKind {
        /// A country.
        Country = "country",
        /// A province (CBS `PVxx`).
        Province = "province",
        /// A municipality (CBS `GMxxxx`).
        #[default]
        Municipality = "municipality",
        /// A named group of districts with no CBS code, such as Emmen-Zuid.
        Area = "area",
        /// A district, "wijk" (CBS `WKxxxxxx`).
        District = "district",
        /// A neighbourhood, "buurt" (CBS `BUxxxxxxxx`).
        Neighbourhood = "neighbourhood",
    }
);

impl RegionKind {
    /// The depth in the tree: a parent's rank is always lower than its child's.
    pub fn rank(self) -> u8 {
        match self {
            RegionKind::Country => 0,
            RegionKind::Province => 1,
            RegionKind::Municipality => 2,
            RegionKind::Area => 3,
            RegionKind::District => 4,
            RegionKind::Neighbourhood => 5,
        }
    }

    /// The shape of its CBS code: a prefix and how many digits follow (`GM` and 4 for
    /// `GM0114`); `None` for a kind that has no CBS code (an area).
    pub fn cbs_code(self) -> Option<(&'static str, usize)> {
        match self {
            RegionKind::Country => Some(("NL", 2)),
            RegionKind::Province => Some(("PV", 2)),
            RegionKind::Municipality => Some(("GM", 4)),
            RegionKind::District => Some(("WK", 6)),
            RegionKind::Neighbourhood => Some(("BU", 8)),
            RegionKind::Area => None,
        }
    }
}

str_enum!(
    /// What kind of organization.
    OrganizationKind {
        /// A municipality.
        Municipality = "municipality",
        /// A province.
        Province = "province",
        /// A university of applied sciences (hogeschool).
        UniversityOfAppliedSciences = "university_of_applied_sciences",
        /// A research university.
        University = "university",
        /// A vocational school (MBO).
        VocationalSchool = "vocational_school",
        /// A welfare organization.
        Welfare = "welfare",
        /// A sports organization.
        Sports = "sports",
        /// A healthcare organization.
        Healthcare = "healthcare",
        /// A community centre (buurthuis).
        CommunityCentre = "community_centre",
        /// A funder.
        Funder = "funder",
        /// A body that runs networks.
        NetworkBody = "network_body",
        /// Anything else.
        #[default]
        Other = "other",
    }
);

str_enum!(
    /// What kind of network.
    NetworkKind {
        /// A living lab.
        LivingLab = "living_lab",
        /// A (regional) learning network.
        LearningNetwork = "learning_network",
        /// A provincial innovation workplace.
        InnovationWorkplace = "innovation_workplace",
        /// A consultation body such as a prevention forum.
        ConsultationBody = "consultation_body",
        /// Anything else.
        #[default]
        Other = "other",
    }
);

str_enum!(
    /// Where a network stands.
    NetworkStatus {
        /// Not started.
        Planned = "planned",
        /// Running.
        #[default]
        Active = "active",
        /// Finished as planned.
        Completed = "completed",
        /// Ended early.
        Stopped = "stopped",
    }
);

str_enum!(
    /// The role of a region in a network.
    RegionRole {
        /// Where the network works.
        #[default]
        Focus = "focus",
        /// Where it is expanding to.
        Expansion = "expansion",
        /// Where its lessons are carried to.
        TransferTarget = "transfer_target",
    }
);

str_enum!(
    /// Where a goal stands.
    GoalStatus {
        /// Not started.
        #[default]
        Planned = "planned",
        /// Being worked on.
        InProgress = "in_progress",
        /// Reached.
        Achieved = "achieved",
        /// Given up.
        Dropped = "dropped",
    }
);

str_enum!(
    /// The role of an organization in a network.
    MembershipRole {
        /// Leads the network.
        Lead = "lead",
        /// Takes part.
        #[default]
        Partner = "partner",
        /// Takes part as an education institution.
        Education = "education",
        /// Funds the network.
        Funder = "funder",
        /// Coordinates the network.
        Coordinator = "coordinator",
    }
);

str_enum!(
    /// Publication state of a practice example.
    PracticeExampleStatus {
        /// Visible to its owner and admins only.
        #[default]
        Draft = "draft",
        /// Visible to every reader.
        Published = "published",
        /// Kept, no longer current.
        Archived = "archived",
    }
);

str_enum!(
    /// Where an initiative stands.
    InitiativeStatus {
        /// An idea.
        #[default]
        Idea = "idea",
        /// Running.
        Running = "running",
        /// Finished.
        Finished = "finished",
    }
);

str_enum!(
    /// Whether a lesson has been carried to a region yet.
    TransferStatus {
        /// Planned.
        #[default]
        Planned = "planned",
        /// Applied there.
        Applied = "applied",
    }
);

str_enum!(
    /// Education level.
    Level {
        /// Vocational education (MBO).
        #[default]
        Mbo = "mbo",
        /// Bachelor (HBO or WO).
        Bachelor = "bachelor",
        /// Master.
        Master = "master",
    }
);

str_enum!(
    /// Education field.
    Field {
        /// Sport and exercise ("sport & bewegen").
        SportAndExercise = "sport_and_exercise",
        /// Nutrition ("voeding").
        Nutrition = "nutrition",
        /// Care and welfare ("zorg & welzijn").
        CareAndWelfare = "care_and_welfare",
        /// Anything else.
        #[default]
        Other = "other",
    }
);

str_enum!(
    /// Where a student assignment stands.
    AssignmentStatus {
        /// Not yet offered.
        #[default]
        Draft = "draft",
        /// Open for applications.
        Open = "open",
        /// Being carried out.
        InProgress = "in_progress",
        /// Closed.
        Closed = "closed",
    }
);

str_enum!(
    /// What kind of API client a partner is.
    PartnerKind {
        /// A municipality's system.
        Municipality = "municipality",
        /// A provincial network such as an innovation workplace.
        ProvincialNetwork = "provincial_network",
        /// An education platform (LMS).
        EducationPlatform = "education_platform",
        /// A dashboard.
        #[default]
        Dashboard = "dashboard",
        /// An administrator.
        Admin = "admin",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    /// The OpenAPI schema of every enum lists exactly the values sent and accepted.
    #[test]
    fn schemas_list_the_wire_values() {
        fn check<E: PartialSchema + Serialize + Copy + 'static>(
            all: &[E],
            as_str: fn(E) -> &'static str,
        ) {
            let schema = serde_json::to_value(E::schema()).expect("a schema");
            let listed: Vec<String> =
                serde_json::from_value(schema["enum"].clone()).expect("an enum schema");
            let wire: Vec<String> = all.iter().map(|e| as_str(*e).to_owned()).collect();
            let serialized: Vec<String> = all
                .iter()
                .map(|e| {
                    serde_json::to_value(e)
                        .expect("JSON")
                        .as_str()
                        .expect("a string")
                        .to_owned()
                })
                .collect();
            assert_eq!(listed, wire);
            assert_eq!(serialized, wire);
        }
        /// GraphQL's name of every value is its wire value in upper case.
        fn graphql<E: async_graphql::EnumType + PartialEq + Copy + std::fmt::Debug>(
            all: &[E],
            as_str: fn(E) -> &'static str,
        ) {
            let items = E::items();
            assert_eq!(items.len(), all.len());
            for value in all {
                let item = items
                    .iter()
                    .find(|item| item.value == *value)
                    .expect("every value is a GraphQL enum value");
                assert_eq!(item.name, as_str(*value).to_uppercase(), "{value:?}");
            }
        }
        macro_rules! check_all {
            ($($e:ident),+) => { $(check($e::ALL, $e::as_str); graphql($e::ALL, $e::as_str);)+ };
        }
        check_all!(
            RegionKind,
            OrganizationKind,
            NetworkKind,
            NetworkStatus,
            RegionRole,
            GoalStatus,
            MembershipRole,
            PracticeExampleStatus,
            InitiativeStatus,
            TransferStatus,
            Level,
            Field,
            AssignmentStatus,
            PartnerKind
        );
    }
}
