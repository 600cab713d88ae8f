//! A Token Status List as a CWT (IETF Token Status List, the CBOR form;
//! `application/statuslist+cwt`): a tagged COSE_Sign1 (RFC 9052) signed by
//! an issuer key, protected header `alg`, `kid` and `typ` (16), whose
//! payload is the CWT claims (RFC 8392) `sub` (2, the list's URI), `iat`
//! (6), `exp` (4), `ttl` (65534) and `status_list` (65533: `bits` and the
//! zlib-compressed `lst` as bytes) — the same bits as the JWT form.

use std::io::Write as _;

use ciborium::Value;
use coset::{iana, CborSerializable as _, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable as _};

use super::jose::{Alg, IssuerSigner, PublicKey};

/// The media type (and the `typ` header's value).
pub const CONTENT_TYPE: &str = "application/statuslist+cwt";
/// The header label of `typ` (RFC 9596).
const TYP: i64 = 16;
/// COSE header `x5chain` (RFC 9360).
const X5CHAIN: i64 = 33;
/// The CWT claim keys this token uses.
const SUB: i64 = 2;
const EXP: i64 = 4;
const IAT: i64 = 6;
const STATUS_LIST: i64 = 65533;
const TTL: i64 = 65534;

/// The signed status list: `bits` (one per credential) compressed, with
/// `sub` = `uri`, valid for `2 × ttl` from `iat`.
///
/// # Errors
/// Compression or CBOR encoding failed (both write to memory).
pub fn status_list_cwt(
    signer: &IssuerSigner,
    x5chain: Option<&[Vec<u8>]>,
    uri: &str,
    bits: &[u8],
    iat: i64,
    ttl: i64,
) -> std::io::Result<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(bits)?;
    let lst = z.finish()?;
    let claims = Value::Map(vec![
        (SUB.into(), Value::Text(uri.to_owned())),
        (IAT.into(), iat.into()),
        (EXP.into(), iat.saturating_add(ttl.saturating_mul(2)).into()),
        (TTL.into(), ttl.into()),
        (
            STATUS_LIST.into(),
            Value::Map(vec![
                (Value::Text("bits".into()), 1.into()),
                (Value::Text("lst".into()), Value::Bytes(lst)),
            ]),
        ),
    ]);
    let mut payload = Vec::new();
    ciborium::into_writer(&claims, &mut payload).map_err(std::io::Error::other)?;
    let alg = match signer.alg() {
        Alg::Es256 => iana::Algorithm::ES256,
        Alg::Ed25519 => iana::Algorithm::EdDSA,
    };
    let mut protected = HeaderBuilder::new()
        .algorithm(alg)
        .key_id(signer.kid().as_bytes().to_vec())
        .value(TYP, Value::Text(CONTENT_TYPE.into()));
    // RFC 9360 x5chain: one certificate as a bstr, more as an array.
    match x5chain {
        Some([one]) => protected = protected.value(X5CHAIN, Value::Bytes(one.clone())),
        Some(chain) if !chain.is_empty() => {
            protected = protected.value(X5CHAIN, Value::Array(chain.iter().cloned().map(Value::Bytes).collect()));
        }
        _ => {}
    }
    let protected = protected.build();
    CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| signer.sign(tbs))
        .build()
        .to_tagged_vec()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// A status list CWT read back: its `sub`, `ttl` and bits, once its
/// signature verifies with `key` (for tests and for verifiers written in Rust).
///
/// # Errors
/// Not a tagged COSE_Sign1, a bad signature, or claims that are not a status list.
pub fn read(token: &[u8], key: &PublicKey) -> Result<(String, i64, Vec<u8>), String> {
    let sign1 = CoseSign1::from_tagged_slice(token)
        .or_else(|_| CoseSign1::from_slice(token))
        .map_err(|e| format!("not a COSE_Sign1: {e}"))?;
    sign1.verify_signature(b"", |sig, tbs| {
        if key.verifies(key.alg().name(), tbs, sig) {
            Ok(())
        } else {
            Err("the signature does not verify".to_owned())
        }
    })?;
    let payload = sign1.payload.ok_or("no payload")?;
    let claims: Value = ciborium::from_reader(payload.as_slice()).map_err(|e| format!("payload: {e}"))?;
    let map = claims.as_map().ok_or("the claims are not a map")?;
    let claim = |k: i64| {
        map.iter()
            .find(|(key, _)| key.as_integer() == Some(k.into()))
            .map(|(_, v)| v)
    };
    let sub = claim(SUB).and_then(Value::as_text).ok_or("no sub")?.to_owned();
    let ttl = claim(TTL)
        .and_then(Value::as_integer)
        .and_then(|i| i64::try_from(i).ok())
        .ok_or("no ttl")?;
    let list = claim(STATUS_LIST).and_then(Value::as_map).ok_or("no status_list")?;
    let lst = list
        .iter()
        .find(|(k, _)| k.as_text() == Some("lst"))
        .and_then(|(_, v)| v.as_bytes())
        .ok_or("no lst")?;
    let mut bits = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(flate2::read::ZlibDecoder::new(lst.as_slice()), 1 << 20),
        &mut bits,
    )
    .map_err(|_| "lst is not zlib")?;
    Ok((sub, ttl, bits))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use crate::crypto::Secret32;

    #[test]
    fn a_list_reads_back_only_with_its_key() {
        let signer = IssuerSigner::new("issuer-es256-t".into(), Alg::Es256, &Secret32::from_bytes([7; 32])).unwrap();
        let other = IssuerSigner::new("issuer-es256-o".into(), Alg::Es256, &Secret32::from_bytes([8; 32])).unwrap();
        let bits = [0b0000_0100u8, 0, 0, 0x80];
        let token = status_list_cwt(
            &signer,
            None,
            "https://v.example/v1/status-lists/0",
            &bits,
            1_780_000_000,
            300,
        )
        .unwrap();
        assert_eq!(token[0], 0xd2, "tag 18 (COSE_Sign1)");
        let (sub, ttl, read_bits) = read(&token, &signer.public()).unwrap();
        assert_eq!(
            (sub.as_str(), ttl, read_bits.as_slice()),
            ("https://v.example/v1/status-lists/0", 300, &bits[..])
        );
        assert!(read(&token, &other.public()).unwrap_err().contains("does not verify"));
        let mut tampered = token.clone();
        let last = tampered.len() - 70;
        tampered[last] ^= 1;
        assert!(read(&tampered, &signer.public()).is_err());
    }
}
