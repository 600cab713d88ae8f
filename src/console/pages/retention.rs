//! Retention (admins, privacy officers, auditors): what is held per data
//! class and when it goes, the last sweep and its destruction certificates,
//! legal holds with approve and release, and (admins) a sweep now. Each is
//! the `/v1/retention` or `/v1/legal/holds` request it stands for, as the
//! signed-in person; a hold shows the card only as its keyed hash.

use askama::Template;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::Value;

use crate::console::page::{check_allowed, render, Nav, Refusal, Staff};
use crate::domain::vocab::Role;

#[derive(Template)]
#[template(path = "retention.html", config = "src/console/askama.toml")]
struct Retention {
    nav: Nav,
    classes: Vec<(String, String, String, String)>,
    sweep: Vec<(&'static str, String)>,
    certificates: Vec<Certificate>,
    holds: Option<Vec<Hold>>,
    message: Option<String>,
    can_sweep: bool,
}

struct Certificate {
    data_class: String,
    records: String,
    key_id: String,
    method: String,
    destroyed_at: String,
}

struct Hold {
    id: String,
    reference: String,
    status: String,
    requested_by: String,
    approved_by: String,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.replace('_', " "),
        Value::Number(n) => n.to_string(),
        _ => "—".to_owned(),
    }
}

fn certificates(sweep: &Value) -> Vec<Certificate> {
    sweep["destroyed"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Certificate {
                    data_class: text(&c["data_class"]),
                    records: text(&c["records"]),
                    key_id: c["key_id"].as_str().unwrap_or_default().to_owned(),
                    method: text(&c["method"]),
                    destroyed_at: text(&c["destroyed_at"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn sweep_rows(status: &Value) -> Vec<(&'static str, String)> {
    let last = &status["last_sweep"];
    let count = |k: &str| last[k].as_array().map_or(0, Vec::len).to_string();
    if last.is_null() {
        return vec![
            ("Runs every", text(&status["sweep_interval"])),
            ("Last sweep", "none since the vault started".into()),
        ];
    }
    vec![
        ("Runs every", text(&status["sweep_interval"])),
        ("Last sweep", last["sweep_id"].as_str().unwrap_or_default().to_owned()),
        ("Started by", text(&last["trigger"])),
        ("Started", text(&last["started_at"])),
        ("Finished", text(&last["finished_at"])),
        ("Destroyed", count("destroyed")),
        ("Kept (holds, keys not yet everywhere)", count("skipped")),
        ("Failed (tried again next sweep)", count("errors")),
    ]
}

async fn holds(staff: &Staff) -> Option<Vec<Hold>> {
    let answer = staff.call(Method::GET, "/v1/legal/holds", None).await;
    if !answer.ok() {
        return None;
    }
    Some(
        answer.json()["holds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|h| Hold {
                        id: h["id"].as_str().unwrap_or_default().to_owned(),
                        reference: text(&h["reference"]),
                        status: text(&h["status"]),
                        requested_by: text(&h["requested_by"]),
                        approved_by: text(&h["approved_by"]),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

async fn render_page(staff: &Staff, report: Option<Value>, message: Option<String>) -> Result<Response, Refusal> {
    let answer = staff.call(Method::GET, "/v1/retention", None).await;
    check_allowed(&answer)?;
    let status = answer.json();
    let classes = [
        ("Source documents (scans)", "source_documents"),
        ("Cardholder records", "inactive_cardholders"),
    ]
    .into_iter()
    .map(|(name, key)| {
        let c = &status["classes"][key];
        (
            name.to_owned(),
            text(&c["window"]),
            text(&c["held"]),
            text(&c["next_destruction"]),
        )
    })
    .collect();
    let last = report.as_ref().unwrap_or(&status["last_sweep"]);
    Ok(render(&Retention {
        nav: staff.nav("/console/retention"),
        classes,
        sweep: sweep_rows(&status),
        certificates: certificates(last),
        holds: holds(staff).await,
        message,
        can_sweep: staff.has(Role::Admin),
    }))
}

pub async fn page(staff: Staff) -> Result<Response, Refusal> {
    render_page(&staff, None, None).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
    /// `sweep`, `approve` or `release`.
    intent: String,
    #[serde(default)]
    id: String,
}

pub async fn action(staff: Staff, Form(form): Form<ActionForm>) -> Result<Response, Refusal> {
    staff.check_csrf(form.csrf.as_deref())?;
    let id = form.id.trim();
    let valid_id =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let uri = match form.intent.as_str() {
        "sweep" => "/v1/retention/sweep".to_owned(),
        "approve" if valid_id => format!("/v1/legal/holds/{id}/approve"),
        "release" if valid_id => format!("/v1/legal/holds/{id}/release"),
        _ => return Err(Refusal::Bad("Unknown retention action.".into())),
    };
    let answer = staff.call(Method::POST, &uri, None).await;
    check_allowed(&answer)?;
    if let Some((_, message)) = answer.error() {
        return render_page(&staff, None, Some(format!("Not done: {message}"))).await;
    }
    if form.intent == "sweep" {
        return render_page(&staff, Some(answer.json()), None).await;
    }
    Ok(Redirect::to("/console/retention").into_response())
}
