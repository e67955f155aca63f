//! ZEUES desktop/tablet shell. Opens the local plant (`zeues-sync`), shows the Leptos UI in a
//! Tauri window, answers its commands and forwards the service's events to it. Decides nothing
//! about spools: every rule lives in `zeues-sync`.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod config;
mod events;
mod logging;

use std::process::ExitCode;
use std::sync::Arc;

use tauri::Manager;
use zeues_sync::service::{SystemClock, Zeues};

fn main() -> ExitCode {
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
    match run(&paths) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("zeues terminó con error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(paths: &config::Paths) -> Result<(), String> {
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
    let (zeues, report) = Zeues::open_standalone(
        &paths.data_dir,
        Arc::new(SystemClock),
        runtime.handle().clone(),
    )
    .map_err(|e| format!("no se pudo abrir la planta local: {e}"))?;
    if let Some(rec) = &report.recovered_from_corruption {
        tracing::warn!(moved_to = %rec.moved_to, salvaged = rec.salvaged_commands, "base local recuperada: {}", rec.message);
    }
    tracing::info!(seeded_demo = report.seeded_demo, "planta local abierta");

    let app = tauri::Builder::default()
        .manage(Arc::clone(&zeues))
        .manage(commands::OpenState(report))
        .invoke_handler(tauri::generate_handler![
            commands::list_workers,
            commands::list_spools,
            commands::get_spool,
            commands::execute_action,
            commands::sync_status,
            commands::pending_commands,
            commands::spool_history,
            commands::open_report,
        ])
        .setup(|app| {
            let zeues = app.state::<Arc<Zeues>>();
            events::forward(app.handle().clone(), zeues.subscribe());
            Ok(())
        })
        .build(tauri::generate_context!())
        .map_err(|e| format!("no se pudo iniciar la ventana: {e}"))?;

    app.run(move |_app, event| {
        if let tauri::RunEvent::Exit = event {
            tracing::info!("cerrando ZEUES");
            zeues.shutdown();
        }
    });
    Ok(())
}
