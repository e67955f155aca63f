//! Calls into the Tauri shell (`window.__TAURI__`, enabled by `app.withGlobalTauri`) and its
//! event stream. Arguments go through `serde-wasm-bindgen` as plain JSON-like objects; every
//! failure comes back as an [`ApiError`] so screens branch on `code` only.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use zeues_sync::api::{
    ActionOutcome, ActionRequest, ApiError, AppEvent, OpenReport, PendingCommand, SpoolHistory,
    SpoolList, SpoolQuery, SyncStatus, WorkerView,
};
use zeues_sync::domain::Operacion;

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

async fn call<A: Serialize, R: DeserializeOwned>(cmd: &str, args: &A) -> Result<R, ApiError> {
    // json_compatible: maps become objects and `None` becomes `null`, as serde_json expects.
    let js_args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(ipc_error)?;
    let value = tauri_invoke(cmd, js_args).await.map_err(rejection)?;
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| ipc_error(format!("respuesta inesperada de {cmd}: {e}")))
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
struct RequestArgs<'a> {
    request: &'a ActionRequest,
}

pub async fn list_workers(operacion: Option<Operacion>) -> Result<Vec<WorkerView>, ApiError> {
    call("list_workers", &OperacionArgs { operacion }).await
}

pub async fn list_spools(query: &SpoolQuery) -> Result<SpoolList, ApiError> {
    call("list_spools", &QueryArgs { query }).await
}

pub async fn execute_action(request: &ActionRequest) -> Result<ActionOutcome, ApiError> {
    call("execute_action", &RequestArgs { request }).await
}

pub async fn sync_status() -> Result<SyncStatus, ApiError> {
    call("sync_status", &NoArgs {}).await
}

pub async fn pending_commands() -> Result<Vec<PendingCommand>, ApiError> {
    call("pending_commands", &NoArgs {}).await
}

pub async fn spool_history(tag: &str) -> Result<SpoolHistory, ApiError> {
    call("spool_history", &TagArgs { tag }).await
}

pub async fn open_report() -> Result<OpenReport, ApiError> {
    call("open_report", &NoArgs {}).await
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
