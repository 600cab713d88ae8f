//! Time, injected. Retention, expiry and audit timestamps all read the clock
//! through this trait so tests can move time without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock, in UTC.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that starts at a given instant and only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    unix_nanos: AtomicI64,
}

impl ManualClock {
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            unix_nanos: AtomicI64::new(nanos(start)),
        }
    }

    pub fn set(&self, to: OffsetDateTime) {
        self.unix_nanos.store(nanos(to), Ordering::SeqCst);
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.unix_nanos.fetch_add(by, Ordering::SeqCst);
    }
}

fn nanos(t: OffsetDateTime) -> i64 {
    // Dates this vault deals in (1900..2200) fit an i64 of nanoseconds.
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let n = self.unix_nanos.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}
