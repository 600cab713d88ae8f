//! The legal desk (legal; privacy officers approve holds): answering a
//! subpoena, warrant, court order or public-records request about one card,
//! one document or an aggregate (`POST /v1/legal/requests`, after a fresh
//! passkey check), reading a past answer and its response letter, and legal
//! holds (request, approve, release). The vault decides each item by Cedar;
//! this screen only asks and shows.

use askama::Template;
use axum::extract::Path;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::domain::legal::{Aggregate, Item, Process};
use crate::domain::vocab::{AgencyKind, Role};

#[derive(Template)]
#[template(path = "legal.html", config = "src/console/askama.toml")]
struct Desk {
    nav: Nav,
    can_ask: bool,
    agency_kinds: Vec<&'static str>,
    processes: Vec<&'static str>,
    items: Vec<&'static str>,
    aggregates: Vec<&'static str>,
    holds: Vec<Hold>,
    past: Vec<Past>,
    message: Option<String>,
}

/// A past answer, as the desk lists it.
struct Past {
    id: String,
    reference: String,
    requester: String,
    process: String,
    outcome: String,
    answered_at: String,
}

#[derive(Template)]
#[template(path = "legal_answer.html", config = "src/console/askama.toml")]
struct AnswerPage {
    nav: Nav,
    a: Answer,
}

struct Hold {
    id: String,
    reference: String,
    status: String,
    requested_by: String,
    approved_by: String,
}

struct Answer {
    request_id: String,
    reference: String,
    outcome: String,
    disclosed: Vec<(String, String)>,
    withheld: Vec<(String, String)>,
    not_held: Vec<String>,
    notice: String,
    digest: String,
    /// The response letter as HTML (every character of its text escaped).
    letter: String,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("—").to_owned()
}

/// One disclosed item, as a lawyer reads it (a photo is named, not shown).
fn item_text(name: &str, v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) if name == "photo" => format!(
            "photo ({}, {} bytes of base64): in the package of GET /v1/legal/requests/{{id}}",
            o.get("content_type").and_then(Value::as_str).unwrap_or("image"),
            o.get("data").and_then(Value::as_str).map_or(0, str::len)
        ),
        Value::Object(o) => o
            .iter()
            .map(|(k, x)| format!("{k}: {}", x.as_str().map_or_else(|| x.to_string(), str::to_owned)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

impl Answer {
    fn of(j: &Value) -> Self {
        let disclosed = j["package"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), item_text(k, v))).collect())
            .unwrap_or_default();
        let withheld = j["withheld"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default();
        let not_held = j["not_held"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        Self {
            request_id: text(&j["request_id"]),
            reference: text(&j["reference"]),
            outcome: text(&j["outcome"]),
            disclosed,
            withheld,
            not_held,
            notice: text(&j["cardholder_notice"]).replace('_', " "),
            digest: text(&j["digest"]),
            letter: crate::console::letter::to_html(j["letter"].as_str().unwrap_or_default()),
        }
    }
}

async fn render_desk(staff: &Staff, message: Option<String>) -> Result<Response, Refusal> {
    let listed = staff.call_ok(Method::GET, "/v1/legal/holds", None).await?.json();
    let holds = listed["holds"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| Hold {
                    id: text(&h["id"]),
                    reference: text(&h["reference"]),
                    status: text(&h["status"]),
                    requested_by: text(&h["requested_by"]),
                    approved_by: text(&h["approved_by"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let answer = staff.call(Method::GET, "/v1/legal/requests", None).await;
    let past = if answer.ok() {
        answer.json()["requests"]
            .as_array()
            .map(|a| {
                a.iter()
                    .take(100)
                    .map(|r| Past {
                        id: text(&r["request_id"]),
                        reference: text(&r["reference"]),
                        requester: format!(
                            "{} ({})",
                            text(&r["requester"]["name"]),
                            text(&r["requester"]["agency_kind"])
                        ),
                        process: text(&r["process"]).replace('_', " "),
                        outcome: text(&r["outcome"]),
                        answered_at: text(&r["answered_at"]),
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(render(&Desk {
        nav: staff.nav("/console/legal"),
        past,
        can_ask: staff.has(Role::Legal),
        agency_kinds: AgencyKind::ALL.iter().map(|a| a.as_str()).collect(),
        processes: Process::ALL.iter().map(|p| p.as_str()).collect(),
        items: Item::ALL.iter().map(|i| i.as_str()).collect(),
        aggregates: Aggregate::ALL.iter().map(|a| a.as_str()).collect(),
        holds,
        message,
    }))
}

pub async fn page(staff: Staff) -> Result<Response, Refusal> {
    render_desk(&staff, None).await
}

/// The request form. Item checkboxes arrive as `item=<name>` once each, so
/// the form is read as pairs.
pub async fn submit(staff: Staff, Form(pairs): Form<Vec<(String, String)>>) -> Result<Response, Refusal> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned());
    staff.check_csrf(get("csrf").as_deref())?;
    staff.require_step_up()?;
    let items: Vec<&str> = pairs
        .iter()
        .filter(|(n, _)| n == "item")
        .map(|(_, v)| v.as_str())
        .collect();
    let card = get("card_number").unwrap_or_default();
    let aggregate = get("aggregate").unwrap_or_default();
    let subject = if !card.is_empty() {
        json!({"card_number": card})
    } else if !aggregate.is_empty() {
        json!({"aggregate": aggregate})
    } else {
        json!({"document": {
            "document_type": get("document_type").unwrap_or_default(),
            "issuer": get("issuer").unwrap_or_default(),
            "number": get("number").unwrap_or_default(),
        }})
    };
    let body = json!({
        "reference": get("reference").unwrap_or_default(),
        "requester": {"name": get("requester_name").unwrap_or_default(), "agency_kind": get("agency_kind").unwrap_or_default()},
        "process": get("process").unwrap_or_default(),
        "signed_by_judge": get("signed_by_judge").is_some(),
        "subject": subject,
        "items": items,
        "notice_prohibited_by_court": get("notice_prohibited_by_court").is_some(),
    });
    let answer = staff.call(Method::POST, "/v1/legal/requests", Some(&body)).await;
    if let Some((_, message)) = answer.error() {
        crate::console::page::check_allowed(&answer)?;
        return render_desk(&staff, Some(format!("Not answered: {message}"))).await;
    }
    Ok(render(&AnswerPage {
        nav: staff.nav("/console/legal"),
        a: Answer::of(&answer.json()),
    }))
}

/// A past answer, with its letter.
pub async fn answer(staff: Staff, Path(id): Path<String>) -> Result<Response, Refusal> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(Refusal::NotFound);
    }
    let j = staff
        .call_ok(Method::GET, &format!("/v1/legal/requests/{id}"), None)
        .await?
        .json();
    Ok(render(&AnswerPage {
        nav: staff.nav("/console/legal"),
        a: Answer::of(&j),
    }))
}

#[derive(Deserialize)]
pub struct HoldForm {
    csrf: Option<String>,
    /// `request`, `approve` or `release`.
    intent: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    card_number: String,
}

pub async fn holds(staff: Staff, Form(form): Form<HoldForm>) -> Result<Response, Refusal> {
    staff.check_csrf(form.csrf.as_deref())?;
    let id = form.id.trim();
    let valid_id =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let (uri, body) = match form.intent.as_str() {
        "request" => (
            "/v1/legal/holds".to_owned(),
            Some(json!({"reference": form.reference.trim(), "card_number": form.card_number.trim()})),
        ),
        "approve" if valid_id => (format!("/v1/legal/holds/{id}/approve"), None),
        "release" if valid_id => (format!("/v1/legal/holds/{id}/release"), None),
        _ => return Err(Refusal::Bad("Unknown hold action.".into())),
    };
    let answer = staff.call(Method::POST, &uri, body.as_ref()).await;
    if let Some((_, message)) = answer.error() {
        crate::console::page::check_allowed(&answer)?;
        return render_desk(&staff, Some(format!("Hold not changed: {message}"))).await;
    }
    Ok(Redirect::to("/console/legal").into_response())
}
