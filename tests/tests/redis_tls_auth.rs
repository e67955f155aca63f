#![allow(clippy::unwrap_used)]
//! `rediss://` with AUTH and `redis://` with AUTH against a real redis-server (TLS certificates
//! made with `openssl` for the test): the coordinator connects, locks work, and a wrong
//! password is an "unavailable" error that never shows the password.

use std::process::Command;

use zeues_sync::ports::redis::{RedisConfig, RedisCoordinator};
use zeues_sync::ports::{Acquire, CoordError, Coordinator, LockHolder};
use zeues_tests::redis_server::{RedisServer, ServerOptions};

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn locks_work(cfg: RedisConfig) {
    let coord = RedisCoordinator::connect(cfg).await.unwrap();
    coord.ping().await.unwrap();
    let h = LockHolder {
        worker_id: 93,
        command_id: "c1".into(),
    };
    assert_eq!(
        coord.acquire_occupation("MK-1", &h).await.unwrap(),
        Acquire::Acquired
    );
    assert!(coord.release_occupation("MK-1", &h).await.unwrap());
}

#[tokio::test]
async fn rediss_with_auth_and_a_private_ca() {
    // scripts/setup.sh installs `openssl`; a machine without it has not run setup, and a
    // silent skip would let TLS go untested in CI.
    assert!(
        openssl_available(),
        "no `openssl` tool to make the test's certificates: run scripts/setup.sh \
         (or `apt-get install openssl`)"
    );
    let redis = RedisServer::start_with(ServerOptions {
        password: Some("s3cr3t-zeues".into()),
        tls: true,
        ..ServerOptions::default()
    })
    .unwrap();
    let tls = redis.tls().unwrap();
    let mut cfg = RedisConfig::single(&format!("rediss://:s3cr3t-zeues@localhost:{}/0", tls.port));
    cfg.ca_file = Some(tls.ca_file.display().to_string());
    assert!(!cfg.describe().contains("s3cr3t"), "{}", cfg.describe());
    locks_work(cfg).await;
}

#[tokio::test]
async fn redis_with_auth_and_a_wrong_password() {
    let redis = RedisServer::start_with(ServerOptions {
        password: Some("correcta".into()),
        tls: false,
        ..ServerOptions::default()
    })
    .unwrap();
    locks_work(RedisConfig::single(&format!(
        "redis://:correcta@127.0.0.1:{}",
        redis.port()
    )))
    .await;

    let wrong = RedisConfig::single(&format!("redis://:equivocada@127.0.0.1:{}", redis.port()));
    let coord = RedisCoordinator::connect(wrong).await.unwrap();
    let e = coord.ping().await.unwrap_err();
    println!("wrong password: {e}");
    assert!(matches!(e, CoordError::Unavailable(_)), "{e:?}");
    assert!(!e.to_string().contains("equivocada"));
}

/// A sentinel process this test started; killed (by its own handle) when dropped.
struct SentinelProcess(std::process::Child);

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        if let Err(e) = self.0.kill() {
            eprintln!("sentinel {}: kill: {e}", self.0.id());
        }
        if let Err(e) = self.0.wait() {
            eprintln!("sentinel {}: wait: {e}", self.0.id());
        }
    }
}

#[tokio::test]
async fn sentinel_over_tls_with_a_private_ca() {
    use std::time::{Duration, Instant};
    use zeues_sync::ports::redis::Topology;

    assert!(
        openssl_available(),
        "no `openssl` tool to make the test's certificates: run scripts/setup.sh"
    );
    let master = RedisServer::start_with(ServerOptions {
        password: Some("maestro-zeues".into()),
        tls: true,
        ..ServerOptions::default()
    })
    .unwrap();
    let tls = master.tls().unwrap();
    // The master's certificate (localhost / 127.0.0.1, signed by the test CA) serves the
    // sentinel too; TLS only, and the sentinel reaches the master over TLS as well.
    let certs = tls.ca_file.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = zeues_tests::redis_server::free_port().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port 0\ntls-port {port}\nbind 127.0.0.1\n\
             tls-cert-file {c}/server.crt\ntls-key-file {c}/server.key\n\
             tls-ca-cert-file {c}/ca.crt\ntls-auth-clients no\ntls-replication yes\n\
             requirepass centinela-zeues\ndir {d}\nlogfile {d}/sentinel.log\n\
             sentinel monitor zeues 127.0.0.1 {m} 1\n\
             sentinel auth-pass zeues maestro-zeues\n\
             sentinel down-after-milliseconds zeues 5000\n",
            c = certs.display(),
            d = dir.path().display(),
            m = tls.port,
        ),
    )
    .unwrap();
    let _sentinel = SentinelProcess(
        Command::new(std::env::var("ZEUES_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into()))
            .arg(&conf)
            .arg("--sentinel")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut cfg = RedisConfig::single("redis://unused");
    cfg.topology = Topology::Sentinel {
        sentinels: vec![format!("rediss://:centinela-zeues@localhost:{port}")],
        service: "zeues".into(),
        master_username: None,
        master_password: Some("maestro-zeues".into()),
        master_tls: true,
        db: 0,
    };
    cfg.connect_timeout = Duration::from_millis(500);
    cfg.ca_file = Some(tls.ca_file.display().to_string());

    // The sentinel needs a moment to start and to see the master.
    let coord = RedisCoordinator::connect(cfg.clone()).await.unwrap();
    let t0 = Instant::now();
    let mut last = None;
    while t0.elapsed() < Duration::from_secs(15) {
        match coord.ping().await {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("sentinel.log")).unwrap_or_default();
    assert!(last.is_none(), "{last:?}\nsentinel log:\n{log}");
    locks_work(cfg.clone()).await;

    // The CA is what makes it work: without it neither the sentinel nor the master is trusted.
    cfg.ca_file = None;
    let untrusted = RedisCoordinator::connect(cfg).await.unwrap();
    let e = untrusted.ping().await.unwrap_err();
    println!("without the CA: {e}");
    assert!(!e.to_string().contains("maestro-zeues"), "{e}");
    assert!(!e.to_string().contains("centinela-zeues"), "{e}");
}
