//! PRODUCCIÓN tab cost from a large audit log (issue 15: ≤ 300 ms from 100,000 rows): the
//! figures (`zeues_sync::domain::produccion`) and the four plotters SVG charts, as the tab
//! makes them. Natively here; the window's figure (wasm, debug backend, IPC included) is in
//! `target/e2e-metrics.json` (`produccion_tab_ms`).
//!
//! `cargo bench -p zeues-ui --bench produccion` prints a markdown table for BENCHMARKS.md.
//! `ROWS=n` (default 100000), `RUNS=n` (default 15).

use std::time::Instant;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use zeues_sync::domain::audit::{AuditEvent, EventType};
use zeues_sync::domain::produccion::produccion;
use zeues_ui::charts;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A plant's log: spools go ARM (a pause on one in three), SOLD, metrología (one in five
/// rejected, repaired, inspected again), spread over the last 60 days.
fn log(rows: usize, now: NaiveDateTime) -> Vec<AuditEvent> {
    let mut out = Vec::with_capacity(rows + 16);
    let mut spool = 0usize;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    while out.len() < rows {
        let tag = format!("MK-{:06}", spool);
        spool += 1;
        let mut t = now - Duration::minutes(next(60 * 24 * 60) as i64);
        let mut push = |t: NaiveDateTime, e: EventType, op: &str, meta: serde_json::Value| {
            out.push(AuditEvent {
                id: format!("{tag}-{}", out.len()),
                timestamp: t,
                event_type: e,
                tag: tag.clone(),
                worker_id: 93,
                worker_nombre: "MR(93)".into(),
                operacion: op.into(),
                accion: String::new(),
                fecha_operacion: t.date(),
                metadata: meta,
            });
        };
        let step = |t: &mut NaiveDateTime, mins: u64| {
            *t += Duration::minutes(mins as i64);
            *t
        };
        let null = serde_json::Value::Null;
        push(step(&mut t, 1), EventType::TomarSpool, "ARM", null.clone());
        if next(3) == 0 {
            push(
                step(&mut t, 20 + next(60)),
                EventType::PausarSpool,
                "ARM",
                null.clone(),
            );
            push(step(&mut t, 30), EventType::TomarSpool, "ARM", null.clone());
        }
        push(
            step(&mut t, 30 + next(120)),
            EventType::CompletarArm,
            "ARM",
            null.clone(),
        );
        push(
            step(&mut t, 60),
            EventType::TomarSpool,
            "SOLD",
            null.clone(),
        );
        push(
            step(&mut t, 45 + next(180)),
            EventType::CompletarSold,
            "SOLD",
            null.clone(),
        );
        if next(5) == 0 {
            push(
                step(&mut t, 30),
                EventType::CompletarMetrologia,
                "METROLOGIA",
                serde_json::json!({"resultado": "RECHAZADO", "origen": "SOLD", "ciclo": 1}),
            );
            push(
                step(&mut t, 30),
                EventType::TomarReparacion,
                "REPARACION",
                null.clone(),
            );
            push(
                step(&mut t, 20 + next(90)),
                EventType::CompletarReparacion,
                "REPARACION",
                null.clone(),
            );
        }
        push(
            step(&mut t, 30),
            EventType::CompletarMetrologia,
            "METROLOGIA",
            serde_json::json!({"resultado": "APROBADO"}),
        );
    }
    out.truncate(rows);
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rows = env("ROWS", 100_000);
    let runs = env("RUNS", 15).max(1);
    let now = NaiveDate::from_ymd_opt(2026, 12, 3)
        .and_then(|d| d.and_hms_opt(14, 0, 0))
        .expect("a valid date");
    let events = log(rows, now);
    // The tab's source: the device database's copy of the plant's log, read as
    // `Zeues::produccion` reads it, and the figures' JSON across IPC.
    let dir = std::env::temp_dir().join(format!("zeues-bench-produccion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let (store, _) =
        zeues_sync::store::Store::open(&dir.join("bench.db")).expect("the bench database");
    store.record_plant_events(&events).expect("the log stored");
    let (mut reads, mut ipc) = (Vec::new(), Vec::new());
    let (mut figures, mut svgs, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..runs {
        let r0 = Instant::now();
        let read: Vec<AuditEvent> = store.plant_log_for_reports().expect("the log read");
        assert_eq!(read.len(), rows);
        let t0 = Instant::now();
        let p = produccion(&read, now);
        let j0 = Instant::now();
        let json = serde_json::to_string(&p).expect("json");
        let _: zeues_sync::domain::produccion::Produccion =
            serde_json::from_str(&json).expect("json back");
        let t1 = Instant::now();
        let drawn = [
            charts::completados(&p),
            charts::en_curso(&p),
            charts::tiempos(&p),
            charts::rechazo(&p),
        ];
        let t2 = Instant::now();
        bytes = drawn.iter().map(String::len).sum::<usize>();
        reads.push((t0 - r0).as_secs_f64() * 1e3);
        figures.push((j0 - t0).as_secs_f64() * 1e3);
        ipc.push((t1 - j0).as_secs_f64() * 1e3);
        svgs.push((t2 - t1).as_secs_f64() * 1e3);
        total.push((t2 - r0).as_secs_f64() * 1e3);
    }
    drop(store);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("could not remove {}: {e}", dir.display());
    }
    println!("PRODUCCIÓN tab, {rows} audit rows, median of {runs} runs (native, release):\n");
    println!("| step | ms |");
    println!("|---|---:|");
    println!("| read the log from SQLite | {:.1} |", median(&mut reads));
    println!("| figures (produccion) | {:.1} |", median(&mut figures));
    println!(
        "| figures as JSON and back (IPC) | {:.2} |",
        median(&mut ipc)
    );
    println!(
        "| 4 SVG charts (plotters, {} KiB) | {:.1} |",
        bytes / 1024,
        median(&mut svgs)
    );
    println!("| total | {:.1} |", median(&mut total));
}
