//! `GoogleSheets`: the plant's Google Sheets workbook through the Sheets API v4 over HTTPS
//! (reqwest + yup-oauth2), implementing [`Workbook`].
//!
//! - **Reads**: one `spreadsheets.get` (sheet ids, titles, grid sizes; cached) and then one
//!   `values.batchGet` per read, `UNFORMATTED_VALUE` + `SERIAL_NUMBER`, for exactly the columns
//!   the app uses, found by normalized header name. Every batchGet also carries the header row:
//!   when Engineering inserted, moved or renamed columns since the last read, the client sees it
//!   in the same response, re-maps and reads again.
//! - **Writes**: one `spreadsheets.batchUpdate` per [`WriteBatch`] — `updateCells` for the
//!   rows' changed cells and `appendCells` for the audit rows, addressed by `sheetId` — so a
//!   batch lands whole or not at all. Text is always `stringValue` (never a formula), dates are
//!   serial numbers with a date number format.
//! - **Errors**: Google's error envelope is parsed. Reads retry 429/5xx/timeouts with
//!   exponential backoff and jitter; a write retries only what certainly did not land (429,
//!   refused connection) and reports everything else after sending (timeout, dropped
//!   connection, 5xx) as [`WorkbookError::OutcomeUnknown`]: the engine settles those by reading
//!   the row's `version`, never by writing twice.
//!
//! Tokens and key material never reach a log line (see [`auth::Secret`]).

pub mod a1;
pub mod auth;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use self::a1::A1Range;
use self::auth::{AuthSetupError, Credentials, TokenSource};
use self::wire::{BatchGet, Spreadsheet, SPREADSHEET_FIELDS};
use super::{
    AddColumns, Append, RowUpdate, RowsRead, TabShape, Workbook, WorkbookError, WriteBatch,
    WriterLease, WRITER_TAB,
};
use crate::domain::audit::METADATA_HEADERS;
use crate::domain::header::{normalize_header, ColumnMap};
use crate::domain::sheet::{Col, Grid, METADATA, OPERACIONES, ROLES, TRABAJADORES};
use crate::domain::RawCell;

pub const DEFAULT_BASE_URL: &str = "https://sheets.googleapis.com";

/// Where the workbook is and how patient to be with it.
#[derive(Debug, Clone)]
pub struct SheetsConfig {
    pub spreadsheet_id: String,
    /// `https://sheets.googleapis.com` in production; the emulator's address in tests.
    pub base_url: String,
    /// Whole-request timeout (connect + send + answer).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Tries per call, the first included.
    pub max_attempts: u32,
    /// Backoff before retry `n` is `min(base · 2ⁿ, max) + jitter(0..base)`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Seed of the retry jitter; `None` draws one (devices must not retry in lockstep).
    pub jitter_seed: Option<u64>,
}

impl SheetsConfig {
    pub fn new(spreadsheet_id: impl Into<String>) -> Self {
        SheetsConfig {
            spreadsheet_id: spreadsheet_id.into(),
            base_url: DEFAULT_BASE_URL.to_string(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(32),
            jitter_seed: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    #[error("no se pudo preparar el cliente HTTP de Google Sheets: {0}")]
    Client(String),
    #[error("el id de la planilla está vacío o no es válido: '{0}'")]
    SpreadsheetId(String),
}

/// What the client has sent, for the status panel and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// HTTP requests to the Sheets API (retries included), reads and writes.
    pub reads: u64,
    pub writes: u64,
    pub retries: u64,
}

/// A sheet as `spreadsheets.get` describes it (the fields this client asks for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetInfo {
    pub sheet_id: i64,
    pub title: String,
    pub rows: u32,
    pub columns: u32,
}

#[derive(Debug, Clone)]
struct SheetMeta {
    sheet_id: i64,
    title: String,
    rows: u32,
    columns: u32,
}

#[derive(Debug, Default)]
struct Cache {
    sheets: Option<Vec<SheetMeta>>,
    /// Last header row seen per sheet title.
    headers: HashMap<String, Vec<String>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CallKind {
    Read,
    Write,
}

pub struct GoogleSheets {
    http: reqwest::Client,
    tokens: TokenSource,
    config: SheetsConfig,
    cache: Mutex<Cache>,
    rng: Mutex<rand_chacha::ChaCha8Rng>,
    reads: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
}

impl std::fmt::Debug for GoogleSheets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSheets")
            .field("spreadsheet_id", &self.config.spreadsheet_id)
            .field("base_url", &self.config.base_url)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// The columns the app reads from each tab (by header name). Other tabs are read whole.
fn wanted_columns(tab: &str) -> Option<Vec<&'static str>> {
    match tab {
        OPERACIONES => Some(Col::ALL.iter().map(|c| c.header()).collect()),
        TRABAJADORES => Some(vec!["Id", "Nombre", "Apellido", "Activo"]),
        ROLES => Some(vec!["Id", "Rol", "Activo"]),
        METADATA => Some(METADATA_HEADERS.to_vec()),
        _ => None,
    }
}

/// Sorted 0-based columns of `names` in `headers` (a missing or ambiguous name is skipped:
/// the layout check reports it with its name).
fn wanted_indices(headers: &[String], names: &[&str]) -> Vec<usize> {
    let map = ColumnMap::from_headers(headers);
    let mut idx: Vec<usize> = names.iter().filter_map(|n| map.find(n)).collect();
    idx.sort_unstable();
    idx.dedup();
    idx
}

/// Adjacent columns merged into `(first, last)` spans: one range each.
fn spans(indices: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &i in indices {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => out.push((i, i)),
        }
    }
    out
}

fn header_row(v: Option<&wire::ValueRange>) -> Vec<String> {
    v.and_then(|r| r.values.first())
        .map(|cells| Grid::header_cells(&wire::raw_row(cells)))
        .unwrap_or_default()
}

fn col32(c: usize) -> u32 {
    u32::try_from(c).unwrap_or(u32::MAX)
}

/// Most ranges in one batchGet URL (keeps the URL well under Google's limits).
const MAX_RANGES_PER_GET: usize = 100;

impl GoogleSheets {
    pub async fn connect(config: SheetsConfig, creds: Credentials) -> Result<Self, SetupError> {
        let id = config.spreadsheet_id.trim();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SetupError::SpreadsheetId(config.spreadsheet_id.clone()));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("zeues-sync/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&config.base_url) {
            // An HTTP(S)_PROXY from the environment must not swallow the local emulator.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        let tokens = TokenSource::new(&creds, config.request_timeout).await?;
        let seed = config
            .jitter_seed
            .unwrap_or_else(|| rand::thread_rng().gen());
        Ok(GoogleSheets {
            http,
            tokens,
            rng: Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
            config,
            cache: Mutex::new(Cache::default()),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    pub fn stats(&self) -> CallStats {
        CallStats {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    /// Forgets sheet ids, grid sizes and header rows: the next call reads them again.
    pub fn invalidate(&self) {
        let mut c = self.cache();
        c.sheets = None;
        c.headers.clear();
    }

    /// The spreadsheet's sheets, read now (one `spreadsheets.get` with a `fields` mask).
    pub async fn sheets_info(&self) -> Result<Vec<SheetInfo>, WorkbookError> {
        Ok(self
            .fetch_sheets()
            .await?
            .into_iter()
            .map(|m| SheetInfo {
                sheet_id: m.sheet_id,
                title: m.title,
                rows: m.rows,
                columns: m.columns,
            })
            .collect())
    }

    /// The client's read primitive, exposed for the conformance suite: one `values.batchGet`
    /// (`UNFORMATTED_VALUE` + `SERIAL_NUMBER`) of `ranges`, with its retries and error mapping.
    pub async fn values_batch_get(
        &self,
        ranges: &[A1Range],
    ) -> Result<Vec<wire::ValueRange>, WorkbookError> {
        self.batch_get(ranges).await
    }

    /// The client's write primitive, exposed for the conformance suite: `requests` as one
    /// `spreadsheets.batchUpdate`, with its error mapping (never retried after sending).
    pub async fn batch_update_requests(&self, requests: &[Value]) -> Result<(), WorkbookError> {
        self.batch_update(requests).await
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn url(&self, suffix: &str) -> String {
        format!(
            "{}/v4/spreadsheets/{}{}",
            self.config.base_url.trim_end_matches('/'),
            self.config.spreadsheet_id,
            suffix
        )
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let base = self.config.backoff_base;
        let exp = base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.config.backoff_max);
        let jitter_ms = self
            .rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gen_range(0..=base.as_millis().max(1) as u64);
        let wait = exp + Duration::from_millis(jitter_ms);
        match retry_after {
            Some(r) => wait.max(r.min(self.config.backoff_max)),
            None => wait,
        }
    }

    /// One API call with retries. `build` makes the request (called again on each try).
    async fn call<F>(&self, kind: CallKind, what: &str, build: F) -> Result<Vec<u8>, WorkbookError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let mut refreshed = false;
        let mut attempt: u32 = 0;
        loop {
            let last_try = attempt + 1 >= self.config.max_attempts.max(1);
            let token = self.tokens.token(refreshed).await?;
            match kind {
                CallKind::Read => self.reads.fetch_add(1, Ordering::Relaxed),
                CallKind::Write => self.writes.fetch_add(1, Ordering::Relaxed),
            };
            let sent = build(&self.http).bearer_auth(token.expose()).send().await;
            let outcome = match sent {
                Err(e) => self.transport_failure(kind, what, &e),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match resp.bytes().await {
                        Ok(body) if (200..300).contains(&status) => return Ok(body.to_vec()),
                        Ok(body) => self.status_failure(kind, what, status, &body, retry_after),
                        Err(e) => self.transport_failure(kind, what, &e),
                    }
                }
            };
            match outcome {
                Failure::Final(e) => return Err(e),
                Failure::Reauth(e) => {
                    if refreshed {
                        return Err(e);
                    }
                    tracing::info!(%what, "token rechazado (401); se pide uno nuevo");
                    refreshed = true;
                }
                Failure::Retry(e, retry_after) => {
                    if last_try {
                        return Err(e);
                    }
                    let wait = self.backoff(attempt, retry_after);
                    tracing::warn!(%what, error = %e, intento = attempt + 1, espera_ms = wait.as_millis() as u64, "llamada a Sheets fallida; se reintenta");
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    fn transport_failure(&self, kind: CallKind, what: &str, e: &reqwest::Error) -> Failure {
        // reqwest's messages carry the URL (spreadsheet id, no token): fine for logs.
        let msg = format!("{what}: {e}");
        if e.is_connect() {
            // Nothing was sent: safe to retry even a write.
            return Failure::Retry(WorkbookError::Unavailable(msg), None);
        }
        match kind {
            CallKind::Read => Failure::Retry(WorkbookError::Unavailable(msg), None),
            CallKind::Write => Failure::Final(WorkbookError::OutcomeUnknown(msg)),
        }
    }

    fn status_failure(
        &self,
        kind: CallKind,
        what: &str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Failure {
        let api = wire::parse_error(status, body);
        let detail = format!("{what}: {}", api.summary());
        match status {
            429 => Failure::Retry(WorkbookError::Quota(detail), retry_after),
            401 => Failure::Reauth(WorkbookError::Denied(format!(
                "Google no aceptó las credenciales ({detail}). Revise la clave de la cuenta de servicio."
            ))),
            403 => Failure::Final(WorkbookError::Denied(match self.tokens.identity() {
                Some(email) => format!(
                    "la cuenta de servicio {email} no tiene acceso a la planilla {}: compártala con ella como editor ({detail})",
                    self.config.spreadsheet_id
                ),
                None => format!("sin acceso a la planilla {} ({detail})", self.config.spreadsheet_id),
            })),
            404 => Failure::Final(WorkbookError::NotFound(format!(
                "la planilla {} no existe o no está compartida con la cuenta de servicio ({detail})",
                self.config.spreadsheet_id
            ))),
            408 | 500 | 502 | 503 | 504 => match kind {
                CallKind::Read => Failure::Retry(WorkbookError::Unavailable(detail), retry_after),
                // The write may have committed before the error (Google says so itself).
                CallKind::Write => Failure::Final(WorkbookError::OutcomeUnknown(detail)),
            },
            400 => Failure::Final(WorkbookError::Rejected(detail)),
            _ if status >= 500 => match kind {
                CallKind::Read => Failure::Retry(WorkbookError::Unavailable(detail), retry_after),
                CallKind::Write => Failure::Final(WorkbookError::OutcomeUnknown(detail)),
            },
            _ => Failure::Final(WorkbookError::Rejected(detail)),
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        kind: CallKind,
        what: &str,
        body: &[u8],
    ) -> Result<T, WorkbookError> {
        serde_json::from_slice(body).map_err(|e| {
            let msg = format!("{what}: respuesta de Google no reconocida: {e}");
            match kind {
                CallKind::Read => WorkbookError::Unavailable(msg),
                CallKind::Write => WorkbookError::OutcomeUnknown(msg),
            }
        })
    }

    async fn fetch_sheets(&self) -> Result<Vec<SheetMeta>, WorkbookError> {
        let body = self
            .call(CallKind::Read, "spreadsheets.get", |c| {
                c.get(self.url("")).query(&[("fields", SPREADSHEET_FIELDS)])
            })
            .await?;
        let s: Spreadsheet = Self::decode(CallKind::Read, "spreadsheets.get", &body)?;
        let sheets: Vec<SheetMeta> = s
            .sheets
            .into_iter()
            .map(|sh| {
                let g = sh.properties.grid_properties.unwrap_or_default();
                SheetMeta {
                    sheet_id: sh.properties.sheet_id,
                    title: sh.properties.title,
                    rows: g.row_count,
                    columns: g.column_count,
                }
            })
            .collect();
        self.cache().sheets = Some(sheets.clone());
        Ok(sheets)
    }

    /// The sheet called `tab`: exact title first, else the one whose normalized title matches
    /// (`operaciones `, `OPERACIONES`). Refreshes the cached list once before giving up.
    async fn sheet(&self, tab: &str) -> Result<SheetMeta, WorkbookError> {
        let cached = self.cache().sheets.clone();
        for fresh in [false, true] {
            let list = match (&cached, fresh) {
                (Some(l), false) => l.clone(),
                (None, false) => continue,
                (_, true) => self.fetch_sheets().await?,
            };
            if let Some(m) = find_sheet(&list, tab)? {
                return Ok(m);
            }
        }
        Err(WorkbookError::NotFound(format!(
            "la hoja '{tab}' no existe en la planilla {}",
            self.config.spreadsheet_id
        )))
    }

    async fn batch_get(&self, ranges: &[A1Range]) -> Result<Vec<wire::ValueRange>, WorkbookError> {
        let mut out = Vec::with_capacity(ranges.len());
        for chunk in ranges.chunks(MAX_RANGES_PER_GET) {
            let mut query: Vec<(&str, String)> = vec![
                ("valueRenderOption", "UNFORMATTED_VALUE".into()),
                ("dateTimeRenderOption", "SERIAL_NUMBER".into()),
                ("majorDimension", "ROWS".into()),
            ];
            query.extend(chunk.iter().map(|r| ("ranges", r.to_string())));
            let body = self
                .call(CallKind::Read, "values.batchGet", |c| {
                    c.get(self.url("/values:batchGet")).query(&query)
                })
                .await?;
            let got: BatchGet = Self::decode(CallKind::Read, "values.batchGet", &body)?;
            if got.value_ranges.len() != chunk.len() {
                return Err(WorkbookError::Unavailable(format!(
                    "values.batchGet devolvió {} rangos de {} pedidos",
                    got.value_ranges.len(),
                    chunk.len()
                )));
            }
            out.extend(got.value_ranges);
        }
        Ok(out)
    }

    /// The header row: cached, or read now.
    async fn header(&self, title: &str) -> Result<Vec<String>, WorkbookError> {
        if let Some(h) = self.cache().headers.get(title) {
            return Ok(h.clone());
        }
        let got = self.batch_get(&[A1Range::rows(title, 1, 1)]).await?;
        let h = header_row(got.first());
        self.cache().headers.insert(title.to_string(), h.clone());
        Ok(h)
    }

    /// Runs a read that carries the header row as its first range; when the header is not the
    /// one the ranges were planned from (columns moved), re-plans and reads again.
    async fn read_with_header<P>(
        &self,
        title: &str,
        plan: P,
    ) -> Result<(Vec<String>, Vec<wire::ValueRange>), WorkbookError>
    where
        P: Fn(&[String]) -> Vec<A1Range>,
    {
        let cached = self.cache().headers.get(title).cloned();
        let fresh = cached.is_none();
        let mut header = match cached {
            Some(h) => h,
            None => self.header(title).await?,
        };
        for _ in 0..3 {
            let planned = plan(&header);
            if fresh && planned.is_empty() {
                // Only the header was wanted, and it was just read.
                return Ok((header, Vec::new()));
            }
            let mut ranges = vec![A1Range::rows(title, 1, 1)];
            ranges.extend(planned);
            let mut got = self.batch_get(&ranges).await?;
            let now = header_row(got.first());
            if now == header {
                got.remove(0);
                return Ok((header, got));
            }
            tracing::info!(hoja = %title, "la cabecera cambió desde la última lectura; se vuelve a mapear");
            self.cache().headers.insert(title.to_string(), now.clone());
            header = now;
        }
        Err(WorkbookError::Unavailable(format!(
            "la cabecera de '{title}' cambia mientras se lee; se reintentará"
        )))
    }

    fn requests_for(
        &self,
        sheets: &[SheetMeta],
        batch: &WriteBatch,
        grow_extra_columns: &HashMap<i64, u32>,
    ) -> Result<(Vec<Value>, Vec<Growth>), WorkbookError> {
        let mut requests: Vec<Value> = Vec::new();
        let mut growth: Vec<Growth> = Vec::new();
        if let Some(f) = &batch.fence {
            // First, so a lost lease fails the whole call before anything else is checked.
            requests.push(lease_cells(
                f.sheet_id,
                LEASE_HEARTBEAT_ROW,
                &[&stamp(f.heartbeat)],
            ));
        }
        // Group updates by sheet, keeping their order within each sheet.
        let mut order: Vec<i64> = Vec::new();
        let mut by_sheet: HashMap<i64, (SheetMeta, Vec<&RowUpdate>)> = HashMap::new();
        for u in &batch.updates {
            let m = find_sheet(sheets, &u.tab)?.ok_or_else(|| not_found(&u.tab))?;
            if u.row < 2 {
                return Err(WorkbookError::Rejected(format!(
                    "la fila {} de '{}' es la cabecera",
                    u.row, u.tab
                )));
            }
            by_sheet
                .entry(m.sheet_id)
                .or_insert_with(|| {
                    order.push(m.sheet_id);
                    (m.clone(), Vec::new())
                })
                .1
                .push(u);
        }
        for id in &order {
            let Some((m, ups)) = by_sheet.get(id) else {
                continue;
            };
            // Writes past the grid fail: grow it first, in the same atomic call.
            let need_rows = ups.iter().map(|u| u.row).max().unwrap_or(0);
            let need_cols = ups
                .iter()
                .flat_map(|u| u.cells.iter().map(|(c, _)| col32(*c) + 1))
                .max()
                .unwrap_or(0);
            let have_cols = m.columns + grow_extra_columns.get(id).copied().unwrap_or(0);
            let add_rows = need_rows.saturating_sub(m.rows);
            let add_cols = need_cols.saturating_sub(have_cols);
            if add_rows > 0 {
                requests.push(wire::append_dimension(m.sheet_id, false, add_rows));
            }
            if add_cols > 0 {
                requests.push(wire::append_dimension(m.sheet_id, true, add_cols));
            }
            growth.push((m.sheet_id, add_rows, add_cols));
            requests.extend(wire::update_cells(m.sheet_id, ups)?);
        }
        let mut app_order: Vec<i64> = Vec::new();
        let mut appends: HashMap<i64, Vec<&Append>> = HashMap::new();
        for a in &batch.appends {
            let m = find_sheet(sheets, &a.tab)?.ok_or_else(|| not_found(&a.tab))?;
            appends
                .entry(m.sheet_id)
                .or_insert_with(|| {
                    app_order.push(m.sheet_id);
                    Vec::new()
                })
                .push(a);
        }
        for id in app_order {
            if let Some(list) = appends.get(&id) {
                let rows: Vec<&[crate::domain::CellValue]> =
                    list.iter().map(|a| a.cells.as_slice()).collect();
                requests.push(wire::append_cells(id, &rows)?);
            }
        }
        Ok((requests, growth))
    }

    /// Sends `requests` as one `spreadsheets.batchUpdate` (all or nothing).
    async fn batch_update(&self, requests: &[Value]) -> Result<(), WorkbookError> {
        let body = json!({"requests": requests, "includeSpreadsheetInResponse": false});
        let bytes = serde_json::to_vec(&body).map_err(|e| {
            WorkbookError::Rejected(format!("no se pudo codificar la escritura: {e}"))
        })?;
        self.call(CallKind::Write, "spreadsheets.batchUpdate", |c| {
            c.post(self.url(":batchUpdate"))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes.clone())
        })
        .await?;
        Ok(())
    }

    fn note_growth(&self, growth: &[Growth]) {
        let mut c = self.cache();
        if let Some(list) = c.sheets.as_mut() {
            for (id, rows, cols) in growth {
                if let Some(m) = list.iter_mut().find(|m| m.sheet_id == *id) {
                    m.rows += rows;
                    m.columns += cols;
                }
            }
        }
    }

    async fn sheets_list(&self) -> Result<Vec<SheetMeta>, WorkbookError> {
        let cached = self.cache().sheets.clone();
        match cached {
            Some(l) => Ok(l),
            None => self.fetch_sheets().await,
        }
    }
}

/// The lease tab's rows: key in column A, value in B.
const LEASE_KEYS: [&str; 5] = ["equipo", "nombre", "desde", "latido", "nota"];
const LEASE_ROWS: u32 = LEASE_KEYS.len() as u32;
/// 0-based row of the heartbeat.
const LEASE_HEARTBEAT_ROW: u32 = 3;
const LEASE_NOTE: &str = "Sin Redis, solo este equipo escribe en la planilla (ZEUES). No edite esta hoja; bórrela solo si ese equipo ya no existe.";

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Plain strings into the lease tab (never formulas: `stringValue`), from `row` (0-based),
/// column B when one value, A–B when two.
fn lease_cells(sheet_id: i64, row: u32, values: &[&str]) -> Value {
    let col = if values.len() == 1 { 1 } else { 0 };
    let cells: Vec<Value> = values
        .iter()
        .map(|v| json!({"userEnteredValue": {"stringValue": v}}))
        .collect();
    json!({"updateCells": {
        "start": {"sheetId": sheet_id, "rowIndex": row, "columnIndex": col},
        "rows": [{"values": cells}],
        "fields": "userEnteredValue",
    }})
}

/// Rows and columns a write added to a sheet: `(sheetId, rows, columns)`.
type Growth = (i64, u32, u32);

enum Failure {
    Final(WorkbookError),
    Retry(WorkbookError, Option<Duration>),
    Reauth(WorkbookError),
}

fn not_found(tab: &str) -> WorkbookError {
    WorkbookError::NotFound(format!("la hoja '{tab}' no existe en la planilla"))
}

fn find_sheet(list: &[SheetMeta], tab: &str) -> Result<Option<SheetMeta>, WorkbookError> {
    if let Some(m) = list.iter().find(|m| m.title == tab) {
        return Ok(Some(m.clone()));
    }
    let want = normalize_header(tab);
    let close: Vec<&SheetMeta> = list
        .iter()
        .filter(|m| normalize_header(&m.title) == want)
        .collect();
    match close.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        many => Err(WorkbookError::Schema(
            crate::domain::DomainError::EsquemaIncompatible {
                tab: tab.to_string(),
                column: many
                    .iter()
                    .map(|m| m.title.clone())
                    .collect::<Vec<_>>()
                    .join("', '"),
                detalle: "hay varias hojas con ese nombre:".into(),
            },
        )),
    }
}

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

fn is_grid_limit(e: &WorkbookError) -> bool {
    matches!(e, WorkbookError::Rejected(m) if m.contains("exceeds grid limits"))
}

/// Places a read range's rows into full-width rows at their columns.
fn place(rows: &mut Vec<Vec<RawCell>>, first_col: usize, values: &[Vec<Value>]) {
    if rows.len() < values.len() {
        rows.resize_with(values.len(), Vec::new);
    }
    for (row, vals) in rows.iter_mut().zip(values) {
        for (j, v) in vals.iter().enumerate() {
            let cell = wire::raw_cell(v);
            if cell == RawCell::Empty {
                continue;
            }
            let col = first_col + j;
            if row.len() <= col {
                row.resize(col + 1, RawCell::Empty);
            }
            row[col] = cell;
        }
    }
}

#[async_trait]
impl Workbook for GoogleSheets {
    fn describe(&self) -> String {
        format!(
            "Google Sheets {} ({})",
            self.config.spreadsheet_id, self.config.base_url
        )
    }

    async fn probe(&self) -> Result<(), WorkbookError> {
        // Any HTTP answer from the endpoint (even 404) means it is reachable; no API call, no
        // token, no quota.
        match self
            .http
            .get(&self.config.base_url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(WorkbookError::Unavailable(format!(
                "{} no responde: {}",
                self.config.base_url,
                e.without_url()
            ))),
        }
    }

    async fn read_tab(&self, tab: &str) -> Result<Grid, WorkbookError> {
        let title = self.sheet(tab).await?.title;
        let Some(names) = wanted_columns(tab) else {
            // A tab the app has no column list for: the whole sheet.
            let got = self.batch_get(&[A1Range::sheet(&title)]).await?;
            let values = got.into_iter().next().map(|v| v.values).unwrap_or_default();
            let mut it = values.iter();
            let headers = it
                .next()
                .map(|h| Grid::header_cells(&wire::raw_row(h)))
                .unwrap_or_default();
            let rows = it.map(|r| wire::raw_row(r)).collect();
            return Ok(Grid { headers, rows });
        };
        let (headers, got) = self
            .read_with_header(&title, |h| {
                spans(&wanted_indices(h, &names))
                    .into_iter()
                    .map(|(a, b)| A1Range::columns_from(&title, col32(a), col32(b), 2))
                    .collect()
            })
            .await?;
        let plan = spans(&wanted_indices(&headers, &names));
        let mut rows: Vec<Vec<RawCell>> = Vec::new();
        for ((first, _), vr) in plan.iter().zip(&got) {
            place(&mut rows, *first, &vr.values);
        }
        for r in &mut rows {
            wire::trim(r);
        }
        Ok(Grid { headers, rows })
    }

    async fn read_rows(&self, tab: &str, rows: &[u32]) -> Result<RowsRead, WorkbookError> {
        let title = self.sheet(tab).await?.title;
        let names = wanted_columns(tab);
        let bounds = |h: &[String]| -> Option<(usize, usize)> {
            match &names {
                Some(n) => {
                    let idx = wanted_indices(h, n);
                    Some((*idx.first()?, *idx.last()?))
                }
                None => Some((0, h.len().max(1) - 1)),
            }
        };
        let (headers, got) = self
            .read_with_header(&title, |h| match bounds(h) {
                // One range per row, from the first to the last app column: short URLs for
                // 50-row batches; the few Engineering cells in between are read, never written.
                Some((a, b)) => rows
                    .iter()
                    .map(|r| A1Range::block(&title, col32(a), col32(b), *r, *r))
                    .collect(),
                None => Vec::new(),
            })
            .await?;
        let first = bounds(&headers).map_or(0, |(a, _)| a);
        let mut out = Vec::with_capacity(rows.len());
        for i in 0..rows.len() {
            let mut row: Vec<Vec<RawCell>> = Vec::new();
            if let Some(vr) = got.get(i) {
                place(&mut row, first, &vr.values);
            }
            let mut r = row.into_iter().next().unwrap_or_default();
            wire::trim(&mut r);
            out.push(r);
        }
        Ok(RowsRead { headers, rows: out })
    }

    async fn read_row_range(
        &self,
        tab: &str,
        first: u32,
        last: u32,
    ) -> Result<RowsRead, WorkbookError> {
        let title = self.sheet(tab).await?.title;
        let names = wanted_columns(tab);
        let bounds = |h: &[String]| -> Option<(usize, usize)> {
            match &names {
                Some(n) => {
                    let idx = wanted_indices(h, n);
                    Some((*idx.first()?, *idx.last()?))
                }
                None => Some((0, h.len().max(1) - 1)),
            }
        };
        let (headers, got) = self
            .read_with_header(&title, |h| match bounds(h) {
                Some((a, b)) => vec![A1Range::block(&title, col32(a), col32(b), first, last)],
                None => Vec::new(),
            })
            .await?;
        let at = bounds(&headers).map_or(0, |(a, _)| a);
        let mut rows: Vec<Vec<RawCell>> = Vec::new();
        if let Some(vr) = got.first() {
            place(&mut rows, at, &vr.values);
        }
        rows.resize(last.saturating_sub(first) as usize + 1, Vec::new());
        for r in &mut rows {
            wire::trim(r);
        }
        Ok(RowsRead { headers, rows })
    }

    async fn write(&self, batch: &WriteBatch) -> Result<(), WorkbookError> {
        if batch.is_empty() {
            return Ok(());
        }
        for fresh in [false, true] {
            if fresh {
                self.cache().sheets = None;
            }
            let sheets = self.sheets_list().await?;
            let (requests, growth) = self.requests_for(&sheets, batch, &HashMap::new())?;
            match self.batch_update(&requests).await {
                Ok(()) => {
                    self.note_growth(&growth);
                    return Ok(());
                }
                Err(WorkbookError::Rejected(m))
                    if batch.fence.as_ref().is_some_and(|f| {
                        m.contains(&format!("No grid with id: {}", f.sheet_id))
                    }) =>
                {
                    return Err(WorkbookError::WriterLost(m));
                }
                // Our grid sizes were stale (someone deleted rows): nothing was applied (the
                // whole request is validated first); re-read them and try once more.
                Err(e) if !fresh && is_grid_limit(&e) => {
                    tracing::warn!(error = %e, "tamaño de hoja desactualizado; se vuelve a leer");
                }
                Err(e) => return Err(e),
            }
        }
        Err(WorkbookError::Rejected(
            "la escritura excede el tamaño de la hoja".into(),
        ))
    }

    async fn writer_lease(&self) -> Result<Option<WriterLease>, WorkbookError> {
        let list = self.fetch_sheets().await?;
        let Some(m) = list.iter().find(|m| m.title == WRITER_TAB) else {
            return Ok(None);
        };
        let got = self
            .batch_get(&[A1Range::block(&m.title, 0, 1, 1, LEASE_ROWS)])
            .await?;
        let values = got.into_iter().next().map(|v| v.values).unwrap_or_default();
        let field = |key: &str| -> Option<String> {
            values.iter().find_map(|row| {
                let cells = wire::raw_row(row);
                (cells.first().map(RawCell::shown).as_deref() == Some(key))
                    .then(|| cells.get(1).map(RawCell::shown))
                    .flatten()
            })
        };
        let when = |key: &str| {
            field(key)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        Ok(Some(WriterLease {
            sheet_id: m.sheet_id,
            device_id: field(LEASE_KEYS[0]).unwrap_or_default(),
            name: field(LEASE_KEYS[1]).unwrap_or_default(),
            // A tab without readable times (edited by hand) counts as silent long ago.
            since: when(LEASE_KEYS[2]).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            heartbeat: when(LEASE_KEYS[3]).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
        }))
    }

    async fn claim_writer(
        &self,
        me: &WriterLease,
        replacing: Option<i64>,
    ) -> Result<bool, WorkbookError> {
        let mut requests = Vec::new();
        if let Some(old) = replacing {
            requests.push(json!({"deleteSheet": {"sheetId": old}}));
        }
        requests.push(json!({"addSheet": {"properties": {
            "sheetId": me.sheet_id,
            "title": WRITER_TAB,
            "hidden": true,
            "gridProperties": {"rowCount": LEASE_ROWS, "columnCount": 2},
        }}}));
        let values = [
            me.device_id.clone(),
            me.name.clone(),
            stamp(me.since),
            stamp(me.heartbeat),
            LEASE_NOTE.to_string(),
        ];
        for (i, (key, value)) in LEASE_KEYS.iter().zip(values.iter()).enumerate() {
            requests.push(lease_cells(me.sheet_id, i as u32, &[key, value]));
        }
        let done = self.batch_update(&requests).await;
        self.cache().sheets = None;
        match done {
            Ok(()) => Ok(true),
            // Someone registered first, or already replaced the silent writer.
            Err(WorkbookError::Rejected(m))
                if m.contains("already exists")
                    || replacing.is_some_and(|old| m.contains(&old.to_string())) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn release_writer(&self, sheet_id: i64) -> Result<(), WorkbookError> {
        let done = self
            .batch_update(&[json!({"deleteSheet": {"sheetId": sheet_id}})])
            .await;
        self.cache().sheets = None;
        match done {
            // Already gone: nothing to give up.
            Err(WorkbookError::Rejected(m)) if m.contains(&sheet_id.to_string()) => Ok(()),
            other => other,
        }
    }

    async fn tab_shape(&self, tab: &str) -> Result<TabShape, WorkbookError> {
        self.cache().sheets = None;
        let m = self.sheet(tab).await?;
        Ok(TabShape {
            rows: m.rows,
            columns: m.columns,
        })
    }

    async fn add_columns(&self, add: &AddColumns, then: &WriteBatch) -> Result<(), WorkbookError> {
        let sheets = self.fetch_sheets().await?;
        let m = find_sheet(&sheets, &add.tab)?.ok_or_else(|| not_found(&add.tab))?;
        if m.columns != add.at {
            return Err(WorkbookError::Rejected(format!(
                "la hoja '{}' cambió: tiene {} columnas y se esperaban {}",
                m.title, m.columns, add.at
            )));
        }
        let n = col32(add.headers.len());
        let mut requests = vec![wire::append_dimension(m.sheet_id, true, n)];
        let header = RowUpdate {
            tab: m.title.clone(),
            row: 1,
            cells: add
                .headers
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    (
                        add.at as usize + i,
                        crate::domain::CellValue::text(h.clone()),
                    )
                })
                .collect(),
        };
        requests.extend(wire::update_cells(m.sheet_id, &[&header])?);
        let extra = HashMap::from([(m.sheet_id, n)]);
        let (more, _) = self.requests_for(&sheets, then, &extra)?;
        requests.extend(more);
        let result = self.batch_update(&requests).await;
        self.invalidate();
        result
    }

    async fn truncate_columns(
        &self,
        tab: &str,
        columns: u32,
        then: &WriteBatch,
    ) -> Result<(), WorkbookError> {
        let sheets = self.fetch_sheets().await?;
        let m = find_sheet(&sheets, tab)?.ok_or_else(|| not_found(tab))?;
        let mut requests = vec![wire::set_column_count(m.sheet_id, columns.max(1))];
        let (more, _) = self.requests_for(&sheets, then, &HashMap::new())?;
        requests.extend(more);
        let result = self.batch_update(&requests).await;
        self.invalidate();
        result
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_only_the_app_columns_merged_into_spans() {
        let h = hs(&[
            "X",
            "TAG_SPOOL",
            "NV",
            "Otra",
            "Armador",
            "Fecha_Armado",
            "Otra2",
            "version",
        ]);
        let idx = wanted_indices(
            &h,
            &["TAG_SPOOL", "NV", "Armador", "Fecha_Armado", "version"],
        );
        assert_eq!(idx, vec![1, 2, 4, 5, 7]);
        assert_eq!(spans(&idx), vec![(1, 2), (4, 5), (7, 7)]);
    }

    #[test]
    fn duplicated_columns_are_not_read_as_a_guess() {
        let h = hs(&["TAG_SPOOL", "Armador", "armador"]);
        assert_eq!(wanted_indices(&h, &["TAG_SPOOL", "Armador"]), vec![0]);
    }

    #[test]
    fn place_puts_cells_at_their_columns() {
        let mut rows = Vec::new();
        place(
            &mut rows,
            3,
            &[vec![json!("a"), json!(1)], vec![], vec![json!(true)]],
        );
        place(&mut rows, 0, &[vec![json!("t")]]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][0], RawCell::Text("t".into()));
        assert_eq!(rows[0][4], RawCell::Number(1.0));
        assert!(rows[1].is_empty());
        assert_eq!(rows[2][3], RawCell::Bool(true));
    }

    #[test]
    fn sheet_titles_match_exactly_then_normalized() {
        let m = |id, t: &str| SheetMeta {
            sheet_id: id,
            title: t.into(),
            rows: 10,
            columns: 5,
        };
        let list = vec![m(1, "Operaciones "), m(2, "Metadata"), m(3, "metadata")];
        assert_eq!(
            find_sheet(&list, "Operaciones").unwrap().unwrap().sheet_id,
            1
        );
        assert_eq!(find_sheet(&list, "Metadata").unwrap().unwrap().sheet_id, 2);
        assert!(find_sheet(&list, "Roles").unwrap().is_none());
        let list = vec![m(2, "Metadata "), m(3, "metadata")];
        assert!(find_sheet(&list, "Metadata").is_err());
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://localhost:1"));
        assert!(!is_loopback(DEFAULT_BASE_URL));
    }
}
