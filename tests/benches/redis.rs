//! Redis coordination benchmark on a real redis-server started here (loopback TCP):
//!
//! 1. occupation lock round trips (`SET NX GET` acquire + Lua compare-and-delete release),
//!    one client sequentially and 16 concurrent clients;
//! 2. change propagation between two devices: the publish on device A (cache + `XADD`) →
//!    device B's blocked `XREAD` returns it, and → B's replica shows the row (B's stream
//!    follower applied it);
//! 3. Redis memory per 1,000 spools: `INFO memory` before and after warming the live cache
//!    (plus the locks of the occupied spools) from a demo plant of 1,000 / 10,000 / 100,000.
//!
//! `cargo bench -p zeues-tests --bench redis` (`SAMPLES=n`, `SIZES=1000,10000` to change the
//! sample count and the plant sizes).
//! Prints markdown tables (pasted into BENCHMARKS.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use zeues_sync::domain::sheet::OperacionesLayout;
use zeues_sync::domain::worker::worker_id_from_token;
use zeues_sync::domain::Spool;
use zeues_sync::engine::FollowConfig;
use zeues_sync::ports::redis::RedisCoordinator;
use zeues_sync::ports::{ChangeRead, Coordinator, LockHolder, RowChange};
use zeues_tests::redis_server::fleet::{redis_config, Device, DeviceOptions, Plant};
use zeues_tests::redis_server::RedisServer;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// One table row; the rate is samples per second of `total` (the time they took).
fn row(name: &str, n: usize, total: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "| {name} | {n} | {:.0} | {:.3} | {:.3} | {:.3} |",
        n as f64 / total.as_secs_f64(),
        pct(&lat, 0.50),
        pct(&lat, 0.95),
        pct(&lat, 0.99),
    );
}

async fn locks(coord: Arc<RedisCoordinator>, n: usize) -> Fallible<()> {
    println!("\n### Occupation lock round trips\n");
    println!("| operation | samples | per second | p50 ms | p95 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut acq = Vec::with_capacity(n);
    let mut rel = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let tag = format!("BENCH-{}", i % 500);
        let h = LockHolder {
            worker_id: 93,
            command_id: format!("cmd-{i}"),
        };
        let t = Instant::now();
        coord.acquire_occupation(&tag, &h).await?;
        acq.push(t.elapsed());
        let t = Instant::now();
        coord.release_occupation(&tag, &h).await?;
        rel.push(t.elapsed());
    }
    let total = t0.elapsed();
    let pairs: Vec<Duration> = acq.iter().zip(&rel).map(|(a, r)| *a + *r).collect();
    let acq_time = acq.iter().sum();
    let rel_time = rel.iter().sum();
    row("acquire (`SET NX GET`), 1 client", n, acq_time, acq);
    row(
        "release (Lua compare-and-delete), 1 client",
        n,
        rel_time,
        rel,
    );
    row("acquire + release, 1 client", n, total, pairs);

    let clients = 16;
    let per = n / clients;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let coord = coord.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let tag = format!("BENCH-C{c}-{}", i % 50);
                let h = LockHolder {
                    worker_id: 94,
                    command_id: format!("c{c}-{i}"),
                };
                let t = Instant::now();
                coord.acquire_occupation(&tag, &h).await?;
                coord.release_occupation(&tag, &h).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, zeues_sync::ports::CoordError>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let total = t0.elapsed();
    row(
        "acquire + release, 16 concurrent clients",
        all.len(),
        total,
        all,
    );
    Ok(())
}

async fn propagation(redis: &RedisServer, n: usize) -> Fallible<()> {
    println!("\n### Change propagation between two devices\n");
    println!("| path | samples | changes/s | p50 ms | p95 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    let plant = Plant::demo(200, 81)?;
    let a = RedisCoordinator::connect(redis_config(&redis.url())).await?;
    let rows = plant.rows().await?;
    a.warm_live(&rows).await?;
    a.set_epoch("bench").await?;

    // Coordinator level: A publishes, B's blocked XREAD returns it.
    let b = RedisCoordinator::connect(redis_config(&redis.url())).await?;
    let mut cursor = b.stream_head().await?;
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let mut r = rows[i % rows.len()].clone();
        r.nv = format!("NV-{i}");
        let change = RowChange {
            tag: r.tag.clone(),
            row: r,
            command_id: format!("bench-{i}"),
            device_id: "A".into(),
        };
        let reader = async {
            loop {
                match b.read_changes(&cursor, 10, Duration::from_secs(2)).await? {
                    ChangeRead::Changes { cursor: c, changes } if !changes.is_empty() => {
                        return Ok::<_, zeues_sync::ports::CoordError>(c)
                    }
                    ChangeRead::Changes { .. } => {}
                    ChangeRead::Reload => cursor = b.stream_head().await?,
                }
            }
        };
        let sent = Instant::now();
        let (published, read) = tokio::join!(a.publish(&change), reader);
        published?;
        cursor = read?;
        lat.push(sent.elapsed());
    }
    row("A publish → B `XREAD BLOCK` returns", n, t0.elapsed(), lat);

    // Device level: B's stream follower applies it to B's SQLite replica.
    let mut opts = DeviceOptions::push_only();
    opts.follow = Some(FollowConfig {
        block: Duration::from_millis(500),
        batch: 500,
        retry: Duration::from_millis(50),
    });
    let dev_b = Device::start(1, &plant, redis_config(&redis.url()), &opts).await?;
    let tag = rows[0].tag.clone();
    let samples = n.min(300);
    let mut lat = Vec::with_capacity(samples);
    let t0 = Instant::now();
    for i in 0..samples {
        let mut r = rows[0].clone();
        r.nv = format!("NV-DEV-{i}");
        let want = r.nv.clone();
        let sent = Instant::now();
        a.publish(&RowChange {
            tag: tag.clone(),
            row: r,
            command_id: format!("bench-dev-{i}"),
            device_id: "A".into(),
        })
        .await?;
        let seen = wait_fast(Duration::from_secs(5), || {
            dev_b
                .store
                .spool(&tag)
                .ok()
                .flatten()
                .is_some_and(|s| s.nv == want)
        })
        .await;
        if !seen {
            return Err(format!("device B never saw change {i}").into());
        }
        lat.push(sent.elapsed());
    }
    row(
        "A publish → B's replica shows the row (stream follower)",
        samples,
        t0.elapsed(),
        lat,
    );
    Ok(())
}

/// Polls every 0.2 ms (a sampling error far below the latencies measured).
async fn wait_fast(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    false
}

async fn memory(sizes: &[usize]) -> Fallible<()> {
    println!("\n### Redis memory per 1,000 spools\n");
    println!(
        "| spools | occupied (locks) | used_memory before | after warming | per 1,000 spools |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let redis = RedisServer::start()?;
        let coord = RedisCoordinator::connect(redis_config(&redis.url())).await?;
        let (ops, ..) = zeues_sync::demo::build(chrono::Utc::now(), 91, n);
        let layout = OperacionesLayout::from_headers(&ops.headers)?;
        let spools: Vec<Spool> = layout.decode_all(&ops.rows).spools;
        coord.ping().await?;
        let before = redis.used_memory()?;
        coord.warm_live(&spools).await?;
        let mut occupied = 0;
        for s in &spools {
            if let Some(w) = s.ocupado_por.as_deref().and_then(worker_id_from_token) {
                let h = LockHolder {
                    worker_id: w,
                    command_id: s.version.clone(),
                };
                coord.acquire_occupation(&s.tag, &h).await?;
                occupied += 1;
            }
        }
        let after = redis.used_memory()?;
        let per_k = (after.saturating_sub(before)) as f64 / n as f64 * 1000.0;
        println!(
            "| {n} | {occupied} | {:.1} MiB | {:.1} MiB | {:.0} KiB |",
            before as f64 / 1_048_576.0,
            after as f64 / 1_048_576.0,
            per_k / 1024.0
        );
    }
    // The change stream at its cap.
    let redis = RedisServer::start()?;
    let coord = RedisCoordinator::connect(redis_config(&redis.url())).await?;
    let (ops, ..) = zeues_sync::demo::build(chrono::Utc::now(), 92, 100);
    let layout = OperacionesLayout::from_headers(&ops.headers)?;
    let spools = layout.decode_all(&ops.rows).spools;
    coord.ping().await?;
    let before = redis.used_memory()?;
    let cap = coord.config().stream_maxlen;
    for i in 0..cap {
        let r = spools[i % spools.len()].clone();
        coord
            .publish(&RowChange {
                tag: r.tag.clone(),
                row: r,
                command_id: format!("c{i}"),
                device_id: "bench".into(),
            })
            .await?;
    }
    let after = redis.used_memory()?;
    println!(
        "\nChange stream at its cap ({cap} entries, plus 100 cached rows): {:.1} MiB.",
        (after.saturating_sub(before)) as f64 / 1_048_576.0
    );
    Ok(())
}

fn main() -> Fallible<()> {
    let samples: usize = std::env::var("SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let redis = RedisServer::start()?;
        println!(
            "redis-server {} on 127.0.0.1:{} (TCP loopback), client redis-rs 1.8 tokio",
            redis
                .command(&["INFO", "server"])?
                .lines()
                .find_map(|l| l.strip_prefix("redis_version:"))
                .unwrap_or("?")
                .trim(),
            redis.port()
        );
        let coord = Arc::new(RedisCoordinator::connect(redis_config(&redis.url())).await?);
        coord.ping().await?;
        locks(coord, samples).await?;
        propagation(&redis, (samples / 5).max(100)).await?;
        let sizes: Vec<usize> = std::env::var("SIZES")
            .unwrap_or_else(|_| "1000,10000,100000".into())
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        memory(&sizes).await?;
        Ok(())
    })
}
