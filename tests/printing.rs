//! The printed card, checked with tools that are not the vault's: the PDF
//! rendered by poppler (`pdftoppm`, `pdftotext`), the QR code on its back
//! read by zbar (`zbarimg`), the seal verified by PyPI's pycose
//! (`tests/printing/verify_seal.py`), and revocation seen through the
//! status list the seal names. Also who may print, and what.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::TestVault;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the outside tools are here (else the test fails naming them,
/// unless `CIVIC_VAULT_SKIP` names `print`).
fn tools() -> bool {
    let have = ["/usr/bin/pdftoppm", "/usr/bin/pdftotext", "/usr/bin/zbarimg"]
        .iter()
        .all(|p| Path::new(p).exists())
        && root().join("target/print-py/bin/python3").exists();
    common::needs(
        "print",
        have,
        "Debian's poppler-utils and zbar-tools and pycose in target/print-py (.ci/print-setup installs them)",
    )
}

async fn print(v: &TestVault, token: &str, card: &str, purpose: &str) -> reqwest::Response {
    v.http
        .get(v.url(&format!("/v1/cardholders/{card}/print?purpose={purpose}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn pycose(seal: &str, jwks: &Value) -> Value {
    let mut child = Command::new(root().join("target/print-py/bin/python3"))
        .arg("-I")
        .arg(root().join("tests/printing/verify_seal.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({"seal": seal, "jwks": jwks}).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The bit of `idx` in the status list JWT `list` (its signature is
/// checked by the credential tests; here the bits).
fn bit(list: &str, idx: u64) -> u8 {
    let payload = list.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let lst = URL_SAFE_NO_PAD
        .decode(claims["status_list"]["lst"].as_str().unwrap())
        .unwrap();
    let mut bits = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(lst.as_slice()), &mut bits).unwrap();
    (bits[usize::try_from(idx / 8).unwrap()] >> (idx % 8)) & 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printed_card_carries_a_seal_outside_tools_read_and_revocation_flips_its_status() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "P20", "1990-04-12").await;

    // Who may print, and for what.
    let partner = v.system("partner-1", "city_partner", &["identity_check"]).await;
    assert_eq!(
        print(&v, &partner, &card, "card_printing").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        print(&v, &clerk, &card, "identity_check").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        print(&v, &clerk, "0000 0000 0000", "card_printing")
            .await
            .status()
            .as_u16()
            / 100,
        4
    );

    let resp = print(&v, &clerk, &card, "card_printing").await;
    let status = resp.status();
    if status != StatusCode::OK {
        panic!("{status}: {}", resp.text().await.unwrap());
    }
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let pdf = resp.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    if !tools() {
        v.stop().await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("card.pdf"), &pdf).unwrap();

    // Two pages at ID-1 size (85.60 × 53.98 mm = 242.6 × 153.0 pt).
    let info = run(Command::new("pdfinfo").arg(dir.path().join("card.pdf")));
    assert!(info.contains("Pages:           2"), "{info}");
    assert!(
        info.contains("242.65 x 153.01 pts") || info.contains("242.646 x 153.014 pts"),
        "{info}"
    );
    // The front prints the name and the number; poppler reads them back.
    let text = run(Command::new("pdftotext").arg(dir.path().join("card.pdf")).arg("-"));
    assert!(text.contains("Test Holder"), "the printed text lacks the name");
    assert!(text.contains(&card), "the printed text lacks the card number");

    // The back's QR code, read by zbar from poppler's rendering at 300 dpi.
    run(Command::new("pdftoppm")
        .args(["-png", "-r", "300"])
        .arg(dir.path().join("card.pdf"))
        .arg(dir.path().join("page")));
    let raw = run(Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(dir.path().join("page-2.png")));
    let seal = raw.trim().to_owned();
    assert!(seal.starts_with("CV1:"), "the QR code does not hold a seal");
    assert!(seal
        .bytes()
        .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b)));

    // pycose verifies it against the issuer's published keys.
    let (_, doc) = v
        .call(reqwest::Method::GET, "/.well-known/jwt-vc-issuer", None, None)
        .await;
    let verdict = pycose(&seal, &doc["jwks"]);
    assert_eq!(verdict["ok"], true, "{}", verdict["error"]);
    assert_eq!(verdict["iss"], doc["issuer"]);
    let printed = &verdict["card"];
    assert_eq!(printed["name"], "Test Holder");
    assert_eq!(printed["number"], card.as_str());
    assert_eq!(printed["birth_date"], "1990-04-12");
    assert_eq!(printed["program"].as_str().map(str::is_empty), Some(false));
    assert!(printed["address"].as_str().unwrap().contains("Hartford"));
    // The photo digest is the SHA-256 of the photo the vault holds.
    let photo = v.photo(&clerk, &card).await.bytes().await.unwrap();
    assert_eq!(
        printed["photo"].as_str().unwrap(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&photo))
    );
    // Another key, or a changed byte: not genuine.
    let mut other = doc["jwks"].clone();
    for k in other["keys"].as_array_mut().unwrap() {
        if k["kty"] == "EC" {
            k["x"] = json!(URL_SAFE_NO_PAD.encode([9u8; 32]));
        }
    }
    assert_eq!(pycose(&seal, &other)["ok"], false);
    let mut tampered = seal.clone();
    let at = tampered.len() - 20;
    let swap = if &seal[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, swap);
    assert_eq!(pycose(&tampered, &doc["jwks"])["ok"], false);

    // The seal's status entry is clear; revoking the card sets it.
    let idx = verdict["status"]["status_list"]["idx"].as_u64().unwrap();
    let uri = verdict["status"]["status_list"]["uri"].as_str().unwrap().to_owned();
    let path = uri.split_once("/v1/").map(|(_, p)| format!("/v1/{p}")).unwrap();
    let list = v.http.get(v.url(&path)).send().await.unwrap().text().await.unwrap();
    assert_eq!(bit(&list, idx), 0);
    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            &clerk,
            &json!({"reason": "stolen"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let list = v.http.get(v.url(&path)).send().await.unwrap().text().await.unwrap();
    assert_eq!(bit(&list, idx), 1, "revoking the card sets the printed seal's bit");
    // A revoked card is not printed.
    assert_eq!(
        print(&v, &clerk, &card, "card_printing").await.status(),
        StatusCode::NOT_FOUND
    );

    // The audit says a card was printed; not what it printed.
    let auditor = v.auditor().await;
    let (_, audit) = v
        .call(reqwest::Method::GET, "/v1/audit?limit=200", Some(&auditor), None)
        .await;
    let text = audit.to_string();
    assert!(text.contains("print_card"), "no print_card entry");
    assert!(!text.contains("Test Holder") && !text.contains("1990-04-12"));
    v.stop().await;
}
