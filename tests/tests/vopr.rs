//! The deterministic simulator itself (issue 12 §3): a seed replays the same run (same trace
//! hash), a handful of seeds run clean through the independent checker, and every scenario runs.
//! Small fleets and short shifts keep this suite fast; `scripts/vopr.sh` runs thousands of seeds.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use zeues_tests::vopr::runner::{default_work_dir, explain};
use zeues_tests::vopr::{run, Feature, RunConfig, Scenario};

/// A column inserted or rows sorted while a device's write is in flight puts that write on
/// the wrong cells (known product bug, reported with its seeds): the simulator's own suite keeps
/// it off so it stays a guard of the simulator; `plant-vopr` and `scripts/vopr.sh` run it.
fn known_bugs_off() -> BTreeSet<Feature> {
    BTreeSet::from([Feature::Layout])
}

fn config(seed: u64, scenario: Scenario, dir: &str) -> RunConfig {
    RunConfig {
        seed,
        devices: 4,
        spools: 60,
        minutes: 0.5,
        scenario,
        masked: known_bugs_off(),
        verbose: false,
        work_dir: default_work_dir().join(dir),
    }
}

#[test]
fn a_seed_replays_the_same_run() {
    for seed in [7, 8] {
        // Everything on, the known bug too: determinism does not depend on it.
        let cfg = RunConfig {
            masked: BTreeSet::new(),
            ..config(seed, Scenario::All, "determinism")
        };
        let a = run(&cfg).unwrap();
        let b = run(&cfg).unwrap();
        assert_eq!(
            a.hash,
            b.hash,
            "seed {seed} gave two different runs:\n{}\n{}",
            explain(&a, &cfg),
            explain(&b, &cfg)
        );
        assert!(a.events > 50, "seed {seed}: only {} events", a.events);
    }
}

#[test]
fn a_handful_of_seeds_run_clean() {
    for seed in 1..=4 {
        let cfg = config(seed, Scenario::Swarm, "clean");
        let o = run(&cfg).unwrap();
        assert!(o.ok(), "{}", explain(&o, &cfg));
        assert!(o.report.commands > 0, "seed {seed}: no tap acknowledged");
    }
}

#[test]
fn every_scenario_runs() {
    for scenario in Scenario::each() {
        let cfg = config(11, scenario.clone(), "scenarios");
        let o = run(&cfg).unwrap();
        assert!(
            o.ok(),
            "scenario {}:\n{}",
            scenario.name(),
            explain(&o, &cfg)
        );
    }
    // Sheets-only (no Redis) is not safe yet: it must run to the end; its findings are not
    // asserted until the single-writer lease lands.
    let cfg = config(11, Scenario::SinRedis, "sin-redis");
    run(&cfg).unwrap();
}
