//! The front desk's card check at `/verify/`: a static page (its files in
//! `src/verify_page/`, built into the binary) that reads a printed card's
//! seal from a camera or a desk scanner and checks it on the device,
//! against the issuer's keys and status lists it fetched when online. It
//! sends nothing about a card anywhere; a service worker keeps it working
//! with the network cut. Public: no session, no audit (the vault never
//! learns a card was checked).

use axum::http::header;
use axum::response::{IntoResponse, Redirect};

/// The page's files, as served: (content type, body).
const INDEX: &str = include_str!("../verify_page/index.html");
const SCRIPT: &str = include_str!("../verify_page/verify.js");
const STYLE: &str = include_str!("../verify_page/verify.css");
const JSQR: &str = include_str!("../verify_page/jsqr.js");
const WORKER: &str = include_str!("../verify_page/sw.js");

/// The page's files may be cached, but are checked again each time (the
/// service worker keeps the offline copy).
fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub async fn slash() -> Redirect {
    Redirect::permanent("/verify/")
}

pub async fn index() -> impl IntoResponse {
    file("text/html; charset=utf-8", INDEX)
}

pub async fn script() -> impl IntoResponse {
    file("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> impl IntoResponse {
    file("text/css; charset=utf-8", STYLE)
}

pub async fn jsqr() -> impl IntoResponse {
    file("text/javascript; charset=utf-8", JSQR)
}

pub async fn worker() -> impl IntoResponse {
    file("text/javascript; charset=utf-8", WORKER)
}
