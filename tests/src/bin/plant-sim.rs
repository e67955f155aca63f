//! `plant-sim --devices N --spools S --minutes M --seed X [--chaos] [--scenario NAME[,NAME]]
//! [--dir D]`: runs a simulated plant (see `zeues_tests::plant`) and prints one summary line;
//! exits non-zero on any violation. `--chaos` turns on the faults and every plant behaviour;
//! `--scenario` runs only the named behaviours (roaming, ingenieria, supervisor, sin-redis,
//! segunda-instancia, reloj), without faults unless `--chaos` is given too.
//! `plant-sim device <json>` is one device (started by the simulator itself).

use std::process::ExitCode;
use std::time::Duration;

use zeues_tests::plant::device::{self, DeviceError, SimDevice};
use zeues_tests::plant::sim::{self, Behaviour, SimArgs, BEHAVIOURS};

fn usage() -> ExitCode {
    let names: Vec<&str> = BEHAVIOURS.iter().map(|b| b.name()).collect();
    eprintln!("uso: plant-sim --devices N --spools S --minutes M --seed X [--chaos] [--scenario NOMBRE[,NOMBRE]] [--dir DIR] [--drain-timeout SEG]");
    eprintln!("escenarios: {}", names.join(", "));
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("plant-sim: tokio: {e}");
            return ExitCode::from(2);
        }
    };
    if matches!(args.first().map(String::as_str), Some("device" | "tap")) {
        // The engine's own logs (warnings and up unless RUST_LOG says otherwise) go to the
        // device's log file through stderr.
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    if args.first().map(String::as_str) == Some("device") {
        let Some(json) = args.get(1) else {
            return usage();
        };
        let dev: SimDevice = match serde_json::from_str(json) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("plant-sim device: argumentos: {e}");
                return ExitCode::from(2);
            }
        };
        return match rt.block_on(device::run(dev.args, dev.plan)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plant-sim device: {e}");
                ExitCode::from(match e {
                    DeviceError::Refused(_) => device::REFUSED,
                    DeviceError::ProbeRan => device::PROBE_RAN,
                    DeviceError::Failed(_) => 1,
                })
            }
        };
    }
    if args.first().map(String::as_str) == Some("tap") {
        let Some(json) = args.get(1) else {
            return usage();
        };
        let targs: device::TapArgs = match serde_json::from_str(json) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("plant-sim tap: argumentos: {e}");
                return ExitCode::from(2);
            }
        };
        return match rt.block_on(device::tap(targs)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plant-sim tap: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut sim = SimArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--devices" => sim.devices = val().parse().unwrap_or(0),
            "--spools" => sim.spools = val().parse().unwrap_or(0),
            "--minutes" => sim.minutes = val().parse().unwrap_or(0.0),
            "--seed" => sim.seed = val().parse().unwrap_or(0),
            "--chaos" => sim.chaos = true,
            "--scenario" => {
                let mut list = Vec::new();
                for name in val().split(',') {
                    match Behaviour::parse(name.trim()) {
                        Some(b) => list.push(b),
                        None => return usage(),
                    }
                }
                sim.scenario = Some(list);
            }
            "--dir" => sim.dir = Some(val().into()),
            "--drain-timeout" => {
                sim.drain_timeout = Duration::from_secs(val().parse().unwrap_or(600))
            }
            _ => return usage(),
        }
    }
    if sim.devices == 0 || sim.spools == 0 || sim.minutes <= 0.0 {
        return usage();
    }
    let seed = sim.seed;
    match rt.block_on(sim::run(sim)) {
        Ok(report) => {
            for d in &report.details {
                eprintln!("violación: {d}");
            }
            for d in &report.checker.details {
                eprintln!("violación [{}]: {}", d.kind.label(), d.text);
            }
            for d in &report.checker.note_details {
                eprintln!("nota: {}", d.text);
            }
            println!("seed={seed} {}", report.summary());
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("plant-sim: {e} (seed={seed})");
            ExitCode::from(2)
        }
    }
}
