use super::*;
use crate::crypto::Keyring;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

fn passphrase(p: &str) -> Zeroizing<String> {
    Zeroizing::new(p.to_owned())
}

fn file_texts(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn sealing_a_plain_keyring_rewrites_every_secret_file_and_removes_the_plain_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let ring = Keyring::open_or_create(dir.path()).unwrap();
    ring.scans
        .recipient(crate::crypto::EpochId::containing(1_000, 10))
        .unwrap();
    let fingerprint = ring.fingerprint();
    drop(ring);
    let before = file_texts(dir.path());
    let token = fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let sealed = seal(
        dir.path(),
        &NewSeal::Shares {
            threshold: 2,
            shares: 3,
        },
    )
    .unwrap();
    let shares = sealed.shares;
    assert_eq!(shares.len(), 3);
    assert_eq!(sealed.admin_token.as_deref().map(String::as_str), Some(token.trim()));
    let after = file_texts(dir.path());
    for (name, plain) in before.iter().filter(|(n, _)| n.ends_with(".key") || n == "admin.token") {
        let sealed = &after.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(sealed.starts_with(HEADER.as_bytes()), "{name} is not sealed");
        let trimmed = String::from_utf8_lossy(plain).trim().to_owned();
        for (other, bytes) in &after {
            assert!(
                !String::from_utf8_lossy(bytes).contains(&trimmed),
                "{name}'s plain text is still in {other}"
            );
        }
    }
    assert!(after.iter().all(|(n, _)| !n.contains(PENDING)));
    // Plain opening refuses; two shares open it, and it is the same keyring.
    assert!(matches!(Keyring::open_or_create(dir.path()), Err(KeyError::Seal(_))));
    let info = state(dir.path()).unwrap().unwrap();
    let files = open(
        dir.path(),
        &info,
        &Unlock::Shares(vec![shares[2].clone(), shares[0].clone()]),
    )
    .unwrap();
    let ring = Keyring::open_files(files).unwrap();
    assert_eq!(ring.fingerprint(), fingerprint);
    assert_eq!(ring.scans.epochs().len(), 1);
    assert!(ring.admin_token_hash().unwrap().is_some());
}

#[test]
fn shares_below_threshold_wrong_or_foreign_do_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let shares = seal(
        dir.path(),
        &NewSeal::Shares {
            threshold: 3,
            shares: 5,
        },
    )
    .unwrap()
    .shares;
    let info = state(dir.path()).unwrap().unwrap();
    let two = Unlock::Shares(vec![shares[0].clone(), shares[1].clone()]);
    assert!(open(dir.path(), &info, &two).is_err());
    // The same share twice counts once.
    let dup = Unlock::Shares(vec![shares[0].clone(), shares[0].clone(), shares[1].clone()]);
    assert!(open(dir.path(), &info, &dup).is_err());
    // A share whose bytes were altered rebuilds a wrong key: refused by the check value.
    let mut bytes = parse_share(&info, &shares[2]).unwrap().1;
    bytes[5] ^= 1;
    let altered = Zeroizing::new(format!("cvs1-{}-{}", info.id, URL_SAFE_NO_PAD.encode(&*bytes)));
    let bad = Unlock::Shares(vec![shares[0].clone(), shares[1].clone(), altered]);
    assert!(matches!(open(dir.path(), &info, &bad), Err(KeyError::Seal(m)) if m.contains("do not rebuild")));
    // Another seal's share names its seal.
    let other = tempfile::tempdir().unwrap();
    let foreign = seal(
        other.path(),
        &NewSeal::Shares {
            threshold: 2,
            shares: 2,
        },
    )
    .unwrap()
    .shares;
    assert!(matches!(parse_share(&info, &foreign[0]), Err(KeyError::Seal(m)) if m.contains("another seal")));
    assert!(parse_share(&info, "not a share").is_err());
    let any_three = Unlock::Shares(vec![shares[4].clone(), shares[1].clone(), shares[3].clone()]);
    let ring = Keyring::open_files(open(dir.path(), &info, &any_three).unwrap()).unwrap();
    assert!(ring.created || ring.admin_token_hash().unwrap().is_some());
}

#[test]
fn a_new_sealed_keyring_never_writes_a_plain_secret_and_runtime_keys_are_sealed() {
    let dir = tempfile::tempdir().unwrap();
    seal(dir.path(), &NewSeal::Passphrase(passphrase("correct horse battery"))).unwrap();
    let info = state(dir.path()).unwrap().unwrap();
    assert_eq!(info.mode, Mode::Passphrase);
    assert!(open(
        dir.path(),
        &info,
        &Unlock::Passphrase(passphrase("wrong horse battery"))
    )
    .is_err());
    let files = open(
        dir.path(),
        &info,
        &Unlock::Passphrase(passphrase("correct horse battery")),
    )
    .unwrap();
    let ring = Keyring::open_files(files).unwrap();
    // Keys written while running: a KEK rotation, a scan epoch, a hold.
    ring.rotate_kek().unwrap();
    ring.scans
        .recipient(crate::crypto::EpochId::containing(5_000, 10))
        .unwrap();
    ring.holds.create("hold_x").unwrap();
    assert!(ring.holds.identity("hold_x").is_some());
    for (name, bytes) in file_texts(dir.path()) {
        if name.ends_with(".key") || name == "admin.token" {
            assert!(bytes.starts_with(HEADER.as_bytes()), "{name} written in the clear");
        }
    }
    // A sealed file moved to another name does not open.
    let kek = ring.active_kek().0;
    fs::copy(dir.path().join(format!("{kek}.key")), dir.path().join("kek-moved.key")).unwrap();
    let files = open(
        dir.path(),
        &info,
        &Unlock::Passphrase(passphrase("correct horse battery")),
    )
    .unwrap();
    assert!(matches!(Keyring::open_files(files), Err(KeyError::BadKey { file, .. }) if file == "kek-moved.key"));
    assert!(seal(dir.path(), &NewSeal::Passphrase(passphrase("another passphrase"))).is_err());
    assert!(matches!(
        seal(
            tempfile::tempdir().unwrap().path(),
            &NewSeal::Passphrase(passphrase("short"))
        ),
        Err(KeyError::Seal(_))
    ));
}

#[test]
fn rotation_moves_to_a_new_seal_and_the_old_secret_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let shares = seal(
        dir.path(),
        &NewSeal::Shares {
            threshold: 2,
            shares: 3,
        },
    )
    .unwrap()
    .shares;
    let old_info = state(dir.path()).unwrap().unwrap();
    let fingerprint = {
        let files = open(dir.path(), &old_info, &Unlock::Shares(shares[..2].to_vec())).unwrap();
        Keyring::open_files(files).unwrap().fingerprint()
    };
    let unlock = Unlock::Shares(shares[1..].to_vec());
    let new = rotate(
        dir.path(),
        &unlock,
        &NewSeal::Passphrase(passphrase("a new long passphrase")),
    )
    .unwrap();
    assert!(new.is_empty());
    let info = state(dir.path()).unwrap().unwrap();
    assert_ne!(info.id, old_info.id);
    assert!(open(dir.path(), &info, &Unlock::Shares(shares[..2].to_vec())).is_err());
    let files = open(
        dir.path(),
        &info,
        &Unlock::Passphrase(passphrase("a new long passphrase")),
    )
    .unwrap();
    assert_eq!(Keyring::open_files(files).unwrap().fingerprint(), fingerprint);
}

#[test]
fn an_interrupted_seal_change_is_finished_or_undone_at_the_next_look() {
    let dir = tempfile::tempdir().unwrap();
    Keyring::open_or_create(dir.path()).unwrap();
    // Crash before the commit: a pending file of a seal that never committed.
    fs::write(dir.path().join(format!("admin.token{PENDING}deadbeef")), b"x").unwrap();
    assert!(state(dir.path()).unwrap().is_none());
    assert!(file_texts(dir.path()).iter().all(|(n, _)| !n.contains(PENDING)));
    assert!(Keyring::open_or_create(dir.path()).is_ok());
    // Crash after the commit: the pending files are renamed into place.
    let key = Secret32::random();
    let (info, _) = new_info(
        &key,
        &NewSeal::Shares {
            threshold: 2,
            shares: 2,
        },
    )
    .unwrap();
    let to = KeyFiles::sealed_with(dir.path(), key.clone());
    for name in secret_names(dir.path()).unwrap() {
        let plain = KeyFiles::plain(dir.path()).read(&name).unwrap();
        write_secret_file(
            &dir.path().join(format!("{name}{PENDING}{}", info.id)),
            &to.encode(&name, &plain),
        )
        .unwrap();
    }
    write_info(dir.path(), &info).unwrap();
    assert!(state(dir.path()).unwrap().is_some());
    assert!(Keyring::open_files(KeyFiles::sealed_with(dir.path(), key)).is_ok());
}
