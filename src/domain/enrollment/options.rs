//! What an application may carry besides the applicant and the proofs:
//! language preferences, a caretaker for a minor, a fee waiver category and
//! how the card is delivered. Each is checked against the program; each is
//! kept sealed (the category, the tags, the relationship), never evidence.

use time::Date;

use super::checks::{check_text as text, date};
use super::{Address, EnrollContext, EnrollmentRequest};
use crate::domain::card::Delivery;
use crate::domain::error::Error;
use crate::domain::program::FeeWaiver;
use crate::duration::HumanDuration;

/// What of the options goes into the card's meta.
pub(super) struct MetaOptions {
    pub languages: Vec<String>,
    pub fee_waiver: Option<FeeWaiver>,
    pub delivery: Delivery,
    pub caretaker: bool,
    pub validity: Option<HumanDuration>,
    pub handed_over_at: Option<i64>,
}

impl Options {
    pub(super) fn for_meta(&self) -> MetaOptions {
        MetaOptions {
            languages: self.languages.clone(),
            fee_waiver: self.fee_waiver,
            delivery: self.delivery,
            caretaker: self.caretaker.is_some(),
            validity: self.validity,
            handed_over_at: self.handed_over_at,
        }
    }
}

/// The options of one application, checked.
pub(super) struct Options {
    pub languages: Vec<String>,
    /// The caretaker's relationship, when one applies with a minor.
    pub caretaker: Option<String>,
    pub fee_waiver: Option<FeeWaiver>,
    pub delivery: Delivery,
    /// Requirements that do not apply (a caretaker's waivers).
    pub waived: Vec<String>,
    /// How long the card is valid (`None`: it does not expire).
    pub validity: Option<HumanDuration>,
    /// Already printed and sent (a honey card: never on the print queue).
    pub handed_over_at: Option<i64>,
}

pub(super) fn check_options(
    req: &EnrollmentRequest,
    cx: &EnrollContext<'_>,
    age: i32,
    today: Date,
) -> Result<Options, Error> {
    let languages = check_languages(&req.applicant.languages)?;
    let (caretaker, waived) = match &req.applicant.caretaker {
        None => (None, Vec::new()),
        Some(c) => {
            let rule = cx
                .program
                .caretaker
                .as_ref()
                .filter(|r| u32::try_from(age).is_ok_and(|a| a <= r.up_to_age))
                .ok_or_else(|| {
                    Error::invalid(
                        "applicant.caretaker",
                        "this program takes no caretaker for an applicant of this age",
                    )
                })?;
            text(&c.relationship, "applicant.caretaker.relationship", 64)?;
            if c.proofs.is_empty() || c.proofs.len() > 3 {
                return Err(Error::invalid(
                    "applicant.caretaker.proofs",
                    "must list 1 to 3 documents",
                ));
            }
            for (i, p) in c.proofs.iter().enumerate() {
                let f = |name: &str| format!("applicant.caretaker.proofs[{i}].{name}");
                if !rule.relationship_documents.contains(&p.document_type) {
                    return Err(Error::invalid(
                        &f("document_type"),
                        "not a document this program accepts for the relationship",
                    ));
                }
                text(&p.issuer, &f("issuer"), 100)?;
                text(&p.number, &f("number"), 64)?;
                for (value, name) in [(&p.issued_on, "issued_on"), (&p.expires_on, "expires_on")] {
                    if let Some(d) = value {
                        if date(d, &f(name))? > today && name == "issued_on" {
                            return Err(Error::invalid(&f(name), "must not be in the future"));
                        }
                    }
                }
            }
            (Some(c.relationship.trim().to_owned()), rule.waives.clone())
        }
    };
    if let Some(w) = req.fee_waiver {
        if !cx.program.fee_waivers.contains(&w) {
            return Err(Error::invalid("fee_waiver", "not a fee waiver this program offers"));
        }
    }
    let must_pick_up =
        !matches!(req.applicant.address, Address::Residential { .. }) || req.fee_waiver == Some(FeeWaiver::DvSurvivor);
    let delivery = match req.delivery {
        Some(Delivery::Mail) if must_pick_up => {
            return Err(Error::invalid(
                "delivery",
                "must be pickup for a care-of or no address, and for a domestic violence survivor",
            ))
        }
        Some(d) => d,
        None if must_pick_up => Delivery::Pickup,
        None => Delivery::Mail,
    };
    Ok(Options {
        languages,
        caretaker,
        fee_waiver: req.fee_waiver,
        delivery,
        waived,
        validity: cx.program.validity_for(age, cx.validity),
        handed_over_at: None,
    })
}

/// Up to two BCP 47 language tags, checked and canonical.
///
/// # Errors
/// 400 naming the tag.
pub fn check_languages(tags: &[String]) -> Result<Vec<String>, Error> {
    if tags.len() > 2 {
        return Err(Error::invalid("applicant.languages", "at most two languages"));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("applicant.languages[{i}]");
        let mut parts = tag.split('-');
        let primary = parts.next().unwrap_or_default();
        let ok = tag.len() <= 35
            && (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !ok {
            return Err(Error::invalid(
                &field,
                "must be a BCP 47 language tag such as es, zh-Hant or ase",
            ));
        }
        let mut canonical = primary.to_ascii_lowercase();
        for p in tag.split('-').skip(1) {
            canonical.push('-');
            canonical.push_str(p);
        }
        if out.contains(&canonical) {
            return Err(Error::invalid(&field, "named twice"));
        }
        out.push(canonical);
    }
    Ok(out)
}
