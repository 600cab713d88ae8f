//! What a copy of the store without keys says about holder-held
//! credentials: a presented credential's status index leads neither to the
//! other credentials of its batch nor to its card, and nothing tells a
//! revoked card from an active one — while the vault, with its keys, still
//! revokes every credential of a card. Entries an older version wrote (the
//! index list in the clear, a revocation marker) are sealed at open.
//!
//! On both stores: the raw store is sled's trees under data/ or, under
//! `CIVIC_VAULT_TEST_PG`, the schema's `kv` rows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{test_config, TestVault};
use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PRE_AUTHORIZED: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
const LIST_ENTRIES: u64 = 1 << 17;

/// One row of the raw store: tree, key, value.
type Row = (String, Vec<u8>, Vec<u8>);

/// Every tree's keys and values as they lie on disk (sled) or in the
/// database (PostgreSQL), read without the vault or its keys.
fn raw_store(dir: &Path) -> Vec<Row> {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres-url")) {
        return std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.query("SELECT tree, key, value FROM kv ORDER BY tree, key", &[])
                .unwrap()
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect()
        })
        .join()
        .unwrap();
    }
    let db = common::sled_open(&dir.join("data"));
    let mut out = Vec::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        for kv in &tree {
            let (k, v) = kv.unwrap();
            out.push((String::from_utf8_lossy(&name).into_owned(), k.to_vec(), v.to_vec()));
        }
    }
    out
}

/// Rewrites one row of the raw store (`None`: removes it), as a tool with
/// access to the stopped vault's storage would.
fn raw_put(dir: &Path, tree: &str, key: &[u8], value: Option<&[u8]>) {
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres-url")) {
        let (tree, key, value) = (tree.to_owned(), key.to_vec(), value.map(<[u8]>::to_vec));
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.execute("DELETE FROM kv WHERE tree = $1 AND key = $2", &[&tree, &key])
                .unwrap();
            if let Some(v) = value {
                c.execute(
                    "INSERT INTO kv (tree, key, value) VALUES ($1, $2, $3)",
                    &[&tree, &key, &v],
                )
                .unwrap();
            }
        })
        .join()
        .unwrap();
        return;
    }
    let db = common::sled_open(&dir.join("data"));
    let t = db.open_tree(tree).unwrap();
    match value {
        Some(v) => t.insert(key, v).unwrap(),
        None => t.remove(key).unwrap(),
    };
    db.flush().unwrap();
}

fn is_status_list(tree: &str, key: &[u8]) -> bool {
    tree == "credentials" && key.len() == 5 && matches!(key[0], b'l' | b'a')
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a status list's bit for global index `i` is set.
fn revoked_at_rest(rows: &[Row], i: u64) -> bool {
    let mut key = vec![b'l'];
    key.extend_from_slice(&u32::try_from(i / LIST_ENTRIES).unwrap().to_be_bytes());
    let entry = usize::try_from(i % LIST_ENTRIES).unwrap();
    let (_, _, bits) = rows
        .iter()
        .find(|(t, k, _)| t == "credentials" && *k == key)
        .expect("the list is stored");
    bits[entry / 8] & (1 << (entry % 8)) != 0
}

/// A wallet's holder key.
struct Holder(SigningKey);

impl Holder {
    fn new() -> Self {
        Self(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn proof(&self, issuer: &str, nonce: &str) -> String {
        let jwk =
            json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.0.verifying_key().to_bytes())});
        let header = json!({"typ": "openid4vci-proof+jwt", "alg": "EdDSA", "jwk": jwk});
        let claims = json!({"aud": issuer, "iat": time::OffsetDateTime::now_utc().unix_timestamp(), "nonce": nonce});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.0.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }
}

async fn issuer(v: &TestVault) -> String {
    let meta: Value = v
        .http
        .get(v.url("/.well-known/openid-credential-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    meta["credential_issuer"].as_str().unwrap().to_owned()
}

/// A clerk's offer for `card` redeemed for a batch of ten: the global
/// status index of each credential, as a verifier reads it off the credential.
async fn redeem(v: &TestVault, clerk: &str, card: &str) -> Vec<u64> {
    let issuer = issuer(v).await;
    let (s, offer) = v
        .post(&format!("/v1/cardholders/{card}/credential-offer"), clerk, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{offer}");
    let uri = offer["offer_uri"].as_str().unwrap();
    let query = uri.strip_prefix("openid-credential-offer://?").unwrap();
    let (_, o) = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "credential_offer")
        .unwrap();
    let o: Value = serde_json::from_str(&o).unwrap();
    let code = o["grants"][PRE_AUTHORIZED]["pre-authorized_code"].as_str().unwrap();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", PRE_AUTHORIZED),
            ("pre-authorized_code", code),
            ("tx_code", offer["user_pin"].as_str().unwrap()),
        ])
        .finish();
    let t: Value = v
        .http
        .post(v.url("/oid4vci/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = t["access_token"].as_str().unwrap();
    let mut proofs = Vec::new();
    for _ in 0..10 {
        let (s, n) = v.call(reqwest::Method::POST, "/oid4vci/nonce", None, None).await;
        assert_eq!(s, StatusCode::OK);
        proofs.push(Holder::new().proof(&issuer, n["c_nonce"].as_str().unwrap()));
    }
    let answer: Value = v
        .http
        .post(v.url("/oid4vci/credential"))
        .bearer_auth(token)
        .json(&json!({"credential_configuration_id": "municipal_id", "proofs": {"jwt": proofs}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["credentials"]
        .as_array()
        .unwrap_or_else(|| panic!("no credentials: {answer}"))
        .iter()
        .map(|c| {
            let jwt = c["credential"].as_str().unwrap();
            let payload: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
            let s = &payload["status"]["status_list"];
            let list: u64 = s["uri"].as_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
            list * LIST_ENTRIES + s["idx"].as_u64().unwrap()
        })
        .collect()
}

async fn revoke(v: &TestVault, clerk: &str, card: &str) {
    let (s, b) = v
        .post(
            &format!("/v1/cardholders/{card}/revoke"),
            clerk,
            &json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

fn card_id(v: &TestVault, number: &str) -> [u8; 32] {
    v.vault.as_ref().unwrap().keys.blind.card_id(number)
}

/// The encodings an index could be found by in a stored value: its
/// postcard varint beside the next one of its batch (as a list of them
/// would hold), and its fixed-width forms.
fn plain_forms(batch: &[u64]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for pair in batch.windows(2) {
        out.push(postcard::to_allocvec(&(pair[0], pair[1])).unwrap());
    }
    for i in batch {
        out.push(i.to_be_bytes().to_vec());
        out.push(i.to_le_bytes().to_vec());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presented_credentials_index_leads_to_no_other_credential_and_no_card_without_keys() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let ana = v.enroll_one(&clerk, "P1", "1990-04-12").await;
    let bo = v.enroll_one(&clerk, "P2", "1985-01-30").await;
    let ana_id = card_id(&v, &ana);
    // Two batches for one holder, one for another.
    let mut ana_indices = redeem(&v, &clerk, &ana).await;
    ana_indices.extend(redeem(&v, &clerk, &ana).await);
    let bo_indices = redeem(&v, &clerk, &bo).await;
    let dir = v.stop().await;

    // Someone with the store and a credential presented to them (one index)
    // looks for the rest of its batch and its card.
    let rows = raw_store(dir.path());
    let forms: Vec<Vec<u8>> = [&ana_indices[..10], &ana_indices[10..], &bo_indices[..]]
        .into_iter()
        .flat_map(plain_forms)
        .collect();
    for (tree, k, value) in &rows {
        if is_status_list(tree, k) {
            continue; // bitstrings, public: they say which entries are revoked, never whose
        }
        for f in &forms {
            assert!(
                !contains(k, f) && !contains(value, f),
                "a stored entry in {tree} (key tag {:?}) holds a credential's status index in the clear",
                k.first().map(|b| char::from(*b))
            );
        }
        if let Ok(list) = postcard::from_bytes::<Vec<u64>>(value) {
            assert!(
                !list.iter().any(|i| ana_indices.contains(i) || bo_indices.contains(i)),
                "an entry in {tree} decodes to a list of status indices"
            );
        }
    }
    // The credentials tree holds the lists and one sealed entry per card
    // that has credentials, nothing else.
    let others: Vec<&Row> = rows
        .iter()
        .filter(|(t, k, _)| t == "credentials" && !is_status_list(t, k))
        .collect();
    assert_eq!(others.len(), 2, "one entry per card with credentials");
    assert!(others.iter().all(|(_, k, _)| k[0] == b's'));
    assert_eq!(
        others[0].2.len(),
        others[1].2.len(),
        "two batches and one look alike (padded)"
    );

    // With its keys the vault still finds them all: a revocation sets every
    // bit of the card's credentials, both batches, and no other.
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    assert_eq!(card_id(&v, &ana), ana_id);
    revoke(&v, &clerk, &ana).await;
    let dir = v.stop().await;
    let rows = raw_store(dir.path());
    for i in &ana_indices {
        assert!(
            revoked_at_rest(&rows, *i),
            "a credential of the revoked card is not revoked"
        );
    }
    for i in &bo_indices {
        assert!(!revoked_at_rest(&rows, *i), "another card's credential is revoked");
    }
}

/// What the raw store holds about one card: for every key or value that
/// names it, the tree, the key's tag byte (credentials) and lengths (but a
/// photo's, which says how large the image was: SECURITY.md, "What stays
/// in the clear").
fn footprint(rows: &[Row], id: &[u8; 32]) -> Vec<(String, Option<u8>, usize, usize)> {
    let mut out: Vec<_> = rows
        .iter()
        .filter(|(_, k, v)| contains(k, id) || contains(v, id))
        .map(|(t, k, v)| {
            let tag = (t == "credentials").then(|| k[0]);
            let len = if t == "photos" { 0 } else { v.len() };
            (t.clone(), tag, k.len(), len)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_cards_look_like_active_ones_at_rest_with_or_without_credentials() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let active = v.enroll_one(&clerk, "A1", "1990-04-12").await;
    let revoked = v.enroll_one(&clerk, "R1", "1990-04-12").await;
    let active_held = v.enroll_one(&clerk, "A2", "1990-04-12").await;
    let revoked_held = v.enroll_one(&clerk, "R2", "1990-04-12").await;
    let ids: BTreeMap<&str, [u8; 32]> = [
        ("active", &active),
        ("revoked", &revoked),
        ("active with credentials", &active_held),
        ("revoked with credentials", &revoked_held),
    ]
    .into_iter()
    .map(|(what, n)| (what, card_id(&v, n)))
    .collect();
    redeem(&v, &clerk, &active_held).await;
    let gone = redeem(&v, &clerk, &revoked_held).await;
    revoke(&v, &clerk, &revoked).await;
    revoke(&v, &clerk, &revoked_held).await;
    let dir = v.stop().await;

    let rows = raw_store(dir.path());
    for (a, r) in [
        ("active", "revoked"),
        ("active with credentials", "revoked with credentials"),
    ] {
        assert_eq!(
            footprint(&rows, &ids[a]),
            footprint(&rows, &ids[r]),
            "an {a} card and a {r} one differ in what the store holds about them"
        );
    }
    // No key of the credentials tree but the lists' and the sealed entries.
    for (t, k, _) in &rows {
        if t == "credentials" {
            assert!(
                is_status_list(t, k) || k[0] == b's',
                "a credentials entry of another kind (tag {:?})",
                char::from(k[0])
            );
        }
    }
    // The revoked card's credentials are revoked all the same.
    assert!(gone.iter().all(|i| revoked_at_rest(&rows, *i)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_an_older_version_left_in_the_clear_are_sealed_at_open_and_still_revoke() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let old = v.enroll_one(&clerk, "O1", "1990-04-12").await;
    let new = v.enroll_one(&clerk, "N1", "1990-04-12").await;
    let revoked = v.enroll_one(&clerk, "V1", "1990-04-12").await;
    let (old_id, revoked_id) = (card_id(&v, &old), card_id(&v, &revoked));
    let old_indices = redeem(&v, &clerk, &old).await;
    let new_indices = redeem(&v, &clerk, &new).await;
    revoke(&v, &clerk, &revoked).await;
    let dir = v.stop().await;

    // As the previous version stored them: `c ‖ card id` → the card's
    // indices (postcard), `r ‖ card id` → () for a revoked card.
    let key = |tag: u8, id: &[u8; 32]| [&[tag][..], id].concat();
    raw_put(dir.path(), "credentials", &key(b's', &old_id), None);
    raw_put(
        dir.path(),
        "credentials",
        &key(b'c', &old_id),
        Some(&postcard::to_allocvec(&old_indices).unwrap()),
    );
    raw_put(dir.path(), "credentials", &key(b'r', &revoked_id), Some(b""));

    // Opened by this version: sealed, and the marker gone.
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    // A valid card of an older version's data still gets credentials.
    let more = redeem(&v, &clerk, &old).await;
    let dir = v.stop().await;
    let rows = raw_store(dir.path());
    let forms = plain_forms(&old_indices);
    for (t, k, value) in &rows {
        if t == "credentials" && !is_status_list(t, k) {
            assert_eq!(k[0], b's', "an older version's entry is left");
            assert!(
                !forms.iter().any(|f| contains(value, f)),
                "the old indices are in the clear"
            );
        }
    }
    assert!(rows
        .iter()
        .any(|(t, k, _)| t == "credentials" && *k == key(b's', &old_id)));
    assert!(!rows
        .iter()
        .any(|(_, k, _)| contains(k, &revoked_id) && k.len() == 33 && k[0] == b'r'));

    // The vault with its keys still revokes the old credentials with the new.
    let config = test_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    revoke(&v, &clerk, &old).await;
    let dir = v.stop().await;
    let rows = raw_store(dir.path());
    for i in old_indices.iter().chain(&more) {
        assert!(revoked_at_rest(&rows, *i), "an old card's credential is not revoked");
    }
    for i in &new_indices {
        assert!(!revoked_at_rest(&rows, *i));
    }
}
