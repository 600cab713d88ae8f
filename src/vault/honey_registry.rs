//! Which cards are honey cards, as the running vault holds them: an
//! in-memory map by audit subject, loaded from the store's `honey_cards`
//! tree, so a lookup on every request costs one hash probe; and the webhook
//! alerts go to. What a request about one does is `honey.rs`'s.

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::domain::card::CardId;
use crate::domain::honey::HoneyCard;

/// How long a webhook may take before it is given up (logged, not retried).
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The honey cards the vault knows, by the card's audit subject.
#[derive(Default)]
pub struct HoneyCards {
    by_subject: RwLock<HashMap<String, HoneyCard>>,
    pub(super) webhook: Option<String>,
    pub(super) client: Option<reqwest::Client>,
}

/// One request that touched a honey card.
#[derive(Clone, Debug)]
pub struct Hit {
    pub principal: String,
    pub action: String,
    pub honey_card: String,
    pub at: i64,
}

impl HoneyCards {
    /// The registry from what the store holds, with the webhook to call.
    #[must_use]
    pub fn new(cards: Vec<HoneyCard>, webhook: Option<String>) -> Self {
        let client = webhook.as_ref().and_then(|_| {
            reqwest::Client::builder()
                .timeout(WEBHOOK_TIMEOUT)
                .build()
                .map_err(|e| tracing::warn!(error = %e, "honey card webhook client not built"))
                .ok()
        });
        Self {
            by_subject: RwLock::new(cards.into_iter().map(|c| (c.subject.clone(), c)).collect()),
            webhook,
            client,
        }
    }

    /// The honey card whose audit subject this is, if any.
    #[must_use]
    pub fn about(&self, subject: &str) -> Option<HoneyCard> {
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
            map.insert(c.subject.clone(), c.clone());
        }
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
