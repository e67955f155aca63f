#![allow(clippy::unwrap_used)]
//! Engine with the embedded ports, a controllable clock and a workbook that can fail on demand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::sheet::{Col, Grid};
use crate::domain::{Intent, Operacion, RawCell, Spool};
use crate::ports::{InProcessCoordinator, LocalWorkbook, RowsRead, WriteBatch};
use crate::store::{CommandStatus, LocalAction};

pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, secs: i64) {
        let mut t = self.0.lock().unwrap();
        *t += chrono::Duration::seconds(secs);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Fails before anything lands.
    Unavailable,
    /// Lands, then reports a lost answer (503 after commit / timeout).
    LandedButUnknown,
}

struct FlakyWorkbook {
    inner: LocalWorkbook,
    fault: Mutex<Fault>,
    writes: AtomicUsize,
    /// When set, each write records whether every pending command was already marked in
    /// flight (what a crash during the write would leave behind).
    watch: Mutex<Option<(Arc<Store>, Vec<bool>)>>,
    /// When set, reading Operaciones rows loses every row mutex (a Redis restart between
    /// the read and the write).
    restart_on_read: Mutex<Option<Arc<InProcessCoordinator>>>,
    /// Rows of `Metadata` asked for by row reads (the settle path's cost).
    metadata_rows_read: AtomicUsize,
    /// A person sorts: these two Operaciones rows swap places just before the next write.
    swap_before_write: Mutex<Option<(u32, u32)>>,
    /// Engineering inserts an empty column at the front just before the next write, and
    /// another just after it (before the write is read back).
    insert_around_write: Mutex<bool>,
    /// Another device's later command replaces this row's `version` right after the next
    /// write lands (before the write's answer comes back).
    supersede_after_write: Mutex<Option<(u32, String)>>,
}

impl FlakyWorkbook {
    async fn insert_front_column(&self, header: &str) -> Result<(), WorkbookError> {
        let mut grid = self
            .inner
            .read_tab(crate::domain::sheet::OPERACIONES)
            .await?;
        grid.headers.insert(0, header.into());
        for row in &mut grid.rows {
            row.insert(0, RawCell::Empty);
        }
        self.inner
            .replace_tab(crate::domain::sheet::OPERACIONES, &grid)
            .map_err(|e| WorkbookError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl Workbook for FlakyWorkbook {
    fn describe(&self) -> String {
        "flaky".into()
    }
    async fn read_tab(&self, tab: &str) -> Result<Grid, WorkbookError> {
        let grid = self.inner.read_tab(tab).await?;
        if tab == crate::domain::sheet::METADATA {
            self.metadata_rows_read
                .fetch_add(grid.rows.len(), Ordering::SeqCst);
        }
        Ok(grid)
    }
    async fn read_rows(&self, tab: &str, rows: &[u32]) -> Result<RowsRead, WorkbookError> {
        if tab == crate::domain::sheet::OPERACIONES {
            if let Some(c) = self.restart_on_read.lock().unwrap().as_ref() {
                c.lose_row_mutexes();
            }
        }
        if tab == crate::domain::sheet::METADATA {
            self.metadata_rows_read
                .fetch_add(rows.len(), Ordering::SeqCst);
        }
        self.inner.read_rows(tab, rows).await
    }
    async fn write(&self, batch: &WriteBatch) -> Result<(), WorkbookError> {
        if let Some((store, seen)) = self.watch.lock().unwrap().as_mut() {
            let pending = store
                .ready_commands(Utc::now() + chrono::Duration::days(1), 100)
                .unwrap();
            seen.push(pending.iter().all(|c| c.outcome_unknown));
        }
        let swap = self.swap_before_write.lock().unwrap().take();
        if let Some((a, b)) = swap {
            let read = self
                .inner
                .read_rows(crate::domain::sheet::OPERACIONES, &[a, b])
                .await?;
            let full = |cells: &[RawCell]| -> Vec<(usize, crate::domain::CellValue)> {
                (0..read.headers.len())
                    .map(|i| {
                        let v = match cells.get(i) {
                            Some(RawCell::Text(t)) => crate::domain::CellValue::text(t.clone()),
                            Some(RawCell::Number(n)) => crate::domain::CellValue::Number(*n),
                            _ => crate::domain::CellValue::Empty,
                        };
                        (i, v)
                    })
                    .collect()
            };
            self.inner
                .write(&WriteBatch {
                    updates: vec![
                        crate::ports::RowUpdate {
                            tab: "Operaciones".into(),
                            row: a,
                            cells: full(&read.rows[1]),
                        },
                        crate::ports::RowUpdate {
                            tab: "Operaciones".into(),
                            row: b,
                            cells: full(&read.rows[0]),
                        },
                    ],
                    ..WriteBatch::default()
                })
                .await?;
        }
        let around = std::mem::take(&mut *self.insert_around_write.lock().unwrap());
        if around {
            self.insert_front_column("Obs_Antes").await?;
        }
        let fault = *self.fault.lock().unwrap();
        match fault {
            Fault::None => {
                self.writes.fetch_add(1, Ordering::SeqCst);
                self.inner.write(batch).await?;
                if around {
                    self.insert_front_column("Obs_Despues").await?;
                }
                let supersede = self.supersede_after_write.lock().unwrap().take();
                if let Some((row, version)) = supersede {
                    let grid = self
                        .inner
                        .read_tab(crate::domain::sheet::OPERACIONES)
                        .await?;
                    let layout =
                        crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers)
                            .unwrap();
                    self.inner
                        .write(&WriteBatch {
                            updates: vec![crate::ports::RowUpdate {
                                tab: "Operaciones".into(),
                                row,
                                cells: layout
                                    .encode(&[(
                                        Col::Version,
                                        crate::domain::CellValue::text(version),
                                    )])
                                    .unwrap(),
                            }],
                            ..WriteBatch::default()
                        })
                        .await?;
                }
                Ok(())
            }
            Fault::Unavailable => Err(WorkbookError::Unavailable("503".into())),
            Fault::LandedButUnknown => {
                self.writes.fetch_add(1, Ordering::SeqCst);
                self.inner.write(batch).await?;
                Err(WorkbookError::OutcomeUnknown("timeout".into()))
            }
        }
    }
}

#[derive(Default)]
struct RecordingNotifier(Mutex<Vec<(String, String)>>);

impl Notifier for RecordingNotifier {
    fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        self.0.lock().unwrap().push((title.into(), body.into()));
        Ok(())
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    wb: Arc<FlakyWorkbook>,
    engine: Arc<Engine>,
    clock: Arc<TestClock>,
    notes: Arc<RecordingNotifier>,
    coord: Arc<InProcessCoordinator>,
    n: usize,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let lw = LocalWorkbook::open(&dir.path().join("plant.db")).unwrap();
    crate::demo::seed(&lw, t0(), 11, 60).unwrap();
    let wb = Arc::new(FlakyWorkbook {
        inner: lw,
        fault: Mutex::new(Fault::None),
        writes: AtomicUsize::new(0),
        watch: Mutex::new(None),
        restart_on_read: Mutex::new(None),
        metadata_rows_read: AtomicUsize::new(0),
        swap_before_write: Mutex::new(None),
        insert_around_write: Mutex::new(false),
        supersede_after_write: Mutex::new(None),
    });
    let coord = Arc::new(InProcessCoordinator::new());
    let (store, _) = Store::open(&dir.path().join("zeues.db")).unwrap();
    let store = Arc::new(store);
    let clock = Arc::new(TestClock(Mutex::new(t0())));
    let notes = Arc::new(RecordingNotifier::default());
    let engine = Engine::new(
        store.clone(),
        wb.clone(),
        coord.clone(),
        clock.clone(),
        notes.clone(),
        broadcast::channel(64).0,
        EngineConfig::default(),
    );
    engine.load_snapshot().await.unwrap();
    Rig {
        _dir: dir,
        store,
        wb,
        engine,
        clock,
        notes,
        coord,
        n: 0,
    }
}

impl Rig {
    fn act(&mut self, worker: u32, intent: Intent, tag: &str) -> String {
        self.n += 1;
        let id = format!("00000000-0000-4000-8000-{:012}", self.n);
        let tags = vec![tag.to_string()];
        let out = self
            .store
            .execute(
                &LocalAction {
                    worker_id: worker,
                    intent,
                    tags: &tags,
                    supervisor_verified: false,
                    now: self.clock.now(),
                    reapplied: None,
                },
                &mut || id.clone(),
            )
            .unwrap();
        out[0].1.as_ref().unwrap();
        id
    }

    /// A TOMAR ARM on a free spool whose row Engineering swaps with another free spool's
    /// between the round's read and its write: (target, other, other's plant row, command id).
    async fn tomar_with_a_sort_before_the_write(&mut self) -> (Spool, Spool, Spool, String) {
        let target = self.free_arm_spool();
        let other = self
            .store
            .spools_where("tag != ?1 AND ocupado_por IS NULL", &[&target.tag], 1)
            .unwrap()
            .remove(0);
        let other_before = self.plant_row(&other.tag).await;
        let id = self.act(ARMADOR, Intent::Tomar(Operacion::Arm), &target.tag);
        *self.wb.swap_before_write.lock().unwrap() = Some((target.row, other.row));
        (target, other, other_before, id)
    }

    /// A spool ready for TOMAR ARM.
    fn free_arm_spool(&self) -> Spool {
        self.store
            .spools_where(
                "fecha_materiales IS NOT NULL AND armador IS NULL AND ocupado_por IS NULL",
                &[],
                1,
            )
            .unwrap()
            .remove(0)
    }

    async fn plant_row(&self, tag: &str) -> Spool {
        let grid = self
            .wb
            .read_tab(crate::domain::sheet::OPERACIONES)
            .await
            .unwrap();
        let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
        layout
            .decode_all(&grid.rows)
            .spools
            .into_iter()
            .find(|s| s.tag == tag)
            .unwrap()
    }

    async fn audit_ids(&self) -> Vec<String> {
        let grid = self
            .wb
            .read_tab(crate::domain::sheet::METADATA)
            .await
            .unwrap();
        grid.rows.iter().map(|r| r[0].shown()).collect()
    }
}

const ARMADOR: u32 = 93; // MR(93)
const OTRO_ARMADOR: u32 = 94; // JP(94)

#[tokio::test]
async fn tomar_lands_in_the_sheet_with_one_audit_row() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    assert_eq!(r.engine.push_once().await.unwrap(), 1);
    let plant = r.plant_row(&tag).await;
    assert_eq!(plant.ocupado_por.as_deref(), Some("MR(93)"));
    assert_eq!(plant.version, id);
    assert_eq!(r.audit_ids().await.iter().filter(|x| **x == id).count(), 1);
    let cmd = r.store.command(&id).unwrap().unwrap();
    assert_eq!(cmd.status, CommandStatus::Applied);
    assert_eq!(r.store.counts().unwrap(), (0, 0, 0));
    // Nothing left: the next round does nothing and writes nothing.
    assert_eq!(r.engine.push_once().await.unwrap(), 0);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_batch_of_commands_is_one_write() {
    let mut r = rig().await;
    let tags: Vec<String> = r
        .store
        .spools_where(
            "fecha_materiales IS NOT NULL AND armador IS NULL AND ocupado_por IS NULL",
            &[],
            5,
        )
        .unwrap()
        .into_iter()
        .map(|s| s.tag)
        .collect();
    assert_eq!(tags.len(), 5);
    for t in &tags {
        r.act(ARMADOR, Intent::Tomar(Operacion::Arm), t);
    }
    assert_eq!(r.engine.push_once().await.unwrap(), 5);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_outcome_is_resolved_by_reading_never_by_writing_twice() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    *r.wb.fault.lock().unwrap() = Fault::LandedButUnknown;
    r.engine.push_once().await.unwrap();
    let cmd = r.store.command(&id).unwrap().unwrap();
    assert_eq!(cmd.status, CommandStatus::Pending);
    assert!(cmd.outcome_unknown);
    assert_eq!(cmd.attempts, 1);
    *r.wb.fault.lock().unwrap() = Fault::None;
    r.clock.advance(120);
    assert_eq!(r.engine.push_once().await.unwrap(), 1);
    assert_eq!(
        r.wb.writes.load(Ordering::SeqCst),
        1,
        "second write must not happen"
    );
    assert_eq!(r.audit_ids().await.iter().filter(|x| **x == id).count(), 1);
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
}

#[tokio::test]
async fn landed_command_is_recognised_from_the_audit_log_after_the_row_moved_on() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    *r.wb.fault.lock().unwrap() = Fault::LandedButUnknown;
    r.engine.push_once().await.unwrap();
    *r.wb.fault.lock().unwrap() = Fault::None;
    // Another device moved the row on (a fresh engine: no in-process applied-id record).
    let plant = r.plant_row(&tag).await;
    let grid = r.wb.read_tab("Operaciones").await.unwrap();
    let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
    let cells = layout
        .encode(&[(Col::Version, crate::domain::CellValue::text("otro-equipo"))])
        .unwrap();
    r.wb.inner
        .write(&WriteBatch {
            updates: vec![crate::ports::RowUpdate {
                tab: "Operaciones".into(),
                row: plant.row,
                cells,
            }],
            appends: vec![],
            fence: None,
        })
        .await
        .unwrap();
    let engine = Engine::new(
        r.store.clone(),
        r.wb.clone(),
        Arc::new(InProcessCoordinator::new()),
        r.clock.clone(),
        r.notes.clone(),
        broadcast::channel(8).0,
        EngineConfig::default(),
    );
    r.clock.advance(120);
    assert_eq!(engine.push_once().await.unwrap(), 1);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1);
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
}

#[tokio::test]
async fn unavailable_workbook_keeps_command_queued_with_its_error_and_retries_on_a_timer() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    *r.wb.fault.lock().unwrap() = Fault::Unavailable;
    for i in 0..3 {
        r.engine.push_once().await.unwrap();
        if i < 2 {
            r.clock.advance(3600);
        }
    }
    let cmd = r.store.command(&id).unwrap().unwrap();
    assert_eq!(cmd.status, CommandStatus::Pending);
    assert_eq!(cmd.attempts, 3);
    assert!(cmd.last_error.unwrap().contains("503"));
    assert!(r.engine.status().last_error.is_some());
    // The retry is not due yet right after a failure.
    *r.wb.fault.lock().unwrap() = Fault::None;
    r.clock.advance(1);
    assert!(r
        .store
        .ready_commands(r.clock.now(), 10)
        .unwrap()
        .is_empty());
    assert_eq!(r.engine.push_once().await.unwrap(), 0);
    r.clock.advance(3600);
    assert_eq!(r.engine.push_once().await.unwrap(), 1);
    assert_eq!(r.plant_row(&tag).await.version, id);
}

#[tokio::test]
async fn someone_else_took_the_spool_first_is_a_conflict_naming_them() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    // Offline, MR(93) takes the spool and then pauses it.
    let mine = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    let held = r.act(ARMADOR, Intent::Pausar(Operacion::Arm), &tag);
    // Meanwhile JP(94) took it on another device: the plant row says so.
    let plant = r.plant_row(&tag).await;
    let jp = crate::domain::Worker {
        id: OTRO_ARMADOR,
        nombre: "Juan Carlos".into(),
        apellido: "Pérez López".into(),
        activo: true,
        roles: vec![crate::domain::Rol::Armador],
    };
    let t = crate::domain::apply(
        &plant,
        crate::domain::Actor {
            worker: &jp,
            supervisor_verified: false,
        },
        Intent::Tomar(Operacion::Arm),
        crate::domain::time::santiago(t0()),
        "otro-equipo-cmd",
    )
    .unwrap();
    let grid = r.wb.read_tab("Operaciones").await.unwrap();
    let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
    r.wb.inner
        .write(&WriteBatch {
            updates: vec![crate::ports::RowUpdate {
                tab: "Operaciones".into(),
                row: plant.row,
                cells: layout.encode(&t.changes).unwrap(),
            }],
            appends: vec![],
            fence: None,
        })
        .await
        .unwrap();
    assert_eq!(r.engine.push_once().await.unwrap(), 1);
    let c = r.store.conflicts(false).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].command_id, mine);
    assert_eq!(c[0].code, "SPOOL_OCUPADO");
    assert_eq!(c[0].winner.as_deref(), Some("JP(94)"));
    assert_eq!(c[0].held, vec![held.clone()]);
    // The replica shows the plant's truth; the sheet was not overwritten.
    let replica = r.store.spool(&tag).unwrap().unwrap();
    assert_eq!(replica.ocupado_por.as_deref(), Some("JP(94)"));
    assert_eq!(r.plant_row(&tag).await.version, "otro-equipo-cmd");
    // Loud: a native notification naming spool and winner, and a CONFLICTO audit row.
    let notes = r.notes.0.lock().unwrap().clone();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].1,
        format!("Spool {tag} fue tomado por JP(94) mientras estabas sin conexión")
    );
    let grid = r.wb.read_tab("Metadata").await.unwrap();
    let conflict_rows: Vec<_> = grid
        .rows
        .iter()
        .filter(|row| row.get(2) == Some(&RawCell::Text("CONFLICTO".into())))
        .collect();
    assert_eq!(conflict_rows.len(), 1);
    assert!(
        !r.audit_ids().await.contains(&mine),
        "a rejected command has no audit row of its own"
    );
    // Held commands are not retried behind the conflict.
    assert_eq!(r.engine.push_once().await.unwrap(), 0);
    assert_eq!(
        r.store.command(&held).unwrap().unwrap().status,
        CommandStatus::Held
    );
}

#[tokio::test]
async fn still_valid_intent_is_rebased_onto_a_newer_row() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    // Someone edited an unrelated app cell: the version moved on, the intent is still valid.
    let plant = r.plant_row(&tag).await;
    let grid = r.wb.read_tab("Operaciones").await.unwrap();
    let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
    r.wb.inner
        .write(&WriteBatch {
            updates: vec![crate::ports::RowUpdate {
                tab: "Operaciones".into(),
                row: plant.row,
                cells: layout
                    .encode(&[(Col::Version, crate::domain::CellValue::text("v-otro"))])
                    .unwrap(),
            }],
            appends: vec![],
            fence: None,
        })
        .await
        .unwrap();
    assert_eq!(r.engine.push_once().await.unwrap(), 1);
    assert_eq!(r.plant_row(&tag).await.version, id);
    assert!(r.store.conflicts(false).unwrap().is_empty());
}

#[tokio::test]
async fn columns_inserted_by_engineering_are_remapped_before_writing() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    r.engine.push_once().await.unwrap();
    // Engineering inserts a column at the front while the app runs.
    let mut grid = r.wb.read_tab("Operaciones").await.unwrap();
    grid.headers.insert(0, "Nueva_Columna".into());
    for row in &mut grid.rows {
        row.insert(0, RawCell::Text("x".into()));
    }
    r.wb.inner.replace_tab("Operaciones", &grid).unwrap();
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    for _ in 0..3 {
        r.engine.push_once().await.unwrap();
    }
    let plant = r.plant_row(&tag).await;
    assert_eq!(plant.version, id);
    assert_eq!(plant.ocupado_por.as_deref(), Some("MR(93)"));
    let grid = r.wb.read_tab("Operaciones").await.unwrap();
    assert!(grid
        .rows
        .iter()
        .all(|row| row[0] == RawCell::Text("x".into())));
}

#[tokio::test]
async fn a_missing_critical_column_stops_writes_and_says_which() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let mut grid = r.wb.read_tab("Operaciones").await.unwrap();
    let idx = grid
        .headers
        .iter()
        .position(|h| h == "Ocupado_Por")
        .unwrap();
    grid.headers[idx] = "Ocupado".into();
    r.wb.inner.replace_tab("Operaciones", &grid).unwrap();
    *r.engine.cache.lock().await = None;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    r.engine.push_once().await.unwrap();
    let cmd = r.store.command(&id).unwrap().unwrap();
    assert_eq!(cmd.status, CommandStatus::Pending);
    assert!(cmd.last_error.unwrap().contains("Ocupado_Por"));
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn run_loop_applies_new_commands_without_polling_the_ui() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let handle = tokio::spawn(r.engine.clone().run());
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    r.engine.wake();
    for _ in 0..200 {
        if r.store.command(&id).unwrap().unwrap().status == CommandStatus::Applied {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
    r.engine.shutdown();
    handle.await.unwrap();
}

#[tokio::test]
async fn a_conflicto_row_whose_write_outcome_was_lost_is_not_appended_twice() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    // The plant already shows someone else on the spool.
    let plant = r.plant_row(&tag).await;
    let grid = r.wb.read_tab("Operaciones").await.unwrap();
    let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
    let cells = layout
        .encode(&[
            (Col::OcupadoPor, crate::domain::CellValue::text("JP(94)")),
            (
                Col::OperacionOcupacion,
                crate::domain::CellValue::text("ARM"),
            ),
            (Col::Version, crate::domain::CellValue::text("otro")),
        ])
        .unwrap();
    r.wb.inner
        .write(&WriteBatch {
            updates: vec![crate::ports::RowUpdate {
                tab: "Operaciones".into(),
                row: plant.row,
                cells,
            }],
            appends: vec![],
            fence: None,
        })
        .await
        .unwrap();
    *r.wb.fault.lock().unwrap() = Fault::LandedButUnknown;
    r.engine.push_once().await.unwrap();
    *r.wb.fault.lock().unwrap() = Fault::None;
    r.clock.advance(60);
    r.engine.push_once().await.unwrap();
    r.engine.push_once().await.unwrap();
    let grid = r.wb.read_tab("Metadata").await.unwrap();
    let conflicts = grid
        .rows
        .iter()
        .filter(|row| row.get(2) == Some(&RawCell::Text("CONFLICTO".into())))
        .count();
    assert_eq!(conflicts, 1);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_tomar_is_claimed_and_announced_before_the_sheet_is_written() {
    let mut r = rig().await;
    let coord = Arc::new(InProcessCoordinator::new());
    let engine = Engine::new(
        r.store.clone(),
        r.wb.clone(),
        coord.clone(),
        r.clock.clone(),
        r.notes.clone(),
        broadcast::channel(8).0,
        EngineConfig::default(),
    );
    let mut stream = coord.subscribe();
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    *r.wb.fault.lock().unwrap() = Fault::Unavailable;
    assert_eq!(engine.claim_once().await.unwrap(), 1);
    let seen = stream.try_recv().unwrap();
    assert_eq!(seen.tag, tag);
    assert_eq!(seen.row.ocupado_por.as_deref(), Some("MR(93)"));
    assert_eq!(
        r.wb.writes.load(Ordering::SeqCst),
        0,
        "announced before any sheet write"
    );
    // A second device cannot take it: the lock is held by this command.
    let holder = coord.occupation_holder(&tag).await.unwrap().unwrap();
    assert_eq!(holder.command_id, id);
    assert_eq!(engine.claim_once().await.unwrap(), 0, "claimed once");
    // The sheet write still happens later, once the sheet is reachable.
    engine.push_once().await.unwrap();
    *r.wb.fault.lock().unwrap() = Fault::None;
    r.clock.advance(600);
    assert_eq!(engine.push_once().await.unwrap(), 1);
    assert_eq!(r.plant_row(&tag).await.version, id);
}

#[tokio::test]
async fn losing_and_regaining_the_workbook_is_announced_at_once() {
    let mut r = rig().await;
    let mut events = r.engine.events.subscribe();
    let tag = r.free_arm_spool().tag;
    *r.wb.fault.lock().unwrap() = Fault::Unavailable;
    r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    r.engine.push_once().await.unwrap();
    let sync_changed = |ev: Result<AppEvent, _>| matches!(ev, Ok(AppEvent::SyncChanged { .. }));
    assert!(
        sync_changed(events.try_recv()),
        "the sync badge must hear that the workbook went away"
    );
    // Another failure changes nothing the badge shows: no event.
    r.clock.advance(120);
    r.engine.push_once().await.unwrap();
    assert!(events.try_recv().is_err());
    *r.wb.fault.lock().unwrap() = Fault::None;
    r.clock.advance(120);
    r.engine.push_once().await.unwrap();
    let mut heard = false;
    while let Ok(ev) = events.try_recv() {
        heard |= sync_changed(Ok(ev));
    }
    assert!(heard, "and that it is back");
}

#[tokio::test]
async fn commands_are_marked_in_flight_before_the_write_so_a_crash_is_settled_by_the_audit_log() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    *r.wb.watch.lock().unwrap() = Some((r.store.clone(), Vec::new()));
    r.engine.push_once().await.unwrap();
    let seen = r.wb.watch.lock().unwrap().take().unwrap().1;
    assert_eq!(seen, vec![true], "in flight before the write");
    let cmd = r.store.command(&id).unwrap().unwrap();
    assert_eq!(cmd.status, CommandStatus::Applied);
    // A write refused before it could land clears the mark again.
    let tag2 = r.free_arm_spool().tag;
    let id2 = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag2);
    *r.wb.fault.lock().unwrap() = Fault::Unavailable;
    r.engine.push_once().await.unwrap();
    assert!(!r.store.command(&id2).unwrap().unwrap().outcome_unknown);
}

/// Redis restarts after the round read the row and before it writes: the row mutex is gone, so
/// another device may be deciding on the same row now. The round must not write; the command
/// stays queued with the reason and lands on the next round (fresh mutex, fresh read).
#[tokio::test]
async fn a_row_mutex_lost_before_the_write_stops_the_write() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    *r.wb.restart_on_read.lock().unwrap() = Some(r.coord.clone());
    assert_eq!(r.engine.push_once().await.unwrap(), 0);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 0, "nothing written");
    let cmd = r.store.command(&id).unwrap().unwrap();
    assert_eq!(cmd.status, CommandStatus::Pending);
    assert!(
        cmd.last_error
            .as_deref()
            .unwrap_or("")
            .contains("mutex de fila perdido"),
        "{:?}",
        cmd.last_error
    );
    *r.wb.restart_on_read.lock().unwrap() = None;
    r.clock.advance(120);
    assert_eq!(r.engine.push_once().await.unwrap(), 1);
    assert_eq!(r.plant_row(&tag).await.version, id);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1);
}

// ---- A plant's ordinary day (issue: holes that real use opens) ----

const METROLOGA: u32 = 95; // MG(95)
const SUPERVISOR: u32 = 120; // HC(120)

/// Another tablet on the same plant: its own database, the same workbook and coordinator.
struct OtherDevice {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    engine: Arc<Engine>,
}

impl Rig {
    async fn other_device(&self) -> OtherDevice {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("zeues.db")).unwrap();
        let store = Arc::new(store);
        let engine = Engine::new(
            store.clone(),
            self.wb.clone(),
            self.coord.clone(),
            self.clock.clone(),
            self.notes.clone(),
            broadcast::channel(64).0,
            EngineConfig::default(),
        );
        engine.load_snapshot().await.unwrap();
        OtherDevice {
            _dir: dir,
            store,
            engine,
        }
    }

    /// `act` on any device's store, as `by` with the supervisor's PIN checked when asked.
    fn act_on(&mut self, store: &Store, by: u32, intent: Intent, tag: &str, pin: bool) -> String {
        self.n += 1;
        let id = format!("00000000-0000-4000-9000-{:012}", self.n);
        let tags = vec![tag.to_string()];
        let out = store
            .execute(
                &LocalAction {
                    worker_id: by,
                    intent,
                    tags: &tags,
                    supervisor_verified: pin,
                    now: self.clock.now(),
                    reapplied: None,
                },
                &mut || id.clone(),
            )
            .unwrap();
        out[0].1.as_ref().unwrap();
        id
    }

    /// Engineering appends a spool row to Operaciones (ready for ARM).
    async fn append_spool(&self, tag: &str) -> Spool {
        let grid = self.wb.read_tab("Operaciones").await.unwrap();
        let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
        let mut cells = vec![crate::domain::CellValue::Empty; grid.headers.len()];
        cells[layout.col(Col::TagSpool).unwrap()] = crate::domain::CellValue::text(tag);
        cells[layout.col(Col::FechaMateriales).unwrap()] =
            crate::domain::CellValue::Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        self.wb
            .inner
            .write(&WriteBatch {
                updates: vec![],
                appends: vec![crate::ports::Append {
                    tab: "Operaciones".into(),
                    cells,
                }],
                fence: None,
            })
            .await
            .unwrap();
        self.plant_row(tag).await
    }

    async fn events_of(&self, tag: &str, kind: &str) -> usize {
        let grid = self.wb.read_tab("Metadata").await.unwrap();
        grid.rows
            .iter()
            .filter(|r| r.get(2).map(RawCell::shown).as_deref() == Some(kind))
            .filter(|r| r.get(3).map(RawCell::shown).as_deref() == Some(tag))
            .count()
    }
}

#[tokio::test]
async fn a_spool_added_to_the_sheet_mid_shift_is_found_not_refused_as_missing() {
    let mut r = rig().await;
    // The engine read its row index at start; Engineering adds a spool afterwards and the
    // leader shows it to this tablet (the replica has it, the index does not).
    r.clock.advance(60);
    let row = r.append_spool("MK-NUEVO-1").await;
    r.store.upsert_plant_rows(&[row]).unwrap();
    r.clock.advance(1);
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), "MK-NUEVO-1");
    for _ in 0..3 {
        r.engine.push_once().await.unwrap();
    }
    assert!(
        r.store.conflicts(true).unwrap().is_empty(),
        "no false SPOOL_NO_ENCONTRADO"
    );
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
    let plant = r.plant_row("MK-NUEVO-1").await;
    assert_eq!(plant.ocupado_por.as_deref(), Some("MR(93)"));
    assert_eq!(plant.version, id);
}

#[tokio::test]
async fn a_tomar_on_a_spool_the_sheet_lacks_releases_its_claim_and_drops_the_row() {
    let mut r = rig().await;
    // A row the replica has but the sheet never had (deleted by a person meanwhile).
    let mut ghost = r.free_arm_spool();
    ghost.tag = "MK-FANTASMA".into();
    ghost.row = 9_999;
    r.store.upsert_plant_rows(&[ghost]).unwrap();
    r.clock.advance(1);
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), "MK-FANTASMA");
    assert_eq!(r.engine.claim_once().await.unwrap(), 1, "claimed at once");
    assert!(r
        .coord
        .occupation_holder("MK-FANTASMA")
        .await
        .unwrap()
        .is_some());
    for _ in 0..3 {
        r.engine.push_once().await.unwrap();
    }
    let c = r.store.conflicts(false).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].command_id, id);
    assert_eq!(c[0].code, "SPOOL_NO_ENCONTRADO");
    assert_eq!(
        r.coord.occupation_holder("MK-FANTASMA").await.unwrap(),
        None,
        "a refused TOMAR never keeps its lock"
    );
    assert!(
        r.store.spool("MK-FANTASMA").unwrap().is_none(),
        "the optimistic row is corrected"
    );
}

#[tokio::test]
async fn a_delayed_force_release_never_ejects_someone_the_supervisor_did_not_see() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let b = r.other_device().await;
    // MR(93) takes the spool on tablet B; everyone sees it.
    let s = b.store.clone();
    r.act_on(&s, ARMADOR, Intent::Tomar(Operacion::Arm), &tag, false);
    b.engine.claim_once().await.unwrap();
    b.engine.push_once().await.unwrap();
    r.engine.load_snapshot().await.unwrap();
    // The supervisor, on a desk that then goes offline, forces MR(93) out.
    let forced = r.act_on(
        &r.store.clone(),
        SUPERVISOR,
        Intent::ForzarLiberacion,
        &tag,
        true,
    );
    // Meanwhile MR(93) pauses and JP(94) takes the spool on tablet B.
    r.act_on(&s, ARMADOR, Intent::Pausar(Operacion::Arm), &tag, false);
    b.engine.push_once().await.unwrap();
    r.act_on(&s, OTRO_ARMADOR, Intent::Tomar(Operacion::Arm), &tag, false);
    b.engine.claim_once().await.unwrap();
    b.engine.push_once().await.unwrap();
    assert_eq!(
        r.plant_row(&tag).await.ocupado_por.as_deref(),
        Some("JP(94)")
    );
    // The desk comes back: its FORZAR LIBERACIÓN reaches the plant.
    r.engine.push_once().await.unwrap();
    let c = r.store.conflicts(false).unwrap();
    assert_eq!(c.len(), 1, "changed hands: a conflict, not an ejection");
    assert_eq!(c[0].command_id, forced);
    assert_eq!(c[0].winner.as_deref(), Some("JP(94)"));
    assert_eq!(
        r.plant_row(&tag).await.ocupado_por.as_deref(),
        Some("JP(94)")
    );
    assert_eq!(
        r.coord
            .occupation_holder(&tag)
            .await
            .unwrap()
            .map(|h| h.worker_id),
        Some(OTRO_ARMADOR),
        "JP(94) keeps the lock"
    );
    assert_eq!(r.events_of(&tag, "FORZAR_LIBERACION").await, 0);
}

#[tokio::test]
async fn a_force_release_of_the_occupant_it_saw_still_works() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let s = r.store.clone();
    r.act_on(&s, ARMADOR, Intent::Tomar(Operacion::Arm), &tag, false);
    r.engine.claim_once().await.unwrap();
    r.engine.push_once().await.unwrap();
    r.act_on(&s, SUPERVISOR, Intent::ForzarLiberacion, &tag, true);
    r.engine.push_once().await.unwrap();
    assert!(r.store.conflicts(false).unwrap().is_empty());
    assert_eq!(r.plant_row(&tag).await.ocupado_por, None);
    assert_eq!(r.coord.occupation_holder(&tag).await.unwrap(), None);
}

#[tokio::test]
async fn cancelar_on_another_tablet_restores_the_spool_as_before_the_tomar() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let before = r.plant_row(&tag).await;
    assert_eq!(before.armador, None);
    // TOMAR on tablet A (it sets Armador), CANCELAR on tablet B.
    let a = r.store.clone();
    r.act_on(&a, ARMADOR, Intent::Tomar(Operacion::Arm), &tag, false);
    r.engine.claim_once().await.unwrap();
    r.engine.push_once().await.unwrap();
    assert_eq!(r.plant_row(&tag).await.armador.as_deref(), Some("MR(93)"));
    let b = r.other_device().await;
    let s = b.store.clone();
    r.act_on(&s, ARMADOR, Intent::Cancelar(Operacion::Arm), &tag, false);
    assert_eq!(
        b.store.spool(&tag).unwrap().unwrap().armador,
        None,
        "tablet B's own screen already shows it undone"
    );
    b.engine.push_once().await.unwrap();
    assert!(b.store.conflicts(false).unwrap().is_empty());
    let after = r.plant_row(&tag).await;
    assert_eq!(
        after.armador, None,
        "Armador cleared: ARM never really started"
    );
    assert_eq!(after.ocupado_por, None);
    // SOLD's "ARM iniciado" guard is not fooled.
    let soldador = 96; // PM(96)
    let tags = vec![tag.clone()];
    let out = b
        .store
        .execute(
            &LocalAction {
                worker_id: soldador,
                intent: Intent::Tomar(Operacion::Sold),
                tags: &tags,
                supervisor_verified: false,
                now: r.clock.now(),
                reapplied: None,
            },
            &mut || "sold-1".to_string(),
        )
        .unwrap();
    assert_eq!(
        out[0].1.as_ref().err().map(|e| e.code()),
        Some("DEPENDENCIAS_NO_SATISFECHAS")
    );
}

#[tokio::test]
async fn metrologia_is_not_refused_by_a_stale_lock() {
    let mut r = rig().await;
    let ready = r
        .store
        .spools_where(
            "fecha_armado IS NOT NULL AND fecha_soldadura IS NOT NULL AND resultado_metrologia IS NULL AND ocupado_por IS NULL",
            &[],
            1,
        )
        .unwrap()
        .remove(0);
    // An occupation that ended long ago left its lock behind (its release failed).
    let stale = crate::ports::LockHolder {
        worker_id: ARMADOR,
        command_id: "tomar-antiguo".into(),
    };
    r.coord
        .acquire_occupation(&ready.tag, &stale)
        .await
        .unwrap();
    r.coord.record_applied("tomar-antiguo").await.unwrap();
    let id = r.act(
        METROLOGA,
        Intent::Metrologia {
            resultado: crate::domain::ResultadoMetrologia::Aprobado,
            origen: None,
        },
        &ready.tag,
    );
    r.engine.push_once().await.unwrap();
    assert!(
        r.store.conflicts(false).unwrap().is_empty(),
        "no false SPOOL_OCUPADO"
    );
    assert_eq!(r.plant_row(&ready.tag).await.version, id);
    assert_eq!(r.coord.occupation_holder(&ready.tag).await.unwrap(), None);
}

#[tokio::test]
async fn discarding_a_conflict_is_written_to_metadata_with_the_commands_held_with_it() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let b = r.other_device().await;
    // JP(94) wins the spool on tablet B; MR(93), offline on A, takes and pauses it.
    let s = b.store.clone();
    r.act_on(&s, OTRO_ARMADOR, Intent::Tomar(Operacion::Arm), &tag, false);
    b.engine.claim_once().await.unwrap();
    b.engine.push_once().await.unwrap();
    let mine = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    let held = r.act(ARMADOR, Intent::Pausar(Operacion::Arm), &tag);
    r.engine.push_once().await.unwrap();
    let c = r.store.conflicts(false).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].held, vec![held.clone()]);
    r.clock.advance(30);
    r.store
        .resolve_conflict(c[0].id, "DESCARTADO", SUPERVISOR, r.clock.now())
        .unwrap();
    r.engine.push_once().await.unwrap();
    let grid = r.wb.read_tab("Metadata").await.unwrap();
    let map = crate::domain::ColumnMap::from_headers(&grid.headers);
    let rows: Vec<crate::domain::AuditEvent> = grid
        .rows
        .iter()
        .filter_map(|row| crate::domain::AuditEvent::from_row(&map, row).unwrap())
        .filter(|e| e.event_type == crate::domain::EventType::ConflictoDescartado)
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].tag, tag);
    assert_eq!(rows[0].worker_id, SUPERVISOR, "who discarded");
    assert_eq!(rows[0].metadata["command_id"], mine.as_str());
    assert_eq!(rows[0].metadata["retenidos"][0], held.as_str());
    // Once: the next rounds do not write it again.
    r.engine.push_once().await.unwrap();
    assert_eq!(r.events_of(&tag, "CONFLICTO_DESCARTADO").await, 1);
}

#[tokio::test]
async fn an_unknown_outcome_is_settled_from_the_rows_after_the_last_import_at_500k_rows() {
    let mut r = rig().await;
    // Years of audit: 500,000 rows, which this device imported long ago.
    let filler: Vec<crate::ports::Append> = (0..500_000)
        .map(|i| crate::ports::Append {
            tab: "Metadata".into(),
            cells: vec![crate::domain::CellValue::text(format!("antiguo-{i}"))],
        })
        .collect();
    r.wb.inner
        .write(&WriteBatch {
            appends: filler,
            ..WriteBatch::default()
        })
        .await
        .unwrap();
    let rows = r.wb.read_tab("Metadata").await.unwrap().rows.len();
    assert!(rows >= 500_000);
    r.store
        .set_setting("metadata_rows_seen", &rows.to_string())
        .unwrap();
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    *r.wb.fault.lock().unwrap() = Fault::LandedButUnknown;
    r.engine.push_once().await.unwrap();
    *r.wb.fault.lock().unwrap() = Fault::None;
    // Another device moved the row on; a restarted engine has no applied-id record.
    let plant = r.plant_row(&tag).await;
    let grid = r.wb.read_tab("Operaciones").await.unwrap();
    let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
    r.wb.inner
        .write(&WriteBatch {
            updates: vec![crate::ports::RowUpdate {
                tab: "Operaciones".into(),
                row: plant.row,
                cells: layout
                    .encode(&[(Col::Version, crate::domain::CellValue::text("otro-equipo"))])
                    .unwrap(),
            }],
            ..WriteBatch::default()
        })
        .await
        .unwrap();
    let engine = Engine::new(
        r.store.clone(),
        r.wb.clone(),
        Arc::new(InProcessCoordinator::new()),
        r.clock.clone(),
        r.notes.clone(),
        broadcast::channel(8).0,
        EngineConfig::default(),
    );
    r.wb.metadata_rows_read.store(0, Ordering::SeqCst);
    r.clock.advance(120);
    assert_eq!(engine.push_once().await.unwrap(), 1);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1, "never written twice");
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
    let read = r.wb.metadata_rows_read.load(Ordering::SeqCst);
    assert!(
        read <= 2_000,
        "only the rows appended since the last import are read, not 500,000: {read}"
    );
}

#[tokio::test]
async fn a_settled_doubt_is_not_read_again_while_another_device_holds_the_row() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    // A crash right after the write-ahead mark: the write was never sent.
    r.store
        .mark_in_flight(std::slice::from_ref(&id), true)
        .unwrap();
    // Another device is in the middle of its own round on the same row.
    assert!(r
        .coord
        .lock_row(&tag, "otro-equipo", std::time::Duration::from_secs(30))
        .await
        .unwrap());
    r.wb.metadata_rows_read.store(0, Ordering::SeqCst);
    r.engine.push_once().await.unwrap();
    let first = r.wb.metadata_rows_read.load(Ordering::SeqCst);
    assert!(first > 0, "the doubt is settled by reading Metadata");
    assert!(
        !r.store.command(&id).unwrap().unwrap().outcome_unknown,
        "Metadata read to its end without the command's row: it never landed"
    );
    let due = r.store.next_due().unwrap().unwrap();
    assert!(
        due > r.clock.now() + chrono::Duration::milliseconds(100),
        "a busy row is looked at again after a pause, not at the engine loop's 20 ms floor"
    );
    assert_eq!(r.store.command(&id).unwrap().unwrap().attempts, 0);
    for _ in 0..5 {
        r.clock.advance(1);
        r.engine.push_once().await.unwrap();
    }
    assert_eq!(
        r.wb.metadata_rows_read.load(Ordering::SeqCst),
        first,
        "rounds that find the row busy do not read Metadata again (each read is a token of \
         the fleet's budget)"
    );
    r.coord.unlock_row(&tag, "otro-equipo").await.unwrap();
    r.clock.advance(1);
    assert_eq!(r.engine.push_once().await.unwrap(), 1);
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1);
    assert_eq!(r.audit_ids().await.iter().filter(|x| **x == id).count(), 1);
}

#[tokio::test]
async fn a_claimed_tomar_refused_at_the_lock_step_is_corrected_on_every_tablet() {
    let mut r = rig().await;
    let tag = r.free_arm_spool().tag;
    let b = r.other_device().await;
    // JP(94) holds the spool in the plant (tablet B).
    let s = b.store.clone();
    r.act_on(&s, OTRO_ARMADOR, Intent::Tomar(Operacion::Arm), &tag, false);
    b.engine.claim_once().await.unwrap();
    b.engine.push_once().await.unwrap();
    // Redis lost its locks; tablet A, offline until now, claims and announces its TOMAR.
    let jp = r.coord.occupation_holder(&tag).await.unwrap().unwrap();
    r.coord.release_occupation(&tag, &jp).await.unwrap();
    let mine = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &tag);
    assert_eq!(r.engine.claim_once().await.unwrap(), 1);
    // The leader gives the lock back to the sheet's occupant before A's push.
    let a_lock = r.coord.occupation_holder(&tag).await.unwrap().unwrap();
    assert_eq!(a_lock.command_id, mine);
    r.coord.release_occupation(&tag, &a_lock).await.unwrap();
    r.coord.acquire_occupation(&tag, &jp).await.unwrap();
    r.engine.push_once().await.unwrap();
    let c = r.store.conflicts(false).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].code, "SPOOL_OCUPADO");
    // Every tablet hears the plant's row again (JP(94)), not A's announced claim.
    let live = r.coord.live_rows(std::slice::from_ref(&tag)).await.unwrap();
    assert_eq!(
        live[0].as_ref().unwrap().row.ocupado_por.as_deref(),
        Some("JP(94)")
    );
}

#[tokio::test]
async fn rows_sorted_between_the_read_and_the_write_are_repaired_at_once() {
    let mut r = rig().await;
    // Engineering sorts the sheet while the round is between its read and its write.
    let (target, other, other_before, id) = r.tomar_with_a_sort_before_the_write().await;
    r.engine.push_once().await.unwrap();
    let mine = r.plant_row(&target.tag).await;
    assert_eq!(
        mine.ocupado_por.as_deref(),
        Some("MR(93)"),
        "the TOMAR reached its spool"
    );
    assert_eq!(mine.version, id);
    assert_eq!(mine.row, other.row, "where the sort put it");
    let theirs = r.plant_row(&other.tag).await;
    assert_eq!(
        theirs.ocupado_por, None,
        "the other spool got nothing of it"
    );
    assert_eq!(theirs.version, other_before.version);
    assert_eq!(theirs.armador, other_before.armador);
    assert_eq!(
        r.audit_ids().await.iter().filter(|x| **x == id).count(),
        1,
        "one audit row"
    );
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
}

#[tokio::test]
async fn a_sorted_write_found_after_a_crash_and_a_redis_restart_restores_the_other_spool() {
    let mut r = rig().await;
    // Engineering sorts between the read and the write; the write's answer is lost and the
    // device dies before it can check where the write went.
    let (target, other, other_before, id) = r.tomar_with_a_sort_before_the_write().await;
    *r.wb.fault.lock().unwrap() = Fault::LandedButUnknown;
    r.engine.push_once().await.unwrap();
    *r.wb.fault.lock().unwrap() = Fault::None;
    let damaged = r.plant_row(&other.tag).await;
    assert_eq!(
        damaged.version, id,
        "the write landed on the other spool's row"
    );
    // Meanwhile every copy of the other spool's state took the damage: Redis restarted (its
    // live cache is warmed again from the sheet) and this tablet's replica followed.
    r.store
        .upsert_plant_rows(std::slice::from_ref(&damaged))
        .unwrap();
    let engine = Engine::new(
        r.store.clone(),
        r.wb.clone(),
        Arc::new(InProcessCoordinator::new()),
        r.clock.clone(),
        r.notes.clone(),
        broadcast::channel(8).0,
        EngineConfig::default(),
    );
    r.clock.advance(120);
    engine.push_once().await.unwrap();
    let theirs = r.plant_row(&other.tag).await;
    assert_eq!(
        theirs.version, other_before.version,
        "its state before the write"
    );
    assert_eq!(theirs.ocupado_por, other_before.ocupado_por);
    assert_eq!(theirs.armador, other_before.armador);
    let mine = r.plant_row(&target.tag).await;
    assert_eq!(mine.version, id);
    assert_eq!(mine.ocupado_por.as_deref(), Some("MR(93)"));
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
}

#[tokio::test]
async fn a_write_shifted_by_a_column_and_moved_again_before_its_check_is_repaired() {
    let mut r = rig().await;
    let target = r.free_arm_spool();
    let before = r.wb.read_tab("Operaciones").await.unwrap();
    let row_before = |grid: &Grid, header: &str| -> RawCell {
        let j = grid.headers.iter().position(|h| h == header).unwrap();
        grid.rows[target.row as usize - 2]
            .get(j)
            .cloned()
            .unwrap_or(RawCell::Empty)
    };
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &target.tag);
    // A column is inserted between the round's read and its write (the write lands one
    // column to the right), and another before the write is read back (so the cells it hit
    // have moved again when the repair looks for them).
    *r.wb.insert_around_write.lock().unwrap() = true;
    r.engine.push_once().await.unwrap();
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
    let mine = r.plant_row(&target.tag).await;
    assert_eq!(mine.version, id);
    assert_eq!(mine.ocupado_por.as_deref(), Some("MR(93)"));
    let after = r.wb.read_tab("Operaciones").await.unwrap();
    // Every cell outside the app's columns is what it was: Engineering's data untouched.
    let app: Vec<&str> = Col::ALL
        .into_iter()
        .filter(|c| c.is_written())
        .map(Col::header)
        .collect();
    for header in before.headers.iter().filter(|h| !app.contains(&h.as_str())) {
        assert_eq!(
            row_before(&after, header),
            row_before(&before, header),
            "{header}"
        );
    }
    for header in ["Obs_Antes", "Obs_Despues"] {
        assert_eq!(row_before(&after, header), RawCell::Empty, "{header}");
    }
}

#[tokio::test]
async fn a_write_replaced_by_a_later_command_before_its_check_is_not_written_again() {
    let mut r = rig().await;
    let target = r.free_arm_spool();
    let id = r.act(ARMADOR, Intent::Tomar(Operacion::Arm), &target.tag);
    // The write lands; its answer comes back late, after another device (its row mutex
    // expired meanwhile) read the row and wrote its own command.
    *r.wb.supersede_after_write.lock().unwrap() = Some((target.row, "comando-posterior".into()));
    r.engine.push_once().await.unwrap();
    assert_eq!(
        r.store.command(&id).unwrap().unwrap().status,
        CommandStatus::Applied
    );
    assert_eq!(
        r.plant_row(&target.tag).await.version,
        "comando-posterior",
        "the later command's row is not overwritten by an older state"
    );
    assert_eq!(r.wb.writes.load(Ordering::SeqCst), 1, "no repair write");
    // Nor is the older state announced to the other tablets, or kept in this one's replica.
    let live = r
        .coord
        .live_rows(std::slice::from_ref(&target.tag))
        .await
        .unwrap();
    assert!(
        live[0].as_ref().is_none_or(|l| l.row.version != id),
        "the replaced state was announced"
    );
    assert_eq!(
        r.store.spool(&target.tag).unwrap().unwrap().version,
        "comando-posterior"
    );
}

#[tokio::test]
async fn a_row_that_cannot_be_read_now_is_not_dropped_from_the_replica() {
    let r = rig().await;
    let s = r.free_arm_spool();
    let grid = r.wb.read_tab("Operaciones").await.unwrap();
    let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
    // A person types text into a date column (or a shifted write left garbage there).
    r.wb.inner
        .write(&WriteBatch {
            updates: vec![crate::ports::RowUpdate {
                tab: "Operaciones".into(),
                row: s.row,
                cells: vec![(
                    layout.col(Col::FechaArmado).unwrap(),
                    crate::domain::CellValue::text("mañana"),
                )],
            }],
            ..WriteBatch::default()
        })
        .await
        .unwrap();
    let problems = r.engine.load_snapshot().await.unwrap();
    assert!(problems.iter().any(|p| p.contains(&s.tag)), "{problems:?}");
    assert!(
        r.store.spool(&s.tag).unwrap().is_some(),
        "still a spool of the plant: reported as unreadable, not removed"
    );
}
