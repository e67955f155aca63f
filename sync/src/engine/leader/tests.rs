#![allow(clippy::unwrap_used)]
//! Leader duties against the embedded ports and a controllable clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::sheet::{Col, METADATA};
use crate::domain::{CellValue, EstadoReparacion};
use crate::engine::{Clock, EngineConfig, NoNotifier};
use crate::ports::{
    ChangeRead, Coordinator, InProcessCoordinator, LocalWorkbook, RowUpdate, StreamCursor, Workbook,
};
use crate::store::Store;

struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(secs);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    wb: Arc<LocalWorkbook>,
    coord: Arc<InProcessCoordinator>,
    engine: Arc<Engine>,
    clock: Arc<TestClock>,
    duties: LeaderDuties,
}

fn cfg() -> LeaderConfig {
    LeaderConfig {
        orphan_grace: Duration::from_secs(60),
        ..LeaderConfig::default()
    }
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    let wb = Arc::new(LocalWorkbook::open(&dir.path().join("plant.db")).unwrap());
    crate::demo::seed(&wb, t0, 11, 60).unwrap();
    let (store, _) = Store::open(&dir.path().join("zeues.db")).unwrap();
    let coord = Arc::new(InProcessCoordinator::new());
    let clock = Arc::new(TestClock(Mutex::new(t0)));
    let engine = Engine::new(
        Arc::new(store),
        wb.clone(),
        coord.clone(),
        clock.clone(),
        Arc::new(NoNotifier),
        tokio::sync::broadcast::channel(16).0,
        EngineConfig::default(),
    );
    engine.load_snapshot().await.unwrap();
    Rig {
        _dir: dir,
        wb,
        coord,
        engine,
        clock,
        duties: LeaderDuties::new(cfg()),
    }
}

impl Rig {
    async fn sheet(&self) -> (OperacionesLayout, Vec<Spool>) {
        let grid = self.wb.read_tab(OPERACIONES).await.unwrap();
        let layout = OperacionesLayout::from_headers(&grid.headers).unwrap();
        let rows = layout.decode_all(&grid.rows).spools;
        (layout, rows)
    }

    /// A person types into the sheet.
    async fn edit(&self, tag: &str, col: Col, value: CellValue) {
        let (layout, rows) = self.sheet().await;
        let row = rows.iter().find(|r| r.tag == tag).unwrap().row;
        self.wb
            .write(&WriteBatch {
                updates: vec![RowUpdate {
                    tab: OPERACIONES.into(),
                    row,
                    cells: vec![(layout.col(col).unwrap(), value)],
                }],
                appends: Vec::new(),
                fence: None,
            })
            .await
            .unwrap();
    }

    async fn tick(&mut self) -> TickReport {
        self.duties.tick(&self.engine).await.unwrap()
    }

    async fn stream_after(&self, cursor: &StreamCursor) -> Vec<RowChange> {
        match self
            .coord
            .read_changes(cursor, 100, Duration::from_millis(1))
            .await
            .unwrap()
        {
            ChangeRead::Changes { changes, .. } => changes,
            ChangeRead::Reload => panic!("unexpected reload"),
        }
    }
}

#[tokio::test]
async fn cold_coordinator_is_warmed_and_locks_rebuilt_from_the_sheet() {
    let mut r = rig().await;
    let (_, rows) = r.sheet().await;
    let occupied: Vec<&Spool> = rows.iter().filter(|s| s.is_occupied()).collect();
    assert!(!occupied.is_empty());

    let rep = r.tick().await;
    assert_eq!(rep.warmed, Some(rows.len()));
    assert_eq!(rep.locks_restored, occupied.len());
    assert!(r.coord.epoch().await.unwrap().is_some());
    assert_eq!(r.coord.live_snapshot().await.unwrap().len(), rows.len());
    for s in occupied {
        let h = r.coord.occupation_holder(&s.tag).await.unwrap().unwrap();
        assert_eq!(
            Some(h.worker_id),
            worker_id_from_token(s.ocupado_por.as_deref().unwrap())
        );
        assert_eq!(h.command_id, s.version);
    }
    // Nothing else to do on the next round.
    assert!(r.tick().await.is_quiet());
}

#[tokio::test]
async fn direct_sheet_edit_is_imported_and_published_once() {
    let mut r = rig().await;
    r.tick().await;
    let head = r.coord.stream_head().await.unwrap();
    let (_, rows) = r.sheet().await;
    let tag = rows[3].tag.clone();
    r.edit(&tag, Col::Nv, CellValue::text("NV-EDITADA")).await;

    let rep = r.tick().await;
    assert_eq!(rep.imported, 1);
    let live = r.coord.live_rows(std::slice::from_ref(&tag)).await.unwrap();
    assert_eq!(live[0].as_ref().unwrap().row.nv, "NV-EDITADA");
    let changes = r.stream_after(&head).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].tag, tag);
    assert!(changes[0].command_id.is_empty());
    assert_eq!(r.tick().await.imported, 0);
}

#[tokio::test]
async fn manual_unblock_in_the_sheet_is_audited_as_supervisor_override() {
    let mut r = rig().await;
    r.tick().await;
    let (_, rows) = r.sheet().await;
    let blocked = rows.iter().find(|s| s.is_blocked()).unwrap().tag.clone();
    r.edit(
        &blocked,
        Col::EstadoReparacion,
        CellValue::text(EstadoReparacion::Pendiente.code()),
    )
    .await;

    let rep = r.tick().await;
    assert_eq!((rep.imported, rep.overrides), (1, 1));
    let meta = r.wb.read_tab(METADATA).await.unwrap();
    let last = meta.rows.last().unwrap();
    let shown: Vec<String> = last.iter().map(|c| c.shown()).collect();
    assert!(
        shown.contains(&"SUPERVISOR_OVERRIDE".to_string()),
        "{shown:?}"
    );
    assert!(shown.contains(&blocked), "{shown:?}");
    assert!(shown.contains(&"SYSTEM".to_string()), "{shown:?}");
    assert!(shown.contains(&"0".to_string()), "{shown:?}");
    // Audited once.
    assert_eq!(r.tick().await.overrides, 0);
}

#[tokio::test]
async fn lock_without_occupant_is_released_only_after_the_grace_period() {
    let mut r = rig().await;
    r.tick().await;
    let (_, rows) = r.sheet().await;
    let free = rows.iter().find(|s| !s.is_occupied()).unwrap().tag.clone();
    let stale = LockHolder {
        worker_id: 93,
        command_id: "tomar-que-nunca-llego".into(),
    };
    r.coord.acquire_occupation(&free, &stale).await.unwrap();

    assert_eq!(r.tick().await.locks_released, 0);
    r.clock.advance(30);
    assert_eq!(r.tick().await.locks_released, 0);
    r.clock.advance(31);
    assert_eq!(r.tick().await.locks_released, 1);
    assert_eq!(r.coord.occupation_holder(&free).await.unwrap(), None);
}

#[tokio::test]
async fn lock_naming_someone_else_is_replaced_by_the_sheets_occupant() {
    let mut r = rig().await;
    r.tick().await;
    let (_, rows) = r.sheet().await;
    let s = rows.iter().find(|s| s.is_occupied()).unwrap().clone();
    let occupant = worker_id_from_token(s.ocupado_por.as_deref().unwrap()).unwrap();
    r.coord.force_release(&s.tag).await.unwrap();
    let wrong = LockHolder {
        worker_id: occupant + 1,
        command_id: "otro".into(),
    };
    r.coord.acquire_occupation(&s.tag, &wrong).await.unwrap();

    r.tick().await;
    r.clock.advance(61);
    let rep = r.tick().await;
    assert_eq!((rep.locks_released, rep.locks_restored), (1, 1));
    let h = r.coord.occupation_holder(&s.tag).await.unwrap().unwrap();
    assert_eq!(h.worker_id, occupant);
}

#[tokio::test]
async fn a_row_being_written_by_a_device_is_left_for_the_next_round() {
    let mut r = rig().await;
    r.tick().await;
    let (_, rows) = r.sheet().await;
    let tag = rows[5].tag.clone();
    r.edit(&tag, Col::Nv, CellValue::text("NV-X")).await;
    assert!(r
        .coord
        .lock_row(&tag, "cmd-de-otro-equipo", Duration::from_secs(30))
        .await
        .unwrap());
    assert_eq!(r.tick().await.imported, 0);
    r.coord
        .unlock_row(&tag, "cmd-de-otro-equipo")
        .await
        .unwrap();
    assert_eq!(r.tick().await.imported, 1);
}

#[tokio::test]
async fn only_one_device_leads_and_another_takes_over_when_it_lapses() {
    let coord = InProcessCoordinator::new();
    let ttl = Duration::from_millis(40);
    assert!(coord.lease("a", ttl).await.unwrap());
    assert!(!coord.lease("b", ttl).await.unwrap());
    assert!(coord.lease("a", ttl).await.unwrap());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(coord.lease("b", ttl).await.unwrap());
    assert!(!coord.lease("a", ttl).await.unwrap());
}

#[tokio::test]
async fn a_leader_that_died_after_auditing_an_unblock_is_not_audited_twice() {
    let mut r = rig().await;
    r.tick().await;
    let (_, rows) = r.sheet().await;
    let blocked = rows.iter().find(|s| s.is_blocked()).unwrap().tag.clone();
    r.edit(
        &blocked,
        Col::EstadoReparacion,
        CellValue::text(EstadoReparacion::Pendiente.code()),
    )
    .await;
    // The first leader wrote the SUPERVISOR_OVERRIDE row and died before publishing the row.
    let (_, rows) = r.sheet().await;
    let row = rows.iter().find(|s| s.tag == blocked).unwrap().clone();
    assert!(r.engine.audit_manual_override(&row, &cfg()).await.unwrap());
    // The next leader sees the same difference: it publishes the row, and Metadata keeps
    // one row for the one un-block (an id is never repeated).
    r.duties = LeaderDuties::new(cfg());
    let rep = r.tick().await;
    assert_eq!((rep.imported, rep.overrides), (1, 0));
    let meta = r.wb.read_tab(METADATA).await.unwrap();
    let overrides = meta
        .rows
        .iter()
        .filter(|row| {
            let shown: Vec<String> = row.iter().map(|c| c.shown()).collect();
            shown.contains(&"SUPERVISOR_OVERRIDE".to_string()) && shown.contains(&blocked)
        })
        .count();
    assert_eq!(overrides, 1);
}

#[tokio::test]
async fn a_worker_added_to_the_sheet_mid_shift_reaches_every_tablet() {
    let mut r = rig().await;
    r.duties = LeaderDuties::new(LeaderConfig {
        workers_every: 1,
        ..cfg()
    });
    assert!(
        r.tick().await.workers_published,
        "first round publishes the list"
    );
    // Another tablet, started before the new worker existed.
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(&dir.path().join("b.db")).unwrap();
    let b = Engine::new(
        Arc::new(store),
        r.wb.clone(),
        r.coord.clone(),
        r.clock.clone(),
        Arc::new(NoNotifier),
        tokio::sync::broadcast::channel(16).0,
        EngineConfig::default(),
    );
    b.load_snapshot().await.unwrap();
    assert!(b.store.worker(150).unwrap().is_none());
    // Engineering adds worker 150, an Armador, to Trabajadores and Roles.
    for (tab, values) in [
        (
            crate::domain::sheet::TRABAJADORES,
            vec![
                ("Id", "150"),
                ("Nombre", "Rosa"),
                ("Apellido", "Navarro"),
                ("Activo", "TRUE"),
            ],
        ),
        (
            crate::domain::sheet::ROLES,
            vec![("Id", "150"), ("Rol", "Armador"), ("Activo", "TRUE")],
        ),
    ] {
        let headers = r.wb.read_tab(tab).await.unwrap().headers;
        let map = crate::domain::ColumnMap::from_headers(&headers);
        let mut cells = vec![CellValue::Empty; headers.len()];
        for (h, v) in values {
            cells[map.find(h).unwrap()] = match v.parse::<f64>() {
                Ok(n) => CellValue::Number(n),
                Err(_) if v == "TRUE" => CellValue::text("TRUE"),
                Err(_) => CellValue::text(v),
            };
        }
        r.wb.write(&WriteBatch {
            appends: vec![crate::ports::Append {
                tab: tab.into(),
                cells,
            }],
            ..WriteBatch::default()
        })
        .await
        .unwrap();
    }
    assert!(r.tick().await.workers_published);
    assert!(
        b.sync_workers().await.unwrap(),
        "tablet B takes the new list"
    );
    let rosa = b
        .store
        .worker(150)
        .unwrap()
        .expect("the new worker is on tablet B");
    assert_eq!(rosa.token(), "RN(150)");
    // Nothing changed since: no second publish, no reload.
    assert!(!r.tick().await.workers_published);
    assert!(!b.sync_workers().await.unwrap());
}
