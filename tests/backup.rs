//! Backup and restore: an age-encrypted archive of a stopped vault's data,
//! verified without restoring, restored into an empty directory only; and
//! destroyed data stays destroyed in a restored backup.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): `backup`/`restore` are sled's (PostgreSQL has its own backups).

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
use reqwest::StatusCode;

fn cli(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(args)
        .output()
        .unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Restores `archive` into a fresh directory beside copies of `keys`.
fn restore_beside(archive: &Path, identity: &Path, keys: &Path) -> tempfile::TempDir {
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    let out = cli(&[
        "restore",
        "--archive",
        p(archive),
        "--identity",
        p(identity),
        "--data",
        p(&data),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = target.path().join("keys");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(keys).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_round_trip_verify_and_keep_destroyed_data_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sled_config(dir.path(), "idnyc");
    config.retention.key_rotation = "1s".parse().unwrap();
    let v = TestVault::start_in(dir, config.clone()).await;
    let clerk = v.clerk().await;
    let erased = v.enroll_one(&clerk, "BK-1", "1990-04-12").await;
    let kept = v.enroll_one(&clerk, "BK-2", "1985-01-01").await;
    let dir = v.stop().await;
    let keys = dir.path().join("keys");
    let work = tempfile::tempdir().unwrap();
    let identity = work.path().join("backup.identity");

    let out = cli(&["backup", "keygen", "--out", p(&identity)]);
    assert!(out.status.success());
    let recipient = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(recipient.starts_with("age1"));
    let before = work.path().join("before.age");
    let out = cli(&[
        "backup",
        "create",
        "--data",
        p(&dir.path().join("data")),
        "--out",
        p(&before),
        "--recipient",
        &recipient,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The archive is an age file: no card number, name or document in it.
    let bytes = std::fs::read(&before).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    for needle in [erased.as_bytes(), b"Test Holder", b"BK-1"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
    let out = cli(&["backup", "verify", "--archive", p(&before), "--identity", p(&identity)]);
    assert!(out.status.success());
    let checked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checked["digest"], made["digest"]);
    assert_eq!(checked["records"], made["records"]);
    // One changed byte, and it does not verify.
    let damaged = work.path().join("damaged.age");
    let mut d = bytes.clone();
    let at = d.len() - 100;
    d[at] ^= 1;
    std::fs::write(&damaged, d).unwrap();
    let out = cli(&["backup", "verify", "--archive", p(&damaged), "--identity", p(&identity)]);
    assert_eq!(out.status.code(), Some(1));
    // A damaged archive restores nothing; a non-empty target is refused.
    let target = tempfile::tempdir().unwrap();
    let out = cli(&[
        "restore",
        "--archive",
        p(&damaged),
        "--identity",
        p(&identity),
        "--data",
        p(target.path()),
    ]);
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_dir(target.path()).unwrap().count(),
        0,
        "nothing half-written"
    );
    std::fs::write(target.path().join("something"), b"x").unwrap();
    let out = cli(&[
        "restore",
        "--archive",
        p(&before),
        "--identity",
        p(&identity),
        "--data",
        p(target.path()),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));

    // Restored beside the keys, the vault serves both cardholders.
    let restored = restore_beside(&before, &identity, &keys);
    let restored_config = sled_config(restored.path(), "idnyc");
    let r = TestVault::start_in(restored, restored_config).await;
    for card in [&erased, &kept] {
        let photo = r.photo(&clerk, card).await;
        assert_eq!(photo.status(), StatusCode::OK);
        assert_eq!(photo.bytes().await.unwrap().as_ref(), PNG);
    }
    r.stop().await;

    // Erase one cardholder: the sweep deletes it and the rotation destroys its KEK.
    let v = TestVault::start_in(dir, config).await;
    let (s, _) = v.request_erasure(&clerk, &erased).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, r) = v
        .post("/v1/retention/sweep", &v.admin.clone(), &serde_json::json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(
        r.to_string().contains("key_encryption_key"),
        "the KEK was destroyed: {r}"
    );
    let dir = v.stop().await;

    // The backup made before the erasure, restored now: the erased
    // cardholder's record is in it, and cannot be opened.
    let restored = restore_beside(&before, &identity, &dir.path().join("keys"));
    let config = sled_config(restored.path(), "idnyc");
    let r = TestVault::start_in(restored, config).await;
    let photo = r.photo(&clerk, &erased).await;
    assert_eq!(photo.status(), StatusCode::NOT_FOUND, "destroyed stays destroyed");
    // The price, stated in SECURITY.md: every record of a backup older than
    // the rotation was wrapped under the destroyed KEK too.
    let photo = r.photo(&clerk, &kept).await;
    assert_eq!(photo.status(), StatusCode::NOT_FOUND);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_keys_travel_in_the_backup_still_sealed_and_plain_keys_never_do() {
    let v = TestVault::start_sled("idnyc").await;
    let clerk = v.clerk().await;
    let card = v.enroll_one(&clerk, "BK-SEALED-1", "1991-02-03").await;
    let admin = v.admin.clone();
    let dir = v.stop().await;
    let keys = dir.path().join("keys");
    let data = dir.path().join("data");
    let work = tempfile::tempdir().unwrap();
    let identity = work.path().join("backup.identity");
    let out = cli(&["backup", "keygen", "--out", p(&identity)]);
    let recipient = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let archive = work.path().join("sealed.age");
    let create = |keys: &Path| {
        cli(&[
            "backup",
            "create",
            "--data",
            p(&data),
            "--keys",
            p(keys),
            "--out",
            p(&archive),
            "--recipient",
            &recipient,
        ])
    };
    // Plain keys: refused, and no archive is written.
    let out = create(&keys);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not sealed"));
    assert!(!archive.exists());

    let passphrase = work.path().join("passphrase");
    std::fs::write(&passphrase, "a passphrase for the backup test\n").unwrap();
    std::fs::set_permissions(&passphrase, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = cli(&["keys", "seal", "--keys", p(&keys), "--passphrase-file", p(&passphrase)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sealed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sealed["admin_token"], admin.as_str());
    let out = create(&keys);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key_files = std::fs::read_dir(&keys)
        .unwrap()
        .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count() as u64;
    assert_eq!(made["key_files"].as_u64(), Some(key_files));

    // Restored into two empty directories, the vault opens with the passphrase.
    let target = tempfile::tempdir().unwrap();
    let (new_data, new_keys) = (target.path().join("data"), target.path().join("keys"));
    let out = cli(&[
        "restore",
        "--archive",
        p(&archive),
        "--identity",
        p(&identity),
        "--data",
        p(&new_data),
        "--keys",
        p(&new_keys),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value =
        serde_json::from_slice(&cli(&["keys", "status", "--keys", p(&new_keys)]).stdout).unwrap();
    assert_eq!(status["sealed"], true);
    assert_eq!(status["plain_files"], serde_json::json!([]));
    let mut config = sled_config(target.path(), "idnyc");
    config.seal.passphrase_file = Some(passphrase);
    let r = TestVault::start_run(target, config, &admin).await;
    let photo = r.photo(&clerk, &card).await;
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.bytes().await.unwrap().as_ref(), PNG);
    r.stop().await;
}
