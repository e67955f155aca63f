//! The `zeues` command line as a process (the real binary, no window): help in Spanish and
//! English, `doctor` exit codes against the Sheets emulator, `migrate --dry-run` then `migrate`,
//! `demo`, `export` (CSV safe to open) and `status --json`.
#![allow(clippy::unwrap_used)]

#[path = "../../tests/tests/sheets_common/mod.rs"]
mod sheets_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value as Json};
use sheets_common::*;
use zeues_sync::domain::sheet::{Col, METADATA, OPERACIONES};

const BIN: &str = env!("CARGO_BIN_EXE_zeues");

/// Runs `zeues args…` off the async workers (the emulator keeps serving on them), with an
/// empty environment for ZEUES_* so the developer's own configuration never leaks in.
async fn zeues(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("ZEUES_CONFIG")
            .env_remove("ZEUES_DATA_DIR")
            .env_remove("ZEUES_LANG")
            .env_remove("ZEUES_REDIS_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

async fn zeues_stdin(args: &[&str], input: &'static str) -> Output {
    use std::io::Write;
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(&args)
            .env_remove("ZEUES_CONFIG")
            .env_remove("ZEUES_DATA_DIR")
            .env_remove("ZEUES_LANG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_config(dir: &Path, rig: &Rig) -> PathBuf {
    let path = dir.join("zeues.toml");
    std::fs::write(
        &path,
        format!(
            "mode = \"planta\"\nspreadsheet_id = \"{BOOK}\"\nkey_file = \"{}\"\ndevice_name = \"tablet-07\"\nsheets_base_url = \"{}\"\n",
            rig.key.display(),
            rig.emu.base_url()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_spanish_by_default_and_english_with_lang_en() {
    let o = zeues(&["--help"]).await;
    assert!(o.status.success());
    let t = text(&o);
    assert!(
        t.contains("Uso:") && t.contains("doctor") && t.contains("export"),
        "{t}"
    );
    let o = zeues(&["--lang", "en", "--help"]).await;
    let t = text(&o);
    assert!(t.contains("Usage:") && t.contains("Show this help"), "{t}");
    let o = zeues(&["export", "--help"]).await;
    let t = text(&o);
    assert!(o.status.success() && t.contains("--desde"), "{t}");
    let o = zeues(&["doctor", "--lang", "en", "-h"]).await;
    assert!(text(&o).contains("Exits 1 when anything is red"));
    let o = zeues(&["--version"]).await;
    assert!(text(&o).contains(env!("CARGO_PKG_VERSION")));
    let o = zeues(&["doctr"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("comando desconocido: doctr (¿quiso decir doctor?)"),
        "{}",
        text(&o)
    );
    let o = zeues(&["status", "--bogus"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("opción desconocida"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_exits_zero_when_green_and_one_on_red() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(10));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("datos");
    let cfg = write_config(dir.path(), &rig);
    let (c, d) = (cfg.to_str().unwrap(), data.to_str().unwrap());

    let o = zeues(&["doctor", "--config", c, "--data-dir", d]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("✔ Planilla") && t.contains("Todo en verde"),
        "{t}"
    );

    let o = zeues(&["doctor", "--json", "--config", c, "--data-dir", d]).await;
    let report: Json = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["checks"].as_array().unwrap().len() >= 8, "{report}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rig.key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = zeues(&["doctor", "--config", c, "--data-dir", d]).await;
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains("✘ Clave de la cuenta de servicio"), "{t}");
        assert!(t.contains("chmod 600"), "{t}");
        std::fs::set_permissions(&rig.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // No configuration at all: red, and the fix says how to configure.
    let o = zeues(&["doctor", "--data-dir", d]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("No hay configuración"), "{}", text(&o));

    // A password in the file is refused (secrets live in secretos.toml).
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg).unwrap() + "redis_url = \"redis://:x@127.0.0.1:1\"\n",
    )
    .unwrap();
    let o = zeues(&["doctor", "--config", c, "--data-dir", d]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("secretos.toml"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_previews_then_adds_the_app_columns_and_rolls_back() {
    let rig = Rig::start().await;
    let mut plant = demo_plant(5);
    let ops = plant.iter_mut().find(|s| s.title == OPERACIONES).unwrap();
    // An older sheet: without the app-owned columns (they are the last ones).
    let owned = Col::APP_OWNED.len();
    let keep = ops.rows[0].len() - owned;
    assert_eq!(ops.rows[0][keep], json!("Operacion_Ocupacion"));
    for r in ops.rows.iter_mut() {
        r.truncate(keep);
    }
    ops.column_count = Some(keep as u32);
    rig.seed(plant);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &rig);
    let (c, d) = (
        cfg.to_str().unwrap(),
        dir.path().join("datos").to_string_lossy().to_string(),
    );

    let o = zeues(&["doctor", "--config", c, "--data-dir", &d]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("zeues migrate"), "{}", text(&o));

    let o = zeues(&["migrate", "--dry-run", "--config", c, "--data-dir", &d]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("Operacion_Ocupacion") && t.contains("Simulación"),
        "{t}"
    );
    assert_eq!(
        rig.sheet_seed(OPERACIONES).rows[0].len(),
        keep,
        "dry run wrote"
    );

    let o = zeues(&["migrate", "--config", c, "--data-dir", &d]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert_eq!(rig.sheet_seed(OPERACIONES).rows[0].len(), keep + owned);
    let o = zeues(&["doctor", "--config", c, "--data-dir", &d]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let backup = t
        .lines()
        .find_map(|l| l.strip_prefix("Respaldo: "))
        .unwrap()
        .to_string();
    let o = zeues(&[
        "migrate",
        "--rollback",
        &backup,
        "--config",
        c,
        "--data-dir",
        &d,
    ])
    .await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(rig.sheet_seed(OPERACIONES).rows[0].len(), keep);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_a_csv_that_never_runs_a_formula() {
    let rig = Rig::start().await;
    let mut plant = demo_plant(5);
    let meta = plant.iter_mut().find(|s| s.title == METADATA).unwrap();
    let row = |id: &str, t: &str, ev: &str, who: &str| {
        vec![
            json!(id),
            json!(t),
            json!(ev),
            json!("MK-9"),
            json!(93),
            json!(who),
            json!("ARM"),
            json!("TOMAR"),
            json!("02-03-2026"),
            json!("{}"),
        ]
    };
    meta.rows.push(row(
        "x-1",
        "02-03-2026 08:00:00",
        "TOMAR_SPOOL",
        "=HYPERLINK(\"http://x\")",
    ));
    meta.rows.push(row(
        "x-2",
        "02-03-2026 09:30:00",
        "PAUSAR_SPOOL",
        "=HYPERLINK(\"http://x\")",
    ));
    rig.seed(plant);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &rig);
    let out = dir.path().join("auditoria.csv");
    let o = zeues(&[
        "export",
        "--desde",
        "02-03-2026",
        "--hasta",
        "02-03-2026",
        "--formato",
        "csv",
        "--salida",
        out.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ])
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("\u{feff}Registro,ID,TAG_SPOOL"), "{csv}");
    assert!(csv.contains("AUDITORIA,x-1,MK-9,TOMAR_SPOOL"), "{csv}");
    assert!(
        csv.contains("OCUPACION,,MK-9,,ARM,PAUSAR_SPOOL,93"),
        "{csv}"
    );
    assert!(csv.contains("1h 30m"), "{csv}");
    assert!(
        !csv.contains(",=") && !csv.contains(",\"="),
        "a cell starts with '=': {csv}"
    );
    assert!(csv.contains("\"'=HYPERLINK"), "{csv}");

    let o = zeues(&["export", "--desde", "2026-03-02", "--hasta", "03-03-2026"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("DD-MM-YYYY"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seeds_and_status_reports_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = zeues(&["status", "--json", "--data-dir", d]).await;
    let s: Json = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["mode"], json!("SinConfigurar"), "{s}");
    assert_eq!(s["connectivity"], json!("Standalone"));

    let o = zeues(&["demo", "--data-dir", d]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("2500 spools") && t.contains("PIN"), "{t}");
    assert!(dir.path().join("planta-demo.db").is_file());

    let o = zeues(&["status", "--data-dir", d]).await;
    let t = text(&o);
    assert!(t.contains("Pendientes de sincronizar: 0"), "{t}");
    let o = zeues(&["--lang", "en", "status", "--data-dir", d]).await;
    assert!(text(&o).contains("Pending sync: 0"), "{}", text(&o));

    let o = zeues(&["migrate", "--dry-run", "--data-dir", d]).await;
    assert!(text(&o).contains("no hay nada que hacer"), "{}", text(&o));

    // The supervisor PIN, from standard input, kept only as a hash.
    let o = zeues_stdin(&["pin", "--data-dir", d], "98\n").await;
    assert_eq!(o.status.code(), Some(2), "too short: {}", text(&o));
    let o = zeues_stdin(&["pin", "--data-dir", d], "9876\n").await;
    assert!(o.status.success(), "{}", text(&o));
    let (store, _) = zeues_sync::store::Store::open(&dir.path().join("zeues.db")).unwrap();
    let hash = store.setting("supervisor_pin").unwrap().unwrap();
    assert!(
        hash.starts_with("$argon2") && !hash.contains("9876"),
        "{hash}"
    );

    // Plant mode without Redis: Sheets answers, so "solo Sheets".
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    let cfg = write_config(dir.path(), &rig);
    let o = zeues(&[
        "status",
        "--json",
        "--config",
        cfg.to_str().unwrap(),
        "--data-dir",
        d,
    ])
    .await;
    let s: Json = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["mode"], json!("Planta"), "{s}");
    assert_eq!(s["connectivity"], json!("SheetsOnly"), "{s}");
    assert_eq!(s["device_name"], json!("tablet-07"));
}
