#![allow(clippy::unwrap_used)]
//! The leader lease on a real redis-server: one leader at a time; when the leader's tasks die
//! another device takes over within one lease period and carries on with the duties
//! (importing an edit made directly in the sheet); presence shows who is alive.

use std::time::{Duration, Instant};

use zeues_sync::domain::sheet::{Col, OperacionesLayout, OPERACIONES};
use zeues_sync::domain::CellValue;
use zeues_sync::ports::{Coordinator, RowUpdate, Workbook, WriteBatch};
use zeues_tests::redis_server::fleet::{redis_config, wait_until, Device, DeviceOptions, Plant};
use zeues_tests::redis_server::RedisServer;

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
