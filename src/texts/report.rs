//! The holder's access report in words: for the letter the clerk prints
//! (Markdown) and the console's printable page alike.

use super::{text, Language};
use crate::domain::access_report::ReportEntry;

/// The report's words in the holder's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportText {
    pub language: Language,
    pub title: String,
    pub lead: String,
    /// Day, asked by, why, released.
    pub headers: [String; 4],
    /// One row per entry, each cell in words.
    pub rows: Vec<[String; 4]>,
    /// Said instead of the table when no one asked.
    pub nobody: String,
    pub closing: [String; 2],
}

/// The report of `entries` about card `card_number`, by `program` on `today`.
#[must_use]
pub fn report(
    language: Language,
    program: &str,
    card_number: &str,
    today: &str,
    entries: &[ReportEntry],
) -> ReportText {
    let t = |id: &str| text(language, id, &[]);
    let rows = entries
        .iter()
        .map(|e| {
            let who = match &e.agency_kind {
                Some(k) => format!("{} ({})", cell(&e.asked_by), word(language, k)),
                None => cell(&e.asked_by),
            };
            let released = if e.released.is_empty() {
                t("report-nothing-released")
            } else {
                e.released
                    .iter()
                    .map(|r| word(language, r))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            [e.day.clone(), who, word(language, &e.purpose), released]
        })
        .collect();
    ReportText {
        language,
        title: text(language, "report-title", &[("card", card_number)]),
        lead: text(language, "report-lead", &[("program", program), ("today", today)]),
        headers: [
            t("report-day"),
            t("report-asked-by"),
            t("report-why"),
            t("report-released"),
        ],
        rows,
        nobody: t("report-nobody"),
        closing: [t("report-withheld"), t("report-never-kept")],
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

/// A word of the vault's vocabulary (a fact, an item, a purpose, a kind of
/// process or agency) in `language`; one the texts do not know, as itself
/// with spaces.
fn word(language: Language, w: &str) -> String {
    if let Some(years) = w.strip_prefix("age_over_") {
        return text(language, "word-age-over", &[("years", years)]);
    }
    let id = format!("word-{w}");
    let known = w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && !w.is_empty();
    let said = if known { text(language, &id, &[]) } else { id.clone() };
    if said == id {
        w.replace('_', " ")
    } else {
        said
    }
}

/// A table cell: no pipes or line breaks from stored text.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| if c == '|' || c.is_control() { ' ' } else { c })
        .collect()
}
