//! Honey cards in the running vault (which subjects are canaries is
//! `honey_registry.rs`'s): planning them and enrolling each through the
//! same enrollment code and the same Cedar decision as a real card, and
//! the alert a request about one raises.
//!
//! Nothing about a honey card may tell it from a real one, to staff or to
//! a copy of data/ (SECURITY.md, "Honey cards"):
//! - each card is enrolled on its own, at its own planned second spread
//!   over `honey.spread` after the request, as an active clerk's `enroll`
//!   (a Cedar decision for that clerk, audited as the enrollment handler
//!   audits one), so its record, its `verified_at`, its due time and its
//!   access log are those of a real enrollment at that second;
//! - a request about one does exactly what a request about any card does
//!   on its path (one registry probe per entry, one push onto the queue);
//!   the alert is written later, off the request's path, in an entry of
//!   its own whose details (who, what, which card, when) are sealed, so the
//!   chain at rest does not say which request it was about; the metric, log
//!   line and webhook follow once it is written.

use std::sync::Arc;

use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::authz::{Action, RequestContext, Resource};
use crate::domain::audit::{AuditDraft, AuditEntry, Decision};
use crate::domain::card::CardNumber;
use crate::domain::enrollment::{prepare_honey, EnrollContext};
use crate::domain::error::Error;
use crate::domain::honey::{
    synthetic_application, HoneyCard, HoneyRecord, PendingEnrollment, ALERT_SUBJECT, HIT_ACTION,
};
use crate::domain::principal::{Principal, PrincipalStatus};
use crate::domain::store::{Change, Commit, Store, StoreError};
use crate::domain::vocab::{Purpose, Role};
use crate::vault::honey_registry::{Hit, Pending, Plan};
use crate::vault::Vault;

/// An alert is written at most this many seconds after its request (at a
/// random second within), so its place in the chain is not the request's.
pub const ALERT_DELAY_SECS: i64 = 30;
/// The digest that carries an alert's sealed details.
const SEALED_ALERT: &str = "sealed";
/// The sealed details of an alert are padded to this.
const ALERT_SIZE: usize = 256;

/// The hits among the entries a request is about to write: one per honey
/// card a principal's request names. The same work for every entry: one
/// registry probe each, whatever it finds. (A real enrollment's channel is
/// noted on the way, for the honey cards' own.)
#[must_use]
pub fn hits_for(v: &Vault, drafts: &[AuditDraft]) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    for d in drafts {
        if d.action == "enroll" && d.outcome == "ok" {
            d.channel.clone_into(
                &mut v
                    .honey
                    .enroll_channel
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
        let found = d.subject.as_deref().and_then(|s| v.honey.about(s));
        let (Some(principal), Some(card)) = (&d.principal, found) else {
            continue;
        };
        if d.action == HIT_ACTION || hits.iter().any(|h| h.honey_card == card.id) {
            continue;
        }
        hits.push(Hit {
            principal: principal.clone(),
            action: d.action.clone(),
            purpose: d.purpose.clone(),
            honey_card: card.id.clone(),
            at: d.at,
        });
    }
    hits
}

/// [`hits_for`], for callers that add what it returns to their commit:
/// no entries any more (the alert is written later, see [`report`]).
#[must_use]
pub fn alerts_for(v: &Vault, drafts: &[AuditDraft]) -> (Vec<AuditDraft>, Vec<Hit>) {
    (Vec::new(), hits_for(v, drafts))
}

/// Queues the hits of a request whose entries are written: each alert is
/// written within [`ALERT_DELAY_SECS`] (or when the alerts are read, or at
/// an orderly stop). The queue is taken whether or not there are hits.
pub fn report(v: &Vault, hits: Vec<Hit>) {
    let now = v.clock.now().unix_timestamp();
    let mut rng = rand::thread_rng();
    let mut pending = v
        .honey
        .pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    pending.extend(hits.into_iter().map(|hit| Pending {
        hit,
        write_after: now + rng.gen_range(1..=ALERT_DELAY_SECS),
    }));
}

/// What an alert entry seals: the request that touched the card.
#[derive(Serialize, Deserialize)]
struct SealedAlert {
    principal: String,
    asked: String,
    purpose: Option<String>,
    honey_card: String,
    at: i64,
}

fn alert_key(v: &Vault) -> crate::crypto::DataKey {
    v.keys.blind.sealing_key("honey_alerts")
}

/// One alert entry: who, what and which card sealed, under the alerts'
/// subject, dated when it is written.
fn alert_entry(v: &Vault, hit: &Hit, now: i64) -> Result<AuditDraft, Error> {
    let details = SealedAlert {
        principal: hit.principal.clone(),
        asked: hit.action.clone(),
        purpose: hit.purpose.clone(),
        honey_card: hit.honey_card.clone(),
        at: hit.at,
    };
    let plain = serde_json::to_vec(&details).map_err(|_| Error::internal("alert encoding"))?;
    let owner = crate::vault::honey_registry::new_key();
    let sealed = alert_key(v).seal_padded(&owner, "honey_alert", &plain, &[ALERT_SIZE]);
    let mut blob = owner;
    blob.extend_from_slice(&sealed);
    Ok(AuditDraft {
        at: now,
        action: HIT_ACTION.to_owned(),
        purpose: Some(Purpose::Oversight.as_str().to_owned()),
        decision: Decision::Allow,
        digests: std::iter::once((
            SEALED_ALERT.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(blob),
        ))
        .collect(),
        subject: Some(ALERT_SUBJECT.to_owned()),
        outcome: "ok".to_owned(),
        ..AuditDraft::default()
    })
}

/// The request an alert entry stands for: its sealed details opened, or
/// (an older version's entry) read from the entry itself.
#[must_use]
pub fn open_alert(v: &Vault, e: &AuditEntry) -> Option<Hit> {
    let at = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(time::OffsetDateTime::unix_timestamp)
            .unwrap_or_default()
    };
    let Some(blob) = e.digests.get(SEALED_ALERT) else {
        return Some(Hit {
            principal: e.principal.clone()?,
            action: e.digests.get("asked").cloned().unwrap_or_default(),
            purpose: e.purpose.clone(),
            honey_card: e.resource.as_deref()?.strip_prefix("HoneyCard::")?.to_owned(),
            at: at(&e.at),
        });
    };
    let blob = base64::engine::general_purpose::STANDARD.decode(blob).ok()?;
    let (owner, sealed) = (blob.get(..16)?, blob.get(16..)?);
    let plain = alert_key(v).open_padded(owner, "honey_alert", sealed).ok()?;
    let a: SealedAlert = serde_json::from_slice(&plain).ok()?;
    Some(Hit {
        principal: a.principal,
        action: a.asked,
        purpose: a.purpose,
        honey_card: a.honey_card,
        at: a.at,
    })
}

/// Writes the alerts whose time has come (`all`: every one queued) in one
/// commit, then reports each: the metric, a log line (ids only) and, when
/// configured, the webhook from a background task.
///
/// # Errors
/// The commit failed: the alerts stay queued.
pub async fn write_alerts(v: &Vault, all: bool) -> Result<(), StoreError> {
    let now = v.clock.now().unix_timestamp();
    let due: Vec<Pending> = {
        let mut pending = v
            .honey
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A prefix of the queue: alerts are written in the order raised.
        let n = if all {
            pending.len()
        } else {
            pending.iter().take_while(|p| p.write_after <= now).count()
        };
        pending.drain(..n).collect()
    };
    if due.is_empty() {
        return Ok(());
    }
    let audit: Result<Vec<_>, _> = due.iter().map(|p| alert_entry(v, &p.hit, now)).collect();
    let audit = audit.map_err(|e| StoreError::Failed(e.to_string()))?;
    if let Err(e) = v
        .store
        .commit(Commit {
            changes: Vec::new(),
            audit,
        })
        .await
    {
        let mut pending = v
            .honey
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let later = std::mem::replace(&mut *pending, due);
        pending.extend(later);
        return Err(e);
    }
    for p in due {
        announce(v, p.hit);
    }
    Ok(())
}

fn announce(v: &Vault, hit: Hit) {
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
        // Fire and forget: nothing waits for it.
        tokio::spawn(async move {
            match client.post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(status = r.status().as_u16(), "honey card webhook refused the alert"),
                Err(e) => tracing::warn!(error = %e.without_url(), "honey card webhook not reached"),
            }
        });
    }
}

#[must_use]
pub fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Honey cards planned, ready to commit.
pub struct Made {
    pub numbers: Vec<CardNumber>,
    pub plans: Vec<Plan>,
    pub changes: Vec<Change>,
}

fn active_clerks(v: &Vault) -> Vec<Arc<Principal>> {
    v.principals
        .all()
        .into_iter()
        .filter(|p| p.status == PrincipalStatus::Active && p.roles.contains(&Role::Clerk))
        .collect()
}

/// Plans `count` honey cards labelled `label`: a number each (given to
/// the privacy officer now), an active clerk each, and a second each,
/// spread at random over `honey.spread` from now, at which the card is
/// enrolled. The records are sealed (see `honey_registry`).
///
/// # Errors
/// Sealing failed (500).
pub fn plan(v: &Vault, who: &Principal, count: u32, label: &str) -> Result<Made, Error> {
    let clerks = active_clerks(v);
    let now = v.clock.now().unix_timestamp();
    let spread = i64::try_from(v.config.honey.spread.as_secs()).unwrap_or(i64::MAX);
    let mut rng = rand::thread_rng();
    let mut made = Made {
        numbers: Vec::new(),
        plans: Vec::new(),
        changes: Vec::new(),
    };
    let mut put = Vec::new();
    for _ in 0..count {
        let number = CardNumber::generate();
        let clerk = if clerks.is_empty() {
            who.id.clone()
        } else {
            clerks[rng.gen_range(0..clerks.len())].id.clone()
        };
        let card = HoneyCard {
            id: crate::domain::honey::new_id(),
            label: label.to_owned(),
            created_at: now,
            subject: v.keys.subjects.subject("card", number.as_str()),
            card_id: v.keys.blind.card_id(number.as_str()),
        };
        let pending = PendingEnrollment {
            number: number.as_str().to_owned(),
            clerk,
            at: now.saturating_add(rng.gen_range(0..=spread)),
        };
        let key = crate::vault::honey_registry::new_key();
        put.push(crate::vault::honey_registry::seal(
            &v.keys.blind,
            key.clone(),
            &HoneyRecord {
                card: card.clone(),
                pending: Some(pending.clone()),
            },
        )?);
        made.plans.push(Plan { key, card, pending });
        made.numbers.push(number);
    }
    made.changes.push(Change::PutHoneyCards {
        put,
        remove: Vec::new(),
    });
    Ok(made)
}

/// Enrolls every planned card whose second has come, each on its own
/// (see [`enroll`]). A card that cannot be enrolled now stays planned.
pub async fn enroll_due(v: &Arc<Vault>) {
    let now = v.clock.now().unix_timestamp();
    for plan in v.honey.take_due(now) {
        if let Err(e) = enroll(v, &plan).await {
            // Retried every second (no clerk yet, say): kept out of the
            // warning log.
            tracing::debug!(error = %e, honey_card = %plan.card.id, "a honey card could not be enrolled yet");
            v.honey.plan(vec![plan]);
        }
    }
}

/// One planned card enrolled at its second, as its clerk's enrollment: the
/// Cedar decision the enrollment handler asks for that clerk, the record
/// sealed by the enrollment code, the entry the handler writes; and the
/// honey record resealed without its plan, in the same commit.
///
/// # Errors
/// No clerk may enroll now, sealing failed, or the commit did.
pub async fn enroll(v: &Arc<Vault>, plan: &Plan) -> Result<(), Error> {
    let _kek_in_use = v.kek_gate.read().await;
    let at = plan.pending.at;
    let number = CardNumber::parse(&plan.pending.number).ok_or_else(|| Error::internal("a planned number"))?;
    // The planned clerk, or another active one if that one may not enroll now.
    let mut candidates: Vec<Arc<Principal>> = v.principals.get(&plan.pending.clerk).into_iter().collect();
    candidates.extend(active_clerks(v));
    let policy = v.policy();
    let decided = candidates.iter().find_map(|p| {
        let cx = RequestContext {
            duplicate_outcomes_today: Some(v.duplicate_outcomes.today(&p.id, at)),
            ..RequestContext::purpose(Purpose::CardAdministration)
        };
        let d = policy.decide(p, Action::Enroll, &Resource::Vault, &cx);
        d.allowed.then(|| (Arc::clone(p), d, cx))
    });
    let Some((clerk, decision, cx)) = decided else {
        return Err(Error::unavailable("no clerk may enroll now"));
    };
    let vault = Arc::clone(v);
    let clerk_id = clerk.id.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let now = time::OffsetDateTime::from_unix_timestamp(at).map_err(|_| Error::internal("a planned time"))?;
        let ecx = EnrollContext {
            program: &vault.program,
            keys: &vault.keys,
            clerk: &clerk_id,
            now,
            validity: vault.config.card_validity,
            scans: None,
            inactive_window_secs: i64::try_from(vault.config.retention.inactive_cardholders.as_secs())
                .unwrap_or(i64::MAX),
            commitment_cost: vault.commitment_cost,
        };
        let req = synthetic_application(&vault.program.name, now.date());
        let documents = 2 + usize::from(rand::random::<bool>());
        prepare_honey(&req, documents, number, &ecx)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))??;
    let card_id = prepared.new_card.card_id;
    let resealed = crate::vault::honey_registry::seal(
        &v.keys.blind,
        plan.key.clone(),
        &HoneyRecord {
            card: plan.card.clone(),
            pending: None,
        },
    )?;
    let entry = AuditDraft {
        at,
        principal: Some(clerk.id.clone()),
        action: Action::Enroll.as_str().to_owned(),
        resource: Some(crate::authz::replay::resource_label(&Resource::Vault)),
        purpose: Some(Purpose::CardAdministration.as_str().to_owned()),
        decision: Decision::Allow,
        decision_id: Some(decision.decision_id.clone()),
        policies: decision.policies.clone(),
        policy_version: Some(decision.version),
        subject: Some(plan.card.subject.clone()),
        outcome: "ok".to_owned(),
        context: Some(crate::domain::audit::ReplayContext {
            duplicate_outcomes_today: cx.duplicate_outcomes_today,
            ..crate::domain::audit::ReplayContext::default()
        }),
        channel: v
            .honey
            .enroll_channel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
        ..AuditDraft::default()
    };
    let commit = Commit {
        changes: vec![
            Change::Enroll(Box::new(prepared.new_card)),
            // Already mailed: never on the counter's queue.
            Change::Counter { card_id, queued: false },
            Change::PutHoneyCards {
                put: vec![resealed],
                remove: Vec::new(),
            },
        ],
        audit: vec![entry],
    };
    v.cards.invalidate(&card_id);
    let committed = v.store.commit(commit).await;
    v.cards.invalidate(&card_id);
    committed.map(drop).map_err(|e| Error::unavailable(e.to_string()))
}
