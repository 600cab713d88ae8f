//! The quarterly report, in the shape of NYC Local Law 35's IDNYC report:
//! applications received, cards issued and denied (by the requirement not
//! met), renewals, replacements and updates, fee waivers by category,
//! language preferences, and legal requests by process and outcome. Counts
//! only, and every count under 10 shown as "<10", so no cell can point at
//! a person.
//!
//! Where the counts come from: requests and their outcomes from the audit
//! chain (which holds no personal data); waiver categories and languages
//! from the sealed meta of the cards issued in the quarter (opened here,
//! counted, never returned); legal requests from the stored answers'
//! summaries. Cards destroyed since are no longer counted in the last two.
//! Honey cards are in no figure: their `enroll` entries (written as a
//! real enrollment's, see `vault::honey`) and their records are skipped;
//! the report gives how many were created in the quarter on a line of its
//! own.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use time::{Date, Month};

use crate::domain::access;
use crate::domain::error::Error;
use crate::domain::program::FeeWaiver;
use crate::domain::store::Store;
use crate::vault::Vault;

/// A count as published: the number, or "<10".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Count {
    Exact(u64),
    Suppressed(String),
}

impl Count {
    fn of(n: u64) -> Self {
        if n < 10 {
            Self::Suppressed("<10".into())
        } else {
            Self::Exact(n)
        }
    }
}

/// The report of one quarter.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QuarterlyReport {
    pub program: String,
    pub year: i32,
    pub quarter: u8,
    /// First and last day of the quarter (UTC).
    #[schema(value_type = Vec<String>)]
    pub period: [String; 2],
    /// Enrollments asked for, by outcome: `received`, `issued`, `denied`
    /// (proofs short of the rules), `duplicate` (a document already behind a card).
    pub applications: BTreeMap<String, Count>,
    /// Denials by the requirement not met (one application may miss several).
    pub denied_by_missing_requirement: BTreeMap<String, Count>,
    /// `renewed`, `replaced`, `updated`, `revoked`, `erasure_requested`.
    pub cards: BTreeMap<String, Count>,
    /// Cards issued in the quarter by fee waiver category.
    pub fee_waivers: BTreeMap<String, Count>,
    /// Cards issued in the quarter by language preference.
    pub languages: BTreeMap<String, Count>,
    /// Legal requests answered in the quarter: process → outcome → count.
    pub legal_requests: BTreeMap<String, BTreeMap<String, Count>>,
    /// Honey cards (canaries, see SECURITY.md) created in the quarter: on a
    /// line of their own, counted in no figure above, so a published report
    /// can leave this line out.
    pub honey_cards: u64,
    pub note: String,
}

/// The first and last day of `quarter` (1 to 4) of `year`.
///
/// # Errors
/// A quarter outside 1 to 4, or a year the calendar cannot hold (400).
pub fn quarter_days(year: i32, quarter: u8) -> Result<(Date, Date), Error> {
    if !(1..=4).contains(&quarter) {
        return Err(Error::invalid("quarter", "must be 1 to 4"));
    }
    if !(2000..=9999).contains(&year) {
        return Err(Error::invalid("year", "must be a year from 2000"));
    }
    let first = Month::try_from(3 * quarter - 2).map_err(|_| Error::invalid("quarter", "must be 1 to 4"))?;
    let start = Date::from_calendar_date(year, first, 1).map_err(|_| Error::invalid("year", "not a date"))?;
    let last_month = Month::try_from(3 * quarter).map_err(|_| Error::invalid("quarter", "must be 1 to 4"))?;
    let end = Date::from_calendar_date(year, last_month, last_month.length(year))
        .map_err(|_| Error::invalid("year", "not a date"))?;
    Ok((start, end))
}

/// Counts of the quarter, raw (before suppression).
#[derive(Default)]
struct Tally {
    applications: BTreeMap<String, u64>,
    denied: BTreeMap<String, u64>,
    cards: BTreeMap<String, u64>,
    waivers: BTreeMap<String, u64>,
    languages: BTreeMap<String, u64>,
    legal: BTreeMap<String, BTreeMap<String, u64>>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_owned()).or_default() += 1;
}

/// The report of `quarter` of `year`.
///
/// # Errors
/// A bad quarter (400), or a store read failed.
pub async fn quarterly(v: &Arc<Vault>, year: i32, quarter: u8) -> Result<QuarterlyReport, Error> {
    let (start, end) = quarter_days(year, quarter)?;
    let from = start.midnight().assume_utc().unix_timestamp();
    let to = end
        .next_day()
        .map_or(i64::MAX, |d| d.midnight().assume_utc().unix_timestamp());
    let vault = Arc::clone(v);
    let tally = tokio::task::spawn_blocking(move || count(&vault, from, to, start, end))
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
    let suppress = |m: BTreeMap<String, u64>| m.into_iter().map(|(k, n)| (k, Count::of(n))).collect();
    let mut waivers: BTreeMap<String, u64> = v
        .program
        .fee_waivers
        .iter()
        .map(|w| (w.as_str().to_owned(), 0))
        .collect();
    waivers.extend(tally.waivers);
    Ok(QuarterlyReport {
        program: v.program.name.clone(),
        year,
        quarter,
        period: [start.to_string(), end.to_string()],
        applications: suppress(tally.applications),
        denied_by_missing_requirement: suppress(tally.denied),
        cards: suppress(tally.cards),
        fee_waivers: suppress(waivers),
        languages: suppress(tally.languages),
        legal_requests: tally.legal.into_iter().map(|(k, m)| (k, suppress(m))).collect(),
        honey_cards: v.honey.created_between(from, to),
        note: "every count under 10 is shown as \"<10\"".into(),
    })
}

/// One walk of the audit chain, the cards and the legal answers.
fn count(v: &Vault, from: i64, to: i64, start: Date, end: Date) -> Result<Tally, Error> {
    let mut t = Tally::default();
    for key in ["received", "issued", "denied", "duplicate"] {
        t.applications.insert(key.into(), 0);
    }
    for key in ["renewed", "replaced", "updated", "revoked", "erasure_requested"] {
        t.cards.insert(key.into(), 0);
    }
    let rfc = |at: &str| {
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .map_or(0, time::OffsetDateTime::unix_timestamp)
    };
    v.store.audit_each(0, &mut |e| {
        let at = rfc(&e.at);
        if at < from || at >= to || e.outcome == "unauthenticated" {
            return;
        }
        match (e.action.as_str(), e.outcome.as_str()) {
            // A honey card's enrollment is no application.
            ("enroll", _) if e.subject.as_deref().is_some_and(|s| v.honey.about(s).is_some()) => {}
            ("enroll", outcome @ ("ok" | "insufficient_proof" | "duplicate_enrollment")) => {
                bump(&mut t.applications, "received");
                let key = match outcome {
                    "ok" => "issued",
                    "insufficient_proof" => "denied",
                    _ => "duplicate",
                };
                bump(&mut t.applications, key);
                for m in &e.missing {
                    bump(&mut t.denied, m);
                }
            }
            ("renew_card", "ok") => bump(&mut t.cards, "renewed"),
            ("replace_card", "ok") => bump(&mut t.cards, "replaced"),
            ("update_card", "ok") => bump(&mut t.cards, "updated"),
            ("revoke_card", "ok") => bump(&mut t.cards, "revoked"),
            ("erase_card", "ok") => bump(&mut t.cards, "erasure_requested"),
            _ => {}
        }
    })?;
    // Honey cards are counted on their own line, never here.
    let honey = v.honey.card_ids();
    let mut after = None;
    loop {
        let page = v.store.card_page(after, 1000)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        for (id, record) in page {
            if honey.contains(&id) {
                continue;
            }
            let Ok(card) = access::open_card(&v.keys, &id, record) else {
                continue;
            };
            let new_in_quarter = card.replaces.is_none() && card.issued_on >= start && card.issued_on <= end;
            if !new_in_quarter {
                continue;
            }
            if let Some(w) = card.fee_waiver {
                bump(&mut t.waivers, FeeWaiver::as_str(w));
            }
            for l in &card.languages {
                bump(&mut t.languages, l);
            }
        }
    }
    for (at, summary) in v.store.legal_summaries()? {
        if at < from || at >= to {
            continue;
        }
        let Ok(s) = serde_json::from_slice::<crate::domain::legal::AnswerSummary>(&summary) else {
            continue;
        };
        *t.legal
            .entry(s.process.as_str().to_owned())
            .or_default()
            .entry(s.outcome.clone())
            .or_default() += 1;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_and_suppression() {
        let (s, e) = quarter_days(2026, 4).unwrap();
        assert_eq!(
            (s.to_string(), e.to_string()),
            ("2026-10-01".into(), "2026-12-31".into())
        );
        let (s, e) = quarter_days(2024, 1).unwrap();
        assert_eq!(
            (s.to_string(), e.to_string()),
            ("2024-01-01".into(), "2024-03-31".into())
        );
        assert!(quarter_days(2026, 5).is_err());
        assert_eq!(Count::of(9), Count::Suppressed("<10".into()));
        assert_eq!(Count::of(0), Count::Suppressed("<10".into()));
        assert_eq!(Count::of(10), Count::Exact(10));
    }
}
