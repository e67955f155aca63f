//! The schema migration through the real Google Sheets client against the emulator: a v3.0-era
//! `Operaciones` gets the app-owned columns at its end (appendDimension + header cells + initial
//! values from `Estado_Detalle` + one `MIGRACION_ESQUEMA` row, one atomic batchUpdate), twice is
//! a no-op, and rollback restores the grid's prior shape.
#![allow(clippy::unwrap_used)]

mod sheets_common;

use serde_json::{json, Value as Json};
use sheets_common::*;
use zeues_sync::domain::sheet::{Col, OperacionesLayout, METADATA, OPERACIONES};
use zeues_sync::domain::spool::{EstadoReparacion, OpOcupacion};
use zeues_sync::migrate::{self, Outcome};
use zeues_sync::ports::Workbook;
use zeues_tests::emulator::SheetSeed;

const V3: [&str; 13] = [
    "OT",
    "TAG_SPOOL",
    "NV",
    "Fecha_Materiales",
    "Armador",
    "Fecha_Armado",
    "Soldador",
    "Fecha_Soldadura",
    "Fecha_QC_Metrología",
    "Ocupado_Por",
    "Fecha_Ocupacion",
    "version",
    "Estado_Detalle",
];

fn v3_plant(rig: &Rig) {
    let row = |tag: &str, ocupado: Json, estado: &str| -> Vec<Json> {
        vec![
            json!("OT-7"),
            json!(tag),
            json!("NV-1"),
            json!(46000),
            json!("MR(93)"),
            json!(46001),
            json!("JP(94)"),
            json!(46002),
            Json::Null,
            ocupado,
            Json::Null,
            json!("v1"),
            json!(estado),
        ]
    };
    let mut ops = SheetSeed::from_rows(
        OPERACIONES,
        vec![
            V3.iter().map(|h| json!(h)).collect(),
            row("T-1", Json::Null, "Disponible - ARM completado, SOLD completado"),
            row("T-2", json!("MR(93)"), "MR(93) trabajando REPARACION (ARM completado, SOLD completado), EN_REPARACION (Ciclo 1/3) - Ocupado: MR(93)"),
            row("T-3", Json::Null, "Disponible - ARM completado, SOLD completado, BLOQUEADO - Contactar supervisor"),
        ],
    );
    ops.row_count = Some(4);
    ops.column_count = Some(15);
    let mut sheets = vec![ops, metadata_sheet()];
    sheets.extend(workers_sheets());
    rig.seed(sheets);
}

fn now() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
        .unwrap()
        .and_hms_opt(6, 0, 0)
        .unwrap()
}

fn audit_rows(rig: &Rig) -> Vec<Vec<Json>> {
    rig.dump(METADATA)
        .into_iter()
        .filter(|r| r.get(2) == Some(&json!("MIGRACION_ESQUEMA")))
        .collect()
}

#[tokio::test]
async fn v3_sheet_migrates_in_one_atomic_call_once_and_rolls_back() {
    let rig = Rig::start().await;
    v3_plant(&rig);
    let wb = rig.client().await;

    let plan = migrate::plan(wb.as_ref()).await.unwrap();
    assert_eq!(
        plan.at, 15,
        "after the grid's last column, blank ones included"
    );
    assert!(
        plan.preview().contains("P Operacion_Ocupacion"),
        "{}",
        plan.preview()
    );
    rig.emu.reset_counts();
    let (_, outcome, backup) = migrate::migrate(wb.as_ref(), rig.dir.path(), now(), "mig-1")
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Applied { initialised: 2, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        rig.calls("spreadsheets.batchUpdate"),
        1,
        "{:?}",
        rig.emu.counts()
    );

    let s = rig.sheet_seed(OPERACIONES);
    assert_eq!(s.column_count, Some(21));
    assert_eq!(s.rows[0][15], json!("Operacion_Ocupacion"));
    assert_eq!(s.rows[0][19], json!("Defecto_Origen"));
    assert_eq!(s.rows[0][20], json!("Ocupacion_Inicia"));
    assert_eq!(
        s.rows[0][..13],
        V3.iter().map(|h| json!(h)).collect::<Vec<_>>()[..]
    );
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    let layout = OperacionesLayout::from_headers(&g.headers).unwrap();
    layout.check_writable().unwrap();
    let read = layout.decode_all(&g.rows);
    let t2 = read.spools.iter().find(|x| x.tag == "T-2").unwrap();
    assert_eq!(t2.operacion_ocupacion, Some(OpOcupacion::Reparacion));
    assert_eq!(t2.estado_reparacion, Some(EstadoReparacion::EnReparacion));
    assert_eq!(t2.ciclo_reparacion, 1);
    let t3 = read.spools.iter().find(|x| x.tag == "T-3").unwrap();
    assert_eq!(t3.estado_reparacion, Some(EstadoReparacion::Bloqueado));
    assert_eq!(audit_rows(&rig).len(), 1);
    assert_eq!(audit_rows(&rig)[0][5], json!("SYSTEM"));

    // Idempotent: no new column, no second audit row, no write at all.
    rig.emu.reset_counts();
    let (_, outcome, _) = migrate::migrate(wb.as_ref(), rig.dir.path(), now(), "mig-2")
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::NothingToDo);
    assert_eq!(rig.calls("spreadsheets.batchUpdate"), 0);
    assert_eq!(rig.sheet_seed(OPERACIONES).column_count, Some(21));
    assert_eq!(audit_rows(&rig).len(), 1);

    // Rollback: the grid is 15 columns again, the header as before, audited.
    let out = migrate::rollback(wb.as_ref(), &backup.unwrap(), now(), "rb-1")
        .await
        .unwrap();
    assert!(matches!(out, Outcome::RolledBack { .. }), "{out:?}");
    let s = rig.sheet_seed(OPERACIONES);
    assert_eq!(s.column_count, Some(15));
    assert!(s.rows.iter().all(|r| r.len() <= 13));
    assert_eq!(audit_rows(&rig).len(), 2);
    assert_eq!(wb.tab_shape(OPERACIONES).await.unwrap().columns, 15);
}

#[tokio::test]
async fn a_migration_whose_answer_is_lost_is_settled_by_reading_never_applied_twice() {
    use zeues_tests::emulator::{Fault, FaultRule, Phase};
    let rig = Rig::start().await;
    v3_plant(&rig);
    let wb = rig.client().await;
    rig.emu.add_fault(FaultRule::new(
        Some("spreadsheets.batchUpdate"),
        Fault::Error {
            code: 503,
            phase: Phase::AfterCommit,
        },
    ));
    let (_, outcome, _) = migrate::migrate(wb.as_ref(), rig.dir.path(), now(), "mig-1")
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Applied { .. }));
    assert_eq!(rig.calls("spreadsheets.batchUpdate"), 1);
    assert_eq!(rig.sheet_seed(OPERACIONES).column_count, Some(21));
    assert_eq!(audit_rows(&rig).len(), 1);
}

#[tokio::test]
async fn a_sheet_with_some_app_columns_gets_only_the_missing_ones() {
    let rig = Rig::start().await;
    let mut headers: Vec<Json> = V3.iter().map(|h| json!(h)).collect();
    headers.push(json!("Ciclo Reparacion")); // odd spacing: still the same column
    let mut sheets = vec![
        SheetSeed::from_rows(OPERACIONES, vec![headers]),
        metadata_sheet(),
    ];
    sheets.extend(workers_sheets());
    rig.seed(sheets);
    let wb = rig.client().await;
    let plan = migrate::plan(wb.as_ref()).await.unwrap();
    assert_eq!(plan.missing.len(), Col::APP_OWNED.len() - 1);
    assert!(!plan.missing.contains(&Col::CicloReparacion));
    migrate::migrate(wb.as_ref(), rig.dir.path(), now(), "m")
        .await
        .unwrap();
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    OperacionesLayout::from_headers(&g.headers)
        .unwrap()
        .check_writable()
        .unwrap();
}
