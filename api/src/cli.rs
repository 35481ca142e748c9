//! The command line: `leernet serve | migrate | seed | partner | keys | token`.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, DbConfig, LogFormat, TokenConfig};

/// Leernet: one shared data model for Dutch health learning networks.
#[derive(Debug, Parser)]
#[command(name = "leernet", version, about, long_about = None)]
pub struct Cli {
    /// Log format.
    #[arg(
        long,
        env = "LEERNET_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Log filter, e.g. `debug` or `leernet=debug,info`. When unset, `RUST_LOG` is read;
    /// when neither is set: `info`.
    #[arg(
        long = "log",
        env = "LEERNET_LOG",
        value_name = "FILTER",
        global = true
    )]
    pub log_filter: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the service (migrates the database first; seeds it on first start).
    Serve(Box<Config>),
    /// Apply database migrations.
    Migrate(DbConfig),
    /// Load the seed documents' data (idempotent: running it twice changes nothing). On a
    /// new database this also makes the demo admin partner and prints its credentials once.
    Seed(DbConfig),
    /// Manage partners (the API's clients) and their credentials.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Manage the token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print a signed access token for a partner, for curl and tests.
    Token(TokenCommand),
    /// Print the OpenAPI document (as served at /api/v1/openapi.json).
    Openapi,
    /// Print the GraphQL schema (SDL) served at /graphql.
    GraphqlSchema,
    /// Manage the change feed.
    #[command(subcommand)]
    Changes(ChangesCommand),
}

/// `leernet changes ...`
#[derive(Debug, Subcommand)]
pub enum ChangesCommand {
    /// Delete change-log entries older than a duration (retention); readers whose cursor
    /// lies before them are told to resync (410).
    Prune {
        /// How old an entry must be to go, e.g. `90d`.
        #[arg(long)]
        older_than: humantime::Duration,
        /// Where the data lives.
        #[command(flatten)]
        db: DbConfig,
    },
}

/// Runs `leernet changes ...`.
pub async fn changes(command: ChangesCommand) -> anyhow::Result<()> {
    match command {
        ChangesCommand::Prune { older_than, db } => {
            let db = crate::connect(&db).await?;
            let age: std::time::Duration = older_than.into();
            let cutoff = chrono::Utc::now() - chrono::Duration::from_std(age)?;
            let deleted = crate::service::changes::prune(&db, cutoff)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("pruned {deleted} change-log entries from before {cutoff}");
            db.close().await.ok();
        }
    }
    Ok(())
}

/// `leernet partner ...`
#[derive(Debug, Subcommand)]
pub enum PartnerCommand {
    /// Create a partner with a client id and secret (the secret is shown once).
    Create(PartnerCreate),
    /// List partners with their scopes, confinement and client ids.
    List {
        /// Where the data lives.
        #[command(flatten)]
        db: DbConfig,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the partner's client secrets and print a new one (shown once).
    RotateSecret {
        /// The partner's name or id.
        partner: String,
        /// Where the data lives.
        #[command(flatten)]
        db: DbConfig,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a partner: its secrets and its tokens stop working at once.
    Revoke {
        /// The partner's name or id.
        partner: String,
        /// Where the data lives.
        #[command(flatten)]
        db: DbConfig,
    },
    /// Let tokens of an external issuer act as the partner: those whose partner claim
    /// (the issuer's `claim=`) has the given value.
    Bind {
        /// The partner's name or id.
        partner: String,
        /// The issuer and subject to bind.
        #[command(flatten)]
        binding: BindingArgs,
        /// Where the data lives.
        #[command(flatten)]
        db: DbConfig,
    },
    /// Stop an external issuer's tokens from acting as the partner.
    Unbind {
        /// The partner's name or id.
        partner: String,
        /// The issuer (`iss`).
        #[arg(long)]
        issuer: String,
        /// The claim's value that was bound.
        #[arg(long)]
        subject: String,
        /// Where the data lives.
        #[command(flatten)]
        db: DbConfig,
    },
}

/// An external issuer's subject to bind to a partner.
#[derive(Debug, Args)]
pub struct BindingArgs {
    /// The issuer (`iss`), as configured with `--external-issuer`.
    #[arg(long)]
    pub issuer: String,
    /// The value of the issuer's partner claim (e.g. the client's `azp`) that names the
    /// partner.
    #[arg(long)]
    pub subject: String,
    /// Let such tokens use the partner's `admin` scope (without this they never do).
    #[arg(long)]
    pub issuer_admin: bool,
}

impl From<BindingArgs> for crate::service::partners::IssuerBinding {
    fn from(args: BindingArgs) -> Self {
        Self {
            issuer: args.issuer,
            subject: args.subject,
            admin: args.issuer_admin,
        }
    }
}

/// `leernet partner create`
#[derive(Debug, Args)]
pub struct PartnerCreate {
    /// A unique name, e.g. `gemeente-emmen`.
    #[arg(long)]
    pub name: String,
    /// `municipality`, `provincial_network`, `education_platform`, `dashboard` or `admin`.
    #[arg(long)]
    pub kind: String,
    /// Scopes, space-separated: `read`, `write:<collection>`, `changes:read`,
    /// `webhooks:manage`, `admin`.
    #[arg(long)]
    pub scopes: String,
    /// Regions it may write in (with their subtrees), by CBS code or id, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Networks it may write in, by slug or id, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub networks: Vec<String>,
    /// Not confined: writes anywhere its scopes allow (admins, provincial bodies).
    #[arg(long)]
    pub unconfined: bool,
    /// Require `If-Match` on every change of an existing row (428 without it).
    #[arg(long)]
    pub require_if_match: bool,
    /// Let tokens of this external issuer act as the partner (with `--subject`).
    #[arg(long, requires = "subject")]
    pub issuer: Option<String>,
    /// The value of the issuer's partner claim that names the partner.
    #[arg(long, requires = "issuer")]
    pub subject: Option<String>,
    /// Let the issuer's tokens use the partner's `admin` scope.
    #[arg(long, requires = "issuer")]
    pub issuer_admin: bool,
    /// Print JSON (`partnerId`, `clientId`, `clientSecret`).
    #[arg(long)]
    pub json: bool,
    /// Where the data lives.
    #[command(flatten)]
    pub db: DbConfig,
}

/// `leernet keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key; the old one stays published until its tokens expire.
    Rotate {
        /// The longest a token signed by the old key may live (the serve setting
        /// `--token-ttl`, or the longest `leernet token --ttl` in use).
        #[arg(long, env = "LEERNET_TOKEN_TTL", default_value = "15m")]
        token_ttl: humantime::Duration,
        /// Where the data lives.
        #[command(flatten)]
        db: DbConfig,
    },
}

/// `leernet token`
#[derive(Debug, Args)]
pub struct TokenCommand {
    /// The partner's name or id.
    #[arg(long)]
    pub partner: String,
    /// Scopes to grant, space-separated (default: all the partner holds).
    #[arg(long)]
    pub scopes: Option<String>,
    /// How long the token is valid.
    #[arg(long, default_value = "15m")]
    pub ttl: humantime::Duration,
    /// The address the service listens on (for the default issuer, as `serve` uses it).
    #[arg(long, env = "LEERNET_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Issuer and audience, as `serve` has them.
    #[command(flatten)]
    pub tokens: TokenConfig,
    /// Where the data lives.
    #[command(flatten)]
    pub db: DbConfig,
}

/// Runs `leernet partner ...`.
pub async fn partner(command: PartnerCommand) -> anyhow::Result<()> {
    use crate::service::partners;
    let fail = |e: crate::error::Error| anyhow::anyhow!("{}", one_line(&e));
    match command {
        PartnerCommand::Create(create) => {
            let db = crate::connect(&create.db).await?;
            crate::migrate(&db).await?;
            let credentials = partners::create(
                &db,
                partners::NewPartner {
                    name: create.name.clone(),
                    kind: create.kind,
                    scopes: create
                        .scopes
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    regions: create.regions,
                    networks: create.networks,
                    unconfined: create.unconfined,
                    require_if_match: create.require_if_match,
                    issuers: create
                        .issuer
                        .zip(create.subject)
                        .map(|(issuer, subject)| partners::IssuerBinding {
                            issuer,
                            subject,
                            admin: create.issuer_admin,
                        })
                        .into_iter()
                        .collect(),
                },
            )
            .await
            .map_err(fail)?;
            print_credentials(
                &format!("partner {} created", create.name),
                &credentials,
                create.json,
            )?;
            db.close().await.ok();
        }
        PartnerCommand::List { db, json } => {
            let db = crate::connect(&db).await?;
            let list = partners::list(&db).await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for p in list {
                    let confinement = if p.unconfined {
                        "unconfined".to_owned()
                    } else {
                        format!("{} regions, {} networks", p.regions.len(), p.networks.len())
                    };
                    let state = p
                        .revoked_at
                        .map_or_else(String::new, |at| format!(" REVOKED {at}"));
                    let issuers: String = p
                        .issuers
                        .iter()
                        .map(|b| {
                            format!(
                                "  issuer: {} {}{}",
                                b.issuer,
                                b.subject,
                                if b.admin { " (admin)" } else { "" }
                            )
                        })
                        .collect();
                    println!(
                        "{}  {}  {}  scopes: {}  {}  clients: {}{}{}",
                        p.id,
                        p.name,
                        p.kind,
                        p.scopes.join(" "),
                        confinement,
                        p.client_ids.join(","),
                        issuers,
                        state
                    );
                }
            }
            db.close().await.ok();
        }
        PartnerCommand::RotateSecret { partner, db, json } => {
            let db = crate::connect(&db).await?;
            let credentials = partners::rotate_secret(&db, &partner).await.map_err(fail)?;
            print_credentials(
                &format!("new secret for {partner}; the old ones no longer work"),
                &credentials,
                json,
            )?;
            db.close().await.ok();
        }
        PartnerCommand::Revoke { partner, db } => {
            let db = crate::connect(&db).await?;
            let id = partners::revoke(&db, &partner).await.map_err(fail)?;
            println!("partner {partner} ({id}) revoked: its secrets and tokens no longer work");
            db.close().await.ok();
        }
        PartnerCommand::Bind {
            partner,
            binding,
            db,
        } => {
            let db = crate::connect(&db).await?;
            crate::migrate(&db).await?;
            let binding: partners::IssuerBinding = binding.into();
            let id = partners::bind(&db, &partner, binding.clone())
                .await
                .map_err(fail)?;
            println!(
                "tokens of {} naming {} now act as partner {partner} ({id}){}",
                binding.issuer,
                binding.subject,
                if binding.admin {
                    ", admin rights included"
                } else {
                    ", without admin rights"
                }
            );
            db.close().await.ok();
        }
        PartnerCommand::Unbind {
            partner,
            issuer,
            subject,
            db,
        } => {
            let db = crate::connect(&db).await?;
            partners::unbind(&db, &partner, &issuer, &subject)
                .await
                .map_err(fail)?;
            println!("tokens of {issuer} naming {subject} no longer act as partner {partner}");
            db.close().await.ok();
        }
    }
    Ok(())
}

fn print_credentials(
    headline: &str,
    credentials: &crate::service::partners::Credentials,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(credentials)?);
    } else {
        println!(
            "{headline}\n  partnerId:    {}\n  clientId:     {}\n  clientSecret: {}  (shown once: store it now)",
            credentials.partner_id, credentials.client_id, credentials.client_secret
        );
    }
    Ok(())
}

fn one_line(error: &crate::error::Error) -> String {
    match error {
        crate::error::Error::Validation(params) => params
            .iter()
            .map(|p| format!("--{}: {}", p.name, p.reason))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Runs `leernet keys ...`.
pub async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate { token_ttl, db } => {
            let db = crate::connect(&db).await?;
            crate::migrate(&db).await?;
            crate::service::keys::ensure(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let ttl: std::time::Duration = token_ttl.into();
            let trusted_until = chrono::Utc::now()
                + chrono::Duration::from_std(
                    ttl + std::time::Duration::from_secs(crate::auth::LEEWAY_SECS)
                        + crate::auth::keyring::RELOAD_INTERVAL,
                )?;
            let kid = crate::service::keys::rotate(&db, trusted_until)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "new signing key {kid}; the previous key stays published until {trusted_until}"
            );
            db.close().await.ok();
        }
    }
    Ok(())
}

/// Runs `leernet token`.
pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    use crate::service::partners;
    let db = crate::connect(&command.db).await?;
    crate::migrate(&db).await?;
    let fail = |e: crate::error::Error| anyhow::anyhow!("{}", one_line(&e));
    let partner_id = partners::id_of(&db, &command.partner).await.map_err(fail)?;
    let held: Vec<String> = partners::list(&db)
        .await
        .map_err(fail)?
        .into_iter()
        .find(|p| p.id == partner_id)
        .map(|p| p.scopes)
        .unwrap_or_default();
    let scopes: Vec<String> = match &command.scopes {
        Some(asked) => {
            let asked: Vec<String> = asked.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|s| !held.contains(s)) {
                anyhow::bail!("{} does not hold the scope {extra}", command.partner);
            }
            asked
        }
        None => held,
    };
    let ring = crate::auth::KeyRing::load(&db).await.map_err(fail)?;
    let issued = crate::auth::issue(
        &ring,
        &db,
        &command.tokens.issuer(command.addr),
        &command.tokens.token_audience,
        partner_id,
        &scopes,
        command.ttl.into(),
        None,
    )
    .await
    .map_err(fail)?;
    println!("{}", issued.token);
    db.close().await.ok();
    Ok(())
}
