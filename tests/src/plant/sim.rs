//! The `plant-sim` orchestrator: starts `redis-server`, the Sheets emulator and one chaos proxy
//! pair per device, launches the devices as separate processes, injects faults on a seeded
//! schedule (offline periods, 429 storms, 503 after commit, Redis restarts, `kill -9` at
//! failpoints), then stops the work, waits for every outbox to drain and runs the checker.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zeues_sync::domain::sheet::{METADATA, OPERACIONES, ROLES, TRABAJADORES};

use super::checker::{check, Inputs, Report};
use super::device::{read_status, DeviceArgs};
use super::{dump_grid, grid_sheet, BOOK, SERVICE_ACCOUNT};
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

#[derive(Debug, Clone)]
pub struct SimArgs {
    pub devices: usize,
    pub spools: usize,
    pub minutes: f64,
    pub seed: u64,
    pub chaos: bool,
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
            dir: None,
            drain_timeout: Duration::from_secs(600),
        }
    }
}

struct DeviceProc {
    /// A private copy of this binary: a rebuild during a long run must not pull it away.
    exe: PathBuf,
    args: DeviceArgs,
    child: Option<Child>,
    sheets: ChaosProxy,
    redis: ChaosProxy,
    restart_at: Option<Instant>,
    failpoint: Option<&'static str>,
}

impl DeviceProc {
    fn spawn(&mut self, failpoint: Option<&'static str>) -> Result<(), String> {
        let exe = &self.exe;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.args.dir.join("device.log"))
            .map_err(|e| format!("log del equipo {}: {e}", self.args.index))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("device")
            .arg(serde_json::to_string(&self.args).map_err(|e| e.to_string())?)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .env(
                "RUST_LOG",
                "warn,zeues_sync::engine::follow=info,zeues_sync::engine::leader=info",
            );
        match failpoint {
            Some(fp) => {
                cmd.env("ZEUES_FAILPOINTS", fp);
            }
            None => {
                cmd.env_remove("ZEUES_FAILPOINTS");
            }
        }
        self.failpoint = failpoint;
        self.child = Some(
            cmd.spawn()
                .map_err(|e| format!("lanzar equipo {}: {e}", self.args.index))?,
        );
        Ok(())
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
}

impl Drop for DeviceProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn write_methods(counts: &BTreeMap<String, u64>) -> u64 {
    counts
        .iter()
        .filter(|(m, _)| {
            !matches!(
                m.as_str(),
                "spreadsheets.get"
                    | "spreadsheets.values.get"
                    | "spreadsheets.values.batchGet"
                    | "oauth2.token"
            )
        })
        .map(|(_, n)| *n)
        .sum()
}

/// Most writes in any 60 s window, from per-second cumulative samples.
fn max_per_minute(samples: &[(Instant, u64)]) -> u64 {
    let mut best = 0;
    let mut start = 0;
    for end in 0..samples.len() {
        while samples[end].0.duration_since(samples[start].0) > Duration::from_secs(60) {
            start += 1;
        }
        best = best.max(samples[end].1 - samples[start].1);
    }
    best
}

pub async fn run(args: SimArgs) -> Result<Report, String> {
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
    // The fault schedule has its own generator so that it replays exactly for a seed, whatever
    // the timing of device restarts (which draw from the other one).
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut restart_rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x005e_ed0f_c4a0);
    eprintln!(
        "plant-sim: seed={} devices={} spools={} minutes={} chaos={} dir={}",
        args.seed,
        args.devices,
        args.spools,
        args.minutes,
        args.chaos,
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
    let initial_audit_rows = meta.rows.len();
    let key = dir.join("sa.json");
    emu.write_service_account(SERVICE_ACCOUNT, &key)
        .map_err(|e| e.to_string())?;

    let exe = dir.join("plant-sim-device");
    std::fs::copy(
        std::env::current_exe().map_err(|e| format!("ejecutable: {e}"))?,
        &exe,
    )
    .map_err(|e| format!("copia del ejecutable: {e}"))?;
    let redis_addr = format!("127.0.0.1:{}", redis.port())
        .parse()
        .map_err(|e: std::net::AddrParseError| e.to_string())?;
    let mut devices = Vec::new();
    let worker_ids: Vec<u32> = zeues_sync::demo::workers()
        .iter()
        .filter(|w| w.is_listed())
        .map(|w| w.id)
        .collect();
    for i in 0..args.devices {
        let ddir = dir.join(format!("dev-{i:02}"));
        std::fs::create_dir_all(&ddir).map_err(|e| e.to_string())?;
        let sheets = ChaosProxy::start(emu.addr())
            .await
            .map_err(|e| e.to_string())?;
        let rproxy = ChaosProxy::start(redis_addr)
            .await
            .map_err(|e| e.to_string())?;
        // Token requests go straight to the emulator: the JWT audience is its own token URL.
        let dkey = key.clone();
        let workers: Vec<u32> = worker_ids
            .iter()
            .enumerate()
            .filter(|(k, _)| k % args.devices == i)
            .map(|(_, w)| *w)
            .collect();
        let mut d = DeviceProc {
            exe: exe.clone(),
            args: DeviceArgs {
                index: i,
                dir: ddir,
                control: control.clone(),
                sheets_url: format!("http://{}", sheets.addr()),
                key: dkey,
                redis_url: format!("redis://{}", rproxy.addr()),
                seed: args.seed.wrapping_mul(1_000).wrapping_add(i as u64),
                workers,
            },
            child: None,
            sheets,
            redis: rproxy,
            restart_at: None,
            failpoint: None,
        };
        d.spawn(None)?;
        devices.push(d);
    }

    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    let mut restores: Vec<(Instant, usize)> = Vec::new();
    let mut next_event = start + Duration::from_secs(5);
    let mut events: BTreeMap<&'static str, u32> = BTreeMap::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Instant::now();
        if samples
            .last()
            .is_none_or(|(t, _)| now.duration_since(*t) >= Duration::from_secs(1))
        {
            samples.push((now, write_methods(&emu.counts())));
        }
        restores.retain(|(at, i)| {
            if *at <= now {
                devices[*i].set_net(Mode::Pass, Mode::Pass);
                false
            } else {
                true
            }
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
        if !args.chaos || now < next_event {
            continue;
        }
        next_event = now + Duration::from_millis(rng.gen_range(1_000..4_000));
        let i = rng.gen_range(0..devices.len());
        let roll: f64 = rng.gen();
        let hold = Duration::from_secs(rng.gen_range(3..25));
        if roll < 0.30 {
            let m = if rng.gen_bool(0.5) {
                Mode::Cut
            } else {
                Mode::Blackhole
            };
            devices[i].set_net(m, m);
            restores.push((now + hold, i));
            *events.entry("offline").or_default() += 1;
        } else if roll < 0.40 {
            devices[i].set_net(Mode::Cut, Mode::Pass);
            restores.push((now + hold, i));
            *events.entry("sheets_unreachable").or_default() += 1;
        } else if roll < 0.48 {
            devices[i].set_net(Mode::Pass, Mode::Cut);
            restores.push((now + hold, i));
            *events.entry("redis_unreachable").or_default() += 1;
        } else if roll < 0.56 {
            let d = Mode::Delay(Duration::from_millis(rng.gen_range(100..900)));
            devices[i].set_net(d, d);
            restores.push((now + hold, i));
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
            devices[i].kill9();
            let fp = if rng.gen_bool(0.5) {
                Some(FAILPOINTS[rng.gen_range(0..FAILPOINTS.len())])
            } else {
                None
            };
            devices[i].restart_at = None;
            devices[i].spawn(fp)?;
            *events.entry("kill9").or_default() += 1;
        }
    }

    // Stop the faults and the work; let every outbox drain.
    emu.clear_faults();
    for d in devices.iter_mut() {
        d.set_net(Mode::Pass, Mode::Pass);
    }
    std::fs::write(control.join("stop"), b"").map_err(|e| e.to_string())?;
    eprintln!(
        "plant-sim: work stopped after {:.0}s; events {events:?}; draining",
        start.elapsed().as_secs_f64()
    );
    let drain_deadline = Instant::now() + args.drain_timeout;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push((Instant::now(), write_methods(&emu.counts())));
        let mut all = true;
        for d in devices.iter_mut() {
            if d.exited().is_some() || (d.child.is_none()) {
                // A device that died at a failpoint during the drain comes back clean.
                d.spawn(None)?;
                all = false;
                continue;
            }
            if read_status(&d.args.dir).is_none_or(|s| s.phase != "drained") {
                all = false;
            }
        }
        if all {
            break;
        }
        if Instant::now() > drain_deadline {
            eprintln!("plant-sim: drain timed out");
            break;
        }
    }
    std::fs::write(control.join("finish"), b"").map_err(|e| e.to_string())?;
    let exit_deadline = Instant::now() + Duration::from_secs(60);
    while devices.iter().any(|d| d.child.is_some()) && Instant::now() < exit_deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for d in devices.iter_mut() {
            d.exited();
        }
    }
    for d in devices.iter_mut() {
        d.kill9();
    }
    samples.push((Instant::now(), write_methods(&emu.counts())));
    let book = emu.dump(BOOK).ok_or("el emulador no tiene la planilla")?;
    let operaciones = dump_grid(&book, OPERACIONES).ok_or("falta Operaciones")?;
    let metadata = dump_grid(&book, METADATA).ok_or("falta Metadata")?;
    let report = check(&Inputs {
        initial: ops,
        initial_audit_rows,
        operaciones,
        metadata,
        devices: devices
            .iter()
            .map(|d| d.args.dir.join("zeues.db"))
            .collect(),
        max_writes_per_min: max_per_minute(&samples),
    })?;
    eprintln!("plant-sim: api calls {:?}", emu.counts());
    drop(redis);
    emu.shutdown().await;
    Ok(report)
}
