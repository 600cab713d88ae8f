//! The cardholder's access report: who asked about one card and what was
//! released — fact queries, photo reads and answered legal requests — with
//! the letter a clerk prints for the holder in the holder's language. Built
//! from the card's audit entries (found through the audit index) and the
//! legal answers' summaries; nothing else is read.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::audit::{AuditEntry, Decision};
use super::legal::AnswerSummary;
use super::notice_text::NoticeLanguage;

/// One line of the report: one request about the card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportEntry {
    /// The day it was asked (YYYY-MM-DD, UTC).
    pub day: String,
    /// The city system or office that asked: a principal id, or for a
    /// legal request the requesting agency as the request named it.
    pub asked_by: String,
    /// The asker's kind of agency, when it has one.
    pub agency_kind: Option<String>,
    /// The purpose it gave, or for a legal request its kind of process.
    pub purpose: String,
    /// What was released: fact names, `photo`, or a legal answer's items.
    pub released: Vec<String>,
    /// `answered`, or `refused` when the vault released nothing.
    pub outcome: String,
}

fn day_of(at: &str) -> String {
    at.get(..10).unwrap_or(at).to_owned()
}

/// The stored legal answers' summaries, found by the reference a legal
/// request's audit entry carries (`digests.answer`).
#[derive(Debug, Default)]
pub struct LegalAnswers {
    all: Vec<AnswerSummary>,
    by_ref: HashMap<String, usize>,
}

impl LegalAnswers {
    #[must_use]
    pub fn new(all: Vec<AnswerSummary>) -> Self {
        let by_ref = all
            .iter()
            .enumerate()
            .map(|(i, s)| (super::legal::answer_ref(&s.request_id), i))
            .collect();
        Self { all, by_ref }
    }

    fn by_ref(&self, answer: &str) -> Option<&AnswerSummary> {
        self.by_ref.get(answer).and_then(|i| self.all.get(*i))
    }
}

/// The report's entries, oldest first, from the card's audit entries.
/// `agency_of` names a principal's kind of agency. Fact entries of one request (one decision id) become one line; a legal
/// request appears once something was disclosed, and not while a court's
/// prohibition of notice lasts (`today`, YYYY-MM-DD, decides that).
#[must_use]
pub fn entries(
    audit: &[AuditEntry],
    legal: &LegalAnswers,
    agency_of: &dyn Fn(&str) -> Option<String>,
    today: &str,
) -> Vec<ReportEntry> {
    let mut facts: BTreeMap<(u64, String), ReportEntry> = BTreeMap::new();
    let mut first_seq: HashMap<String, u64> = HashMap::new();
    let mut out: Vec<(u64, ReportEntry)> = Vec::new();
    for e in audit {
        match e.action.as_str() {
            "query_fact" => {
                let Some(principal) = e.principal.as_deref() else {
                    continue;
                };
                let id = e.decision_id.clone().unwrap_or_else(|| format!("seq{}", e.seq));
                let seq = *first_seq.entry(id.clone()).or_insert(e.seq);
                let line = facts.entry((seq, id)).or_insert_with(|| ReportEntry {
                    day: day_of(&e.at),
                    asked_by: principal.to_owned(),
                    agency_kind: agency_of(principal),
                    purpose: e.purpose.clone().unwrap_or_default(),
                    released: Vec::new(),
                    outcome: "refused".into(),
                });
                let fact = e.resource.as_deref().and_then(|r| r.strip_prefix("Fact::"));
                if let (Decision::Allow, "ok", Some(f)) = (e.decision, e.outcome.as_str(), fact) {
                    line.released.push(f.to_owned());
                    "answered".clone_into(&mut line.outcome);
                }
            }
            "read_photo" if e.decision == Decision::Allow && e.outcome == "ok" => {
                let principal = e.principal.clone().unwrap_or_default();
                out.push((
                    e.seq,
                    ReportEntry {
                        day: day_of(&e.at),
                        agency_kind: agency_of(&principal),
                        asked_by: principal,
                        purpose: e.purpose.clone().unwrap_or_default(),
                        released: vec!["photo".into()],
                        outcome: "answered".into(),
                    },
                ));
            }
            "legal_request" if e.decision == Decision::Allow && e.outcome == "ok" => {
                let summary = match e.digests.get("answer") {
                    Some(d) => legal.by_ref(d),
                    // An entry written before answers were referenced: the
                    // answer with its package digest, unless any answer
                    // with that digest is still under a prohibition.
                    None => e.digests.get("package").and_then(|d| {
                        let same: Vec<&AnswerSummary> = legal.all.iter().filter(|s| &s.digest == d).collect();
                        (!same.iter().any(|s| withheld(s, today)))
                            .then(|| same.first().copied())
                            .flatten()
                    }),
                };
                if let Some(s) = summary.filter(|s| s.outcome == "disclose" && !withheld(s, today)) {
                    out.push((
                        e.seq,
                        ReportEntry {
                            day: day_of(&e.at),
                            asked_by: s.requester.name.clone(),
                            agency_kind: Some(s.requester.agency_kind.as_str().to_owned()),
                            purpose: s.process.as_str().to_owned(),
                            released: s.disclosed.clone(),
                            outcome: "answered".into(),
                        },
                    ));
                }
            }
            _ => {}
        }
    }
    out.extend(facts.into_iter().map(|((seq, _), line)| (seq, line)));
    out.sort_by_key(|(seq, _)| *seq);
    out.into_iter().map(|(_, line)| line).collect()
}

/// Whether a court still prohibits telling the holder of this answer.
fn withheld(s: &AnswerSummary, today: &str) -> bool {
    s.cardholder_notice == "prohibited_by_court"
        && s.notice_prohibited_until.as_deref().is_none_or(|until| today < until)
}

/// The report's words in the holder's language, for the letter (Markdown)
/// and the console's printable page alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportText {
    pub language: NoticeLanguage,
    pub title: String,
    pub lead: String,
    /// Day, asked by, why, released.
    pub headers: [&'static str; 4],
    /// One row per entry, each cell in words.
    pub rows: Vec<[String; 4]>,
    /// Said instead of the table when no one asked.
    pub nobody: &'static str,
    pub closing: [&'static str; 2],
}

/// The report in words.
#[must_use]
pub fn text(
    language: NoticeLanguage,
    program: &str,
    card_number: &str,
    today: &str,
    entries: &[ReportEntry],
) -> ReportText {
    let es = language == NoticeLanguage::Spanish;
    let rows = entries
        .iter()
        .map(|e| {
            let who = match &e.agency_kind {
                Some(k) => format!("{} ({})", cell(&e.asked_by), word(es, k)),
                None => cell(&e.asked_by),
            };
            let released = if e.released.is_empty() {
                (if es { "nada (rechazada)" } else { "nothing (refused)" }).to_owned()
            } else {
                e.released.iter().map(|r| word(es, r)).collect::<Vec<_>>().join(", ")
            };
            [e.day.clone(), who, word(es, &e.purpose), released]
        })
        .collect();
    if es {
        ReportText {
            language,
            title: format!("Quién consultó su tarjeta {card_number}"),
            lead: format!(
                "{program}, {today}. Esta es la lista de cada consulta y divulgación sobre su tarjeta: el \
                 día, quién preguntó, para qué y qué se entregó."
            ),
            headers: ["Día", "Quién preguntó", "Para qué", "Qué se entregó"],
            rows,
            nobody: "Nadie ha consultado su tarjeta.",
            closing: [
                "Algunas entradas pueden omitirse por ahora: cuando un tribunal prohíbe avisarle de una \
                 solicitud legal, esa solicitud aparece aquí cuando la prohibición termina. Sus visitas al \
                 mostrador no se incluyen.",
                "El programa nunca guarda copias de sus documentos ni nada sobre su situación migratoria, \
                 así que ninguna respuesta pudo incluirlos.",
            ],
        }
    } else {
        ReportText {
            language,
            title: format!("Who asked about your card {card_number}"),
            lead: format!(
                "{program}, {today}. This is every query and disclosure about your card: the day, who \
                 asked, why, and what was released."
            ),
            headers: ["Day", "Asked by", "Why", "Released"],
            rows,
            nobody: "No one has asked about your card.",
            closing: [
                "Some entries may be withheld for now: when a court prohibits telling you about a legal \
                 request, that request appears here once the prohibition ends. Your own visits to the \
                 counter are not listed.",
                "The program never keeps copies of your documents or anything about immigration status, \
                 so no answer could have included them.",
            ],
        }
    }
}

/// The letter the clerk prints for the holder (Markdown).
#[must_use]
pub fn letter(t: &ReportText) -> String {
    let mut out = format!("# {}\n\n{}\n\n", t.title, t.lead);
    if t.rows.is_empty() {
        out.push_str(&format!("{}\n\n", t.nobody));
    } else {
        out.push_str(&format!("| {} |\n|---|---|---|---|\n", t.headers.join(" | ")));
        for r in &t.rows {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out.push('\n');
    }
    out.push_str(&format!("{}\n\n{}\n", t.closing[0], t.closing[1]));
    out
}

/// A word of the vault's vocabulary in the holder's language: Spanish
/// for the words a report can hold, the words themselves (with spaces)
/// otherwise.
fn word(es: bool, w: &str) -> String {
    if !es {
        return w.replace('_', " ");
    }
    if let Some(n) = w.strip_prefix("age_over_") {
        return format!("mayor de {n} años");
    }
    let t = match w {
        "card_valid" => "tarjeta válida",
        "resident" => "residente",
        "photo" => "foto",
        "card_status" => "estado de la tarjeta",
        "full_name" => "nombre completo",
        "date_of_birth" => "fecha de nacimiento",
        "address" => "dirección",
        "attestations" => "constancias de documentos",
        "access_log" => "registro de consultas",
        "card_number" => "número de tarjeta",
        "document_match" => "coincidencia de documento",
        "library_services" => "servicios de biblioteca",
        "parks_recreation" => "parques y recreación",
        "cultural_institution" => "institución cultural",
        "health_services" => "servicios de salud",
        "transit_discount" => "descuento de transporte",
        "senior_services" => "servicios para mayores",
        "benefits_enrollment" => "inscripción en beneficios",
        "financial_services" => "servicios financieros",
        "identity_check" => "verificación de identidad",
        "card_printing" => "impresión de la tarjeta",
        "judicial_warrant" => "orden judicial de registro",
        "court_order" => "orden judicial",
        "subpoena" => "citación",
        "public_records" => "solicitud de registros públicos",
        "city_agency" => "agencia municipal",
        "city_partner" => "socio municipal",
        "local_law_enforcement" => "policía o fiscalía local",
        "state_agency" => "agencia estatal",
        "federal_other" => "agencia federal",
        "private_party" => "parte privada",
        "federal_immigration" => "inmigración federal",
        "immigration_enforcement" => "control migratorio",
        "civil_immigration_enforcement" => "control migratorio civil",
        "bulk_screening" => "revisión masiva",
        "data_brokerage" => "venta de datos",
        other => return other.replace('_', " "),
    };
    t.to_owned()
}

/// A table cell: no pipes or line breaks from stored text.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| if c == '|' || c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_cannot_break_the_table() {
        let e = ReportEntry {
            day: "2026-12-02".into(),
            asked_by: "A | B\n# C".into(),
            agency_kind: None,
            purpose: "library_services".into(),
            released: vec![],
            outcome: "refused".into(),
        };
        let t = text(NoticeLanguage::English, "IDNYC", "AAAA", "2026-12-02", &[e]);
        let l = letter(&t);
        assert!(
            l.contains("| 2026-12-02 | A   B # C | library services | nothing (refused) |"),
            "{l}"
        );
        assert!(!l.contains("\n# C"));
    }
}
