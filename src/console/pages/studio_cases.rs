//! The policy studio's tests as a form: one row per case (who, action,
//! resource, purpose, context, expected decision), built from the tests'
//! JSON and back. The JSON stays as the advanced view; a row that cannot
//! become a case, or a case the check found failing, carries its message
//! on the row.

use serde_json::{json, Map, Value};

use crate::domain::action::Action;
use crate::domain::vocab::{AgencyKind, Purpose, Role};

/// One case as the form shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    /// `staff` or `system`.
    pub kind: String,
    /// Staff roles, comma-separated.
    pub roles: String,
    /// A system's agency kind (empty for staff).
    pub agency: String,
    /// A system's registered purposes, comma-separated.
    pub purposes: String,
    pub action: String,
    /// `vault`, `card`, a fact's name or a legal item.
    pub resource: String,
    pub purpose: String,
    /// The context's extra facts as a JSON object, or empty.
    pub context: String,
    /// `allow`, `deny`, or `remove` (drop the case).
    pub expect: String,
    /// What is wrong with the case, shown on its row.
    pub error: Option<String>,
}

/// The choices the form's lists offer.
pub struct Choices {
    pub actions: Vec<&'static str>,
    pub purposes: Vec<&'static str>,
    pub agencies: Vec<&'static str>,
    pub roles: String,
}

impl Choices {
    pub fn new() -> Self {
        Self {
            actions: Action::ALL.iter().map(|a| a.as_str()).collect(),
            purposes: Purpose::ALL.iter().map(|p| p.as_str()).collect(),
            agencies: AgencyKind::ALL.iter().map(|a| a.as_str()).collect(),
            roles: Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn joined(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn list(text: &str) -> Vec<Value> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// The rows of a JSON array of tests (anything else: no rows).
#[must_use]
pub fn from_json(tests: &Value) -> Vec<Case> {
    tests
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| Case {
                    name: text(&t["name"]),
                    kind: text(&t["principal"]["kind"]),
                    roles: joined(&t["principal"]["roles"]),
                    agency: text(&t["principal"]["agency_kind"]),
                    purposes: joined(&t["principal"]["purposes"]),
                    action: text(&t["action"]),
                    resource: text(&t["resource"]),
                    purpose: text(&t["purpose"]),
                    context: match &t["context"] {
                        Value::Object(o) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                        _ => String::new(),
                    },
                    expect: text(&t["expect"]),
                    error: None,
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Case {
    /// Whether the row was left blank (the form's spare row).
    fn is_blank(&self) -> bool {
        self.name.trim().is_empty() && self.resource.trim().is_empty() && self.context.trim().is_empty()
    }

    /// The case as the API takes it, or why the row is not one.
    fn to_json(&self) -> Result<Value, String> {
        if self.name.trim().is_empty() {
            return Err("Give the case a name.".into());
        }
        if self.resource.trim().is_empty() {
            return Err("Name the resource (vault, card, a fact or a legal item).".into());
        }
        let mut principal = Map::new();
        principal.insert("kind".into(), json!(self.kind));
        match self.kind.as_str() {
            "staff" => {
                principal.insert("roles".into(), Value::Array(list(&self.roles)));
            }
            "system" => {
                if self.agency.is_empty() {
                    return Err("A system needs its agency kind.".into());
                }
                principal.insert("agency_kind".into(), json!(self.agency));
                principal.insert("purposes".into(), Value::Array(list(&self.purposes)));
            }
            _ => return Err("Choose staff or system.".into()),
        }
        let mut case = json!({
            "name": self.name.trim(),
            "principal": principal,
            "action": self.action,
            "resource": self.resource.trim(),
            "purpose": self.purpose,
            "expect": self.expect,
        });
        if !self.context.trim().is_empty() {
            match serde_json::from_str::<Value>(&self.context) {
                Ok(Value::Object(o)) => case["context"] = Value::Object(o),
                _ => return Err("Context must be a JSON object, such as {\"distinct_cards_last_hour\": 3}.".into()),
            }
        }
        Ok(case)
    }
}

/// The tests the rows make: removed and blank rows dropped; each row that
/// is not a case gets its message, and then no tests come back.
pub fn to_json(cases: &mut [Case]) -> Option<Value> {
    let mut out = Vec::new();
    let mut ok = true;
    for c in cases.iter_mut() {
        if c.expect == "remove" || c.is_blank() {
            continue;
        }
        match c.to_json() {
            Ok(v) => out.push(v),
            Err(e) => {
                c.error = Some(e);
                ok = false;
            }
        }
    }
    ok.then_some(Value::Array(out))
}

/// The rows a submitted form holds: `t<i>_<field>` pairs, in row order.
pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Case> {
    let mut rows: std::collections::BTreeMap<usize, Case> = std::collections::BTreeMap::new();
    for (key, value) in pairs {
        let Some((index, field)) = key.strip_prefix('t').and_then(|k| k.split_once('_')) else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else { continue };
        if index >= 10_000 {
            continue;
        }
        let row = rows.entry(index).or_default();
        let value = value.to_owned();
        match field {
            "name" => row.name = value,
            "kind" => row.kind = value,
            "roles" => row.roles = value,
            "agency" => row.agency = value,
            "purposes" => row.purposes = value,
            "action" => row.action = value,
            "resource" => row.resource = value,
            "purpose" => row.purpose = value,
            "context" => row.context = value,
            "expect" => row.expect = value,
            _ => {}
        }
    }
    rows.into_values().collect()
}

/// Puts the check's failures on their rows (by the case's name).
pub fn mark_failures(cases: &mut [Case], failed: &Value) {
    for f in failed.as_array().into_iter().flatten() {
        let name = text(&f["name"]);
        if let Some(c) = cases.iter_mut().find(|c| c.name.trim() == name) {
            let policies = joined(&f["policies"]);
            c.error = Some(format!(
                "Fails: expected {}, got {}{}.",
                text(&f["expected"]),
                text(&f["got"]),
                if policies.is_empty() {
                    String::new()
                } else {
                    format!(" (policies: {policies})")
                }
            ));
        }
    }
}

/// The form's spare row, for adding a case.
#[must_use]
pub fn spare() -> Case {
    Case {
        kind: "staff".into(),
        action: "query_fact".into(),
        purpose: "library_services".into(),
        expect: "allow".into(),
        ..Case::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn the_shipped_tests_survive_the_form() {
        let shipped: Value = serde_json::from_str(include_str!("../../../policies/tests/shipped.json")).unwrap();
        let mut rows = from_json(&shipped);
        assert_eq!(rows.len(), shipped.as_array().unwrap().len());
        let back = to_json(&mut rows).unwrap();
        // Field by field as the API reads them (empty lists are the defaults).
        for (a, b) in shipped.as_array().unwrap().iter().zip(back.as_array().unwrap()) {
            for key in ["name", "action", "resource", "purpose", "expect"] {
                assert_eq!(a[key], b[key], "{key} of {}", a["name"]);
            }
            assert_eq!(a.get("context"), b.get("context"), "{}", a["name"]);
            for key in ["kind", "agency_kind"] {
                assert_eq!(a["principal"][key], b["principal"][key], "{}", a["name"]);
            }
            for key in ["roles", "purposes"] {
                let want = a["principal"].get(key).cloned().unwrap_or(json!([]));
                let got = b["principal"].get(key).cloned().unwrap_or(json!([]));
                if a["principal"]["kind"] == "staff" && key == "purposes"
                    || a["principal"]["kind"] == "system" && key == "roles"
                {
                    continue;
                }
                assert_eq!(want, got, "{key} of {}", a["name"]);
            }
        }
    }

    #[test]
    fn rows_come_from_the_form_and_errors_stay_on_their_row() {
        let form = "t1_name=b&t0_name=a&t0_kind=staff&t0_roles=clerk%2C+auditor&t0_action=enroll&t0_resource=vault\
                    &t0_purpose=card_administration&t0_expect=allow&t1_kind=system&t1_resource=card_valid\
                    &t1_expect=deny&t2_name=gone&t2_expect=remove&t3_name=&t3_resource=&t3_kind=staff";
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes()).into_owned().collect();
        let mut rows = from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(rows.len(), 4);
        assert_eq!((rows[0].name.as_str(), rows[0].roles.as_str()), ("a", "clerk, auditor"));
        // Row 1 is a system without its agency kind: no tests, the message on the row.
        assert!(to_json(&mut rows).is_none());
        assert!(rows[0].error.is_none());
        assert!(rows[1].error.as_deref().unwrap().contains("agency kind"));
        rows[1].agency = "city_partner".into();
        rows[1].error = None;
        let tests = to_json(&mut rows).unwrap();
        assert_eq!(
            tests.as_array().unwrap().len(),
            2,
            "the removed and the blank row are dropped"
        );
        assert_eq!(tests[0]["principal"]["roles"], json!(["clerk", "auditor"]));
        mark_failures(
            &mut rows,
            &json!([{"name": "b", "expected": "deny", "got": "allow", "policies": ["p1"]}]),
        );
        assert_eq!(
            rows[1].error.as_deref(),
            Some("Fails: expected deny, got allow (policies: p1).")
        );
        rows[0].context = "[1]".into();
        assert!(to_json(&mut rows).is_none());
        assert!(rows[0].error.as_deref().unwrap().contains("JSON object"));
    }
}
