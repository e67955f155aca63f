//! Swarm testing: each seed chooses which faults and plant behaviours are on and how often
//! (Groce et al., ISSTA 2012: many narrow runs find more than everything-always-on). A scenario
//! pins the choice for debugging one behaviour alone.

use std::collections::BTreeSet;
use std::fmt;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A fault or behaviour a seed may turn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    /// Workers tap on other tablets than their own (TOMAR here, COMPLETAR there).
    Roam,
    /// Engineering edits the sheet while devices sync: new spools, values in their columns,
    /// materials arriving, dates typed as text.
    Engineering,
    /// Engineering moves things in the sheet: a column inserted before the app's, rows sorted.
    Layout,
    /// Supervisors force releases and override blocks while the occupant's device is cut off.
    Supervisor,
    /// The app launched a second time on a running device's data directory.
    SecondInstance,
    /// Device clocks up to ±5 minutes off.
    ClockSkew,
    /// Crashes at the engine's named failpoints.
    Failpoints,
    /// Crashes at any moment (`kill -9`).
    Aborts,
    /// A device loses Sheets, Redis or both for a while.
    Partitions,
    /// Redis restarts empty.
    RedisRestarts,
    /// Sheets answers 429, 503 (before or after committing), or its answer is lost.
    SheetsFaults,
    /// Sheets calls take time, before and after they land.
    Latency,
}

pub const FEATURES: [Feature; 12] = [
    Feature::Roam,
    Feature::Engineering,
    Feature::Layout,
    Feature::Supervisor,
    Feature::SecondInstance,
    Feature::ClockSkew,
    Feature::Failpoints,
    Feature::Aborts,
    Feature::Partitions,
    Feature::RedisRestarts,
    Feature::SheetsFaults,
    Feature::Latency,
];

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Roam => "roam",
            Feature::Engineering => "engineering",
            Feature::Layout => "layout",
            Feature::Supervisor => "supervisor",
            Feature::SecondInstance => "second-instance",
            Feature::ClockSkew => "clock-skew",
            Feature::Failpoints => "failpoints",
            Feature::Aborts => "aborts",
            Feature::Partitions => "partitions",
            Feature::RedisRestarts => "redis-restarts",
            Feature::SheetsFaults => "sheets-faults",
            Feature::Latency => "latency",
        }
    }

    pub fn parse(s: &str) -> Option<Feature> {
        FEATURES.into_iter().find(|f| f.name() == s)
    }
}

/// What a run turns on.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// Each seed draws its own mix (the default).
    Swarm,
    /// Every feature on.
    All,
    /// No fault and no special behaviour: workers tapping on their own tablets.
    Calm,
    /// One feature alone.
    Only(Feature),
    /// Devices without Redis (Sheets-only). NOT safe yet: the single-writer lease for plants
    /// without Redis is being built; off unless asked for by name.
    SinRedis,
}

impl Scenario {
    pub fn parse(s: &str) -> Result<Scenario, String> {
        match s {
            "swarm" => Ok(Scenario::Swarm),
            "all" => Ok(Scenario::All),
            "calm" => Ok(Scenario::Calm),
            "sin-redis" => Ok(Scenario::SinRedis),
            other => Feature::parse(other).map(Scenario::Only).ok_or_else(|| {
                let names: Vec<&str> = FEATURES.iter().map(|f| f.name()).collect();
                format!(
                    "escenario desconocido '{other}'; hay: swarm, all, calm, sin-redis, {}",
                    names.join(", ")
                )
            }),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Scenario::Swarm => "swarm".into(),
            Scenario::All => "all".into(),
            Scenario::Calm => "calm".into(),
            Scenario::Only(f) => f.name().into(),
            Scenario::SinRedis => "sin-redis".into(),
        }
    }

    /// Every scenario a test or a sweep may run one by one.
    pub fn each() -> Vec<Scenario> {
        let mut v = vec![Scenario::Calm, Scenario::All];
        v.extend(FEATURES.into_iter().map(Scenario::Only));
        v
    }
}

/// Sheets API faults, as probabilities per call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SheetsFaults {
    /// 429: nothing applied.
    pub quota: f64,
    /// 503 before committing: nothing applied.
    pub unavailable: f64,
    /// 503 after committing: applied, reported unknown.
    pub after_commit: f64,
    /// The answer lost after committing (a timeout): applied, reported unknown.
    pub lost: f64,
    /// Unknown outcome of a write that did not land (the connection dropped on the way).
    pub unknown_not_applied: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Share of calls that are slow.
    pub p: f64,
    /// Longest time before the call lands (the network's share; stays well under the gap
    /// between the engine's write deadline and Redis' row settle).
    pub max_pre_ms: u64,
    /// Longest time between landing and the answer arriving.
    pub max_post_ms: u64,
}

/// The mix one seed runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Swarm {
    pub on: BTreeSet<Feature>,
    pub sin_redis: bool,
    /// Share of taps a worker makes away from their home tablet.
    pub roam: f64,
    pub engineering_per_min: f64,
    pub layout_per_min: f64,
    pub supervisor_per_min: f64,
    pub second_instance_per_min: f64,
    pub max_skew_ms: i64,
    /// Chance a device dies at a failpoint it reaches.
    pub failpoint_p: f64,
    pub aborts_per_min: f64,
    pub partitions_per_min: f64,
    pub redis_restarts_per_min: f64,
    pub sheets: SheetsFaults,
    pub latency: Latency,
    /// Time between two taps on one tablet (uniform, ms).
    pub tap_ms: (u64, u64),
}

fn unit(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    rng.gen_range(lo..hi)
}

impl Swarm {
    /// Draws the mix. The draws are the same whatever the scenario, so `--scenario` only
    /// masks what the seed would otherwise do.
    pub fn draw(rng: &mut ChaCha8Rng, scenario: &Scenario) -> Swarm {
        let coin: Vec<bool> = FEATURES.iter().map(|_| rng.gen_bool(0.5)).collect();
        let mut s = Swarm {
            on: BTreeSet::new(),
            sin_redis: matches!(scenario, Scenario::SinRedis),
            roam: unit(rng, 0.1, 0.6),
            // Rates are per simulated minute of a compressed shift (the default shift is short,
            // so each enabled stream still happens a few times per seed).
            engineering_per_min: unit(rng, 1.0, 8.0),
            layout_per_min: unit(rng, 0.3, 2.0),
            supervisor_per_min: unit(rng, 1.0, 4.0),
            second_instance_per_min: unit(rng, 0.5, 3.0),
            max_skew_ms: 5 * 60_000,
            failpoint_p: unit(rng, 0.01, 0.08),
            aborts_per_min: unit(rng, 0.5, 4.0),
            partitions_per_min: unit(rng, 1.0, 6.0),
            redis_restarts_per_min: unit(rng, 0.3, 2.0),
            sheets: SheetsFaults {
                quota: unit(rng, 0.0, 0.08),
                unavailable: unit(rng, 0.0, 0.05),
                after_commit: unit(rng, 0.0, 0.05),
                lost: unit(rng, 0.0, 0.04),
                unknown_not_applied: unit(rng, 0.0, 0.03),
            },
            latency: Latency {
                p: unit(rng, 0.1, 0.6),
                max_pre_ms: rng.gen_range(50..3_000),
                max_post_ms: rng.gen_range(50..4_000),
            },
            // From a shift-start rush (a tap every few seconds on every tablet) to a quiet hour.
            tap_ms: {
                let lo = rng.gen_range(2_000..20_000);
                (lo, lo + rng.gen_range(5_000..40_000))
            },
        };
        for (f, c) in FEATURES.iter().zip(coin) {
            let on = match scenario {
                Scenario::Swarm => c,
                Scenario::All => true,
                Scenario::Calm | Scenario::SinRedis => false,
                Scenario::Only(only) => only == f,
            };
            if on {
                s.on.insert(*f);
            }
        }
        s
    }

    pub fn has(&self, f: Feature) -> bool {
        self.on.contains(&f)
    }

    pub fn without(&self, f: Feature) -> Swarm {
        let mut s = self.clone();
        s.on.remove(&f);
        s
    }
}

impl fmt::Display for Swarm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on: Vec<&str> = self.on.iter().map(|x| x.name()).collect();
        write!(
            f,
            "[{}]{} taps every {}-{} ms",
            on.join(","),
            if self.sin_redis { " sin-redis" } else { "" },
            self.tap_ms.0,
            self.tap_ms.1
        )
    }
}
