//! The HTTP client behind the operator commands (`policy apply`, `legal
//! respond`, ...): they act on a running vault through its API, so every
//! change they make is authorized by Cedar and audited like any other
//! request, under the token's own principal.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

/// Where the vault is and who is asking.
#[derive(clap::Args, Clone, Debug)]
pub struct Connection {
    /// Base URL of the running vault.
    #[arg(long, env = "CIVIC_VAULT_URL", default_value = "http://127.0.0.1:8700")]
    pub url: String,
    /// File holding the bearer token (otherwise $CIVIC_VAULT_TOKEN).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

/// A failed call: the HTTP status (0: no answer) and the body or reason.
#[derive(Debug)]
pub struct CallError {
    pub status: u16,
    pub body: Value,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// # Errors
    /// No token could be found, or the HTTP client cannot be built.
    pub fn new(c: &Connection) -> Result<Self, String> {
        let token = match &c.token_file {
            Some(f) => std::fs::read_to_string(f).map_err(|e| format!("{}: {}", f.display(), e.kind()))?,
            None => std::env::var("CIVIC_VAULT_TOKEN")
                .map_err(|_| "no token: pass --token-file FILE or set CIVIC_VAULT_TOKEN".to_owned())?,
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            base: c.url.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            http,
        })
    }

    /// # Errors
    /// No answer, or an answer other than 2xx (its error body kept).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CallError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| CallError {
            status: 0,
            body: Value::Null,
            message: format!("cannot reach the vault at {}: {e}", self.base),
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or("");
        Err(CallError {
            status: status.as_u16(),
            message: format!("{} {code}: {message}", status.as_u16()),
            body,
        })
    }

    /// # Errors
    /// As [`Self::call`].
    pub async fn get(&self, path: &str) -> Result<Value, CallError> {
        self.call(Method::GET, path, None).await
    }
}
