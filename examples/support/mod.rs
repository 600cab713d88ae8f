//! Shared by the benchmarks: settings from the environment, a runtime, and a
//! vault configuration rooted in a temporary directory.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by test files that each use part of it; tests fail loudly"
)]

/// A number from the environment, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The default configuration with data and keys under `dir` and the shipped policies.
pub fn config_in(dir: &std::path::Path) -> civic_vault::Config {
    civic_vault::Config {
        data_dir: dir.join("data"),
        keys_dir: dir.join("keys"),
        policies_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        policies_dir_explicit: true,
        // The limiters run on every request but never refuse the load generator.
        limits: civic_vault::config::Limits {
            requests_per_second_per_principal: 10_000_000,
            burst_per_principal: 10_000_000,
            requests_per_second_per_address: 10_000_000,
            burst_per_address: 10_000_000,
            max_concurrent_requests: 100_000,
            ..Default::default()
        },
        // Memory-hard commitments at their least cost, so setting up
        // thousands of cardholders takes seconds; bench_commitments measures
        // the shipped cost.
        commitments: civic_vault::config::Commitments {
            memory_kib: 8,
            iterations: 1,
        },
        ..civic_vault::Config::default()
    }
}

/// A 1x1 PNG header: enough for the vault's image check.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00";

/// One API call that must succeed; its JSON answer.
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<&serde_json::Value>,
) -> serde_json::Value {
    let mut r = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(b);
    }
    let resp = r.send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().await.unwrap_or(serde_json::Value::Null)
}

/// This process's resident memory now and at its peak, in GB (Linux; 0
/// where /proc does not say).
pub fn rss_gb() -> (f64, f64) {
    peak_rss_gb(&std::fs::read_to_string("/proc/self/status").unwrap_or_default())
}

/// `VmRSS` and `VmHWM` of a `/proc/<pid>/status` text, in GB.
#[allow(clippy::cast_precision_loss, reason = "kB counts far below 2^52")]
pub fn peak_rss_gb(status: &str) -> (f64, f64) {
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0.0, |kb| kb as f64 / 1_048_576.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes of the files under `dir`.
pub fn size_of(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => size_of(&e.path()),
                _ => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

/// A city library's system, allowed library services: the principal of the
/// Cedar and fact-query probes.
pub fn library_system() -> civic_vault::domain::principal::Principal {
    use civic_vault::domain::vocab::{AgencyKind, PrincipalKind, Purpose};
    civic_vault::domain::principal::Principal {
        id: "library".into(),
        kind: PrincipalKind::System,
        roles: vec![],
        agency_kind: Some(AgencyKind::CityPartner),
        purposes: vec![Purpose::LibraryServices],
        token_hash: [1; 32],
        created_at: 0,
        status: civic_vault::domain::principal::PrincipalStatus::Active,
        issued_by: None,
        approved_by: None,
    }
}
