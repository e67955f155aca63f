#![allow(clippy::unwrap_used)]
//! Exactly once across crashes: a device process is killed (abort, like `kill -9`) at each
//! named step of the push path, then started again; the plant must hold the command exactly
//! once — one audit row, the row's version equal to the command id — and no conflict.
//! Real processes, a real redis-server, the Sheets emulator over HTTP.

use std::process::Command;

use zeues_sync::domain::sheet::{OperacionesLayout, METADATA, OPERACIONES};
use zeues_sync::domain::{AuditEvent, ColumnMap, EventType, Intent, Operacion};
use zeues_tests::plant::device::{DeviceArgs, TapArgs};
use zeues_tests::plant::rig::PlantRig;
use zeues_tests::plant::{dump_grid, BOOK};

const FAILPOINTS: [&str; 7] = [
    "claim.after_lock",
    "push.after_lock",
    "push.before_write",
    "push.after_write",
    "push.after_mark_applied",
    "push.after_record_applied",
    "push.after_publish",
];

fn command_id(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT id FROM outbox", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_push_step_never_loses_or_repeats_the_command() {
    let rig = PlantRig::start(60, 21, false).await.unwrap();
    let layout = OperacionesLayout::from_headers(&rig.initial.headers).unwrap();
    let free: Vec<String> = layout
        .decode_all(&rig.initial.rows)
        .spools
        .into_iter()
        .filter(|s| s.fecha_materiales.is_some() && s.armador.is_none() && !s.is_occupied())
        .map(|s| s.tag)
        .collect();
    assert!(free.len() >= FAILPOINTS.len());
    let route = rig.direct();
    for (fp, tag) in FAILPOINTS.iter().zip(free) {
        let dir = rig.dir.path().join(format!("dev-{fp}"));
        let args = TapArgs {
            device: DeviceArgs {
                index: 0,
                dir: dir.clone(),
                control: rig.dir.path().join("control"),
                sheets_url: route.sheets_url.clone(),
                key: rig.key.clone(),
                redis_url: route.redis_url.clone(),
                seed: 7,
                workers: vec![93],
            },
            worker: 93,
            tag: tag.clone(),
            intent: Intent::Tomar(Operacion::Arm),
        };
        let json = serde_json::to_string(&args).unwrap();
        let crashed = Command::new(env!("CARGO_BIN_EXE_plant-sim"))
            .args(["tap", &json])
            .env("ZEUES_FAILPOINTS", fp)
            .output()
            .unwrap();
        assert!(
            !crashed.status.success(),
            "{fp}: the device should have died there: {}",
            String::from_utf8_lossy(&crashed.stderr)
        );
        assert!(
            String::from_utf8_lossy(&crashed.stderr).contains(&format!("failpoint {fp}")),
            "{fp}: {}",
            String::from_utf8_lossy(&crashed.stderr)
        );
        let again = Command::new(env!("CARGO_BIN_EXE_plant-sim"))
            .args(["tap", &json])
            .env_remove("ZEUES_FAILPOINTS")
            .output()
            .unwrap();
        assert!(
            again.status.success(),
            "{fp}: restart: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        let id = command_id(&dir.join("zeues.db"));
        let book = rig.emu.dump(BOOK).unwrap();
        let ops = dump_grid(&book, OPERACIONES).unwrap();
        let row = layout
            .decode_all(&ops.rows)
            .spools
            .into_iter()
            .find(|s| s.tag == tag)
            .unwrap();
        assert_eq!(row.version, id, "{fp}: the row holds the command");
        assert_eq!(row.ocupado_por.as_deref(), Some("MR(93)"), "{fp}");
        let meta = dump_grid(&book, METADATA).unwrap();
        let map = ColumnMap::from_headers(&meta.headers);
        let events: Vec<AuditEvent> = meta
            .rows
            .iter()
            .filter_map(|r| AuditEvent::from_row(&map, r).unwrap())
            .filter(|e| e.tag == tag)
            .collect();
        assert_eq!(
            events.iter().filter(|e| e.id == id).count(),
            1,
            "{fp}: exactly one audit row for the command"
        );
        assert!(
            !events.iter().any(|e| e.event_type == EventType::Conflicto),
            "{fp}: no conflict"
        );
    }
}
