//! Match facts' comparisons: whether what a caller read off a card (or was
//! told) is what the sealed record holds, after a documented normalisation,
//! so that the way a bank's clerk typed a name does not decide the answer.
//!
//! Both sides are normalised the same way:
//! - Unicode compatibility decomposition (NFKD, by the `unicode-normalization`
//!   crate), then every combining mark dropped: accents and other diacritics
//!   do not count ("Pérez" = "Perez", "Núñez" = "Nunez"); full-width and
//!   ligature forms read as their plain letters.
//! - Lower case (Unicode's full lowercase mapping).
//! - Apostrophes and invisible format characters (ZWJ, ZWNJ, soft hyphen)
//!   are dropped ("O'Brien" = "OBrien"); every other character that is not
//!   a letter or a digit — spaces of any kind, hyphens and dashes, commas,
//!   periods, slashes — separates words, and repeated separators are one.
//!
//! Names then match when they hold the same words in any order (given names
//! in either order, a family name written first), or the same letters in the
//! same order once spaces are ignored ("De la Cruz" = "Delacruz"). Every
//! word counts: a missing middle name does not match. Letters that Unicode
//! does not decompose into a base letter and a mark (ø, ł, æ, ß, đ) compare
//! as themselves, and there is no transliteration between scripts
//! ("Мария" is not "Maria"): both are out of scope, and say "no".
//!
//! Addresses match when the kind is the same and each line the record holds
//! matches once spaces are ignored, the street as line1 and line2 together
//! (so an apartment written on either line matches). Abbreviations are not
//! expanded ("St" is not "Street"). A state the record does not hold is not
//! compared (the program's own state); a postal code matches its ZIP+4.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::enrollment::Address;

/// The words of `text`, normalised as the module says.
#[must_use]
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.nfkd() {
        if is_combining_mark(c) || is_dropped(c) {
            continue;
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Apostrophes join the letters either side; invisible characters are not there.
fn is_dropped(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}') || super::text::is_hidden(c)
}

/// Whether a claimed full name is the stored one.
#[must_use]
pub fn names_match(claimed: &str, stored: &str) -> bool {
    let (mut a, mut b) = (words(claimed), words(stored));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a.concat() == b.concat() {
        return true;
    }
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// One address line's letters and digits, in order, spaces ignored.
fn line(text: &str) -> String {
    words(text).concat()
}

/// Whether two postal codes are the same, or one is the other's ZIP+4.
fn postal_codes_match(claimed: &str, stored: &str) -> bool {
    let (a, b) = (line(claimed), line(stored));
    let zip4 = |long: &str, short: &str| {
        short.len() == 5 && long.len() == 9 && long.bytes().all(|c| c.is_ascii_digit()) && long.starts_with(short)
    };
    !a.is_empty() && (a == b || zip4(&a, &b) || zip4(&b, &a))
}

/// An address's parts: kind, organization, street (line1 and line2), city,
/// state, postal code; `None` for an address of kind `none`.
type Parts<'a> = (&'a str, Option<&'a str>, String, &'a str, Option<&'a str>, &'a str);

fn parts(a: &Address) -> Option<Parts<'_>> {
    let l = a.lines()?;
    let kind = if l.organization.is_some() {
        "care_of"
    } else {
        "residential"
    };
    let street = line(&format!("{} {}", l.line1, l.line2.unwrap_or_default()));
    Some((kind, l.organization, street, l.city, l.state, l.postal_code))
}

/// Whether a claimed address is the stored one (a record without an
/// address holds one of kind `none`).
#[must_use]
pub fn addresses_match(claimed: &Address, stored: Option<&Address>) -> bool {
    let stored = stored.and_then(parts);
    match (parts(claimed), stored) {
        (None, None) => true,
        (Some(c), Some(s)) => {
            let same = |a: &str, b: &str| {
                let a = line(a);
                !a.is_empty() && a == line(b)
            };
            c.0 == s.0
                && match (c.1, s.1) {
                    (Some(a), Some(b)) => same(a, b),
                    _ => true,
                }
                && !c.2.is_empty()
                && c.2 == s.2
                && same(c.3, s.3)
                && s.4.is_none_or(|b| c.4.is_some_and(|a| same(a, b)))
                && postal_codes_match(c.5, s.5)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_case_accents_spacing_hyphens_and_order() {
        let stored = "Ana Lucía Pérez-García";
        for same in [
            "Ana Lucía Pérez-García",
            "ANA LUCIA PEREZ GARCIA",
            "  ana   lucía  pérez garcía ",
            "Lucía Ana Pérez García",
            "Pérez García, Ana Lucía",
            "Ana Lucia Perez\u{2010}Garcia",
            "Ana Luci\u{0301}a Pe\u{0301}rez Garci\u{0301}a",
            "Ａｎａ Lucía Pérez García",
        ] {
            assert!(names_match(same, stored), "{same}");
        }
        for other in [
            "Ana Pérez García",
            "Ana Lucía Pérez",
            "Ana Lucía Pérez García Soto",
            "Ana Luisa Pérez García",
            "",
            "-",
        ] {
            assert!(!names_match(other, stored), "{other}");
        }
        assert!(names_match("Sean O'Brien", "Seán OBrien"));
        assert!(names_match("Maria De la Cruz", "MARIA DELACRUZ"));
        assert!(names_match("محمد علي", "علي محمد"));
        // Transliteration is out of scope.
        assert!(!names_match("Maria", "Мария"));
    }

    #[test]
    fn persian_joiners_neither_split_nor_count() {
        assert_eq!(words("می\u{200C}خواهم"), vec!["میخواهم".to_owned()]);
    }

    fn home(line1: &str, line2: Option<&str>, state: Option<&str>, zip: &str) -> Address {
        Address::Residential {
            line1: line1.into(),
            line2: line2.map(Into::into),
            city: "Hartford".into(),
            state: state.map(Into::into),
            postal_code: zip.into(),
        }
    }

    #[test]
    fn addresses_compare_by_kind_and_line() {
        let stored = home("12 Main St", Some("Apt 4"), None, "06103");
        assert!(addresses_match(
            &home("12 MAIN ST.", Some("apt. 4"), None, "06103"),
            Some(&stored)
        ));
        assert!(addresses_match(
            &home("12 Main St Apt 4", None, Some("CT"), "06103-1234"),
            Some(&stored)
        ));
        assert!(!addresses_match(
            &home("12 Main St", None, None, "06103"),
            Some(&stored)
        ));
        assert!(!addresses_match(
            &home("12 Main Street", Some("Apt 4"), None, "06103"),
            Some(&stored)
        ));
        assert!(!addresses_match(
            &home("12 Main St", Some("Apt 4"), None, "06104"),
            Some(&stored)
        ));
        let with_state = home("12 Main St", None, Some("CT"), "06103");
        assert!(!addresses_match(
            &home("12 Main St", None, None, "06103"),
            Some(&with_state)
        ));
        assert!(!addresses_match(
            &home("12 Main St", None, Some("NY"), "06103"),
            Some(&with_state)
        ));
        assert!(addresses_match(&Address::None, Some(&Address::None)));
        assert!(addresses_match(&Address::None, None));
        assert!(!addresses_match(&Address::None, Some(&stored)));
        assert!(!addresses_match(&stored, Some(&Address::None)));
        let shelter = Address::CareOf {
            organization: "Mercy Shelter".into(),
            line1: "12 Main St".into(),
            line2: Some("Apt 4".into()),
            city: "Hartford".into(),
            state: None,
            postal_code: "06103".into(),
        };
        assert!(!addresses_match(&stored, Some(&shelter)));
    }
}
