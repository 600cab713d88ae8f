//! The audit log as a transparency log (contract v1.2): the tree over the
//! entries is RFC 6962's, checked here by a Merkle tree hash and proof
//! verifiers written in this file from RFC 9162's text (not the vault's);
//! the checkpoint is a C2SP signed note that verifies with the key
//! `audit verifier-key` prints; tiles hold the tree's hashes; bad input
//! gets the contract's errors; a store rolled back under a signed tree
//! checkpoint does not start; a store from before the tree catches up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn leaf(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0]);
    h.update(data);
    h.finalize().into()
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// RFC 9162 §2.1.1's MTH.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// RFC 9162 §2.1.3.2.
fn verify_inclusion(index: u64, size: u64, leaf_hash: [u8; 32], path: &[[u8; 32]], root: [u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = leaf_hash;
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == root
}

/// RFC 9162 §2.1.4.2.
fn verify_consistency(first: u64, second: u64, first_hash: [u8; 32], second_hash: [u8; 32], path: &[[u8; 32]]) -> bool {
    if first == second {
        return path.is_empty() && first_hash == second_hash;
    }
    let mut path = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, first_hash);
    }
    let (mut f_n, mut s_n) = (first - 1, second - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let Some((first_p, rest)) = path.split_first() else {
        return false;
    };
    let (mut fr, mut sr) = (*first_p, *first_p);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    fr == first_hash && sr == second_hash && s_n == 0
}

fn hashes(v: &Value) -> Vec<[u8; 32]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect()
}

/// Every entry's leaf, from the API's pages: each entry's canonical JSON.
async fn leaves(v: &TestVault, token: &str) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let (s, page) = v.get(&format!("/v1/audit?after={after}&limit=1000"), token).await;
        assert_eq!(s, StatusCode::OK);
        let entries = page["entries"].as_array().unwrap().clone();
        // A short page is the last: each read is itself audited, so a page
        // is never empty once the log has been read.
        let last = entries.len() < 1000;
        for mut e in entries {
            after = e["seq"].as_u64().unwrap();
            e.as_object_mut().unwrap().remove("hash");
            let entry: civic_vault::domain::audit::AuditEntry = serde_json::from_value(e).unwrap();
            out.push(leaf(&entry.canonical()));
        }
        if last {
            return out;
        }
    }
}

async fn text(v: &TestVault, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(v.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn bytes(v: &TestVault, path: &str, token: &str) -> (StatusCode, Vec<u8>) {
    let resp = reqwest::Client::new()
        .get(v.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

fn verifier_key(keys: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["audit", "verifier-key", "--keys"])
        .arg(keys)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_an_rfc6962_tree_with_a_signed_checkpoint_tiles_and_proofs() {
    let v = TestVault::start("idnyc").await;
    let auditor = v.auditor().await;
    for _ in 0..300 {
        v.get("/v1/audit?limit=1", &auditor).await;
    }
    let (s, note) = text(&v, "/v1/audit/checkpoint", Some(&auditor)).await;
    assert_eq!(s, StatusCode::OK, "{note}");
    let vkey = verifier_key(&v.dir.path().join("keys"));
    let origin = vkey.split('+').next().unwrap().to_owned();
    assert!(origin.starts_with("civic-vault.invalid/audit/"), "{origin}");
    // The note, checked by Cloudflare's signed_note (Go's note, ported).
    let signed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
    let verifier = signed_note::StandardVerifier::new(&vkey).unwrap();
    signed
        .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    let body: Vec<&str> = note.lines().collect();
    assert_eq!(body[0], origin);
    let size: u64 = body[1].parse().unwrap();
    let root: [u8; 32] = STANDARD.decode(body[2]).unwrap().try_into().unwrap();
    assert!(size >= 300, "{size}");
    assert_eq!(body[3], "");
    assert!(body[4].starts_with(&format!("— {origin} ")));

    // The root is RFC 6962's over the entries' canonical JSON.
    let all = leaves(&v, &auditor).await;
    assert!(all.len() as u64 >= size);
    assert_eq!(mth(&all[..size as usize]), root);

    // Inclusion and consistency proofs, checked by RFC 9162's verifiers.
    for seq in [1, 2, 150, 256, 257, size] {
        let (s, p) = v
            .get(&format!("/v1/audit/proof/inclusion?seq={seq}&size={size}"), &auditor)
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["leaf_index"], seq - 1);
        assert_eq!(p["tree_size"], size);
        let path = hashes(&p["hashes"]);
        assert!(
            verify_inclusion(seq - 1, size, all[seq as usize - 1], &path, root),
            "seq {seq}"
        );
        assert!(!verify_inclusion(
            seq - 1,
            size,
            all[seq as usize % 5 + 300],
            &path,
            root
        ));
    }
    for from in [1, 7, 128, 256, size - 1, size] {
        let (s, p) = v
            .get(&format!("/v1/audit/proof/consistency?from={from}&to={size}"), &auditor)
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        let path = hashes(&p["hashes"]);
        let old = mth(&all[..from as usize]);
        assert!(verify_consistency(from, size, old, root, &path), "from {from}");
        if from != size {
            assert!(!verify_consistency(from, size, all[0], root, &path) || from == 1);
        }
    }

    // Tiles: level 0's first full tile is the first 256 leaves; a partial
    // tile the next ones; level 1's first hash is the first 256 leaves' root.
    let (s, t) = bytes(&v, "/v1/audit/tile/0/000", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&t));
    assert_eq!(t, all[..256].concat());
    let (s, t) = bytes(&v, "/v1/audit/tile/0/001.p/10", &auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t, all[256..266].concat());
    let (s, t) = bytes(&v, "/v1/audit/tile/1/000.p/1", &auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t, mth(&all[..256]).to_vec());

    // Bad input: the contract's errors, never a panic.
    for bad in [
        "/v1/audit/proof/inclusion?seq=0&size=3",
        "/v1/audit/proof/inclusion?seq=4&size=3",
        "/v1/audit/proof/inclusion?seq=1",
        "/v1/audit/proof/inclusion?seq=x&size=3",
        "/v1/audit/proof/inclusion?seq=1&size=99999999",
        "/v1/audit/proof/inclusion?seq=1&size=3&extra=1",
        "/v1/audit/proof/consistency?from=0&to=3",
        "/v1/audit/proof/consistency?from=4&to=3",
        "/v1/audit/proof/consistency?from=1&to=18446744073709551615",
        "/v1/audit/tile/0/abc",
        "/v1/audit/tile/0/000.p/0",
        "/v1/audit/tile/0/000.p/256",
        "/v1/audit/tile/64/000",
        "/v1/audit/tile/255/000",
        "/v1/audit/tile/0/000.p/",
        "/v1/audit/tile/data/000",
    ] {
        let (s, e) = v.get(bad, &auditor).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert_eq!(e["error"]["code"], "invalid_request", "{bad}");
    }
    let (s, _) = v.get("/v1/audit/tile/0/999", &auditor).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = text(&v, "/v1/audit/checkpoint", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let clerk = v.clerk().await;
    let (s, _) = text(&v, "/v1/audit/checkpoint", Some(&clerk)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = v.get("/v1/audit/proof/inclusion?seq=1&size=1", &clerk).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_checkpoints_need_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.audit.publish_checkpoints = true;
    config.audit.origin = Some("city.example.gov/audit".into());
    let v = TestVault::start_in(dir, config).await;
    let (s, note) = text(&v, "/v1/audit/checkpoint", None).await;
    assert_eq!(s, StatusCode::OK, "{note}");
    assert!(note.starts_with("city.example.gov/audit\n"), "{note}");
    let vkey = verifier_key(&v.dir.path().join("keys"));
    assert!(vkey.starts_with("city.example.gov/audit+"), "{vkey}");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_rolled_back_under_a_signed_tree_does_not_start_and_an_old_store_catches_up() {
    let v = TestVault::start_sled("idnyc").await;
    let auditor = v.auditor().await;
    for _ in 0..20 {
        v.get("/v1/audit?limit=1", &auditor).await;
    }
    let dir = v.stop().await;
    let data = dir.path().join("data");
    copy_dir(&data, &dir.path().join("data-old"));

    // A store from before the tree: its `tlog` tree dropped, then rebuilt
    // at open from the entries to the same root.
    let config = sled_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config.clone()).await;
    for _ in 0..30 {
        v.get("/v1/audit?limit=1", &auditor).await;
    }
    let (_, note) = text(&v, "/v1/audit/checkpoint", Some(&auditor)).await;
    let dir = v.stop().await;
    let data = dir.path().join("data");
    {
        let db = common::sled_open(&data);
        assert!(db.drop_tree("tlog").unwrap());
        db.flush().unwrap();
    }
    let v = TestVault::start_in(dir, config.clone()).await;
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    let root = note.lines().nth(2).unwrap().to_owned();
    let (s, p) = v
        .get(&format!("/v1/audit/proof/consistency?from={size}&to={size}"), &auditor)
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let all = leaves(&v, &auditor).await;
    assert_eq!(STANDARD.encode(mth(&all[..size as usize])), root);
    let dir = v.stop().await;

    // The copy from before: older than the signed tree. With the chain's
    // own checkpoints gone too, the tree's checkpoint alone refuses it.
    let data = dir.path().join("data");
    let signed = std::fs::read(data.join("audit-tlog-checkpoints.jsonl")).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
    copy_dir(&dir.path().join("data-old"), &data);
    std::fs::write(data.join("audit-tlog-checkpoints.jsonl"), signed).unwrap();
    std::fs::remove_file(data.join("audit-checkpoints.jsonl")).ok();
    let err = civic_vault::vault::Vault::open(config, std::sync::Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .expect("a rolled-back store must not start");
    assert!(err.to_string().contains("entries were removed"), "{err}");
}
