//! Read-mostly queries behind the supervisor desk: supervisor PIN checks (kept as the trail of
//! wrong PINs and for rate limiting), the audit log by date, the oldest command waiting to sync.

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{Result, Store, StoreError};
use crate::domain::{AuditEvent, EventType};

/// One supervisor PIN check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinAttemptRecord {
    pub at: DateTime<Utc>,
    pub worker_id: Option<u32>,
    pub ok: bool,
    /// Refused without checking the PIN (locked out after too many wrong ones).
    pub refused: bool,
    /// What the PIN was asked for (`Entrada al escritorio`, `OVERRIDE MK-…`); `None` on rows
    /// recorded before schema migration 6.
    pub accion: Option<String>,
}

/// An audit row this device knows, and whether the plant has it (`applied`/`plant`) or it is
/// still only on this device (`local`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub event: AuditEvent,
    pub state: String,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Decode {
            what: "fecha".into(),
            detail: s.into(),
        })
}

const AUDIT_TIME: &str = "%Y-%m-%dT%H:%M:%S";

impl Store {
    pub fn record_pin_attempt(&self, a: &PinAttemptRecord) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO pin_attempts (at, worker_id, ok, refused, accion) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![ts(a.at), a.worker_id, a.ok, a.refused, a.accion])?;
        Ok(())
    }

    /// PIN checks at or after `since`, newest first.
    pub fn pin_attempts_since(&self, since: DateTime<Utc>) -> Result<Vec<PinAttemptRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT at, worker_id, ok, refused, accion FROM pin_attempts WHERE at >= ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([ts(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<u32>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, worker_id, ok, refused, accion) = row?;
            out.push(PinAttemptRecord {
                at: parse_ts(&at)?,
                worker_id,
                ok,
                refused,
                accion,
            });
        }
        Ok(out)
    }

    /// Audit rows whose timestamp (plant time) is in `[from, to)`, oldest first. Rejected local
    /// commands are left out: they never happened in the plant.
    pub fn audit_between(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<AuditRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, timestamp, event_type, tag, worker_id, worker_nombre, operacion, accion,
                    fecha_operacion, metadata, state
             FROM audit_local
             WHERE timestamp >= ?1 AND timestamp < ?2 AND state != 'rejected'
             ORDER BY timestamp, rowid",
        )?;
        let rows = stmt.query_map(
            [
                from.format(AUDIT_TIME).to_string(),
                to.format(AUDIT_TIME).to_string(),
            ],
            |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, u32>(4)?,
                    ),
                    (
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, String>(10)?,
                    ),
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let ((id, t, et, tag, wid), (wn, op, acc, fecha, meta, state)) = row?;
            let bad = |what: &str, v: &str| StoreError::Decode {
                what: what.into(),
                detail: v.into(),
            };
            let metadata = match serde_json::from_str(&meta) {
                Ok(v) => v,
                Err(e) => {
                    // A hand-edited Metadata cell: keep the row, show the text as it is.
                    tracing::warn!(id = %id, error = %e, "Metadata_JSON ilegible");
                    serde_json::Value::String(meta.clone())
                }
            };
            out.push(AuditRecord {
                event: AuditEvent {
                    timestamp: NaiveDateTime::parse_from_str(&t, AUDIT_TIME)
                        .map_err(|_| bad("audit.timestamp", &t))?,
                    event_type: EventType::parse(&et)
                        .ok_or_else(|| bad("audit.event_type", &et))?,
                    tag,
                    worker_id: wid,
                    worker_nombre: wn,
                    operacion: op,
                    accion: acc,
                    fecha_operacion: chrono::NaiveDate::parse_from_str(&fecha, "%Y-%m-%d")
                        .map_err(|_| bad("audit.fecha", &fecha))?,
                    metadata,
                    id,
                },
                state,
            });
        }
        Ok(out)
    }

    /// The plant's log as the PRODUCCIÓN figures need it, oldest first: rows the plant has
    /// (neither refused nor still only local), with time, type, TAG and operation; the
    /// metadata only on metrología rows (their result and origin). Lean on purpose: the tab
    /// reads every row of a 100,000-row log (issue 15).
    pub fn plant_log_for_reports(&self) -> Result<Vec<AuditEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT timestamp, event_type, tag, operacion,
                    CASE WHEN event_type = 'COMPLETAR_METROLOGIA' THEN metadata END
             FROM audit_local
             WHERE state NOT IN ('rejected', 'local')
             ORDER BY timestamp, rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (t, et, tag, operacion, meta) = row?;
            let bad = |what: &str, v: &str| StoreError::Decode {
                what: what.into(),
                detail: v.into(),
            };
            let timestamp = NaiveDateTime::parse_from_str(&t, AUDIT_TIME)
                .map_err(|_| bad("audit.timestamp", &t))?;
            out.push(AuditEvent {
                id: String::new(),
                timestamp,
                event_type: EventType::parse(&et).ok_or_else(|| bad("audit.event_type", &et))?,
                tag,
                worker_id: 0,
                worker_nombre: String::new(),
                operacion,
                accion: String::new(),
                fecha_operacion: timestamp.date(),
                // A hand-edited cell that is not JSON counts as no result.
                metadata: meta
                    .and_then(|m| serde_json::from_str(&m).ok())
                    .unwrap_or(serde_json::Value::Null),
            });
        }
        Ok(out)
    }

    /// Tags with audit rows in `[from, to)` (plant time).
    pub fn audited_tags_between(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT tag FROM audit_local
             WHERE timestamp >= ?1 AND timestamp < ?2 AND state != 'rejected' AND tag != ''
             ORDER BY tag",
        )?;
        let rows = stmt.query_map(
            [
                from.format(AUDIT_TIME).to_string(),
                to.format(AUDIT_TIME).to_string(),
            ],
            |r| r.get::<_, String>(0),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// When this device's oldest command still waiting to sync was made.
    pub fn oldest_unapplied(&self) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> = self
            .conn()
            .query_row(
                "SELECT created_at FROM outbox WHERE status IN ('pending', 'held')
                 ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        at.as_deref().map(parse_ts).transpose()
    }
}
