//! The first-run screen's "Probar conexión" and "Guardar" (`zeues_app::startup::{check, save}`,
//! what the `probar_conexion` / `guardar_configuracion` commands call) against the Sheets
//! emulator: red refuses to save, green saves the configuration and secrets owner-only and the
//! PIN as a hash, and the saved configuration opens as a plant device. An unmigrated sheet gets
//! the migration's plan and "Migrar planilla" (`startup::{migration_preview, migrate_sheet}`,
//! what `vista_migracion` / `migrar_planilla` call). Once configured for the plant, saving or
//! migrating again takes one of the plant's supervisors and the PIN (`startup::authorize`).
#![allow(clippy::unwrap_used)]

#[path = "../../tests/tests/sheets_common/mod.rs"]
mod sheets_common;

use std::sync::Arc;

use sheets_common::*;
use zeues_app::plant_config;
use zeues_app::startup::{self, Requester, SupervisorCredentials};
use zeues_sync::api::{AppMode, PlantSettings};
use zeues_sync::domain::audit::METADATA_HEADERS;
use zeues_sync::domain::sheet::{Col, METADATA, OPERACIONES};
use zeues_sync::engine::NoNotifier;
use zeues_tests::emulator::{Fault, FaultRule, Phase};

/// Nobody in particular: enough on a device not configured for the plant yet.
const FIRST_RUN: Requester<'static> = Requester {
    device: None,
    supervisor: None,
};

struct Setup {
    rig: Rig,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let rig = Rig::start().await;
        rig.seed(demo_plant(10));
        let dir = tempfile::tempdir().unwrap();
        // Tests reach the emulator, not Google: the one setting the form does not edit.
        std::fs::write(
            dir.path().join("zeues.toml"),
            format!(
                "mode = \"demo\"\nsheets_base_url = \"{}\"\n",
                rig.emu.base_url()
            ),
        )
        .unwrap();
        Setup { rig, dir }
    }

    fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("zeues.toml")
    }

    fn settings(&self) -> PlantSettings {
        PlantSettings {
            spreadsheet: format!("https://docs.google.com/spreadsheets/d/{BOOK}/edit#gid=0"),
            key_file: self.rig.key.display().to_string(),
            redis_url: None,
            device_name: "tablet-07".into(),
            supervisor_pin: Some("4321".into()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_checks_refuse_to_save() {
    let s = Setup::new().await;
    s.rig.emu.add_fault(
        FaultRule::new(
            Some("spreadsheets.get"),
            Fault::Error {
                code: 403,
                phase: Phase::BeforeCommit,
            },
        )
        .times(None),
    );
    let report = startup::check(&s.settings(), &s.config(), s.dir.path()).await;
    assert!(!report.ok());
    let e = startup::save(&s.settings(), &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap_err();
    assert_eq!(e.code, "CONFIGURACION_CON_ERRORES", "{e:?}");
    assert!(e.message.contains("Planilla"), "{}", e.message);
    assert!(
        e.data["checks"].is_array(),
        "the report travels with the error"
    );
    let still = plant_config::load(&s.config()).unwrap().unwrap();
    assert_eq!(still.mode, plant_config::Mode::Demo, "nothing was saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn green_saves_private_files_and_the_pin_then_opens_the_plant() {
    let s = Setup::new().await;
    let mut settings = s.settings();
    settings.supervisor_pin = None;
    let e = startup::save(&settings, &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap_err();
    assert_eq!(e.code, "PIN_REQUERIDO");
    // Now the plant database exists without a PIN: the check is red unless the form has one.
    let r = startup::check(&settings, &s.config(), s.dir.path()).await;
    assert!(
        r.checks.iter().any(|c| c.id == "supervisor_pin" && !c.ok),
        "{r:#?}"
    );
    assert!(startup::check(&s.settings(), &s.config(), s.dir.path())
        .await
        .ok());

    let mode = startup::save(&s.settings(), &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap();
    assert_eq!(mode, AppMode::Planta);
    let cfg = plant_config::load(&s.config()).unwrap().unwrap();
    assert_eq!(cfg.mode, plant_config::Mode::Planta);
    assert_eq!(
        cfg.spreadsheet_id.as_deref(),
        Some(BOOK),
        "the id, not the URL"
    );
    assert_eq!(cfg.sheets_base_url.as_deref(), Some(s.rig.emu.base_url()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.config()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let rt = tokio::runtime::Handle::current();
    let (dir, cfgp) = (s.dir.path().to_path_buf(), s.config());
    let (zeues, _) = tokio::task::spawn_blocking(move || {
        startup::open_configured(&AppMode::Planta, &dir, &cfgp, Arc::new(NoNotifier), rt)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        zeues.tags().unwrap().len(),
        10,
        "the plant's rows, not the demo's"
    );
    zeues.verify_pin("4321").unwrap();
    assert!(
        zeues.data_dir().ends_with("planta"),
        "{}",
        zeues.data_dir().display()
    );
    zeues.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_password_goes_to_the_secrets_file_only() {
    let s = Setup::new().await;
    let redis = zeues_tests::redis_server::RedisServer::start_with(
        zeues_tests::redis_server::ServerOptions {
            password: Some("s3cr@to".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut settings = s.settings();
    settings.redis_url = Some(format!("redis://:s3cr%40to@127.0.0.1:{}/0", redis.port()));
    let mode = startup::save(&settings, &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap();
    assert_eq!(mode, AppMode::Planta);
    let text = std::fs::read_to_string(s.config()).unwrap();
    assert!(!text.contains("s3cr"), "{text}");
    let secrets = plant_config::load_secrets(&s.config()).unwrap();
    assert_eq!(secrets.redis_password.as_deref(), Some("s3cr@to"));
    let cfg = plant_config::load(&s.config()).unwrap().unwrap();
    assert!(cfg.redis_config(&secrets).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_form_means_the_demo() {
    let s = Setup::new().await;
    std::fs::remove_file(s.config()).unwrap();
    let mode = startup::save(
        &PlantSettings::default(),
        &s.config(),
        s.dir.path(),
        FIRST_RUN,
    )
    .await
    .unwrap();
    assert_eq!(mode, AppMode::Demo);
    assert_eq!(
        plant_config::load(&s.config()).unwrap().unwrap().mode,
        plant_config::Mode::Demo
    );
}

/// Operaciones as a plant that never ran `zeues migrate` has it: the app-owned columns gone.
fn drop_app_columns(rig: &Rig) {
    let mut book = rig.emu.dump(BOOK).unwrap();
    let ops = book
        .sheets
        .iter_mut()
        .find(|x| x.title == OPERACIONES)
        .unwrap();
    let owned: Vec<serde_json::Value> = Col::APP_OWNED
        .iter()
        .map(|c| serde_json::json!(c.header()))
        .collect();
    let gone: Vec<usize> = ops.rows[0]
        .iter()
        .enumerate()
        .filter(|(_, h)| owned.contains(h))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(gone.len(), Col::APP_OWNED.len());
    for row in &mut ops.rows {
        for &i in gone.iter().rev() {
            if i < row.len() {
                row.remove(i);
            }
        }
    }
    ops.column_count = Some(ops.rows[0].len() as u32);
    rig.emu.seed(&book).unwrap();
}

fn migration_rows(rig: &Rig) -> usize {
    let kind = METADATA_HEADERS
        .iter()
        .position(|h| *h == "Evento_Tipo")
        .unwrap();
    rig.dump(METADATA)
        .iter()
        .filter(|r| r.get(kind) == Some(&serde_json::json!("MIGRACION_ESQUEMA")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmigrated_sheet_is_shown_the_plan_migrated_once_and_checked_again() {
    let s = Setup::new().await;
    drop_app_columns(&s.rig);
    let settings = s.settings();
    let headers_before = s.rig.dump(OPERACIONES)[0].clone();
    let audit_before = migration_rows(&s.rig);

    // The connection test names the missing columns and points at the button; saving refuses.
    let r = startup::check(&settings, &s.config(), s.dir.path()).await;
    let line = r.checks.iter().find(|c| c.id == "app_columns").unwrap();
    assert!(!line.ok, "{r:#?}");
    assert!(
        line.fix.as_deref().unwrap().contains("MIGRAR PLANILLA"),
        "{line:?}"
    );
    let e = startup::save(&settings, &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap_err();
    assert_eq!(e.code, "CONFIGURACION_CON_ERRORES");

    // The plan, before anything is written.
    s.rig.emu.reset_counts();
    let p = startup::migration_preview(&settings, &s.config())
        .await
        .unwrap();
    let owned: Vec<String> = Col::APP_OWNED
        .iter()
        .map(|c| c.header().to_string())
        .collect();
    assert_eq!(p.columns, owned);
    for h in &owned {
        assert!(p.preview.contains(h.as_str()), "{}", p.preview);
    }
    assert!(p.preview.contains("MIGRACION_ESQUEMA"), "{}", p.preview);
    assert_eq!(
        s.rig.calls("spreadsheets.batchUpdate"),
        0,
        "a preview writes nothing"
    );
    assert_eq!(s.rig.dump(OPERACIONES)[0], headers_before);

    // "Migrar planilla": the columns at the end, a backup, one audit row, and green checks.
    let done = startup::migrate_sheet(&settings, &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap();
    assert_eq!(done.columns, owned);
    assert!(done.report.ok(), "{:#?}", done.report);
    let backup = std::path::PathBuf::from(done.backup.unwrap());
    assert!(
        backup.starts_with(s.dir.path().join("respaldos")),
        "{}",
        backup.display()
    );
    assert!(zeues_sync::migrate::load_backup(&backup).is_ok());
    let headers = s.rig.dump(OPERACIONES)[0].clone();
    assert_eq!(
        &headers[..headers_before.len()],
        &headers_before[..],
        "nothing moved"
    );
    let added: Vec<serde_json::Value> = owned.iter().map(|h| serde_json::json!(h)).collect();
    assert_eq!(&headers[headers_before.len()..], &added[..]);
    assert_eq!(migration_rows(&s.rig), audit_before + 1);

    // Twice is nothing: no write, no backup, no second audit row.
    s.rig.emu.reset_counts();
    let again = startup::migrate_sheet(&settings, &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap();
    assert!(
        again.columns.is_empty() && again.backup.is_none(),
        "{again:?}"
    );
    assert_eq!(s.rig.calls("spreadsheets.batchUpdate"), 0);
    assert_eq!(migration_rows(&s.rig), audit_before + 1);
    assert!(startup::migration_preview(&settings, &s.config())
        .await
        .unwrap()
        .columns
        .is_empty());

    // Now it saves and opens as a plant device reading the migrated sheet.
    let mode = startup::save(&settings, &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap();
    assert_eq!(mode, AppMode::Planta);
    let rt = tokio::runtime::Handle::current();
    let (dir, cfgp) = (s.dir.path().to_path_buf(), s.config());
    let (zeues, _) = tokio::task::spawn_blocking(move || {
        startup::open_configured(&AppMode::Planta, &dir, &cfgp, Arc::new(NoNotifier), rt)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(zeues.tags().unwrap().len(), 10);
    zeues.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_missing_a_critical_column_is_not_migrated() {
    let s = Setup::new().await;
    drop_app_columns(&s.rig);
    let mut book = s.rig.emu.dump(BOOK).unwrap();
    let ops = book
        .sheets
        .iter_mut()
        .find(|x| x.title == OPERACIONES)
        .unwrap();
    let tag = ops.rows[0]
        .iter()
        .position(|h| h == &serde_json::json!("Ocupado_Por"))
        .unwrap();
    ops.rows[0][tag] = serde_json::json!("Ocupado");
    s.rig.emu.seed(&book).unwrap();
    s.rig.emu.reset_counts();
    let e = startup::migrate_sheet(&s.settings(), &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap_err();
    assert_eq!(e.code, "ESQUEMA_INCOMPATIBLE", "{e:?}");
    assert!(e.message.contains("Ocupado_Por"), "{}", e.message);
    assert_eq!(s.rig.calls("spreadsheets.batchUpdate"), 0);
    assert!(
        !s.dir.path().join("respaldos").exists(),
        "no backup of a refused plan"
    );
}

async fn wait_for_writer_tab(rig: &Rig) {
    let t0 = std::time::Instant::now();
    while !rig
        .emu
        .dump(BOOK)
        .unwrap()
        .sheets
        .iter()
        .any(|x| x.title == zeues_sync::ports::WRITER_TAB)
    {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(120),
            "the plant never registered as the spreadsheet's writer"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The plant database's stored PIN hash (compared, never verified: that would add attempts).
fn plant_pin_hash(dir: &std::path::Path) -> String {
    let db = plant_config::plant_data_dir(dir).join(zeues_sync::service::DEVICE_DB);
    let (store, _) = zeues_sync::store::Store::open(&db).unwrap();
    store.setting("supervisor_pin").unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_configured_for_the_plant_is_reconfigured_only_by_its_supervisor() {
    let s = Setup::new().await;
    // First run (the demo's configuration): nobody to ask.
    let mode = startup::save(&s.settings(), &s.config(), s.dir.path(), FIRST_RUN)
        .await
        .unwrap();
    assert_eq!(mode, AppMode::Planta);
    let rt = tokio::runtime::Handle::current();
    let (dir, cfgp) = (s.dir.path().to_path_buf(), s.config());
    let (plant, _) = tokio::task::spawn_blocking(move || {
        startup::open_configured(&AppMode::Planta, &dir, &cfgp, Arc::new(NoNotifier), rt)
    })
    .await
    .unwrap()
    .unwrap();
    let workers = plant.workers(None).unwrap();
    let boss = workers
        .iter()
        .find(|w| w.roles.iter().any(|r| r == "Supervisor"))
        .unwrap();
    let worker = workers
        .iter()
        .find(|w| !w.roles.iter().any(|r| r == "Supervisor"))
        .unwrap();
    // Without Redis the open plant registers itself as the spreadsheet's writer on its first
    // push round (a write of its own, after its first read, so later under load): let it, so
    // the count below sees only what the refused reconfigurations would write.
    wait_for_writer_tab(&s.rig).await;
    let config_before = std::fs::read_to_string(s.config()).unwrap();
    let pin_before = plant_pin_hash(s.dir.path());
    // Something for "Migrar planilla" to do, so a refusal can be seen not to have done it.
    drop_app_columns(&s.rig);
    let headers_before = s.rig.dump(OPERACIONES)[0].clone();

    let mut changed = s.settings();
    changed.device_name = "tablet-99".into();
    changed.supervisor_pin = Some("9999".into());
    let wrong = SupervisorCredentials {
        id: boss.id,
        pin: "0000".into(),
    };
    let not_a_boss = SupervisorCredentials {
        id: worker.id,
        pin: "4321".into(),
    };
    let right = SupervisorCredentials {
        id: boss.id,
        pin: "4321".into(),
    };
    let on_plant = |supervisor| Requester {
        device: Some(&plant),
        supervisor,
    };

    s.rig.emu.reset_counts();
    let refused = [
        (on_plant(None), "PIN_REQUERIDO"),
        (on_plant(Some(&wrong)), "PIN_INCORRECTO"),
        (on_plant(Some(&not_a_boss)), "ROL_NO_AUTORIZADO"),
        // The plant is not open in the window: nobody can vouch for the supervisor.
        (
            Requester {
                device: None,
                supervisor: Some(&right),
            },
            "SUPERVISOR_NO_VERIFICABLE",
        ),
    ];
    for (who, code) in refused {
        let e = startup::save(&changed, &s.config(), s.dir.path(), who)
            .await
            .unwrap_err();
        assert_eq!(e.code, code, "saving: {e:?}");
        let e = startup::migrate_sheet(&changed, &s.config(), s.dir.path(), who)
            .await
            .unwrap_err();
        assert_eq!(e.code, code, "migrating: {e:?}");
    }
    // The demo (empty form) is a reconfiguration too.
    let e = startup::save(
        &PlantSettings::default(),
        &s.config(),
        s.dir.path(),
        on_plant(None),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "PIN_REQUERIDO");

    assert_eq!(
        std::fs::read_to_string(s.config()).unwrap(),
        config_before,
        "the configuration was not touched"
    );
    assert_eq!(plant_pin_hash(s.dir.path()), pin_before, "nor the PIN");
    assert_eq!(
        s.rig.calls("spreadsheets.batchUpdate"),
        0,
        "nothing written"
    );
    assert_eq!(s.rig.dump(OPERACIONES)[0], headers_before, "not migrated");
    assert!(!s.dir.path().join("respaldos").exists(), "no backup either");
    // Every wrong PIN is in the trail the desk lists under ACCESOS.
    let trail = plant.pin_attempts(1).unwrap();
    let failed = trail
        .iter()
        .filter(|a| !a.ok && a.worker.as_deref() == Some(boss.token.as_str()))
        .count();
    assert_eq!(failed, 2, "{trail:?}");

    // The plant's supervisor with the PIN: migrating and saving go through.
    let done = startup::migrate_sheet(&changed, &s.config(), s.dir.path(), on_plant(Some(&right)))
        .await
        .unwrap();
    assert_eq!(done.columns.len(), Col::APP_OWNED.len(), "{done:?}");
    assert!(done.report.ok(), "{:#?}", done.report);
    let mode = startup::save(&changed, &s.config(), s.dir.path(), on_plant(Some(&right)))
        .await
        .unwrap();
    assert_eq!(mode, AppMode::Planta);
    let cfg = plant_config::load(&s.config()).unwrap().unwrap();
    assert_eq!(cfg.device_name.as_deref(), Some("tablet-99"));
    assert_ne!(plant_pin_hash(s.dir.path()), pin_before, "the new PIN");
    plant.verify_pin("9999").unwrap();
    assert!(plant.pin_attempts(1).unwrap().iter().any(|a| a.ok));
    plant.shutdown();
}
