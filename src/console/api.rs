//! The console's way to act: each screen's action is the API request it
//! stands for, made to the same audited routes with the signed-in person as
//! the caller — the same gate, the same Cedar decision, the same audit entry
//! (with `channel: console`). The console renders the answer; it never
//! reaches around the API into the vault's records.

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::http::{ConsoleCaller, Peer};

/// The largest API answer the console reads (a photo is at most 5 MiB).
const ANSWER_LIMIT: usize = 8 * 1024 * 1024;

/// An API answer as the console sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when it is not).
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    #[must_use]
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The error's code and message, when the API refused.
    #[must_use]
    pub fn error(&self) -> Option<(String, String)> {
        if self.ok() {
            return None;
        }
        let j = self.json();
        let code = j["error"]["code"].as_str().unwrap_or("error").to_owned();
        let message = j["error"]["message"].as_str().unwrap_or("the vault refused").to_owned();
        Some((code, message))
    }
}

/// Makes one API request as `caller`.
pub async fn call(
    api: &axum::Router,
    caller: &ConsoleCaller,
    peer: Option<Peer>,
    method: Method,
    uri: &str,
    body: Option<&Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let Ok(mut req) = req.body(Body::from(bytes)) else {
        return Answer {
            status: StatusCode::BAD_REQUEST,
            body: Vec::new(),
        };
    };
    req.extensions_mut().insert(caller.clone());
    if let Some(p) = peer {
        req.extensions_mut().insert(p);
    }
    let Ok(response) = api.clone().oneshot(req).await;
    let status = response.status();
    let body = to_bytes(response.into_body(), ANSWER_LIMIT)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Answer { status, body }
}
