//! `zeues doctor`'s checks (`zeues_sync::doctor`) against good and broken plant setups: the
//! Sheets emulator over HTTP (service-account key, token endpoint, 403 on demand) and real
//! `redis-server` processes. Each broken setup must give the red line a plant's IT person
//! needs — naming what is wrong and how to fix it — and leave out the checks that depend on it.
//! (The CLI around it, exit codes included, is tested as a process in src-tauri/tests/cli.rs.)
#![allow(clippy::unwrap_used)]

mod sheets_common;

use std::time::Duration;

use serde_json::json;
use sheets_common::*;
use zeues_sync::api::{DoctorCheck, DoctorReport};
use zeues_sync::doctor::{self, ConfigState, DoctorInput, Limits, PlantTarget};
use zeues_sync::domain::sheet::OPERACIONES;
use zeues_sync::ports::redis::{RateLimit, RedisConfig};
use zeues_sync::service::{Clock, SystemClock};
use zeues_tests::emulator::{Fault, FaultRule, Phase, ServiceAccountKey};
use zeues_tests::redis_server::{free_port, RedisServer, ServerOptions};

fn target(rig: &Rig, redis: Option<RedisConfig>) -> PlantTarget {
    PlantTarget {
        spreadsheet_id: BOOK.into(),
        key_file: rig.key.clone(),
        sheets_base_url: Some(rig.emu.base_url().to_string()),
        redis,
    }
}

async fn run(rig: &Rig, redis: Option<RedisConfig>) -> DoctorReport {
    run_at(rig, redis, &SystemClock).await
}

/// `run` with this device's clock chosen by the test (the clock-skew line compares it with
/// Redis's `TIME`, which a test cannot move without root).
async fn run_at(rig: &Rig, redis: Option<RedisConfig>, clock: &dyn Clock) -> DoctorReport {
    let db = rig.dir.path().join("zeues.db");
    let (store, _) = zeues_sync::store::Store::open(&db).unwrap();
    zeues_sync::service::set_pin(&store, "4321").unwrap();
    let input = DoctorInput {
        config: ConfigState::Valid {
            detail: "prueba".into(),
        },
        plant: Some(target(rig, redis)),
        device_db: Some(db),
        limits: Limits {
            timeout: Duration::from_secs(5),
            ..Limits::default()
        },
    };
    doctor::run(&input, clock).await
}

fn check<'a>(r: &'a DoctorReport, id: &str) -> &'a DoctorCheck {
    r.checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no '{id}' line in {r:#?}"))
}

fn red_ids(r: &DoctorReport) -> Vec<&str> {
    r.checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.id.as_str())
        .collect()
}

fn redis_single(url: &str) -> RedisConfig {
    let mut c = RedisConfig::single(url);
    c.prefix = format!("doctor-{}", std::process::id());
    c
}

#[tokio::test]
async fn a_good_plant_with_redis_is_all_green() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(20));
    let redis = RedisServer::start().unwrap();
    let r = run(&rig, Some(redis_single(&redis.url()))).await;
    assert!(r.ok(), "{r:#?}");
    assert!(
        doctor::omitted(&r).is_empty(),
        "every check ran: {:?}",
        doctor::omitted(&r)
    );
    assert!(check(&r, "key_file").detail.contains(SA));
    assert!(check(&r, "redis").detail.contains("TLS: no, AUTH: no"));
    assert!(check(&r, "quota").detail.contains("de 60"));
    assert!(check(&r, "outbox").detail.contains("Nada pendiente"));
}

#[tokio::test]
async fn a_missing_critical_column_is_named_and_nothing_after_it_is_guessed() {
    let rig = Rig::start().await;
    let mut plant = demo_plant(5);
    let ops = plant.iter_mut().find(|s| s.title == OPERACIONES).unwrap();
    let i = ops.rows[0]
        .iter()
        .position(|h| h == &json!("Ocupado_Por"))
        .unwrap();
    ops.rows[0][i] = json!("Ocupado");
    rig.seed(plant);
    let r = run(&rig, None).await;
    assert_eq!(red_ids(&r), vec!["columns"], "{r:#?}");
    let c = check(&r, "columns");
    assert!(c.detail.contains("Operaciones.Ocupado_Por"), "{}", c.detail);
    assert!(c.fix.as_deref().unwrap().contains("fila 1"));
    assert!(doctor::omitted(&r).contains(&"app_columns"));
}

#[tokio::test]
async fn missing_app_columns_ask_for_zeues_migrate() {
    let rig = Rig::start().await;
    let mut plant = demo_plant(5);
    let ops = plant.iter_mut().find(|s| s.title == OPERACIONES).unwrap();
    let i = ops.rows[0]
        .iter()
        .position(|h| h == &json!("Resultado_Metrologia"))
        .unwrap();
    ops.rows[0][i] = json!("Notas_Ingenieria");
    rig.seed(plant);
    let r = run(&rig, None).await;
    assert_eq!(red_ids(&r), vec!["app_columns"], "{r:#?}");
    let c = check(&r, "app_columns");
    assert!(c.detail.contains("Resultado_Metrologia"), "{}", c.detail);
    assert!(c.fix.as_deref().unwrap().contains("zeues migrate"));
}

#[cfg(unix)]
#[tokio::test]
async fn a_key_others_can_read_is_refused_with_the_chmod_fix() {
    use std::os::unix::fs::PermissionsExt;
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    std::fs::set_permissions(&rig.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(&rig, None).await;
    assert_eq!(red_ids(&r), vec!["key_file"], "{r:#?}");
    let c = check(&r, "key_file");
    assert!(c.fix.as_deref().unwrap().contains("chmod 600"), "{c:?}");
    for id in ["token", "spreadsheet", "tabs", "columns", "app_columns"] {
        assert!(
            doctor::omitted(&r).contains(&id),
            "{id} must wait for the key"
        );
    }
    // Local checks still run.
    assert!(check(&r, "local_db").ok);
}

#[tokio::test]
async fn redis_down_is_red_and_its_dependent_checks_wait() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    let port = free_port().unwrap();
    let r = run(
        &rig,
        Some(redis_single(&format!("redis://127.0.0.1:{port}/0"))),
    )
    .await;
    assert_eq!(red_ids(&r), vec!["redis"], "{r:#?}");
    let c = check(&r, "redis");
    assert!(c.fix.as_deref().unwrap().contains("redis-server"), "{c:?}");
    assert!(doctor::omitted(&r).contains(&"clock_skew"));
    assert!(check(&r, "spreadsheet").ok, "Sheets is checked on its own");
}

#[tokio::test]
async fn a_wrong_redis_password_says_so_and_never_shows_it() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    let redis = RedisServer::start_with(ServerOptions {
        password: Some("la-buena".into()),
        ..ServerOptions::default()
    })
    .unwrap();
    let url = format!("redis://:la-mala@127.0.0.1:{}/0", redis.port());
    let r = run(&rig, Some(redis_single(&url))).await;
    assert_eq!(red_ids(&r), vec!["redis"], "{r:#?}");
    let c = check(&r, "redis");
    assert!(c.fix.as_deref().unwrap().contains("contraseña"), "{c:?}");
    let shown = serde_json::to_string(&r).unwrap();
    assert!(!shown.contains("la-mala"), "{shown}");
    // The right one is green and reports AUTH.
    let url = format!("redis://:la-buena@127.0.0.1:{}/0", redis.port());
    let r = run(&rig, Some(redis_single(&url))).await;
    assert!(r.ok(), "{r:#?}");
    assert!(check(&r, "redis").detail.contains("AUTH: sí"));
}

#[tokio::test]
async fn a_403_from_sheets_asks_to_share_the_workbook_with_the_service_account() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    rig.emu.add_fault(
        FaultRule::new(
            Some("spreadsheets.get"),
            Fault::Error {
                code: 403,
                phase: Phase::BeforeCommit,
            },
        )
        .times(None),
    );
    let r = run(&rig, None).await;
    assert_eq!(red_ids(&r), vec!["spreadsheet"], "{r:#?}");
    let c = check(&r, "spreadsheet");
    let fix = c.fix.as_deref().unwrap();
    assert!(fix.contains("Compartir") && fix.contains(SA), "{fix}");
    assert!(check(&r, "token").ok, "the token was fine");
    assert!(doctor::omitted(&r).contains(&"tabs"));
}

#[tokio::test]
async fn a_missing_tab_is_named() {
    let rig = Rig::start().await;
    let plant: Vec<_> = demo_plant(5)
        .into_iter()
        .filter(|s| s.title != "Roles")
        .collect();
    rig.seed(plant);
    let r = run(&rig, None).await;
    assert_eq!(red_ids(&r), vec!["tabs"], "{r:#?}");
    assert!(check(&r, "tabs").detail.contains("Roles"));
    assert!(check(&r, "columns").ok, "the other tabs are still checked");
}

#[tokio::test]
async fn a_stale_outbox_and_a_demo_without_plant_checks() {
    use zeues_sync::domain::{Intent, Operacion};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("zeues.db");
    let (store, _) = zeues_sync::store::Store::open(&db).unwrap();
    store.replace_workers(&zeues_sync::demo::workers()).unwrap();
    store
        .upsert_plant_rows(&[zeues_sync::domain::Spool {
            tag: "MK-1".into(),
            row: 2,
            fecha_materiales: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
            version: "0".into(),
            ..Default::default()
        }])
        .unwrap();
    let tags = vec!["MK-1".to_string()];
    let mut ids = || "cmd-1".to_string();
    store
        .execute(
            &zeues_sync::store::LocalAction {
                worker_id: 93,
                intent: Intent::Tomar(Operacion::Arm),
                tags: &tags,
                supervisor_verified: false,
                now: chrono::Utc::now() - chrono::Duration::days(3),
                reapplied: None,
            },
            &mut ids,
        )
        .unwrap();
    let input = DoctorInput {
        config: ConfigState::Valid {
            detail: "modo demo".into(),
        },
        plant: None,
        device_db: Some(db),
        limits: Limits::default(),
    };
    let r = doctor::run(&input, &SystemClock).await;
    assert_eq!(red_ids(&r), vec!["supervisor_pin", "outbox"], "{r:#?}");
    assert!(check(&r, "outbox").detail.contains("3 días"), "{r:#?}");
    assert!(check(&r, "supervisor_pin")
        .fix
        .as_deref()
        .unwrap()
        .contains("zeues pin"));
    let ran: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ran, vec!["config", "local_db", "supervisor_pin", "outbox"]);
}

/// The red line's fix, which `zeues doctor` prints under it.
fn fix<'a>(r: &'a DoctorReport, id: &str) -> &'a str {
    let c = check(r, id);
    assert!(!c.ok, "'{id}' should be red: {c:?}");
    c.fix
        .as_deref()
        .unwrap_or_else(|| panic!("red '{id}' without a fix"))
}

/// `zeues doctor` exits 1 exactly when `report.ok()` is false (src-tauri/src/cli.rs; the
/// process is tested in src-tauri/tests/cli.rs), so this is the suite's "non-zero exit".
fn assert_exits_non_zero(r: &DoctorReport) {
    assert!(
        !r.ok(),
        "a red line must make `zeues doctor` exit 1: {r:#?}"
    );
}

/// Every Sheets check that needs a usable key must wait for it.
fn assert_sheets_checks_wait(r: &DoctorReport, from: &str) {
    let all = ["token", "spreadsheet", "tabs", "columns", "app_columns"];
    let start = all.iter().position(|id| *id == from).unwrap();
    for id in &all[start..] {
        assert!(doctor::omitted(r).contains(id), "{id} ran: {r:#?}");
    }
}

#[tokio::test]
async fn a_missing_key_file_asks_for_the_right_path() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    std::fs::remove_file(&rig.key).unwrap();
    let r = run(&rig, None).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["key_file"], "{r:#?}");
    assert!(check(&r, "key_file").detail.contains("sa.json"), "{r:#?}");
    assert!(
        fix(&r, "key_file")
            .contains("Indique la ruta correcta del archivo JSON de la cuenta de servicio"),
        "{r:#?}"
    );
    assert_sheets_checks_wait(&r, "token");
    assert!(check(&r, "local_db").ok, "local checks still run");
}

#[tokio::test]
async fn an_unparsable_key_file_asks_for_a_new_json_key_without_echoing_it() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    // A key cut off mid-copy: private (0600 kept, so this is not the permissions line) but
    // not JSON. Its secret part must not come back in the report.
    std::fs::write(
        &rig.key,
        "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw",
    )
    .unwrap();
    let r = run(&rig, None).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["key_file"], "{r:#?}");
    let f = fix(&r, "key_file");
    assert!(
        f.contains("no es una clave de cuenta de servicio") && f.contains("formato JSON"),
        "{f}"
    );
    let shown = serde_json::to_string(&r).unwrap();
    assert!(!shown.contains("MIIEvQIBADANBgkq"), "{shown}");
    assert_sheets_checks_wait(&r, "token");
}

#[tokio::test]
async fn a_key_google_refuses_asks_for_a_new_key() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    // A well-formed key for the same account that the token endpoint never saw: what a
    // revoked (or deleted and re-created) key looks like to the device.
    let stranger = ServiceAccountKey::generate(SA, rig.emu.token_url()).unwrap();
    stranger.write(&rig.key).unwrap();
    let r = run(&rig, None).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["token"], "{r:#?}");
    assert!(check(&r, "key_file").ok, "the file itself is fine");
    let f = fix(&r, "token");
    assert!(
        f.contains("Google rechazó la clave") && f.contains("Cree una clave nueva"),
        "{f}"
    );
    assert!(
        rig.calls("oauth2.token") >= 1,
        "the token endpoint was asked"
    );
    assert_eq!(rig.calls("spreadsheets.get"), 0, "no token, no Sheets call");
    assert_sheets_checks_wait(&r, "spreadsheet");
}

#[tokio::test]
async fn a_corrupt_local_database_is_red_and_left_where_it_is() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    let db = rig.dir.path().join("zeues.db");
    {
        let (store, _) = zeues_sync::store::Store::open(&db).unwrap();
        zeues_sync::service::set_pin(&store, "4321").unwrap();
        // Enough rows for the replica to span many pages past the schema page.
        let spools: Vec<_> = (0..2000)
            .map(|i| zeues_sync::domain::Spool {
                tag: format!("MK-{i}"),
                row: i + 2,
                version: "0".into(),
                ..Default::default()
            })
            .collect();
        store.upsert_plant_rows(&spools).unwrap();
    }
    // Closing the last connection checkpoints the WAL into the file: what is damaged below is
    // the whole database.
    assert!(!db.with_extension("db-wal").exists());
    let input = |db: &std::path::Path| DoctorInput {
        config: ConfigState::Valid {
            detail: "prueba".into(),
        },
        plant: Some(target(&rig, None)),
        device_db: Some(db.to_path_buf()),
        limits: Limits {
            timeout: Duration::from_secs(5),
            ..Limits::default()
        },
    };
    let r = doctor::run(&input(&db), &SystemClock).await;
    assert!(r.ok(), "green before the damage: {r:#?}");

    // Damaged pages behind an intact header (a bad sector, a power cut mid-write).
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page, "{} bytes", bytes.len());
    let half = bytes.len() / 2;
    bytes[page..half].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();
    let r = doctor::run(&input(&db), &SystemClock).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["local_db"], "{r:#?}");
    let f = fix(&r, "local_db");
    assert!(
        f.contains("Cierre ZEUES y vuelva a abrirlo") && f.contains("se aparta"),
        "{f}"
    );
    // Doctor only reads: moving the file aside is the app's job when it opens it.
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "doctor changed the file"
    );

    // Garbage from the first byte: not a SQLite file at all.
    std::fs::write(&db, vec![0x5A; 3 * page]).unwrap();
    let r = doctor::run(&input(&db), &SystemClock).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["local_db"], "{r:#?}");
    let f = fix(&r, "local_db");
    assert!(
        f.contains("Cierre ZEUES y vuelva a abrirlo") && f.contains("se aparta"),
        "{f}"
    );
    assert!(db.is_file(), "doctor moved the file");
}

/// This device's clock, `ahead` of the real one.
struct Skewed {
    ahead: chrono::Duration,
}

impl Clock for Skewed {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.ahead
    }
}

#[tokio::test]
async fn a_device_clock_far_from_redis_asks_for_ntp() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    let redis = RedisServer::start().unwrap();
    // Redis's TIME is the host's real clock; the device's side is the injected clock.
    let clock = Skewed {
        ahead: chrono::Duration::minutes(2),
    };
    let r = run_at(&rig, Some(redis_single(&redis.url())), &clock).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["clock_skew"], "{r:#?}");
    let c = check(&r, "clock_skew");
    assert!(c.detail.contains("máximo 5 s"), "{c:?}");
    assert!(
        fix(&r, "clock_skew").contains("timedatectl set-ntp true"),
        "{c:?}"
    );
    // A clock within the limit is green against the same server.
    let clock = Skewed {
        ahead: chrono::Duration::seconds(1),
    };
    let r = run_at(&rig, Some(redis_single(&redis.url())), &clock).await;
    assert!(r.ok(), "{r:#?}");
}

#[tokio::test]
async fn a_fleet_budget_over_googles_limit_leaves_no_quota_headroom() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    let redis = RedisServer::start().unwrap();
    let mut cfg = redis_single(&redis.url());
    // ZEUES_QUOTA_READS=120 over one minute: twice what Google allows one service account.
    cfg.quota.reads = RateLimit::per_minute(120);
    let r = run(&rig, Some(cfg)).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["quota"], "{r:#?}");
    assert!(
        check(&r, "quota").detail.contains("120 lecturas/min"),
        "{r:#?}"
    );
    let f = fix(&r, "quota");
    assert!(
        f.contains("Google permite 60/min") && f.contains("ZEUES_QUOTA_READS"),
        "{f}"
    );
}

#[tokio::test]
async fn google_out_of_quota_turns_the_quota_line_red() {
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    rig.emu.add_fault(
        FaultRule::new(
            Some("spreadsheets.get"),
            Fault::Error {
                code: 429,
                phase: Phase::BeforeCommit,
            },
        )
        .times(None),
    );
    let r = run(&rig, None).await;
    assert_exits_non_zero(&r);
    assert_eq!(red_ids(&r), vec!["quota", "spreadsheet"], "{r:#?}");
    assert!(
        fix(&r, "quota").contains("espere un minuto y vuelva a probar"),
        "{r:#?}"
    );
    assert!(check(&r, "token").ok, "the token was fine");
}

/// Without Redis only one device writes a spreadsheet: a second device's doctor is red and
/// names the registered writer; the writer's own doctor (same device id) is green; a Redis
/// fleet sharing the sheet with such a writer is red too.
#[tokio::test]
async fn a_second_sheets_only_device_is_red_and_names_the_writer() {
    use zeues_sync::ports::{Workbook, WriterLease};
    let rig = Rig::start().await;
    rig.seed(demo_plant(5));
    let now = chrono::Utc::now();
    let lease = WriterLease {
        sheet_id: 4_242_424,
        device_id: "tablet-escritora".into(),
        name: "tablet-07".into(),
        since: now,
        heartbeat: now,
    };
    assert!(rig.client().await.claim_writer(&lease, None).await.unwrap());
    let r = run(&rig, None).await;
    assert_eq!(red_ids(&r), vec!["writer"], "{r:#?}");
    let c = check(&r, "writer");
    assert!(c.detail.contains("tablet-07"), "{}", c.detail);
    assert!(c.fix.as_deref().unwrap().contains("solo un equipo"));

    // The same check from the writer itself is green.
    let db = rig.dir.path().join("escritora.db");
    drop(zeues_sync::store::Store::open_as(&db, Some("tablet-escritora")).unwrap());
    let input = DoctorInput {
        config: ConfigState::Valid {
            detail: "prueba".into(),
        },
        plant: Some(target(&rig, None)),
        device_db: Some(db),
        limits: Limits {
            timeout: Duration::from_secs(5),
            ..Limits::default()
        },
    };
    let mine = doctor::run(&input, &SystemClock).await;
    assert!(check(&mine, "writer").ok, "{mine:#?}");

    // A Redis fleet on the same spreadsheet: red.
    let redis = RedisServer::start().unwrap();
    let r = run(&rig, Some(redis_single(&redis.url()))).await;
    assert!(red_ids(&r).contains(&"writer"), "{r:#?}");
}
