//! The policy studio (privacy officer; auditors read): the editable
//! policies and their tests side by side with the floor, a check that
//! changes nothing (`POST /v1/policies/check`: validation, canaries, tests,
//! the symbolic proof and a replay of recent decisions), and publishing
//! (`PUT /v1/policies`) after a fresh passkey check. The report is shown in
//! words a privacy officer reads: what would be refused and why, which
//! permits the floor makes inert, which recorded decisions would flip.

use askama::Template;
use axum::extract::RawForm;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

use crate::console::page::{render, Nav, Refusal, Staff};
use crate::console::pages::studio_cases::{self, Case, Choices};
use crate::console::pages::studio_report::{text, Report};
use crate::domain::policy_version::unified_diff;

#[derive(Template)]
#[template(path = "studio.html", config = "src/console/askama.toml")]
struct Studio {
    nav: Nav,
    version: u64,
    digest: String,
    policies: String,
    tests: String,
    /// The tests as rows (the form), with a spare row for a new case.
    cases: Vec<Case>,
    choices: Choices,
    /// Whether the JSON view, not the rows, was sent.
    use_json: bool,
    comment: String,
    floor: String,
    history: Vec<Version>,
    report: Option<Report>,
    published: Option<u64>,
    message: Option<String>,
}

struct Version {
    version: u64,
    who: String,
    when: String,
    comment: String,
}

/// The form: the texts as edited, kept when the page is shown again.
#[derive(Default)]
pub struct StudioForm {
    csrf: Option<String>,
    intent: String,
    policies: String,
    tests: String,
    /// The tests as rows (`t<i>_<field>`).
    cases: Vec<Case>,
    /// Send the JSON view instead of the rows.
    use_json: bool,
    comment: String,
    expected_version: u64,
    /// For a rollback: the version whose text becomes the next version.
    to_version: u64,
}

impl StudioForm {
    /// Reads a submitted form (`application/x-www-form-urlencoded`).
    fn parse(bytes: &[u8]) -> Self {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes).into_owned().collect();
        let mut f = Self::default();
        for (k, v) in &pairs {
            match k.as_str() {
                "csrf" => f.csrf = Some(v.clone()),
                "intent" => f.intent.clone_from(v),
                // A browser sends a textarea's lines with CRLF: the texts keep LF.
                "policies" => f.policies = v.replace("\r\n", "\n"),
                "tests" => f.tests = v.replace("\r\n", "\n"),
                "comment" => f.comment.clone_from(v),
                "expected_version" => f.expected_version = v.parse().unwrap_or(0),
                "to_version" => f.to_version = v.parse().unwrap_or(0),
                "use_json" => f.use_json = !v.is_empty(),
                _ => {}
            }
        }
        f.cases = studio_cases::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        f
    }
}

/// What the page shows besides the active version.
#[derive(Default)]
struct Shown {
    edited: Option<StudioForm>,
    report: Option<Report>,
    published: Option<u64>,
    message: Option<String>,
}

async fn render_page(staff: &Staff, shown: Shown) -> Result<Response, Refusal> {
    let active = staff.call_ok(Method::GET, "/v1/policies", None).await?.json();
    let versions = staff.call_ok(Method::GET, "/v1/policies/versions", None).await?.json();
    let history = versions["versions"]
        .as_array()
        .map(|a| {
            a.iter()
                .rev()
                .take(20)
                .map(|v| Version {
                    version: v["version"].as_u64().unwrap_or(0),
                    who: text(&v["who"]),
                    when: text(&v["when"]),
                    comment: text(&v["comment"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let version = active["version"].as_u64().unwrap_or(0);
    let (policies, tests, mut cases, use_json, comment) = match shown.edited {
        Some(f) => (f.policies, f.tests, f.cases, f.use_json, f.comment),
        None => (
            text(&active["policies"]),
            serde_json::to_string_pretty(&active["tests"]).unwrap_or_default(),
            studio_cases::from_json(&active["tests"]),
            false,
            String::new(),
        ),
    };
    cases.push(studio_cases::spare());
    Ok(render(&Studio {
        nav: staff.nav("/console/policies"),
        version,
        digest: text(&active["digest"]),
        policies,
        tests,
        cases,
        choices: Choices::new(),
        use_json,
        comment,
        floor: text(&active["floor"]),
        history,
        report: shown.report,
        published: shown.published,
        message: shown.message,
    }))
}

pub async fn page(staff: Staff) -> Result<Response, Refusal> {
    render_page(&staff, Shown::default()).await
}

/// The request body both actions send: the tests from the rows, or from
/// the JSON view when that was chosen (omitted when it is empty). Both
/// views of the form are brought to agree with what is sent.
fn body(form: &mut StudioForm) -> Result<Value, String> {
    let mut body = json!({"policies": form.policies});
    if form.use_json {
        if !form.tests.trim().is_empty() {
            let tests: Value = serde_json::from_str(&form.tests)
                .map_err(|e| format!("\"Policy tests (JSON)\" is not a JSON array of tests: {e}"))?;
            if !tests.is_array() {
                return Err("\"Policy tests (JSON)\" must be a JSON array of tests.".into());
            }
            form.cases = studio_cases::from_json(&tests);
            body["tests"] = tests;
        }
        return Ok(body);
    }
    let tests = studio_cases::to_json(&mut form.cases).ok_or_else(|| {
        "A policy test needs attention: see the message on its row below. Nothing was sent.".to_owned()
    })?;
    form.tests = serde_json::to_string_pretty(&tests).unwrap_or_default();
    body["tests"] = tests;
    Ok(body)
}

pub async fn submit(staff: Staff, RawForm(bytes): RawForm) -> Result<Response, Refusal> {
    let mut form = StudioForm::parse(&bytes);
    staff.check_csrf(form.csrf.as_deref())?;
    if form.intent == "rollback" {
        return rollback(&staff, &form).await;
    }
    let mut body = match body(&mut form) {
        Ok(b) => b,
        Err(message) => {
            let shown = Shown {
                edited: Some(form),
                message: Some(message),
                ..Shown::default()
            };
            return render_page(&staff, shown).await;
        }
    };
    if form.intent == "apply" {
        staff.require_step_up()?;
        body["comment"] = json!(form.comment);
        body["expected_version"] = json!(form.expected_version);
        let answer = staff.call(Method::PUT, "/v1/policies", Some(&body)).await;
        if answer.ok() {
            let shown = Shown {
                published: answer.json()["version"].as_u64(),
                ..Shown::default()
            };
            return render_page(&staff, shown).await;
        }
        let (code, message) = answer.error().unwrap_or_default();
        crate::console::page::check_allowed(&answer)?;
        let j = answer.json();
        let report = Some(&j["error"]["report"]).filter(|r| r.is_object());
        if let Some(r) = report {
            studio_cases::mark_failures(&mut form.cases, &r["tests"]["failed"]);
        }
        let shown = Shown {
            report: report.map(|r| Report::of(r, "Not published: the check refused this text")),
            message: Some(match code.as_str() {
                "version_conflict" => "Not published: someone published a newer version meanwhile. Your text is kept below; check it against the new version and apply again.".to_owned(),
                _ => format!("Not published: {message}"),
            }),
            edited: Some(form),
            ..Shown::default()
        };
        return render_page(&staff, shown).await;
    }
    let answer = staff.call_ok(Method::POST, "/v1/policies/check", Some(&body)).await?;
    let checked = answer.json();
    studio_cases::mark_failures(&mut form.cases, &checked["tests"]["failed"]);
    let mut report = Report::of(&checked, "Check report (nothing was changed)");
    let active = staff.call_ok(Method::GET, "/v1/policies", None).await?.json();
    report.diff = unified_diff(
        active["policies"].as_str().unwrap_or_default(),
        &form.policies,
        "published",
        "edited",
    );
    let shown = Shown {
        edited: Some(form),
        report: Some(report),
        ..Shown::default()
    };
    render_page(&staff, shown).await
}

/// Publishes an earlier version's text as the next version (after a passkey check).
async fn rollback(staff: &Staff, form: &StudioForm) -> Result<Response, Refusal> {
    staff.require_step_up()?;
    let body = json!({
        "to_version": form.to_version,
        "expected_version": form.expected_version,
        "comment": format!("rollback to version {}", form.to_version),
    });
    let answer = staff.call(Method::POST, "/v1/policies/rollback", Some(&body)).await;
    crate::console::page::check_allowed(&answer)?;
    let shown = match answer.error() {
        None => Shown {
            published: answer.json()["version"].as_u64(),
            ..Shown::default()
        },
        Some((code, message)) => Shown {
            message: Some(if code == "version_conflict" {
                "Not rolled back: someone published a newer version meanwhile.".to_owned()
            } else {
                format!("Not rolled back: {message}")
            }),
            ..Shown::default()
        },
    };
    render_page(staff, shown).await
}

#[cfg(test)]
mod tests {
    use askama::Template;
    use serde_json::json;

    use super::{Nav, Report, Studio};

    fn page(proof: serde_json::Value) -> String {
        let check = json!({"valid": true, "errors": [], "floor_violations": [],
            "tests": {"passed": 3, "failed": []}, "proof": proof, "impact": null});
        Studio {
            nav: Nav::anonymous(),
            version: 1,
            digest: String::new(),
            policies: String::new(),
            tests: String::new(),
            cases: Vec::new(),
            choices: super::Choices::new(),
            use_json: false,
            comment: String::new(),
            floor: String::new(),
            history: Vec::new(),
            report: Some(Report::of(&check, "Check")),
            published: None,
            message: None,
        }
        .render()
        .unwrap_or_default()
    }

    #[test]
    fn a_valid_text_whose_proof_did_not_run_is_never_shown_all_clear() {
        let unproven = page(json!({"status": "not_run", "reason": "no solver"}));
        assert!(unproven.contains("floor not proven"), "{unproven}");
        assert!(!unproven.contains("pill ok"));
        assert!(unproven.contains("The proof did not run: no solver"));
        let proven = page(json!({"status": "proved", "request_types": 76}));
        assert!(proven.contains("<span class=\"pill ok\">can be applied</span>"));
        assert!(!proven.contains("floor not proven"));
    }
}
