//! Who is calling: the [`Actor`] every service function takes.
//!
//! The faces (REST, GraphQL, CLI) build an `Actor` from a token or from the command line;
//! the service layer alone decides what it may do, so the faces cannot disagree.

use uuid::Uuid;

use crate::error::{Error, Result};

/// The built-in system partner that owns seeded rows and acts for the CLI.
pub const SYSTEM_PARTNER_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);

/// The name of the built-in system partner.
pub const SYSTEM_PARTNER_NAME: &str = "leernet-system";

/// Where a partner may write (`auth.md`). Confinement is explicit: an empty list loaded by
/// mistake narrows a partner to nothing, never widens it to everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// Writes anywhere its scopes allow (admins, provincial bodies); reference data that
    /// lies in no region (themes) is written only by unconfined partners.
    Unconfined,
    /// Writes only rows inside these regions' subtrees or belonging to these networks. With
    /// both lists empty, the partner writes nowhere.
    Within {
        /// Regions (with their subtrees).
        regions: Vec<Uuid>,
        /// Networks.
        networks: Vec<Uuid>,
    },
}

/// A caller of the service layer: a partner with its scopes and where it may write.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The partner acting.
    pub partner_id: Uuid,
    /// Its kind (`municipality`, `provincial_network`, `education_platform`, `dashboard`,
    /// `admin`): some defaults follow it (an education platform sees open and in-progress
    /// assignments unless it asks for a status).
    pub kind: String,
    /// Granted scopes (`read`, `write:<collection>`, `changes:read`, `webhooks:manage`, `admin`).
    pub scopes: Vec<String>,
    /// Where the partner may write.
    pub confinement: Confinement,
    /// Whether every change or delete of an existing row must name the version it expects
    /// (`If-Match` / `expectedVersion`); without one it is refused with 428.
    pub require_if_match: bool,
    /// The request id, recorded in the audit log.
    pub request_id: Option<String>,
}

impl Actor {
    /// The system partner with every right: used by the CLI and by seeding.
    pub fn system() -> Self {
        Self {
            partner_id: SYSTEM_PARTNER_ID,
            kind: "admin".to_owned(),
            scopes: vec!["admin".to_owned()],
            confinement: Confinement::Unconfined,
            require_if_match: false,
            request_id: None,
        }
    }

    /// Whether the partner has `scope` (admins have every scope).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope || s == "admin")
    }

    /// Whether the partner is an administrator.
    pub fn is_admin(&self) -> bool {
        self.scopes.iter().any(|s| s == "admin")
    }

    /// Refuses unless the partner may write `collection` (`write:<collection>`).
    pub fn require_write(&self, collection: &str) -> Result<()> {
        if self.has_scope(&format!("write:{collection}")) {
            Ok(())
        } else {
            Err(Error::MissingScope(format!("write:{collection}")))
        }
    }

    /// Refuses unless the partner may read.
    pub fn require_read(&self) -> Result<()> {
        if self.has_scope("read") {
            Ok(())
        } else {
            Err(Error::MissingScope("read".to_owned()))
        }
    }

    /// Refuses to change or delete a row owned by another partner, unless admin. `what`
    /// names the row whose owner decides (`network` for a network's goals).
    pub fn require_owner(&self, owner: Uuid, what: &str) -> Result<()> {
        if self.is_admin() || owner == self.partner_id {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "only the partner that created this {what} (or an admin) may change it"
            )))
        }
    }

    /// Refuses a change of an existing row without an expected version when this partner
    /// must always send one.
    pub fn require_version(&self, expected: Option<i32>) -> Result<()> {
        if expected.is_none() && self.require_if_match {
            Err(Error::PreconditionRequired)
        } else {
            Ok(())
        }
    }
}
