//! The audit chain: one entry per request, no personal data, verifiable
//! online and offline, and broken by any changed byte.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::process::Command;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_leaves_one_entry_and_denials_name_their_decision() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let auditor = v.auditor().await;
    let library = v
        .issue(json!({"id": "nypl-branch-12", "kind": "system", "agency_kind": "city_partner", "purposes": ["library_services"]}))
        .await;
    let before = v.audit(&auditor).await.len();

    let app = application(
        "Ana Lucía Pérez",
        vec![
            proof("foreign_passport", "MEX", "G12345678"),
            proof("lease", "L", "L-1"),
        ],
    );
    let (s, enrolled) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED);
    let card = enrolled["card_number"].as_str().unwrap().to_owned();
    // A system principal trying to enroll: 403 with a decision id...
    let (s, denied) = v.post("/v1/enrollments", &library, &app).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let decision_id = denied["error"]["decision_id"].as_str().unwrap().to_owned();
    // ...an unauthenticated request, a malformed one, an unknown route.
    let (s, _) = v.call(Method::POST, "/v1/enrollments", None, Some(&app)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = v.post("/v1/enrollments", &clerk, &json!({"applicant": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = v.get("/v1/no-such-thing", &clerk).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let entries = v.audit(&auditor).await;
    // 5 requests above, plus the audit page reads themselves.
    let new: Vec<_> = entries[before..]
        .iter()
        .filter(|e| e["action"] != "read_audit")
        .collect();
    assert_eq!(new.len(), 5, "{new:#?}");
    assert_eq!(new[0]["action"], "enroll");
    assert_eq!(new[0]["decision"], "allow");
    assert_eq!(new[0]["policies"], json!(["clerk.enroll"]));
    assert_eq!(new[0]["principal"], "clerk-ana");
    assert!(new[0]["subject"].as_str().unwrap().starts_with("hmac-sha256:"));
    let denial = new[1];
    assert_eq!(denial["decision_id"], decision_id.as_str());
    assert_eq!(denial["decision"], "deny");
    assert_eq!(denial["principal"], "nypl-branch-12");
    assert_eq!(denial["outcome"], "forbidden_by_policy");
    assert_eq!(new[2]["outcome"], "unauthenticated");
    assert_eq!(new[2]["principal"], json!(null));
    assert_eq!(new[3]["outcome"], "invalid_request");
    assert_eq!(new[4]["outcome"], "not_found");

    // The chain links, and holds no card number, name or document value.
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    let text = serde_json::to_string(&entries).unwrap();
    for needle in [
        card.as_str(),
        &card.replace('-', ""),
        "Ana",
        "Pérez",
        "G12345678",
        "foreign_passport",
        "1990-04-12",
    ] {
        assert!(!text.contains(needle), "audit holds a personal value");
    }

    let (s, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["ok"], true);
    assert!(report["entries"].as_u64().unwrap() >= entries.len() as u64);
    // Clerks may not read the audit.
    let (s, _) = v.get("/v1/audit", &clerk).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    v.stop().await;
}

/// A flood of unauthenticated requests from one address grows the audit by
/// at most one entry per second, and every request is in it as a count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_flood_is_counted_not_logged_request_by_request() {
    let v = TestVault::start("idnyc").await;
    let auditor = v.auditor().await;
    let before = v.audit(&auditor).await.len();
    let started = std::time::Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < std::time::Duration::from_millis(2500) {
        let (s, b) = v.call(Method::GET, "/v1/audit", Some("not-a-token"), None).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
        );
        sent += 1;
    }
    let seconds = started.elapsed().as_secs() + 1;
    // The last window ends within a second of the last request.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let entries = v.audit(&auditor).await;
    let flood: Vec<&Value> = entries[before..]
        .iter()
        .filter(|e| e["outcome"] == "unauthenticated")
        .collect();
    let counted: u64 = flood.iter().map(|e| e["count"].as_u64().unwrap_or(1)).sum();
    assert_eq!(counted, sent, "every request is counted");
    assert!(sent > 50, "a flood: {sent} requests");
    assert!(
        flood.len() as u64 <= seconds + 1,
        "{} entries for {sent} requests over {seconds} s",
        flood.len()
    );
    // One source, one keyed subject; never the address itself.
    let subject = flood[0]["subject"].as_str().unwrap();
    assert!(subject.starts_with("hmac-sha256:"));
    assert!(flood.iter().all(|e| e["subject"] == subject));
    assert!(!serde_json::to_string(&flood).unwrap().contains("127.0.0.1"));
    let (_, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(report["ok"], true);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verify_passes_then_fails_after_one_changed_byte() {
    if on_postgres() {
        // `audit verify --data` reads a stopped vault's sled directory; a
        // PostgreSQL vault is verified online (GET /v1/audit/verify, tested
        // in every other test here) — tampering there is this file's next test's.
        eprintln!("sled only: offline verification of a data directory");
        return;
    }
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    for i in 0..3 {
        let app = application(
            "A",
            vec![
                proof("foreign_passport", "MEX", &format!("G-{i}")),
                proof("lease", "L", "L-1"),
            ],
        );
        let (s, _) = v.post("/v1/enrollments", &clerk, &app).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let dir = v.stop().await;
    let data = dir.path().join("data");
    let exe = env!("CARGO_BIN_EXE_civic-vault");

    let verify = || {
        let out = Command::new(exe)
            .args(["audit", "verify", "--data"])
            .arg(&data)
            .arg("--keys")
            .arg(dir.path().join("keys"))
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    let (code, report) = verify();
    assert_eq!((code, &report["ok"]), (Some(0), &json!(true)), "{report}");
    // The disk scans of the other tests see into compressed blocks.
    assert!(dir_contains(&data, b"{\"seq\":3,\"at\":\"").is_some());

    // Blocks are stored compressed (`0xFF 0x01 ‖ a Zstandard frame`): entry 3's block.
    let marker = b"{\"seq\":3,\"at\":\"";
    let (key, original) = {
        let db = common::sled_open(&data);
        let audit = db.open_tree("audit").unwrap();
        let found = audit
            .iter()
            .map(Result::unwrap)
            .find(|(_, v)| unpack(v).windows(marker.len()).any(|w| w == marker))
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .expect("entry 3 is stored");
        assert_eq!(found.1[..2], [0xFF, 0x01], "the block is stored compressed");
        assert!(
            !found.1.windows(marker.len()).any(|w| w == marker),
            "a compressed block does not hold its JSON as it is"
        );
        found
    };
    let put = |value: &[u8]| {
        let db = common::sled_open(&data);
        db.open_tree("audit").unwrap().insert(&key, value).unwrap();
        db.flush().unwrap();
    };

    // Change one byte of entry 3, as someone with the disk could: a digit of
    // its timestamp, the block decompressed, changed and compressed again.
    let mut framed = unpack(&original);
    let at = framed.windows(marker.len()).position(|w| w == marker).unwrap() + marker.len() + 3;
    framed[at] = if framed[at] == b'9' { b'8' } else { framed[at] + 1 };
    put(&pack(&framed));
    let (code, report) = verify();
    assert_eq!(code, Some(1));
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_bad_seq"], 3);

    // Put back, the chain verifies; one flipped bit of the compressed frame
    // itself breaks it at that block, never passes.
    put(&original);
    assert_eq!(verify().1["ok"], true);
    let first = u64::from_be_bytes(key.as_slice().try_into().unwrap());
    let last = first + entries_in(&unpack(&original)) - 1;
    for i in [2, original.len() / 2, original.len() - 3] {
        let mut damaged = original.clone();
        damaged[i] ^= 0x10;
        put(&damaged);
        let (code, report) = verify();
        assert_eq!(
            (code, &report["ok"]),
            (Some(1), &json!(false)),
            "bit flipped at {i}: {report}"
        );
        // Either the walk breaks at one of the block's entries, or the store
        // will not open on a block that does not decompress or frame (and says so).
        match report["first_bad_seq"].as_u64() {
            Some(bad) => assert!((first..=last).contains(&bad), "bit flipped at {i}: {report}"),
            None => assert!(
                ["audit block does not decompress", "unreadable audit entry"]
                    .iter()
                    .any(|why| report["store_problem"].as_str().unwrap_or_default().contains(why)),
                "bit flipped at {i}: {report}"
            ),
        }
    }
}

/// A stored audit block's framed entries.
fn unpack(value: &[u8]) -> Vec<u8> {
    if value.starts_with(&[0xFF, 0x01]) {
        zstd::stream::decode_all(&value[2..]).unwrap_or_default()
    } else {
        value.to_vec()
    }
}

/// How many entries framed entries hold (`u32 length ‖ hash ‖ JSON` each).
fn entries_in(framed: &[u8]) -> u64 {
    let (mut n, mut rest) = (0, framed);
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        rest = &rest[(4 + 32 + len).min(rest.len())..];
        n += 1;
    }
    n
}

/// Framed entries as a stored (compressed) block.
fn pack(framed: &[u8]) -> Vec<u8> {
    let mut block = vec![0xFF, 0x01];
    block.extend(zstd::bulk::compress(framed, 1).unwrap());
    block
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_entry_cannot_be_written_the_vault_fails_closed() {
    let mut v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let library = v
        .issue(
            json!({"id": "nypl-12", "kind": "system", "agency_kind": "city_partner", "purposes": ["library_services"]}),
        )
        .await;
    let app = application(
        "Failclosed Applicant",
        vec![proof("foreign_passport", "MEX", "F-1"), proof("lease", "L", "L-1")],
    );
    let (s, first) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED);
    let card = first["card_number"].as_str().unwrap().to_owned();

    // The disk stops taking writes.
    v.vault.as_ref().unwrap().store.simulate_write_failure();
    v.clean_stop = false;
    let second = application(
        "Failclosed Second",
        vec![proof("foreign_passport", "MEX", "F-2"), proof("lease", "L", "L-1")],
    );
    let (s, b) = v.post("/v1/enrollments", &clerk, &second).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
    assert!(!b.to_string().contains("sled"), "no internals in the body: {b}");
    // A read that would release data is refused too: nothing leaves unaudited.
    let (s, _) = v
        .post(
            "/v1/facts",
            &library,
            &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid"]}),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let photo = v.photo(&clerk, &card).await;
    assert_eq!(photo.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_ne!(photo.headers()["content-type"], "image/png");
    // Even a denial cannot be answered without its entry.
    let (s, _) = v.get("/v1/audit", &clerk).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);

    // After a restart on the same data, the second applicant does not exist.
    let dir = v.stop().await;
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    let (s, b) = v.post("/v1/enrollments", &clerk, &second).await;
    assert_eq!(s, StatusCode::CREATED, "the failed enrollment left nothing behind: {b}");
    let auditor = v.auditor().await;
    let (_, report) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(report["ok"], true);
    v.stop().await;
}
