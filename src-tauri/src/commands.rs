//! The IPC surface. Every command is thin: take the arguments, call one `Zeues` method, return
//! its `Result` (errors cross as `{code, message, data}`). No rule is decided here.

use tauri::State;
use zeues_sync::api::{
    ActionOutcome, ActionRequest, ApiError, Disponibles, OpenReport, PendingCommand, SpoolHistory,
    SpoolList, SpoolQuery, SpoolView, SyncStatus, WorkerView,
};
use zeues_sync::domain::Operacion;

use crate::core::AppCore;

pub(crate) type Z<'a> = State<'a, AppCore>;

#[tauri::command]
pub async fn list_workers(
    core: Z<'_>,
    operacion: Option<Operacion>,
) -> Result<Vec<WorkerView>, ApiError> {
    core.zeues()?.workers(operacion)
}

#[tauri::command]
pub async fn list_spools(core: Z<'_>, query: SpoolQuery) -> Result<SpoolList, ApiError> {
    core.zeues()?.spools(&query)
}

#[tauri::command]
pub async fn get_spool(core: Z<'_>, tag: String) -> Result<SpoolView, ApiError> {
    core.zeues()?.spool(&tag)
}

#[tauri::command]
pub async fn execute_action(
    core: Z<'_>,
    request: ActionRequest,
) -> Result<ActionOutcome, ApiError> {
    tracing::info!(
        worker_id = request.worker_id,
        intent = ?request.intent,
        spools = request.tags.len(),
        "execute_action"
    );
    core.zeues()?.execute(request)
}

#[tauri::command]
pub async fn sync_status(core: Z<'_>) -> Result<SyncStatus, ApiError> {
    Ok(core.zeues()?.sync_status())
}

#[tauri::command]
pub async fn pending_commands(core: Z<'_>) -> Result<Vec<PendingCommand>, ApiError> {
    core.zeues()?.pending_commands()
}

#[tauri::command]
pub async fn spool_history(core: Z<'_>, tag: String) -> Result<SpoolHistory, ApiError> {
    core.zeues()?.history(&tag)
}

#[tauri::command]
pub async fn open_report(core: Z<'_>) -> Result<OpenReport, ApiError> {
    Ok(core.device()?.report)
}

/// Spools ready for each operation now (dashboard counters).
#[tauri::command]
pub async fn disponibles(core: Z<'_>) -> Result<Disponibles, ApiError> {
    core.zeues()?.disponibles()
}

#[cfg(test)]
mod tests {
    use zeues_sync::api::ApiError;

    /// The UI's `ipc::rejection` parses exactly this shape; a change here breaks every screen.
    #[test]
    fn errors_cross_ipc_as_code_message_data() {
        let e = ApiError::new("SPOOL_OCUPADO", "El spool 'T' ya está ocupado por MR(93)");
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "code": "SPOOL_OCUPADO",
                "message": "El spool 'T' ya está ocupado por MR(93)",
                "data": null
            })
        );
    }
}
