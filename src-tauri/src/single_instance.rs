//! One window per data directory (`zeues_sync::instance`). The window takes the directory's
//! lock before it opens any database and holds it until the process ends. A second launch on
//! the same directory never opens the database: it asks the open window to come forward (a
//! request file the first window polls), says in Spanish that ZEUES is already open (stderr,
//! the log, a desktop notification) and exits 1.
//!
//! Why not a socket or tauri-plugin-single-instance: the plugin is keyed by the app id, and
//! tests run two windows on two data directories at once; a file inside the data directory
//! needs nothing that could be left behind or differ between Linux and Windows.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use tauri::{AppHandle, Manager};
use zeues_sync::instance::{self, Holder, InstanceError, InstanceLock};

use crate::notifier::DesktopNotifier;

/// How long a launch waits for a window that is closing right now to let the directory go
/// (a quick relaunch, a test restarting the app).
pub const PATIENCE: Duration = Duration::from_secs(5);
/// How often the window looks for a second launch's request to come forward.
const FOCUS_POLL: Duration = Duration::from_secs(1);
/// How long a refused launch gives the notification daemon before exiting anyway.
const NOTIFY_PATIENCE: Duration = Duration::from_secs(3);

/// Takes `data_dir` for this window, or explains why not; the error is the exit code.
pub fn claim(data_dir: &Path) -> Result<InstanceLock, ExitCode> {
    let first = match InstanceLock::acquire_as(data_dir, Holder::App) {
        Err(e @ InstanceError::Held { .. }) => e,
        other => return settle(data_dir, other),
    };
    // Another window may be open: ask it to come forward now, not after the wait below.
    if let Err(e) = instance::request_focus(data_dir) {
        tracing::warn!(error = %e, "no se pudo pedir a la ventana abierta que pase al frente");
    }
    tracing::info!(%first, "el directorio de datos está tomado; esperando a que se libere");
    settle(
        data_dir,
        InstanceLock::acquire_waiting(data_dir, Holder::App, PATIENCE),
    )
}

fn settle(
    data_dir: &Path,
    got: Result<InstanceLock, InstanceError>,
) -> Result<InstanceLock, ExitCode> {
    match got {
        Ok(lock) => {
            // A request left for a window that has closed (or our own, made while waiting for
            // it to close) is not for this one.
            if let Err(e) = instance::take_focus_request(data_dir) {
                tracing::warn!(error = %e, "no se pudo borrar una petición de pasar al frente");
            }
            Ok(lock)
        }
        Err(e @ InstanceError::Held { .. }) => {
            let message = refusal(&e);
            eprintln!("zeues: {message}");
            tracing::error!("{message}");
            notify("ZEUES ya está abierto", &message);
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("zeues: {e}");
            tracing::error!("{e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// What a refused launch says, by who holds the directory.
fn refusal(e: &InstanceError) -> String {
    let holder = match e {
        InstanceError::Held { held_by, .. } => &held_by.holder,
        InstanceError::Io { .. } => &Holder::Unknown,
    };
    let what_to_do = match holder {
        Holder::App => "Use esa ventana: no se abre una segunda sobre los mismos datos.",
        Holder::Command(_) => "Espere a que termine y vuelva a abrir ZEUES.",
        Holder::Unknown => "Use la ventana que ya está abierta, o ciérrela y vuelva a abrir ZEUES.",
    };
    format!("{e}. {what_to_do}")
}

/// A desktop notification, best effort: one D-Bus call that may take long to fail when no
/// daemon answers, so it gets a few seconds and the process exits anyway. Failures are logged.
fn notify(title: &str, body: &str) {
    let (tx, rx) = std::sync::mpsc::channel();
    let (t, b) = (title.to_string(), body.to_string());
    let spawned = std::thread::Builder::new()
        .name("zeues-notify".into())
        .spawn(move || {
            if tx.send(DesktopNotifier::send(&t, &b)).is_err() {
                tracing::debug!("la notificación terminó después de salir");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no se pudo iniciar el hilo de notificaciones");
        return;
    }
    match rx.recv_timeout(NOTIFY_PATIENCE) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "notificación nativa no mostrada"),
        Err(_) => tracing::warn!("el servicio de notificaciones no respondió a tiempo"),
    }
}

/// Brings the window forward whenever a second launch on `data_dir` asks (see the module docs).
pub fn watch_focus_requests(app: AppHandle, data_dir: PathBuf) {
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(FOCUS_POLL);
        loop {
            tick.tick().await;
            match instance::take_focus_request(&data_dir) {
                Ok(true) => bring_forward(&app),
                Ok(false) => {}
                Err(e) => {
                    // Best effort: a second launch is still refused, only without this.
                    tracing::warn!(error = %e, "no se pueden leer las peticiones de pasar al frente; se dejan de mirar");
                    return;
                }
            }
        }
    });
}

fn bring_forward(app: &AppHandle) {
    let Some(w) = app.get_webview_window("main") else {
        tracing::warn!("otra apertura pidió la ventana, pero no hay ventana principal");
        return;
    };
    tracing::info!("otra apertura de ZEUES en este equipo: la ventana pasa al frente");
    let steps = [
        ("restaurar", w.unminimize()),
        ("mostrar", w.show()),
        ("enfocar", w.set_focus()),
    ];
    for (step, result) in steps {
        if let Err(e) = result {
            tracing::warn!(error = %e, step, "la ventana no pudo pasar al frente");
        }
    }
}
