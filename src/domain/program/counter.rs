//! What a profile says about the counter's work: when a card may be
//! renewed, how long it is valid by the holder's age, who may apply with a
//! caretaker, and which fee waivers exist.

use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;

/// A renewal window around the card's expiry date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalRule {
    /// From this long before expiry...
    pub before: HumanDuration,
    /// ...until this long after.
    pub after: HumanDuration,
}

impl Default for RenewalRule {
    fn default() -> Self {
        // IDNYC's: from 60 days before expiry to 6 months after.
        Self {
            before: "60d".parse().unwrap_or(HumanDuration::ZERO),
            after: "180d".parse().unwrap_or(HumanDuration::ZERO),
        }
    }
}

/// Cards issued to holders aged `from_age` to `to_age` (inclusive) are
/// valid `validity`; without one they do not expire.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidityBand {
    #[serde(default)]
    pub from_age: u32,
    #[serde(default)]
    pub to_age: Option<u32>,
    #[serde(default)]
    pub validity: Option<HumanDuration>,
}

/// Applicants up to `up_to_age` may apply with a caretaker, who shows the
/// relationship with one of `relationship_documents`; the requirements in
/// `waives` (by name) then do not apply (IDNYC: no photo document).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaretakerRule {
    pub up_to_age: u32,
    #[serde(default)]
    pub waives: Vec<String>,
    pub relationship_documents: Vec<String>,
}

/// Fee waiver categories (the category only is kept, sealed; never the evidence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeeWaiver {
    LowIncome,
    Homeless,
    DvSurvivor,
    Reentry,
    Veteran,
    Senior,
    Youth,
}

impl FeeWaiver {
    pub const ALL: [Self; 7] = [
        Self::LowIncome,
        Self::Homeless,
        Self::DvSurvivor,
        Self::Reentry,
        Self::Veteran,
        Self::Senior,
        Self::Youth,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LowIncome => "low_income",
            Self::Homeless => "homeless",
            Self::DvSurvivor => "dv_survivor",
            Self::Reentry => "reentry",
            Self::Veteran => "veteran",
            Self::Senior => "senior",
            Self::Youth => "youth",
        }
    }
}
