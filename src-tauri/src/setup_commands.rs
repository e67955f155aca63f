//! The first-run screen's IPC surface: which mode this device runs in, "Probar conexión" (the
//! same checks as `zeues doctor`), "Migrar planilla" (the same migration as `zeues migrate`,
//! previewed first) and "Guardar". Each is thin: the work is in [`crate::startup`],
//! `zeues_sync::doctor` and `zeues_sync::migrate`.

use std::sync::Arc;

use tauri::{AppHandle, State};
use zeues_sync::api::{
    ApiError, AppMode, DoctorReport, MigrationDone, MigrationPreview, PlantSettings,
};

use crate::core::AppCore;
use crate::notifier::DesktopNotifier;
use crate::startup::{self, SetupState};

#[tauri::command]
pub async fn app_mode(setup: State<'_, SetupState>) -> Result<AppMode, ApiError> {
    Ok(setup.mode())
}

#[tauri::command]
pub async fn probar_conexion(
    setup: State<'_, SetupState>,
    settings: PlantSettings,
) -> Result<DoctorReport, ApiError> {
    tracing::info!(device = %settings.device_name, "probando la conexión de planta");
    Ok(startup::check(&settings, &setup.config_path, &setup.data_dir).await)
}

/// What "Migrar planilla" would add to the form's sheet (nothing is written).
#[tauri::command]
pub async fn vista_migracion(
    setup: State<'_, SetupState>,
    settings: PlantSettings,
) -> Result<MigrationPreview, ApiError> {
    startup::migration_preview(&settings, &setup.config_path).await
}

/// "Migrar planilla": backup, add the app's columns, verify, audit; then the checks again.
#[tauri::command]
pub async fn migrar_planilla(
    setup: State<'_, SetupState>,
    settings: PlantSettings,
) -> Result<MigrationDone, ApiError> {
    tracing::info!(device = %settings.device_name, "migrando la planilla desde el primer inicio");
    startup::migrate_sheet(&settings, &setup.config_path, &setup.data_dir).await
}

/// Saves (only after every check is green), then opens the chosen device (the demo when the
/// form is empty, else the plant) and installs it in this window: no restart.
#[tauri::command]
pub async fn guardar_configuracion(
    app: AppHandle,
    core: State<'_, AppCore>,
    setup: State<'_, SetupState>,
    settings: PlantSettings,
) -> Result<AppMode, ApiError> {
    let before = setup.mode();
    let mode = startup::save(&settings, &setup.config_path, &setup.data_dir).await?;
    let demo_already_open =
        mode == AppMode::Demo && before != AppMode::Planta && core.is_configured();
    if demo_already_open {
        // The demo the first-run screen was shown over stays; only the choice is recorded.
        *setup.mode.lock().unwrap_or_else(|p| p.into_inner()) = mode.clone();
        return Ok(mode);
    }
    let (data_dir, config_path, opening) = (
        setup.data_dir.clone(),
        setup.config_path.clone(),
        mode.clone(),
    );
    let rt = tokio::runtime::Handle::current();
    // Opening loads the plant into the replica (network, SQLite): off the async workers.
    let (zeues, report) = tokio::task::spawn_blocking(move || {
        startup::open_configured(
            &opening,
            &data_dir,
            &config_path,
            Arc::new(DesktopNotifier::new()),
            rt,
        )
    })
    .await
    .map_err(|e| ApiError::internal(format!("la apertura de la planta se interrumpió: {e}")))??;
    core.install(&app, zeues, report);
    *setup.mode.lock().unwrap_or_else(|p| p.into_inner()) = mode.clone();
    tracing::info!(?mode, "equipo configurado");
    Ok(mode)
}
