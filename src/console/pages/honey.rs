//! Honey cards (privacy officers): make canary cards with a label, and read
//! the alerts — which principal touched which card, when, doing what.
//! `POST /v1/honey-cards` and `GET /v1/honey-cards/alerts` as the signed-in
//! person. The numbers of new cards are shown once, on the answer page, as
//! the API gives them once; the vault keeps which cards are honey sealed.

use askama::Template;
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::console::page::{check_allowed, render, Nav, Refusal, Staff};

#[derive(Template)]
#[template(path = "honey.html", config = "src/console/askama.toml")]
struct Honey {
    nav: Nav,
    made: Vec<Made>,
    alerts: Vec<Alert>,
    message: Option<String>,
    can_create: bool,
}

/// A card just made: shown once.
struct Made {
    card_number: String,
    label: String,
    enrolled_at: String,
}

struct Alert {
    at: String,
    principal: String,
    action: String,
    label: String,
    honey_card: String,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("—").to_owned()
}

async fn render_page(staff: &Staff, made: Vec<Made>, message: Option<String>) -> Result<Response, Refusal> {
    let answer = staff.call(Method::GET, "/v1/honey-cards/alerts", None).await;
    check_allowed(&answer)?;
    let alerts = answer.json()["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| Alert {
                    at: text(&x["at"]),
                    principal: text(&x["principal"]),
                    action: text(&x["action"]).replace('_', " "),
                    label: x["label"].as_str().unwrap_or("(card no longer held)").to_owned(),
                    honey_card: text(&x["honey_card"]),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(render(&Honey {
        nav: staff.nav("/console/honey"),
        made,
        alerts,
        message,
        can_create: staff.has(crate::domain::vocab::Role::PrivacyOfficer),
    }))
}

pub async fn page(staff: Staff) -> Result<Response, Refusal> {
    render_page(&staff, Vec::new(), None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    #[serde(default)]
    label: String,
    #[serde(default)]
    count: String,
}

pub async fn create(staff: Staff, Form(form): Form<CreateForm>) -> Result<Response, Refusal> {
    staff.check_csrf(form.csrf.as_deref())?;
    let Ok(count) = form.count.trim().parse::<u32>() else {
        return render_page(
            &staff,
            Vec::new(),
            Some("Not made: the number of cards is a whole number from 1 to 100.".into()),
        )
        .await;
    };
    let body = json!({"count": count, "label": form.label.trim()});
    let answer = staff.call(Method::POST, "/v1/honey-cards", Some(&body)).await;
    check_allowed(&answer)?;
    if let Some((_, message)) = answer.error() {
        return render_page(&staff, Vec::new(), Some(format!("Not made: {message}"))).await;
    }
    let made = answer.json()["cards"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Made {
                    card_number: text(&c["card_number"]),
                    label: text(&c["label"]),
                    enrolled_at: text(&c["enrolled_at"]),
                })
                .collect()
        })
        .unwrap_or_default();
    render_page(&staff, made, None).await
}
