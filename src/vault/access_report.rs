//! The cardholder's access report, assembled: the card's audit entries
//! through the audit index, the legal answers' summaries, and the letter in
//! the holder's language. The HTTP skin decides (Cedar action
//! `access_report`, purpose `card_administration`) and audits it.

use std::sync::Arc;

use crate::domain::access::{self, Permit};
use crate::domain::access_report::{entries, LegalAnswers, ReportEntry};
use crate::domain::card::CardId;
use crate::domain::error::Error;
use crate::domain::store::Store;
use crate::texts::{letter, report, Language};
use crate::vault::Vault;

/// The report as the clerk prints it.
pub struct AccessReport {
    pub card_number: String,
    pub entries: Vec<ReportEntry>,
    pub language: Language,
    pub letter: String,
}

/// The report for the card `id` (audit subject `subject`), in `language`
/// (a tag of one of `crate::texts::Language`) or else the first of the
/// holder's languages that has one.
///
/// # Errors
/// No such card (404), a language the letter is not written in (400), or
/// the store failed.
pub async fn access_report(
    v: &Arc<Vault>,
    id: CardId,
    subject: String,
    permit: &Permit,
    language: Option<&str>,
) -> Result<AccessReport, Error> {
    let card = v.card(id).await?.ok_or(Error::NotFound)?;
    let fields = access::open_fields(permit, &v.keys, &id, &card.record)?;
    let language = match language {
        None => Language::for_holder(&card.languages),
        Some(tag) => Language::from_tag(tag)
            .ok_or_else(|| Error::invalid("language", &format!("must be one of {}", Language::tags())))?,
    };
    let (audit, legal) = v
        .read(move |v| {
            let about = v.store.audit_about(Some(&subject))?;
            // The summaries matter only for answered legal requests about
            // this card (`entries` reads them for nothing else).
            let answered_legal = about
                .entries
                .iter()
                .any(|e| e.action == "legal_request" && e.decision == crate::domain::audit::Decision::Allow);
            let legal = if answered_legal {
                v.legal_answers.get(&v.store)?
            } else {
                Arc::new(LegalAnswers::default())
            };
            Ok((about.entries, legal))
        })
        .await?;
    let today = v.clock.now().date().to_string();
    let agency_of = |principal: &str| {
        v.principals
            .get(principal)
            .and_then(|p| p.agency_kind.map(|a| a.as_str().to_owned()))
    };
    let entries = entries(&audit, &legal, &agency_of, &today);
    let card_number = fields.card_number.clone().unwrap_or_default();
    let letter = letter(&report(language, &v.program.title, &card_number, &today, &entries));
    Ok(AccessReport {
        card_number,
        entries,
        language,
        letter,
    })
}
