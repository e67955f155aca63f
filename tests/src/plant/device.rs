//! One simulated device: a real plant-mode `Zeues` (its own SQLite file and device id, the
//! product's Google Sheets client, the Redis coordinator) and the workers using it, who take,
//! pause, complete, inspect and repair spools as people on the shop floor do.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use zeues_sync::api::{ActionRequest, ApiError, ForAction, SpoolQuery, WorkerView};
use zeues_sync::domain::{DefectoOrigen, Intent, Operacion, ResultadoMetrologia};
use zeues_sync::engine::{EngineConfig, FollowConfig, LeaderConfig, NoNotifier, PresenceConfig};
use zeues_sync::ports::redis::{RedisConfig, RedisCoordinator};
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
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

async fn connect(args: &DeviceArgs) -> Result<Arc<Zeues>, String> {
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
    let mut rcfg = RedisConfig::single(&args.redis_url);
    rcfg.connect_timeout = Duration::from_secs(1);
    rcfg.response_timeout = Duration::from_secs(2);
    // Longer than the write deadline below plus the chaos proxy's longest delay.
    rcfg.row_settle = Duration::from_secs(12);
    let coordinator = loop {
        match RedisCoordinator::connect(rcfg.clone()).await {
            Ok(c) => break Arc::new(c),
            Err(e) => {
                eprintln!("device {}: Redis no disponible aún: {e}", args.index);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let store = Arc::new(store);
    let plant = PlantTasks {
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
    };
    loop {
        let wiring = Wiring {
            store: store.clone(),
            workbook: workbook.clone(),
            coordinator: coordinator.clone(),
            clock: Arc::new(SystemClock),
            notifier: Arc::new(NoNotifier),
            ids: uuid_ids(),
            config: EngineConfig {
                mode: "plant",
                retry_max: Duration::from_secs(10),
                write_deadline: Duration::from_secs(8),
                idle: Duration::from_secs(1),
                jitter_seed: args.seed,
                ..EngineConfig::default()
            },
            data_dir: args.dir.clone(),
            plant: Some(plant.clone()),
        };
        match Zeues::start(wiring, tokio::runtime::Handle::current()) {
            Ok(z) => return Ok(z),
            Err(e) => {
                eprintln!(
                    "device {}: arranque fallido ({}); reintento",
                    args.index, e.message
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
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

pub async fn run(args: DeviceArgs) -> Result<(), String> {
    exit_with_parent();
    std::fs::create_dir_all(&args.dir).map_err(|e| e.to_string())?;
    let mut status = DeviceStatus {
        phase: "starting".into(),
        ..DeviceStatus::default()
    };
    write_status(&args.dir, &status);
    let z = connect(&args).await?;
    z.set_supervisor_pin(SIM_PIN).map_err(|e| e.message)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let workers: Vec<WorkerView> = z
        .workers(None)
        .map_err(|e| e.message)?
        .into_iter()
        .filter(|w| args.workers.contains(&w.id))
        .collect();
    status.phase = "working".into();
    while !args.control.join("stop").exists() {
        if let Some(w) = workers.choose(&mut rng) {
            match next_request(&z, &mut rng, w) {
                Ok(Some(req)) => match z.execute(req) {
                    Ok(out) => {
                        status.acked += out.succeeded() as u64;
                        status.refused += (out.results.len() - out.succeeded()) as u64;
                    }
                    Err(e) => {
                        status.refused += 1;
                        if e.code != "LOTE_INVALIDO" {
                            eprintln!("device {}: {}: {}", args.index, e.code, e.message);
                        }
                    }
                },
                Ok(None) => {}
                Err(e) => eprintln!("device {}: lista: {}", args.index, e.message),
            }
        }
        let s = z.sync_status();
        status.pending = s.pending;
        status.conflicts = s.conflicts;
        status.connectivity = format!("{:?}", s.connectivity);
        write_status(&args.dir, &status);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(400..1_500))).await;
    }
    status.phase = "draining".into();
    loop {
        let s = z.sync_status();
        status.pending = s.pending;
        status.conflicts = s.conflicts;
        status.connectivity = format!("{:?}", s.connectivity);
        let drained = z
            .store()
            .counts()
            .map(|(pending, _, _)| pending == 0)
            .unwrap_or(false);
        if drained {
            status.phase = "drained".into();
        }
        write_status(&args.dir, &status);
        if drained && args.control.join("finish").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Everyone has drained: give the change stream (and the leader's import, every 5 s) time
    // to reach this replica, then stop.
    tokio::time::sleep(Duration::from_secs(15)).await;
    z.shutdown();
    status.phase = "done".into();
    write_status(&args.dir, &status);
    Ok(())
}

/// One tap on a plant device, for crash tests: `plant-sim tap <json>` opens the device, makes
/// the command once (a marker file remembers it across crashes), then waits until the outbox
/// has drained. Started with `ZEUES_FAILPOINTS`, it dies at that step instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TapArgs {
    pub device: DeviceArgs,
    pub worker: u32,
    pub tag: String,
    pub intent: Intent,
}

pub async fn tap(a: TapArgs) -> Result<(), String> {
    std::fs::create_dir_all(&a.device.dir).map_err(|e| e.to_string())?;
    let z = connect(&a.device).await?;
    let marker = a.device.dir.join("tapped");
    if !marker.exists() {
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
        std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
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
