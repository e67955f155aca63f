//! A plant for window tests: a real `redis-server` and the Sheets emulator seeded with the demo
//! plant (as `plant-sim` seeds it), a service-account key, and the configuration file that
//! points one app instance (one device) at them, directly or through chaos proxies.

use std::path::{Path, PathBuf};

use zeues_sync::domain::sheet::{METADATA, OPERACIONES, ROLES, TRABAJADORES};

use crate::chaos::ChaosProxy;
use crate::emulator::{Emulator, EmulatorConfig, QuotaConfig, SpreadsheetSeed};
use crate::plant::{grid_sheet, BOOK, SERVICE_ACCOUNT};
use crate::redis_server::RedisServer;

use super::e2e::TestResult;

pub struct WindowPlant {
    pub redis: RedisServer,
    pub emu: Emulator,
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

/// How one device reaches the plant.
#[derive(Debug, Clone)]
pub struct Route {
    pub sheets_url: String,
    pub redis_url: String,
}

impl WindowPlant {
    pub async fn start(spools: usize, seed: u64) -> TestResult<WindowPlant> {
        let redis = RedisServer::start()?;
        let emu = Emulator::start(EmulatorConfig::default()).await?;
        // Google's per-minute limits are the engine suites' business; here they would only
        // make timings depend on what ran before.
        emu.set_quota(QuotaConfig {
            enabled: false,
            ..QuotaConfig::default()
        });
        let (ops, trab, roles, meta) = zeues_sync::demo::build(chrono::Utc::now(), seed, spools);
        emu.seed(&SpreadsheetSeed::new(
            BOOK,
            vec![
                grid_sheet(OPERACIONES, &ops),
                grid_sheet(TRABAJADORES, &trab),
                grid_sheet(ROLES, &roles),
                grid_sheet(METADATA, &meta),
            ],
        ))?;
        let dir = tempfile::tempdir()?;
        let key = dir.path().join("cuenta-servicio.json");
        emu.write_service_account(SERVICE_ACCOUNT, &key)?;
        Ok(WindowPlant {
            redis,
            emu,
            key,
            _dir: dir,
        })
    }

    pub fn direct(&self) -> Route {
        Route {
            sheets_url: self.emu.base_url().to_string(),
            redis_url: self.redis.url(),
        }
    }

    /// Chaos proxies in front of the emulator and Redis, for a device that will be cut off.
    pub async fn proxies(&self) -> TestResult<(ChaosProxy, ChaosProxy, Route)> {
        let sheets = ChaosProxy::start(self.emu.addr()).await?;
        let redis_addr = format!("127.0.0.1:{}", self.redis.port()).parse()?;
        let redis = ChaosProxy::start(redis_addr).await?;
        let route = Route {
            sheets_url: format!("http://{}", sheets.addr()),
            redis_url: format!("redis://{}", redis.addr()),
        };
        Ok((sheets, redis, route))
    }

    /// Writes `<data_dir>/zeues.toml` (the file `--data-dir` makes the app read): plant mode,
    /// this device's name and how it reaches the plant.
    pub fn configure(&self, data_dir: &Path, device_name: &str, route: &Route) -> TestResult {
        let toml = format!(
            "mode = \"planta\"\n\
             spreadsheet_id = \"{BOOK}\"\n\
             key_file = \"{}\"\n\
             redis_url = \"{}\"\n\
             device_name = \"{device_name}\"\n\
             sheets_base_url = \"{}\"\n\
             \n\
             [redis]\n\
             ZEUES_QUOTA_ACCOUNT = \"{SERVICE_ACCOUNT}\"\n\
             ZEUES_REDIS_ROW_SETTLE_SECS = \"1\"\n",
            self.key.display(),
            route.redis_url,
            route.sheets_url,
        );
        std::fs::write(data_dir.join("zeues.toml"), toml)?;
        Ok(())
    }

    /// Sets the supervisor PIN in the plant database of the device on `data_dir` (what the
    /// first-run screen's PIN field does), before the device first starts.
    pub fn set_supervisor_pin(&self, data_dir: &Path, pin: &str) -> TestResult {
        let (store, _) = zeues_sync::store::Store::open(
            &data_dir.join("planta").join(zeues_sync::service::DEVICE_DB),
        )?;
        zeues_sync::service::set_pin(&store, pin).map_err(|e| e.message)?;
        Ok(())
    }
}
