//! The clerk's credential offer as a page: the offer URI as a QR code (SVG,
//! drawn here, no script) for the holder's wallet to scan, and the
//! transaction code to read aloud. The API's answer
//! (`POST /v1/cardholders/{card}/credential-offer`), reached from Cards.

use askama::Template;
use axum::http::Method;
use axum::response::Response;

use crate::console::page::{render, Nav, Refusal, Staff};

#[derive(Template)]
#[template(path = "credential_offer.html", config = "src/console/askama.toml")]
struct OfferPage {
    nav: Nav,
    /// An SVG of our own making from the offer URI (no input of the caller's).
    qr_svg: String,
    offer_uri: String,
    user_pin: String,
}

/// The offer's QR code as an SVG, or `None` if the URI is too long for one.
#[must_use]
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::L).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

/// The offer page for card `number`, or what the API said instead.
///
/// # Errors
/// The console's refusal when Cedar denied the clerk.
pub async fn page(staff: &Staff, number: &str) -> Result<Result<Response, String>, Refusal> {
    let answer = staff
        .call(
            Method::POST,
            &format!("/v1/cardholders/{number}/credential-offer"),
            None,
        )
        .await;
    if let Some((_, message)) = answer.error() {
        crate::console::page::check_allowed(&answer)?;
        return Ok(Err(format!("No offer: {message}")));
    }
    let body = answer.json();
    let offer_uri = body["offer_uri"].as_str().unwrap_or_default().to_owned();
    let Some(svg) = qr_svg(&offer_uri) else {
        return Ok(Err("No offer: the offer does not fit a QR code.".into()));
    };
    // The SVG's own XML declaration is dropped: it is inlined in the page.
    let qr_svg = svg
        .split_once("?>")
        .map_or(svg.clone(), |(_, rest)| rest.trim_start().to_owned());
    Ok(Ok(render(&OfferPage {
        nav: staff.nav("/console/cards"),
        qr_svg,
        offer_uri,
        user_pin: body["user_pin"].as_str().unwrap_or_default().to_owned(),
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_offer_uri_makes_an_svg_qr_code() {
        let uri = format!("openid-credential-offer://?credential_offer={}", "x".repeat(400));
        let svg = super::qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<path"));
        assert!(!svg.contains("<script"));
    }
}
