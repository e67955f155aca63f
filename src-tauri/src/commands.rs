//! The IPC surface. Every command is thin: take the arguments, call one `Zeues` method, return
//! its `Result` (errors cross as `{code, message, data}`). No rule is decided here.

use std::sync::Arc;

use tauri::State;
use zeues_sync::api::{
    ActionOutcome, ActionRequest, ApiError, OpenReport, PendingCommand, SpoolHistory, SpoolList,
    SpoolQuery, SpoolView, SyncStatus, WorkerView,
};
use zeues_sync::domain::Operacion;
use zeues_sync::service::Zeues;

/// What opening the local database found, kept for the UI to ask once at start.
pub struct OpenState(pub OpenReport);

type Z<'a> = State<'a, Arc<Zeues>>;

#[tauri::command]
pub async fn list_workers(
    zeues: Z<'_>,
    operacion: Option<Operacion>,
) -> Result<Vec<WorkerView>, ApiError> {
    zeues.workers(operacion)
}

#[tauri::command]
pub async fn list_spools(zeues: Z<'_>, query: SpoolQuery) -> Result<SpoolList, ApiError> {
    zeues.spools(&query)
}

#[tauri::command]
pub async fn get_spool(zeues: Z<'_>, tag: String) -> Result<SpoolView, ApiError> {
    zeues.spool(&tag)
}

#[tauri::command]
pub async fn execute_action(
    zeues: Z<'_>,
    request: ActionRequest,
) -> Result<ActionOutcome, ApiError> {
    tracing::info!(
        worker_id = request.worker_id,
        intent = ?request.intent,
        spools = request.tags.len(),
        "execute_action"
    );
    zeues.execute(request)
}

#[tauri::command]
pub async fn sync_status(zeues: Z<'_>) -> Result<SyncStatus, ApiError> {
    Ok(zeues.sync_status())
}

#[tauri::command]
pub async fn pending_commands(zeues: Z<'_>) -> Result<Vec<PendingCommand>, ApiError> {
    zeues.pending_commands()
}

#[tauri::command]
pub async fn spool_history(zeues: Z<'_>, tag: String) -> Result<SpoolHistory, ApiError> {
    zeues.history(&tag)
}

#[tauri::command]
pub async fn open_report(report: State<'_, OpenState>) -> Result<OpenReport, ApiError> {
    Ok(report.0.clone())
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
