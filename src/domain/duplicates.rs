//! How many of each clerk's enrollments today met "a document already backs
//! an active card". Each such 409 answers, for up to every document in the
//! request, a question that otherwise takes legal process; the count goes
//! into the Cedar context of the clerk's next enrollment, where an editable
//! policy bounds it (`clerk.duplicate_probe_guard`).
//!
//! Counts live in memory and start again at a restart or a new UTC day: a
//! clerk cannot restart the vault, and the residual is said in SECURITY.md.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

const DAY: i64 = 86_400;

#[derive(Default)]
pub struct DuplicateOutcomes {
    /// principal id → (UTC day number, duplicate outcomes that day)
    by_principal: Mutex<HashMap<String, (i64, i64)>>,
}

impl DuplicateOutcomes {
    /// `principal`'s duplicate outcomes on the UTC day of `now` (unix seconds).
    #[must_use]
    pub fn today(&self, principal: &str, now: i64) -> i64 {
        let map = self.by_principal.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(principal) {
            Some(&(day, n)) if day == now.div_euclid(DAY) => n,
            _ => 0,
        }
    }

    /// Records one duplicate outcome; returns the day's count with it.
    pub fn record(&self, principal: &str, now: i64) -> i64 {
        let day = now.div_euclid(DAY);
        let mut map = self.by_principal.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(principal.to_owned()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_clerk_per_utc_day() {
        let d = DuplicateOutcomes::default();
        assert_eq!(d.today("ana", 100), 0);
        assert_eq!(d.record("ana", 100), 1);
        assert_eq!(d.record("ana", DAY - 1), 2);
        assert_eq!(d.today("ana", DAY - 1), 2);
        assert_eq!(d.today("bo", DAY - 1), 0);
        assert_eq!(d.today("ana", DAY), 0, "a new day starts at zero");
        assert_eq!(d.record("ana", DAY), 1);
    }
}
