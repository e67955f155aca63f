//! The product's Google Sheets client (`zeues_sync::ports::GoogleSheets`) against the Sheets
//! emulator over real HTTP: service-account auth through the key's `token_uri`, typed reads of
//! exactly the app's columns, one `batchUpdate` per write batch, and every failure mode ending
//! in a typed error — never a silent loss and never a second write.
#![allow(clippy::unwrap_used)]

mod sheets_common;

use std::time::Duration;

use serde_json::{json, Value as Json};
use sheets_common::*;
use zeues_sync::domain::sheet::{Col, METADATA, OPERACIONES};
use zeues_sync::domain::{CellValue, RawCell};
use zeues_sync::ports::sheets::auth::{AuthSetupError, Credentials};
use zeues_sync::ports::sheets::{GoogleSheets, SetupError};
use zeues_sync::ports::{Append, RowUpdate, Workbook, WorkbookError, WriteBatch};
use zeues_tests::emulator::{Fault, FaultRule, Phase, QuotaConfig};

fn plant(rig: &Rig) {
    let mut headers = vec![json!("OT"), json!("SPLIT")];
    headers.extend(ops_headers());
    headers.push(json!("Notas Ingeniería"));
    let row = |tag: &str, extra: Vec<(Col, Json)>| {
        let mut r = vec![json!("OT-1"), json!("S1")];
        let mut cells = vec![(Col::TagSpool, json!(tag)), (Col::Version, json!("v0"))];
        cells.extend(extra);
        r.extend(ops_row(&cells));
        r.push(json!("no leer"));
        r
    };
    let mut sheets = vec![
        zeues_tests::emulator::SheetSeed::from_rows(
            OPERACIONES,
            vec![
                headers,
                row(
                    "T-001",
                    vec![
                        (
                            Col::FechaMateriales,
                            json!({"number": 46042, "format": {"type": "DATE", "pattern": "dd-mm-yyyy"}}),
                        ),
                        (Col::Armador, json!("MR(93)")),
                        (Col::CicloReparacion, json!(2)),
                    ],
                ),
                row("T-002", vec![(Col::FechaMateriales, json!("20-01-2026"))]),
            ],
        ),
        metadata_sheet(),
    ];
    sheets.extend(workers_sheets());
    rig.seed(sheets);
}

fn col(c: Col) -> usize {
    2 + Col::ALL.iter().position(|x| *x == c).unwrap()
}

#[tokio::test]
async fn reads_typed_values_of_exactly_the_app_columns() {
    let rig = Rig::start().await;
    plant(&rig);
    let wb = rig.client().await;
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(g.headers.len(), 2 + Col::ALL.len() + 1);
    assert_eq!(g.rows.len(), 2);
    let r = &g.rows[0];
    assert_eq!(r[col(Col::TagSpool)], RawCell::Text("T-001".into()));
    // UNFORMATTED_VALUE + SERIAL_NUMBER: a date cell is its serial, a number is a number.
    assert_eq!(r[col(Col::FechaMateriales)], RawCell::Number(46042.0));
    assert_eq!(r[col(Col::CicloReparacion)], RawCell::Number(2.0));
    assert_eq!(
        g.rows[1][col(Col::FechaMateriales)],
        RawCell::Text("20-01-2026".into())
    );
    // Engineering's columns are not read at all.
    assert!(r.len() <= col(Col::DefectoOrigen) + 1);
    assert_eq!(r[0], RawCell::Empty);

    // Warm: one batchGet per read, nothing else (the header rides along).
    rig.emu.reset_counts();
    wb.read_tab(OPERACIONES).await.unwrap();
    let rows = wb.read_rows(OPERACIONES, &[3, 2, 50]).await.unwrap();
    assert_eq!(rig.emu.api_calls(), 2, "{:?}", rig.emu.counts());
    assert_eq!(
        rows.rows[0][col(Col::TagSpool)],
        RawCell::Text("T-002".into())
    );
    assert_eq!(
        rows.rows[1][col(Col::TagSpool)],
        RawCell::Text("T-001".into())
    );
    assert!(rows.rows[2].is_empty());
}

#[tokio::test]
async fn one_batch_update_per_batch_with_typed_cells_that_never_become_formulas() {
    let rig = Rig::start().await;
    plant(&rig);
    let wb = rig.client().await;
    wb.read_tab(OPERACIONES).await.unwrap();
    rig.emu.reset_counts();
    let d = chrono::NaiveDate::from_ymd_opt(2026, 1, 20).unwrap();
    let batch = WriteBatch {
        updates: vec![
            RowUpdate {
                tab: OPERACIONES.into(),
                row: 2,
                cells: vec![
                    (
                        col(Col::OcupadoPor),
                        CellValue::Text("=IMPORTXML(\"http://evil\",\"//a\")".into()),
                    ),
                    (
                        col(Col::FechaOcupacion),
                        CellValue::DateTime(d.and_hms_opt(12, 0, 0).unwrap()),
                    ),
                    (col(Col::Version), CellValue::Text("cmd-1".into())),
                    (col(Col::FechaArmado), CellValue::Date(d)),
                    (col(Col::Armador), CellValue::Empty),
                ],
            },
            RowUpdate {
                tab: OPERACIONES.into(),
                row: 3,
                cells: vec![(col(Col::CicloReparacion), CellValue::Number(1.0))],
            },
        ],
        appends: vec![
            Append {
                tab: METADATA.into(),
                cells: vec![
                    CellValue::Text("cmd-1".into()),
                    CellValue::Text("+1".into()),
                ],
            },
            Append {
                tab: METADATA.into(),
                cells: vec![CellValue::Text("cmd-2".into())],
            },
        ],
        fence: None,
    };
    wb.write(&batch).await.unwrap();
    assert_eq!(rig.emu.api_calls(), 1, "{:?}", rig.emu.counts());
    assert_eq!(rig.calls("spreadsheets.batchUpdate"), 1);

    let ops = rig.dump(OPERACIONES);
    assert_eq!(
        ops[1][col(Col::OcupadoPor)],
        json!("=IMPORTXML(\"http://evil\",\"//a\")")
    );
    assert_eq!(
        ops[1][col(Col::FechaOcupacion)],
        json!({"number": 46042.5, "format": {"type": "DATE_TIME", "pattern": "dd-mm-yyyy hh:mm:ss"}})
    );
    assert_eq!(
        ops[1][col(Col::FechaArmado)],
        json!({"number": 46042, "format": {"type": "DATE", "pattern": "dd-mm-yyyy"}})
    );
    assert_eq!(ops[1][col(Col::Armador)], Json::Null);
    assert_eq!(ops[1][col(Col::Version)], json!("cmd-1"));
    assert_eq!(
        ops[1][col(Col::CicloReparacion)],
        json!(2),
        "row 3 got the cycle, not row 2"
    );
    assert_eq!(ops[2][col(Col::CicloReparacion)], json!(1));
    assert_eq!(ops[1][0], json!("OT-1"), "Engineering's cells untouched");
    let meta = rig.dump(METADATA);
    assert_eq!(meta.len(), 3);
    assert_eq!(meta[1][0], json!("cmd-1"));
    assert_eq!(meta[1][1], json!("+1"));
    assert_eq!(meta[2][0], json!("cmd-2"));
}

#[tokio::test]
async fn token_comes_from_the_key_token_uri_is_cached_and_refreshed_after_401() {
    let rig = Rig::start().await;
    plant(&rig);
    let wb = rig.client().await;
    wb.read_tab(OPERACIONES).await.unwrap();
    wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(rig.calls("oauth2.token"), 1);
    rig.emu.expire_tokens();
    wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(rig.calls("oauth2.token"), 2);
}

#[tokio::test]
async fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let rig = Rig::start().await;
    std::fs::set_permissions(&rig.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = GoogleSheets::connect(
        rig.config(),
        Credentials::ServiceAccountFile(rig.key.clone()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, SetupError::Auth(AuthSetupError::KeyFileTooOpen { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("chmod 600"));
    assert_eq!(rig.calls("oauth2.token"), 0);
}

#[tokio::test]
async fn quota_429_is_retried_with_backoff_then_reported() {
    let rig = Rig::start().await;
    plant(&rig);
    let wb = rig.client().await;
    wb.read_tab(OPERACIONES).await.unwrap();
    rig.emu.add_fault(
        FaultRule::new(
            Some("spreadsheets.values.batchGet"),
            Fault::Error {
                code: 429,
                phase: Phase::BeforeCommit,
            },
        )
        .times(Some(2)),
    );
    wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(wb.stats().retries, 2);

    // Google's real quota (60 reads/min per user) exhausted: a typed CUOTA_SHEETS error.
    rig.emu.set_quota(QuotaConfig {
        enabled: true,
        reads_per_minute: 2,
        writes_per_minute: 60,
    });
    let mut last = Ok(());
    for _ in 0..3 {
        last = wb.read_tab(OPERACIONES).await.map(|_| ());
    }
    let e = last.unwrap_err();
    assert!(matches!(e, WorkbookError::Quota(_)), "{e}");
    assert_eq!(e.code(), "CUOTA_SHEETS");
    assert!(e.to_string().contains("RESOURCE_EXHAUSTED"), "{e}");

    // A write refused for quota certainly did not land: retried, then Quota (never "unknown").
    rig.emu.set_quota(QuotaConfig {
        enabled: true,
        reads_per_minute: 600,
        writes_per_minute: 0,
    });
    let batch = WriteBatch {
        updates: vec![],
        appends: vec![Append {
            tab: METADATA.into(),
            cells: vec![CellValue::Text("x".into())],
        }],
        fence: None,
    };
    let e = wb.write(&batch).await.unwrap_err();
    assert!(matches!(e, WorkbookError::Quota(_)), "{e}");
    assert_eq!(rig.dump(METADATA).len(), 1);
}

fn one_append(id: &str) -> WriteBatch {
    WriteBatch {
        updates: vec![RowUpdate {
            tab: OPERACIONES.into(),
            row: 2,
            cells: vec![(col(Col::Version), CellValue::Text(id.into()))],
        }],
        appends: vec![Append {
            tab: METADATA.into(),
            cells: vec![CellValue::Text(id.into())],
        }],
        fence: None,
    }
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_outcome_unknown_and_never_sent_twice() {
    for (fault, landed) in [
        (
            Fault::Error {
                code: 503,
                phase: Phase::AfterCommit,
            },
            true,
        ),
        (
            Fault::Error {
                code: 503,
                phase: Phase::BeforeCommit,
            },
            false,
        ),
        (
            Fault::Error {
                code: 500,
                phase: Phase::AfterCommit,
            },
            true,
        ),
        (
            Fault::Drop {
                phase: Phase::AfterCommit,
            },
            true,
        ),
        (
            Fault::Drop {
                phase: Phase::BeforeCommit,
            },
            false,
        ),
    ] {
        let rig = Rig::start().await;
        plant(&rig);
        let wb = rig.client().await;
        wb.read_tab(OPERACIONES).await.unwrap();
        rig.emu.reset_counts();
        rig.emu.add_fault(FaultRule::new(
            Some("spreadsheets.batchUpdate"),
            fault.clone(),
        ));
        let e = wb.write(&one_append("cmd-9")).await.unwrap_err();
        assert!(
            matches!(e, WorkbookError::OutcomeUnknown(_)),
            "{fault:?}: {e}"
        );
        assert_eq!(
            rig.calls("spreadsheets.batchUpdate"),
            1,
            "{fault:?}: written twice"
        );
        // The engine settles it by reading the row's version.
        let row = wb.read_rows(OPERACIONES, &[2]).await.unwrap();
        let version = row.rows[0][col(Col::Version)].shown();
        assert_eq!(version == "cmd-9", landed, "{fault:?}");
        assert_eq!(
            rig.dump(METADATA).len(),
            if landed { 2 } else { 1 },
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn reads_retry_5xx_and_dropped_connections() {
    let rig = Rig::start().await;
    plant(&rig);
    let wb = rig.client().await;
    rig.emu.add_fault(FaultRule::new(
        None,
        Fault::Error {
            code: 503,
            phase: Phase::BeforeCommit,
        },
    ));
    rig.emu.add_fault(FaultRule::new(
        None,
        Fault::Drop {
            phase: Phase::BeforeCommit,
        },
    ));
    rig.emu.add_fault(FaultRule::new(
        None,
        Fault::Error {
            code: 500,
            phase: Phase::BeforeCommit,
        },
    ));
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(g.rows.len(), 2);
    assert!(wb.stats().retries >= 3, "{:?}", wb.stats());

    rig.emu.add_fault(
        FaultRule::new(
            None,
            Fault::Error {
                code: 503,
                phase: Phase::BeforeCommit,
            },
        )
        .times(None),
    );
    let e = wb.read_tab(OPERACIONES).await.unwrap_err();
    assert!(matches!(e, WorkbookError::Unavailable(_)), "{e}");
    assert_eq!(e.code(), "SIN_CONEXION");
}

#[tokio::test]
async fn unknown_sheet_no_access_and_unknown_tab_are_typed_spanish_errors() {
    let rig = Rig::start().await;
    plant(&rig);
    let mut c = rig.config();
    c.spreadsheet_id = "no-such-book".into();
    let wb = rig.client_with(c).await;
    let e = wb.read_tab(OPERACIONES).await.unwrap_err();
    assert!(matches!(e, WorkbookError::NotFound(_)), "{e}");
    assert!(e.to_string().contains("no existe"), "{e}");

    let wb = rig.client().await;
    let e = wb.read_tab("Bodega").await.unwrap_err();
    assert!(
        matches!(e, WorkbookError::NotFound(ref m) if m.contains("Bodega")),
        "{e}"
    );

    let mut seed = rig.emu.dump(BOOK).unwrap();
    seed.shared_with = Some(vec!["otra@zeues-test.iam.gserviceaccount.com".into()]);
    rig.emu.seed(&seed).unwrap();
    let e = rig.client().await.read_tab(OPERACIONES).await.unwrap_err();
    assert!(matches!(e, WorkbookError::Denied(_)), "{e}");
    assert!(
        e.to_string().contains(SA),
        "names the account to share with: {e}"
    );
}

#[tokio::test]
async fn writes_past_the_grid_grow_it_in_the_same_call() {
    let rig = Rig::start().await;
    plant(&rig);
    let mut s = rig.sheet_seed(OPERACIONES);
    s.row_count = Some(3);
    let mut book = rig.emu.dump(BOOK).unwrap();
    book.sheets.retain(|x| x.title != OPERACIONES);
    book.sheets.insert(0, s);
    rig.emu.seed(&book).unwrap();
    let wb = rig.client().await;
    wb.read_tab(OPERACIONES).await.unwrap();
    rig.emu.reset_counts();
    let batch = WriteBatch {
        updates: vec![RowUpdate {
            tab: OPERACIONES.into(),
            row: 5,
            cells: vec![(col(Col::TagSpool), CellValue::Text("T-005".into()))],
        }],
        appends: vec![],
        fence: None,
    };
    wb.write(&batch).await.unwrap();
    assert_eq!(rig.emu.api_calls(), 1);
    assert_eq!(rig.dump(OPERACIONES)[4][col(Col::TagSpool)], json!("T-005"));
}

/// The product's client with a short whole-request timeout, so the emulator's latency fault
/// makes requests time out (the default 20 s of the rig would never trip).
async fn impatient_client(rig: &Rig) -> std::sync::Arc<GoogleSheets> {
    let mut c = rig.config();
    c.request_timeout = Duration::from_millis(TIMEOUT_MS);
    rig.client_with(c).await
}

const TIMEOUT_MS: u64 = 300;
/// Well past the timeout, so each slowed call certainly times out on the client.
const SLOW_MS: u64 = 1_500;

#[tokio::test]
async fn a_read_that_times_out_is_retried_and_succeeds_once_the_latency_is_gone() {
    let rig = Rig::start().await;
    plant(&rig);
    let wb = impatient_client(&rig).await;
    // Warm (token, sheet ids, header) so the faults below hit only the data read.
    wb.read_tab(OPERACIONES).await.unwrap();
    rig.emu.reset_counts();
    let retries = wb.stats().retries;

    // The first two tries time out; the third, past the fault's count, answers.
    rig.emu.add_fault(
        FaultRule::new(
            Some("spreadsheets.values.batchGet"),
            Fault::Latency { ms: SLOW_MS },
        )
        .times(Some(2)),
    );
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(g.rows.len(), 2);
    assert_eq!(g.rows[0][col(Col::TagSpool)], RawCell::Text("T-001".into()));
    assert_eq!(wb.stats().retries - retries, 2, "{:?}", wb.stats());
    assert_eq!(rig.calls("spreadsheets.values.batchGet"), 3);

    // Slow on every call: each try times out and the read ends in a typed SIN_CONEXION after
    // `max_attempts` tries, not in a hang.
    rig.emu.reset_counts();
    rig.emu
        .add_fault(FaultRule::new(None, Fault::Latency { ms: SLOW_MS }).times(None));
    let started = std::time::Instant::now();
    let e = wb.read_tab(OPERACIONES).await.unwrap_err();
    assert!(matches!(e, WorkbookError::Unavailable(_)), "{e}");
    assert_eq!(e.code(), "SIN_CONEXION");
    assert_eq!(rig.calls("spreadsheets.values.batchGet"), 4, "max_attempts");
    assert!(
        started.elapsed() < Duration::from_millis(4 * SLOW_MS),
        "each try gave up at the timeout: {:?}",
        started.elapsed()
    );

    // The latency removed: the same client reads again.
    rig.emu.clear_faults();
    let g = wb.read_tab(OPERACIONES).await.unwrap();
    assert_eq!(g.rows.len(), 2);
}

#[tokio::test]
async fn a_write_that_times_out_is_outcome_unknown_never_sent_twice_and_settled_by_the_version() {
    // Slow before applying: the emulator (hyper) drops the handler when the client hangs up,
    // so the write never lands. Slow after applying: it landed, only the answer was late.
    for (fault, landed) in [
        (Fault::Latency { ms: SLOW_MS }, false),
        (Fault::SlowAnswer { ms: SLOW_MS }, true),
    ] {
        let rig = Rig::start().await;
        plant(&rig);
        let wb = impatient_client(&rig).await;
        wb.read_tab(OPERACIONES).await.unwrap();
        rig.emu.reset_counts();
        rig.emu.add_fault(FaultRule::new(
            Some("spreadsheets.batchUpdate"),
            fault.clone(),
        ));
        let started = std::time::Instant::now();
        let e = wb.write(&one_append("cmd-9")).await.unwrap_err();
        assert!(
            matches!(e, WorkbookError::OutcomeUnknown(_)),
            "{fault:?}: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(SLOW_MS),
            "{fault:?}: gave up at the timeout, not after the answer"
        );
        assert_eq!(
            rig.calls("spreadsheets.batchUpdate"),
            1,
            "{fault:?}: written twice"
        );

        // Whatever the emulator does with the abandoned request is over by now.
        tokio::time::sleep(Duration::from_millis(SLOW_MS + 300)).await;
        // The engine settles it by reading the row's version (= the command id iff it landed).
        let row = wb.read_rows(OPERACIONES, &[2]).await.unwrap();
        let version = row.rows[0][col(Col::Version)].shown();
        assert_eq!(version == "cmd-9", landed, "{fault:?}: version {version}");
        assert_eq!(
            rig.dump(METADATA).len(),
            if landed { 2 } else { 1 },
            "{fault:?}: one audit row iff it landed"
        );
        assert_eq!(
            rig.calls("spreadsheets.batchUpdate"),
            1,
            "{fault:?}: settled by reading, never by writing again"
        );
    }
}
