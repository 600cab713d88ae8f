//! The in-memory index of principals by token. Lookups use the first half
//! of the token's SHA-256 as a selector and compare the whole hash in
//! constant time; deleting a principal removes it here before the deletion
//! is acknowledged, so its token stops working at once.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use subtle::ConstantTimeEq;

use crate::crypto::token_hash;
use crate::domain::principal::Principal;

type Selector = [u8; 16];

#[derive(Default)]
pub struct PrincipalCache {
    by_selector: RwLock<HashMap<Selector, Arc<Principal>>>,
}

fn selector(hash: &[u8; 32]) -> Selector {
    let mut s = [0u8; 16];
    s.copy_from_slice(&hash[..16]);
    s
}

impl PrincipalCache {
    pub fn insert(&self, p: Principal) {
        let sel = selector(&p.token_hash);
        self.by_selector
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sel, Arc::new(p));
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
        bool::from(found.token_hash.ct_eq(&hash)).then_some(found)
    }
}
