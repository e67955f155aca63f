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

/// Without Redis exactly one device writes a spreadsheet. Two Sheets-only devices start
/// together and tap the same spool at the same moment: one registers as the writer (the lease
/// tab), the other refuses taps in Spanish and sends nothing — never two occupants, never two
/// TOMAR rows. When the writer closes cleanly it gives the role up; the other takes it, and its
/// queued TOMAR meets the plant's truth (a conflict naming the occupant).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_one_device_writes_and_the_other_is_refused() -> TestResult {
    let rig = PlantRig::start(300, 23, false).await?;
    let direct = rig.direct();
    let (a, b) = tokio::join!(
        rig.device_without_redis("a", &direct),
        rig.device_without_redis("b", &direct)
    );
    let (a, b) = (a?, b?);
    let worker_b = other_armador();
    let x = free_arm(&a, ARMADOR, 1).remove(0);
    // Both tap X at once (both replicas still show it free).
    let tap = |z: &Arc<Zeues>, w: u32| {
        z.execute(ActionRequest {
            worker_id: w,
            intent: Intent::Tomar(Operacion::Arm),
            tags: vec![x.clone()],
            supervisor_pin: None,
        })
    };
    // Either may already refuse (if it learnt who writes), never both.
    let accepted = [tap(&a, ARMADOR), tap(&b, worker_b)]
        .iter()
        .filter(|r| r.is_ok())
        .count();
    assert!(accepted >= 1);
    eventually("one device registered and wrote its TOMAR", || {
        let ops = dump_grid(&rig.emu.dump(BOOK).unwrap(), OPERACIONES).unwrap();
        OperacionesLayout::from_headers(&ops.headers)
            .unwrap()
            .decode_all(&ops.rows)
            .spools
            .into_iter()
            .any(|s| s.tag == x && s.ocupado_por.is_some())
    })
    .await;
    // Let both engines run several rounds: the other device must not write anything.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let book = rig.emu.dump(BOOK).unwrap();
    assert!(
        book.sheets.iter().any(|s| s.title == "ZEUES_ESCRITOR"),
        "the writer is registered in the sheet, where every device sees it"
    );
    let meta = dump_grid(&book, "Metadata").unwrap();
    let tomars = meta
        .rows
        .iter()
        .filter(|r| r.iter().any(|c| c.shown() == "TOMAR_SPOOL"))
        .filter(|r| r.iter().any(|c| c.shown() == x))
        .count();
    assert_eq!(tomars, 1, "exactly one TOMAR of X reached the plant");
    // The other device says so, in Spanish, and refuses new taps.
    eventually("one device knows the other writes", || {
        a.engine().writer_refusal().is_some() || b.engine().writer_refusal().is_some()
    })
    .await;
    let (writer, other, other_worker) = if b.engine().writer_refusal().is_some() {
        (a.clone(), b.clone(), worker_b)
    } else {
        (b.clone(), a.clone(), ARMADOR)
    };
    assert!(
        writer.engine().writer_refusal().is_none(),
        "never two writers"
    );
    let y = free_arm(&writer, ARMADOR, 2).pop().unwrap();
    let refused = other
        .execute(ActionRequest {
            worker_id: other_worker,
            intent: Intent::Tomar(Operacion::Arm),
            tags: vec![y.clone()],
            supervisor_pin: None,
        })
        .unwrap_err();
    assert_eq!(refused.code, "ESCRITOR_OCUPADO", "{}", refused.message);
    assert!(
        refused.message.contains("solo un equipo"),
        "{}",
        refused.message
    );
    assert!(other
        .sync_status()
        .last_error
        .unwrap_or_default()
        .contains("solo un equipo"));

    // The writer closes cleanly: the role is given up and the other device takes it over.
    writer.shutdown();
    eventually(
        "the other device drained its queue as the new writer",
        || drained(&other),
    )
    .await;
    let ops = dump_grid(&rig.emu.dump(BOOK).unwrap(), OPERACIONES).unwrap();
    let in_sheet = OperacionesLayout::from_headers(&ops.headers)
        .unwrap()
        .decode_all(&ops.rows)
        .spools
        .into_iter()
        .find(|s| s.tag == x)
        .unwrap();
    assert!(in_sheet.ocupado_por.is_some(), "still one occupant of X");
    let meta = dump_grid(&rig.emu.dump(BOOK).unwrap(), "Metadata").unwrap();
    let tomars = meta
        .rows
        .iter()
        .filter(|r| r.iter().any(|c| c.shown() == "TOMAR_SPOOL"))
        .filter(|r| r.iter().any(|c| c.shown() == x))
        .count();
    assert_eq!(
        tomars, 1,
        "the queued TOMAR met the plant's truth, not a second occupant"
    );
    other.shutdown();
    Ok(())
}

/// A writer whose lease was taken over cannot land anything: every write carries the lease
/// tab's id in the same atomic call, and the sheet refuses it once that tab is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_whose_lease_was_taken_over_writes_nothing() -> TestResult {
    use zeues_sync::ports::Workbook;
    let rig = PlantRig::start(300, 29, false).await?;
    let a = rig.device_without_redis("a", &rig.direct()).await?;
    let tags = free_arm(&a, ARMADOR, 2);
    arm(&a, ARMADOR, Intent::Tomar(Operacion::Arm), &tags[0]);
    eventually("A registered and wrote", || drained(&a)).await;
    // Another device takes the role over (as it would after 10 min of silence).
    let wb = rig.client().await?;
    let lease = wb.writer_lease().await?.expect("A is registered");
    let now = chrono::Utc::now();
    let taken = wb
        .claim_writer(
            &zeues_sync::ports::WriterLease {
                sheet_id: lease.sheet_id + 1,
                device_id: "otro-equipo".into(),
                name: "tablet-otro".into(),
                since: now,
                heartbeat: now,
            },
            Some(lease.sheet_id),
        )
        .await?;
    assert!(taken);
    // A's next tap is saved locally; its write is refused by the sheet, nothing lands.
    arm(&a, ARMADOR, Intent::Tomar(Operacion::Arm), &tags[1]);
    eventually("A learns it is no longer the writer", || {
        a.engine().writer_refusal().is_some()
    })
    .await;
    let ops = dump_grid(&rig.emu.dump(BOOK).unwrap(), OPERACIONES).unwrap();
    let second = OperacionesLayout::from_headers(&ops.headers)
        .unwrap()
        .decode_all(&ops.rows)
        .spools
        .into_iter()
        .find(|s| s.tag == tags[1])
        .unwrap();
    assert_eq!(second.ocupado_por, None, "the fenced write did not land");
    assert_eq!(
        a.store().counts()?.0,
        1,
        "A keeps its command queued, not lost"
    );
    a.shutdown();
    Ok(())
}
