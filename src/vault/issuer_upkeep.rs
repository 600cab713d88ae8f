//! The retention sweep's care of the credential issuer keys: a new one of
//! each kind every [`ISSUER_KEY_AGE`], an old one destroyed once nothing
//! it signed can still be presented.

use std::sync::Arc;

use crate::crypto::jose::Alg;
use crate::domain::credential;
use crate::vault::Vault;

/// How long an issuer key signs before the sweep replaces it, in seconds.
pub const ISSUER_KEY_AGE: i64 = 90 * 86_400;

/// The sweep's care of the issuer keys, each algorithm's apart: a new one
/// once the active one has signed for [`ISSUER_KEY_AGE`]; an old one
/// destroyed once everything it signed has expired
/// ([`credential::LIFETIME_DAYS`] after its successor took over; for an
/// ES256 key, which also signs printed cards' seals, once the longest card
/// it could have sealed has expired). Both show in the JWKS at once.
///
/// # Errors
/// A key file could not be written or destroyed.
pub async fn maintain_keys(v: &Arc<Vault>, now: i64) -> Result<(), crate::crypto::KeyError> {
    let me = Arc::clone(v);
    tokio::task::spawn_blocking(move || {
        let keys = &me.credentials.issuer;
        for alg in Alg::ALL {
            // A key the city's certificate names lives as long as the
            // certificate says: rotating it would drop x5c.
            let certified = keys.active(alg).is_ok_and(|k| {
                me.credentials
                    .chain
                    .as_ref()
                    .is_some_and(|c| c.certifies(&k.public(), now))
            });
            if !certified
                && keys
                    .active_since(alg)
                    .is_some_and(|created| created + ISSUER_KEY_AGE <= now)
            {
                let kid = keys.rotate(alg, now)?;
                tracing::info!(%kid, "new credential issuer key");
            }
        }
        // An ES256 key also signed printed cards' seals: it stays (to verify
        // them) as long as the longest card lives, for ever when some card
        // does not expire; an Ed25519 key, as long as its credentials.
        let credentials = credential::LIFETIME_DAYS * 86_400;
        let seals = me
            .program
            .longest_validity(me.config.card_validity)
            .map_or(i64::MAX, |d| {
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX).saturating_add(86_400)
            });
        for kid in keys.retire_each(now, |alg| match alg {
            Alg::Es256 => credentials.max(seals),
            Alg::Ed25519 => credentials,
        })? {
            tracing::info!(%kid, "credential issuer key destroyed: everything it signed has expired");
            crate::vault::keyrep::replicate_destruction(&me, &format!("{kid}.key"));
        }
        Ok(())
    })
    .await
    .map_err(|e| crate::crypto::KeyError::Io {
        dir: "keys".into(),
        reason: e.to_string(),
    })?
}
