//! Honey cards in the running vault (which subjects are canaries is
//! `honey_registry.rs`'s): their creation through the same
//! enrollment code as real cards, and the alert a request about one raises:
//! an extra audit entry in the request's own commit, a metric per
//! principal, a log line and an optional webhook. The alert never touches
//! the caller's answer: the entry rides along with the one the request
//! writes anyway, and the webhook is sent from a background task.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::audit::{AuditDraft, Decision};
use crate::domain::card::CardNumber;
use crate::domain::enrollment::{prepare_honey, EnrollContext};
use crate::domain::error::Error;
use crate::domain::honey::{synthetic_application, HoneyCard, ALERT_SUBJECT, HIT_ACTION};
use crate::domain::principal::{Principal, PrincipalStatus};
use crate::domain::store::{Change, NewCard};
use crate::domain::vocab::Role;
use crate::vault::honey_registry::Hit;
use crate::vault::Vault;

/// The alert entries for the entries a request is about to write: one per
/// honey card a principal's request names (however many entries the
/// request writes about it), and the hits to report once they are written.
#[must_use]
pub fn alerts_for(v: &Vault, drafts: &[AuditDraft]) -> (Vec<AuditDraft>, Vec<Hit>) {
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    let mut hits = Vec::new();
    for d in drafts {
        let (Some(principal), Some(subject)) = (&d.principal, &d.subject) else {
            continue;
        };
        if d.action == HIT_ACTION {
            continue;
        }
        let Some(card) = v.honey.about(subject) else { continue };
        if !seen.insert(card.id.clone()) {
            continue;
        }
        entries.push(AuditDraft {
            at: d.at,
            principal: Some(principal.clone()),
            action: HIT_ACTION.to_owned(),
            resource: Some(format!("HoneyCard::{}", card.id)),
            purpose: d.purpose.clone(),
            decision: Decision::Allow,
            // The asking request's action: what was done to the card.
            digests: std::iter::once(("asked".to_owned(), d.action.clone())).collect(),
            subject: Some(ALERT_SUBJECT.to_owned()),
            outcome: "ok".to_owned(),
            ..AuditDraft::default()
        });
        hits.push(Hit {
            principal: principal.clone(),
            action: d.action.clone(),
            honey_card: card.id,
            at: d.at,
        });
    }
    (entries, hits)
}

/// Reports hits whose entries are written: the metric, a log line (ids
/// only) and, when configured, the webhook from a background task.
pub fn report(v: &Vault, hits: Vec<Hit>) {
    for hit in hits {
        v.metrics.honey_card_hit(&hit.principal);
        tracing::warn!(
            principal = %hit.principal,
            action = %hit.action,
            honey_card = %hit.honey_card,
            "honey card touched"
        );
        if let (Some(url), Some(client)) = (v.honey.webhook.clone(), v.honey.client.clone()) {
            let body = serde_json::json!({
                "principal": hit.principal,
                "action": hit.action,
                "honey_card": hit.honey_card,
                "at": rfc3339(hit.at),
            });
            // Fire and forget: the caller's answer never waits for it.
            tokio::spawn(async move {
                match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => tracing::warn!(status = r.status().as_u16(), "honey card webhook refused the alert"),
                    Err(e) => tracing::warn!(error = %e.without_url(), "honey card webhook not reached"),
                }
            });
        }
    }
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Honey cards made, ready to commit.
pub struct Made {
    pub numbers: Vec<CardNumber>,
    pub cards: Vec<HoneyCard>,
    pub changes: Vec<Change>,
}

/// Makes `count` honey cards labelled `label`: synthetic applicants sealed
/// by the enrollment code, each enrolled by an active clerk (as a real card
/// is), marked mailed, and remembered as honey by its keyed hashes only.
///
/// # Errors
/// Sealing failed (500), or its thread did.
pub async fn make(v: &Arc<Vault>, who: &Principal, count: u32, label: &str) -> Result<Made, Error> {
    let clerks: Vec<String> = v
        .principals
        .all()
        .iter()
        .filter(|p| p.status == PrincipalStatus::Active && p.roles.contains(&Role::Clerk))
        .map(|p| p.id.clone())
        .collect();
    let fallback = who.id.clone();
    let (vault, label) = (Arc::clone(v), label.to_owned());
    tokio::task::spawn_blocking(move || -> Result<Made, Error> {
        let mut made = Made {
            numbers: Vec::new(),
            cards: Vec::new(),
            changes: Vec::new(),
        };
        for _ in 0..count {
            let clerk = if clerks.is_empty() {
                fallback.clone()
            } else {
                clerks[rand::Rng::gen_range(&mut rand::thread_rng(), 0..clerks.len())].clone()
            };
            let (number, new_card) = one(&vault, &clerk)?;
            made.cards.push(HoneyCard {
                id: crate::domain::honey::new_id(),
                label: label.clone(),
                created_at: vault.clock.now().unix_timestamp(),
                subject: vault.keys.subjects.subject("card", number.as_str()),
                card_id: new_card.card_id,
            });
            let card_id = new_card.card_id;
            made.changes.push(Change::Enroll(Box::new(new_card)));
            // Already mailed: never on the counter's queue.
            made.changes.push(Change::Counter { card_id, queued: false });
            made.numbers.push(number);
        }
        made.changes.push(Change::PutHoneyCards(made.cards.clone()));
        Ok(made)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
}

/// One honey card's record, sealed as an enrollment would seal it.
fn one(v: &Vault, clerk: &str) -> Result<(CardNumber, NewCard), Error> {
    let now = v.clock.now();
    let cx = EnrollContext {
        program: &v.program,
        keys: &v.keys,
        clerk,
        now,
        validity: v.config.card_validity,
        scans: None,
        inactive_window_secs: i64::try_from(v.config.retention.inactive_cardholders.as_secs()).unwrap_or(i64::MAX),
        commitment_cost: v.commitment_cost,
    };
    let req = synthetic_application(&v.program.name, now.date());
    let documents = 2 + usize::from(rand::random::<bool>());
    let prepared = prepare_honey(&req, documents, &cx)?;
    Ok((prepared.card_number, prepared.new_card))
}
