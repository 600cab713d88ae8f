//! One body limit for every route, enforced while the body streams.
//!
//! Each route's limit fits what it takes: an enrollment carries a photo and
//! scans (16 MiB as JSON, 48 MiB as the console's multipart form), a policy
//! text up to 1 MiB, a passkey ceremony a few KiB, everything else 64 KiB.
//! A declared `Content-Length` over the limit is refused (413
//! `payload_too_large`) without keeping a byte (what is in flight is read
//! and dropped, within a bound, so the client reads the answer); a body sent without one is
//! wrapped so that reading past the limit fails — after the rest of it is
//! read and dropped within a bound, so the client reads the answer —
//! whatever extractor reads it (axum's `Json`, `Form` and `Multipart` answer 413 then; our own
//! readers do too). Handlers may hold a tighter bound of their own.
//!
//! Before this layer, the console's unauthenticated JSON endpoints read a
//! body of any size into memory: 256 MiB to `/console/auth/login/begin`
//! grew the vault by 530 MiB.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::error::{ApiError, Error};

/// An enrollment, a renewal or an update as JSON (photo and scans, base64).
pub const ENROLL: usize = 16 * 1024 * 1024;
/// The console's enrollment form (multipart: a photo of ≤ 5 MiB and up to
/// four scans of ≤ 10 MiB each, checked again field by field).
pub const ENROLL_FORM: usize = 48 * 1024 * 1024;
/// A policy text with its tests (API or the console's studio).
pub const POLICY: usize = 1024 * 1024;
/// A passkey ceremony's JSON (an attestation with its certificate chain).
pub const PASSKEY: usize = 16 * 1024;
/// Everything else.
pub const DEFAULT: usize = 64 * 1024;

/// The body limit of a request to `path` with `method`.
#[must_use]
pub fn limit_for(method: &Method, path: &str) -> usize {
    if method == Method::GET || method == Method::HEAD {
        // No handler reads one; a small one is let through unread (and
        // answered as the request would be without it).
        return DEFAULT;
    }
    if path == "/v1/enrollments" || card_action(path, "renew") || card_action(path, "update") {
        return ENROLL;
    }
    if path == "/console/enroll" {
        return ENROLL_FORM;
    }
    if matches!(
        path,
        "/v1/policies" | "/v1/policies/check" | "/v1/policies/rollback" | "/console/policies"
    ) {
        return POLICY;
    }
    if path.starts_with("/console/auth/") {
        return PASSKEY;
    }
    DEFAULT
}

/// Whether `path` is `/v1/cardholders/{card}/{action}`.
fn card_action(path: &str, action: &str) -> bool {
    path.strip_prefix("/v1/cardholders/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(card, a)| !card.is_empty() && a == action)
}

/// The layer: refuses a declared length over the route's limit, and bounds
/// the body as it is read.
pub async fn limit_bodies(req: Request, next: Next) -> Response {
    let limit = limit_for(req.method(), req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        // Refused without keeping a byte; what the client is still sending
        // is read and dropped for a bounded while first (as a web server's
        // lingering close does), so it reads the 413 instead of a broken
        // pipe. Past the bound the connection closes with the answer.
        let expects_continue = req
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !expects_continue {
            // (A client waiting for "100 Continue" has sent nothing: reading
            // would invite the body.)
            discard(req.into_body()).await;
        }
        let mut refused = ApiError::from(Error::PayloadTooLarge).into_response();
        refused
            .headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        return refused;
    }
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, Body::new(Bounded::new(body, limit)));
    next.run(req).await
}

/// The layer inside the audit layer: bounds the body as it is read, and
/// leaves a declared length over the limit to the handler's reader, which
/// refuses it once the request is authenticated and authorized, so the
/// refusal is audited as the action it was (`extract::read_json`).
pub async fn bound_bodies(req: Request, next: Next) -> Response {
    let limit = limit_for(req.method(), req.uri().path());
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, Body::new(Bounded::new(body, limit)));
    next.run(req).await
}

/// The error `http_body_util::Limited` gives past its limit — the one
/// axum's `Json`, `Form` and `Multipart` answer with 413 (it has no public
/// constructor: a one-byte body over a zero limit makes it).
fn length_limit_error(cx: &mut std::task::Context<'_>) -> axum::BoxError {
    let mut over = http_body_util::Limited::new(http_body_util::Full::new(axum::body::Bytes::from_static(b"!")), 0);
    match http_body::Body::poll_frame(std::pin::Pin::new(&mut over), cx) {
        std::task::Poll::Ready(Some(Err(e))) => e,
        _ => Box::new(std::io::Error::other("the request body is over its limit")),
    }
}

/// A body that fails once more than `limit` bytes are read, as
/// `http_body_util::Limited` does — but first reads and drops the rest of
/// what the client is sending (within the bounds of [`discard`]), so the
/// client reads the 413 instead of a broken pipe. Before this, a 40 MiB
/// enrollment was cut at 16 MiB and the client never saw the answer.
pub(crate) struct Bounded {
    state: BoundedState,
    limit: usize,
    seen: usize,
}

enum BoundedState {
    Reading(Body),
    Draining(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
    Done,
}

impl Bounded {
    pub(crate) fn new(body: Body, limit: usize) -> Self {
        Self {
            state: BoundedState::Reading(body),
            limit,
            seen: 0,
        }
    }
}

impl http_body::Body for Bounded {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            match &mut this.state {
                BoundedState::Reading(body) => {
                    let frame = match std::pin::Pin::new(&mut *body).poll_frame(cx) {
                        Poll::Ready(Some(Ok(frame))) => frame,
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                        Poll::Ready(None) => return Poll::Ready(None),
                        Poll::Pending => return Poll::Pending,
                    };
                    this.seen = this
                        .seen
                        .saturating_add(frame.data_ref().map_or(0, axum::body::Bytes::len));
                    if this.seen <= this.limit {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    let BoundedState::Reading(rest) = std::mem::replace(&mut this.state, BoundedState::Done) else {
                        return Poll::Ready(None);
                    };
                    this.state = BoundedState::Draining(Box::pin(discard(rest)));
                }
                BoundedState::Draining(drain) => {
                    if drain.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.state = BoundedState::Done;
                    return Poll::Ready(Some(Err(length_limit_error(cx))));
                }
                BoundedState::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            BoundedState::Reading(body) => body.is_end_stream(),
            BoundedState::Draining(_) => false,
            BoundedState::Done => true,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.state {
            BoundedState::Reading(body) => {
                let hint = body.size_hint();
                let mut bounded = http_body::SizeHint::new();
                bounded.set_lower(hint.lower().min(self.limit as u64));
                bounded
            }
            _ => http_body::SizeHint::default(),
        }
    }
}

/// How much of a refused body is read and dropped, at most, for how long,
/// and how long a pause in it ends the reading.
const DISCARD_BYTES: usize = 64 * 1024 * 1024;
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(5);
const DISCARD_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Reads and drops a refused body until it ends, pauses or a bound is
/// reached: memory stays flat (one frame at a time).
pub(crate) async fn discard(body: Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + DISCARD_TIME;
    while seen < DISCARD_BYTES {
        let until = deadline.min(tokio::time::Instant::now() + DISCARD_PAUSE);
        match tokio::time::timeout_at(until, body.frame()).await {
            Ok(Some(Ok(frame))) => seen = seen.saturating_add(frame.data_ref().map_or(0, |d| d.len())),
            _ => return,
        }
    }
}

/// Whether a body-reading error (anywhere in its chain of sources) is the
/// limit being reached.
#[must_use]
pub fn is_over_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_the_limit_of_its_content() {
        assert_eq!(limit_for(&Method::POST, "/v1/enrollments"), ENROLL);
        assert_eq!(limit_for(&Method::POST, "/v1/cardholders/ABC/renew"), ENROLL);
        assert_eq!(limit_for(&Method::POST, "/v1/cardholders/ABC/update"), ENROLL);
        assert_eq!(limit_for(&Method::POST, "/v1/cardholders/ABC/revoke"), DEFAULT);
        assert_eq!(limit_for(&Method::POST, "/v1/cardholders//renew"), DEFAULT);
        assert_eq!(limit_for(&Method::PUT, "/v1/policies"), POLICY);
        assert_eq!(limit_for(&Method::POST, "/console/auth/login/begin"), PASSKEY);
        assert_eq!(limit_for(&Method::POST, "/console/enroll"), ENROLL_FORM);
        assert_eq!(limit_for(&Method::POST, "/oid4vci/credential"), DEFAULT);
        assert_eq!(limit_for(&Method::GET, "/v1/audit"), DEFAULT);
    }
}
