//! The print queue's Print button: the card as the PDF to print (front and
//! back, with its seal), from `GET /v1/cardholders/{card}/print`, for the
//! browser to download.

use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};

use crate::console::page::{Refusal, Staff};

/// The card `number` as a PDF download, or what the API said instead.
///
/// # Errors
/// The console's refusal when Cedar denied the clerk.
pub async fn pdf(staff: &Staff, number: &str) -> Result<Result<Response, String>, Refusal> {
    let answer = staff
        .call(
            Method::GET,
            &format!("/v1/cardholders/{number}/print?purpose=card_printing"),
            None,
        )
        .await;
    if let Some((_, message)) = answer.error() {
        crate::console::page::check_allowed(&answer)?;
        return Ok(Err(format!("Not printed: {message}")));
    }
    Ok(Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"card.pdf\""),
        ],
        answer.body,
    )
        .into_response()))
}
