//! Per-address shares of the in-memory tables that strangers can fill.
//!
//! The passkey ceremonies in flight, the wallet's nonces, the clerk's
//! credential offers and the wallet's access tokens are kept in memory, each
//! entry until it is used or expires. A table with one global cap is a
//! lock-out: one address that fills it (4,096 sign-in starts in ~6 s) made
//! every other person's sign-in fail for the entries' lifetime. So every
//! such table is a [`SharedTable`]:
//!
//! - each source address ([`Source`]: an IPv4 address, an IPv6 /64, which is
//!   what one subscriber is usually given) holds at most `share` entries; a
//!   new entry past its share evicts **that address's** oldest entry, so a
//!   flood only ever displaces itself;
//! - the table as a whole holds at most `cap` entries, far above one share;
//!   when it is full, expired entries go first, then the oldest entry of the
//!   address holding the most. Filling it takes `cap / share` addresses, and
//!   even then an address with a few entries keeps them while any address
//!   holds more.
//!
//! Nothing is ever refused for room: an insert always succeeds, and what it
//! displaced was the flooder's own. Times are the caller's (unix seconds
//! from the vault's clock), so tests drive expiry with a manual clock.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// Who an entry is charged to: an IPv4 address, or an IPv6 address's /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source(u128);

impl Source {
    /// The share an address is charged to.
    #[must_use]
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(ip) => Self(u128::from(u32::from(ip))),
            // Mapped IPv4 addresses are charged as IPv4.
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => Self(u128::from(u32::from(v4))),
                // The top bit marks IPv6 apart from every IPv4 value.
                None => Self((u128::from(ip) >> 64) | (1 << 127)),
            },
        }
    }

    /// Requests that reached a table without a known peer (the router
    /// driven without a listener): one share for all of them.
    pub const UNKNOWN: Self = Self(u128::MAX);
}

struct Entry<V> {
    source: Source,
    expires_at: i64,
    value: V,
}

struct Inner<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// When the whole table was last purged of expired entries: at most
    /// once a second, so a full table is not a walk of every entry per
    /// insert.
    purged_at: i64,
    /// Each source's keys, oldest first.
    by_source: HashMap<Source, VecDeque<K>>,
}

/// A table of entries with a lifetime, shared fairly among source addresses.
pub struct SharedTable<K, V> {
    inner: Mutex<Inner<K, V>>,
    share: usize,
    cap: usize,
}

impl<K: Eq + Hash + Clone, V> SharedTable<K, V> {
    /// A table where one source holds at most `share` entries and all
    /// together at most `cap` (`cap` ≥ `share` ≥ 1).
    #[must_use]
    pub fn new(share: usize, cap: usize) -> Self {
        let share = share.max(1);
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                purged_at: i64::MIN,
                by_source: HashMap::new(),
            }),
            share,
            cap: cap.max(share),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `value` under `key` for `source` until `expires_at`, making room
    /// as the module says. Returns how many entries it displaced (not
    /// counting expired ones).
    pub fn insert(&self, source: Source, key: K, value: V, now: i64, expires_at: i64) -> usize {
        let mut t = self.lock();
        self.insert_locked(&mut t, source, key, value, (now, expires_at))
    }

    /// Adds `value` under `key` only if no live entry is there, as one
    /// step (two requests with one key: one of them wins). Returns whether
    /// it was added.
    pub fn insert_new(&self, source: Source, key: K, value: V, now: i64, expires_at: i64) -> bool {
        let mut t = self.lock();
        if t.entries.get(&key).is_some_and(|e| e.expires_at > now) {
            return false;
        }
        self.insert_locked(&mut t, source, key, value, (now, expires_at));
        true
    }

    fn insert_locked(
        &self,
        inner: &mut Inner<K, V>,
        source: Source,
        key: K,
        value: V,
        (now, expires_at): (i64, i64),
    ) -> usize {
        let mut displaced = 0;
        inner.remove(&key);
        inner.purge_source(source, now);
        if inner.by_source.get(&source).is_some_and(|q| q.len() >= self.share) {
            inner.pop_oldest(source);
            displaced += 1;
        }
        if inner.entries.len() >= self.cap && inner.purged_at < now {
            inner.purged_at = now;
            inner.purge_all(now);
        }
        while inner.entries.len() >= self.cap {
            let Some(largest) = inner.by_source.iter().max_by_key(|(_, q)| q.len()).map(|(s, _)| *s) else {
                break;
            };
            inner.pop_oldest(largest);
            displaced += 1;
        }
        inner.by_source.entry(source).or_default().push_back(key.clone());
        inner.entries.insert(
            key,
            Entry {
                source,
                expires_at,
                value,
            },
        );
        displaced
    }

    /// Removes and returns the entry under `key` if it has not expired.
    pub fn take(&self, key: &K, now: i64) -> Option<V> {
        self.lock().remove(key).filter(|e| e.expires_at > now).map(|e| e.value)
    }

    /// Runs `f` on the live entry under `key`; `f` says whether to keep it.
    /// An expired entry is removed and `f` is not run.
    pub fn update<R>(&self, key: &K, now: i64, f: impl FnOnce(&mut V) -> (bool, R)) -> Option<R> {
        let mut t = self.lock();
        let live = t.entries.get(key).is_some_and(|e| e.expires_at > now);
        if !live {
            t.remove(key);
            return None;
        }
        let (keep, out) = f(&mut t.entries.get_mut(key)?.value);
        if !keep {
            t.remove(key);
        }
        Some(out)
    }

    /// Whether a live entry is under `key`.
    pub fn contains(&self, key: &K, now: i64) -> bool {
        self.lock().entries.get(key).is_some_and(|e| e.expires_at > now)
    }

    /// Entries held now (expired ones included until they are purged).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries `source` holds now.
    pub fn held_by(&self, source: Source) -> usize {
        self.lock().by_source.get(&source).map_or(0, VecDeque::len)
    }
}

impl<K: Eq + Hash + Clone, V> Inner<K, V> {
    fn remove(&mut self, key: &K) -> Option<Entry<V>> {
        let e = self.entries.remove(key)?;
        if let Some(q) = self.by_source.get_mut(&e.source) {
            q.retain(|k| k != key);
            if q.is_empty() {
                self.by_source.remove(&e.source);
            }
        }
        Some(e)
    }

    fn pop_oldest(&mut self, source: Source) {
        let Some(q) = self.by_source.get_mut(&source) else {
            return;
        };
        if let Some(k) = q.pop_front() {
            self.entries.remove(&k);
        }
        if q.is_empty() {
            self.by_source.remove(&source);
        }
    }

    /// Drops `source`'s expired entries.
    fn purge_source(&mut self, source: Source, now: i64) {
        let Some(q) = self.by_source.get_mut(&source) else {
            return;
        };
        let entries = &mut self.entries;
        q.retain(|k| {
            let live = entries.get(k).is_some_and(|e| e.expires_at > now);
            if !live {
                entries.remove(k);
            }
            live
        });
        if q.is_empty() {
            self.by_source.remove(&source);
        }
    }

    fn purge_all(&mut self, now: i64) {
        let sources: Vec<Source> = self.by_source.keys().copied().collect();
        for s in sources {
            self.purge_source(s, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(n: u8) -> Source {
        Source::of(IpAddr::from([127, 0, 0, n]))
    }

    #[test]
    fn a_flood_from_one_address_displaces_only_itself() {
        let t: SharedTable<u32, ()> = SharedTable::new(8, 64);
        t.insert(src(2), 0, (), 0, 100);
        for k in 1..10_000 {
            t.insert(src(1), k, (), 0, 100);
        }
        assert_eq!(t.held_by(src(1)), 8, "one address holds its share");
        assert!(t.contains(&0, 0), "another address's entry survives the flood");
        assert_eq!(t.take(&0, 0), Some(()));
    }

    #[test]
    fn a_full_table_evicts_from_the_largest_share() {
        let t: SharedTable<u32, ()> = SharedTable::new(4, 10);
        t.insert(src(9), 999, (), 0, 100);
        // Three addresses, each within its share, together past the cap.
        for round in 0..100u32 {
            for s in 0..3u8 {
                t.insert(src(s), u32::from(s) * 1000 + round, (), 0, 100);
            }
        }
        assert_eq!(t.len(), 10, "the cap holds");
        assert!(
            t.contains(&999, 0),
            "a one-entry address outlasts the shares larger than it"
        );
    }

    #[test]
    fn expired_entries_are_gone() {
        let t: SharedTable<u32, u8> = SharedTable::new(4, 10);
        t.insert(src(1), 1, 7, 0, 10);
        assert_eq!(t.update(&1, 5, |v| (true, *v)), Some(7));
        assert_eq!(t.take(&1, 10), None, "expired at its deadline");
        t.insert(src(1), 2, 7, 0, 10);
        for k in 3..7 {
            t.insert(src(1), k, 7, 20, 30);
        }
        assert_eq!(t.held_by(src(1)), 4);
        assert!(!t.contains(&2, 20));
    }

    #[test]
    fn ipv6_shares_go_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(Source::of(a), Source::of(b));
        assert_ne!(Source::of(a), Source::of(c));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(Source::of(mapped), src(1));
    }
}
