//! How this device starts and how the first-run screen configures it.
//!
//! - No configuration file → [`AppMode::SinConfigurar`]: the window opens on the embedded demo
//!   plant (what `scripts/run.sh` and a fresh install show) and the UI offers the first-run
//!   screen. A configuration that cannot be read or a plant that cannot be opened leave the
//!   window with no device at all (`AppCore` empty: commands answer `SIN_CONFIGURAR`): a
//!   device meant for the plant never shows demo data.
//! - `mode = "demo"` → the embedded demo plant (`Zeues::open_standalone_with`).
//! - `mode = "planta"` → the plant's Google Sheets workbook (+ Redis): `Zeues::open_plant`, with
//!   its database in `<data dir>/planta/` so nothing tapped on the demo is ever pushed to the
//!   real sheet. If the plant cannot be opened at all (first start without network and no
//!   replica yet, a key that was removed …) the device starts as `SinConfigurar`, so IT sees
//!   the first-run screen and its "Probar conexión" instead of a window that never appears; the
//!   error is logged.
//!
//! When the checks find the sheet without the app-owned columns (a plant that never ran
//! `zeues migrate`), the screen shows the migration's plan and "Migrar planilla" runs the same
//! migration (`zeues_sync::migrate`: backup in `<data dir>/respaldos`, add, verify, one
//! `MIGRACION_ESQUEMA` audit row), then checks again.
//!
//! A device already configured for the plant (its configuration file says `mode = "planta"`)
//! is reconfigured — "Guardar", "Migrar planilla" — only with one of that plant's supervisors
//! and the PIN, checked by the plant device open in the window exactly as the supervisor desk
//! checks it (role, rate limit, the trail under ACCESOS): see [`authorize`]. Without a
//! configuration, or on the demo, it is the first run and anyone at the screen may configure.
//!
//! Saving a configuration runs the same checks as `zeues doctor` first and refuses on any red
//! line; then it stores the supervisor PIN (argon2 hash, in the plant database), the Redis
//! password (secrets file, 0600) and the configuration file (0600), opens the new device and
//! installs it in the running window (`AppCore::install` shuts the previous one down). No
//! restart is needed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use zeues_sync::api::{
    ApiError, AppMode, DoctorReport, MigrationDone, MigrationPreview, OpenReport, PlantSettings,
};
use zeues_sync::doctor::{self, ConfigState, DoctorInput, Limits};
use zeues_sync::domain::time::santiago;
use zeues_sync::engine::Notifier;
use zeues_sync::migrate::{self, MigrationError, Outcome};
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
use zeues_sync::service::{Clock, SystemClock, Zeues, DEVICE_DB};
use zeues_sync::store::Store;

use crate::plant_config::{self, ConfigFile, Mode, Secrets};

/// What the first-run commands need, managed as Tauri state.
pub struct SetupState {
    pub mode: Mutex<AppMode>,
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
}

impl SetupState {
    pub fn mode(&self) -> AppMode {
        self.mode.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub struct Started {
    /// `None` until the first-run screen configures the device.
    pub device: Option<(Arc<Zeues>, OpenReport)>,
    pub mode: AppMode,
}

/// Opens the device a saved configuration names (after [`save`]).
pub fn open_configured(
    mode: &AppMode,
    data_dir: &Path,
    config_path: &Path,
    notifier: Arc<dyn Notifier>,
    rt: tokio::runtime::Handle,
) -> Result<(Arc<Zeues>, OpenReport), ApiError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if *mode != AppMode::Planta {
        return Zeues::open_standalone_with(data_dir, clock, notifier, rt);
    }
    let cfg = plant_config::load(config_path)
        .map_err(|e| ApiError::new("CONFIGURACION_INVALIDA", e.to_string()))?
        .ok_or_else(|| ApiError::new("SIN_CONFIGURAR", "No hay configuración guardada."))?;
    let plant = plant_config::load_secrets(config_path)
        .and_then(|s| cfg.plant_config(&s))
        .map_err(|e| ApiError::new("CONFIGURACION_INVALIDA", e.to_string()))?;
    tracing::info!(config = %cfg.describe(), "abriendo la planta");
    Zeues::open_plant(
        &plant_config::plant_data_dir(data_dir),
        plant,
        clock,
        notifier,
        rt,
    )
}

/// Opens the device as its configuration says (see the module docs).
pub fn open(
    data_dir: &Path,
    config_path: &Path,
    notifier: Arc<dyn Notifier>,
    rt: tokio::runtime::Handle,
) -> Result<Started, ApiError> {
    let unconfigured = Started {
        device: None,
        mode: AppMode::SinConfigurar,
    };
    let mode = match plant_config::load(config_path) {
        Ok(Some(c)) if c.mode == Mode::Planta => AppMode::Planta,
        Ok(Some(_)) => AppMode::Demo,
        Ok(None) => {
            tracing::info!(config = %config_path.display(), "sin configuración: primer inicio sobre la planta demo");
            let demo = open_configured(&AppMode::Demo, data_dir, config_path, notifier, rt)?;
            return Ok(Started {
                device: Some(demo),
                mode: AppMode::SinConfigurar,
            });
        }
        Err(e) => {
            tracing::error!(error = %e, "configuración ilegible: se muestra el primer inicio");
            return Ok(unconfigured);
        }
    };
    match open_configured(&mode, data_dir, config_path, notifier, rt) {
        Ok(device) => Ok(Started {
            device: Some(device),
            mode,
        }),
        Err(e) if mode == AppMode::Planta => {
            tracing::error!(code = %e.code, error = %e.message, "no se pudo abrir la planta; se muestra el primer inicio (ejecute `zeues doctor`)");
            Ok(unconfigured)
        }
        Err(e) => Err(e),
    }
}

/// The supervisor who authorizes changing a device configured for the plant.
#[derive(Debug, Clone)]
pub struct SupervisorCredentials {
    pub id: u32,
    pub pin: String,
}

impl SupervisorCredentials {
    /// From the IPC arguments: both, or none given.
    pub fn from_args(id: Option<u32>, pin: Option<String>) -> Option<Self> {
        Some(SupervisorCredentials { id: id?, pin: pin? })
    }
}

/// Who asks to change this device's configuration (see [`authorize`]).
#[derive(Clone, Copy, Default)]
pub struct Requester<'a> {
    /// The device open in the window, if any: a configured plant's supervisor is checked on it.
    pub device: Option<&'a Zeues>,
    /// The supervisor the form names; needed only when the device is configured for the plant.
    pub supervisor: Option<&'a SupervisorCredentials>,
}

/// Whether the configuration may be changed now.
///
/// - No configuration file, the demo, or a file that cannot be read: the first run, open to
///   whoever is at the screen (as before). Someone who can delete or break the file already
///   has the device's files; the screen gives nothing more.
/// - Configured for the plant: a worker with the Supervisor role of that plant and the PIN, by
///   `Zeues::supervisor_login` on the plant device open in the window — the desk's own check
///   (wrong PINs counted, locked after five, every attempt recorded). If that device is not
///   open (the plant could not be opened at start) nobody can be checked and the change is
///   refused: IT fixes the cause and restarts, or edits the file (docs/OPERATIONS.md).
pub fn authorize(
    config_path: &Path,
    data_dir: &Path,
    who: Requester<'_>,
    accion: &str,
) -> Result<(), ApiError> {
    match plant_config::load(config_path) {
        Ok(Some(c)) if c.mode == Mode::Planta => {}
        Ok(_) => return Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "configuración ilegible: se reemplaza como en el primer inicio");
            return Ok(());
        }
    }
    let Some(creds) = who.supervisor.filter(|s| !s.pin.trim().is_empty()) else {
        tracing::warn!("cambio de configuración rechazado: falta el supervisor");
        return Err(ApiError::new(
            "PIN_REQUERIDO",
            "Este equipo ya está conectado a la planta: para cambiar su configuración, un supervisor debe elegir su nombre y escribir su PIN.",
        ));
    };
    // Only the plant's own device knows its supervisors and PIN (a demo opened over a plant
    // configuration would accept the demo's public PIN).
    let plant_dir = plant_config::plant_data_dir(data_dir);
    let Some(device) = who.device.filter(|d| d.data_dir() == plant_dir.as_path()) else {
        tracing::warn!(
            supervisor = creds.id,
            "cambio de configuración rechazado: la planta no está abierta y no se puede comprobar al supervisor"
        );
        return Err(ApiError::new(
            "SUPERVISOR_NO_VERIFICABLE",
            format!(
                "La planta configurada no se pudo abrir, así que no se puede comprobar al supervisor. Corrija lo que PROBAR CONEXIÓN marca en rojo (archivo de clave, red) y reinicie ZEUES; o TI edita {}.",
                config_path.display()
            ),
        ));
    };
    let boss = device
        .supervisor_check(creds.id, &creds.pin, accion)
        .inspect_err(|e| {
        tracing::warn!(supervisor = creds.id, code = %e.code, "cambio de configuración rechazado");
    })?;
    tracing::info!(
        supervisor = boss.id,
        "cambio de configuración autorizado por el supervisor"
    );
    Ok(())
}

/// The configuration file as it is now, for the settings the form does not edit. A file that
/// cannot be read is logged and treated as absent: saving replaces it.
fn existing_config(config_path: &Path) -> Option<ConfigFile> {
    match plant_config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "la configuración actual no se puede leer; se reemplazará al guardar");
            None
        }
    }
}

fn base_url_override(config_path: &Path) -> Option<String> {
    std::env::var("ZEUES_SHEETS_BASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| existing_config(config_path).and_then(|c| c.sheets_base_url))
}

/// The form has only the Redis URL; a private CA and the quota account come from the
/// environment or the existing file's `[redis]` table, as they will when the device runs.
fn apply_file_redis_settings(r: &mut zeues_sync::ports::redis::RedisConfig, config_path: &Path) {
    let file = existing_config(config_path)
        .map(|c| c.redis)
        .unwrap_or_default();
    let get = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| file.get(k).cloned())
    };
    if let Some(ca) = get("ZEUES_REDIS_CA_FILE") {
        r.ca_file = Some(ca);
    }
    if let Some(account) = get("ZEUES_QUOTA_ACCOUNT") {
        r.quota.account = account;
    }
}

/// The first-run form left empty = "use the demo plant".
fn wants_demo(s: &PlantSettings) -> bool {
    s.spreadsheet.trim().is_empty()
        && s.key_file.trim().is_empty()
        && s.redis_url.as_deref().is_none_or(|u| u.trim().is_empty())
}

/// "Probar conexión": the doctor's checks on the form as typed (nothing saved).
pub async fn check(settings: &PlantSettings, config_path: &Path, data_dir: &Path) -> DoctorReport {
    let device_db = plant_config::plant_data_dir(data_dir).join(DEVICE_DB);
    let (config, plant) =
        match doctor::target_from_settings(settings, base_url_override(config_path)) {
            Ok(mut t) => (
                ConfigState::Valid {
                    detail: format!(
                        "Formulario completo (planilla {}, equipo '{}')",
                        t.spreadsheet_id,
                        settings.device_name.trim()
                    ),
                },
                {
                    if let Some(r) = t.redis.as_mut() {
                        apply_file_redis_settings(r, config_path);
                    }
                    Some(t)
                },
            ),
            Err(reason) => (
                ConfigState::Invalid {
                    path: "formulario".into(),
                    reason,
                },
                None,
            ),
        };
    let input = DoctorInput {
        config,
        plant,
        device_db: Some(device_db),
        limits: Limits::default(),
    };
    let mut report = doctor::run(&input, &SystemClock).await;
    // A PIN typed in the form is stored by "Guardar": the device not having one yet is fine.
    let typed_pin = settings
        .supervisor_pin
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty());
    // On this screen the fix for missing app columns is the button under the checks.
    for c in report
        .checks
        .iter_mut()
        .filter(|c| c.id == "app_columns" && !c.ok)
    {
        c.fix = Some(
            "Pulse MIGRAR PLANILLA (abajo) para ver el cambio y aplicarlo: agrega esas columnas al final, sin mover ninguna otra, con respaldo. También: `zeues migrate`.".into(),
        );
    }
    if typed_pin {
        for c in report
            .checks
            .iter_mut()
            .filter(|c| c.id == "supervisor_pin" && !c.ok)
        {
            c.ok = true;
            c.detail = "Se guardará el PIN del formulario (como hash)".into();
            c.fix = None;
        }
    }
    report
}

/// The workbook the form names (the same client `zeues migrate` uses).
async fn form_workbook(
    settings: &PlantSettings,
    config_path: &Path,
) -> Result<GoogleSheets, ApiError> {
    let t = doctor::target_from_settings(settings, base_url_override(config_path))
        .map_err(|m| ApiError::new("CONFIGURACION_INVALIDA", m))?;
    let mut sc = SheetsConfig::new(t.spreadsheet_id);
    if let Some(u) = t.sheets_base_url {
        sc.base_url = u;
    }
    GoogleSheets::connect(sc, Credentials::ServiceAccountFile(t.key_file))
        .await
        .map_err(|e| ApiError::new("CONFIGURACION_INVALIDA", e.to_string()))
}

fn migration_error(e: MigrationError) -> ApiError {
    let code = match &e {
        MigrationError::Workbook(w) => w.code(),
        MigrationError::Schema(d) => d.code(),
        MigrationError::BackupWrite { .. } | MigrationError::BackupRead { .. } => {
            "RESPALDO_FALLIDO"
        }
        MigrationError::Verify(..) => "MIGRACION_NO_VERIFICADA",
        MigrationError::RollbackRefused(_) => "MIGRACION_RECHAZADA",
    };
    ApiError::new(code, e.to_string())
}

/// What "Migrar planilla" will do to the form's sheet: the migration's plan (read-only).
pub async fn migration_preview(
    settings: &PlantSettings,
    config_path: &Path,
) -> Result<MigrationPreview, ApiError> {
    let wb = form_workbook(settings, config_path).await?;
    let plan = migrate::plan(&wb).await.map_err(migration_error)?;
    Ok(MigrationPreview {
        columns: plan.new_headers(),
        preview: plan.preview(),
    })
}

/// "Migrar planilla": `zeues migrate` on the form's sheet (plan → backup in
/// `<data dir>/respaldos` → add → verify, one `MIGRACION_ESQUEMA` row; nothing when already
/// migrated), then the connection test again.
pub async fn migrate_sheet(
    settings: &PlantSettings,
    config_path: &Path,
    data_dir: &Path,
    who: Requester<'_>,
) -> Result<MigrationDone, ApiError> {
    authorize(config_path, data_dir, who, "Migrar la planilla")?;
    let wb = form_workbook(settings, config_path).await?;
    let now = santiago(chrono::Utc::now());
    let id = uuid::Uuid::new_v4().to_string();
    let (_, outcome, backup) = migrate::migrate(&wb, &data_dir.join("respaldos"), now, &id)
        .await
        .map_err(migration_error)?;
    let columns = match outcome {
        Outcome::Applied { columns, .. } => columns,
        Outcome::NothingToDo | Outcome::RolledBack { .. } => Vec::new(),
    };
    let backup = backup.map(|p| p.display().to_string());
    tracing::info!(?columns, ?backup, "planilla migrada desde el primer inicio");
    Ok(MigrationDone {
        columns,
        backup,
        report: check(settings, config_path, data_dir).await,
    })
}

/// "Guardar": who may (see [`authorize`]), then the checks (refuses on red), then PIN, secrets
/// and configuration. Returns the mode the app must run in; `Planta` means the shell opens
/// the plant device. Reconfiguring keeps the supervisor PIN when the form leaves it empty.
pub async fn save(
    settings: &PlantSettings,
    config_path: &Path,
    data_dir: &Path,
    who: Requester<'_>,
) -> Result<AppMode, ApiError> {
    authorize(
        config_path,
        data_dir,
        who,
        "Cambiar la configuración del equipo",
    )?;
    let write_err = |e: plant_config::ConfigFileError| {
        ApiError::new("CONFIGURACION_NO_GUARDADA", e.to_string())
    };
    if wants_demo(settings) {
        plant_config::save(config_path, &ConfigFile::demo()).map_err(write_err)?;
        tracing::info!(config = %config_path.display(), "configuración guardada: modo demo");
        return Ok(AppMode::Demo);
    }
    let report = check(settings, config_path, data_dir).await;
    if !report.ok() {
        let red: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.label.as_str())
            .collect();
        let mut e = ApiError::new(
            "CONFIGURACION_CON_ERRORES",
            format!("No se guardó: corrija primero {}.", red.join(", ")),
        );
        e.data = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
        return Err(e);
    }
    let target = doctor::target_from_settings(settings, base_url_override(config_path))
        .map_err(|m| ApiError::new("CONFIGURACION_INVALIDA", m))?;

    // The PIN goes into the plant device's own database (salted argon2 hash).
    let plant_dir = plant_config::plant_data_dir(data_dir);
    let (store, _) = Store::open(&plant_dir.join(DEVICE_DB))?;
    match settings.supervisor_pin.as_deref().map(str::trim) {
        Some(pin) if !pin.is_empty() => zeues_sync::service::set_pin(&store, pin)?,
        _ if store.setting("supervisor_pin")?.is_none() => {
            return Err(ApiError::new(
                "PIN_REQUERIDO",
                "Indique el PIN de supervisor (al menos 4 dígitos).",
            ))
        }
        _ => {}
    }
    drop(store);

    let (redis_url, redis_password) = match settings.redis_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => {
            let (base, pw) = plant_config::split_password(u);
            (Some(base), pw)
        }
        _ => (None, None),
    };
    let mut cfg = ConfigFile {
        mode: Mode::Planta,
        spreadsheet_id: Some(target.spreadsheet_id),
        key_file: Some(target.key_file),
        redis_url,
        device_name: Some(settings.device_name.trim().to_string()),
        sheets_base_url: None,
        redis: Default::default(),
    };
    // Keep what the form does not edit (tests' emulator address, Sentinel/quota settings).
    if let Some(old) = existing_config(config_path) {
        cfg.sheets_base_url = old.sheets_base_url;
        cfg.redis = old.redis;
    }
    plant_config::save_secrets(config_path, &Secrets { redis_password }).map_err(write_err)?;
    plant_config::save(config_path, &cfg).map_err(write_err)?;
    tracing::info!(config = %cfg.describe(), "configuración de planta guardada");
    Ok(AppMode::Planta)
}
