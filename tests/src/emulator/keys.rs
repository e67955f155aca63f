//! Test service-account keys: an RSA key generated at test time, written as the JSON file
//! Google hands out (`type: service_account`, PKCS#8 PEM `private_key`, `token_uri` pointing
//! at the emulator), readable by its owner only.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::Rng;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value as Json};
use sha2::Sha256;

use super::error::EmulatorError;

/// The Sheets read/write scope.
pub const SPREADSHEETS_SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";

#[derive(Clone)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub project_id: String,
    pub private_key_id: String,
    pub token_uri: String,
    private: RsaPrivateKey,
}

impl std::fmt::Debug for ServiceAccountKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// A fresh 2048-bit key for `client_email`, whose `token_uri` is `token_uri`.
    pub fn generate(client_email: &str, token_uri: &str) -> Result<Self, EmulatorError> {
        let mut rng = rand::thread_rng();
        let private =
            RsaPrivateKey::new(&mut rng, 2048).map_err(|e| EmulatorError::Key(e.to_string()))?;
        let kid: [u8; 20] = rng.gen();
        let project_id = client_email
            .split('@')
            .nth(1)
            .and_then(|d| d.split('.').next())
            .unwrap_or("zeues-test")
            .to_string();
        Ok(ServiceAccountKey {
            client_email: client_email.to_string(),
            project_id,
            private_key_id: kid.iter().map(|b| format!("{b:02x}")).collect(),
            token_uri: token_uri.to_string(),
            private,
        })
    }

    pub fn public_key(&self) -> RsaPublicKey {
        self.private.to_public_key()
    }

    pub fn public_key_pem(&self) -> Result<String, EmulatorError> {
        self.public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| EmulatorError::Key(e.to_string()))
    }

    pub fn private_key_pem(&self) -> Result<String, EmulatorError> {
        Ok(self
            .private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| EmulatorError::Key(e.to_string()))?
            .to_string())
    }

    /// The key file's JSON, shaped like the one the Google Cloud console downloads.
    pub fn to_json(&self) -> Result<Json, EmulatorError> {
        Ok(json!({
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem()?,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                self.client_email.replace('@', "%40")
            ),
            "universe_domain": "googleapis.com"
        }))
    }

    /// Writes the key file with mode 0600 (created that way: never world-readable).
    pub fn write(&self, path: &Path) -> Result<(), EmulatorError> {
        let io = |source| EmulatorError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_string_pretty(&self.to_json()?)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            opts.mode(0o600);
            let mut f = opts.open(path).map_err(io)?;
            // An existing file keeps its old mode on open: set it explicitly.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
        }
        #[cfg(not(unix))]
        {
            let mut f = opts.open(path).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
        }
        Ok(())
    }

    /// A signed JWT-bearer assertion (RS256, unpadded segments, as google-auth sends).
    pub fn assertion(&self, aud: &str, scope: &str, iat: i64) -> String {
        self.assertion_with(aud, scope, iat, false)
    }

    /// Like [`Self::assertion`]; `padded` = base64url with `=` padding, as yup-oauth2 sends
    /// (the signature then covers the padded text).
    pub fn assertion_with(&self, aud: &str, scope: &str, iat: i64, padded: bool) -> String {
        let enc = |bytes: &[u8]| {
            if padded {
                URL_SAFE.encode(bytes)
            } else {
                URL_SAFE_NO_PAD.encode(bytes)
            }
        };
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": aud,
            "iat": iat,
            "exp": iat + 3600,
        });
        let input = format!(
            "{}.{}",
            enc(header.to_string().as_bytes()),
            enc(claims.to_string().as_bytes())
        );
        let signer = SigningKey::<Sha256>::new(self.private.clone());
        let sig = signer.sign(input.as_bytes()).to_vec();
        format!("{input}.{}", enc(&sig))
    }
}
