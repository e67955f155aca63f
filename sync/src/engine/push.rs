//! One push round: ready commands → locks → read rows → rebase through the domain → one atomic
//! workbook write (row cells + audit rows) → publish, release, mark applied.

use rand::Rng;
use std::collections::{BTreeSet, HashMap};

use super::{Engine, PlantCache};
use crate::api::AppEvent;
use crate::domain::sheet::{METADATA, OPERACIONES};
use crate::domain::time::{fmt_datetime, santiago};
use crate::domain::worker::worker_id_from_token;
use crate::domain::{
    apply, Actor, AuditEvent, CellValue, DomainError, EventType, Intent, Operacion, Spool,
    Transition, Worker,
};
use crate::ports::{
    Acquire, Append, CoordError, LockHolder, QuotaGrant, QuotaKind, QuotaTaker, RowChange,
    RowUpdate, WorkbookError, WriteBatch,
};
use crate::store::{OutboxCommand, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workbook(#[from] WorkbookError),
    #[error(transparent)]
    Coord(#[from] CoordError),
}

enum Decision {
    Write {
        cmd: OutboxCommand,
        transition: Box<Transition>,
        /// The row's `version` when it was read for this write.
        prior: String,
        row: u32,
        cells: Vec<(usize, CellValue)>,
        audit: Vec<CellValue>,
    },
    Landed {
        cmd: OutboxCommand,
        plant: Spool,
    },
    /// Its audit row landed but its spool's row never got the write: a person moved rows or
    /// columns while the write was in flight. Repaired from what was recorded before it.
    Misdirected {
        cmd: OutboxCommand,
        landing: Box<super::verify::Written>,
    },
    Conflict {
        cmd: OutboxCommand,
        error: DomainError,
        winner: Option<String>,
        plant: Option<Spool>,
    },
    Retry {
        cmd: OutboxCommand,
        error: String,
        outcome_unknown: bool,
    },
    /// Try again next round without counting an attempt (row busy, layout moved).
    Later,
}

/// Audit rows this device owes the plant besides its commands' own.
struct PendingAudits {
    /// CONFLICTO rows (the flag: the last write that carried it had an unknown outcome).
    conflicts: Vec<(crate::store::ConflictRecord, OutboxCommand, bool)>,
    /// CONFLICTO_DESCARTADO rows (conflict, command, supervisor, unknown outcome).
    discards: Vec<(crate::store::ConflictRecord, OutboxCommand, u32, bool)>,
}

impl PendingAudits {
    fn is_empty(&self) -> bool {
        self.conflicts.is_empty() && self.discards.is_empty()
    }

    fn any_unknown(&self) -> bool {
        self.conflicts.iter().any(|(_, _, u)| *u) || self.discards.iter().any(|(_, _, _, u)| *u)
    }
}

/// Longest quota wait spent inside one push round (holding its row mutexes).
const QUOTA_INLINE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a command waits, on average, before looking again at a row another device is
/// writing.
const BUSY_ROW_PAUSE_MS: i64 = 300;

enum LockStep {
    Proceed,
    Conflict(DomainError, Option<String>),
}

/// The occupant or finisher the plant has now, to name in the conflict message.
fn winner_of(e: &DomainError, plant: &Spool) -> Option<String> {
    match e {
        DomainError::SpoolOcupado { por, .. } => Some(por.clone()),
        DomainError::NoEsOcupante { ocupante, .. } => ocupante.clone(),
        DomainError::OperacionYaCompletada { operacion, .. } => match operacion.as_str() {
            "ARM" => plant.armador.clone(),
            "SOLD" => plant.soldador.clone(),
            _ => None,
        },
        _ => plant.ocupado_por.clone(),
    }
}

fn conflict_event_id(command_id: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("zeues:conflicto:{command_id}").as_bytes(),
    )
    .to_string()
}

impl Engine {
    fn token_of(&self, worker_id: u32) -> String {
        match self.store.worker(worker_id) {
            Ok(Some(w)) => w.token(),
            _ => format!("trabajador {worker_id}"),
        }
    }

    /// A lock whose occupation already ended in the sheet (its TOMAR applied, the sheet no
    /// longer shows its worker) is stale: released, so it never refuses a tap. Returns whether
    /// it was released.
    async fn release_if_stale(
        &self,
        tag: &str,
        h: &LockHolder,
        plant: &Spool,
    ) -> Result<bool, CoordError> {
        let sheet_shows_holder =
            plant.ocupado_por.as_deref().and_then(worker_id_from_token) == Some(h.worker_id);
        if sheet_shows_holder || !self.coord.was_applied(&h.command_id).await? {
            return Ok(false);
        }
        tracing::warn!(%tag, holder = %h.encode(), "lock de ocupación obsoleto; se libera");
        self.coord.release_occupation(tag, h).await?;
        Ok(true)
    }

    async fn occupation_step(
        &self,
        cmd: &OutboxCommand,
        plant: &Spool,
    ) -> Result<LockStep, CoordError> {
        let tag = &cmd.tag;
        match cmd.payload.intent {
            Intent::Tomar(_) => {
                let mine = LockHolder {
                    worker_id: cmd.worker_id,
                    command_id: cmd.id.clone(),
                };
                for _ in 0..2 {
                    match self.coord.acquire_occupation(tag, &mine).await? {
                        Acquire::Acquired => return Ok(LockStep::Proceed),
                        Acquire::HeldBy(h) if h == mine => return Ok(LockStep::Proceed),
                        Acquire::HeldBy(h) => {
                            if self.release_if_stale(tag, &h, plant).await? {
                                continue;
                            }
                            let por = self.token_of(h.worker_id);
                            return Ok(LockStep::Conflict(
                                DomainError::SpoolOcupado {
                                    tag: tag.clone(),
                                    por: por.clone(),
                                },
                                Some(por),
                            ));
                        }
                    }
                }
                let por = plant
                    .ocupado_por
                    .clone()
                    .unwrap_or_else(|| "otro equipo".into());
                Ok(LockStep::Conflict(
                    DomainError::SpoolOcupado {
                        tag: tag.clone(),
                        por: por.clone(),
                    },
                    Some(por),
                ))
            }
            Intent::Pausar(_) | Intent::Completar(_) | Intent::Cancelar(_) => {
                match self.coord.occupation_holder(tag).await? {
                    Some(h) if h.worker_id != cmd.worker_id => {
                        let ocupante = self.token_of(h.worker_id);
                        Ok(LockStep::Conflict(
                            DomainError::NoEsOcupante {
                                tag: tag.clone(),
                                token: self.token_of(cmd.worker_id),
                                operacion: cmd
                                    .payload
                                    .intent
                                    .operacion()
                                    .map_or("", Operacion::code)
                                    .into(),
                                ocupante: Some(ocupante.clone()),
                            },
                            Some(ocupante),
                        ))
                    }
                    _ => Ok(LockStep::Proceed),
                }
            }
            Intent::Metrologia { .. } => match self.coord.occupation_holder(tag).await? {
                // The same stale-lock rule as TOMAR: an ended occupation never refuses it.
                Some(h) if self.release_if_stale(tag, &h, plant).await? => Ok(LockStep::Proceed),
                Some(h) => {
                    let por = self.token_of(h.worker_id);
                    Ok(LockStep::Conflict(
                        DomainError::SpoolOcupado {
                            tag: tag.clone(),
                            por: por.clone(),
                        },
                        Some(por),
                    ))
                }
                None => Ok(LockStep::Proceed),
            },
            Intent::Override | Intent::ForzarLiberacion => Ok(LockStep::Proceed),
        }
    }

    /// `audit_known`: this round's audit import reached the end of `Metadata`, so the local
    /// audit holds every row that landed before it (the settle of an unknown outcome).
    async fn decide(
        &self,
        cmd: OutboxCommand,
        plant: Spool,
        cache: &PlantCache,
        audit_known: bool,
    ) -> Result<Decision, EngineError> {
        if plant.version == cmd.id || self.coord.was_applied(&cmd.id).await? {
            return Ok(Decision::Landed { cmd, plant });
        }
        if cmd.outcome_unknown {
            if !audit_known {
                // Never decide on doubt: wait until Metadata has been read past the write.
                return Ok(Decision::Retry {
                    cmd,
                    error: "esperando leer Metadata para saber si la escritura anterior llegó"
                        .into(),
                    outcome_unknown: true,
                });
            }
            if self.store.audit_landed(&cmd.id)? {
                let landing = self
                    .store
                    .landing(&cmd.id)?
                    .and_then(|j| serde_json::from_str::<super::verify::Written>(&j).ok());
                if let Some(w) = landing.filter(|w| w.prior_version == plant.version) {
                    // The row is exactly as before the write: the write went elsewhere.
                    tracing::error!(tag = %cmd.tag, command = %cmd.id, "la escritura llegó a otras celdas (la planilla cambió de forma mientras viajaba); se repara");
                    return Ok(Decision::Misdirected {
                        cmd,
                        landing: Box::new(w),
                    });
                }
                // It landed and the row has moved on since: never apply it again.
                return Ok(Decision::Landed { cmd, plant });
            }
        }
        let Some(worker): Option<Worker> = self.store.worker(cmd.worker_id)? else {
            let error = DomainError::WorkerNoEncontrado { id: cmd.worker_id };
            return Ok(Decision::Conflict {
                cmd,
                error,
                winner: None,
                plant: Some(plant),
            });
        };
        let step = self.occupation_step(&cmd, &plant).await?;
        super::failpoint::hit_on(self.store.device_id(), "push.after_lock");
        if let LockStep::Conflict(error, winner) = step {
            return Ok(Decision::Conflict {
                cmd,
                error,
                winner,
                plant: Some(plant),
            });
        }
        if let (Intent::ForzarLiberacion, Some(seen)) =
            (cmd.payload.intent, cmd.payload.forzar_ocupante.as_deref())
        {
            if let Err(error) = crate::domain::transitions::check_force_target(&plant, seen) {
                let winner = plant.ocupado_por.clone();
                return Ok(Decision::Conflict {
                    cmd,
                    error,
                    winner,
                    plant: Some(plant),
                });
            }
        }
        let mut base = plant.clone();
        if !cache.layout.has(crate::domain::sheet::Col::OcupacionInicia) {
            // An older sheet cannot say whether this occupation wrote Armador/Soldador: only
            // the device that took the spool knows (its tap recorded it).
            base.occupation_set_worker = cmd.payload.occupation_set_worker;
        }
        let actor = Actor {
            worker: &worker,
            supervisor_verified: cmd.payload.supervisor_verified,
        };
        let at = santiago(cmd.created_at);
        match apply(&base, actor, cmd.payload.intent, at, &cmd.id) {
            Err(error) => {
                let winner = winner_of(&error, &plant);
                Ok(Decision::Conflict {
                    cmd,
                    error,
                    winner,
                    plant: Some(plant),
                })
            }
            Ok(mut t) => {
                let cells = match cache.layout.encode(&t.changes) {
                    Ok(c) => c,
                    Err(e) => {
                        return Ok(Decision::Retry {
                            cmd,
                            error: e.to_string(),
                            outcome_unknown: false,
                        })
                    }
                };
                if let serde_json::Value::Object(m) = &mut t.event.metadata {
                    m.insert("device".into(), cmd.device_id.clone().into());
                    m.insert("seq".into(), cmd.seq.into());
                    m.insert(
                        "synced_at".into(),
                        fmt_datetime(santiago(self.clock.now())).into(),
                    );
                    m.insert("base_version".into(), cmd.base_version.clone().into());
                    m.insert("rebase".into(), (plant.version != cmd.base_version).into());
                    if let Some((supervisor, conflicted)) = &cmd.payload.reapplied {
                        m.insert("reaplicado_por".into(), self.token_of(*supervisor).into());
                        m.insert("conflicto_original".into(), conflicted.clone().into());
                    }
                }
                let audit = t.event.to_row(&cache.metadata);
                Ok(Decision::Write {
                    prior: plant.version.clone(),
                    row: plant.row,
                    cmd,
                    transition: Box::new(t),
                    cells,
                    audit,
                })
            }
        }
    }

    async fn release_mine(&self, cmd: &OutboxCommand) -> Result<(), CoordError> {
        let mine = LockHolder {
            worker_id: cmd.worker_id,
            command_id: cmd.id.clone(),
        };
        self.coord.release_occupation(&cmd.tag, &mine).await?;
        Ok(())
    }

    fn conflict_audit(
        &self,
        rec: &crate::store::ConflictRecord,
        cmd: &OutboxCommand,
    ) -> AuditEvent {
        let at = santiago(rec.created_at);
        AuditEvent {
            id: conflict_event_id(&cmd.id),
            timestamp: at,
            event_type: EventType::Conflicto,
            tag: cmd.tag.clone(),
            worker_id: cmd.worker_id,
            worker_nombre: self.token_of(cmd.worker_id),
            operacion: cmd
                .payload
                .intent
                .operacion()
                .map_or("", Operacion::code)
                .into(),
            accion: cmd.payload.intent.accion().into(),
            fecha_operacion: at.date(),
            metadata: serde_json::json!({
                "command_id": cmd.id,
                "codigo": rec.code,
                "motivo": rec.message,
                "ganador": rec.winner,
                "retenidos": rec.held,
                "device": cmd.device_id,
                "seq": cmd.seq,
            }),
        }
    }

    /// `CONFLICTO_DESCARTADO`: who closed which refused command, when, and the commands held
    /// with it (each one named, so none of them is left unaccounted in the plant's record).
    fn discard_audit(
        &self,
        rec: &crate::store::ConflictRecord,
        cmd: &OutboxCommand,
        supervisor: u32,
    ) -> AuditEvent {
        let at = santiago(rec.resolved_at.unwrap_or(rec.created_at));
        AuditEvent {
            id: uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("zeues:descartado:{}", cmd.id).as_bytes(),
            )
            .to_string(),
            timestamp: at,
            event_type: EventType::ConflictoDescartado,
            tag: cmd.tag.clone(),
            worker_id: supervisor,
            worker_nombre: self.token_of(supervisor),
            operacion: cmd
                .payload
                .intent
                .operacion()
                .map_or("", Operacion::code)
                .into(),
            accion: "DESCARTAR".into(),
            fecha_operacion: at.date(),
            metadata: serde_json::json!({
                "command_id": cmd.id,
                "codigo": rec.code,
                "retenidos": rec.held,
                "trabajador": cmd.worker_id,
                "device": cmd.device_id,
                "descartado_en": self.store.device_id(),
            }),
        }
    }

    fn announce_conflict(&self, rec: &crate::store::ConflictRecord) {
        let body = match (&rec.code[..], &rec.winner) {
            ("SPOOL_OCUPADO", Some(w)) => format!(
                "Spool {} fue tomado por {w} mientras estabas sin conexión",
                rec.tag
            ),
            _ => rec.message.clone(),
        };
        let title = format!("Conflicto en spool {}", rec.tag);
        if let Err(e) = self.notifier.notify(&title, &body) {
            tracing::warn!(error = %e, tag = %rec.tag, "no se pudo mostrar la notificación");
        }
        self.emit(AppEvent::Conflict {
            tag: rec.tag.clone(),
            message: body,
            winner: rec.winner.clone(),
        });
    }

    /// Reads the row index again, within the shared read budget (it is one tab read plus
    /// the `Metadata` header). When the budget says wait, the next round tries again.
    /// Returns whether it was read.
    async fn refresh_index(&self) -> bool {
        match self
            .coord
            .take_quota_as(QuotaKind::Read, 2, QuotaTaker::INDEX)
            .await
        {
            Ok(QuotaGrant::Granted) => {}
            Ok(QuotaGrant::Wait(d)) => {
                tracing::debug!(
                    espera_ms = d.as_millis() as u64,
                    "índice de filas esperando cuota"
                );
                tokio::time::sleep(d.min(QUOTA_INLINE_WAIT)).await;
                return false;
            }
            Err(e) => {
                self.note_coord_error(&e);
                return false;
            }
        }
        match self.load_cache().await {
            Ok(c) => {
                tracing::info!(filas = c.rows.len(), "índice de filas releído (TAG nuevo)");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "no se pudo releer el índice de filas");
                self.note_error(&e);
                false
            }
        }
    }

    async fn cache(&self) -> Result<PlantCache, WorkbookError> {
        if let Some(c) = self.cache.lock().await.clone() {
            return Ok(c);
        }
        self.load_cache().await
    }

    fn retry_all(&self, cmds: &[OutboxCommand], e: &WorkbookError) -> Result<(), StoreError> {
        let now = self.clock.now();
        for c in cmds {
            let unknown = c.outcome_unknown || matches!(e, WorkbookError::OutcomeUnknown(_));
            self.store.mark_attempt_failed(
                &c.id,
                &e.to_string(),
                now + self.backoff(c.attempts),
                unknown,
            )?;
        }
        Ok(())
    }

    /// One round. Returns how many commands reached a final state (applied or conflict).
    pub async fn push_once(&self) -> Result<usize, EngineError> {
        // Without Redis only the spreadsheet's registered writer writes (engine::writer).
        let fence = if self.config.single_writer {
            match self.writer_fence().await {
                Ok(Some(f)) => Some(f),
                Ok(None) => return Ok(0),
                Err(e) => {
                    self.note_error(&e);
                    return Ok(0);
                }
            }
        } else {
            None
        };
        let now = self.clock.now();
        let cmds = self.store.ready_commands(now, self.config.batch_size)?;
        let pending_audits = PendingAudits {
            conflicts: self.store.unaudited_conflicts()?,
            discards: self.store.unaudited_discards()?,
        };
        if cmds.is_empty() && pending_audits.is_empty() {
            return Ok(0);
        }
        let cache = match self.cache().await {
            Ok(c) => c,
            Err(e) => {
                self.note_error(&e);
                self.retry_all(&cmds, &e)?;
                return Ok(0);
            }
        };
        // Settling a write of unknown outcome: one audit import per round (only the rows
        // appended since this device last read, within the shared read budget), then every
        // doubt is answered from the local audit.
        // A doubt the local audit already answers (the write's row was imported) needs no read.
        let mut doubts: Vec<String> = Vec::new();
        for c in cmds.iter().filter(|c| c.outcome_unknown) {
            if !self.store.audit_landed(&c.id)? {
                doubts.push(c.id.clone());
            }
        }
        let unsure = !doubts.is_empty() || pending_audits.any_unknown();
        let audit_known = !unsure
            || match self.import_audit_patient(QUOTA_INLINE_WAIT).await {
                Ok(import) => import.complete,
                Err(e) => {
                    self.note_error(&e);
                    false
                }
            };
        if unsure && audit_known {
            // Read to the end of Metadata after the doubtful write was answered (or lost): a
            // row it does not hold never landed. Remembered, so a round that then cannot take
            // the row's mutex does not read Metadata again the next time (a device spinning on
            // a busy row took every read token of the fleet: seed 123261956).
            let mut never_landed = Vec::new();
            for id in doubts {
                if !self.store.audit_landed(&id)? {
                    never_landed.push(id);
                }
            }
            self.store.mark_in_flight(&never_landed, false)?;
        }
        let mut cmds = cmds;
        if !audit_known {
            // A command of unknown outcome cannot be decided before Metadata is read: it
            // takes no lock and no read this round (they would only starve that import).
            let at = now + chrono::Duration::from_std(self.config.retry_base).unwrap_or_default();
            for c in cmds.iter().filter(|c| c.outcome_unknown) {
                self.store.mark_attempt_failed(
                    &c.id,
                    "esperando leer Metadata para saber si la escritura anterior llegó",
                    at,
                    true,
                )?;
            }
            cmds.retain(|c| !c.outcome_unknown);
        }

        // Row mutexes, then one read of every row this round touches.
        let mut work: Vec<(OutboxCommand, u32)> = Vec::new();
        let mut decisions: Vec<Decision> = Vec::new();
        let mut locked: Vec<(String, String)> = Vec::new();
        let mut look_again: Vec<String> = Vec::new();
        for cmd in cmds {
            let Some(row) = cache.rows.get(&cmd.tag).copied() else {
                let read_since = cache.read_at > cmd.created_at
                    || self
                        .index_reread_for
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .contains(&cmd.id);
                if !read_since {
                    // The row may have been added to the sheet after the index was read (the
                    // replica learnt it from the leader): read the index again before calling
                    // it missing.
                    look_again.push(cmd.id.clone());
                    decisions.push(Decision::Later);
                    continue;
                }
                let tag = cmd.tag.clone();
                decisions.push(Decision::Conflict {
                    cmd,
                    error: DomainError::SpoolNoEncontrado { tag },
                    winner: None,
                    plant: None,
                });
                continue;
            };
            match self
                .coord
                .lock_row(&cmd.tag, &cmd.id, self.config.row_lock_ttl)
                .await
            {
                Ok(true) => {
                    self.note_coord_ok();
                    locked.push((cmd.tag.clone(), cmd.id.clone()));
                    work.push((cmd, row));
                }
                Ok(false) => {
                    // Another device is in its round on this row (its mutex lasts the round,
                    // quota waits included): look again shortly, not at the loop's 20 ms floor
                    // (50 Redis calls a second per waiting tablet).
                    let pause = self
                        .rng
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .gen_range(BUSY_ROW_PAUSE_MS / 2..=BUSY_ROW_PAUSE_MS * 3 / 2);
                    self.store.defer(
                        &cmd.id,
                        "otro equipo está escribiendo esta fila",
                        now + chrono::Duration::milliseconds(pause),
                    )?;
                    decisions.push(Decision::Later)
                }
                Err(e) => {
                    self.note_coord_error(&e);
                    decisions.push(Decision::Retry {
                        error: e.to_string(),
                        outcome_unknown: cmd.outcome_unknown,
                        cmd,
                    })
                }
            }
        }
        if !look_again.is_empty() && self.refresh_index().await {
            self.index_reread_for
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(look_again);
        }
        // The row mutexes are renewed while the round runs (quota waits, a slow Sheets call),
        // so they outlive it only by their own expiry if this device dies.
        let round = self.push_locked(work, decisions, &cache, pending_audits, audit_known, fence);
        tokio::pin!(round);
        let every = (self.config.row_lock_ttl / 3).max(std::time::Duration::from_millis(100));
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let result = loop {
            // `biased`: deterministic tie-break (see `Engine::run`).
            tokio::select! {
                biased;
                r = &mut round => break r,
                _ = renew.tick() => self.renew_row_locks(&locked).await,
            }
        };
        for (tag, owner) in &locked {
            if let Err(e) = self.coord.unlock_row(tag, owner).await {
                // The row mutex expires on its own (PX); log and go on.
                tracing::warn!(%tag, error = %e, "no se pudo liberar el mutex de fila");
            }
        }
        result
    }

    async fn push_locked(
        &self,
        work: Vec<(OutboxCommand, u32)>,
        mut decisions: Vec<Decision>,
        cache: &PlantCache,
        pending_audits: PendingAudits,
        audit_known: bool,
        fence: Option<crate::ports::WriterFence>,
    ) -> Result<usize, EngineError> {
        // The write's token is taken before the rows are read: rows are addressed by position,
        // so the time between reading them and writing must be as short as it can be (a column
        // Engineering inserts, or rows they sort, in between would move the target cells). No
        // quota wait may sit in that gap.
        let mut write_permit = false;
        // What the round read, for the check after the write (engine::verify).
        let mut before_headers: Vec<String> = Vec::new();
        let mut before_rows: HashMap<String, Vec<crate::domain::RawCell>> = HashMap::new();
        if !work.is_empty() {
            let wait = match self.quota_permit(QuotaKind::Write).await {
                Ok(QuotaGrant::Granted) => None,
                Ok(QuotaGrant::Wait(d)) => {
                    Some((d, "esperando cuota de Google Sheets".to_string()))
                }
                Err(e) => {
                    self.note_coord_error(&e);
                    Some((self.config.retry_base, e.to_string()))
                }
            };
            if let Some((d, why)) = wait {
                let at = self.clock.now() + chrono::Duration::from_std(d).unwrap_or_default();
                for (cmd, _) in &work {
                    self.store
                        .mark_attempt_failed(&cmd.id, &why, at, cmd.outcome_unknown)?;
                }
                return Ok(0);
            }
            write_permit = true;
        }
        if !work.is_empty() {
            // Every Sheets call takes a token from the fleet's shared bucket first.
            let wait = match self.quota_permit(QuotaKind::Read).await {
                Ok(QuotaGrant::Granted) => None,
                Ok(QuotaGrant::Wait(d)) => {
                    Some((d, "esperando cuota de lectura de Google Sheets".to_string()))
                }
                Err(e) => {
                    self.note_coord_error(&e);
                    Some((self.config.retry_base, e.to_string()))
                }
            };
            if let Some((d, why)) = wait {
                let at = self.clock.now() + chrono::Duration::from_std(d).unwrap_or_default();
                for (cmd, _) in &work {
                    self.store
                        .mark_attempt_failed(&cmd.id, &why, at, cmd.outcome_unknown)?;
                }
                return Ok(0);
            }
            let rows: Vec<u32> = work.iter().map(|(_, r)| *r).collect();
            let read = match self.workbook.read_rows(OPERACIONES, &rows).await {
                Ok(r) => r,
                Err(e) => {
                    self.note_error(&e);
                    let cmds: Vec<OutboxCommand> = work.into_iter().map(|(c, _)| c).collect();
                    self.retry_all(&cmds, &e)?;
                    return Ok(0);
                }
            };
            if !cache.layout.map.matches(&read.headers) {
                // Engineering moved columns: re-map before deciding anything.
                tracing::info!("cabecera de Operaciones cambió; se vuelve a mapear");
                *self.cache.lock().await = None;
                return Ok(0);
            }
            before_headers = read.headers.clone();
            for ((cmd, row), cells) in work.into_iter().zip(read.rows) {
                before_rows.insert(cmd.id.clone(), cells.clone());
                match cache.layout.decode(row, &cells) {
                    Ok(Some(plant)) if plant.tag == cmd.tag => {
                        let retry = cmd.clone();
                        match self.decide(cmd, plant, cache, audit_known).await {
                            Ok(d) => decisions.push(d),
                            Err(EngineError::Coord(e)) => {
                                self.note_coord_error(&e);
                                decisions.push(Decision::Retry {
                                    error: e.to_string(),
                                    outcome_unknown: retry.outcome_unknown,
                                    cmd: retry,
                                });
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(_) => {
                        // Rows moved under us (inserted/deleted): re-map, try again.
                        *self.cache.lock().await = None;
                        decisions.push(Decision::Later);
                    }
                    Err(e) => {
                        // A row made unreadable by this command's own write, shifted by a
                        // column a person inserted while it was in flight: repair it.
                        let landing = if cmd.outcome_unknown
                            && audit_known
                            && self.store.audit_landed(&cmd.id)?
                        {
                            self.store
                                .landing(&cmd.id)?
                                .and_then(|j| {
                                    serde_json::from_str::<super::verify::Written>(&j).ok()
                                })
                                .filter(|w| w.headers != before_headers)
                        } else {
                            None
                        };
                        match landing {
                            Some(w) => decisions.push(Decision::Misdirected {
                                cmd,
                                landing: Box::new(w),
                            }),
                            None => decisions.push(Decision::Retry {
                                error: e.to_string(),
                                outcome_unknown: cmd.outcome_unknown,
                                cmd,
                            }),
                        }
                    }
                }
            }
        }

        let now = self.clock.now();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut new_audits = Vec::new();
        let mut finished = 0;
        let mut writes = Vec::new();
        let mut landed = Vec::new();
        let mut misdirected: Vec<(OutboxCommand, super::verify::Written)> = Vec::new();
        for d in decisions {
            match d {
                Decision::Write { .. } => writes.push(d),
                Decision::Landed { cmd, plant } => landed.push((cmd, plant)),
                Decision::Misdirected { cmd, landing } => misdirected.push((cmd, *landing)),
                Decision::Conflict {
                    cmd,
                    error,
                    winner,
                    plant,
                } => {
                    if matches!(cmd.payload.intent, Intent::Tomar(_)) {
                        // Its claim may hold the occupation lock: a refused TOMAR never keeps
                        // it (compare-and-delete: only this command's own lock goes).
                        if let Err(e) = self.release_mine(&cmd).await {
                            tracing::warn!(tag = %cmd.tag, error = %e, "no se pudo soltar el lock de un TOMAR rechazado; el líder lo liberará");
                            self.note_coord_error(&e);
                        }
                        // Its claim may have been announced: every tablet hears the plant's row
                        // again, whatever refused it (the lock step or the rules).
                        if let Some(row) = &plant {
                            let change = RowChange {
                                tag: cmd.tag.clone(),
                                row: cache.as_sheet(row),
                                command_id: cmd.id.clone(),
                                device_id: cmd.device_id.clone(),
                            };
                            if let Err(e) = self.coord.publish(&change).await {
                                tracing::warn!(tag = %cmd.tag, error = %e, "no se pudo anunciar la corrección");
                                self.note_coord_error(&e);
                            }
                        }
                    }
                    let rec =
                        self.store
                            .record_conflict(&cmd, &error, winner, plant.as_ref(), now)?;
                    if matches!(error, DomainError::SpoolNoEncontrado { .. })
                        && self.store.remove_spool(&cmd.tag)?
                    {
                        // The optimistic row was never the plant's: the replica drops it.
                        tracing::warn!(tag = %cmd.tag, "spool que no está en la planilla quitado de la réplica");
                    }
                    tracing::warn!(tag = %cmd.tag, command = %cmd.id, code = error.code(), "conflicto");
                    touched.insert(cmd.tag.clone());
                    self.announce_conflict(&rec);
                    new_audits.push((rec, cmd));
                    finished += 1;
                }
                Decision::Retry {
                    cmd,
                    error,
                    outcome_unknown,
                } => {
                    tracing::warn!(tag = %cmd.tag, command = %cmd.id, %error, "comando no aplicado; se reintentará");
                    self.store.mark_attempt_failed(
                        &cmd.id,
                        &error,
                        now + self.backoff(cmd.attempts),
                        outcome_unknown,
                    )?;
                }
                Decision::Later => {}
            }
        }

        let mut batch = WriteBatch::default();
        let mut applied: Vec<(OutboxCommand, Box<Transition>)> = Vec::new();
        let mut landing: Vec<super::verify::Written> = Vec::new();
        let mut superseded = super::verify::Superseded::new();
        for d in writes {
            if let Decision::Write {
                cmd,
                transition,
                prior,
                row,
                cells,
                audit,
            } = d
            {
                landing.push(super::verify::Written {
                    command_id: cmd.id.clone(),
                    tag: cmd.tag.clone(),
                    row,
                    after: cache.as_sheet(&transition.after),
                    before: before_rows.remove(&cmd.id).unwrap_or_default(),
                    columns: cells.iter().map(|(c, _)| *c).collect(),
                    headers: before_headers.clone(),
                    prior_version: prior,
                });
                batch.updates.push(RowUpdate {
                    tab: OPERACIONES.into(),
                    row,
                    cells,
                });
                batch.appends.push(Append {
                    tab: METADATA.into(),
                    cells: audit,
                });
                applied.push((cmd, transition));
            }
        }
        // CONFLICTO rows: new ones, and older ones whose write failed. After a write with an
        // unknown outcome, look in the audit read this round first: the row's id is derived
        // from the command id.
        let mut audited: HashMap<String, ()> = HashMap::new();
        let mut landed_audits = Vec::new();
        let PendingAudits {
            conflicts: pending_conflicts,
            discards: pending_discards,
        } = pending_audits;
        let retry_audits = pending_conflicts
            .into_iter()
            .filter(|(_, _, unknown)| !*unknown || audit_known)
            .map(|(rec, cmd, _)| (rec, cmd));
        for (rec, cmd) in new_audits.into_iter().chain(retry_audits) {
            let event = self.conflict_audit(&rec, &cmd);
            if audit_known && self.store.audit_landed(&event.id)? {
                landed_audits.push(cmd.id.clone());
                continue;
            }
            if audited.insert(cmd.id.clone(), ()).is_none() {
                batch.appends.push(Append {
                    tab: METADATA.into(),
                    cells: event.to_row(&cache.metadata),
                });
            }
        }
        self.store.mark_conflicts_audited(&landed_audits)?;
        let mut discards_sent = Vec::new();
        let mut discards_landed = Vec::new();
        for (rec, cmd, supervisor, unknown) in pending_discards {
            if unknown && !audit_known {
                continue;
            }
            let event = self.discard_audit(&rec, &cmd, supervisor);
            if audit_known && self.store.audit_landed(&event.id)? {
                discards_landed.push(cmd.id.clone());
                continue;
            }
            batch.appends.push(Append {
                tab: METADATA.into(),
                cells: event.to_row(&cache.metadata),
            });
            discards_sent.push(cmd.id.clone());
        }
        self.store.mark_discards_audited(&discards_landed, 1)?;

        if !batch.is_empty() {
            let grant = if write_permit {
                Ok(QuotaGrant::Granted)
            } else {
                self.quota_permit(QuotaKind::Write).await
            };
            match grant {
                Ok(QuotaGrant::Granted) => {}
                Ok(QuotaGrant::Wait(d)) => {
                    let at = now + chrono::Duration::from_std(d).unwrap_or_default();
                    for (cmd, _) in &applied {
                        self.store.mark_attempt_failed(
                            &cmd.id,
                            "esperando cuota de Google Sheets",
                            at,
                            cmd.outcome_unknown,
                        )?;
                    }
                    return Ok(finished);
                }
                Err(e) => {
                    for (cmd, _) in &applied {
                        self.store.mark_attempt_failed(
                            &cmd.id,
                            &e.to_string(),
                            now + self.backoff(cmd.attempts),
                            cmd.outcome_unknown,
                        )?;
                    }
                    return Ok(finished);
                }
            }
            // Fence: every row mutex must still be ours right before the write. One lost (a
            // Redis restart) means another device may be deciding on the same rows now.
            if let Some(lost) = self.first_lost_row_mutex(&applied).await {
                let why = format!("mutex de fila perdido ({lost}); se vuelve a leer la fila");
                tracing::warn!(tag = %lost, "mutex de fila perdido antes de escribir; la ronda se repite");
                for (cmd, _) in &applied {
                    self.store.mark_attempt_failed(
                        &cmd.id,
                        &why,
                        now + self.backoff(cmd.attempts),
                        cmd.outcome_unknown,
                    )?;
                }
                return Ok(finished);
            }
            batch.fence = fence.clone();
            let in_flight: Vec<String> = applied.iter().map(|(c, _)| c.id.clone()).collect();
            let landings: Vec<(String, String)> = landing
                .iter()
                .filter_map(|w| {
                    serde_json::to_string(w)
                        .ok()
                        .map(|j| (w.command_id.clone(), j))
                })
                .collect();
            self.store.record_landings(&landings)?;
            self.store.mark_in_flight(&in_flight, true)?;
            super::failpoint::hit_on(self.store.device_id(), "push.before_write");
            let written =
                match tokio::time::timeout(self.config.write_deadline, self.workbook.write(&batch))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err(WorkbookError::OutcomeUnknown(format!(
                        "la escritura no terminó en {} s; se comprobará si llegó",
                        self.config.write_deadline.as_secs()
                    ))),
                };
            if let Err(e) = written {
                self.note_error(&e);
                if matches!(e, WorkbookError::WriterLost(_)) {
                    self.writer_lost();
                }
                if !matches!(e, WorkbookError::OutcomeUnknown(_)) {
                    // It certainly did not land: no need to search the audit log next time.
                    let sure: Vec<String> = applied
                        .iter()
                        .filter(|(c, _)| !c.outcome_unknown)
                        .map(|(c, _)| c.id.clone())
                        .collect();
                    self.store.mark_in_flight(&sure, false)?;
                }
                if matches!(e, WorkbookError::OutcomeUnknown(_)) {
                    let ids: Vec<String> = audited.keys().cloned().collect();
                    self.store.mark_conflicts_audit_unknown(&ids)?;
                    self.store.mark_discards_audited(&discards_sent, 2)?;
                }
                tracing::warn!(error = %e, commands = applied.len(), "escritura en la planilla fallida");
                let cmds: Vec<OutboxCommand> = applied.into_iter().map(|(c, _)| c).collect();
                self.retry_all(&cmds, &e)?;
                return Ok(finished);
            }
            self.note_success();
            if !landing.is_empty() {
                match self.verify_write(&landing, cache, fence.as_ref()).await {
                    Some(later) => superseded = later,
                    None => {
                        // Landed, but not known to be in place: settled next round
                        // (engine::verify).
                        for (cmd, _) in &applied {
                            self.store.mark_attempt_failed(
                                &cmd.id,
                                "escritura sin comprobar; se comprueba en la próxima ronda",
                                now + self.backoff(cmd.attempts),
                                true,
                            )?;
                        }
                        applied.clear();
                    }
                }
            }
            let ids: Vec<String> = audited.into_keys().collect();
            self.store.mark_conflicts_audited(&ids)?;
            self.store.mark_discards_audited(&discards_sent, 1)?;
            finished += discards_sent.len();
        }

        for (cmd, t) in applied {
            // The sheet has it: record that durably first. Redis bookkeeping (applied id, live
            // cache, stream, lock release) is rebuildable: on failure the leader's import and
            // lock reconciliation repair it, so it never turns a landed command into a retry.
            super::failpoint::hit_on(self.store.device_id(), "push.after_write");
            let later = superseded.remove(&cmd.id);
            self.store
                .mark_applied(&cmd.id, later.as_ref().unwrap_or(&t.after), now)?;
            super::failpoint::hit_on(self.store.device_id(), "push.after_mark_applied");
            // A later command already replaced it: that one announces the row, never this
            // older state.
            let announce = later.is_none().then(|| cache.as_sheet(&t.after));
            if let Err(e) = self.after_write(&cmd, announce.as_ref()).await {
                tracing::warn!(tag = %cmd.tag, command = %cmd.id, error = %e, "aplicado en la planilla; coordinación pendiente de reparar");
                self.note_coord_error(&e);
            }
            touched.insert(cmd.tag.clone());
            finished += 1;
        }
        for (cmd, w) in misdirected {
            // Its spool's row mutex is held (it was read this round): repair, then finish the
            // bookkeeping as for any landed command. Its audit row is already in Metadata.
            match self.repair_landing(&w, fence.as_ref()).await {
                Ok(true) => {
                    self.store.mark_applied(&cmd.id, &w.after, now)?;
                    if let Err(e) = self.after_write(&cmd, Some(&w.after)).await {
                        tracing::warn!(tag = %cmd.tag, error = %e, "reparado en la planilla; coordinación pendiente de reparar");
                        self.note_coord_error(&e);
                    }
                    touched.insert(cmd.tag.clone());
                    finished += 1;
                }
                outcome => {
                    if let Err(e) = outcome {
                        tracing::warn!(tag = %cmd.tag, error = %e, "no se pudo reparar la escritura desplazada");
                    }
                    self.store.mark_attempt_failed(
                        &cmd.id,
                        "escritura desplazada pendiente de reparar",
                        now + self.backoff(cmd.attempts),
                        true,
                    )?;
                }
            }
        }
        for (cmd, plant) in landed {
            tracing::info!(tag = %cmd.tag, command = %cmd.id, "el comando ya estaba aplicado; solo se completa el registro");
            self.store.mark_applied(&cmd.id, &plant, now)?;
            if let Err(e) = self.coord.record_applied(&cmd.id).await {
                tracing::warn!(command = %cmd.id, error = %e, "no se pudo registrar el id aplicado en la coordinación");
                self.note_coord_error(&e);
            }
            touched.insert(cmd.tag.clone());
            finished += 1;
        }
        if !touched.is_empty() {
            self.emit(AppEvent::ReplicaChanged {
                tags: touched.into_iter().collect(),
            });
            self.emit(AppEvent::SyncChanged {
                status: self.status(),
            });
        }
        Ok(finished)
    }

    /// The first row (of the commands about to be written) whose mutex is no longer theirs.
    async fn first_lost_row_mutex(
        &self,
        applied: &[(OutboxCommand, Box<Transition>)],
    ) -> Option<String> {
        for (cmd, _) in applied {
            match self
                .coord
                .renew_row_lock(&cmd.tag, &cmd.id, self.config.row_lock_ttl)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Some(cmd.tag.clone()),
                Err(e) => {
                    self.note_coord_error(&e);
                    return Some(cmd.tag.clone());
                }
            }
        }
        None
    }

    async fn renew_row_locks(&self, locked: &[(String, String)]) {
        for (tag, owner) in locked {
            match self
                .coord
                .renew_row_lock(tag, owner, self.config.row_lock_ttl)
                .await
            {
                Ok(true) => {}
                // The fence before the write will stop this round; say so now.
                Ok(false) => tracing::warn!(%tag, "mutex de fila perdido durante la ronda"),
                Err(e) => tracing::warn!(%tag, error = %e, "no se pudo renovar el mutex de fila"),
            }
        }
    }

    /// A token from the fleet's shared Sheets budget. Short waits are waited here, at the
    /// bucket, so the next token goes to a device that is asking for it: one that went back to
    /// its timer would come late and the token would be lost to the burst cap. Longer waits
    /// come back as `Wait` (the commands are retried then).
    async fn quota_permit(&self, kind: QuotaKind) -> Result<QuotaGrant, CoordError> {
        let mut waited = std::time::Duration::ZERO;
        loop {
            match self.coord.take_quota_as(kind, 1, QuotaTaker::PUSH).await? {
                QuotaGrant::Wait(d) if waited + d <= QUOTA_INLINE_WAIT => {
                    // A tap made meanwhile is claimed and announced now: the other tablets see
                    // the occupation within a second even while this round waits for quota.
                    let until = tokio::time::Instant::now() + d;
                    loop {
                        // `biased`: deterministic tie-break (see `Engine::run`).
                        tokio::select! {
                            biased;
                            _ = tokio::time::sleep_until(until) => break,
                            _ = self.wake.notified() => {
                                if let Err(e) = self.claim_once().await {
                                    tracing::warn!(error = %e, "reserva de ocupaciones fallida");
                                }
                            }
                        }
                    }
                    waited += d;
                }
                grant => return Ok(grant),
            }
        }
    }

    /// Bookkeeping after the plant has the write: applied-id record, live publish, locks.
    /// `after`: the row to announce (`None`: a later command already replaced it).
    async fn after_write(
        &self,
        cmd: &OutboxCommand,
        after: Option<&Spool>,
    ) -> Result<(), CoordError> {
        self.coord.record_applied(&cmd.id).await?;
        super::failpoint::hit_on(self.store.device_id(), "push.after_record_applied");
        if let Some(after) = after {
            self.coord
                .publish(&RowChange {
                    tag: cmd.tag.clone(),
                    row: after.clone(),
                    command_id: cmd.id.clone(),
                    device_id: cmd.device_id.clone(),
                })
                .await?;
        }
        super::failpoint::hit_on(self.store.device_id(), "push.after_publish");
        match cmd.payload.intent {
            Intent::Pausar(_) | Intent::Completar(_) | Intent::Cancelar(_) => {
                if let Some(h) = self.coord.occupation_holder(&cmd.tag).await? {
                    if h.worker_id == cmd.worker_id {
                        self.coord.release_occupation(&cmd.tag, &h).await?;
                    }
                }
            }
            Intent::ForzarLiberacion => {
                // Only the ejected occupant's lock goes (compare-and-delete): a TOMAR claimed
                // since by someone else keeps its lock.
                let ejected = cmd
                    .payload
                    .forzar_ocupante
                    .as_deref()
                    .and_then(worker_id_from_token);
                if let Some(h) = self.coord.occupation_holder(&cmd.tag).await? {
                    if ejected.is_none_or(|w| w == h.worker_id) {
                        self.coord.release_occupation(&cmd.tag, &h).await?;
                    }
                }
            }
            Intent::Tomar(_) | Intent::Metrologia { .. } | Intent::Override => {}
        }
        Ok(())
    }
}
