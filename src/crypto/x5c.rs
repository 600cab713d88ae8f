//! A city PKI's certificate chain for the ES256 issuer key: credentials
//! and status-list tokens signed by the certified key carry it as `x5c`
//! (RFC 7515 §4.1.6), so a verifier that trusts the city's root needs no
//! JWKS. The chain is read from PEM (leaf first) with `x509-parser`; the
//! vault checks that the leaf certifies its key and is in date, and leaves
//! the path's validation to the verifier (which holds the trust anchor).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::jose::PublicKey;

/// A certificate chain, leaf first, as read from PEM.
#[derive(Debug, Clone)]
pub struct CertChain {
    /// Each certificate's DER, standard base64 (as `x5c` carries it).
    x5c: Vec<String>,
    /// Each certificate's DER (as COSE's `x5chain` carries it).
    der: Vec<Vec<u8>>,
    /// The leaf's public key, if P-256 (the uncompressed point).
    leaf_point: Option<Vec<u8>>,
    /// The leaf's validity, Unix seconds.
    not_before: i64,
    not_after: i64,
}

/// The OID of an EC public key, and of the P-256 curve.
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";

/// The DER `SubjectPublicKeyInfo` prefix of an uncompressed P-256 point
/// (SEQUENCE { SEQUENCE { ecPublicKey, prime256v1 }, BIT STRING 0x00 … }).
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl CertChain {
    /// Reads a PEM file of one or more certificates, leaf first.
    ///
    /// # Errors
    /// A message naming what is wrong (not PEM, not a certificate, none).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let mut x5c = Vec::new();
        let mut der = Vec::new();
        let mut leaf: Option<(Option<Vec<u8>>, i64, i64)> = None;
        for (i, block) in x509_parser::pem::Pem::iter_from_buffer(pem).enumerate() {
            let block = block.map_err(|e| format!("certificate {}: not PEM ({e})", i + 1))?;
            if block.label != "CERTIFICATE" {
                return Err(format!(
                    "block {}: a {} where a CERTIFICATE was expected",
                    i + 1,
                    block.label
                ));
            }
            let cert = block
                .parse_x509()
                .map_err(|e| format!("certificate {}: not an X.509 certificate ({e})", i + 1))?;
            if leaf.is_none() {
                let spki = cert.public_key();
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                let p256 = spki.algorithm.algorithm.to_id_string() == EC_PUBLIC_KEY && curve.as_deref() == Some(P256);
                let validity = cert.validity();
                leaf = Some((
                    p256.then(|| spki.subject_public_key.data.to_vec()),
                    validity.not_before.timestamp(),
                    validity.not_after.timestamp(),
                ));
            }
            x5c.push(STANDARD.encode(&block.contents));
            der.push(block.contents);
        }
        let (leaf_point, not_before, not_after) = leaf.ok_or("no certificate in the file")?;
        Ok(Self {
            x5c,
            der,
            leaf_point,
            not_before,
            not_after,
        })
    }

    /// Whether the leaf certifies `key` (a P-256 key) and is in date at `now`.
    #[must_use]
    pub fn certifies(&self, key: &PublicKey, now: i64) -> bool {
        let PublicKey::Es256(k) = key else {
            return false;
        };
        let point = k.to_encoded_point(false);
        self.leaf_point.as_deref() == Some(point.as_bytes()) && (self.not_before..=self.not_after).contains(&now)
    }

    /// When the leaf stops being valid, Unix seconds.
    #[must_use]
    pub const fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The chain as COSE's `x5chain` carries it (DER, leaf first).
    #[must_use]
    pub fn der(&self) -> &[Vec<u8>] {
        &self.der
    }

    /// The chain as `x5c` carries it.
    #[must_use]
    pub fn x5c(&self) -> &[String] {
        &self.x5c
    }
}

/// A P-256 public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), for a
/// city CA to certify.
#[must_use]
pub fn public_key_pem(key: &PublicKey) -> Option<String> {
    let PublicKey::Es256(k) = key else {
        return None;
    };
    let mut der = SPKI_P256_PREFIX.to_vec();
    der.extend_from_slice(k.to_encoded_point(false).as_bytes());
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Some(format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    ))
}
