//! Connections for each topology behind one type. Single server: redis-rs's
//! `ConnectionManager` (reconnects on its own). Cluster: the async cluster connection (follows
//! slot moves and reconnects). Sentinel: a multiplexed connection to the master the sentinels
//! name, dropped and looked up again after any connection error (a failover moves the master).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::sentinel::{
    SentinelClient, SentinelClientBuilder, SentinelNodeConnectionInfo, SentinelServerType,
};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline,
    RedisError, RedisFuture, RedisResult, TlsCertificates, Value,
};

use super::config::{RedisConfig, Topology};
use crate::ports::CoordError;

#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
    Sentinel(Arc<SentinelConn>),
}

pub(super) struct SentinelConn {
    client: tokio::sync::Mutex<SentinelClient>,
    current: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    config: AsyncConnectionConfig,
}

impl SentinelConn {
    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(c) = self.current.lock().await.clone() {
            return Ok(c);
        }
        let fresh = self
            .client
            .lock()
            .await
            .get_async_connection_with_config(&self.config)
            .await?;
        *self.current.lock().await = Some(fresh.clone());
        Ok(fresh)
    }

    async fn forget_if_broken(&self, e: &RedisError) {
        let readonly = e.code() == Some("READONLY");
        if readonly || e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
            *self.current.lock().await = None;
        }
    }

    async fn command(&self, cmd: &Cmd) -> RedisResult<Value> {
        let mut c = self.connection().await?;
        let r = c.req_packed_command(cmd).await;
        if let Err(e) = &r {
            self.forget_if_broken(e).await;
        }
        r
    }

    async fn commands(&self, p: &Pipeline, offset: usize, count: usize) -> RedisResult<Vec<Value>> {
        let mut c = self.connection().await?;
        let r = c.req_packed_commands(p, offset, count).await;
        if let Err(e) = &r {
            self.forget_if_broken(e).await;
        }
        r
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(s) => Box::pin(async move { s.command(cmd).await }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(s) => Box::pin(async move { s.commands(pipeline, offset, count).await }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(_) => 0,
        }
    }
}

/// Opens connections for a configuration; kept so a second (blocking) one can be made later.
pub(super) struct Opener {
    cfg: RedisConfig,
    certs: Option<TlsCertificates>,
}

fn bad_config(what: String) -> CoordError {
    CoordError::Protocol(format!("configuración de Redis: {what}"))
}

impl Opener {
    pub(super) fn new(cfg: &RedisConfig) -> Result<Opener, CoordError> {
        cfg.validate().map_err(|e| bad_config(e.to_string()))?;
        let certs = match &cfg.ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| bad_config(format!("no se pudo leer {path}: {e}")))?;
                Some(TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                })
            }
            None => None,
        };
        Ok(Opener {
            cfg: cfg.clone(),
            certs,
        })
    }

    fn client(&self, url: &str) -> RedisResult<Client> {
        match &self.certs {
            Some(c) => Client::build_with_tls(url, c.clone()),
            None => Client::open(url),
        }
    }

    /// A connection whose answers may take up to `response_timeout` (`None`: no limit, for
    /// blocking reads). Connecting is lazy for a single server: a device starts without Redis.
    pub(super) async fn open(&self, response_timeout: Option<Duration>) -> RedisResult<Conn> {
        let cfg = &self.cfg;
        match &cfg.topology {
            Topology::Single { url } => {
                let mgr_cfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(cfg.connect_timeout))
                    .set_response_timeout(response_timeout)
                    .set_number_of_retries(2)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                let m = ConnectionManager::new_lazy_with_config(self.client(url)?, mgr_cfg)?;
                Ok(Conn::Single(m))
            }
            Topology::Cluster { nodes } => {
                let mut b = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(cfg.connect_timeout)
                    .retries(3);
                if let Some(t) = response_timeout {
                    b = b.response_timeout(t);
                } else {
                    b = b.response_timeout(Duration::from_secs(3600));
                }
                if let Some(c) = &self.certs {
                    b = b.certs(c.clone());
                }
                let client = b.build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
            Topology::Sentinel {
                sentinels,
                service,
                master_username,
                master_password,
                master_tls,
                db,
            } => {
                let client = match &self.certs {
                    Some(certs) => sentinel_with_ca(
                        certs,
                        sentinels,
                        service,
                        master_username.as_deref(),
                        master_password.as_deref(),
                        *master_tls,
                        *db,
                    )?,
                    None => {
                        let mut info = redis::RedisConnectionInfo::default().set_db(*db);
                        if let Some(u) = master_username {
                            info = info.set_username(u);
                        }
                        if let Some(p) = master_password {
                            info = info.set_password(p);
                        }
                        let mut node =
                            SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
                        if *master_tls {
                            node = node.set_tls_mode(redis::TlsMode::Secure);
                        }
                        let infos = sentinels
                            .iter()
                            .map(|s| s.as_str().into_connection_info())
                            .collect::<RedisResult<Vec<_>>>()?;
                        SentinelClient::build(
                            infos,
                            service,
                            Some(node),
                            SentinelServerType::Master,
                        )?
                    }
                };
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(cfg.connect_timeout))
                    .set_response_timeout(response_timeout);
                Ok(Conn::Sentinel(Arc::new(SentinelConn {
                    client: tokio::sync::Mutex::new(client),
                    current: tokio::sync::Mutex::new(None),
                    config,
                })))
            }
        }
    }
}

/// A Sentinel client that trusts the private CA (`ZEUES_REDIS_CA_FILE`) on both legs: the
/// `rediss://` sentinels and the master they name (when `master_tls`). Only redis-rs's builder
/// takes a CA for the master connection; it takes one user/password for every sentinel, so the
/// sentinels' URLs must agree on them (they normally share one `requirepass`).
fn sentinel_with_ca(
    certs: &TlsCertificates,
    sentinels: &[String],
    service: &str,
    master_username: Option<&str>,
    master_password: Option<&str>,
    master_tls: bool,
    db: i64,
) -> RedisResult<SentinelClient> {
    let mut addrs = Vec::with_capacity(sentinels.len());
    let mut auth: Option<(Option<String>, Option<String>)> = None;
    for url in sentinels {
        let mut info = url.as_str().into_connection_info()?;
        if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
            // The CA goes into this sentinel's own address, so plain `redis://` sentinels can
            // sit in the same list.
            info = Client::build_with_tls(info, certs.clone())?
                .get_connection_info()
                .clone();
        }
        let r = info.redis_settings();
        let this = (
            r.username().map(str::to_string),
            r.password().map(str::to_string),
        );
        match &auth {
            None => auth = Some(this),
            Some(first) if *first == this => {}
            Some(_) => {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "configuración de Sentinel",
                    "con ZEUES_REDIS_CA_FILE, todos los centinelas de ZEUES_REDIS_SENTINELS deben \
                     usar el mismo usuario y contraseña"
                        .to_string(),
                )))
            }
        }
        addrs.push(info.addr().clone());
    }
    let mut b = SentinelClientBuilder::new(addrs, service, SentinelServerType::Master)?
        .set_client_to_redis_db(db)
        .set_client_to_redis_certificates(certs.clone());
    if master_tls {
        b = b.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
    }
    if let Some(u) = master_username {
        b = b.set_client_to_redis_username(u);
    }
    if let Some(p) = master_password {
        b = b.set_client_to_redis_password(p);
    }
    if let Some((user, password)) = auth {
        if let Some(u) = user {
            b = b.set_client_to_sentinel_username(u);
        }
        if let Some(p) = password {
            b = b.set_client_to_sentinel_password(p);
        }
    }
    b.build()
}

/// Connection trouble (Redis down, restarting, failing over) is `Unavailable`: the engine
/// keeps commands queued and retries. Anything else is a protocol surprise.
pub(super) fn coord_err(e: RedisError) -> CoordError {
    let transient_code = matches!(
        e.code(),
        Some("LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN" | "READONLY" | "CLUSTERDOWN")
    );
    let transient = e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_cluster_error()
        || transient_code
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::MasterNameNotFoundBySentinel
                | ErrorKind::AuthenticationFailed
                | ErrorKind::Io
        );
    if transient {
        CoordError::Unavailable(e.to_string())
    } else {
        CoordError::Protocol(e.to_string())
    }
}
