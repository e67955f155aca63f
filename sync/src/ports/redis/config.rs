//! How to reach Redis and how the shared coordination is tuned. Read from plain settings
//! (environment variables or the app's config file, same names), so the shell and the CLI
//! share one parser. Secrets (passwords in URLs) never reach `describe()` or a log line.

use std::time::Duration;

/// Where Redis is.
#[derive(Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server: `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS) or
    /// `redis+unix:///path/to/redis.sock`.
    Single { url: String },
    /// Sentinel: the sentinels' URLs (their own AUTH in the URL) and the monitored service
    /// name; the master is found through them and again after every failover.
    Sentinel {
        sentinels: Vec<String>,
        service: String,
        /// AUTH and TLS for the master itself (`None`: no password).
        master_username: Option<String>,
        master_password: Option<String>,
        master_tls: bool,
        db: i64,
    },
    /// Cluster: some of the nodes' URLs (AUTH and `rediss` in the URLs); the rest is
    /// discovered. Every key of one spool carries the hash tag `{TAG}`, so it lives in one slot.
    Cluster { nodes: Vec<String> },
}

/// A rolling limit: at most `limit` grants in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
    /// Tokens that may be spent at once. The bucket refills at `(limit - burst) / window`, so
    /// that burst + refill never exceeds `limit` in any window.
    pub burst: u32,
}

impl RateLimit {
    pub fn per_minute(limit: u32) -> RateLimit {
        RateLimit {
            limit,
            window: Duration::from_secs(60),
            burst: (limit / 10).max(1),
        }
    }

    /// Tokens per millisecond.
    pub fn refill_per_ms(&self) -> f64 {
        let spare = self.limit.saturating_sub(self.burst).max(1);
        f64::from(spare) / self.window.as_millis().max(1) as f64
    }
}

/// The Sheets quota shared by every device using one service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaConfig {
    /// The service account's e-mail (or any name shared by the devices that use it).
    pub account: String,
    pub reads: RateLimit,
    pub writes: RateLimit,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            account: "default".into(),
            reads: RateLimit::per_minute(50),
            writes: RateLimit::per_minute(50),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub topology: Topology,
    /// Namespace of every key (several plants may share one Redis).
    pub prefix: String,
    /// PEM file with the CA that signed the servers' certificates (`rediss` with a private
    /// CA): trusted for the single server, every Cluster node, the `rediss://` sentinels and
    /// the master they name (`ZEUES_REDIS_MASTER_TLS`).
    pub ca_file: Option<String>,
    pub quota: QuotaConfig,
    /// How long an applied command id is remembered. The sheet's `version` and `Metadata`
    /// remain the proof after that; this is only the fast path.
    pub applied_retention: Duration,
    /// Change stream length kept (approximate trimming); a device further behind reloads.
    pub stream_maxlen: usize,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    /// After Redis starts empty (first start or a restart that lost its data), no row mutex is
    /// granted for this long: a device that held one before the restart may still have its
    /// write to the sheet in flight, and Google Sheets has no compare-and-set to stop a second
    /// writer. Must exceed the engine's write deadline (`EngineConfig::write_deadline`) plus
    /// the time a request can spend in the network. `ZEUES_REDIS_ROW_SETTLE_SECS`.
    pub row_settle: Duration,
}

impl RedisConfig {
    pub fn single(url: &str) -> RedisConfig {
        RedisConfig {
            topology: Topology::Single {
                url: url.to_string(),
            },
            prefix: "zeues".into(),
            ca_file: None,
            quota: QuotaConfig::default(),
            applied_retention: Duration::from_secs(14 * 24 * 3600),
            stream_maxlen: 10_000,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            row_settle: Duration::from_secs(60),
        }
    }

    /// Reads the settings documented in the README (`ZEUES_REDIS_*`, `ZEUES_QUOTA_*`).
    /// `Ok(None)` when no Redis is configured (standalone).
    pub fn from_settings(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<RedisConfig>, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let list = |v: String| -> Vec<String> {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let topology = if let Some(nodes) = get("ZEUES_REDIS_CLUSTER") {
            Topology::Cluster { nodes: list(nodes) }
        } else if let Some(sentinels) = get("ZEUES_REDIS_SENTINELS") {
            Topology::Sentinel {
                sentinels: list(sentinels),
                service: get("ZEUES_REDIS_SENTINEL_MASTER").ok_or(ConfigError::Missing(
                    "ZEUES_REDIS_SENTINEL_MASTER (nombre del servicio monitoreado)",
                ))?,
                master_username: get("ZEUES_REDIS_MASTER_USERNAME"),
                master_password: get("ZEUES_REDIS_MASTER_PASSWORD"),
                master_tls: parse_bool(get("ZEUES_REDIS_MASTER_TLS"))?,
                db: parse_num(get("ZEUES_REDIS_DB"), "ZEUES_REDIS_DB")?.unwrap_or(0),
            }
        } else if let Some(url) = get("ZEUES_REDIS_URL") {
            Topology::Single { url }
        } else {
            return Ok(None);
        };
        let mut cfg = RedisConfig::single("");
        cfg.topology = topology;
        cfg.validate()?;
        if let Some(p) = get("ZEUES_REDIS_PREFIX") {
            cfg.prefix = p;
        }
        cfg.ca_file = get("ZEUES_REDIS_CA_FILE");
        if let Some(a) = get("ZEUES_QUOTA_ACCOUNT") {
            cfg.quota.account = a;
        }
        let window = parse_num(get("ZEUES_QUOTA_WINDOW_SECS"), "ZEUES_QUOTA_WINDOW_SECS")?
            .map(Duration::from_secs);
        for (key, limit) in [
            ("ZEUES_QUOTA_READS", &mut cfg.quota.reads),
            ("ZEUES_QUOTA_WRITES", &mut cfg.quota.writes),
        ] {
            if let Some(n) = parse_num::<u32>(get(key), key)? {
                *limit = RateLimit::per_minute(n.max(1));
            }
            if let Some(w) = window {
                limit.window = w;
            }
        }
        if let Some(b) = parse_num::<u32>(get("ZEUES_QUOTA_BURST"), "ZEUES_QUOTA_BURST")? {
            for l in [&mut cfg.quota.reads, &mut cfg.quota.writes] {
                l.burst = b.clamp(1, l.limit);
            }
        }
        if let Some(d) = parse_num::<u64>(
            get("ZEUES_REDIS_APPLIED_TTL_DAYS"),
            "ZEUES_REDIS_APPLIED_TTL_DAYS",
        )? {
            cfg.applied_retention = Duration::from_secs(d.max(1) * 24 * 3600);
        }
        if let Some(n) = parse_num::<u64>(
            get("ZEUES_REDIS_ROW_SETTLE_SECS"),
            "ZEUES_REDIS_ROW_SETTLE_SECS",
        )? {
            cfg.row_settle = Duration::from_secs(n);
        }
        if let Some(n) = parse_num(
            get("ZEUES_REDIS_STREAM_MAXLEN"),
            "ZEUES_REDIS_STREAM_MAXLEN",
        )? {
            cfg.stream_maxlen = n;
        }
        Ok(Some(cfg))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |u: &str| {
            let ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
                .iter()
                .any(|s| u.starts_with(s));
            if ok {
                Ok(())
            } else {
                Err(ConfigError::BadUrl(redact(u)))
            }
        };
        match &self.topology {
            Topology::Single { url } => check(url),
            Topology::Sentinel { sentinels, .. } if sentinels.is_empty() => {
                Err(ConfigError::Missing("ZEUES_REDIS_SENTINELS"))
            }
            Topology::Cluster { nodes } if nodes.is_empty() => {
                Err(ConfigError::Missing("ZEUES_REDIS_CLUSTER"))
            }
            Topology::Sentinel { sentinels: l, .. } | Topology::Cluster { nodes: l } => {
                l.iter().try_for_each(|u| check(u))
            }
        }
    }

    /// For logs and the status panel: no credentials.
    pub fn describe(&self) -> String {
        match &self.topology {
            Topology::Single { url } => format!("Redis {}", redact(url)),
            Topology::Sentinel {
                sentinels, service, ..
            } => format!(
                "Redis Sentinel '{service}' vía {}",
                sentinels
                    .iter()
                    .map(|u| redact(u))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Topology::Cluster { nodes } => format!(
                "Redis Cluster {}",
                nodes
                    .iter()
                    .map(|u| redact(u))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("topology", &self.describe())
            .field("prefix", &self.prefix)
            .field("quota", &self.quota)
            .field("applied_retention", &self.applied_retention)
            .field("stream_maxlen", &self.stream_maxlen)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("falta la configuración {0}")]
    Missing(&'static str),
    #[error("dirección de Redis no válida: {0} (use redis://, rediss:// o redis+unix://)")]
    BadUrl(String),
    #[error("valor no válido para {key}: {value}")]
    BadValue { key: String, value: String },
}

fn parse_num<T: std::str::FromStr>(v: Option<String>, key: &str) -> Result<Option<T>, ConfigError> {
    v.map(|s| {
        s.parse().map_err(|_| ConfigError::BadValue {
            key: key.into(),
            value: s.clone(),
        })
    })
    .transpose()
}

fn parse_bool(v: Option<String>) -> Result<bool, ConfigError> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "si" | "sí" | "yes") => Ok(true),
        Some(other) => Err(ConfigError::BadValue {
            key: "ZEUES_REDIS_MASTER_TLS".into(),
            value: other.into(),
        }),
    }
}

/// `rediss://user:secret@host:6380/0` → `rediss://user:***@host:6380/0`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn no_redis_configured_is_standalone() {
        assert_eq!(RedisConfig::from_settings(settings(&[])).unwrap(), None);
    }

    #[test]
    fn single_server_with_tls_auth_and_quota() {
        let cfg = RedisConfig::from_settings(settings(&[
            (
                "ZEUES_REDIS_URL",
                "rediss://zeues:s3cr3t@redis.planta:6380/2",
            ),
            (
                "ZEUES_QUOTA_ACCOUNT",
                "zeues@planta.iam.gserviceaccount.com",
            ),
            ("ZEUES_QUOTA_WRITES", "40"),
            ("ZEUES_QUOTA_WINDOW_SECS", "60"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(cfg.quota.writes.limit, 40);
        assert_eq!(cfg.quota.reads.limit, 50);
        let shown = format!("{cfg:?} {}", cfg.describe());
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("redis.planta:6380"));
    }

    #[test]
    fn sentinel_needs_the_service_name() {
        let e = RedisConfig::from_settings(settings(&[(
            "ZEUES_REDIS_SENTINELS",
            "redis://s1:26379,redis://s2:26379",
        )]))
        .unwrap_err();
        assert!(matches!(e, ConfigError::Missing(_)));
        let cfg = RedisConfig::from_settings(settings(&[
            (
                "ZEUES_REDIS_SENTINELS",
                "redis://s1:26379, redis://s2:26379",
            ),
            ("ZEUES_REDIS_SENTINEL_MASTER", "zeues"),
            ("ZEUES_REDIS_MASTER_PASSWORD", "x"),
        ]))
        .unwrap()
        .unwrap();
        assert!(
            matches!(cfg.topology, Topology::Sentinel { ref sentinels, .. } if sentinels.len() == 2)
        );
    }

    #[test]
    fn cluster_and_bad_urls() {
        let cfg = RedisConfig::from_settings(settings(&[(
            "ZEUES_REDIS_CLUSTER",
            "redis://n1:7000,redis://n2:7000",
        )]))
        .unwrap()
        .unwrap();
        assert!(matches!(cfg.topology, Topology::Cluster { .. }));
        assert!(matches!(
            RedisConfig::from_settings(settings(&[("ZEUES_REDIS_URL", "http://x")])),
            Err(ConfigError::BadUrl(_))
        ));
    }

    #[test]
    fn burst_plus_refill_never_exceeds_the_limit_in_a_window() {
        let l = RateLimit::per_minute(50);
        let refill = l.refill_per_ms() * l.window.as_millis() as f64;
        assert!(f64::from(l.burst) + refill <= 50.0 + 1e-9);
    }
}
