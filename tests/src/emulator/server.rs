//! The HTTP side: our own accept loop (so a fault can close a socket without answering), the
//! axum router for the API, the token endpoint and the `/__control` API.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json as AxJson, Router};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::api::{self, Counts, Query};
use super::auth::{self, QuotaConfig, Quotas, TokenInfo};
use super::error::ApiError;
use super::faults::{self, Fault, FaultRule};
use super::keys::ServiceAccountKey;
use super::model::Spreadsheet;
use super::seed::SpreadsheetSeed;
use super::EmulatorConfig;

/// Google's observed hard limit on request payloads.
const MAX_PAYLOAD: usize = 10_485_760;

pub struct Inner {
    pub books: HashMap<String, Spreadsheet>,
    pub accounts: HashMap<String, RsaPublicKey>,
    pub tokens: HashMap<String, TokenInfo>,
    pub quota: QuotaConfig,
    pub quotas: Quotas,
    pub faults: Vec<FaultRule>,
    pub counts: Counts,
    pub rng: StdRng,
    /// Every API response (`method`, `status`, `body`) when `config.record_responses` is on.
    pub log: Vec<Json>,
    /// Every API request as it arrived, always kept (a few words each), so rates can be
    /// measured at the emulator rather than trusted from the client's side.
    pub calls: Vec<Call>,
}

/// One API request at the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// When it arrived (before any injected latency, auth or quota).
    pub at: Instant,
    /// The discovery method id (`spreadsheets.values.batchGet`, ...).
    pub method: &'static str,
    /// Counted against the write quota (everything but `get`, `values.get`, `values.batchGet`).
    pub write: bool,
    /// Refused with 429 by the per-user quota (injected 429 faults are not counted here).
    pub quota_refused: bool,
}

pub struct Shared {
    pub config: EmulatorConfig,
    pub base_url: String,
    pub token_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(config: EmulatorConfig, base_url: String) -> Self {
        let inner = Inner {
            books: HashMap::new(),
            accounts: HashMap::new(),
            tokens: HashMap::new(),
            quota: config.quota,
            quotas: Quotas::default(),
            faults: Vec::new(),
            counts: BTreeMap::new(),
            rng: StdRng::seed_from_u64(config.rng_seed),
            log: Vec::new(),
            calls: Vec::new(),
        };
        Shared {
            token_url: format!("{base_url}token"),
            base_url,
            config,
            inner: Mutex::new(inner),
        }
    }

    /// The state lock. A panic while holding it (a bug) must not wedge every later test, so a
    /// poisoned lock is taken over.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn log(&self, msg: &str) {
        if self.config.verbose {
            eprintln!("sheets-emulator: {msg}");
        }
    }

    pub fn mint_token(&self, inner: &mut Inner, email: &str, scopes: Vec<String>) -> String {
        let raw: [u8; 24] = inner.rng.gen();
        let token = format!(
            "ya29.emu-{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        inner.tokens.insert(
            token.clone(),
            TokenInfo {
                client_email: email.to_string(),
                scopes,
                expires_at: Instant::now() + self.config.token_lifetime,
            },
        );
        token
    }
}

/// Lets a handler close its connection without a response.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/__control/reset", post(control_reset))
        .route("/__control/spreadsheets", post(control_seed))
        .route(
            "/__control/spreadsheets/{id}",
            get(control_dump).delete(control_delete),
        )
        .route(
            "/__control/faults",
            post(control_fault).delete(control_clear_faults),
        )
        .route("/__control/tokens", post(control_mint))
        .route("/__control/tokens/expire", post(control_expire))
        .route("/__control/service-accounts", post(control_register))
        .route(
            "/__control/service-accounts/generate",
            post(control_generate),
        )
        .route(
            "/__control/counts",
            get(control_counts).delete(control_reset_counts),
        )
        .route("/__control/quota", put(control_quota))
        .route("/__control/quota/reset", post(control_reset_quota))
        .route("/__control/log", get(control_log).delete(control_clear_log))
        .fallback(api_handler)
        .with_state(shared)
}

/// Accepts connections until `shutdown` flips; each connection is served by hyper and can be
/// killed by a drop fault.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                shared.log(&format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let kill = Arc::new(Notify::new());
        let app = app.clone();
        let k = kill.clone();
        let svc =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnKill(k.clone()));
                let app = app.clone();
                async move { app.oneshot(req.map(Body::new)).await }
            });
        let shared = shared.clone();
        conns.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                r = conn => {
                    if let Err(e) = r {
                        // Clients hanging up mid-request is normal; logged when verbose.
                        shared.log(&format!("connection ended with an error: {e}"));
                    }
                }
                _ = kill.notified() => {
                    // Dropping the connection future closes the socket unanswered.
                }
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn token(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    shared
        .lock()
        .counts
        .entry("oauth2.token".into())
        .and_modify(|c| *c += 1)
        .or_insert(1);
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let grant = |e: auth::GrantError| (StatusCode::BAD_REQUEST, AxJson(e.body())).into_response();
    if let Err(e) = auth::check_grant_type(form.get("grant_type").map(String::as_str)) {
        return grant(e);
    }
    let Some(assertion) = form.get("assertion") else {
        return grant(auth::GrantError {
            code: "invalid_request",
            description: "Missing required parameter: assertion".into(),
        });
    };
    let mut inner = shared.lock();
    match auth::verify_assertion(assertion, &inner.accounts, &shared.token_url, now_unix()) {
        Err(e) => {
            shared.log(&format!("token request refused: {}", e.description));
            grant(e)
        }
        Ok((email, scopes)) => {
            let tok = shared.mint_token(&mut inner, &email, scopes);
            (
                StatusCode::OK,
                AxJson(json!({
                    "access_token": tok,
                    "expires_in": shared.config.token_lifetime.as_secs(),
                    "token_type": "Bearer"
                })),
            )
                .into_response()
        }
    }
}

fn bearer(headers: &HeaderMap, q: &Query) -> Option<String> {
    if let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let (scheme, tok) = h.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| tok.trim().to_string());
    }
    q.get("access_token")
        .or_else(|| q.get("oauth_token"))
        .map(String::from)
}

/// Waits forever after asking the connection to close: no response is ever written.
async fn drop_connection(kill: Option<ConnKill>) -> Response {
    if let Some(k) = kill {
        k.0.notify_one();
        std::future::pending::<()>().await;
    }
    // Not served through our accept loop (no kill switch): the closest is an empty 502.
    StatusCode::BAD_GATEWAY.into_response()
}

fn fault_response(shared: &Shared, f: &Fault) -> Option<ApiError> {
    match f {
        Fault::Error { code, .. } => {
            Some(ApiError::for_status(*code, shared.config.project_number))
        }
        _ => None,
    }
}

/// What a request ends in.
enum Outcome {
    /// The method name (empty when the path matched no method) and the result.
    Reply(&'static str, Result<Json, ApiError>),
    Drop,
}

async fn api_handler(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let kill = req.extensions().get::<ConnKill>().cloned();
    match handle(&shared, req).await {
        Outcome::Drop => drop_connection(kill).await,
        Outcome::Reply(method, result) => {
            let (status, body) = match &result {
                Ok(v) => (200, v.clone()),
                Err(e) => {
                    shared.log(&format!("{method} {}: {}", e.code, e.message));
                    (e.code, e.body())
                }
            };
            if shared.config.record_responses && !method.is_empty() {
                shared
                    .lock()
                    .log
                    .push(json!({ "method": method, "status": status, "body": body }));
            }
            let mut resp = match result {
                Ok(v) => (StatusCode::OK, AxJson(v)).into_response(),
                Err(e) => e.into_response(),
            };
            // Google's exact content type.
            resp.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            resp
        }
    }
}

async fn handle(shared: &Shared, req: Request) -> Outcome {
    let (parts, body) = req.into_parts();
    let Some((id, method)) = api::route(parts.method.as_str(), parts.uri.path()) else {
        return Outcome::Reply(
            "",
            Err(ApiError::new(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
            )),
        );
    };
    let name = method.name();
    let reply = |r| Outcome::Reply(name, r);
    // Read the whole body before answering anything, errors included: answering early leaves
    // unread bytes on a keep-alive connection and the client's next request breaks.
    let bytes = match to_bytes(body, MAX_PAYLOAD + 1).await {
        Ok(b) if b.len() <= MAX_PAYLOAD => b,
        Ok(_) | Err(_) => {
            return reply(Err(ApiError::invalid(format!(
                "Request payload size exceeds the limit: {MAX_PAYLOAD} bytes."
            ))))
        }
    };
    let q = Query::parse(parts.uri.query());
    let arrived = Instant::now();
    let (plan, call) = {
        let mut inner = shared.lock();
        *inner.counts.entry(name.to_string()).or_insert(0) += 1;
        inner.calls.push(Call {
            at: arrived,
            method: name,
            write: method.is_write(),
            quota_refused: false,
        });
        let call = inner.calls.len() - 1;
        (faults::plan(&mut inner.faults, name), call)
    };
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    // Authentication, then quota.
    let token = bearer(&parts.headers, &q);
    let who = {
        let mut inner = shared.lock();
        let info = match &token {
            None if parts.method == HttpMethod::GET => {
                return reply(Err(ApiError::unregistered_caller()))
            }
            None => return reply(Err(ApiError::missing_credentials())),
            Some(t) => match inner.tokens.get(t) {
                Some(info) if info.expires_at > Instant::now() => info.clone(),
                _ => return reply(Err(ApiError::invalid_credentials())),
            },
        };
        let allowed = if method.is_write() {
            info.can_write()
        } else {
            info.can_read()
        };
        if !allowed {
            return reply(Err(ApiError::insufficient_scopes()));
        }
        let quota = inner.quota;
        if !inner.quotas.admit(
            &quota,
            &info.client_email,
            method.is_write(),
            Instant::now(),
        ) {
            // The log may have been cleared since; mark only the entry this request added.
            if let Some(c) = inner.calls.get_mut(call).filter(|c| c.at == arrived) {
                c.quota_refused = true;
            }
            return reply(Err(ApiError::quota(
                method.is_write(),
                shared.config.project_number,
            )));
        }
        info.client_email
    };
    match &plan.before {
        Some(Fault::Drop { .. }) => return Outcome::Drop,
        Some(f) => {
            if let Some(e) = fault_response(shared, f) {
                return reply(Err(e));
            }
        }
        None => {}
    }
    let result = (|| {
        let body = api::parse_body(&bytes)?;
        let mut guard = shared.lock();
        let inner = &mut *guard;
        let book = inner.books.get_mut(&id).ok_or_else(ApiError::not_found)?;
        if let Some(shared_with) = &book.shared_with {
            if !shared_with.iter().any(|e| e == &who) {
                return Err(ApiError::permission_denied());
            }
        }
        let out = api::execute(book, &method, &q, &body, &mut inner.rng)?;
        api::apply_fields(&q, out)
    })();
    if plan.answer_delay_ms > 0 {
        // Committed already: a client that gives up now leaves a write that landed.
        tokio::time::sleep(Duration::from_millis(plan.answer_delay_ms)).await;
    }
    match &plan.after {
        Some(Fault::Drop { .. }) => Outcome::Drop,
        Some(f) => match fault_response(shared, f) {
            Some(e) => reply(Err(e)),
            None => reply(result),
        },
        None => reply(result),
    }
}

fn control_error(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, AxJson(json!({ "error": msg.to_string() }))).into_response()
}

async fn control_reset(State(shared): State<Arc<Shared>>) -> Response {
    let mut inner = shared.lock();
    inner.books.clear();
    inner.tokens.clear();
    inner.faults.clear();
    inner.counts.clear();
    inner.log.clear();
    inner.calls.clear();
    inner.quotas.reset();
    inner.quota = shared.config.quota;
    AxJson(json!({})).into_response()
}

async fn control_seed(State(shared): State<Arc<Shared>>, AxJson(v): AxJson<Json>) -> Response {
    let built = SpreadsheetSeed::from_json(v).and_then(|s| s.build());
    match built {
        Ok(book) => {
            let id = book.id.clone();
            shared.lock().books.insert(id.clone(), book);
            AxJson(json!({ "spreadsheetId": id })).into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, e),
    }
}

async fn control_dump(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.lock().books.get(&id) {
        Some(book) => AxJson(SpreadsheetSeed::dump(book)).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("no spreadsheet {id}")),
    }
}

async fn control_delete(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    shared.lock().books.remove(&id);
    AxJson(json!({})).into_response()
}

async fn control_fault(
    State(shared): State<Arc<Shared>>,
    AxJson(rule): AxJson<FaultRule>,
) -> Response {
    shared.lock().faults.push(rule);
    AxJson(json!({})).into_response()
}

async fn control_clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().faults.clear();
    AxJson(json!({})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MintRequest {
    client_email: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

async fn control_mint(
    State(shared): State<Arc<Shared>>,
    AxJson(r): AxJson<MintRequest>,
) -> Response {
    let mut inner = shared.lock();
    let scopes = r
        .scopes
        .unwrap_or_else(|| vec![super::keys::SPREADSHEETS_SCOPE.to_string()]);
    let tok = shared.mint_token(&mut inner, &r.client_email, scopes);
    AxJson(json!({ "access_token": tok })).into_response()
}

async fn control_expire(State(shared): State<Arc<Shared>>) -> Response {
    let mut inner = shared.lock();
    let now = Instant::now();
    for t in inner.tokens.values_mut() {
        t.expires_at = now;
    }
    AxJson(json!({ "expired": inner.tokens.len() })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterRequest {
    client_email: String,
    public_key_pem: String,
}

async fn control_register(
    State(shared): State<Arc<Shared>>,
    AxJson(r): AxJson<RegisterRequest>,
) -> Response {
    match RsaPublicKey::from_public_key_pem(&r.public_key_pem) {
        Ok(k) => {
            shared.lock().accounts.insert(r.client_email, k);
            AxJson(json!({})).into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest {
    client_email: String,
    path: String,
}

/// Generates a key file (mode 0600) whose `token_uri` is this emulator, and registers it.
async fn control_generate(
    State(shared): State<Arc<Shared>>,
    AxJson(r): AxJson<GenerateRequest>,
) -> Response {
    let token_url = shared.token_url.clone();
    let made = tokio::task::spawn_blocking(move || {
        let key = ServiceAccountKey::generate(&r.client_email, &token_url)?;
        key.write(std::path::Path::new(&r.path))?;
        Ok::<_, super::error::EmulatorError>(key)
    })
    .await;
    match made {
        Ok(Ok(key)) => {
            shared
                .lock()
                .accounts
                .insert(key.client_email.clone(), key.public_key());
            AxJson(json!({ "clientEmail": key.client_email })).into_response()
        }
        Ok(Err(e)) => control_error(StatusCode::BAD_REQUEST, e),
        Err(e) => control_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn control_counts(State(shared): State<Arc<Shared>>) -> Response {
    let inner = shared.lock();
    let total: u64 = inner
        .counts
        .iter()
        .filter(|(k, _)| k.starts_with("spreadsheets."))
        .map(|(_, v)| v)
        .sum();
    AxJson(json!({ "counts": inner.counts, "total": total })).into_response()
}

async fn control_reset_counts(State(shared): State<Arc<Shared>>) -> Response {
    let mut inner = shared.lock();
    inner.counts.clear();
    inner.calls.clear();
    AxJson(json!({})).into_response()
}

async fn control_quota(
    State(shared): State<Arc<Shared>>,
    AxJson(q): AxJson<QuotaConfig>,
) -> Response {
    let mut inner = shared.lock();
    inner.quota = q;
    inner.quotas.reset();
    AxJson(json!({})).into_response()
}

async fn control_reset_quota(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().quotas.reset();
    AxJson(json!({})).into_response()
}

async fn control_log(State(shared): State<Arc<Shared>>) -> Response {
    AxJson(Json::Array(shared.lock().log.clone())).into_response()
}

async fn control_clear_log(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().log.clear();
    AxJson(json!({})).into_response()
}
