//! The shipped policies/ directory passes the cedar-policy validator in
//! strict mode, read straight from disk with the Cedar crate's own API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

use std::str::FromStr;

use cedar_policy::{PolicySet, Schema, ValidationMode, Validator};

#[test]
fn shipped_policies_validate_strictly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let schema_text = std::fs::read_to_string(dir.join("schema.cedarschema")).unwrap();
    let (schema, warnings) = Schema::from_cedarschema_str(&schema_text).unwrap();
    assert_eq!(warnings.count(), 0);
    let validator = Validator::new(schema);
    for file in ["floor.cedar", "editable.cedar"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let set = PolicySet::from_str(&text).unwrap();
        assert!(set.policies().count() > 0, "{file} is empty");
        let result = validator.validate(&set, ValidationMode::Strict);
        let errors: Vec<String> = result.validation_errors().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{file}: {errors:?}");
        for p in set.policies() {
            assert!(p.annotation("id").is_some(), "{file}: every policy carries an @id");
        }
    }
}

#[test]
fn every_floor_rule_is_a_forbid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let set = PolicySet::from_str(&std::fs::read_to_string(dir.join("floor.cedar")).unwrap()).unwrap();
    let ids: Vec<&str> = set.policies().map(|p| p.annotation("id").unwrap()).collect();
    for needed in [
        "floor.immigration_enforcement",
        "floor.federal_immigration_requester",
        "floor.federal_immigration_legal_process",
        "floor.administrative_process",
        "floor.bulk_screening",
        "floor.data_brokerage",
        "floor.two_person_holds",
    ] {
        assert!(ids.contains(&needed), "{needed}");
    }
    assert!(set.policies().all(|p| p.effect() == cedar_policy::Effect::Forbid));
}

#[test]
fn policy_test_and_check_run_offline_from_the_command_line() {
    let exe = env!("CARGO_BIN_EXE_civic-vault");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let out = std::process::Command::new(exe)
        .args(["policy", "test", "--policies"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains(" passed, 0 failed"));

    // Without the clerk's enrollment permit, the shipped tests catch it.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir.join("editable.cedar")).unwrap();
    let start = text.find("@id(\"clerk.enroll\")").unwrap();
    let end = start + text[start..].find("};").unwrap() + 2;
    let edited = tmp.path().join("edited.cedar");
    std::fs::write(&edited, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let out = std::process::Command::new(exe)
        .args(["policy", "test", "--policies"])
        .arg(&dir)
        .arg("--file")
        .arg(&edited)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL shipped.json / clerk enrolls"));
    let out = std::process::Command::new(exe)
        .args(["policy", "check", "--policies"])
        .arg(&dir)
        .arg("--file")
        .arg(&edited)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
}
