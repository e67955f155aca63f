//! The deterministic simulator itself (issue 12 §3): a seed replays the same run (same trace
//! hash), a handful of seeds run clean through the independent checker, and every scenario runs.
//! Small fleets and short shifts keep this suite fast; `scripts/vopr.sh` runs thousands of seeds.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use zeues_tests::vopr::runner::{default_work_dir, explain};
use zeues_tests::vopr::{run, Feature, RunConfig, Scenario};

/// A column inserted or rows sorted while a device's write is in flight puts that write on the
/// wrong cells (a known product bug, reported with its seeds): this suite keeps it off so that it
/// stays a guard of the simulator; `plant-vopr` and `scripts/vopr.sh` run it.
fn known_bugs_off() -> BTreeSet<Feature> {
    BTreeSet::from([Feature::Layout])
}

/// A folder for the devices' databases, in memory when the machine has `/dev/shm`, removed with
/// the test.
fn work_dir() -> tempfile::TempDir {
    let base = default_work_dir();
    let parent = base.parent().unwrap_or(&base);
    tempfile::tempdir_in(parent).unwrap()
}

fn config(seed: u64, scenario: Scenario, dir: &Path) -> RunConfig {
    RunConfig {
        seed,
        devices: 4,
        spools: 60,
        minutes: 0.5,
        scenario,
        masked: known_bugs_off(),
        verbose: false,
        work_dir: dir.to_path_buf(),
    }
}

#[test]
fn a_seed_replays_the_same_run() {
    let dir = work_dir();
    for seed in [7, 8] {
        // Everything on, the known bug too: determinism does not depend on it.
        let cfg = RunConfig {
            masked: BTreeSet::new(),
            ..config(seed, Scenario::All, dir.path())
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
    let dir = work_dir();
    for seed in 1..=4 {
        let cfg = config(seed, Scenario::Swarm, dir.path());
        let o = run(&cfg).unwrap();
        assert!(o.ok(), "{}", explain(&o, &cfg));
        assert!(o.report.commands > 0, "seed {seed}: no tap acknowledged");
    }
}

#[test]
fn every_scenario_runs() {
    let dir = work_dir();
    for scenario in Scenario::each() {
        let mut cfg = config(11, scenario.clone(), dir.path());
        if scenario == Scenario::Only(Feature::Layout) {
            // Runs to the end; its findings are the known bug above.
            cfg.masked.clear();
            let o = run(&cfg).unwrap();
            assert!(o.report.commands > 0, "{}", explain(&o, &cfg));
            continue;
        }
        let o = run(&cfg).unwrap();
        assert!(
            o.ok(),
            "scenario {}:\n{}",
            scenario.name(),
            explain(&o, &cfg)
        );
    }
    // Sheets-only (no Redis) is not safe yet: it must run to the end; its findings are not
    // asserted until the single-writer lease is finished.
    let cfg = config(11, Scenario::SinRedis, dir.path());
    run(&cfg).unwrap();
}
