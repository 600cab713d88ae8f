//! Witnessing against implementations that are not the vault's:
//!
//! - a witness written here from the C2SP texts alone (tlog-witness,
//!   tlog-cosignature, signed-note, tlog-checkpoint) and RFC 9162 §2.1.4.2's
//!   consistency check, with nothing of the vault's code: the vault's
//!   checkpoints reach it, it cosigns them, the vault keeps and serves the
//!   cosignatures, and a rolled-back vault is refused by it;
//! - `civic-vault witness serve`'s protocol answers (200, 400, 403, 404,
//!   409 with `text/x.tlog.size`, 422) to a hand-made log whose proofs come
//!   from RFC 6962 §2.1.2's own recursion, written here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    sha(&[&[1], l, r])
}

/// signed-note: the key id is the first four bytes of
/// SHA-256(name ‖ 0x0A ‖ type ‖ public key).
fn key_id(name: &str, alg: u8, key: &[u8; 32]) -> [u8; 4] {
    let h = sha(&[name.as_bytes(), b"\n", &[alg], key]);
    [h[0], h[1], h[2], h[3]]
}

fn vkey(name: &str, alg: u8, key: &VerifyingKey) -> String {
    let mut k = vec![alg];
    k.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, alg, key.as_bytes())),
        B64.encode(k)
    )
}

/// RFC 9162 §2.1.4.2, step by step.
fn consistent(first: u64, second: u64, first_hash: [u8; 32], second_hash: [u8; 32], proof: &[[u8; 32]]) -> bool {
    if first == second {
        return proof.is_empty() && first_hash == second_hash;
    }
    if proof.is_empty() || first > second {
        return false;
    }
    let mut path = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, first_hash);
    }
    let (mut fnn, mut snn) = (first - 1, second - 1);
    while fnn & 1 == 1 {
        fnn >>= 1;
        snn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snn == 0 {
            return false;
        }
        if fnn & 1 == 1 || fnn == snn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    snn >>= 1;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        fnn >>= 1;
        snn >>= 1;
    }
    snn == 0 && fr == first_hash && sr == second_hash
}

/// The witness of the C2SP texts: one log, its state in memory.
struct SpecWitness {
    name: String,
    key: SigningKey,
    log_name: String,
    log_key: VerifyingKey,
    state: Mutex<(u64, [u8; 32])>,
}

fn plain(status: StatusCode, body: String) -> axum::response::Response {
    (status, body).into_response()
}

async fn spec_add_checkpoint(State(w): State<Arc<SpecWitness>>, body: String) -> axum::response::Response {
    let bad = |why: &str| plain(StatusCode::BAD_REQUEST, format!("{why}\n"));
    let Some((old_line, rest)) = body.split_once('\n') else {
        return bad("no old line");
    };
    let Some(old) = old_line.strip_prefix("old ").and_then(|n| n.parse::<u64>().ok()) else {
        return bad("old line");
    };
    let Some((proof_text, note)) = rest
        .strip_prefix('\n')
        .map(|n| ("", n))
        .or_else(|| rest.split_once("\n\n"))
    else {
        return bad("no blank line");
    };
    let proof: Vec<[u8; 32]> = proof_text
        .lines()
        .filter_map(|l| B64.decode(l).ok().and_then(|b| b.try_into().ok()))
        .collect();
    // The note: its text, a blank line, signature lines.
    let Some((text, sigs)) = note.split_once("\n\n") else {
        return bad("not a note");
    };
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let (origin, size, root) = (lines.next().unwrap_or(""), lines.next(), lines.next());
    if origin != w.log_name {
        return plain(StatusCode::NOT_FOUND, "unknown log\n".into());
    }
    let (Some(Ok(size)), Some(Ok(root))) = (size.map(str::parse::<u64>), root.map(|r| B64.decode(r))) else {
        return bad("not a checkpoint");
    };
    let Ok(root) = <[u8; 32]>::try_from(root) else {
        return bad("root");
    };
    let id = key_id(&w.log_name, 0x01, w.log_key.as_bytes());
    let signed = sigs.lines().any(|l| {
        let Some(b) = l
            .strip_prefix(&format!("— {} ", w.log_name))
            .and_then(|s| B64.decode(s).ok())
        else {
            return false;
        };
        b.len() == 68
            && b[..4] == id
            && w.log_key
                .verify(
                    text.as_bytes(),
                    &ed25519_dalek::Signature::from_bytes(&b[4..].try_into().unwrap()),
                )
                .is_ok()
    });
    if !signed {
        return plain(StatusCode::FORBIDDEN, "unsigned\n".into());
    }
    if old > size {
        return bad("old > size");
    }
    let mut state = w.state.lock().unwrap();
    // Another old size, or the same size with another root: 409 and ours.
    if old != state.0 || (old == size && old != 0 && root != state.1) {
        return (
            StatusCode::CONFLICT,
            [("content-type", "text/x.tlog.size")],
            format!("{}\n", state.0),
        )
            .into_response();
    }
    if old == 0 && !proof.is_empty() {
        return bad("proof from 0");
    }
    if old != 0 && !consistent(old, size, state.1, root, &proof) {
        return plain(StatusCode::UNPROCESSABLE_ENTITY, "inconsistent\n".into());
    }
    *state = (size, root);
    let time = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let msg = format!("cosignature/v1\ntime {time}\n{text}");
    let sig = w.key.sign(msg.as_bytes());
    let mut b = key_id(&w.name, 0x04, w.key.verifying_key().as_bytes()).to_vec();
    b.extend_from_slice(&time.to_be_bytes());
    b.extend_from_slice(&sig.to_bytes());
    plain(StatusCode::OK, format!("— {} {}\n", w.name, B64.encode(b)))
}

async fn spec_witness(log_vkey: &str) -> (Arc<SpecWitness>, std::net::SocketAddr) {
    // name+id+key: the key's base64 may hold '+' itself, the name may not.
    let (log_name, rest) = log_vkey.trim().split_once('+').unwrap();
    let (_, key) = rest.split_once('+').unwrap();
    let key = B64.decode(key).unwrap();
    assert_eq!(key[0], 0x01);
    let w = Arc::new(SpecWitness {
        name: "spec-witness.example".into(),
        key: SigningKey::from_bytes(&[42; 32]),
        log_name: log_name.to_owned(),
        log_key: VerifyingKey::from_bytes(&key[1..].try_into().unwrap()).unwrap(),
        state: Mutex::new((0, [0; 32])),
    });
    let app = axum::Router::new()
        .route("/add-checkpoint", axum::routing::post(spec_add_checkpoint))
        .with_state(Arc::clone(&w));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (w, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_written_from_the_c2sp_texts_cosigns_the_vault_and_refuses_its_rollback() {
    let v = TestVault::start_sled("idnyc").await;
    let dir = v.stop().await;
    let log = std::fs::read_to_string(dir.path().join("keys").join("checkpoint.vkey")).unwrap();
    let (w, addr) = spec_witness(&log).await;
    let witness_vkey = vkey(&w.name, 0x04, &w.key.verifying_key());
    let mut config = sled_config(dir.path(), "idnyc");
    config.audit.checkpoint_every = 2;
    config.witness.0.push(civic_vault::config::Witness {
        url: format!("http://{addr}"),
        key: witness_vkey.clone(),
        timeout: civic_vault::duration::HumanDuration {
            value: 2,
            unit: civic_vault::duration::Unit::Seconds,
        },
    });
    let v = TestVault::start_in(dir, config.clone()).await;
    let clerk = v.clerk().await;
    v.enroll_one(&clerk, "P-SPEC-1", "1990-04-12").await;
    let old = tempfile::tempdir().unwrap();
    let dir = v.stop().await;
    let cosigned = w.state.lock().unwrap().0;
    assert!(cosigned > 0, "the spec witness cosigned the vault's checkpoints");
    copy_dir(&dir.path().join("data"), &old.path().join("data"));

    // The vault kept the spec witness's cosignatures: offline verify finds
    // the whole log cosigned.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["audit", "verify", "--data"])
        .arg(dir.path().join("data"))
        .arg("--keys")
        .arg(dir.path().join("keys"))
        .args(["--witness-key", &witness_vkey])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{report}");
    assert_eq!(report["cosigned_through"], report["entries"], "{report}");
    assert_eq!(report["cosigned_through"], cosigned, "{report}");

    // The log grows; the spec witness cosigns the extension (a consistency
    // proof of the vault's, checked by RFC 9162's algorithm).
    let v = TestVault::start_in(dir, config.clone()).await;
    let clerk = v.staff("clerk-bo", &["clerk"]).await;
    v.enroll_one(&clerk, "P-SPEC-2", "1990-04-12").await;
    let dir = v.stop().await;
    let grown = w.state.lock().unwrap().0;
    assert!(grown > cosigned, "{grown} > {cosigned}");

    // Rolled back to the old copy: the spec witness's 409 stops the start.
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    copy_dir(&old.path().join("data"), &dir.path().join("data"));
    let err = civic_vault::Vault::open(config, Arc::new(civic_vault::clock::SystemClock))
        .await
        .err()
        .expect("a rolled-back copy must not start");
    assert!(err.to_string().contains("older than a cosigned checkpoint"), "{err}");
    assert_eq!(w.state.lock().unwrap().0, grown, "the witness never went back");
}

/// RFC 6962 §2.1.1 / §2.1.2, written out: the tree hash of leaf hashes and
/// the consistency proof from `m` leaves.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let k = split(n);
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn subproof(m: usize, leaves: &[[u8; 32]], complete: bool) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if m == n {
        return if complete { vec![] } else { vec![mth(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], complete);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_answers_as_the_protocol_says() {
    use civic_vault::crypto::note::{Checkpoint, NoteKey, VerifierKey};
    assert_eq!(split(5), 4);
    let leaves: Vec<[u8; 32]> = (0..9u8).map(|i| sha(&[&[0], &[i]])).collect();
    let root = |n: usize| mth(&leaves[..n]);
    let log = NoteKey::new("log.example/audit", SigningKey::from_bytes(&[3; 32])).unwrap();
    let forger = NoteKey::new("log.example/audit", SigningKey::from_bytes(&[4; 32])).unwrap();
    let stranger = NoteKey::new("other.example/log", SigningKey::from_bytes(&[3; 32])).unwrap();
    let note = |k: &NoteKey, n: usize, r: [u8; 32]| k.sign_checkpoint(k.name(), n as u64, &r).unwrap();
    let body = |old: usize, proof: &[[u8; 32]], note: &str| {
        let mut b = format!("old {old}\n");
        for h in proof {
            b.push_str(&B64.encode(h));
            b.push('\n');
        }
        format!("{b}\n{note}")
    };

    let wdir = tempfile::tempdir().unwrap();
    let start = |dir: std::path::PathBuf, log: VerifierKey| async move {
        let state = Arc::new(civic_vault::witness::WitnessState::open(&dir, "w.example", &[log]).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/add-checkpoint", listener.local_addr().unwrap());
        let s = Arc::clone(&state);
        tokio::spawn(async move { civic_vault::witness::server::serve(listener, s, std::future::pending()).await });
        (state, url)
    };
    let (state, url) = start(wdir.path().to_owned(), log.verifier()).await;
    let http = reqwest::Client::new();
    let post = async |b: String| {
        let r = http.post(&url).body(b).send().await.unwrap();
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ctype, r.text().await.unwrap())
    };

    // From nothing: 4 leaves, cosigned; the cosignature verifies.
    let n4 = note(&log, 4, root(4));
    let (s, _, lines) = post(body(0, &[], &n4)).await;
    assert_eq!(s, 200, "{lines}");
    // One or more signature lines, each ending in a newline, nothing else.
    assert!(
        lines.ends_with('\n') && lines.lines().all(|l| l.starts_with("— ")),
        "{lines:?}"
    );
    let mut cp = Checkpoint::parse(&n4).unwrap();
    cp.signatures = lines.lines().map(str::to_owned).collect();
    let verified = cp
        .verify(&state.verifier_key())
        .unwrap_or_else(|e| panic!("{e}: {lines:?} {n4:?}"));
    assert_eq!(verified.len(), 1);
    assert!(verified[0].1.unwrap() > 1_700_000_000, "the cosignature's time");
    // The same again: cosigned again (same size, same root).
    assert_eq!(post(body(4, &[], &n4)).await.0, 200);

    // Signed by another key for the same origin: 403. Another origin: 404.
    assert_eq!(
        post(body(4, &subproof(4, &leaves[..6], true), &note(&forger, 6, root(6))))
            .await
            .0,
        403
    );
    assert_eq!(post(body(0, &[], &note(&stranger, 6, root(6)))).await.0, 404);
    // The wrong old size: 409 and the witness's size.
    let n6 = note(&log, 6, root(6));
    let (s, ctype, text) = post(body(0, &[], &n6)).await;
    assert_eq!((s, ctype.as_str(), text.as_str()), (409, "text/x.tlog.size", "4\n"));
    // An old size beyond the checkpoint's: 400. A malformed body: 400.
    assert_eq!(post(body(7, &[], &n6)).await.0, 400);
    assert_eq!(post("hello\n\n".into()).await.0, 400);
    assert_eq!(post(format!("old 04\n\n{n6}")).await.0, 400);
    // A fork at the cosigned size: 409.
    let mut forked = leaves.clone();
    forked[2] = sha(&[b"rewritten"]);
    let (s, _, text) = post(body(4, &[], &note(&log, 4, mth(&forked[..4])))).await;
    assert_eq!((s, text.as_str()), (409, "4\n"));
    // A rewritten history with its own (valid-looking) proof: 422.
    let bad = subproof(4, &forked[..6], true);
    assert_eq!(post(body(4, &bad, &note(&log, 6, mth(&forked[..6])))).await.0, 422);
    // A proof that does not match: 422.
    assert_eq!(post(body(4, &[[9; 32]], &n6)).await.0, 422);

    // The extension, with RFC 6962's proof: cosigned; then on to 9.
    assert_eq!(post(body(4, &subproof(4, &leaves[..6], true), &n6)).await.0, 200);
    assert_eq!(
        post(body(6, &subproof(6, &leaves, true), &note(&log, 9, root(9))))
            .await
            .0,
        200
    );
    // An older checkpoint (a rollback): 409 with 9.
    let (s, _, text) = post(body(6, &[], &n6)).await;
    assert_eq!((s, text.as_str()), (409, "9\n"));

    // The witness written from the C2SP texts judges the same log the same
    // way: it cosigns the extension, and refuses the fork, the rewritten
    // history, the bad proof and the rollback.
    let (_, spec) = spec_witness(&log.verifier().text()).await;
    let spec_url = format!("http://{spec}/add-checkpoint");
    let spec_post = async |b: String| http.post(&spec_url).body(b).send().await.unwrap().status().as_u16();
    assert_eq!(spec_post(body(0, &[], &n4)).await, 200);
    assert_eq!(
        spec_post(body(4, &[], &note(&log, 4, mth(&forked[..4])))).await,
        409,
        "a fork"
    );
    assert_eq!(
        spec_post(body(4, &bad, &note(&log, 6, mth(&forked[..6])))).await,
        422,
        "rewritten"
    );
    assert_eq!(spec_post(body(4, &[[9; 32]], &n6)).await, 422, "a bad proof");
    assert_eq!(
        spec_post(body(4, &subproof(4, &leaves[..6], true), &n6)).await,
        200,
        "the extension"
    );
    assert_eq!(spec_post(body(4, &[], &n4)).await, 409, "a rollback");
    assert_eq!(
        spec_post(body(6, &[], &note(&forger, 6, root(6)))).await,
        403,
        "another key"
    );

    // The state survives a restart; its files are private.
    drop(state);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (state, url2) = start(wdir.path().to_owned(), log.verifier()).await;
    assert_eq!(state.size_of("log.example/audit"), 9);
    let r = http.post(&url2).body(body(0, &[], &n6)).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.text().await.unwrap(), "9\n");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| std::fs::metadata(wdir.path().join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("witness.key"), 0o600);
        assert_eq!(mode("logs.json"), 0o600);
        assert_eq!(mode(""), 0o700);
    }
}
