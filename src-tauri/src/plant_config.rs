//! This device's configuration file (TOML) and its secrets file.
//!
//! - Where: `--config <file>`, else `ZEUES_CONFIG`, else `zeues.toml` inside an explicitly given
//!   data directory (`--data-dir` / `ZEUES_DATA_DIR`: a test run or a second instance stays
//!   self-contained), else `zeues.toml` in the OS config directory (`~/.config/zeues/` on
//!   Linux). No file = not configured yet (first-run screen).
//! - What: the mode (`demo` | `planta`), the spreadsheet id, the service-account key file's path,
//!   the Redis URL **without password**, this device's name, an optional `sheets_base_url`
//!   (tests point it at the emulator) and an optional `[redis]` table with the other
//!   `ZEUES_REDIS_*` / `ZEUES_QUOTA_*` settings of the README (Sentinel, Cluster, CA, quota).
//! - Secrets: the Redis password lives in `secretos.toml` beside the config file, written 0600
//!   (owner only) like the config itself. The OS keyring is not used on Linux: it needs an
//!   unlocked Secret Service in a logged-in desktop session, which kiosk tablets and CI lack
//!   (see README, "Secretos"). Neither file's content is ever logged.
//!
//! Environment variables of the same names override the file (operations and tests).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeues_sync::doctor::PlantTarget;
use zeues_sync::ports::redis::{ConfigError as RedisConfigError, RedisConfig, Topology};
use zeues_sync::service::PlantConfig;

pub const FILE_NAME: &str = "zeues.toml";
pub const SECRETS_NAME: &str = "secretos.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Demo,
    Planta,
}

/// The file as written on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spreadsheet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Without password (`rediss://zeues@redis.planta:6380/0`); empty/absent = Sheets-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// Only for tests (the Sheets emulator); production uses Google's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheets_base_url: Option<String>,
    /// Further Redis/quota settings by their README names (`ZEUES_REDIS_SENTINELS = "…"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redis: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("no se pudo leer {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} no es válido: {reason}")]
    Invalid { path: String, reason: String },
    #[error("no se pudo guardar {path}: {reason}")]
    Write { path: String, reason: String },
    #[error(
        "no se encontró el directorio de configuración del sistema; use --config o ZEUES_CONFIG"
    )]
    NoOsConfigDir,
    #[error("--config necesita una ruta")]
    MissingConfigValue,
    #[error("{0}")]
    Redis(#[from] RedisConfigError),
}

impl ConfigFileError {
    pub fn path(&self) -> String {
        match self {
            ConfigFileError::Read { path, .. }
            | ConfigFileError::Invalid { path, .. }
            | ConfigFileError::Write { path, .. } => path.clone(),
            _ => String::new(),
        }
    }
}

/// The `--config` value among the arguments (unknown ones are ignored, like `--data-dir`).
pub fn config_arg(
    args: impl IntoIterator<Item = OsString>,
) -> Result<Option<PathBuf>, ConfigFileError> {
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        if a == "--config" {
            return match args.next() {
                Some(v) if !v.is_empty() => Ok(Some(PathBuf::from(v))),
                _ => Err(ConfigFileError::MissingConfigValue),
            };
        }
        if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            if v.is_empty() {
                return Err(ConfigFileError::MissingConfigValue);
            }
            return Ok(Some(PathBuf::from(v)));
        }
    }
    Ok(None)
}

/// Argument, then `ZEUES_CONFIG`, then an explicit data directory, then the OS config directory.
pub fn resolve_path(
    arg: Option<PathBuf>,
    env: Option<OsString>,
    explicit_data_dir: Option<PathBuf>,
) -> Result<PathBuf, ConfigFileError> {
    if let Some(p) = arg.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from)) {
        return Ok(p);
    }
    if let Some(d) = explicit_data_dir {
        return Ok(d.join(FILE_NAME));
    }
    directories::ProjectDirs::from("cl", "ZEUES", "zeues")
        .map(|d| d.config_dir().join(FILE_NAME))
        .ok_or(ConfigFileError::NoOsConfigDir)
}

/// The data directory given on the command line or in `ZEUES_DATA_DIR`, if any.
pub fn explicit_data_dir(data_dir_arg: Option<PathBuf>) -> Option<PathBuf> {
    data_dir_arg.or_else(|| {
        std::env::var_os("ZEUES_DATA_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// The window's configuration path, from its arguments and the environment.
pub fn path_from_environment(
    args: impl IntoIterator<Item = OsString>,
) -> Result<PathBuf, ConfigFileError> {
    let args: Vec<OsString> = args.into_iter().collect();
    let data_dir = crate::config::data_dir_arg(args.clone()).unwrap_or_default();
    resolve_path(
        config_arg(args)?,
        std::env::var_os("ZEUES_CONFIG"),
        explicit_data_dir(data_dir),
    )
}

pub fn secrets_path(config: &Path) -> PathBuf {
    config.with_file_name(SECRETS_NAME)
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// Reads the file: `Ok(None)` when there is none (not configured yet).
pub fn load(path: &Path) -> Result<Option<ConfigFile>, ConfigFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigFileError::Read {
                path: shown(path),
                reason: e.to_string(),
            })
        }
    };
    let cfg: ConfigFile = toml::from_str(&text).map_err(|e| ConfigFileError::Invalid {
        path: shown(path),
        reason: e.message().to_string(),
    })?;
    cfg.validate().map_err(|reason| ConfigFileError::Invalid {
        path: shown(path),
        reason,
    })?;
    Ok(Some(cfg))
}

pub fn load_secrets(config: &Path) -> Result<Secrets, ConfigFileError> {
    let path = secrets_path(config);
    match std::fs::read_to_string(&path) {
        Ok(t) => toml::from_str(&t).map_err(|e| ConfigFileError::Invalid {
            path: shown(&path),
            reason: e.message().to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Secrets::default()),
        Err(e) => Err(ConfigFileError::Read {
            path: shown(&path),
            reason: e.to_string(),
        }),
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ConfigFile {
    pub fn demo() -> ConfigFile {
        ConfigFile {
            mode: Mode::Demo,
            spreadsheet_id: None,
            key_file: None,
            redis_url: None,
            device_name: None,
            sheets_base_url: None,
            redis: BTreeMap::new(),
        }
    }

    /// Plant mode needs the sheet, the key and a device name; no password may sit in here.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(url) = non_empty(&self.redis_url) {
            if split_password(url).1.is_some() {
                return Err("redis_url lleva una contraseña: guárdela con el asistente o en secretos.toml (redis_password), nunca en este archivo".into());
            }
        }
        if let Some(k) = self
            .redis
            .keys()
            .find(|k| k.to_ascii_uppercase().contains("PASSWORD"))
        {
            return Err(format!(
                "[redis] {k}: las contraseñas van en secretos.toml, no en este archivo"
            ));
        }
        if self.mode == Mode::Demo {
            return Ok(());
        }
        let id = non_empty(&self.spreadsheet_id).ok_or("falta spreadsheet_id")?;
        zeues_sync::doctor::parse_spreadsheet_id(id)?;
        if self
            .key_file
            .as_ref()
            .is_none_or(|k| k.as_os_str().is_empty())
        {
            return Err("falta key_file (ruta del JSON de la cuenta de servicio)".into());
        }
        non_empty(&self.device_name).ok_or("falta device_name (nombre de este equipo)")?;
        Ok(())
    }

    /// One line for logs, the doctor and `zeues status`: no secrets.
    pub fn describe(&self) -> String {
        match self.mode {
            Mode::Demo => "modo demo (planta de demostración local)".into(),
            Mode::Planta => format!(
                "modo planta: planilla {}, equipo '{}', {}",
                non_empty(&self.spreadsheet_id).unwrap_or("?"),
                non_empty(&self.device_name).unwrap_or("?"),
                match non_empty(&self.redis_url) {
                    Some(u) => zeues_sync::ports::redis::redact(u),
                    None if !self.redis.is_empty() => "Redis (Sentinel/Cluster)".into(),
                    None => "sin Redis (solo Sheets)".into(),
                }
            ),
        }
    }

    /// The Redis settings: the environment overrides the file; the password comes from the
    /// secrets file. `None` = no Redis (Sheets-only).
    pub fn redis_config(&self, secrets: &Secrets) -> Result<Option<RedisConfig>, ConfigFileError> {
        let mut file = self.redis.clone();
        if let Some(u) = non_empty(&self.redis_url) {
            file.insert("ZEUES_REDIS_URL".into(), u.to_string());
        }
        let Some(mut cfg) = RedisConfig::from_settings(|k| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| file.get(k).cloned())
        })?
        else {
            return Ok(None);
        };
        if let Some(pw) = secrets.redis_password.as_deref().filter(|p| !p.is_empty()) {
            match &mut cfg.topology {
                Topology::Single { url } if split_password(url).1.is_none() => {
                    *url = with_password(url, pw);
                }
                Topology::Sentinel {
                    master_password, ..
                } if master_password.is_none() => *master_password = Some(pw.to_string()),
                _ => {}
            }
        }
        Ok(Some(cfg))
    }

    pub fn device_name(&self) -> Option<String> {
        non_empty(&self.device_name).map(str::to_string)
    }

    pub fn plant_target(&self, secrets: &Secrets) -> Result<PlantTarget, ConfigFileError> {
        Ok(PlantTarget {
            spreadsheet_id: zeues_sync::doctor::parse_spreadsheet_id(
                non_empty(&self.spreadsheet_id).unwrap_or_default(),
            )
            .unwrap_or_default(),
            key_file: self.key_file.clone().unwrap_or_default(),
            sheets_base_url: non_empty(&self.sheets_base_url)
                .map(str::to_string)
                .or_else(|| std::env::var("ZEUES_SHEETS_BASE_URL").ok()),
            redis: self.redis_config(secrets)?,
        })
    }

    pub fn plant_config(&self, secrets: &Secrets) -> Result<PlantConfig, ConfigFileError> {
        let t = self.plant_target(secrets)?;
        Ok(PlantConfig {
            spreadsheet_id: t.spreadsheet_id,
            key_file: t.key_file,
            sheets_base_url: t.sheets_base_url,
            redis: t.redis,
            device_name: self.device_name(),
        })
    }
}

/// Where a plant device keeps its database: apart from the demo plant's, so nothing tapped on
/// the demo can ever be pushed to the real sheet.
pub fn plant_data_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("planta")
}

/// Writes `bytes` to `path` atomically with owner-only permissions (0600 on Unix).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ConfigFileError> {
    let fail = |e: std::io::Error| ConfigFileError::Write {
        path: shown(path),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(fail)?;
    #[cfg(unix)]
    {
        // `mode` applies only when the file is created; an old temp file keeps its bits.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
    }
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

const HEADER: &str = "# ZEUES: configuración de este equipo (ver README, \"Configuración\").\n\
# La contraseña de Redis NO va aquí: se guarda en secretos.toml (permisos 0600).\n";

pub fn save(path: &Path, cfg: &ConfigFile) -> Result<(), ConfigFileError> {
    cfg.validate().map_err(|reason| ConfigFileError::Invalid {
        path: shown(path),
        reason,
    })?;
    let body = toml::to_string(cfg).map_err(|e| ConfigFileError::Write {
        path: shown(path),
        reason: e.to_string(),
    })?;
    write_private(path, format!("{HEADER}{body}").as_bytes())
}

pub fn save_secrets(config: &Path, s: &Secrets) -> Result<(), ConfigFileError> {
    let path = secrets_path(config);
    let body = toml::to_string(s).map_err(|e| ConfigFileError::Write {
        path: shown(&path),
        reason: e.to_string(),
    })?;
    write_private(&path, body.as_bytes())
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

/// `rediss://user:p%40ss@host:6380/0` → (`rediss://user@host:6380/0`, `Some("p@ss")`).
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    match userinfo.split_once(':') {
        Some((user, pw)) if !pw.is_empty() => {
            let base = if user.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            };
            (base, Some(percent_decode(pw)))
        }
        _ => (url.to_string(), None),
    }
}

/// The inverse of [`split_password`].
pub fn with_password(url: &str, password: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (user, host) = match rest.rsplit_once('@') {
        Some((u, h)) => (u.split_once(':').map_or(u, |(u, _)| u), h),
        None => ("", rest),
    };
    format!("{scheme}://{user}:{}@{host}", percent_encode(password))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn password_splits_out_of_the_url_and_back() {
        let (base, pw) = split_password("rediss://zeues:S3cr%40to@redis.planta:6380/0");
        assert_eq!(base, "rediss://zeues@redis.planta:6380/0");
        assert_eq!(pw.as_deref(), Some("S3cr@to"));
        assert_eq!(
            with_password(&base, "S3cr@to"),
            "rediss://zeues:S3cr%40to@redis.planta:6380/0"
        );
        let (base, pw) = split_password("redis://:secreto@10.0.0.5:6379");
        assert_eq!(
            (base.as_str(), pw.as_deref()),
            ("redis://10.0.0.5:6379", Some("secreto"))
        );
        assert_eq!(
            with_password(&base, "secreto"),
            "redis://:secreto@10.0.0.5:6379"
        );
        assert_eq!(split_password("redis://h:6379").1, None);
    }

    #[test]
    fn plant_mode_needs_its_fields_and_no_password_in_the_file() {
        let text = r#"
mode = "planta"
spreadsheet_id = "1AbCdEfGhIjKlMnOp"
key_file = "/etc/zeues/sa.json"
redis_url = "rediss://zeues@redis.planta:6380/0"
device_name = "tablet-07"
"#;
        let cfg: ConfigFile = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        let secrets = Secrets {
            redis_password: Some("p@ss".into()),
        };
        let r = cfg.redis_config(&secrets).unwrap().unwrap();
        match &r.topology {
            Topology::Single { url } => assert!(url.contains("zeues:p%40ss@")),
            _ => panic!("single"),
        }
        assert!(!cfg.describe().contains("p@ss"));
        let mut bad = cfg.clone();
        bad.redis_url = Some("redis://:x@h:1".into());
        assert!(bad.validate().unwrap_err().contains("contraseña"));
        let mut bad = cfg.clone();
        bad.device_name = None;
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<ConfigFile>("mode = \"planta\"\nfoo = 1").is_err());
        ConfigFile::demo().validate().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_are_written_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        assert!(load(&path).unwrap().is_none());
        save(&path, &ConfigFile::demo()).unwrap();
        save_secrets(
            &path,
            &Secrets {
                redis_password: Some("x".into()),
            },
        )
        .unwrap();
        for p in [path.clone(), secrets_path(&path)] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        assert_eq!(load(&path).unwrap(), Some(ConfigFile::demo()));
        assert_eq!(
            load_secrets(&path).unwrap().redis_password.as_deref(),
            Some("x")
        );
        std::fs::write(&path, "mode = 3").unwrap();
        assert!(matches!(load(&path), Err(ConfigFileError::Invalid { .. })));
    }

    #[test]
    fn config_argument_forms() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_arg(os(&["--data-dir", "/x", "--config", "/c.toml"])).unwrap(),
            Some(PathBuf::from("/c.toml"))
        );
        assert_eq!(
            config_arg(os(&["--config=/d.toml"])).unwrap(),
            Some(PathBuf::from("/d.toml"))
        );
        assert!(config_arg(os(&["--config"])).is_err());
        assert_eq!(
            resolve_path(None, Some(OsString::from("/e.toml")), Some("/d".into())).unwrap(),
            PathBuf::from("/e.toml")
        );
        assert_eq!(
            resolve_path(None, None, Some("/d".into())).unwrap(),
            PathBuf::from("/d/zeues.toml")
        );
    }
}
