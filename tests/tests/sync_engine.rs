#![allow(clippy::unwrap_used)]
//! The sync engine between real plant devices: each a plant-mode `Zeues` with its own SQLite
//! file, the product's Google Sheets client against the emulator over HTTP, and the Redis
//! coordinator on a real `redis-server`; device A reaches both through chaos proxies so the
//! tests can cut it off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zeues_sync::api::{ActionRequest, Connectivity, ForAction, SpoolQuery};
use zeues_sync::domain::sheet::{OperacionesLayout, OPERACIONES};
use zeues_sync::domain::{Intent, Operacion};
use zeues_sync::service::Zeues;
use zeues_tests::chaos::Mode;
use zeues_tests::plant::rig::PlantRig;
use zeues_tests::plant::{dump_grid, BOOK, SIM_PIN};

/// Demo plant: Armadores MR(93) and another, supervisor Héctor Carrasco (120).
const ARMADOR: u32 = 93;
const SUPERVISOR: u32 = 120;
const PATIENCE: Duration = Duration::from_secs(60);

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn free_arm(z: &Zeues, worker: u32, n: usize) -> Vec<String> {
    z.spools(&SpoolQuery {
        for_action: Some(ForAction {
            worker_id: worker,
            intent: Intent::Tomar(Operacion::Arm),
        }),
        limit: Some(n),
        ..SpoolQuery::default()
    })
    .unwrap()
    .spools
    .into_iter()
    .map(|s| s.tag)
    .collect()
}

fn act(z: &Zeues, worker: u32, intent: Intent, tags: Vec<String>, pin: Option<&str>) {
    let out = z
        .execute(ActionRequest {
            worker_id: worker,
            intent,
            tags,
            supervisor_pin: pin.map(str::to_string),
        })
        .unwrap();
    assert_eq!(
        out.succeeded(),
        out.results.len(),
        "refused locally: {}",
        out.summary
    );
}

async fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < PATIENCE, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn drained(z: &Arc<Zeues>) -> bool {
    z.store().counts().map(|c| c.0 == 0).unwrap_or(false)
}

fn occupant(z: &Zeues, tag: &str) -> Option<String> {
    z.spool(tag).unwrap().ocupado_por
}

/// One worker's ARM command on one spool, refused locally = test failure.
fn arm(z: &Zeues, worker: u32, intent: Intent, tag: &str) {
    act(z, worker, intent, vec![tag.to_string()], None);
}

/// Another Armador of the demo plant (B's worker).
fn other_armador() -> u32 {
    zeues_tests::redis_server::fleet::arm_workers()
        .into_iter()
        .map(|w| w.id)
        .find(|id| *id != ARMADOR)
        .unwrap()
}

/// A's worker holds a spool; A goes offline and queues a PAUSAR; meanwhile a supervisor on B
/// force-releases the spool. When A comes back its PAUSAR is a conflict on A (the worker no
/// longer holds the spool), A's replica shows the spool free, and nothing else of A is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn force_release_turns_the_occupants_pending_command_into_a_conflict() -> TestResult {
    let rig = PlantRig::start(300, 21, false).await?;
    let (sheets, redis, route) = rig.proxies().await?;
    let a = rig.device("a", &route).await?;
    let b = rig.device("b", &rig.direct()).await?;

    let tags = free_arm(&a, ARMADOR, 2);
    let (x, other) = (tags[0].clone(), tags[1].clone());
    arm(&a, ARMADOR, Intent::Tomar(Operacion::Arm), &x);
    eventually("A's TOMAR synced and seen by B", || {
        drained(&a) && occupant(&b, &x).as_deref() == Some("MR(93)")
    })
    .await;

    sheets.set(Mode::Cut);
    redis.set(Mode::Cut);
    eventually("A knows it is offline", || {
        a.sync_status().connectivity == Connectivity::Offline
    })
    .await;
    arm(&a, ARMADOR, Intent::Pausar(Operacion::Arm), &x);
    // A spool the supervisor does not touch: A's commands for it must not be held.
    arm(&a, ARMADOR, Intent::Tomar(Operacion::Arm), &other);
    assert_eq!(occupant(&a, &x), None, "the PAUSAR shows at once on A");

    act(
        &b,
        SUPERVISOR,
        Intent::ForzarLiberacion,
        vec![x.clone()],
        Some(SIM_PIN),
    );
    eventually("B's force-release synced", || drained(&b)).await;
    assert_eq!(occupant(&b, &x), None);

    sheets.set(Mode::Pass);
    redis.set(Mode::Pass);
    eventually("A's outbox settles", || drained(&a)).await;

    let conflicts = a.conflicts(false)?;
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let c = &conflicts[0];
    assert_eq!(c.tag, x);
    assert_eq!(c.accion, "PAUSAR");
    assert_eq!(c.worker, "MR(93)");
    assert_eq!(c.code, "NO_ES_OCUPANTE", "{c:?}");
    assert_eq!(occupant(&a, &x), None, "A shows the plant's state");
    eventually("A's other spool landed and B sees it", || {
        occupant(&b, &other).as_deref() == Some("MR(93)")
    })
    .await;
    assert_eq!(occupant(&a, &other).as_deref(), Some("MR(93)"));
    a.shutdown();
    b.shutdown();
    Ok(())
}

/// A misses the change stream while cut off; when it comes back it catches up from its last
/// stream id: every change B made meanwhile reaches A's replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_back_from_offline_catches_up_from_its_last_stream_id() -> TestResult {
    let rig = PlantRig::start(300, 22, false).await?;
    let (sheets, redis, route) = rig.proxies().await?;
    let a = rig.device("a", &route).await?;
    let b = rig.device("b", &rig.direct()).await?;
    let worker_b = other_armador();
    let token_b = token(&b, worker_b);

    sheets.set(Mode::Cut);
    redis.set(Mode::Cut);
    eventually("A knows it is offline", || {
        a.sync_status().connectivity == Connectivity::Offline
    })
    .await;
    let tags = free_arm(&b, worker_b, 5);
    for t in &tags {
        arm(&b, worker_b, Intent::Tomar(Operacion::Arm), t);
    }
    eventually("B's TOMARs synced", || drained(&b)).await;
    for t in &tags {
        assert_eq!(occupant(&a, t), None, "A is cut off and cannot know yet");
    }

    sheets.set(Mode::Pass);
    redis.set(Mode::Pass);
    eventually("A's replica caught up with every change of B", || {
        tags.iter()
            .all(|t| occupant(&a, t).as_deref() == Some(token_b.as_str()))
    })
    .await;
    a.shutdown();
    b.shutdown();
    Ok(())
}

/// `MR(93)`: how the replica names a worker.
fn token(z: &Zeues, id: u32) -> String {
    z.workers(None)
        .unwrap()
        .into_iter()
        .find(|w| w.id == id)
        .map(|w| w.token)
        .unwrap()
}

/// Sheets-only (no Redis configured): A, cut off, queues a TOMAR of X; B takes X online. When
/// A comes back the version check refuses A's TOMAR as a conflict naming B's worker (no second
/// occupant), and each device sees the other's changes by reading the sheet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sheets_only_devices_are_kept_single_writer_by_the_version_check() -> TestResult {
    let rig = PlantRig::start(300, 23, false).await?;
    let (sheets, _redis, route) = rig.proxies().await?;
    let a = rig.device_without_redis("a", &route).await?;
    let b = rig.device_without_redis("b", &rig.direct()).await?;
    let worker_b = other_armador();
    let token_b = token(&b, worker_b);

    let tags = free_arm(&b, worker_b, 2);
    let (x, y) = (tags[0].clone(), tags[1].clone());
    sheets.set(Mode::Cut);
    arm(&a, ARMADOR, Intent::Tomar(Operacion::Arm), &x);
    arm(&b, worker_b, Intent::Tomar(Operacion::Arm), &x);
    eventually("B's TOMAR landed", || drained(&b)).await;

    sheets.set(Mode::Pass);
    eventually("A's outbox settles", || drained(&a)).await;
    let conflicts = a.conflicts(false)?;
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].code, "SPOOL_OCUPADO", "{:?}", conflicts[0]);
    assert_eq!(conflicts[0].winner.as_deref(), Some(token_b.as_str()));
    assert_eq!(occupant(&a, &x).as_deref(), Some(token_b.as_str()));
    let ops = dump_grid(&rig.emu.dump(BOOK).unwrap(), OPERACIONES).unwrap();
    let in_sheet = OperacionesLayout::from_headers(&ops.headers)
        .unwrap()
        .decode_all(&ops.rows)
        .spools
        .into_iter()
        .find(|s| s.tag == x)
        .unwrap();
    assert_eq!(
        in_sheet.ocupado_por.as_deref(),
        Some(token_b.as_str()),
        "the sheet names B's worker"
    );

    arm(&b, worker_b, Intent::Tomar(Operacion::Arm), &y);
    eventually("A sees B's TOMAR of Y by reading the sheet", || {
        occupant(&a, &y).as_deref() == Some(token_b.as_str())
    })
    .await;
    a.shutdown();
    b.shutdown();
    Ok(())
}
