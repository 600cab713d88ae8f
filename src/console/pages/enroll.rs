//! The counter (clerk): enrolling an applicant, driven by the program's
//! catalogue. The document picker says what each type proves; the
//! checklist shows which requirements the chosen documents meet before the
//! clerk submits — computed by the same rules the enrollment itself applies
//! (`Program::checklist`). Submitting is `POST /v1/enrollments`.

use askama::Template;
use axum::extract::Multipart;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde_json::Value;

use super::enroll_form::{enrollment, read_form, Fields, ProofRow, Upload};
use crate::console::page::{render, Nav, Refusal, Staff};
use crate::domain::program::{Check, ProofFacts};

#[derive(Template)]
#[template(path = "enroll.html", config = "src/console/askama.toml")]
struct Enroll {
    nav: Nav,
    program: String,
    catalogue: Vec<DocOption>,
    form: Fields,
    proof_rows: Vec<ProofRow>,
    checklist: Vec<Check>,
    message: Option<String>,
    enrolled: Option<Enrolled>,
    /// How long scans are kept (`retention.source_documents`); None: they
    /// are checked and discarded, so the form asks for none.
    scans_kept: Option<String>,
}

#[derive(Template)]
#[template(path = "checklist.html", config = "src/console/askama.toml")]
struct Checklist {
    checklist: Vec<Check>,
}

/// One document type of the program's catalogue, as the picker shows it.
pub struct DocOption {
    pub value: String,
    pub label: String,
}

/// The success box: who was enrolled, the card, and what the vault kept.
struct Enrolled {
    full_name: String,
    card_number: String,
    issued_on: String,
    expires_on: String,
    /// What was kept, line by line.
    kept: Vec<String>,
}

impl Enrolled {
    fn of(j: &Value, form: &Fields, photo: bool) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let documents: Vec<String> = form
            .rows()
            .iter()
            .filter(|r| !r.document_type.is_empty())
            .map(|r| r.document_type.replace('_', " "))
            .collect();
        Self {
            full_name: form.full_name.trim().to_owned(),
            card_number: text(&j["card_number"]),
            issued_on: text(&j["issued_on"]),
            expires_on: text(&j["expires_on"]),
            kept: kept(
                &documents,
                j["source_documents"]["stored"].as_u64().unwrap_or(0),
                j["source_documents"]["destroy_after"].as_str(),
                photo,
            ),
        }
    }
}

/// What the vault kept of an enrollment, in the clerk's words.
fn kept(documents: &[String], scans: u64, destroy_after: Option<&str>, photo: bool) -> Vec<String> {
    let mut out = vec![format!(
        "Documents checked: {} (their numbers kept only as keyed hashes)",
        documents.join(", ")
    )];
    out.push(match (scans, destroy_after) {
        (0, _) => "No scans kept: the documents were checked and none was stored.".to_owned(),
        (n, Some(until)) => format!("{n} scan(s) kept, sealed, until {until}; then destroyed."),
        (n, None) => format!("{n} scan(s) kept, sealed."),
    });
    out.push(if photo {
        "The photo, sealed with the record.".to_owned()
    } else {
        "No photo.".to_owned()
    });
    out
}

fn date(text: &str) -> Option<time::Date> {
    time::Date::parse(text, &time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// The checklist for the documents chosen so far, by the program's rules.
fn checks_for(staff: &Staff, form: &Fields) -> Vec<Check> {
    let v = &staff.console.vault;
    let today = v.clock.now().date();
    let rows = form.rows();
    let facts: Vec<ProofFacts<'_>> = rows
        .iter()
        .filter(|r| !r.document_type.is_empty())
        .map(|r| ProofFacts {
            document_type: r.document_type,
            issued_on: date(r.issued_on),
            expires_on: date(r.expires_on),
        })
        .collect();
    v.program.checklist(&facts, today, &[])
}

/// The program's document types that prove something, each saying what.
pub fn catalogue(staff: &Staff) -> Vec<DocOption> {
    staff
        .console
        .vault
        .program
        .documents
        .iter()
        .filter(|(_, rule)| !rule.proves.is_empty())
        .map(|(name, rule)| {
            let proves: Vec<&str> = rule.proves.iter().map(|p| p.as_str()).collect();
            let mut points = Vec::new();
            if rule.identity_points > 0 {
                points.push(format!("{} identity", rule.identity_points));
            }
            if rule.residency_points > 0 {
                points.push(format!("{} residency", rule.residency_points));
            }
            let points = if points.is_empty() {
                String::new()
            } else {
                format!("; points: {}", points.join(", "))
            };
            DocOption {
                value: name.clone(),
                label: format!(
                    "{} — proves {}{}",
                    name.replace('_', " "),
                    proves.join(", ").replace('_', " "),
                    points
                ),
            }
        })
        .collect()
}

fn page_of(staff: &Staff, form: Fields, message: Option<String>, enrolled: Option<Enrolled>) -> Response {
    let checklist = checks_for(staff, &form);
    let proof_rows = form.proof_rows();
    render(&Enroll {
        nav: staff.nav("/console/enroll"),
        program: staff.console.vault.program.title.clone(),
        catalogue: catalogue(staff),
        form,
        proof_rows,
        checklist,
        message,
        enrolled,
        scans_kept: {
            let kept = staff.console.vault.config.retention.source_documents;
            (!kept.is_zero()).then(|| kept.to_string())
        },
    })
}

pub async fn page(staff: Staff) -> Response {
    let form = Fields {
        address_kind: "residential".into(),
        ..Fields::default()
    };
    page_of(&staff, form, None, None)
}

/// The live checklist: console.js posts the form's text fields here and
/// shows the fragment (CSRF token in a header).
pub async fn checklist(staff: Staff, headers: HeaderMap, Form(form): Form<Fields>) -> Result<Response, Refusal> {
    staff.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
    Ok(render(&Checklist {
        checklist: checks_for(&staff, &form),
    }))
}

pub async fn submit(staff: Staff, multipart: Multipart) -> Result<Response, Refusal> {
    let (mut form, photo, scans) = read_form(multipart).await?;
    staff.check_csrf(form.csrf.as_deref())?;
    // A photo chosen before "Check requirements" comes back with the form.
    let photo = photo.or_else(|| Upload::from_data_url(&form.photo_kept));
    form.photo_kept = photo.as_ref().map(Upload::data_url).unwrap_or_default();
    if form.intent.as_deref() != Some("enroll") {
        return Ok(page_of(&staff, form, None, None));
    }
    let body = enrollment(&form, photo.as_ref(), &scans);
    let answer = staff.call(Method::POST, "/v1/enrollments", Some(&body)).await;
    if let Some((code, message)) = answer.error() {
        crate::console::page::check_allowed(&answer)?;
        let message = match code.as_str() {
            "duplicate_enrollment" => "Not enrolled: this identity document already backs an active card. Look the card up instead (a renewal or a replacement).".to_owned(),
            "insufficient_proof" => format!("Not enrolled: the documents do not meet the program's rules. {message}"),
            _ => format!("Not enrolled: {message}"),
        };
        return Ok(page_of(&staff, form, Some(message), None));
    }
    let enrolled = Enrolled::of(&answer.json(), &form, photo.is_some());
    let fresh = Fields {
        address_kind: "residential".into(),
        ..Fields::default()
    };
    Ok(page_of(&staff, fresh, None, Some(enrolled)).into_response())
}

#[cfg(test)]
mod tests {
    use super::kept;

    #[test]
    fn the_success_box_says_what_was_kept_never_zero_scans_until_a_dash() {
        let docs = ["foreign passport".to_owned(), "utility bill".to_owned()];
        let none = kept(&docs, 0, None, true);
        assert!(none[0].contains("foreign passport, utility bill"));
        assert_eq!(
            none[1],
            "No scans kept: the documents were checked and none was stored."
        );
        assert!(none[2].starts_with("The photo"));
        let two = kept(&docs, 2, Some("2027-01-05"), false);
        assert_eq!(two[1], "2 scan(s) kept, sealed, until 2027-01-05; then destroyed.");
        assert_eq!(two[2], "No photo.");
        assert!(!two.iter().chain(none.iter()).any(|l| l.contains('—')));
    }
}
