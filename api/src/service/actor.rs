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

/// A caller of the service layer: a partner with its scopes and the regions and networks it
/// is confined to.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The partner acting.
    pub partner_id: Uuid,
    /// Granted scopes (`read`, `write:<collection>`, `changes:read`, `webhooks:manage`, `admin`).
    pub scopes: Vec<String>,
    /// Regions (with their subtrees) the partner may write in. With `networks`, empty means
    /// the partner is not confined (admins never are).
    pub regions: Vec<Uuid>,
    /// Networks the partner may write in.
    pub networks: Vec<Uuid>,
    /// The request id, recorded in the audit log.
    pub request_id: Option<String>,
}

impl Actor {
    /// The system partner with every right: used by the CLI and by seeding.
    pub fn system() -> Self {
        Self {
            partner_id: SYSTEM_PARTNER_ID,
            scopes: vec!["admin".to_owned()],
            regions: Vec::new(),
            networks: Vec::new(),
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
            Err(Error::Forbidden(format!(
                "the scope write:{collection} is required"
            )))
        }
    }

    /// Refuses unless the partner may read.
    pub fn require_read(&self) -> Result<()> {
        if self.has_scope("read") {
            Ok(())
        } else {
            Err(Error::Forbidden("the scope read is required".to_owned()))
        }
    }

    /// Refuses to change or delete a row owned by another partner, unless admin.
    pub fn require_owner(&self, owner: Uuid) -> Result<()> {
        if self.is_admin() || owner == self.partner_id {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "only the partner that created this resource (or an admin) may change it"
                    .to_owned(),
            ))
        }
    }
}
