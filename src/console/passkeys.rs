//! The passkey ceremonies (WebAuthn, by webauthn-rs): registration with a
//! one-time code, sign-in, and the fresh check (step-up) that guards
//! publishing a policy, answering a legal request and approving a
//! privileged principal. A ceremony's state lives here, in memory, for
//! five minutes; the browser holds only its id.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// A ceremony must finish within this.
const CEREMONY_TTL: Duration = Duration::from_secs(300);
/// At most this many ceremonies in flight (a bound on memory).
const MAX_CEREMONIES: usize = 4_096;

/// What a ceremony was started for.
pub enum Pending {
    Register {
        principal: String,
        code_hash: [u8; 32],
        state: PasskeyRegistration,
    },
    SignIn {
        principal: String,
        state: PasskeyAuthentication,
    },
    StepUp {
        principal: String,
        session: String,
        state: PasskeyAuthentication,
    },
}

/// Why a ceremony failed: the words shown to the person.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("this sign-in attempt expired or is unknown; start again")]
    UnknownCeremony,
    #[error("the passkey could not be verified")]
    Rejected,
    #[error("too many passkey ceremonies in progress; try again in a minute")]
    Busy,
}

pub struct Passkeys {
    webauthn: Webauthn,
    pending: Mutex<HashMap<String, (Instant, Pending)>>,
}

impl Passkeys {
    /// The relying party for `origin` (its host is the passkeys' RP id).
    ///
    /// # Errors
    /// The origin is not one a browser can bind passkeys to.
    pub fn new(origin: &str) -> Result<Self, String> {
        let url = Url::parse(origin).map_err(|e| format!("console.origin: {e}"))?;
        let rp_id = url
            .host_str()
            .ok_or_else(|| "console.origin: no host".to_owned())?
            .to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, &url)
            .and_then(|b| b.rp_name("civic-vault").build())
            .map_err(|e| format!("console.origin: {e}"))?;
        Ok(Self {
            webauthn,
            pending: Mutex::new(HashMap::new()),
        })
    }

    fn park(&self, pending: Pending) -> Result<String, PasskeyError> {
        let id = crate::crypto::new_token().as_str().to_owned();
        let now = Instant::now();
        let mut m = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        m.retain(|_, (at, _)| now.duration_since(*at) < CEREMONY_TTL);
        if m.len() >= MAX_CEREMONIES {
            return Err(PasskeyError::Busy);
        }
        m.insert(id.clone(), (now, pending));
        Ok(id)
    }

    /// Takes a ceremony's state (each can be finished once).
    ///
    /// # Errors
    /// Unknown or expired.
    pub fn take(&self, id: &str) -> Result<Pending, PasskeyError> {
        let mut m = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match m.remove(id) {
            Some((at, p)) if at.elapsed() < CEREMONY_TTL => Ok(p),
            _ => Err(PasskeyError::UnknownCeremony),
        }
    }

    /// Starts registering a passkey for `principal`, whose code hashed to `code_hash`.
    ///
    /// # Errors
    /// Too many ceremonies, or the library refused.
    pub fn begin_register(
        &self,
        principal: &str,
        code_hash: [u8; 32],
        existing: &[Passkey],
    ) -> Result<(String, CreationChallengeResponse), PasskeyError> {
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect::<Vec<_>>();
        // The user handle: random per registration, never the principal id.
        let (options, state) = self
            .webauthn
            .start_passkey_registration(Uuid::new_v4(), principal, principal, Some(exclude))
            .map_err(|_| PasskeyError::Rejected)?;
        let id = self.park(Pending::Register {
            principal: principal.to_owned(),
            code_hash,
            state,
        })?;
        Ok((id, options))
    }

    /// Verifies a new credential against its registration state.
    ///
    /// # Errors
    /// The credential does not verify.
    pub fn finish_register(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Result<Passkey, PasskeyError> {
        self.webauthn
            .finish_passkey_registration(credential, state)
            .map_err(|_| PasskeyError::Rejected)
    }

    /// Starts a sign-in (or, with `session`, a step-up) with `passkeys`.
    ///
    /// # Errors
    /// No passkeys, too many ceremonies, or the library refused.
    pub fn begin_check(
        &self,
        principal: &str,
        session: Option<String>,
        passkeys: &[Passkey],
    ) -> Result<(String, RequestChallengeResponse), PasskeyError> {
        if passkeys.is_empty() {
            return Err(PasskeyError::Rejected);
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(passkeys)
            .map_err(|_| PasskeyError::Rejected)?;
        let principal = principal.to_owned();
        let pending = match session {
            Some(session) => Pending::StepUp {
                principal,
                session,
                state,
            },
            None => Pending::SignIn { principal, state },
        };
        let id = self.park(pending)?;
        Ok((id, options))
    }

    /// Verifies an assertion; updates the matching passkey's counter in
    /// `passkeys` and says whether it changed.
    ///
    /// # Errors
    /// The assertion does not verify.
    pub fn finish_check(
        &self,
        credential: &PublicKeyCredential,
        state: &PasskeyAuthentication,
        passkeys: &mut [Passkey],
    ) -> Result<bool, PasskeyError> {
        let result = self
            .webauthn
            .finish_passkey_authentication(credential, state)
            .map_err(|_| PasskeyError::Rejected)?;
        let mut changed = false;
        for p in passkeys.iter_mut() {
            changed |= p.update_credential(&result).unwrap_or(false);
        }
        Ok(changed)
    }
}

/// Passkeys as stored (JSON each); unreadable ones are skipped.
#[must_use]
pub fn decode(stored: &[String]) -> Vec<Passkey> {
    stored.iter().filter_map(|s| serde_json::from_str(s).ok()).collect()
}

/// Passkeys as the store keeps them.
#[must_use]
pub fn encode(passkeys: &[Passkey]) -> Vec<String> {
    passkeys.iter().filter_map(|p| serde_json::to_string(p).ok()).collect()
}
