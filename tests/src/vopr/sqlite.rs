//! SQLite's query-plan stability (QPSG) for every connection this process opens. The bundled
//! SQLite is built with STAT4, and with STAT4 a statement whose `LIMIT ?` (or indexed `?`) is
//! bound again is re-prepared on its next step; the engine's outbox polls bind their limit on
//! every call, so re-parsing SQL was ~40 % of a simulated run. QPSG keeps the plan a statement
//! was prepared with: the same rows come back, only the re-preparation goes.

use std::ffi::{c_char, c_int};
use std::sync::Once;

use rusqlite::config::DbConfig;
use rusqlite::ffi;

static ONCE: Once = Once::new();

#[allow(unsafe_code)]
unsafe extern "C" fn qpsg(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite calls this with the connection it is opening; the borrowed handle is not
    // closed here (`from_handle` does not own it) and nothing is opened from inside.
    let r = unsafe { rusqlite::Connection::from_handle(db) }
        .and_then(|c| c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true));
    match r {
        Ok(_) => ffi::SQLITE_OK,
        Err(_) => ffi::SQLITE_ERROR,
    }
}

/// Registers the auto-extension once per process (before any device opens its database).
pub fn stable_plans() -> Result<(), String> {
    let mut out = Ok(());
    ONCE.call_once(|| {
        // SAFETY: the extension opens no database and closes none (see `qpsg`).
        #[allow(unsafe_code)]
        let r = unsafe { rusqlite::auto_extension::register_auto_extension(qpsg) };
        out = r.map_err(|e| format!("no se pudo registrar QPSG en SQLite: {e}"));
    });
    out
}
