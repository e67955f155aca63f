//! One ZEUES per data directory. Two processes on the same directory would open the same
//! SQLite database and both run the sync engine over the same outbox, so a command could be
//! pushed twice. [`InstanceLock`] is an exclusive OS file lock on `<data dir>/zeues.lock`, held
//! for as long as the value lives: the window holds it for its whole life, the commands that
//! write the device database (`zeues pin`, `zeues demo`) while they run.
//!
//! The lock is the kernel's (`flock` on Linux, `LockFileEx` on Windows), not the file's
//! existence: when the holder dies, even by `kill -9` or a power cut, the OS releases it and the
//! next start is never refused by a stale file. The file only carries who holds it (process id
//! and what: the window or which command) so the refusal can say so.
//!
//! Also here: the tiny "come forward" request a second window launch leaves for the first
//! (a file beside the lock that the first one watches), so a double launch shows the window
//! that is already open.
//!
//! This module must never delete or truncate the lock file of a holder it could not lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file inside the data directory.
pub const LOCK_FILE: &str = "zeues.lock";
/// A second window launch asks the first to come forward by creating this file.
pub const FOCUS_REQUEST_FILE: &str = "zeues.focus";

/// What holds (or asks for) a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The window (`zeues` without a command).
    App,
    /// A command of the `zeues` command line that writes the device database, by name (`pin`).
    Command(String),
    /// A lock file that does not say (being written right now, or unreadable on this OS).
    Unknown,
}

impl Holder {
    fn record(&self) -> String {
        match self {
            Holder::App => "app".into(),
            Holder::Command(c) => format!("command:{c}"),
            Holder::Unknown => "unknown".into(),
        }
    }

    fn parse(s: &str) -> Holder {
        match s.trim() {
            "app" => Holder::App,
            other => other
                .strip_prefix("command:")
                .filter(|c| !c.is_empty())
                .map_or(Holder::Unknown, |c| Holder::Command(c.to_string())),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::App => write!(f, "la ventana de ZEUES"),
            Holder::Command(c) => write!(f, "el comando «zeues {c}»"),
            Holder::Unknown => write!(f, "otro proceso de ZEUES"),
        }
    }
}

/// Who holds a data directory, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    pub holder: Holder,
    pub pid: Option<u32>,
}

impl HeldBy {
    fn parse(text: &str) -> HeldBy {
        let mut held = HeldBy {
            holder: Holder::Unknown,
            pid: None,
        };
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => held.pid = v.trim().parse().ok(),
                Some(("holder", v)) => held.holder = Holder::parse(v),
                _ => {}
            }
        }
        held
    }
}

impl std::fmt::Display for HeldBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "{} (proceso {pid})", self.holder),
            None => write!(f, "{}", self.holder),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another process holds the data directory.
    #[error("ZEUES ya está abierto en este equipo: {held_by} usa {}", data_dir.display())]
    Held { data_dir: PathBuf, held_by: HeldBy },
    #[error("no se pudo usar el archivo de bloqueo {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The exclusive hold on a data directory; released when dropped (closing the file releases
/// the OS lock) or when the process ends in any way.
#[derive(Debug)]
pub struct InstanceLock {
    // Never read: holding the open file is what holds the lock.
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes `data_dir` for the window (see [`InstanceLock::acquire_as`]).
    pub fn acquire(data_dir: &Path) -> Result<InstanceLock, InstanceError> {
        Self::acquire_as(data_dir, Holder::App)
    }

    /// Takes `data_dir` for `holder`, creating the directory if needed, or says who has it.
    /// Never waits.
    pub fn acquire_as(data_dir: &Path, holder: Holder) -> Result<InstanceLock, InstanceError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| InstanceError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        // Opened without truncating: a holder's record must survive someone failing to lock.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(InstanceError::Held {
                    data_dir: data_dir.to_path_buf(),
                    held_by: read_holder(&mut file),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let record = format!("pid={}\nholder={}\n", std::process::id(), holder.record());
        if let Err(e) = write_record(&mut file, &record) {
            // The lock is what keeps a second process out; without the record a refusal only
            // says "otro proceso de ZEUES".
            tracing::warn!(path = %path.display(), error = %e, "no se pudo anotar quién tiene el bloqueo");
        }
        Ok(InstanceLock { _file: file, path })
    }

    /// [`InstanceLock::acquire_as`], retrying for up to `patience` while another process holds
    /// it: a window closing right now releases it within moments (a quick relaunch, a test
    /// restarting the app).
    pub fn acquire_waiting(
        data_dir: &Path,
        holder: Holder,
        patience: Duration,
    ) -> Result<InstanceLock, InstanceError> {
        let deadline = Instant::now() + patience;
        loop {
            match Self::acquire_as(data_dir, holder.clone()) {
                Err(InstanceError::Held { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn write_record(file: &mut File, record: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(record.as_bytes())?;
    file.flush()
}

/// Who the lock file names. A file that cannot be read (Windows keeps a locked file from other
/// readers) names nobody in particular.
fn read_holder(file: &mut File) -> HeldBy {
    let mut text = String::new();
    match file.read_to_string(&mut text) {
        Ok(_) => HeldBy::parse(&text),
        Err(e) => {
            tracing::debug!(error = %e, "el archivo de bloqueo no se pudo leer");
            HeldBy::parse("")
        }
    }
}

/// Asks the window holding `data_dir` to come forward (it polls for the request).
pub fn request_focus(data_dir: &Path) -> std::io::Result<()> {
    std::fs::write(data_dir.join(FOCUS_REQUEST_FILE), b"")
}

/// Whether a second launch asked this window to come forward since the last call; the request
/// is consumed.
pub fn take_focus_request(data_dir: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(data_dir.join(FOCUS_REQUEST_FILE)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::BufRead;

    /// Set only in the child process of `a_lock_held_by_a_killed_process_is_free_again`.
    const CHILD_DIR: &str = "ZEUES_INSTANCE_TEST_CHILD_DIR";
    const CHILD_READY: &str = "ZEUES-LOCK-HELD";

    #[test]
    fn a_second_acquire_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _first = InstanceLock::acquire_as(dir.path(), Holder::Command("pin".into())).unwrap();
        let err = InstanceLock::acquire(dir.path()).unwrap_err();
        match &err {
            InstanceError::Held { held_by, data_dir } => {
                assert_eq!(held_by.holder, Holder::Command("pin".into()));
                assert_eq!(held_by.pid, Some(std::process::id()));
                assert_eq!(data_dir, dir.path());
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("ZEUES ya está abierto en este equipo")
                && text.contains("«zeues pin»")
                && text.contains(&format!("proceso {}", std::process::id())),
            "{text}"
        );
    }

    #[test]
    fn dropping_the_lock_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        assert!(first.path().ends_with(LOCK_FILE));
        assert!(InstanceLock::acquire(dir.path()).is_err());
        drop(first);
        let again = InstanceLock::acquire(dir.path()).unwrap();
        let record = std::fs::read_to_string(again.path()).unwrap();
        assert!(record.contains("holder=app"), "{record}");
    }

    #[test]
    fn another_data_dir_is_independent() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let _a = InstanceLock::acquire(a.path()).unwrap();
        let _b = InstanceLock::acquire(b.path()).unwrap();
        // A data dir that does not exist yet is created.
        let c = a.path().join("otro").join("equipo");
        let _c = InstanceLock::acquire(&c).unwrap();
        assert!(c.join(LOCK_FILE).is_file());
    }

    #[test]
    fn waiting_gets_the_lock_once_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        let quick =
            InstanceLock::acquire_waiting(dir.path(), Holder::App, Duration::from_millis(200));
        assert!(matches!(quick, Err(InstanceError::Held { .. })));
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        InstanceLock::acquire_waiting(dir.path(), Holder::App, Duration::from_secs(10)).unwrap();
        releaser.join().unwrap();
    }

    #[test]
    fn a_focus_request_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!take_focus_request(dir.path()).unwrap());
        request_focus(dir.path()).unwrap();
        assert!(take_focus_request(dir.path()).unwrap());
        assert!(!take_focus_request(dir.path()).unwrap());
    }

    /// The child side of the next test: holds the lock until it is killed. A no-op in a normal
    /// test run (the variable is not set).
    #[test]
    fn child_holds_the_lock_until_killed() {
        let Some(dir) = std::env::var_os(CHILD_DIR) else {
            return;
        };
        let _lock =
            InstanceLock::acquire_as(Path::new(&dir), Holder::Command("prueba".into())).unwrap();
        println!("{CHILD_READY}");
        std::io::stdout().flush().unwrap();
        std::thread::sleep(Duration::from_secs(120));
    }

    #[test]
    fn a_lock_held_by_a_killed_process_is_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "instance::tests::child_holds_the_lock_until_killed",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let ready = std::io::BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains(CHILD_READY));
        assert!(ready, "the child never took the lock");
        match InstanceLock::acquire(dir.path()) {
            Err(InstanceError::Held { held_by, .. }) => {
                assert_eq!(held_by.pid, Some(child.id()));
                assert_eq!(held_by.holder, Holder::Command("prueba".into()));
            }
            other => panic!("the child's lock was not seen: {other:?}"),
        }
        // SIGKILL: the process never runs any cleanup of its own.
        child.kill().unwrap();
        child.wait().unwrap();
        let lock = InstanceLock::acquire(dir.path()).unwrap();
        let record = std::fs::read_to_string(lock.path()).unwrap();
        assert!(
            record.contains(&format!("pid={}", std::process::id())),
            "{record}"
        );
    }
}
