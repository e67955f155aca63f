//! A read-only look at a device database for `zeues doctor` and `zeues status`: integrity,
//! outbox backlog, open conflicts, last applied command. It opens the file read-only (the app
//! may be running) and never repairs, migrates or moves it — that is `Store::open`'s job.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{Result, StoreError};

/// What the device database holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// `ok`, or SQLite's first integrity complaint.
    pub integrity: String,
    pub device_id: Option<String>,
    /// Commands waiting to be applied (`pending`).
    pub pending: u32,
    /// Commands held behind a conflict of the same spool.
    pub held: u32,
    pub open_conflicts: u32,
    /// When the oldest unapplied command was made (device clock).
    pub oldest_pending: Option<DateTime<Utc>>,
    /// When this device last applied a command to the plant.
    pub last_applied: Option<DateTime<Utc>>,
    pub spools: u64,
    /// A supervisor PIN hash is stored (overrides, force-release and conflicts need it).
    pub pin_set: bool,
}

impl Inspection {
    pub fn integrity_ok(&self) -> bool {
        self.integrity == "ok"
    }
}

fn parse_ts(v: Option<String>) -> Option<DateTime<Utc>> {
    v.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Inspects the database at `path` (read-only). A missing file is an I/O error.
pub fn inspect(path: &Path) -> Result<Inspection> {
    if !path.is_file() {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no existe {}", path.display()),
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // quick_check: the same page/row checks as integrity_check minus index content, fast
    // enough on a 100k-spool replica to run from a terminal.
    let integrity: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    let count = |sql: &str| -> Result<u32> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    let pending = count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")?;
    let held = count("SELECT COUNT(*) FROM outbox WHERE status = 'held'")?;
    let open_conflicts = count("SELECT COUNT(*) FROM conflicts WHERE resolved_at IS NULL")?;
    let oldest: Option<String> = conn.query_row(
        "SELECT MIN(created_at) FROM outbox WHERE status IN ('pending', 'held')",
        [],
        |r| r.get(0),
    )?;
    let last: Option<String> = conn.query_row(
        "SELECT MAX(applied_at) FROM outbox WHERE status = 'applied'",
        [],
        |r| r.get(0),
    )?;
    let spools: u64 = conn.query_row("SELECT COUNT(*) FROM spools", [], |r| r.get(0))?;
    let pin_set: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM settings WHERE key = 'supervisor_pin' AND value != '')",
        [],
        |r| r.get(0),
    )?;
    let device_id: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = 'device_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(Inspection {
        integrity,
        device_id,
        pending,
        held,
        open_conflicts,
        oldest_pending: parse_ts(oldest),
        last_applied: parse_ts(last),
        spools,
        pin_set,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::{Intent, Operacion, Rol, Spool, Worker};
    use crate::store::{LocalAction, Store};

    #[test]
    fn counts_a_fresh_store_and_a_pending_command_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zeues.db");
        assert!(inspect(&path).is_err(), "missing file");
        let (store, _) = Store::open(&path).unwrap();
        let i = inspect(&path).unwrap();
        assert!(i.integrity_ok());
        assert_eq!((i.pending, i.held, i.open_conflicts), (0, 0, 0));
        assert_eq!(i.oldest_pending, None);
        assert_eq!(i.device_id.as_deref(), Some(store.device_id()));
        assert!(!i.pin_set);
        crate::service::set_pin(&store, "4321").unwrap();
        assert!(inspect(&path).unwrap().pin_set);

        store
            .replace_workers(&[Worker {
                id: 93,
                nombre: "Mauricio".into(),
                apellido: "Rodriguez".into(),
                activo: true,
                roles: vec![Rol::Armador],
            }])
            .unwrap();
        store
            .upsert_plant_rows(&[Spool {
                tag: "MK-1".into(),
                row: 2,
                fecha_materiales: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
                version: "0".into(),
                ..Spool::default()
            }])
            .unwrap();
        let tags = vec!["MK-1".to_string()];
        let mut n = 0;
        let mut ids = || {
            n += 1;
            format!("cmd-{n}")
        };
        let out = store
            .execute(
                &LocalAction {
                    worker_id: 93,
                    intent: Intent::Tomar(Operacion::Arm),
                    tags: &tags,
                    supervisor_verified: false,
                    now: Utc::now(),
                    reapplied: None,
                },
                &mut ids,
            )
            .unwrap();
        assert!(out[0].1.is_ok(), "{out:?}");
        let i = inspect(&path).unwrap();
        assert_eq!(i.pending, 1);
        assert!(i.oldest_pending.is_some());
        assert_eq!(i.spools, 1);
    }
}
