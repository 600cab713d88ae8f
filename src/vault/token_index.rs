//! The in-memory index of principals by token. Lookups use the first half
//! of the token's SHA-256 as a selector and compare the whole hash in
//! constant time; deleting a principal removes it here before the deletion
//! is acknowledged, so its token stops working at once.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use subtle::ConstantTimeEq;

use crate::crypto::token_hash;
use crate::domain::principal::{Principal, PrincipalStatus};

type Selector = [u8; 16];

#[derive(Default)]
pub struct TokenIndex {
    by_selector: RwLock<HashMap<Selector, Arc<Principal>>>,
}

fn selector(hash: &[u8; 32]) -> Selector {
    let mut s = [0u8; 16];
    s.copy_from_slice(&hash[..16]);
    s
}

impl TokenIndex {
    /// Inserts or replaces a principal. A replaced principal's old token
    /// (rotation) stops working here, before the change is acknowledged.
    pub fn insert(&self, p: Principal) {
        let sel = selector(&p.token_hash);
        let mut map = self.by_selector.write().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, q| q.id != p.id);
        map.insert(sel, Arc::new(p));
    }

    /// Every principal, by id.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Principal>> {
        let mut out: Vec<Arc<Principal>> = self
            .by_selector
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    pub fn remove(&self, id: &str) {
        self.by_selector
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, p| p.id != id);
    }

    #[must_use]
    pub fn get(&self, id: &str) -> Option<Arc<Principal>> {
        self.by_selector
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .find(|p| p.id == id)
            .cloned()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_selector
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    #[must_use]
    pub fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        let hash = token_hash(token);
        let found = self
            .by_selector
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&selector(&hash))
            .cloned()?;
        // Only an active principal's token authenticates: a pending one
        // waits for its second admin, a disabled one is retired.
        (bool::from(found.token_hash.ct_eq(&hash)) && found.status == PrincipalStatus::Active).then_some(found)
    }
}
