//! The policy studio's check report in words a privacy officer reads:
//! what would be refused and why, which permits the floor makes inert,
//! which recorded decisions would flip, and which tests fail.

use serde_json::Value;

/// A check report, in words.
#[derive(Default)]
pub struct Report {
    /// Whether the candidate could be published.
    pub valid: bool,
    /// Whether the solver proved the floor for it (a valid text whose
    /// proof did not run is publishable, never shown as all clear).
    pub proven: bool,
    pub heading: String,
    pub errors: Vec<String>,
    pub floor_violations: Vec<String>,
    pub tests_passed: u64,
    pub tests_failed: Vec<String>,
    pub tests_changed: Vec<String>,
    pub proof: String,
    pub inert: Vec<String>,
    pub redundant: Vec<String>,
    pub impact: String,
    pub flips: Vec<String>,
    /// Flips per `principal action`.
    pub counts: Vec<(String, u64)>,
    /// The proof's counterexamples as requests: principal (with its
    /// attributes), action, resource, context.
    pub counterexamples: Vec<[String; 4]>,
    /// The change against the published text (unified diff; empty: none).
    pub diff: String,
}

pub(super) fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The replayed decisions that would flip (the first 50), one line each.
fn flips(impact: &Value) -> Vec<String> {
    impact["changed"]
        .as_array()
        .map(|a| {
            a.iter()
                .take(50)
                .map(|f| {
                    format!(
                        "#{} {} {} {}: {} → {}",
                        f["seq"].as_u64().unwrap_or(0),
                        text(&f["principal"]),
                        text(&f["action"]),
                        text(&f["resource"]),
                        text(&f["from"]),
                        text(&f["to"])
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The proof's counterexamples as requests (principal with its attributes).
fn counterexamples(proof: &Value) -> Vec<[String; 4]> {
    proof["counterexamples"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let who = match c["principal_entity"]["attrs"].as_object() {
                        Some(attrs) if !attrs.is_empty() => {
                            format!("{} {}", text(&c["principal"]), Value::Object(attrs.clone()))
                        }
                        _ => text(&c["principal"]),
                    };
                    [who, text(&c["action"]), text(&c["resource"]), text(&c["context"])]
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Report {
    pub fn of(r: &Value, heading: &str) -> Self {
        let errors = r["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let at = match (e["line"].as_u64(), e["column"].as_u64()) {
                            (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
                            (Some(l), None) => format!(" (line {l})"),
                            _ => String::new(),
                        };
                        format!("{}{at}: {}", text(&e["policy_id"]), text(&e["message"]))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let tests = &r["tests"];
        let tests_failed = tests["failed"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        format!(
                            "{}: expected {}, got {} (policies: {})",
                            text(&f["name"]),
                            text(&f["expected"]),
                            text(&f["got"]),
                            strings(&f["policies"]).join(", ")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut tests_changed = Vec::new();
        for (key, label) in [("added", "added"), ("removed", "removed"), ("changed", "changed")] {
            tests_changed.extend(strings(&tests[key]).into_iter().map(|n| format!("{label}: {n}")));
        }
        let proof = &r["proof"];
        let proof_text = match proof["status"].as_str() {
            Some("proved") => format!(
                "Proved: the floor holds for every well-formed request ({} request types).",
                proof["request_types"].as_u64().unwrap_or(0)
            ),
            Some("counterexample") => {
                "Counterexample: the solver found requests the floor must deny that this text allows.".into()
            }
            Some(_) => format!("The proof did not run: {}", text(&proof["reason"])),
            None => "The proof did not run (the text does not compile).".into(),
        };
        let impact = &r["impact"];
        let flips = flips(impact);
        let impact_text = if impact.is_null() {
            "No replay (the text does not compile).".to_owned()
        } else {
            format!(
                "{} recent decisions replayed: {} would change.",
                impact["replayed"].as_u64().unwrap_or(0),
                impact["changed"].as_array().map_or(0, Vec::len)
            )
        };
        Self {
            valid: r["valid"].as_bool().unwrap_or(false),
            proven: proof["status"].as_str() == Some("proved"),
            heading: heading.to_owned(),
            errors,
            floor_violations: strings(&r["floor_violations"]),
            tests_passed: tests["passed"].as_u64().unwrap_or(0),
            tests_failed,
            tests_changed,
            proof: proof_text,
            inert: strings(&proof["lint"]["inert_permits"]),
            redundant: strings(&proof["lint"]["redundant_forbids"]),
            impact: impact_text,
            flips,
            counts: impact["counts"]
                .as_object()
                .map(|o| o.iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0))).collect())
                .unwrap_or_default(),
            diff: String::new(),
            counterexamples: counterexamples(proof),
        }
    }
}
