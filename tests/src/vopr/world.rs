//! Everything the simulated plant shares: the seeded generator that every choice is drawn
//! from, the trace, the spreadsheet, the network (who is cut off), Google's per-minute quota,
//! the current Redis server, and the run's counters. One thread runs a seed, so the locks here
//! are never contended; they exist because the engine's ports must be `Send + Sync`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::book::Book;
use super::redis::{RedisInstance, RedisModel};
use super::swarm::Swarm;
use super::trace::Trace;

/// Google's own limit per service account: 60 reads and 60 writes per minute.
pub const GOOGLE_PER_MINUTE: usize = 60;

/// Calls that reached Google in the last minute, per kind.
#[derive(Debug, Default)]
pub struct GoogleQuota {
    reads: VecDeque<Instant>,
    writes: VecDeque<Instant>,
    pub max_reads: usize,
    pub max_writes: usize,
    pub refused_reads: u64,
    pub refused_writes: u64,
}

impl GoogleQuota {
    /// Whether Google accepts one more call of this kind now (else it answers 429).
    pub fn admit(&mut self, write: bool, now: Instant) -> bool {
        let (q, max, refused) = if write {
            (
                &mut self.writes,
                &mut self.max_writes,
                &mut self.refused_writes,
            )
        } else {
            (
                &mut self.reads,
                &mut self.max_reads,
                &mut self.refused_reads,
            )
        };
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(60))
        {
            q.pop_front();
        }
        if q.len() >= GOOGLE_PER_MINUTE {
            *refused += 1;
            return false;
        }
        q.push_back(now);
        *max = (*max).max(q.len());
        true
    }
}

/// What happened in a run (not violations).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub counts: BTreeMap<&'static str, u64>,
}

impl Stats {
    pub fn add(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    pub fn get(&self, what: &str) -> u64 {
        self.counts.get(what).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, other: &Stats) {
        for (k, v) in &other.counts {
            *self.counts.entry(k).or_default() += v;
        }
    }
}

/// Violations the simulator finds itself, as it goes (the checker finds the rest at the end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invariants {
    /// A write that replaced one occupant with another in `Ocupado_Por` (two holders of one
    /// spool, one silently dropped).
    pub double_holder: u64,
    /// Not a violation: a write that landed on another spool's row than the ones its audit rows
    /// name (a person sorted rows or inserted a column while it was in flight), or the
    /// engine's repair of one. Its outcome is judged by the checker's final state.
    pub moved_writes: u64,
    /// An acknowledged tap missing from its device's outbox.
    pub outbox_lost: u64,
    /// A second instance opened a running device's data directory.
    pub second_instance: u64,
    /// An outbox that never drained after every fault healed.
    pub stuck: u64,
    /// A device that could not start (or restart) from its database.
    pub start_failed: u64,
    pub details: Vec<String>,
}

impl Invariants {
    pub fn total(&self) -> u64 {
        self.double_holder
            + self.outbox_lost
            + self.second_instance
            + self.stuck
            + self.start_failed
    }

    pub fn note(&mut self, detail: String) {
        if self.details.len() < 20 {
            self.details.push(detail);
        }
    }

    pub fn merge(&mut self, o: &Invariants) {
        self.double_holder += o.double_holder;
        self.moved_writes += o.moved_writes;
        self.outbox_lost += o.outbox_lost;
        self.second_instance += o.second_instance;
        self.stuck += o.stuck;
        self.start_failed += o.start_failed;
        for d in &o.details {
            self.note(d.clone());
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "double_holder={} outbox_lost={} second_instance={} stuck={} start_failed={} moved_writes={}",
            self.double_holder,
            self.outbox_lost,
            self.second_instance,
            self.stuck,
            self.start_failed,
            self.moved_writes
        )
    }
}

pub struct World {
    pub rng: ChaCha8Rng,
    pub trace: Trace,
    pub book: Book,
    pub swarm: Swarm,
    /// Faults are drawn only during the shift (off while devices are installed and while they
    /// drain at the end).
    pub faults_on: bool,
    /// Google's per-minute quota is counted from the shift's start.
    pub quota_on: bool,
    pub sheets_cut: BTreeSet<usize>,
    pub redis_cut: BTreeSet<usize>,
    pub google: GoogleQuota,
    pub stats: Stats,
    pub inv: Invariants,
}

pub struct Sim {
    world: Mutex<World>,
    redis: Mutex<(Arc<RedisInstance>, u64)>,
    pub origin: Instant,
    /// Redis server time at the origin (ms since the epoch).
    pub base_ms: u64,
    pub row_settle: Duration,
}

impl Sim {
    pub fn new(world: World, origin: Instant, base_ms: u64, row_settle: Duration) -> Sim {
        let redis = RedisInstance::new(RedisModel::new(origin, base_ms, row_settle, true));
        Sim {
            world: Mutex::new(world),
            redis: Mutex::new((Arc::new(redis), 0)),
            origin,
            base_ms,
            row_settle,
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.world())
    }

    /// The Redis server running now and its generation (bumped by every restart).
    pub fn redis(&self) -> (Arc<RedisInstance>, u64) {
        let r = self.redis.lock().unwrap_or_else(|p| p.into_inner());
        (r.0.clone(), r.1)
    }

    /// Redis restarts with no data; every connection to the old one is cut.
    pub fn restart_redis(&self) {
        let fresh = Arc::new(RedisInstance::new(RedisModel::new(
            self.origin,
            self.base_ms,
            self.row_settle,
            false,
        )));
        let old = {
            let mut r = self.redis.lock().unwrap_or_else(|p| p.into_inner());
            let old = r.0.clone();
            *r = (fresh, r.1 + 1);
            old
        };
        old.shut_down();
    }

    pub fn redis_cut(&self, device: usize) -> bool {
        self.world().redis_cut.contains(&device)
    }

    pub fn sheets_cut(&self, device: usize) -> bool {
        self.world().sheets_cut.contains(&device)
    }

    pub fn event(&self, what: std::fmt::Arguments<'_>) {
        self.world().trace.event(what);
    }

    pub fn detail(&self, what: std::fmt::Arguments<'_>) {
        self.world().trace.detail(what);
    }

    pub fn stat(&self, what: &'static str) {
        self.world().stats.add(what);
    }
}
