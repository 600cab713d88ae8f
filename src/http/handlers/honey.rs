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
        The numbers are shown once, here; the vault keeps only keyed hashes of which cards are honey. \
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
    // As an enrollment: no data key wrapped under a KEK being retired.
    let _kek_in_use = v.kek_gate.read().await;
    let made = crate::vault::honey::make(&v, &who, req.count, &req.label).await?;
    gate.slot.digest("honey_cards", made.cards.len().to_string());
    let ids: Vec<_> = made.cards.iter().map(|c| c.card_id).collect();
    let committed = gate.commit(made.changes).await;
    for id in &ids {
        v.cards.invalidate(id);
    }
    committed?;
    v.honey.add(&made.cards);
    let cards = made
        .numbers
        .iter()
        .zip(&made.cards)
        .map(|(n, c)| HoneyCardMade {
            card_number: n.as_str().to_owned(),
            honey_card: c.id.clone(),
            label: c.label.clone(),
        })
        .collect();
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
    let about = gate.vault.read(|v| v.store.audit_about(Some(ALERT_SUBJECT))).await?;
    let labels = gate.vault.honey.labels();
    let alerts = about
        .entries
        .iter()
        .rev()
        .filter(|e| e.action == HIT_ACTION)
        .take(ALERT_LIMIT)
        .map(|e| {
            let honey_card = e
                .resource
                .as_deref()
                .and_then(|r| r.strip_prefix("HoneyCard::"))
                .unwrap_or_default()
                .to_owned();
            HoneyAlert {
                seq: e.seq,
                at: e.at.clone(),
                principal: e.principal.clone(),
                action: e.digests.get("asked").cloned().unwrap_or_default(),
                label: labels.get(&honey_card).cloned(),
                honey_card,
            }
        })
        .collect();
    Ok(Json(HoneyAlerts { alerts }))
}
