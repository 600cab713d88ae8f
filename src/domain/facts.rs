//! Attested facts: minimal answers about the one card a holder presented.
//! There is no search: a fact is always about a card number in hand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use time::Date;

use super::card::OpenCard;
use super::enrollment::age_on;
use super::error::Error;

/// Facts a request may ask for at most.
const MAX_FACTS: usize = 16;

/// `POST /v1/facts`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactRequest {
    /// The number printed on the card presented.
    #[schema(pattern = "^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")]
    pub card_number: String,
    /// Why the system asks; one of the system's registered purposes.
    #[schema(value_type = crate::domain::vocab::Purpose)]
    pub purpose: String,
    /// card_valid, resident, age_over_N (N a configured threshold).
    #[schema(value_type = Vec<String>, example = json!(["card_valid", "resident", "age_over_18"]))]
    pub facts: Vec<String>,
}

/// A fact the vault can attest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    CardValid,
    Resident,
    AgeOver(u32),
}

impl Fact {
    /// Parses a fact name; `age_over_N` only for configured thresholds.
    ///
    /// # Errors
    /// 400 `unknown_fact`.
    pub fn parse(name: &str, thresholds: &[u32]) -> Result<Self, Error> {
        match name {
            "card_valid" => Ok(Self::CardValid),
            "resident" => Ok(Self::Resident),
            _ => name
                .strip_prefix("age_over_")
                // Digits only: `u32::from_str` would take "+18" as 18.
                .filter(|n| !n.starts_with('0') && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| thresholds.contains(n))
                .map(Self::AgeOver)
                .ok_or_else(|| Error::UnknownFact("facts".into())),
        }
    }

    #[must_use]
    pub fn name(self) -> String {
        match self {
            Self::CardValid => "card_valid".into(),
            Self::Resident => "resident".into(),
            Self::AgeOver(n) => format!("age_over_{n}"),
        }
    }
}

/// Parses the requested facts, keeping order and dropping repeats.
///
/// # Errors
/// 400 when the list is empty, too long, or names an unknown fact.
pub fn parse_facts(names: &[String], thresholds: &[u32]) -> Result<Vec<Fact>, Error> {
    if names.is_empty() || names.len() > MAX_FACTS {
        return Err(Error::invalid("facts", "must list 1 to 16 facts"));
    }
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let f = Fact::parse(n, thresholds)?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

/// Why a fact is not in the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withheld {
    /// No policy released it to this caller for this purpose.
    NotPermitted,
    /// The card is unknown, revoked or expired (the three are not told apart).
    CardNotValid,
}

impl Withheld {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotPermitted => "not_permitted",
            Self::CardNotValid => "card_not_valid",
        }
    }
}

/// The value of a permitted fact. `birth` is opened only when an age fact
/// was permitted, by the caller holding that permit.
///
/// # Errors
/// The reason the fact is withheld.
pub fn value_of(fact: Fact, card: Option<&OpenCard>, birth: Option<Date>, today: Date) -> Result<bool, Withheld> {
    let valid = card.is_some_and(|c| c.is_valid_on(today));
    match fact {
        Fact::CardValid => Ok(valid),
        _ if !valid => Err(Withheld::CardNotValid),
        // Every program issues cards only to applicants who proved residency
        // (each profile requires it), so a valid card is a resident's; the
        // record keeps no per-proof facts to say more.
        Fact::Resident => Ok(true),
        Fact::AgeOver(n) => birth
            .map(|b| age_on(b, today) >= i32::try_from(n).unwrap_or(i32::MAX))
            .ok_or(Withheld::CardNotValid),
    }
}

/// A fact's value, or why it is withheld.
pub type FactValue = Result<bool, Withheld>;

/// Each fact's value, or why it is withheld, in the order asked. `permits`
/// holds each fact's permit when Cedar allowed it. The birth date is opened
/// at most once, through `open_birth` with an age fact's permit, and only
/// for a valid card.
///
/// # Errors
/// The birth date of a valid card did not open.
pub fn evaluate(
    facts: &[Fact],
    permits: &[Option<&super::access::Permit>],
    card: Option<&OpenCard>,
    today: Date,
    mut open_birth: impl FnMut(&super::access::Permit, &OpenCard) -> Result<Date, Error>,
) -> Result<Vec<(Fact, FactValue)>, Error> {
    let mut birth = None;
    let mut out = Vec::with_capacity(facts.len());
    for (fact, permit) in facts.iter().zip(permits) {
        let value = match permit {
            None => Err(Withheld::NotPermitted),
            Some(permit) => {
                if matches!(fact, Fact::AgeOver(_)) && birth.is_none() {
                    if let Some(c) = card.filter(|c| c.is_valid_on(today)) {
                        birth = Some(open_birth(permit, c)?);
                    }
                }
                value_of(*fact, card, birth, today)
            }
        };
        out.push((*fact, value));
    }
    Ok(out)
}

/// How many distinct cards each principal asked about in the last hour:
/// the bulk guard's input. Kept in memory (a restart forgets it, which only
/// ever lowers the count for one hour).
#[derive(Default)]
pub struct DistinctCards {
    by_principal: Mutex<HashMap<String, Window>>,
}

#[derive(Default)]
struct Window {
    /// card key → last time asked
    last: HashMap<u64, i64>,
    /// (time, card key) in arrival order, for expiry
    order: VecDeque<(i64, u64)>,
}

const HOUR: i64 = 3_600;

impl DistinctCards {
    /// Records that `principal` asked about `card` at `now` (unix seconds);
    /// returns the distinct cards in the hour up to now, this one included.
    pub fn observe(&self, principal: &str, card: &[u8; 32], now: i64) -> i64 {
        let key = u64::from_le_bytes([card[0], card[1], card[2], card[3], card[4], card[5], card[6], card[7]]);
        let mut map = self.by_principal.lock().unwrap_or_else(PoisonError::into_inner);
        let w = map.entry(principal.to_owned()).or_default();
        while let Some(&(t, k)) = w.order.front() {
            if t > now - HOUR {
                break;
            }
            w.order.pop_front();
            if w.last.get(&k) == Some(&t) {
                w.last.remove(&k);
            }
        }
        if w.last.insert(key, now) != Some(now) {
            w.order.push_back((now, key));
        }
        i64::try_from(w.last.len()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_ages_are_facts() {
        let t = [13, 18, 21, 62, 65];
        assert_eq!(Fact::parse("age_over_18", &t).unwrap(), Fact::AgeOver(18));
        for bad in [
            "age_over_19",
            "age_over_018",
            "age_over_+18",
            "age_over_ 18",
            "age_over_",
            "age_over_-1",
            "age",
            "birth_date",
            "name",
        ] {
            assert!(matches!(Fact::parse(bad, &t), Err(Error::UnknownFact(_))), "{bad}");
        }
    }

    #[test]
    fn distinct_cards_slide_over_an_hour() {
        let d = DistinctCards::default();
        assert_eq!(d.observe("p", &[1; 32], 0), 1);
        assert_eq!(d.observe("p", &[1; 32], 10), 1);
        assert_eq!(d.observe("p", &[2; 32], 20), 2);
        assert_eq!(d.observe("q", &[2; 32], 20), 1);
        // Card 1 was last asked at 10: it has left the window at 3610.
        assert_eq!(d.observe("p", &[3; 32], 3_610), 2);
        assert_eq!(d.observe("p", &[3; 32], 3_621), 1);
    }
}
