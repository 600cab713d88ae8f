//! The legal answers' summaries, parsed once and kept while no new answer
//! lands: an access report needs them whenever the card was the subject of
//! a legal request, and reading and decoding every stored answer (packages
//! included) for each report was its slowest part.
//!
//! Answers are only ever added. Each one stored moves a generation on
//! (after its commit returns); a copy is used only while the generation it
//! was read under is current, so a copy read before an answer landed is
//! never used after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::domain::access_report::LegalAnswers;
use crate::domain::legal::AnswerSummary;
use crate::domain::store::{Store, StoreError};

#[derive(Default)]
pub struct LegalAnswerCache {
    generation: AtomicU64,
    cached: Mutex<Option<(u64, Arc<LegalAnswers>)>>,
}

impl LegalAnswerCache {
    /// A legal answer was stored (or its commit failed): the next reader
    /// reads them again.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The summaries, from the copy if it is current, else from the store.
    ///
    /// # Errors
    /// Storage failure.
    pub fn get(&self, store: &impl Store) -> Result<Arc<LegalAnswers>, StoreError> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((at, answers)) = self.cached.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            if *at == generation {
                return Ok(Arc::clone(answers));
            }
        }
        let all: Vec<AnswerSummary> = store
            .legal_summaries()?
            .iter()
            .filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok())
            .collect();
        let answers = Arc::new(LegalAnswers::new(all));
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some((generation, Arc::clone(&answers)));
        Ok(answers)
    }
}
