//! Many seeds: a sweep over a seed range in parallel jobs (one seed per thread at a time, each on
//! its own runtime), the merged counters, and the shrinking of a failing seed (fewer devices, a
//! shorter shift, fewer faults) to the shortest trace that still fails.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use zeues_checker::Report;

use super::driver::{run, RunConfig, RunOutcome};
use super::swarm::{Feature, Scenario};
use super::world::{Invariants, Stats};

#[derive(Debug, Clone)]
pub struct Sweep {
    pub first: u64,
    pub count: u64,
    pub devices: usize,
    pub spools: usize,
    pub minutes: f64,
    pub scenario: Scenario,
    pub verbose: bool,
    pub jobs: usize,
    pub work_dir: PathBuf,
    /// Features never turned on (e.g. one whose known bug is being fixed).
    pub without: BTreeSet<Feature>,
}

impl Sweep {
    pub fn config(&self, seed: u64, job: usize) -> RunConfig {
        RunConfig {
            seed,
            devices: self.devices,
            spools: self.spools,
            minutes: self.minutes,
            scenario: self.scenario.clone(),
            masked: self.without.clone(),
            verbose: self.verbose,
            work_dir: self.work_dir.join(format!("job-{job}")),
        }
    }
}

/// Where the devices' databases go: memory when the machine has `/dev/shm`.
pub fn default_work_dir() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("zeues-vopr-{}", std::process::id()))
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub runs: u64,
    pub report: Report,
    pub inv: Invariants,
    pub stats: Stats,
    /// Failing runs (and runs that could not run), by seed.
    pub failures: Vec<RunOutcome>,
    pub errors: Vec<(u64, String)>,
    pub wall_secs: f64,
    pub sim_ms: u64,
    pub events: u64,
    pub max_reads_per_min: usize,
    pub max_writes_per_min: usize,
    pub google_429: u64,
    pub jobs: usize,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.errors.is_empty()
    }

    pub fn seeds_per_min(&self) -> f64 {
        self.runs as f64 / (self.wall_secs / 60.0).max(1e-9)
    }

    fn add(&mut self, o: &RunOutcome) {
        self.runs += 1;
        self.report.merge(&o.report);
        self.inv.merge(&o.inv);
        self.stats.merge(&o.stats);
        self.sim_ms += o.sim_ms;
        self.events += o.events;
        self.max_reads_per_min = self.max_reads_per_min.max(o.max_reads_per_min);
        self.max_writes_per_min = self.max_writes_per_min.max(o.max_writes_per_min);
        self.google_429 += o.google_429;
    }

    /// The one summary line.
    pub fn line(&self) -> String {
        format!(
            "plant-vopr: {} {} errors={} | {:.0} seeds/min ({:.1} s wall, {} jobs; {:.1} simulated h) max_reads/min={} max_writes/min={} google_429={}",
            self.report.summary(self.runs),
            self.inv.summary(),
            self.errors.len(),
            self.seeds_per_min(),
            self.wall_secs,
            self.jobs,
            self.sim_ms as f64 / 3_600_000.0,
            self.max_reads_per_min,
            self.max_writes_per_min,
            self.google_429
        )
    }
}

/// Runs every seed of the sweep; `each` sees every outcome as it arrives.
pub fn sweep(s: &Sweep, mut each: impl FnMut(&RunOutcome)) -> Summary {
    let started = Instant::now();
    let jobs = s.jobs.max(1);
    let next = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<(u64, Result<RunOutcome, String>)>();
    let mut handles = Vec::new();
    for job in 0..jobs {
        let tx = tx.clone();
        let next = next.clone();
        let s = s.clone();
        handles.push(std::thread::spawn(move || loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= s.count {
                break;
            }
            let seed = s.first + k;
            let r = run(&s.config(seed, job));
            if tx.send((seed, r)).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    let mut sum = Summary {
        jobs,
        ..Summary::default()
    };
    for (seed, r) in rx {
        match r {
            Ok(o) => {
                each(&o);
                sum.add(&o);
                if !o.ok() {
                    sum.failures.push(o);
                }
            }
            Err(e) => sum.errors.push((seed, e)),
        }
    }
    for h in handles {
        if h.join().is_err() {
            sum.errors
                .push((u64::MAX, "un hilo del simulador entró en pánico".into()));
        }
    }
    sum.failures.sort_by_key(|o| o.seed);
    sum.errors.sort();
    sum.wall_secs = started.elapsed().as_secs_f64();
    if let Err(e) = std::fs::remove_dir_all(&s.work_dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!(
                "plant-vopr: no se pudo borrar {}: {e}",
                s.work_dir.display()
            );
        }
    }
    sum
}

/// Re-runs a failing seed with less (half the devices, half the shift, one feature fewer) while
/// it still fails; returns the smallest failing configuration and its run.
pub fn shrink(cfg: &RunConfig, failing: &RunOutcome, budget: usize) -> (RunConfig, RunOutcome) {
    let mut best = (cfg.clone(), failing.clone());
    let mut tries = 0;
    loop {
        let (c, o) = &best;
        let mut candidates: Vec<RunConfig> = Vec::new();
        if c.devices > 2 {
            candidates.push(RunConfig {
                devices: (c.devices / 2).max(2),
                ..c.clone()
            });
        }
        if c.minutes > 0.25 {
            candidates.push(RunConfig {
                minutes: c.minutes / 2.0,
                ..c.clone()
            });
        }
        let on: Vec<Feature> = o.swarm.on.iter().copied().collect();
        for f in on {
            let mut masked = c.masked.clone();
            masked.insert(f);
            candidates.push(RunConfig {
                masked,
                ..c.clone()
            });
        }
        let mut improved = false;
        for cand in candidates {
            if tries >= budget {
                return best;
            }
            tries += 1;
            match run(&cand) {
                Ok(r) if !r.ok() => {
                    best = (cand, r);
                    improved = true;
                    break;
                }
                _ => {}
            }
        }
        if !improved {
            return best;
        }
    }
}

/// Everything that explains a failing run: its counters, the checker's findings, the
/// simulator's own, and the trace.
pub fn explain(o: &RunOutcome, cfg: &RunConfig) -> String {
    let mut s = format!(
        "seed {} trace {:016x}: devices={} minutes={} swarm {}{}\n  {}\n  {}\n",
        o.seed,
        o.hash,
        cfg.devices,
        cfg.minutes,
        o.swarm,
        if cfg.masked.is_empty() {
            String::new()
        } else {
            let m: Vec<&str> = cfg.masked.iter().map(|f| f.name()).collect();
            format!(" (off: {})", m.join(","))
        },
        o.report.summary(1),
        o.inv.summary()
    );
    for d in &o.report.details {
        s.push_str(&format!("  [{}] {}\n", d.kind.label(), d.text));
    }
    for d in &o.inv.details {
        s.push_str(&format!("  [sim] {d}\n"));
    }
    s.push_str(&format!("  trace ({} lines):\n", o.trace.len()));
    for l in &o.trace {
        s.push_str("    ");
        s.push_str(l);
        s.push('\n');
    }
    s
}
