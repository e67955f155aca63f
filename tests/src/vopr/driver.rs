//! One seed, start to finish: build the plant, install the devices, run the shift (workers
//! tapping, faults and plant behaviours on the seed's schedule), heal everything, let every
//! outbox drain and every replica settle, then hand what the run left behind to the
//! independent checker. Everything runs on one thread, on tokio's paused clock, and every
//! choice comes from the seed's generator: a seed replays the same run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;
use zeues_checker::{AckedTap, Replica, Report, RunInput, SheetRow};
use zeues_sync::api::{ActionRequest, WorkerView};
use zeues_sync::domain::sheet::{METADATA, OPERACIONES, ROLES, TRABAJADORES};
use zeues_sync::domain::time::santiago;
use zeues_sync::domain::{normalize_header, Intent, Operacion, RawCell};
use zeues_sync::instance::{InstanceError, InstanceLock};

use super::book::Book;
use super::device::{self, DeviceSlot, Fleet, StartParams};
use super::engineering;
use super::failpoints;
use super::swarm::{Feature, Scenario, Swarm};
use super::trace::Trace;
use super::workers::{self, eligible, intent_text, PIN};
use super::world::{GoogleQuota, Invariants, Sim, Stats, World};

/// Longest simulated time the fleet gets to drain once every fault healed (retries back off to
/// 10 s; the fleet's quota allows ~45 writes a minute).
const DRAIN_LIMIT: Duration = Duration::from_secs(20 * 60);
/// Longest simulated time for the replicas to settle after the drain. Changes reach a replica
/// within a second through the stream, edits in the sheet within a leader poll: three minutes is
/// generous, and shorter than the product's 10-minute full refresh, which would otherwise hide
/// a replica that missed a change.
const SETTLE_LIMIT: Duration = Duration::from_secs(3 * 60);

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    pub devices: usize,
    pub spools: usize,
    /// Length of the simulated shift (work and faults), in minutes.
    pub minutes: f64,
    pub scenario: Scenario,
    /// Features the seed drew but that this run turns off (shrinking).
    pub masked: BTreeSet<Feature>,
    pub verbose: bool,
    /// Where the devices' databases go (a folder per seed, removed afterwards).
    pub work_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub seed: u64,
    pub hash: u64,
    pub report: Report,
    pub inv: Invariants,
    pub stats: Stats,
    pub swarm: Swarm,
    pub trace: Vec<String>,
    pub events: u64,
    pub sim_ms: u64,
    pub max_reads_per_min: usize,
    pub max_writes_per_min: usize,
    pub google_429: u64,
}

impl RunOutcome {
    pub fn ok(&self) -> bool {
        self.report.ok() && self.inv.total() == 0
    }
}

/// Runs one seed on a fresh single-threaded runtime with the clock paused.
pub fn run(cfg: &RunConfig) -> Result<RunOutcome, String> {
    if std::env::var_os("VOPR_NO_QPSG").is_none() {
        super::sqlite::stable_plans()?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let dir = cfg.work_dir.join(format!("seed-{}", cfg.seed));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = rt.block_on(drive(cfg, dir.clone()));
    // Dropping the runtime drops every task still parked (devices, requests in the network).
    drop(rt);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("plant-vopr: no se pudo borrar {}: {e}", dir.display());
    }
    out
}

enum Ev {
    Tap(usize),
    Stream(Feature),
    Heal(usize),
    Restart(usize),
    Strike { from: usize, tag: String },
}

struct Driver {
    cfg: RunConfig,
    sim: Arc<Sim>,
    fleet: Arc<Fleet>,
    start: DateTime<Utc>,
    pin_hash: String,
    agenda: BTreeMap<(u64, u64), Ev>,
    seq: u64,
    acked: Vec<AckedTap>,
    acked_by_device: Vec<Vec<usize>>,
    appended: Vec<SheetRow>,
    workers: Vec<WorkerView>,
    supervisor: Option<WorkerView>,
    next_tag: u32,
}

fn exp_ms(rng: &mut ChaCha8Rng, per_min: f64) -> u64 {
    let mean = 60_000.0 / per_min.max(1e-6);
    let u: f64 = rng.gen_range(1e-9..1.0);
    (-u.ln() * mean) as u64 + 1
}

async fn drive(cfg: &RunConfig, dir: PathBuf) -> Result<RunOutcome, String> {
    let origin = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut swarm = Swarm::draw(&mut rng, &cfg.scenario);
    for f in &cfg.masked {
        swarm.on.remove(f);
    }
    // A weekday shift at 08:00 in Santiago (11:00 UTC), on a day drawn from the seed.
    let day = rng.gen_range(0..300);
    let start = Utc
        .with_ymd_and_hms(2026, 3, 2, 11, 0, 0)
        .single()
        .ok_or("fecha base inválida")?
        + chrono::Duration::days(day);
    let plant_seed: u64 = rng.gen();
    let (ops, trab, roles, mut meta) = zeues_sync::demo::build(start, plant_seed, cfg.spools);
    // The checker replays every Metadata row from the initial sheet's state, so the plant
    // starts with an empty audit log (the demo's history rows describe that state already).
    meta.rows.clear();
    let book = Book::from_grids(&[
        (OPERACIONES, &ops),
        (TRABAJADORES, &trab),
        (ROLES, &roles),
        (METADATA, &meta),
    ]);
    let initial = book.to_checker();
    let mut trace = Trace::new(origin, cfg.verbose);
    trace.event(format_args!(
        "seed {} devices {} spools {} minutes {} swarm {swarm}",
        cfg.seed, cfg.devices, cfg.spools, cfg.minutes
    ));
    let skews: Vec<i64> = (0..cfg.devices)
        .map(|_| {
            if swarm.has(Feature::ClockSkew) {
                rng.gen_range(-swarm.max_skew_ms..=swarm.max_skew_ms)
            } else {
                0
            }
        })
        .collect();
    let world = World {
        rng,
        trace,
        book,
        swarm: swarm.clone(),
        faults_on: false,
        quota_on: false,
        sheets_cut: BTreeSet::new(),
        redis_cut: BTreeSet::new(),
        google: GoogleQuota::default(),
        stats: Stats::default(),
        inv: Invariants::default(),
    };
    let sim = Arc::new(Sim::new(
        world,
        origin,
        start.timestamp_millis().max(0) as u64,
        device::ROW_SETTLE,
    ));
    let slots = (0..cfg.devices)
        .map(|i| {
            let ddir = dir.join(format!("dev-{i:02}"));
            DeviceSlot {
                index: i,
                id: format!("dev-{i:02}"),
                db: ddir.join("zeues.db"),
                dir: ddir,
                skew_ms: skews[i],
                zeues: None,
                lock: None,
                incarnation: 0,
                ids: Arc::new(std::sync::Mutex::new(Vec::new())),
            }
        })
        .collect();
    let fleet = Arc::new(Fleet::new(slots));
    let _failpoints = failpoints::Scope::new({
        let sim = sim.clone();
        let fleet = fleet.clone();
        Arc::new(move |device: &str, name: &str| {
            let crash = sim.with(|w| {
                w.faults_on
                    && w.swarm.has(Feature::Failpoints)
                    && w.rng.gen_bool(w.swarm.failpoint_p)
            });
            if !crash {
                return false;
            }
            let Some(i) = fleet.index_of(device) else {
                return false;
            };
            if !fleet.crash(i) {
                return false;
            }
            sim.event(format_args!("d{i} muere en {name}"));
            sim.stat("crash_failpoint");
            fleet
                .crashed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(i);
            fleet.wake.notify_one();
            true
        })
    });
    let mut d = Driver {
        cfg: cfg.clone(),
        sim,
        fleet,
        start,
        pin_hash: device::cheap_pin_hash(PIN)?,
        agenda: BTreeMap::new(),
        seq: 0,
        acked: Vec::new(),
        acked_by_device: vec![Vec::new(); cfg.devices],
        appended: Vec::new(),
        workers: Vec::new(),
        supervisor: None,
        next_tag: 0,
    };
    d.install().await?;
    d.shift().await;
    d.end_of_shift().await;
    d.drain().await;
    d.settle().await;
    d.finish(initial).await
}

impl Driver {
    fn now_ms(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.sim.origin)
            .as_millis() as u64
    }

    fn at(&mut self, ms: u64, ev: Ev) {
        self.seq += 1;
        self.agenda.insert((ms, self.seq), ev);
    }

    fn rng<T>(&self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        self.sim.with(|w| f(&mut w.rng))
    }

    fn params(&self) -> StartParams<'_> {
        StartParams {
            sim: &self.sim,
            start: self.start,
            pin_hash: &self.pin_hash,
            sin_redis: self.cfg.scenario == Scenario::SinRedis,
        }
    }

    async fn install(&mut self) -> Result<(), String> {
        for i in 0..self.cfg.devices {
            device::start(&self.params(), &self.fleet, i).await?;
        }
        let z = self.fleet.zeues(0).ok_or("el equipo 0 no arrancó")?;
        self.workers = z.workers(None).map_err(|e| e.message)?;
        self.supervisor = self
            .workers
            .iter()
            .find(|w| workers::has(w, "Supervisor"))
            .cloned();
        self.sim.with(|w| {
            w.faults_on = true;
            w.quota_on = true;
        });
        let swarm = self.sim.with(|w| w.swarm.clone());
        for i in 0..self.cfg.devices {
            let t = self.rng(|r| r.gen_range(0..swarm.tap_ms.1));
            self.at(t, Ev::Tap(i));
        }
        for f in [
            Feature::Engineering,
            Feature::Layout,
            Feature::Supervisor,
            Feature::SecondInstance,
            Feature::Aborts,
            Feature::Partitions,
            Feature::RedisRestarts,
        ] {
            if let Some(rate) = rate(&swarm, f) {
                let t = self.rng(|r| exp_ms(r, rate));
                self.at(t, Ev::Stream(f));
            }
        }
        Ok(())
    }

    /// The shift: events in time order until its end.
    async fn shift(&mut self) {
        let end = (self.cfg.minutes * 60_000.0) as u64;
        while let Some((&(t, seq), _)) = self.agenda.iter().next() {
            if t >= end {
                break;
            }
            let due = self.sim.origin + Duration::from_millis(t);
            tokio::select! {
                biased;
                _ = self.fleet.wake.notified() => {
                    self.crash_notices();
                    continue;
                }
                _ = tokio::time::sleep_until(due) => {}
            }
            let Some(ev) = self.agenda.remove(&(t, seq)) else {
                continue;
            };
            self.crash_notices();
            self.handle(ev).await;
        }
        tokio::time::sleep_until(self.sim.origin + Duration::from_millis(end)).await;
        self.crash_notices();
    }

    /// Devices that died at a failpoint come back a little later.
    fn crash_notices(&mut self) {
        let crashed: Vec<usize> =
            std::mem::take(&mut *self.fleet.crashed.lock().unwrap_or_else(|p| p.into_inner()));
        for i in crashed {
            let t = self.now_ms() + self.rng(|r| r.gen_range(1_000..10_000));
            self.at(t, Ev::Restart(i));
        }
    }

    async fn handle(&mut self, ev: Ev) {
        let swarm = self.sim.with(|w| w.swarm.clone());
        match ev {
            Ev::Tap(i) => {
                self.tap(i, &swarm);
                let t = self.now_ms() + self.rng(|r| r.gen_range(swarm.tap_ms.0..=swarm.tap_ms.1));
                self.at(t, Ev::Tap(i));
            }
            Ev::Stream(f) => {
                self.stream(f);
                if let Some(rate) = rate(&swarm, f) {
                    let t = self.now_ms() + self.rng(|r| exp_ms(r, rate));
                    self.at(t, Ev::Stream(f));
                }
            }
            Ev::Heal(i) => {
                let was = self.sim.with(|w| {
                    let a = w.sheets_cut.remove(&i);
                    let b = w.redis_cut.remove(&i);
                    a || b
                });
                if was {
                    self.sim.event(format_args!("d{i} vuelve a tener red"));
                }
            }
            Ev::Restart(i) => self.restart(i).await,
            Ev::Strike { from, tag } => self.strike(from, &tag),
        }
    }

    fn up(&self) -> Vec<usize> {
        self.fleet
            .slots()
            .iter()
            .filter(|s| s.up())
            .map(|s| s.index)
            .collect()
    }

    async fn restart(&mut self, i: usize) {
        if self.fleet.zeues(i).is_some() {
            return;
        }
        match device::start(&self.params(), &self.fleet, i).await {
            Ok(()) => {
                self.sim.event(format_args!("d{i} arranca de nuevo"));
                self.sim.stat("restart");
                self.check_outbox(i);
            }
            Err(e) => {
                self.sim.event(format_args!("d{i} no arranca: {e}"));
                self.sim.with(|w| {
                    w.inv.start_failed += 1;
                    w.inv.note(format!("d{i} no arranca: {e}"));
                });
                let t = self.now_ms() + 5_000;
                self.at(t, Ev::Restart(i));
            }
        }
    }

    /// Every tap acknowledged on device `i` is still in its outbox.
    fn check_outbox(&mut self, i: usize) {
        let Some(z) = self.fleet.zeues(i) else { return };
        for &k in &self.acked_by_device[i] {
            let tap = &self.acked[k];
            match z.store().command(&tap.command_id) {
                Ok(Some(_)) => {}
                Ok(None) => self.sim.with(|w| {
                    w.inv.outbox_lost += 1;
                    w.inv.note(format!(
                        "d{i}: acked {} ({} {}) is not in the outbox",
                        tap.command_id, tap.intent, tap.tag
                    ));
                }),
                Err(e) => self.sim.with(|w| {
                    w.inv.outbox_lost += 1;
                    w.inv.note(format!("d{i}: outbox unreadable: {e}"));
                }),
            }
        }
    }

    fn pick_worker(&self, i: usize, swarm: &Swarm) -> Option<WorkerView> {
        let n = self.cfg.devices.max(1);
        let roam = swarm.has(Feature::Roam) && self.rng(|r| r.gen_bool(swarm.roam));
        let pool: Vec<&WorkerView> = self
            .workers
            .iter()
            .enumerate()
            .filter(|(k, _)| roam || k % n == i % n)
            .map(|(_, w)| w)
            .collect();
        self.rng(|r| pool.choose(r).map(|w| (*w).clone()))
    }

    fn tap(&mut self, i: usize, swarm: &Swarm) {
        let Some(z) = self.fleet.zeues(i) else { return };
        let Some(w) = self.pick_worker(i, swarm) else {
            return;
        };
        let mut rng = ChaCha8Rng::seed_from_u64(self.rng(|r| r.gen()));
        match workers::next_request(&z, &mut rng, &w) {
            Ok(Some(req)) => self.execute(i, req, &w.token),
            Ok(None) => {}
            Err(e) => self
                .sim
                .event(format_args!("d{i} lista falló: {} {}", e.code, e.message)),
        }
    }

    /// A tap through the real API; an acknowledged one goes to the acked log.
    fn execute(&mut self, i: usize, req: ActionRequest, token: &str) {
        let Some(z) = self.fleet.zeues(i) else { return };
        let (ids, device_id) = {
            let slots = self.fleet.slots();
            (slots[i].ids.clone(), slots[i].id.clone())
        };
        let before = ids.lock().unwrap_or_else(|p| p.into_inner()).len();
        let intent = req.intent;
        let tags = req.tags.join(",");
        let result = z.execute(req);
        let handed: Vec<String> = ids.lock().unwrap_or_else(|p| p.into_inner())[before..].to_vec();
        self.sim.stat("taps");
        match result {
            Ok(out) => {
                let mut acked = Vec::new();
                for id in handed {
                    match z.store().command(&id) {
                        Ok(Some(cmd)) => {
                            self.acked_by_device[i].push(self.acked.len());
                            self.acked.push(AckedTap {
                                command_id: id.clone(),
                                device: device_id.clone(),
                                worker_id: cmd.worker_id,
                                tag: cmd.tag.clone(),
                                intent: intent_text(cmd.payload.intent),
                            });
                            acked.push(id[..8].to_string());
                        }
                        Ok(None) => {}
                        Err(e) => self.sim.event(format_args!("d{i} outbox ilegible: {e}")),
                    }
                }
                if acked.len() != out.succeeded() {
                    self.sim.event(format_args!(
                        "d{i} {} spools ok pero {} comandos en el outbox",
                        out.succeeded(),
                        acked.len()
                    ));
                }
                for _ in 0..acked.len() {
                    self.sim.stat("acked");
                }
                self.sim.event(format_args!(
                    "d{i} {token} {} [{tags}] -> {}/{} [{}]",
                    intent_text(intent),
                    out.succeeded(),
                    out.results.len(),
                    acked.join(" ")
                ));
            }
            Err(e) => {
                self.sim.stat("refused");
                self.sim.event(format_args!(
                    "d{i} {token} {} [{tags}] -> {}",
                    intent_text(intent),
                    e.code
                ));
            }
        }
    }

    fn random_up(&self) -> Option<usize> {
        let up = self.up();
        self.rng(|r| up.choose(r).copied())
    }

    fn stream(&mut self, f: Feature) {
        match f {
            Feature::Engineering | Feature::Layout => {
                let today = santiago(zeues_sync::engine::Clock::now(
                    &super::clock::SimClock::new(self.start, self.sim.origin, 0),
                ))
                .date();
                let mut next_tag = self.next_tag;
                let layout = f == Feature::Layout;
                let (what, row) = self
                    .sim
                    .with(|w| engineering::edit(w, today, &mut next_tag, layout));
                self.next_tag = next_tag;
                self.sim.event(format_args!("ingeniería: {what}"));
                self.sim.stat("engineering_edit");
                if let Some(r) = row {
                    self.appended.push(r);
                }
            }
            Feature::Supervisor => self.supervisor_scene(),
            Feature::SecondInstance => {
                let Some(i) = self.random_up() else { return };
                let dir = self.fleet.slots()[i].dir.clone();
                self.sim.stat("second_instance");
                match InstanceLock::acquire(&dir) {
                    Ok(_second) => {
                        self.sim.event(format_args!(
                            "d{i}: ¡una segunda instancia abrió su carpeta!"
                        ));
                        self.sim.with(|w| {
                            w.inv.second_instance += 1;
                            w.inv
                                .note(format!("d{i}: a second instance opened {}", dir.display()));
                        });
                    }
                    Err(InstanceError::Held { .. }) => {
                        self.sim
                            .event(format_args!("d{i}: segunda instancia rechazada"));
                    }
                    Err(e) => self.sim.event(format_args!("d{i}: segunda instancia: {e}")),
                }
            }
            Feature::Aborts => {
                let Some(i) = self.random_up() else { return };
                if self.fleet.crash(i) {
                    self.sim.event(format_args!("d{i} muere (kill -9)"));
                    self.sim.stat("crash_abort");
                    let t = self.now_ms() + self.rng(|r| r.gen_range(1_000..15_000));
                    self.at(t, Ev::Restart(i));
                }
            }
            Feature::Partitions => {
                let Some(i) = self.random_up() else { return };
                let (kind, hold) = self.rng(|r| (r.gen_range(0..4), r.gen_range(3_000..90_000)));
                let what = self.sim.with(|w| match kind {
                    0 | 1 => {
                        w.sheets_cut.insert(i);
                        w.redis_cut.insert(i);
                        "sin red"
                    }
                    2 => {
                        w.sheets_cut.insert(i);
                        "sin Sheets"
                    }
                    _ => {
                        w.redis_cut.insert(i);
                        "sin Redis"
                    }
                });
                self.sim.event(format_args!("d{i} {what} por {hold} ms"));
                self.sim.stat("partition");
                let t = self.now_ms() + hold;
                self.at(t, Ev::Heal(i));
            }
            Feature::RedisRestarts => {
                self.sim.restart_redis();
                self.sim.event(format_args!("Redis se reinicia vacío"));
                self.sim.stat("redis_restart");
            }
            Feature::Roam
            | Feature::ClockSkew
            | Feature::Failpoints
            | Feature::SheetsFaults
            | Feature::Latency => {}
        }
    }

    fn supervisor_request(&self, intent: Intent, tag: &str) -> Option<ActionRequest> {
        self.supervisor.as_ref().map(|s| ActionRequest {
            worker_id: s.id,
            intent,
            tags: vec![tag.to_string()],
            supervisor_pin: Some(PIN.into()),
        })
    }

    /// A supervisor overrides a block, or forces the release of a spool whose occupant's
    /// tablet is cut off with a command of theirs queued on it.
    fn supervisor_scene(&mut self) {
        let Some(sup) = self.supervisor.clone() else {
            return;
        };
        let mut up = self.up();
        self.rng(|r| up.shuffle(r));
        for &d in &up {
            let Some(z) = self.fleet.zeues(d) else {
                continue;
            };
            if let Ok(blocked) = eligible(&z, sup.id, Intent::Override) {
                if let Some(tag) = blocked.first() {
                    if let Some(req) = self.supervisor_request(Intent::Override, tag) {
                        self.sim.stat("supervisor_override");
                        self.execute(d, req, &sup.token);
                        return;
                    }
                }
            }
        }
        // Someone holds a spool on tablet D: D goes offline, the occupant queues their next
        // step there, and a supervisor elsewhere forces the release.
        let Some(&d) = up.first() else { return };
        let Some(z) = self.fleet.zeues(d) else { return };
        let mut holding: Vec<(WorkerView, Operacion, String)> = Vec::new();
        for w in &self.workers {
            for op in [Operacion::Arm, Operacion::Sold, Operacion::Reparacion] {
                if let Ok(mine) = eligible(&z, w.id, Intent::Pausar(op)) {
                    for t in mine {
                        holding.push((w.clone(), op, t));
                    }
                }
            }
        }
        let Some((w, op, tag)) = self.rng(|r| holding.choose(r).cloned()) else {
            return;
        };
        let hold = self.rng(|r| r.gen_range(10_000..120_000));
        self.sim.with(|world| {
            world.sheets_cut.insert(d);
            world.redis_cut.insert(d);
        });
        self.sim.event(format_args!(
            "supervisor: d{d} sin red por {hold} ms con {} en {tag}",
            w.token
        ));
        let t = self.now_ms() + hold;
        self.at(t, Ev::Heal(d));
        let intent = match self.rng(|r| r.gen_range(0..3)) {
            0 => Intent::Pausar(op),
            1 => Intent::Completar(op),
            _ => Intent::Cancelar(op),
        };
        self.execute(
            d,
            ActionRequest {
                worker_id: w.id,
                intent,
                tags: vec![tag.clone()],
                supervisor_pin: None,
            },
            &w.token,
        );
        let t = self.now_ms() + self.rng(|r| r.gen_range(500..10_000));
        self.at(t, Ev::Strike { from: d, tag });
    }

    fn strike(&mut self, from: usize, tag: &str) {
        let Some(sup) = self.supervisor.clone() else {
            return;
        };
        let others: Vec<usize> = self.up().into_iter().filter(|&e| e != from).collect();
        let Some(e) = self.rng(|r| others.choose(r).copied()) else {
            return;
        };
        let Some(z) = self.fleet.zeues(e) else { return };
        match eligible(&z, sup.id, Intent::ForzarLiberacion) {
            Ok(busy) if busy.iter().any(|t| t == tag) => {
                if let Some(req) = self.supervisor_request(Intent::ForzarLiberacion, tag) {
                    self.sim.stat("supervisor_force");
                    self.execute(e, req, &sup.token);
                }
            }
            Ok(_) => self
                .sim
                .event(format_args!("supervisor: d{e} no ve {tag} ocupado")),
            Err(err) => self
                .sim
                .event(format_args!("supervisor: d{e} lista: {}", err.code)),
        }
    }

    /// The shift is over: the network heals, faults stop, crashed devices come back.
    async fn end_of_shift(&mut self) {
        self.sim.with(|w| {
            w.faults_on = false;
            w.sheets_cut.clear();
            w.redis_cut.clear();
        });
        self.sim
            .event(format_args!("fin del turno: todo se repara"));
        self.agenda.clear();
        self.crash_notices();
        self.agenda.clear();
        for i in 0..self.cfg.devices {
            self.restart(i).await;
        }
    }

    /// Waits until every outbox is empty and every CONFLICTO row has been written.
    async fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_LIMIT;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.crash_notices();
            for (_, ev) in std::mem::take(&mut self.agenda) {
                if let Ev::Restart(i) = ev {
                    self.restart(i).await;
                }
            }
            let mut busy = Vec::new();
            for i in 0..self.cfg.devices {
                let Some(z) = self.fleet.zeues(i) else {
                    busy.push(format!("d{i} apagado"));
                    continue;
                };
                let s = z.store();
                let pending = s.counts().map(|c| c.0).unwrap_or(u32::MAX);
                let audits = s
                    .unaudited_conflicts()
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX)
                    + s.unaudited_discards()
                        .map(|v| v.len())
                        .unwrap_or(usize::MAX);
                if pending > 0 || audits > 0 {
                    let why = match s.unapplied_commands() {
                        Ok(v) => v
                            .into_iter()
                            .find(|c| c.status.as_str() == "pending")
                            .map(|c| {
                                format!(
                                    "{} {}: {}",
                                    c.tag,
                                    c.payload.intent.accion(),
                                    c.last_error.unwrap_or_default()
                                )
                            })
                            .unwrap_or_default(),
                        Err(e) => format!("outbox ilegible: {e}"),
                    };
                    busy.push(format!(
                        "d{i} pendientes={pending} auditorías={audits} {why}"
                    ));
                }
            }
            if busy.is_empty() {
                self.sim.event(format_args!("todos los outbox vacíos"));
                return;
            }
            if Instant::now() >= deadline {
                self.sim
                    .event(format_args!("el outbox no se vació: {}", busy.join("; ")));
                self.sim.with(|w| {
                    w.inv.stuck += 1;
                    w.inv
                        .note(format!("outbox never drained: {}", busy.join("; ")));
                });
                return;
            }
        }
    }

    /// The sheet's (version, occupant) per TAG, read with the header names.
    fn sheet_view(&self) -> BTreeMap<String, (String, String)> {
        self.sim.with(|w| {
            let mut out = BTreeMap::new();
            let Ok(g) = w.book.grid(OPERACIONES) else {
                return out;
            };
            let find = |n: &str| g.headers.iter().position(|h| normalize_header(h) == n);
            let (Some(t), Some(v), Some(o)) =
                (find("tagspool"), find("version"), find("ocupadopor"))
            else {
                return out;
            };
            let cell = |r: &Vec<RawCell>, c: usize| {
                r.get(c)
                    .map(|x| x.shown().trim().to_string())
                    .unwrap_or_default()
            };
            for r in &g.rows {
                let tag = cell(r, t);
                if !tag.is_empty() {
                    out.insert(tag.to_uppercase(), (cell(r, v), cell(r, o)));
                }
            }
            out
        })
    }

    /// Whether every replica has the sheet's version and occupant for every TAG, read through
    /// one read-only connection per device (opened once: opening is what costs).
    fn converged(&self, replicas: &[rusqlite::Connection]) -> bool {
        let sheet = self.sheet_view();
        replicas.iter().all(|db| {
            let rows: rusqlite::Result<Vec<(String, String, String)>> = db
                .prepare_cached(
                    "SELECT tag, COALESCE(version, ''), COALESCE(ocupado_por, '') FROM spools",
                )
                .and_then(|mut st| {
                    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                });
            let Ok(rows) = rows else { return false };
            rows.len() == sheet.len()
                && rows.iter().all(|(tag, version, occupant)| {
                    sheet.get(&tag.trim().to_uppercase())
                        == Some(&(version.trim().to_string(), occupant.trim().to_string()))
                })
        })
    }

    async fn settle(&mut self) {
        let deadline = Instant::now() + SETTLE_LIMIT;
        let dbs: Vec<PathBuf> = self.fleet.slots().iter().map(|s| s.db.clone()).collect();
        let mut replicas: Vec<rusqlite::Connection> = Vec::new();
        for db in &dbs {
            match rusqlite::Connection::open_with_flags(
                db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ) {
                Ok(c) => replicas.push(c),
                // Never settled, then: the checker reads the replica itself and says why.
                Err(e) => self
                    .sim
                    .event(format_args!("réplica {}: {e}", db.display())),
            }
        }
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if replicas.len() == dbs.len() && self.converged(&replicas) {
                self.sim.event(format_args!("réplicas al día"));
                break;
            }
            if Instant::now() >= deadline {
                self.sim.event(format_args!("las réplicas no convergieron"));
                break;
            }
        }
        // The rounds in progress finish (bookkeeping, a last stream read).
        tokio::time::sleep(Duration::from_secs(3)).await;
    }

    async fn finish(mut self, initial: zeues_checker::Workbook) -> Result<RunOutcome, String> {
        for i in 0..self.cfg.devices {
            self.check_outbox(i);
        }
        for i in 0..self.cfg.devices {
            self.fleet.crash(i);
        }
        let sim_ms = self.now_ms();
        let mut replicas = Vec::new();
        for s in self.fleet.slots().iter() {
            replicas.push(Replica {
                device: s.id.clone(),
                rows: zeues_checker::read_replica(&s.db).map_err(|e| e.to_string())?,
            });
        }
        let final_book = self.sim.with(|w| w.book.to_checker());
        let input = RunInput {
            initial,
            final_book,
            appended_spools: std::mem::take(&mut self.appended),
            acked: std::mem::take(&mut self.acked),
            replicas,
        };
        let report = zeues_checker::check(&input);
        let (world_parts, swarm) = self.sim.with(|w| {
            let digest = w.book.digest();
            w.trace.fold(&digest.to_le_bytes());
            w.trace
                .event(format_args!("checker: {}", report.summary(1)));
            let trace = std::mem::replace(&mut w.trace, Trace::new(self.sim.origin, false));
            (
                (
                    trace,
                    w.stats.clone(),
                    w.inv.clone(),
                    w.google.max_reads,
                    w.google.max_writes,
                    w.google.refused_reads + w.google.refused_writes,
                ),
                w.swarm.clone(),
            )
        });
        let (trace, stats, inv, max_reads, max_writes, google_429) = world_parts;
        Ok(RunOutcome {
            seed: self.cfg.seed,
            hash: trace.hash(),
            events: trace.events(),
            trace: trace.into_lines(),
            report,
            inv,
            stats,
            swarm,
            sim_ms,
            max_reads_per_min: max_reads,
            max_writes_per_min: max_writes,
            google_429,
        })
    }
}

/// Events per minute of a stream feature, when the seed turned it on.
fn rate(s: &Swarm, f: Feature) -> Option<f64> {
    if !s.has(f) {
        return None;
    }
    match f {
        Feature::Engineering => Some(s.engineering_per_min),
        Feature::Layout => Some(s.layout_per_min),
        Feature::Supervisor => Some(s.supervisor_per_min),
        Feature::SecondInstance => Some(s.second_instance_per_min),
        Feature::Aborts => Some(s.aborts_per_min),
        Feature::Partitions => Some(s.partitions_per_min),
        Feature::RedisRestarts => Some(s.redis_restarts_per_min),
        Feature::Roam
        | Feature::ClockSkew
        | Feature::Failpoints
        | Feature::SheetsFaults
        | Feature::Latency => None,
    }
}
