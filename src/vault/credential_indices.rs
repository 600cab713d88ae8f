//! Each card's credential status indices as the store keeps them: sealed
//! under a key derived from the card's data key (`store::credentials`), so
//! that data/ alone links no presented credential to its batch or its card.
//! Here, the changes that need that key — issuance as a compare-and-swap on
//! the card's sealed meta (the meta says whether the card is still valid;
//! no revocation marker in the clear tells revoked cards from active ones),
//! revocation — and sealing, at open, what an older version left in the
//! clear.

use std::sync::Arc;

use crate::domain::access;
use crate::domain::audit::AuditDraft;
use crate::domain::card::{CardId, CardRecord};
use crate::domain::error::Error;
use crate::domain::store::{Change, Commit, Conflict, Store, StoreError};
use crate::vault::Vault;

/// How many times issuance reads the card again when its meta changed
/// between the read and the commit (a counter step, a renewal).
const TRIES: usize = 4;

/// Old-form entries sealed per commit at open.
const SEAL_BATCH: usize = 256;

/// The change that revokes every credential issued for the card `record`
/// is, in the commit that moves its sealed meta out of valid.
///
/// # Errors
/// The record's keys are gone.
pub fn revoke(v: &Vault, card_id: &CardId, record: &CardRecord) -> Result<Change, Error> {
    Ok(Change::RevokeCredentials {
        card_id: *card_id,
        key: access::index_key(&v.keys, card_id, record)?,
    })
}

/// Takes `indices` for the card's credentials if the card is valid now,
/// with `audit` in the same commit. The card is read afresh and the commit
/// applies only if its sealed meta is still the one read, so a revocation
/// committed in between wins. A card no longer valid (or gone) has `audit`
/// written with outcome `not_found`, and gives [`Error::NotFound`].
///
/// # Errors
/// Not found as above; unavailable when storage fails or the card kept
/// changing.
pub async fn take(v: &Arc<Vault>, card_id: CardId, indices: &[u64], audit: &[AuditDraft]) -> Result<(), Error> {
    let today = v.clock.now().date();
    for _ in 0..TRIES {
        let card = v.read(move |v| Ok(v.open_stored(&card_id))).await??;
        let Some(card) = card.filter(|c| c.is_valid_on(today)) else {
            let refused = audit
                .iter()
                .cloned()
                .map(|mut e| {
                    Conflict::NotFound.code().clone_into(&mut e.outcome);
                    e
                })
                .collect();
            v.store
                .commit(Commit {
                    changes: Vec::new(),
                    audit: refused,
                })
                .await?;
            return Err(Error::NotFound);
        };
        let change = Change::IssueCredentials {
            card_id,
            expect: card.record.meta.clone(),
            indices: indices.to_vec(),
            key: access::index_key(&v.keys, &card_id, &card.record)?,
        };
        let commit = Commit {
            changes: vec![change],
            audit: audit.to_vec(),
        };
        match v.store.commit(commit).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict(Conflict::VersionConflict)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::unavailable("the card changed while its credentials were issued"))
}

/// Seals what an older version left in the clear: each card's list of
/// status indices under the card's key (or, for a card whose record is
/// gone or does not open, its credentials revoked), and every revocation
/// marker dropped (the card's sealed meta already says revoked). Runs at
/// every open; once done, it finds nothing.
///
/// # Errors
/// A read or a commit failed.
pub async fn seal_legacy(v: &Arc<Vault>) -> Result<(), Error> {
    let cards = v.read(|v| v.store.legacy_credentials()).await?;
    if cards.is_empty() {
        return Ok(());
    }
    for batch in cards.chunks(SEAL_BATCH) {
        let ids = batch.to_vec();
        let changes = v
            .read(move |v| {
                ids.iter()
                    .map(|id| {
                        let key = v
                            .store
                            .card(id)?
                            .and_then(|record| access::index_key(&v.keys, id, &record).ok());
                        Ok(Change::SealCredentials { card_id: *id, key })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        v.store
            .commit(Commit {
                changes,
                audit: Vec::new(),
            })
            .await?;
    }
    tracing::info!(
        cards = cards.len(),
        "credential entries of an older version sealed (status indices, revocation markers)"
    );
    Ok(())
}
