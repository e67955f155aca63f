//! Opening the device database safely: integrity check on open; a corrupt file is moved aside
//! (never deleted) and its readable outbox rows are carried into a fresh database.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::outbox::{insert_salvaged, CommandPayload, CommandStatus, OutboxCommand};
use super::{configure, schema, set_setting, Result, StoreError};
use crate::api::CorruptionRecovery;

pub(super) enum OpenFailure {
    Corrupt(String),
    Other(StoreError),
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

fn classify(e: rusqlite::Error) -> OpenFailure {
    if is_corruption(&e) {
        OpenFailure::Corrupt(e.to_string())
    } else {
        OpenFailure::Other(e.into())
    }
}

pub(super) fn open_checked(path: &Path) -> std::result::Result<Connection, OpenFailure> {
    let mut conn = Connection::open(path).map_err(classify)?;
    configure(&conn).map_err(classify)?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(classify)?;
    if check != "ok" {
        return Err(OpenFailure::Corrupt(check));
    }
    schema::migrate(&mut conn).map_err(classify)?;
    Ok(conn)
}

fn aside_path(path: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".corrupt-{stamp}"));
    path.with_file_name(name)
}

/// Reads what can be read of the old outbox; a row that fails to read is skipped, not fatal.
fn salvage(moved: &Path) -> (Vec<OutboxCommand>, Option<String>) {
    let Ok(conn) = Connection::open_with_flags(moved, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return (Vec::new(), None);
    };
    let device_id = conn
        .query_row(
            "SELECT value FROM settings WHERE key = 'device_id'",
            [],
            |r| r.get::<_, String>(0),
        )
        .ok();
    let Ok(mut stmt) = conn.prepare(
        "SELECT id, device_id, seq, worker_id, tag, payload, base_version, created_at, status
         FROM outbox WHERE status IN ('pending', 'held') ORDER BY seq",
    ) else {
        return (Vec::new(), device_id);
    };
    let Ok(mut rows) = stmt.query([]) else {
        return (Vec::new(), device_id);
    };
    let mut out = Vec::new();
    loop {
        match rows.next() {
            Ok(Some(r)) => {
                let parsed = (|| -> Option<OutboxCommand> {
                    let payload: String = r.get(5).ok()?;
                    let created: String = r.get(7).ok()?;
                    let status: String = r.get(8).ok()?;
                    Some(OutboxCommand {
                        id: r.get(0).ok()?,
                        device_id: r.get(1).ok()?,
                        seq: r.get(2).ok()?,
                        worker_id: r.get(3).ok()?,
                        tag: r.get(4).ok()?,
                        payload: serde_json::from_str::<CommandPayload>(&payload).ok()?,
                        base_version: r.get(6).ok()?,
                        created_at: chrono::DateTime::parse_from_rfc3339(&created)
                            .ok()?
                            .with_timezone(&chrono::Utc),
                        status: if status == "held" {
                            CommandStatus::Held
                        } else {
                            CommandStatus::Pending
                        },
                        attempts: 0,
                        last_error: None,
                        // The old file cannot tell us whether a write was in flight.
                        outcome_unknown: true,
                    })
                })();
                match parsed {
                    Some(c) => out.push(c),
                    None => tracing::warn!("fila ilegible del outbox dañado; se omite"),
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "lectura del outbox dañado interrumpida");
                break;
            }
        }
    }
    (out, device_id)
}

pub(super) fn recover(path: &Path, why: &str) -> Result<(Connection, CorruptionRecovery)> {
    let moved = aside_path(path);
    std::fs::rename(path, &moved)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_os_string();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            let mut dest = moved.as_os_str().to_os_string();
            dest.push(suffix);
            std::fs::rename(&side, PathBuf::from(dest))?;
        }
    }
    let (salvaged, device_id) = salvage(&moved);
    let mut conn = match open_checked(path) {
        Ok(c) => c,
        Err(OpenFailure::Corrupt(w)) => {
            return Err(StoreError::Decode {
                what: "base nueva".into(),
                detail: w,
            })
        }
        Err(OpenFailure::Other(e)) => return Err(e),
    };
    {
        let tx = conn.transaction()?;
        if let Some(id) = &device_id {
            set_setting(&tx, "device_id", id)?;
        }
        let max_seq = salvaged.iter().map(|c| c.seq).max().unwrap_or(0);
        set_setting(&tx, "next_seq", &(max_seq + 1).to_string())?;
        for c in &salvaged {
            insert_salvaged(&tx, c)?;
        }
        tx.commit()?;
    }
    let message = format!(
        "La base de datos local estaba dañada ({why}) y se guardó aparte en {}. Se recuperaron {} acciones pendientes; los datos de la planta se vuelven a cargar.",
        moved.display(),
        salvaged.len()
    );
    Ok((
        conn,
        CorruptionRecovery {
            moved_to: moved.display().to_string(),
            salvaged_commands: salvaged.len(),
            message,
        },
    ))
}
