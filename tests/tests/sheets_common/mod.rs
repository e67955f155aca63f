//! Shared rig of the `sheets_*` suites and the `sheets` bench: the emulator over real HTTP, the
//! product's `GoogleSheets` client pointed at it with a service-account key whose `token_uri`
//! is the emulator, and seeds of the plant's four tabs.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};
use zeues_sync::domain::audit::METADATA_HEADERS;
use zeues_sync::domain::sheet::{Col, Grid, METADATA, OPERACIONES, ROLES, TRABAJADORES};
use zeues_sync::domain::RawCell;
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
use zeues_tests::emulator::{Emulator, EmulatorConfig, QuotaConfig, SheetSeed, SpreadsheetSeed};

pub const BOOK: &str = "zeues-plant-book";
pub const SA: &str = "zeues-sync@zeues-test.iam.gserviceaccount.com";

pub struct Rig {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
}

impl Rig {
    /// An emulator with Google's quotas off (suites that test quotas turn them on).
    pub async fn start() -> Rig {
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        emu.set_quota(QuotaConfig {
            enabled: false,
            ..QuotaConfig::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("sa.json");
        emu.write_service_account(SA, &key).unwrap();
        Rig { emu, dir, key }
    }

    pub fn config(&self) -> SheetsConfig {
        let mut c = SheetsConfig::new(BOOK);
        c.base_url = self.emu.base_url().to_string();
        c.request_timeout = Duration::from_secs(20);
        c.backoff_base = Duration::from_millis(5);
        c.backoff_max = Duration::from_millis(50);
        c.max_attempts = 4;
        c.jitter_seed = Some(7);
        c
    }

    pub async fn client(&self) -> Arc<GoogleSheets> {
        self.client_with(self.config()).await
    }

    pub async fn client_with(&self, c: SheetsConfig) -> Arc<GoogleSheets> {
        Arc::new(
            GoogleSheets::connect(c, Credentials::ServiceAccountFile(self.key.clone()))
                .await
                .unwrap(),
        )
    }

    pub fn seed(&self, sheets: Vec<SheetSeed>) {
        self.emu.seed(&SpreadsheetSeed::new(BOOK, sheets)).unwrap();
    }

    /// The sheet's cells now, as the emulator holds them (seed form).
    pub fn dump(&self, title: &str) -> Vec<Vec<Json>> {
        let book = self.emu.dump(BOOK).unwrap();
        book.sheets
            .into_iter()
            .find(|s| s.title == title)
            .unwrap()
            .rows
    }

    pub fn sheet_seed(&self, title: &str) -> SheetSeed {
        let book = self.emu.dump(BOOK).unwrap();
        book.sheets.into_iter().find(|s| s.title == title).unwrap()
    }

    pub fn calls(&self, method: &str) -> u64 {
        self.emu.counts().get(method).copied().unwrap_or(0)
    }
}

pub fn raw_json(c: &RawCell) -> Json {
    match c {
        RawCell::Empty => Json::Null,
        RawCell::Text(s) => json!(s),
        RawCell::Number(n) => json!(n),
        RawCell::Bool(b) => json!(b),
    }
}

pub fn grid_sheet(title: &str, g: &Grid) -> SheetSeed {
    let mut rows: Vec<Vec<Json>> = vec![g.headers.iter().map(|h| json!(h)).collect()];
    rows.extend(g.rows.iter().map(|r| r.iter().map(raw_json).collect()));
    let width = rows.iter().map(Vec::len).max().unwrap_or(1);
    let mut s = SheetSeed::from_rows(title, rows);
    s.row_count = Some(g.rows.len() as u32 + 1);
    s.column_count = Some(width as u32);
    s.frozen_row_count = 1;
    s
}

/// The demo plant with Operaciones widened to `engineering` Engineering columns (synthetic ones
/// filled with text the app must never read) and an empty audit log: a 100 000-row, 75-column
/// tab as the plant's could be, under Google's 10 000 000-cell cap.
pub fn demo_plant_wide(spools: usize, engineering: usize) -> Vec<SheetSeed> {
    let (ops, trab, roles, _) = zeues_sync::demo::build(chrono::Utc::now(), 11, spools);
    let map = zeues_sync::domain::ColumnMap::from_headers(&ops.headers);
    let app = Col::ALL
        .iter()
        .filter(|c| map.find(c.header()).is_some())
        .count();
    let have = ops.headers.len() - app;
    let extra = engineering.saturating_sub(have);
    let mut wide = ops.clone();
    wide.headers
        .extend((0..extra).map(|k| format!("ING_{k:02}")));
    for (i, r) in wide.rows.iter_mut().enumerate() {
        r.resize(ops.headers.len(), RawCell::Empty);
        r.extend((0..extra).map(|k| RawCell::Text(format!("e{k}-{i}"))));
    }
    vec![
        grid_sheet(OPERACIONES, &wide),
        grid_sheet(TRABAJADORES, &trab),
        grid_sheet(ROLES, &roles),
        metadata_sheet(),
    ]
}

/// The demo plant (workers, roles, `spools` rows of Operaciones, its audit history).
pub fn demo_plant(spools: usize) -> Vec<SheetSeed> {
    let (ops, trab, roles, meta) = zeues_sync::demo::build(chrono::Utc::now(), 11, spools);
    vec![
        grid_sheet(OPERACIONES, &ops),
        grid_sheet(TRABAJADORES, &trab),
        grid_sheet(ROLES, &roles),
        grid_sheet(METADATA, &meta),
    ]
}

/// Every Operaciones header of DOMAIN.md §1, in `Col::ALL` order.
pub fn ops_headers() -> Vec<Json> {
    Col::ALL.iter().map(|c| json!(c.header())).collect()
}

pub fn metadata_sheet() -> SheetSeed {
    SheetSeed::from_rows(
        METADATA,
        vec![METADATA_HEADERS.iter().map(|h| json!(h)).collect()],
    )
}

pub fn workers_sheets() -> Vec<SheetSeed> {
    vec![
        SheetSeed::from_rows(
            TRABAJADORES,
            vec![
                vec![
                    json!("Id"),
                    json!("Nombre"),
                    json!("Apellido"),
                    json!("Activo"),
                ],
                vec![
                    json!(93),
                    json!("Mauricio"),
                    json!("Rodriguez"),
                    json!(true),
                ],
            ],
        ),
        SheetSeed::from_rows(
            ROLES,
            vec![
                vec![json!("Id"), json!("Rol"), json!("Activo")],
                vec![json!(93), json!("Armador"), json!(true)],
            ],
        ),
    ]
}

/// One Operaciones row in `Col::ALL` order from `(col, value)` pairs.
pub fn ops_row(cells: &[(Col, Json)]) -> Vec<Json> {
    let mut row = vec![Json::Null; Col::ALL.len()];
    for (c, v) in cells {
        let i = Col::ALL.iter().position(|x| x == c).unwrap();
        row[i] = v.clone();
    }
    row
}

/// One device: its own SQLite store and an engine pushing into `wb` (in-process coordinator).
pub struct Device {
    pub dir: tempfile::TempDir,
    pub store: Arc<zeues_sync::store::Store>,
    pub engine: Arc<zeues_sync::engine::Engine>,
    n: u64,
}

impl Device {
    pub fn new(wb: Arc<dyn zeues_sync::ports::Workbook>) -> Device {
        use zeues_sync::engine::{Engine, EngineConfig, NoNotifier, SystemClock};
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = zeues_sync::store::Store::open(&dir.path().join("zeues.db")).unwrap();
        let store = Arc::new(store);
        let engine = Engine::new(
            store.clone(),
            wb,
            Arc::new(zeues_sync::ports::InProcessCoordinator::new()),
            Arc::new(SystemClock),
            Arc::new(NoNotifier),
            tokio::sync::broadcast::channel(256).0,
            EngineConfig {
                mode: "plant",
                retry_base: Duration::from_millis(1),
                retry_max: Duration::from_millis(1),
                ..EngineConfig::default()
            },
        );
        Device {
            dir,
            store,
            engine,
            n: 0,
        }
    }

    /// Records a local command for each tag (as a tap does) and returns their ids.
    pub fn act(
        &mut self,
        worker: u32,
        intent: zeues_sync::domain::Intent,
        tags: &[&str],
    ) -> Vec<String> {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        let mut ids = Vec::new();
        let out = self
            .store
            .execute(
                &zeues_sync::store::LocalAction {
                    worker_id: worker,
                    intent,
                    tags: &tags,
                    supervisor_verified: false,
                    now: chrono::Utc::now(),
                    reapplied: None,
                },
                &mut || {
                    self.n += 1;
                    let id = format!("00000000-0000-4000-8000-{:012}", self.n);
                    ids.push(id.clone());
                    id
                },
            )
            .unwrap();
        for (tag, r) in &out {
            assert!(r.is_ok(), "{tag}: {r:?}");
        }
        ids
    }

    /// Pushes until nothing more finishes (bounded).
    pub async fn drain(&self) -> usize {
        let mut total = 0;
        for _ in 0..10 {
            let n = self.engine.push_once().await.unwrap();
            total += n;
            if n == 0 && self.store.counts().unwrap().0 == 0 {
                break;
            }
        }
        total
    }

    pub fn pending(&self) -> u32 {
        let (p, h, _) = self.store.counts().unwrap();
        p + h
    }
}
