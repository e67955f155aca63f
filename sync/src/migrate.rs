//! The schema migration of `Operaciones` (DOMAIN.md §1): adds the app-owned columns at the end
//! of the tab, never moving others, like the plant's earlier migration — **plan → backup →
//! apply → verify** — and **rollback** from the backup file.
//!
//! - Idempotent: a sheet that already has every app-owned column is left alone (no write, no
//!   audit row), so running it twice adds no duplicate column and one `MIGRACION_ESQUEMA` row.
//! - One atomic workbook call: the new columns, their header cells, the initial values and the
//!   audit row land together or not at all.
//! - A v3.0-era sheet (state only in `Estado_Detalle`) is imported: the new columns are
//!   initialised from each row's `Estado_Detalle` (cycle, repair state, metrología result,
//!   the occupying operation).
//! - Works through the [`Workbook`] port: Google Sheets and the embedded workbook alike.
//!
//! It never deletes a row or touches an Engineering column; rollback only drops the columns the
//! migration added, and refuses when the sheet changed in a way it cannot undo safely.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::domain::audit::AuditEvent;
use crate::domain::header::{column_letter, normalize_header, ColumnMap};
use crate::domain::sheet::{Col, OperacionesLayout, METADATA, OPERACIONES};
use crate::domain::{CellValue, DomainError, EventType, Spool};
use crate::ports::{AddColumns, Append, RowUpdate, TabShape, Workbook, WorkbookError, WriteBatch};

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(transparent)]
    Workbook(#[from] WorkbookError),
    #[error(transparent)]
    Schema(#[from] DomainError),
    #[error("no se pudo escribir el respaldo '{path}': {reason}")]
    BackupWrite { path: String, reason: String },
    #[error("no se pudo leer el respaldo '{path}': {reason}")]
    BackupRead { path: String, reason: String },
    #[error("la verificación de la migración falló: {0}. Restaure con el respaldo '{1}'.")]
    Verify(String, String),
    #[error("no se puede revertir: {0}")]
    RollbackRefused(String),
}

/// What the migration will do, computed from the sheet as it is now.
#[derive(Debug, Clone)]
pub struct MigrationPlan {
    pub workbook: String,
    pub tab: String,
    pub headers: Vec<String>,
    pub shape: TabShape,
    /// App-owned columns to add, in `Col::APP_OWNED` order.
    pub missing: Vec<Col>,
    /// First new column (0-based) = the current column count: nothing is moved.
    pub at: u32,
    /// Initial values derived from `Estado_Detalle` (v3.0 import).
    pub init: Vec<RowUpdate>,
    /// Rows whose derived state is not empty.
    pub initialised: usize,
    /// Spools as read before the migration (the verify step compares against them).
    expected: Vec<Spool>,
    /// Rows that could not be read: left uninitialised, named here.
    pub problems: Vec<String>,
}

impl MigrationPlan {
    pub fn is_noop(&self) -> bool {
        self.missing.is_empty()
    }

    pub fn new_headers(&self) -> Vec<String> {
        self.missing
            .iter()
            .map(|c| c.header().to_string())
            .collect()
    }

    /// The dry-run text shown before applying (Spanish, for the supervisor).
    pub fn preview(&self) -> String {
        let mut out = format!(
            "Migración de esquema de '{}' en {}\n",
            self.tab, self.workbook
        );
        out += &format!(
            "  Hoja actual: {} columnas, {} filas.\n",
            self.shape.columns, self.shape.rows
        );
        if self.is_noop() {
            out +=
                "  La hoja ya tiene todas las columnas de la aplicación: no hay nada que hacer.\n";
            return out;
        }
        out += &format!(
            "  Se agregarán {} columnas al final (ninguna columna existente se mueve):\n",
            self.missing.len()
        );
        for (i, c) in self.missing.iter().enumerate() {
            out += &format!(
                "    {} {}\n",
                column_letter(self.at as usize + i),
                c.header()
            );
        }
        if self.initialised > 0 {
            out += &format!(
                "  Se inicializarán {} filas a partir de Estado_Detalle (importación v3.0).\n",
                self.initialised
            );
        }
        if !self.problems.is_empty() {
            out += &format!(
                "  {} filas no se pudieron leer y quedan sin inicializar:\n",
                self.problems.len()
            );
            for p in self.problems.iter().take(20) {
                out += &format!("    - {p}\n");
            }
        }
        out += "  Se agregará una fila MIGRACION_ESQUEMA a Metadata.\n";
        out
    }
}

/// Everything the migration touches, saved before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub format: u32,
    pub workbook: String,
    pub tab: String,
    pub taken_at: NaiveDateTime,
    /// The header row before the migration.
    pub headers: Vec<String>,
    /// The grid size before the migration.
    pub shape: TabShape,
    /// Columns the migration was about to add (and rollback may drop).
    pub added: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already migrated: nothing written.
    NothingToDo,
    Applied {
        columns: Vec<String>,
        initialised: usize,
    },
    RolledBack {
        dropped: Vec<String>,
    },
}

fn derived(s: &Spool, c: Col) -> CellValue {
    match c {
        Col::OperacionOcupacion => CellValue::opt_text(s.operacion_ocupacion.map(|o| o.code())),
        Col::ResultadoMetrologia => CellValue::opt_text(s.resultado_metrologia.map(|r| r.code())),
        Col::CicloReparacion if s.ciclo_reparacion > 0 => {
            CellValue::Number(f64::from(s.ciclo_reparacion))
        }
        Col::EstadoReparacion => CellValue::opt_text(s.estado_reparacion.map(|e| e.code())),
        Col::DefectoOrigen => CellValue::opt_text(s.defecto_origen.map(|d| d.code())),
        _ => CellValue::Empty,
    }
}

/// Reads the sheet and works out what to add and which values to initialise.
pub async fn plan(wb: &dyn Workbook) -> Result<MigrationPlan, MigrationError> {
    let grid = wb.read_tab(OPERACIONES).await?;
    let shape = wb.tab_shape(OPERACIONES).await?;
    // A sheet without its critical columns is not migrated: it fails closed, naming the column.
    let layout = OperacionesLayout::from_headers(&grid.headers)?;
    let missing = layout.missing_app_columns();
    let at = shape.columns.max(grid.headers.len() as u32);
    let read = layout.decode_all(&grid.rows);
    let problems: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
    let mut init: Vec<RowUpdate> = Vec::new();
    let mut initialised = 0;
    if !missing.is_empty() {
        let by_row: std::collections::HashMap<u32, &Spool> =
            read.spools.iter().map(|s| (s.row, s)).collect();
        let mut rows: Vec<RowUpdate> = Vec::new();
        let mut last_with_value = 0usize;
        for i in 0..grid.rows.len() {
            let row = i as u32 + 2;
            let cells: Vec<(usize, CellValue)> = missing
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let v = by_row
                        .get(&row)
                        .map_or(CellValue::Empty, |s| derived(s, *c));
                    (at as usize + j, v)
                })
                .collect();
            if cells.iter().any(|(_, v)| *v != CellValue::Empty) {
                initialised += 1;
                last_with_value = rows.len() + 1;
            }
            rows.push(RowUpdate {
                tab: OPERACIONES.to_string(),
                row,
                cells,
            });
        }
        // One contiguous block (empty cells included) packs into a single write request.
        rows.truncate(last_with_value);
        init = rows;
    }
    Ok(MigrationPlan {
        workbook: wb.describe(),
        tab: OPERACIONES.to_string(),
        headers: grid.headers,
        shape,
        missing,
        at,
        init,
        initialised,
        expected: read.spools,
        problems,
    })
}

/// Writes the backup file (before anything is changed). Refuses to overwrite one.
pub fn save_backup(
    plan: &MigrationPlan,
    path: &Path,
    now: NaiveDateTime,
) -> Result<Backup, MigrationError> {
    let backup = Backup {
        format: 1,
        workbook: plan.workbook.clone(),
        tab: plan.tab.clone(),
        taken_at: now,
        headers: plan.headers.clone(),
        shape: TabShape {
            rows: plan.shape.rows,
            columns: plan.at,
        },
        added: plan.new_headers(),
    };
    let fail = |reason: String| MigrationError::BackupWrite {
        path: path.display().to_string(),
        reason,
    };
    let json = serde_json::to_vec_pretty(&backup).map_err(|e| fail(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| fail(e.to_string()))?;
    f.write_all(&json).map_err(|e| fail(e.to_string()))?;
    f.sync_all().map_err(|e| fail(e.to_string()))?;
    Ok(backup)
}

pub fn load_backup(path: &Path) -> Result<Backup, MigrationError> {
    let fail = |reason: String| MigrationError::BackupRead {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
}

/// `…/migracion-AAAAMMDD-HHMMSS.json` in `dir`.
pub fn backup_path(dir: &Path, now: NaiveDateTime) -> PathBuf {
    dir.join(format!("migracion-{}.json", now.format("%Y%m%d-%H%M%S")))
}

async fn audit_row(
    wb: &dyn Workbook,
    id: &str,
    now: NaiveDateTime,
    accion: &str,
    details: serde_json::Value,
) -> Result<Append, MigrationError> {
    let meta = wb.read_rows(METADATA, &[]).await?;
    let map = ColumnMap::from_headers(&meta.headers);
    map.require_all(METADATA, &["ID", "Timestamp", "Evento_Tipo"])?;
    let event = AuditEvent {
        id: id.to_string(),
        timestamp: now,
        event_type: EventType::MigracionEsquema,
        tag: String::new(),
        worker_id: 0,
        worker_nombre: "SYSTEM".into(),
        operacion: String::new(),
        accion: accion.into(),
        fecha_operacion: now.date(),
        metadata: details,
    };
    Ok(Append {
        tab: METADATA.to_string(),
        cells: event.to_row(&map),
    })
}

/// Applies a plan (after its backup was saved) in one atomic call, then verifies it.
/// `id` is the audit row's id (a fresh UUID); `now` is plant time.
pub async fn apply(
    wb: &dyn Workbook,
    plan: &MigrationPlan,
    backup: &Path,
    now: NaiveDateTime,
    id: &str,
) -> Result<Outcome, MigrationError> {
    if plan.is_noop() {
        return Ok(Outcome::NothingToDo);
    }
    let columns = plan.new_headers();
    let audit = audit_row(
        wb,
        id,
        now,
        "MIGRAR",
        serde_json::json!({
            "columnas": columns,
            "desde_columna": column_letter(plan.at as usize),
            "filas_inicializadas": plan.initialised,
            "respaldo": backup.display().to_string(),
        }),
    )
    .await?;
    let add = AddColumns {
        tab: plan.tab.clone(),
        at: plan.at,
        headers: columns.clone(),
    };
    let then = WriteBatch {
        updates: plan.init.clone(),
        appends: vec![audit],
        fence: None,
    };
    match wb.add_columns(&add, &then).await {
        Ok(()) => {}
        Err(WorkbookError::OutcomeUnknown(e)) => {
            // Never apply twice: look at the sheet; the columns are there iff it landed.
            tracing::warn!(error = %e, "resultado de la migración desconocido; se verifica leyendo");
            let again = self::plan(wb).await?;
            if !again.is_noop() {
                return Err(WorkbookError::OutcomeUnknown(e).into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    verify(wb, plan, backup, id).await?;
    Ok(Outcome::Applied {
        columns,
        initialised: plan.initialised,
    })
}

/// Reads the sheet back: every app-owned column present once, at the planned place, every
/// spool's state as before, and the audit row in Metadata.
pub async fn verify(
    wb: &dyn Workbook,
    plan: &MigrationPlan,
    backup: &Path,
    id: &str,
) -> Result<(), MigrationError> {
    let fail = |m: String| MigrationError::Verify(m, backup.display().to_string());
    let grid = wb.read_tab(OPERACIONES).await?;
    let layout = OperacionesLayout::from_headers(&grid.headers).map_err(|e| fail(e.to_string()))?;
    layout.check_writable().map_err(|e| fail(e.to_string()))?;
    for (j, c) in plan.missing.iter().enumerate() {
        let want = plan.at as usize + j;
        if layout.col(*c) != Some(want) {
            return Err(fail(format!(
                "la columna {} no quedó en {}",
                c.header(),
                column_letter(want)
            )));
        }
    }
    for (i, h) in plan.headers.iter().enumerate() {
        if grid.headers.get(i) != Some(h) {
            return Err(fail(format!("la columna {} cambió", column_letter(i))));
        }
    }
    let read = layout.decode_all(&grid.rows);
    let now: std::collections::HashMap<&str, &Spool> =
        read.spools.iter().map(|s| (s.tag.as_str(), s)).collect();
    for before in &plan.expected {
        let Some(after) = now.get(before.tag.as_str()) else {
            return Err(fail(format!("el spool {} ya no se lee", before.tag)));
        };
        let same = before.operacion_ocupacion == after.operacion_ocupacion
            && before.resultado_metrologia == after.resultado_metrologia
            && before.estado_reparacion == after.estado_reparacion
            && before.ciclo_reparacion == after.ciclo_reparacion;
        if !same {
            return Err(fail(format!(
                "el estado del spool {} (fila {}) no coincide después de migrar",
                before.tag, before.row
            )));
        }
    }
    let meta = wb.read_tab(METADATA).await?;
    let map = ColumnMap::from_headers(&meta.headers);
    let col = map.require(METADATA, "ID")?;
    let found = meta
        .rows
        .iter()
        .filter(|r| r.get(col).and_then(|c| c.text()).as_deref() == Some(id))
        .count();
    if found != 1 {
        return Err(fail(format!(
            "se esperaba una fila MIGRACION_ESQUEMA con ID {id} y hay {found}"
        )));
    }
    Ok(())
}

/// plan → backup (in `backup_dir`) → apply → verify. Returns the plan (for its preview), the
/// outcome and the backup file (none when there was nothing to do).
pub async fn migrate(
    wb: &dyn Workbook,
    backup_dir: &Path,
    now: NaiveDateTime,
    id: &str,
) -> Result<(MigrationPlan, Outcome, Option<PathBuf>), MigrationError> {
    let plan = plan(wb).await?;
    if plan.is_noop() {
        return Ok((plan, Outcome::NothingToDo, None));
    }
    let path = backup_path(backup_dir, now);
    save_backup(&plan, &path, now)?;
    let outcome = apply(wb, &plan, &path, now, id).await?;
    Ok((plan, outcome, Some(path)))
}

/// Restores the tab's shape from a backup: drops the columns the migration added (and only
/// those), and appends a `MIGRACION_ESQUEMA` audit row with `Accion = ROLLBACK`. Refuses when
/// the columns before them changed, or when something else was added after them.
pub async fn rollback(
    wb: &dyn Workbook,
    backup: &Path,
    now: NaiveDateTime,
    id: &str,
) -> Result<Outcome, MigrationError> {
    let b = load_backup(backup)?;
    let current = wb.read_rows(&b.tab, &[]).await?.headers;
    let shape = wb.tab_shape(&b.tab).await?;
    for (i, h) in b.headers.iter().enumerate() {
        if current.get(i) != Some(h) {
            return Err(MigrationError::RollbackRefused(format!(
                "la columna {} de '{}' cambió desde el respaldo ('{}' → '{}'); revísela a mano",
                column_letter(i),
                b.tab,
                h,
                current.get(i).map_or("", String::as_str)
            )));
        }
    }
    // Whatever has a header after the original ones: it must all be the migration's.
    let extra: Vec<String> = current
        .iter()
        .skip(b.headers.len())
        .filter(|h| !h.trim().is_empty())
        .cloned()
        .collect();
    let owned: Vec<String> = b.added.iter().map(|h| normalize_header(h)).collect();
    if let Some(stranger) = extra.iter().find(|h| !owned.contains(&normalize_header(h))) {
        return Err(MigrationError::RollbackRefused(format!(
            "después de las columnas originales hay una columna que no agregó la migración: '{stranger}'"
        )));
    }
    if extra.is_empty() && shape.columns <= b.shape.columns {
        return Ok(Outcome::NothingToDo);
    }
    let audit = audit_row(
        wb,
        id,
        now,
        "ROLLBACK",
        serde_json::json!({
            "columnas_quitadas": extra,
            "respaldo": backup.display().to_string(),
            "columnas_restauradas": b.shape.columns,
        }),
    )
    .await?;
    let then = WriteBatch {
        updates: Vec::new(),
        appends: vec![audit],
        fence: None,
    };
    wb.truncate_columns(&b.tab, b.shape.columns, &then).await?;
    Ok(Outcome::RolledBack { dropped: extra })
}

#[cfg(test)]
mod tests;
