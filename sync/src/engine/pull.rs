//! The pull path: bringing what other devices and people did into this device's replica.
//! Changes arrive as row changes (from the coordinator's stream) or by polling the workbook
//! within the read budget; audit rows are imported incrementally for the history screens.

use super::Engine;
use crate::api::AppEvent;
use crate::domain::sheet::{OperacionesLayout, METADATA, OPERACIONES};
use crate::domain::{AuditEvent, ColumnMap};
use crate::ports::{QuotaGrant, QuotaKind, QuotaTaker, RowChange, WorkbookError};

/// Metadata rows read per import step: one contiguous range, one Sheets call, one read token
/// (a 500,000-row log is 500 steps for a device that never read it; later rounds read only
/// the rows appended since).
const AUDIT_CHUNK: u32 = 1_000;

/// What one audit import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AuditImport {
    pub imported: usize,
    /// It read up to the end of `Metadata`: every row appended before it started is known.
    pub complete: bool,
}

impl Engine {
    /// Applies row changes seen on the stream. Rows with local commands pending keep their
    /// optimistic state; the push path rebases them.
    pub fn apply_changes(
        &self,
        changes: &[RowChange],
    ) -> Result<Vec<String>, crate::store::StoreError> {
        let rows: Vec<_> = changes.iter().map(|c| c.row.clone()).collect();
        let tags = self.store.upsert_plant_rows(&rows)?;
        if !tags.is_empty() {
            self.emit(AppEvent::ReplicaChanged { tags: tags.clone() });
        }
        Ok(tags)
    }

    /// Reads the whole `Operaciones` tab into the replica (fallback without a live stream, and
    /// the leader's import of direct edits). Takes a read token first; returns `Ok(false)` when
    /// the budget says wait.
    pub async fn poll_plant(&self) -> Result<bool, WorkbookError> {
        if let Ok(QuotaGrant::Wait(_)) = self
            .coord
            .take_quota_as(QuotaKind::Read, 1, QuotaTaker::POLL)
            .await
        {
            return Ok(false);
        }
        let read_at = self.clock.now();
        let mark = self.store.replica_mark();
        let grid = self.workbook.read_tab(OPERACIONES).await?;
        let layout =
            OperacionesLayout::from_headers(&grid.headers).map_err(WorkbookError::Schema)?;
        let read = layout.decode_all(&grid.rows);
        for p in &read.problems {
            tracing::warn!(problema = %p, "fila de Operaciones no leída");
        }
        let local = |e: crate::store::StoreError| WorkbookError::Unavailable(e.to_string());
        let mut tags = self
            .store
            .upsert_plant_rows_since(&read.spools, mark)
            .map_err(local)?;
        let present = read.present_tags();
        tags.extend(self.store.remove_missing(&present, mark).map_err(local)?);
        {
            let mut cache = self.cache.lock().await;
            if let Some(c) = cache.as_mut() {
                if c.layout.map.matches(&grid.headers) {
                    c.rows = layout.tag_index(&grid.rows);
                    c.read_at = read_at;
                } else {
                    *cache = None;
                }
            }
        }
        if !tags.is_empty() {
            self.emit(AppEvent::ReplicaChanged { tags });
        }
        self.note_success();
        Ok(true)
    }

    /// Imports new `Metadata` rows (after the last one seen) into the local audit, so the
    /// history screens show what every device did. Returns how many events were imported.
    pub async fn import_audit(&self) -> Result<usize, WorkbookError> {
        Ok(self.import_audit_progress().await?.imported)
    }

    /// Reads `Metadata` from the row after the last one this device has seen, a block per read
    /// token, until the end or until the shared budget says wait. One import runs at a time.
    pub(crate) async fn import_audit_progress(&self) -> Result<AuditImport, WorkbookError> {
        self.import_audit_patient(std::time::Duration::ZERO).await
    }

    /// [`Engine::import_audit_progress`], waiting at the shared bucket up to `patience` for
    /// each read token (a device that must settle a write of unknown outcome needs this read
    /// before anything else: without waiting, its own push rounds took the tokens first).
    pub(crate) async fn import_audit_patient(
        &self,
        patience: std::time::Duration,
    ) -> Result<AuditImport, WorkbookError> {
        let _one_at_a_time = self.audit_import.lock().await;
        let local = |e: crate::store::StoreError| WorkbookError::Unavailable(e.to_string());
        let seen: u32 = self
            .store
            .setting("metadata_rows_seen")
            .map_err(local)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut next = seen;
        let mut done = AuditImport::default();
        loop {
            let mut waited = std::time::Duration::ZERO;
            loop {
                match self
                    .coord
                    .take_quota_as(QuotaKind::Read, 1, QuotaTaker::AUDIT)
                    .await
                {
                    Ok(QuotaGrant::Wait(d)) if waited + d <= patience => {
                        tokio::time::sleep(d).await;
                        waited += d;
                    }
                    Ok(QuotaGrant::Wait(_)) => return Ok(done),
                    Ok(QuotaGrant::Granted) => break,
                    // No coordinator to ask (Redis down): this device alone decides its pace.
                    Err(e) => {
                        self.note_coord_error(&e);
                        break;
                    }
                }
            }
            let first = next + 2;
            let read = self
                .workbook
                .read_row_range(METADATA, first, first + AUDIT_CHUNK - 1)
                .await?;
            let map = ColumnMap::from_headers(&read.headers);
            let filled = read
                .rows
                .iter()
                .rposition(|r| r.iter().any(|c| !c.is_empty()))
                .map_or(0, |i| i + 1);
            let mut events = Vec::new();
            for row in &read.rows[..filled] {
                match AuditEvent::from_row(&map, row) {
                    Ok(Some(e)) => events.push(e),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "fila de Metadata ilegible; se omite"),
                }
            }
            done.imported += events.len();
            self.store.record_plant_events(&events).map_err(local)?;
            next += filled as u32;
            self.store
                .set_setting("metadata_rows_seen", &next.to_string())
                .map_err(local)?;
            if (filled as u32) < AUDIT_CHUNK {
                done.complete = true;
                return Ok(done);
            }
        }
    }

    /// Plant mode: brings the audit log (for the history screens) and the workers list in the
    /// background, within the read budget, instead of making every restarting tablet read the
    /// whole workbook at once (a shift-start stampede would exhaust the fleet's quota).
    pub async fn run_refresh(self: std::sync::Arc<Self>, first_after: std::time::Duration) {
        let mut stop = self.stop.subscribe();
        let mut wait = first_after;
        let mut rounds: u64 = 0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
            if rounds.is_multiple_of(10) {
                if let Err(e) = self.load_snapshot_within_budget().await {
                    tracing::warn!(error = %e, "no se pudo refrescar la planta");
                }
            }
            match self.import_audit().await {
                Ok(n) if n > 0 => tracing::info!(eventos = n, "auditoría importada"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "no se pudo importar la auditoría"),
            }
            rounds += 1;
            wait = std::time::Duration::from_secs(60);
        }
    }

    /// Sheets-only mode: while the coordinator (Redis) cannot be reached, no change stream
    /// arrives, so the replica is refreshed by reading the sheet itself, at most once per
    /// `every` per device (the shared quota cannot be coordinated then, so stay well under it).
    pub async fn run_sheets_fallback(self: std::sync::Arc<Self>, every: std::time::Duration) {
        let mut stop = self.stop.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
            let coord_down = !self
                .health
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .coord_reachable;
            if coord_down {
                match self.poll_plant().await {
                    Ok(_) => tracing::info!("réplica refrescada desde la planilla (sin Redis)"),
                    Err(e) => tracing::warn!(error = %e, "no se pudo leer la planilla sin Redis"),
                }
            }
        }
    }

    /// A plant device's load of the whole sheet, within the fleet's read budget: each step
    /// waits for the tokens of its calls, taken together, so a fleet of fresh tablets started
    /// together does not burst past Google's per-minute limit (the first screen shows the
    /// loading state meanwhile). Without a reachable coordinator the budget cannot be asked
    /// and the load goes ahead.
    pub async fn load_snapshot_within_budget(&self) -> Result<Vec<String>, WorkbookError> {
        self.load_snapshot_paced(true).await
    }

    /// Waits until the budget grants `n` read tokens at once.
    pub(crate) async fn wait_read_tokens(&self, n: u32) {
        loop {
            match self
                .coord
                .take_quota_as(QuotaKind::Read, n, QuotaTaker::LOAD)
                .await
            {
                Ok(QuotaGrant::Granted) | Err(_) => return,
                Ok(QuotaGrant::Wait(d)) => {
                    tracing::debug!(
                        espera_ms = d.as_millis() as u64,
                        "lectura de la planilla esperando cuota"
                    );
                    tokio::time::sleep(d).await
                }
            }
        }
    }
}
