#![allow(clippy::unwrap_used)]
//! Redis faults on a real redis-server: killed with `kill -9` and restarted empty in the
//! middle of a run, and unreachable for a while. Devices keep their outboxes; the leader
//! rebuilds what Redis lost from the sheet. Randomized workloads print their seed; rerun one
//! with `SEED=<n>`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use zeues_sync::api::Connectivity;
use zeues_sync::domain::worker::worker_id_from_token;
use zeues_sync::domain::Worker;
use zeues_sync::ports::{row_hash, Coordinator};
use zeues_sync::store::CommandStatus;
use zeues_tests::redis_server::fleet::{
    arm_workers, redis_config, wait_until, Device, DeviceOptions, Plant, COMPLETAR_ARM, PAUSAR_ARM,
    TOMAR_ARM,
};
use zeues_tests::redis_server::RedisServer;

fn seed() -> u64 {
    let s = std::env::var("SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("SEED={s}");
    s
}

async fn start_fleet(n: usize, plant: &Plant, redis: &RedisServer) -> Vec<Arc<Device>> {
    let mut out = Vec::new();
    for i in 0..n {
        let d = Device::start(
            i as u32,
            plant,
            {
                // The server is restarted empty mid-run: after it, no row mutex for a while,
                // so a write in flight from before the restart lands before anyone re-reads.
                let mut cfg = redis_config(&redis.url());
                cfg.row_settle = Duration::from_secs(2);
                cfg
            },
            &DeviceOptions::fast(),
        )
        .await
        .unwrap();
        out.push(Arc::new(d));
    }
    out
}

/// A worker on a tablet: holds at most one spool; mostly pauses it, sometimes completes it,
/// then takes another from a pool shared with the other workers (so they collide).
async fn work(
    d: Arc<Device>,
    w: Worker,
    pool: Arc<Vec<String>>,
    seed: u64,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(usize, String)>>>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let token = w.token();
    while !stop.load(Ordering::SeqCst) {
        let mine = pool.iter().find(|t| {
            d.store
                .spool(t)
                .ok()
                .flatten()
                .is_some_and(|s| s.ocupado_por.as_deref() == Some(token.as_str()))
        });
        let (intent, tag) = match mine {
            Some(t) if rng.gen_bool(0.85) => (PAUSAR_ARM, t.clone()),
            Some(t) => (COMPLETAR_ARM, t.clone()),
            None => (TOMAR_ARM, pool[rng.gen_range(0..pool.len())].clone()),
        };
        if let Ok(id) = d.act_one(w.id, intent, &tag) {
            acked.lock().unwrap().push((d.index as usize, id));
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(20..80))).await;
    }
}

/// Every spool's lock agrees with its occupant in the sheet, and every replica with the sheet.
async fn consistent(plant: &Plant, fleet: &[Arc<Device>]) -> Result<(), String> {
    let rows = plant.rows().await.map_err(|e| e.to_string())?;
    let tags: Vec<String> = rows.iter().map(|r| r.tag.clone()).collect();
    let holders = fleet[0]
        .coord
        .occupation_holders(&tags)
        .await
        .map_err(|e| e.to_string())?;
    for (r, h) in rows.iter().zip(&holders) {
        let occupant = r.ocupado_por.as_deref().and_then(worker_id_from_token);
        if occupant != h.as_ref().map(|h| h.worker_id) {
            return Err(format!(
                "{}: sheet {:?}, lock {:?}",
                r.tag, r.ocupado_por, h
            ));
        }
    }
    let live = fleet[0]
        .coord
        .live_rows(&tags)
        .await
        .map_err(|e| e.to_string())?;
    for (r, l) in rows.iter().zip(&live) {
        if l.as_ref().map(|l| l.hash.clone()) != Some(row_hash(r)) {
            return Err(format!("{}: live cache differs from the sheet", r.tag));
        }
    }
    for d in fleet {
        for r in &rows {
            let mine = d.store.spool(&r.tag).map_err(|e| e.to_string())?;
            if mine.as_ref().map(|s| &s.ocupado_por) != Some(&r.ocupado_por) {
                return Err(format!(
                    "device {}: {} shows {:?}, sheet {:?}",
                    d.index,
                    r.tag,
                    mine.map(|s| s.ocupado_por),
                    r.ocupado_por
                ));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_and_restarted_mid_run_loses_nothing() {
    let seed = seed();
    let mut redis = RedisServer::start().unwrap();
    let plant = Plant::demo(150, seed).unwrap();
    let pool: Vec<String> = plant
        .free_for_arm()
        .await
        .unwrap()
        .into_iter()
        .take(12)
        .collect();
    let pool = Arc::new(pool);
    let fleet = start_fleet(4, &plant, &redis).await;
    let workers = arm_workers();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            fleet[0].coord.epoch().await.ok().flatten().is_some()
        })
        .await,
        "the first leader warms the cache"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, d) in fleet.iter().enumerate() {
        tasks.push(tokio::spawn(work(
            d.clone(),
            workers[i].clone(),
            pool.clone(),
            seed.wrapping_add(i as u64),
            stop.clone(),
            acked.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = plant.workbook.writes().len();
    redis.kill9();
    println!("redis-server killed after {before} sheet writes");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.restart().unwrap();
    println!("redis-server restarted empty on port {}", redis.port());
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }

    let drained = wait_until(Duration::from_secs(40), || async {
        fleet.iter().all(|d| d.pending() == 0)
    })
    .await;
    assert!(
        drained,
        "outboxes did not drain: {:?}",
        fleet.iter().map(|d| d.pending()).collect::<Vec<_>>()
    );

    // No command lost: every acknowledged command was applied or is a recorded conflict.
    let acked = acked.lock().unwrap().clone();
    let mut applied = Vec::new();
    let mut refused = 0;
    for (dev, id) in &acked {
        match fleet[*dev].command_status(id) {
            Some(CommandStatus::Applied) => applied.push(id.clone()),
            Some(CommandStatus::Conflict | CommandStatus::Held) => refused += 1,
            other => panic!("command {id} on device {dev} is {other:?}"),
        }
    }
    // None applied twice: every audit row id is unique; each applied command has one row.
    let ids = plant.audit_ids().await.unwrap();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *count.entry(id.as_str()).or_default() += 1;
    }
    let dup: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "duplicated audit ids: {dup:?}");
    for id in &applied {
        assert_eq!(count.get(id.as_str()), Some(&1), "applied {id} audit rows");
    }
    println!(
        "acknowledged={} applied={} conflicts={} sheet_writes={}",
        acked.len(),
        applied.len(),
        refused,
        plant.workbook.writes().len()
    );
    assert!(applied.len() > 10, "the run did some work");

    // The leader rebuilt what Redis lost: epoch, cache, locks; every replica agrees.
    let last = Mutex::new(String::new());
    let ok = wait_until(Duration::from_secs(20), || async {
        match consistent(&plant, &fleet).await {
            Ok(()) => true,
            Err(e) => {
                *last.lock().unwrap() = e;
                false
            }
        }
    })
    .await;
    assert!(
        ok,
        "not consistent after the restart: {}",
        last.lock().unwrap()
    );
    let occupied = plant
        .rows()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.is_occupied())
        .count();
    println!("consistent: {occupied} occupied spools, each with exactly its occupant's lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_unreachable_commands_stay_queued_then_drain() {
    let mut redis = RedisServer::start().unwrap();
    let plant = Plant::demo(100, 51).unwrap();
    let free = plant.free_for_arm().await.unwrap();
    let fleet = start_fleet(2, &plant, &redis).await;
    let ws = arm_workers();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            fleet[0].coord.epoch().await.ok().flatten().is_some()
        })
        .await
    );
    let writes_before = plant.workbook.writes().len();
    redis.kill9();

    let mut ids: Vec<(usize, String, String)> = Vec::new();
    for (i, tag) in free.iter().take(6).enumerate() {
        let d = i % 2;
        ids.push((
            d,
            tag.clone(),
            fleet[d].act_one(ws[d].id, TOMAR_ARM, tag).unwrap(),
        ));
    }
    let saw_it = wait_until(Duration::from_secs(5), || async {
        fleet
            .iter()
            .all(|d| d.engine.status().connectivity == Connectivity::SheetsOnly)
    })
    .await;
    assert!(saw_it, "status: {:?}", fleet[0].engine.status());
    tokio::time::sleep(Duration::from_millis(800)).await;
    let st = fleet[0].engine.status();
    println!("while Redis is down: {st:?}");
    assert_eq!(st.connectivity, Connectivity::SheetsOnly);
    assert_eq!(st.pending, 3);
    assert!(st.last_error.is_some());
    for (d, _, id) in &ids {
        assert_eq!(fleet[*d].command_status(id), Some(CommandStatus::Pending));
    }
    assert_eq!(
        plant.workbook.writes().len(),
        writes_before,
        "nothing written without locks"
    );

    redis.restart().unwrap();
    let drained = wait_until(Duration::from_secs(20), || async {
        ids.iter()
            .all(|(d, _, id)| fleet[*d].command_status(id) == Some(CommandStatus::Applied))
    })
    .await;
    assert!(drained, "did not drain after Redis returned");
    let audit: Vec<String> = plant.audit_ids().await.unwrap();
    for (d, tag, id) in &ids {
        assert_eq!(audit.iter().filter(|a| *a == id).count(), 1);
        let row = plant.row(tag).await.unwrap().unwrap();
        assert_eq!(row.ocupado_por, Some(ws[*d].token()));
    }
    // Each device sees the other's occupations (via the stream or the reload after restart).
    let seen = wait_until(Duration::from_secs(10), || async {
        ids.iter().all(|(d, tag, _)| {
            fleet[1 - *d]
                .store
                .spool(tag)
                .ok()
                .flatten()
                .and_then(|s| s.ocupado_por)
                == Some(ws[*d].token())
        })
    })
    .await;
    assert!(seen, "replicas did not converge");
    assert!(
        wait_until(Duration::from_secs(5), || async {
            fleet
                .iter()
                .all(|d| d.engine.status().connectivity == Connectivity::Online)
        })
        .await
    );
    let tags: HashSet<&String> = ids.iter().map(|(_, t, _)| t).collect();
    println!(
        "{} commands queued while Redis was down, all applied once after it returned",
        tags.len()
    );
}

/// After Redis starts empty (a restart lost the data) no row mutex is granted for the settle
/// period: a device that held one before the restart may still be writing that row.
#[tokio::test]
async fn no_row_mutex_until_the_settle_period_after_redis_starts_empty() {
    let mut redis = RedisServer::start().unwrap();
    let mut cfg = redis_config(&redis.url());
    cfg.row_settle = Duration::from_millis(800);
    let coord = zeues_sync::ports::redis::RedisCoordinator::connect(cfg)
        .await
        .unwrap();
    let ttl = Duration::from_secs(30);
    for round in 0..2 {
        let started = std::time::Instant::now();
        assert!(
            !coord.lock_row("T-1", "a", ttl).await.unwrap(),
            "round {round}: empty Redis grants no row mutex"
        );
        assert!(!coord.lock_row("T-1", "b", ttl).await.unwrap());
        assert!(
            wait_until(Duration::from_secs(5), || async {
                coord.lock_row("T-1", "b", ttl).await.unwrap_or(false)
            })
            .await
        );
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "{:?}",
            started.elapsed()
        );
        // Granted once settled; the refused tries left no mutex behind.
        assert!(!coord.lock_row("T-1", "a", ttl).await.unwrap());
        coord.unlock_row("T-1", "b").await.unwrap();
        redis.kill9();
        redis.restart().unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || async {
                coord.probe().await.is_ok()
            })
            .await
        );
    }
}
