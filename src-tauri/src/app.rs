//! Start-up: where the data lives, logs, this data directory's lock (one window per directory:
//! [`crate::single_instance`]), one tokio runtime shared by Tauri and the sync engine, the
//! device (the embedded demo plant by default), then the window with its IPC commands.

use std::process::ExitCode;
use std::sync::Arc;

use tauri::Manager;

use crate::core::AppCore;
use crate::notifier::DesktopNotifier;
use crate::{commands, config, logging, supervisor};

pub fn run() -> ExitCode {
    let paths = match config::from_environment() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("zeues: {e}");
            return ExitCode::from(2);
        }
    };
    let _log_guard = match logging::init(&paths.log_dir) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("zeues: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Before any database is opened: a second window on these data would run a second sync
    // engine over the same outbox. Held until the process ends.
    let _instance = match crate::single_instance::claim(&paths.data_dir) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
    match run_window(&paths) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("zeues terminó con error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_window(paths: &config::Paths) -> Result<(), String> {
    tracing::info!(data_dir = %paths.data_dir.display(), log_dir = %paths.log_dir.display(), "iniciando ZEUES");
    // One runtime for Tauri and the sync engine, so commands and engine share its workers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("zeues-rt")
        .build()
        .map_err(|e| format!("no se pudo crear el runtime: {e}"))?;
    tauri::async_runtime::set(runtime.handle().clone());

    std::fs::create_dir_all(&paths.data_dir)
        .map_err(|e| format!("no se pudo crear {}: {e}", paths.data_dir.display()))?;
    let notifier = Arc::new(DesktopNotifier::new());
    let config_path = crate::plant_config::path_from_environment(std::env::args_os().skip(1))
        .map_err(|e| e.to_string())?;
    let started = crate::startup::open(
        &paths.data_dir,
        &config_path,
        notifier,
        runtime.handle().clone(),
    )
    .map_err(|e| format!("no se pudo abrir la planta local: {e}"))?;
    let core = match started.device {
        Some((zeues, report)) => {
            if let Some(rec) = &report.recovered_from_corruption {
                tracing::warn!(moved_to = %rec.moved_to, salvaged = rec.salvaged_commands, "base local recuperada: {}", rec.message);
            }
            tracing::info!(seeded_demo = report.seeded_demo, mode = ?started.mode, "planta abierta");
            AppCore::with_device(zeues, report)
        }
        None => AppCore::default(),
    };
    let setup = crate::startup::SetupState {
        mode: std::sync::Mutex::new(started.mode),
        config_path,
        data_dir: paths.data_dir.clone(),
    };

    let app = builder(core)
        .manage(setup)
        .build(tauri::generate_context!())
        .map_err(|e| format!("no se pudo iniciar la ventana: {e}"))?;
    crate::single_instance::watch_focus_requests(app.handle().clone(), paths.data_dir.clone());
    app.run(move |app, event| {
        if let tauri::RunEvent::Exit = event {
            tracing::info!("cerrando ZEUES");
            app.state::<AppCore>().shutdown();
        }
    });
    Ok(())
}

/// The window's Tauri builder: the device slot and every IPC command (the names are checked
/// against `zeues_sync::ipc_names::ALL` by `build.rs`).
pub fn builder(core: AppCore) -> tauri::Builder<tauri::Wry> {
    tauri::Builder::default()
        .manage(core)
        .invoke_handler(tauri::generate_handler![
            commands::list_workers,
            commands::list_spools,
            commands::get_spool,
            commands::execute_action,
            commands::sync_status,
            commands::pending_commands,
            commands::spool_history,
            commands::open_report,
            commands::disponibles,
            supervisor::supervisor_login,
            supervisor::supervisor_action,
            supervisor::list_conflicts,
            supervisor::discard_conflict,
            supervisor::reapply_conflict,
            supervisor::conflict_metrics,
            supervisor::sync_health,
            supervisor::pin_attempts,
            supervisor::produccion,
            supervisor::export_csv,
            supervisor::default_export_dir,
            crate::setup_commands::app_mode,
            crate::setup_commands::probar_conexion,
            crate::setup_commands::guardar_configuracion,
            crate::setup_commands::vista_migracion,
            crate::setup_commands::migrar_planilla,
        ])
        .setup(|app| {
            app.state::<AppCore>().forward_events(app.handle());
            lean_webview(app);
            Ok(())
        })
}

/// A single-page local app needs no page or resource cache between navigations: WebKit's
/// smallest cache model (issue 15, tablet memory; BENCHMARKS.md has what it saved).
#[cfg(target_os = "linux")]
fn lean_webview(app: &tauri::App) {
    use tauri::Manager;
    use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
    let Some(w) = app.get_webview_window("main") else {
        tracing::warn!("sin ventana principal: no se ajustó la caché de WebKit");
        return;
    };
    if let Err(e) = w.with_webview(|wv| {
        if let Some(ctx) = wv.inner().context() {
            ctx.set_cache_model(CacheModel::DocumentViewer);
        }
    }) {
        tracing::warn!(error = %e, "no se ajustó la caché de WebKit");
    }
}

#[cfg(not(target_os = "linux"))]
fn lean_webview(_app: &tauri::App) {}
