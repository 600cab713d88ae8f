//! Reading requests: the bearer token, bounded bodies, and JSON whose
//! errors name the field without echoing its value.

use axum::body::Body;
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, Error};

/// Body limit for enrollment (photo and scans, base64).
pub const ENROLL_LIMIT: usize = 16 * 1024 * 1024;
/// Body limit everywhere else.
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// The bearer token, if the header is well formed.
#[must_use]
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    let plausible = token.len() == 46
        && token.starts_with("cv_")
        && token[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then_some(token)
}

/// Reads at most `limit` bytes of body (413 beyond) and parses it as JSON.
///
/// # Errors
/// 400 for a wrong content type or malformed JSON (naming the field), 413
/// for a body over the limit.
pub async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body, limit: usize) -> Result<T, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::from(Error::InvalidRequest(
            "content-type must be application/json".into(),
        )));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Dropped as it comes, within a bound, so the client reads the 413.
        crate::http::body_limit::discard(body).await;
        return Err(ApiError::from(Error::PayloadTooLarge));
    }
    let bytes = crate::http::body_limit::Bounded::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            // The limit reached here, or by the router's body-limit layer.
            if crate::http::body_limit::is_over_limit(&*e) {
                ApiError::from(Error::PayloadTooLarge)
            } else {
                ApiError::from(Error::InvalidRequest("the request body could not be read".into()))
            }
        })?;
    parse_json(&bytes.to_bytes())
}

/// A body sent without a content type must be empty (an optional JSON
/// body was left out).
///
/// # Errors
/// 400 when it is not empty.
pub async fn empty_body(body: Body) -> Result<(), ApiError> {
    let bytes = Limited::new(body, 1024)
        .collect()
        .await
        .map_err(|_| ApiError::from(Error::InvalidRequest("content-type must be application/json".into())))?;
    if bytes.to_bytes().is_empty() {
        Ok(())
    } else {
        Err(ApiError::from(Error::InvalidRequest(
            "content-type must be application/json".into(),
        )))
    }
}

/// Parses JSON into `T`; errors name the path of the offending field.
///
/// # Errors
/// 400 `invalid_request`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(&e))?;
    de.end()
        .map_err(|_| ApiError::from(Error::InvalidRequest("the body is not valid JSON".into())))?;
    Ok(value)
}

fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::from(Error::InvalidRequest("the body is not valid JSON".into()));
    }
    let path = e.path().to_string();
    let msg = inner.to_string();
    let named = || {
        let start = msg.find('`')? + 1;
        let len = msg[start..].find('`')?;
        let name = &msg[start..start + len];
        let safe = name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        Some(if safe { name.to_owned() } else { "?".to_owned() })
    };
    let join = |name: String| {
        if path == "." || path.is_empty() {
            name
        } else if path.ends_with(&name) {
            path.clone()
        } else {
            format!("{path}.{name}")
        }
    };
    let field = |what: &str| {
        let p = if path == "." || path.is_empty() {
            "(body)".to_owned()
        } else {
            path.clone()
        };
        ApiError::invalid(&p, what)
    };
    if msg.starts_with("unknown field") {
        ApiError::invalid(&join(named().unwrap_or_default()), "unknown field")
    } else if msg.starts_with("missing field") {
        ApiError::invalid(&join(named().unwrap_or_default()), "missing field")
    } else if msg.starts_with("duplicate field") {
        ApiError::invalid(&join(named().unwrap_or_default()), "duplicate field")
    } else if msg.starts_with("invalid type") {
        field("wrong type")
    } else if msg.starts_with("unknown variant") || msg.starts_with("invalid value") {
        field("not an accepted value")
    } else if msg.starts_with("invalid length") {
        field("wrong number of elements")
    } else {
        field("invalid")
    }
}
