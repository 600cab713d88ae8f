//! The front desk's card check (`/verify/`) in Debian's Chromium:
//! `tests/verify_page/page.mjs` checks the page against fixture seals (each
//! verdict, nothing sent while scanning, nothing about a card kept, the
//! service worker serving it with the network cut, axe-core), and here a
//! card the vault printed is shown to Chromium's fake camera
//! (`tests/verify_page/camera.mjs`, the PDF's back rendered by poppler):
//! the page, served by the vault, says Valid, and Revoked once the card is
//! revoked — each time again with the network cut, from its service worker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestVault;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn browser() -> bool {
    let have = Path::new("/usr/bin/chromium").exists()
        && root().join("tests/console/node_modules/playwright-core").exists()
        && Command::new("node").arg("--version").output().is_ok();
    common::needs(
        "browser",
        have,
        "/usr/bin/chromium, node and playwright-core in tests/console (.ci/console-setup installs them)",
    )
}

fn poppler() -> bool {
    common::needs(
        "print",
        Path::new("/usr/bin/pdftoppm").exists(),
        "Debian's poppler-utils (.ci/print-setup installs it)",
    )
}

#[test]
fn the_page_checks_fixture_seals_sends_nothing_and_works_offline() {
    if !browser() {
        return;
    }
    let out = Command::new("node")
        .arg(root().join("tests/verify_page/page.mjs"))
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{}", stdout.lines().last().unwrap_or_default());
    assert!(
        out.status.success(),
        "page.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the page shows for the card in `png`, seen through the camera.
fn camera(png: &Path, base: &str, expect: &str) -> Value {
    let out = Command::new("node")
        .arg(root().join("tests/verify_page/camera.mjs"))
        .arg(png)
        .args(["--base", base, "--expect", expect, "--offline-again"])
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "camera.mjs (expecting {expect}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = &stdout[stdout.find('{').unwrap()..];
    serde_json::from_str(json).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printed_card_shown_to_the_camera_is_valid_then_revoked() {
    let v = TestVault::start_reachable("idnyc").await;
    if !browser() || !poppler() {
        v.stop().await;
        return;
    }
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P30", "1990-04-12").await;
    let resp = v
        .http
        .get(v.url(&format!("/v1/cardholders/{card}/print?purpose=card_printing")))
        .bearer_auth(&clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("card.pdf"), resp.bytes().await.unwrap()).unwrap();
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "300", "-f", "2", "-l", "2"])
        .arg(dir.path().join("card.pdf"))
        .arg(dir.path().join("back"))
        .status()
        .unwrap();
    assert!(status.success());
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .unwrap();
    // The page is the vault's own, at its console origin.
    let (_, meta) = v
        .call(reqwest::Method::GET, "/.well-known/jwt-vc-issuer", None, None)
        .await;
    let base = meta["issuer"].as_str().unwrap().to_owned();
    let seen = camera(&png, &base, "Valid");
    assert_eq!(seen["verdict"], "Valid", "{seen}");
    assert!(seen.to_string().contains("Test Holder"), "{seen}");
    // With the network cut, the page (from its service worker) still reads
    // the card and checks it against what it kept.
    assert_eq!(seen["offline_from_service_worker"], true, "{seen}");
    assert_eq!(seen["offline_verdict"], "Valid", "{seen}");

    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let seen = camera(&png, &base, "Revoked");
    assert_eq!(seen["verdict"], "Revoked", "{seen}");
    assert_eq!(seen["offline_verdict"], "Revoked", "{seen}");
    v.stop().await;
}
