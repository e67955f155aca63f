#![allow(clippy::unwrap_used)]
//! The migration against the embedded workbook (the same code runs against Google Sheets in
//! `tests/tests/sheets_migration.rs`).

use super::*;
use crate::domain::audit::METADATA_HEADERS;
use crate::domain::sheet::Grid;
use crate::domain::spool::{EstadoReparacion, OpOcupacion, ResultadoMetrologia};
use crate::domain::RawCell;
use crate::ports::LocalWorkbook;

fn t(s: &str) -> RawCell {
    RawCell::Text(s.to_string())
}

const V3_HEADERS: [&str; 14] = [
    "N°",
    "TAG_SPOOL / CODIGO BARRA",
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
    "Observaciones",
];

/// A v3.0-era workbook: no app-owned columns; state only in Estado_Detalle.
fn v3_workbook(dir: &Path) -> LocalWorkbook {
    let wb = LocalWorkbook::open(&dir.join("plant.db")).unwrap();
    let row = |n: &str, tag: &str, arm: &str, sold: &str, ocupado: &str, estado: &str| {
        vec![
            t(n),
            t(tag),
            t("NV-1"),
            t("01-01-2026"),
            t(arm),
            if arm.is_empty() {
                RawCell::Empty
            } else {
                t("02-01-2026")
            },
            t(sold),
            if sold.is_empty() {
                RawCell::Empty
            } else {
                t("03-01-2026")
            },
            RawCell::Empty,
            t(ocupado),
            if ocupado.is_empty() {
                RawCell::Empty
            } else {
                t("05-01-2026 08:00:00")
            },
            t("v1"),
            t(estado),
            t("=HYPERLINK(\"x\")"),
        ]
    };
    let ops = Grid {
        headers: V3_HEADERS.iter().map(|s| s.to_string()).collect(),
        rows: vec![
            row("1", "T-001", "", "", "", "Disponible - ARM pendiente, SOLD pendiente"),
            row("2", "T-002", "MR(93)", "", "MR(93)", "MR(93) trabajando ARM (ARM en progreso, SOLD pendiente)"),
            row("3", "T-003", "MR(93)", "JP(94)", "", "Disponible - ARM completado, SOLD completado, RECHAZADO (Ciclo 2/3) - Pendiente reparación"),
            row("4", "T-004", "MR(93)", "JP(94)", "", "Disponible - ARM completado, SOLD completado, BLOQUEADO - Contactar supervisor"),
            row("5", "T-005", "", "", "", ""),
        ],
    };
    wb.replace_tab(OPERACIONES, &ops).unwrap();
    wb.replace_tab(
        METADATA,
        &Grid {
            headers: METADATA_HEADERS.iter().map(|s| s.to_string()).collect(),
            rows: vec![],
        },
    )
    .unwrap();
    wb
}

fn now() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
        .unwrap()
        .and_hms_opt(7, 30, 0)
        .unwrap()
}

async fn migration_rows(wb: &LocalWorkbook) -> Vec<Vec<RawCell>> {
    let meta = wb.read_tab(METADATA).await.unwrap();
    meta.rows
        .into_iter()
        .filter(|r| r.get(2).and_then(RawCell::text).as_deref() == Some("MIGRACION_ESQUEMA"))
        .collect()
}

#[tokio::test]
async fn v3_sheet_is_imported_from_estado_detalle_once() {
    let dir = tempfile::tempdir().unwrap();
    let wb = v3_workbook(dir.path());
    let before = wb.read_tab(OPERACIONES).await.unwrap();

    let p = plan(&wb).await.unwrap();
    assert_eq!(p.missing, Col::APP_OWNED.to_vec());
    assert_eq!(p.at, 14);
    assert_eq!(p.initialised, 3);
    let text = p.preview();
    assert!(text.contains("O Operacion_Ocupacion"), "{text}");
    assert!(text.contains("S Defecto_Origen"), "{text}");
    assert!(
        text.contains("3 filas a partir de Estado_Detalle"),
        "{text}"
    );

    let (_, outcome, backup) = migrate(&wb, dir.path(), now(), "mig-1").await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Applied {
            columns: Col::APP_OWNED
                .iter()
                .map(|c| c.header().to_string())
                .collect(),
            initialised: 3
        }
    );
    let backup = backup.unwrap();
    let saved = load_backup(&backup).unwrap();
    assert_eq!(saved.headers, before.headers);
    assert_eq!(saved.shape.columns, 14);

    // Nothing moved; the new columns are at the end and carry the imported state.
    let after = wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(&after.headers[..14], &before.headers[..]);
    assert_eq!(after.headers[14..].len(), Col::APP_OWNED.len());
    let layout = OperacionesLayout::from_headers(&after.headers).unwrap();
    assert!(!layout.is_legacy());
    let read = layout.decode_all(&after.rows);
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let by_tag = |tag: &str| read.spools.iter().find(|s| s.tag == tag).unwrap().clone();
    assert_eq!(by_tag("T-002").operacion_ocupacion, Some(OpOcupacion::Arm));
    let s3 = by_tag("T-003");
    assert_eq!(s3.ciclo_reparacion, 2);
    assert_eq!(s3.estado_reparacion, Some(EstadoReparacion::Pendiente));
    assert_eq!(
        s3.resultado_metrologia,
        Some(ResultadoMetrologia::Rechazado)
    );
    assert_eq!(
        by_tag("T-004").estado_reparacion,
        Some(EstadoReparacion::Bloqueado)
    );
    assert_eq!(by_tag("T-004").ciclo_reparacion, 3);
    assert_eq!(after.rows[2][16], RawCell::Number(2.0));
    // Engineering's cells untouched (even one that looks like a formula).
    assert_eq!(after.rows[0][13], t("=HYPERLINK(\"x\")"));
    assert_eq!(migration_rows(&wb).await.len(), 1);

    // Twice → nothing: no duplicate columns, still one audit row.
    let (p2, outcome, backup2) = migrate(&wb, dir.path(), now(), "mig-2").await.unwrap();
    assert_eq!(outcome, Outcome::NothingToDo);
    assert!(backup2.is_none());
    assert!(p2.preview().contains("no hay nada que hacer"));
    assert_eq!(wb.read_tab(OPERACIONES).await.unwrap().headers.len(), 20);
    assert_eq!(migration_rows(&wb).await.len(), 1);
}

#[tokio::test]
async fn rollback_restores_the_prior_shape_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let wb = v3_workbook(dir.path());
    let before = wb.read_tab(OPERACIONES).await.unwrap();
    let (_, _, backup) = migrate(&wb, dir.path(), now(), "mig-1").await.unwrap();
    let backup = backup.unwrap();

    let out = rollback(&wb, &backup, now(), "rb-1").await.unwrap();
    assert!(
        matches!(out, Outcome::RolledBack { ref dropped } if dropped.len() == Col::APP_OWNED.len())
    );
    let after = wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(wb.tab_shape(OPERACIONES).await.unwrap().columns, 14);
    let audit = migration_rows(&wb).await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1][7], t("ROLLBACK"));

    // Again: nothing left to undo.
    assert_eq!(
        rollback(&wb, &backup, now(), "rb-2").await.unwrap(),
        Outcome::NothingToDo
    );
    assert_eq!(migration_rows(&wb).await.len(), 2);
}

#[tokio::test]
async fn rollback_refuses_when_the_sheet_changed_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let wb = v3_workbook(dir.path());
    let (_, _, backup) = migrate(&wb, dir.path(), now(), "mig-1").await.unwrap();
    let backup = backup.unwrap();
    // Engineering adds a column after ours: dropping it would lose their data.
    let mut g = wb.read_tab(OPERACIONES).await.unwrap();
    g.headers.push("Pintura_OK".into());
    wb.replace_tab(OPERACIONES, &g).unwrap();
    let e = rollback(&wb, &backup, now(), "rb-1").await.unwrap_err();
    assert!(
        matches!(e, MigrationError::RollbackRefused(ref m) if m.contains("Pintura_OK")),
        "{e}"
    );
    // And a renamed original column.
    g.headers.pop();
    g.headers[4] = "Armador2".into();
    wb.replace_tab(OPERACIONES, &g).unwrap();
    let e = rollback(&wb, &backup, now(), "rb-1").await.unwrap_err();
    assert!(e.to_string().contains("Armador2"), "{e}");
}

#[tokio::test]
async fn a_sheet_missing_a_critical_column_is_not_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let wb = v3_workbook(dir.path());
    let mut g = wb.read_tab(OPERACIONES).await.unwrap();
    g.headers[11] = "Version_Vieja".into();
    wb.replace_tab(OPERACIONES, &g).unwrap();
    let e = migrate(&wb, dir.path(), now(), "m").await.unwrap_err();
    assert!(e.to_string().contains("'version'"), "{e}");
    assert_eq!(wb.read_tab(OPERACIONES).await.unwrap().headers.len(), 14);
    assert!(migration_rows(&wb).await.is_empty());
}

#[tokio::test]
async fn backup_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let wb = v3_workbook(dir.path());
    let p = plan(&wb).await.unwrap();
    let path = dir.path().join("b.json");
    save_backup(&p, &path, now()).unwrap();
    assert!(matches!(
        save_backup(&p, &path, now()),
        Err(MigrationError::BackupWrite { .. })
    ));
}
