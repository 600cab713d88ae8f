//! What the types alone cannot check: ranges, pairs of keys that go
//! together, formats. The first value out of range stops startup, naming
//! its key.

use super::{Config, ConfigError};

impl Config {
    /// Checks values that the types alone cannot.
    ///
    /// # Errors
    /// The first value that is out of range, naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name_ok = !self.program.is_empty()
            && self.program.len() <= 64
            && self
                .program
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(ConfigError::key(
                "program",
                "must be a profile name such as idnyc, hartford, new_haven, san_francisco or chicago",
            ));
        }
        if let Some(v) = self.card_validity {
            if v.is_zero() || v.as_secs() > 20 * 365 * 86_400 {
                return Err(ConfigError::key("card_validity", "must be between 1d and 20y"));
            }
        }
        if self.retention.sweep_interval.is_zero() {
            return Err(ConfigError::key("retention.sweep_interval", "must be longer than 0s"));
        }
        self.validate_tls()?;
        self.validate_witness()?;
        if let Some(origin) = &self.audit.origin {
            if !crate::crypto::note::valid_name(origin) {
                return Err(ConfigError::key(
                    "audit.origin",
                    "must be one word naming the log, such as city.example.gov/audit (no spaces, no +)",
                ));
            }
        }
        self.validate_limits()?;
        self.validate_console()?;
        self.validate_honey()?;
        self.validate_store()?;
        self.validate_cluster()?;
        self.validate_facts()
    }

    fn validate_store(&self) -> Result<(), ConfigError> {
        match self.store.kind {
            super::StoreKind::Sled if !self.store.url.is_empty() => Err(ConfigError::key(
                "store.url",
                "is for `kind = \"postgres\"`; sled keeps its records under data_dir",
            )),
            super::StoreKind::Sled => Ok(()),
            super::StoreKind::Postgres => {
                let scheme_ok =
                    self.store.url.starts_with("postgres://") || self.store.url.starts_with("postgresql://");
                if scheme_ok && self.store.url.parse::<postgres::Config>().is_ok() {
                    Ok(())
                } else {
                    Err(ConfigError::key(
                        "store.url",
                        "must be a PostgreSQL URL such as postgres://vault@db.city.internal:5432/vault",
                    ))
                }
            }
        }
    }

    fn validate_honey(&self) -> Result<(), ConfigError> {
        let Some(hook) = &self.honey.webhook else { return Ok(()) };
        let ok = url::Url::parse(hook)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.username().is_empty());
        if ok {
            Ok(())
        } else {
            Err(ConfigError::key(
                "honey.webhook",
                "must be an http:// or https:// URL without credentials",
            ))
        }
    }

    fn validate_console(&self) -> Result<(), ConfigError> {
        let origin = self.console_origin();
        let parsed = url::Url::parse(&origin).ok();
        let ok = parsed.as_ref().is_some_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && matches!(u.host(), Some(url::Host::Domain(_)))
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
        });
        if !ok {
            return Err(ConfigError::key(
                "console.origin",
                "must be an origin such as https://vault.example.gov (a host name, not an IP address: passkeys bind to it)",
            ));
        }
        let c = &self.console;
        if c.session_idle.is_zero() || c.session_absolute.is_zero() || c.step_up_window.is_zero() {
            return Err(ConfigError::key(
                "console.session_idle",
                "console.session_idle, session_absolute and step_up_window must be longer than 0s",
            ));
        }
        Ok(())
    }

    fn validate_tls(&self) -> Result<(), ConfigError> {
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::key("tls.cert", "tls.cert and tls.key go together"));
        }
        if !self.tls.system_certs.is_empty() && self.tls.client_ca.is_none() {
            return Err(ConfigError::key("tls.system_certs", "needs tls.client_ca"));
        }
        for (id, fp) in &self.tls.system_certs {
            let ok = fp
                .strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok {
                return Err(ConfigError::key(
                    format!("tls.system_certs.{id}"),
                    "must be \"sha256:\" and 64 hex digits",
                ));
            }
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        if self.limits.request_timeout.is_zero() {
            return Err(ConfigError::key("limits.request_timeout", "must be longer than 0s"));
        }
        for (key, d) in [
            ("limits.header_read_timeout", &self.limits.header_read_timeout),
            ("limits.idle_timeout", &self.limits.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::key(key, "must be longer than 0s"));
            }
        }
        if self.limits.max_connections_per_address == 0 {
            return Err(ConfigError::key(
                "limits.max_connections_per_address",
                "must be at least 1",
            ));
        }
        if self.limits.max_connections == 0 {
            return Err(ConfigError::key("limits.max_connections", "must be at least 1"));
        }
        if self.limits.max_concurrent_requests == 0 {
            return Err(ConfigError::key("limits.max_concurrent_requests", "must be at least 1"));
        }
        if self.proof.timeout.is_zero() {
            return Err(ConfigError::key("proof.timeout", "must be longer than 0s"));
        }
        if self.retention.key_rotation.is_zero() {
            return Err(ConfigError::key("retention.key_rotation", "must be longer than 0s"));
        }
        Ok(())
    }

    /// Facts and document commitments.
    fn validate_facts(&self) -> Result<(), ConfigError> {
        let thresholds = &self.facts.age_thresholds;
        if thresholds.is_empty() || thresholds.len() > 16 {
            return Err(ConfigError::key("facts.age_thresholds", "must list 1 to 16 ages"));
        }
        if thresholds.iter().any(|&n| n == 0 || n > 120) {
            return Err(ConfigError::key("facts.age_thresholds", "each age must be 1 to 120"));
        }
        let mut sorted = thresholds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != thresholds.len() {
            return Err(ConfigError::key("facts.age_thresholds", "ages must not repeat"));
        }
        let ttl = self.facts.attestation_ttl.as_secs();
        if ttl == 0 || ttl > 86_400 {
            return Err(ConfigError::key("facts.attestation_ttl", "must be between 1s and 1d"));
        }
        if !(8..=4 * 1024 * 1024).contains(&self.commitments.memory_kib) {
            return Err(ConfigError::key(
                "commitments.memory_kib",
                "must be between 8 and 4194304 (KiB)",
            ));
        }
        if !(1..=100).contains(&self.commitments.iterations) {
            return Err(ConfigError::key("commitments.iterations", "must be between 1 and 100"));
        }
        let ceiling = self.facts.bulk_ceiling_per_hour;
        if ceiling == 0 || ceiling > 1_000_000 {
            return Err(ConfigError::key(
                "facts.bulk_ceiling_per_hour",
                "must be between 1 and 1000000",
            ));
        }
        Ok(())
    }
}
