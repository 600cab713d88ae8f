//! The staff console in a real browser: `tests/console/console.mjs` drives
//! Debian's Chromium with playwright-core against the `civic-vault` binary
//! this build made — passkeys from Chromium's virtual authenticator, the
//! counter, the policy studio, the legal desk, the audit screen and the
//! refusals — and saves a screenshot of each main screen in docs/screenshots/.
//!
//! Needs /usr/bin/chromium and `npm ci` in tests/console (`.ci/console-setup`
//! installs both; `.ci/test` runs it). Without them the test fails naming
//! what is missing, unless `CIVIC_VAULT_SKIP` names `browser`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test")]

mod common;

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// What the suite needs that this machine lacks, one phrase each.
fn missing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        out.push(format!("{CHROMIUM} (Debian's chromium package)"));
    }
    let modules = root.join("tests/console/node_modules/playwright-core");
    if !modules.exists() {
        out.push(format!("{} (npm ci in tests/console)", modules.display()));
    }
    if Command::new("node").arg("--version").output().is_err() {
        out.push("node (Node.js 20 or later)".to_owned());
    }
    out
}

#[test]
fn the_console_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lacking = missing(root);
    let what = lacking.join(", ");
    if !common::needs(
        "browser",
        lacking.is_empty(),
        &format!("{what} for the console's browser tests (.ci/console-setup installs them)"),
    ) {
        return;
    }
    let output = Command::new("node")
        .arg(root.join("tests/console/console.mjs"))
        .current_dir(root)
        .env("CIVIC_VAULT_BIN", env!("CARGO_BIN_EXE_civic-vault"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the console suite failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    println!("{stdout}");
}
