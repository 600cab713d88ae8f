//! The house's layers, enforced: each module of src/ may use only those
//! below it, and the domain knows no HTTP, sled, tokio or Cedar. A new
//! import that breaks a layer fails here, naming the file and the line.
//!
//! basics (config, duration, clock) < crypto < domain < store, authz,
//! witness, cluster < vault < http < console < server < ops; the binary's `cli` may
//! use everything. The witness (its protocol and its server) knows the
//! audit chain's hash and nothing of the store or the vault.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

use std::path::{Path, PathBuf};

/// Per top-level module: the crate modules it must not name, and (for the
/// domain) the external crates it must not use.
const RULES: &[(&str, &[&str], &[&str])] = &[
    (
        "crypto",
        &["domain", "store", "authz", "vault", "http", "server", "ops", "witness"],
        &[],
    ),
    (
        "domain",
        &["store", "authz", "vault", "http", "server", "ops", "witness"],
        &[
            "axum",
            "tokio",
            "sled",
            "hyper",
            "tower",
            "tower_http",
            "cedar_policy",
            "reqwest",
        ],
    ),
    ("store", &["authz", "vault", "http", "server", "ops", "witness"], &[]),
    (
        "witness",
        &["store", "authz", "vault", "http", "console", "server", "ops"],
        &[],
    ),
    ("authz", &["store", "vault", "http", "server", "ops", "witness"], &[]),
    (
        "cluster",
        &[
            "domain", "store", "authz", "vault", "http", "console", "server", "ops", "witness",
        ],
        &[],
    ),
    (
        "print",
        &[
            "domain", "store", "authz", "vault", "http", "console", "server", "ops", "witness", "cluster", "crypto",
        ],
        &["axum", "tokio", "sled", "cedar_policy", "reqwest"],
    ),
    ("vault", &["http", "console", "server", "ops"], &[]),
    ("http", &["console", "server", "ops"], &[]),
    ("console", &["server", "ops"], &[]),
    ("server", &["ops"], &[]),
    ("ops", &["http", "server"], &[]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file: its test module (last, by the house's convention)
/// and comments left out.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or_default().to_owned()))
        .collect()
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (layer, modules, crates) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "src/{layer} has no files");
        for file in files {
            let name = file.strip_prefix(&src).unwrap().display().to_string();
            if name.ends_with("_tests.rs") || name.ends_with("/tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in code_lines(&text) {
                for m in *modules {
                    if line.contains(&format!("crate::{m}::")) || line.contains(&format!("crate::{m};")) {
                        broken.push(format!("src/{name}:{n}: {layer} uses crate::{m}"));
                    }
                }
                for c in *crates {
                    let word = |s: &str| {
                        line.split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                            .any(|w| w == s)
                    };
                    if word(c) {
                        broken.push(format!("src/{name}:{n}: {layer} uses {c}"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "layers broken:\n{}", broken.join("\n"));
}

/// The check above finds what it should: a domain line naming axum is caught.
#[test]
fn the_check_sees_a_domain_import_of_axum() {
    let lines = code_lines("use axum::Json; // a comment naming sled\n#[cfg(test)]\nuse tokio;");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].1.contains("axum"));
    assert!(!lines[0].1.contains("sled"));
}
