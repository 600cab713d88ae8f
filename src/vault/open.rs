//! Opening the vault at start: the policies and program, the data
//! directory (owner-only), the keyring (plain or opened from its seal), the
//! store, the audit checkpoints the chain must still reach, the active
//! policy set (validated, every canary denied, the floor proved); then
//! what opening writes (`open_writes.rs`): the bootstrap admin, the first
//! policy version, older records brought up to date.

use std::sync::Arc;

use super::{StartError, Vault};
use crate::authz::{PolicyEngine, PolicySources};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::seal::{SealInfo, Unlock};
use crate::crypto::{Attestor, CommitmentCost, KeyFiles, Keyring};
use crate::domain::facts::DistinctCards;
use crate::domain::policy_version::PolicyTests;
use crate::domain::program::Program;
use crate::domain::store::Store;
use crate::store::AnyStore;
use crate::vault::card_cache::CardCache;
use crate::vault::checkpoints::Checkpointer;
use crate::vault::metrics::Metrics;
use crate::vault::open_checks::{database_session, no_new_keys_for_old_records, owner_only_data_dir};
use crate::vault::token_index::TokenIndex;

/// How the keys open at start.
#[derive(Debug)]
pub enum KeyAccess {
    /// Plain keys, or sealed keys opened with the configured passphrase file.
    Open(KeyFiles),
    /// Sealed, and nothing configured opens them: the vault starts sealed.
    Sealed(SealInfo),
}

impl KeyAccess {
    /// Reads the seal of the configured keys directory and, for a
    /// passphrase seal with `[seal] passphrase_file`, opens it.
    ///
    /// # Errors
    /// `seal.toml` is unreadable, the passphrase file is unreadable or
    /// loosely permitted, or the passphrase does not open the seal.
    pub fn at_start(config: &Config) -> Result<Self, StartError> {
        let dir = &config.keys_dir;
        let Some(info) = crate::crypto::seal::state(dir)? else {
            return Ok(Self::Open(KeyFiles::plain(dir)));
        };
        let Some(file) = &config.seal.passphrase_file else {
            return Ok(Self::Sealed(info));
        };
        let text = crate::crypto::seal::read_passphrase_file(file)?;
        Ok(Self::Open(crate::crypto::seal::open(
            dir,
            &info,
            &Unlock::Passphrase(text),
        )?))
    }
}

impl Vault {
    /// Opens the vault: policies, program profile, keys (created on first
    /// start), the store, and the bootstrap admin principal. Sealed keys
    /// open only with `[seal] passphrase_file`; [`run`] serves a vault that
    /// is still sealed.
    ///
    /// # Errors
    /// Any of those cannot be loaded; the message names what and where.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Arc<Self>, StartError> {
        match KeyAccess::at_start(&config)? {
            KeyAccess::Open(files) => Self::open_with(config, clock, files).await,
            KeyAccess::Sealed(_) => Err(StartError::Keys(crate::crypto::KeyError::Seal(
                "the keys are sealed and no passphrase file is configured".into(),
            ))),
        }
    }

    /// Opens the vault with keys already reachable through `files`.
    ///
    /// # Errors
    /// As [`Vault::open`].
    pub async fn open_with(config: Config, clock: Arc<dyn Clock>, files: KeyFiles) -> Result<Arc<Self>, StartError> {
        Self::open_on(config, clock, files, None).await
    }

    /// Opens the vault with keys reachable through `files` and, for a
    /// PostgreSQL store, through `session`, a database session that already
    /// holds the vault's lock (without one, opening waits for the lock).
    ///
    /// # Errors
    /// As [`Vault::open`].
    pub async fn open_on(
        config: Config,
        clock: Arc<dyn Clock>,
        files: KeyFiles,
        session: Option<crate::store::postgres::PgSession>,
    ) -> Result<Arc<Self>, StartError> {
        let vault = tokio::task::spawn_blocking(move || Self::open_blocking(config, clock, files, session))
            .await
            .map_err(|e| StartError::Store(e.to_string()))??;
        let vault = Arc::new(vault);
        crate::vault::credential_indices::seal_legacy(&vault)
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        crate::vault::witness_sync::at_start(&vault).await?;
        crate::authz::proof::at_start(&vault.policy(), &vault.proof_settings())
            .await
            .map_err(StartError::Policies)?;
        vault.bootstrap_admin().await?;
        vault.seed_policies().await?;
        vault.reseal_honey_cards().await?;
        Ok(vault)
    }

    fn open_blocking(
        config: Config,
        clock: Arc<dyn Clock>,
        files: KeyFiles,
        session: Option<crate::store::postgres::PgSession>,
    ) -> Result<Self, StartError> {
        if !config.governance.second_approval {
            tracing::warn!(
                "[governance] second_approval = false: privileged staff principals are active without a second admin"
            );
        }
        let sources = policy_sources(&config)?;
        let program = program(&config, &sources)?;
        owner_only_data_dir(&config.data_dir, config.allow_shared_data_dir)?;
        let mut session = database_session(&config, session)?;
        no_new_keys_for_old_records(&config, session.as_mut())?;
        let keys_lock = crate::crypto::seal::KeysLock::acquire(files.dir())?;
        let keys = Keyring::open_files(files)?;
        if !keys.files.is_sealed() {
            tracing::warn!(
                keys_dir = %config.keys_dir.display(),
                "KEYS ARE NOT SEALED: every key is a plain file here, and anyone who can read this directory and the \
                 data directory can read every record; seal them (`civic-vault keys seal`, SECURITY.md)"
            );
        }
        let (store, opened) = AnyStore::open(&config, Some(&keys.fingerprint()), session)
            .map_err(|e| StartError::Store(e.to_string()))?;
        current_format(&config, opened.schema)?;
        let commitment_cost = commitment_cost(&config, &store)?;
        let (checkpointer, signed_at_start) = checkpoints(&config, &keys, &store)?;
        let tree_checkpoints = tree_checkpoints(&config, &keys, &checkpointer, &store)?;
        let witness = crate::vault::witness::Witnesses::new(&config).map_err(StartError::Config)?;
        let tests = active_tests(&store, &sources)?;
        let policy = active_policy(&store, &sources, &tests)?;
        let principals = TokenIndex::default();
        for p in store.principals().map_err(|e| StartError::Store(e.to_string()))? {
            principals.insert(p);
        }
        let attestor = {
            let (id, seed) = keys.attestation();
            std::sync::RwLock::new(Arc::new(Attestor::new(id, &seed)))
        };
        let issuer =
            crate::crypto::IssuerKeys::load(&keys.files, clock.now().unix_timestamp()).map_err(StartError::Keys)?;
        let chain = crate::vault::credential_trust::certificate_chain(&config, &issuer, clock.now().unix_timestamp())
            .map_err(StartError::Config)?;
        let providers = crate::vault::credential_trust::wallet_providers(&config).map_err(StartError::Config)?;
        let (honey, legacy_honey) = honey_cards(&config, &keys, &store)?;
        Ok(Self {
            honey,
            honey_legacy: std::sync::Mutex::new(legacy_honey),
            rate_limits: crate::vault::rate_limits::RateLimits::new(&config.limits),
            unauthenticated: crate::vault::audit_tally::UnauthenticatedTally::default(),
            duplicate_outcomes: crate::domain::duplicates::DuplicateOutcomes::default(),
            checkpointer,
            tree_checkpoints,
            signed_at_start,
            witness,
            _keys_lock: keys_lock,
            decoy: std::sync::Mutex::new(None),
            commitment_cost,
            cluster: std::sync::OnceLock::new(),
            attestor,
            credentials: crate::vault::credential_state::Credentials::new(issuer, chain, providers),
            fact_window: DistinctCards::default(),
            cards: CardCache::default(),
            legal_answers: crate::vault::legal_answers::LegalAnswerCache::default(),
            sweep_lock: tokio::sync::Mutex::new(()),
            kek_gate: tokio::sync::RwLock::new(()),
            last_sweep: tokio::sync::Mutex::new(None),
            last_rotation: tokio::sync::Mutex::new(0),
            config,
            keys,
            store,
            policy: std::sync::RwLock::new(Arc::new(policy)),
            policy_tests: std::sync::RwLock::new(Arc::new(tests)),
            policy_sources: sources,
            policy_update: tokio::sync::Mutex::new(()),
            program,
            clock,
            principals,
            metrics: Metrics::default(),
        })
    }

    /// How `check` runs the symbolic floor proof.
    #[must_use]
    pub fn proof_settings(&self) -> crate::authz::proof::ProofSettings {
        crate::authz::proof::ProofSettings::new(
            self.config.proof.solver.clone(),
            self.config.proof.timeout.as_std(),
            self.config.proof.required,
        )
    }
}

/// Schema, floor, program profiles and the editable set on disk: from
/// `policies_dir`, or the copies built into the binary when there is no
/// ./policies and none was configured.
fn policy_sources(config: &Config) -> Result<PolicySources, StartError> {
    if config.policies_dir.is_dir() {
        PolicySources::load(&config.policies_dir).map_err(StartError::Policies)
    } else if config.policies_dir_explicit {
        Err(StartError::Policies(format!(
            "{} is not a directory",
            config.policies_dir.display()
        )))
    } else {
        tracing::info!("no ./policies directory; using the policies built into this binary");
        Ok(PolicySources::embedded())
    }
}

/// The store's commitment cost, which the configured one must be: a store's
/// commitments are all made at one cost, or duplicates go unseen.
fn commitment_cost(config: &Config, store: &AnyStore) -> Result<CommitmentCost, StartError> {
    let configured = CommitmentCost {
        memory_kib: config.commitments.memory_kib,
        iterations: config.commitments.iterations,
    };
    let stored = store
        .commitment_cost(configured)
        .map_err(|e| StartError::Store(e.to_string()))?;
    if stored != configured {
        return Err(StartError::Config(format!(
            "config keys `commitments.memory_kib` and `commitments.iterations`: this store's document commitments \
             were made at {} KiB and {} passes (configured: {} KiB, {} passes); the cost cannot change for an \
             existing store",
            stored.memory_kib, stored.iterations, configured.memory_kib, configured.iterations
        )));
    }
    Ok(stored)
}

/// The configured program profile.
fn program(config: &Config, sources: &PolicySources) -> Result<Program, StartError> {
    let (_, text) = sources
        .programs
        .iter()
        .find(|(name, _)| *name == config.program)
        .ok_or_else(|| StartError::Config(format!("config key `program`: no profile named {:?}", config.program)))?;
    Program::from_toml(&config.program, text).map_err(|e| StartError::Policies(e.to_string()))
}

/// The checkpoint signer, and the newest signed checkpoint — which the
/// chain must still reach: a store whose newest entries were removed does
/// not start.
fn checkpoints(config: &Config, keys: &Keyring, store: &AnyStore) -> Result<(Checkpointer, u64), StartError> {
    let checkpointer =
        Checkpointer::open(&keys.files, &config.data_dir).map_err(|e| StartError::Store(e.to_string()))?;
    let signed = crate::vault::checkpoints::read_verified(&config.data_dir, Some(&checkpointer.public_key()))
        .map_err(|e| StartError::Store(format!("audit checkpoints: {e}")))?;
    let (head_seq, _) = store.audit_head().map_err(|e| StartError::Store(e.to_string()))?;
    let signed_at_start = signed.last_key_value().map_or(0, |(s, _)| *s);
    if signed_at_start > head_seq {
        return Err(StartError::Store(format!(
            "the audit chain ends at entry {head_seq} but a signed checkpoint covers entry {signed_at_start}: entries were removed"
        )));
    }
    Ok((checkpointer, signed_at_start))
}

/// The tree's checkpointer, and the check that the store still holds the
/// newest signed tree: as large, with the same root (a store rolled back
/// or rewritten under a signed checkpoint does not start).
fn tree_checkpoints(
    config: &Config,
    keys: &Keyring,
    checkpointer: &Checkpointer,
    store: &AnyStore,
) -> Result<crate::vault::tlog_checkpoints::TreeCheckpointer, StartError> {
    use crate::vault::tlog_checkpoints::{default_origin, TreeCheckpointer};
    let origin = config
        .audit
        .origin
        .clone()
        .unwrap_or_else(|| default_origin(&keys.fingerprint()));
    let tree = TreeCheckpointer::open(&origin, checkpointer.signing_key(), &config.data_dir)
        .map_err(|e| StartError::Store(format!("audit tree checkpoints: {e}")))?;
    // The verifier key, public, beside checkpoint.pub: what
    // `civic-vault audit verifier-key` prints without unsealing anything.
    let vkey = format!("{}\n", tree.verifier_key().text());
    let vkey_path = keys.files.dir().join(crate::vault::tlog_checkpoints::VKEY_FILE);
    if std::fs::read_to_string(&vkey_path).ok().as_deref() != Some(vkey.as_str()) {
        keys.files
            .write_public(crate::vault::tlog_checkpoints::VKEY_FILE, vkey.as_bytes())
            .map_err(|e| StartError::Store(format!("{}: {e}", vkey_path.display())))?;
    }
    if let Some(cp) = tree
        .latest()
        .and_then(|n| crate::crypto::note::Checkpoint::parse(&n).ok())
    {
        let size = store.tlog_size().map_err(|e| StartError::Store(e.to_string()))?;
        if size < cp.size {
            return Err(StartError::Store(format!(
                "the audit tree holds {size} entries but a signed checkpoint covers {}: entries were removed; refusing to start",
                cp.size
            )));
        }
        let root = crate::domain::tlog::root_at(store, cp.size).map_err(|e| StartError::Store(e.to_string()))?;
        if root != cp.root {
            return Err(StartError::Store(format!(
                "the audit tree's root at size {} differs from its signed checkpoint: history was rewritten; refusing to start",
                cp.size
            )));
        }
    }
    Ok(tree)
}

/// The active editable set: the newest stored version, or policies/ on
/// first start. Either way it must validate and pass every canary, so a
/// floor weakened on disk stops startup; a failing policy test only warns.
/// The active version's policy tests: those stored with the newest version
/// that has them, or (versions made before tests travelled with them, or a
/// first start) the ones in policies/tests.
fn active_tests(store: &AnyStore, sources: &PolicySources) -> Result<PolicyTests, StartError> {
    let stored = store.policy_tests().map_err(|e| StartError::Store(e.to_string()))?;
    match stored.values().next_back() {
        Some(json) => serde_json::from_slice(json).map_err(|e| StartError::Store(format!("policy tests: {e}"))),
        None => Ok(crate::domain::policy_version::flatten_tests(&sources.tests)),
    }
}

fn active_policy(store: &AnyStore, sources: &PolicySources, tests: &PolicyTests) -> Result<PolicyEngine, StartError> {
    let versions = store.policy_versions().map_err(|e| StartError::Store(e.to_string()))?;
    let (editable, version) = versions
        .last()
        .map_or_else(|| (sources.editable.clone(), 1), |v| (v.policies.clone(), v.version));
    let policy = PolicyEngine::compile(
        &PolicySources {
            editable,
            ..sources.clone()
        },
        version,
    )
    .map_err(|errors| {
        StartError::Policies(
            errors
                .iter()
                .map(|p| format!("{}: {}", p.policy_id, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let (_, violations) = crate::authz::check::canaries(&policy);
    if !violations.is_empty() {
        return Err(StartError::Policies(
            violations
                .iter()
                .map(|v| format!("canary allowed: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    for f in crate::authz::check::run_tests(&policy, &crate::vault::tests_as_files(tests)).failed {
        tracing::warn!(file = %f.file, test = %f.name, expected = %f.expected, got = %f.got, "policy test fails against the active policies");
    }
    Ok(policy)
}

/// Refuses a store whose records are in an older format than this build
/// reads, naming the command that moves them.
fn current_format(config: &Config, schema: u32) -> Result<(), StartError> {
    if schema == crate::store::SCHEMA_VERSION {
        return Ok(());
    }
    Err(StartError::Store(format!(
        "{} holds records in format v{} (status, dates and proofs readable without keys): stop the vault \
         and run `civic-vault migrate` once with the same configuration (or --data {} --keys {}) \
         to seal them (format v{})",
        config.data_dir.display(),
        schema,
        config.data_dir.display(),
        config.keys_dir.display(),
        crate::store::SCHEMA_VERSION
    )))
}

/// The honey cards as stored, opened: the registry, and the records an
/// older version left unsealed (resealed once the vault is open).
type OpenedHoney = (
    crate::vault::honey_registry::HoneyCards,
    Vec<(Vec<u8>, crate::domain::honey::HoneyCard)>,
);

/// Opens the honey cards as stored (see [`OpenedHoney`]).
fn honey_cards(config: &Config, keys: &Keyring, store: &AnyStore) -> Result<OpenedHoney, StartError> {
    let stored = store.honey_cards().map_err(|e| StartError::Store(e.to_string()))?;
    let opened = crate::vault::honey_registry::open(&keys.blind, &stored).map_err(StartError::Store)?;
    let honey = crate::vault::honey_registry::HoneyCards::new(opened.cards, opened.plans, config.honey.webhook.clone());
    Ok((honey, opened.legacy))
}
