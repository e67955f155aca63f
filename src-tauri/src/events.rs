//! Pushes every service event to the webview as `zeues://event` so the UI never polls.

use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::{error::RecvError, Receiver};
use zeues_sync::api::AppEvent;

/// The one event name the UI listens to; the payload is an [`AppEvent`] (`{kind, ...}`).
pub const EVENT: &str = "zeues://event";

pub fn forward(app: AppHandle, mut rx: Receiver<AppEvent>) {
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) => emit(&app, &ev),
                Err(RecvError::Lagged(missed)) => {
                    // The UI missed changes: an empty tag list tells it to reload everything.
                    tracing::warn!(missed, "eventos perdidos; la UI recargará todo");
                    emit(&app, &AppEvent::ReplicaChanged { tags: Vec::new() });
                }
                Err(RecvError::Closed) => {
                    tracing::info!("el servicio cerró su canal de eventos");
                    break;
                }
            }
        }
    });
}

fn emit(app: &AppHandle, ev: &AppEvent) {
    if let Err(e) = app.emit(EVENT, ev) {
        tracing::warn!(error = %e, "no se pudo enviar el evento a la ventana");
    }
}
