#![allow(clippy::unwrap_used)]
//! The whole `Coordinator` contract on each Redis topology the product supports by
//! configuration: a single server, a 3-master Cluster (keys of one spool in one slot, the
//! stream and presence in theirs) and a master behind Sentinel. All real redis-server
//! processes started here.

use std::time::Duration;

use zeues_sync::domain::Spool;
use zeues_sync::ports::redis::{RedisConfig, RedisCoordinator, Topology};
use zeues_sync::ports::{
    Acquire, ChangeRead, Coordinator, LockHolder, Presence, QuotaGrant, QuotaKind, RowChange,
};
use zeues_tests::redis_server::topologies::{RedisCluster, RedisSentinel};
use zeues_tests::redis_server::RedisServer;

fn spool(tag: &str, nv: &str) -> Spool {
    Spool {
        tag: tag.into(),
        nv: nv.into(),
        row: 2,
        ..Spool::default()
    }
}

/// The contract on a new server: row mutexes at once (the settle period after Redis starts
/// empty is tested in redis_faults.rs).
fn no_settle(mut cfg: RedisConfig) -> RedisConfig {
    cfg.row_settle = Duration::ZERO;
    cfg
}

async fn contract(coord: &RedisCoordinator) {
    coord.ping().await.unwrap();
    // The workers list the leader publishes: hash and JSON together.
    assert_eq!(coord.workers_hash().await.unwrap(), None);
    coord.put_workers("h1", "[]").await.unwrap();
    assert_eq!(coord.workers_hash().await.unwrap().as_deref(), Some("h1"));
    assert_eq!(
        coord.workers().await.unwrap(),
        Some(("h1".to_string(), "[]".to_string()))
    );
    // Occupation locks: one holder, compare-and-delete.
    let a = LockHolder {
        worker_id: 93,
        command_id: "a".into(),
    };
    let b = LockHolder {
        worker_id: 94,
        command_id: "b".into(),
    };
    assert_eq!(
        coord.acquire_occupation("MK-1", &a).await.unwrap(),
        Acquire::Acquired
    );
    assert_eq!(
        coord.acquire_occupation("MK-1", &b).await.unwrap(),
        Acquire::HeldBy(a.clone())
    );
    assert!(!coord.release_occupation("MK-1", &b).await.unwrap());
    let tags: Vec<String> = (0..50).map(|i| format!("MK-{i}")).collect();
    let holders = coord.occupation_holders(&tags).await.unwrap();
    assert_eq!(holders[1], Some(a.clone()));
    assert_eq!(holders.iter().flatten().count(), 1);
    assert!(coord.release_occupation("MK-1", &a).await.unwrap());
    // Row mutex with fencing value.
    let ttl = Duration::from_secs(5);
    assert!(coord.lock_row("MK-2", "w1", ttl).await.unwrap());
    assert!(!coord.lock_row("MK-2", "w2", ttl).await.unwrap());
    assert!(coord.renew_row_lock("MK-2", "w1", ttl).await.unwrap());
    coord.unlock_row("MK-2", "w2").await.unwrap();
    assert!(!coord.lock_row("MK-2", "w2", ttl).await.unwrap());
    coord.unlock_row("MK-2", "w1").await.unwrap();
    assert!(coord.lock_row("MK-2", "w2", ttl).await.unwrap());
    // Applied ids.
    coord.record_applied("cmd-1").await.unwrap();
    assert!(coord.was_applied("cmd-1").await.unwrap());
    assert!(!coord.was_applied("cmd-2").await.unwrap());
    // Live cache across slots, the stream, the epoch.
    let rows: Vec<Spool> = tags.iter().map(|t| spool(t, "NV-1")).collect();
    assert_eq!(coord.warm_live(&rows).await.unwrap(), rows.len());
    assert_eq!(coord.warm_live(&rows).await.unwrap(), 0);
    coord.set_epoch("e1").await.unwrap();
    let head = coord.stream_head().await.unwrap();
    assert_eq!(head.epoch, "e1");
    let change = RowChange {
        tag: "MK-3".into(),
        row: spool("MK-3", "NV-2"),
        command_id: "c".into(),
        device_id: "d".into(),
    };
    coord.publish(&change).await.unwrap();
    let before = coord.live_rows(&["MK-4".to_string()]).await.unwrap()[0]
        .clone()
        .unwrap()
        .hash;
    let edit = RowChange {
        tag: "MK-4".into(),
        row: spool("MK-4", "A-MANO"),
        command_id: String::new(),
        device_id: "lider".into(),
    };
    assert!(!coord.publish_if(&edit, Some("otro-hash")).await.unwrap());
    assert!(coord.publish_if(&edit, Some(&before)).await.unwrap());
    let ChangeRead::Changes { cursor, changes } = coord
        .read_changes(&head, 10, Duration::from_millis(200))
        .await
        .unwrap()
    else {
        panic!("expected changes")
    };
    assert_eq!(changes.len(), 2);
    assert_eq!(cursor.seq, head.seq + 2);
    let snap = coord.live_snapshot().await.unwrap();
    assert_eq!(snap.len(), 50);
    assert_eq!(snap.iter().find(|s| s.tag == "MK-4").unwrap().nv, "A-MANO");
    coord.set_epoch("e2").await.unwrap();
    assert_eq!(
        coord
            .read_changes(&cursor, 10, Duration::from_millis(50))
            .await
            .unwrap(),
        ChangeRead::Reload
    );
    // Quota, lease, presence.
    assert!(matches!(
        coord.take_quota(QuotaKind::Write).await.unwrap(),
        QuotaGrant::Granted | QuotaGrant::Wait(_)
    ));
    assert!(coord.lease("dev-a", Duration::from_secs(5)).await.unwrap());
    assert!(!coord.lease("dev-b", Duration::from_secs(5)).await.unwrap());
    assert_eq!(coord.leader().await.unwrap().as_deref(), Some("dev-a"));
    coord.resign("dev-a").await.unwrap();
    assert!(coord.lease("dev-b", Duration::from_secs(5)).await.unwrap());
    let now = chrono::Utc::now();
    coord
        .heartbeat(
            &Presence {
                device_id: "dev-b".into(),
                worker: Some("MR(93)".into()),
                online_since: now,
                last_seen: now,
                pending: 2,
                leader: true,
                name: Some("Tablet ARM 1".into()),
                oldest_pending: Some(now),
            },
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let alive = coord.presence().await.unwrap();
    assert_eq!(alive.len(), 1);
    assert_eq!(alive[0].pending, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_meets_the_coordinator_contract() {
    let redis = RedisServer::start().unwrap();
    let coord = RedisCoordinator::connect(no_settle(RedisConfig::single(&redis.url())))
        .await
        .unwrap();
    contract(&coord).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_meets_the_coordinator_contract() {
    let cluster = RedisCluster::start().unwrap();
    let mut cfg = RedisConfig::single("redis://unused");
    cfg.topology = Topology::Cluster {
        nodes: cluster.urls(),
    };
    let coord = RedisCoordinator::connect(no_settle(cfg)).await.unwrap();
    contract(&coord).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_master_meets_the_coordinator_contract() {
    let mut sentinel = RedisSentinel::start().unwrap();
    let mut cfg = RedisConfig::single("redis://unused");
    cfg.topology = Topology::Sentinel {
        sentinels: vec![sentinel.sentinel_url()],
        service: RedisSentinel::SERVICE.into(),
        master_username: None,
        master_password: None,
        master_tls: false,
        db: 0,
    };
    let coord = RedisCoordinator::connect(no_settle(cfg)).await.unwrap();
    contract(&coord).await;
    // The master dies and comes back (data lost): the coordinator drops the broken connection
    // and asks the sentinel for the master again.
    sentinel.master.kill9();
    assert!(coord.ping().await.is_err());
    sentinel.master.restart().unwrap();
    let mut back = false;
    for _ in 0..50 {
        if coord.ping().await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the coordinator did not find the master again");
    assert_eq!(
        coord.epoch().await.unwrap(),
        None,
        "a restarted master is empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_trimmed_past_is_told_to_reload() {
    let redis = RedisServer::start().unwrap();
    let mut cfg = RedisConfig::single(&redis.url());
    cfg.stream_maxlen = 10;
    let coord = RedisCoordinator::connect(cfg).await.unwrap();
    coord.set_epoch("e1").await.unwrap();
    let behind = coord.stream_head().await.unwrap();
    let publish = |i: usize| RowChange {
        tag: format!("MK-{}", i % 7),
        row: spool(&format!("MK-{}", i % 7), &format!("NV-{i}")),
        command_id: format!("c{i}"),
        device_id: "d".into(),
    };
    coord.publish(&publish(0)).await.unwrap();
    let ChangeRead::Changes {
        cursor: caught_up, ..
    } = coord
        .read_changes(&behind, 10, Duration::from_millis(50))
        .await
        .unwrap()
    else {
        panic!("expected the first change")
    };
    // Approximate trimming drops whole stream nodes (100 entries by default): go well past.
    for i in 1..500 {
        coord.publish(&publish(i)).await.unwrap();
    }
    assert_eq!(
        coord
            .read_changes(&caught_up, 10, Duration::from_millis(50))
            .await
            .unwrap(),
        ChangeRead::Reload
    );
    // A reader at the head goes on normally.
    let head = coord.stream_head().await.unwrap();
    coord.publish(&publish(500)).await.unwrap();
    let ChangeRead::Changes { changes, .. } = coord
        .read_changes(&head, 10, Duration::from_millis(50))
        .await
        .unwrap()
    else {
        panic!("expected changes")
    };
    assert_eq!(changes.len(), 1);
}
