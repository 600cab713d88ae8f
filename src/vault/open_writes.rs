//! What opening the vault writes, once its parts are open: on a fresh
//! store the first policy version and the bootstrap admin, and records an
//! older version wrote in a format since replaced, brought up to date
//! (honey card records sealed). `open.rs` opens the parts; this file's
//! steps run after, in `Vault::open_on`.

use super::{StartError, Vault};
use crate::domain::audit::{AuditDraft, Decision as AuditDecision};
use crate::domain::principal::Principal;
use crate::domain::store::{Change, Commit, Store};
use crate::domain::vocab::{PrincipalKind, Purpose, Role};

impl Vault {
    /// Honey card records an older version wrote in the clear (honey id
    /// beside label, subject and card id) are resealed under random keys
    /// and removed, in one commit with no audit entry (nothing is decided).
    pub(super) async fn reseal_honey_cards(&self) -> Result<(), StartError> {
        let legacy = std::mem::take(
            &mut *self
                .honey_legacy
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if legacy.is_empty() {
            return Ok(());
        }
        let mut put = Vec::with_capacity(legacy.len());
        let mut remove = Vec::with_capacity(legacy.len());
        for (key, card) in legacy {
            let record = crate::domain::honey::HoneyRecord { card, pending: None };
            put.push(
                crate::vault::honey_registry::seal(&self.keys.blind, crate::vault::honey_registry::new_key(), &record)
                    .map_err(|e| StartError::Store(e.to_string()))?,
            );
            remove.push(key);
        }
        let n = put.len();
        self.store
            .commit(Commit {
                changes: vec![Change::PutHoneyCards { put, remove }],
                audit: Vec::new(),
            })
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        tracing::info!(records = n, "honey card records of an older version resealed");
        Ok(())
    }

    /// On first start, policies/editable.cedar becomes policy version 1.
    pub(super) async fn seed_policies(&self) -> Result<(), StartError> {
        let stored = self.read_versions()?;
        if !stored.is_empty() {
            return Ok(());
        }
        let engine = self.policy();
        let version = crate::domain::policy_version::PolicyVersion {
            version: 1,
            digest: engine.digest.clone(),
            author: "policies/ (first start)".into(),
            at: self.clock.now().unix_timestamp(),
            comment: "seeded from the policies directory".into(),
            policies: self.policy_sources.editable.clone(),
        };
        let draft = AuditDraft {
            at: version.at,
            action: "seed_policies".into(),
            decision: AuditDecision::Allow,
            policy_version: Some(1),
            subject: Some(engine.digest.clone()),
            outcome: "ok".into(),
            ..AuditDraft::default()
        };
        let tests = serde_json::to_vec(&*self.active_tests()).unwrap_or_default();
        self.store
            .commit(Commit {
                changes: vec![
                    Change::PutPolicyVersion(Box::new(version)),
                    Change::PutPolicyTests { version: 1, tests },
                ],
                audit: vec![draft],
            })
            .await
            .map(drop)
            .map_err(|e| StartError::Store(e.to_string()))
    }

    fn read_versions(&self) -> Result<Vec<crate::domain::policy_version::PolicyVersion>, StartError> {
        self.store
            .policy_versions()
            .map_err(|e| StartError::Store(e.to_string()))
    }

    /// On first start, the admin token written to keys/admin.token becomes
    /// the `admin` principal. Recorded in the audit chain like any change.
    pub(super) async fn bootstrap_admin(&self) -> Result<(), StartError> {
        if !self.principals.is_empty() {
            return Ok(());
        }
        let Some(hash) = self.keys.admin_token_hash()? else {
            tracing::warn!("no principals and no admin token file: nobody can use this vault");
            return Ok(());
        };
        let now = self.clock.now().unix_timestamp();
        let admin = Principal {
            id: "admin".into(),
            kind: PrincipalKind::Staff,
            roles: vec![Role::Admin],
            agency_kind: None,
            purposes: Vec::new(),
            token_hash: hash,
            created_at: now,
            status: crate::domain::principal::PrincipalStatus::Active,
            issued_by: None,
            approved_by: None,
        };
        let draft = AuditDraft {
            at: now,
            principal: None,
            action: "bootstrap_admin".into(),
            purpose: Some(Purpose::SystemAdministration.as_str().into()),
            decision: AuditDecision::Allow,
            subject: Some(self.keys.subjects.subject("principal", "admin")),
            outcome: "ok".into(),
            ..AuditDraft::default()
        };
        let commit = Commit {
            changes: vec![Change::PutPrincipal(Box::new(admin.clone()))],
            audit: vec![draft],
        };
        self.store
            .commit(commit)
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        self.principals.insert(admin);
        if self.keys.files.is_sealed() {
            tracing::info!("bootstrap admin principal created; its token is the one `keys seal` printed");
        } else {
            tracing::info!("bootstrap admin principal created; its token is in the keys directory");
        }
        Ok(())
    }
}
