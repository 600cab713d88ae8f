//! The counter's work on an existing card: look it up with the holder
//! present, renew it inside the program's window, replace a lost or damaged
//! one with a new number, update the holder's details, and move it through
//! printing and pickup. Each returns the changes to commit (compare-and-swap
//! on the card's sealed meta) and what to answer; the HTTP skin decides,
//! audits and commits through its gate.

use std::sync::Arc;

use time::Date;

use super::cards::{meta_change, superseded};
use crate::domain::access::{self, Permit};
use crate::domain::card::{CardId, CardMeta, CardNumber, CardStatus, Counter, Delivery, OpenCard, ReplacementReason};
use crate::domain::enrollment::{check_documents, with_decoys, EnrollContext, Need, ProofInput};
use crate::domain::error::Error;
use crate::domain::program::Proves;
use crate::domain::store::{Change, NewCard, Store};
use crate::vault::Vault;

/// A card at the counter, as the clerk sees it with the holder present.
pub struct Lookup {
    pub card_number: String,
    pub status: &'static str,
    pub issued_on: Date,
    pub expires_on: Option<Date>,
    pub full_name: String,
    /// Whether it may be renewed today, and the window.
    pub renewal: Option<(bool, Date, Date)>,
    pub delivery: Delivery,
    pub counter: &'static str,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub languages: Vec<String>,
}

/// The card, read fresh (not from the cache): what is changed is exactly
/// what the change's compare-and-swap expects.
async fn current(v: &Arc<Vault>, id: CardId) -> Result<OpenCard, Error> {
    v.cards.invalidate(&id);
    v.read(move |v| Ok(v.open_stored(&id))).await??.ok_or(Error::NotFound)
}

/// Where a card is between the printer and the holder.
#[must_use]
pub fn counter_state(card: &CardMeta) -> &'static str {
    match (card.counter.printed_at, card.counter.picked_up_at, card.delivery) {
        (None, _, _) => "to_print",
        (Some(_), None, Delivery::Pickup) => "to_pick_up",
        (Some(_), None, Delivery::Mail) => "mailed",
        (Some(_), Some(_), _) => "picked_up",
    }
}

/// The card, for the clerk with the holder present.
///
/// # Errors
/// No such card (404), or its keys are gone.
pub async fn lookup(v: &Arc<Vault>, id: CardId, permit: &Permit) -> Result<Lookup, Error> {
    let card = v.card(id).await?.ok_or(Error::NotFound)?;
    let fields = access::open_fields(permit, &v.keys, &id, &card.record)?;
    let today = v.clock.now().date();
    let renewal = card
        .expires_on
        .and_then(|e| v.program.renewal_window(e))
        .filter(|_| card.status == CardStatus::Active)
        .map(|(from, to)| (from <= today && today <= to, from, to));
    Ok(Lookup {
        card_number: fields.card_number.clone().unwrap_or_default(),
        status: if card.status == CardStatus::Active && !card.is_valid_on(today) {
            "expired"
        } else {
            card.status.as_str()
        },
        issued_on: card.issued_on,
        expires_on: card.expires_on,
        full_name: fields.full_name.clone(),
        renewal,
        delivery: card.delivery,
        counter: counter_state(&card),
        replaces: card.replaces.clone(),
        replaced_by: card.replaced_by.clone(),
        languages: card.languages.clone(),
    })
}

fn context<'a>(v: &'a Vault, clerk: &'a str) -> EnrollContext<'a> {
    EnrollContext {
        program: &v.program,
        keys: &v.keys,
        clerk,
        now: v.clock.now(),
        validity: v.config.card_validity,
        scans: None,
        inactive_window_secs: window(v),
        commitment_cost: v.commitment_cost,
    }
}

/// [`check_documents`] on the blocking pool: each commitment is memory-hard.
async fn checked_off_the_workers(
    v: &Arc<Vault>,
    proofs: Vec<ProofInput>,
    clerk: &str,
    birth: Date,
    need: Need,
) -> Result<crate::domain::enrollment::CheckedDocuments, Error> {
    let (vault, clerk) = (Arc::clone(v), clerk.to_owned());
    tokio::task::spawn_blocking(move || check_documents(&proofs, &context(&vault, &clerk), birth, &need))
        .await
        .map_err(|e| Error::internal(e.to_string()))?
}

fn window(v: &Vault) -> i64 {
    i64::try_from(v.config.retention.inactive_cardholders.as_secs()).unwrap_or(i64::MAX)
}

/// A renewal: the program's window, its rules met again by the documents
/// presented, a new expiry by the holder's age band, and the card back in
/// the print queue. Returns the changes and the new expiry.
///
/// # Errors
/// No such card (404); not active or outside the window (400); the
/// documents fall short (422) or back another valid card (409 at commit).
pub async fn renew(
    v: &Arc<Vault>,
    id: CardId,
    proofs: Vec<ProofInput>,
    permit: &Permit,
    clerk: &str,
) -> Result<(Vec<Change>, Option<Date>), Error> {
    let card = current(v, id).await?;
    let today = v.clock.now().date();
    if card.status != CardStatus::Active {
        return Err(Error::invalid("card", "only an active card is renewed"));
    }
    let expires = card
        .expires_on
        .ok_or_else(|| Error::invalid("card", "this card does not expire"))?;
    let (from, to) = v.program.renewal_window(expires).ok_or(Error::NotFound)?;
    if today < from || today > to {
        return Err(Error::invalid("card", &format!("may be renewed from {from} to {to}")));
    }
    let birth = access::open_birth_date(permit, &v.keys, &id, &card.record)?;
    let checked = checked_off_the_workers(v, proofs, clerk, birth, Need::Rules).await?;
    let age = crate::domain::enrollment::age_on(birth, today);
    let start = expires.max(today);
    let expires_on = match v.program.validity_for(age, v.config.card_validity) {
        Some(validity) => Some(
            validity
                .add_to_date(start)
                .ok_or_else(|| Error::internal("card validity overflows the calendar"))?,
        ),
        None => None,
    };
    let mut meta = card.meta.clone();
    meta.expires_on = expires_on;
    meta.rules.clone_from(&v.program.rules);
    clerk.clone_into(&mut meta.clerk);
    meta.proofs = checked.commitments;
    meta.identity.clone_from(&checked.identity);
    meta.counter = Counter::default();
    meta.renewed_at.push(v.clock.now().unix_timestamp());
    let mut record = card.record.clone();
    record.meta = access::seal_meta(&v.keys, &id, &record, &meta)?;
    record.index = with_decoys(checked.identity.clone());
    record.due = meta.index_due(v.clock.now().unix_timestamp(), window(v));
    let others = superseded(v, &checked.identity).await?;
    Ok((
        vec![
            Change::UpdateCard {
                card_id: id,
                expect: card.record.meta.clone(),
                record: Box::new(record),
                identity: checked.identity,
                superseded: others,
            },
            Change::Counter {
                card_id: id,
                queued: true,
            },
        ],
        expires_on,
    ))
}

/// A replacement: a new card number for the same holder (fields, birth
/// date, photo and identity documents carried over, the same expiry), and
/// the old number replaced, answering `card_valid: false` from then on.
/// Returns the changes, the new number and the expiry.
///
/// # Errors
/// No such card (404); not valid (400).
pub async fn replace(
    v: &Arc<Vault>,
    id: CardId,
    old_number: &CardNumber,
    reason: ReplacementReason,
    permit: &Permit,
) -> Result<(Vec<Change>, CardNumber, Option<Date>), Error> {
    let card = current(v, id).await?;
    let now = v.clock.now();
    if !card.is_valid_on(now.date()) {
        return Err(Error::invalid(
            "card",
            "only a valid card is replaced (renew an expired one)",
        ));
    }
    let new_number = CardNumber::generate();
    let new_id = v.keys.blind.card_id(new_number.as_str());
    let at = now.unix_timestamp();
    let mut meta = CardMeta {
        status: CardStatus::Active,
        issued_on: now.date(),
        counter: Counter::default(),
        replaces: Some(old_number.as_str().to_owned()),
        replaced_by: None,
        ..card.meta.clone()
    };
    // A card not received goes to the counter this time.
    if reason == ReplacementReason::NotReceived {
        meta.delivery = Delivery::Pickup;
    }
    let mut record =
        access::replacement_record(permit, &v.keys, &id, &card.record, &new_id, new_number.as_str(), &meta)?;
    record.due = meta.index_due(at, window(v));
    let photo = v.read(move |v| v.store.photo(&id)).await?.ok_or(Error::NotFound)?;
    let old_meta = CardMeta {
        status: CardStatus::Replaced { reason, at },
        replaced_by: Some(new_number.as_str().to_owned()),
        ..card.meta.clone()
    };
    let changes = vec![
        meta_change(v, &id, &card, &old_meta)?,
        // The old card's holder-held credentials stop with it.
        crate::vault::credential_indices::revoke(v, &id, &card.record)?,
        Change::Counter {
            card_id: id,
            queued: false,
        },
        Change::Enroll(Box::new(NewCard {
            card_id: new_id,
            identity_commitments: record.index.clone(),
            superseded: vec![id],
            due_at: record.due,
            record,
            photo,
            scans: Vec::new(),
        })),
    ];
    Ok((changes, new_number, meta.expires_on))
}

/// What an update may change.
#[derive(Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantUpdate {
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub address: Option<crate::domain::enrollment::Address>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
}

/// An update of the holder's name (with a document proving identity),
/// address (with one proving residency, unless there is none), gender
/// (self-designated) or languages; the card goes back to the print queue
/// when what is printed on it changed.
///
/// # Errors
/// No such card (404); not valid, or a bad value (400); documents missing (422).
pub async fn update(
    v: &Arc<Vault>,
    id: CardId,
    change: &ApplicantUpdate,
    proofs: Vec<ProofInput>,
    permit: &Permit,
    clerk: &str,
) -> Result<Vec<Change>, Error> {
    let card = current(v, id).await?;
    let today = v.clock.now().date();
    if !card.is_valid_on(today) {
        return Err(Error::invalid("card", "only a valid card is updated"));
    }
    let mut fields = access::open_fields(permit, &v.keys, &id, &card.record)?;
    let mut need = Vec::new();
    if let Some(name) = &change.full_name {
        crate::domain::enrollment::check_text(name, "applicant.full_name", 200)?;
        name.clone_into(&mut fields.full_name);
        need.push(Proves::Identity);
    }
    if let Some(address) = &change.address {
        crate::domain::enrollment::check_address(address)?;
        if !matches!(address, crate::domain::enrollment::Address::None) {
            need.push(Proves::Residency);
        }
        fields.address = v.program.keep_address.then(|| address.clone());
    }
    if let Some(g) = &change.gender {
        if g.chars().count() > 32 || g.chars().any(char::is_control) {
            return Err(Error::invalid("applicant.gender", "at most 32 characters"));
        }
        fields.gender = Some(g.clone());
    }
    let mut meta = card.meta.clone();
    if let Some(langs) = &change.languages {
        meta.languages = crate::domain::enrollment::check_languages(langs)?;
    }
    let mut identity = meta.identity.clone();
    if !need.is_empty() {
        let birth = access::open_birth_date(permit, &v.keys, &id, &card.record)?;
        let checked = checked_off_the_workers(v, proofs, clerk, birth, Need::Proving(need)).await?;
        for k in checked.identity {
            if !identity.contains(&k) {
                identity.push(k);
            }
        }
        meta.proofs.extend(checked.commitments);
    }
    let reprint = change.full_name.is_some() || change.address.is_some();
    if reprint {
        meta.counter = Counter::default();
    }
    meta.identity.clone_from(&identity);
    let mut record = card.record.clone();
    record.fields = access::seal_fields(permit, &v.keys, &id, &record, &fields)?;
    record.meta = access::seal_meta(&v.keys, &id, &record, &meta)?;
    record.index = with_decoys(identity.clone());
    let others = superseded(v, &identity).await?;
    let mut changes = vec![Change::UpdateCard {
        card_id: id,
        expect: card.record.meta.clone(),
        record: Box::new(record),
        identity,
        superseded: others,
    }];
    if reprint {
        changes.push(Change::Counter {
            card_id: id,
            queued: true,
        });
    }
    Ok(changes)
}

/// A card on the counter's queue.
pub struct Queued {
    pub card_number: String,
    pub full_name: String,
    pub delivery: Delivery,
    /// `to_print` or `to_pick_up`.
    pub state: &'static str,
    /// Waiting to be picked up longer than the program's pickup window.
    pub flagged: bool,
}

/// The cards waiting to be printed, and those printed and waiting at the
/// counter (valid cards only: a card revoked meanwhile is not printed).
///
/// # Errors
/// A store read failed.
pub async fn queue(v: &Arc<Vault>, permit: &Permit) -> Result<Vec<Queued>, Error> {
    let ids = v.read(|v| v.store.counter_queue(10_000)).await?;
    let now = v.clock.now();
    let pickup_window = i64::try_from(v.program.pickup_window.as_secs()).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for id in ids {
        let Some(card) = v.card(id).await? else { continue };
        let state = counter_state(&card);
        if !card.is_valid_on(now.date()) || !matches!(state, "to_print" | "to_pick_up") {
            continue;
        }
        let Ok(fields) = access::open_fields(permit, &v.keys, &id, &card.record) else {
            continue;
        };
        let flagged = card
            .counter
            .printed_at
            .is_some_and(|p| state == "to_pick_up" && now.unix_timestamp().saturating_sub(p) > pickup_window);
        out.push(Queued {
            card_number: fields.card_number.clone().unwrap_or_default(),
            full_name: fields.full_name.clone(),
            delivery: card.delivery,
            state,
            flagged,
        });
    }
    Ok(out)
}

/// A step at the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Printed,
    PickedUp,
}

/// Records a step: printed (a mailed card then leaves the queue), or
/// picked up (it leaves the queue). Returns the changes and the new state.
///
/// # Errors
/// No such card (404), or the card is not where the step starts (400).
pub async fn step(v: &Arc<Vault>, id: CardId, step: Step) -> Result<(Vec<Change>, &'static str), Error> {
    let card = current(v, id).await?;
    let at = v.clock.now().unix_timestamp();
    let mut meta = card.meta.clone();
    match (step, counter_state(&card)) {
        (Step::Printed, "to_print") => meta.counter.printed_at = Some(at),
        (Step::PickedUp, "to_pick_up") => meta.counter.picked_up_at = Some(at),
        (Step::Printed, _) => return Err(Error::invalid("card", "not waiting to be printed")),
        (Step::PickedUp, _) => return Err(Error::invalid("card", "not waiting at the counter")),
    }
    let state = counter_state(&meta);
    Ok((
        vec![
            meta_change(v, &id, &card, &meta)?,
            Change::Counter {
                card_id: id,
                queued: state == "to_pick_up",
            },
        ],
        state,
    ))
}
