//! Principals (admin; auditors read): who can use the vault, issuing staff
//! and systems (a staff member gets a one-time passkey registration link),
//! approving privileged staff (a second admin, after a fresh passkey
//! check), rotating and removing. Each is the `/v1/principals` request it
//! stands for.

use askama::Template;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::domain::vocab::{AgencyKind, Purpose, Role};

#[derive(Template)]
#[template(path = "principals.html", config = "src/console/askama.toml")]
struct Principals {
    nav: Nav,
    rows: Vec<Row>,
    issued: Option<Issued>,
    message: Option<String>,
    roles: Vec<&'static str>,
    agency_kinds: Vec<&'static str>,
    purposes: Vec<&'static str>,
    origin: String,
}

struct Row {
    id: String,
    kind: String,
    grants: String,
    status: String,
    issued_by: String,
    approved_by: String,
    created_at: String,
    /// Issued by the signed-in admin: a second admin must approve it.
    mine: bool,
}

/// What an issue or rotation handed out: shown once.
struct Issued {
    id: String,
    status: String,
    token: String,
    registration_url: Option<String>,
    /// What the answer says about the bootstrap token (it is about to be,
    /// or has just been, retired).
    notice: Option<String>,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("—").to_owned()
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

async fn render_page(staff: &Staff, issued: Option<Issued>, message: Option<String>) -> Result<Response, Refusal> {
    let listed = staff.call_ok(Method::GET, "/v1/principals", None).await?.json();
    let rows = listed["principals"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| Row {
                    id: text(&p["id"]),
                    kind: text(&p["kind"]),
                    grants: if p["roles"].is_array() {
                        list(&p["roles"]).join(", ")
                    } else {
                        format!("{}: {}", text(&p["agency_kind"]), list(&p["purposes"]).join(", "))
                    },
                    status: text(&p["status"]),
                    issued_by: text(&p["issued_by"]),
                    approved_by: text(&p["approved_by"]),
                    created_at: text(&p["created_at"]),
                    mine: p["issued_by"].as_str() == Some(staff.principal.id.as_str()),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(render(&Principals {
        nav: staff.nav("/console/principals"),
        rows,
        issued,
        message,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        agency_kinds: AgencyKind::ALL.iter().map(|a| a.as_str()).collect(),
        purposes: Purpose::ALL.iter().map(|p| p.as_str()).collect(),
        origin: staff.console.origin.clone(),
    }))
}

pub async fn page(staff: Staff) -> Result<Response, Refusal> {
    render_page(&staff, None, None).await
}

/// The issue form. Checkbox fields arrive once per ticked box.
#[derive(Deserialize)]
pub struct IssueForm {
    csrf: Option<String>,
    id: String,
    kind: String,
    #[serde(default)]
    agency_kind: Option<String>,
    #[serde(default)]
    purposes: Option<String>,
    #[serde(default)]
    clerk: Option<String>,
    #[serde(default)]
    privacy_officer: Option<String>,
    #[serde(default)]
    legal: Option<String>,
    #[serde(default)]
    auditor: Option<String>,
    #[serde(default)]
    admin: Option<String>,
}

impl IssueForm {
    fn body(&self) -> Value {
        if self.kind == "system" {
            let purposes: Vec<&str> = self
                .purposes
                .as_deref()
                .unwrap_or_default()
                .split([',', ' '])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            json!({"id": self.id.trim(), "kind": "system", "agency_kind": self.agency_kind, "purposes": purposes})
        } else {
            let ticked = [
                ("clerk", &self.clerk),
                ("privacy_officer", &self.privacy_officer),
                ("legal", &self.legal),
                ("auditor", &self.auditor),
                ("admin", &self.admin),
            ];
            let roles: Vec<&str> = ticked.iter().filter(|(_, v)| v.is_some()).map(|(r, _)| *r).collect();
            json!({"id": self.id.trim(), "kind": "staff", "roles": roles})
        }
    }
}

pub async fn issue(staff: Staff, Form(form): Form<IssueForm>) -> Result<Response, Refusal> {
    staff.check_csrf(form.csrf.as_deref())?;
    let answer = staff.call(Method::POST, "/v1/principals", Some(&form.body())).await;
    if let Some((_, message)) = answer.error() {
        if answer.status.as_u16() == 403 || answer.status.as_u16() == 401 {
            return Err(crate::console::page::refusal_of(&answer).unwrap_or(Refusal::SignIn));
        }
        return render_page(&staff, None, Some(format!("Not issued: {message}"))).await;
    }
    let j = answer.json();
    let issued = Issued {
        id: text(&j["id"]),
        status: text(&j["status"]),
        token: text(&j["token"]),
        registration_url: j["registration_url"].as_str().map(str::to_owned),
        notice: j["notice"].as_str().map(str::to_owned),
    };
    render_page(&staff, Some(issued), None).await
}

/// Who issued principal `id`, as the API lists it.
async fn issued_by(staff: &Staff, id: &str) -> Result<Option<String>, Refusal> {
    let listed = staff.call_ok(Method::GET, "/v1/principals", None).await?.json();
    Ok(listed["principals"].as_array().and_then(|a| {
        a.iter()
            .find(|p| p["id"].as_str() == Some(id))
            .and_then(|p| p["issued_by"].as_str().map(str::to_owned))
    }))
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
    id: String,
    /// `approve`, `rotate` or `remove`.
    action: String,
}

pub async fn action(staff: Staff, Form(form): Form<ActionForm>) -> Result<Response, Refusal> {
    staff.check_csrf(form.csrf.as_deref())?;
    let id = form.id.trim();
    if crate::domain::principal::validate_id(id).is_err() {
        return Err(Refusal::Bad("That is not a principal id.".into()));
    }
    let (method, uri) = match form.action.as_str() {
        "approve" => {
            // The two-person rule, said before any passkey is asked for.
            if issued_by(&staff, id).await?.as_deref() == Some(staff.principal.id.as_str()) {
                let message = format!(
                    "Not approved: you issued {id}, so a second admin must approve it. Ask another admin to open Principals and press Approve."
                );
                return render_page(&staff, None, Some(message)).await;
            }
            staff.require_step_up()?;
            (Method::POST, format!("/v1/principals/{id}/approve"))
        }
        "rotate" => (Method::POST, format!("/v1/principals/{id}/rotate")),
        "remove" => (Method::DELETE, format!("/v1/principals/{id}")),
        _ => return Err(Refusal::Bad("Unknown action.".into())),
    };
    let answer = staff.call(method, &uri, None).await;
    if let Some((_, message)) = answer.error() {
        return render_page(&staff, None, Some(format!("Not done: {message}"))).await;
    }
    if form.action == "rotate" {
        let j = answer.json();
        let issued = Issued {
            id: id.to_owned(),
            status: "rotated".to_owned(),
            token: text(&j["token"]),
            registration_url: j["registration_url"].as_str().map(str::to_owned),
            notice: None,
        };
        return render_page(&staff, Some(issued), None).await;
    }
    if let Some(notice) = answer.json()["notice"].as_str() {
        // An approval that retires the bootstrap token says so on the page.
        return render_page(&staff, None, Some(notice.to_owned())).await;
    }
    Ok(Redirect::to("/console/principals").into_response())
}
