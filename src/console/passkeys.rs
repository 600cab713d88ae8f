//! The passkey ceremonies (WebAuthn, by webauthn-rs): registration with a
//! one-time code, sign-in, and the fresh check (step-up) that guards
//! publishing a policy, answering a legal request and approving a
//! privileged principal. A ceremony's state lives here, in memory, for
//! five minutes; the browser holds only its id.
//!
//! Ceremonies are held in a [`SharedTable`]: each source address has a share
//! of them, so no address can crowd out another's sign-in. A sign-in started
//! for a staff id that has no passkey (or does not exist) is answered like
//! any other — options naming credential ids made up deterministically from
//! a keyed hash of the id (webauthn-rs's fake credential generator) — and
//! its ceremony can never finish, so the answer does not tell which staff
//! ids exist.

use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::{AllowCredentials, PublicKeyCredentialRequestOptions, UserVerificationPolicy};

use crate::vault::shares::{SharedTable, Source};

/// A ceremony must finish within this, in seconds.
const CEREMONY_TTL: i64 = 300;
/// Ceremonies one source address may have in flight: a counter office
/// behind one address signs its people in a few at a time.
const SHARE: usize = 32;
/// Ceremonies in flight in all (a bound on memory: ~1 KiB each), 512 shares.
const MAX_CEREMONIES: usize = 16_384;
/// The authenticator timeout webauthn-rs puts in its options, in ms.
const TIMEOUT_MS: u32 = 300_000;

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
    /// A sign-in for an id with no passkey: it answers like one, and no
    /// assertion finishes it.
    Decoy,
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
}

pub struct Passkeys {
    webauthn: Webauthn,
    rp_id: String,
    decoys: WebauthnFakeCredentialGenerator<FakePasskeyDistribution>,
    pending: SharedTable<String, Pending>,
}

impl Passkeys {
    /// The relying party for `origin` (its host is the passkeys' RP id);
    /// `decoy_key` (16 to 64 secret bytes, the same at every start) keys the
    /// made-up credential ids of sign-ins for ids without a passkey.
    ///
    /// # Errors
    /// The origin is not one a browser can bind passkeys to.
    pub fn new(origin: &str, decoy_key: &[u8]) -> Result<Self, String> {
        let url = Url::parse(origin).map_err(|e| format!("console.origin: {e}"))?;
        let rp_id = url
            .host_str()
            .ok_or_else(|| "console.origin: no host".to_owned())?
            .to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, &url)
            .and_then(|b| b.rp_name("civic-vault").build())
            .map_err(|e| format!("console.origin: {e}"))?;
        let decoys = WebauthnFakeCredentialGenerator::new(decoy_key).map_err(|e| format!("console decoy key: {e}"))?;
        Ok(Self {
            webauthn,
            rp_id,
            decoys,
            pending: SharedTable::new(SHARE, MAX_CEREMONIES),
        })
    }

    /// Parks a ceremony's state, charged to `source`; returns its id.
    fn park(&self, source: Source, pending: Pending, now: i64) -> String {
        let id = crate::crypto::new_token().as_str().to_owned();
        self.pending
            .insert(source, id.clone(), pending, now, now + CEREMONY_TTL);
        id
    }

    /// Takes a ceremony's state (each can be finished once).
    ///
    /// # Errors
    /// Unknown or expired.
    pub fn take(&self, id: &str, now: i64) -> Result<Pending, PasskeyError> {
        self.pending
            .take(&id.to_owned(), now)
            .ok_or(PasskeyError::UnknownCeremony)
    }

    /// Ceremonies in flight now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Starts registering a passkey for `principal`, whose code hashed to `code_hash`.
    ///
    /// # Errors
    /// Too many ceremonies, or the library refused.
    pub fn begin_register(
        &self,
        source: Source,
        now: i64,
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
        let id = self.park(
            source,
            Pending::Register {
                principal: principal.to_owned(),
                code_hash,
                state,
            },
            now,
        );
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
    /// A sign-in for an id with no passkeys gets a decoy ceremony (see the
    /// module); a step-up without passkeys is refused (its caller is signed in).
    ///
    /// # Errors
    /// A step-up with no passkeys, or the library refused.
    pub fn begin_check(
        &self,
        source: Source,
        now: i64,
        principal: &str,
        session: Option<String>,
        passkeys: &[Passkey],
    ) -> Result<(String, RequestChallengeResponse), PasskeyError> {
        if passkeys.is_empty() {
            if session.is_some() {
                return Err(PasskeyError::Rejected);
            }
            let options = self.decoy_options(principal)?;
            return Ok((self.park(source, Pending::Decoy, now), options));
        }
        let (mut options, state) = self
            .webauthn
            .start_passkey_authentication(passkeys)
            .map_err(|_| PasskeyError::Rejected)?;
        // Transports are a hint the browser can do without, and a decoy
        // cannot know them: neither answer names any.
        for c in &mut options.public_key.allow_credentials {
            c.transports = None;
        }
        let principal = principal.to_owned();
        let pending = match session {
            Some(session) => Pending::StepUp {
                principal,
                session,
                state,
            },
            None => Pending::SignIn { principal, state },
        };
        Ok((self.park(source, pending, now), options))
    }

    /// The options a sign-in for `principal` would get if it had passkeys:
    /// the same shape as webauthn-rs's, with a fresh challenge and the
    /// principal's made-up credential ids (the same ids at every ask).
    fn decoy_options(&self, principal: &str) -> Result<RequestChallengeResponse, PasskeyError> {
        // The generator's distribution gives some ids no credential at all,
        // which no staff member with a passkey has: such an id would be
        // known made up. Asked again under a counter until it names one
        // (still the same ids for the same principal at every ask).
        let mut ids = Vec::new();
        for round in 0u8..=u8::MAX {
            let mut seed = principal.as_bytes().to_vec();
            if round > 0 {
                seed.extend_from_slice(&[0, round]);
            }
            ids = self.decoys.generate(&seed).map_err(|_| PasskeyError::Rejected)?;
            if !ids.is_empty() {
                break;
            }
        }
        let mut challenge = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut challenge);
        Ok(RequestChallengeResponse {
            public_key: PublicKeyCredentialRequestOptions {
                challenge,
                timeout: Some(TIMEOUT_MS),
                rp_id: self.rp_id.clone(),
                allow_credentials: ids
                    .into_iter()
                    .map(|id| AllowCredentials {
                        type_: "public-key".to_owned(),
                        id,
                        transports: None,
                    })
                    .collect(),
                user_verification: UserVerificationPolicy::Required,
                hints: None,
                extensions: None,
            },
            mediation: None,
        })
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
