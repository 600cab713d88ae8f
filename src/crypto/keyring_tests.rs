//! Unit tests of the keyring.
use super::*;

#[test]
fn first_start_creates_then_reloads_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let ring = Keyring::open_or_create(dir.path()).unwrap();
    assert!(ring.created);
    let mode = fs::metadata(dir.path().join(ADMIN_TOKEN_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = Keyring::open_or_create(dir.path()).unwrap();
    assert!(!again.created);
    assert_eq!(ring.fingerprint(), again.fingerprint());
    assert_eq!(again.active_kek().1, ring.active_kek().1);
    let old = ring.active_kek().0;
    let new = ring.rotate_kek().unwrap();
    assert!(ring.destroy_kek(&new).is_err(), "the active KEK is never destroyed");
    assert!(ring.destroy_kek(&old).unwrap());
    assert!(!dir.path().join(format!("{old}.key")).exists());
    let reloaded = Keyring::open_or_create(dir.path()).unwrap();
    assert_eq!(reloaded.active_kek().0, new);
    assert_eq!(reloaded.kek_ids(), vec![new.clone()]);
    // A destruction interrupted after the rename is finished at load.
    let doomed = dir.path().join(format!("{new}.shred"));
    fs::write(&doomed, b"half-destroyed").unwrap();
    let again = Keyring::open_or_create(dir.path()).unwrap();
    assert!(!doomed.exists());
    assert_eq!(
        again.active_kek().0,
        new,
        "finishing a destruction never touches a live key"
    );
    // A key write killed before its rename leaves a `.tmp` file: a key that
    // never came into use. It is destroyed at load, not kept forever.
    let half_written = dir.path().join("kek-0123456789abcdef.tmp");
    fs::write(&half_written, b"a key that never came into use").unwrap();
    let again = Keyring::open_or_create(dir.path()).unwrap();
    assert!(!half_written.exists());
    assert_eq!(again.kek_ids(), vec![new.clone()]);
    assert!(!format!("{ring:?}").contains(&STANDARD.encode(ring.active_kek().1.expose())));
}

#[test]
fn refuses_a_directory_that_is_not_a_keyring() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("something"), b"x").unwrap();
    assert!(matches!(
        Keyring::open_or_create(dir.path()),
        Err(KeyError::NotAKeyring(_))
    ));
}
