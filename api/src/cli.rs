//! The command line: `leernet serve | migrate | seed`.

use clap::{Parser, Subcommand};

use crate::config::{Config, DbConfig, LogFormat};

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
    Serve(Config),
    /// Apply database migrations.
    Migrate(DbConfig),
    /// Load the seed documents' data (idempotent: running it twice changes nothing).
    Seed(DbConfig),
}
