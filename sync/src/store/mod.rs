//! The device database (rusqlite, bundled SQLite, WAL, `synchronous=FULL`): the replica of the
//! plant's sheets, the outbox of commands not yet applied, conflicts, the local audit and settings.
//!
//! The optimistic replica change and the outbox append always happen in one transaction, so a
//! crash can never leave a change on screen that will not be synced, nor a queued command the
//! screen does not show. This module never talks to the network.

mod codec;
pub mod inspect;
pub mod outbox;
mod recovery;
pub mod reports;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use crate::api::CorruptionRecovery;
use crate::domain::{DomainError, Rol, Spool, Worker};

pub use codec::{spool_from_row, SPOOL_COLUMNS};
pub use outbox::{CommandPayload, CommandStatus, ConflictRecord, LocalAction, OutboxCommand};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("base de datos local: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("archivo de base de datos local: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("dato local ilegible en {what}: {detail}")]
    Decode { what: String, detail: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    device_id: String,
    /// When each replica row was last written (a counter), so a whole-sheet read that started
    /// before a newer row arrived (change stream, push) does not put the older row back.
    written: Mutex<WriteLog>,
}

#[derive(Default)]
struct WriteLog {
    seq: u64,
    last: std::collections::HashMap<String, u64>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a command acknowledged to the worker survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

impl Store {
    /// Opens (creating or migrating) the device database. A corrupt file is moved aside, its
    /// readable outbox rows are salvaged into a fresh database, and the report says so.
    pub fn open(path: &Path) -> Result<(Store, Option<CorruptionRecovery>)> {
        Self::open_as(path, None)
    }

    /// [`Store::open`], naming a new database's device `device_id` instead of a random one
    /// (the deterministic simulator replays a seed with the same ids); an existing database
    /// keeps its own.
    pub fn open_as(
        path: &Path,
        device_id: Option<&str>,
    ) -> Result<(Store, Option<CorruptionRecovery>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (conn, recovery) = match recovery::open_checked(path) {
            Ok(conn) => (conn, None),
            Err(recovery::OpenFailure::Corrupt(why)) => {
                tracing::error!(path = %path.display(), %why, "base local dañada; se aparta y se rescatan comandos");
                let (conn, rec) = recovery::recover(path, &why)?;
                (conn, Some(rec))
            }
            Err(recovery::OpenFailure::Other(e)) => return Err(e),
        };
        let device_id = match get_setting(&conn, "device_id")? {
            Some(id) => id,
            None => {
                let id = device_id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
                set_setting(&conn, "device_id", &id)?;
                id
            }
        };
        Ok((
            Store {
                conn: Mutex::new(conn),
                path: path.to_path_buf(),
                device_id,
                written: Mutex::new(WriteLog::default()),
            },
            recovery,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// A mark to take before reading the whole sheet: rows written in the replica after it are
    /// newer than that read (see [`Store::upsert_plant_rows_since`]).
    pub fn replica_mark(&self) -> u64 {
        self.written.lock().unwrap_or_else(|p| p.into_inner()).seq
    }

    pub(crate) fn touch<'a>(&self, tags: impl IntoIterator<Item = &'a str>) {
        let mut log = self.written.lock().unwrap_or_else(|p| p.into_inner());
        for t in tags {
            log.seq += 1;
            let seq = log.seq;
            log.last.insert(t.to_string(), seq);
        }
    }

    fn written_since(&self, mark: u64) -> std::collections::HashSet<String> {
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last
            .iter()
            .filter(|(_, s)| **s > mark)
            .map(|(t, _)| t.clone())
            .collect()
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so the connection is still good to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        get_setting(&self.conn(), key)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        set_setting(&self.conn(), key, value)
    }

    pub fn spool_count(&self) -> Result<usize> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM spools", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    pub fn spool(&self, tag: &str) -> Result<Option<Spool>> {
        let conn = self.conn();
        load_spool(&conn, tag)
    }

    /// The states this replica row had before its current one, newest first (at most four;
    /// see schema migration 5).
    pub fn previous_states(&self, tag: &str) -> Result<Vec<Spool>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SPOOL_COLUMNS} FROM spools_previous WHERE tag = ?1
             ORDER BY replaced_seq DESC"
        ))?;
        let rows = stmt.query_map([tag], |r| Ok(codec::spool_from_row(r)))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// Spools matching an SQL condition over the replica columns (`1=1` for all), TAG order.
    pub(crate) fn spools_where(
        &self,
        condition: &str,
        params: &[&dyn rusqlite::ToSql],
        limit: usize,
    ) -> Result<Vec<Spool>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {SPOOL_COLUMNS} FROM spools WHERE {condition} ORDER BY tag LIMIT {limit}"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params, |r| Ok(spool_from_row(r)))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    pub fn workers(&self) -> Result<Vec<Worker>> {
        load_workers(&self.conn())
    }

    pub fn worker(&self, id: u32) -> Result<Option<Worker>> {
        Ok(load_workers(&self.conn())?.into_iter().find(|w| w.id == id))
    }

    /// Replaces the workers and roles with the plant's (they are read-only for the app).
    pub fn replace_workers(&self, workers: &[Worker]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM roles", [])?;
        tx.execute("DELETE FROM workers", [])?;
        {
            let mut w_stmt = tx.prepare(
                "INSERT INTO workers (id, nombre, apellido, activo) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut r_stmt = tx.prepare("INSERT INTO roles (worker_id, rol) VALUES (?1, ?2)")?;
            for w in workers {
                w_stmt.execute(params![w.id, w.nombre, w.apellido, w.activo])?;
                for r in &w.roles {
                    r_stmt.execute(params![w.id, r.as_str()])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Brings plant rows into the replica. Rows with local commands still pending keep their
    /// optimistic state (the engine rebases them when it applies those commands). Returns the
    /// tags whose replica row changed.
    pub fn upsert_plant_rows(&self, rows: &[Spool]) -> Result<Vec<String>> {
        self.upsert_rows_skipping(rows, None)
    }

    /// [`Store::upsert_plant_rows`] for rows read from the whole sheet after `mark`: a row the
    /// replica took since (newer, from the change stream or a push) is left as it is.
    pub fn upsert_plant_rows_since(&self, rows: &[Spool], mark: u64) -> Result<Vec<String>> {
        self.upsert_rows_skipping(rows, Some(mark))
    }

    fn upsert_rows_skipping(&self, rows: &[Spool], mark: Option<u64>) -> Result<Vec<String>> {
        let mut conn = self.conn();
        // Under the connection lock: every replica write records itself before releasing it.
        let newer = mark.map(|m| self.written_since(m)).unwrap_or_default();
        let tx = conn.transaction()?;
        let mut changed = Vec::new();
        // Every row taken, changed or not: a row the change stream brings that the replica
        // already held (an announced claim, then its publish) is as new as a changed one, and
        // a whole-sheet read begun before it must not put an older state back.
        let mut taken: Vec<String> = Vec::new();
        {
            let mut pending = tx.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM outbox WHERE tag = ?1 AND status = 'pending')",
            )?;
            for s in rows {
                if newer.contains(&s.tag) {
                    continue;
                }
                let has_pending: bool = pending.query_row([&s.tag], |r| r.get(0))?;
                if has_pending {
                    continue;
                }
                let current = load_spool(&tx, &s.tag)?;
                let mut incoming = s.clone();
                if let Some(cur) = &current {
                    // The flag is device knowledge, not a sheet cell: keep it while the row's
                    // occupation is the one this device saw start.
                    if cur.version == incoming.version {
                        incoming.occupation_set_worker = cur.occupation_set_worker;
                    }
                    if cur == &incoming {
                        taken.push(incoming.tag.clone());
                        continue;
                    }
                }
                codec::write_spool(&tx, &incoming)?;
                changed.push(incoming.tag.clone());
                taken.push(incoming.tag.clone());
            }
        }
        tx.commit()?;
        self.touch(taken.iter().map(String::as_str));
        drop(conn);
        Ok(changed)
    }

    /// Tags in the replica that are not in `present` and have nothing pending: removed from the
    /// sheet by a person, so removed here too.
    pub fn remove_missing(
        &self,
        present: &std::collections::HashSet<String>,
        mark: u64,
    ) -> Result<Vec<String>> {
        let mut conn = self.conn();
        // A spool the replica took after the sheet was read (a new row) is not "missing".
        let newer = self.written_since(mark);
        let tx = conn.transaction()?;
        let tags: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT tag FROM spools s WHERE NOT EXISTS
                 (SELECT 1 FROM outbox o WHERE o.tag = s.tag AND o.status = 'pending')",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut v = Vec::new();
            for t in rows {
                let t = t?;
                if !present.contains(&t) && !newer.contains(&t) {
                    v.push(t);
                }
            }
            v
        };
        for t in &tags {
            tx.execute("DELETE FROM spools WHERE tag = ?1", [t])?;
        }
        tx.commit()?;
        self.touch(tags.iter().map(String::as_str));
        drop(conn);
        Ok(tags)
    }

    /// Drops one spool from the replica when nothing is pending for it (the sheet does not
    /// have it: a tap made on a row the sheet never had, or has since lost). Returns whether
    /// it was removed.
    pub fn remove_spool(&self, tag: &str) -> Result<bool> {
        let conn = self.conn();
        let n = conn.execute(
            "DELETE FROM spools WHERE tag = ?1 AND NOT EXISTS
             (SELECT 1 FROM outbox o WHERE o.tag = ?1 AND o.status = 'pending')",
            [tag],
        )?;
        self.touch([tag]);
        drop(conn);
        Ok(n > 0)
    }

    /// Runs `PRAGMA integrity_check` (for `zeues doctor` and tests).
    pub fn integrity_check(&self) -> Result<String> {
        let s: String = self
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(s)
    }
}

pub(crate) fn get_setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

pub(crate) fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub(crate) fn load_spool(conn: &Connection, tag: &str) -> Result<Option<Spool>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SPOOL_COLUMNS} FROM spools WHERE tag = ?1"
    ))?;
    match stmt
        .query_row([tag], |r| Ok(spool_from_row(r)))
        .optional()?
    {
        Some(s) => Ok(Some(s?)),
        None => Ok(None),
    }
}

pub(crate) fn load_workers(conn: &Connection) -> Result<Vec<Worker>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, nombre, apellido, activo FROM workers ORDER BY id")?;
    let mut workers: Vec<Worker> = stmt
        .query_map([], |r| {
            Ok(Worker {
                id: r.get(0)?,
                nombre: r.get(1)?,
                apellido: r.get(2)?,
                activo: r.get(3)?,
                roles: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached("SELECT worker_id, rol FROM roles")?;
    let roles = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
    for row in roles {
        let (id, rol) = row?;
        if let (Some(w), Some(rol)) = (workers.iter_mut().find(|w| w.id == id), Rol::parse(&rol)) {
            w.roles.push(rol);
        }
    }
    for w in &mut workers {
        w.roles.sort();
        w.roles.dedup();
    }
    Ok(workers)
}

#[cfg(test)]
mod tests;
