//! A read-through cache of card records, so a fact query answers from
//! memory instead of hopping to a blocking thread for sled. It caches a
//! card's absence too: an unknown number costs what an issued card costs
//! (once an unknown number went to sled every time, 30–45 µs slower, and
//! 51 requests told revoked from unknown three times in four). Enrollment
//! invalidates the new card's id, so a cached absence never hides it.
//!
//! Correctness rule: a record read from the store may be cached only if no
//! card changed while it was being read. Every change bumps an epoch under
//! the write lock (and drops the entry); an insert is refused when the epoch
//! moved since its read began. So a revocation is never undone by a slow
//! reader putting the old record back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::domain::card::{CardId, OpenCard};

/// Records held at most; past this the cache starts again empty. A fact
/// record is a few hundred bytes, so this is tens of megabytes.
const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct CardCache {
    /// `None`: the store holds no such card.
    map: RwLock<HashMap<CardId, Option<Arc<OpenCard>>>>,
    epoch: AtomicU64,
}

impl CardCache {
    /// `Some(found)` when cached, `found` being `None` for a card the store does not hold.
    #[must_use]
    pub fn get(&self, id: &CardId) -> Option<Option<Arc<OpenCard>>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner).get(id).cloned()
    }

    /// Call before reading from the store; pass the value to [`Self::insert_if_unchanged`].
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub fn insert_if_unchanged(&self, id: CardId, record: Option<Arc<OpenCard>>, epoch: u64) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(id, record);
    }

    /// Many cards changed (their data keys were rewrapped): forget them all.
    pub fn clear(&self) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    /// A card changed (status, erasure, destruction): forget it.
    pub fn invalidate(&self, id: &CardId) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_change_is_not_cached() {
        let cache = CardCache::default();
        let id = [1u8; 32];
        let e = cache.epoch();
        cache.invalidate(&id);
        let record = dummy();
        cache.insert_if_unchanged(id, Some(Arc::new(record.clone())), e);
        assert!(cache.get(&id).is_none());
        cache.insert_if_unchanged(id, Some(Arc::new(record)), cache.epoch());
        assert!(cache.get(&id).is_some());
    }

    fn dummy() -> OpenCard {
        OpenCard {
            record: crate::domain::card::CardRecord {
                dek: crate::crypto::WrappedKey {
                    kek_id: "k".into(),
                    sealed: vec![],
                },
                meta: vec![],
                fields: vec![],
                birth: vec![],
                photo_key: vec![],
                index: vec![],
                due: 0,
            },
            meta: crate::domain::card::CardMeta {
                program: "p".into(),
                rules: "r".into(),
                status: crate::domain::card::CardStatus::Active,
                issued_on: time::Date::MIN,
                expires_on: None,
                enrolled_at: 0,
                clerk: "c".into(),
                proofs: vec![],
                identity: vec![],
                delivery: crate::domain::card::Delivery::Mail,
                counter: crate::domain::card::Counter::default(),
                fee_waiver: None,
                languages: vec![],
                caretaker: false,
                replaces: None,
                replaced_by: None,
                renewed_at: vec![],
            },
        }
    }
}
