//! Sync engine benchmarks (issue 5), on a real redis-server and the Sheets emulator with
//! Google's quotas on, devices being real plant-mode `Zeues` instances in this process:
//!
//! - `memory`: engine + replica memory at 100,000 spools (RSS of a standalone device);
//! - `propagation`: device A's TOMAR → device B's replica shows it (p50/p95);
//! - `backlog`: a device offline for a shift with 500 queued commands reconnects with 300 ms per
//!   Sheets call: time to drain and Sheets calls used;
//! - `burst`: shift start, 50 devices × TOMAR within one minute: visible on every device, the
//!   Sheets write rate, time until the sheet holds all 50, calls per command.
//!
//! - `new_rows`: Engineering appends spools to the sheet while a fleet taps: time until every
//!   tablet shows each new row (the leader's import, on the fair shared read budget).
//!
//! `cargo bench -p zeues-tests --bench sync [-- memory|propagation|backlog|burst|new_rows ...]`
//! (`SAMPLES`, `DEVICES` change the sizes). Prints markdown tables for BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use zeues_sync::api::{ActionRequest, ForAction, SpoolQuery};
use zeues_sync::domain::{Intent, Operacion};
use zeues_sync::service::{SystemClock, Zeues};
use zeues_tests::chaos::Mode;
use zeues_tests::emulator::{Fault, FaultRule, QuotaConfig};
use zeues_tests::plant::rig::PlantRig;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn free_arm(z: &Zeues, worker: u32, n: usize) -> Fallible<Vec<String>> {
    Ok(z.spools(&SpoolQuery {
        for_action: Some(ForAction {
            worker_id: worker,
            intent: Intent::Tomar(Operacion::Arm),
        }),
        limit: Some(n),
        ..SpoolQuery::default()
    })?
    .spools
    .into_iter()
    .map(|s| s.tag)
    .collect())
}

fn tomar(z: &Zeues, worker: u32, tags: Vec<String>) -> Fallible<()> {
    let out = z.execute(ActionRequest {
        worker_id: worker,
        intent: Intent::Tomar(Operacion::Arm),
        tags,
        supervisor_pin: None,
    })?;
    if out.succeeded() != out.results.len() {
        return Err(format!("TOMAR local refused: {}", out.summary).into());
    }
    Ok(())
}

async fn drained(z: &Zeues, limit: Duration) -> Fallible<Duration> {
    let t0 = Instant::now();
    loop {
        if z.store().counts()?.0 == 0 {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > limit {
            return Err("the outbox did not drain in time".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn memory() -> Fallible<()> {
    println!("\n### Engine memory at 100,000 spools\n");
    let dir = tempfile::tempdir()?;
    let before = rss_kib();
    let wb = zeues_sync::ports::LocalWorkbook::open(&dir.path().join("planta-demo.db"))?;
    zeues_sync::demo::seed(&wb, chrono::Utc::now(), 7, 100_000)?;
    drop(wb);
    let seeded = rss_kib();
    let t0 = Instant::now();
    let handle = tokio::runtime::Handle::current();
    let path = dir.path().to_path_buf();
    let (z, _) = tokio::task::spawn_blocking(move || {
        Zeues::open_standalone(&path, Arc::new(SystemClock), handle)
    })
    .await??;
    let opened = t0.elapsed();
    let loaded = rss_kib();
    let tags = free_arm(&z, 93, 1)?;
    tomar(&z, 93, tags)?;
    drained(&z, Duration::from_secs(60)).await?;
    let after = rss_kib();
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| process RSS before | {} MiB |", before / 1024);
    println!(
        "| after seeding the embedded workbook (100,000 rows) | {} MiB |",
        seeded / 1024
    );
    println!(
        "| after opening the device (replica loaded, engine running) | {} MiB |",
        loaded / 1024
    );
    println!("| after one TOMAR synced | {} MiB |", after / 1024);
    println!(
        "| engine + replica (opened − seeded) | {} MiB |",
        loaded.saturating_sub(seeded) / 1024
    );
    println!(
        "| first open (snapshot of 100,000 rows into the replica) | {:.1} s |",
        opened.as_secs_f64()
    );
    z.shutdown();
    Ok(())
}

async fn propagation(samples: usize) -> Fallible<()> {
    println!("\n### A→B propagation (device A taps TOMAR → device B's replica shows it)\n");
    let rig = PlantRig::start(1_000, 3, true).await?;
    let route = rig.direct();
    let a = rig.device("a", &route).await?;
    let b = rig.device("b", &route).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tags = free_arm(&a, 93, samples)?;
    let mut lat = Vec::new();
    for tag in tags {
        let t0 = Instant::now();
        tomar(&a, 93, vec![tag.clone()])?;
        loop {
            if b.spool(&tag)?.ocupado_por.as_deref() == Some("MR(93)") {
                break;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                return Err(format!("{tag} never reached device B").into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lat.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(rand::thread_rng().gen_range(50..300))).await;
    }
    let landed = drained(&a, Duration::from_secs(300)).await?;
    lat.sort();
    println!("| samples | p50 ms | p95 ms | max ms | A's outbox drained after the last tap |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {:.1} | {:.1} | {:.1} | {:.1} s |",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.95),
        pct(&lat, 1.0),
        landed.as_secs_f64()
    );
    a.shutdown();
    b.shutdown();
    Ok(())
}

fn api_calls(counts: &BTreeMap<String, u64>) -> (u64, u64) {
    let reads = [
        "spreadsheets.get",
        "spreadsheets.values.get",
        "spreadsheets.values.batchGet",
    ];
    let r = counts
        .iter()
        .filter(|(k, _)| reads.contains(&k.as_str()))
        .map(|(_, v)| v)
        .sum();
    let w = counts
        .iter()
        .filter(|(k, _)| !reads.contains(&k.as_str()) && k.as_str() != "oauth2.token")
        .map(|(_, v)| v)
        .sum();
    (r, w)
}

async fn backlog(commands: usize) -> Fallible<()> {
    println!("\n### Backlog: {commands} commands queued offline, then reconnect (300 ms per Sheets call, quotas on)\n");
    let rig = PlantRig::start(2_500, 4, true).await?;
    let (sheets, redis, route) = rig.proxies().await?;
    let a = rig.device("offline", &route).await?;
    sheets.set(Mode::Cut);
    redis.set(Mode::Cut);
    let half = commands / 2;
    let tags = free_arm(&a, 93, half)?;
    for chunk in tags.chunks(10) {
        tomar(&a, 93, chunk.to_vec())?;
    }
    for chunk in tags.chunks(10) {
        let out = a.execute(ActionRequest {
            worker_id: 93,
            intent: Intent::Completar(Operacion::Arm),
            tags: chunk.to_vec(),
            supervisor_pin: None,
        })?;
        if out.succeeded() != chunk.len() {
            return Err(format!("COMPLETAR local refused: {}", out.summary).into());
        }
    }
    let queued = a.store().counts()?.0;
    rig.emu
        .add_fault(FaultRule::new(None, Fault::Latency { ms: 300 }).times(None));
    rig.emu.reset_counts();
    sheets.set(Mode::Pass);
    redis.set(Mode::Pass);
    let took = drained(&a, Duration::from_secs(600)).await?;
    let (r, w) = api_calls(&rig.emu.counts());
    println!("| queued | time to drain | Sheets reads | Sheets writes | calls per command |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {queued} | {:.1} s | {r} | {w} | {:.3} |",
        took.as_secs_f64(),
        (r + w) as f64 / f64::from(queued.max(1))
    );
    a.shutdown();
    Ok(())
}

async fn burst(devices: usize) -> Fallible<()> {
    println!("\n### Shift-start burst: {devices} devices × TOMAR within one minute (quotas on)\n");
    let rig = PlantRig::start(2_500, 5, false).await?;
    let route = rig.direct();
    // A shift start is tablets that already hold the plant: their first-ever load of the
    // sheet (paced by the read budget: minutes for 50 fresh devices) is not part of the burst,
    // so the fleet is set up on a read bucket filled by hand, emptied before the first tap.
    let read_bucket = format!(
        "zeues:quota:{{{}}}:read",
        zeues_tests::plant::SERVICE_ACCOUNT
    );
    rig.redis.command(&[
        "HSET",
        &read_bucket,
        "tokens",
        "100000",
        "ts",
        "99999999999999",
    ])?;
    let mut fleet = Vec::new();
    for i in 0..devices {
        fleet.push(rig.device(&format!("d{i:02}"), &route).await?);
    }
    // Everyone is up; quotas on from here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    rig.redis.command(&["DEL", &read_bucket])?;
    rig.emu.set_quota(QuotaConfig::default());
    rig.emu.reset_quotas();
    rig.emu.reset_counts();
    let workers: Vec<u32> = fleet[0]
        .workers(Some(Operacion::Arm))?
        .into_iter()
        .map(|w| w.id)
        .collect();
    let tags = free_arm(&fleet[0], workers[0], devices)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(50);
    let mut plan: Vec<(Duration, usize)> = (0..devices)
        .map(|i| (Duration::from_millis(rng.gen_range(0..60_000)), i))
        .collect();
    plan.sort();
    let t0 = Instant::now();
    let mut visible = Vec::new();
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    for (at, i) in plan {
        while t0.elapsed() < at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let worker = workers[i % workers.len()];
        let token = fleet[i]
            .workers(None)?
            .into_iter()
            .find(|w| w.id == worker)
            .map(|w| w.token)
            .unwrap_or_default();
        let tap = Instant::now();
        tomar(&fleet[i], worker, vec![tags[i].clone()])?;
        // Visible on every other device (through Redis, before the sheet is written).
        loop {
            let mut all = true;
            for (j, z) in fleet.iter().enumerate() {
                if j != i && z.spool(&tags[i])?.ocupado_por.as_deref() != Some(token.as_str()) {
                    all = false;
                    break;
                }
            }
            if all {
                break;
            }
            if tap.elapsed() > Duration::from_secs(30) {
                return Err(format!("{} not visible everywhere after 30 s", tags[i]).into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        visible.push(tap.elapsed());
        samples.push((Instant::now(), api_calls(&rig.emu.counts()).1));
    }
    let mut landed_all = Duration::ZERO;
    loop {
        let mut pending = 0;
        for z in &fleet {
            pending += z.store().counts()?.0;
        }
        samples.push((Instant::now(), api_calls(&rig.emu.counts()).1));
        if pending == 0 {
            landed_all = t0.elapsed().max(landed_all);
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            return Err("the burst did not land in 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut max_min = 0;
    for (k, (t, c)) in samples.iter().enumerate() {
        let first = samples[..=k]
            .iter()
            .find(|(u, _)| t.duration_since(*u) <= Duration::from_secs(60))
            .map_or(0, |(_, c0)| *c0);
        max_min = max_min.max(c - first);
    }
    let (r, w) = api_calls(&rig.emu.counts());
    visible.sort();
    println!("| devices | visible everywhere p50 / p95 / max | sheet holds all (from first tap) | max Sheets writes in 60 s | reads | writes | calls per command |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    println!(
        "| {devices} | {:.0} / {:.0} / {:.0} ms | {:.1} s | {max_min} | {r} | {w} | {:.2} |",
        pct(&visible, 0.5),
        pct(&visible, 0.95),
        pct(&visible, 1.0),
        landed_all.as_secs_f64(),
        (r + w) as f64 / devices as f64
    );
    for z in fleet {
        z.shutdown();
    }
    Ok(())
}

/// Engineering appends a spool every 20 s while `devices` tablets tap TOMAR/PAUSAR about once
/// a second each, quotas on: how long until every tablet's replica has the new row.
async fn new_rows(devices: usize, rows: usize) -> Fallible<()> {
    use zeues_sync::domain::sheet::{Col, OperacionesLayout, OPERACIONES};
    use zeues_sync::domain::CellValue;
    use zeues_sync::ports::sheets::{auth::Credentials, GoogleSheets, SheetsConfig};
    use zeues_sync::ports::{Append, Workbook, WriteBatch};
    println!("\n### New rows: Engineering appends {rows} spools while {devices} tablets tap (quotas on)\n");
    let rig = PlantRig::start(1_000, 7, false).await?;
    let route = rig.direct();
    let read_bucket = format!(
        "zeues:quota:{{{}}}:read",
        zeues_tests::plant::SERVICE_ACCOUNT
    );
    rig.redis.command(&[
        "HSET",
        &read_bucket,
        "tokens",
        "100000",
        "ts",
        "99999999999999",
    ])?;
    let mut fleet = Vec::new();
    for i in 0..devices {
        fleet.push(rig.device(&format!("t{i:02}"), &route).await?);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    rig.redis.command(&["DEL", &read_bucket])?;
    rig.emu.set_quota(QuotaConfig::default());
    rig.emu.reset_quotas();
    // A person's own Google account (not the devices' service account).
    let key = rig.dir.path().join("ingenieria.json");
    rig.emu
        .write_service_account("ingenieria@planta-sim.iam.gserviceaccount.com", &key)?;
    let mut cfg = SheetsConfig::new(zeues_tests::plant::BOOK);
    cfg.base_url = rig.emu.base_url().to_string();
    let person = GoogleSheets::connect(cfg, Credentials::ServiceAccountFile(key)).await?;
    let headers = person.read_tab(OPERACIONES).await?.headers;
    let layout = OperacionesLayout::from_headers(&headers)?;
    let workers: Vec<u32> = fleet[0]
        .workers(Some(Operacion::Arm))?
        .into_iter()
        .map(|w| w.id)
        .collect();
    let free = free_arm(&fleet[0], workers[0], devices * 3)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tappers = Vec::new();
    for (i, z) in fleet.iter().enumerate() {
        let (z, stop) = (z.clone(), stop.clone());
        let w = workers[i % workers.len()];
        let mine: Vec<String> = free[i * 3..i * 3 + 3].to_vec();
        tappers.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let tag = mine[n % mine.len()].clone();
                let intent = if (n / mine.len()).is_multiple_of(2) {
                    Intent::Tomar(Operacion::Arm)
                } else {
                    Intent::Pausar(Operacion::Arm)
                };
                let req = ActionRequest {
                    worker_id: w,
                    intent,
                    tags: vec![tag],
                    supervisor_pin: None,
                };
                if let Err(e) = z.execute(req) {
                    eprintln!("tap refused: {}", e.message);
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(1_000)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    let mut lat = Vec::new();
    for k in 0..rows {
        let tag = format!("NUEVO-{k:03}");
        let mut cells = vec![CellValue::Empty; headers.len()];
        cells[layout.col(Col::TagSpool).ok_or("TAG_SPOOL")?] = CellValue::text(&tag);
        cells[layout.col(Col::FechaMateriales).ok_or("Fecha_Materiales")?] =
            CellValue::Date(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).ok_or("date")?);
        let t0 = Instant::now();
        person
            .write(&WriteBatch {
                appends: vec![Append {
                    tab: OPERACIONES.into(),
                    cells,
                }],
                ..WriteBatch::default()
            })
            .await?;
        loop {
            if fleet.iter().all(|z| z.spool(&tag).is_ok()) {
                break;
            }
            if t0.elapsed() > Duration::from_secs(300) {
                return Err(format!("{tag} did not reach every tablet in 5 minutes").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        lat.push(t0.elapsed());
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tappers {
        t.await?;
    }
    let (r, w) = api_calls(&rig.emu.counts());
    lat.sort();
    println!("| tablets tapping | rows appended | every tablet shows it: p50 / max | goal | Sheets reads / writes in the run |");
    println!("|---:|---:|---|---:|---:|");
    println!(
        "| {devices} | {rows} | {:.1} / {:.1} s | ≤ 30 s | {r} / {w} |",
        pct(&lat, 0.5) / 1000.0,
        pct(&lat, 1.0) / 1000.0
    );
    for z in fleet {
        z.shutdown();
    }
    Ok(())
}

fn main() -> Fallible<()> {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        println!(
            "machine: {} cores; redis-server + Sheets emulator on loopback, debug-free bench build",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        if run("memory") {
            memory().await?;
        }
        if run("propagation") {
            propagation(env("SAMPLES", 50)).await?;
        }
        if run("backlog") {
            backlog(500).await?;
        }
        if run("burst") {
            burst(env("DEVICES", 50)).await?;
        }
        if run("new_rows") {
            new_rows(env("DEVICES", 5), env("ROWS", 6)).await?;
        }
        Ok(())
    })
}
