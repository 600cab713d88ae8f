//! Program profiles: the document catalogue and proof rules of one city's
//! program, read from `policies/programs/<name>.toml`. The rules are data so
//! a city changes them without a release.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::duration::HumanDuration;

mod counter;
mod rules;
pub use counter::{CaretakerRule, FeeWaiver, RenewalRule, ValidityBand};
pub use rules::{Check, Counted, ProofFacts, Verdict};

/// The document types every profile's catalogue knows.
pub const BASE_CATALOGUE: &[&str] = &[
    "us_passport",
    "foreign_passport",
    "consular_id",
    "state_id",
    "drivers_license",
    "foreign_drivers_license",
    "birth_certificate",
    "foreign_birth_certificate",
    "school_id",
    "employee_id",
    "corrections_id",
    "hmis_id",
    "utility_bill",
    "lease",
    "bank_statement",
    "pay_stub",
    "property_tax_statement",
    "shelter_letter",
    "agency_letter",
];

/// What a document can prove, by the program's catalogue. Used while an
/// application is checked; nothing of it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proves {
    Identity,
    Residency,
    Photo,
    DateOfBirth,
}

impl Proves {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Residency => "residency",
            Self::Photo => "photo",
            Self::DateOfBirth => "date_of_birth",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("program profile {profile}: {message}")]
pub struct ProfileError {
    pub profile: String,
    pub message: String,
}

/// One program's rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub name: String,
    /// The rules version: `sha256:` and the first 16 hex digits of the
    /// profile's text. A card records the version it was issued under.
    #[serde(skip)]
    pub rules: String,
    pub title: String,
    pub card_validity: HumanDuration,
    #[serde(default)]
    pub min_age: u32,
    /// Whether the applicant's address is kept at all (San Francisco keeps
    /// the application but no address record).
    #[serde(default = "yes")]
    pub keep_address: bool,
    #[serde(rename = "requirement")]
    pub requirements: Vec<Requirement>,
    pub documents: BTreeMap<String, DocumentRule>,
    /// When a card may be renewed.
    #[serde(default)]
    pub renewal: RenewalRule,
    /// Validity by the holder's age at issue, first matching band wins;
    /// none: `card_validity` for everyone.
    #[serde(default, rename = "validity_band")]
    pub validity_bands: Vec<ValidityBand>,
    /// Who may apply with a caretaker, and what that changes.
    #[serde(default)]
    pub caretaker: Option<CaretakerRule>,
    /// The fee waiver categories this program offers.
    #[serde(default)]
    pub fee_waivers: Vec<FeeWaiver>,
    /// A card waiting at the counter longer than this is flagged.
    #[serde(default = "pickup_window")]
    pub pickup_window: HumanDuration,
}

fn pickup_window() -> HumanDuration {
    "90d".parse().unwrap_or(HumanDuration::ZERO)
}

fn yes() -> bool {
    true
}

/// One condition that an application must meet; `name` is what a 422 says
/// is missing. Either a single `count`, or `one_of` several alternatives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub name: String,
    #[serde(default)]
    pub count: Option<Measure>,
    #[serde(default)]
    pub at_least: u32,
    #[serde(default)]
    pub one_of: Vec<Alternative>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    pub count: Measure,
    pub at_least: u32,
}

/// What a requirement counts over the accepted documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// `points:identity`, `points:residency`: the sum of points.
    Points(Proves),
    /// `proving:photo`, `proving:photo+date_of_birth`: documents that prove all of these.
    Proving(Vec<Proves>),
    /// `class:primary`: documents of a class.
    Class(String),
    /// `documents`: accepted documents.
    Documents,
}

impl<'de> Deserialize<'de> for Measure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("unknown measure {s:?}"));
        if s == "documents" {
            return Ok(Self::Documents);
        }
        let (kind, arg) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "points" => match parse_proves(arg) {
                Some(p @ (Proves::Identity | Proves::Residency)) => Ok(Self::Points(p)),
                _ => Err(bad()),
            },
            "proving" => arg
                .split('+')
                .map(parse_proves)
                .collect::<Option<Vec<_>>>()
                .map(Self::Proving)
                .ok_or_else(bad),
            "class" if !arg.is_empty() => Ok(Self::Class(arg.to_owned())),
            _ => Err(bad()),
        }
    }
}

fn parse_proves(s: &str) -> Option<Proves> {
    match s {
        "identity" => Some(Proves::Identity),
        "residency" => Some(Proves::Residency),
        "photo" => Some(Proves::Photo),
        "date_of_birth" => Some(Proves::DateOfBirth),
        _ => None,
    }
}

/// How one document type counts in this program.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRule {
    #[serde(default)]
    pub proves: Vec<Proves>,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub identity_points: u32,
    #[serde(default)]
    pub residency_points: u32,
    /// How long after its expiry date the document is still accepted.
    #[serde(default)]
    pub expired_grace: Option<HumanDuration>,
    /// Identity points when accepted within the grace period (default: the full points).
    #[serde(default)]
    pub expired_identity_points: Option<u32>,
    /// For residency, the document must be dated (`issued_on`) within this window.
    #[serde(default)]
    pub residency_max_age: Option<HumanDuration>,
}

impl Program {
    /// Parses and checks a profile.
    ///
    /// # Errors
    /// Not TOML, unknown keys, an empty rule set, or a base document type missing.
    pub fn from_toml(expected_name: &str, text: &str) -> Result<Self, ProfileError> {
        let err = |message: String| ProfileError {
            profile: expected_name.to_owned(),
            message,
        };
        let mut program: Self = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        program.rules = format!(
            "sha256:{}",
            hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())[..8])
        );
        if program.name != expected_name {
            return Err(err(format!("declares name {:?}", program.name)));
        }
        if program.requirements.is_empty() {
            return Err(err("has no requirements".into()));
        }
        for r in &program.requirements {
            if r.count.is_some() != r.one_of.is_empty() {
                return Err(err(format!("requirement {}: give either count or one_of", r.name)));
            }
        }
        for base in BASE_CATALOGUE {
            if !program.documents.contains_key(*base) {
                return Err(err(format!("catalogue lacks document type {base}")));
            }
        }
        if let Some(c) = &program.caretaker {
            for w in &c.waives {
                if !program.requirements.iter().any(|r| &r.name == w) {
                    return Err(err(format!("caretaker waives unknown requirement {w}")));
                }
            }
            if let Some(d) = c.relationship_documents.iter().find(|d| !program.knows(d)) {
                return Err(err(format!(
                    "caretaker relationship document {d} is not in the catalogue"
                )));
            }
        }
        Ok(program)
    }

    /// How long a card issued to a holder aged `age` is valid (`None`: it
    /// does not expire). `configured` (`card_validity` in config) overrides
    /// the profile's default but not its age bands.
    #[must_use]
    pub fn validity_for(&self, age: i32, configured: Option<HumanDuration>) -> Option<HumanDuration> {
        let age = u32::try_from(age).unwrap_or(0);
        self.validity_bands
            .iter()
            .find(|b| age >= b.from_age && b.to_age.is_none_or(|t| age <= t))
            .map_or(Some(configured.unwrap_or(self.card_validity)), |b| b.validity)
    }

    /// The longest a card of this program is valid, over every age band
    /// (`None`: some card does not expire).
    #[must_use]
    pub fn longest_validity(&self, configured: Option<HumanDuration>) -> Option<HumanDuration> {
        let mut longest = configured.unwrap_or(self.card_validity);
        for band in &self.validity_bands {
            let v = band.validity?;
            if v.as_secs() > longest.as_secs() {
                longest = v;
            }
        }
        Some(longest)
    }

    /// Whether a card expiring on `expires_on` may be renewed on `today`.
    #[must_use]
    pub fn renewal_window(&self, expires_on: Date) -> Option<(Date, Date)> {
        let from = expires_on.checked_sub(time::Duration::seconds(
            i64::try_from(self.renewal.before.as_secs()).unwrap_or(0),
        ))?;
        let to = self.renewal.after.add_to_date(expires_on)?;
        Some((from, to))
    }

    #[must_use]
    pub fn knows(&self, document_type: &str) -> bool {
        self.documents.contains_key(document_type)
    }
}
