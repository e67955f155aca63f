//! A faithful Google Sheets API v4 emulator for tests: the REST protocol real clients speak
//! (googleapiclient, google-sheets4, the product's own client), Google's OAuth JWT-bearer token
//! endpoint, per-user quotas, Google's error envelope, and a control API to seed state and
//! inject faults. Evidence for each behaviour and every known deviation: `tests/FIDELITY.md`.
//!
//! It serves `127.0.0.1:0` over plain HTTP, in-process ([`Emulator::start`]) or as the
//! `sheets-emulator` binary. It must never be used as anything but a test double.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zeues_tests::emulator::EmulatorError> {
//! use zeues_tests::emulator::{Emulator, EmulatorConfig, SheetSeed, SpreadsheetSeed};
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! emu.seed(&SpreadsheetSeed::new("book", vec![SheetSeed::from_rows("Operaciones", vec![])]))?;
//! let key = emu.service_account("sa@zeues-test.iam.gserviceaccount.com")?;
//! // point a client at emu.base_url() with key.to_json()? (its token_uri is emu.token_url())
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

pub mod a1;
pub mod api;
pub mod auth;
pub mod batch;
pub mod cell;
pub mod error;
pub mod faults;
pub mod fields;
pub mod formula;
pub mod keys;
pub mod model;
pub mod reqschema;
pub mod resource;
pub mod scenario;
pub mod seed;
pub mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use auth::QuotaConfig;
pub use error::{ApiError, EmulatorError};
pub use faults::{Fault, FaultRule, Phase};
pub use keys::{ServiceAccountKey, SPREADSHEETS_SCOPE};
pub use seed::{SheetSeed, SpreadsheetSeed};
pub use server::Call;

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Google's per-user per-minute quotas (on by default, 60/60).
    pub quota: QuotaConfig,
    /// `expires_in` of minted access tokens.
    pub token_lifetime: Duration,
    /// The `project_number:N` quota messages name.
    pub project_number: u64,
    /// Seed for generated sheet ids and tokens (deterministic runs).
    pub rng_seed: u64,
    /// Log refused tokens, API errors and connection errors to stderr.
    pub verbose: bool,
    /// Keep every API response body (for schema validation); off by default, as a
    /// 100,000-row read would be kept too.
    pub record_responses: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            quota: QuotaConfig::default(),
            token_lifetime: Duration::from_secs(3599),
            project_number: 424_242_424_242,
            rng_seed: 0x5EE7_5EED,
            verbose: false,
            record_responses: false,
        }
    }
}

/// A running emulator. Dropping it without [`Emulator::shutdown`] leaves the server task to end
/// with the runtime.
pub struct Emulator {
    shared: Arc<server::Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Emulator {
    pub async fn start(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(EmulatorError::Bind)?;
        let addr = listener.local_addr().map_err(EmulatorError::Bind)?;
        let shared = Arc::new(server::Shared::new(config, format!("http://{addr}/")));
        let app = server::router(shared.clone());
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, app, shared.clone(), rx));
        Ok(Emulator {
            shared,
            addr,
            stop,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/` — a client's root/base URL.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// `http://127.0.0.1:PORT/token` — the `token_uri` of test keys.
    pub fn token_url(&self) -> &str {
        &self.shared.token_url
    }

    pub async fn shutdown(self) {
        if self.stop.send(true).is_err() {
            // The server loop already ended; nothing to stop.
        }
        if let Err(e) = self.task.await {
            eprintln!("sheets-emulator: server task ended abnormally: {e}");
        }
    }

    /// Adds (or replaces) a spreadsheet.
    pub fn seed(&self, seed: &SpreadsheetSeed) -> Result<(), EmulatorError> {
        let book = seed.build()?;
        self.shared.lock().books.insert(book.id.clone(), book);
        Ok(())
    }

    /// The spreadsheet's current state in seed form.
    pub fn dump(&self, spreadsheet_id: &str) -> Option<SpreadsheetSeed> {
        self.shared
            .lock()
            .books
            .get(spreadsheet_id)
            .map(SpreadsheetSeed::dump)
    }

    /// Registers a service account's public key with the token endpoint.
    pub fn register_key(&self, key: &ServiceAccountKey) {
        self.shared
            .lock()
            .accounts
            .insert(key.client_email.clone(), key.public_key());
    }

    /// Generates and registers a service-account key whose `token_uri` is this emulator.
    pub fn service_account(&self, client_email: &str) -> Result<ServiceAccountKey, EmulatorError> {
        let key = ServiceAccountKey::generate(client_email, self.token_url())?;
        self.register_key(&key);
        Ok(key)
    }

    /// Like [`Self::service_account`], and writes the key file (mode 0600).
    pub fn write_service_account(
        &self,
        client_email: &str,
        path: &Path,
    ) -> Result<ServiceAccountKey, EmulatorError> {
        let key = self.service_account(client_email)?;
        key.write(path)?;
        Ok(key)
    }

    /// An access token for `client_email` with the spreadsheets scope, without the OAuth dance.
    pub fn mint_token(&self, client_email: &str) -> String {
        let mut inner = self.shared.lock();
        self.shared.mint_token(
            &mut inner,
            client_email,
            vec![SPREADSHEETS_SCOPE.to_string()],
        )
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every token issued so far stops working (401) from now on.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for t in self.shared.lock().tokens.values_mut() {
            t.expires_at = now;
        }
    }

    pub fn set_quota(&self, quota: QuotaConfig) {
        let mut inner = self.shared.lock();
        inner.quota = quota;
        inner.quotas.reset();
    }

    pub fn reset_quotas(&self) {
        self.shared.lock().quotas.reset();
    }

    /// Requests per method (`spreadsheets.batchUpdate`, ..., and `oauth2.token`).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.shared.lock().counts.clone()
    }

    /// Sheets API calls (token requests excluded).
    pub fn api_calls(&self) -> u64 {
        self.shared
            .lock()
            .counts
            .iter()
            .filter(|(k, _)| k.starts_with("spreadsheets."))
            .map(|(_, v)| v)
            .sum()
    }

    /// Recorded responses (`{"method", "status", "body"}`), when `record_responses` is on.
    pub fn responses(&self) -> Vec<serde_json::Value> {
        self.shared.lock().log.clone()
    }

    /// Every API request so far, in arrival order, with its time and whether the per-user
    /// quota refused it (token requests excluded).
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Clears the counts and the call log.
    pub fn reset_counts(&self) {
        let mut inner = self.shared.lock();
        inner.counts.clear();
        inner.calls.clear();
    }
}
