//! The quarterly report (privacy officers, auditors): NYC Local Law 35's
//! counts for a quarter, from `GET /v1/reports/quarterly` as the signed-in
//! person, every count under 10 already shown as "<10" by the vault; as
//! tables, and as a CSV file to download for the city's publication.

use askama::Template;
use axum::extract::Query;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::console::page::{render, Nav, Refusal, Staff};

#[derive(Template)]
#[template(path = "reports.html", config = "src/console/askama.toml")]
struct Reports {
    nav: Nav,
    year: i32,
    quarter: u8,
    /// The quarter picker: each quarter, and whether it is the one shown.
    quarters: Vec<(u8, bool)>,
    period: String,
    tables: Vec<Table>,
    honey_cards: String,
    note: String,
    message: Option<String>,
}

/// One section of the report.
struct Table {
    title: String,
    rows: Vec<(String, String)>,
}

#[derive(Deserialize)]
pub struct Which {
    year: Option<i32>,
    quarter: Option<u8>,
}

/// The sections of the report, in the order it is published: title, the
/// key in the answer.
const SECTIONS: [(&str, &str); 5] = [
    ("Applications", "applications"),
    ("Denials by the requirement not met", "denied_by_missing_requirement"),
    ("Cards", "cards"),
    ("Cards issued by fee waiver", "fee_waivers"),
    ("Cards issued by language preference", "languages"),
];

/// A count as published: the number, or "<10" (the vault's suppression).
fn count(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => "0".into(),
    }
}

/// The report as rows of (section, item, count), legal requests flattened
/// to "process: outcome".
pub fn rows(report: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (title, key) in SECTIONS {
        if let Some(o) = report[key].as_object() {
            for (item, n) in o {
                out.push((title.to_owned(), item.replace('_', " "), count(n)));
            }
        }
    }
    if let Some(o) = report["legal_requests"].as_object() {
        for (process, outcomes) in o {
            for (outcome, n) in outcomes.as_object().into_iter().flatten() {
                out.push((
                    "Legal requests by process and outcome".to_owned(),
                    format!("{}: {}", process.replace('_', " "), outcome.replace('_', " ")),
                    count(n),
                ));
            }
        }
    }
    out
}

/// One CSV field (RFC 4180), kept from being read as a formula by a
/// spreadsheet (a leading `=`, `+`, `-`, `@` gets a `'`).
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The report as CSV: `section,item,count`, one line per count.
#[must_use]
pub fn csv(report: &Value) -> String {
    let mut out = String::from("section,item,count\r\n");
    for (section, item, n) in rows(report) {
        out.push_str(&format!("{},{},{}\r\n", field(&section), field(&item), field(&n)));
    }
    out.push_str(&format!(
        "{},{},{}\r\n",
        field("Honey cards (not in any figure above)"),
        field("created"),
        field(&count(&report["honey_cards"]))
    ));
    out
}

/// The quarter asked for, or the one before today's.
fn which(staff: &Staff, q: &Which) -> (i32, u8) {
    let today = staff.console.vault.clock.now().date();
    let this = (u8::from(today.month()) - 1) / 3 + 1;
    let (y, prev) = if this == 1 {
        (today.year() - 1, 4)
    } else {
        (today.year(), this - 1)
    };
    (q.year.unwrap_or(y), q.quarter.unwrap_or(prev))
}

async fn fetch(staff: &Staff, year: i32, quarter: u8) -> Result<Result<Value, String>, Refusal> {
    let answer = staff
        .call(
            Method::GET,
            &format!("/v1/reports/quarterly?year={year}&quarter={quarter}"),
            None,
        )
        .await;
    crate::console::page::check_allowed(&answer)?;
    Ok(match answer.error() {
        Some((_, message)) => Err(message),
        None => Ok(answer.json()),
    })
}

pub async fn page(staff: Staff, Query(q): Query<Which>) -> Result<Response, Refusal> {
    let (year, quarter) = which(&staff, &q);
    let (report, message) = match fetch(&staff, year, quarter).await? {
        Ok(r) => (r, None),
        Err(m) => (Value::Null, Some(format!("No report: {m}"))),
    };
    let mut tables: Vec<Table> = Vec::new();
    for (section, item, n) in rows(&report) {
        match tables.last_mut() {
            Some(t) if t.title == section => t.rows.push((item, n)),
            _ => tables.push(Table {
                title: section,
                rows: vec![(item, n)],
            }),
        }
    }
    let period = report["period"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" to "))
        .unwrap_or_default();
    Ok(render(&Reports {
        nav: staff.nav("/console/reports"),
        year,
        quarter,
        quarters: (1..=4).map(|q| (q, q == quarter)).collect(),
        period,
        tables,
        honey_cards: count(&report["honey_cards"]),
        note: report["note"].as_str().unwrap_or_default().to_owned(),
        message,
    }))
}

/// The same report as a CSV download.
pub async fn download(staff: Staff, Query(q): Query<Which>) -> Result<Response, Refusal> {
    let (year, quarter) = which(&staff, &q);
    let report = fetch(&staff, year, quarter).await?.map_err(Refusal::Bad)?;
    let name = format!("attachment; filename=\"quarterly-report-{year}-Q{quarter}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        csv(&report),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv;
    use serde_json::json;

    #[test]
    fn the_csv_carries_each_count_as_published_and_no_formula() {
        let report = json!({
            "applications": {"received": 42, "issued": "<10"},
            "denied_by_missing_requirement": {},
            "cards": {"=HYPERLINK(\"x\")": "<10"},
            "fee_waivers": {"low_income": 12},
            "languages": {"es": "<10"},
            "legal_requests": {"court_order": {"disclose": "<10"}},
            "honey_cards": 3
        });
        let text = csv(&report);
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], "section,item,count");
        assert!(lines.contains(&"Applications,received,42"), "{text}");
        assert!(lines.contains(&"Applications,issued,<10"), "{text}");
        assert!(lines.contains(&"Cards issued by fee waiver,low income,12"), "{text}");
        assert!(
            lines.contains(&"Legal requests by process and outcome,court order: disclose,<10"),
            "{text}"
        );
        assert!(lines.contains(&"Cards,\"'=HYPERLINK(\"\"x\"\")\",<10"), "{text}");
        assert!(
            lines.contains(&"Honey cards (not in any figure above),created,3"),
            "{text}"
        );
    }
}
