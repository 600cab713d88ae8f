//! The authorization page of OpenID4VCI's authorization code flow: the
//! holder's browser arrives from their wallet (with the `request_uri` of a
//! pushed request), the holder types the transaction code the clerk gave
//! them, and the browser goes back to the wallet with an authorization
//! code. No account, no sign-in: the clerk's offer is the root of trust
//! (`vault::authorization`). Not a staff page: no session, no navigation.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::console::page::{render, Nav};
use crate::console::Console;
use crate::http::Peer;
use crate::vault::authorization::{self, Confirmed};
use crate::vault::shares::Source;

#[derive(Template)]
#[template(path = "wallet_authorize.html", config = "src/console/askama.toml")]
struct AuthorizePage {
    nav: Nav,
    /// Where the credential goes (the redirect URI's scheme and host), or
    /// `None` when the request is gone.
    wallet: Option<String>,
    request_uri: String,
    client_id: String,
    error: Option<String>,
}

/// The authorization request as the browser brings it (RFC 9126 §4).
#[derive(Deserialize)]
pub struct Asked {
    #[serde(default)]
    request_uri: String,
    #[serde(default)]
    client_id: String,
}

/// The holder's confirmation.
#[derive(Deserialize)]
pub struct Confirmation {
    #[serde(default)]
    request_uri: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    tx_code: String,
}

fn page(
    status: StatusCode,
    request_uri: String,
    client_id: String,
    wallet: Option<String>,
    error: Option<String>,
) -> Response {
    let mut resp = render(&AuthorizePage {
        nav: Nav::anonymous(),
        wallet,
        request_uri,
        client_id,
        error,
    });
    *resp.status_mut() = status;
    // The page holds a request_uri: not to be kept by any cache.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}

/// `GET /oid4vci/authorize?client_id=…&request_uri=…`.
pub async fn ask(State(console): State<Arc<Console>>, Query(q): Query<Asked>) -> Response {
    let wallet = authorization::describe(&console.vault, &q.request_uri, &q.client_id);
    let status = if wallet.is_some() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page(status, q.request_uri, q.client_id, wallet, None)
}

/// `POST /oid4vci/authorize`: the transaction code; right sends the
/// browser to the wallet (303), wrong shows the page again with the tries
/// left.
pub async fn confirm(
    State(console): State<Arc<Console>>,
    peer: Option<Extension<Peer>>,
    Form(c): Form<Confirmation>,
) -> Response {
    let source = peer.map_or(Source::UNKNOWN, |p| Source::of(p.addr.ip()));
    let v = &console.vault;
    match authorization::confirm(v, source, &c.request_uri, &c.client_id, c.tx_code.trim()) {
        Confirmed::Redirect(to) => (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response(),
        Confirmed::Wrong(left) => {
            let wallet = authorization::describe(v, &c.request_uri, &c.client_id);
            let error = format!(
                "That is not the code the clerk gave you. {left} {} left.",
                if left == 1 { "try" } else { "tries" }
            );
            page(StatusCode::BAD_REQUEST, c.request_uri, c.client_id, wallet, Some(error))
        }
        Confirmed::Gone => page(
            StatusCode::BAD_REQUEST,
            String::new(),
            String::new(),
            None,
            Some("This request has expired, was already used, or the code was wrong too many times.".into()),
        ),
    }
}
