//! Checking an application's input: uploads by their bytes, text fields,
//! dates, addresses, each proof, and the program's rules. Every refusal
//! names the field, never the value.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use time::Date;
use zeroize::Zeroizing;

use super::{Address, Applicant, EnrollContext, ProofInput, Upload, MAX_PROOFS, MAX_SCAN_BYTES, MAX_TEXT};
use crate::crypto::Commitment;
use crate::domain::error::Error;
use crate::domain::program::{Counted, Program, ProofFacts, Verdict};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Jpeg,
    Png,
    Pdf,
}

impl MediaKind {
    fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }
}

/// What the bytes are, by their signature — never by what the caller says.
#[must_use]
pub fn sniff(bytes: &[u8]) -> Option<MediaKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(MediaKind::Png)
    } else if bytes.starts_with(b"%PDF-") {
        Some(MediaKind::Pdf)
    } else {
        None
    }
}

pub(super) fn decode_upload(
    upload: &Upload,
    field: &str,
    allowed: &[MediaKind],
    max: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    // Reject before decoding anything that cannot fit.
    if upload.data.len() > max.div_ceil(3) * 4 + 4 {
        return Err(Error::PayloadTooLarge);
    }
    let bytes = Zeroizing::new(
        STANDARD
            .decode(upload.data.as_bytes())
            .map_err(|_| Error::invalid(&format!("{field}.data"), "not valid base64"))?,
    );
    if bytes.len() > max {
        return Err(Error::PayloadTooLarge);
    }
    let declared = allowed
        .iter()
        .find(|k| k.content_type() == upload.content_type)
        .ok_or_else(|| Error::invalid(&format!("{field}.content_type"), "not an accepted type"))?;
    if sniff(&bytes) != Some(*declared) {
        return Err(Error::invalid(
            &format!("{field}.data"),
            "content does not match content_type",
        ));
    }
    Ok(bytes)
}

/// A text field: 1 to `max` characters, no control characters.
///
/// # Errors
/// 400 naming `field`.
pub fn check_text(value: &str, field: &str, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if value.trim().is_empty() || n > max {
        return Err(Error::invalid(field, &format!("must be 1 to {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A date YYYY-MM-DD.
///
/// # Errors
/// 400 naming `field`.
pub fn date(value: &str, field: &str) -> Result<Date, Error> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(value, &format).map_err(|_| Error::invalid(field, "must be a date YYYY-MM-DD"))
}

/// An applicant's address lines, each a text field.
///
/// # Errors
/// 400 naming the line.
pub fn check_address(address: &Address) -> Result<(), Error> {
    check_address_at(address, "applicant.address")
}

/// An address's lines, each a text field, named under `at` in errors.
///
/// # Errors
/// 400 naming the line.
pub fn check_address_at(address: &Address, at: &str) -> Result<(), Error> {
    let check = |v: &str, f: &str| check_text(v, &format!("{at}.{f}"), MAX_TEXT);
    let opt = |v: Option<&str>, f: &str| v.map_or(Ok(()), |v| check(v, f));
    let Some(l) = address.lines() else {
        return Ok(());
    };
    opt(l.organization, "organization")?;
    check(l.line1, "line1")?;
    opt(l.line2, "line2")?;
    check(l.city, "city")?;
    opt(l.state, "state")?;
    check_text(l.postal_code, &format!("{at}.postal_code"), 16)
}

/// Whole years between `birth` and `today`.
#[must_use]
pub fn age_on(birth: Date, today: Date) -> i32 {
    let mut years = today.year() - birth.year();
    if (today.month() as u8, today.day()) < (birth.month() as u8, birth.day()) {
        years -= 1;
    }
    years
}

/// The applicant's fields; their birth date.
pub(super) fn check_applicant(a: &Applicant, today: Date) -> Result<Date, Error> {
    check_text(&a.full_name, "applicant.full_name", MAX_TEXT)?;
    let birth = date(&a.date_of_birth, "applicant.date_of_birth")?;
    if birth > today || birth.year() < 1900 {
        return Err(Error::invalid(
            "applicant.date_of_birth",
            "must be a past date after 1900",
        ));
    }
    check_address(&a.address)?;
    if let Some(g) = &a.gender {
        if g.chars().count() > 32 || g.chars().any(char::is_control) {
            return Err(Error::invalid("applicant.gender", "at most 32 characters"));
        }
    }
    Ok(birth)
}

/// The proofs, checked one by one: what the rules need of each, its
/// commitment, and its scan.
pub(super) struct CheckedProofs<'r> {
    pub(super) facts: Vec<ProofFacts<'r>>,
    pub(super) commitments: Vec<Commitment>,
    /// Scans to keep (none when retention keeps none).
    pub(super) scan_files: Vec<Zeroizing<Vec<u8>>>,
    /// Scans presented, kept or not.
    pub(super) scans_presented: usize,
}

pub(super) fn check_proofs<'r>(
    proofs: &'r [ProofInput],
    cx: &EnrollContext<'_>,
    today: Date,
) -> Result<CheckedProofs<'r>, Error> {
    if proofs.is_empty() || proofs.len() > MAX_PROOFS {
        return Err(Error::invalid("proofs", "must list 1 to 10 documents"));
    }
    let mut out = CheckedProofs {
        facts: Vec::with_capacity(proofs.len()),
        commitments: Vec::with_capacity(proofs.len()),
        scan_files: Vec::new(),
        scans_presented: 0,
    };
    for (i, p) in proofs.iter().enumerate() {
        let f = |name: &str| format!("proofs[{i}].{name}");
        if !cx.program.knows(&p.document_type) {
            return Err(Error::invalid(&f("document_type"), "not in the document catalogue"));
        }
        check_text(&p.issuer, &f("issuer"), 100)?;
        check_text(&p.number, &f("number"), 64)?;
        let issued_on = p.issued_on.as_deref().map(|d| date(d, &f("issued_on"))).transpose()?;
        let expires_on = p.expires_on.as_deref().map(|d| date(d, &f("expires_on"))).transpose()?;
        if issued_on.is_some_and(|d| d > today) {
            return Err(Error::invalid(&f("issued_on"), "must not be in the future"));
        }
        if let (Some(i), Some(e)) = (issued_on, expires_on) {
            if e < i {
                return Err(Error::invalid(&f("expires_on"), "must not be before issued_on"));
            }
        }
        if let Some(scan) = &p.scan {
            // Validated in full; whether it is kept is the retention policy's call.
            let bytes = decode_upload(
                scan,
                &f("scan"),
                &[MediaKind::Pdf, MediaKind::Jpeg, MediaKind::Png],
                MAX_SCAN_BYTES,
            )?;
            out.scans_presented += 1;
            if cx.scans.is_some() {
                out.scan_files.push(bytes);
            }
        }
        let c = cx
            .keys
            .blind
            .document(&p.document_type, &p.issuer, &p.number, cx.commitment_cost);
        if out.commitments.contains(&c) {
            return Err(Error::invalid(&f("number"), "the same document is listed twice"));
        }
        out.commitments.push(c);
        out.facts.push(ProofFacts {
            document_type: &p.document_type,
            issued_on,
            expires_on,
        });
    }
    Ok(out)
}

/// The program's rules: what each proof counts for, or 422 naming every
/// requirement that is not met.
pub(super) fn check_rules(
    program: &Program,
    birth: Date,
    today: Date,
    facts: &[ProofFacts<'_>],
    waived: &[String],
) -> Result<Vec<Option<Counted>>, Error> {
    let mut missing = Vec::new();
    if age_on(birth, today) < i32::try_from(program.min_age).unwrap_or(i32::MAX) {
        missing.push(format!("minimum_age: the program is open from age {}", program.min_age));
    }
    let counted = match program.evaluate_waiving(facts, today, waived) {
        Verdict::Met(counted) => counted,
        Verdict::Missing(m) => {
            missing.extend(m);
            Vec::new()
        }
    };
    if missing.is_empty() {
        Ok(counted)
    } else {
        Err(Error::InsufficientProof { missing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn sniffs_by_signature() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(MediaKind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(MediaKind::Png));
        assert_eq!(sniff(b"%PDF-1.7"), Some(MediaKind::Pdf));
        assert_eq!(sniff(b"GIF89a"), None);
    }

    #[test]
    fn age_counts_whole_years() {
        assert_eq!(age_on(date!(1990 - 04 - 12), date!(2026 - 04 - 11)), 35);
        assert_eq!(age_on(date!(1990 - 04 - 12), date!(2026 - 04 - 12)), 36);
    }
}
