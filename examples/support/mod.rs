//! Shared by the benchmarks: settings from the environment, a runtime, and a
//! vault configuration rooted in a temporary directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

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
        ..civic_vault::Config::default()
    }
}
