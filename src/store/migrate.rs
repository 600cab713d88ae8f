//! From record format v1 to v2, on a stopped vault's store: every card
//! record rewritten by the caller's conversion (which holds the keys), and
//! the duplicate index re-keyed, in batches that each commit with the
//! position reached, so a migration cut short resumes where it stopped.

use serde::Deserialize;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use time::Date;

use super::{decode, encode, failed, SledStore, META_SCHEMA, SCHEMA_VERSION};
use crate::crypto::{Commitment, WrappedKey};
use crate::domain::card::{CardId, CardRecord, CardStatus};
use crate::domain::program::Proves;
use crate::domain::store::{Store, StoreError};

const META_MIGRATED_UP_TO: &[u8] = b"migration_v2_up_to";
const BATCH: usize = 256;

/// A card record as format v1 stored it: status, dates and per-proof
/// attestations in the clear.
#[derive(Clone, Debug, Deserialize)]
pub struct CardRecordV1 {
    pub program: String,
    pub status: CardStatus,
    pub issued_on: Date,
    pub expires_on: Date,
    pub enrolled_at: i64,
    pub dek: WrappedKey,
    pub fields: Vec<u8>,
    pub birth: Vec<u8>,
    pub photo_key: Vec<u8>,
    pub attestations: Vec<AttestationV1>,
}

/// One proof as format v1 stored it.
#[derive(Clone, Debug, Deserialize)]
pub struct AttestationV1 {
    pub proves: Vec<Proves>,
    pub points: u32,
    pub clerk: String,
    pub at: i64,
    /// v1's keyed HMAC of the document (v2's commitment input).
    pub commitment: Commitment,
}

impl CardRecordV1 {
    /// The v1 index keys: the commitments of documents that proved identity.
    pub fn identity(&self) -> impl Iterator<Item = &Commitment> {
        self.attestations
            .iter()
            .filter(|a| a.proves.contains(&Proves::Identity))
            .map(|a| &a.commitment)
    }
}

/// Converts a batch on every core: each conversion makes memory-hard
/// commitments, which is what a migration spends its time on.
fn convert_all(
    olds: Vec<(CardId, CardRecordV1)>,
    convert: &(dyn Fn(&CardId, CardRecordV1) -> Result<CardRecord, StoreError> + Sync),
) -> Result<Vec<(CardId, Vec<Commitment>, CardRecord)>, StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = olds.len().div_ceil(threads).max(1);
    let mut olds = olds;
    let mut parts = Vec::new();
    while !olds.is_empty() {
        let rest = olds.split_off(chunk.min(olds.len()));
        parts.push(std::mem::replace(&mut olds, rest));
    }
    let results: Vec<Result<Vec<_>, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|(id, old)| {
                            let old_keys: Vec<Commitment> = old.identity().copied().collect();
                            convert(&id, old).map(|new| (id, old_keys, new))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(failed("a conversion thread failed"))))
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

impl SledStore {
    /// Rewrites every v1 card record through `convert` and re-keys the
    /// duplicate index (each v1 key that pointed at the card removed, each
    /// v2 key of the new record pointing at it), then records format v2.
    /// Returns how many records were migrated by this call.
    ///
    /// # Errors
    /// Storage failure, an unreadable record, or `convert`'s error (the
    /// batch it was in is not written; running again resumes there).
    pub fn migrate_v1(
        &self,
        convert: &(dyn Fn(&CardId, CardRecordV1) -> Result<CardRecord, StoreError> + Sync),
    ) -> Result<u64, StoreError> {
        let t = &self.inner.trees;
        let mut migrated = 0u64;
        loop {
            let after = t.meta.get(META_MIGRATED_UP_TO).map_err(failed)?.map(|v| v.to_vec());
            let range = match &after {
                Some(a) => t
                    .cards
                    .range::<Vec<u8>, _>((std::ops::Bound::Excluded(a.clone()), std::ops::Bound::Unbounded)),
                None => t.cards.range::<Vec<u8>, _>(..),
            };
            let mut olds = Vec::with_capacity(BATCH);
            for kv in range.take(BATCH) {
                let (k, v) = kv.map_err(failed)?;
                let id: CardId = k.as_ref().try_into().map_err(|_| failed("bad card key"))?;
                olds.push((id, decode::<CardRecordV1>(&v)?));
            }
            let batch = convert_all(olds, convert)?;
            let Some((last, _, _)) = batch.last() else { break };
            let last = *last;
            let written = (&t.cards, &t.commitments, &t.meta).transaction(|(cards, commitments, meta)| {
                for (id, old_keys, new) in &batch {
                    for k in old_keys {
                        if commitments.get(k)?.is_some_and(|owner| owner.as_ref() == id) {
                            commitments.remove(k.as_slice())?;
                        }
                    }
                    for k in &new.index {
                        commitments.insert(k.as_slice(), id.as_slice())?;
                    }
                    let bytes = encode(new).map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
                    cards.insert(id.as_slice(), bytes)?;
                }
                meta.insert(META_MIGRATED_UP_TO, last.as_slice())?;
                Ok(())
            });
            match written {
                Ok(()) => {}
                Err(TransactionError::Abort(e)) => return Err(StoreError::Failed(e)),
                Err(TransactionError::Storage(e)) => return Err(failed(e)),
            }
            migrated += batch.len() as u64;
            self.flush()?;
        }
        t.meta
            .insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
            .map_err(failed)?;
        t.meta.remove(META_MIGRATED_UP_TO).map_err(failed)?;
        self.flush()?;
        Ok(migrated)
    }
}
