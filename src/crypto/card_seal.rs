//! The printed card's seal: what the card prints, signed, for a QR code
//! anyone can check offline — a CWT (RFC 8392) in a tagged COSE_Sign1
//! (RFC 9052) signed ES256 by the credential issuer key, zlib-compressed
//! and base45-encoded (RFC 9285) behind the prefix `CV1:`, so the QR code
//! is alphanumeric, as the EU Digital COVID Certificate's `HC1:` is.
//!
//! Protected header: `alg` (ES256), `kid` (the issuer key's JWK `kid`, as
//! bytes), `typ` 16 = `application/cwt`. Claims: `iss` (1), `iat` (6),
//! `exp` (4, the end of the card's last day; absent for a card that does
//! not expire), `status` (65535, a Token Status List reference
//! `{status_list: {idx, uri}}`) and `card`: the printed fields by name
//! (`program`, `number`, `name`, `birth_date`, `issued`, `expires`,
//! `address` when the card prints one) and `photo`, the SHA-256 of the
//! photo printed on it.

use std::io::{Read as _, Write as _};

use ciborium::Value;
use coset::{iana, CborSerializable as _, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable as _};

use super::jose::{IssuerSigner, PublicKey};

/// What precedes the base45 text in the QR code.
pub const PREFIX: &str = "CV1:";
/// The header label of `typ` (RFC 9596), and the claim keys.
const TYP: i64 = 16;
const ISS: i64 = 1;
const EXP: i64 = 4;
const IAT: i64 = 6;
const STATUS: i64 = 65535;
/// A seal is at most this long once inflated (a card's fields are short).
const MAX_COSE: u64 = 16 * 1024;

/// What a card prints, and where its status is.
#[derive(Debug, Clone)]
pub struct Printed {
    pub issuer: String,
    pub program: String,
    pub number: String,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// `YYYY-MM-DD`.
    pub issued: String,
    /// `YYYY-MM-DD`, and the Unix second the card's last day ends; `None`
    /// for a card that does not expire.
    pub expires: Option<(String, i64)>,
    /// The address lines the card prints, if any.
    pub address: Option<Vec<String>>,
    /// SHA-256 of the printed photo.
    pub photo_sha256: [u8; 32],
    /// The status list's URI and the entry in it.
    pub status: (String, u64),
    /// When the seal was made, Unix seconds.
    pub iat: i64,
}

fn text(key: &str, value: &str) -> (Value, Value) {
    (Value::Text(key.into()), Value::Text(value.into()))
}

/// The seal's text for the QR code.
///
/// # Errors
/// Serialising or compressing failed (in memory; it does not).
pub fn seal(signer: &IssuerSigner, p: &Printed) -> std::io::Result<String> {
    let mut card = vec![
        text("program", &p.program),
        text("number", &p.number),
        text("name", &p.name),
        text("birth_date", &p.birth_date),
        text("issued", &p.issued),
    ];
    if let Some((day, _)) = &p.expires {
        card.push(text("expires", day));
    }
    if let Some(lines) = &p.address {
        card.push(text("address", &lines.join("\n")));
    }
    card.push((Value::Text("photo".into()), Value::Bytes(p.photo_sha256.to_vec())));
    let mut claims = vec![(ISS.into(), Value::Text(p.issuer.clone())), (IAT.into(), p.iat.into())];
    if let Some((_, end)) = p.expires {
        claims.push((EXP.into(), end.into()));
    }
    claims.push((
        STATUS.into(),
        Value::Map(vec![(
            Value::Text("status_list".into()),
            Value::Map(vec![
                (Value::Text("idx".into()), p.status.1.into()),
                text("uri", &p.status.0),
            ]),
        )]),
    ));
    claims.push((Value::Text("card".into()), Value::Map(card)));
    let mut payload = Vec::new();
    ciborium::into_writer(&Value::Map(claims), &mut payload).map_err(std::io::Error::other)?;
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(signer.kid().as_bytes().to_vec())
        .value(TYP, Value::Text("application/cwt".into()))
        .build();
    let cose = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| signer.sign(tbs))
        .build()
        .to_tagged_vec()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&cose)?;
    Ok(format!("{PREFIX}{}", base45::encode(z.finish()?)))
}

/// A seal read back: its claims (as CBOR), once its signature verifies
/// with `key` (for tests, and for verifiers written in Rust).
///
/// # Errors
/// Not a seal, or a signature that does not verify.
pub fn open(text: &str, key: &PublicKey) -> Result<Value, String> {
    let body = text
        .strip_prefix(PREFIX)
        .ok_or("not a civic-vault seal (no CV1: prefix)")?;
    let compressed = base45::decode(body).map_err(|_| "not base45")?;
    let mut cose = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_COSE)
        .read_to_end(&mut cose)
        .map_err(|_| "not zlib")?;
    let sign1 = CoseSign1::from_tagged_slice(&cose)
        .or_else(|_| CoseSign1::from_slice(&cose))
        .map_err(|_| "not a COSE_Sign1")?;
    if sign1.protected.header.alg != Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) {
        return Err("not ES256".into());
    }
    sign1
        .verify_signature(b"", |sig, tbs| {
            if key.verifies("ES256", tbs, sig) {
                Ok(())
            } else {
                Err(())
            }
        })
        .map_err(|()| "the signature does not verify")?;
    let payload = sign1.payload.ok_or("no payload")?;
    ciborium::from_reader(payload.as_slice()).map_err(|_| "the claims are not CBOR".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::jose::Alg;
    use crate::crypto::Secret32;

    #[test]
    fn a_seal_is_alphanumeric_and_opens_only_with_its_key() {
        let signer = IssuerSigner::new("issuer-es256-t".into(), Alg::Es256, &Secret32::from_bytes([7; 32])).unwrap();
        let other = IssuerSigner::new("issuer-es256-o".into(), Alg::Es256, &Secret32::from_bytes([8; 32])).unwrap();
        let p = Printed {
            issuer: "https://ids.example.gov".into(),
            program: "IDNYC".into(),
            number: "1234 5678 9012".into(),
            name: "Nguyễn Thị Mai".into(),
            birth_date: "1990-04-12".into(),
            issued: "2026-12-07".into(),
            expires: Some(("2031-12-07".into(), 1_954_540_799)),
            address: None,
            photo_sha256: [3; 32],
            status: ("https://ids.example.gov/v1/status-lists/0".into(), 42),
            iat: 1_780_000_000,
        };
        let s = seal(&signer, &p).unwrap();
        assert!(s.starts_with(PREFIX));
        assert!(s
            .bytes()
            .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b)));
        let claims = open(&s, &signer.public()).unwrap();
        let card = claims
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_text() == Some("card"))
            .unwrap()
            .1
            .clone();
        let name = card
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_text() == Some("name"))
            .unwrap()
            .1
            .as_text()
            .unwrap()
            .to_owned();
        assert_eq!(name, "Nguyễn Thị Mai");
        assert!(open(&s, &other.public()).is_err());
        let mut tampered = s.clone();
        tampered.replace_range(10..11, if &s[10..11] == "A" { "B" } else { "A" });
        assert!(open(&tampered, &signer.public()).is_err());
    }
}
