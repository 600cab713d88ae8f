//! The seal key itself: made and opened by a passphrase (age scrypt) or
//! split into k-of-n Shamir shares and rebuilt from them, each checked
//! against the seal's check value.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use super::{check_value, Mode, NewSeal, SealInfo};
use crate::crypto::{KeyError, Secret32};

pub(super) fn open_passphrase(info: &SealInfo, passphrase: &str) -> Result<Secret32, KeyError> {
    let wrong = || KeyError::Seal("the passphrase does not open this seal".into());
    let Some(sealed) = &info.passphrase_sealed else {
        return Err(KeyError::Seal("this seal opens with shares, not a passphrase".into()));
    };
    let file = STANDARD.decode(sealed).map_err(|_| wrong())?;
    let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
    let plain = Zeroizing::new(age::decrypt(&identity, &file).map_err(|_| wrong())?);
    let key = key_from(&plain).ok_or_else(wrong)?;
    if check_value(&key) != info.check {
        return Err(wrong());
    }
    Ok(key)
}

fn key_from(bytes: &[u8]) -> Option<Secret32> {
    let arr: [u8; 32] = bytes.try_into().ok()?;
    Some(Secret32::from_bytes(arr))
}

/// A share as text: `cvs1-<seal id>-<base64url(index ‖ y)>`.
fn format_share(id: &str, share: &blahaj::Share) -> Zeroizing<String> {
    let bytes = Zeroizing::new(Vec::from(share));
    Zeroizing::new(format!("cvs1-{id}-{}", URL_SAFE_NO_PAD.encode(&*bytes)))
}

/// Parses one share of `info`'s seal; returns its index and bytes.
///
/// # Errors
/// Not a share, or a share of another seal.
pub fn parse_share(info: &SealInfo, text: &str) -> Result<(u8, Zeroizing<Vec<u8>>), KeyError> {
    let malformed = || KeyError::Seal("not a civic-vault share (expected cvs1-<seal id>-<data>)".into());
    let mut parts = text.trim().splitn(3, '-');
    if parts.next() != Some("cvs1") {
        return Err(malformed());
    }
    let id = parts.next().ok_or_else(malformed)?;
    let data = parts.next().ok_or_else(malformed)?;
    if id != info.id {
        return Err(KeyError::Seal(format!(
            "this share belongs to another seal ({id}); this vault's seal is {}",
            info.id
        )));
    }
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(data).map_err(|_| malformed())?);
    if bytes.len() != 33 || bytes[0] == 0 {
        return Err(malformed());
    }
    Ok((bytes[0], bytes))
}

/// Recovers the seal key from distinct shares (index → share bytes).
///
/// # Errors
/// Fewer than the threshold, or shares that do not rebuild the key.
pub fn combine(info: &SealInfo, shares: &BTreeMap<u8, Zeroizing<Vec<u8>>>) -> Result<Secret32, KeyError> {
    let threshold = info
        .threshold
        .ok_or_else(|| KeyError::Seal("this seal opens with a passphrase, not shares".into()))?;
    if shares.len() < usize::from(threshold) {
        return Err(KeyError::Seal(format!(
            "{} of the {threshold} shares needed",
            shares.len()
        )));
    }
    let parsed: Vec<blahaj::Share> = shares
        .values()
        .filter_map(|b| blahaj::Share::try_from(b.as_slice()).ok())
        .collect();
    let wrong = || KeyError::Seal("these shares do not rebuild this seal's key".into());
    let secret = Zeroizing::new(blahaj::Sharks(threshold).recover(&parsed).map_err(|_| wrong())?);
    let key = key_from(&secret).ok_or_else(wrong)?;
    if check_value(&key) != info.check {
        return Err(wrong());
    }
    Ok(key)
}

pub(super) fn new_info(key: &Secret32, how: &NewSeal) -> Result<(SealInfo, Vec<Zeroizing<String>>), KeyError> {
    let mut id = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
    let id = hex::encode(id);
    let check = check_value(key);
    match how {
        NewSeal::Passphrase(p) => {
            if p.chars().count() < 12 {
                return Err(KeyError::Seal("the passphrase must be at least 12 characters".into()));
            }
            let recipient = age::scrypt::Recipient::new(age::secrecy::SecretString::from(p.to_string()));
            let file = age::encrypt(&recipient, key.expose())
                .map_err(|e| KeyError::Seal(format!("cannot encrypt the seal key: {e}")))?;
            Ok((
                SealInfo {
                    version: 1,
                    mode: Mode::Passphrase,
                    threshold: None,
                    shares: None,
                    id,
                    check,
                    passphrase_sealed: Some(STANDARD.encode(file)),
                },
                Vec::new(),
            ))
        }
        NewSeal::Shares { threshold, shares } => {
            if *threshold < 2 || threshold > shares {
                return Err(KeyError::Seal(
                    "shares: need 2 <= threshold <= shares <= 255 (one share alone would be a plain key)".into(),
                ));
            }
            // blahaj's own dealer draws the coefficients from rand's thread
            // RNG (a CSPRNG seeded from the OS), uniformly over GF(256): the
            // bias of sharks 0.5 (RUSTSEC-2024-0398) is what the move fixed.
            let dealer = blahaj::Sharks(*threshold).dealer(key.expose());
            let texts = dealer
                .take(usize::from(*shares))
                .map(|s| format_share(&id, &s))
                .collect();
            Ok((
                SealInfo {
                    version: 1,
                    mode: Mode::Shares,
                    threshold: Some(*threshold),
                    shares: Some(*shares),
                    id,
                    check,
                    passphrase_sealed: None,
                },
                texts,
            ))
        }
    }
}
