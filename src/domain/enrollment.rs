//! Enrollment: check an application against the program's rules, then turn
//! it into what is stored — a card, sealed fields, an age-encrypted photo and
//! one attestation per proof. Document type, issuer and number go into a
//! keyed commitment and nowhere else.

use age::secrecy::ExposeSecret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::card::{Attestation, CardId, CardNumber, CardRecord, CardStatus, PhotoRecord};
use super::error::Error;
use super::program::{Program, ProofFacts, Verdict};
use super::store::NewCard;
use crate::crypto::{Commitment, DataKey, EpochId, Keyring};
use crate::duration::HumanDuration;

/// `PhotoRecord::key_id` of a photo whose identity is sealed in its card record.
pub const PHOTO_KEY_SEALED: &str = "card";

pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_SCAN_BYTES: usize = 10 * 1024 * 1024;
const MAX_PROOFS: usize = 10;
const MAX_TEXT: usize = 200;

/// `POST /v1/enrollments`. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRequest {
    pub applicant: Applicant,
    pub photo: Upload,
    pub proofs: Vec<ProofInput>,
}

#[derive(Deserialize, Zeroize, ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    pub full_name: String,
    /// YYYY-MM-DD.
    #[schema(format = Date)]
    pub date_of_birth: String,
    pub address: Address,
    #[serde(default)]
    pub gender: Option<String>,
}

#[derive(Clone, Deserialize, Serialize, Zeroize, ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Address {
    Residential {
        line1: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line2: Option<String>,
        city: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
        postal_code: String,
    },
    CareOf {
        organization: String,
        line1: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line2: Option<String>,
        city: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
        postal_code: String,
    },
    None,
}

#[derive(Deserialize, Zeroize, ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// image/jpeg or image/png (a scan may also be application/pdf).
    pub content_type: String,
    /// The file, base64.
    #[schema(format = Byte)]
    pub data: String,
}

#[derive(Deserialize, Zeroize, ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofInput {
    pub document_type: String,
    pub issuer: String,
    pub number: String,
    #[serde(default)]
    pub issued_on: Option<String>,
    #[serde(default)]
    pub expires_on: Option<String>,
    #[serde(default)]
    pub scan: Option<Upload>,
}

/// The sealed part of a record: what a court order might disclose.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct SealedFields {
    pub full_name: String,
    pub address: Option<Address>,
    pub gender: Option<String>,
    /// The card number itself, so that a notice can name the card and a
    /// document subject can say which card it backs (absent in records
    /// enrolled before it was kept).
    #[serde(default)]
    pub card_number: Option<String>,
}

/// Everything enrollment needs besides the request.
pub struct EnrollContext<'a> {
    pub program: &'a Program,
    pub keys: &'a Keyring,
    pub clerk: &'a str,
    pub now: OffsetDateTime,
    pub validity: HumanDuration,
    /// Where scans go when they are kept: the current destruction epoch and
    /// its recipient. `None`: scans are checked and dropped ("0s").
    pub scans: Option<(EpochId, age::x25519::Recipient)>,
    /// `retention.inactive_cardholders`, for the record's due time.
    pub inactive_window_secs: i64,
}

/// A checked application, ready to commit.
pub struct Prepared {
    pub card_number: CardNumber,
    pub new_card: NewCard,
    pub scans_presented: usize,
}

impl Prepared {
    #[must_use]
    pub fn scans_stored(&self) -> usize {
        self.new_card.scans.len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Jpeg,
    Png,
    Pdf,
}

impl MediaKind {
    fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }
}

/// What the bytes are, by their signature — never by what the caller says.
#[must_use]
pub fn sniff(bytes: &[u8]) -> Option<MediaKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(MediaKind::Png)
    } else if bytes.starts_with(b"%PDF-") {
        Some(MediaKind::Pdf)
    } else {
        None
    }
}

fn decode_upload(upload: &Upload, field: &str, allowed: &[MediaKind], max: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    // Reject before decoding anything that cannot fit.
    if upload.data.len() > max.div_ceil(3) * 4 + 4 {
        return Err(Error::PayloadTooLarge);
    }
    let bytes = Zeroizing::new(
        STANDARD
            .decode(upload.data.as_bytes())
            .map_err(|_| Error::invalid(&format!("{field}.data"), "not valid base64"))?,
    );
    if bytes.len() > max {
        return Err(Error::PayloadTooLarge);
    }
    let declared = allowed
        .iter()
        .find(|k| k.content_type() == upload.content_type)
        .ok_or_else(|| Error::invalid(&format!("{field}.content_type"), "not an accepted type"))?;
    if sniff(&bytes) != Some(*declared) {
        return Err(Error::invalid(
            &format!("{field}.data"),
            "content does not match content_type",
        ));
    }
    Ok(bytes)
}

fn text(value: &str, field: &str, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if value.trim().is_empty() || n > max {
        return Err(Error::invalid(field, &format!("must be 1 to {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn date(value: &str, field: &str) -> Result<Date, Error> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(value, &format).map_err(|_| Error::invalid(field, "must be a date YYYY-MM-DD"))
}

fn check_address(address: &Address) -> Result<(), Error> {
    let check = |v: &str, f: &str| text(v, &format!("applicant.address.{f}"), MAX_TEXT);
    let opt = |v: &Option<String>, f: &str| v.as_deref().map_or(Ok(()), |v| check(v, f));
    let (organization, line1, line2, city, state, postal_code) = match address {
        Address::None => return Ok(()),
        Address::Residential {
            line1,
            line2,
            city,
            state,
            postal_code,
        } => (None, line1, line2, city, state, postal_code),
        Address::CareOf {
            organization,
            line1,
            line2,
            city,
            state,
            postal_code,
        } => (Some(organization), line1, line2, city, state, postal_code),
    };
    if let Some(o) = organization {
        check(o, "organization")?;
    }
    check(line1, "line1")?;
    opt(line2, "line2")?;
    check(city, "city")?;
    opt(state, "state")?;
    text(postal_code, "applicant.address.postal_code", 16)
}

/// Whole years between `birth` and `today`.
#[must_use]
pub fn age_on(birth: Date, today: Date) -> i32 {
    let mut years = today.year() - birth.year();
    if (today.month() as u8, today.day()) < (birth.month() as u8, birth.day()) {
        years -= 1;
    }
    years
}

/// Checks an application and builds what is stored.
///
/// # Errors
/// 400 for malformed input (naming the field), 413 for an oversized photo or
/// scan, 422 when the proofs fall short of the program's rules.
pub fn prepare(req: &EnrollmentRequest, cx: &EnrollContext<'_>) -> Result<Prepared, Error> {
    let today = cx.now.date();
    let a = &req.applicant;
    text(&a.full_name, "applicant.full_name", MAX_TEXT)?;
    let birth = date(&a.date_of_birth, "applicant.date_of_birth")?;
    if birth > today || birth.year() < 1900 {
        return Err(Error::invalid(
            "applicant.date_of_birth",
            "must be a past date after 1900",
        ));
    }
    check_address(&a.address)?;
    if let Some(g) = &a.gender {
        if g.chars().count() > 32 || g.chars().any(char::is_control) {
            return Err(Error::invalid("applicant.gender", "at most 32 characters"));
        }
    }
    let photo = decode_upload(&req.photo, "photo", &[MediaKind::Jpeg, MediaKind::Png], MAX_PHOTO_BYTES)?;

    if req.proofs.is_empty() || req.proofs.len() > MAX_PROOFS {
        return Err(Error::invalid("proofs", "must list 1 to 10 documents"));
    }
    let mut facts = Vec::with_capacity(req.proofs.len());
    let mut commitments: Vec<Commitment> = Vec::with_capacity(req.proofs.len());
    let mut scans = 0;
    let mut scan_files: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for (i, p) in req.proofs.iter().enumerate() {
        let f = |name: &str| format!("proofs[{i}].{name}");
        if !cx.program.knows(&p.document_type) {
            return Err(Error::invalid(&f("document_type"), "not in the document catalogue"));
        }
        text(&p.issuer, &f("issuer"), 100)?;
        text(&p.number, &f("number"), 64)?;
        let issued_on = p.issued_on.as_deref().map(|d| date(d, &f("issued_on"))).transpose()?;
        let expires_on = p.expires_on.as_deref().map(|d| date(d, &f("expires_on"))).transpose()?;
        if issued_on.is_some_and(|d| d > today) {
            return Err(Error::invalid(&f("issued_on"), "must not be in the future"));
        }
        if let (Some(i), Some(e)) = (issued_on, expires_on) {
            if e < i {
                return Err(Error::invalid(&f("expires_on"), "must not be before issued_on"));
            }
        }
        if let Some(scan) = &p.scan {
            // Validated in full; whether it is kept is the retention policy's call.
            let bytes = decode_upload(
                scan,
                &f("scan"),
                &[MediaKind::Pdf, MediaKind::Jpeg, MediaKind::Png],
                MAX_SCAN_BYTES,
            )?;
            scans += 1;
            if cx.scans.is_some() {
                scan_files.push(bytes);
            }
        }
        let c = cx.keys.blind.document(&p.document_type, &p.issuer, &p.number);
        if commitments.contains(&c) {
            return Err(Error::invalid(&f("number"), "the same document is listed twice"));
        }
        commitments.push(c);
        facts.push(ProofFacts {
            document_type: &p.document_type,
            issued_on,
            expires_on,
        });
    }

    let mut missing = Vec::new();
    if age_on(birth, today) < i32::try_from(cx.program.min_age).unwrap_or(i32::MAX) {
        missing.push(format!(
            "minimum_age: the program is open from age {}",
            cx.program.min_age
        ));
    }
    let counted = match cx.program.evaluate(&facts, today) {
        Verdict::Met(counted) => counted,
        Verdict::Missing(m) => {
            missing.extend(m);
            Vec::new()
        }
    };
    if !missing.is_empty() {
        return Err(Error::InsufficientProof { missing });
    }

    let at = cx.now.unix_timestamp();
    let attestations: Vec<Attestation> = counted
        .into_iter()
        .zip(&commitments)
        .filter_map(|(c, commitment)| {
            c.map(|c| Attestation {
                points: c.points(),
                proves: c.proves,
                clerk: cx.clerk.to_owned(),
                at,
                commitment: *commitment,
            })
        })
        .collect();

    let card_number = CardNumber::generate();
    let card_id: CardId = cx.keys.blind.card_id(card_number.as_str());
    let dek = DataKey::generate();
    let (kek_id, kek) = cx.keys.active_kek();
    let sealed = SealedFields {
        full_name: a.full_name.clone(),
        address: cx.program.keep_address.then(|| a.address.clone()),
        gender: a.gender.clone(),
        card_number: Some(card_number.as_str().to_owned()),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&sealed).map_err(|_| Error::Internal {
        detail: "field encoding".into(),
    })?);
    let birth_text = Zeroizing::new(a.date_of_birth.clone());
    // Each card has its own photo identity, sealed under the card's data key:
    // the photo is a standard age file, and shredding the data key shreds it.
    let photo_identity = age::x25519::Identity::generate();
    let age_file =
        age::encrypt(&photo_identity.to_public(), &photo).map_err(|e| Error::Internal { detail: e.to_string() })?;
    let photo_key = Zeroizing::new(photo_identity.to_string().expose_secret().to_owned());
    let expires_on = cx.validity.add_to_date(today).ok_or_else(|| Error::Internal {
        detail: "card validity overflows the calendar".into(),
    })?;
    let record = CardRecord {
        program: cx.program.name.clone(),
        status: CardStatus::Active,
        issued_on: today,
        expires_on,
        enrolled_at: at,
        dek: dek.wrap(&kek_id, &kek, &card_id),
        fields: dek.seal_field(&card_id, "fields", &plain),
        birth: dek.seal_field(&card_id, "birth", birth_text.as_bytes()),
        photo_key: dek.seal_field(&card_id, "photo_key", photo_key.as_bytes()),
        attestations,
    };
    let identity_commitments = record.identity_commitments().copied().collect();
    let due_at = record.due_at(cx.inactive_window_secs);
    Ok(Prepared {
        card_number,
        new_card: NewCard {
            card_id,
            record,
            photo: PhotoRecord {
                key_id: PHOTO_KEY_SEALED.to_owned(),
                age_file,
            },
            identity_commitments,
            scans: match &cx.scans {
                Some((epoch, recipient)) => scan_files
                    .iter()
                    .map(|bytes| {
                        age::encrypt(recipient, bytes)
                            .map(|file| (*epoch, file))
                            .map_err(|e| Error::Internal { detail: e.to_string() })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            },
            due_at,
        },
        scans_presented: scans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn sniffs_by_signature() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(MediaKind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(MediaKind::Png));
        assert_eq!(sniff(b"%PDF-1.7"), Some(MediaKind::Pdf));
        assert_eq!(sniff(b"GIF89a"), None);
    }

    #[test]
    fn age_counts_whole_years() {
        assert_eq!(age_on(date!(1990 - 04 - 12), date!(2026 - 04 - 11)), 35);
        assert_eq!(age_on(date!(1990 - 04 - 12), date!(2026 - 04 - 12)), 36);
    }
}
