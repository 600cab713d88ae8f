//! The counter's card desk (clerk): look a card up with the holder present
//! (`GET /v1/cardholders/{card}?purpose=card_administration`), revoke,
//! replace, mark printed or picked up, request erasure, and the print
//! queue. Card numbers travel in form bodies only, never in console URLs
//! (browser history, proxies). Renewal and updates need the documents the
//! rules ask for again; they are the API's `renew` and `update` for now.

use askama::Template;
use axum::http::Method;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::console::pages::enroll::{catalogue, DocOption};
use crate::console::pages::enroll_form::{address_json, proof_json};
use crate::texts::{notice as cardholder_notice, Language, NoticeText};

#[derive(Template)]
#[template(path = "cards.html", config = "src/console/askama.toml")]
struct Cards {
    nav: Nav,
    card: Option<Card>,
    queue: Vec<Queued>,
    notices: Vec<Notice>,
    catalogue: Vec<DocOption>,
    message: Option<String>,
    done: Option<String>,
}

struct Card {
    number: String,
    status: String,
    full_name: String,
    issued_on: String,
    expires_on: String,
    renewal: String,
    delivery: String,
    counter: String,
    active: bool,
    /// Inside the renewal window today.
    renewable: bool,
}

/// A cardholder notice a legal request queued, to send by mail.
struct Notice {
    id: String,
    reference: String,
    queued_at: String,
    to: String,
    language: &'static str,
}

#[derive(Template)]
#[template(path = "notice.html", config = "src/console/askama.toml")]
struct NoticePage {
    nav: Nav,
    notice: NoticeText,
    lang: &'static str,
    dir: &'static str,
    to: String,
}

struct Queued {
    number: String,
    full_name: String,
    delivery: String,
    state: String,
    flagged: bool,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("—").to_owned()
}

/// Whether `card` could be a card number (it goes into an API path).
fn plausible(card: &str) -> bool {
    !card.is_empty() && card.len() <= 64 && card.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A listed notice's address, line by line (empty when none is held).
fn address_lines(n: &Value) -> Vec<&str> {
    n["address"].as_object().map_or_else(Vec::new, |o| {
        ["organization", "line1", "city", "postal_code"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_str))
            .collect()
    })
}

/// The language a listed notice is written in.
fn language_of(n: &Value) -> Language {
    let langs: Vec<String> = n["languages"]
        .as_array()
        .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Language::for_holder(&langs)
}

/// The notice `id` as a printable page, in the holder's language.
async fn print_notice(staff: &Staff, id: &str) -> Result<Response, Refusal> {
    let listed = staff.call_ok(Method::GET, "/v1/legal/notices", None).await?.json();
    let n = listed["notices"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["notice_id"].as_str() == Some(id)))
        .ok_or(Refusal::NotFound)?;
    let name = n["full_name"]
        .as_str()
        .ok_or_else(|| Refusal::Bad("The cardholder record has been destroyed: nobody to notify.".into()))?;
    let language = language_of(n);
    let day: String = n["queued_at"].as_str().unwrap_or_default().chars().take(10).collect();
    let notice = cardholder_notice(
        language,
        name,
        &staff.console.vault.program.title,
        n["reference"].as_str().unwrap_or_default(),
        &day,
    );
    let to = address_lines(n).join("\n");
    Ok(render(&NoticePage {
        nav: staff.nav("/console/cards"),
        lang: language.tag(),
        dir: language.dir(),
        to: format!("{name}\n{to}"),
        notice,
    }))
}

/// Whether `id` could be a notice id (it goes into an API path).
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn render_page(
    staff: &Staff,
    card: Option<Card>,
    message: Option<String>,
    done: Option<String>,
) -> Result<Response, Refusal> {
    let listed = staff.call_ok(Method::GET, "/v1/print-queue", None).await?.json();
    let queue = listed["cards"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Queued {
                    number: text(&c["card_number"]),
                    full_name: text(&c["full_name"]),
                    delivery: text(&c["delivery"]),
                    state: text(&c["state"]).replace('_', " "),
                    flagged: c["flagged"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    let listed = staff.call_ok(Method::GET, "/v1/legal/notices", None).await?.json();
    let notices = listed["notices"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| Notice {
                    id: text(&n["notice_id"]),
                    reference: text(&n["reference"]),
                    queued_at: text(&n["queued_at"]),
                    to: match n["full_name"].as_str() {
                        Some(name) => {
                            let addr = Some(address_lines(n).join(", "))
                                .filter(|a| !a.is_empty())
                                .unwrap_or_else(|| "no address held: give it at the counter".to_owned());
                            format!(
                                "{name} ({}) — {addr}",
                                n["card_number"].as_str().unwrap_or("number not held")
                            )
                        }
                        None => text(&n["status"]),
                    },
                    language: language_of(n).tag(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(render(&Cards {
        nav: staff.nav("/console/cards"),
        card,
        queue,
        notices,
        catalogue: catalogue(staff),
        message,
        done,
    }))
}

pub async fn page(staff: Staff) -> Result<Response, Refusal> {
    render_page(&staff, None, None, None).await
}

async fn lookup(staff: &Staff, number: &str) -> Result<Result<Card, String>, Refusal> {
    let answer = staff
        .call(
            Method::GET,
            &format!("/v1/cardholders/{number}?purpose=card_administration"),
            None,
        )
        .await;
    if let Some((_, message)) = answer.error() {
        return match answer.status.as_u16() {
            401 | 403 => Err(crate::console::page::refusal_of(&answer).unwrap_or(Refusal::SignIn)),
            404 => Ok(Err(
                "No card has that number. Check it against the card in the holder's hand.".into(),
            )),
            _ => Ok(Err(message)),
        };
    }
    let j = answer.json();
    let renewal = match j["renewal"].as_object() {
        Some(r) => {
            let window = r
                .get("window")
                .and_then(Value::as_array)
                .map(|w| w.iter().map(text).collect::<Vec<_>>().join(" to "))
                .unwrap_or_default();
            if r.get("eligible").and_then(Value::as_bool).unwrap_or(false) {
                format!("eligible now (window {window})")
            } else {
                format!("not yet (window {window})")
            }
        }
        None => "—".into(),
    };
    Ok(Ok(Card {
        number: text(&j["card_number"]),
        active: j["status"].as_str() == Some("active"),
        renewable: j["renewal"]["eligible"].as_bool().unwrap_or(false),
        status: text(&j["status"]).replace('_', " "),
        full_name: text(&j["full_name"]),
        issued_on: text(&j["issued_on"]),
        expires_on: j["expires_on"].as_str().unwrap_or("does not expire").to_owned(),
        renewal,
        delivery: text(&j["delivery"]),
        counter: text(&j["counter"]).replace('_', " "),
    }))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CardForm {
    csrf: Option<String>,
    /// `lookup`, `revoke`, `replace`, `printed`, `picked_up`, `erase`,
    /// `access_report`, `credential_offer` or `notice_sent`.
    intent: String,
    /// For `notice_sent`.
    notice_id: String,
    /// For `update`: the fields that change (empty: unchanged).
    full_name: String,
    address_kind: String,
    organization: String,
    line1: String,
    city: String,
    postal_code: String,
    /// For `renew` and `update`: up to two documents shown.
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
    card_number: String,
    reason: String,
    /// For erasure: the clerk typed the card number again; for revocation:
    /// `revoke`, the ticked confirmation.
    confirm: String,
}

impl CardForm {
    /// The documents shown, as the API takes them (empty rows left out).
    fn proofs(&self) -> Vec<Value> {
        [
            (
                &self.document_type_1,
                &self.issuer_1,
                &self.number_1,
                &self.issued_on_1,
                &self.expires_on_1,
            ),
            (
                &self.document_type_2,
                &self.issuer_2,
                &self.number_2,
                &self.issued_on_2,
                &self.expires_on_2,
            ),
        ]
        .into_iter()
        .filter(|(t, ..)| !t.trim().is_empty())
        .map(|(t, issuer, number, issued, expires)| proof_json(t, issuer, number, issued, expires))
        .collect()
    }

    /// The applicant fields that change.
    fn changes(&self) -> Value {
        let mut a = json!({});
        if !self.full_name.trim().is_empty() {
            a["full_name"] = json!(self.full_name.trim());
        }
        if let Some(address) = address_json(
            &self.address_kind,
            &self.organization,
            &self.line1,
            &self.city,
            &self.postal_code,
        ) {
            a["address"] = address;
        }
        a
    }
}

/// Prints a notice, or marks it sent.
async fn notice_action(staff: &Staff, form: &CardForm) -> Result<Response, Refusal> {
    let id = form.notice_id.trim();
    if !plausible_id(id) {
        return Err(Refusal::Bad("That is not a notice.".into()));
    }
    if form.intent == "notice_print" {
        return print_notice(staff, id).await;
    }
    let answer = staff
        .call(Method::POST, &format!("/v1/legal/notices/{id}/sent"), None)
        .await;
    crate::console::page::check_allowed(&answer)?;
    let (message, done) = match answer.error() {
        None => (None, Some("Notice marked sent.".to_owned())),
        Some((_, m)) => (Some(format!("Not marked: {m}")), None),
    };
    render_page(staff, None, message, done).await
}

/// The API request a card action stands for, and what to say once done.
fn request_for(form: &CardForm, number: &str) -> Option<(Method, String, Option<Value>, &'static str)> {
    let post = |path: &str, body: Option<Value>, done: &'static str| {
        Some((Method::POST, format!("/v1/cardholders/{number}/{path}"), body, done))
    };
    match form.intent.as_str() {
        "revoke" => post(
            "revoke",
            Some(json!({"reason": form.reason})),
            "Revoked: the card stops working everywhere at once.",
        ),
        "replace" => post(
            "replace",
            Some(json!({"reason": form.reason})),
            "Replaced: the old number no longer works; the new card is on the print queue.",
        ),
        "renew" => post(
            "renew",
            Some(json!({"proofs": form.proofs()})),
            "Renewed: the card is valid anew and goes back to the print queue.",
        ),
        "update" => post(
            "update",
            Some(json!({"applicant": form.changes(), "proofs": form.proofs()})),
            "Updated.",
        ),
        "printed" => post("printed", None, "Marked printed."),
        "picked_up" => post("picked-up", None, "Marked picked up."),
        "erase" => Some((
            Method::DELETE,
            format!("/v1/cardholders/{number}"),
            None,
            "Erasure requested: the record is destroyed, unrecoverably, unless a legal hold keeps it.",
        )),
        _ => None,
    }
}

pub async fn action(staff: Staff, Form(form): Form<CardForm>) -> Result<Response, Refusal> {
    staff.check_csrf(form.csrf.as_deref())?;
    if form.intent == "notice_sent" || form.intent == "notice_print" {
        return notice_action(&staff, &form).await;
    }
    let number = form.card_number.trim();
    if !plausible(number) {
        return render_page(&staff, None, Some("That is not a card number.".into()), None).await;
    }
    if form.intent == "lookup" {
        return match lookup(&staff, number).await? {
            Ok(card) => render_page(&staff, Some(card), None, None).await,
            Err(m) => render_page(&staff, None, Some(m), None).await,
        };
    }
    if form.intent == "access_report" {
        return match crate::console::pages::access_report::page(&staff, number).await? {
            Ok(page) => Ok(page),
            Err(message) => render_page(&staff, None, Some(message), None).await,
        };
    }
    if form.intent == "print_card" {
        return match crate::console::pages::print_card::pdf(&staff, number).await? {
            Ok(pdf) => Ok(pdf),
            Err(message) => render_page(&staff, None, Some(message), None).await,
        };
    }
    if form.intent == "credential_offer" {
        return match crate::console::pages::credential_offer::page(&staff, number).await? {
            Ok(page) => Ok(page),
            Err(message) => render_page(&staff, None, Some(message), None).await,
        };
    }
    if form.intent == "revoke" && form.confirm != "revoke" {
        let message = "Not revoked: tick the box to confirm that this card should stop working.";
        return render_page(&staff, None, Some(message.into()), None).await;
    }
    if form.intent == "erase" && form.confirm.trim() != number {
        let message = "Not erased: type the card number again to confirm.";
        return render_page(&staff, None, Some(message.into()), None).await;
    }
    let (method, uri, body, done) =
        request_for(&form, number).ok_or_else(|| Refusal::Bad("Unknown card action.".into()))?;
    let answer = staff.call(method, &uri, body.as_ref()).await;
    if let Some((_, message)) = answer.error() {
        crate::console::page::check_allowed(&answer)?;
        return render_page(&staff, None, Some(format!("Not done: {message}")), None).await;
    }
    let mut done = done.to_owned();
    let now_showing = answer.json()["card_number"].as_str().map(str::to_owned);
    if form.intent == "replace" {
        if let Some(new) = &now_showing {
            done = format!("{done} New card number: {new}.");
        }
    }
    let shown = match (form.intent.as_str(), now_showing) {
        ("erase", _) => None,
        (_, Some(n)) if plausible(&n) => lookup(&staff, &n).await?.ok(),
        _ => lookup(&staff, number).await?.ok(),
    };
    render_page(&staff, shown, None, Some(done)).await
}
