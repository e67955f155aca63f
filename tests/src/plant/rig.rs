//! An in-process plant for benchmarks and suites: a real `redis-server`, the Sheets emulator
//! seeded with the demo plant, and devices that are real plant-mode `Zeues` instances (own
//! SQLite file, the product's Google Sheets client, the Redis coordinator), optionally behind
//! chaos proxies.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use zeues_sync::domain::sheet::{Grid, METADATA, OPERACIONES, ROLES, TRABAJADORES};
use zeues_sync::engine::{EngineConfig, NoNotifier};
use zeues_sync::ports::redis::{RedisConfig, RedisCoordinator};
use zeues_sync::ports::sheets::auth::Credentials;
use zeues_sync::ports::sheets::{GoogleSheets, SheetsConfig};
use zeues_sync::service::{uuid_ids, PlantTasks, SystemClock, Wiring, Zeues};
use zeues_sync::store::Store;

use super::{grid_sheet, BOOK, SERVICE_ACCOUNT, SIM_PIN};
use crate::chaos::ChaosProxy;
use crate::emulator::{Emulator, EmulatorConfig, QuotaConfig, SpreadsheetSeed};
use crate::redis_server::RedisServer;

pub struct PlantRig {
    pub redis: RedisServer,
    pub emu: Emulator,
    pub key: PathBuf,
    pub dir: tempfile::TempDir,
    /// Operaciones as seeded.
    pub initial: Grid,
}

/// How a device reaches the plant.
pub struct Route {
    pub sheets_url: String,
    pub redis_url: String,
}

impl PlantRig {
    /// `quota`: Google's per-user limits at the emulator (on in production-like runs).
    pub async fn start(spools: usize, seed: u64, quota: bool) -> Result<PlantRig, String> {
        let redis = RedisServer::start().map_err(|e| e.to_string())?;
        let emu = Emulator::start(EmulatorConfig::default())
            .await
            .map_err(|e| e.to_string())?;
        if !quota {
            emu.set_quota(QuotaConfig {
                enabled: false,
                ..QuotaConfig::default()
            });
        }
        let (ops, trab, roles, meta) = zeues_sync::demo::build(chrono::Utc::now(), seed, spools);
        emu.seed(&SpreadsheetSeed::new(
            BOOK,
            vec![
                grid_sheet(OPERACIONES, &ops),
                grid_sheet(TRABAJADORES, &trab),
                grid_sheet(ROLES, &roles),
                grid_sheet(METADATA, &meta),
            ],
        ))
        .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let key = dir.path().join("sa.json");
        emu.write_service_account(SERVICE_ACCOUNT, &key)
            .map_err(|e| e.to_string())?;
        Ok(PlantRig {
            redis,
            emu,
            key,
            dir,
            initial: ops,
        })
    }

    pub fn direct(&self) -> Route {
        Route {
            sheets_url: self.emu.base_url().to_string(),
            redis_url: self.redis.url(),
        }
    }

    /// A pair of chaos proxies for one device (Sheets, Redis).
    pub async fn proxies(&self) -> Result<(ChaosProxy, ChaosProxy, Route), String> {
        let s = ChaosProxy::start(self.emu.addr())
            .await
            .map_err(|e| e.to_string())?;
        let addr = format!("127.0.0.1:{}", self.redis.port())
            .parse()
            .map_err(|e: std::net::AddrParseError| e.to_string())?;
        let r = ChaosProxy::start(addr).await.map_err(|e| e.to_string())?;
        let route = Route {
            sheets_url: format!("http://{}", s.addr()),
            redis_url: format!("redis://{}", r.addr()),
        };
        Ok((s, r, route))
    }

    /// The product's Google Sheets client on the rig's spreadsheet (what another device or an
    /// IT tool would use).
    pub async fn client(&self) -> Result<GoogleSheets, String> {
        let mut cfg = SheetsConfig::new(BOOK);
        cfg.base_url = self.emu.base_url().to_string();
        GoogleSheets::connect(cfg, Credentials::ServiceAccountFile(self.key.clone()))
            .await
            .map_err(|e| e.to_string())
    }

    /// A plant device named `name` (its folder under the rig's).
    pub async fn device(&self, name: &str, route: &Route) -> Result<Arc<Zeues>, String> {
        let mut rcfg = RedisConfig::single(&route.redis_url);
        rcfg.quota.account = SERVICE_ACCOUNT.into();
        // The rig's Redis never restarts: no settle period before the first row write.
        rcfg.row_settle = Duration::ZERO;
        let coord = RedisCoordinator::connect(rcfg)
            .await
            .map_err(|e| e.to_string())?;
        self.device_with(name, &route.sheets_url, Arc::new(coord))
            .await
    }

    /// A plant device configured without Redis (Sheets-only): its coordinator is in-process.
    pub async fn device_without_redis(
        &self,
        name: &str,
        route: &Route,
    ) -> Result<Arc<Zeues>, String> {
        let coord = zeues_sync::ports::InProcessCoordinator::with_quota(
            zeues_sync::ports::redis::RateLimit::per_minute(50),
            zeues_sync::ports::redis::RateLimit::per_minute(50),
        );
        self.device_in_mode(name, &route.sheets_url, Arc::new(coord), true)
            .await
    }

    async fn device_with(
        &self,
        name: &str,
        sheets_url: &str,
        coordinator: Arc<dyn zeues_sync::ports::Coordinator>,
    ) -> Result<Arc<Zeues>, String> {
        self.device_in_mode(name, sheets_url, coordinator, false)
            .await
    }

    /// `single_writer`: the device writes only while it is the spreadsheet's registered
    /// writer (a plant without Redis, as `Zeues::open_plant` configures it).
    async fn device_in_mode(
        &self,
        name: &str,
        sheets_url: &str,
        coordinator: Arc<dyn zeues_sync::ports::Coordinator>,
        single_writer: bool,
    ) -> Result<Arc<Zeues>, String> {
        let dir = self.dir.path().join(name);
        let (store, _) = Store::open(&dir.join("zeues.db")).map_err(|e| e.to_string())?;
        let mut cfg = SheetsConfig::new(BOOK);
        cfg.base_url = sheets_url.to_string();
        cfg.request_timeout = Duration::from_secs(10);
        let wb = GoogleSheets::connect(cfg, Credentials::ServiceAccountFile(self.key.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let wiring = Wiring {
            store: Arc::new(store),
            workbook: Arc::new(wb),
            coordinator,
            clock: Arc::new(SystemClock),
            notifier: Arc::new(NoNotifier),
            ids: uuid_ids(),
            config: EngineConfig {
                mode: "plant",
                idle: Duration::from_millis(500),
                single_writer,
                ..EngineConfig::default()
            },
            data_dir: dir,
            plant: Some(PlantTasks::default()),
        };
        let handle = tokio::runtime::Handle::current();
        let z = tokio::task::spawn_blocking(move || Zeues::start(wiring, handle))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{}: {}", e.code, e.message))?;
        z.set_supervisor_pin(SIM_PIN).map_err(|e| e.message)?;
        Ok(z)
    }
}
