//! Attested facts: minimal answers about the one card a holder presented.
//! There is no search: a fact is always about a card number in hand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use time::Date;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::access::Permit;
use super::card::OpenCard;
use super::enrollment::{age_on, Address, SealedFields};
use super::error::Error;
use super::matching::{addresses_match, names_match};

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
    /// card_valid, resident, age_over_N (N a configured threshold),
    /// name_matches, birth_date_matches, address_matches.
    #[schema(value_type = Vec<String>, example = json!(["card_valid", "resident", "age_over_18"]))]
    pub facts: Vec<String>,
    /// What the caller read off the card or was told, for the match facts
    /// asked (each match fact needs its claim; a claim no fact asks about is
    /// refused). Compared with the record, never stored or logged.
    #[serde(default)]
    pub claims: Option<Claims>,
}

/// Match facts' claims. Never printed: `Debug` shows which are present.
#[derive(Default, Deserialize, Zeroize, ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// For `name_matches`: the full name as read (at most 200 characters).
    #[serde(default)]
    pub full_name: Option<String>,
    /// For `birth_date_matches`: YYYY-MM-DD.
    #[serde(default)]
    #[schema(format = Date)]
    pub date_of_birth: Option<String>,
    /// For `address_matches`: the address as enrollment takes it.
    #[serde(default)]
    pub address: Option<Address>,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |present: bool| if present { "***" } else { "-" };
        f.debug_struct("Claims")
            .field("full_name", &shown(self.full_name.is_some()))
            .field("date_of_birth", &shown(self.date_of_birth.is_some()))
            .field("address", &shown(self.address.is_some()))
            .finish()
    }
}

/// A fact the vault can attest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    CardValid,
    Resident,
    AgeOver(u32),
    /// The claimed full name is the holder's (see `matching`).
    NameMatches,
    /// The claimed date of birth is the holder's.
    BirthDateMatches,
    /// The claimed address is the holder's.
    AddressMatches,
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
            "name_matches" => Ok(Self::NameMatches),
            "birth_date_matches" => Ok(Self::BirthDateMatches),
            "address_matches" => Ok(Self::AddressMatches),
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
            Self::NameMatches => "name_matches".into(),
            Self::BirthDateMatches => "birth_date_matches".into(),
            Self::AddressMatches => "address_matches".into(),
        }
    }

    /// The claim a match fact compares, by its field name.
    #[must_use]
    pub fn claim(self) -> Option<&'static str> {
        match self {
            Self::NameMatches => Some("full_name"),
            Self::BirthDateMatches => Some("date_of_birth"),
            Self::AddressMatches => Some("address"),
            _ => None,
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

/// The claims of a request, checked against the facts it asks.
#[derive(Default)]
pub struct Claimed {
    full_name: Option<Zeroizing<String>>,
    date_of_birth: Option<Date>,
    address: Option<Address>,
}

/// A claim as long as a name or address line may be.
const MAX_CLAIM: usize = 200;

impl Claimed {
    /// Checks `claims` for `facts`: each match fact asked has its claim,
    /// well formed, and no claim is given that no fact asks about.
    ///
    /// # Errors
    /// 400 naming the claim (`claims.full_name`, …), never echoing it.
    pub fn check(facts: &[Fact], claims: Option<&Claims>) -> Result<Self, Error> {
        let empty = Claims::default();
        let claims = claims.unwrap_or(&empty);
        let asked = |name: &str| facts.iter().any(|f| f.claim() == Some(name));
        let given = [
            ("full_name", claims.full_name.is_some()),
            ("date_of_birth", claims.date_of_birth.is_some()),
            ("address", claims.address.is_some()),
        ];
        for (name, present) in given {
            match (asked(name), present) {
                (true, false) => {
                    return Err(Error::invalid(
                        &format!("claims.{name}"),
                        "the match fact asked needs it",
                    ))
                }
                (false, true) => {
                    return Err(Error::invalid(
                        &format!("claims.{name}"),
                        "no match fact asked needs it",
                    ))
                }
                _ => {}
            }
        }
        let full_name = claims.full_name.as_deref().map(check_name).transpose()?;
        let date_of_birth = claims
            .date_of_birth
            .as_deref()
            .map(|d| super::enrollment::parse_date(d, "claims.date_of_birth"))
            .transpose()?;
        if let Some(a) = &claims.address {
            super::enrollment::check_address_at(a, "claims.address")?;
        }
        Ok(Self {
            full_name,
            date_of_birth,
            address: claims.address.clone(),
        })
    }
}

fn check_name(name: &str) -> Result<Zeroizing<String>, Error> {
    super::enrollment::check_text(name, "claims.full_name", MAX_CLAIM)?;
    if super::matching::words(name).is_empty() {
        return Err(Error::invalid("claims.full_name", "must hold a letter or a digit"));
    }
    Ok(Zeroizing::new(name.to_owned()))
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

/// A fact's value, or why it is withheld.
pub type FactValue = Result<bool, Withheld>;

/// The sealed parts of a valid card that facts compare with, each opened
/// only with the permit of a released fact that needs it.
pub trait Sealed {
    /// The holder's date of birth.
    ///
    /// # Errors
    /// The record does not open.
    fn birth_date(&mut self, permit: &Permit, card: &OpenCard) -> Result<Date, Error>;

    /// The holder's sealed fields (name, address).
    ///
    /// # Errors
    /// The record does not open.
    fn fields(&mut self, permit: &Permit, card: &OpenCard) -> Result<SealedFields, Error>;
}

/// What has been opened so far: each part at most once per query.
#[derive(Default)]
struct Opened {
    birth: Option<Date>,
    fields: Option<SealedFields>,
}

impl Opened {
    /// Opens what `fact` needs, if not yet open.
    fn for_fact(
        &mut self,
        fact: Fact,
        permit: &Permit,
        card: &OpenCard,
        sealed: &mut impl Sealed,
    ) -> Result<(), Error> {
        match fact {
            Fact::AgeOver(_) | Fact::BirthDateMatches if self.birth.is_none() => {
                self.birth = Some(sealed.birth_date(permit, card)?);
            }
            Fact::NameMatches | Fact::AddressMatches if self.fields.is_none() => {
                self.fields = Some(sealed.fields(permit, card)?);
            }
            _ => {}
        }
        Ok(())
    }

    /// The value of `fact` about a valid card.
    fn value(&self, fact: Fact, claimed: &Claimed, today: Date) -> FactValue {
        let missing = Err(Withheld::CardNotValid);
        match fact {
            // Every program issues cards only to applicants who proved
            // residency (each profile requires it), so a valid card is a
            // resident's; the record keeps no per-proof facts to say more.
            Fact::CardValid | Fact::Resident => Ok(true),
            Fact::AgeOver(n) => self
                .birth
                .map(|b| age_on(b, today) >= i32::try_from(n).unwrap_or(i32::MAX))
                .ok_or(Withheld::CardNotValid),
            Fact::BirthDateMatches => match (self.birth, claimed.date_of_birth) {
                (Some(b), Some(c)) => Ok(b == c),
                _ => missing,
            },
            Fact::NameMatches => match (&self.fields, &claimed.full_name) {
                (Some(f), Some(c)) => Ok(names_match(c, &f.full_name)),
                _ => missing,
            },
            Fact::AddressMatches => match (&self.fields, &claimed.address) {
                (Some(f), Some(c)) => Ok(addresses_match(c, f.address.as_ref())),
                _ => missing,
            },
        }
    }
}

/// Each fact's value, or why it is withheld, in the order asked. `permits`
/// holds each fact's permit when Cedar allowed it. A card that is not valid
/// answers `card_valid: false` and withholds every other fact; for a valid
/// one, each sealed part is opened at most once, with the permit of the
/// first released fact that needs it.
///
/// # Errors
/// A sealed part of a valid card did not open.
pub fn evaluate(
    facts: &[Fact],
    permits: &[Option<&Permit>],
    card: Option<&OpenCard>,
    claimed: &Claimed,
    today: Date,
    sealed: &mut impl Sealed,
) -> Result<Vec<(Fact, FactValue)>, Error> {
    let valid = card.filter(|c| c.is_valid_on(today));
    let mut opened = Opened::default();
    let mut out = Vec::with_capacity(facts.len());
    for (fact, permit) in facts.iter().zip(permits) {
        let value = match (permit, valid) {
            (None, _) => Err(Withheld::NotPermitted),
            (Some(_), None) if *fact == Fact::CardValid => Ok(false),
            (Some(_), None) => Err(Withheld::CardNotValid),
            (Some(permit), Some(card)) => {
                opened.for_fact(*fact, permit, card, sealed)?;
                opened.value(*fact, claimed, today)
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
