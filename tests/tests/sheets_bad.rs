//! Bad sheets, through the real Google Sheets client and the engine, against the emulator over
//! HTTP. Each case ends in a typed error or a correct read — never a lost command and never a
//! write into the wrong cell.
#![allow(clippy::unwrap_used)]

mod sheets_common;

use std::time::Instant;

use serde_json::{json, Value as Json};
use sheets_common::*;
use zeues_sync::domain::sheet::{OperacionesLayout, METADATA, OPERACIONES};
use zeues_sync::domain::{CellValue, Intent, Operacion, RawCell};
use zeues_sync::ports::{RowUpdate, Workbook, WorkbookError, WriteBatch};
use zeues_tests::emulator::SheetSeed;

const ARMADOR: u32 = 93; // MR(93)

const HEADERS: [&str; 19] = [
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
    "Operacion_Ocupacion",
    "Resultado_Metrologia",
    "Ciclo_Reparacion",
    "Estado_Reparacion",
    "Defecto_Origen",
    "Notas",
];

/// A spool ready for TOMAR ARM, as `(header, value)` pairs.
fn ready(tag: &str) -> Vec<(&'static str, Json)> {
    vec![
        ("OT", json!("OT-1")),
        ("TAG_SPOOL", json!(tag)),
        ("NV", json!("NV-1")),
        (
            "Fecha_Materiales",
            json!({"number": 46042, "format": {"type": "DATE", "pattern": "dd-mm-yyyy"}}),
        ),
        ("version", json!("v0")),
        (
            "Estado_Detalle",
            json!("Disponible - ARM pendiente, SOLD pendiente"),
        ),
        (
            "Notas",
            json!({"formula": "=HYPERLINK(\"http://planos/1\",\"plano\")", "value": "plano"}),
        ),
    ]
}

/// Operaciones with `headers` (as typed) and rows given by `(canonical header, value)` pairs;
/// `canon[i]` says which canonical header column `i` is.
fn ops(headers: &[&str], canon: &[&str], rows: &[Vec<(&'static str, Json)>]) -> SheetSeed {
    let mut out: Vec<Vec<Json>> = vec![headers.iter().map(|h| json!(h)).collect()];
    for r in rows {
        let mut row = vec![Json::Null; headers.len()];
        for (h, v) in r {
            if let Some(i) = canon.iter().position(|c| c == h) {
                row[i] = v.clone();
            }
        }
        out.push(row);
    }
    SheetSeed::from_rows(OPERACIONES, out)
}

fn plant_with(rig: &Rig, ops_sheet: SheetSeed) {
    let mut sheets = vec![ops_sheet, metadata_sheet()];
    sheets.extend(workers_sheets());
    rig.seed(sheets);
}

fn plant(rig: &Rig, rows: &[Vec<(&'static str, Json)>]) {
    plant_with(rig, ops(&HEADERS, &HEADERS, rows));
}

/// The cell of `tag`'s row under the header `header`, from the emulator's state.
fn cell(rig: &Rig, tag: &str, header: &str) -> Json {
    let rows = rig.dump(OPERACIONES);
    let h = rows[0].iter().position(|x| x == &json!(header)).unwrap();
    let t = rows[0]
        .iter()
        .position(|x| x.as_str().is_some_and(|s| s.starts_with("TAG_SPOOL")))
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r.get(t).and_then(Json::as_str).map(str::trim) == Some(tag))
        .unwrap();
    row.get(h).cloned().unwrap_or(Json::Null)
}

fn audit_count(rig: &Rig) -> usize {
    rig.dump(METADATA).len() - 1
}

/// Rewrites Operaciones as Engineering would in the browser: `f` gets and returns all rows.
fn edit_ops(rig: &Rig, f: impl Fn(&mut Vec<Vec<Json>>)) {
    let mut book = rig.emu.dump(BOOK).unwrap();
    let s = book
        .sheets
        .iter_mut()
        .find(|s| s.title == OPERACIONES)
        .unwrap();
    let width = s.rows.iter().map(Vec::len).max().unwrap_or(0);
    for r in &mut s.rows {
        r.resize(width, Json::Null);
    }
    f(&mut s.rows);
    s.column_count = Some(s.rows.iter().map(Vec::len).max().unwrap_or(1) as u32 + 2);
    rig.emu.seed(&book).unwrap();
}

#[tokio::test]
async fn moved_and_inserted_columns_are_followed_and_writes_land_in_the_right_cells() {
    let rig = Rig::start().await;
    plant(&rig, &[ready("T-1"), ready("T-2")]);
    let wb = rig.client().await;
    let mut dev = Device::new(wb.clone());
    dev.engine.load_snapshot().await.unwrap();
    let ids = dev.act(ARMADOR, Intent::Tomar(Operacion::Arm), &["T-1"]);

    // While the command waits, Engineering inserts a column at B and moves Ocupado_Por last.
    edit_ops(&rig, |rows| {
        for (i, r) in rows.iter_mut().enumerate() {
            r.insert(
                1,
                if i == 0 {
                    json!("MatSys")
                } else {
                    json!("M-ok")
                },
            );
            let oc = r.remove(10);
            r.push(oc);
        }
    });
    assert_eq!(dev.drain().await, 1);
    assert_eq!(dev.pending(), 0);
    assert_eq!(cell(&rig, "T-1", "Ocupado_Por"), json!("MR(93)"));
    assert_eq!(cell(&rig, "T-1", "Armador"), json!("MR(93)"));
    assert_eq!(cell(&rig, "T-1", "Operacion_Ocupacion"), json!("ARM"));
    assert_eq!(cell(&rig, "T-1", "version"), json!(ids[0]));
    assert_eq!(cell(&rig, "T-1", "MatSys"), json!("M-ok"));
    assert_eq!(cell(&rig, "T-2", "Ocupado_Por"), Json::Null);
    assert_eq!(
        cell(&rig, "T-1", "Notas")["formula"],
        json!("=HYPERLINK(\"http://planos/1\",\"plano\")"),
        "Engineering's formula untouched"
    );
    assert_eq!(audit_count(&rig), 1);
}

#[tokio::test]
async fn a_renamed_column_stops_writes_naming_it_and_the_command_waits() {
    let rig = Rig::start().await;
    plant(&rig, &[ready("T-1")]);
    let wb = rig.client().await;
    let mut dev = Device::new(wb.clone());
    dev.engine.load_snapshot().await.unwrap();
    dev.act(ARMADOR, Intent::Tomar(Operacion::Arm), &["T-1"]);
    edit_ops(&rig, |rows| rows[0][9] = json!("Ocupado por (operario)"));
    rig.emu.reset_counts();
    assert_eq!(dev.drain().await, 0);
    assert_eq!(rig.calls("spreadsheets.batchUpdate"), 0, "nothing written");
    assert_eq!(dev.pending(), 1, "the command is kept");
    let err = dev.engine.status().last_error.unwrap();
    assert!(err.contains("Ocupado_Por"), "{err}");

    let e = dev.engine.load_snapshot().await.unwrap_err();
    assert_eq!(e.code(), "ESQUEMA_INCOMPATIBLE");

    // Engineering puts the name back: the command lands, once.
    edit_ops(&rig, |rows| rows[0][9] = json!("Ocupado_Por"));
    assert_eq!(dev.drain().await, 1);
    assert_eq!(dev.pending(), 0);
    assert_eq!(cell(&rig, "T-1", "Ocupado_Por"), json!("MR(93)"));
    assert_eq!(audit_count(&rig), 1);
}

#[tokio::test]
async fn duplicated_and_missing_columns_fail_closed_naming_them() {
    let rig = Rig::start().await;
    let mut h = HEADERS.to_vec();
    h[18] = "soldador"; // a second Soldador (S) where Notas was
    plant_with(&rig, ops(&h, &HEADERS, &[ready("T-1")]));
    let wb = rig.client().await;
    let dev = Device::new(wb.clone());
    let e = dev.engine.load_snapshot().await.unwrap_err();
    assert_eq!(e.code(), "ESQUEMA_INCOMPATIBLE");
    assert!(
        e.to_string().contains("Soldador") && e.to_string().contains("G, S"),
        "{e}"
    );

    let rig = Rig::start().await;
    let h: Vec<&str> = HEADERS
        .iter()
        .copied()
        .filter(|x| *x != "Fecha_Armado")
        .collect();
    plant_with(&rig, ops(&h, &h, &[ready("T-1")]));
    let dev = Device::new(rig.client().await);
    let e = dev.engine.load_snapshot().await.unwrap_err();
    assert!(e.to_string().contains("Fecha_Armado"), "{e}");
}

#[tokio::test]
async fn headers_with_accents_slashes_and_odd_spacing_are_the_same_columns() {
    let rig = Rig::start().await;
    let typed = [
        "OT",
        "TAG_SPOOL / CODIGO BARRA",
        "  nv ",
        "FECHA MATERIALES",
        "armador",
        "Fecha_Armado",
        "Soldador",
        "Fecha  Soldadura",
        "Fecha_QC_Metrologia",
        "OCUPADO_POR",
        "Fecha_Ocupación",
        "Version",
        "Estado Detalle",
        "Operación_Ocupación",
        "Resultado Metrología",
        "Ciclo_Reparación",
        "ESTADO_REPARACION",
        "Defecto Origen",
        "Notas",
    ];
    plant_with(&rig, ops(&typed, &HEADERS, &[ready("T-1")]));
    let mut dev = Device::new(rig.client().await);
    assert!(dev.engine.load_snapshot().await.unwrap().is_empty());
    dev.act(ARMADOR, Intent::Tomar(Operacion::Arm), &["T-1"]);
    assert_eq!(dev.drain().await, 1);
    assert_eq!(cell(&rig, "T-1", "OCUPADO_POR"), json!("MR(93)"));
    assert_eq!(cell(&rig, "T-1", "Operación_Ocupación"), json!("ARM"));
}

#[tokio::test]
async fn dates_in_every_legacy_form_and_serials_read_booleans_and_errors_are_corrupt_rows() {
    let rig = Rig::start().await;
    let with_date = |tag: &'static str, v: Json| {
        let mut r = ready(tag);
        r[3] = ("Fecha_Materiales", v);
        r
    };
    let forms: Vec<(&'static str, Json)> = vec![
        ("T-DMY", json!("20-01-2026")),
        ("T-DMYS", json!("20/1/2026")),
        ("T-DMYY", json!("20/01/26")),
        ("T-ISO", json!("2026-01-20")),
        ("T-ISOT", json!("2026-01-20T10:11:12")),
        ("T-DMYHMS", json!("20-01-2026 10:11:12")),
        ("T-SERIAL", json!(46042)),
        (
            "T-SERIALF",
            json!({"number": 46042.75, "format": {"type": "DATE_TIME", "pattern": "dd-mm-yyyy hh:mm"}}),
        ),
        ("T-FORMULA", json!({"formula": "=46041+1"})),
        ("T-MONEN", json!("20-Jan-2026")),
        ("T-MONES", json!("20-ene-2026")),
    ];
    let bad: Vec<(&'static str, Json)> = vec![
        // A serial typed as text is not read as a date (DOMAIN.md §1 lists serial *numbers*):
        // "2026" in a text cell would otherwise become 18-07-1905. The row is corrupt, named.
        ("T-TEXTSERIAL", json!("46042")),
        ("T-BOOL", json!(true)),
        ("T-BOOLTXT", json!("TRUE")),
        ("T-NAME", json!({"formula": "=FOO(1)"})),
        ("T-GARBAGE", json!("mañana")),
    ];
    let rows: Vec<_> = forms
        .iter()
        .chain(&bad)
        .map(|(t, v)| with_date(t, v.clone()))
        .collect();
    plant(&rig, &rows);
    let dev = Device::new(rig.client().await);
    let problems = dev.engine.load_snapshot().await.unwrap();
    let d = chrono::NaiveDate::from_ymd_opt(2026, 1, 20).unwrap();
    for (tag, _) in &forms {
        let s = dev
            .store
            .spool(tag)
            .unwrap()
            .unwrap_or_else(|| panic!("{tag}: {problems:?}"));
        assert_eq!(s.fecha_materiales, Some(d), "{tag}");
    }
    for (tag, _) in &bad {
        assert!(dev.store.spool(tag).unwrap().is_none(), "{tag}");
        let p = problems
            .iter()
            .find(|p| p.contains(tag))
            .unwrap_or_else(|| panic!("{tag}: {problems:?}"));
        assert!(p.contains("Fecha_Materiales"), "{p}");
    }
    let p = problems
        .iter()
        .find(|p| p.contains("T-TEXTSERIAL"))
        .unwrap();
    assert!(
        p.contains("no se puede leer") && p.contains("'46042'"),
        "names the value as typed: {p}"
    );
    // The rejected text is read as text, not turned into a number on the way.
    let wb = rig.client().await;
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    let (t, f) = (1, 3); // TAG_SPOOL, Fecha_Materiales in HEADERS
    let row = g
        .rows
        .iter()
        .find(|r| r[t] == RawCell::Text("T-TEXTSERIAL".into()))
        .unwrap();
    assert_eq!(row[f], RawCell::Text("46042".into()));
    assert_eq!(audit_count(&rig), 0);
}

#[tokio::test]
async fn formulas_trailing_empty_cells_and_odd_tags_read_right_and_take_writes() {
    let rig = Rig::start().await;
    let short = |tag: &str| {
        vec![
            ("TAG_SPOOL", json!(tag)),
            ("Fecha_Materiales", json!(46042)),
        ]
    };
    let mut formula_tag = ready("x");
    formula_tag[1] = ("TAG_SPOOL", json!({"formula": "=\"T-\"&\"9\""}));
    plant(
        &rig,
        &[
            short(" o'brien-7 "),
            short("T\"8"),
            short("mv-0009"),
            formula_tag,
            short("T-10"),
        ],
    );
    let mut dev = Device::new(rig.client().await);
    let problems = dev.engine.load_snapshot().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    for t in ["O'BRIEN-7", "T\"8", "MV-0009", "T-9", "T-10"] {
        assert!(dev.store.spool(t).unwrap().is_some(), "{t}");
    }
    dev.act(
        ARMADOR,
        Intent::Tomar(Operacion::Arm),
        &["O'BRIEN-7", "T\"8", "T-9"],
    );
    assert_eq!(dev.drain().await, 3);
    assert_eq!(cell(&rig, "o'brien-7", "Ocupado_Por"), json!("MR(93)"));
    assert_eq!(cell(&rig, "T\"8", "Ocupado_Por"), json!("MR(93)"));
    assert_eq!(cell(&rig, "mv-0009", "Ocupado_Por"), Json::Null);
    assert_eq!(cell(&rig, "T-10", "Ocupado_Por"), Json::Null);
    let rows = rig.dump(OPERACIONES);
    assert_eq!(rows[4][9], json!("MR(93)"), "the formula-TAG row (T-9)");
    assert_eq!(
        rows[4][1]["formula"],
        json!("=\"T-\"&\"9\""),
        "its formula kept"
    );
    assert_eq!(audit_count(&rig), 3);
    assert_eq!(
        rig.calls("spreadsheets.batchUpdate"),
        1,
        "three commands, one call"
    );
}

#[tokio::test]
async fn duplicate_tags_name_both_rows_and_neither_is_written() {
    let rig = Rig::start().await;
    plant(&rig, &[ready("T-1"), ready("T-2"), ready(" t-1")]);
    let dev = Device::new(rig.client().await);
    let problems = dev.engine.load_snapshot().await.unwrap();
    let p = problems.iter().find(|p| p.contains("T-1")).unwrap();
    assert!(p.contains("2 y 4"), "{p}");
    assert!(dev.store.spool("T-1").unwrap().is_none());
    assert!(dev.store.spool("T-2").unwrap().is_some());
}

#[tokio::test]
async fn sheet_titles_with_apostrophes_are_quoted_for_reads_and_addressed_by_id_for_writes() {
    let rig = Rig::start().await;
    rig.seed(vec![
        SheetSeed::from_rows(
            "Jon's Spools",
            vec![
                vec![json!("TAG"), json!("Peso")],
                vec![json!("A-1"), json!(10)],
                vec![json!("A-2"), json!(12.5)],
            ],
        ),
        SheetSeed::from_rows("Jon''s", vec![vec![json!("otra")]]),
        metadata_sheet(),
    ]);
    let wb = rig.client().await;
    let g = wb.read_tab("Jon's Spools").await.unwrap();
    assert_eq!(g.headers, vec!["TAG", "Peso"]);
    assert_eq!(
        g.rows[1],
        vec![RawCell::Text("A-2".into()), RawCell::Number(12.5)]
    );
    let r = wb.read_rows("Jon's Spools", &[3]).await.unwrap();
    assert_eq!(r.rows[0][1], RawCell::Number(12.5));
    wb.write(&WriteBatch {
        updates: vec![RowUpdate {
            tab: "Jon's Spools".into(),
            row: 2,
            cells: vec![(1, CellValue::Number(11.0))],
        }],
        appends: vec![],
        fence: None,
    })
    .await
    .unwrap();
    assert_eq!(rig.dump("Jon's Spools")[1][1], json!(11));
    assert_eq!(wb.read_tab("Jon''s").await.unwrap().headers, vec!["otra"]);
}

#[tokio::test]
async fn a_write_to_a_row_whose_tag_moved_is_not_applied_to_the_wrong_spool() {
    let rig = Rig::start().await;
    plant(&rig, &[ready("T-1"), ready("T-2")]);
    let mut dev = Device::new(rig.client().await);
    dev.engine.load_snapshot().await.unwrap();
    dev.act(ARMADOR, Intent::Tomar(Operacion::Arm), &["T-1"]);
    // Engineering sorts the sheet: T-2 is now where T-1 was.
    edit_ops(&rig, |rows| rows.swap(1, 2));
    dev.drain().await;
    assert_eq!(dev.pending(), 0);
    assert_eq!(cell(&rig, "T-1", "Ocupado_Por"), json!("MR(93)"));
    assert_eq!(cell(&rig, "T-2", "Ocupado_Por"), Json::Null);
}

#[tokio::test]
async fn a_hundred_thousand_row_operaciones_reads_whole_and_takes_a_write_at_its_end() {
    let rig = Rig::start().await;
    let n = 100_000;
    // 17 app columns + 58 of Engineering = 75 columns × 100 001 rows = 7.5 M cells.
    rig.seed(demo_plant_wide(n, 58));
    let wb = rig.client().await;
    let t = Instant::now();
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    let read_ms = t.elapsed().as_millis();
    let layout = OperacionesLayout::from_headers(&g.headers).unwrap();
    let read = layout.decode_all(&g.rows);
    assert_eq!(read.spools.len() + read.problems.len(), n);
    assert!(
        read.problems.is_empty(),
        "{:?}",
        &read.problems[..read.problems.len().min(3)]
    );
    eprintln!("100 000 filas de Operaciones leídas en {read_ms} ms (build de pruebas)");
    let last = read.spools.iter().max_by_key(|s| s.row).unwrap();
    assert_eq!(last.row, n as u32 + 1);
    let v = layout.col(zeues_sync::domain::sheet::Col::Version).unwrap();
    wb.write(&WriteBatch {
        updates: vec![RowUpdate {
            tab: OPERACIONES.into(),
            row: last.row,
            cells: vec![(v, CellValue::Text("cmd-last".into()))],
        }],
        appends: vec![],
        fence: None,
    })
    .await
    .unwrap();
    let r = wb.read_rows(OPERACIONES, &[last.row]).await.unwrap();
    assert_eq!(r.rows[0][v], RawCell::Text("cmd-last".into()));
    assert!(matches!(
        wb.read_rows("Nope", &[2]).await,
        Err(WorkbookError::NotFound(_))
    ));
}
