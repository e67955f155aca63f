//! One simulated tablet: the product's real `Zeues` (engine, store, domain) on its own SQLite
//! file, wired to the simulated Sheets and Redis, the simulated clock (with the device's skew)
//! and a seeded command-id source. A crash is `Zeues::abort` (every task stops where it is, the
//! database keeps what it committed) plus the release of the instance lock the OS would do; a
//! restart opens the same file again, as the app does after `kill -9`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;
use zeues_sync::engine::{
    Engine, EngineConfig, FollowConfig, LeaderConfig, NoNotifier, PresenceConfig,
};
use zeues_sync::instance::InstanceLock;
use zeues_sync::ports::{Coordinator, InProcessCoordinator};
use zeues_sync::service::{PlantTasks, Wiring, Zeues};
use zeues_sync::store::Store;

use super::clock::SimClock;
use super::redis::SimCoordinator;
use super::workbook::SimWorkbook;
use super::world::Sim;

/// Engine timings: a plant-sim device's short retries and write deadline; the product's own
/// idle wake-up (nothing due: the loop sleeps until a tap wakes it).
pub fn engine_config(jitter_seed: u64, single_writer: bool) -> EngineConfig {
    EngineConfig {
        mode: "plant",
        // A plant without Redis writes through one device only (`engine::writer`).
        single_writer,
        retry_max: Duration::from_secs(10),
        write_deadline: Duration::from_secs(8),
        jitter_seed,
        ..EngineConfig::default()
    }
}

/// Longer than the write deadline plus the longest time a request spends in the network
/// (`Latency::max_pre_ms` < 3 s).
pub const ROW_SETTLE: Duration = Duration::from_secs(12);

pub fn plant_tasks() -> PlantTasks {
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
}

/// A low-cost argon2 hash of the supervisor PIN: the product verifies with the parameters the
/// stored hash names, so this checks the same PIN in microseconds instead of the default
/// parameters' tens of milliseconds per device and per supervisor tap.
pub fn cheap_pin_hash(pin: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, None).map_err(|e| e.to_string())?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"plant-vopr-salt!").map_err(|e| e.to_string())?;
    argon
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub struct DeviceSlot {
    pub index: usize,
    pub id: String,
    pub dir: PathBuf,
    pub db: PathBuf,
    pub skew_ms: i64,
    pub zeues: Option<Arc<Zeues>>,
    pub lock: Option<InstanceLock>,
    pub incarnation: u32,
    /// Every command id this device's id source handed out (all incarnations).
    pub ids: Arc<Mutex<Vec<String>>>,
}

impl DeviceSlot {
    pub fn up(&self) -> bool {
        self.zeues.is_some()
    }
}

/// The devices, shared with the failpoint handler (which crashes one from inside its task).
pub struct Fleet {
    pub slots: Mutex<Vec<DeviceSlot>>,
    /// Devices that crashed at a failpoint since the driver last looked.
    pub crashed: Mutex<Vec<usize>>,
    pub wake: Notify,
}

impl Fleet {
    pub fn new(slots: Vec<DeviceSlot>) -> Fleet {
        Fleet {
            slots: Mutex::new(slots),
            crashed: Mutex::new(Vec::new()),
            wake: Notify::new(),
        }
    }

    pub fn slots(&self) -> std::sync::MutexGuard<'_, Vec<DeviceSlot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn zeues(&self, i: usize) -> Option<Arc<Zeues>> {
        self.slots().get(i).and_then(|s| s.zeues.clone())
    }

    pub fn index_of(&self, device_id: &str) -> Option<usize> {
        self.slots().iter().position(|s| s.id == device_id)
    }

    /// Stops the device like `kill -9`: its tasks end where they are; the OS drops its
    /// instance lock. Returns whether it was running.
    pub fn crash(&self, i: usize) -> bool {
        let (z, lock) = {
            let mut slots = self.slots();
            let Some(s) = slots.get_mut(i) else {
                return false;
            };
            (s.zeues.take(), s.lock.take())
        };
        let Some(z) = z else { return false };
        z.abort();
        drop(lock);
        true
    }
}

pub struct StartParams<'a> {
    pub sim: &'a Arc<Sim>,
    pub start: DateTime<Utc>,
    pub pin_hash: &'a str,
    pub sin_redis: bool,
}

/// Opens the device's database (creating it named `slot.id` the first time) and its instance
/// lock, preloads the plant on a first start, and starts the real device.
pub async fn start(p: &StartParams<'_>, fleet: &Fleet, i: usize) -> Result<(), String> {
    let (id, dir, db, skew_ms, ids_log, incarnation) = {
        let mut slots = fleet.slots();
        let s = &mut slots[i];
        s.incarnation += 1;
        (
            s.id.clone(),
            s.dir.clone(),
            s.db.clone(),
            s.skew_ms,
            s.ids.clone(),
            s.incarnation,
        )
    };
    // The app takes the data directory first; a crashed incarnation's lock went with it.
    let lock = InstanceLock::acquire(&dir).map_err(|e| format!("{id}: {e}"))?;
    let (store, recovered) =
        Store::open_as(&db, Some(&id)).map_err(|e| format!("{id}: base local: {e}"))?;
    if let Some(r) = recovered {
        p.sim
            .event(format_args!("d{i} recuperó su base: {}", r.message));
    }
    let store = Arc::new(store);
    let (id_seed, jitter_seed) = p.sim.with(|w| (w.rng.gen::<u64>(), w.rng.gen::<u64>()));
    let clock = Arc::new(SimClock::new(p.start, p.sim.origin, skew_ms));
    let workbook = Arc::new(SimWorkbook::new(p.sim.clone(), i));
    let coordinator: Arc<dyn Coordinator> = if p.sin_redis {
        // A plant device without Redis: its coordinator lives and dies with the process.
        Arc::new(InProcessCoordinator::with_quota(
            zeues_sync::ports::redis::RateLimit::per_minute(50),
            zeues_sync::ports::redis::RateLimit::per_minute(50),
        ))
    } else {
        Arc::new(SimCoordinator::new(
            p.sim.clone(),
            i,
            format!("{id}#{incarnation}"),
        ))
    };
    let first_start = store.spool_count().map_err(|e| e.to_string())? == 0;
    if first_start {
        // Installed before the shift: the plant loaded once (the product's own load), and the
        // supervisor PIN set at installation.
        let engine = Engine::new(
            store.clone(),
            workbook.clone(),
            coordinator.clone(),
            clock.clone(),
            Arc::new(NoNotifier),
            tokio::sync::broadcast::channel(16).0,
            engine_config(jitter_seed, p.sin_redis),
        );
        engine
            .load_snapshot()
            .await
            .map_err(|e| format!("{id}: carga inicial: {e}"))?;
        store
            .set_setting("supervisor_pin", p.pin_hash)
            .map_err(|e| e.to_string())?;
    }
    let mut id_rng = ChaCha8Rng::seed_from_u64(id_seed);
    let wiring = Wiring {
        store,
        workbook,
        coordinator,
        clock,
        notifier: Arc::new(NoNotifier),
        ids: Box::new(move || {
            let mut bytes = [0u8; 16];
            id_rng.fill(&mut bytes);
            let id = uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string();
            ids_log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(id.clone());
            id
        }),
        config: engine_config(jitter_seed, p.sin_redis),
        data_dir: dir,
        plant: Some(plant_tasks()),
    };
    let z = Zeues::start(wiring, tokio::runtime::Handle::current())
        .map_err(|e| format!("{id}: arranque: {} {}", e.code, e.message))?;
    let mut slots = fleet.slots();
    slots[i].zeues = Some(z);
    slots[i].lock = Some(lock);
    Ok(())
}
