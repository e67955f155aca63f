#![allow(clippy::unwrap_used)]
//! The leader on a real redis-server: one leader at a time; when the leader's tasks die
//! another device takes over within one lease period and carries on with the duties
//! (importing an edit made directly in the sheet); presence shows who is alive. The duties
//! that only the in-process coordinator exercised before: a lock whose occupant the sheet does
//! not show is released only after the grace period, and a spool a person un-blocks by hand
//! in the sheet is audited as `SUPERVISOR_OVERRIDE` once (across a change of leader too).

use std::time::{Duration, Instant};

use zeues_sync::domain::sheet::{Col, OperacionesLayout, METADATA, OPERACIONES};
use zeues_sync::domain::{CellValue, EstadoReparacion};
use zeues_sync::ports::{Coordinator, LockHolder, RowUpdate, Workbook, WriteBatch};
use zeues_tests::redis_server::fleet::{
    arm_workers, is_final, redis_config, wait_until, Device, DeviceOptions, Plant, TOMAR_ARM,
};
use zeues_tests::redis_server::RedisServer;

/// A person types one cell into `Operaciones` (straight into the plant's workbook).
async fn edit_sheet(plant: &Plant, tag: &str, col: Col, value: CellValue) {
    let grid = plant.workbook.local().read_tab(OPERACIONES).await.unwrap();
    let layout = OperacionesLayout::from_headers(&grid.headers).unwrap();
    let row = layout
        .decode_all(&grid.rows)
        .spools
        .into_iter()
        .find(|s| s.tag == tag)
        .unwrap()
        .row;
    plant
        .workbook
        .local()
        .write(&WriteBatch {
            updates: vec![RowUpdate {
                tab: OPERACIONES.into(),
                row,
                cells: vec![(layout.col(col).unwrap(), value)],
            }],
            appends: Vec::new(),
            fence: None,
        })
        .await
        .unwrap();
}

/// `Metadata` rows (as shown) that are a `SUPERVISOR_OVERRIDE` of `tag`.
async fn overrides_of(plant: &Plant, tag: &str) -> Vec<Vec<String>> {
    let meta = plant.workbook.local().read_tab(METADATA).await.unwrap();
    meta.rows
        .iter()
        .map(|r| r.iter().map(|c| c.shown()).collect::<Vec<String>>())
        .filter(|r| r.iter().any(|c| c == "SUPERVISOR_OVERRIDE") && r.iter().any(|c| c == tag))
        .collect()
}

/// Starts `n` devices with the fast timers and `grace`, and waits until one of them leads and
/// has warmed the live cache (the epoch is set).
async fn fleet_with_leader(
    n: u32,
    plant: &Plant,
    redis: &RedisServer,
    grace: Duration,
) -> Vec<Device> {
    let mut opts = DeviceOptions::fast();
    if let Some(l) = opts.leader.as_mut() {
        l.orphan_grace = grace;
    }
    let mut fleet = Vec::new();
    for i in 0..n {
        fleet.push(
            Device::start(i, plant, redis_config(&redis.url()), &opts)
                .await
                .unwrap(),
        );
    }
    let coord = fleet[0].coord.clone();
    let warm = wait_until(Duration::from_secs(10), || async {
        coord.leader().await.ok().flatten().is_some()
            && coord.epoch().await.ok().flatten().is_some()
    })
    .await;
    assert!(warm, "no leader warmed the cache");
    fleet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_leader_is_replaced_within_one_lease_period() {
    let lease = Duration::from_secs(2);
    let redis = RedisServer::start().unwrap();
    let plant = Plant::demo(60, 61).unwrap();
    let mut opts = DeviceOptions::fast();
    if let Some(l) = opts.leader.as_mut() {
        l.lease_period = lease;
    }
    let mut fleet = Vec::new();
    for i in 0..3 {
        fleet.push(
            Device::start(i, &plant, redis_config(&redis.url()), &opts)
                .await
                .unwrap(),
        );
    }
    let coord = fleet[0].coord.clone();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            coord.leader().await.ok().flatten().is_some()
                && coord.epoch().await.ok().flatten().is_some()
        })
        .await
    );
    let first = coord.leader().await.unwrap().unwrap();
    // Presence shows the three tablets, the leader marked (from its next heartbeat on).
    let shown = wait_until(Duration::from_secs(5), || async {
        coord.presence().await.is_ok_and(|p| {
            p.len() == 3
                && p.iter().filter(|x| x.leader).all(|x| x.device_id == first)
                && p.iter().any(|x| x.leader)
        })
    })
    .await;
    assert!(shown, "{:?}", coord.presence().await);

    let dead = fleet.iter().position(|d| d.device_id() == first).unwrap();
    fleet[dead].kill();
    let killed_at = Instant::now();
    let mut next = None;
    while killed_at.elapsed() < lease * 3 {
        if let Some(l) = coord.leader().await.unwrap() {
            if l != first {
                next = Some(l);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = killed_at.elapsed();
    let next = next.expect("nobody took over");
    println!("leader {first} killed; {next} took over after {took:?} (lease period {lease:?})");
    assert!(took <= lease, "takeover took {took:?} > {lease:?}");

    // The new leader does the duties: a person edits a row in the sheet.
    let grid = plant.workbook.local().read_tab(OPERACIONES).await.unwrap();
    let layout = OperacionesLayout::from_headers(&grid.headers).unwrap();
    let target = layout.decode_all(&grid.rows).spools[4].clone();
    plant
        .workbook
        .local()
        .write(&WriteBatch {
            updates: vec![RowUpdate {
                tab: OPERACIONES.into(),
                row: target.row,
                cells: vec![(layout.col(Col::Nv).unwrap(), CellValue::text("NV-A-MANO"))],
            }],
            appends: Vec::new(),
            fence: None,
        })
        .await
        .unwrap();
    let survivors: Vec<&Device> = fleet
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != dead)
        .map(|(_, d)| d)
        .collect();
    let imported = wait_until(Duration::from_secs(10), || async {
        survivors.iter().all(|d| {
            d.store
                .spool(&target.tag)
                .ok()
                .flatten()
                .is_some_and(|s| s.nv == "NV-A-MANO")
        })
    })
    .await;
    assert!(imported, "the new leader did not import the direct edit");

    // The dead tablet drops out of presence once its heartbeat lapses.
    let gone = wait_until(Duration::from_secs(5), || async {
        coord
            .presence()
            .await
            .map(|p| p.len() == 2 && p.iter().all(|x| x.device_id != first))
            .unwrap_or(false)
    })
    .await;
    assert!(gone, "{:?}", coord.presence().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_without_occupant_is_released_only_after_the_grace_period() {
    let grace = Duration::from_secs(3);
    let redis = RedisServer::start().unwrap();
    let plant = Plant::demo(60, 63).unwrap();
    let fleet = fleet_with_leader(2, &plant, &redis, grace).await;
    let coord = fleet[0].coord.clone();
    let free = plant.free_for_arm().await.unwrap();
    assert!(free.len() >= 2);

    // A real occupation, for contrast: its lock matches `Ocupado_Por` and must stay.
    let w = arm_workers()[0].clone();
    let id = fleet[1].act_one(w.id, TOMAR_ARM, &free[1]).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            is_final(fleet[1].command_status(&id))
        })
        .await
    );
    let kept = coord.occupation_holder(&free[1]).await.unwrap();
    assert_eq!(kept.as_ref().map(|h| h.worker_id), Some(w.id));

    // A lock whose TOMAR never reached the sheet (its device died between the lock and the
    // write): the sheet shows nobody on the spool.
    let stale = LockHolder {
        worker_id: 93,
        command_id: "tomar-que-nunca-llego".into(),
    };
    coord.acquire_occupation(&free[0], &stale).await.unwrap();
    let set_at = Instant::now();
    let mut released_at = None;
    let mut held_at_half = false;
    while set_at.elapsed() < grace * 4 {
        let h = coord.occupation_holder(&free[0]).await.unwrap();
        if set_at.elapsed() >= grace / 2 && set_at.elapsed() < grace * 3 / 4 && h.is_some() {
            held_at_half = true;
        }
        if h.is_none() {
            released_at = Some(set_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let released = released_at.expect("the orphaned lock was never released");
    println!(
        "orphaned lock released after {released:?} (grace {grace:?}, leader polls every 300 ms)"
    );
    assert!(
        held_at_half,
        "the lock was not held through half the grace period"
    );
    // The leader starts the grace when it first sees the lock (≥ when it was set), so the
    // release can come no sooner than the grace; 50 ms covers reading the clock around it.
    assert!(
        released + Duration::from_millis(50) >= grace,
        "released after {released:?}, before the grace of {grace:?}"
    );
    assert!(
        released <= grace + Duration::from_secs(2),
        "released only after {released:?}"
    );
    // The real occupation's lock is untouched, well past the grace.
    assert_eq!(coord.occupation_holder(&free[1]).await.unwrap(), kept);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_unblock_in_the_sheet_is_audited_once_as_supervisor_override() {
    let lease = Duration::from_millis(1_200);
    let redis = RedisServer::start().unwrap();
    let plant = Plant::demo(60, 64).unwrap();
    let mut fleet = fleet_with_leader(2, &plant, &redis, Duration::from_secs(1)).await;
    let coord = fleet[0].coord.clone();
    let rows = plant.rows().await.unwrap();
    let blocked = rows
        .iter()
        .find(|s| s.is_blocked())
        .expect("the demo plant has a BLOQUEADO spool")
        .clone();
    assert!(overrides_of(&plant, &blocked.tag).await.is_empty());

    // A supervisor un-blocks it by typing into the sheet (no app command: `version` unchanged).
    edit_sheet(
        &plant,
        &blocked.tag,
        Col::EstadoReparacion,
        CellValue::text(EstadoReparacion::Pendiente.code()),
    )
    .await;
    let edited_at = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            !overrides_of(&plant, &blocked.tag).await.is_empty()
        })
        .await,
        "no SUPERVISOR_OVERRIDE was recorded"
    );
    println!("override audited {:?} after the edit", edited_at.elapsed());
    let audited = overrides_of(&plant, &blocked.tag).await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    let row = &audited[0];
    assert!(row.iter().any(|c| c == "SYSTEM"), "{row:?}");
    assert!(row.iter().any(|c| c == "0"), "{row:?}");
    assert!(
        row.iter().any(|c| c.contains("edicion_directa_planilla")),
        "{row:?}"
    );
    // Every device sees the spool un-blocked.
    assert!(
        wait_until(Duration::from_secs(5), || async {
            fleet.iter().all(|d| {
                d.store
                    .spool(&blocked.tag)
                    .ok()
                    .flatten()
                    .is_some_and(|s| !s.is_blocked())
            })
        })
        .await
    );

    // Once, also when the leadership moves: the new leader knows nothing of the last one's
    // rounds and compares the sheet with the live cache again.
    let first = coord.leader().await.unwrap().unwrap();
    let dead = fleet.iter().position(|d| d.device_id() == first).unwrap();
    fleet[dead].kill();
    assert!(
        wait_until(lease * 3, || async {
            coord
                .leader()
                .await
                .ok()
                .flatten()
                .is_some_and(|l| l != first)
        })
        .await,
        "nobody took over"
    );
    // Many rounds of the new leader (it polls every 300 ms).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let audited = overrides_of(&plant, &blocked.tag).await;
    assert_eq!(audited.len(), 1, "audited again: {audited:?}");
}
