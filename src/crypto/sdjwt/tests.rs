use serde_json::json;

use super::verify::{verify, Expect, VerifyError};
use super::*;
use crate::crypto::jose::{Alg, IssuerSigner};
use crate::crypto::Secret32;

const URI: &str = "https://vault.example/v1/status-lists/0";

fn signer(kid: &str, alg: Alg) -> IssuerSigner {
    loop {
        if let Some(s) = IssuerSigner::new(kid.into(), alg, &Secret32::random()) {
            return s;
        }
    }
}

/// An issuer of `issuer_alg`, a holder of `holder_alg`, a credential and its status list.
fn fixture(revoked: bool, issuer_alg: Alg, holder_alg: Alg) -> (IssuerSigner, IssuerSigner, String, String) {
    let issuer = signer("cred-1", issuer_alg);
    let holder = signer("holder", holder_alg);
    let payload = json!({"iss": "https://vault.example", "vct": "urn:t:1", "iat": 1000, "exp": 9000,
        "cnf": {"jwk": holder.public().jwk()}, "status": {"status_list": {"idx": 13, "uri": URI}}});
    let Value::Object(payload) = payload else {
        unreachable!()
    };
    let sd = issue(
        &issuer,
        None,
        payload,
        &[("resident".into(), json!(true)), ("age_over_21".into(), json!(false))],
    );
    let mut bits = vec![0u8; 4];
    if revoked {
        bits[1] = 0b0010_0000;
    }
    let list = status_list_token(&issuer, None, URI, &bits, 1000, 300).unwrap();
    (issuer, holder, sd, list)
}

fn expect(now: i64) -> Expect<'static> {
    Expect {
        audience: "venue",
        nonce: "n-1",
        vct: "urn:t:1",
        now,
        max_age: 300,
    }
}

fn jwks(a: &IssuerSigner) -> Value {
    json!({"keys": [a.jwk()]})
}

/// `holder`'s presentation of `sd` to "venue" with nonce "n-1" at 1100.
fn present_as(holder: &IssuerSigner, sd: &str, reveal: &[&str]) -> String {
    let binding = Binding {
        aud: "venue",
        nonce: "n-1",
        iat: 1100,
        alg: holder.alg().name(),
    };
    present(sd, reveal, binding, |m| holder.sign(m))
}

#[test]
fn presentation_discloses_only_what_the_holder_chose() {
    for (issuer_alg, holder_alg) in [
        (Alg::Es256, Alg::Es256),
        (Alg::Es256, Alg::Ed25519),
        (Alg::Ed25519, Alg::Es256),
        (Alg::Ed25519, Alg::Ed25519),
    ] {
        let (issuer, holder, sd, list) = fixture(false, issuer_alg, holder_alg);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(sd.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], issuer_alg.name());
        let p = present_as(&holder, &sd, &["age_over_21"]);
        let v = verify(&p, &jwks(&issuer), |u| (u == URI).then(|| list.clone()), &expect(1100)).unwrap();
        assert_eq!(v.claims.len(), 1);
        assert_eq!(v.claims["age_over_21"], json!(false));
        assert_eq!(v.kid, "cred-1");
    }
}

#[test]
fn refusals_name_the_check() {
    let (issuer, holder, sd, list) = fixture(false, Alg::Es256, Alg::Es256);
    let keys = jwks(&issuer);
    let fetch = |_: &str| Some(list.clone());
    let p = present_as(&holder, &sd, &["resident"]);
    let wrong_nonce = Expect {
        nonce: "n-2",
        ..expect(1100)
    };
    assert_eq!(
        verify(&p, &keys, fetch, &wrong_nonce),
        Err(VerifyError::KeyBinding("nonce"))
    );
    let wrong_aud = Expect {
        audience: "other",
        ..expect(1100)
    };
    assert_eq!(
        verify(&p, &keys, fetch, &wrong_aud),
        Err(VerifyError::KeyBinding("aud"))
    );
    assert_eq!(
        verify(&p, &keys, fetch, &expect(2000)),
        Err(VerifyError::KeyBinding("not fresh"))
    );
    assert_eq!(verify(&p, &keys, fetch, &expect(9999)), Err(VerifyError::Expired));
    // Without the KB-JWT.
    let (bare, _) = p.rsplit_once('~').unwrap();
    let bare = format!("{bare}~");
    assert_eq!(
        verify(&bare, &keys, fetch, &expect(1100)),
        Err(VerifyError::KeyBinding("no KB-JWT"))
    );
    // A disclosure the issuer never signed.
    let forged = Disclosure::new("age_over_21", &json!(true)).encoded;
    let (head, kb) = p.rsplit_once('~').unwrap();
    let tampered = format!("{head}~{forged}~{kb}");
    assert_eq!(
        verify(&tampered, &keys, fetch, &expect(1100)),
        Err(VerifyError::Disclosure)
    );
    // Another issuer's keys.
    let other = jwks(&signer("cred-1", Alg::Es256));
    assert_eq!(verify(&p, &other, fetch, &expect(1100)), Err(VerifyError::Signature));
    // A KB-JWT whose header names another algorithm than the holder key's.
    let lying = Binding {
        aud: "venue",
        nonce: "n-1",
        iat: 1100,
        alg: "Ed25519",
    };
    let p = present(&sd, &["resident"], lying, |m| holder.sign(m));
    assert_eq!(
        verify(&p, &keys, fetch, &expect(1100)),
        Err(VerifyError::KeyBinding("signature"))
    );
}

#[test]
fn a_set_bit_is_revocation() {
    let (issuer, holder, sd, list) = fixture(true, Alg::Es256, Alg::Ed25519);
    let p = present_as(&holder, &sd, &["resident"]);
    let r = verify(&p, &jwks(&issuer), |_| Some(list.clone()), &expect(1100));
    assert_eq!(r, Err(VerifyError::Revoked));
}

#[test]
fn lists_round_trip_and_bombs_stop() {
    let bits: Vec<u8> = (0..12_500u32).map(|i| u8::try_from(i % 7).unwrap()).collect();
    assert_eq!(decode_list(&encode_list(&bits).unwrap()).unwrap(), bits);
    let bomb = encode_list(&vec![0u8; 2 << 20]).unwrap();
    assert_eq!(decode_list(&bomb), Err("lst is too large"));
}
