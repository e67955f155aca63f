//! Google's error envelope (`{"error":{"code","message","status","details"?}}`) with the real
//! messages, and the emulator's own library errors.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value as Json};

/// An API error exactly as Google sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
    pub details: Option<Json>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The `.../devconsole-project` tail of Google's authentication messages.
const AUTH_TAIL: &str = "Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

impl ApiError {
    pub fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            status,
            message: message.into(),
            details: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", message)
    }

    pub fn unparseable_range(range: &str) -> Self {
        Self::invalid(format!("Unable to parse range: {range}"))
    }

    pub fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", "Requested entity was not found.")
    }

    pub fn permission_denied() -> Self {
        Self::new(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
        )
    }

    /// No credentials on a GET: Google answers 403 (measured by Backlot).
    pub fn unregistered_caller() -> Self {
        Self::new(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        )
    }

    pub fn missing_credentials() -> Self {
        Self::new(
            401,
            "UNAUTHENTICATED",
            format!("Request is missing required authentication credential. {AUTH_TAIL}"),
        )
    }

    pub fn invalid_credentials() -> Self {
        Self::new(
            401,
            "UNAUTHENTICATED",
            format!("Request had invalid authentication credentials. {AUTH_TAIL}"),
        )
    }

    pub fn insufficient_scopes() -> Self {
        Self::new(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
        )
    }

    /// 429 for the per-minute per-user quota, with the `ErrorInfo` detail real responses carry.
    pub fn quota(write: bool, project_number: u64) -> Self {
        let (metric, limit, quota_limit, quota_metric) = if write {
            (
                "Write requests",
                "Write requests per minute per user",
                "WriteRequestsPerMinutePerUser",
                "sheets.googleapis.com/write_requests",
            )
        } else {
            (
                "Read requests",
                "Read requests per minute per user",
                "ReadRequestsPerMinutePerUser",
                "sheets.googleapis.com/read_requests",
            )
        };
        ApiError {
            code: 429,
            status: "RESOURCE_EXHAUSTED",
            message: format!(
                "Quota exceeded for quota metric '{metric}' and limit '{limit}' of service 'sheets.googleapis.com' for consumer 'project_number:{project_number}'."
            ),
            details: Some(json!([
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "domain": "googleapis.com",
                    "metadata": {
                        "consumer": format!("projects/{project_number}"),
                        "quota_limit": quota_limit,
                        "quota_metric": quota_metric,
                        "service": "sheets.googleapis.com",
                        "quota_location": "global",
                        "quota_unit": "1/min/{project}/{user}",
                        "quota_limit_value": "60"
                    }
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [{
                        "description": "Request a higher quota limit.",
                        "url": "https://cloud.google.com/docs/quotas/help/request_increase"
                    }]
                }
            ])),
        }
    }

    pub fn internal() -> Self {
        Self::new(500, "INTERNAL", "Internal error encountered.")
    }

    pub fn unavailable() -> Self {
        Self::new(503, "UNAVAILABLE", "The service is currently unavailable.")
    }

    /// The error Google returns for an injected status code.
    pub fn for_status(code: u16, project_number: u64) -> Self {
        match code {
            429 => Self::quota(true, project_number),
            500 => Self::internal(),
            503 => Self::unavailable(),
            400 => Self::invalid("Request contains an invalid argument."),
            401 => Self::invalid_credentials(),
            403 => Self::permission_denied(),
            404 => Self::not_found(),
            409 => Self::new(409, "ABORTED", "The operation was aborted."),
            504 => Self::new(504, "DEADLINE_EXCEEDED", "The request timed out."),
            _ => Self::new(code, "UNKNOWN", "Unknown error."),
        }
    }

    /// `Invalid requests[3].updateCells: <message>` — batchUpdate errors name the sub-request.
    pub fn in_request(self, index: usize, kind: &str) -> Self {
        if self.code != 400 {
            return self;
        }
        ApiError {
            message: format!("Invalid requests[{index}].{kind}: {}", self.message),
            ..self
        }
    }

    /// `Invalid data[1]: <message>` for values.batchUpdate.
    pub fn in_data(self, index: usize) -> Self {
        if self.code != 400 {
            return self;
        }
        ApiError {
            message: format!("Invalid data[{index}]: {}", self.message),
            ..self
        }
    }

    pub fn body(&self) -> Json {
        let mut inner = json!({
            "code": self.code,
            "message": self.message,
            "status": self.status,
        });
        if let (Some(details), Some(obj)) = (&self.details, inner.as_object_mut()) {
            obj.insert("details".into(), details.clone());
        }
        json!({ "error": inner })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(self.body())).into_response();
        if self.code == 401 {
            resp.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        resp
    }
}

/// Errors of the emulator as a library (starting, keys, seeds).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("could not bind the emulator socket: {0}")]
    Bind(#[source] std::io::Error),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("RSA key error: {0}")]
    Key(String),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid seed: {0}")]
    Seed(String),
}
