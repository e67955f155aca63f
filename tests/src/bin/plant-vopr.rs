//! `plant-vopr`: runs seeds of the deterministic plant simulator (see `zeues_tests::vopr`).
//!
//! ```text
//! plant-vopr --seeds 1..10000 [--devices 10] [--spools 200] [--minutes M] [--scenario NAME]
//!            [--seed-start random|N] [--count N] [--without F1,F2] [--jobs N] [--verbose]
//!            [--trace] [--no-shrink]
//! ```
//! `--verbose` keeps every Sheets and Redis call in the trace; `--trace` prints the trace of every
//! run, failing or not; `--without` never turns those features on (names as in `--scenario`).
//! Prints one summary line; for each failing seed (up to three), its trace hash, what failed and
//! the shortest trace that still fails. Exits 1 on any violation.

use std::io::Write;

use zeues_tests::vopr::runner::{default_work_dir, explain};
use zeues_tests::vopr::{shrink, sweep, Feature, Scenario, Sweep};

/// The simulated shift: 30 s of taps, faults and plant behaviours at compressed rates (each
/// enabled stream happens a few times), then the heal, drain and settle (about 1.5 simulated
/// minutes more). Short enough that CI's 2,000 seeds fit in five minutes on two cores.
const DEFAULT_MINUTES: f64 = 0.5;

struct Args {
    sweep: Sweep,
    shrink: bool,
    /// Print every run's trace, failing or not (for one seed).
    trace: bool,
}

fn usage() -> String {
    "uso: plant-vopr --seeds A..B [--seed-start random|N] [--count N] [--devices 10] [--spools 200] \
     [--minutes M] [--scenario NAME] [--without F1,F2] [--jobs 1] [--verbose] [--trace] [--no-shrink]"
        .into()
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--seeds: rango inválido '{s}' (p. ej. 1..10000)");
    if let Some((a, b)) = s.split_once("..=") {
        let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        return Ok((a, (b + 1).saturating_sub(a)));
    }
    if let Some((a, b)) = s.split_once("..") {
        let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        return Ok((a, b.saturating_sub(a)));
    }
    let a: u64 = s.parse().map_err(|_| bad())?;
    Ok((a, 1))
}

fn parse() -> Result<Args, String> {
    let mut sweep = Sweep {
        first: 1,
        count: 100,
        devices: 10,
        spools: 200,
        minutes: DEFAULT_MINUTES,
        scenario: Scenario::Swarm,
        verbose: false,
        jobs: 1,
        work_dir: default_work_dir(),
        without: Default::default(),
    };
    let mut shrink = true;
    let mut trace = false;
    let mut start: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{a}: falta el valor\n{}", usage()))
        };
        match a.as_str() {
            "--seeds" => (sweep.first, sweep.count) = parse_range(&value()?)?,
            "--seed-start" => start = Some(value()?),
            "--count" => sweep.count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--devices" => {
                sweep.devices = value()?.parse().map_err(|e| format!("--devices: {e}"))?
            }
            "--spools" => sweep.spools = value()?.parse().map_err(|e| format!("--spools: {e}"))?,
            "--minutes" => {
                sweep.minutes = value()?.parse().map_err(|e| format!("--minutes: {e}"))?
            }
            "--scenario" => sweep.scenario = Scenario::parse(&value()?)?,
            "--jobs" => sweep.jobs = value()?.parse().map_err(|e| format!("--jobs: {e}"))?,
            "--work-dir" => sweep.work_dir = value()?.into(),
            "--without" => {
                for name in value()?.split(',').filter(|n| !n.is_empty()) {
                    let f = Feature::parse(name).ok_or_else(|| format!("--without: '{name}'?"))?;
                    sweep.without.insert(f);
                }
            }
            "--verbose" => sweep.verbose = true,
            "--no-shrink" => shrink = false,
            "--trace" => trace = true,
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("argumento desconocido '{other}'\n{}", usage())),
        }
    }
    match start.as_deref() {
        None => {}
        Some("random") => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            // A start far from the small seeds the tests use, printed so the run can be replayed.
            sweep.first = 1_000_000 + (nanos % 1_000_000_000) as u64;
            println!("plant-vopr: seed-start {}", sweep.first);
        }
        Some(n) => sweep.first = n.parse().map_err(|e| format!("--seed-start: {e}"))?,
    }
    if sweep.devices == 0 || sweep.spools == 0 {
        return Err("--devices y --spools deben ser mayores que 0".into());
    }
    Ok(Args {
        sweep,
        shrink,
        trace,
    })
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // The engines' own log, for replaying one seed (RUST_LOG=zeues_sync=info): timestamps are
    // the simulated clock's, lines of every device interleaved.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let s = &args.sweep;
    eprintln!(
        "plant-vopr: seeds {}..{} devices={} spools={} minutes={} scenario={} without=[{}] jobs={}",
        s.first,
        s.first + s.count,
        s.devices,
        s.spools,
        s.minutes,
        s.scenario.name(),
        s.without
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        s.jobs
    );
    let mut done = 0u64;
    let summary = sweep(s, |o| {
        done += 1;
        if !o.ok() {
            eprintln!(
                "plant-vopr: seed {} FALLA (trace {:016x}): {} {}",
                o.seed,
                o.hash,
                o.report.summary(1),
                o.inv.summary()
            );
        } else if s.verbose {
            eprintln!("plant-vopr: seed {} ok (trace {:016x})", o.seed, o.hash);
        }
        if args.trace {
            eprintln!("{}", explain(o, &s.config(o.seed, 0)));
        }
        if done.is_multiple_of(500) {
            eprintln!("plant-vopr: {done} seeds");
        }
    });
    println!("{}", summary.line());
    for (seed, e) in &summary.errors {
        println!("plant-vopr: seed {seed} no pudo correr: {e}");
    }
    for failing in summary.failures.iter().take(3) {
        let cfg = s.config(failing.seed, 0);
        let (cfg, shrunk) = if args.shrink {
            shrink(&cfg, failing, 30)
        } else {
            (cfg, failing.clone())
        };
        println!(
            "plant-vopr: seed {} trace {:016x}",
            failing.seed, failing.hash
        );
        if !s.verbose {
            let mut text = explain(&shrunk, &cfg);
            if text.len() > 200_000 {
                text.truncate(200_000);
                text.push_str("\n  …\n");
            }
            println!("{text}");
        } else {
            println!("{}", explain(&shrunk, &cfg));
        }
    }
    if let Err(e) = std::io::stdout().flush() {
        eprintln!("plant-vopr: stdout: {e}");
    }
    if let Err(e) = std::fs::remove_dir_all(&s.work_dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!(
                "plant-vopr: no se pudo borrar {}: {e}",
                s.work_dir.display()
            );
        }
    }
    std::process::exit(if summary.ok() { 0 } else { 1 });
}
