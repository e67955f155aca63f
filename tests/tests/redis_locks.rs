#![allow(clippy::unwrap_used)]
//! Occupation locks on a real redis-server, with several devices (engines with their own
//! SQLite store and device id) pushing at once into one workbook. A tap always succeeds on the
//! tablet (optimistic); "wins"/"loses" is what the plant decides when the command is pushed:
//! the loser's command becomes a conflict that names the winner.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use zeues_sync::domain::{OpOcupacion, Worker};
use zeues_sync::ports::Coordinator;
use zeues_sync::store::CommandStatus;
use zeues_tests::redis_server::fleet::{
    arm_workers, is_final, redis_config, wait_until, Device, DeviceOptions, Plant, COMPLETAR_ARM,
    PAUSAR_ARM, TOMAR_ARM,
};
use zeues_tests::redis_server::RedisServer;

async fn devices(n: usize, plant: &Plant, redis: &RedisServer) -> Vec<Arc<Device>> {
    let mut out = Vec::new();
    for i in 0..n {
        let d = Device::start(
            i as u32,
            plant,
            redis_config(&redis.url()),
            &DeviceOptions::push_only(),
        )
        .await
        .unwrap();
        out.push(Arc::new(d));
    }
    out
}

/// Every device taps at the same instant (a barrier), then their engines race.
async fn tap_together(
    devices: &[Arc<Device>],
    workers: &[Worker],
    intent: zeues_sync::domain::Intent,
    tag: &str,
) -> Vec<String> {
    let barrier = Arc::new(tokio::sync::Barrier::new(devices.len()));
    let mut handles = Vec::new();
    for (d, w) in devices.iter().zip(workers) {
        let (d, b, tag, wid) = (d.clone(), barrier.clone(), tag.to_string(), w.id);
        handles.push(tokio::spawn(async move {
            b.wait().await;
            d.act_one(wid, intent, &tag)
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap().expect("el toque local siempre se acepta"));
    }
    ids
}

async fn wait_final(devices: &[Arc<Device>], ids: &[String]) {
    let ok = wait_until(Duration::from_secs(20), || async {
        devices
            .iter()
            .zip(ids)
            .all(|(d, id)| is_final(d.command_status(id)))
    })
    .await;
    assert!(ok, "commands did not settle: {:?}", states(devices, ids));
}

fn states(devices: &[Arc<Device>], ids: &[String]) -> Vec<Option<CommandStatus>> {
    devices
        .iter()
        .zip(ids)
        .map(|(d, id)| d.command_status(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_devices_tomar_the_same_spool_one_wins_every_time() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let redis = RedisServer::start().unwrap();
    let plant = Plant::demo(700, 41).unwrap();
    let free = plant.free_for_arm().await.unwrap();
    assert!(free.len() >= rounds, "only {} free spools", free.len());
    let workers: Vec<Worker> = arm_workers().into_iter().take(10).collect();
    assert_eq!(workers.len(), 10);
    let fleet = devices(10, &plant, &redis).await;

    let mut winners = BTreeSet::new();
    for (round, tag) in free.iter().take(rounds).enumerate() {
        let ids = tap_together(&fleet, &workers, TOMAR_ARM, tag).await;
        wait_final(&fleet, &ids).await;
        let st = states(&fleet, &ids);
        let won: Vec<usize> = (0..10)
            .filter(|i| st[*i] == Some(CommandStatus::Applied))
            .collect();
        assert_eq!(won.len(), 1, "round {round} on {tag}: {st:?}");
        let winner = workers[won[0]].token();
        winners.insert(won[0]);
        for (i, (d, id)) in fleet.iter().zip(&ids).enumerate() {
            if i == won[0] {
                continue;
            }
            let c = d
                .conflict_of(id)
                .expect("the loser's command is a conflict");
            assert_eq!(c.code, "SPOOL_OCUPADO", "round {round}: {c:?}");
            assert_eq!(c.winner.as_deref(), Some(winner.as_str()), "round {round}");
        }
        let row = plant.row(tag).await.unwrap().unwrap();
        assert_eq!(row.ocupado_por.as_deref(), Some(winner.as_str()));
        let lock = fleet[0]
            .coord
            .occupation_holder(tag)
            .await
            .unwrap()
            .map(|h| h.worker_id);
        assert_eq!(lock, Some(workers[won[0]].id), "round {round}");
    }
    println!(
        "{rounds} rounds: one winner each; {} different devices won",
        winners.len()
    );
}

/// The occupant and four workers whose tablets still believe they hold the spool (they saw
/// it before going offline) act at once: only the occupant's command applies.
async fn only_the_occupant_ends_the_occupation(intent: zeues_sync::domain::Intent, seed: u64) {
    let redis = RedisServer::start().unwrap();
    let plant = Plant::demo(80, seed).unwrap();
    let tag = plant.free_for_arm().await.unwrap().remove(0);
    let workers: Vec<Worker> = arm_workers().into_iter().take(5).collect();
    let fleet = devices(5, &plant, &redis).await;

    let tomar = fleet[0].act_one(workers[0].id, TOMAR_ARM, &tag).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            fleet[0].command_status(&tomar) == Some(CommandStatus::Applied)
        })
        .await
    );
    let plant_row = plant.row(&tag).await.unwrap().unwrap();
    for (d, w) in fleet.iter().zip(&workers).skip(1) {
        let mut stale = plant_row.clone();
        stale.ocupado_por = Some(w.token());
        stale.operacion_ocupacion = Some(OpOcupacion::Arm);
        d.store.upsert_plant_rows(&[stale]).unwrap();
    }

    let ids = tap_together(&fleet, &workers, intent, &tag).await;
    wait_final(&fleet, &ids).await;
    let st = states(&fleet, &ids);
    assert_eq!(st[0], Some(CommandStatus::Applied), "{st:?}");
    for (d, id) in fleet.iter().zip(&ids).skip(1) {
        let c = d.conflict_of(id).expect("conflict");
        assert_eq!(c.code, "NO_ES_OCUPANTE", "{c:?}");
    }
    let row = plant.row(&tag).await.unwrap().unwrap();
    assert_eq!(row.ocupado_por, None);
    // The lock goes right after the sheet write (same push round, still under the row mutex).
    assert!(
        wait_until(Duration::from_secs(5), || async {
            fleet[0]
                .coord
                .occupation_holder(&tag)
                .await
                .unwrap()
                .is_none()
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn occupant_and_four_others_pausar_only_the_occupant_succeeds() {
    only_the_occupant_ends_the_occupation(PAUSAR_ARM, 42).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn occupant_and_four_others_completar_only_the_occupant_succeeds() {
    only_the_occupant_ends_the_occupation(COMPLETAR_ARM, 43).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_tomar_of_ten_with_three_occupied_fails_exactly_those_three() {
    let redis = RedisServer::start().unwrap();
    let plant = Plant::demo(120, 44).unwrap();
    let tags: Vec<String> = plant.free_for_arm().await.unwrap()[..10].to_vec();
    let ws = arm_workers();
    let (x, y) = (&ws[0], &ws[1]);
    let fleet = devices(2, &plant, &redis).await;
    let (a, b) = (&fleet[0], &fleet[1]);

    let taken: BTreeSet<String> = [2, 5, 7].iter().map(|i| tags[*i].clone()).collect();
    let b_ids: Vec<String> = taken
        .iter()
        .map(|t| b.act_one(y.id, TOMAR_ARM, t).unwrap())
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            b_ids
                .iter()
                .all(|id| b.command_status(id) == Some(CommandStatus::Applied))
        })
        .await
    );

    // A was offline: its replica still shows all ten free, so the batch is accepted locally.
    let out = a.act(x.id, TOMAR_ARM, &tags).unwrap();
    assert!(out.iter().all(|(_, r)| r.is_ok()));
    let ids: Vec<(String, String)> = out.into_iter().map(|(t, r)| (t, r.unwrap())).collect();
    assert!(
        wait_until(Duration::from_secs(15), || async {
            ids.iter().all(|(_, id)| is_final(a.command_status(id)))
        })
        .await
    );
    let mut failed = BTreeSet::new();
    let mut ok = 0;
    for (tag, id) in &ids {
        match a.command_status(id) {
            Some(CommandStatus::Applied) => ok += 1,
            _ => {
                let c = a.conflict_of(id).unwrap();
                assert_eq!(c.code, "SPOOL_OCUPADO");
                assert_eq!(c.winner.as_deref(), Some(y.token().as_str()));
                failed.insert(tag.clone());
            }
        }
    }
    println!("{ok} de 10 spools exitosos ({} fallos)", failed.len());
    assert_eq!(ok, 7);
    assert_eq!(failed, taken);
}
