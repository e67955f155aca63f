//! Redis Cluster and Sentinel made of real `redis-server` processes, for the topology smoke
//! tests (production supports them by configuration; CI's suites run on a single server).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, raw_command, RedisServer, RedisServerError, ServerOptions};

/// Three masters, no replicas, all 16,384 slots assigned.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> Result<RedisCluster, RedisServerError> {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(RedisServer::start_with(ServerOptions {
                extra: vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-node-timeout".into(),
                    "2000".into(),
                ],
                ..ServerOptions::default()
            })?);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|source| RedisServerError::Spawn {
                bin: "redis-cli".into(),
                source,
            })?;
        if !out.status.success() {
            return Err(RedisServerError::Protocol(format!(
                "redis-cli --cluster create: {}",
                String::from_utf8_lossy(&out.stdout)
            )));
        }
        let cluster = RedisCluster { nodes };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            if cluster.nodes.iter().all(|n| {
                n.command(&["CLUSTER", "INFO"])
                    .is_ok_and(|i| i.contains("cluster_state:ok"))
            }) {
                return Ok(cluster);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(RedisServerError::Protocol(
            "el cluster no llegó a cluster_state:ok".into(),
        ))
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A master and one sentinel monitoring it as service `zeues` (quorum 1).
pub struct RedisSentinel {
    pub master: RedisServer,
    sentinel: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    pub const SERVICE: &'static str = "zeues";

    pub fn start() -> Result<RedisSentinel, RedisServerError> {
        let master = RedisServer::start()?;
        let dir = tempfile::Builder::new()
            .prefix("zeues-sentinel-")
            .tempdir()?;
        let port = free_port()?;
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nlogfile {}\n\
                 sentinel monitor {} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {} 2000\n",
                dir.path().display(),
                dir.path().join("sentinel.log").display(),
                Self::SERVICE,
                master.port(),
                Self::SERVICE,
            ),
        )?;
        let child = Command::new(
            std::env::var("ZEUES_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into()),
        )
        .arg(&conf)
        .arg("--sentinel")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| RedisServerError::Spawn {
            bin: "redis-server --sentinel".into(),
            source,
        })?;
        let s = RedisSentinel {
            master,
            sentinel: Some(child),
            port,
            _dir: dir,
        };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if raw_command(port, None, &["PING"]).is_ok_and(|p| p == "PONG") {
                return Ok(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(RedisServerError::Protocol("sentinel no respondió".into()))
    }

    pub fn sentinel_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        if let Some(mut c) = self.sentinel.take() {
            if let Err(e) = c.kill() {
                eprintln!("sentinel {}: kill: {e}", c.id());
            }
            if let Err(e) = c.wait() {
                eprintln!("sentinel {}: wait: {e}", c.id());
            }
        }
    }
}
