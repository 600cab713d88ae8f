//! Which cards are honey cards, as the running vault holds them: an
//! in-memory map by audit subject, loaded from the store's `honey_cards`
//! tree, so a lookup on every request costs one hash probe; the alerts
//! raised and not yet written; and the webhook alerts go to. What a
//! request about one does is `honey.rs`'s.
//!
//! At rest each honey card is one record under a random key, sealed
//! (padded to one size) under a key derived from the blind-index key: a
//! copy of data/ without keys shows how many honey cards there are, never
//! which card records they are, their ids or their labels. Records an
//! older version wrote in the clear (honey id → record) are still read,
//! and resealed at start.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use crate::crypto::{BlindIndex, DataKey};
use crate::domain::card::CardId;
use crate::domain::honey::{HoneyCard, HoneyRecord, PendingEnrollment, StoredHoneyCard};

/// How long a webhook may take before it is given up (logged, not retried).
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// What the sealing key of honey records is derived for.
const SEALING_LABEL: &str = "honey_cards";
/// Every sealed record's plaintext is padded to this (a label is at most
/// 80 characters, 320 bytes of UTF-8).
const RECORD_SIZE: usize = 512;

/// The honey cards the vault knows, by the card's audit subject.
#[derive(Default)]
pub struct HoneyCards {
    by_subject: RwLock<HashMap<String, Arc<HoneyCard>>>,
    /// Hits raised and not yet written (see `honey::write_alerts`).
    pub(super) pending: Mutex<Vec<Pending>>,
    /// Cards planned and not yet enrolled, with their storage keys.
    plans: Mutex<Vec<Plan>>,
    /// The channel of the newest real enrollment (`console`, or none for
    /// the API): a honey card's enrollment entry carries the same.
    pub(super) enroll_channel: Mutex<Option<String>>,
    pub(super) webhook: Option<String>,
    pub(super) client: Option<reqwest::Client>,
}

/// One request that touched a honey card.
#[derive(Clone, Debug)]
pub struct Hit {
    pub principal: String,
    pub action: String,
    pub purpose: Option<String>,
    pub honey_card: String,
    pub at: i64,
}

/// A honey card waiting to be enrolled.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Its record's storage key (the record is resealed there once enrolled).
    pub key: Vec<u8>,
    pub card: HoneyCard,
    pub pending: PendingEnrollment,
}

/// A hit waiting to be written, and from when it may be.
pub(super) struct Pending {
    pub(super) hit: Hit,
    pub(super) write_after: i64,
}

impl HoneyCards {
    /// The registry from the cards the store holds, with the webhook to call.
    #[must_use]
    pub fn new(cards: Vec<HoneyCard>, plans: Vec<Plan>, webhook: Option<String>) -> Self {
        let client = webhook.as_ref().and_then(|_| {
            reqwest::Client::builder()
                .timeout(WEBHOOK_TIMEOUT)
                .build()
                .map_err(|e| tracing::warn!(error = %e, "honey card webhook client not built"))
                .ok()
        });
        Self {
            by_subject: RwLock::new(cards.into_iter().map(|c| (c.subject.clone(), Arc::new(c))).collect()),
            pending: Mutex::new(Vec::new()),
            plans: Mutex::new(plans),
            enroll_channel: Mutex::new(None),
            webhook,
            client,
        }
    }

    /// The honey card whose audit subject this is, if any: one probe, the
    /// same for any subject.
    #[must_use]
    pub fn about(&self, subject: &str) -> Option<Arc<HoneyCard>> {
        self.by_subject
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subject)
            .cloned()
    }

    /// Remembers cards just committed.
    pub fn add(&self, cards: &[HoneyCard]) {
        let mut map = self.by_subject.write().unwrap_or_else(PoisonError::into_inner);
        for c in cards {
            map.insert(c.subject.clone(), Arc::new(c.clone()));
        }
    }

    /// Remembers cards planned (committed), to be enrolled at their time.
    pub fn plan(&self, plans: Vec<Plan>) {
        self.plans.lock().unwrap_or_else(PoisonError::into_inner).extend(plans);
    }

    /// The planned cards due at `now`, taken off the plan.
    #[must_use]
    pub fn take_due(&self, now: i64) -> Vec<Plan> {
        let mut plans = self.plans.lock().unwrap_or_else(PoisonError::into_inner);
        let (due, later): (Vec<Plan>, Vec<Plan>) = std::mem::take(&mut *plans)
            .into_iter()
            .partition(|p| p.pending.at <= now);
        *plans = later;
        due
    }

    /// How many cards are planned and not yet enrolled.
    #[must_use]
    pub fn planned(&self) -> usize {
        self.plans.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The storage ids of every honey card (what counts leave out).
    #[must_use]
    pub fn card_ids(&self) -> HashSet<CardId> {
        self.by_subject
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|c| c.card_id)
            .collect()
    }

    /// Honey cards created in `[from, to)`.
    #[must_use]
    pub fn created_between(&self, from: i64, to: i64) -> u64 {
        let map = self.by_subject.read().unwrap_or_else(PoisonError::into_inner);
        map.values()
            .filter(|c| c.created_at >= from && c.created_at < to)
            .count() as u64
    }

    /// Each honey card's label, by id.
    #[must_use]
    pub fn labels(&self) -> HashMap<String, String> {
        self.by_subject
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|c| (c.id.clone(), c.label.clone()))
            .collect()
    }
}

fn sealing_key(blind: &BlindIndex) -> DataKey {
    blind.sealing_key(SEALING_LABEL)
}

/// A fresh random storage key for a honey card record.
#[must_use]
pub fn new_key() -> Vec<u8> {
    let mut key = vec![0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    key
}

/// One honey card record as it is stored under `key`, sealed.
///
/// # Errors
/// The record could not be encoded (a bug).
pub fn seal(
    blind: &BlindIndex,
    key: Vec<u8>,
    record: &HoneyRecord,
) -> Result<StoredHoneyCard, crate::domain::error::Error> {
    let plain = zeroize::Zeroizing::new(
        postcard::to_allocvec(record).map_err(|_| crate::domain::error::Error::internal("honey card encoding"))?,
    );
    let sealed = sealing_key(blind).seal_padded(&key, "honey_card", &plain, &[RECORD_SIZE]);
    Ok(StoredHoneyCard { key, sealed })
}

/// What the store holds, opened.
#[derive(Default)]
pub struct Opened {
    /// Every honey card, enrolled or planned.
    pub cards: Vec<HoneyCard>,
    /// The cards not yet enrolled.
    pub plans: Vec<Plan>,
    /// Records an older version wrote in the clear, each to be resealed
    /// under a new key and removed from its old one.
    pub legacy: Vec<(Vec<u8>, HoneyCard)>,
}

/// What the store holds, opened.
///
/// # Errors
/// A record that is neither sealed under this keyring nor an older
/// version's record.
pub fn open(blind: &BlindIndex, stored: &[StoredHoneyCard]) -> Result<Opened, String> {
    let key = sealing_key(blind);
    let mut out = Opened::default();
    for s in stored {
        if let Ok(plain) = key.open_padded(&s.key, "honey_card", &s.sealed) {
            let record: HoneyRecord =
                postcard::from_bytes(&plain).map_err(|_| "a sealed honey card record is malformed")?;
            if let Some(pending) = record.pending {
                out.plans.push(Plan {
                    key: s.key.clone(),
                    card: record.card.clone(),
                    pending,
                });
            }
            out.cards.push(record.card);
        } else if let Ok(card) = postcard::from_bytes::<HoneyCard>(&s.sealed) {
            // Written in the clear by an older version, under its honey id.
            out.cards.push(card.clone());
            out.legacy.push((s.key.clone(), card));
        } else {
            return Err("a honey card record opens under neither this keyring nor an older format".into());
        }
    }
    Ok(out)
}
