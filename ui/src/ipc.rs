//! Calls into the Tauri shell (`window.__TAURI__`, enabled by `app.withGlobalTauri`) and its
//! event stream. Command names come only from `zeues_sync::ipc_names` (the list the shell's
//! `build.rs` checks its commands and ACL against), argument and answer types only from
//! `zeues_sync::api`; arguments go through `serde-wasm-bindgen` as plain JSON-like objects.
//! Every failure comes back as an [`ApiError`] so screens branch on `code` only.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use zeues_sync::api::{
    ActionOutcome, ActionRequest, ApiError, AppEvent, AppMode, ConflictDecision, ConflictMetrics,
    ConflictView, Disponibles, DoctorReport, ExportRequest, ExportResult, MigrationDone,
    MigrationPreview, OpenReport, PendingCommand, Periodo, PinAttempt, PlantSettings, SpoolHistory,
    SpoolList, SpoolQuery, SupervisorRequest, SyncHealth, SyncStatus, WorkerView,
};
use zeues_sync::domain::Operacion;
use zeues_sync::ipc_names as cmd;

/// The event name the shell emits every [`AppEvent`] on.
pub const EVENT: &str = "zeues://event";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    async fn tauri_listen(
        event: &str,
        handler: &Closure<dyn FnMut(JsValue)>,
    ) -> Result<JsValue, JsValue>;
}

fn ipc_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new("ERROR_IPC", detail.to_string())
}

/// A rejection from `invoke` is our `{code, message, data}` or, for IPC-level failures
/// (ACL denial, unknown command), a plain string.
fn rejection(e: JsValue) -> ApiError {
    if let Some(s) = e.as_string() {
        return ipc_error(s);
    }
    match serde_wasm_bindgen::from_value::<ApiError>(e.clone()) {
        Ok(api) => api,
        Err(_) => ipc_error(format!("{e:?}")),
    }
}

async fn call<A: Serialize, R: DeserializeOwned>(
    name: &'static str,
    args: &A,
) -> Result<R, ApiError> {
    debug_assert!(cmd::ALL.contains(&name), "{name} is not in ipc_names::ALL");
    // json_compatible: maps become objects and `None` becomes `null`, as serde_json expects.
    let js_args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(ipc_error)?;
    let value = tauri_invoke(name, js_args).await.map_err(rejection)?;
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| ipc_error(format!("respuesta inesperada de {name}: {e}")))
}

#[derive(Serialize)]
struct NoArgs {}

#[derive(Serialize)]
struct OperacionArgs {
    operacion: Option<Operacion>,
}

#[derive(Serialize)]
struct QueryArgs<'a> {
    query: &'a SpoolQuery,
}

#[derive(Serialize)]
struct TagArgs<'a> {
    tag: &'a str,
}

#[derive(Serialize)]
struct RequestArgs<'a, T> {
    request: &'a T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginArgs<'a> {
    supervisor_id: u32,
    pin: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConflictsArgs {
    include_resolved: bool,
}

#[derive(Serialize)]
struct DecisionArgs<'a> {
    decision: &'a ConflictDecision,
}

#[derive(Serialize)]
struct PeriodoArgs<'a> {
    periodo: &'a Periodo,
}

#[derive(Serialize)]
struct DaysArgs {
    days: u32,
}

#[derive(Serialize)]
struct SettingsArgs<'a> {
    settings: &'a PlantSettings,
}

/// "Guardar" / "Migrar planilla": on a device configured for the plant the shell also wants
/// the supervisor who authorizes the change (ignored on the first run).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigArgs<'a> {
    settings: &'a PlantSettings,
    supervisor_id: Option<u32>,
    supervisor_pin: Option<&'a str>,
}

impl<'a> ConfigArgs<'a> {
    fn new(settings: &'a PlantSettings, supervisor: Option<(u32, &'a str)>) -> Self {
        ConfigArgs {
            settings,
            supervisor_id: supervisor.map(|(id, _)| id),
            supervisor_pin: supervisor.map(|(_, pin)| pin),
        }
    }
}

pub async fn list_workers(operacion: Option<Operacion>) -> Result<Vec<WorkerView>, ApiError> {
    call(cmd::LIST_WORKERS, &OperacionArgs { operacion }).await
}

pub async fn list_spools(query: &SpoolQuery) -> Result<SpoolList, ApiError> {
    call(cmd::LIST_SPOOLS, &QueryArgs { query }).await
}

pub async fn execute_action(request: &ActionRequest) -> Result<ActionOutcome, ApiError> {
    call(cmd::EXECUTE_ACTION, &RequestArgs { request }).await
}

pub async fn sync_status() -> Result<SyncStatus, ApiError> {
    call(cmd::SYNC_STATUS, &NoArgs {}).await
}

pub async fn pending_commands() -> Result<Vec<PendingCommand>, ApiError> {
    call(cmd::PENDING_COMMANDS, &NoArgs {}).await
}

pub async fn spool_history(tag: &str) -> Result<SpoolHistory, ApiError> {
    call(cmd::SPOOL_HISTORY, &TagArgs { tag }).await
}

pub async fn open_report() -> Result<OpenReport, ApiError> {
    call(cmd::OPEN_REPORT, &NoArgs {}).await
}

pub async fn disponibles() -> Result<Disponibles, ApiError> {
    call(cmd::DISPONIBLES, &NoArgs {}).await
}

pub async fn supervisor_login(supervisor_id: u32, pin: &str) -> Result<WorkerView, ApiError> {
    call(cmd::SUPERVISOR_LOGIN, &LoginArgs { supervisor_id, pin }).await
}

pub async fn supervisor_action(request: &SupervisorRequest) -> Result<ActionOutcome, ApiError> {
    call(cmd::SUPERVISOR_ACTION, &RequestArgs { request }).await
}

pub async fn list_conflicts(include_resolved: bool) -> Result<Vec<ConflictView>, ApiError> {
    call(cmd::LIST_CONFLICTS, &ConflictsArgs { include_resolved }).await
}

pub async fn discard_conflict(decision: &ConflictDecision) -> Result<(), ApiError> {
    call(cmd::DISCARD_CONFLICT, &DecisionArgs { decision }).await
}

pub async fn reapply_conflict(decision: &ConflictDecision) -> Result<ActionOutcome, ApiError> {
    call(cmd::REAPPLY_CONFLICT, &DecisionArgs { decision }).await
}

pub async fn conflict_metrics(periodo: &Periodo) -> Result<ConflictMetrics, ApiError> {
    call(cmd::CONFLICT_METRICS, &PeriodoArgs { periodo }).await
}

pub async fn sync_health() -> Result<SyncHealth, ApiError> {
    call(cmd::SYNC_HEALTH, &NoArgs {}).await
}

pub async fn pin_attempts(days: u32) -> Result<Vec<PinAttempt>, ApiError> {
    call(cmd::PIN_ATTEMPTS, &DaysArgs { days }).await
}

pub async fn produccion() -> Result<zeues_sync::domain::produccion::Produccion, ApiError> {
    call(cmd::PRODUCCION, &NoArgs {}).await
}

pub async fn export_csv(request: &ExportRequest) -> Result<ExportResult, ApiError> {
    call(cmd::EXPORT_CSV, &RequestArgs { request }).await
}

pub async fn default_export_dir() -> Result<String, ApiError> {
    call(cmd::DEFAULT_EXPORT_DIR, &NoArgs {}).await
}

pub async fn app_mode() -> Result<AppMode, ApiError> {
    call(cmd::APP_MODE, &NoArgs {}).await
}

pub async fn probar_conexion(settings: &PlantSettings) -> Result<DoctorReport, ApiError> {
    call(cmd::PROBAR_CONEXION, &SettingsArgs { settings }).await
}

pub async fn guardar_configuracion(
    settings: &PlantSettings,
    supervisor: Option<(u32, &str)>,
) -> Result<AppMode, ApiError> {
    call(
        cmd::GUARDAR_CONFIGURACION,
        &ConfigArgs::new(settings, supervisor),
    )
    .await
}

pub async fn vista_migracion(settings: &PlantSettings) -> Result<MigrationPreview, ApiError> {
    call(cmd::VISTA_MIGRACION, &SettingsArgs { settings }).await
}

pub async fn migrar_planilla(
    settings: &PlantSettings,
    supervisor: Option<(u32, &str)>,
) -> Result<MigrationDone, ApiError> {
    call(cmd::MIGRAR_PLANILLA, &ConfigArgs::new(settings, supervisor)).await
}

/// Calls `on_event` for every [`AppEvent`] the shell emits, for the life of the page.
pub async fn listen_events(on_event: impl Fn(AppEvent) + 'static) -> Result<(), ApiError> {
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
        let payload = js_sys::Reflect::get(&ev, &JsValue::from_str("payload"));
        match payload.map(serde_wasm_bindgen::from_value::<AppEvent>) {
            Ok(Ok(app_event)) => on_event(app_event),
            Ok(Err(e)) => web_sys::console::warn_1(&format!("evento ilegible: {e}").into()),
            Err(e) => web_sys::console::warn_1(&e),
        }
    });
    tauri_listen(EVENT, &handler).await.map_err(rejection)?;
    // The listener lives as long as the page: hand the closure to JS for good.
    handler.forget();
    Ok(())
}
