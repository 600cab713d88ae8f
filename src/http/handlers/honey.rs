//! Honey cards: `POST /v1/honey-cards` (a privacy officer makes canary
//! cards) and `GET /v1/honey-cards/alerts` (who touched one). The cards
//! are made by `vault::honey` through the enrollment code; the alerts are
//! raised by the gate and the audit layer on any request about one.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::authz::Action;
use crate::domain::honey::{check_request, ALERT_SUBJECT, HIT_ACTION};
use crate::domain::store::Store;
use crate::domain::vocab::Purpose;
use crate::http::dto::{HoneyAlert, HoneyAlerts, HoneyCardMade, HoneyCardsCreated};
use crate::http::error::ApiError;
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, PayloadTooLarge, Refused};

/// At most this many alerts in one answer (the newest).
const ALERT_LIMIT: usize = 500;

/// `POST /v1/honey-cards`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHoneyCards {
    /// 1 to 100.
    pub count: u32,
    /// 1 to 80 printable characters; kept with the cards, never audited.
    pub label: String,
}

/// `POST /v1/honey-cards`.
#[utoipa::path(
    post,
    path = "/v1/honey-cards",
    tag = "oversight",
    description = "Makes honey cards: canary cards enrolled through the same code as real ones, from \
        synthetic applicants, so that every answer about one looks like an answer about a valid card. \
        Any fact query, legal request, hold or counter action about one raises an alert (audit entry, \
        metric `civic_vault_honey_card_hits_total`, log line, optional webhook) naming the principal. \
        Each card is enrolled on its own, as a clerk's enrollment, at a second spread over `honey.spread` \
        (`enrolled_at`); asking about its number raises the alert from the start. \
        The numbers are shown once, here; the vault keeps which cards are honey sealed. \
        Audited as one entry with the count, never the numbers or the label.\n\n\
        Permissions: privacy officer (Cedar action `create_honey_cards`, purpose `oversight`).",
    request_body = CreateHoneyCards,
    responses(
        (status = 201, description = "the cards made", body = HoneyCardsCreated),
        BadRequest,
        PayloadTooLarge,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn create(gate: Gate, body: Body) -> Result<(StatusCode, Json<HoneyCardsCreated>), ApiError> {
    let (who, _) = gate.admit(Action::CreateHoneyCards, Purpose::Oversight)?;
    let req: CreateHoneyCards = gate.body(body, DEFAULT_LIMIT).await?;
    check_request(req.count, &req.label)?;
    let v = Arc::clone(&gate.vault);
    let made = crate::vault::honey::plan(&v, &who, req.count, &req.label)?;
    gate.slot.digest("honey_cards", made.plans.len().to_string());
    gate.commit(made.changes).await?;
    v.honey
        .add(&made.plans.iter().map(|p| p.card.clone()).collect::<Vec<_>>());
    let cards = made
        .numbers
        .iter()
        .zip(&made.plans)
        .map(|(n, p)| HoneyCardMade {
            card_number: n.as_str().to_owned(),
            honey_card: p.card.id.clone(),
            label: p.card.label.clone(),
            enrolled_at: crate::vault::honey::rfc3339(p.pending.at),
        })
        .collect();
    v.honey.plan(made.plans);
    // Those planned for now (all of them with `honey.spread` = "0s") are
    // enrolled before the answer, each on its own; the rest by the
    // background task at their second.
    crate::vault::honey::enroll_due(&v).await;
    Ok((StatusCode::CREATED, Json(HoneyCardsCreated { cards })))
}

/// `GET /v1/honey-cards/alerts`.
#[utoipa::path(
    get,
    path = "/v1/honey-cards/alerts",
    tag = "oversight",
    description = "The requests that touched a honey card, newest first (at most 500): when, which \
        principal, what it asked, which honey card and its label. Read from the audit chain's alert \
        entries.\n\n\
        Permissions: privacy officer or auditor (Cedar action `read_honey_alerts`, purpose `oversight`).",
    responses((status = 200, description = "the alerts", body = HoneyAlerts), Refused),
    security(("bearer" = []))
)]
pub async fn alerts(gate: Gate) -> Result<Json<HoneyAlerts>, ApiError> {
    gate.admit(Action::ReadHoneyAlerts, Purpose::Oversight)?;
    // Alerts still queued are written first: the answer is never behind.
    crate::vault::honey::write_alerts(&gate.vault, true).await?;
    let about = gate.vault.read(|v| v.store.audit_about(Some(ALERT_SUBJECT))).await?;
    let labels = gate.vault.honey.labels();
    let alerts = about
        .entries
        .iter()
        .rev()
        .filter(|e| e.action == HIT_ACTION)
        .take(ALERT_LIMIT)
        .filter_map(|e| {
            let hit = crate::vault::honey::open_alert(&gate.vault, e)?;
            Some(HoneyAlert {
                seq: e.seq,
                at: crate::vault::honey::rfc3339(hit.at),
                principal: Some(hit.principal),
                action: hit.action,
                label: labels.get(&hit.honey_card).cloned(),
                honey_card: hit.honey_card,
            })
        })
        .collect();
    Ok(Json(HoneyAlerts { alerts }))
}
