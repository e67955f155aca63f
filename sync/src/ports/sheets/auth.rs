//! Credentials for the Sheets API: a service-account key file (yup-oauth2 signs the JWT grant and
//! posts it to the key's own `token_uri`, caches the token in memory and fetches a new one before
//! it expires), or a fixed bearer token for tools and tests.
//!
//! Never logs a token or key material: both live in [`Secret`], whose `Debug`/`Display` redact.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use yup_oauth2::authenticator::DefaultAuthenticator;
use yup_oauth2::ServiceAccountAuthenticator;

use crate::ports::WorkbookError;

/// The only scope the product asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";

/// A string that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the client proves who it is.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A service-account key JSON (`token_uri` inside it is honoured, so tests point it at the
    /// emulator). Must not be readable by group or others.
    ServiceAccountFile(PathBuf),
    /// A fixed bearer token (benchmarks, tools). Never refreshed.
    StaticToken(Secret),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(
        "La clave de la cuenta de servicio '{path}' puede ser leída por otros usuarios \
         (permisos {mode:o}). Por seguridad no se usará: ejecute `chmod 600 {path}` y vuelva a intentar."
    )]
    KeyFileTooOpen { path: String, mode: u32 },
    #[error("No se pudo leer la clave de la cuenta de servicio '{path}': {reason}")]
    KeyFileUnreadable { path: String, reason: String },
    #[error("La clave de la cuenta de servicio '{path}' no es válida: {reason}")]
    KeyFileInvalid { path: String, reason: String },
}

/// Reads and checks a key file: refuses one that group or others can read (`mode & 0o077`).
pub fn read_key_file(path: &Path) -> Result<yup_oauth2::ServiceAccountKey, AuthSetupError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| AuthSetupError::KeyFileUnreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    check_mode(&shown, &meta)?;
    let bytes = std::fs::read(path).map_err(|e| AuthSetupError::KeyFileUnreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    // serde_json's messages carry positions, never the file's content.
    let key = yup_oauth2::parse_service_account_key(&bytes).map_err(|e| {
        AuthSetupError::KeyFileInvalid {
            path: shown.clone(),
            reason: e.to_string(),
        }
    })?;
    if key.token_uri.trim().is_empty() || key.client_email.trim().is_empty() {
        return Err(AuthSetupError::KeyFileInvalid {
            path: shown,
            reason: "faltan client_email o token_uri".into(),
        });
    }
    Ok(key)
}

#[cfg(unix)]
fn check_mode(path: &str, meta: &std::fs::Metadata) -> Result<(), AuthSetupError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AuthSetupError::KeyFileTooOpen {
            path: path.to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &str, _meta: &std::fs::Metadata) -> Result<(), AuthSetupError> {
    // Windows ACLs are not modes; the installer restricts the file there.
    Ok(())
}

/// Hands out bearer tokens.
pub(crate) enum TokenSource {
    ServiceAccount {
        auth: Box<DefaultAuthenticator>,
        client_email: String,
    },
    Static(Secret),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::ServiceAccount { client_email, .. } => f
                .debug_struct("ServiceAccount")
                .field("client_email", client_email)
                .finish_non_exhaustive(),
            TokenSource::Static(_) => f.write_str("Static(***)"),
        }
    }
}

impl TokenSource {
    pub(crate) async fn new(
        creds: &Credentials,
        timeout: Duration,
    ) -> Result<Self, super::SetupError> {
        match creds {
            Credentials::StaticToken(t) => Ok(TokenSource::Static(t.clone())),
            Credentials::ServiceAccountFile(path) => {
                let key = read_key_file(path)?;
                let client_email = key.client_email.clone();
                let auth = ServiceAccountAuthenticator::builder(key)
                    .with_timeout(timeout)
                    .build()
                    .await
                    .map_err(|e| super::SetupError::Client(e.to_string()))?;
                Ok(TokenSource::ServiceAccount {
                    auth: Box::new(auth),
                    client_email,
                })
            }
        }
    }

    /// The service account's e-mail (to tell the user whom to share the sheet with).
    pub(crate) fn identity(&self) -> Option<&str> {
        match self {
            TokenSource::ServiceAccount { client_email, .. } => Some(client_email),
            TokenSource::Static(_) => None,
        }
    }

    /// A valid token; `refresh` forces a new one (after a 401).
    pub(crate) async fn token(&self, refresh: bool) -> Result<Secret, WorkbookError> {
        match self {
            TokenSource::Static(t) => Ok(t.clone()),
            TokenSource::ServiceAccount { auth, .. } => {
                let scopes = [SCOPE];
                let got = if refresh {
                    auth.force_refreshed_token(&scopes).await
                } else {
                    auth.token(&scopes).await
                };
                let tok = got.map_err(token_error)?;
                tok.token().map(Secret::new).ok_or_else(|| {
                    WorkbookError::Denied("Google no entregó un token de acceso".into())
                })
            }
        }
    }
}

fn token_error(e: yup_oauth2::Error) -> WorkbookError {
    use yup_oauth2::Error as E;
    match e {
        E::HttpError(_) | E::HttpClientError(_) | E::LowLevelError(_) => {
            WorkbookError::Unavailable(format!("no se pudo obtener el token de acceso: {e}"))
        }
        E::AuthError(a) => WorkbookError::Denied(format!(
            "Google rechazó la cuenta de servicio al pedir el token ({a}). Revise la clave."
        )),
        other => WorkbookError::Denied(format!("no se pudo obtener el token de acceso: {other}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ya29.very-secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        let c = Credentials::StaticToken(s);
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_key_others_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sa.json");
        std::fs::write(&p, "{}").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_key_file(&p).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, AuthSetupError::KeyFileTooOpen { mode: 0o644, .. }),
            "{msg}"
        );
        assert!(msg.contains("chmod 600"), "{msg}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            read_key_file(&p),
            Err(AuthSetupError::KeyFileTooOpen { .. })
        ));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Mode accepted; the content is then checked (and its text never echoed).
        std::fs::write(
            &p,
            r#"{"private_key": "-----BEGIN PRIVATE KEY-----SECRET"}"#,
        )
        .unwrap();
        let e = read_key_file(&p).unwrap_err();
        assert!(matches!(e, AuthSetupError::KeyFileInvalid { .. }));
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }
}
