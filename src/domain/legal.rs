//! Legal requests: subpoenas, warrants, court orders and public-records
//! requests. The request shapes, the closed vocabularies, the reasons given
//! for what is withheld, what the program does not hold, aggregates with
//! small counts suppressed, the package digest and the response letter.
//!
//! Each item is a Cedar decision (action `disclose`); this module holds no
//! policy, only what the answer says about the decisions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::vocab::AgencyKind;

macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
    };
}

words! {
    /// The legal instrument behind a request.
    Process {
        JudicialWarrant => "judicial_warrant",
        CourtOrder => "court_order",
        Subpoena => "subpoena",
        AdministrativeSubpoena => "administrative_subpoena",
        AdministrativeWarrant => "administrative_warrant",
        PublicRecords => "public_records",
    }
}

words! {
    /// What a request may ask for about one card.
    Item {
        CardStatus => "card_status",
        FullName => "full_name",
        DateOfBirth => "date_of_birth",
        Address => "address",
        Photo => "photo",
        Attestations => "attestations",
        AccessLog => "access_log",
        CardNumber => "card_number",
    }
}

/// The item decided for a document subject before anything else: whether
/// that exact document backs a card.
pub const DOCUMENT_MATCH: &str = "document_match";
/// The item decided for an aggregate subject.
pub const AGGREGATE: &str = "aggregate";

words! {
    /// Aggregates the vault can count.
    Aggregate {
        CardsIssuedByMonth => "cards_issued_by_month",
        CardsIssuedByProgram => "cards_issued_by_program",
    }
}

/// Breakdowns people ask for that the vault cannot produce: it holds no
/// readable document type, issuer, country, nationality or status.
pub const IMPOSSIBLE_AGGREGATES: &[&str] = &[
    "cards_by_document_type",
    "cards_by_issuer",
    "cards_by_country",
    "cards_by_country_of_issue",
    "cards_by_nationality",
    "cards_by_immigration_status",
    "foreign_documents",
];

/// Why an impossible breakdown is refused.
pub const CANNOT_PRODUCE: &str = "the vault cannot produce this breakdown: it keeps no document type, \
issuer, issuing country, nationality or immigration status in readable form, only keyed hashes that \
answer whether one exact document backs a card";

/// `POST /v1/legal/requests`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalRequest {
    pub reference: String,
    pub requester: Requester,
    pub process: Process,
    #[serde(default)]
    pub signed_by_judge: bool,
    pub subject: Subject,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub notice_prohibited_by_court: bool,
    /// The day the court's prohibition of notice ends (YYYY-MM-DD), when
    /// the order gives one; with none the request stays out of the
    /// cardholder's access report. Only with `notice_prohibited_by_court`.
    #[serde(default)]
    pub notice_prohibited_until: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    pub name: String,
    pub agency_kind: AgencyKind,
}

/// Exactly one card, one exact document, or one aggregate: there is no
/// query by category, so "everyone who used a foreign document" has no shape.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Subject {
    CardNumber(String),
    Document(DocumentSubject),
    Aggregate(String),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSubject {
    pub document_type: String,
    pub issuer: String,
    pub number: String,
}

impl Subject {
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CardNumber(_) => "card",
            Self::Document(_) => "document",
            Self::Aggregate(_) => "aggregate",
        }
    }
}

/// The reason given for a withheld item, from the policies that denied it
/// (empty: no permit applied).
#[must_use]
pub fn withheld_reason(policies: &[String], process: Process, signed_by_judge: bool) -> String {
    // In a fixed order, so the same decision always reads the same.
    const FLOOR_REASONS: [(&str, &str); 5] = [
        (
            "floor.administrative_process",
            "administrative process (a subpoena or warrant signed by an agency, not a judge) is refused",
        ),
        (
            "floor.federal_immigration_legal_process",
            "a federal immigration requester gets at most card_status, and only on a judicial warrant signed by a judge",
        ),
        ("floor.immigration_enforcement", "immigration enforcement is not a purpose this vault serves"),
        ("floor.bulk_screening", "no screening of the population"),
        ("floor.data_brokerage", "no data for brokers or resale"),
    ];
    if let Some((_, reason)) = FLOOR_REASONS.iter().find(|(id, _)| policies.iter().any(|p| p == id)) {
        return (*reason).to_owned();
    }
    if let Some(p) = policies.first() {
        return format!("refused by policy {p}");
    }
    match process {
        Process::PublicRecords => "public-records requests get aggregate counts only".to_owned(),
        Process::Subpoena => {
            "a subpoena is not enough: disclosure requires a judicial warrant or a court order signed by a judge"
                .to_owned()
        }
        _ if !signed_by_judge => {
            "not signed by a judge: disclosure requires a judicial warrant or a court order signed by a judge"
                .to_owned()
        }
        _ => "no policy permits disclosing this item".to_owned(),
    }
}

/// A count as published: under 10 is shown as "<10".
#[must_use]
pub fn suppressed(n: u64) -> Value {
    if n < 10 {
        Value::String("<10".into())
    } else {
        Value::from(n)
    }
}

/// Counts per month (`YYYY-MM`) and per program, small counts suppressed.
#[must_use]
pub fn aggregate(kind: Aggregate, cards: &[(String, time::Date)]) -> Value {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (program, issued) in cards {
        let key = match kind {
            Aggregate::CardsIssuedByMonth => format!("{program} {:04}-{:02}", issued.year(), u8::from(issued.month())),
            Aggregate::CardsIssuedByProgram => program.clone(),
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (key, n) in counts {
        let (program, bucket) = key
            .split_once(' ')
            .map_or((key.clone(), None), |(p, m)| (p.to_owned(), Some(m)));
        match bucket {
            Some(month) => {
                out.entry(program).or_default().insert(month.to_owned(), suppressed(n));
            }
            None => {
                out.entry(program)
                    .or_default()
                    .insert("cards_issued".into(), suppressed(n));
            }
        }
    }
    json!({
        "aggregate": kind.as_str(),
        "counts": out,
        "suppression": "counts under 10 are shown as \"<10\"",
        "note": "counts of cards on record now; destroyed records are not counted",
    })
}

/// The canonical serialization the package digest is taken over: JSON with
/// object keys sorted, no insignificant whitespace, UTF-8.
#[must_use]
pub fn canonical(v: &Value) -> Vec<u8> {
    // Sorted explicitly: serde_json keeps insertion order when any crate in
    // the build enables its `preserve_order` feature.
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sorted(v)).unwrap_or_default()
}

#[must_use]
pub fn digest(package: &Value) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(canonical(package))))
}

/// The audit entry's reference to one answer: a digest of its request id,
/// so the cardholder's access report finds the answer an entry stands for
/// even when two answers disclosed the same package.
#[must_use]
pub fn answer_ref(request_id: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(request_id.as_bytes())))
}

/// What the answer states, besides the package: enough to write the letter.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnswerSummary {
    pub request_id: String,
    pub reference: String,
    pub requester: Requester,
    pub process: Process,
    pub signed_by_judge: bool,
    pub subject_kind: String,
    pub items: Vec<String>,
    pub outcome: String,
    pub disclosed: Vec<String>,
    pub withheld: BTreeMap<String, String>,
    pub not_held: Vec<String>,
    pub cardholder_notice: String,
    /// When the court's prohibition of notice ends, if its order says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_prohibited_until: Option<String>,
    pub digest: String,
    pub answered_at: String,
}

/// The response letter legal staff send: what was asked, what is disclosed
/// (the values are in the enclosed package, identified by its digest), what
/// is withheld and why, and what the program does not hold.
#[must_use]
pub fn letter(a: &AnswerSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!("# Response to {}\n\n", a.reference));
    out.push_str(&format!(
        "Request {} received from {} ({}) under a {}{}; answered {}.\n\n",
        a.request_id,
        a.requester.name,
        a.requester.agency_kind.as_str(),
        a.process.as_str().replace('_', " "),
        if a.signed_by_judge { " signed by a judge" } else { "" },
        a.answered_at
    ));
    out.push_str("## What was asked\n\n");
    out.push_str(&format!("Subject: one {}.\n", a.subject_kind));
    for i in &a.items {
        out.push_str(&format!("- {i}\n"));
    }
    out.push_str("\n## Disclosed\n\n");
    if a.disclosed.is_empty() {
        out.push_str("Nothing is disclosed.\n");
    } else {
        for i in &a.disclosed {
            out.push_str(&format!("- {i}\n"));
        }
        out.push_str(&format!(
            "\nThe disclosed records are in the enclosed package, digest `{}`.\n",
            a.digest
        ));
    }
    out.push_str("\n## Withheld\n\n");
    if a.withheld.is_empty() {
        out.push_str("Nothing asked for is withheld.\n");
    } else {
        for (item, reason) in &a.withheld {
            out.push_str(&format!("- {item}: {reason}\n"));
        }
    }
    out.push_str("\n## Not held\n\nThe program does not hold, and so cannot disclose:\n\n");
    for n in &a.not_held {
        out.push_str(&format!("- {n}\n"));
    }
    let notice = match (a.cardholder_notice.as_str(), a.notice_prohibited_until.as_deref()) {
        ("required", _) => "The cardholder will be notified of this request.".to_owned(),
        ("prohibited_by_court", None) => {
            "The court has prohibited notice to the cardholder; none will be sent, and the request is \
             left out of the cardholder's access report."
                .to_owned()
        }
        ("prohibited_by_court", Some(until)) => format!(
            "The court has prohibited notice to the cardholder until {until}; until then the request is \
             left out of the cardholder's access report, and from then on it appears there."
        ),
        _ => "No individual cardholder is the subject of this answer.".to_owned(),
    };
    out.push_str(&format!("\n## Notice to the cardholder\n\n{notice}\n"));
    out
}

/// A legal request as stored. The summary holds no cardholder data; the
/// package, when it is about a card, is sealed under that card's data key,
/// so destroying the cardholder record destroys it too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalRecord {
    pub id: String,
    pub at: i64,
    /// JSON of [`AnswerSummary`].
    pub summary: Vec<u8>,
    pub package: StoredPackage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredPackage {
    /// Canonical JSON with no personal data (aggregates, refusals).
    Plain(Vec<u8>),
    /// Canonical JSON sealed under the card's data key (field `legal:<id>`).
    Sealed { card_id: [u8; 32], sealed: Vec<u8> },
}

/// A cardholder notice waiting for a clerk. Ids sort by creation time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub request_id: String,
    pub reference: String,
    pub card_id: [u8; 32],
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn small_counts_are_suppressed_and_months_grouped() {
        let mut cards = vec![("idnyc".to_owned(), date!(2026 - 11 - 02)); 12];
        cards.push(("idnyc".to_owned(), date!(2026 - 10 - 30)));
        let a = aggregate(Aggregate::CardsIssuedByMonth, &cards);
        assert_eq!(a["counts"]["idnyc"]["2026-11"], 12);
        assert_eq!(a["counts"]["idnyc"]["2026-10"], "<10");
        let b = aggregate(Aggregate::CardsIssuedByProgram, &cards);
        assert_eq!(b["counts"]["idnyc"]["cards_issued"], 13);
    }

    #[test]
    fn the_digest_is_over_sorted_compact_json() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"d": [1, 2], "c": "x"}}"#).unwrap_or_default();
        assert_eq!(canonical(&a), br#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
        assert_eq!(digest(&a), digest(&a.clone()));
    }

    #[test]
    fn a_category_is_not_a_subject() {
        let bad = r#"{"reference": "r", "requester": {"name": "n", "agency_kind": "federal_immigration"},
            "process": "administrative_subpoena", "subject": {"documents_issued_by": "MX"}, "items": ["full_name"]}"#;
        assert!(serde_json::from_str::<LegalRequest>(bad).is_err());
        let partial = r#"{"reference": "r", "requester": {"name": "n", "agency_kind": "state_agency"},
            "process": "court_order", "subject": {"document": {"issuer": "MX"}}, "items": ["full_name"]}"#;
        assert!(serde_json::from_str::<LegalRequest>(partial).is_err());
    }
}
