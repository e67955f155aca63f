//! Where this device keeps its data and logs. Precedence: `--data-dir <path>` on the command
//! line (what the E2E tests pass through tauri-driver), then `ZEUES_DATA_DIR`, then the OS data
//! directory.

use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--data-dir necesita una ruta")]
    MissingDataDirValue,
    #[error("no se encontró el directorio de datos del sistema operativo; use ZEUES_DATA_DIR")]
    NoOsDataDir,
}

/// The `--data-dir` value, if given. Unknown arguments are ignored: WebKitWebDriver and desktop
/// launchers may add their own.
pub fn data_dir_arg(
    args: impl IntoIterator<Item = OsString>,
) -> Result<Option<PathBuf>, ConfigError> {
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        if a == "--data-dir" {
            return match args.next() {
                Some(v) if !v.is_empty() => Ok(Some(PathBuf::from(v))),
                _ => Err(ConfigError::MissingDataDirValue),
            };
        }
        if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--data-dir=")) {
            if v.is_empty() {
                return Err(ConfigError::MissingDataDirValue);
            }
            return Ok(Some(PathBuf::from(v)));
        }
    }
    Ok(None)
}

/// Resolves the directories. An explicit data dir also holds the logs, so a test run or a
/// second instance stays self-contained.
pub fn resolve(
    arg: Option<PathBuf>,
    env: Option<OsString>,
    os: Option<&directories::ProjectDirs>,
) -> Result<Paths, ConfigError> {
    let explicit = arg.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from));
    if let Some(data_dir) = explicit {
        return Ok(Paths {
            log_dir: data_dir.join("logs"),
            data_dir,
        });
    }
    let dirs = os.ok_or(ConfigError::NoOsDataDir)?;
    let log_dir = dirs
        .state_dir()
        .map(|d| d.join("logs"))
        .unwrap_or_else(|| dirs.data_local_dir().join("logs"));
    Ok(Paths {
        data_dir: dirs.data_dir().to_path_buf(),
        log_dir,
    })
}

pub fn from_environment() -> Result<Paths, ConfigError> {
    let arg = data_dir_arg(std::env::args_os().skip(1))?;
    let env = std::env::var_os("ZEUES_DATA_DIR");
    let os = directories::ProjectDirs::from("cl", "ZEUES", "zeues");
    resolve(arg, env, os.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn data_dir_argument_in_both_forms_and_among_foreign_flags() {
        assert_eq!(
            data_dir_arg(os(&["--automation", "--data-dir", "/tmp/a"])),
            Ok(Some(PathBuf::from("/tmp/a")))
        );
        assert_eq!(
            data_dir_arg(os(&["--data-dir=/tmp/b"])),
            Ok(Some(PathBuf::from("/tmp/b")))
        );
        assert_eq!(data_dir_arg(os(&["--other"])), Ok(None));
        assert_eq!(
            data_dir_arg(os(&["--data-dir"])),
            Err(ConfigError::MissingDataDirValue)
        );
    }

    #[test]
    fn argument_beats_environment_and_keeps_logs_inside() {
        let p = resolve(Some(PathBuf::from("/x")), Some(OsString::from("/y")), None);
        assert_eq!(
            p,
            Ok(Paths {
                data_dir: PathBuf::from("/x"),
                log_dir: PathBuf::from("/x/logs")
            })
        );
        let p = resolve(None, Some(OsString::from("/y")), None);
        assert_eq!(p.map(|p| p.data_dir), Ok(PathBuf::from("/y")));
    }

    #[test]
    fn falls_back_to_the_os_directories() {
        let dirs = directories::ProjectDirs::from("cl", "ZEUES", "zeues");
        match dirs {
            Some(d) => {
                let p = resolve(None, Some(OsString::new()), Some(&d));
                assert_eq!(p.map(|p| p.data_dir), Ok(d.data_dir().to_path_buf()));
            }
            None => assert_eq!(resolve(None, None, None), Err(ConfigError::NoOsDataDir)),
        }
    }
}
