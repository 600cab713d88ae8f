//! The Merkle tree against vectors that are not ours: transparency-dev's
//! RFC 6962 proof probes (tests/fixtures/tlog/README.md says where from).
//! Our verifier accepts each happy path and refuses every mutation; our
//! tree, built from the same eight leaves, has the published roots and
//! proves exactly the published proofs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test tells one story from start to end and fails loudly"
)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use civic_vault::domain::tlog::{self, Frontier, MemoryHashes, Runs};
use serde_json::Value;

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn probes(kind: &str) -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tlog/transparency-dev");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(kind))
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() > 20, "{kind}: the vectors are missing");
    out
}

/// A base64 field as a hash; `None` when it is not 32 bytes (a probe may
/// carry a malformed one on purpose).
fn hash(v: &Value) -> Option<[u8; 32]> {
    v.as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|b| b.try_into().ok())
}

fn proof(v: &Value) -> Option<Vec<[u8; 32]>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => None,
    }
}

fn our_tree() -> (MemoryHashes, Vec<[u8; 32]>) {
    let mut f = Frontier::default();
    let mut mem = MemoryHashes::default();
    let mut roots = Vec::new();
    for l in LEAVES {
        let mut runs = Runs::default();
        f.push(tlog::leaf_hash(&hex::decode(l).unwrap()), &mut runs);
        mem.apply(runs.take());
        roots.push(f.root());
    }
    (mem, roots)
}

#[test]
fn our_tree_has_the_published_roots() {
    let (mem, roots) = our_tree();
    for (i, want) in ROOTS.iter().enumerate() {
        assert_eq!(hex::encode(roots[i]), *want, "size {}", i + 1);
        assert_eq!(hex::encode(tlog::root_at(&mem, i as u64 + 1).unwrap()), *want);
    }
}

#[test]
fn inclusion_probes_verify_exactly_when_they_should_and_we_prove_the_happy_paths() {
    let (mem, _) = our_tree();
    let mut happy = 0;
    for (name, p) in probes("inclusion") {
        let want_err = p["wantErr"].as_bool().unwrap();
        let (index, size) = (p["leafIdx"].as_u64().unwrap(), p["treeSize"].as_u64().unwrap());
        let verdict = match (hash(&p["root"]), hash(&p["leafHash"]), proof(&p["proof"])) {
            (Some(root), Some(leaf), Some(path)) => tlog::check_inclusion(&path, size, &root, index, &leaf).is_ok(),
            _ => false,
        };
        assert_eq!(verdict, !want_err, "{name}: {}", p["desc"]);
        if !want_err {
            happy += 1;
            let ours = tlog::inclusion_proof(&mem, index, size).unwrap();
            assert_eq!(Some(ours), proof(&p["proof"]), "{name}: our proof");
        }
    }
    assert!(happy >= 5);
}

#[test]
fn consistency_probes_verify_exactly_when_they_should_and_we_prove_the_happy_paths() {
    let (mem, _) = our_tree();
    let mut happy = 0;
    for (name, p) in probes("consistency") {
        let want_err = p["wantErr"].as_bool().unwrap();
        let (from, to) = (p["size1"].as_u64().unwrap(), p["size2"].as_u64().unwrap());
        let verdict = match (hash(&p["root1"]), hash(&p["root2"]), proof(&p["proof"])) {
            (Some(old), Some(new), Some(path)) if from > 0 => {
                tlog::check_consistency(&path, from, &old, to, &new).is_ok()
            }
            // RFC 6962 leaves a proof from the empty tree undefined: the
            // empty tree is consistent with every tree, with an empty proof.
            (Some(_), Some(_), Some(path)) => path.is_empty() && !want_err,
            _ => false,
        };
        assert_eq!(verdict, !want_err, "{name}: {}", p["desc"]);
        if !want_err && from > 0 {
            happy += 1;
            let ours = tlog::consistency_proof(&mem, from, to).unwrap();
            assert_eq!(Some(ours), proof(&p["proof"]), "{name}: our proof");
        }
    }
    assert!(happy >= 4);
}
