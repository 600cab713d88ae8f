#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use super::*;

/// Go's `golang.org/x/mod/sumdb/note` example (also in Cloudflare's
/// `signed_note` docs): an Ed25519 signed note by `PeterNeumann`.
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIG: &str =
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

fn go_key() -> NoteKey {
    let bytes = STANDARD.decode(GO_SEED).unwrap();
    assert_eq!(bytes[0], ALG_ED25519);
    NoteKey::new("PeterNeumann", SigningKey::from_bytes(&bytes[1..].try_into().unwrap())).unwrap()
}

#[test]
fn gos_signed_note_vector_signs_and_verifies_byte_for_byte() {
    let key = go_key();
    assert_eq!(key.verifier().text(), GO_VKEY);
    assert_eq!(VerifierKey::parse(GO_VKEY).unwrap(), key.verifier());
    assert_eq!(key.sign_note(GO_TEXT).unwrap(), format!("{GO_TEXT}\n{GO_SIG}\n"));
}

#[test]
fn verifier_keys_refuse_a_wrong_id_algorithm_or_shape() {
    assert!(VerifierKey::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
    assert!(VerifierKey::parse("PeterNeumann+c74f20a3").is_err());
    assert!(VerifierKey::parse("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
    assert!(VerifierKey::parse("PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
}

#[test]
fn a_checkpoint_round_trips_and_its_signature_is_checked() {
    let key = go_key();
    let root = [7u8; 32];
    let note = key.sign_checkpoint("example.com/log", 42, &root).unwrap();
    let cp = Checkpoint::parse(&note).unwrap();
    assert_eq!((cp.origin.as_str(), cp.size, cp.root), ("example.com/log", 42, root));
    assert_eq!(cp.verify(&key.verifier()).unwrap().len(), 1);
    let other = NoteKey::new("PeterNeumann", SigningKey::from_bytes(&[9; 32])).unwrap();
    assert_eq!(cp.verify(&other.verifier()), Err(NoteError::Unsigned));
    let forged = note.replace("\n42\n", "\n43\n");
    let forged = Checkpoint::parse(&forged).unwrap();
    assert!(matches!(
        forged.verify(&key.verifier()),
        Err(NoteError::BadSignature(_))
    ));
    for bad in [
        "",
        "a\n1\n",
        "o\n01\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n— x AAAAAAA=\n",
        "o\nx\ny\n\n— x AAAAAAA=\n",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}

/// A cosignature checked by hand from c2sp.org/tlog-cosignature's text:
/// key id SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4], then the u64 time, then
/// Ed25519 over "cosignature/v1\ntime T\n" ‖ body.
#[test]
fn a_cosignature_is_what_the_c2sp_text_says() {
    use sha2::Digest;
    let witness = NoteKey::new("witness.example/w1", SigningKey::from_bytes(&[3; 32])).unwrap();
    let body = "example.com/log\n5\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n";
    let line = witness.cosign(body, 1_679_315_147).unwrap();
    let b64 = line.strip_prefix("— witness.example/w1 ").unwrap().trim_end();
    let raw = STANDARD.decode(b64).unwrap();
    let pk = witness.cosigner().key;
    let mut h = sha2::Sha256::new();
    h.update(b"witness.example/w1\n\x04");
    h.update(pk.as_bytes());
    assert_eq!(&raw[..4], &h.finalize()[..4]);
    assert_eq!(u64::from_be_bytes(raw[4..12].try_into().unwrap()), 1_679_315_147);
    let msg = format!("cosignature/v1\ntime 1679315147\n{body}");
    let sig = ed25519_dalek::Signature::from_bytes(&raw[12..76].try_into().unwrap());
    pk.verify(msg.as_bytes(), &sig).unwrap();
    // And through the note: the cosigner key verifies it, the 0x01 key does not.
    let cp = Checkpoint::parse(&format!("{body}\n{}\n", line.trim_end())).unwrap();
    assert_eq!(cp.verify(&witness.cosigner()).unwrap()[0].1, Some(1_679_315_147));
    assert_eq!(cp.verify(&witness.verifier()), Err(NoteError::Unsigned));
    assert!(witness.cosign(body, 0).is_err());
}
