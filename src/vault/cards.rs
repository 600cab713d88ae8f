//! Card work at the counter that reads or changes a card's sealed meta:
//! which earlier cards a new enrollment's identity documents may take over,
//! and status changes (revocation, erasure requests) made as
//! compare-and-swap changes of the sealed meta.

use std::sync::Arc;

use crate::authz::Resource;
use crate::crypto::Commitment;
use crate::domain::access;
use crate::domain::card::{CardId, CardMeta, CardNumber, CardStatus, OpenCard};
use crate::domain::error::Error;
use crate::domain::store::{Change, Store};
use crate::vault::Vault;

/// A card as a request names it: the number if the text can be one, its
/// audit subject and its storage id. Text that cannot be a card number still
/// gets a subject and an id, so probing is audited and answered exactly as
/// asking about an unknown card.
pub struct CardRef {
    pub number: Option<CardNumber>,
    pub subject: String,
    pub id: CardId,
}

impl CardRef {
    /// The Cedar resource for an action on this card.
    #[must_use]
    pub fn resource(&self) -> Resource {
        Resource::Card(self.subject.clone())
    }

    /// The card number, or 404 for text that cannot be one.
    ///
    /// # Errors
    /// The text was not a card number.
    pub fn number(&self) -> Result<&CardNumber, Error> {
        self.number.as_ref().ok_or(Error::NotFound)
    }
}

/// The cards whose identity documents a new card may take over: each
/// document's current index owner that is no longer valid today (revoked,
/// erased, expired, or its record gone). The store checks again, inside
/// the enrollment's transaction, that no other card owns one.
///
/// # Errors
/// A store read failed.
pub async fn superseded(v: &Arc<Vault>, identity: &[Commitment]) -> Result<Vec<CardId>, Error> {
    let today = v.clock.now().date();
    let mut out = Vec::new();
    for c in identity {
        let c = *c;
        let Some(owner) = v.read(move |v| v.store.card_for_commitment(&c)).await? else {
            continue;
        };
        let valid = v.card(owner).await?.is_some_and(|card| card.is_valid_on(today));
        if !valid && !out.contains(&owner) {
            out.push(owner);
        }
    }
    Ok(out)
}

/// The change that moves `card` to `status`, sealed under its data key, with
/// the record's new due time. Nothing brings an erased card back (404).
///
/// # Errors
/// The card is erased, or its keys are gone.
pub fn status_change(v: &Vault, id: &CardId, card: &OpenCard, status: CardStatus) -> Result<Change, Error> {
    if matches!(card.status, CardStatus::ErasureRequested { .. }) {
        return Err(Error::NotFound);
    }
    let meta = CardMeta {
        status,
        ..card.meta.clone()
    };
    meta_change(v, id, card, &meta)
}

/// The change that replaces `card`'s meta by `meta`, if the stored meta is
/// still the one `card` was read with.
///
/// # Errors
/// The card's keys are gone.
pub fn meta_change(v: &Vault, id: &CardId, card: &OpenCard, meta: &CardMeta) -> Result<Change, Error> {
    let window = i64::try_from(v.config.retention.inactive_cardholders.as_secs()).unwrap_or(i64::MAX);
    Ok(Change::UpdateCardMeta {
        card_id: *id,
        expect: card.record.meta.clone(),
        meta: access::seal_meta(&v.keys, id, &card.record, meta)?,
        due_at: meta.index_due(v.clock.now().unix_timestamp(), window),
    })
}
