//! Logs go to a daily-rolling file in the log directory and to stderr. `RUST_LOG` overrides
//! the default level.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

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
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(fmt::layer().with_ansi(false).with_writer(writer))
        .try_init()
        .map_err(|e| format!("no se pudo iniciar el log: {e}"))?;
    Ok(guard)
}
