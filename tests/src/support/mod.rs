//! Test support: finding binaries and folders, temporary data dirs, the WebDriver session.

pub mod e2e;
pub mod plant;

use std::path::PathBuf;

/// The workspace's `target/` (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

/// A fresh data directory for one app instance, removed when dropped unless
/// `ZEUES_E2E_KEEP=1` (then its path is printed for post-mortems).
pub struct DataDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl DataDir {
    pub fn new(name: &str) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("zeues-{name}-"))
            .tempdir()?;
        let path = dir.path().to_path_buf();
        if std::env::var("ZEUES_E2E_KEEP").is_ok_and(|v| v == "1") {
            eprintln!("keeping data dir {}", path.display());
            return Ok(DataDir {
                dir: None,
                path: dir.keep(),
            });
        }
        Ok(DataDir {
            dir: Some(dir),
            path,
        })
    }

    pub fn path(&self) -> &std::path::Path {
        match &self.dir {
            Some(d) => d.path(),
            None => &self.path,
        }
    }
}
