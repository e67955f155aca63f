//! Devices around one plant: each a real `Engine` with its own SQLite store (own device id),
//! its own `RedisCoordinator` connections, and the tasks a plant device runs (push, stream
//! follower, leader candidacy, presence), all sharing one workbook (a `LocalWorkbook` file,
//! counted so tests can check the Sheets rate) and one Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use zeues_sync::domain::sheet::{Grid, OperacionesLayout, METADATA, OPERACIONES};
use zeues_sync::domain::{DomainError, Intent, Operacion, Spool, Worker};
use zeues_sync::engine::{
    Engine, EngineConfig, FollowConfig, LeaderConfig, NoNotifier, PresenceConfig, SystemClock,
};
use zeues_sync::ports::redis::{RateLimit, RedisConfig, RedisCoordinator};
use zeues_sync::ports::{
    AddColumns, LocalWorkbook, RowsRead, TabShape, Workbook, WorkbookError, WriteBatch,
};
use zeues_sync::store::{CommandStatus, ConflictRecord, LocalAction, Store};

/// The plant's workbook, counting every call so tests can measure the Sheets rate.
pub struct CountingWorkbook {
    inner: LocalWorkbook,
    writes: Mutex<Vec<Instant>>,
    reads: Mutex<Vec<Instant>>,
}

impl CountingWorkbook {
    fn note(list: &Mutex<Vec<Instant>>) {
        list.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Instant::now());
    }

    /// When each successful write landed.
    pub fn writes(&self) -> Vec<Instant> {
        self.writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn reads(&self) -> Vec<Instant> {
        self.reads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn local(&self) -> &LocalWorkbook {
        &self.inner
    }
}

/// Most events in any window of `window` (rolling, measured at each event).
pub fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut t = times.to_vec();
    t.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..t.len() {
        while t[end].duration_since(t[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[async_trait]
impl Workbook for CountingWorkbook {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn read_tab(&self, tab: &str) -> Result<Grid, WorkbookError> {
        Self::note(&self.reads);
        self.inner.read_tab(tab).await
    }

    async fn read_rows(&self, tab: &str, rows: &[u32]) -> Result<RowsRead, WorkbookError> {
        Self::note(&self.reads);
        self.inner.read_rows(tab, rows).await
    }

    async fn write(&self, batch: &WriteBatch) -> Result<(), WorkbookError> {
        self.inner.write(batch).await?;
        Self::note(&self.writes);
        Ok(())
    }

    async fn tab_shape(&self, tab: &str) -> Result<TabShape, WorkbookError> {
        self.inner.tab_shape(tab).await
    }

    async fn add_columns(&self, add: &AddColumns, then: &WriteBatch) -> Result<(), WorkbookError> {
        self.inner.add_columns(add, then).await
    }

    async fn truncate_columns(
        &self,
        tab: &str,
        columns: u32,
        then: &WriteBatch,
    ) -> Result<(), WorkbookError> {
        self.inner.truncate_columns(tab, columns, then).await
    }
}

/// One plant: the demo workbook in a temporary file.
pub struct Plant {
    _dir: tempfile::TempDir,
    pub workbook: Arc<CountingWorkbook>,
    pub t0: DateTime<Utc>,
}

impl Plant {
    pub fn demo(spools: usize, seed: u64) -> Result<Plant, WorkbookError> {
        let dir = tempfile::Builder::new()
            .prefix("zeues-plant-")
            .tempdir()
            .map_err(|e| WorkbookError::Unavailable(e.to_string()))?;
        let inner = LocalWorkbook::open(&dir.path().join("planta.db"))?;
        let t0 = Utc::now();
        zeues_sync::demo::seed(&inner, t0, seed, spools)?;
        Ok(Plant {
            _dir: dir,
            workbook: Arc::new(CountingWorkbook {
                inner,
                writes: Mutex::new(Vec::new()),
                reads: Mutex::new(Vec::new()),
            }),
            t0,
        })
    }

    /// Every spool as the sheet has it now.
    pub async fn rows(&self) -> Result<Vec<Spool>, WorkbookError> {
        let grid = self.workbook.local().read_tab(OPERACIONES).await?;
        let layout =
            OperacionesLayout::from_headers(&grid.headers).map_err(WorkbookError::Schema)?;
        Ok(layout.decode_all(&grid.rows).spools)
    }

    pub async fn row(&self, tag: &str) -> Result<Option<Spool>, WorkbookError> {
        Ok(self.rows().await?.into_iter().find(|r| r.tag == tag))
    }

    /// The `ID` column of `Metadata`, in order.
    pub async fn audit_ids(&self) -> Result<Vec<String>, WorkbookError> {
        let grid = self.workbook.local().read_tab(METADATA).await?;
        Ok(grid
            .rows
            .iter()
            .filter_map(|r| r.first().map(|c| c.shown()))
            .collect())
    }

    /// Spools a worker may TOMAR for ARM now (materials in, ARM not started, free).
    pub async fn free_for_arm(&self) -> Result<Vec<String>, WorkbookError> {
        Ok(self
            .rows()
            .await?
            .into_iter()
            .filter(|s| {
                s.fecha_materiales.is_some()
                    && s.armador.is_none()
                    && !s.is_occupied()
                    && !s.in_repair_loop()
            })
            .map(|s| s.tag)
            .collect())
    }
}

/// Active workers who may do ARM, in id order (one per device in the concurrency tests).
pub fn arm_workers() -> Vec<Worker> {
    zeues_sync::demo::workers()
        .into_iter()
        .filter(|w| w.activo && w.may_act(Operacion::Arm, None))
        .collect()
}

/// What a device runs besides its push loop.
#[derive(Debug, Clone)]
pub struct DeviceOptions {
    pub engine: EngineConfig,
    pub follow: Option<FollowConfig>,
    pub leader: Option<LeaderConfig>,
    pub presence: Option<PresenceConfig>,
}

impl DeviceOptions {
    /// Short timers, so a test sees retries, takeovers and rebuilds within seconds.
    pub fn fast() -> DeviceOptions {
        DeviceOptions {
            engine: EngineConfig {
                retry_base: Duration::from_millis(50),
                retry_max: Duration::from_millis(400),
                idle: Duration::from_millis(200),
                row_lock_ttl: Duration::from_secs(5),
                mode: "plant",
                ..EngineConfig::default()
            },
            follow: Some(FollowConfig {
                block: Duration::from_millis(250),
                batch: 500,
                retry: Duration::from_millis(100),
            }),
            leader: Some(LeaderConfig {
                lease_period: Duration::from_millis(1_200),
                poll_interval: Duration::from_millis(300),
                orphan_grace: Duration::from_secs(1),
                row_lock_ttl: Duration::from_secs(2),
                ..LeaderConfig::default()
            }),
            presence: Some(PresenceConfig {
                interval: Duration::from_millis(300),
                ttl: Duration::from_secs(1),
            }),
        }
    }

    /// Push only: the concurrency tests need nothing else.
    pub fn push_only() -> DeviceOptions {
        DeviceOptions {
            follow: None,
            leader: None,
            presence: None,
            ..DeviceOptions::fast()
        }
    }
}

/// Redis settings for tests: the given server, a quota that does not get in the way.
pub fn redis_config(url: &str) -> RedisConfig {
    let mut cfg = RedisConfig::single(url);
    cfg.response_timeout = Duration::from_secs(2);
    cfg.connect_timeout = Duration::from_millis(500);
    cfg.quota.reads = RateLimit {
        limit: 100_000,
        window: Duration::from_secs(60),
        burst: 1_000,
    };
    cfg.quota.writes = cfg.quota.reads;
    // Fresh servers that never restart; tests that restart one set their own settle period.
    cfg.row_settle = Duration::ZERO;
    cfg
}

/// One spool of a tap: its TAG and the command id queued, or why the tablet refused it.
pub type TapOutcome = (String, Result<String, DomainError>);

/// One tablet.
pub struct Device {
    pub index: u32,
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub coord: Arc<RedisCoordinator>,
    tasks: Vec<JoinHandle<()>>,
    next_id: AtomicU64,
    _dir: tempfile::TempDir,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(transparent)]
    Store(#[from] zeues_sync::store::StoreError),
    #[error(transparent)]
    Workbook(#[from] WorkbookError),
    #[error(transparent)]
    Coord(#[from] zeues_sync::ports::CoordError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Device {
    /// Opens a fresh device database, loads the plant into it and starts its tasks.
    pub async fn start(
        index: u32,
        plant: &Plant,
        redis: RedisConfig,
        opts: &DeviceOptions,
    ) -> Result<Device, DeviceError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("zeues-device{index}-"))
            .tempdir()?;
        let (store, _) = Store::open(&dir.path().join("zeues.db"))?;
        let store = Arc::new(store);
        let coord = Arc::new(RedisCoordinator::connect(redis).await?);
        let mut cfg = opts.engine.clone();
        cfg.jitter_seed = cfg.jitter_seed.wrapping_add(u64::from(index));
        let engine = Engine::new(
            store.clone(),
            plant.workbook.clone(),
            coord.clone(),
            Arc::new(SystemClock),
            Arc::new(NoNotifier),
            tokio::sync::broadcast::channel(1024).0,
            cfg,
        );
        engine.load_snapshot().await?;
        let mut tasks = vec![tokio::spawn(engine.clone().run())];
        if let Some(f) = &opts.follow {
            tasks.push(tokio::spawn(engine.clone().follow_stream(f.clone())));
        }
        if let Some(l) = &opts.leader {
            tasks.push(tokio::spawn(engine.clone().run_leader(l.clone())));
        }
        if let Some(p) = &opts.presence {
            tasks.push(tokio::spawn(engine.clone().run_presence(p.clone())));
        }
        Ok(Device {
            index,
            store,
            engine,
            coord,
            tasks,
            next_id: AtomicU64::new(0),
            _dir: dir,
        })
    }

    pub fn device_id(&self) -> &str {
        self.store.device_id()
    }

    /// A tap on this tablet: validated against its replica and queued (one transaction), then
    /// the engine is woken. Returns each spool's command id, or why the tablet refused it.
    pub fn act(
        &self,
        worker: u32,
        intent: Intent,
        tags: &[String],
    ) -> Result<Vec<TapOutcome>, DeviceError> {
        let index = self.index;
        let next = &self.next_id;
        let mut ids = || {
            let n = next.fetch_add(1, Ordering::SeqCst) + 1;
            format!("{index:08x}-0000-4000-8000-{n:012x}")
        };
        let out = self.store.execute(
            &LocalAction {
                worker_id: worker,
                intent,
                tags,
                supervisor_verified: false,
                now: Utc::now(),
                reapplied: None,
            },
            &mut ids,
        )?;
        self.engine.wake();
        Ok(out
            .into_iter()
            .map(|(tag, r)| (tag, r.map(|t| t.event.id)))
            .collect())
    }

    /// Queues one command that must pass locally; its id.
    pub fn act_one(&self, worker: u32, intent: Intent, tag: &str) -> Result<String, String> {
        let out = self
            .act(worker, intent, &[tag.to_string()])
            .map_err(|e| e.to_string())?;
        match out.into_iter().next() {
            Some((_, Ok(id))) => Ok(id),
            Some((_, Err(e))) => Err(e.to_string()),
            None => Err("sin resultado".into()),
        }
    }

    pub fn command_status(&self, id: &str) -> Option<CommandStatus> {
        self.store.command(id).ok().flatten().map(|c| c.status)
    }

    pub fn conflict_of(&self, command_id: &str) -> Option<ConflictRecord> {
        self.store
            .conflicts(true)
            .ok()?
            .into_iter()
            .find(|c| c.command_id == command_id)
    }

    /// Commands not yet applied or refused (pending; held ones wait behind a conflict).
    pub fn pending(&self) -> u32 {
        self.store.counts().map(|(p, _, _)| p).unwrap_or(u32::MAX)
    }

    /// Every command this device ever queued: id → status.
    pub fn commands(&self, ids: &[String]) -> HashMap<String, Option<CommandStatus>> {
        ids.iter()
            .map(|id| (id.clone(), self.command_status(id)))
            .collect()
    }

    /// The device dies (power cut, process killed): its tasks stop where they are.
    pub fn kill(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.engine.shutdown();
        self.kill();
    }
}

/// Polls `check` every 20 ms until it holds or `timeout` passes; whether it held.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if t0.elapsed() >= timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A command id's final state: applied or refused (a recorded conflict, or held behind one).
pub fn is_final(s: Option<CommandStatus>) -> bool {
    matches!(
        s,
        Some(CommandStatus::Applied | CommandStatus::Conflict | CommandStatus::Held)
    )
}

/// `TOMAR ARM` shorthand.
pub const TOMAR_ARM: Intent = Intent::Tomar(Operacion::Arm);
pub const PAUSAR_ARM: Intent = Intent::Pausar(Operacion::Arm);
pub const COMPLETAR_ARM: Intent = Intent::Completar(Operacion::Arm);
