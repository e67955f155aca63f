//! The `plant-sim` orchestrator: starts `redis-server`, the Sheets emulator and one chaos proxy
//! pair per device, launches the devices as separate processes, injects faults on a seeded
//! schedule (offline periods, 429 storms, 503 after commit, Redis restarts, `kill -9` at
//! failpoints) and the plant's ordinary day (workers roaming between tablets, Engineering
//! editing the sheet, supervisors releasing spools of an offline tablet, a fleet without
//! Redis, a second app instance on a device's directory, skewed tablet clocks), then stops the
//! work, waits for every outbox to drain and runs the independent checker (`zeues-checker`)
//! on the final workbook, the acked-tap logs and every replica.
//!
//! Each behaviour draws from its own generator seeded from the run's seed, so turning one on
//! or off (`--scenario`) leaves the others' schedules as they were.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value as Json;
use zeues_checker::{read_acked_jsonl, read_replica, Replica, RunInput, Workbook};
use zeues_sync::domain::sheet::{METADATA, OPERACIONES, ROLES, TRABAJADORES};
use zeues_sync::domain::Rol;

use super::device::{
    read_status, DeviceArgs, DevicePlan, Order, Shift, SimDevice, PROBE_RAN, REFUSED,
};
use super::engineering::{Edit, Engineering, ENGINEERING_ACCOUNT};
use super::{grid_sheet, BOOK, SERVICE_ACCOUNT};
use crate::chaos::{ChaosProxy, Mode};
use crate::emulator::{Emulator, EmulatorConfig, Fault, FaultRule, Phase, SpreadsheetSeed};
use crate::redis_server::RedisServer;

/// The named steps of the push path where a device can be made to die (see
/// `zeues_sync::engine::failpoint`).
pub const FAILPOINTS: [&str; 6] = [
    "push.after_lock",
    "push.before_write",
    "push.after_write",
    "push.after_record_applied",
    "push.after_publish",
    "push.after_mark_applied",
];

/// Google's per-user write quota; the fleet is configured below it (50).
pub const WRITE_QUOTA_PER_MIN: u64 = 50;

/// A plant behaviour of issue 12 §2 (`--scenario NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Behaviour {
    /// Workers walk between tablets (TOMAR on one, PAUSAR/COMPLETAR/CANCELAR on another).
    Roaming,
    /// Engineering edits the sheet through the API while devices sync.
    Ingenieria,
    /// A supervisor force-releases (and overrides) while the occupant's tablet is offline.
    Supervisor,
    /// The whole fleet without Redis: only the spreadsheet's registered writer writes.
    SinRedis,
    /// A second app instance is started on a running device's data directory.
    SegundaInstancia,
    /// Tablet clocks off by up to ±5 minutes.
    Reloj,
}

pub const BEHAVIOURS: [Behaviour; 6] = [
    Behaviour::Roaming,
    Behaviour::Ingenieria,
    Behaviour::Supervisor,
    Behaviour::SinRedis,
    Behaviour::SegundaInstancia,
    Behaviour::Reloj,
];

impl Behaviour {
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Roaming => "roaming",
            Behaviour::Ingenieria => "ingenieria",
            Behaviour::Supervisor => "supervisor",
            Behaviour::SinRedis => "sin-redis",
            Behaviour::SegundaInstancia => "segunda-instancia",
            Behaviour::Reloj => "reloj",
        }
    }

    pub fn parse(s: &str) -> Option<Behaviour> {
        BEHAVIOURS.into_iter().find(|b| b.name() == s)
    }
}

/// How often each behaviour acts when on.
mod rate {
    /// Engineering edits one thing every this many seconds (uniform).
    pub const ENGINEERING_EVERY_S: std::ops::Range<u64> = 4..12;
    /// A supervisor errand against an offline tablet every this many seconds.
    pub const SUPERVISOR_EVERY_S: std::ops::Range<u64> = 25..50;
    /// How long that tablet stays offline, and when (after it went) the supervisor acts.
    pub const SUPERVISOR_OFFLINE_S: std::ops::Range<u64> = 20..40;
    pub const SUPERVISOR_ACTS_AFTER_S: std::ops::Range<u64> = 6..12;
    /// A second instance on some device's directory every this many seconds.
    pub const SECOND_INSTANCE_EVERY_S: std::ops::Range<u64> = 15..40;
    /// A roaming worker stays at a tablet this long, and is away from their own with this
    /// probability.
    pub const ROAM_STAY_S: std::ops::Range<u64> = 20..75;
    pub const ROAM_AWAY: f64 = 0.6;
    /// Share of tablets with a skewed clock (all of them in `--scenario reloj`), and the
    /// largest skew.
    pub const SKEWED_SHARE: f64 = 0.6;
    pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;
    /// Share of `--chaos` runs whose whole fleet has no Redis.
    pub const SIN_REDIS_RUNS: f64 = 0.25;
}

#[derive(Debug, Clone)]
pub struct SimArgs {
    pub devices: usize,
    pub spools: usize,
    pub minutes: f64,
    pub seed: u64,
    /// Faults (network, 429/503, Redis restarts, kill -9) and, unless `scenario` says which,
    /// every behaviour.
    pub chaos: bool,
    /// Only these behaviours (and the faults only with `chaos`).
    pub scenario: Option<Vec<Behaviour>>,
    pub dir: Option<PathBuf>,
    pub drain_timeout: Duration,
}

impl Default for SimArgs {
    fn default() -> Self {
        SimArgs {
            devices: 4,
            spools: 400,
            minutes: 1.0,
            seed: 1,
            chaos: false,
            scenario: None,
            dir: None,
            drain_timeout: Duration::from_secs(600),
        }
    }
}

/// What a run found: the independent checker's report and what only the simulator can see.
#[derive(Debug, Clone, Default)]
pub struct SimReport {
    pub checker: zeues_checker::Report,
    /// Most Sheets writes by the fleet in any 60 s window (Engineering's own account excluded).
    pub max_writes_per_min: u64,
    /// The same for reads (informative: Google's read limit is 60/min too).
    pub max_reads_per_min: u64,
    /// Calls the emulator refused because the account went past Google's per-minute quota
    /// (injected 429s are not counted; informative, the engine must recover from them).
    pub quota_refused: u64,
    /// Second instances that were not refused (got the lock, or did not exit).
    pub second_instance_ran: u64,
    /// Without Redis: times the audit log's writing device changed during the work.
    pub writer_switches: u64,
    /// The outboxes did not drain within `--drain-timeout` (what never landed is the
    /// checker's to count; this says why the run ended unquiesced).
    pub drain_timed_out: bool,
    /// The seeded audit rows were not intact at the end (a violation of their own).
    pub checker_input_broken: bool,
    /// The run's own violations, explained.
    pub details: Vec<String>,
}

impl SimReport {
    pub fn ok(&self) -> bool {
        self.checker.ok()
            && self.max_writes_per_min <= WRITE_QUOTA_PER_MIN
            && self.second_instance_ran == 0
            && self.writer_switches == 0
            && !self.checker_input_broken
            && !self.drain_timed_out
    }

    pub fn summary(&self) -> String {
        format!(
            "{} max_writes_per_min={} max_reads_per_min={} quota_refused={} second_instance_ran={} writer_switches={} drain_timed_out={}",
            self.checker.summary(1),
            self.max_writes_per_min,
            self.max_reads_per_min,
            self.quota_refused,
            self.second_instance_ran,
            self.writer_switches,
            u8::from(self.drain_timed_out)
        )
    }
}

struct DeviceProc {
    /// A private copy of this binary: a rebuild during a long run must not pull it away.
    exe: PathBuf,
    args: DeviceArgs,
    plan: DevicePlan,
    child: Option<Child>,
    sheets: ChaosProxy,
    redis: ChaosProxy,
    restart_at: Option<Instant>,
    failpoint: Option<&'static str>,
    /// No network restore before this (a longer fault started later wins).
    hold_until: Option<Instant>,
    /// When the current process was started.
    spawned_at: Instant,
}

impl DeviceProc {
    fn json(&self, probe: bool) -> Result<String, String> {
        serde_json::to_string(&SimDevice {
            args: self.args.clone(),
            plan: DevicePlan {
                probe,
                ..self.plan.clone()
            },
        })
        .map_err(|e| e.to_string())
    }

    fn command(&self, log_name: &str, probe: bool) -> Result<Command, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.args.dir.join(log_name))
            .map_err(|e| format!("log del equipo {}: {e}", self.args.index))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("device")
            .arg(self.json(probe)?)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .env(
                "RUST_LOG",
                "warn,zeues_sync::engine::follow=info,zeues_sync::engine::leader=info,zeues_sync::engine::writer=info",
            )
            .env_remove("ZEUES_FAILPOINTS");
        Ok(cmd)
    }

    fn spawn(&mut self, failpoint: Option<&'static str>) -> Result<(), String> {
        let mut cmd = self.command("device.log", false)?;
        if let Some(fp) = failpoint {
            cmd.env("ZEUES_FAILPOINTS", fp);
        }
        self.failpoint = failpoint;
        self.spawned_at = Instant::now();
        self.child = Some(
            cmd.spawn()
                .map_err(|e| format!("lanzar equipo {}: {e}", self.args.index))?,
        );
        Ok(())
    }

    /// A second app instance on this device's data directory.
    fn spawn_probe(&self) -> Result<Child, String> {
        self.command("segunda-instancia.log", true)?
            .spawn()
            .map_err(|e| format!("segunda instancia del equipo {}: {e}", self.args.index))
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Err(e) = c.kill() {
                eprintln!("plant-sim: kill device {}: {e}", self.args.index);
            }
            if let Err(e) = c.wait() {
                eprintln!("plant-sim: wait device {}: {e}", self.args.index);
            }
        }
    }

    /// `Some(code)` once the process has ended.
    fn exited(&mut self) -> Option<i32> {
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status.code().unwrap_or(-9))
            }
            _ => None,
        }
    }

    fn set_net(&self, sheets: Mode, redis: Mode) {
        self.sheets.set(sheets);
        self.redis.set(redis);
    }

    fn name(&self) -> &str {
        &self.plan.name
    }

    /// Workers standing at this tablet `at_ms` into the run.
    fn workers_at(&self, at_ms: u64) -> Vec<u32> {
        if self.plan.shifts.is_empty() {
            return self.args.workers.clone();
        }
        let mut w: Vec<u32> = self
            .plan
            .shifts
            .iter()
            .filter(|s| s.from_ms <= at_ms && at_ms < s.to_ms)
            .map(|s| s.worker)
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    }
}

impl Drop for DeviceProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn is_read(method: &str) -> bool {
    matches!(
        method,
        "spreadsheets.get" | "spreadsheets.values.get" | "spreadsheets.values.batchGet"
    )
}

/// API calls so far at the emulator: (reads, writes), token requests aside.
fn api_calls(counts: &BTreeMap<String, u64>) -> (u64, u64) {
    counts
        .iter()
        .filter(|(m, _)| m.as_str() != "oauth2.token")
        .fold(
            (0, 0),
            |(r, w), (m, n)| {
                if is_read(m) {
                    (r + n, w)
                } else {
                    (r, w + n)
                }
            },
        )
}

/// Most calls in any 60 s window, from per-second cumulative samples.
fn max_per_minute(samples: &[(Instant, u64)]) -> u64 {
    let mut best = 0;
    let mut start = 0;
    for end in 0..samples.len() {
        while samples[end].0.duration_since(samples[start].0) > Duration::from_secs(60) {
            start += 1;
        }
        best = best.max(samples[end].1.saturating_sub(samples[start].1));
    }
    best
}

/// The fleet's calls (reads, writes) so far: the emulator's, without Engineering's own
/// account (its own quota).
fn fleet_calls(emu: &Emulator, eng: &Option<Engineering>) -> (u64, u64) {
    let (r, w) = api_calls(&emu.counts());
    let (er, ew) = eng.as_ref().map_or((0, 0), Engineering::calls);
    (r.saturating_sub(er), w.saturating_sub(ew))
}

/// Which behaviours this run has, from the flags and (for `--chaos`) the seed.
fn behaviours(args: &SimArgs) -> Vec<Behaviour> {
    match &args.scenario {
        Some(list) => list.clone(),
        None if args.chaos => {
            let mut mode = ChaCha8Rng::seed_from_u64(args.seed ^ 0x51_4ed1_5000);
            let sin_redis = mode.gen_bool(rate::SIN_REDIS_RUNS);
            BEHAVIOURS
                .into_iter()
                .filter(|b| *b != Behaviour::SinRedis || sin_redis)
                .collect()
        }
        None => Vec::new(),
    }
}

/// When each worker stands at which tablet. Without roaming, every worker stays at their own
/// tablet all run (workers split among tablets, several per tablet); with it, they walk.
fn shifts(
    workers: &[u32],
    devices: usize,
    run_ms: u64,
    roaming: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<Shift>> {
    let mut out = vec![Vec::new(); devices];
    // Past the work's end, so a device restarted late still finds its workers.
    let end = run_ms + 3_600_000;
    for (k, w) in workers.iter().enumerate() {
        let home = k % devices;
        if !roaming {
            out[home].push(Shift {
                worker: *w,
                from_ms: 0,
                to_ms: end,
            });
            continue;
        }
        let mut t = 0;
        while t < end {
            let stay = if t > run_ms {
                end - t
            } else {
                rng.gen_range(rate::ROAM_STAY_S) * 1000
            };
            let at = if devices > 1 && rng.gen_bool(rate::ROAM_AWAY) {
                (home + rng.gen_range(1..devices)) % devices
            } else {
                home
            };
            out[at].push(Shift {
                worker: *w,
                from_ms: t,
                to_ms: t + stay,
            });
            t += stay;
        }
    }
    out
}

/// What the acked taps show of the behaviours (for the run's log).
struct TapStats {
    forzar: usize,
    overrides: usize,
    /// (worker, spool) pairs taken on one tablet and paused/completed/cancelled on another.
    roamed: usize,
}

impl TapStats {
    fn of(acked: &[zeues_checker::AckedTap]) -> TapStats {
        let mut took: BTreeMap<(u32, &str), HashSet<&str>> = BTreeMap::new();
        let mut closed: BTreeMap<(u32, &str), HashSet<&str>> = BTreeMap::new();
        for t in acked {
            let k = (t.worker_id, t.tag.as_str());
            if t.intent.starts_with("TOMAR") {
                took.entry(k).or_default().insert(&t.device);
            } else if ["PAUSAR", "COMPLETAR", "CANCELAR"]
                .iter()
                .any(|v| t.intent.starts_with(v))
            {
                closed.entry(k).or_default().insert(&t.device);
            }
        }
        TapStats {
            forzar: acked
                .iter()
                .filter(|t| t.intent == "FORZAR_LIBERACION")
                .count(),
            overrides: acked.iter().filter(|t| t.intent == "OVERRIDE").count(),
            roamed: took
                .iter()
                .filter(|(k, a)| {
                    closed
                        .get(*k)
                        .is_some_and(|b| b.iter().any(|d| !a.contains(d)))
                })
                .count(),
        }
    }
}

/// A running second instance.
struct Probe {
    device: usize,
    child: Child,
    deadline: Instant,
}

/// A supervisor errand due at `at`, against `offline` (taken offline for it).
struct Errand {
    at: Instant,
    to: usize,
    offline: usize,
    order: Order,
}

/// Holds every device's Sheets traffic (see `engineering.rs`): connections that pass or are
/// slow now hold each chunk for a few seconds; the caller waits for requests already inside
/// the emulator to finish. Returns the modes to put back.
fn hold_sheets(devices: &[DeviceProc]) -> Vec<Mode> {
    devices
        .iter()
        .map(|d| {
            let m = d.sheets.mode();
            if matches!(m, Mode::Pass | Mode::Delay(_)) {
                d.sheets.set(Mode::Delay(Duration::from_millis(2_500)));
            }
            m
        })
        .collect()
}

fn release_sheets(devices: &[DeviceProc], saved: &[Mode]) {
    for (d, m) in devices.iter().zip(saved) {
        d.sheets.set(*m);
    }
}

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec_pretty(v).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Column of `name` in a dumped tab's header row.
fn dump_col(book: &SpreadsheetSeed, tab: &str, name: &str) -> Option<(usize, usize)> {
    let sheet = book.sheets.iter().position(|s| s.title == tab)?;
    let col = book.sheets[sheet]
        .rows
        .first()?
        .iter()
        .position(|h| h.as_str() == Some(name))?;
    Some((sheet, col))
}

fn cell_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Object(m) => m
            .get("string")
            .or_else(|| m.get("value"))
            .map(cell_text)
            .unwrap_or_default(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Without Redis: the device (`Metadata_JSON.device`) of each audit row in `rows`, in order.
fn writing_devices(book: &SpreadsheetSeed, rows: std::ops::Range<usize>) -> Vec<String> {
    let Some((s, col)) = dump_col(book, METADATA, "Metadata_JSON") else {
        return Vec::new();
    };
    book.sheets[s]
        .rows
        .iter()
        .skip(1)
        .enumerate()
        .filter(|(i, _)| rows.contains(i))
        .filter_map(|(_, r)| {
            let j: Json = serde_json::from_str(&cell_text(r.get(col)?)).ok()?;
            j.get("device")?.as_str().map(String::from)
        })
        .collect()
}

/// Workers the sheet shows occupying a spool (`Ocupado_Por` is a token like `MR(93)`).
fn plant_occupants(book: &SpreadsheetSeed) -> HashSet<u32> {
    let Some((s, col)) = dump_col(book, OPERACIONES, "Ocupado_Por") else {
        return HashSet::new();
    };
    book.sheets[s]
        .rows
        .iter()
        .skip(1)
        .filter_map(|r| {
            let t = cell_text(r.get(col)?);
            let open = t.rfind('(')?;
            t[open + 1..].trim_end_matches(')').parse().ok()
        })
        .collect()
}

fn audit_rows(book: &SpreadsheetSeed) -> usize {
    book.sheets
        .iter()
        .find(|s| s.title == METADATA)
        .map_or(0, |s| s.rows.len().saturating_sub(1))
}

pub async fn run(args: SimArgs) -> Result<SimReport, String> {
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            tmp.path().to_path_buf()
        }
    };
    let control = dir.join("control");
    std::fs::create_dir_all(&control).map_err(|e| e.to_string())?;
    let on = behaviours(&args);
    let has = |b: Behaviour| on.contains(&b);
    // The fault schedule has its own generator so that it replays exactly for a seed, whatever
    // the timing of device restarts (which draw from the other one); so does each behaviour.
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut restart_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x005e_ed0f_c4a0);
    let mut eng_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x01_e9c1);
    let mut sup_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x02_5e9e);
    let mut inst_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x03_1257);
    let mut roam_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x04_40a3);
    let mut clock_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x05_c10c);
    let names: Vec<&str> = on.iter().map(|b| b.name()).collect();
    eprintln!(
        "plant-sim: seed={} devices={} spools={} minutes={} chaos={} behaviours=[{}] dir={}",
        args.seed,
        args.devices,
        args.spools,
        args.minutes,
        args.chaos,
        names.join(","),
        dir.display()
    );

    let mut redis = RedisServer::start().map_err(|e| e.to_string())?;
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let (ops, trab, roles, meta) =
        zeues_sync::demo::build(chrono::Utc::now(), args.seed, args.spools);
    emu.seed(&SpreadsheetSeed::new(
        BOOK,
        vec![
            grid_sheet(OPERACIONES, &ops),
            grid_sheet(TRABAJADORES, &trab),
            grid_sheet(ROLES, &roles),
            grid_sheet(METADATA, &meta),
        ],
    ))
    .map_err(|e| e.to_string())?;
    // The workbook as the run starts, for the checker, in the emulator's own dump form.
    let initial = emu.dump(BOOK).ok_or("el emulador no tiene la planilla")?;
    write_json(&dir.join("initial.json"), &initial)?;
    let key = dir.join("sa.json");
    emu.write_service_account(SERVICE_ACCOUNT, &key)
        .map_err(|e| e.to_string())?;
    let mut engineering = if has(Behaviour::Ingenieria) {
        let eng_key = dir.join("ingenieria.json");
        emu.write_service_account(ENGINEERING_ACCOUNT, &eng_key)
            .map_err(|e| e.to_string())?;
        Some(Engineering::connect(emu.base_url(), &eng_key, args.seed).await?)
    } else {
        None
    };

    let exe = dir.join("plant-sim-device");
    std::fs::copy(
        std::env::current_exe().map_err(|e| format!("ejecutable: {e}"))?,
        &exe,
    )
    .map_err(|e| format!("copia del ejecutable: {e}"))?;
    let redis_addr = format!("127.0.0.1:{}", redis.port())
        .parse()
        .map_err(|e: std::net::AddrParseError| e.to_string())?;
    let demo_workers = zeues_sync::demo::workers();
    let worker_ids: Vec<u32> = demo_workers
        .iter()
        .filter(|w| w.is_listed())
        .map(|w| w.id)
        .collect();
    let supervisor = demo_workers
        .iter()
        .find(|w| w.is_listed() && w.roles.contains(&Rol::Supervisor))
        .map(|w| w.id);
    let run_ms = (args.minutes * 60_000.0) as u64;
    let run_start_ms = chrono::Utc::now().timestamp_millis();
    let shift_plan = shifts(
        &worker_ids,
        args.devices,
        run_ms,
        has(Behaviour::Roaming),
        &mut roam_rng,
    );
    let acked_dir = dir.join("acked");
    std::fs::create_dir_all(&acked_dir).map_err(|e| e.to_string())?;
    let mut devices = Vec::new();
    for (i, shifts) in shift_plan.into_iter().enumerate() {
        let name = format!("dev-{i:02}");
        let ddir = dir.join(&name);
        std::fs::create_dir_all(ddir.join("orders")).map_err(|e| e.to_string())?;
        let sheets = ChaosProxy::start(emu.addr())
            .await
            .map_err(|e| e.to_string())?;
        let rproxy = ChaosProxy::start(redis_addr)
            .await
            .map_err(|e| e.to_string())?;
        let mut workers: Vec<u32> = shifts.iter().map(|s| s.worker).collect();
        workers.sort_unstable();
        workers.dedup();
        let clock_offset_ms = if has(Behaviour::Reloj)
            && (args.scenario.is_some() || clock_rng.gen_bool(rate::SKEWED_SHARE))
        {
            clock_rng.gen_range(-rate::MAX_SKEW_MS..=rate::MAX_SKEW_MS)
        } else {
            0
        };
        if clock_offset_ms != 0 {
            eprintln!(
                "plant-sim: {name}: reloj desfasado {:+.1} min",
                clock_offset_ms as f64 / 60_000.0
            );
        }
        let mut d = DeviceProc {
            exe: exe.clone(),
            args: DeviceArgs {
                index: i,
                dir: ddir,
                control: control.clone(),
                sheets_url: format!("http://{}", sheets.addr()),
                // Token requests go straight to the emulator: the JWT audience is its own
                // token URL.
                key: key.clone(),
                redis_url: format!("redis://{}", rproxy.addr()),
                seed: args.seed.wrapping_mul(1_000).wrapping_add(i as u64),
                workers,
            },
            plan: DevicePlan {
                acked_log: Some(acked_dir.join(format!("{name}.jsonl"))),
                name,
                clock_offset_ms,
                sin_redis: has(Behaviour::SinRedis),
                shifts: if has(Behaviour::Roaming) {
                    shifts
                } else {
                    Vec::new()
                },
                run_start_ms,
                probe: false,
            },
            child: None,
            sheets,
            redis: rproxy,
            restart_at: None,
            failpoint: None,
            hold_until: None,
            spawned_at: Instant::now(),
        };
        d.spawn(None)?;
        devices.push(d);
    }

    let start = Instant::now();
    let deadline = start + Duration::from_millis(run_ms);
    let secs =
        |r: std::ops::Range<u64>, rng: &mut ChaCha8Rng| Duration::from_secs(rng.gen_range(r));
    let mut samples: Vec<(Instant, (u64, u64))> = Vec::new();
    let mut restores: Vec<(Instant, usize)> = Vec::new();
    let mut next_event = start + Duration::from_secs(5);
    let mut next_edit = start + secs(rate::ENGINEERING_EVERY_S, &mut eng_rng);
    let mut next_errand = start + secs(rate::SUPERVISOR_EVERY_S, &mut sup_rng);
    let mut next_probe = start + secs(rate::SECOND_INSTANCE_EVERY_S, &mut inst_rng);
    let mut errands: Vec<Errand> = Vec::new();
    let mut errand_seq = 0u32;
    let mut probes: Vec<Probe> = Vec::new();
    let mut events: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut report = SimReport::default();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Instant::now();
        if samples
            .last()
            .is_none_or(|(t, _)| now.duration_since(*t) >= Duration::from_secs(1))
        {
            samples.push((now, fleet_calls(&emu, &engineering)));
        }
        restores.retain(|(at, i)| {
            if *at > now {
                return true;
            }
            if devices[*i].hold_until.is_none_or(|h| h <= now) {
                devices[*i].set_net(Mode::Pass, Mode::Pass);
            }
            false
        });
        for d in devices.iter_mut() {
            if let Some(code) = d.exited() {
                if d.failpoint.is_some() {
                    *events.entry("failpoint_crash").or_default() += 1;
                } else if code != 0 {
                    eprintln!("plant-sim: device {} exited with {code}", d.args.index);
                }
                d.restart_at = Some(now + Duration::from_secs(restart_rng.gen_range(1..4)));
            }
            if d.restart_at.is_some_and(|t| t <= now) {
                d.restart_at = None;
                d.spawn(None)?;
            }
        }
        check_probes(&mut probes, &mut devices, &mut report, &mut events, false);

        // A second app instance on a running device's directory.
        if has(Behaviour::SegundaInstancia) && now >= next_probe {
            next_probe = now + secs(rate::SECOND_INSTANCE_EVERY_S, &mut inst_rng);
            let i = inst_rng.gen_range(0..devices.len());
            let d = &devices[i];
            // Only against a device that holds its directory for sure: running, past its
            // start (its status file may still be its previous process's), and not armed to
            // die at a failpoint (its death would free the lock).
            let running = d.child.is_some()
                && d.failpoint.is_none()
                && now.duration_since(d.spawned_at) > Duration::from_secs(8)
                && read_status(&d.args.dir).is_some_and(|s| s.phase == "working");
            if running && !probes.iter().any(|p| p.device == i) {
                probes.push(Probe {
                    device: i,
                    child: d.spawn_probe()?,
                    deadline: now + Duration::from_secs(15),
                });
                *events.entry("segunda_instancia").or_default() += 1;
            }
        }

        // Engineering at the sheet.
        if let Some(eng) = engineering.as_mut() {
            if now >= next_edit {
                next_edit = now + secs(rate::ENGINEERING_EVERY_S, &mut eng_rng);
                let what = Edit::draw(&mut eng_rng);
                let saved = (what == Edit::Sort).then(|| hold_sheets(&devices));
                if saved.is_some() {
                    // Requests already inside the emulator finish; new ones wait at the proxy.
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
                let done = eng.edit(what).await;
                if let Some(saved) = saved {
                    release_sheets(&devices, &saved);
                }
                match done {
                    Ok(Some(msg)) => {
                        eprintln!("plant-sim: ingeniería: {msg}");
                        *events.entry(what.label()).or_default() += 1;
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("plant-sim: ingeniería ({}): {e}", what.label()),
                }
            }
        }

        // A supervisor releases spools of workers whose tablet went offline with work queued.
        if has(Behaviour::Supervisor) && now >= next_errand {
            next_errand = now + secs(rate::SUPERVISOR_EVERY_S, &mut sup_rng);
            let n = devices.len();
            let preferred = sup_rng.gen_range(0..n);
            // The seeded tablet, or the next one whose workers hold a spool in the plant now:
            // only a spool the sheet shows occupied can be force-released.
            let held = emu
                .dump(BOOK)
                .map(|b| plant_occupants(&b))
                .unwrap_or_default();
            let at_ms = now.duration_since(start).as_millis() as u64;
            let offline = (0..n)
                .map(|k| (preferred + k) % n)
                .find(|&k| {
                    devices[k]
                        .workers_at(at_ms)
                        .iter()
                        .any(|w| held.contains(w))
                })
                .unwrap_or(preferred);
            let to = if n > 1 {
                (offline + sup_rng.gen_range(1..n)) % n
            } else {
                offline
            };
            let hold = secs(rate::SUPERVISOR_OFFLINE_S, &mut sup_rng);
            let acts = secs(rate::SUPERVISOR_ACTS_AFTER_S, &mut sup_rng);
            let forzar = sup_rng.gen_range(1..=2);
            if let Some(sup) = supervisor {
                let d = &mut devices[offline];
                d.set_net(Mode::Cut, Mode::Cut);
                d.hold_until = Some(d.hold_until.map_or(now + hold, |h| h.max(now + hold)));
                restores.push((now + hold, offline));
                errands.push(Errand {
                    at: now + acts,
                    to,
                    offline,
                    order: Order {
                        supervisor: sup,
                        occupants: d.workers_at(at_ms),
                        forzar,
                        override_blocked: true,
                    },
                });
                *events.entry("supervisor_offline").or_default() += 1;
            }
        }
        let (due, later): (Vec<Errand>, Vec<Errand>) =
            errands.into_iter().partition(|e| e.at <= now);
        errands = later;
        for e in due {
            let queued = read_status(&devices[e.offline].args.dir).map_or(0, |s| s.pending);
            if queued > 0 {
                *events.entry("supervisor_vs_queued").or_default() += 1;
            }
            errand_seq += 1;
            let path = devices[e.to]
                .args
                .dir
                .join("orders")
                .join(format!("{errand_seq:05}.json"));
            write_json(&path, &e.order)?;
            eprintln!(
                "plant-sim: supervisor en {} contra {} (desconectado, {queued} en cola)",
                devices[e.to].name(),
                devices[e.offline].name()
            );
        }

        if !args.chaos || now < next_event {
            continue;
        }
        next_event = now + Duration::from_millis(rng.gen_range(1_000..4_000));
        let i = rng.gen_range(0..devices.len());
        let roll: f64 = rng.gen();
        let hold = Duration::from_secs(rng.gen_range(3..25));
        let mut net = |devices: &mut Vec<DeviceProc>, s: Mode, r: Mode| {
            devices[i].set_net(s, r);
            let h = now + hold;
            devices[i].hold_until = Some(devices[i].hold_until.map_or(h, |x| x.max(h)));
            restores.push((h, i));
        };
        if roll < 0.30 {
            let m = if rng.gen_bool(0.5) {
                Mode::Cut
            } else {
                Mode::Blackhole
            };
            net(&mut devices, m, m);
            *events.entry("offline").or_default() += 1;
        } else if roll < 0.40 {
            net(&mut devices, Mode::Cut, Mode::Pass);
            *events.entry("sheets_unreachable").or_default() += 1;
        } else if roll < 0.48 {
            net(&mut devices, Mode::Pass, Mode::Cut);
            *events.entry("redis_unreachable").or_default() += 1;
        } else if roll < 0.56 {
            let d = Mode::Delay(Duration::from_millis(rng.gen_range(100..900)));
            net(&mut devices, d, d);
            *events.entry("slow_network").or_default() += 1;
        } else if roll < 0.66 {
            emu.add_fault(
                FaultRule::new(
                    None,
                    Fault::Error {
                        code: 429,
                        phase: Phase::BeforeCommit,
                    },
                )
                .times(Some(rng.gen_range(5..30))),
            );
            *events.entry("429_storm").or_default() += 1;
        } else if roll < 0.74 {
            emu.add_fault(
                FaultRule::new(
                    Some("spreadsheets.batchUpdate"),
                    Fault::Error {
                        code: 503,
                        phase: Phase::AfterCommit,
                    },
                )
                .times(Some(rng.gen_range(1..3))),
            );
            *events.entry("503_after_commit").or_default() += 1;
        } else if roll < 0.78 {
            emu.add_fault(FaultRule::new(
                Some("spreadsheets.batchUpdate"),
                Fault::Drop {
                    phase: Phase::AfterCommit,
                },
            ));
            *events.entry("drop_after_commit").or_default() += 1;
        } else if roll < 0.83 {
            redis
                .restart()
                .map_err(|e| format!("reinicio de redis-server: {e}"))?;
            *events.entry("redis_restart").or_default() += 1;
        } else if devices[i].child.is_some() {
            let fp = if rng.gen_bool(0.5) {
                Some(FAILPOINTS[rng.gen_range(0..FAILPOINTS.len())])
            } else {
                None
            };
            // A second instance being refused right now must find the directory held.
            if !probes.iter().any(|p| p.device == i) {
                devices[i].kill9();
                devices[i].restart_at = None;
                devices[i].spawn(fp)?;
                *events.entry("kill9").or_default() += 1;
            }
        }
    }

    // Stop the faults and the work; let every outbox drain.
    emu.clear_faults();
    for d in devices.iter_mut() {
        d.hold_until = None;
        d.set_net(Mode::Pass, Mode::Pass);
    }
    let probe_deadline = Instant::now() + Duration::from_secs(20);
    while !probes.is_empty() && Instant::now() < probe_deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        check_probes(&mut probes, &mut devices, &mut report, &mut events, false);
    }
    check_probes(&mut probes, &mut devices, &mut report, &mut events, true);
    std::fs::write(control.join("stop"), b"").map_err(|e| e.to_string())?;
    let stop_rows = emu.dump(BOOK).map_or(0, |b| audit_rows(&b));
    eprintln!(
        "plant-sim: work stopped after {:.0}s; events {events:?}; draining",
        start.elapsed().as_secs_f64()
    );
    let sin_redis = has(Behaviour::SinRedis);
    let drain_start = Instant::now();
    let drain_deadline = drain_start + args.drain_timeout;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push((Instant::now(), fleet_calls(&emu, &engineering)));
        let mut all = true;
        for d in devices.iter_mut() {
            if d.exited().is_some() || (d.child.is_none()) {
                // A device that died at a failpoint during the drain comes back clean.
                d.spawn(None)?;
                all = false;
                continue;
            }
            let phase = read_status(&d.args.dir)
                .map(|s| s.phase)
                .unwrap_or_default();
            let retire = d.args.dir.join("retire");
            if sin_redis && phase == "drained" && !retire.exists() {
                // Without Redis a drained device steps down so the next one with queued taps
                // can become the writer (see device.rs).
                std::fs::write(&retire, b"").map_err(|e| e.to_string())?;
                eprintln!(
                    "plant-sim: {} vació su cola; deja el rol de escritor ({:.0}s)",
                    d.name(),
                    drain_start.elapsed().as_secs_f64()
                );
            }
            let done = if sin_redis {
                phase == "retired"
            } else {
                phase == "drained"
            };
            if !done {
                all = false;
            }
        }
        if all {
            break;
        }
        if Instant::now() > drain_deadline {
            eprintln!("plant-sim: drain timed out");
            report.drain_timed_out = true;
            let stuck: Vec<&str> = devices
                .iter()
                .filter(|d| {
                    read_status(&d.args.dir)
                        .is_none_or(|s| s.phase != "drained" && s.phase != "retired")
                })
                .map(|d| d.name())
                .collect();
            report.details.push(format!(
                "las colas no se vaciaron en {} s: {stuck:?}",
                args.drain_timeout.as_secs()
            ));
            break;
        }
    }
    eprintln!(
        "plant-sim: drained in {:.0}s",
        drain_start.elapsed().as_secs_f64()
    );
    std::fs::write(control.join("finish"), b"").map_err(|e| e.to_string())?;
    // Sheets-only tablets come back on and read the sheet once before they stop.
    let exit_deadline = Instant::now() + Duration::from_secs(if sin_redis { 240 } else { 90 });
    while devices.iter().any(|d| d.child.is_some()) && Instant::now() < exit_deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for d in devices.iter_mut() {
            d.exited();
        }
    }
    for d in devices.iter_mut() {
        d.kill9();
    }
    samples.push((Instant::now(), fleet_calls(&emu, &engineering)));
    let per = |pick: fn(&(u64, u64)) -> u64| {
        max_per_minute(
            &samples
                .iter()
                .map(|(t, c)| (*t, pick(c)))
                .collect::<Vec<_>>(),
        )
    };
    report.max_writes_per_min = per(|c| c.1);
    report.max_reads_per_min = per(|c| c.0);
    report.quota_refused = emu.calls().iter().filter(|c| c.quota_refused).count() as u64;
    // Every API call's time and method (Engineering's included; it makes few writes), to
    // see where a busy minute came from.
    let calls: String = emu
        .calls()
        .iter()
        .map(|c| {
            format!(
                "{:.3} {} {}{}\n",
                c.at.saturating_duration_since(start).as_secs_f64(),
                c.method,
                if c.write { "write" } else { "read" },
                if c.quota_refused { " 429" } else { "" }
            )
        })
        .collect();
    std::fs::write(dir.join("calls.txt"), calls).map_err(|e| e.to_string())?;

    // The independent checker, on plain data only; every input is kept in the run's folder.
    let book = emu.dump(BOOK).ok_or("el emulador no tiene la planilla")?;
    write_json(&dir.join("final.json"), &book)?;
    let final_tags: HashSet<String> = dump_col(&book, OPERACIONES, "TAG_SPOOL")
        .map(|(s, c)| {
            book.sheets[s]
                .rows
                .iter()
                .skip(1)
                .filter_map(|r| r.get(c))
                .map(|v| cell_text(v).trim().to_uppercase())
                .collect()
        })
        .unwrap_or_default();
    let appended = engineering
        .as_ref()
        .map(|e| e.appended(&final_tags))
        .unwrap_or_default();
    write_json(&dir.join("appended.json"), &appended)?;
    let json = |v: &SpreadsheetSeed| serde_json::to_value(v).map_err(|e| e.to_string());
    let mut acked = Vec::new();
    let mut replicas = Vec::new();
    for d in &devices {
        if let Some(log) = &d.plan.acked_log {
            if log.exists() {
                acked.extend(read_acked_jsonl(log).map_err(|e| e.to_string())?);
            }
        }
        replicas.push(Replica {
            device: d.name().to_string(),
            rows: read_replica(&d.args.dir.join("zeues.db")).map_err(|e| e.to_string())?,
        });
    }
    // The checker replays every Metadata row from the initial sheet's state, and the seeded
    // rows are the history that led to that state: it replays only what the run appended.
    // The log is append-only, so those rows must still be there, unchanged.
    let initial_rows = audit_rows(&initial);
    let mut replayed = book.clone();
    if let (Some(first), Some(last)) = (
        initial.sheets.iter().find(|s| s.title == METADATA),
        replayed.sheets.iter_mut().find(|s| s.title == METADATA),
    ) {
        let n = first.rows.len();
        if last.rows.len() < n || last.rows[..n] != first.rows[..] {
            report.details.push(
                "Metadata: las filas que había al empezar cambiaron (el log es solo para agregar)"
                    .into(),
            );
            report.checker_input_broken = true;
        } else {
            last.rows.drain(1..n);
        }
    }
    let taps = TapStats::of(&acked);
    let input = RunInput {
        initial: Workbook::from_dump_json(&json(&initial)?).map_err(|e| e.to_string())?,
        final_book: Workbook::from_dump_json(&json(&replayed)?).map_err(|e| e.to_string())?,
        appended_spools: appended,
        acked,
        replicas,
    };
    report.checker = zeues_checker::check(&input);

    if sin_redis {
        // Exactly one device writes a spreadsheet without Redis: while the fleet worked, the
        // audit rows must all come from one device (the drain hands the role over on purpose).
        let writers = writing_devices(&book, initial_rows..stop_rows);
        let switches = writers.windows(2).filter(|w| w[0] != w[1]).count() as u64;
        let distinct: HashSet<&String> = writers.iter().collect();
        eprintln!(
            "plant-sim: sin Redis: {} filas de auditoría durante el trabajo, de {} equipo(s); {} toques rechazados con ESCRITOR_OCUPADO",
            writers.len(),
            distinct.len(),
            devices
                .iter()
                .filter_map(|d| read_status(&d.args.dir))
                .map(|s| s.writer_refused)
                .sum::<u64>()
        );
        if switches > 0 {
            report.writer_switches = switches;
            report.details.push(format!(
                "sin Redis, el equipo que escribe cambió {switches} vez/veces durante el trabajo: {:?}",
                distinct
            ));
        }
    }
    let errands_taken = devices
        .iter()
        .filter_map(|d| std::fs::read_dir(d.args.dir.join("orders")).ok())
        .flatten()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "taken"))
        })
        .count();
    eprintln!(
        "plant-sim: supervisor: {errands_taken} encargos atendidos; acked: {} FORZAR_LIBERACION, {} OVERRIDE; {} TOMAR cerrados desde otra tablet (roaming)",
        taps.forzar, taps.overrides, taps.roamed
    );
    eprintln!("plant-sim: events {events:?}");
    eprintln!("plant-sim: api calls {:?}", emu.counts());
    std::fs::write(dir.join("report.txt"), report.checker.to_string())
        .map_err(|e| e.to_string())?;
    drop(redis);
    emu.shutdown().await;
    Ok(report)
}

/// Collects second instances that ended (or overstayed): refused is right; anything else ran.
fn check_probes(
    probes: &mut Vec<Probe>,
    devices: &mut [DeviceProc],
    report: &mut SimReport,
    events: &mut BTreeMap<&'static str, u32>,
    give_up: bool,
) {
    let now = Instant::now();
    probes.retain_mut(|p| {
        let name = devices[p.device].name().to_string();
        let code = match p.child.try_wait() {
            Ok(Some(status)) => status.code(),
            Ok(None) if give_up || now > p.deadline => {
                if let Err(e) = p.child.kill() {
                    eprintln!("plant-sim: segunda instancia de {name}: kill: {e}");
                }
                if let Err(e) = p.child.wait() {
                    eprintln!("plant-sim: segunda instancia de {name}: wait: {e}");
                }
                report.second_instance_ran += 1;
                report.details.push(format!(
                    "{name}: una segunda instancia en su directorio no terminó (no fue rechazada)"
                ));
                return false;
            }
            Ok(None) => return true,
            Err(e) => {
                eprintln!("plant-sim: segunda instancia de {name}: {e}");
                return true;
            }
        };
        if code == Some(i32::from(REFUSED)) {
            *events.entry("segunda_instancia_rechazada").or_default() += 1;
        } else {
            report.second_instance_ran += 1;
            report.details.push(format!(
                "{name}: una segunda instancia en su directorio terminó con {code:?}{}",
                if code == Some(i32::from(PROBE_RAN)) {
                    " (obtuvo el bloqueo del directorio)"
                } else {
                    ""
                }
            ));
        }
        false
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn roaming_workers_are_at_one_tablet_at_a_time_and_tablets_share_workers() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let workers: Vec<u32> = (93..103).collect();
        let plan = shifts(&workers, 4, 180_000, true, &mut rng);
        for w in &workers {
            let mut spans: Vec<(u64, u64)> = plan
                .iter()
                .flatten()
                .filter(|s| s.worker == *w)
                .map(|s| (s.from_ms, s.to_ms))
                .collect();
            spans.sort_unstable();
            for pair in spans.windows(2) {
                assert_eq!(pair[0].1, pair[1].0, "worker {w}: no gap, no overlap");
            }
            assert_eq!(spans[0].0, 0);
        }
        let sets: Vec<HashSet<u32>> = plan
            .iter()
            .map(|d| d.iter().map(|s| s.worker).collect())
            .collect();
        assert!(
            sets[0].intersection(&sets[1]).count() > 0,
            "tablets share workers"
        );
        // Same seed, same schedule.
        let again = shifts(
            &workers,
            4,
            180_000,
            true,
            &mut ChaCha8Rng::seed_from_u64(7),
        );
        assert_eq!(format!("{plan:?}"), format!("{again:?}"));
    }

    #[test]
    fn chaos_turns_every_behaviour_on_but_sin_redis_only_for_some_seeds() {
        let runs: Vec<Vec<Behaviour>> = (0..40)
            .map(|seed| {
                behaviours(&SimArgs {
                    chaos: true,
                    seed,
                    ..SimArgs::default()
                })
            })
            .collect();
        assert!(runs.iter().all(|b| b.len() >= 5));
        let sin = runs
            .iter()
            .filter(|b| b.contains(&Behaviour::SinRedis))
            .count();
        assert!(sin > 0 && sin < 40, "{sin}");
        let one = behaviours(&SimArgs {
            scenario: Some(vec![Behaviour::Reloj]),
            chaos: true,
            ..SimArgs::default()
        });
        assert_eq!(one, vec![Behaviour::Reloj]);
    }
}
