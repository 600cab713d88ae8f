//! Enrollment: check an application against the program's rules, then turn
//! it into what is stored — a card, sealed fields, an age-encrypted photo and
//! one attestation per proof. Document type, issuer and number go into a
//! keyed commitment and nowhere else.

use age::secrecy::ExposeSecret;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::card::{CardId, CardMeta, CardNumber, CardRecord, CardStatus, Counter, Delivery, PhotoRecord, INDEX_SLOTS};
use super::error::Error;
use super::program::FeeWaiver;
use super::program::Program;
use super::store::NewCard;
use crate::crypto::{Commitment, CommitmentCost, DataKey, EpochId, Keyring};
use crate::duration::HumanDuration;

mod address;
pub use address::Lines as AddressLines;
mod checks;
mod options;
pub use checks::{age_on, check_address, check_address_at, check_text, date as parse_date, sniff, MediaKind};
use checks::{check_applicant, check_proofs, check_rules, decode_upload, CheckedProofs};
pub use options::check_languages;
use options::{check_options, Options};

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
    /// v1.1: a fee waiver category the program offers (never its evidence).
    #[serde(default)]
    #[zeroize(skip)]
    pub fee_waiver: Option<FeeWaiver>,
    /// v1.1: `mail` or `pickup`. Care-of and no address, and DV survivors,
    /// pick the card up; the default is mail where it can be mailed.
    #[serde(default)]
    #[zeroize(skip)]
    pub delivery: Option<Delivery>,
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
    /// v1.1: up to two language preferences, BCP 47 tags (`ase`: ASL).
    #[serde(default)]
    pub languages: Vec<String>,
    /// v1.1: for applicants the program lets apply with a caretaker.
    #[serde(default)]
    pub caretaker: Option<Caretaker>,
}

/// The adult applying with a minor: the relationship, shown with documents
/// the program accepts for it. The documents are checked, not kept.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Caretaker {
    /// `parent`, `guardian`, ... (free text, at most 64 characters).
    pub relationship: String,
    pub proofs: Vec<ProofInput>,
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
    /// v1.1: the caretaker's relationship, for a minor enrolled with one.
    #[serde(default)]
    pub caretaker: Option<String>,
}

/// Everything enrollment needs besides the request.
pub struct EnrollContext<'a> {
    pub program: &'a Program,
    pub keys: &'a Keyring,
    pub clerk: &'a str,
    pub now: OffsetDateTime,
    /// `card_validity` from config, if set (the profile's age bands still apply).
    pub validity: Option<HumanDuration>,
    /// Where scans go when they are kept: the current destruction epoch and
    /// its recipient. `None`: scans are checked and dropped ("0s").
    pub scans: Option<(EpochId, age::x25519::Recipient)>,
    /// `retention.inactive_cardholders`, for the record's due time.
    pub inactive_window_secs: i64,
    /// What a document commitment costs in this store.
    pub commitment_cost: CommitmentCost,
}

/// A checked application, ready to commit.
pub struct Prepared {
    pub card_number: CardNumber,
    pub new_card: NewCard,
    /// What the new record's meta holds (for the answer).
    pub meta: CardMeta,
    pub scans_presented: usize,
}

impl Prepared {
    #[must_use]
    pub fn scans_stored(&self) -> usize {
        self.new_card.scans.len()
    }
}

/// Checks an application and builds what is stored.
///
/// # Errors
/// 400 for malformed input (naming the field), 413 for an oversized photo or
/// scan, 422 when the proofs fall short of the program's rules.
pub fn prepare(req: &EnrollmentRequest, cx: &EnrollContext<'_>) -> Result<Prepared, Error> {
    let today = cx.now.date();
    let birth = check_applicant(&req.applicant, today)?;
    let options = check_options(req, cx, age_on(birth, today), today)?;
    let photo = decode_upload(&req.photo, "photo", &[MediaKind::Jpeg, MediaKind::Png], MAX_PHOTO_BYTES)?;
    let proofs = check_proofs(&req.proofs, cx, today)?;
    let counted = check_rules(cx.program, birth, today, &proofs.facts, &options.waived)?;
    seal(req, cx, photo, proofs, counted, options, None)
}

/// A honey card from a synthetic application (see `domain::honey`), under
/// the number given when it was planned: the
/// applicant and options checked as for any enrollment, then sealed by the
/// same [`seal`] as a real card, with `documents` random commitments for
/// documents never shown (the first proving identity, so the record's
/// index and meta have the shape of a real one). The card is marked
/// printed and mailed, so it never reaches the print queue.
///
/// # Errors
/// The synthetic application does not pass the checks (a bug), or sealing
/// failed.
pub fn prepare_honey(
    req: &EnrollmentRequest,
    documents: usize,
    number: CardNumber,
    cx: &EnrollContext<'_>,
) -> Result<Prepared, Error> {
    use crate::domain::program::{Counted, Proves};
    let today = cx.now.date();
    let birth = check_applicant(&req.applicant, today)?;
    let mut options = check_options(req, cx, age_on(birth, today), today)?;
    options.handed_over_at = Some(cx.now.unix_timestamp());
    let photo = decode_upload(&req.photo, "photo", &[MediaKind::Jpeg, MediaKind::Png], MAX_PHOTO_BYTES)?;
    let commitments: Vec<Commitment> = (0..documents.clamp(1, MAX_PROOFS))
        .map(|_| {
            let mut c = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut c);
            c
        })
        .collect();
    let counted = (0..commitments.len())
        .map(|i| {
            Some(Counted {
                proves: if i == 0 {
                    vec![Proves::Identity, Proves::Photo, Proves::DateOfBirth]
                } else {
                    vec![Proves::Residency]
                },
                classes: Vec::new(),
                identity_points: 0,
                residency_points: 0,
            })
        })
        .collect();
    let proofs = CheckedProofs {
        facts: Vec::new(),
        commitments,
        scan_files: Vec::new(),
        scans_presented: 0,
    };
    seal(req, cx, photo, proofs, counted, options, Some(number))
}

/// Turns a checked application into what is stored: a new card number,
/// the meta and fields sealed (padded) under a fresh data key, the photo as
/// an age file to a per-card identity, the identity documents' index keys
/// (padded with decoys), and the scans to their epoch's key.
fn seal(
    req: &EnrollmentRequest,
    cx: &EnrollContext<'_>,
    photo: Zeroizing<Vec<u8>>,
    proofs: CheckedProofs<'_>,
    counted: Vec<Option<crate::domain::program::Counted>>,
    options: Options,
    number: Option<CardNumber>,
) -> Result<Prepared, Error> {
    let at = cx.now.unix_timestamp();
    let a = &req.applicant;
    let card_number = number.unwrap_or_else(CardNumber::generate);
    let card_id: CardId = cx.keys.blind.card_id(card_number.as_str());
    let dek = DataKey::generate();
    let (kek_id, kek) = cx.keys.active_kek();
    let identity: Vec<Commitment> = counted
        .iter()
        .zip(&proofs.commitments)
        .filter(|(c, _)| {
            c.as_ref()
                .is_some_and(|c| c.proves.contains(&crate::domain::program::Proves::Identity))
        })
        .map(|(_, commitment)| *commitment)
        .collect();
    let meta = new_meta(cx, &proofs.commitments, identity.clone(), options.for_meta())?;
    let sealed = SealedFields {
        full_name: a.full_name.clone(),
        address: cx.program.keep_address.then(|| a.address.clone()),
        gender: a.gender.clone(),
        card_number: Some(card_number.as_str().to_owned()),
        caretaker: options.caretaker.clone(),
    };
    let plain = Zeroizing::new(serde_json::to_vec(&sealed).map_err(|_| Error::internal("field encoding"))?);
    let birth_text = Zeroizing::new(a.date_of_birth.clone());
    // Each card has its own photo identity, sealed under the card's data key:
    // the photo is a standard age file, and shredding the data key shreds it.
    let photo_identity = age::x25519::Identity::generate();
    let age_file = age::encrypt(&photo_identity.to_public(), &photo).map_err(|e| Error::internal(e.to_string()))?;
    let photo_key = Zeroizing::new(photo_identity.to_string().expose_secret().to_owned());
    let record = CardRecord {
        dek: dek.wrap(&kek_id, &kek, &card_id),
        meta: super::access::seal_meta_with(&dek, &card_id, &meta),
        fields: dek.seal_padded(&card_id, "fields", &plain, super::access::FIELD_CLASSES),
        birth: dek.seal_field(&card_id, "birth", birth_text.as_bytes()),
        photo_key: dek.seal_field(&card_id, "photo_key", photo_key.as_bytes()),
        index: with_decoys(identity.clone()),
        due: meta.index_due(at, cx.inactive_window_secs),
    };
    let due_at = record.due;
    let scans = match &cx.scans {
        Some((epoch, recipient)) => proofs
            .scan_files
            .iter()
            .map(|bytes| {
                age::encrypt(recipient, bytes)
                    .map(|file| (*epoch, file))
                    .map_err(|e| Error::internal(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok(Prepared {
        card_number,
        new_card: NewCard {
            card_id,
            identity_commitments: identity,
            superseded: Vec::new(),
            due_at,
            record,
            photo: PhotoRecord {
                key_id: PHOTO_KEY_SEALED.to_owned(),
                age_file,
            },
            scans,
        },
        meta,
        scans_presented: proofs.scans_presented,
    })
}

/// What a renewal or an update must show with its documents.
pub enum Need {
    /// The program's rules in full, as at enrollment (a renewal).
    Rules,
    /// At least one accepted document proving each of these (an update:
    /// identity for a new name, residency for a new address).
    Proving(Vec<crate::domain::program::Proves>),
}

/// Documents presented at the counter for an existing card, checked: their
/// commitments, and which of them proved identity.
pub struct CheckedDocuments {
    pub commitments: Vec<Commitment>,
    pub identity: Vec<Commitment>,
}

/// Checks documents presented for an existing card (renewal, update) with
/// the same rules as an enrollment. Scans are validated and dropped.
///
/// # Errors
/// 400 naming the field, 413, or 422 naming what is missing.
pub fn check_documents(
    proofs: &[ProofInput],
    cx: &EnrollContext<'_>,
    birth: time::Date,
    need: &Need,
) -> Result<CheckedDocuments, Error> {
    let today = cx.now.date();
    if let (Need::Proving(what), true) = (need, proofs.is_empty()) {
        return Err(Error::InsufficientProof {
            missing: what
                .iter()
                .map(|p| format!("{}: a document proving it", p.as_str()))
                .collect(),
        });
    }
    let checked = check_proofs(proofs, cx, today)?;
    let counted = match need {
        Need::Rules => check_rules(cx.program, birth, today, &checked.facts, &[])?,
        Need::Proving(what) => {
            let counted: Vec<_> = checked.facts.iter().map(|f| cx.program.count(f, today)).collect();
            let missing: Vec<String> = what
                .iter()
                .filter(|p| !counted.iter().flatten().any(|c| c.proves.contains(p)))
                .map(|p| format!("{}: a document proving it", p.as_str()))
                .collect();
            if !missing.is_empty() {
                return Err(Error::InsufficientProof { missing });
            }
            counted
        }
    };
    let identity = counted
        .iter()
        .zip(&checked.commitments)
        .filter(|(c, _)| {
            c.as_ref()
                .is_some_and(|c| c.proves.contains(&crate::domain::program::Proves::Identity))
        })
        .map(|(_, k)| *k)
        .collect();
    Ok(CheckedDocuments {
        commitments: checked.commitments,
        identity,
    })
}

/// A new card's meta: active from today, valid by the holder's age band.
fn new_meta(
    cx: &EnrollContext<'_>,
    proofs: &[Commitment],
    identity: Vec<Commitment>,
    options: options::MetaOptions,
) -> Result<CardMeta, Error> {
    let today = cx.now.date();
    let expires_on = match options.validity {
        Some(v) => Some(
            v.add_to_date(today)
                .ok_or_else(|| Error::internal("card validity overflows the calendar"))?,
        ),
        None => None,
    };
    Ok(CardMeta {
        program: cx.program.name.clone(),
        rules: cx.program.rules.clone(),
        status: CardStatus::Active,
        issued_on: today,
        expires_on,
        enrolled_at: cx.now.unix_timestamp(),
        clerk: cx.clerk.to_owned(),
        proofs: proofs.to_vec(),
        identity,
        delivery: options.delivery,
        counter: Counter {
            printed_at: options.handed_over_at,
            picked_up_at: None,
        },
        fee_waiver: options.fee_waiver,
        languages: options.languages,
        caretaker: options.caretaker,
        replaces: None,
        replaced_by: None,
        renewed_at: Vec::new(),
    })
}

/// The identity documents' index keys, then random decoys up to
/// [`INDEX_SLOTS`]: how many documents proved identity is not on disk.
#[must_use]
pub fn with_decoys(mut index: Vec<Commitment>) -> Vec<Commitment> {
    while index.len() < INDEX_SLOTS {
        let mut decoy = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut decoy);
        index.push(decoy);
    }
    index
}
