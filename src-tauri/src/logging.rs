//! Logs go to a daily-rolling file in the log directory and to stderr. `RUST_LOG` overrides
//! the default level, except for the HTTP and OAuth crates: at debug they print access tokens
//! and signed token requests, so they are capped at info whatever `RUST_LOG` says.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Crates whose debug/trace output can carry credentials (tokens, JWT assertions, headers).
const SECRET_BEARING: [&str; 6] = [
    "yup_oauth2",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "redis",
];

fn secrets_cap() -> Targets {
    SECRET_BEARING
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |t, c| {
            t.with_target(*c, LevelFilter::INFO)
        })
}

/// Keep the guard alive for the whole process: dropping it flushes and stops the file writer.
pub fn init(log_dir: &Path) -> Result<WorkerGuard, String> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| format!("no se pudo crear {}: {e}", log_dir.display()))?;
    let file = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("zeues")
        .filename_suffix("log")
        .max_log_files(14)
        .build(log_dir)
        .map_err(|e| format!("no se pudo abrir el log en {}: {e}", log_dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,zeues_sync=debug,zeues_app=debug"));
    tracing_subscriber::registry()
        .with(filter)
        .with(secrets_cap())
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(fmt::layer().with_ansi(false).with_writer(writer))
        .try_init()
        .map_err(|e| format!("no se pudo iniciar el log: {e}"))?;
    Ok(guard)
}
