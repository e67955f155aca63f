//! One ZEUES per data directory, as processes (the real `zeues` binary). The test holds the
//! directory's lock the way the open window does; then a second window launch exits 1 with
//! the Spanish message and never opens the database, `zeues pin` and `zeues demo` are
//! refused, and the read-only commands (`status`, `doctor`, `export`) still answer.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zeues_sync::instance::{InstanceLock, FOCUS_REQUEST_FILE};

const BIN: &str = env!("CARGO_BIN_EXE_zeues");

struct Run {
    code: Option<i32>,
    stdout: String,
    text: String,
}

/// Runs `zeues args…` with `input` on standard input and no display, D-Bus session or ZEUES_*
/// of the developer's; killed after a minute (a window that did open would never end).
fn zeues(args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let out = tempfile::tempdir().unwrap();
    let (o, e) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("ZEUES_CONFIG")
        .env_remove("ZEUES_DATA_DIR")
        .env_remove("ZEUES_LANG")
        .env_remove("ZEUES_REDIS_URL")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&o).unwrap();
    let stderr = std::fs::read_to_string(&e).unwrap();
    Run {
        code: status.code(),
        text: format!("{stdout}{stderr}"),
        stdout,
    }
}

fn logs(data: &Path) -> String {
    let mut all = String::new();
    for f in std::fs::read_dir(data.join("logs")).unwrap().flatten() {
        all.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
    }
    all
}

#[test]
fn a_second_window_on_a_held_data_dir_exits_without_opening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("datos");
    let d = data.to_str().unwrap();
    // A plant configuration whose database would go to <data>/planta: it must not appear.
    let plant = dir.path().join("planta.toml");
    std::fs::write(
        &plant,
        "mode = \"planta\"\nspreadsheet_id = \"x\"\nkey_file = \"/no/existe.json\"\ndevice_name = \"tablet-07\"\n",
    )
    .unwrap();
    let _window = InstanceLock::acquire(&data).unwrap();

    let r = zeues(&["--data-dir", d], "");
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert!(
        r.text.contains("ZEUES ya está abierto en este equipo")
            && r.text.contains("la ventana de ZEUES")
            && r.text.contains(&format!("proceso {}", std::process::id())),
        "{}",
        r.text
    );
    assert!(
        logs(&data).contains("ZEUES ya está abierto en este equipo"),
        "the refusal is logged too"
    );
    assert!(
        data.join(FOCUS_REQUEST_FILE).is_file(),
        "the open window is asked to come forward"
    );

    let r = zeues(&["--config", plant.to_str().unwrap(), "--data-dir", d], "");
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert!(
        r.text.contains("ZEUES ya está abierto en este equipo"),
        "{}",
        r.text
    );

    for db in ["zeues.db", "planta-demo.db", "planta"] {
        assert!(
            !data.join(db).exists(),
            "a second instance opened {db}: {:?}",
            std::fs::read_dir(&data)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn commands_that_write_the_device_database_are_refused_while_the_window_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let r = zeues(&["demo", "--data-dir", d], "");
    assert_eq!(r.code, Some(0), "{}", r.text);
    let pin_hash = || {
        let (store, _) = zeues_sync::store::Store::open(&dir.path().join("zeues.db")).unwrap();
        store.setting("supervisor_pin").unwrap()
    };
    let before = pin_hash();
    assert!(before.is_some());
    let window = InstanceLock::acquire(dir.path()).unwrap();

    let r = zeues(&["pin", "--data-dir", d], "9876\n");
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert!(
        r.text.contains("ZEUES está abierto en este equipo")
            && r.text
                .contains("ciérrelo antes de cambiar el PIN de supervisor"),
        "{}",
        r.text
    );
    assert_eq!(pin_hash(), before, "the PIN was not changed");

    let r = zeues(&["--lang", "en", "pin", "--data-dir", d], "9876\n");
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert!(
        r.text.contains("ZEUES is open on this device"),
        "{}",
        r.text
    );

    let r = zeues(&["demo", "--data-dir", d], "");
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert!(
        r.text
            .contains("ciérrelo antes de volver a sembrar la planta demo"),
        "{}",
        r.text
    );
    assert!(
        dir.path().join("planta-demo.db").is_file(),
        "demo untouched"
    );

    // Reading is fine while the window runs.
    let r = zeues(&["status", "--json", "--data-dir", d], "");
    assert_eq!(r.code, Some(0), "{}", r.text);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["pending"], serde_json::json!(0), "{s}");
    let r = zeues(&["doctor", "--data-dir", d], "");
    assert!(
        r.text.contains("ZEUES doctor") && !r.text.contains("abierto en este equipo"),
        "{}",
        r.text
    );
    let out = dir.path().join("auditoria.csv");
    let r = zeues(
        &[
            "export",
            "--desde",
            "01-01-2026",
            "--hasta",
            "31-12-2026",
            "--salida",
            out.to_str().unwrap(),
            "--data-dir",
            d,
        ],
        "",
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(out.is_file());

    // Once the window is closed the PIN can be set.
    drop(window);
    let r = zeues(&["pin", "--data-dir", d], "9876\n");
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert_ne!(pin_hash(), before);
}
