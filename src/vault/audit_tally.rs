//! Unauthenticated requests are counted, not logged one by one.
//!
//! A request without a valid token does nothing and learns nothing, but
//! each once wrote its own audit entry: a flood from one address grew the
//! chain by 0.8 MB/s. Now the first unauthenticated request from a source
//! address is written as before (durable before its 401), and opens a
//! one-second window; the ones that follow from that address inside the
//! window are counted, and written as **one** entry with their `count` when
//! the window ends — which opens the next window. So a flood grows the audit
//! by at most one entry per address per second, and every request is still
//! in the chain as a count. The source address appears only as a keyed hash.
//!
//! Every unauthenticated refusal goes through here, whatever door it came
//! in by: a `/v1` request without a valid token (the audit layer), a
//! console sign-in or registration that did not prove who it is
//! (`console::auth`). [`refusal`] is that one entry point.
//!
//! What this gives up: the counted requests (never the first) are answered
//! before their entry is durable; a crash loses at most one interval's count
//! for each flooding address. Nothing is lost at a graceful stop (the
//! windows are drained before the store closes).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a window lasts: the audit's growth per flooding address is one
/// entry per `INTERVAL`.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Source addresses tracked at once. Past this, new addresses share one
/// window (`source: None`), so many addresses cannot grow memory either.
const MAX_SOURCES: usize = 10_000;

/// What the audit layer does with an unauthenticated request.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The first in its window: write its entry now, as for any request.
    Write,
    /// Counted into the open window; its entry is the window's aggregate.
    Counted,
}

struct Window {
    until: Instant,
    pending: u64,
    /// The action, outcome and time of the newest counted request.
    action: String,
    outcome: String,
    at: i64,
}

/// Requests counted in one window, to be written as one entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Aggregate {
    /// `None`: the shared window of addresses past [`MAX_SOURCES`].
    pub source: Option<IpAddr>,
    pub requests: u64,
    pub action: String,
    pub outcome: String,
    pub at: i64,
}

#[derive(Default)]
pub struct UnauthenticatedTally {
    windows: Mutex<HashMap<Option<IpAddr>, Window>>,
    /// Every unauthenticated refusal since start, written or counted (the
    /// operations dashboard's tally; a count, never an address).
    total: std::sync::atomic::AtomicU64,
}

impl UnauthenticatedTally {
    /// An unauthenticated request from `source` for `action`, refused with
    /// `outcome`, at `at` (unix seconds).
    pub fn arrive(&self, source: IpAddr, action: &str, outcome: &str, at: i64, now: Instant) -> Arrival {
        self.total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if windows.len() < MAX_SOURCES || windows.contains_key(&Some(source)) {
            Some(source)
        } else {
            None
        };
        if let Some(w) = windows.get_mut(&key) {
            w.pending += 1;
            action.clone_into(&mut w.action);
            outcome.clone_into(&mut w.outcome);
            w.at = at;
            return Arrival::Counted;
        }
        windows.insert(
            key,
            Window {
                until: now + INTERVAL,
                pending: 0,
                action: action.to_owned(),
                outcome: outcome.to_owned(),
                at,
            },
        );
        Arrival::Write
    }

    /// Unauthenticated refusals since start, and the source addresses
    /// refused within the last window (counts only).
    #[must_use]
    pub fn totals(&self) -> (u64, usize) {
        let open = self.windows.lock().unwrap_or_else(PoisonError::into_inner).len();
        (self.total.load(std::sync::atomic::Ordering::Relaxed), open)
    }

    /// The windows that have ended by `now`: each with counted requests
    /// becomes an aggregate and opens the next window; an empty one closes.
    pub fn due(&self, now: Instant) -> Vec<Aggregate> {
        let mut out = Vec::new();
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|source, w| {
                if w.until > now {
                    return true;
                }
                if w.pending == 0 {
                    return false;
                }
                out.push(Aggregate {
                    source: *source,
                    requests: std::mem::take(&mut w.pending),
                    action: w.action.clone(),
                    outcome: w.outcome.clone(),
                    at: w.at,
                });
                w.until = now + INTERVAL;
                true
            });
        out
    }

    /// Writes the counts of windows that have ended (`drain`: every count,
    /// at shutdown) as one entry per source, the source as a keyed hash.
    ///
    /// # Errors
    /// The entries could not be written.
    pub async fn write(
        &self,
        store: &crate::store::AnyStore,
        subjects: &crate::crypto::SubjectHasher,
        drain: bool,
    ) -> Result<(), crate::domain::store::StoreError> {
        use crate::domain::store::Store;
        let due = if drain { self.drain() } else { self.due(Instant::now()) };
        if due.is_empty() {
            return Ok(());
        }
        let audit = due
            .into_iter()
            .map(|a| crate::domain::audit::AuditDraft {
                at: a.at,
                action: a.action,
                subject: Some(source_subject(subjects, a.source)),
                outcome: a.outcome,
                count: Some(a.requests),
                ..Default::default()
            })
            .collect();
        store
            .commit(crate::domain::store::Commit {
                changes: Vec::new(),
                audit,
            })
            .await
            .map(drop)
    }

    /// Every count not yet written (at shutdown); the tally is empty after.
    pub fn drain(&self) -> Vec<Aggregate> {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .filter(|(_, w)| w.pending > 0)
            .map(|(source, w)| Aggregate {
                source,
                requests: w.pending,
                action: w.action,
                outcome: w.outcome,
                at: w.at,
            })
            .collect()
    }
}

/// The keyed hash a source address is audited as (`None`: the shared
/// window of addresses past the cap).
#[must_use]
pub fn source_subject(subjects: &crate::crypto::SubjectHasher, source: Option<IpAddr>) -> String {
    let value = match source {
        Some(IpAddr::V4(ip)) => hex::encode(ip.octets()),
        Some(IpAddr::V6(ip)) => hex::encode(ip.octets()),
        None => "other".to_owned(),
    };
    subjects.subject("source", &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_one_entry_per_interval_with_every_request_counted() {
        let tally = UnauthenticatedTally::default();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let t0 = Instant::now();
        assert_eq!(tally.arrive(a, "read_audit", "unauthenticated", 1, t0), Arrival::Write);
        assert_eq!(tally.arrive(b, "read_audit", "unauthenticated", 1, t0), Arrival::Write);
        for _ in 0..99 {
            assert_eq!(
                tally.arrive(a, "read_audit", "unauthenticated", 1, t0),
                Arrival::Counted
            );
        }
        assert!(
            tally.due(t0 + INTERVAL / 2).is_empty(),
            "a window ends after its interval"
        );
        let due = tally.due(t0 + INTERVAL);
        assert_eq!(due.len(), 1, "b's window had nothing counted and closes");
        assert_eq!((due[0].source, due[0].requests), (Some(a), 99));
        // a's next window is open: the flood goes on being counted.
        assert_eq!(
            tally.arrive(a, "enroll", "unauthenticated", 2, t0 + INTERVAL),
            Arrival::Counted
        );
        assert_eq!(
            tally.arrive(b, "enroll", "unauthenticated", 2, t0 + INTERVAL),
            Arrival::Write
        );
        let left = tally.drain();
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].requests, left[0].action.as_str()), (1, "enroll"));
        assert!(tally.drain().is_empty());
    }

    #[test]
    fn addresses_past_the_cap_share_one_window() {
        let tally = UnauthenticatedTally::default();
        let now = Instant::now();
        for i in 0..MAX_SOURCES {
            let ip = IpAddr::from(u32::try_from(i).unwrap_or(0).to_be_bytes());
            assert_eq!(tally.arrive(ip, "x", "unauthenticated", 0, now), Arrival::Write);
        }
        let extra: IpAddr = [10, 255, 255, 1].into();
        assert_eq!(tally.arrive(extra, "x", "unauthenticated", 0, now), Arrival::Write);
        let other: IpAddr = [10, 255, 255, 2].into();
        assert_eq!(tally.arrive(other, "x", "unauthenticated", 0, now), Arrival::Counted);
        let due = tally.due(now + INTERVAL);
        assert_eq!(
            due,
            vec![Aggregate {
                source: None,
                requests: 1,
                action: "x".into(),
                outcome: "unauthenticated".into(),
                at: 0
            }]
        );
    }
}
