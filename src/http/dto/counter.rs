//! The counter's answers: a card looked up, renewed, replaced, updated,
//! printed or picked up, and the print queue.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::card::Delivery;

/// `GET /v1/cardholders/{card}?purpose=card_administration` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardLookup {
    pub card_number: String,
    /// `active`, `expired`, `revoked`, `replaced` or `erasure_requested`.
    pub status: String,
    #[schema(format = Date)]
    pub issued_on: String,
    /// `null` for a card that does not expire.
    #[schema(format = Date)]
    pub expires_on: Option<String>,
    /// For the counter's check against the holder in front of it.
    pub full_name: String,
    /// `null` for a card that is not active or does not expire.
    pub renewal: Option<Renewal>,
    pub delivery: Delivery,
    /// `to_print`, `to_pick_up`, `mailed` or `picked_up`.
    pub counter: String,
    /// The number of the card this one replaced, if any.
    pub replaces: Option<String>,
    /// The number of the card that replaced this one, if any.
    pub replaced_by: Option<String>,
    pub languages: Vec<String>,
}

/// Whether a card may be renewed today, and when it may.
#[derive(Debug, Serialize, ToSchema)]
pub struct Renewal {
    pub eligible: bool,
    /// First and last day of the renewal window.
    pub window: [String; 2],
}

/// `POST /v1/cardholders/{card}/renew` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct Renewed {
    pub card_number: String,
    /// `null` for a card that does not expire.
    #[schema(format = Date)]
    pub expires_on: Option<String>,
}

/// `POST /v1/cardholders/{card}/replace` → 201.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replaced {
    /// The new card's number.
    pub card_number: String,
    /// The old number, which answers `card_valid: false` from now on.
    pub replaces: String,
    #[schema(format = Date)]
    pub expires_on: Option<String>,
}

/// `POST /v1/cardholders/{card}/update` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct Updated {
    pub card_number: String,
    /// Whether the card goes back to the print queue (name or address changed).
    pub reprint: bool,
}

/// `POST /v1/cardholders/{card}/printed` and `/picked-up` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterStep {
    pub card_number: String,
    /// `to_pick_up`, `mailed` or `picked_up`.
    pub counter: String,
}

/// `GET /v1/print-queue` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintQueue {
    pub cards: Vec<QueuedCard>,
}

/// One card on the counter's queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedCard {
    pub card_number: String,
    pub full_name: String,
    pub delivery: Delivery,
    /// `to_print` or `to_pick_up`.
    pub state: String,
    /// Waiting at the counter longer than the program's pickup window.
    pub flagged: bool,
}

/// `POST /v1/cardholders/{card}/access-report` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessReportAnswer {
    pub card_number: String,
    /// The letter's language (its BCP 47 tag: `en`, `es`, `zh-Hant`, `ru`,
    /// `bn`, `ht`, `ko`, `ar`, `ur`, `fr` or `pl`).
    pub language: String,
    /// Oldest first.
    pub entries: Vec<crate::domain::access_report::ReportEntry>,
    /// Always `null`: the letter says that some entries may be withheld for
    /// now; a date here would tell the holder a prohibited request exists.
    pub withheld_until: Option<String>,
    /// Markdown, in the holder's language.
    pub letter: String,
}
