//! The supervisor desk's IPC surface: the door (Supervisor role + PIN), OVERRIDE and FORZAR
//! LIBERACIÓN, the conflicts inbox, conflict metrics, sync health and devices, the wrong-PIN
//! trail, and the CSV export (the format of `zeues export`) written to a folder the supervisor
//! picks (Downloads by default).
//! Thin: every check and every number comes from `zeues-sync`.

use std::path::{Path, PathBuf};

use zeues_sync::api::{
    ActionOutcome, ApiError, ConflictDecision, ConflictMetrics, ConflictView, ExportRequest,
    ExportResult, Periodo, PinAttempt, SupervisorRequest, SyncHealth, WorkerView,
};
use zeues_sync::domain::produccion::Produccion;

use crate::commands::Z;

#[tauri::command]
pub async fn supervisor_login(
    core: Z<'_>,
    supervisor_id: u32,
    pin: String,
) -> Result<WorkerView, ApiError> {
    core.zeues()?.supervisor_login(supervisor_id, &pin)
}

#[tauri::command]
pub async fn supervisor_action(
    core: Z<'_>,
    request: SupervisorRequest,
) -> Result<ActionOutcome, ApiError> {
    tracing::info!(supervisor = request.supervisor_id, intent = ?request.intent, spools = request.tags.len(), "acción de supervisor");
    core.zeues()?.supervisor_action(request)
}

#[tauri::command]
pub async fn list_conflicts(
    core: Z<'_>,
    include_resolved: bool,
) -> Result<Vec<ConflictView>, ApiError> {
    core.zeues()?.conflicts(include_resolved)
}

#[tauri::command]
pub async fn discard_conflict(core: Z<'_>, decision: ConflictDecision) -> Result<(), ApiError> {
    core.zeues()?.discard_conflict(&decision)
}

#[tauri::command]
pub async fn reapply_conflict(
    core: Z<'_>,
    decision: ConflictDecision,
) -> Result<ActionOutcome, ApiError> {
    core.zeues()?.reapply_conflict(&decision)
}

#[tauri::command]
pub async fn conflict_metrics(core: Z<'_>, periodo: Periodo) -> Result<ConflictMetrics, ApiError> {
    core.zeues()?.conflict_metrics(&periodo)
}

#[tauri::command]
pub async fn sync_health(core: Z<'_>) -> Result<SyncHealth, ApiError> {
    core.zeues()?.sync_health().await
}

#[tauri::command]
pub async fn pin_attempts(core: Z<'_>, days: u32) -> Result<Vec<PinAttempt>, ApiError> {
    core.zeues()?.pin_attempts(days)
}

/// The PRODUCCIÓN tab's figures (from the audit log this device holds).
#[tauri::command]
pub async fn produccion(core: Z<'_>) -> Result<Produccion, ApiError> {
    core.zeues()?.produccion()
}

/// The user's Downloads folder (else home, else the current folder), shown prefilled.
#[tauri::command]
pub async fn default_export_dir() -> Result<String, ApiError> {
    Ok(downloads_dir().display().to_string())
}

fn downloads_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| {
            u.download_dir()
                .map(Path::to_path_buf)
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Writes the period's audit rows and occupation sessions (the CSV of `zeues export`) into a
/// folder. Needs the supervisor's PIN: the export carries the plant's records out of the app.
#[tauri::command]
pub async fn export_csv(core: Z<'_>, request: ExportRequest) -> Result<ExportResult, ApiError> {
    let zeues = core.zeues()?;
    zeues.supervisor_check(request.supervisor_id, &request.pin, "Exportar CSV")?;
    let export = zeues.csv_export(&request.periodo)?;
    let dir = match request.carpeta.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => downloads_dir(),
    };
    if !dir.is_dir() {
        return Err(ApiError::new(
            "CARPETA_INVALIDA",
            format!(
                "La carpeta «{}» no existe. Escriba una carpeta existente, por ejemplo {}.",
                dir.display(),
                downloads_dir().display()
            ),
        ));
    }
    let stamp = format!(
        "{}_{}",
        export.desde.replace('-', ""),
        export.hasta.replace('-', "")
    );
    let archivo = write_new(&dir, &format!("zeues-export_{stamp}"), &export.csv)?;
    tracing::info!(supervisor = request.supervisor_id, desde = %export.desde, hasta = %export.hasta, carpeta = %dir.display(), "exportación CSV");
    Ok(ExportResult {
        archivo,
        audit_rows: export.audit_rows,
        sessions: export.sessions,
    })
}

/// Writes `<stem>.csv`, or `<stem>-2.csv`… when it exists: an export never overwrites.
fn write_new(dir: &Path, stem: &str, text: &str) -> Result<String, ApiError> {
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stem}.csv")
        } else {
            format!("{stem}-{n}.csv")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(text.as_bytes())
                    .map_err(|e| write_error(&path, &e))?;
                f.sync_all().map_err(|e| write_error(&path, &e))?;
                return Ok(path.display().to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(write_error(&path, &e)),
        }
    }
    Err(ApiError::new(
        "CARPETA_INVALIDA",
        format!(
            "Demasiadas exportaciones con el mismo nombre en {}.",
            dir.display()
        ),
    ))
}

fn write_error(path: &Path, e: &std::io::Error) -> ApiError {
    ApiError::new(
        "ERROR_ESCRITURA",
        format!(
            "No se pudo escribir {}: {e}. Elija otra carpeta.",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_export_never_overwrites_an_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_new(dir.path(), "zeues-auditoria_x", "uno").unwrap();
        let b = write_new(dir.path(), "zeues-auditoria_x", "dos").unwrap();
        assert!(a.ends_with("zeues-auditoria_x.csv"));
        assert!(b.ends_with("zeues-auditoria_x-2.csv"));
        assert_eq!(std::fs::read_to_string(a).unwrap(), "uno");
    }
}
