//! The connection and health checks behind `zeues doctor` and the first-run screen's "Probar
//! conexión": one [`DoctorCheck`] per thing that can be wrong in a plant installation, each
//! with the fix in Spanish for the plant's IT person.
//!
//! Checks run in dependency order; a check whose precondition failed (no readable key → no
//! token → no spreadsheet → no tabs …) is left out of the report rather than shown red a
//! second time: the first red line is the one to fix. [`ALL_CHECKS`] lists every id, so a
//! caller can say which ones were not reached.
//!
//! This module only reads. It never writes to the sheet, to Redis (the quota bucket is read,
//! not spent) or to the device database, and never prints a secret: Redis URLs are redacted
//! and the key file's content is never echoed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::{DoctorCheck, DoctorReport, PlantSettings};
use crate::domain::audit::METADATA_HEADERS;
use crate::domain::header::{normalize_header, ColumnMap};
use crate::domain::sheet::{Col, OperacionesLayout, METADATA, OPERACIONES, ROLES, TRABAJADORES};
use crate::engine::Clock;
use crate::ports::redis::{redact, RedisConfig, RedisCoordinator, Topology};
use crate::ports::sheets::auth::{read_key_file, Credentials, TokenSource};
use crate::ports::sheets::{GoogleSheets, SheetsConfig};
use crate::ports::{CoordError, QuotaKind, Workbook, WorkbookError};

/// Every check id, in the order they are reported.
pub const ALL_CHECKS: [&str; 14] = [
    "config",
    "key_file",
    "token",
    "spreadsheet",
    "tabs",
    "writer",
    "columns",
    "app_columns",
    "redis",
    "clock_skew",
    "quota",
    "local_db",
    "supervisor_pin",
    "outbox",
];

/// Google's per-minute limit of one service account, reads and writes each.
pub const GOOGLE_PER_MINUTE: u32 = 60;

/// The plant a device talks to, as the checks need it.
#[derive(Clone, Debug)]
pub struct PlantTarget {
    pub spreadsheet_id: String,
    pub key_file: PathBuf,
    /// Tests point this at the Sheets emulator.
    pub sheets_base_url: Option<String>,
    /// `None`: Sheets-only (no shared locks or quota).
    pub redis: Option<RedisConfig>,
}

/// What the caller found about its configuration (the file or the first-run form).
#[derive(Clone, Debug)]
pub enum ConfigState {
    /// Read and valid; `detail` says what it configures (no secrets).
    Valid { detail: String },
    /// No configuration yet.
    Missing { path: String },
    /// Present but unusable.
    Invalid { path: String, reason: String },
}

/// Thresholds and patience.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest tolerated difference between this device's clock and Redis's.
    pub max_clock_skew: Duration,
    /// Age of the oldest unsynced command that turns the outbox line red.
    pub max_backlog_age: Duration,
    /// Per request (token, Sheets, Redis).
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_clock_skew: Duration::from_secs(5),
            max_backlog_age: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
        }
    }
}

pub struct DoctorInput {
    pub config: ConfigState,
    /// `None` for the demo plant (only the local checks run).
    pub plant: Option<PlantTarget>,
    /// The device database (`<data dir>/…/zeues.db`); `None` skips the local checks.
    pub device_db: Option<PathBuf>,
    pub limits: Limits,
}

fn green(id: &str, label: &str, detail: impl Into<String>) -> DoctorCheck {
    DoctorCheck {
        id: id.into(),
        label: label.into(),
        ok: true,
        detail: detail.into(),
        fix: None,
    }
}

fn red(id: &str, label: &str, detail: impl Into<String>, fix: impl Into<String>) -> DoctorCheck {
    DoctorCheck {
        id: id.into(),
        label: label.into(),
        ok: false,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// The id inside a Google Sheets URL (`…/spreadsheets/d/<id>/edit#gid=0`), or the id itself.
pub fn parse_spreadsheet_id(input: &str) -> Result<String, String> {
    let s = input.trim();
    let id = match s.split_once("/spreadsheets/d/") {
        Some((_, rest)) => rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .to_string(),
        None => s.to_string(),
    };
    let valid = id.len() >= 10
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(id)
    } else if s.is_empty() {
        Err("falta la URL o el id de la planilla".into())
    } else {
        Err(format!(
            "'{s}' no parece una planilla de Google: pegue la URL completa (https://docs.google.com/spreadsheets/d/…/edit) o solo su id"
        ))
    }
}

/// The first-run form as a check target: `Err` is the `config` line's reason.
pub fn target_from_settings(
    s: &PlantSettings,
    sheets_base_url: Option<String>,
) -> Result<PlantTarget, String> {
    let spreadsheet_id = parse_spreadsheet_id(&s.spreadsheet)?;
    if s.key_file.trim().is_empty() {
        return Err("falta el archivo de clave de la cuenta de servicio (JSON)".into());
    }
    if s.device_name.trim().is_empty() {
        return Err("falta el nombre de este equipo (por ejemplo tablet-07)".into());
    }
    let redis = match s.redis_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => {
            let cfg = RedisConfig::single(url);
            cfg.validate().map_err(|e| e.to_string())?;
            Some(cfg)
        }
    };
    Ok(PlantTarget {
        spreadsheet_id,
        key_file: PathBuf::from(s.key_file.trim()),
        sheets_base_url,
        redis,
    })
}

fn workbook_fix(e: &WorkbookError, email: &str, id: &str) -> String {
    match e {
        WorkbookError::Denied(_) => format!(
            "Abra la planilla en Google Sheets → Compartir, agregue {email} como Editor y vuelva a probar."
        ),
        WorkbookError::NotFound(_) => format!(
            "Revise el id de la planilla ('{id}'): cópielo de la URL, entre /d/ y /edit."
        ),
        WorkbookError::Quota(_) => {
            "Google limitó las llamadas (cuota agotada): espere un minuto y vuelva a probar.".into()
        }
        WorkbookError::Unavailable(_) | WorkbookError::OutcomeUnknown(_) => {
            "Revise la conexión a Internet de este equipo (proxy, firewall, acceso a sheets.googleapis.com y oauth2.googleapis.com).".into()
        }
        WorkbookError::Schema(_) | WorkbookError::Rejected(_) => {
            "Revise la planilla: Google rechazó la lectura.".into()
        }
        WorkbookError::WriterLost(_) => {
            "Sin Redis solo un equipo escribe en la planilla: cierre ZEUES en el otro equipo o configure Redis.".into()
        }
    }
}

fn shows_tls(cfg: &RedisConfig) -> bool {
    match &cfg.topology {
        Topology::Single { url } => url.starts_with("rediss://"),
        Topology::Sentinel { master_tls, .. } => *master_tls,
        Topology::Cluster { nodes } => nodes.iter().all(|u| u.starts_with("rediss://")),
    }
}

fn shows_auth(cfg: &RedisConfig) -> bool {
    let has_password = |u: &str| {
        u.split_once("://")
            .and_then(|(_, rest)| rest.rsplit_once('@'))
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    };
    match &cfg.topology {
        Topology::Single { url } => has_password(url),
        Topology::Sentinel {
            master_password, ..
        } => master_password.is_some(),
        Topology::Cluster { nodes } => nodes.iter().all(|u| has_password(u)),
    }
}

fn redis_fix(e: &CoordError, cfg: &RedisConfig) -> String {
    let msg = e.to_string().to_ascii_lowercase();
    if [
        "wrongpass",
        "noauth",
        "invalid password",
        "invalid username",
        "auth",
    ]
    .iter()
    .any(|k| msg.contains(k))
    {
        "Redis rechazó el usuario o la contraseña: revise el usuario ACL en la URL y vuelva a guardar la contraseña con el asistente de primer inicio (o en secretos.toml, junto a zeues.toml)."
            .into()
    } else if [
        "tls",
        "certificate",
        "handshake",
        "unknownissuer",
        "invalid peer",
    ]
    .iter()
    .any(|k| msg.contains(k))
    {
        "Falló el TLS con Redis: use rediss:// solo si el servidor tiene TLS, e indique la CA privada en ZEUES_REDIS_CA_FILE (archivo PEM)."
            .into()
    } else {
        format!(
            "No se pudo conectar a {}: revise que redis-server esté encendido, el host y el puerto, y que el firewall permita la conexión desde este equipo.",
            cfg.describe()
        )
    }
}

fn fmt_age(d: chrono::Duration) -> String {
    let mins = d.num_minutes().max(0);
    if mins < 60 {
        format!("{mins} min")
    } else if mins < 48 * 60 {
        format!("{} h", mins / 60)
    } else {
        format!("{} días", mins / (24 * 60))
    }
}

/// Runs every check that applies. Async: call it on a tokio runtime.
pub async fn run(input: &DoctorInput, clock: &dyn Clock) -> DoctorReport {
    let mut checks = Vec::new();
    let config_ok = match &input.config {
        ConfigState::Valid { detail } => {
            checks.push(green("config", "Configuración", detail.clone()));
            true
        }
        ConfigState::Missing { path } => {
            checks.push(red(
                "config",
                "Configuración",
                format!("No hay configuración de planta ({path})."),
                "Configure el equipo con el asistente de primer inicio de ZEUES, o cree el archivo (vea `zeues --help` y docs/OPERATIONS.md).",
            ));
            false
        }
        ConfigState::Invalid { path, reason } => {
            checks.push(red(
                "config",
                "Configuración",
                format!("La configuración {path} no es válida: {reason}"),
                "Corrija el archivo (vea la referencia en el README) o vuelva a configurar con el asistente.",
            ));
            false
        }
    };
    if config_ok {
        if let Some(plant) = &input.plant {
            let me = input
                .device_db
                .as_deref()
                .and_then(|db| crate::store::inspect::inspect(db).ok())
                .and_then(|i| i.device_id);
            sheets_checks(plant, me.as_deref(), &input.limits, clock, &mut checks).await;
            redis_checks(plant, &input.limits, clock, &mut checks).await;
        }
    }
    if let Some(db) = &input.device_db {
        local_checks(db, &input.limits, clock.now(), &mut checks);
    }
    DoctorReport { checks }
}

/// Ids of [`ALL_CHECKS`] that are not in the report (not reached or not applicable).
pub fn omitted(report: &DoctorReport) -> Vec<&'static str> {
    ALL_CHECKS
        .iter()
        .copied()
        .filter(|id| !report.checks.iter().any(|c| c.id == *id))
        .collect()
}

async fn sheets_checks(
    plant: &PlantTarget,
    me: Option<&str>,
    limits: &Limits,
    clock: &dyn Clock,
    checks: &mut Vec<DoctorCheck>,
) {
    // Key file: exists, private, parses.
    const KEY: &str = "Clave de la cuenta de servicio";
    let key = match read_key_file(&plant.key_file) {
        Ok(k) => {
            checks.push(green(
                "key_file",
                KEY,
                format!(
                    "{} (permisos privados) de {}",
                    plant.key_file.display(),
                    k.client_email
                ),
            ));
            k
        }
        Err(e) => {
            let fix = match &e {
                crate::ports::sheets::auth::AuthSetupError::KeyFileTooOpen { path, .. } => format!(
                    "Ejecute `chmod 600 {path}` (y `chown` al usuario que ejecuta ZEUES): la clave no debe poder leerla nadie más."
                ),
                crate::ports::sheets::auth::AuthSetupError::KeyFileUnreadable { .. } => {
                    "Indique la ruta correcta del archivo JSON de la cuenta de servicio, legible por el usuario que ejecuta ZEUES.".into()
                }
                crate::ports::sheets::auth::AuthSetupError::KeyFileInvalid { .. } => {
                    "El archivo no es una clave de cuenta de servicio: descargue una clave nueva en formato JSON (Google Cloud → IAM → Cuentas de servicio → Claves).".into()
                }
            };
            checks.push(red("key_file", KEY, e.to_string(), fix));
            return;
        }
    };
    let email = key.client_email.clone();
    let creds = Credentials::ServiceAccountFile(plant.key_file.clone());

    // Token: Google (its token_uri) signs us in with the Sheets scope.
    const TOKEN: &str = "Token de acceso de Google";
    let token = async {
        let src = TokenSource::new(&creds, limits.timeout)
            .await
            .map_err(|e| WorkbookError::Denied(e.to_string()))?;
        src.token(false).await
    };
    match tokio::time::timeout(limits.timeout * 2, token).await {
        Ok(Ok(_)) => checks.push(green(
            "token",
            TOKEN,
            format!("Google entregó un token para {email} (solo alcance de Sheets)"),
        )),
        Ok(Err(e)) => {
            let fix = match e {
                WorkbookError::Unavailable(_) => format!(
                    "No se llegó al servidor de tokens ({}): revise Internet, proxy y firewall.",
                    key.token_uri
                ),
                _ => "Google rechazó la clave: puede estar revocada o la cuenta deshabilitada. Cree una clave nueva (docs/OPERATIONS.md, \"Rotar la clave\").".into(),
            };
            checks.push(red("token", TOKEN, e.to_string(), fix));
            return;
        }
        Err(_) => {
            checks.push(red(
                "token",
                TOKEN,
                format!(
                    "sin respuesta de {} en {:?}",
                    key.token_uri,
                    limits.timeout * 2
                ),
                "Revise la conexión a Internet de este equipo (proxy, firewall).",
            ));
            return;
        }
    }

    // Spreadsheet reachable, with its tabs.
    const BOOK: &str = "Planilla";
    let mut cfg = SheetsConfig::new(plant.spreadsheet_id.clone());
    if let Some(u) = &plant.sheets_base_url {
        cfg.base_url = u.clone();
    }
    cfg.request_timeout = limits.timeout;
    cfg.connect_timeout = limits.timeout;
    cfg.max_attempts = 2;
    cfg.backoff_base = Duration::from_millis(200);
    cfg.backoff_max = Duration::from_secs(1);
    let gs = match GoogleSheets::connect(cfg, creds).await {
        Ok(gs) => gs,
        Err(e) => {
            checks.push(red(
                "spreadsheet",
                BOOK,
                e.to_string(),
                "Revise el id de la planilla y la clave.",
            ));
            return;
        }
    };
    let info = match gs.sheets_info().await {
        Ok(i) => i,
        Err(e) => {
            let fix = workbook_fix(&e, &email, &plant.spreadsheet_id);
            if matches!(e, WorkbookError::Quota(_)) {
                checks.push(red(
                    "quota",
                    "Cuota de Google Sheets",
                    e.to_string(),
                    fix.clone(),
                ));
            }
            checks.push(red("spreadsheet", BOOK, e.to_string(), fix));
            return;
        }
    };
    checks.push(green(
        "spreadsheet",
        BOOK,
        format!(
            "{} responde; {} la puede leer ({} pestañas)",
            plant.spreadsheet_id,
            email,
            info.len()
        ),
    ));

    // The four tabs.
    const TABS: &str = "Pestañas";
    let wanted = [OPERACIONES, TRABAJADORES, ROLES, METADATA];
    let present: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|t| {
            info.iter()
                .any(|s| s.title == *t || normalize_header(&s.title) == normalize_header(t))
        })
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|t| !present.contains(t))
        .collect();
    if missing.is_empty() {
        checks.push(green("tabs", TABS, wanted.join(", ")));
    } else {
        checks.push(red(
            "tabs",
            TABS,
            format!("Faltan las pestañas: {}", missing.join(", ")),
            format!(
                "Cree (o renombre) en la planilla las pestañas {} con su fila de encabezados.",
                missing.join(", ")
            ),
        ));
    }

    writer_check(&gs, plant, me, clock.now(), &email, checks).await;

    // Critical columns of each present tab, found by header name.
    const COLS: &str = "Columnas críticas";
    let mut absent: Vec<String> = Vec::new();
    let mut ops_layout: Option<OperacionesLayout> = None;
    let mut read_error: Option<WorkbookError> = None;
    for tab in &present {
        let headers = match gs.read_rows(tab, &[]).await {
            Ok(r) => r.headers,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        let names: Vec<&str> = match *tab {
            OPERACIONES => Col::CRITICAL.iter().map(|c| c.header()).collect(),
            TRABAJADORES => vec!["Id", "Nombre", "Apellido", "Activo"],
            ROLES => vec!["Id", "Rol", "Activo"],
            _ => METADATA_HEADERS.to_vec(),
        };
        let map = ColumnMap::from_headers(&headers);
        for n in names {
            if let Err(e) = map.require(tab, n) {
                absent.push(match e {
                    crate::domain::DomainError::EsquemaIncompatible {
                        tab,
                        column,
                        detalle,
                    } if detalle != "falta la columna" => format!("{tab}.{column} ({detalle})"),
                    _ => format!("{tab}.{n}"),
                });
            }
        }
        if *tab == OPERACIONES {
            ops_layout = OperacionesLayout::from_headers(&headers).ok();
        }
    }
    if let Some(e) = read_error {
        let fix = workbook_fix(&e, &email, &plant.spreadsheet_id);
        checks.push(red("columns", COLS, e.to_string(), fix));
        return;
    }
    if absent.is_empty() {
        checks.push(green(
            "columns",
            COLS,
            format!("Encabezados encontrados en {}", present.join(", ")),
        ));
    } else {
        checks.push(red(
            "columns",
            COLS,
            format!("Faltan columnas: {}", absent.join(", ")),
            "Agregue (o corrija) esos encabezados en la fila 1; los nombres se comparan sin mayúsculas, tildes ni espacios. ZEUES no escribe mientras falten.",
        ));
    }

    // App-owned columns (the migration adds them).
    if let Some(layout) = ops_layout {
        let missing = layout.missing_app_columns();
        const APP: &str = "Columnas de la aplicación";
        if missing.is_empty() {
            checks.push(green(
                "app_columns",
                APP,
                "Operaciones tiene las columnas de estado de ZEUES",
            ));
        } else {
            let names: Vec<&str> = missing.iter().map(|c| c.header()).collect();
            checks.push(red(
                "app_columns",
                APP,
                format!("Faltan en Operaciones: {}", names.join(", ")),
                "Ejecute `zeues migrate --dry-run` para ver el cambio y luego `zeues migrate`: agrega esas columnas al final, sin mover ninguna otra, con respaldo.",
            ));
        }
    }
}

/// Plants without Redis: exactly one device writes the spreadsheet (its lease tab). A second
/// device, or a Redis fleet sharing the sheet with such a writer, is red.
async fn writer_check(
    gs: &GoogleSheets,
    plant: &PlantTarget,
    me: Option<&str>,
    now: DateTime<Utc>,
    email: &str,
    checks: &mut Vec<DoctorCheck>,
) {
    const WRITER: &str = "Equipo escritor (sin Redis)";
    let lease = match gs.writer_lease().await {
        Ok(l) => l,
        Err(e) => {
            let fix = workbook_fix(&e, email, &plant.spreadsheet_id);
            checks.push(red("writer", WRITER, e.to_string(), fix));
            return;
        }
    };
    let fmt =
        |t: DateTime<Utc>| crate::domain::time::fmt_datetime(crate::domain::time::santiago(t));
    match lease {
        None if plant.redis.is_none() => checks.push(green(
            "writer",
            WRITER,
            "Ningún equipo registrado: el primero que escriba queda como el único escritor de la planilla",
        )),
        None => checks.push(green(
            "writer",
            WRITER,
            "Con Redis: ningún equipo sin Redis escribe esta planilla",
        )),
        Some(l) if plant.redis.is_none() && Some(l.device_id.as_str()) == me => checks.push(green(
            "writer",
            WRITER,
            format!("Este equipo («{}») es el escritor de la planilla desde {}", l.name, fmt(l.since)),
        )),
        Some(l) if now - l.heartbeat >= crate::engine::writer::STALE && plant.redis.is_none() => {
            checks.push(green(
                "writer",
                WRITER,
                format!(
                    "«{}» figura como escritor pero no da señal desde {}: este equipo tomará el rol al escribir",
                    l.name,
                    fmt(l.heartbeat)
                ),
            ))
        }
        Some(l) if plant.redis.is_none() => checks.push(red(
            "writer",
            WRITER,
            format!(
                "La planilla ya tiene escritor sin Redis: «{}» (última señal {}). Este equipo no enviará nada.",
                l.name,
                fmt(l.heartbeat)
            ),
            "Sin Redis solo un equipo puede escribir en la planilla. Use ese equipo; o ciérrelo (libera el rol al cerrar, o tras 10 min sin señal) para que este lo tome; o configure Redis en todos los equipos para trabajar con varios.",
        )),
        Some(l) => checks.push(red(
            "writer",
            WRITER,
            format!(
                "Un equipo sin Redis («{}», última señal {}) escribe esta planilla, que también usa este equipo con Redis: dos formas de escribir a la vez no son seguras.",
                l.name,
                fmt(l.heartbeat)
            ),
            "Configure Redis también en ese equipo (o ciérrelo) y luego borre la pestaña oculta ZEUES_ESCRITOR de la planilla.",
        )),
    }
}

async fn redis_checks(
    plant: &PlantTarget,
    limits: &Limits,
    clock: &dyn Clock,
    checks: &mut Vec<DoctorCheck>,
) {
    const REDIS: &str = "Redis";
    const QUOTA: &str = "Cuota de Google Sheets";
    let Some(cfg) = &plant.redis else {
        checks.push(green(
            "redis",
            REDIS,
            "Sin Redis: modo solo Sheets — un único equipo escribe en la planilla (el registrado como escritor); los demás no envían nada",
        ));
        if !checks.iter().any(|c| c.id == "quota") {
            checks.push(green(
                "quota",
                QUOTA,
                format!(
                    "Sin Redis cada equipo usa su propio presupuesto: con muchos equipos pueden superar los {GOOGLE_PER_MINUTE}/min de Google (configure Redis)"
                ),
            ));
        }
        return;
    };
    let tls = if shows_tls(cfg) { "sí" } else { "no" };
    let auth = if shows_auth(cfg) { "sí" } else { "no" };
    let mut cfg = cfg.clone();
    cfg.connect_timeout = cfg.connect_timeout.min(limits.timeout);
    cfg.response_timeout = cfg.response_timeout.min(limits.timeout);
    let connected = tokio::time::timeout(limits.timeout * 2, async {
        let c = RedisCoordinator::connect(cfg.clone()).await?;
        c.ping().await?;
        Ok::<_, CoordError>(c)
    })
    .await;
    let coord = match connected {
        Ok(Ok(c)) => {
            checks.push(green(
                "redis",
                REDIS,
                format!("{} responde (TLS: {tls}, AUTH: {auth})", cfg.describe()),
            ));
            c
        }
        Ok(Err(e)) => {
            // The error text comes from redis-rs; strip any URL credentials it might echo.
            let detail = redact_all(&e.to_string());
            checks.push(red("redis", REDIS, detail, redis_fix(&e, &cfg)));
            return;
        }
        Err(_) => {
            checks.push(red(
                "redis",
                REDIS,
                format!(
                    "{} no respondió en {:?}",
                    cfg.describe(),
                    limits.timeout * 2
                ),
                redis_fix(&CoordError::Unavailable("timeout".into()), &cfg),
            ));
            return;
        }
    };

    // Clock skew against the server's TIME (leases and quota windows run on it).
    const CLOCK: &str = "Reloj del equipo";
    let before = clock.now();
    match coord.server_time().await {
        Ok(server) => {
            let after = clock.now();
            let local = before + (after - before) / 2;
            let skew = (local - server).num_milliseconds().abs();
            let max = limits.max_clock_skew.as_millis() as i64;
            let detail = format!("diferencia con Redis: {:.1} s", skew as f64 / 1000.0);
            if skew <= max {
                checks.push(green("clock_skew", CLOCK, detail));
            } else {
                checks.push(red(
                    "clock_skew",
                    CLOCK,
                    format!("{detail} (máximo {} s)", limits.max_clock_skew.as_secs()),
                    "Sincronice la hora del equipo por NTP (`timedatectl set-ntp true`) y revise la zona horaria; las horas del registro de auditoría salen de este reloj.",
                ));
            }
        }
        Err(e) => checks.push(red(
            "clock_skew",
            CLOCK,
            e.to_string(),
            "Redis no respondió a TIME: revise que no esté restringido por ACL (el usuario necesita +time).",
        )),
    }

    // Quota: the fleet's configured budget fits Google's, and what is left in the bucket.
    if checks.iter().any(|c| c.id == "quota") {
        return;
    }
    let per_minute = |l: crate::ports::redis::RateLimit| {
        let secs = l.window.as_secs().max(1);
        (u64::from(l.limit) * 60).div_ceil(secs)
    };
    let q = &cfg.quota;
    let (r, w) = (per_minute(q.reads), per_minute(q.writes));
    if r > u64::from(GOOGLE_PER_MINUTE) || w > u64::from(GOOGLE_PER_MINUTE) {
        checks.push(red(
            "quota",
            QUOTA,
            format!("Presupuesto configurado: {r} lecturas/min y {w} escrituras/min"),
            format!(
                "Google permite {GOOGLE_PER_MINUTE}/min por cuenta de servicio: baje ZEUES_QUOTA_READS / ZEUES_QUOTA_WRITES (50 deja margen)."
            ),
        ));
        return;
    }
    let coord = &coord;
    let level = |k| async move {
        match coord.quota_level(k).await {
            Ok((Some(t), cap)) => format!("{:.0} de {cap}", t.floor()),
            Ok((None, cap)) => format!("sin uso reciente (ráfaga {cap})"),
            Err(e) => format!("no se pudo leer ({e})"),
        }
    };
    let (lr, lw) = (level(QuotaKind::Read).await, level(QuotaKind::Write).await);
    checks.push(green(
        "quota",
        QUOTA,
        format!(
            "Cuenta '{}': {r} lecturas/min y {w} escrituras/min de {GOOGLE_PER_MINUTE} (disponibles ahora: lecturas {lr}, escrituras {lw})",
            q.account
        ),
    ));
}

/// Redacts every `scheme://user:pass@` in a free text (redis-rs errors may echo the URL).
fn redact_all(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.contains("://") {
                redact(w)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn local_checks(db: &Path, limits: &Limits, now: DateTime<Utc>, checks: &mut Vec<DoctorCheck>) {
    const DB: &str = "Base de datos local";
    const OUTBOX: &str = "Pendientes de sincronizar";
    if !db.is_file() {
        checks.push(green(
            "local_db",
            DB,
            format!("{} aún no existe: se crea al abrir ZEUES", db.display()),
        ));
        return;
    }
    let i = match crate::store::inspect::inspect(db) {
        Ok(i) => i,
        Err(e) => {
            checks.push(red(
                "local_db",
                DB,
                format!("{}: {e}", db.display()),
                "Cierre ZEUES y vuelva a abrirlo: una base dañada se aparta sola y se rescatan sus pendientes. Si persiste, revise permisos y espacio en disco.",
            ));
            return;
        }
    };
    if i.integrity_ok() {
        checks.push(green(
            "local_db",
            DB,
            format!(
                "{} íntegra ({} spools en la réplica)",
                db.display(),
                i.spools
            ),
        ));
    } else {
        checks.push(red(
            "local_db",
            DB,
            format!("{}: {}", db.display(), i.integrity),
            "Cierre ZEUES y vuelva a abrirlo: la base dañada se aparta (zeues.db.corrupt-…) y se rescatan los comandos pendientes. No la borre a mano.",
        ));
    }
    const PIN: &str = "PIN de supervisor";
    if i.pin_set {
        checks.push(green(
            "supervisor_pin",
            PIN,
            "Configurado (guardado como hash)",
        ));
    } else {
        checks.push(red(
            "supervisor_pin",
            PIN,
            "Este equipo no tiene PIN de supervisor: OVERRIDE, liberar spools y resolver conflictos no funcionarán",
            "Fíjelo con el asistente de primer inicio, o con `echo 1234 | zeues pin` (use su PIN; se guarda solo el hash).",
        ));
    }
    let waiting = i.pending + i.held;
    let age = i.oldest_pending.map(|t| now - t);
    let mut detail = match age {
        Some(a) => format!(
            "{waiting} comandos sin sincronizar (el más antiguo hace {})",
            fmt_age(a)
        ),
        None => "Nada pendiente".to_string(),
    };
    if i.held > 0 {
        detail += &format!("; {} retenidos detrás de un conflicto", i.held);
    }
    if i.open_conflicts > 0 {
        detail += &format!(
            "; {} conflictos abiertos (bandeja del supervisor)",
            i.open_conflicts
        );
    }
    let max = chrono::Duration::from_std(limits.max_backlog_age)
        .unwrap_or_else(|_| chrono::Duration::days(1));
    if age.is_some_and(|a| a > max) {
        checks.push(red(
            "outbox",
            OUTBOX,
            detail,
            "Este equipo no sincroniza hace demasiado: revise su conexión (`zeues status`) y el registro (logs). No borre la base local: contiene trabajo que aún no está en la planilla.",
        ));
    } else {
        checks.push(green("outbox", OUTBOX, detail));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spreadsheet_ids_from_urls_and_bare_ids() {
        let id = "1AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-xy";
        assert_eq!(
            parse_spreadsheet_id(&format!(
                "https://docs.google.com/spreadsheets/d/{id}/edit#gid=0"
            )),
            Ok(id.to_string())
        );
        assert_eq!(parse_spreadsheet_id(&format!(" {id} ")), Ok(id.to_string()));
        assert!(parse_spreadsheet_id("").is_err());
        assert!(parse_spreadsheet_id("https://example.com/x y").is_err());
    }

    #[test]
    fn form_settings_become_a_target_or_the_config_line_reason() {
        let mut s = PlantSettings {
            spreadsheet: "1AbCdEfGhIjKlMnOp".into(),
            key_file: "/etc/zeues/sa.json".into(),
            redis_url: Some("rediss://zeues:secreto@redis.planta:6380/0".into()),
            device_name: "tablet-07".into(),
            supervisor_pin: None,
        };
        let t = target_from_settings(&s, None).unwrap();
        let r = t.redis.unwrap();
        assert!(shows_tls(&r) && shows_auth(&r));
        assert!(!format!("{r:?}").contains("secreto"));
        s.redis_url = Some("http://x".into());
        assert!(target_from_settings(&s, None).is_err());
        s.redis_url = None;
        s.device_name = " ".into();
        assert!(target_from_settings(&s, None)
            .unwrap_err()
            .contains("nombre"));
    }

    #[test]
    fn free_text_urls_are_redacted() {
        assert_eq!(
            redact_all("failed redis://u:p4ss@h:1/0 now"),
            "failed redis://u:***@h:1/0 now"
        );
    }
}
