//! Service configuration: embedded defaults, an optional TOML file, and
//! command-line overrides, validated once at startup. An unknown key, a bad
//! value or an unreadable file stops startup with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::duration::HumanDuration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("config key `{key}`: {message}")]
    Key { key: String, message: String },
}

impl ConfigError {
    fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Key {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Everything `serve` needs to know. Field names are the TOML keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub keys_dir: PathBuf,
    pub policies_dir: PathBuf,
    pub program: String,
    pub card_validity: Option<HumanDuration>,
    pub retention: Retention,
    pub facts: Facts,
    pub proof: Proof,
    pub limits: Limits,
    pub audit: Audit,
    pub tls: Tls,
    pub seal: Seal,
    /// Start even when the data directory is readable by its group or by
    /// others. Off: such a directory stops startup (the vault makes its own
    /// 0700, every file in it 0600).
    pub allow_shared_data_dir: bool,
    pub governance: Governance,
    pub commitments: Commitments,
    pub console: Console,
    pub honey: Honey,
    /// Holder-held credentials (`[credentials]`).
    pub credentials: Credentials,
    /// Where the records live: sled (embedded) or PostgreSQL.
    pub store: Store,
    /// The other vault nodes keys are replicated with (`[cluster]`); none by default.
    pub cluster: Option<Cluster>,
    /// v1.2: the C2SP witnesses that cosign the audit log (`[[witness]]`); none by default.
    pub witness: Witnesses,
    /// Set when the policies directory was named by the operator (file or
    /// flag). When it was not, and `./policies` does not exist, the copy of
    /// the shipped policies compiled into the binary is used.
    #[serde(skip)]
    pub policies_dir_explicit: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    pub source_documents: HumanDuration,
    pub inactive_cardholders: HumanDuration,
    pub sweep_interval: HumanDuration,
    /// How often the key-encryption key is replaced (live data keys rewrapped,
    /// the old KEK destroyed) when cardholder records were erased under it.
    pub key_rotation: HumanDuration,
}

/// TLS (rustls). Off unless `cert` and `key` are set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
    /// PEM CA certificates that client certificates must chain to. A client
    /// without a certificate may still connect (staff use tokens alone).
    pub client_ca: Option<PathBuf>,
    /// System principals that must present one exact client certificate
    /// (`"sha256:<hex of its DER>"`) besides their token.
    pub system_certs: std::collections::BTreeMap<String, String>,
}

/// Sealed keys (see `crypto/seal.rs`). With a passphrase seal and this file
/// set, the vault unseals itself at start; otherwise a sealed vault starts
/// sealed and waits for `POST /v1/unseal`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Seal {
    /// A file holding the seal's passphrase (its first line); mode 0600.
    pub passphrase_file: Option<PathBuf>,
}

/// Load limits. A rate of 0 turns that limiter off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub requests_per_second_per_principal: u32,
    pub burst_per_principal: u32,
    pub requests_per_second_per_address: u32,
    pub burst_per_address: u32,
    /// Open connections; at the cap the listener stops accepting.
    pub max_connections: usize,
    /// Open connections from one source address; more are closed at once.
    pub max_connections_per_address: usize,
    /// A request's head must be complete this long after its first byte.
    pub header_read_timeout: HumanDuration,
    /// A kept-alive connection with no request is closed after this.
    pub idle_timeout: HumanDuration,
    /// Requests in progress; beyond it a request is answered 503 at once.
    pub max_concurrent_requests: usize,
    /// A request still running after this is answered 503.
    pub request_timeout: HumanDuration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            requests_per_second_per_principal: 200,
            burst_per_principal: 400,
            requests_per_second_per_address: 1000,
            burst_per_address: 2000,
            max_connections: 1024,
            max_connections_per_address: 256,
            header_read_timeout: dur(10, crate::duration::Unit::Seconds),
            idle_timeout: dur(60, crate::duration::Unit::Seconds),
            max_concurrent_requests: 512,
            request_timeout: dur(30, crate::duration::Unit::Seconds),
        }
    }
}

/// The symbolic proof that a candidate policy set denies every request of
/// the enforcement family (cedar-policy-symcc with the cvc5 solver).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Proof {
    /// The cvc5 executable (default: `$CVC5`, else `cvc5` on the PATH).
    pub solver: Option<PathBuf>,
    /// When true, a policy change whose proof cannot run is refused; when
    /// false (default) the report says the proof did not run and the canary
    /// suite alone guards the change. A counterexample always refuses it.
    pub required: bool,
    /// Wall-clock limit for one whole proof.
    pub timeout: HumanDuration,
}

impl Default for Proof {
    fn default() -> Self {
        Self {
            solver: None,
            required: false,
            timeout: dur(60, crate::duration::Unit::Seconds),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Facts {
    pub age_thresholds: Vec<u32>,
    pub attestation_ttl: HumanDuration,
    /// v1.1, the floor: no system is answered about more distinct cards an
    /// hour (the editable bulk guards sit below it).
    pub bulk_ceiling_per_hour: u64,
}

/// v1.1: the cost of a document commitment (Argon2id with the blind-index
/// key as its secret). Fixed for a store's life: a store remembers the cost
/// it was created with and refuses another.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Commitments {
    /// Memory per commitment, KiB (at least 8).
    pub memory_kib: u32,
    /// Passes over that memory (at least 1).
    pub iterations: u32,
}

impl Default for Commitments {
    fn default() -> Self {
        // 32 MiB, 2 passes: ~80 ms a commitment on one core, so 10^9 guesses
        // at one issuer's numbers cost core-years even with keys/.
        Self {
            memory_kib: 32 * 1024,
            iterations: 2,
        }
    }
}

/// v1.1: separation of duties.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Governance {
    /// A staff principal holding admin, privacy_officer or legal waits for
    /// an admin other than its issuer. `false` only for single-operator
    /// test installs; the vault warns at every start.
    pub second_approval: bool,
}

impl Default for Governance {
    fn default() -> Self {
        Self { second_approval: true }
    }
}

/// Honey cards (`POST /v1/honey-cards`): when they are enrolled, and
/// where their alerts go besides the audit chain, the metrics and the log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Honey {
    /// An `http(s)://` URL that receives each alert as a JSON POST
    /// (`principal`, `action`, `honey_card`, `at`), fire and forget.
    pub webhook: Option<String>,
    /// Each honey card is enrolled at its own second, spread at random over
    /// this long after the request (so a batch does not share an
    /// enrollment time); until then its number is unknown to the vault,
    /// though asking about it already raises the alert. `0s`: all at once.
    pub spread: HumanDuration,
}

impl Default for Honey {
    fn default() -> Self {
        Self {
            webhook: None,
            spread: HumanDuration {
                value: 2,
                unit: crate::duration::Unit::Days,
            },
        }
    }
}

/// Holder-held credentials: which issuer key signs them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Credentials {
    /// `"ES256"` (P-256; HAIP 1.0's, the default) or `"Ed25519"`. Both
    /// kinds of issuer key are kept and published either way; status
    /// lists are always signed ES256.
    pub signing_alg: crate::crypto::jose::Alg,
    /// A PEM file holding a city PKI's certificate chain (leaf first) for
    /// the ES256 issuer key: credentials and status-list tokens it signs
    /// then carry it as `x5c`. The vault refuses to start when the leaf
    /// does not certify its active ES256 key; while it does, the sweep
    /// does not rotate that key (the certificate governs its life).
    pub certificate_chain: Option<std::path::PathBuf>,
    /// A JWKS file of the wallet providers whose wallet attestations the
    /// vault trusts (HAIP): a wallet that sends an attestation at the PAR
    /// or token endpoint must send one by these keys. Unset: attestations
    /// are not read.
    pub wallet_attestation_keys: Option<std::path::PathBuf>,
    /// Issue only to wallets with a valid attestation (needs
    /// `wallet_attestation_keys`).
    pub require_wallet_attestation: bool,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            signing_alg: crate::crypto::jose::Alg::Es256,
            certificate_chain: None,
            wallet_attestation_keys: None,
            require_wallet_attestation: false,
        }
    }
}

/// The staff console (`/console/`): passkey sign-in and its sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Console {
    /// The origin staff browsers use (`https://vault.city.gov`): passkeys
    /// are bound to its host. Default: `http://localhost:<listen port>`
    /// (`https://` with TLS) — a browser on the vault's own machine.
    pub origin: Option<String>,
    /// A session unused this long is over.
    pub session_idle: HumanDuration,
    /// A session this old is over, used or not.
    pub session_absolute: HumanDuration,
    /// How recent a passkey check must be for publishing a policy,
    /// answering a legal request or approving a privileged principal.
    pub step_up_window: HumanDuration,
}

impl Default for Console {
    fn default() -> Self {
        Self {
            origin: None,
            session_idle: dur(15, crate::duration::Unit::Minutes),
            session_absolute: dur(8, crate::duration::Unit::Hours),
            step_up_window: dur(5, crate::duration::Unit::Minutes),
        }
    }
}

impl Config {
    /// The console's origin: the configured one, or the vault's own
    /// machine at its listen port.
    #[must_use]
    pub fn console_origin(&self) -> String {
        self.console.origin.clone().unwrap_or_else(|| {
            let scheme = if self.tls.cert.is_some() { "https" } else { "http" };
            format!("{scheme}://localhost:{}", self.listen.port())
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            data_dir: PathBuf::from("data"),
            keys_dir: PathBuf::from("keys"),
            policies_dir: PathBuf::from("policies"),
            program: "idnyc".to_owned(),
            card_validity: None,
            retention: Retention::default(),
            facts: Facts::default(),
            proof: Proof::default(),
            limits: Limits::default(),
            audit: Audit::default(),
            tls: Tls::default(),
            seal: Seal::default(),
            allow_shared_data_dir: false,
            governance: Governance::default(),
            commitments: Commitments::default(),
            console: Console::default(),
            honey: Honey::default(),
            credentials: Credentials::default(),
            store: Store::default(),
            cluster: None,
            witness: Witnesses::default(),
            policies_dir_explicit: false,
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            source_documents: HumanDuration::ZERO,
            inactive_cardholders: dur(365, crate::duration::Unit::Days),
            sweep_interval: dur(1, crate::duration::Unit::Hours),
            key_rotation: dur(1, crate::duration::Unit::Days),
        }
    }
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            age_thresholds: vec![13, 18, 21, 62, 65],
            attestation_ttl: dur(5, crate::duration::Unit::Minutes),
            bulk_ceiling_per_hour: 5000,
        }
    }
}

pub(super) const fn dur(value: u32, unit: crate::duration::Unit) -> HumanDuration {
    HumanDuration { value, unit }
}

impl Config {
    /// Reads and validates a TOML configuration file.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML, has an unknown key or a bad value.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        Self::from_toml(&text)
    }

    /// Parses and validates configuration text.
    ///
    /// # Errors
    /// Unknown keys, wrong types and bad values, each naming the key.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::new(text);
        let mut config: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_owned();
            // serde names an unknown key inside its message; lift it into the path.
            let key = match backticked(&message) {
                Some(name) if message.starts_with("unknown field") => {
                    if path == "." || path.is_empty() {
                        name.to_owned()
                    } else if path == name || path.ends_with(&format!(".{name}")) {
                        path
                    } else {
                        format!("{path}.{name}")
                    }
                }
                _ if path == "." || path.is_empty() => "(file)".to_owned(),
                _ => path,
            };
            let message = if message.starts_with("unknown field") {
                "unknown key".to_owned()
            } else {
                message
            };
            ConfigError::key(key, message)
        })?;
        config.policies_dir_explicit = text_sets_policies_dir(text);
        config.validate()?;
        Ok(config)
    }
}

fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn text_sets_policies_dir(text: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .map(|t| t.contains_key("policies_dir"))
        .unwrap_or(false)
}

mod audit;
mod cluster;
mod store;
mod validate;
mod witness;

pub use audit::Audit;
pub use cluster::{Cluster, Peer};
pub use store::{Store, StoreKind};
pub use witness::{Witness, Witnesses};

#[cfg(test)]
mod tests;
