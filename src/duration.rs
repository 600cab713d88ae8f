//! Durations as the configuration writes them: a whole number and one unit,
//! `s`, `m`, `h`, `d` or `y` ("7d", "5y", "0s").
//!
//! Written by hand because the contract's grammar is deliberately narrower
//! than general-purpose parsers (no "1h30m", no "5 years"), and because a year
//! must stay a calendar year when it is added to a card's issue date.

use std::fmt;
use std::str::FromStr;
use time::{Date, Duration as Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Years,
}

/// A configured duration, keeping its unit so years stay calendar years.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration {
    pub value: u32,
    pub unit: Unit,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected a whole number followed by s, m, h, d or y (for example \"7d\")")]
pub struct DurationError;

impl HumanDuration {
    pub const ZERO: Self = Self {
        value: 0,
        unit: Unit::Seconds,
    };

    #[must_use]
    pub fn is_zero(self) -> bool {
        self.value == 0
    }

    /// Length in seconds; a year counts as 365 days here (use
    /// [`HumanDuration::add_to_date`] for calendar arithmetic).
    #[must_use]
    pub fn as_secs(self) -> u64 {
        let per = match self.unit {
            Unit::Seconds => 1,
            Unit::Minutes => 60,
            Unit::Hours => 3_600,
            Unit::Days => 86_400,
            Unit::Years => 365 * 86_400,
        };
        u64::from(self.value) * per
    }

    #[must_use]
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.as_secs())
    }

    #[must_use]
    pub fn as_span(self) -> Span {
        Span::seconds(i64::try_from(self.as_secs()).unwrap_or(i64::MAX))
    }

    /// Adds this duration to a date: years by the calendar (29 February
    /// becomes 28 February in a common year), anything else by whole days.
    #[must_use]
    pub fn add_to_date(self, date: Date) -> Option<Date> {
        match self.unit {
            Unit::Years => {
                let year = date.year().checked_add(i32::try_from(self.value).ok()?)?;
                Date::from_calendar_date(year, date.month(), date.day())
                    .or_else(|_| Date::from_calendar_date(year, date.month(), date.day() - 1))
                    .ok()
            }
            _ => date.checked_add(Span::days(i64::try_from(self.as_secs() / 86_400).ok()?)),
        }
    }
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or(DurationError)?;
        let (digits, unit) = s.split_at(split);
        if digits.is_empty() || digits.len() > 9 {
            return Err(DurationError);
        }
        let value: u32 = digits.parse().map_err(|_| DurationError)?;
        let unit = match unit {
            "s" => Unit::Seconds,
            "m" => Unit::Minutes,
            "h" => Unit::Hours,
            "d" => Unit::Days,
            "y" => Unit::Years,
            _ => return Err(DurationError),
        };
        Ok(Self { value, unit })
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Seconds => "s",
            Unit::Minutes => "m",
            Unit::Hours => "h",
            Unit::Days => "d",
            Unit::Years => "y",
        };
        write!(f, "{}{unit}", self.value)
    }
}

impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn parses_the_contract_grammar_only() {
        assert_eq!(
            "7d".parse(),
            Ok(HumanDuration {
                value: 7,
                unit: Unit::Days
            })
        );
        assert_eq!("0s".parse::<HumanDuration>().map(HumanDuration::is_zero), Ok(true));
        for bad in ["", "d", "7", "7 d", "1h30m", "-1d", "7w", "1.5h", "99999999999s"] {
            assert_eq!(bad.parse::<HumanDuration>(), Err(DurationError), "{bad}");
        }
    }

    #[test]
    fn years_are_calendar_years() {
        let five = HumanDuration {
            value: 5,
            unit: Unit::Years,
        };
        assert_eq!(five.add_to_date(date!(2026 - 11 - 22)), Some(date!(2031 - 11 - 22)));
        let one = HumanDuration {
            value: 1,
            unit: Unit::Years,
        };
        assert_eq!(one.add_to_date(date!(2028 - 02 - 29)), Some(date!(2029 - 02 - 28)));
    }
}
