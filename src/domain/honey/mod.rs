//! Honey cards: canary cards a privacy officer creates to catch anyone
//! walking card numbers or looking cards up without cause. A honey card is
//! enrolled through the same record-building code as a real one (same
//! number generator, same sealed fields, same record version), from a
//! synthetic applicant made here, so every answer about it has the shape of
//! an answer about a real card. Which cards are honey is kept only as keyed
//! hashes (the card's audit subject and storage id) in a store tree of its
//! own, never in the card record; the label never reaches the audit chain.

mod jpeg;
pub mod photo;

use rand::Rng;
use serde::{Deserialize, Serialize};
use time::Date;

use super::card::CardId;
use super::enrollment::{Address, Applicant, EnrollmentRequest, Upload};
use super::error::Error;

/// The audit subject of every alert, so the audit index finds them all.
pub const ALERT_SUBJECT: &str = "honey_card_alerts";
/// The audit action of an alert.
pub const HIT_ACTION: &str = "honey_card_hit";
/// At most this many honey cards per request.
pub const MAX_COUNT: u32 = 100;
/// A label's length in characters, at most.
pub const MAX_LABEL: usize = 80;

/// One honey card as the vault remembers it. No card number: only its
/// keyed audit subject and its storage id (itself a keyed hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoneyCard {
    /// `hc_<hex>`: what alerts and the audit chain name.
    pub id: String,
    /// The privacy officer's label (never in the audit chain).
    pub label: String,
    pub created_at: i64,
    /// The card's keyed audit subject.
    pub subject: String,
    pub card_id: CardId,
}

/// What a sealed honey card record holds: the card, and until it is
/// enrolled, when and by whom it will be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoneyRecord {
    pub card: HoneyCard,
    pub pending: Option<PendingEnrollment>,
}

/// A honey card planned and not yet enrolled: it is enrolled at `at`
/// (unix seconds) through the enrollment code, as `clerk`'s enrollment,
/// under the number already given to the privacy officer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrollment {
    pub number: String,
    pub clerk: String,
    pub at: i64,
}

/// A honey card as the store keeps it: a random key, and the record
/// sealed (an older version's records: the honey id, and the record in the
/// clear). Opened and sealed by the vault, which holds the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredHoneyCard {
    pub key: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// A request to create honey cards, checked.
///
/// # Errors
/// 400 naming `count` or `label`.
pub fn check_request(count: u32, label: &str) -> Result<(), Error> {
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(Error::invalid("count", "must be 1 to 100"));
    }
    let n = label.chars().count();
    if label.trim().is_empty() || n > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(Error::invalid("label", "must be 1 to 80 printable characters"));
    }
    Ok(())
}

/// A fresh honey card id.
#[must_use]
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("hc_{}", hex::encode(bytes))
}

const FIRST: &[&str] = &[
    "Maria", "James", "Aisha", "Wei", "Carlos", "Fatima", "David", "Olga", "Kwame", "Sofia", "Minh", "Patrick",
    "Yasmin", "Jorge", "Grace", "Ibrahim", "Elena", "Samuel", "Priya", "Luis", "Hana", "Michael", "Rosa", "Tariq",
];
const LAST: &[&str] = &[
    "Rodriguez",
    "Smith",
    "Chen",
    "Okafor",
    "Nguyen",
    "Garcia",
    "Kowalski",
    "Haddad",
    "Johnson",
    "Rahman",
    "Petrov",
    "Williams",
    "Santos",
    "Kim",
    "Mensah",
    "Lopez",
    "Brown",
    "Cohen",
    "Singh",
    "Rivera",
    "Diallo",
    "Murphy",
];
const STREETS: &[&str] = &[
    "Main St",
    "Park Ave",
    "Oak St",
    "Elm St",
    "Washington Ave",
    "Maple Ave",
    "Church St",
    "Broadway",
    "2nd Ave",
    "Lincoln Ave",
    "Cedar St",
    "Union St",
    "Grand Ave",
    "Pine St",
    "Franklin St",
];
const LANGUAGES: &[&str] = &["es", "zh", "ru", "ht", "bn", "ko", "ar", "fr", "pl", "vi"];

/// The city, state and postal code prefix a synthetic address uses for a
/// program (a plausible address in the program's city).
fn city_of(program: &str) -> (&'static str, &'static str, &'static [&'static str]) {
    match program {
        "chicago" => ("Chicago", "IL", &["606"]),
        "hartford" => ("Hartford", "CT", &["061"]),
        "new_haven" => ("New Haven", "CT", &["065"]),
        "san_francisco" => ("San Francisco", "CA", &["941"]),
        _ => ("New York", "NY", &["100", "104", "112", "113", "114"]),
    }
}

fn pick<'a, R: Rng>(rng: &mut R, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

/// A synthetic application for `program`: a plausible adult name, birth
/// date, address in the city and language preference, with a photo. No
/// proofs: the caller seals it as a card whose documents were never shown
/// (see `enrollment::prepare_honey`).
#[must_use]
pub fn synthetic_application(program: &str, today: Date) -> EnrollmentRequest {
    let mut rng = rand::thread_rng();
    let age_days = rng.gen_range(22 * 365..75 * 365);
    let birth = today - time::Duration::days(age_days);
    let (city, state, zips) = city_of(program);
    let address = Address::Residential {
        line1: format!("{} {}", rng.gen_range(1..1200), pick(&mut rng, STREETS)),
        line2: rng.gen_bool(0.3).then(|| format!("Apt {}", rng.gen_range(1..30))),
        city: city.to_owned(),
        state: Some(state.to_owned()),
        postal_code: format!("{}{:02}", pick(&mut rng, zips), rng.gen_range(1..40)),
    };
    let languages = if rng.gen_bool(0.4) {
        vec![pick(&mut rng, LANGUAGES).to_owned()]
    } else {
        Vec::new()
    };
    let photo = photo::portrait(&mut rng);
    EnrollmentRequest {
        applicant: Applicant {
            full_name: format!("{} {}", pick(&mut rng, FIRST), pick(&mut rng, LAST)),
            date_of_birth: birth.to_string(),
            address,
            gender: None,
            languages,
            caretaker: None,
        },
        photo: Upload {
            content_type: "image/jpeg".into(),
            data: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, photo),
        },
        proofs: Vec::new(),
        fee_waiver: None,
        delivery: Some(super::card::Delivery::Mail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_synthetic_applications() {
        assert!(check_request(1, "x").is_ok());
        assert!(check_request(0, "x").is_err());
        assert!(check_request(101, "x").is_err());
        assert!(check_request(5, "").is_err());
        assert!(check_request(5, &"a".repeat(81)).is_err());
        assert!(check_request(5, "a\nb").is_err());
        let today = time::macros::date!(2026 - 12 - 02);
        let app = synthetic_application("idnyc", today);
        assert!(app.applicant.date_of_birth.as_str() < "2005-01-01");
        assert!(new_id().starts_with("hc_"));
    }
}
