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
