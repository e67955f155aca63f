//! Latency of a local TOMAR through the public `zeues-sync` API: validation against the replica
//! plus one durable SQLite transaction (replica change + outbox append, WAL, synchronous=FULL).
//!
//! `cargo bench -p zeues-sync --bench local_action` prints p50/p99 at 2,500 and 100,000 spools.
//! `SAMPLES=n` changes the number of taps per size (default 2,000).

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use zeues_sync::domain::{Intent, Operacion, Spool};
use zeues_sync::store::{LocalAction, Store};

fn spools(n: usize) -> Vec<Spool> {
    (0..n)
        .map(|i| Spool {
            tag: format!("MK-{:06}", i),
            row: i as u32 + 2,
            nv: format!("{}", 1300 + i / 60),
            fecha_materiales: NaiveDate::from_ymd_opt(2026, 1, 1),
            version: "0".into(),
            ..Spool::default()
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn run(size: usize, samples: usize) -> Result<(f64, f64, f64, f64), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (store, _) = Store::open(&dir.path().join("zeues.db"))?;
    store.replace_workers(&zeues_sync::demo::workers())?;
    let all = spools(size);
    for chunk in all.chunks(10_000) {
        store.upsert_plant_rows(chunk)?;
    }
    let mut ids = 0u64;
    let mut next_id = || {
        ids += 1;
        format!("00000000-0000-4000-8000-{ids:012}")
    };
    let step = (size / samples).max(1);
    let mut lat = Vec::with_capacity(samples);
    for i in 0..samples {
        let tags = vec![all[(i * step) % size].tag.clone()];
        let action = LocalAction {
            worker_id: 93,
            intent: Intent::Tomar(Operacion::Arm),
            tags: &tags,
            supervisor_verified: false,
            now: Utc::now(),
            reapplied: None,
        };
        let t = Instant::now();
        let out = store.execute(&action, &mut next_id)?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some((tag, Err(e))) = out.first() {
            return Err(format!("TOMAR {tag} falló: {e}").into());
        }
    }
    lat.sort_by(f64::total_cmp);
    let mean = lat.iter().sum::<f64>() / lat.len() as f64;
    Ok((
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        mean,
        *lat.last().unwrap_or(&0.0),
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; ignore arguments.
    let samples: usize = std::env::var("SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    println!(
        "local TOMAR through zeues_sync::store::Store::execute (validation + 1 durable SQLite tx)"
    );
    println!(
        "{:>9} | {:>7} | {:>8} | {:>8} | {:>8} | {:>8}",
        "spools", "samples", "p50 ms", "p99 ms", "mean ms", "max ms"
    );
    println!("{}", "-".repeat(64));
    for size in [2_500usize, 100_000] {
        let (p50, p99, mean, max) = run(size, samples)?;
        println!("{size:>9} | {samples:>7} | {p50:>8.3} | {p99:>8.3} | {mean:>8.3} | {max:>8.3}");
    }
    Ok(())
}
