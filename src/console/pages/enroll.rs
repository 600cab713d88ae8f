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
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::domain::program::{Check, ProofFacts};

/// How many proof rows the form offers.
const PROOF_ROWS: usize = 4;
/// At most this much per uploaded file, and in all.
const FILE_LIMIT: usize = 10 * 1024 * 1024;
const FORM_LIMIT: usize = 48 * 1024 * 1024;

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

struct Enrolled {
    card_number: String,
    issued_on: String,
    expires_on: String,
    scans: String,
}

/// One proof row of the form, as the template shows it.
struct ProofRow {
    index: usize,
    document_type: String,
    issuer: String,
    number: String,
    issued_on: String,
    expires_on: String,
}

/// The form's text fields (kept when the page is shown again).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Fields {
    csrf: Option<String>,
    intent: Option<String>,
    full_name: String,
    date_of_birth: String,
    address_kind: String,
    organization: String,
    line1: String,
    city: String,
    postal_code: String,
    gender: String,
    /// Comma-separated BCP 47 tags (at most two).
    languages: String,
    fee_waiver: String,
    delivery: String,
    document_type_1: String,
    issuer_1: String,
    number_1: String,
    issued_on_1: String,
    expires_on_1: String,
    document_type_2: String,
    issuer_2: String,
    number_2: String,
    issued_on_2: String,
    expires_on_2: String,
    document_type_3: String,
    issuer_3: String,
    number_3: String,
    issued_on_3: String,
    expires_on_3: String,
    document_type_4: String,
    issuer_4: String,
    number_4: String,
    issued_on_4: String,
    expires_on_4: String,
}

/// One proof row as typed.
struct Row<'a> {
    document_type: &'a str,
    issuer: &'a str,
    number: &'a str,
    issued_on: &'a str,
    expires_on: &'a str,
}

impl Fields {
    fn rows(&self) -> [Row<'_>; PROOF_ROWS] {
        [
            Row {
                document_type: &self.document_type_1,
                issuer: &self.issuer_1,
                number: &self.number_1,
                issued_on: &self.issued_on_1,
                expires_on: &self.expires_on_1,
            },
            Row {
                document_type: &self.document_type_2,
                issuer: &self.issuer_2,
                number: &self.number_2,
                issued_on: &self.issued_on_2,
                expires_on: &self.expires_on_2,
            },
            Row {
                document_type: &self.document_type_3,
                issuer: &self.issuer_3,
                number: &self.number_3,
                issued_on: &self.issued_on_3,
                expires_on: &self.expires_on_3,
            },
            Row {
                document_type: &self.document_type_4,
                issuer: &self.issuer_4,
                number: &self.number_4,
                issued_on: &self.issued_on_4,
                expires_on: &self.expires_on_4,
            },
        ]
    }

    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "csrf" => return self.csrf = Some(value),
            "intent" => return self.intent = Some(value),
            "full_name" => &mut self.full_name,
            "date_of_birth" => &mut self.date_of_birth,
            "address_kind" => &mut self.address_kind,
            "organization" => &mut self.organization,
            "line1" => &mut self.line1,
            "city" => &mut self.city,
            "postal_code" => &mut self.postal_code,
            "gender" => &mut self.gender,
            "languages" => &mut self.languages,
            "fee_waiver" => &mut self.fee_waiver,
            "delivery" => &mut self.delivery,
            "document_type_1" => &mut self.document_type_1,
            "issuer_1" => &mut self.issuer_1,
            "number_1" => &mut self.number_1,
            "issued_on_1" => &mut self.issued_on_1,
            "expires_on_1" => &mut self.expires_on_1,
            "document_type_2" => &mut self.document_type_2,
            "issuer_2" => &mut self.issuer_2,
            "number_2" => &mut self.number_2,
            "issued_on_2" => &mut self.issued_on_2,
            "expires_on_2" => &mut self.expires_on_2,
            "document_type_3" => &mut self.document_type_3,
            "issuer_3" => &mut self.issuer_3,
            "number_3" => &mut self.number_3,
            "issued_on_3" => &mut self.issued_on_3,
            "expires_on_3" => &mut self.expires_on_3,
            "document_type_4" => &mut self.document_type_4,
            "issuer_4" => &mut self.issuer_4,
            "number_4" => &mut self.number_4,
            "issued_on_4" => &mut self.issued_on_4,
            "expires_on_4" => &mut self.expires_on_4,
            _ => return,
        };
        *slot = value;
    }

    /// The proof rows for the template (1-based).
    fn proof_rows(&self) -> Vec<ProofRow> {
        self.rows()
            .iter()
            .enumerate()
            .map(|(i, r)| ProofRow {
                index: i + 1,
                document_type: r.document_type.to_owned(),
                issuer: r.issuer.to_owned(),
                number: r.number.to_owned(),
                issued_on: r.issued_on.to_owned(),
                expires_on: r.expires_on.to_owned(),
            })
            .collect()
    }
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

/// An uploaded file: its declared type and bytes.
struct Upload {
    content_type: String,
    bytes: Vec<u8>,
}

impl Upload {
    fn json(&self) -> Value {
        json!({
            "content_type": self.content_type,
            "data": base64::engine::general_purpose::STANDARD.encode(&self.bytes),
        })
    }
}

/// The whole multipart form: text fields, the photo, the scans by row.
async fn read_form(
    mut multipart: Multipart,
) -> Result<(Fields, Option<Upload>, [Option<Upload>; PROOF_ROWS]), Refusal> {
    let mut fields = Fields::default();
    let mut photo = None;
    let mut scans: [Option<Upload>; PROOF_ROWS] = Default::default();
    let mut total = 0usize;
    let too_big = || Refusal::Bad("The form is too large: a photo may be at most 5 MiB, a scan 10 MiB.".into());
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| Refusal::Bad("The form could not be read.".into()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| too_big())? {
            total += chunk.len();
            if bytes.len() + chunk.len() > FILE_LIMIT || total > FORM_LIMIT {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            if bytes.is_empty() {
                continue;
            }
            let upload = Upload { content_type, bytes };
            match name.as_str() {
                "photo" => photo = Some(upload),
                n => {
                    let row = n.strip_prefix("scan_").and_then(|i| i.parse::<usize>().ok());
                    if let Some(slot) = row.and_then(|i| scans.get_mut(i.wrapping_sub(1))) {
                        *slot = Some(upload);
                    }
                }
            }
        } else {
            fields.set(&name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok((fields, photo, scans))
}

fn blank_none(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// The enrollment request, as the API takes it.
fn enrollment(form: &Fields, photo: Option<&Upload>, scans: &[Option<Upload>; PROOF_ROWS]) -> Value {
    let address = match form.address_kind.as_str() {
        "none" => json!({"kind": "none"}),
        "care_of" => json!({"kind": "care_of", "organization": form.organization.trim(), "line1": form.line1.trim(),
            "city": form.city.trim(), "postal_code": form.postal_code.trim()}),
        _ => json!({"kind": "residential", "line1": form.line1.trim(), "city": form.city.trim(),
            "postal_code": form.postal_code.trim()}),
    };
    let mut applicant =
        json!({"full_name": form.full_name.trim(), "date_of_birth": form.date_of_birth.trim(), "address": address});
    if let Some(g) = blank_none(&form.gender) {
        applicant["gender"] = json!(g);
    }
    let languages: Vec<&str> = form
        .languages
        .split([',', ' '])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !languages.is_empty() {
        applicant["languages"] = json!(languages);
    }
    let proofs: Vec<Value> = form
        .rows()
        .iter()
        .zip(scans.iter())
        .filter(|(r, _)| !r.document_type.is_empty())
        .map(|(r, scan)| {
            let mut p = json!({"document_type": r.document_type, "issuer": r.issuer.trim(), "number": r.number.trim()});
            if let Some(d) = blank_none(r.issued_on) {
                p["issued_on"] = json!(d);
            }
            if let Some(d) = blank_none(r.expires_on) {
                p["expires_on"] = json!(d);
            }
            if let Some(s) = scan {
                p["scan"] = s.json();
            }
            p
        })
        .collect();
    let mut body = json!({"applicant": applicant, "proofs": proofs});
    if let Some(w) = blank_none(&form.fee_waiver) {
        body["fee_waiver"] = json!(w);
    }
    if let Some(d) = blank_none(&form.delivery) {
        body["delivery"] = json!(d);
    }
    if let Some(p) = photo {
        body["photo"] = p.json();
    }
    body
}

pub async fn submit(staff: Staff, multipart: Multipart) -> Result<Response, Refusal> {
    let (form, photo, scans) = read_form(multipart).await?;
    staff.check_csrf(form.csrf.as_deref())?;
    if form.intent.as_deref() != Some("enroll") {
        return Ok(page_of(&staff, form, None, None));
    }
    let body = enrollment(&form, photo.as_ref(), &scans);
    let answer = staff.call(Method::POST, "/v1/enrollments", Some(&body)).await;
    if let Some((code, message)) = answer.error() {
        if matches!(answer.status.as_u16(), 401 | 403) {
            return Err(crate::console::page::refusal_of(&answer).unwrap_or(Refusal::SignIn));
        }
        let message = match code.as_str() {
            "duplicate_enrollment" => "Not enrolled: this identity document already backs an active card. Look the card up instead (a renewal or a replacement).".to_owned(),
            "insufficient_proof" => format!("Not enrolled: the documents do not meet the program's rules. {message}"),
            _ => format!("Not enrolled: {message}"),
        };
        return Ok(page_of(&staff, form, Some(message), None));
    }
    let j = answer.json();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let enrolled = Enrolled {
        card_number: text(&j["card_number"]),
        issued_on: text(&j["issued_on"]),
        expires_on: text(&j["expires_on"]),
        scans: format!(
            "{} scan(s) kept until {}",
            j["source_documents"]["stored"].as_u64().unwrap_or(0),
            j["source_documents"]["destroy_after"].as_str().unwrap_or("—")
        ),
    };
    let fresh = Fields {
        address_kind: "residential".into(),
        ..Fields::default()
    };
    Ok(page_of(&staff, fresh, None, Some(enrolled)).into_response())
}
