//! Sealed keys: a sealed vault serves nothing but /healthz and /v1/unseal
//! until k operators post their shares; a stolen copy of its disk (data and
//! sealed keys) reveals no applicant data and no key; a passphrase seal
//! opens at start from the configured file.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): it searches a stolen copy of sled's data directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use civic_vault::crypto::seal::{self, NewSeal, Unlock};
use common::{application, dir_contains, proof, sled_config, walk, TestVault, PNG};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use zeroize::Zeroizing;

const NAME: &str = "Zephyrine Quillbottom";
const DOC: &str = "PSPT-ZQ-99817";
const LEASE: &str = "LEASE-ZQ-4471";
const BIRTH: &str = "1987-03-14";
const HEADER: &[u8] = b"civic-vault sealed key v1\n";

async fn unseal(v: &TestVault, body: &Value) -> (StatusCode, Value) {
    v.call(Method::POST, "/v1/unseal", None, Some(body)).await
}

fn secret_files(keys: &std::path::Path) -> Vec<std::path::PathBuf> {
    walk(keys)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".key") || n == "admin.token"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_vault_opens_with_k_shares_and_its_stolen_disk_reveals_no_applicant_data() {
    // First start on plain keys (the README's first command), then seal 2 of 3.
    let first = TestVault::start_sled("hartford").await;
    let admin = first.admin.clone();
    let dir = first.stop().await;
    let keys = dir.path().join("keys");
    let plain_keys: Vec<String> = secret_files(&keys)
        .iter()
        .map(|p| std::fs::read_to_string(p).map_or_else(|_| String::new(), |t| t.trim().to_owned()))
        .filter(|t| t.len() >= 16)
        .collect();
    assert!(plain_keys.len() >= 5, "{plain_keys:?}");
    let sealed = seal::seal(
        &keys,
        &NewSeal::Shares {
            threshold: 2,
            shares: 3,
        },
    )
    .unwrap();
    assert_eq!(sealed.admin_token.as_deref().map(String::as_str), Some(admin.as_str()));
    let shares: Vec<String> = sealed.shares.iter().map(|s| s.to_string()).collect();

    // Sealed: alive, but nothing under /v1 but /v1/unseal.
    let config = sled_config(dir.path(), "hartford");
    let v = TestVault::start_run(dir, config.clone(), &admin).await;
    let (s, b) = v.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, &b), (StatusCode::OK, &json!({"status": "ok", "sealed": true})));
    // Not ready: a load balancer sends nothing here until it is unsealed.
    let (s, b) = v.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (s, &b),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"ready": false, "role": "sealed"})
        )
    );
    for (method, path) in [
        (Method::GET, "/v1/audit"),
        (Method::POST, "/v1/enrollments"),
        (Method::POST, "/v1/facts"),
        (Method::GET, "/v1/policies"),
        (Method::GET, "/v1/attestation-keys"),
        (Method::GET, "/metrics"),
    ] {
        let (s, b) = v.call(method, path, Some(&admin), Some(&json!({}))).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{path}: {b}");
        assert_eq!(b["error"]["code"], "unavailable", "{path}");
    }
    // No seal change under a running vault, sealed or not.
    let busy = seal::rotate(
        &keys,
        &Unlock::Shares(vec![
            Zeroizing::new(shares[0].clone()),
            Zeroizing::new(shares[1].clone()),
        ]),
        &NewSeal::Shares {
            threshold: 2,
            shares: 3,
        },
    );
    assert!(matches!(busy, Err(e) if e.to_string().contains("in use")));
    let (s, b) = v.call(Method::GET, "/v1/unseal", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["sealed"], true);
    assert_eq!(b["mode"], "shares");
    assert_eq!((b["threshold"].as_u64(), b["received"].as_u64()), (Some(2), Some(0)));

    // Bad input: each a clear 400, nothing counted.
    let other = tempfile::tempdir().unwrap();
    let foreign = seal::seal(
        other.path(),
        &NewSeal::Shares {
            threshold: 2,
            shares: 2,
        },
    )
    .unwrap();
    for body in [
        json!({"share": "nonsense"}),
        json!({"passphrase": "a passphrase for another seal"}),
        json!({"share": shares[0], "passphrase": "both"}),
        json!({}),
        json!({"share": 7}),
        json!({"share": foreign.shares[0].as_str()}),
    ] {
        let (s, b) = unseal(&v, &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert_eq!(b["error"]["code"], "invalid_request");
        let text = b.to_string();
        assert!(
            !text.contains(&shares[0]) && !text.contains(foreign.shares[0].as_str()),
            "an error echoed a share"
        );
    }
    // One share, twice, counts once.
    for _ in 0..2 {
        let (s, b) = unseal(&v, &json!({"share": shares[0]})).await;
        assert_eq!((s, b["received"].as_u64()), (StatusCode::OK, Some(1)), "{b}");
    }
    // A damaged share rebuilds a wrong key: refused, and every share is discarded.
    let mut damaged = shares[1].clone();
    let last = damaged.pop().unwrap();
    damaged.push(if last == 'A' { 'B' } else { 'A' });
    let (s, b) = unseal(&v, &json!({"share": damaged})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["code"], "unseal_failed");
    let (_, b) = v.call(Method::GET, "/v1/unseal", None, None).await;
    assert_eq!(b["received"], 0);
    let (s, _) = v.get("/v1/audit", &admin).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // Any two good shares open it.
    let (_, b) = unseal(&v, &json!({"share": shares[2]})).await;
    assert_eq!(b["received"], 1);
    let (s, b) = unseal(&v, &json!({"share": shares[0]})).await;
    assert_eq!((s, &b), (StatusCode::OK, &json!({"sealed": false})));
    let (_, b) = v.call(Method::GET, "/v1/unseal", None, None).await;
    assert_eq!(b, json!({"sealed": false}));
    let (s, b) = v.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "ok"})));
    let (s, b) = v.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"ready": true, "role": "active"})));

    // Unsealed, it works as always: enroll, read the photo, audit the unseal.
    let clerk = v.clerk().await;
    let mut app = application(
        NAME,
        vec![proof("foreign_passport", "MEX", DOC), proof("lease", "L", LEASE)],
    );
    app["applicant"]["date_of_birth"] = json!(BIRTH);
    let (s, b) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let card = b["card_number"].as_str().unwrap().to_owned();
    let photo = v.photo(&clerk, &card).await;
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.bytes().await.unwrap().as_ref(), PNG);
    let auditor = v.auditor().await;
    let entries = v.audit(&auditor).await;
    let unsealed: Vec<&Value> = entries.iter().filter(|e| e["action"] == "unseal_shares").collect();
    assert_eq!(unsealed.len(), 1, "one audit entry for the unseal");
    assert!(shares.iter().all(|sh| !unsealed[0].to_string().contains(sh)));
    let dir = v.stop().await;

    // The stolen disk: data directory and sealed keys, no shares.
    for f in secret_files(&keys) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(bytes.starts_with(HEADER), "{} is not sealed", f.display());
    }
    let status = seal::status(&keys).unwrap();
    assert_eq!(status["sealed"], true);
    assert_eq!(status["plain_files"], json!([]));
    assert!(civic_vault::crypto::Keyring::open_or_create(&keys).is_err());
    let mut needles: Vec<String> = vec![
        NAME.into(),
        "Quillbottom".into(),
        DOC.into(),
        LEASE.into(),
        BIRTH.into(),
        card.clone(),
        admin.clone(),
        clerk.clone(),
        auditor.clone(),
    ];
    needles.extend(plain_keys);
    needles.extend(shares.iter().cloned());
    for needle in &needles {
        for form in [
            needle.as_bytes().to_vec(),
            STANDARD.encode(needle).into_bytes(),
            URL_SAFE_NO_PAD.encode(needle).into_bytes(),
            hex::encode(needle).into_bytes(),
        ] {
            assert_eq!(
                dir_contains(dir.path(), &form),
                None,
                "a secret or applicant value is readable on the stolen disk"
            );
        }
    }
    assert_eq!(dir_contains(dir.path(), PNG), None, "the photo is readable");
    // What a thief can read: sizes and counts (here, the audit chain's length).
    let (store, _) = civic_vault::store::SledStore::open(&dir.path().join("data"), None).unwrap();
    let (entries_on_disk, _) = civic_vault::domain::store::Store::audit_head(&store).unwrap();
    assert!(entries_on_disk as usize >= entries.len());
    drop(store);
    // ...and the audit chain verifies against its signed checkpoints with
    // the public key beside the sealed keys, without unsealing anything.
    let pinned = civic_vault::vault::checkpoints::pinned_key(&keys)
        .unwrap()
        .expect("checkpoint.pub");
    let heads = civic_vault::vault::checkpoints::read_verified(&dir.path().join("data"), Some(&pinned)).unwrap();
    assert!(!heads.is_empty());

    // Rotate the seal to a passphrase; with the passphrase file configured
    // the vault opens at start, and the old shares open nothing.
    let unlock = Unlock::Shares(vec![
        Zeroizing::new(shares[1].clone()),
        Zeroizing::new(shares[2].clone()),
    ]);
    let passphrase = "correct horse battery staple";
    seal::rotate(&keys, &unlock, &NewSeal::Passphrase(Zeroizing::new(passphrase.into()))).unwrap();
    let info = seal::state(&keys).unwrap().unwrap();
    assert!(seal::open(&keys, &info, &unlock).is_err());
    let pass_file = dir.path().join("passphrase");
    std::fs::write(&pass_file, "wrong passphrase, long enough\n").unwrap();
    std::fs::set_permissions(&pass_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut config = config;
    config.seal.passphrase_file = Some(pass_file.clone());
    let err = civic_vault::Vault::open(config.clone(), std::sync::Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .expect("a wrong passphrase must not open the vault");
    assert!(err.to_string().contains("passphrase"), "{err}");
    std::fs::write(&pass_file, format!("{passphrase}\n")).unwrap();
    let v = TestVault::start_run(dir, config, &admin).await;
    let (s, b) = v.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "ok"})));
    let busy = seal::seal(
        &keys,
        &NewSeal::Shares {
            threshold: 2,
            shares: 2,
        },
    );
    assert!(matches!(busy, Err(e) if e.to_string().contains("in use") || e.to_string().contains("already")));
    let photo = v.photo(&clerk, &card).await;
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.bytes().await.unwrap().as_ref(), PNG);
    v.stop().await;
}

/// A keys directory sealed with shares by the `sharks`-based code (before
/// the move to `blahaj`) still opens with any 2 of its 3 shares.
#[test]
fn shares_made_by_the_sharks_era_seal_still_open() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sharks-sealed");
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    // git keeps no modes but the executable bit: the copy is made owner-only.
    for entry in std::fs::read_dir(fixture.join("keys")).unwrap() {
        let entry = entry.unwrap();
        let to = keys.join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let output: Value = serde_json::from_str(&std::fs::read_to_string(fixture.join("shares.json")).unwrap()).unwrap();
    let shares: Vec<String> = output["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let admin = std::fs::read_to_string(fixture.join("admin.token.plain")).unwrap();
    let info = seal::state(&keys).unwrap().expect("the fixture is sealed");
    for (a, b) in [(0, 1), (1, 2), (0, 2)] {
        let unlock = Unlock::Shares(vec![
            Zeroizing::new(shares[a].clone()),
            Zeroizing::new(shares[b].clone()),
        ]);
        let files = seal::open(&keys, &info, &unlock).unwrap();
        let token = files.read("admin.token").unwrap();
        assert_eq!(
            std::str::from_utf8(&token).unwrap().trim(),
            admin.trim(),
            "shares {a},{b}"
        );
        for name in ["kek-6cfcfe66.key", "checkpoint.key", "subject-eb2788b3.key"] {
            assert!(!files.read(name).unwrap().is_empty(), "{name}");
        }
    }
    let one = Unlock::Shares(vec![Zeroizing::new(shares[0].clone())]);
    assert!(seal::open(&keys, &info, &one).is_err());
}
