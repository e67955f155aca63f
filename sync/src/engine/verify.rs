//! A write lands where the rows *were*: Google Sheets addresses cells by position, and a person
//! may insert a column or sort the rows between the round's read and its write (there is no
//! conditional write in the Sheets API). So every write is read back: each written row must
//! still hold its spool with the command's `version` under the same header. When it does not,
//! the write was misdirected, and it is repaired at once, still under the round's row mutexes:
//! the intended spools get their new state where they are now; another spool whose cells were
//! overwritten gets its last known state back (the live cache, else this device's replica); a
//! cell outside the app's columns that the write hit gets back what the round read there
//! before the write (a column inserted just then: empty). The audit row landed once and stays.

use std::collections::{HashMap, HashSet};

use super::{Engine, PlantCache};
use crate::domain::sheet::{cell_of, Col, OperacionesLayout, OPERACIONES};
use crate::domain::{CellValue, RawCell, Spool};
use crate::ports::{
    QuotaKind, QuotaTaker, RowChange, RowUpdate, WorkbookError, WriteBatch, WriterFence,
};

/// What one command of the round wrote, and what the round read there before.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Written {
    pub command_id: String,
    pub tag: String,
    /// 1-based sheet row the write was addressed to.
    pub row: u32,
    pub after: Spool,
    /// The row as read before the write (old layout), to give back cells outside the app's
    /// columns that a shifted write overwrote.
    pub before: Vec<RawCell>,
    /// 0-based columns written (old layout).
    pub columns: Vec<usize>,
    /// The header row the round read (the old layout).
    pub headers: Vec<String>,
    /// The spool's `version` when it was read for this write: still there later means the
    /// write never reached it.
    pub prior_version: String,
}

/// A cell read before the write, written back. A boolean (a checkbox) cannot be written as
/// the app writes values; it goes back as its text.
fn restored(c: &RawCell) -> CellValue {
    match c {
        RawCell::Empty => CellValue::Empty,
        RawCell::Text(t) => CellValue::text(t.clone()),
        RawCell::Number(n) => CellValue::Number(*n),
        RawCell::Bool(b) => CellValue::text(if *b { "TRUE" } else { "FALSE" }),
    }
}

/// The spool's row, under the same headers, holds neither this command nor what was there
/// before it: the write landed in place and a later command (which read it, under its own row
/// mutex: the write's answer can come back after the mutex expired) has replaced it since.
fn superseded(now: &Spool, w: &Written, headers: &[String]) -> bool {
    headers == w.headers.as_slice() && now.version != w.command_id && now.version != w.prior_version
}

/// Commands whose row a later command replaced before the write was read back, with the row as
/// read then.
pub(crate) type Superseded = HashMap<String, Spool>;

/// How many times a repair is written and checked again before giving up loudly.
const REPAIR_ATTEMPTS: usize = 3;

fn app_cells(
    layout: &OperacionesLayout,
    s: &Spool,
) -> Result<Vec<(usize, CellValue)>, WorkbookError> {
    let changes: Vec<(Col, CellValue)> = Col::ALL
        .into_iter()
        .filter(|c| c.is_written())
        .map(|c| (c, cell_of(s, c)))
        .collect();
    layout.encode(&changes).map_err(WorkbookError::Schema)
}

impl Engine {
    /// Reads the written rows back. `Some` when every one still holds its spool and command, or
    /// a later command's that replaced it (those, with the row as read now: see [`superseded`]).
    async fn written_in_place(
        &self,
        written: &[Written],
        cache: &PlantCache,
    ) -> Result<Option<Superseded>, WorkbookError> {
        self.wait_read_token().await;
        let rows: Vec<u32> = written.iter().map(|w| w.row).collect();
        let back = self.workbook.read_rows(OPERACIONES, &rows).await?;
        if !cache.layout.map.matches(&back.headers) {
            return Ok(None);
        }
        let mut later = Superseded::new();
        for (w, cells) in written.iter().zip(&back.rows) {
            match cache.layout.decode(w.row, cells) {
                Ok(Some(s)) if s.tag == w.tag && s.version == w.command_id => {}
                Ok(Some(s)) if s.tag == w.tag && superseded(&s, w, &back.headers) => {
                    later.insert(w.command_id.clone(), cache.as_sheet(&s));
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(later))
    }

    async fn wait_read_token(&self) {
        loop {
            match self
                .coord
                .take_quota_as(QuotaKind::Read, 1, QuotaTaker::PUSH)
                .await
            {
                Ok(crate::ports::QuotaGrant::Wait(d)) => tokio::time::sleep(d).await,
                // Granted, or no coordinator to ask: read.
                _ => return,
            }
        }
    }

    async fn wait_write_token(&self) {
        loop {
            match self
                .coord
                .take_quota_as(QuotaKind::Write, 1, QuotaTaker::PUSH)
                .await
            {
                Ok(crate::ports::QuotaGrant::Wait(d)) => tokio::time::sleep(d).await,
                _ => return,
            }
        }
    }

    /// After a write landed: checks it landed in place and repairs it when it did not.
    /// `None` when that could not be settled now: the commands stay as of unknown outcome and
    /// the next round settles them from what was recorded before the write. `Some` names the
    /// commands a later one has already replaced (with the row as it is now): their state is
    /// not announced again.
    pub(crate) async fn verify_write(
        &self,
        written: &[Written],
        cache: &PlantCache,
        fence: Option<&WriterFence>,
    ) -> Option<Superseded> {
        match self.written_in_place(written, cache).await {
            Ok(Some(later)) => return Some(later),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "no se pudo releer lo escrito para comprobarlo; se comprobará en la próxima ronda");
                return None;
            }
        }
        tracing::error!(
            filas = written.len(),
            "la planilla cambió de forma (columna insertada u orden de filas) mientras se escribía: se repara"
        );
        for attempt in 1..=REPAIR_ATTEMPTS {
            match self.repair(written, fence).await {
                Ok(true) => {
                    tracing::warn!(intento = attempt, "escritura desplazada reparada");
                    *self.cache.lock().await = None;
                    return Some(Superseded::new());
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "reparación de escritura desplazada fallida"),
            }
        }
        *self.cache.lock().await = None;
        tracing::error!(
            "no se pudo reparar una escritura desplazada ahora; se reintenta en la próxima ronda"
        );
        None
    }

    /// One repair: read the whole tab, rewrite what is wrong, read it back. `true` when the
    /// sheet is right afterwards.
    async fn repair(
        &self,
        written: &[Written],
        fence: Option<&WriterFence>,
    ) -> Result<bool, WorkbookError> {
        self.wait_read_token().await;
        let grid = self.workbook.read_tab(OPERACIONES).await?;
        let layout =
            OperacionesLayout::from_headers(&grid.headers).map_err(WorkbookError::Schema)?;
        let tag_col = layout.col(Col::TagSpool);
        // Where every spool is now (by its TAG cell, readable or not) and its decoded state.
        let mut at: HashMap<String, u32> = HashMap::new();
        let mut state: HashMap<String, Spool> = HashMap::new();
        for (i, cells) in grid.rows.iter().enumerate() {
            let row = i as u32 + 2;
            let Some(tag) = tag_col
                .and_then(|c| cells.get(c))
                .map(RawCell::shown)
                .map(|t| t.trim().to_uppercase())
                .filter(|t| !t.is_empty())
            else {
                continue;
            };
            if let Ok(Some(s)) = layout.decode(row, cells) {
                state.insert(tag.clone(), s);
            }
            at.insert(tag, row);
        }
        let owner: HashMap<&str, &str> = written
            .iter()
            .map(|w| (w.command_id.as_str(), w.tag.as_str()))
            .collect();
        let mut updates: Vec<RowUpdate> = Vec::new();
        let mut publish: Vec<(Spool, String, String)> = Vec::new();
        let mut locked: Vec<String> = Vec::new();
        // 1. The intended spools get their new state where they are now.
        for w in written {
            let Some(&row) = at.get(&w.tag) else {
                tracing::error!(tag = %w.tag, "el spool escrito ya no está en la planilla");
                continue;
            };
            if state
                .get(&w.tag)
                .is_some_and(|s| superseded(s, w, &grid.headers))
            {
                // Never write an older state over a newer command's.
                continue;
            }
            let right = state.get(&w.tag).is_some_and(|s| {
                s.version == w.command_id
                    && crate::ports::row_hash(s)
                        == crate::ports::row_hash(&Spool {
                            row,
                            ..w.after.clone()
                        })
            });
            if !right {
                let mut after = w.after.clone();
                after.row = row;
                updates.push(RowUpdate {
                    tab: OPERACIONES.into(),
                    row,
                    cells: app_cells(&layout, &after)?,
                });
            }
        }
        // 2. Another spool whose row took the write (the row the write was addressed to holds
        // it now, or its `version` is one of ours): its last known state back.
        let targets: HashSet<&str> = written.iter().map(|w| w.tag.as_str()).collect();
        let row_of: HashMap<u32, &str> = at.iter().map(|(t, r)| (*r, t.as_str())).collect();
        let mut victims: Vec<(String, u32)> = Vec::new();
        for w in written {
            if let Some(t) = row_of.get(&w.row) {
                if !targets.contains(t) {
                    victims.push((t.to_string(), w.row));
                }
            }
        }
        for (tag, s) in &state {
            if owner
                .get(s.version.as_str())
                .is_some_and(|mine| *mine != tag.as_str())
                && !targets.contains(tag.as_str())
                && !victims.iter().any(|(t, _)| t == tag)
            {
                victims.push((tag.clone(), s.row));
            }
        }
        for (tag, row) in &victims {
            let (tag, row) = (tag, *row);
            // Its own row mutex first: nobody else may be deciding on it meanwhile.
            if !self.lock_for_repair(tag).await {
                tracing::error!(%tag, "fila dañada por una escritura desplazada y ocupada por otro equipo; queda para el líder");
                continue;
            }
            locked.push(tag.clone());
            let live = self
                .coord
                .live_rows(std::slice::from_ref(tag))
                .await
                .ok()
                .and_then(|mut v| v.pop().flatten())
                .map(|l| l.row);
            // A known state carrying one of these commands' versions is the misdirected write
            // itself (the change stream or an import already spread it): not the spool's own.
            let ours = |s: &Spool| owner.contains_key(s.version.as_str());
            // Last, the replica's own earlier states: after a crash and a Redis restart the
            // live cache was warmed from the damaged sheet and the replica took the damage too
            // (seed 1102346).
            let known = live
                .filter(|s| !ours(s))
                .or_else(|| self.store.spool(tag).ok().flatten().filter(|s| !ours(s)))
                .or_else(|| {
                    // A state shown before the plant had it (a tap's own row, another
                    // tablet's announced claim) counts only if its command's audit row is in
                    // Metadata: an app version that never landed was never the spool's.
                    let landed = |s: &Spool| {
                        uuid::Uuid::parse_str(&s.version).is_err()
                            || self.store.audit_landed(&s.version).unwrap_or(false)
                    };
                    match self.store.previous_states(tag) {
                        Ok(states) => states.into_iter().find(|s| !ours(s) && landed(s)),
                        Err(e) => {
                            tracing::error!(%tag, error = %e, "no se pudo leer el historial de la réplica");
                            None
                        }
                    }
                });
            let Some(mut prev) = known else {
                tracing::error!(%tag, "sin estado conocido para reparar la fila");
                continue;
            };
            prev.row = row;
            updates.push(RowUpdate {
                tab: OPERACIONES.into(),
                row,
                cells: app_cells(&layout, &prev)?,
            });
            publish.push((prev, String::new(), self.store.device_id().to_string()));
        }
        // 3. A shifted write (a column inserted meanwhile) also hit cells outside the app's
        // columns. Which cells is known by content only: columns may have moved again since
        // the write, so a position recorded then points elsewhere now. A cell outside the
        // app's columns that holds one of the values this write sent, where the round read
        // something else under the same header, gets back what the round read (a column that
        // did not exist then: empty).
        let app: HashSet<usize> = Col::ALL
            .into_iter()
            .filter(|c| c.is_written())
            .filter_map(|c| layout.col(c))
            .collect();
        for w in written.iter().filter(|w| grid.headers != w.headers) {
            let Some(now) = grid.rows.get(w.row.saturating_sub(2) as usize) else {
                continue;
            };
            let old_layout =
                OperacionesLayout::from_headers(&w.headers).map_err(WorkbookError::Schema)?;
            let sent: Vec<RawCell> = app_cells(&old_layout, &w.after)?
                .into_iter()
                .filter(|(j, _)| w.columns.contains(j))
                .map(|(_, v)| v.to_raw())
                .collect();
            // The round read this row's cells; after a sort the row holds another spool
            // whose cells outside the app's columns nobody here knows.
            let same_spool = row_of.get(&w.row) == Some(&w.tag.as_str());
            let mut cells = Vec::new();
            for (j, header) in grid.headers.iter().enumerate() {
                if app.contains(&j) {
                    continue;
                }
                let current = now.get(j).cloned().unwrap_or(RawCell::Empty);
                let before = w
                    .headers
                    .iter()
                    .position(|h| h == header)
                    .and_then(|k| w.before.get(k).cloned())
                    .unwrap_or(RawCell::Empty);
                if current == before || !sent.contains(&current) {
                    continue;
                }
                if !same_spool {
                    tracing::error!(fila = w.row, columna = %header, "celda fuera de las columnas de ZEUES sobrescrita por una escritura desplazada; su valor anterior no se conoce: revísela");
                    continue;
                }
                cells.push((j, restored(&before)));
            }
            if !cells.is_empty() {
                updates.push(RowUpdate {
                    tab: OPERACIONES.into(),
                    row: w.row,
                    cells,
                });
            }
        }
        let result = if updates.is_empty() {
            Ok(true)
        } else {
            self.wait_write_token().await;
            let batch = WriteBatch {
                updates,
                appends: Vec::new(),
                fence: fence.cloned(),
            };
            match self.workbook.write(&batch).await {
                Ok(()) => {
                    for (row, command_id, device_id) in publish {
                        let change = RowChange {
                            tag: row.tag.clone(),
                            row,
                            command_id,
                            device_id,
                        };
                        if let Err(e) = self.coord.publish(&change).await {
                            tracing::warn!(error = %e, "no se pudo anunciar la fila reparada");
                        }
                    }
                    // Right only if nothing moved again meanwhile: read it back.
                    self.repaired_in_place(written).await
                }
                Err(e) => Err(e),
            }
        };
        for tag in &locked {
            if let Err(e) = self.coord.unlock_row(tag, &self.repair_owner()).await {
                tracing::warn!(%tag, error = %e, "no se pudo soltar el mutex de la fila reparada");
            }
        }
        result
    }

    /// A command found misdirected after the fact (its write's outcome was unknown): the same
    /// repair, a few times if the sheet keeps moving.
    pub(crate) async fn repair_landing(
        &self,
        w: &Written,
        fence: Option<&WriterFence>,
    ) -> Result<bool, WorkbookError> {
        let one = std::slice::from_ref(w);
        for _ in 0..REPAIR_ATTEMPTS {
            if self.repair(one, fence).await? {
                *self.cache.lock().await = None;
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn repair_owner(&self) -> String {
        format!("reparacion:{}", self.store.device_id())
    }

    async fn lock_for_repair(&self, tag: &str) -> bool {
        for _ in 0..20 {
            match self
                .coord
                .lock_row(tag, &self.repair_owner(), self.config.row_lock_ttl)
                .await
            {
                Ok(true) => return true,
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                Err(e) => {
                    tracing::warn!(%tag, error = %e, "coordinación no disponible para reparar");
                    return false;
                }
            }
        }
        false
    }

    /// After a repair: every intended spool holds its command, wherever it is now. Read by the
    /// TAG and `version` cells alone: a cell elsewhere in the row that cannot be decoded (one
    /// a person typed, or one whose old value nobody knew) is reported, and does not keep an
    /// applied command pending for ever.
    async fn repaired_in_place(&self, written: &[Written]) -> Result<bool, WorkbookError> {
        self.wait_read_token().await;
        let grid = self.workbook.read_tab(OPERACIONES).await?;
        let layout =
            OperacionesLayout::from_headers(&grid.headers).map_err(WorkbookError::Schema)?;
        let (Some(tag_col), Some(version_col)) =
            (layout.col(Col::TagSpool), layout.col(Col::Version))
        else {
            return Ok(false);
        };
        let version_of: HashMap<String, String> = grid
            .rows
            .iter()
            .filter_map(|cells| {
                let tag = cells.get(tag_col)?.shown().trim().to_uppercase();
                let version = cells
                    .get(version_col)
                    .map(RawCell::shown)
                    .unwrap_or_default();
                Some((tag, version.trim().to_string()))
            })
            .collect();
        Ok(written.iter().all(|w| {
            version_of
                .get(w.tag.as_str())
                .is_some_and(|v| *v == w.command_id)
        }))
    }
}
