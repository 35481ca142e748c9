//! Structured logs: readable text or JSON lines (`LEERNET_LOG_FORMAT`), filtered by
//! `--log` / `LEERNET_LOG`, else `RUST_LOG`, else `info`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The filter when none is given: our own events at `info`, the database drivers' only
/// from `warn` (they log every statement at `info`).
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

/// Silences the PostgreSQL driver's reading of connect parameters (see [`init`]).
const NO_URL_PARAMETERS: &str = "sqlx_postgres::options=off";

/// Installs the global subscriber; call once at start-up. `filter` is the `--log` setting;
/// without it `RUST_LOG` applies. A filter that does not parse is refused with its reason.
pub fn init(format: LogFormat, filter: Option<&str>) -> anyhow::Result<()> {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty());
    let filter = match filter.or(from_env.as_deref()) {
        Some(text) => EnvFilter::try_new(text)
            .map_err(|e| anyhow::anyhow!("invalid log filter {text:?}: {e}"))?,
        None => EnvFilter::new(DEFAULT_FILTER),
    }
    // The PostgreSQL driver warns of every connect parameter it does not know, with its
    // value: a `PassWord=` or `pwd=` in the database URL would be printed. Never logged,
    // whatever the filter.
    .add_directive(NO_URL_PARAMETERS.parse()?);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}
