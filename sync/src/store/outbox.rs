//! The outbox: every command a worker made on this device, in per-device `seq` order, until the
//! plant has it (applied) or refused it (conflict). Also the local audit and the conflicts.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{codec, load_spool, load_workers, Result, Store, StoreError};
use crate::domain::spool::normalize_tag;
use crate::domain::time::santiago;
use crate::domain::{
    apply, Actor, AuditEvent, DomainError, EventType, Intent, Transition, MAX_BATCH,
};

/// What the engine needs to re-run a command's intent on the plant's current row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPayload {
    pub intent: Intent,
    /// Whether the occupation this command acts on set `Armador`/`Soldador` (for CANCELAR).
    #[serde(default)]
    pub occupation_set_worker: bool,
    /// The supervisor's PIN was checked on the device when the command was made.
    #[serde(default)]
    pub supervisor_verified: bool,
    /// A supervisor re-applied a conflicted command: (supervisor id, the conflicted command id).
    #[serde(default)]
    pub reapplied: Option<(u32, String)>,
    /// FORZAR LIBERACIÓN: the occupant the supervisor saw (`Ocupado_Por`). If the spool has
    /// changed hands when the command reaches the plant, it is a conflict, never the ejection
    /// of someone the supervisor did not see.
    #[serde(default)]
    pub forzar_ocupante: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandStatus {
    Pending,
    Applied,
    Conflict,
    Held,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Pending => "pending",
            CommandStatus::Applied => "applied",
            CommandStatus::Conflict => "conflict",
            CommandStatus::Held => "held",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(CommandStatus::Pending),
            "applied" => Some(CommandStatus::Applied),
            "conflict" => Some(CommandStatus::Conflict),
            "held" => Some(CommandStatus::Held),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxCommand {
    /// UUID v4: the idempotency key, the row's new `version`, the audit row's `ID`.
    pub id: String,
    pub device_id: String,
    pub seq: i64,
    pub worker_id: u32,
    pub tag: String,
    pub payload: CommandPayload,
    pub base_version: String,
    pub created_at: DateTime<Utc>,
    pub status: CommandStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The last write may or may not have landed: resolve by reading, never by writing twice.
    pub outcome_unknown: bool,
}

/// A tap: who, what, on which spools, when.
#[derive(Debug, Clone)]
pub struct LocalAction<'a> {
    pub worker_id: u32,
    pub intent: Intent,
    pub tags: &'a [String],
    pub supervisor_verified: bool,
    pub now: DateTime<Utc>,
    /// Set when a supervisor re-applies a conflicted command (see [`CommandPayload::reapplied`]).
    pub reapplied: Option<(u32, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictRecord {
    pub id: i64,
    pub command_id: String,
    pub tag: String,
    pub code: String,
    pub message: String,
    pub winner: Option<String>,
    pub held: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

const COMMAND_COLUMNS: &str = "id, device_id, seq, worker_id, tag, payload, base_version, \
    created_at, status, attempts, last_error, outcome_unknown";

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

fn command_from_row(r: &Row<'_>) -> Result<OutboxCommand> {
    let payload: String = r.get(5)?;
    let status: String = r.get(8)?;
    Ok(OutboxCommand {
        id: r.get(0)?,
        device_id: r.get(1)?,
        seq: r.get(2)?,
        worker_id: r.get(3)?,
        tag: r.get(4)?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Decode {
            what: "payload".into(),
            detail: e.to_string(),
        })?,
        base_version: r.get(6)?,
        created_at: parse_ts(&r.get::<_, String>(7)?)?,
        status: CommandStatus::parse(&status).ok_or_else(|| StoreError::Decode {
            what: "status".into(),
            detail: status.clone(),
        })?,
        attempts: r.get(9)?,
        last_error: r.get(10)?,
        outcome_unknown: r.get(11)?,
    })
}

fn insert_command(conn: &Connection, c: &OutboxCommand) -> Result<()> {
    let payload = serde_json::to_string(&c.payload).map_err(|e| StoreError::Decode {
        what: "payload".into(),
        detail: e.to_string(),
    })?;
    let op = c.payload.intent.operacion().map_or("", |o| o.code());
    conn.prepare_cached(&format!(
        "INSERT INTO outbox ({COMMAND_COLUMNS}, operation, action)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    ))?
    .execute(params![
        c.id,
        c.device_id,
        c.seq,
        c.worker_id,
        c.tag,
        payload,
        c.base_version,
        ts(c.created_at),
        c.status.as_str(),
        c.attempts,
        c.last_error,
        c.outcome_unknown,
        op,
        c.payload.intent.accion(),
    ])?;
    Ok(())
}

pub(crate) fn insert_salvaged(conn: &Connection, c: &OutboxCommand) -> Result<()> {
    insert_command(conn, c)
}

fn insert_audit(conn: &Connection, e: &AuditEvent, state: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO audit_local (id, timestamp, event_type, tag, worker_id,
         worker_nombre, operacion, accion, fecha_operacion, metadata, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        e.id,
        e.timestamp.format("%Y-%m-%dT%H:%M:%S").to_string(),
        e.event_type.code(),
        e.tag,
        e.worker_id,
        e.worker_nombre,
        e.operacion,
        e.accion,
        e.fecha_operacion.format("%Y-%m-%d").to_string(),
        e.metadata.to_string(),
        state,
    ])?;
    Ok(())
}

fn next_seq(conn: &Connection) -> Result<i64> {
    let current: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = 'next_seq'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let seq = current.and_then(|s| s.parse::<i64>().ok()).unwrap_or(1);
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('next_seq', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(seq + 1).to_string()],
    )?;
    Ok(seq)
}

impl Store {
    /// Validates a tap against the replica and, for each spool that passes, applies the
    /// optimistic change and appends the command — all in one durable transaction. Each spool
    /// gets its own outcome (a batch is the single-spool path once per spool).
    pub fn execute(
        &self,
        action: &LocalAction<'_>,
        new_id: &mut dyn FnMut() -> String,
    ) -> Result<Vec<(String, std::result::Result<Transition, DomainError>)>> {
        if action.tags.is_empty() {
            return Err(DomainError::LoteInvalido {
                detalle: "no hay spools seleccionados".into(),
            }
            .into());
        }
        if action.tags.len() > MAX_BATCH {
            return Err(DomainError::LoteInvalido {
                detalle: format!(
                    "{} spools seleccionados; el máximo es {MAX_BATCH}",
                    action.tags.len()
                ),
            }
            .into());
        }
        if action.tags.len() > 1 && !action.intent.batchable() {
            return Err(DomainError::LoteInvalido {
                detalle: "esta acción se registra de a un spool".into(),
            }
            .into());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let worker = load_workers(&tx)?
            .into_iter()
            .find(|w| w.id == action.worker_id)
            .filter(|w| w.activo)
            .ok_or(DomainError::WorkerNoEncontrado {
                id: action.worker_id,
            })?;
        let actor = Actor {
            worker: &worker,
            supervisor_verified: action.supervisor_verified,
        };
        let at = santiago(action.now);
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(action.tags.len());
        for raw_tag in action.tags {
            let tag = match normalize_tag(raw_tag) {
                Ok(t) => t,
                Err(e) => {
                    out.push((raw_tag.clone(), Err(e)));
                    continue;
                }
            };
            if !seen.insert(tag.clone()) {
                out.push((
                    tag.clone(),
                    Err(DomainError::LoteInvalido {
                        detalle: format!("el spool '{tag}' está repetido en el lote"),
                    }),
                ));
                continue;
            }
            let Some(spool) = load_spool(&tx, &tag)? else {
                out.push((tag.clone(), Err(DomainError::SpoolNoEncontrado { tag })));
                continue;
            };
            let id = new_id();
            match apply(&spool, actor, action.intent, at, &id) {
                Ok(t) => {
                    codec::write_spool(&tx, &t.after)?;
                    let cmd = OutboxCommand {
                        id: id.clone(),
                        device_id: self.device_id.clone(),
                        seq: next_seq(&tx)?,
                        worker_id: worker.id,
                        tag: tag.clone(),
                        payload: CommandPayload {
                            intent: action.intent,
                            occupation_set_worker: spool.occupation_set_worker,
                            supervisor_verified: action.supervisor_verified,
                            reapplied: action.reapplied.clone(),
                            forzar_ocupante: match action.intent {
                                Intent::ForzarLiberacion => spool.ocupado_por.clone(),
                                _ => None,
                            },
                        },
                        base_version: spool.version.clone(),
                        created_at: action.now,
                        status: CommandStatus::Pending,
                        attempts: 0,
                        last_error: None,
                        outcome_unknown: false,
                    };
                    insert_command(&tx, &cmd)?;
                    insert_audit(&tx, &t.event, "local")?;
                    out.push((tag, Ok(t)));
                }
                Err(e) => out.push((tag, Err(e))),
            }
        }
        tx.commit()?;
        self.touch(
            out.iter()
                .filter(|(_, r)| r.is_ok())
                .map(|(t, _)| t.as_str()),
        );
        drop(conn);
        Ok(out)
    }

    /// Commands the engine may try now: pending, due, and first in `seq` order for their spool
    /// (a spool's commands apply in order; different spools are independent).
    pub fn ready_commands(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxCommand>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS} FROM outbox o
             WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
               AND NOT EXISTS (SELECT 1 FROM outbox p
                               WHERE p.tag = o.tag AND p.status = 'pending' AND p.seq < o.seq)
             ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![ts(now), limit as i64], |r| Ok(command_from_row(r)))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// TOMAR commands whose occupation lock has not been claimed yet, first for their spool.
    pub fn unclaimed_tomar(&self, limit: usize) -> Result<Vec<OutboxCommand>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS} FROM outbox o
             WHERE status = 'pending' AND claimed = 0 AND action = 'TOMAR'
               AND NOT EXISTS (SELECT 1 FROM outbox p
                               WHERE p.tag = o.tag AND p.status = 'pending' AND p.seq < o.seq)
             ORDER BY seq LIMIT ?1"
        ))?;
        let rows = stmt.query_map(params![limit as i64], |r| Ok(command_from_row(r)))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    pub fn mark_claimed(&self, command_id: &str) -> Result<()> {
        self.conn()
            .execute("UPDATE outbox SET claimed = 1 WHERE id = ?1", [command_id])?;
        Ok(())
    }

    /// When the next pending command becomes due (for the retry timer). Only the first command
    /// of each spool counts: the ones queued behind it cannot be tried before it (counting them
    /// made a device with a queued chain poll every 20 ms while the first one waited).
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let conn = self.conn();
        let v: Option<Option<String>> = conn
            .query_row(
                "SELECT MIN(COALESCE(next_attempt_at, '')) FROM outbox o
                 WHERE status = 'pending'
                   AND NOT EXISTS (SELECT 1 FROM outbox p
                                   WHERE p.tag = o.tag AND p.status = 'pending' AND p.seq < o.seq)",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match v.flatten() {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(Some(DateTime::<Utc>::MIN_UTC)),
            Some(s) => parse_ts(&s).map(Some),
        }
    }

    pub fn command(&self, id: &str) -> Result<Option<OutboxCommand>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS} FROM outbox WHERE id = ?1"
        ))?;
        match stmt
            .query_row([id], |r| Ok(command_from_row(r)))
            .optional()?
        {
            Some(c) => Ok(Some(c?)),
            None => Ok(None),
        }
    }

    /// Commands not yet applied (pending, held), oldest first, for the sync panel.
    pub fn unapplied_commands(&self) -> Result<Vec<OutboxCommand>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS} FROM outbox WHERE status IN ('pending', 'held') ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], |r| Ok(command_from_row(r)))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// The plant has the command: mark it applied and, when nothing else is pending for the
    /// spool, make the replica row the plant's row.
    pub fn mark_applied(
        &self,
        command_id: &str,
        plant_row: &crate::domain::Spool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE outbox SET status = 'applied', applied_at = ?2, last_error = NULL,
             outcome_unknown = 0 WHERE id = ?1",
            params![command_id, ts(now)],
        )?;
        tx.execute(
            "UPDATE audit_local SET state = 'applied' WHERE id = ?1",
            [command_id],
        )?;
        let more: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM outbox WHERE tag = ?1 AND status = 'pending')",
            [&plant_row.tag],
            |r| r.get(0),
        )?;
        if !more {
            codec::write_spool(&tx, plant_row)?;
        }
        tx.commit()?;
        if !more {
            self.touch([plant_row.tag.as_str()]);
        }
        drop(conn);
        Ok(())
    }

    /// Write-ahead mark: these commands are about to be sent. Until they are marked applied, a
    /// crash leaves them "outcome unknown", so the next try looks for them in the audit log
    /// before deciding anything (never applying twice, never calling a landed command refused).
    pub fn mark_in_flight(&self, command_ids: &[String], in_flight: bool) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for id in command_ids {
            tx.execute(
                "UPDATE outbox SET outcome_unknown = ?2 WHERE id = ?1 AND status = 'pending'",
                params![id, in_flight],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records where each command's write is addressed (engine::verify's `Landing`, as JSON),
    /// before the write is sent.
    pub fn record_landings(&self, landings: &[(String, String)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (id, json) in landings {
            tx.execute(
                "UPDATE outbox SET landing = ?2 WHERE id = ?1 AND status = 'pending'",
                params![id, json],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn landing(&self, command_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT landing FROM outbox WHERE id = ?1",
                [command_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Not tried yet, and not before `next_at` (another device is writing the spool's row):
    /// no attempt is counted, so the retry backoff of real failures is not stretched.
    pub fn defer(&self, command_id: &str, why: &str, next_at: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![command_id, why, ts(next_at)],
        )?;
        Ok(())
    }

    /// A try that failed for a reason other than a conflict: keep the command, say why, retry
    /// at `next_at`.
    pub fn mark_attempt_failed(
        &self,
        command_id: &str,
        error: &str,
        next_at: DateTime<Utc>,
        outcome_unknown: bool,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
             outcome_unknown = MAX(outcome_unknown, ?4) WHERE id = ?1 AND status = 'pending'",
            params![command_id, error, ts(next_at), outcome_unknown],
        )?;
        Ok(())
    }

    /// The plant refused the command. Its later commands for the same spool are held with it,
    /// the replica takes the plant's row, and the conflict is stored for the inbox.
    pub fn record_conflict(
        &self,
        command: &OutboxCommand,
        error: &DomainError,
        winner: Option<String>,
        plant_row: Option<&crate::domain::Spool>,
        now: DateTime<Utc>,
    ) -> Result<ConflictRecord> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE outbox SET status = 'conflict', last_error = ?2 WHERE id = ?1",
            params![command.id, error.to_string()],
        )?;
        let held: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM outbox WHERE tag = ?1 AND status = 'pending' AND seq > ?2 ORDER BY seq",
            )?;
            let ids = stmt.query_map(params![command.tag, command.seq], |r| r.get(0))?;
            ids.collect::<rusqlite::Result<_>>()?
        };
        for id in held.iter().chain(std::iter::once(&command.id)) {
            tx.execute(
                "UPDATE outbox SET status = CASE WHEN id = ?2 THEN 'conflict' ELSE 'held' END
                 WHERE id = ?1",
                params![id, command.id],
            )?;
            tx.execute(
                "UPDATE audit_local SET state = 'rejected' WHERE id = ?1",
                [id],
            )?;
        }
        if let Some(row) = plant_row {
            codec::write_spool(&tx, row)?;
        }
        let held_json = serde_json::to_string(&held).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "INSERT OR IGNORE INTO conflicts (command_id, tag, code, message, winner, held, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                command.id,
                command.tag,
                error.code(),
                error.to_string(),
                winner,
                held_json,
                ts(now)
            ],
        )?;
        let id: i64 = tx.query_row(
            "SELECT id FROM conflicts WHERE command_id = ?1",
            [&command.id],
            |r| r.get(0),
        )?;
        tx.commit()?;
        if plant_row.is_some() {
            self.touch([command.tag.as_str()]);
        }
        drop(conn);
        Ok(ConflictRecord {
            id,
            command_id: command.id.clone(),
            tag: command.tag.clone(),
            code: error.code().to_string(),
            message: error.to_string(),
            winner,
            held,
            created_at: now,
            resolved_at: None,
            resolution: None,
        })
    }

    pub fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictRecord>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT id, command_id, tag, code, message, winner, held, created_at, resolved_at, resolution
             FROM conflicts {} ORDER BY id DESC",
            if include_resolved { "" } else { "WHERE resolved_at IS NULL" }
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, command_id, tag, code, message, winner, held, created, resolved, resolution) =
                row?;
            out.push(ConflictRecord {
                id,
                command_id,
                tag,
                code,
                message,
                winner,
                held: serde_json::from_str(&held).unwrap_or_default(),
                created_at: parse_ts(&created)?,
                resolved_at: resolved.as_deref().map(parse_ts).transpose()?,
                resolution,
            });
        }
        Ok(out)
    }

    /// Conflicts whose CONFLICTO audit row has not reached the workbook yet. The flag says the
    /// last write that carried it had an unknown outcome (look before appending again).
    pub fn unaudited_conflicts(&self) -> Result<Vec<(ConflictRecord, OutboxCommand, bool)>> {
        let ids: Vec<(String, i64)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(
                "SELECT command_id, audited FROM conflicts WHERE audited != 1 ORDER BY id LIMIT 50",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.conflicts(true)?;
        let mut out = Vec::new();
        for (id, audited) in ids {
            if let (Some(rec), Some(cmd)) = (
                all.iter().find(|c| c.command_id == id).cloned(),
                self.command(&id)?,
            ) {
                out.push((rec, cmd, audited == 2));
            }
        }
        Ok(out)
    }

    /// The write carrying these CONFLICTO rows may or may not have landed.
    pub fn mark_conflicts_audit_unknown(&self, command_ids: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for id in command_ids {
            tx.execute(
                "UPDATE conflicts SET audited = 2 WHERE command_id = ?1 AND audited = 0",
                [id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn mark_conflicts_audited(&self, command_ids: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for id in command_ids {
            tx.execute(
                "UPDATE conflicts SET audited = 1 WHERE command_id = ?1",
                [id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The worker of this device's most recent command (presence: who is on the tablet).
    pub fn last_worker_id(&self) -> Result<Option<u32>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT worker_id FROM outbox ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Closes a conflict (`DESCARTADO` or `REAPLICADO`) by supervisor `by`. The commands held
    /// behind it are closed with it: they depended on a command the plant refused. A discard
    /// owes the plant a `CONFLICTO_DESCARTADO` row (see [`Store::unaudited_discards`]).
    pub fn resolve_conflict(
        &self,
        id: i64,
        resolution: &str,
        by: u32,
        now: DateTime<Utc>,
    ) -> Result<ConflictRecord> {
        let rec = self
            .conflicts(true)?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| StoreError::Decode {
                what: "conflicto".into(),
                detail: format!("no existe el conflicto {id}"),
            })?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE conflicts SET resolved_at = ?2, resolution = ?3, resolved_by = ?4,
             resolution_audited = ?5 WHERE id = ?1 AND resolved_at IS NULL",
            params![
                id,
                ts(now),
                resolution,
                by,
                i64::from(resolution != "DESCARTADO")
            ],
        )?;
        for held in &rec.held {
            tx.execute(
                "UPDATE outbox SET status = 'conflict', last_error = ?2 WHERE id = ?1 AND status = 'held'",
                params![held, format!("cerrado con el conflicto {id} ({resolution})")],
            )?;
        }
        tx.commit()?;
        Ok(rec)
    }

    /// Discarded conflicts whose `CONFLICTO_DESCARTADO` row has not reached the workbook, with
    /// the refused command, the supervisor, and whether the last write that carried it had an
    /// unknown outcome.
    pub fn unaudited_discards(&self) -> Result<Vec<(ConflictRecord, OutboxCommand, u32, bool)>> {
        let rows: Vec<(String, u32, i64)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(
                "SELECT command_id, COALESCE(resolved_by, 0), resolution_audited FROM conflicts
                 WHERE resolution_audited != 1 ORDER BY id LIMIT 50",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.conflicts(true)?;
        let mut out = Vec::new();
        for (id, by, audited) in rows {
            if let (Some(rec), Some(cmd)) = (
                all.iter().find(|c| c.command_id == id).cloned(),
                self.command(&id)?,
            ) {
                out.push((rec, cmd, by, audited == 2));
            }
        }
        Ok(out)
    }

    /// `CONFLICTO_DESCARTADO` rows: 1 = in the workbook, 2 = the write had an unknown outcome.
    pub fn mark_discards_audited(&self, command_ids: &[String], state: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for id in command_ids {
            tx.execute(
                "UPDATE conflicts SET resolution_audited = ?2 WHERE command_id = ?1
                 AND resolution_audited != 1",
                params![id, state],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// (pending, held, open conflicts)
    pub fn counts(&self) -> Result<(u32, u32, u32)> {
        let conn = self.conn();
        let pending: u32 = conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        let held: u32 = conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE status = 'held'",
            [],
            |r| r.get(0),
        )?;
        let conflicts: u32 = conn.query_row(
            "SELECT COUNT(*) FROM conflicts WHERE resolved_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok((pending, held, conflicts))
    }

    pub fn has_pending(&self, tag: &str) -> Result<bool> {
        let conn = self.conn();
        let pending = conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM outbox WHERE tag = ?1 AND status = 'pending')",
            )?
            .query_row([tag], |r| r.get(0))?;
        Ok(pending)
    }

    /// Tags with commands waiting to sync.
    pub fn pending_tags(&self) -> Result<HashSet<String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT tag FROM outbox WHERE status = 'pending'")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Audit events this device knows for a spool (its own and the plant's), oldest first.
    /// Rejected local commands are left out: they never happened in the plant.
    pub fn audit_events(&self, tag: &str) -> Result<Vec<AuditEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, timestamp, event_type, tag, worker_id, worker_nombre, operacion, accion,
                    fecha_operacion, metadata
             FROM audit_local WHERE tag = ?1 AND state != 'rejected' ORDER BY timestamp, rowid",
        )?;
        let rows = stmt.query_map([tag], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, t, et, tag, wid, wn, op, acc, fecha, meta) = row?;
            let bad = |what: &str, v: &str| StoreError::Decode {
                what: what.into(),
                detail: v.into(),
            };
            out.push(AuditEvent {
                id,
                timestamp: chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S")
                    .map_err(|_| bad("audit.timestamp", &t))?,
                event_type: EventType::parse(&et).ok_or_else(|| bad("audit.event_type", &et))?,
                tag,
                worker_id: wid,
                worker_nombre: wn,
                operacion: op,
                accion: acc,
                fecha_operacion: chrono::NaiveDate::parse_from_str(&fecha, "%Y-%m-%d")
                    .map_err(|_| bad("audit.fecha", &fecha))?,
                metadata: serde_json::from_str(&meta).unwrap_or(serde_json::Value::Null),
            });
        }
        Ok(out)
    }

    /// Whether the plant's `Metadata` holds this event id, as far as the audit import has read
    /// (the proof a write of unknown outcome landed).
    pub fn audit_landed(&self, id: &str) -> Result<bool> {
        let state: Option<String> = self
            .conn()
            .prepare_cached("SELECT state FROM audit_local WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(matches!(state.as_deref(), Some("applied" | "plant")))
    }

    /// The spool an audit event (a command id) is about, as far as the import has read.
    pub fn audit_tag(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT tag FROM audit_local WHERE id = ?1 AND state != 'rejected'")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    /// Events the plant recorded (pulled from Metadata); idempotent by event id.
    pub fn record_plant_events(&self, events: &[AuditEvent]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for e in events {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM audit_local WHERE id = ?1)")?
                .query_row([&e.id], |r| r.get(0))?;
            if exists {
                tx.execute(
                    "UPDATE audit_local SET state = 'applied' WHERE id = ?1 AND state = 'local'",
                    [&e.id],
                )?;
            } else {
                insert_audit(&tx, e, "plant")?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
