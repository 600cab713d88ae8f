//! `civic-vault policy diff|apply|history|rollback|export` against a running
//! vault: the same operations as the API, under the operator's own token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use serde_json::Value;

async fn cli(v: &TestVault, token_file: &Path, args: &[&str]) -> Output {
    let exe = env!("CARGO_BIN_EXE_civic-vault");
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("policy")
        .args(args)
        .arg("--url")
        .arg(format!("http://{}", v.addr))
        .arg("--token-file")
        .arg(token_file)
        .env("CVC5", solver());
    cmd.output().await.unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_apply_diff_export_and_roll_back_from_the_command_line() {
    let v = TestVault::start("idnyc").await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let clerk = v.clerk().await;
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("officer.token");
    std::fs::write(&token, &officer).unwrap();
    let clerk_token = tmp.path().join("clerk.token");
    std::fs::write(&clerk_token, &clerk).unwrap();

    // Export writes a policies directory that checks offline.
    let exported = tmp.path().join("exported");
    let o = cli(&v, &token, &["export", "--out", exported.to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for f in ["editable.cedar", "floor.cedar", "schema.cedarschema"] {
        assert_eq!(
            std::fs::read_to_string(exported.join(f)).unwrap(),
            std::fs::read_to_string(shipped.join(f)).unwrap(),
            "{f}"
        );
    }

    // A benign edit: diff shows it, apply activates it as version 2.
    let text = std::fs::read_to_string(exported.join("editable.cedar")).unwrap();
    let edited = tmp.path().join("edited.cedar");
    let addition = "@id(\"facts.parks_youth\")\npermit (principal is CivicVault::System, action == CivicVault::Action::\"query_fact\", resource == CivicVault::Fact::\"age_over_18\")\nwhen { context.purpose == \"parks_recreation\" && context.purpose_registered };\n";
    std::fs::write(&edited, format!("{text}{addition}")).unwrap();
    let o = cli(&v, &token, &["diff", "--file", edited.to_str().unwrap()]).await;
    assert!(o.status.success());
    let diff = stdout(&o);
    assert!(diff.starts_with("--- version 1\n"), "{diff}");
    assert!(diff.contains("\n+@id(\"facts.parks_youth\")\n"), "{diff}");

    let o = cli(
        &v,
        &token,
        &[
            "apply",
            "--file",
            edited.to_str().unwrap(),
            "--comment",
            "youth programs",
        ],
    )
    .await;
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let applied: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(applied["version"], 2);

    // A stale expected version is refused with the API's 409.
    let o = cli(
        &v,
        &token,
        &["apply", "--file", edited.to_str().unwrap(), "--expected-version", "1"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("409 version_conflict"));

    // A broken file is refused with the whole report on stdout.
    let broken = tmp.path().join("broken.cedar");
    std::fs::write(&broken, "permit(principal, action").unwrap();
    let o = cli(&v, &token, &["apply", "--file", broken.to_str().unwrap()]).await;
    assert_eq!(o.status.code(), Some(1));
    let body: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(body["error"]["code"], "policy_rejected");
    assert_eq!(body["error"]["report"]["errors"][0]["line"], 1);

    // Rollback, then history lists all three versions; diff between versions.
    let o = cli(&v, &token, &["rollback", "--to", "1"]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(&v, &token, &["history"]).await;
    let history = stdout(&o);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3, "{history}");
    assert!(lines[1].contains("privacy-1") && lines[1].ends_with("youth programs"));
    assert!(lines[2].ends_with("rollback to version 1"));
    let o = cli(&v, &token, &["diff", "--from", "2", "--to", "3"]).await;
    assert!(stdout(&o).contains("\n-@id(\"facts.parks_youth\")\n"));

    // The clerk's token is refused by policy, exactly as over the API.
    let o = cli(&v, &clerk_token, &["history"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("403 forbidden_by_policy"));
    v.stop().await;
}
