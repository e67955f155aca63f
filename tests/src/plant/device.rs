//! One simulated device: a real plant-mode `Zeues` (its own SQLite file and device id, the
//! product's Google Sheets client, the Redis coordinator — or none, Sheets-only) and the workers
//! using it, who take, pause, complete, inspect and repair spools as people on the shop floor
//! do, walking from tablet to tablet on the simulator's schedule.
//!
//! What workers were told succeeded goes to the device's acked-tap log (JSON lines, outside the
//! device database, fsync'd before the tap counts as acknowledged), which the independent
//! checker accounts for. The driver takes the data directory's `InstanceLock` first, as the
//! app does; a second instance on the same directory must be refused.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use zeues_checker::AckedTap;
use zeues_sync::api::{ActionOutcome, ActionRequest, ApiError, ForAction, SpoolQuery, WorkerView};
use zeues_sync::domain::{DefectoOrigen, Intent, Operacion, ResultadoMetrologia};
use zeues_sync::engine::{
    Clock, EngineConfig, FollowConfig, LeaderConfig, NoNotifier, PresenceConfig,
};
use zeues_sync::instance::{InstanceError, InstanceLock};
use zeues_sync::ports::redis::{RedisConfig, RedisCoordinator};
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
use zeues_sync::ports::{Coordinator, InProcessCoordinator};
use zeues_sync::service::{uuid_ids, PlantTasks, SystemClock, Wiring, Zeues};
use zeues_sync::store::Store;

use super::{BOOK, SIM_PIN};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceArgs {
    pub index: usize,
    pub dir: PathBuf,
    /// Parent's control folder: `stop` = stop working and drain; `finish` = everyone drained.
    pub control: PathBuf,
    pub sheets_url: String,
    pub key: PathBuf,
    pub redis_url: String,
    pub seed: u64,
    pub workers: Vec<u32>,
}

/// What the device tells the parent (`status.json` in its folder).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub phase: String,
    pub acked: u64,
    pub refused: u64,
    pub pending: u32,
    pub conflicts: u32,
    pub connectivity: String,
    /// The store's device id (what `Metadata_JSON.device` names).
    #[serde(default)]
    pub device_id: String,
    /// Taps refused because another device is the spreadsheet's writer (Sheets-only plant).
    #[serde(default)]
    pub writer_refused: u64,
    /// Supervisor errands done, and the force-releases and overrides they acked.
    #[serde(default)]
    pub orders: u64,
    #[serde(default)]
    pub forced: u64,
    #[serde(default)]
    pub overrides: u64,
}

/// What the simulator decides for one device beyond [`DeviceArgs`] (kept apart so the crash
/// tests' `DeviceArgs` stay as they are). Every field defaults to the plain behaviour.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DevicePlan {
    /// The device's name in the acked log and the checker's report (`dev-03`).
    #[serde(default)]
    pub name: String,
    /// The acked-tap log (`<run>/acked/<name>.jsonl`); none = not recorded.
    #[serde(default)]
    pub acked_log: Option<PathBuf>,
    /// This tablet's clock is off by this much (± minutes on a plant's ordinary day).
    #[serde(default)]
    pub clock_offset_ms: i64,
    /// A plant without Redis: no coordinator; only the spreadsheet's registered writer writes.
    #[serde(default)]
    pub sin_redis: bool,
    /// When each worker stands at this tablet (empty: every worker of `DeviceArgs::workers`,
    /// always).
    #[serde(default)]
    pub shifts: Vec<Shift>,
    /// Wall-clock epoch milliseconds the shifts are counted from (the run's start).
    #[serde(default)]
    pub run_start_ms: i64,
    /// A second instance started on a running device's directory: it must be refused by the
    /// instance lock, and exits at once (with [`PROBE_RAN`]) if it ever is not.
    #[serde(default)]
    pub probe: bool,
}

/// A stretch of time a worker spends at a tablet, in ms since the run's start.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Shift {
    pub worker: u32,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// `plant-sim device <json>`: the crash tests' [`DeviceArgs`] alone, or with a plan beside them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimDevice {
    #[serde(flatten)]
    pub args: DeviceArgs,
    #[serde(default)]
    pub plan: DevicePlan,
}

/// A supervisor's errand the simulator hands a device (`<device dir>/orders/*.json`): force
/// releases of spools held by these workers (whose tablet is offline with queued commands), and
/// an override of a blocked spool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub supervisor: u32,
    pub occupants: Vec<u32>,
    pub forzar: usize,
    pub override_blocked: bool,
}

/// Exit code of a device refused because another instance holds its data directory.
pub const REFUSED: u8 = 4;
/// Exit code of a second instance that got the data directory's lock (a violation).
pub const PROBE_RAN: u8 = 5;

/// How a device run ends badly.
#[derive(Debug)]
pub enum DeviceError {
    /// Another process holds the data directory (what a second app launch must see).
    Refused(String),
    /// A second instance got the lock of a directory a running device holds.
    ProbeRan,
    Failed(String),
}

impl From<String> for DeviceError {
    fn from(e: String) -> Self {
        DeviceError::Failed(e)
    }
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceError::Refused(m) => write!(f, "segunda instancia rechazada: {m}"),
            DeviceError::ProbeRan => write!(
                f,
                "VIOLACIÓN: una segunda instancia obtuvo el directorio de un equipo en marcha"
            ),
            DeviceError::Failed(m) => write!(f, "{m}"),
        }
    }
}

/// A tablet whose clock is off: system time plus a fixed offset.
struct SkewedClock {
    offset: chrono::Duration,
}

impl Clock for SkewedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.offset
    }
}

/// The device's command-id source, wrapped so the driver knows every id handed out during a
/// tap (the product's outcome names spools, not command ids).
#[derive(Clone, Default)]
struct IdTap(Arc<Mutex<Vec<String>>>);

impl IdTap {
    fn source(&self) -> Box<dyn FnMut() -> String + Send> {
        let seen = self.0.clone();
        let mut ids = uuid_ids();
        Box::new(move || {
            let id = ids();
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(id.clone());
            id
        })
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The intent as the checker's acked log spells it (`zeues_checker::AckedTap::intent`).
pub fn intent_text(i: Intent) -> String {
    match i {
        Intent::Tomar(o) => format!("TOMAR {}", o.code()),
        Intent::Pausar(o) => format!("PAUSAR {}", o.code()),
        Intent::Completar(o) => format!("COMPLETAR {}", o.code()),
        Intent::Cancelar(o) => format!("CANCELAR {}", o.code()),
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            ..
        } => "METROLOGIA APROBADO".into(),
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Rechazado,
            origen: Some(o),
        } => format!("METROLOGIA RECHAZADO {}", o.code()),
        Intent::Metrologia { .. } => "METROLOGIA RECHAZADO".into(),
        Intent::Override => "OVERRIDE".into(),
        Intent::ForzarLiberacion => "FORZAR_LIBERACION".into(),
    }
}

/// The acked-tap log: one JSON line per tap a worker was told succeeded, appended and fsync'd
/// before the driver counts it, so it survives `kill -9` of the device.
struct AckedLog {
    file: std::fs::File,
    device: String,
}

impl AckedLog {
    fn open(path: &Path, device: &str) -> Result<AckedLog, String> {
        let err = |e: std::io::Error| format!("registro de acciones {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(err)?;
        // A line torn by a kill -9 was never acknowledged (the write had not returned): cut it,
        // so the next line does not land after half a line.
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(err)?;
        let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if keep < text.len() {
            eprintln!(
                "device {device}: registro de acciones con una línea cortada ({} bytes); se descarta",
                text.len() - keep
            );
            file.set_len(keep as u64).map_err(err)?;
            file.seek(SeekFrom::End(0)).map_err(err)?;
            file.sync_data().map_err(err)?;
        }
        Ok(AckedLog {
            file,
            device: device.to_string(),
        })
    }

    fn record(&mut self, taps: &[AckedTap]) -> Result<(), String> {
        if taps.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for t in taps {
            serde_json::to_writer(&mut buf, t).map_err(|e| e.to_string())?;
            buf.push(b'\n');
        }
        self.file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("registro de acciones de {}: {e}", self.device))
    }
}

fn write_status(dir: &Path, s: &DeviceStatus) {
    let tmp = dir.join("status.json.tmp");
    let body = serde_json::to_vec(s).unwrap_or_default();
    if let Err(e) =
        std::fs::write(&tmp, body).and_then(|_| std::fs::rename(&tmp, dir.join("status.json")))
    {
        eprintln!("device: no se pudo escribir status: {e}");
    }
}

pub fn read_status(dir: &Path) -> Option<DeviceStatus> {
    let bytes = std::fs::read(dir.join("status.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn connect(args: &DeviceArgs, plan: &DevicePlan, ids: &IdTap) -> Result<Arc<Zeues>, String> {
    let (store, recovered) = Store::open(&args.dir.join("zeues.db")).map_err(|e| e.to_string())?;
    if let Some(r) = recovered {
        eprintln!("device {}: {}", args.index, r.message);
    }
    let mut cfg = SheetsConfig::new(BOOK);
    cfg.base_url = args.sheets_url.clone();
    cfg.request_timeout = Duration::from_secs(5);
    cfg.max_attempts = 2;
    let workbook = loop {
        match GoogleSheets::connect(
            cfg.clone(),
            Credentials::ServiceAccountFile(args.key.clone()),
        )
        .await
        {
            Ok(w) => break Arc::new(w),
            Err(e) => {
                eprintln!("device {}: planilla no disponible aún: {e}", args.index);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let coordinator: Arc<dyn Coordinator> = if plan.sin_redis {
        // What `Zeues::open_plant` wires when no Redis is configured (its own quota).
        Arc::new(InProcessCoordinator::with_quota(
            zeues_sync::ports::redis::RateLimit::per_minute(50),
            zeues_sync::ports::redis::RateLimit::per_minute(50),
        ))
    } else {
        let mut rcfg = RedisConfig::single(&args.redis_url);
        rcfg.connect_timeout = Duration::from_secs(1);
        rcfg.response_timeout = Duration::from_secs(2);
        // Longer than the write deadline below plus the chaos proxy's longest delay.
        rcfg.row_settle = Duration::from_secs(12);
        loop {
            match RedisCoordinator::connect(rcfg.clone()).await {
                Ok(c) => break Arc::new(c),
                Err(e) => {
                    eprintln!("device {}: Redis no disponible aún: {e}", args.index);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    };
    let store = Arc::new(store);
    if !plan.name.is_empty() {
        // The writer lease of a Sheets-only plant names the tablet by this.
        store
            .set_setting("device_name", &plan.name)
            .map_err(|e| e.to_string())?;
    }
    let plant = if plan.sin_redis {
        // Every device of a plant without Redis leads itself and polls the sheet: the
        // product's own pace, so the fleet's reads stay what a real plant's would be.
        PlantTasks {
            probe_every: Duration::from_secs(5),
            ..PlantTasks::default()
        }
    } else {
        PlantTasks {
            follow: FollowConfig::default(),
            leader: LeaderConfig {
                lease_period: Duration::from_secs(6),
                poll_interval: Duration::from_secs(5),
                orphan_grace: Duration::from_secs(30),
                ..LeaderConfig::default()
            },
            presence: PresenceConfig::default(),
            probe_every: Duration::from_secs(5),
            sheets_fallback_every: Duration::from_secs(20),
        }
    };
    let clock: Arc<dyn Clock> = if plan.clock_offset_ms == 0 {
        Arc::new(SystemClock)
    } else {
        Arc::new(SkewedClock {
            offset: chrono::Duration::milliseconds(plan.clock_offset_ms),
        })
    };
    // A start that fails (the sheet unreachable, or the quota spent) is tried again with a
    // growing pause, as a person would relaunch: not a stampede of every tablet every second.
    let mut pause = Duration::from_secs(1);
    loop {
        let wiring = Wiring {
            store: store.clone(),
            workbook: workbook.clone(),
            coordinator: coordinator.clone(),
            clock: clock.clone(),
            notifier: Arc::new(NoNotifier),
            // Every try gets a source feeding the same tap: a failed start consumes its own.
            ids: ids.source(),
            config: EngineConfig {
                mode: "plant",
                retry_max: Duration::from_secs(10),
                write_deadline: Duration::from_secs(8),
                idle: Duration::from_secs(1),
                jitter_seed: args.seed,
                single_writer: plan.sin_redis,
                ..EngineConfig::default()
            },
            data_dir: args.dir.clone(),
            plant: Some(plant.clone()),
        };
        match Zeues::start(wiring, tokio::runtime::Handle::current()) {
            Ok(z) => return Ok(z),
            Err(e) => {
                eprintln!(
                    "device {}: arranque fallido ({}); reintento en {} s",
                    args.index,
                    e.message,
                    pause.as_secs()
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(16));
            }
        }
    }
}

fn list(z: &Zeues, worker: u32, intent: Intent) -> Result<Vec<String>, ApiError> {
    Ok(z.spools(&SpoolQuery {
        for_action: Some(ForAction {
            worker_id: worker,
            intent,
        }),
        limit: Some(200),
        ..SpoolQuery::default()
    })?
    .spools
    .into_iter()
    .map(|s| s.tag)
    .collect())
}

/// Picks spools: half the time among the first few (everyone looks at the top of the list, so
/// devices collide as they do at shift start), otherwise anywhere.
fn pick(rng: &mut ChaCha8Rng, tags: &[String], n: usize) -> Vec<String> {
    if tags.is_empty() {
        return Vec::new();
    }
    let pool: &[String] = if rng.gen_bool(0.5) {
        &tags[..tags.len().min(6)]
    } else {
        tags
    };
    let mut v: Vec<String> = pool
        .choose_multiple(rng, n.min(pool.len()))
        .cloned()
        .collect();
    v.sort();
    v
}

/// One thing one worker does. Returns the request made, if any.
fn next_request(
    z: &Zeues,
    rng: &mut ChaCha8Rng,
    w: &WorkerView,
) -> Result<Option<ActionRequest>, ApiError> {
    let has = |r: &str| w.roles.iter().any(|x| x == r);
    let req = |intent: Intent, tags: Vec<String>| ActionRequest {
        worker_id: w.id,
        intent,
        tags,
        supervisor_pin: None,
    };
    if has("Supervisor") {
        let blocked = list(z, w.id, Intent::Override)?;
        if let Some(tag) = blocked.first() {
            return Ok(Some(ActionRequest {
                supervisor_pin: Some(SIM_PIN.into()),
                ..req(Intent::Override, vec![tag.clone()])
            }));
        }
        if rng.gen_bool(0.1) {
            let busy = list(z, w.id, Intent::ForzarLiberacion)?;
            if let Some(tag) = busy.choose(rng) {
                return Ok(Some(ActionRequest {
                    supervisor_pin: Some(SIM_PIN.into()),
                    ..req(Intent::ForzarLiberacion, vec![tag.clone()])
                }));
            }
        }
    }
    if has("Metrologia") {
        let probe = Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            origen: None,
        };
        let ready = list(z, w.id, probe)?;
        if let Some(tag) = pick(rng, &ready, 1).pop() {
            let intent = if rng.gen_bool(0.55) {
                probe
            } else {
                Intent::Metrologia {
                    resultado: ResultadoMetrologia::Rechazado,
                    origen: Some(if rng.gen_bool(0.5) {
                        DefectoOrigen::Arm
                    } else {
                        DefectoOrigen::Sold
                    }),
                }
            };
            return Ok(Some(req(intent, vec![tag])));
        }
    }
    let mut ops: Vec<Operacion> = Vec::new();
    if has("Armador") || has("Ayudante") {
        ops.push(Operacion::Arm);
    }
    if has("Soldador") || has("Ayudante") {
        ops.push(Operacion::Sold);
    }
    if has("Armador") || has("Soldador") {
        ops.push(Operacion::Reparacion);
    }
    // Work in hand first: finish, pause or drop it.
    for op in &ops {
        let mine = list(z, w.id, Intent::Pausar(*op))?;
        if mine.is_empty() || (mine.len() < 4 && rng.gen_bool(0.4)) {
            continue;
        }
        let tags = if rng.gen_bool(0.2) {
            mine.into_iter().take(50).collect()
        } else {
            pick(rng, &mine, 1)
        };
        let roll: f64 = rng.gen();
        let intent = if roll < 0.55 {
            Intent::Completar(*op)
        } else if roll < 0.9 {
            Intent::Pausar(*op)
        } else {
            Intent::Cancelar(*op)
        };
        return Ok(Some(req(intent, tags)));
    }
    let Some(op) = ops.choose(rng).copied() else {
        return Ok(None);
    };
    let free = list(z, w.id, Intent::Tomar(op))?;
    let n = if rng.gen_bool(0.15) {
        rng.gen_range(2..=6)
    } else {
        1
    };
    let tags = pick(rng, &free, n);
    if tags.is_empty() {
        return Ok(None);
    }
    Ok(Some(req(Intent::Tomar(op), tags)))
}

/// A device whose simulator died must not keep writing into a folder a new run may reuse.
fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                eprintln!("device: el simulador terminó; este equipo también");
                std::process::exit(3);
            }
        }
    });
}

/// Runs one tap, and logs what the worker was told succeeded before counting it.
struct Driver {
    z: Arc<Zeues>,
    ids: IdTap,
    log: Option<AckedLog>,
    name: String,
    index: usize,
}

impl Driver {
    /// The tap's acked commands: every id handed out during it that queued a command (an id
    /// drawn for a spool the tap then refused queues nothing).
    fn acked(&self, out: &ActionOutcome) -> Result<Vec<AckedTap>, DeviceError> {
        let mut taps = Vec::new();
        for id in self.ids.take() {
            let cmd = self.z.store().command(&id).map_err(|e| {
                // Not knowing what was queued would under-report: crash, the sim restarts.
                DeviceError::Failed(format!("orden {id} ilegible en la base local: {e}"))
            })?;
            if let Some(c) = cmd {
                taps.push(AckedTap {
                    command_id: c.id,
                    device: self.name.clone(),
                    worker_id: c.worker_id,
                    tag: c.tag,
                    intent: intent_text(c.payload.intent),
                });
            }
        }
        let told: BTreeSet<&str> = out
            .results
            .iter()
            .filter(|r| r.ok)
            .map(|r| r.tag.as_str())
            .collect();
        let queued: BTreeSet<&str> = taps.iter().map(|t| t.tag.as_str()).collect();
        if told != queued {
            eprintln!(
                "device {}: la respuesta dice {told:?} exitosos, pero la cola tiene {queued:?}",
                self.index
            );
        }
        Ok(taps)
    }

    fn execute(
        &mut self,
        req: ActionRequest,
        status: &mut DeviceStatus,
    ) -> Result<Option<ActionOutcome>, DeviceError> {
        // Ids from before this tap (none are expected) are not its commands.
        self.ids.take();
        match self.z.execute(req) {
            Ok(out) => {
                let taps = self.acked(&out)?;
                if let Some(log) = self.log.as_mut() {
                    log.record(&taps)?;
                }
                status.acked += taps.len() as u64;
                status.refused += (out.results.len() - out.succeeded()) as u64;
                Ok(Some(out))
            }
            Err(e) => {
                self.ids.take();
                status.refused += 1;
                if e.code == "ESCRITOR_OCUPADO" {
                    status.writer_refused += 1;
                } else if e.code != "LOTE_INVALIDO" {
                    eprintln!("device {}: {}: {}", self.index, e.code, e.message);
                }
                Ok(None)
            }
        }
    }

    /// A supervisor's errand from the simulator (see [`Order`]).
    fn errand(
        &mut self,
        order: &Order,
        everyone: &[WorkerView],
        status: &mut DeviceStatus,
    ) -> Result<(), DeviceError> {
        let tokens: Vec<&str> = everyone
            .iter()
            .filter(|w| order.occupants.contains(&w.id))
            .map(|w| w.token.as_str())
            .collect();
        let by_supervisor = |intent: Intent, tag: &str| ActionRequest {
            worker_id: order.supervisor,
            intent,
            tags: vec![tag.to_string()],
            supervisor_pin: Some(SIM_PIN.into()),
        };
        if order.forzar > 0 {
            let list = self
                .z
                .spools(&SpoolQuery {
                    for_action: Some(ForAction {
                        worker_id: order.supervisor,
                        intent: Intent::ForzarLiberacion,
                    }),
                    limit: Some(500),
                    ..SpoolQuery::default()
                })
                .map_err(|e| DeviceError::Failed(e.message))?;
            let mut held: Vec<String> = list
                .spools
                .iter()
                .chain(&list.ocupados)
                .filter(|s| {
                    s.ocupado_por
                        .as_deref()
                        .is_some_and(|o| tokens.contains(&o))
                })
                .map(|s| s.tag.clone())
                .collect();
            held.sort();
            held.dedup();
            for tag in held.iter().take(order.forzar) {
                let out = self.execute(by_supervisor(Intent::ForzarLiberacion, tag), status)?;
                if out.is_some_and(|o| o.succeeded() == 1) {
                    status.forced += 1;
                    eprintln!("device {}: supervisor liberó {tag}", self.index);
                }
            }
        }
        if order.override_blocked {
            let blocked = list(&self.z, order.supervisor, Intent::Override)
                .map_err(|e| DeviceError::Failed(e.message))?;
            if let Some(tag) = blocked.first() {
                let out = self.execute(by_supervisor(Intent::Override, tag), status)?;
                if out.is_some_and(|o| o.succeeded() == 1) {
                    status.overrides += 1;
                }
            }
        }
        status.orders += 1;
        Ok(())
    }
}

/// The simulator's errands waiting in `<dir>/orders`, oldest first. Each is renamed before it
/// is done: a crash in between drops the errand (the supervisor walked away), never repeats it.
fn take_orders(dir: &Path) -> Vec<Order> {
    let Ok(entries) = std::fs::read_dir(dir.join("orders")) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let taken = p.with_extension("taken");
        if let Err(e) = std::fs::rename(&p, &taken) {
            eprintln!("device: orden {}: {e}", p.display());
            continue;
        }
        match std::fs::read(&taken)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(o) => out.push(o),
            Err(e) => eprintln!("device: orden {}: {e}", taken.display()),
        }
    }
    out
}

/// Nothing left for this device to send: no pending command and every conflict audited.
fn drained(z: &Zeues) -> bool {
    let st = z.store();
    st.counts().is_ok_and(|(pending, _, _)| pending == 0)
        && st.unaudited_conflicts().is_ok_and(|c| c.is_empty())
        && st.unaudited_discards().is_ok_and(|c| c.is_empty())
}

fn refresh_status(z: &Zeues, status: &mut DeviceStatus) {
    let s = z.sync_status();
    status.pending = s.pending;
    status.conflicts = s.conflicts;
    status.connectivity = format!("{:?}", s.connectivity);
    status.device_id = s.device_id;
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub async fn run(args: DeviceArgs, plan: DevicePlan) -> Result<(), DeviceError> {
    exit_with_parent();
    std::fs::create_dir_all(&args.dir).map_err(|e| e.to_string())?;
    // As the app does: one instance per data directory, taken before anything is opened.
    let _instance = match InstanceLock::acquire(&args.dir) {
        Ok(l) => l,
        Err(e @ InstanceError::Held { .. }) => return Err(DeviceError::Refused(e.to_string())),
        Err(e) => return Err(DeviceError::Failed(e.to_string())),
    };
    if plan.probe {
        // Got the lock of a directory whose device is running: the product let a second
        // instance in. Leave at once, touching nothing, so the run itself stays sound.
        return Err(DeviceError::ProbeRan);
    }
    let mut status = DeviceStatus {
        phase: "starting".into(),
        ..DeviceStatus::default()
    };
    write_status(&args.dir, &status);
    let name = if plan.name.is_empty() {
        format!("dev-{:02}", args.index)
    } else {
        plan.name.clone()
    };
    let log = match &plan.acked_log {
        Some(p) => Some(AckedLog::open(p, &name)?),
        None => None,
    };
    let ids = IdTap::default();
    let z = connect(&args, &plan, &ids).await?;
    z.set_supervisor_pin(SIM_PIN).map_err(|e| e.message)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let everyone: Vec<WorkerView> = z.workers(None).map_err(|e| e.message)?;
    let workers: Vec<WorkerView> = everyone
        .iter()
        .filter(|w| args.workers.contains(&w.id))
        .cloned()
        .collect();
    let mut d = Driver {
        z,
        ids,
        log,
        name,
        index: args.index,
    };
    status.phase = "working".into();
    while !args.control.join("stop").exists() {
        for order in take_orders(&args.dir) {
            d.errand(&order, &everyone, &mut status)?;
        }
        // Who stands at this tablet now (a roaming worker is at one tablet at a time).
        let at = u64::try_from(now_ms() - plan.run_start_ms).unwrap_or(0);
        let here: Vec<&WorkerView> = workers
            .iter()
            .filter(|w| {
                plan.shifts.is_empty()
                    || plan
                        .shifts
                        .iter()
                        .any(|s| s.worker == w.id && s.from_ms <= at && at < s.to_ms)
            })
            .collect();
        if let Some(w) = here.choose(&mut rng) {
            match next_request(&d.z, &mut rng, w) {
                Ok(Some(req)) => {
                    d.execute(req, &mut status)?;
                }
                Ok(None) => {}
                Err(e) => eprintln!("device {}: lista: {}", args.index, e.message),
            }
        }
        refresh_status(&d.z, &mut status);
        write_status(&args.dir, &status);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(400..1_500))).await;
    }
    status.phase = "draining".into();
    let mut retired = false;
    loop {
        if !retired {
            refresh_status(&d.z, &mut status);
            if drained(&d.z) {
                status.phase = "drained".into();
            }
        }
        // Sheets-only: a drained device steps down (a clean stop gives the writer role up) so
        // one still holding queued taps can become the writer and send them.
        if !retired && status.phase == "drained" && args.dir.join("retire").exists() {
            d.z.shutdown();
            // The engine gives the role up as its loop ends.
            tokio::time::sleep(Duration::from_secs(3)).await;
            retired = true;
            status.phase = "retired".into();
        }
        write_status(&args.dir, &status);
        if status.phase != "draining" && args.control.join("finish").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if retired {
        // Back on, as a tablet switched on again after the handover: its replica catches up
        // with what the later writers sent (by its own polling of the sheet).
        let Driver { z, ids, .. } = d;
        drop(z);
        let z = connect(&args, &plan, &ids).await?;
        // Its refresh is the same read of the sheet its own polling makes; done here until
        // one succeeds, so a fleet still short of quota (Sheets-only tablets share no budget)
        // cannot end the run before the replica had its chance.
        let t0 = std::time::Instant::now();
        loop {
            match z.engine().poll_plant().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => eprintln!("device {}: lectura final de la planilla: {e}", args.index),
            }
            if t0.elapsed() > Duration::from_secs(180) {
                eprintln!(
                    "device {}: la réplica no pudo leer la planilla en 180 s",
                    args.index
                );
                break;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        z.shutdown();
        tokio::time::sleep(Duration::from_secs(2)).await;
    } else {
        // Everyone has drained: give the change stream (and the leader's import, every 5 s)
        // time to reach this replica, then stop.
        tokio::time::sleep(Duration::from_secs(15)).await;
        d.z.shutdown();
    }
    status.phase = "done".into();
    write_status(&args.dir, &status);
    Ok(())
}

/// One tap on a plant device, for crash tests: `plant-sim tap <json>` opens the device, makes
/// the command once (its own outbox remembers it across crashes), then waits until the outbox
/// has drained. Started with `ZEUES_FAILPOINTS`, it dies at that step instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TapArgs {
    pub device: DeviceArgs,
    pub worker: u32,
    pub tag: String,
    pub intent: Intent,
}

/// Whether the device database at `db` already holds a command for `tag` (none: no database).
fn outbox_has(db: &std::path::Path, tag: &str) -> Result<bool, String> {
    if !db.exists() {
        return Ok(false);
    }
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| e.to_string())?;
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM outbox WHERE tag = ?1)",
        [tag],
        |r| r.get(0),
    )
    .map_err(|e| e.to_string())
}

pub async fn tap(a: TapArgs) -> Result<(), String> {
    std::fs::create_dir_all(&a.device.dir).map_err(|e| e.to_string())?;
    // The tap is made once, and the device's own outbox is what says it was: the engine can
    // reach a failpoint (and die) between the durable tap and anything written after it here.
    let made = outbox_has(&a.device.dir.join("zeues.db"), &a.tag)?;
    let z = connect(&a.device, &DevicePlan::default(), &IdTap::default()).await?;
    if !made {
        let out = z
            .execute(ActionRequest {
                worker_id: a.worker,
                intent: a.intent,
                tags: vec![a.tag.clone()],
                supervisor_pin: None,
            })
            .map_err(|e| format!("{}: {}", e.code, e.message))?;
        if out.succeeded() != 1 {
            return Err(out.summary);
        }
    }
    let t0 = std::time::Instant::now();
    loop {
        let (pending, _, _) = z.store().counts().map_err(|e| e.to_string())?;
        if pending == 0 {
            // The round that applied it may still be doing its bookkeeping (applied id,
            // publish): let it finish, so a failpoint there is reached, not skipped.
            z.engine().settled().await;
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            return Err("el comando no se aplicó en 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    z.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tap(id: &str) -> AckedTap {
        AckedTap {
            command_id: id.into(),
            device: "dev-00".into(),
            worker_id: 93,
            tag: "MK-1".into(),
            intent: intent_text(Intent::Tomar(Operacion::Arm)),
        }
    }

    #[test]
    fn a_line_torn_by_kill_9_is_cut_before_the_next_tap_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acked").join("dev-00.jsonl");
        let mut log = AckedLog::open(&path, "dev-00").unwrap();
        log.record(&[tap("a")]).unwrap();
        drop(log);
        // The process died in the middle of the next write.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"command_id\":\"b\",\"dev").unwrap();
        drop(f);
        let mut log = AckedLog::open(&path, "dev-00").unwrap();
        log.record(&[tap("c"), tap("d")]).unwrap();
        let ids: Vec<String> = zeues_checker::read_acked_jsonl(&path)
            .unwrap()
            .into_iter()
            .map(|t| t.command_id)
            .collect();
        assert_eq!(ids, ["a", "c", "d"]);
    }

    #[test]
    fn intents_are_spelled_as_the_checker_reads_them() {
        assert_eq!(intent_text(Intent::Pausar(Operacion::Sold)), "PAUSAR SOLD");
        assert_eq!(
            intent_text(Intent::Completar(Operacion::Reparacion)),
            "COMPLETAR REPARACION"
        );
        assert_eq!(
            intent_text(Intent::Metrologia {
                resultado: ResultadoMetrologia::Rechazado,
                origen: Some(DefectoOrigen::Sold),
            }),
            "METROLOGIA RECHAZADO SOLD"
        );
        assert_eq!(intent_text(Intent::ForzarLiberacion), "FORZAR_LIBERACION");
    }

    #[test]
    fn the_id_tap_sees_every_id_handed_out_once() {
        let t = IdTap::default();
        let mut a = t.source();
        let mut b = t.source();
        let ids = [a(), b(), a()];
        assert_eq!(t.take(), ids);
        assert!(t.take().is_empty());
    }
}
