//! Leader duties (ARCHITECTURE.md §4): one device at a time, chosen by a lease in the
//! coordinator, keeps the coordinator in step with the sheet.
//!
//! - **Warm** after Redis lost its data (no epoch): the live cache is filled from the sheet and
//!   a new epoch tells every device to reload from it.
//! - **Import** edits made by people directly in the sheet: poll `Operaciones` within the read
//!   budget, find rows whose hash differs from what the leader last knew and from the live
//!   cache, and publish them. An edit that un-blocks a spool (`Estado_Reparacion` BLOQUEADO →
//!   anything else, with no app command: `version` unchanged) is audited as
//!   `SUPERVISOR_OVERRIDE` by worker 0 / SYSTEM.
//! - **Reconcile** occupation locks with `Ocupado_Por`: an occupant without a lock gets it back
//!   (`{worker_id}:{version}`, the TOMAR that started it); a lock without that occupant is
//!   released after a grace period (a TOMAR may hold it while waiting for quota).
//!
//! Every fix of a row happens under that row's write mutex and on a fresh read of the row, so
//! it never races a device's read-check-write. Nothing here decides a domain rule.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Engine;
use crate::domain::sheet::{decode_workers, OperacionesLayout, OPERACIONES, ROLES, TRABAJADORES};
use crate::domain::time::santiago;
use crate::domain::worker::worker_id_from_token;
use crate::domain::{AuditEvent, EventType, Spool};
use crate::ports::{
    row_hash, Acquire, Append, CoordError, LockHolder, QuotaGrant, QuotaKind, QuotaTaker,
    RowChange, WorkbookError, WriteBatch,
};

#[derive(Debug, Clone)]
pub struct LeaderConfig {
    /// A dead leader is replaced within this: the lease lives 3/5 of it and is renewed (and
    /// tried by the others) every 1/5, so a lapsed lease is taken within 4/5 of it (the rest
    /// is margin for slow timers on a busy tablet).
    pub lease_period: Duration,
    /// How often the sheet is polled for direct edits (one read per poll, plus one when rows
    /// need fixing). 10 s = 6 of the fleet's 50 reads per minute.
    pub poll_interval: Duration,
    /// A lock whose occupant the sheet does not show is released after this.
    pub orphan_grace: Duration,
    /// Row mutex held while the leader fixes a row.
    pub row_lock_ttl: Duration,
    /// Every this many rounds the leader reads `Trabajadores` and `Roles` (two reads) and
    /// publishes them when they changed: a worker added mid-shift reaches every tablet.
    pub workers_every: u32,
}

impl Default for LeaderConfig {
    fn default() -> Self {
        LeaderConfig {
            lease_period: Duration::from_secs(15),
            poll_interval: Duration::from_secs(10),
            orphan_grace: Duration::from_secs(120),
            row_lock_ttl: Duration::from_secs(10),
            workers_every: 6,
        }
    }
}

impl LeaderConfig {
    fn lease_ttl(&self) -> Duration {
        self.lease_period * 3 / 5
    }

    fn renew_every(&self) -> Duration {
        (self.lease_period / 5).max(Duration::from_millis(10))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(transparent)]
    Workbook(#[from] WorkbookError),
    #[error(transparent)]
    Coord(#[from] CoordError),
    #[error("cuota de Google Sheets: se reintenta en {0:?}")]
    Quota(Duration),
    #[error("Metadata aún no se ha leído hasta el final; se reintenta")]
    AuditBehind,
}

/// What one round of duties did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Rows added to a cold live cache (Redis restarted).
    pub warmed: Option<usize>,
    pub imported: usize,
    pub overrides: usize,
    pub locks_restored: usize,
    pub locks_released: usize,
    /// The workers list changed in the sheet and was published.
    pub workers_published: bool,
}

impl TickReport {
    pub fn is_quiet(&self) -> bool {
        *self == TickReport::default()
    }
}

/// A lock and its row that disagree.
#[derive(Debug, Clone, PartialEq)]
enum LockFix {
    /// The sheet shows an occupant and there is no lock.
    Restore,
    /// The lock names someone the sheet does not show as occupant (grace period over).
    Release(LockHolder),
}

/// What the leader remembers between rounds (lost with the lease: a new leader starts over).
#[derive(Debug, Default)]
pub struct LeaderDuties {
    cfg: LeaderConfig,
    /// Row hash the leader last saw in both the sheet and the cache.
    known: HashMap<String, String>,
    /// Locks that disagree with the sheet, and since when.
    suspects: HashMap<String, (LockHolder, DateTime<Utc>)>,
    /// Rounds done (the workers list is read every `workers_every`).
    rounds: u64,
}

impl LeaderDuties {
    pub fn new(cfg: LeaderConfig) -> LeaderDuties {
        LeaderDuties {
            cfg,
            ..LeaderDuties::default()
        }
    }

    /// One round: warm when cold, else import direct edits and reconcile locks.
    pub async fn tick(&mut self, engine: &Engine) -> Result<TickReport, LeaderError> {
        let mut report = TickReport::default();
        let cold = engine.coord.epoch().await?.is_none();
        let (layout, rows) = engine.read_operaciones(&self.cfg).await?;
        if cold {
            report.warmed = Some(engine.coord.warm_live(&rows).await?);
            // Warming never overwrites (a device's fresher publish may be there), so the cache
            // can still hold rows older than this read — e.g. from a warm cut short when the
            // lease moved. Forget what is "known": the next round compares every row of the
            // sheet with the cache and re-announces whatever differs.
            self.known.clear();
        } else {
            self.import_edits(engine, &layout, &rows, &mut report)
                .await?;
        }
        self.reconcile_locks(engine, &layout, &rows, &mut report)
            .await?;
        let every = u64::from(self.cfg.workers_every.max(1));
        if self.rounds.is_multiple_of(every) {
            report.workers_published = engine.publish_workers(&self.cfg).await?;
        }
        self.rounds += 1;
        if cold {
            // Last: devices reload from the cache only once it is complete.
            let epoch = format!(
                "{}@{}",
                engine.store.device_id(),
                engine.clock.now().timestamp_millis()
            );
            engine.coord.set_epoch(&epoch).await?;
            tracing::info!(rows = rows.len(), %epoch, "caché en vivo reconstruida desde la planilla");
        }
        Ok(report)
    }

    async fn import_edits(
        &mut self,
        engine: &Engine,
        layout: &OperacionesLayout,
        rows: &[Spool],
        report: &mut TickReport,
    ) -> Result<(), LeaderError> {
        let changed: Vec<&Spool> = rows
            .iter()
            .filter(|r| self.known.get(&r.tag) != Some(&row_hash(r)))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let tags: Vec<String> = changed.iter().map(|r| r.tag.clone()).collect();
        let cached = engine.coord.live_rows(&tags).await?;
        let mut suspects = Vec::new();
        for (row, live) in changed.into_iter().zip(cached) {
            let h = row_hash(row);
            if live.as_ref().map(|l| &l.hash) == Some(&h) {
                // A device published it already.
                self.known.insert(row.tag.clone(), h);
            } else {
                suspects.push(row.clone());
            }
        }
        if suspects.is_empty() {
            return Ok(());
        }
        let owner = engine.leader_owner();
        let locked = engine.lock_rows(&suspects, &owner, &self.cfg).await?;
        let result = self.import_locked(engine, layout, &locked, report).await;
        engine.unlock_rows(&locked, &owner).await;
        result
    }

    async fn import_locked(
        &mut self,
        engine: &Engine,
        layout: &OperacionesLayout,
        locked: &[Spool],
        report: &mut TickReport,
    ) -> Result<(), LeaderError> {
        let fresh = engine.fresh_rows(layout, locked, &self.cfg).await?;
        let tags: Vec<String> = fresh.iter().map(|r| r.tag.clone()).collect();
        let cached = engine.coord.live_rows(&tags).await?;
        // Whether Metadata has been read to its end this round (None: not tried yet).
        let mut audit_complete: Option<bool> = None;
        for (row, live) in fresh.into_iter().zip(cached) {
            let h = row_hash(&row);
            let before = live.as_ref().map(|l| l.hash.clone());
            if before.as_deref() == Some(h.as_str()) {
                self.known.insert(row.tag.clone(), h);
                continue;
            }
            // A new `version` is an app write (people never type command ids). Its audit row
            // names the spool it was meant for: another spool means the write landed on the
            // wrong row (rows sorted or a column inserted while it was in flight) — its writer
            // repairs it from the live row, which must not take the misdirected state.
            if live.as_ref().is_some_and(|l| l.row.version != row.version) {
                let mut meant = engine.store.audit_tag(&row.version).ok().flatten();
                if meant.is_none() && audit_complete.is_none() {
                    audit_complete = Some(engine.import_audit_progress().await?.complete);
                    meant = engine.store.audit_tag(&row.version).ok().flatten();
                }
                if meant.is_none() && audit_complete != Some(true) {
                    // Not known yet which spool that write was for: decide next round.
                    continue;
                }
                if meant.as_deref().is_some_and(|t| t != row.tag) {
                    tracing::error!(tag = %row.tag, version = %row.version, "fila escrita por un comando de otro spool (escritura desplazada): no se importa; la repara quien la escribió");
                    continue;
                }
            }
            let unblocked = live.as_ref().is_some_and(|l| {
                l.row.is_blocked() && !row.is_blocked() && l.row.version == row.version
            });
            if unblocked {
                // Audit first: if the leader dies right after, the next one sees the same
                // difference and audits it (same event id, found in Metadata first, so the
                // row is never appended twice) rather than never.
                if engine.audit_manual_override(&row, &self.cfg).await? {
                    report.overrides += 1;
                }
            }
            let change = RowChange {
                tag: row.tag.clone(),
                row: row.clone(),
                // No command made this change: a person edited the sheet.
                command_id: String::new(),
                device_id: engine.store.device_id().to_string(),
            };
            if engine.coord.publish_if(&change, before.as_deref()).await? {
                let fields = live
                    .as_ref()
                    .map_or_else(|| vec!["(fila nueva)"], |l| differing_fields(&l.row, &row));
                tracing::info!(tag = %row.tag, campos = ?fields, "edición directa en la planilla importada");
                report.imported += 1;
                self.known.insert(row.tag.clone(), h);
            }
        }
        Ok(())
    }

    /// Compares each row's occupant with its lock; fixes what disagrees (see module docs).
    async fn reconcile_locks(
        &mut self,
        engine: &Engine,
        layout: &OperacionesLayout,
        rows: &[Spool],
        report: &mut TickReport,
    ) -> Result<(), LeaderError> {
        let tags: Vec<String> = rows.iter().map(|r| r.tag.clone()).collect();
        let holders = engine.coord.occupation_holders(&tags).await?;
        let now = engine.clock.now();
        let grace = chrono::Duration::from_std(self.cfg.orphan_grace).unwrap_or_default();
        let mut fixes: Vec<Spool> = Vec::new();
        // Locks whose grace is over (only these may be released).
        let mut ripe = HashSet::new();
        let mut still_suspect = HashMap::new();
        for (row, holder) in rows.iter().zip(holders) {
            match lock_fix(row, holder.as_ref()) {
                None => {}
                Some(LockFix::Restore) => fixes.push(row.clone()),
                Some(LockFix::Release(h)) => {
                    let since = match self.suspects.get(&row.tag) {
                        Some((seen, since)) if *seen == h => *since,
                        _ => now,
                    };
                    if now - since >= grace {
                        fixes.push(row.clone());
                        ripe.insert(row.tag.clone());
                    }
                    still_suspect.insert(row.tag.clone(), (h, since));
                }
            }
        }
        self.suspects = still_suspect;
        if fixes.is_empty() {
            return Ok(());
        }
        let owner = engine.leader_owner();
        let locked = engine.lock_rows(&fixes, &owner, &self.cfg).await?;
        let result = self.fix_locks(engine, layout, &locked, &ripe, report).await;
        engine.unlock_rows(&locked, &owner).await;
        result
    }

    async fn fix_locks(
        &mut self,
        engine: &Engine,
        layout: &OperacionesLayout,
        locked: &[Spool],
        ripe: &HashSet<String>,
        report: &mut TickReport,
    ) -> Result<(), LeaderError> {
        let fresh = engine.fresh_rows(layout, locked, &self.cfg).await?;
        for row in fresh {
            let holder = engine.coord.occupation_holder(&row.tag).await?;
            match lock_fix(&row, holder.as_ref()) {
                None => {}
                Some(LockFix::Restore) => {
                    report.locks_restored += usize::from(restore_lock(engine, &row).await?);
                }
                Some(LockFix::Release(h)) => {
                    // Only the exact lock judged orphaned goes, and only after its grace.
                    let judged = self.suspects.get(&row.tag).map(|(s, _)| s) == Some(&h);
                    if !judged || !ripe.contains(&row.tag) {
                        continue;
                    }
                    if engine.coord.release_occupation(&row.tag, &h).await? {
                        tracing::warn!(tag = %row.tag, holder = %h.encode(), "lock de ocupación sin ocupante en la planilla; liberado");
                        report.locks_released += 1;
                        self.suspects.remove(&row.tag);
                        if row.is_occupied() && restore_lock(engine, &row).await? {
                            report.locks_restored += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// FNV-1a of a text, as hex (stable across devices and compilers).
pub(crate) fn fnv_hex(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The fields in which two states of a row differ (the leader's import log says which).
fn differing_fields(a: &Spool, b: &Spool) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, same: bool| {
        if !same {
            out.push(name);
        }
    };
    check("fila", a.row == b.row);
    check("NV", a.nv == b.nv);
    check("Fecha_Materiales", a.fecha_materiales == b.fecha_materiales);
    check("Armador", a.armador == b.armador);
    check("Fecha_Armado", a.fecha_armado == b.fecha_armado);
    check("Soldador", a.soldador == b.soldador);
    check("Fecha_Soldadura", a.fecha_soldadura == b.fecha_soldadura);
    check(
        "Fecha_QC_Metrología",
        a.fecha_qc_metrologia == b.fecha_qc_metrologia,
    );
    check("Ocupado_Por", a.ocupado_por == b.ocupado_por);
    check("Fecha_Ocupacion", a.fecha_ocupacion == b.fecha_ocupacion);
    check(
        "Operacion_Ocupacion",
        a.operacion_ocupacion == b.operacion_ocupacion,
    );
    check(
        "Resultado_Metrologia",
        a.resultado_metrologia == b.resultado_metrologia,
    );
    check("Ciclo_Reparacion", a.ciclo_reparacion == b.ciclo_reparacion);
    check(
        "Estado_Reparacion",
        a.estado_reparacion == b.estado_reparacion,
    );
    check("Defecto_Origen", a.defecto_origen == b.defecto_origen);
    check(
        "Ocupacion_Inicia",
        a.occupation_set_worker == b.occupation_set_worker,
    );
    check("version", a.version == b.version);
    check("Estado_Detalle", a.estado_detalle == b.estado_detalle);
    out
}

/// How a row's occupation and its lock disagree, if they do.
fn lock_fix(row: &Spool, holder: Option<&LockHolder>) -> Option<LockFix> {
    let occupant = row.ocupado_por.as_deref().and_then(worker_id_from_token);
    match (occupant, holder) {
        (None, None) => None,
        (Some(w), Some(h)) if h.worker_id == w => None,
        (Some(_), None) => Some(LockFix::Restore),
        (_, Some(h)) => Some(LockFix::Release(h.clone())),
    }
}

async fn restore_lock(engine: &Engine, row: &Spool) -> Result<bool, CoordError> {
    let Some(worker_id) = row.ocupado_por.as_deref().and_then(worker_id_from_token) else {
        return Ok(false);
    };
    let holder = LockHolder {
        worker_id,
        command_id: row.version.clone(),
    };
    let got = engine.coord.acquire_occupation(&row.tag, &holder).await?;
    if got == Acquire::Acquired {
        tracing::info!(tag = %row.tag, holder = %holder.encode(), "lock de ocupación restituido desde la planilla");
    }
    Ok(got == Acquire::Acquired)
}

impl Engine {
    fn leader_owner(&self) -> String {
        format!("lider:{}", self.store.device_id())
    }

    /// Takes one token of the fleet's read budget, waiting for it up to one poll interval.
    async fn read_budget(&self, cfg: &LeaderConfig) -> Result<(), LeaderError> {
        loop {
            match self
                .coord
                .take_quota_as(QuotaKind::Read, 1, QuotaTaker::LEADER)
                .await?
            {
                QuotaGrant::Granted => return Ok(()),
                QuotaGrant::Wait(d) if d <= cfg.poll_interval => tokio::time::sleep(d).await,
                QuotaGrant::Wait(d) => return Err(LeaderError::Quota(d)),
            }
        }
    }

    async fn write_budget(&self, cfg: &LeaderConfig) -> Result<(), LeaderError> {
        loop {
            match self
                .coord
                .take_quota_as(QuotaKind::Write, 1, QuotaTaker::LEADER)
                .await?
            {
                QuotaGrant::Granted => return Ok(()),
                QuotaGrant::Wait(d) if d <= cfg.poll_interval => tokio::time::sleep(d).await,
                QuotaGrant::Wait(d) => return Err(LeaderError::Quota(d)),
            }
        }
    }

    /// The whole `Operaciones` tab, decoded (unreadable rows are logged and skipped).
    async fn read_operaciones(
        &self,
        cfg: &LeaderConfig,
    ) -> Result<(OperacionesLayout, Vec<Spool>), LeaderError> {
        self.read_budget(cfg).await?;
        let grid = self.workbook.read_tab(OPERACIONES).await?;
        let layout =
            OperacionesLayout::from_headers(&grid.headers).map_err(WorkbookError::Schema)?;
        let read = layout.decode_all(&grid.rows);
        for p in &read.problems {
            tracing::warn!(problema = %p, "fila de Operaciones no leída por el líder");
        }
        Ok((layout, read.spools))
    }

    /// Row mutexes for these rows; rows busy with a device's write are skipped this round.
    async fn lock_rows(
        &self,
        rows: &[Spool],
        owner: &str,
        cfg: &LeaderConfig,
    ) -> Result<Vec<Spool>, CoordError> {
        let mut locked = Vec::new();
        for r in rows {
            if self.coord.lock_row(&r.tag, owner, cfg.row_lock_ttl).await? {
                locked.push(r.clone());
            }
        }
        Ok(locked)
    }

    async fn unlock_rows(&self, rows: &[Spool], owner: &str) {
        for r in rows {
            if let Err(e) = self.coord.unlock_row(&r.tag, owner).await {
                // It expires on its own (PX).
                tracing::warn!(tag = %r.tag, error = %e, "no se pudo soltar el mutex de fila del líder");
            }
        }
    }

    /// The rows as the sheet has them now (read under their mutexes). A row that moved or
    /// changed TAG since the poll is left for the next round.
    async fn fresh_rows(
        &self,
        layout: &OperacionesLayout,
        rows: &[Spool],
        cfg: &LeaderConfig,
    ) -> Result<Vec<Spool>, LeaderError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.read_budget(cfg).await?;
        let numbers: Vec<u32> = rows.iter().map(|r| r.row).collect();
        let read = self.workbook.read_rows(OPERACIONES, &numbers).await?;
        if !layout.map.matches(&read.headers) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (want, cells) in rows.iter().zip(read.rows) {
            match layout.decode(want.row, &cells) {
                Ok(Some(s)) if s.tag == want.tag => out.push(s),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "fila ilegible al releerla"),
            }
        }
        Ok(out)
    }

    /// Reads the workers and roles from the sheet and, when they differ from what the
    /// coordinator holds, publishes them (every tablet picks them up: `sync_workers`).
    async fn publish_workers(&self, cfg: &LeaderConfig) -> Result<bool, LeaderError> {
        self.read_budget(cfg).await?;
        let trab = self.workbook.read_tab(TRABAJADORES).await?;
        self.read_budget(cfg).await?;
        let roles = self.workbook.read_tab(ROLES).await?;
        let (workers, problems) = decode_workers(&trab, &roles).map_err(WorkbookError::Schema)?;
        for p in &problems {
            tracing::warn!(hoja = %p.tab, fila = p.row, problema = %p.message, "fila de trabajadores no leída por el líder");
        }
        let json = serde_json::to_string(&workers)
            .map_err(|e| LeaderError::Coord(CoordError::Protocol(e.to_string())))?;
        let hash = fnv_hex(&json);
        if self.coord.workers_hash().await?.as_deref() == Some(hash.as_str()) {
            return Ok(false);
        }
        self.coord.put_workers(&hash, &json).await?;
        tracing::info!(
            trabajadores = workers.len(),
            "lista de trabajadores publicada"
        );
        Ok(true)
    }

    /// `SUPERVISOR_OVERRIDE` by SYSTEM for a spool a person un-blocked in the sheet. Returns
    /// `false` when `Metadata` already has it (an earlier leader wrote it and died before
    /// publishing the row).
    async fn audit_manual_override(
        &self,
        row: &Spool,
        cfg: &LeaderConfig,
    ) -> Result<bool, LeaderError> {
        let cache = match self.cache.lock().await.clone() {
            Some(c) => c,
            None => self.load_cache().await?,
        };
        let now = santiago(self.clock.now());
        let event = AuditEvent {
            id: uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("zeues:override-manual:{}:{}", row.tag, row_hash(row)).as_bytes(),
            )
            .to_string(),
            timestamp: now,
            event_type: EventType::SupervisorOverride,
            tag: row.tag.clone(),
            worker_id: 0,
            worker_nombre: "SYSTEM".into(),
            operacion: "REPARACION".into(),
            accion: "OVERRIDE".into(),
            fecha_operacion: now.date(),
            metadata: serde_json::json!({
                "origen": "edicion_directa_planilla",
                "estado_anterior": "BLOQUEADO",
                "estado_nuevo": row.estado_reparacion.map_or("", |e| e.code()),
                "ciclo": row.ciclo_reparacion,
                "version": row.version,
                "detectado_por": self.store.device_id(),
            }),
        };
        // Metadata is append-only and never deduplicates: look for the id before appending.
        let import = self.import_audit_progress().await?;
        if !import.complete {
            return Err(LeaderError::AuditBehind);
        }
        if self
            .store
            .audit_landed(&event.id)
            .map_err(|e| LeaderError::Workbook(WorkbookError::Unavailable(e.to_string())))?
        {
            tracing::info!(tag = %row.tag, "el desbloqueo manual ya estaba auditado");
            return Ok(false);
        }
        let fence = if self.config.single_writer {
            match self.writer_fence().await? {
                Some(f) => Some(f),
                // Another device writes this spreadsheet: it audits what it sees.
                None => return Ok(false),
            }
        } else {
            None
        };
        self.write_budget(cfg).await?;
        self.workbook
            .write(&WriteBatch {
                updates: Vec::new(),
                appends: vec![Append {
                    tab: crate::domain::sheet::METADATA.into(),
                    cells: event.to_row(&cache.metadata),
                }],
                fence,
            })
            .await?;
        tracing::warn!(tag = %row.tag, "spool desbloqueado a mano en la planilla; SUPERVISOR_OVERRIDE registrado");
        Ok(true)
    }

    /// Takes the lease when free or renews it; `false` when another device leads or the
    /// coordinator is unreachable.
    async fn hold_lease(&self, cfg: &LeaderConfig) -> bool {
        match self
            .coord
            .lease(self.store.device_id(), cfg.lease_ttl())
            .await
        {
            Ok(held) => {
                self.note_coord_ok();
                held
            }
            Err(e) => {
                tracing::debug!(error = %e, "no se pudo renovar el liderazgo");
                self.note_coord_error(&e);
                false
            }
        }
    }

    /// Competes for the lease and, while holding it, does the leader's duties, until
    /// shutdown. Renewal goes on while a round of duties runs; losing the lease stops them.
    pub async fn run_leader(self: Arc<Self>, cfg: LeaderConfig) {
        let mut stop = self.stop.subscribe();
        let mut duties: Option<LeaderDuties> = None;
        let mut next_round = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if !self.hold_lease(&cfg).await {
                if duties.take().is_some() {
                    tracing::warn!("liderazgo perdido");
                }
            } else {
                if duties.is_none() {
                    tracing::info!(device = %self.store.device_id(), "este equipo asume como líder");
                    next_round = tokio::time::Instant::now();
                }
                let d = duties.get_or_insert_with(|| LeaderDuties::new(cfg.clone()));
                if tokio::time::Instant::now() >= next_round {
                    let (outcome, kept) = self.round(d, &cfg, &mut stop).await;
                    next_round = tokio::time::Instant::now()
                        + match outcome {
                            // Right after a warm, look again soon: writes that landed while the
                            // warm read the sheet (their publish lost with the old Redis) are
                            // found and re-announced within seconds, not a whole poll later.
                            Some(Ok(rep)) if rep.warmed.is_some() => cfg.renew_every(),
                            // Without Redis a device that is not the spreadsheet's writer only
                            // watches: it polls at a sixth of the pace, so the one writer keeps
                            // Google's budget (no shared bucket paces devices without Redis).
                            Some(Ok(_)) if self.writer_refusal().is_some() => cfg.poll_interval * 6,
                            Some(Ok(_)) => cfg.poll_interval,
                            _ => cfg.renew_every(),
                        };
                    if !kept {
                        duties = None;
                        tracing::warn!("liderazgo perdido durante una ronda");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(cfg.renew_every()) => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(e) = self.coord.resign(self.store.device_id()).await {
            tracing::debug!(error = %e, "no se pudo ceder el liderazgo al detenerse");
        }
    }

    /// One round of duties with the lease renewed alongside. Returns the round's outcome
    /// (`None`: cut short) and whether the lease is still held.
    async fn round(
        &self,
        duties: &mut LeaderDuties,
        cfg: &LeaderConfig,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> (Option<Result<TickReport, LeaderError>>, bool) {
        let tick = duties.tick(self);
        tokio::pin!(tick);
        let every = cfg.renew_every();
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            // `biased`: deterministic tie-break (see `Engine::run`).
            tokio::select! {
                biased;
                r = &mut tick => {
                    match &r {
                        Ok(rep) if !rep.is_quiet() => tracing::info!(?rep, "ronda del líder"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "ronda del líder fallida"),
                    }
                    return (Some(r), true);
                }
                _ = renew.tick() => {
                    if !self.hold_lease(cfg).await {
                        return (None, false);
                    }
                }
                _ = stop.changed() => return (None, true),
            }
        }
    }
}

#[cfg(test)]
mod tests;
