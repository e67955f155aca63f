//! The first-run screen's IPC surface: which mode this device runs in, "Probar conexión" (the
//! same checks as `zeues doctor`), "Migrar planilla" (the same migration as `zeues migrate`,
//! previewed first) and "Guardar". Each is thin: the work is in [`crate::startup`],
//! `zeues_sync::doctor` and `zeues_sync::migrate`.
//!
//! "Guardar" and "Migrar planilla" write; on a device already configured for the plant they
//! take the supervisor (`supervisor_id`, `supervisor_pin`) that [`startup::authorize`] checks
//! on the device open in this window. The read-only ones stay open to the screen.

use std::sync::Arc;

use tauri::{AppHandle, State};
use zeues_sync::api::{
    ApiError, AppMode, DoctorReport, MigrationDone, MigrationPreview, PlantSettings,
};

use crate::core::AppCore;
use crate::notifier::DesktopNotifier;
use crate::startup::{self, Requester, SetupState, SupervisorCredentials};

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
    core: State<'_, AppCore>,
    setup: State<'_, SetupState>,
    settings: PlantSettings,
    supervisor_id: Option<u32>,
    supervisor_pin: Option<String>,
) -> Result<MigrationDone, ApiError> {
    tracing::info!(device = %settings.device_name, "migrando la planilla desde la configuración");
    let device = core.zeues().ok();
    let supervisor = SupervisorCredentials::from_args(supervisor_id, supervisor_pin);
    let who = Requester {
        device: device.as_deref(),
        supervisor: supervisor.as_ref(),
    };
    startup::migrate_sheet(&settings, &setup.config_path, &setup.data_dir, who).await
}

/// Saves (only after every check is green), then opens the chosen device (the demo when the
/// form is empty, else the plant) and installs it in this window: no restart.
#[tauri::command]
pub async fn guardar_configuracion(
    app: AppHandle,
    core: State<'_, AppCore>,
    setup: State<'_, SetupState>,
    settings: PlantSettings,
    supervisor_id: Option<u32>,
    supervisor_pin: Option<String>,
) -> Result<AppMode, ApiError> {
    let before = setup.mode();
    let device = core.zeues().ok();
    let supervisor = SupervisorCredentials::from_args(supervisor_id, supervisor_pin);
    let who = Requester {
        device: device.as_deref(),
        supervisor: supervisor.as_ref(),
    };
    let mode = startup::save(&settings, &setup.config_path, &setup.data_dir, who).await?;
    let plant_dir = crate::plant_config::plant_data_dir(&setup.data_dir);
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
    if mode == AppMode::Planta {
        if let Some(old) = device
            .as_ref()
            .filter(|d| d.data_dir() == plant_dir.as_path())
        {
            // Reconfiguring the plant reopens the same database: the old engine stops first
            // so two engines never drain one outbox (install() would stop it only after).
            tracing::info!(
                "deteniendo la planta abierta antes de abrirla con la nueva configuración"
            );
            old.shutdown();
        }
    }
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
