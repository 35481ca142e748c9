//! Partners (the machines that call the API) and their client credentials.
//!
//! People administer partners through the command line (`leernet partner ...`); the token
//! endpoint checks client credentials here, and the token verifier turns a partner into the
//! [`Actor`] the rest of the service layer decides from: its scopes (narrowed to what the
//! token was granted), its confinement (regions, networks, or unconfined) and whether it
//! must send `If-Match`. A revoked partner has no actor, so its tokens stop working at once.
//!
//! Client secrets are 256 random bits, shown once and stored as an argon2id hash. Checking
//! a secret takes the same time whether or not the client exists: an unknown client id is
//! checked against a fixed dummy hash.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use base64::Engine;
use entity::{client_credential, partner, partner_issuer, partner_network, partner_region};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::actor::Confinement;
use crate::service::check::Check;
use crate::service::db::map_db_err;
use crate::service::refs::Ref;
use crate::service::resource::now;
use crate::service::{Actor, Networks, Regions, refs};

/// The kinds of partner (`domain.md`).
pub const KINDS: &[&str] = &[
    "municipality",
    "provincial_network",
    "education_platform",
    "dashboard",
    "admin",
];

/// The collections a `write:` scope may name.
pub const WRITABLE: &[&str] = &[
    "regions",
    "organizations",
    "themes",
    "networks",
    "practice-examples",
    "initiatives",
    "lessons",
    "programmes",
    "assignments",
];

/// Whether `scope` is one the service knows.
pub fn known_scope(scope: &str) -> bool {
    matches!(scope, "read" | "changes:read" | "webhooks:manage" | "admin")
        || scope
            .strip_prefix("write:")
            .is_some_and(|c| WRITABLE.contains(&c))
}

/// What a new partner is.
#[derive(Debug, Clone, Default)]
pub struct NewPartner {
    /// A unique name, e.g. `gemeente-emmen`.
    pub name: String,
    /// One of [`KINDS`].
    pub kind: String,
    /// Scopes, e.g. `read write:practice-examples`.
    pub scopes: Vec<String>,
    /// Regions it may write in, by CBS code or id.
    pub regions: Vec<String>,
    /// Networks it may write in, by slug or id.
    pub networks: Vec<String>,
    /// Writes anywhere its scopes allow.
    pub unconfined: bool,
    /// Must send `If-Match` on every change of an existing row.
    pub require_if_match: bool,
    /// External issuers whose tokens may act as this partner.
    pub issuers: Vec<IssuerBinding>,
}

/// Lets tokens of an external issuer act as a partner: those whose partner claim (e.g.
/// `azp`) is `subject`. Admin rights pass through the binding only when it grants them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerBinding {
    /// The issuer (`iss`), as configured with `--external-issuer`.
    pub issuer: String,
    /// The value of the issuer's partner claim that names this partner.
    pub subject: String,
    /// Whether such tokens may use the partner's `admin` scope.
    pub admin: bool,
}

/// A partner's credentials, as shown once when they are made. Their `Debug` hides the
/// secret, so that it cannot end up in a log.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The partner.
    pub partner_id: Uuid,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret: shown once, stored only as a hash.
    pub client_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("partner_id", &self.partner_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .finish()
    }
}

/// A partner as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerInfo {
    /// Its id (a token's `sub`).
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Regions it may write in (ids).
    pub regions: Vec<Uuid>,
    /// Networks it may write in (ids).
    pub networks: Vec<Uuid>,
    /// Writes anywhere its scopes allow.
    pub unconfined: bool,
    /// Its live client ids.
    pub client_ids: Vec<String>,
    /// External issuers whose tokens may act as it.
    pub issuers: Vec<IssuerBinding>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    // aws-lc-rs' system random; failing means the OS has no entropy source at all.
    if aws_lc_rs::rand::fill(&mut buffer).is_err() {
        buffer = Uuid::new_v4().into_bytes().repeat(bytes.div_ceil(16));
        buffer.truncate(bytes);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

fn hash_secret(secret: &str) -> Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::internal(anyhow::anyhow!("no random bytes for a salt")))?;
    let salt = SaltString::encode_b64(&bytes)
        .map_err(|e| Error::internal(anyhow::anyhow!("encoding a salt: {e}")))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(anyhow::anyhow!("hashing a client secret: {e}")))
}

/// A hash no secret matches, checked when the client id is unknown so that both cases cost
/// the same.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_secret(&random_token(32)).unwrap_or_default());

/// A new credential for `partner_id`.
async fn new_credential<C: ConnectionTrait>(conn: &C, partner_id: Uuid) -> Result<Credentials> {
    let client_id = format!("lnc_{}", Uuid::now_v7().simple());
    let client_secret = random_token(32);
    let secret_hash = hash_secret(&client_secret)?;
    client_credential::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(partner_id),
        client_id: Set(client_id.clone()),
        secret_hash: Set(secret_hash),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await
    .map_err(map_db_err)?;
    Ok(Credentials {
        partner_id,
        client_id,
        client_secret,
    })
}

/// Creates a partner with a first credential. Regions are given by CBS code or id,
/// networks by slug or id; `unconfined` excludes both.
pub async fn create(db: &DatabaseConnection, new: NewPartner) -> Result<Credentials> {
    let admin = Actor::system();
    let txn = crate::service::db::begin_immediate(db).await?;
    let mut check = Check::new();
    let name = check.line("name", &Some(new.name.clone()));
    if !KINDS.contains(&new.kind.as_str()) {
        check.fail("kind", format!("must be one of {}", KINDS.join(", ")));
    }
    for scope in &new.scopes {
        if !known_scope(scope) {
            check.fail(
                "scopes",
                format!(
                    "{scope} is not a scope; use read, changes:read, webhooks:manage, admin or write:<collection> ({})",
                    WRITABLE.join(", ")
                ),
            );
        }
    }
    if new.unconfined && !(new.regions.is_empty() && new.networks.is_empty()) {
        check.fail(
            "unconfined",
            "an unconfined partner has no regions or networks",
        );
    }
    let regions =
        resolve_keys::<Regions>(&txn, &admin, &mut check, "regions", "region", &new.regions)
            .await?;
    let networks = resolve_keys::<Networks>(
        &txn,
        &admin,
        &mut check,
        "networks",
        "network",
        &new.networks,
    )
    .await?;
    if check.is_ok()
        && partner::Entity::find()
            .filter(partner::Column::Name.eq(name.as_str()))
            .one(&txn)
            .await
            .map_err(map_db_err)?
            .is_some()
    {
        check.fail("name", format!("a partner named {name} exists already"));
    }
    check.finish()?;
    let id = Uuid::now_v7();
    let at = now();
    partner::ActiveModel {
        id: Set(id),
        name: Set(name),
        kind: Set(new.kind),
        scopes: Set(new.scopes.join(" ")),
        require_if_match: Set(new.require_if_match),
        created_at: Set(at),
        updated_at: Set(at),
        revoked_at: Set(None),
        unconfined: Set(new.unconfined),
    }
    .insert(&txn)
    .await
    .map_err(map_db_err)?;
    for region_id in regions {
        partner_region::ActiveModel {
            partner_id: Set(id),
            region_id: Set(region_id),
        }
        .insert(&txn)
        .await
        .map_err(map_db_err)?;
    }
    for network_id in networks {
        partner_network::ActiveModel {
            partner_id: Set(id),
            network_id: Set(network_id),
        }
        .insert(&txn)
        .await
        .map_err(map_db_err)?;
    }
    for binding in new.issuers {
        insert_binding(&txn, id, binding).await?;
    }
    let credentials = new_credential(&txn, id).await?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(credentials)
}

/// Checks and stores a binding; an issuer's subject names one partner at most.
async fn insert_binding<C: ConnectionTrait>(
    conn: &C,
    partner_id: Uuid,
    binding: IssuerBinding,
) -> Result<()> {
    let mut check = Check::new();
    let issuer = check.line("issuer", &Some(binding.issuer.clone()));
    let subject = check.line("subject", &Some(binding.subject.clone()));
    if partner_id == crate::service::SYSTEM_PARTNER_ID {
        check.fail(
            "partner",
            "the built-in system partner cannot be reached through an external issuer",
        );
    }
    check.finish()?;
    if let Some(taken) = partner_issuer::Entity::find_by_id((issuer.clone(), subject.clone()))
        .one(conn)
        .await
        .map_err(map_db_err)?
    {
        return Err(Error::Conflict(format!(
            "{subject} of {issuer} is bound to partner {} already; unbind it first",
            taken.partner_id
        )));
    }
    partner_issuer::ActiveModel {
        issuer: Set(issuer),
        subject: Set(subject),
        partner_id: Set(partner_id),
        admin: Set(binding.admin),
        created_at: Set(now()),
    }
    .insert(conn)
    .await
    .map_err(map_db_err)?;
    Ok(())
}

/// Binds an external issuer's subject to the partner named `name_or_id` (`leernet partner
/// bind`): tokens of that issuer naming that subject act as the partner.
pub async fn bind(
    db: &DatabaseConnection,
    name_or_id: &str,
    binding: IssuerBinding,
) -> Result<Uuid> {
    let txn = crate::service::db::begin_immediate(db).await?;
    let partner = find(&txn, name_or_id).await?;
    if partner.revoked_at.is_some() {
        return Err(Error::Conflict("this partner is revoked".to_owned()));
    }
    insert_binding(&txn, partner.id, binding).await?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(partner.id)
}

/// Removes the binding of `issuer`'s `subject` from the partner named `name_or_id`; such
/// tokens stop working at once.
pub async fn unbind(
    db: &DatabaseConnection,
    name_or_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<()> {
    let txn = crate::service::db::begin_immediate(db).await?;
    let partner = find(&txn, name_or_id).await?;
    let removed = partner_issuer::Entity::delete_many()
        .filter(partner_issuer::Column::Issuer.eq(issuer))
        .filter(partner_issuer::Column::Subject.eq(subject))
        .filter(partner_issuer::Column::PartnerId.eq(partner.id))
        .exec(&txn)
        .await
        .map_err(map_db_err)?
        .rows_affected;
    if removed == 0 {
        return Err(Error::NotFound {
            resource: "issuer bindings",
            key: format!("{issuer} {subject}"),
        });
    }
    txn.commit().await.map_err(map_db_err)?;
    Ok(())
}

/// Ids of rows of `R` given by natural key or id.
async fn resolve_keys<R: crate::service::Resource>(
    conn: &sea_orm::DatabaseTransaction,
    actor: &Actor,
    check: &mut Check,
    field: &str,
    what: &str,
    keys: &[String],
) -> Result<Vec<Uuid>> {
    let wanted: Vec<Ref<'_>> = keys
        .iter()
        .map(|k| match Uuid::try_parse(k) {
            Ok(id) => Ref {
                id_field: format!("{field} {k}"),
                id: Some(id),
                key_field: field.to_owned(),
                key: None,
            },
            Err(_) => Ref {
                id_field: field.to_owned(),
                id: None,
                key_field: field.to_owned(),
                key: Some(k.as_str()),
            },
        })
        .collect();
    let key_column = R::natural_key().unwrap_or_else(<R::Entity as entity::Common>::id);
    Ok(
        refs::resolve::<R, _>(conn, actor, check, what, key_column, &wanted)
            .await?
            .into_iter()
            .flatten()
            .collect(),
    )
}

/// The partner named `name_or_id`.
async fn find<C: ConnectionTrait>(conn: &C, name_or_id: &str) -> Result<partner::Model> {
    let query = match Uuid::try_parse(name_or_id) {
        Ok(id) => partner::Entity::find_by_id(id),
        Err(_) => partner::Entity::find().filter(partner::Column::Name.eq(name_or_id)),
    };
    query
        .one(conn)
        .await
        .map_err(map_db_err)?
        .ok_or_else(|| Error::NotFound {
            resource: "partners",
            key: name_or_id.to_owned(),
        })
}

/// Every partner, by name.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<PartnerInfo>> {
    let partners = partner::Entity::find()
        .order_by_asc(partner::Column::Name)
        .all(db)
        .await
        .map_err(map_db_err)?;
    let regions = partner_region::Entity::find()
        .all(db)
        .await
        .map_err(map_db_err)?;
    let networks = partner_network::Entity::find()
        .all(db)
        .await
        .map_err(map_db_err)?;
    let credentials = client_credential::Entity::find()
        .filter(client_credential::Column::RevokedAt.is_null())
        .order_by_asc(client_credential::Column::CreatedAt)
        .all(db)
        .await
        .map_err(map_db_err)?;
    let bindings = partner_issuer::Entity::find()
        .order_by_asc(partner_issuer::Column::Issuer)
        .order_by_asc(partner_issuer::Column::Subject)
        .all(db)
        .await
        .map_err(map_db_err)?;
    Ok(partners
        .into_iter()
        .map(|p| PartnerInfo {
            regions: regions
                .iter()
                .filter(|r| r.partner_id == p.id)
                .map(|r| r.region_id)
                .collect(),
            networks: networks
                .iter()
                .filter(|n| n.partner_id == p.id)
                .map(|n| n.network_id)
                .collect(),
            client_ids: credentials
                .iter()
                .filter(|c| c.partner_id == p.id)
                .map(|c| c.client_id.clone())
                .collect(),
            issuers: bindings
                .iter()
                .filter(|b| b.partner_id == p.id)
                .map(|b| IssuerBinding {
                    issuer: b.issuer.clone(),
                    subject: b.subject.clone(),
                    admin: b.admin,
                })
                .collect(),
            scopes: p.scopes.split_whitespace().map(str::to_owned).collect(),
            id: p.id,
            name: p.name,
            kind: p.kind,
            unconfined: p.unconfined,
            revoked_at: p.revoked_at,
        })
        .collect())
}

/// Revokes every credential of the partner and gives it a new one.
pub async fn rotate_secret(db: &DatabaseConnection, name_or_id: &str) -> Result<Credentials> {
    let txn = crate::service::db::begin_immediate(db).await?;
    let partner = find(&txn, name_or_id).await?;
    if partner.revoked_at.is_some() {
        return Err(Error::Conflict("this partner is revoked".to_owned()));
    }
    client_credential::Entity::update_many()
        .col_expr(client_credential::Column::RevokedAt, now().into())
        .filter(client_credential::Column::PartnerId.eq(partner.id))
        .filter(client_credential::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(map_db_err)?;
    let credentials = new_credential(&txn, partner.id).await?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(credentials)
}

/// Revokes the partner and its credentials; its tokens stop working at once.
pub async fn revoke(db: &DatabaseConnection, name_or_id: &str) -> Result<Uuid> {
    let txn = crate::service::db::begin_immediate(db).await?;
    let partner = find(&txn, name_or_id).await?;
    if partner.id == crate::service::SYSTEM_PARTNER_ID {
        return Err(Error::Conflict(
            "the built-in system partner cannot be revoked".to_owned(),
        ));
    }
    let at = now();
    partner::Entity::update_many()
        .col_expr(partner::Column::RevokedAt, at.into())
        .col_expr(partner::Column::UpdatedAt, at.into())
        .filter(partner::Column::Id.eq(partner.id))
        .exec(&txn)
        .await
        .map_err(map_db_err)?;
    client_credential::Entity::update_many()
        .col_expr(client_credential::Column::RevokedAt, at.into())
        .filter(client_credential::Column::PartnerId.eq(partner.id))
        .filter(client_credential::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(map_db_err)?;
    txn.commit().await.map_err(map_db_err)?;
    Ok(partner.id)
}

/// The id of the live partner named `name_or_id` (for `leernet token`).
pub async fn id_of(db: &DatabaseConnection, name_or_id: &str) -> Result<Uuid> {
    let partner = find(db, name_or_id).await?;
    if partner.revoked_at.is_some() {
        return Err(Error::Conflict("this partner is revoked".to_owned()));
    }
    Ok(partner.id)
}

/// Secrets being hashed at once: one per core. An argon2id check takes 19 MiB for its
/// duration, so without a bound a flood of token requests is a flood of memory.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// How long a token request waits for a free core to check its secret before it is told
/// to retry ([`Error::Busy`]).
const HASH_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Working memory for checking secrets (argon2id's 19 MiB), allocated once per core that
/// checks and reused: freed after each check, the allocator would keep it anyway and a
/// process that had checked secrets on many threads would hold many such blocks.
static WORKING_MEMORY: LazyLock<std::sync::Mutex<Vec<Vec<argon2::Block>>>> =
    LazyLock::new(|| std::sync::Mutex::new(Vec::new()));

/// Whether `secret` matches the PHC-format argon2 `hash`, computed in reused working memory
/// and compared in constant time.
fn verify_secret(hash: &str, secret: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        argon2::Algorithm::try_from(parsed.algorithm),
        argon2::Params::try_from(&parsed),
    ) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map(argon2::Version::try_from)
        .transpose()
        .map(Option::unwrap_or_default)
    else {
        return false;
    };
    let mut salt_bytes = [0u8; argon2::password_hash::Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut blocks = WORKING_MEMORY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    blocks.resize(params.block_count(), argon2::Block::new());
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(secret, salt, &mut out, &mut blocks[..])
        .is_ok();
    WORKING_MEMORY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(blocks);
    computed && aws_lc_rs::constant_time::verify_slices_are_equal(&out, expected.as_bytes()).is_ok()
}

/// The right to check one secret: one of the cores' [`HASHING`] permits.
pub struct HashPermit(
    #[expect(dead_code, reason = "held for its drop")] tokio::sync::SemaphorePermit<'static>,
);

/// Waits a moment for a core to check a secret on; [`Error::Busy`] when every core stays
/// busy checking others, so that a flood of token requests is refused quickly instead of
/// queueing (each waiting request holds memory too).
pub async fn hash_permit() -> Result<HashPermit> {
    tokio::time::timeout(HASH_WAIT, HASHING.acquire())
        .await
        .map_err(|_| Error::Busy)?
        .map(HashPermit)
        .map_err(|_| Error::Busy)
}

/// The partner whose live credential is `client_id` with `secret`, and its scopes; `None`
/// when either is wrong (indistinguishably, in time too). Checking takes a core, hence the
/// [`HashPermit`].
pub async fn authenticate(
    db: &DatabaseConnection,
    _permit: &HashPermit,
    client_id: &str,
    secret: &str,
) -> Result<Option<(Uuid, Vec<String>)>> {
    let credential = client_credential::Entity::find()
        .filter(client_credential::Column::ClientId.eq(client_id))
        .filter(client_credential::Column::RevokedAt.is_null())
        .one(db)
        .await
        .map_err(map_db_err)?;
    let hash = credential
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |c| c.secret_hash.clone());
    let secret = secret.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_secret(&hash, secret.as_bytes()))
        .await
        .map_err(Error::internal)?;
    let Some(credential) = credential.filter(|_| matches) else {
        return Ok(None);
    };
    let Some(partner) = live(db, credential.partner_id).await? else {
        return Ok(None);
    };
    client_credential::Entity::update_many()
        .col_expr(client_credential::Column::LastUsedAt, now().into())
        .filter(client_credential::Column::Id.eq(credential.id))
        .exec(db)
        .await
        .map_err(map_db_err)?;
    Ok(Some((
        partner.id,
        partner
            .scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )))
}

/// The [`Actor`] for the live partner `partner_id` (a token of ours names it in `sub`),
/// with the scopes its token grants that it still holds (all it holds when the token
/// grants none explicitly); `None` when the partner does not exist or is revoked.
pub async fn actor(
    db: &DatabaseConnection,
    partner_id: Uuid,
    granted: Option<&[String]>,
    request_id: Option<String>,
) -> Result<Option<Actor>> {
    let backend = db.get_database_backend();
    let who = if crate::service::db::is_postgres(backend) {
        "SELECT $1::uuid AS id, TRUE AS admin"
    } else {
        "SELECT ? AS id, 1 AS admin"
    };
    actor_where(db, who, vec![partner_id.into()], granted, request_id).await
}

/// The [`Actor`] for a token of external issuer `issuer` whose partner claim is `subject`:
/// only the live partner bound to that (issuer, subject), never the system partner, and
/// without `admin` unless the binding grants it. `None` when no such binding exists.
pub async fn external_actor(
    db: &DatabaseConnection,
    issuer: &str,
    subject: &str,
    granted: Option<&[String]>,
    request_id: Option<String>,
) -> Result<Option<Actor>> {
    let backend = db.get_database_backend();
    let who = if crate::service::db::is_postgres(backend) {
        "SELECT partner_id AS id, admin FROM partner_issuers WHERE issuer = $1 AND subject = $2"
    } else {
        "SELECT partner_id AS id, admin FROM partner_issuers WHERE issuer = ? AND subject = ?"
    };
    let actor = actor_where(
        db,
        who,
        vec![issuer.into(), subject.into()],
        granted,
        request_id,
    )
    .await?;
    Ok(actor.filter(|a| a.partner_id != crate::service::SYSTEM_PARTNER_ID))
}

/// The partner `id` unless it is revoked.
async fn live(db: &DatabaseConnection, id: Uuid) -> Result<Option<partner::Model>> {
    partner::Entity::find_by_id(id)
        .filter(partner::Column::RevokedAt.is_null())
        .one(db)
        .await
        .map_err(map_db_err)
}

/// The actor of the partner that the query `who` (columns `id` and `admin`: whether
/// `admin` may pass) names, with its confinement: one statement, whoever asks. `None` when
/// `who` names none, or a revoked one.
async fn actor_where(
    db: &DatabaseConnection,
    who: &str,
    values: Vec<sea_orm::Value>,
    granted: Option<&[String]>,
    request_id: Option<String>,
) -> Result<Option<Actor>> {
    let backend = db.get_database_backend();
    // The partner's row, then its regions and networks.
    let sql = format!(
        "WITH who AS ({who}) \
         SELECT 'p' AS k, p.id AS id, p.kind AS kind, p.scopes AS scopes, \
                p.unconfined AS unconfined, p.require_if_match AS strict, who.admin AS admin \
         FROM partners p JOIN who ON p.id = who.id WHERE p.revoked_at IS NULL \
         UNION ALL SELECT 'r', r.region_id, NULL, NULL, NULL, NULL, NULL \
         FROM partner_regions r JOIN who ON r.partner_id = who.id \
         UNION ALL SELECT 'n', n.network_id, NULL, NULL, NULL, NULL, NULL \
         FROM partner_networks n JOIN who ON n.partner_id = who.id"
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await
        .map_err(map_db_err)?;
    let mut partner = None;
    let (mut regions, mut networks) = (Vec::new(), Vec::new());
    for row in &rows {
        let kind: String = row.try_get("", "k").map_err(map_db_err)?;
        let id: Uuid = row.try_get("", "id").map_err(map_db_err)?;
        match kind.as_str() {
            "p" => {
                partner = Some((
                    id,
                    row.try_get::<String>("", "kind").map_err(map_db_err)?,
                    row.try_get::<String>("", "scopes").map_err(map_db_err)?,
                    row.try_get::<bool>("", "unconfined").map_err(map_db_err)?,
                    row.try_get::<bool>("", "strict").map_err(map_db_err)?,
                    row.try_get::<bool>("", "admin").map_err(map_db_err)?,
                ));
            }
            "r" => regions.push(id),
            _ => networks.push(id),
        }
    }
    let Some((partner_id, kind, held, unconfined, require_if_match, admin)) = partner else {
        return Ok(None);
    };
    let held: Vec<&str> = held
        .split_whitespace()
        .filter(|s| admin || *s != "admin")
        .collect();
    let scopes = match granted {
        Some(granted) => granted
            .iter()
            .filter(|s| held.contains(&s.as_str()))
            .cloned()
            .collect(),
        None => held.iter().map(|s| (*s).to_owned()).collect(),
    };
    let confinement = if unconfined {
        Confinement::Unconfined
    } else {
        Confinement::Within { regions, networks }
    };
    Ok(Some(Actor {
        partner_id,
        kind,
        scopes,
        confinement,
        require_if_match,
        request_id,
    }))
}
