//! `plant-vopr`: the deterministic plant simulator (issue 12 §3). Every device's real engine and
//! store (the product's code, unchanged) run in one process, on one thread, on tokio's paused
//! clock, against an in-memory workbook that keeps the Google Sheets contract ([`workbook`]) and
//! a Redis with the real coordinator's contracts ([`redis`]); workers, Engineering, supervisors
//! and faults act on a schedule drawn from one seeded generator ([`driver`]), so a seed is a
//! replayable schedule with a trace hash. Each run ends with the independent checker
//! (`zeues-checker`) and the simulator's own invariants; [`runner`] sweeps seed ranges, in
//! parallel jobs, and shrinks a failing seed to its shortest failing trace.
//!
//! It never changes what the product does: the simulation enters only through the product's
//! seams (ports, `Clock`, the id source, `EngineConfig::jitter_seed`, failpoints,
//! `Zeues::abort`, `Store::open_as`, and the engine's `select!`s being `biased`, so that a tie
//! is broken the same way on every run). Three shortcuts are the simulator's, none in the
//! product: devices are installed before the shift with the product's own `load_snapshot`
//! (`Zeues::start`'s first load blocks a thread on the runtime, which cannot drive a paused
//! single-threaded one); the supervisor PIN is stored as a cheap argon2 hash (verified by the
//! product with the parameters it names); SQLite keeps query plans stable ([`sqlite`]).
//!
//! Run it with `cargo run -p zeues-tests --bin plant-vopr -- --seeds 1..1000`; CI runs
//! `scripts/vopr.sh`. A failing seed replays with `--seeds N..N+1 --trace` (add `--verbose` for
//! every Sheets and Redis call).

pub mod book;
pub mod clock;
pub mod device;
pub mod driver;
pub mod engineering;
pub mod failpoints;
pub mod redis;
pub mod runner;
pub mod sqlite;
pub mod swarm;
pub mod trace;
pub mod workbook;
pub mod workers;
pub mod world;

pub use driver::{run, RunConfig, RunOutcome};
pub use runner::{shrink, sweep, Summary, Sweep};
pub use swarm::{Feature, Scenario};
