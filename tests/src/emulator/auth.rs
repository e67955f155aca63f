//! OAuth for the emulator: the JWT-bearer token endpoint (RS256 verified against registered
//! service-account public keys), the opaque access tokens it mints, and Google's per-user
//! per-minute quotas.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde_json::{json, Value as Json};
use sha2::Sha256;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Audiences Google's token endpoint accepts (google-auth always sends the first one).
const GOOGLE_AUDIENCES: &[&str] = &[
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v4/token",
];

/// Scopes that allow reading, and those that allow writing, spreadsheets.
const WRITE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
];
const READ_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
];

/// A failed token request: `{"error": code, "error_description": description}`, HTTP 400.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantError {
    pub code: &'static str,
    pub description: String,
}

impl GrantError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        GrantError {
            code,
            description: description.into(),
        }
    }

    pub fn body(&self) -> Json {
        json!({ "error": self.code, "error_description": self.description })
    }
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub client_email: String,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
}

impl TokenInfo {
    pub fn can_write(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| WRITE_SCOPES.contains(&s.as_str()))
    }

    pub fn can_read(&self) -> bool {
        self.can_write()
            || self
                .scopes
                .iter()
                .any(|s| READ_SCOPES.contains(&s.as_str()))
    }
}

/// Base64url, padded or not (yup-oauth2 pads, google-auth does not).
fn b64(seg: &str) -> Result<Vec<u8>, GrantError> {
    URL_SAFE_NO_PAD
        .decode(seg.trim_end_matches('='))
        .map_err(|_| GrantError::new("invalid_grant", "Invalid JWT: Malformed base64url segment."))
}

/// Verifies a JWT-bearer assertion; returns `(client_email, scopes)`.
pub fn verify_assertion(
    assertion: &str,
    keys: &HashMap<String, RsaPublicKey>,
    own_token_url: &str,
    now_unix: i64,
) -> Result<(String, Vec<String>), GrantError> {
    let invalid = |m: &str| GrantError::new("invalid_grant", m);
    let (signed, sig_seg) = assertion
        .rsplit_once('.')
        .ok_or_else(|| invalid("Invalid JWT: Malformed token."))?;
    let (header_seg, claims_seg) = signed
        .split_once('.')
        .ok_or_else(|| invalid("Invalid JWT: Malformed token."))?;
    let header: Json = serde_json::from_slice(&b64(header_seg)?)
        .map_err(|_| invalid("Invalid JWT: Malformed header."))?;
    let claims: Json = serde_json::from_slice(&b64(claims_seg)?)
        .map_err(|_| invalid("Invalid JWT: Malformed claims."))?;
    if header.get("alg").and_then(Json::as_str) != Some("RS256") {
        return Err(invalid("Invalid JWT: Unsupported signing algorithm."));
    }
    let iss = claims.get("iss").and_then(Json::as_str).unwrap_or("");
    let key = keys
        .get(iss)
        .ok_or_else(|| invalid("Invalid grant: account not found"))?;
    let sig = Signature::try_from(b64(sig_seg)?.as_slice())
        .map_err(|_| invalid("Invalid JWT Signature."))?;
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| invalid("Invalid JWT Signature."))?;
    let aud = claims.get("aud").and_then(Json::as_str).unwrap_or("");
    if aud != own_token_url && !GOOGLE_AUDIENCES.contains(&aud) {
        return Err(invalid(
            "Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token",
        ));
    }
    let iat = claims.get("iat").and_then(Json::as_i64);
    let exp = claims.get("exp").and_then(Json::as_i64);
    const SKEW: i64 = 300;
    let timely = match (iat, exp) {
        (Some(iat), Some(exp)) => {
            exp > iat && exp - iat <= 3600 && iat <= now_unix + SKEW && exp >= now_unix - SKEW
        }
        _ => false,
    };
    if !timely {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scope = claims.get("scope").and_then(Json::as_str).unwrap_or("");
    let scopes: Vec<String> = scope.split_whitespace().map(String::from).collect();
    if scopes.is_empty() {
        return Err(GrantError::new(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    Ok((iss.to_string(), scopes))
}

/// Request token form: `grant_type`, `assertion`.
pub fn check_grant_type(grant_type: Option<&str>) -> Result<(), GrantError> {
    match grant_type {
        Some(JWT_BEARER) => Ok(()),
        Some(other) => Err(GrantError::new(
            "unsupported_grant_type",
            format!("Invalid grant_type: {other}"),
        )),
        None => Err(GrantError::new(
            "unsupported_grant_type",
            "Invalid grant_type: ",
        )),
    }
}

/// Requests per user per minute, separately for reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaConfig {
    pub enabled: bool,
    pub reads_per_minute: u32,
    pub writes_per_minute: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            enabled: true,
            reads_per_minute: 60,
            writes_per_minute: 60,
        }
    }
}

/// Fixed one-minute windows per (user, read|write), refilled a minute after the window began.
#[derive(Debug, Default)]
pub struct Quotas {
    windows: HashMap<(String, bool), (Instant, u32)>,
}

impl Quotas {
    /// Counts one request; `false` when it is over the limit.
    pub fn admit(&mut self, cfg: &QuotaConfig, user: &str, write: bool, now: Instant) -> bool {
        if !cfg.enabled {
            return true;
        }
        let limit = if write {
            cfg.writes_per_minute
        } else {
            cfg.reads_per_minute
        };
        let w = self
            .windows
            .entry((user.to_string(), write))
            .or_insert((now, 0));
        if now.duration_since(w.0) >= Duration::from_secs(60) {
            *w = (now, 0);
        }
        if w.1 >= limit {
            return false;
        }
        w.1 += 1;
        true
    }

    pub fn reset(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::emulator::keys::ServiceAccountKey;

    #[test]
    fn verifies_padded_and_unpadded_assertions() {
        let key = ServiceAccountKey::generate("sa@proj.iam.gserviceaccount.com", "http://x/token")
            .unwrap();
        let mut keys = HashMap::new();
        keys.insert(key.client_email.clone(), key.public_key());
        let now = 1_800_000_000;
        let jwt = key.assertion(
            "http://x/token",
            "https://www.googleapis.com/auth/spreadsheets",
            now,
        );
        let (who, scopes) = verify_assertion(&jwt, &keys, "http://x/token", now).unwrap();
        assert_eq!(who, "sa@proj.iam.gserviceaccount.com");
        assert_eq!(scopes.len(), 1);
        // yup-oauth2 pads every segment with '=' and signs the padded text.
        let padded = key.assertion_with(
            "http://x/token",
            "https://www.googleapis.com/auth/spreadsheets",
            now,
            true,
        );
        assert!(padded.contains('='));
        verify_assertion(&padded, &keys, "http://x/token", now).unwrap();
        let other =
            ServiceAccountKey::generate("sa@proj.iam.gserviceaccount.com", "http://x/token")
                .unwrap();
        let forged = other.assertion("http://x/token", "s", now);
        assert_eq!(
            verify_assertion(&forged, &keys, "http://x/token", now)
                .unwrap_err()
                .description,
            "Invalid JWT Signature."
        );
        let late = key.assertion("http://x/token", "s", now - 7200);
        assert!(verify_assertion(&late, &keys, "http://x/token", now).is_err());
        let wrong_aud = key.assertion("http://elsewhere/token", "s", now);
        assert!(verify_assertion(&wrong_aud, &keys, "http://x/token", now).is_err());
    }

    #[test]
    fn quota_windows() {
        let cfg = QuotaConfig {
            enabled: true,
            reads_per_minute: 2,
            writes_per_minute: 1,
        };
        let mut q = Quotas::default();
        let t0 = Instant::now();
        assert!(q.admit(&cfg, "a", false, t0));
        assert!(q.admit(&cfg, "a", false, t0));
        assert!(!q.admit(&cfg, "a", false, t0));
        assert!(q.admit(&cfg, "b", false, t0));
        assert!(q.admit(&cfg, "a", true, t0));
        assert!(!q.admit(&cfg, "a", true, t0));
        assert!(q.admit(&cfg, "a", true, t0 + Duration::from_secs(61)));
    }
}
