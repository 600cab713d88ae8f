//! Request rates per source address (checked before anything else, so a
//! flood cannot fill the audit log) and per principal (checked right after
//! authentication, audited as `rate_limited`), each a token bucket
//! (governor's GCRA) answered with 429 and `Retry-After`. The listener's
//! connection caps and slow-client clocks are the server's listener's.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;

/// The two keyed rate limiters, or none where the configuration says 0.
pub struct RateLimits {
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    by_principal: Option<DefaultKeyedRateLimiter<String>>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_second: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
}

impl RateLimits {
    #[must_use]
    pub fn new(c: &Limits) -> Self {
        Self {
            by_address: limiter(c.requests_per_second_per_address, c.burst_per_address),
            by_principal: limiter(c.requests_per_second_per_principal, c.burst_per_principal),
        }
    }

    /// `Err(wait)` when this address is over its rate.
    ///
    /// # Errors
    /// The time after which a request would be accepted.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), Duration> {
        check(self.by_address.as_ref(), &ip)
    }

    /// `Err(wait)` when this principal is over its rate.
    ///
    /// # Errors
    /// The time after which a request would be accepted.
    pub fn check_principal(&self, p: &crate::domain::principal::Principal) -> Result<(), Duration> {
        check(self.by_principal.as_ref(), &p.id)
    }

    /// Forgets idle keys (called by the sweep task), so memory follows the
    /// callers of the last moments, not every address ever seen.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.by_address {
            l.retain_recent();
        }
        if let Some(l) = &self.by_principal {
            l.retain_recent();
        }
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(l: Option<&DefaultKeyedRateLimiter<K>>, key: &K) -> Result<(), Duration> {
    match l {
        None => Ok(()),
        Some(l) => l
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
    }
}

/// Whole seconds for `Retry-After`, at least 1.
#[must_use]
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait() {
        let limits = RateLimits::new(&Limits {
            requests_per_second_per_principal: 1,
            burst_per_principal: 3,
            ..Limits::default()
        });
        let who = |id: &str| crate::domain::principal::Principal {
            id: id.into(),
            kind: crate::domain::vocab::PrincipalKind::Staff,
            roles: Vec::new(),
            agency_kind: None,
            purposes: Vec::new(),
            token_hash: [0; 32],
            created_at: 0,
            status: crate::domain::principal::PrincipalStatus::Active,
            issued_by: None,
            approved_by: None,
        };
        for _ in 0..3 {
            assert!(limits.check_principal(&who("p")).is_ok());
        }
        let wait = limits.check_principal(&who("p")).err();
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(1)));
        assert!(
            limits.check_principal(&who("other")).is_ok(),
            "buckets are per principal"
        );
        assert_eq!(retry_after_secs(Duration::from_millis(300)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = RateLimits::new(&Limits {
            requests_per_second_per_address: 0,
            ..Limits::default()
        });
        for _ in 0..10_000 {
            assert!(limits.check_address(IpAddr::from([127, 0, 0, 1])).is_ok());
        }
    }
}
