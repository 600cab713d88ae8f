//! Counters for `GET /metrics`, in Prometheus text format. Counts only:
//! labels are action names and outcome codes, never ids.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String), u64>>,
    allowed: AtomicU64,
    denied: AtomicU64,
    audit_failures: AtomicU64,
    rate_limited_principal: AtomicU64,
    rate_limited_address: AtomicU64,
    shed: AtomicU64,
    /// Duplicate-enrollment outcomes per clerk (principal ids only).
    duplicate_enrollments: Mutex<BTreeMap<String, u64>>,
    /// Requests that touched a honey card, per principal (ids only).
    honey_card_hits: Mutex<BTreeMap<String, u64>>,
    /// Retention sweeps that failed in a row (0 after one that finished).
    sweeps_failing: AtomicU64,
    /// Request latency by method and route template.
    pub latency: Latencies,
}

impl Metrics {
    pub fn request(&self, action: &str, outcome: &str) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((action.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    pub fn decision(&self, allowed: bool) {
        let c = if allowed { &self.allowed } else { &self.denied };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn audit_failure(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A principal over its rate (the request is audited as `rate_limited`).
    pub fn rate_limited(&self) {
        self.rate_limited_principal.fetch_add(1, Ordering::Relaxed);
    }

    /// A source address over its rate (refused before the audit layer).
    pub fn address_limited(&self) {
        self.rate_limited_address.fetch_add(1, Ordering::Relaxed);
    }

    /// An enrollment refused because a document already backs an active card.
    pub fn duplicate_enrollment(&self, principal: &str) {
        *self
            .duplicate_enrollments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(principal.to_owned())
            .or_default() += 1;
    }

    /// A request by `principal` touched a honey card.
    pub fn honey_card_hit(&self, principal: &str) {
        *self
            .honey_card_hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(principal.to_owned())
            .or_default() += 1;
    }

    /// A retention sweep finished (`true`) or failed before its end.
    pub fn sweep_finished(&self, ok: bool) {
        if ok {
            self.sweeps_failing.store(0, Ordering::Relaxed);
        } else {
            self.sweeps_failing.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Retention sweeps that failed in a row.
    #[must_use]
    pub fn sweeps_failing(&self) -> u64 {
        self.sweeps_failing.load(Ordering::Relaxed)
    }

    /// A request refused because too many were in progress.
    pub fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP civic_vault_requests_total Requests by action and outcome code.\n");
        out.push_str("# TYPE civic_vault_requests_total counter\n");
        for ((action, outcome), n) in self.requests.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = writeln!(
                out,
                "civic_vault_requests_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP civic_vault_decisions_total Cedar decisions.\n");
        out.push_str("# TYPE civic_vault_decisions_total counter\n");
        let _ = writeln!(
            out,
            "civic_vault_decisions_total{{decision=\"allow\"}} {}",
            self.allowed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "civic_vault_decisions_total{{decision=\"deny\"}} {}",
            self.denied.load(Ordering::Relaxed)
        );
        out.push_str("# HELP civic_vault_audit_write_failures_total Requests failed closed because the audit entry could not be written.\n");
        out.push_str("# TYPE civic_vault_audit_write_failures_total counter\n");
        let _ = writeln!(
            out,
            "civic_vault_audit_write_failures_total {}",
            self.audit_failures.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP civic_vault_limited_total Requests refused by a load limit.
",
        );
        out.push_str(
            "# TYPE civic_vault_limited_total counter
",
        );
        for (limit, n) in [
            ("principal_rate", &self.rate_limited_principal),
            ("address_rate", &self.rate_limited_address),
            ("concurrency", &self.shed),
        ] {
            let _ = writeln!(
                out,
                "civic_vault_limited_total{{limit=\"{limit}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP civic_vault_duplicate_enrollments_total Enrollments refused because a document already backs an active card, per clerk.\n");
        out.push_str("# TYPE civic_vault_duplicate_enrollments_total counter\n");
        for (principal, n) in self
            .duplicate_enrollments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "civic_vault_duplicate_enrollments_total{{principal=\"{principal}\"}} {n}"
            );
        }
        self.render_honey(&mut out);
        self.latency.render(&mut out);
        out
    }

    fn render_honey(&self, out: &mut String) {
        out.push_str("# HELP civic_vault_honey_card_hits_total Requests about a honey card, per principal.\n");
        out.push_str("# TYPE civic_vault_honey_card_hits_total counter\n");
        for (principal, n) in self
            .honey_card_hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "civic_vault_honey_card_hits_total{{principal=\"{principal}\"}} {n}"
            );
        }
    }
}

/// Request latency by method and route template (never a path: paths
/// carry card numbers), from the first byte in to the answer's head out.
#[derive(Default)]
pub struct Latencies {
    /// Route template → its histograms by method. Looked up by `&str`
    /// under a read lock: a request allocates nothing here once its route
    /// and method have been seen.
    routes: std::sync::RwLock<BTreeMap<String, Vec<(axum::http::Method, crate::histogram::Histogram)>>>,
}

impl Latencies {
    pub fn observe(&self, method: &axum::http::Method, route: &str, elapsed: std::time::Duration) {
        {
            let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, h)) = routes.get(route).and_then(|ms| ms.iter().find(|(m, _)| m == method)) {
                h.observe(elapsed);
                return;
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let methods = routes.entry(route.to_owned()).or_default();
        if let Some((_, h)) = methods.iter().find(|(m, _)| m == method) {
            h.observe(elapsed);
        } else {
            let h = crate::histogram::Histogram::default();
            h.observe(elapsed);
            methods.push((method.clone(), h));
        }
    }

    pub fn render(&self, out: &mut String) {
        out.push_str("# HELP civic_vault_request_duration_seconds Request latency by method and route template.\n");
        out.push_str("# TYPE civic_vault_request_duration_seconds histogram\n");
        for (route, methods) in self.routes.read().unwrap_or_else(PoisonError::into_inner).iter() {
            let route = route.replace(['\\', '"'], "_");
            for (method, h) in methods {
                let labels = format!("method=\"{method}\",route=\"{route}\"");
                h.render(out, "civic_vault_request_duration_seconds", &labels);
            }
        }
    }
}
