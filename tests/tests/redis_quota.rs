#![allow(clippy::unwrap_used)]
//! The shared Sheets quota on a real redis-server: 20 devices pushing as fast as they can
//! never exceed the configured write rate, measured at the workbook (every write that landed,
//! counted per rolling window).
//!
//! The test runs the limiter at 10 writes per 2 s so it finishes quickly; production's
//! default is 50 per 60 s. Same token bucket, same guarantee (burst + refill × window ≤ limit
//! in any window), only the time scale differs: 10/2 s is 300/min, 30× faster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zeues_sync::ports::redis::RateLimit;
use zeues_tests::redis_server::fleet::{
    arm_workers, max_in_window, redis_config, Device, DeviceOptions, Plant, PAUSAR_ARM, TOMAR_ARM,
};
use zeues_tests::redis_server::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_devices_never_exceed_the_configured_write_rate() {
    let limit = RateLimit {
        limit: 10,
        window: Duration::from_secs(2),
        burst: 1,
    };
    // Devices tap for `busy`, building a backlog far beyond the budget; writes are measured
    // for `measured` (the backlog keeps every engine pushing the whole time).
    let busy = Duration::from_secs(4);
    let measured = Duration::from_secs(10);
    let per_device = 5;
    let redis = RedisServer::start().unwrap();
    let plant = Plant::demo(600, 71).unwrap();
    let free = plant.free_for_arm().await.unwrap();
    assert!(free.len() >= 20 * per_device);
    let workers = arm_workers();
    let mut cfg = redis_config(&redis.url());
    cfg.quota.writes = limit;
    let mut fleet = Vec::new();
    for i in 0..20u32 {
        fleet.push(Arc::new(
            Device::start(i, &plant, cfg.clone(), &DeviceOptions::push_only())
                .await
                .unwrap(),
        ));
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, d) in fleet.iter().enumerate() {
        let d = d.clone();
        let w = workers[i % workers.len()].id;
        let mine: Vec<String> = free[i * per_device..(i + 1) * per_device].to_vec();
        tasks.push(tokio::spawn(async move {
            let mut queued = 0usize;
            let mut take = true;
            while started.elapsed() < busy {
                let intent = if take { TOMAR_ARM } else { PAUSAR_ARM };
                for t in &mine {
                    if d.act_one(w, intent, t).is_ok() {
                        queued += 1;
                    }
                }
                take = !take;
                // A tap is a durable SQLite transaction; a short pause keeps 20 tablets'
                // taps from starving the engines of the 2-core test machine.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            queued
        }));
    }
    let mut queued = 0;
    for t in tasks {
        queued += t.await.unwrap();
    }
    tokio::time::sleep(measured.saturating_sub(started.elapsed())).await;
    let elapsed = started.elapsed();
    let writes: Vec<Instant> = plant
        .workbook
        .writes()
        .into_iter()
        .filter(|t| *t >= started)
        .collect();
    let worst = max_in_window(&writes, limit.window);
    let mut per_second = vec![0usize; elapsed.as_secs() as usize + 1];
    for w in &writes {
        per_second[w.duration_since(started).as_secs() as usize] += 1;
    }
    println!("writes per second: {per_second:?}");
    let sustained = limit.refill_per_ms() * elapsed.as_millis() as f64;
    println!(
        "20 devices, {queued} commands queued in {elapsed:?}: {} sheet writes, \
         max {worst} in any {:?} (limit {}); bucket allows ≈{:.0} in this time",
        writes.len(),
        limit.window,
        limit.limit,
        sustained + f64::from(limit.burst)
    );
    assert!(
        worst <= limit.limit as usize,
        "{worst} writes in one window"
    );
    // The devices did saturate the budget (the limiter, not idleness, set the pace): once the
    // tapping stops, the backlog is pushed at the bucket's refill rate.
    let tail: Vec<&Instant> = writes.iter().filter(|t| **t >= started + busy).collect();
    let tail_allowed = limit.refill_per_ms() * (elapsed - busy).as_millis() as f64;
    println!(
        "backlog phase: {} writes, bucket refill allows {tail_allowed:.1}",
        tail.len()
    );
    assert!(
        tail.len() as f64 >= 0.8 * tail_allowed,
        "only {} writes while the backlog drained",
        tail.len()
    );
    for d in &fleet {
        d.engine.shutdown();
    }
}
