//! Sessions: each person sees and ends their own; an admin sees and ends
//! anyone's (a lost laptop, a person who left).

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::domain::vocab::Role;

#[derive(Template)]
#[template(path = "sessions.html", config = "src/console/askama.toml")]
struct Sessions {
    nav: Nav,
    rows: Vec<Row>,
    all: bool,
}

struct Row {
    handle: String,
    principal: String,
    signed_in: String,
    last_seen: String,
    this_one: bool,
}

fn time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

pub async fn page(staff: Staff) -> Response {
    let all = staff.has(Role::Admin);
    let rows = staff
        .console
        .sessions
        .list((!all).then_some(staff.principal.id.as_str()))
        .into_iter()
        .map(|s| Row {
            this_one: s.handle == staff.session.handle,
            handle: s.handle,
            principal: s.principal,
            signed_in: time(s.signed_in_at),
            last_seen: time(s.last_seen_at),
        })
        .collect();
    render(&Sessions {
        nav: staff.nav("/console/sessions"),
        rows,
        all,
    })
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    handle: String,
}

pub async fn revoke(staff: Staff, Form(form): Form<RevokeForm>) -> Result<Response, Refusal> {
    staff.check_csrf(form.csrf.as_deref())?;
    let admin = staff.has(Role::Admin);
    let me = staff.principal.id.clone();
    staff
        .console
        .sessions
        .revoke(&form.handle, |s| admin || s.principal == me)
        .ok_or(Refusal::NotFound)?;
    Ok(Redirect::to("/console/sessions").into_response())
}
