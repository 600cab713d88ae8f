//! The holder's access report as a printable page, in the holder's
//! language: the API's answer (`POST /v1/cardholders/{card}/access-report`)
//! in the domain's words, reached from the Cards screen.

use askama::Template;
use axum::http::Method;
use axum::response::Response;

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::domain::access_report::ReportEntry;
use crate::texts::{report as report_text, Language, ReportText};

#[derive(Template)]
#[template(path = "access_report.html", config = "src/console/askama.toml")]
struct AccessReportPage {
    nav: Nav,
    report: ReportText,
}

/// The report for card `number`, or what the API said instead (for the
/// Cards screen to show).
pub async fn page(staff: &Staff, number: &str) -> Result<Result<Response, String>, Refusal> {
    let answer = staff
        .call(Method::POST, &format!("/v1/cardholders/{number}/access-report"), None)
        .await;
    if let Some((_, message)) = answer.error() {
        crate::console::page::check_allowed(&answer)?;
        return Ok(Err(format!("No report: {message}")));
    }
    let body = answer.json();
    let entries: Vec<ReportEntry> = serde_json::from_value(body["entries"].clone()).unwrap_or_default();
    let language = body["language"]
        .as_str()
        .and_then(Language::from_tag)
        .unwrap_or(Language::English);
    let today = staff.console.vault.clock.now().date().to_string();
    let report = report_text(
        language,
        &staff.console.vault.program.title,
        body["card_number"].as_str().unwrap_or(number),
        &today,
        &entries,
    );
    Ok(Ok(render(&AccessReportPage {
        nav: staff.nav("/console/cards"),
        report,
    })))
}
