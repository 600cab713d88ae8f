//! The audit log as a transparency log, measured:
//! `cargo run --release --example bench_tlog`.
//!
//! Opens the real vault in-process on sled and appends `BENCH_ENTRIES`
//! audit entries (default 1,000,000) through the store's writer, as every
//! request's entries go (sealed, chained, added to the Merkle tree, grouped
//! and flushed; `BENCH_PER_COMMIT` per commit, 8 commits in flight). Then:
//!
//! - the append rate, and the tree's own share of it: the same number of
//!   leaves pushed through the tree's code alone (leaf and node hashes,
//!   the stored runs), so "without the tree" is the append time less that;
//! - the tree's stored hashes per million entries, and the data directory's
//!   growth per million;
//! - inclusion and consistency proofs at the final size: hashes, bytes and
//!   time; the root at the final size;
//! - a signed checkpoint, and the whole-log verification (`GET
//!   /v1/audit/verify`'s work: the chain walk, every tree checkpoint
//!   against the tree): time and the process's resident memory at its peak.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::cast_precision_loss,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::sync::Arc;
use std::time::Instant;

use civic_vault::domain::audit::{AuditDraft, Decision};
use civic_vault::domain::store::{Commit, Store as _};
use civic_vault::domain::tlog;

mod support;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let entries: u64 = support::env_or("BENCH_ENTRIES", 1_000_000);
    let per_commit: u64 = support::env_or("BENCH_PER_COMMIT", 2_000);
    let rt = support::runtime();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let config = support::config_in(dir.path());
        let vault = civic_vault::Vault::open(config, Arc::new(civic_vault::clock::SystemClock))
            .await
            .unwrap();
        let data = dir.path().join("data");
        let before = support::size_of(&data);
        let start_size = vault.store.tlog_size().unwrap();

        // Appends through the real writer.
        let t = Instant::now();
        let mut written = 0u64;
        let mut pending = Vec::new();
        while written < entries {
            let n = per_commit.min(entries - written);
            let audit: Vec<AuditDraft> = (0..n)
                .map(|j| AuditDraft {
                    at: 1_780_000_000 + i64::try_from(written + j).unwrap(),
                    principal: Some("nypl".into()),
                    action: "query_fact".into(),
                    purpose: Some("library_services".into()),
                    decision: Decision::Allow,
                    subject: Some(format!("hmac-sha256:{:064x}", (written + j) % 5_000_000)),
                    outcome: "ok".into(),
                    ..AuditDraft::default()
                })
                .collect();
            written += n;
            let v = Arc::clone(&vault);
            pending.push(tokio::spawn(async move {
                v.store.commit(Commit { changes: Vec::new(), audit }).await.unwrap();
            }));
            if pending.len() >= 8 {
                for p in pending.drain(..) {
                    p.await.unwrap();
                }
            }
        }
        for p in pending.drain(..) {
            p.await.unwrap();
        }
        let append = t.elapsed().as_secs_f64();
        let size = vault.store.tlog_size().unwrap();
        assert_eq!(size, start_size + entries, "every entry is a leaf");
        let (rss, _) = support::rss_gb();
        println!(
            "append: {entries} entries in {append:.1} s = {:.0} entries/s ({:.2} µs each, tree included); rss {rss:.2} GB",
            entries as f64 / append,
            append * 1e6 / entries as f64
        );

        // The tree's own work for as many leaves, alone.
        let canonical = vec![b'x'; 330];
        let t = Instant::now();
        let mut frontier = tlog::Frontier::default();
        let mut runs = tlog::Runs::default();
        let mut stored = 0usize;
        for i in 0..entries {
            let mut leaf_input = canonical.clone();
            leaf_input[..8].copy_from_slice(&i.to_be_bytes());
            frontier.push(tlog::leaf_hash(&leaf_input), &mut runs);
            if i % per_commit == per_commit - 1 {
                stored += runs.take().iter().map(|(_, _, b)| b.len()).sum::<usize>();
                let _ = frontier.root();
            }
        }
        stored += runs.take().iter().map(|(_, _, b)| b.len()).sum::<usize>();
        let tree = t.elapsed().as_secs_f64();
        println!(
            "tree alone: {:.2} µs an entry ({:.1} % of an append); so without it ~{:.0} entries/s; {:.1} MB of stored hashes per million entries",
            tree * 1e6 / entries as f64,
            tree * 100.0 / append,
            entries as f64 / (append - tree).max(1e-9),
            stored as f64 / 1e6 * 1e6 / entries as f64
        );

        // Proofs at the final size.
        let v = Arc::clone(&vault);
        let proofs = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for (what, f) in [
                ("inclusion of the first entry", 0u64),
                ("inclusion of the middle entry", size / 2),
                ("inclusion of the newest entry", size - 1),
            ] {
                let t = Instant::now();
                let p = tlog::inclusion_proof(&v.store, f, size).unwrap();
                out.push(format!(
                    "{what}: {} hashes, {} bytes, {:.0} µs",
                    p.len(),
                    p.len() * 32,
                    t.elapsed().as_secs_f64() * 1e6
                ));
            }
            for from in [1, size / 2, size - 1] {
                let t = Instant::now();
                let p = tlog::consistency_proof(&v.store, from, size).unwrap();
                out.push(format!(
                    "consistency {from} → {size}: {} hashes, {} bytes, {:.0} µs",
                    p.len(),
                    p.len() * 32,
                    t.elapsed().as_secs_f64() * 1e6
                ));
            }
            let t = Instant::now();
            let _ = tlog::root_at(&v.store, size).unwrap();
            out.push(format!("root at {size}: {:.0} µs", t.elapsed().as_secs_f64() * 1e6));
            out
        })
        .await
        .unwrap();
        for line in proofs {
            println!("proof: {line}");
        }

        // Flushed, signed, measured on disk.
        let v = Arc::clone(&vault);
        tokio::task::spawn_blocking(move || {
            // As the checkpointer does: the chain's head, then the tree (the store flushed by sign_head).
            v.checkpointer.sign_head(&v.store, "2026-12-07T00:00:00Z").unwrap();
            v.tree_checkpoints.sign(&v.store).unwrap();
        })
        .await
        .unwrap();
        let after = support::size_of(&data);
        println!(
            "disk: data directory {:.2} GB after, {:.0} MB per million entries (entries, chain, tree, indexes)",
            after as f64 / 1e9,
            (after - before) as f64 / 1e6 * 1e6 / entries as f64
        );

        // The whole log verified, as GET /v1/audit/verify does it.
        let (_, peak_before) = support::rss_gb();
        let v = Arc::clone(&vault);
        let data_dir = data.clone();
        let t = Instant::now();
        let report = tokio::task::spawn_blocking(move || {
            let heads =
                civic_vault::vault::checkpoints::read_verified(&data_dir, Some(&v.checkpointer.public_key())).unwrap();
            let mut report = v.store.audit_verify(heads).unwrap();
            let log = v.tree_checkpoints.verifier_key();
            civic_vault::vault::witness::check_tree_checkpoints(&mut report, &v.store, &data_dir, &log);
            report
        })
        .await
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let (rss, peak) = support::rss_gb();
        assert!(report.ok, "{report:?}");
        println!(
            "verify: {} entries in {secs:.1} s = {:.0} entries/s ({} tree checkpoints checked); rss {rss:.2} GB, peak {peak:.2} GB (before the walk {peak_before:.2} GB)",
            report.entries,
            report.entries as f64 / secs,
            report.tree_checkpoints.unwrap_or(0)
        );
        drop(report);
        drop(vault);
        // The stopped vault's data verified offline by the command an
        // auditor runs, when the release binary is built.
        let binary = std::env::var("BENCH_BINARY")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/civic-vault").to_owned());
        if std::path::Path::new(&binary).exists() {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let t = Instant::now();
            let mut child = std::process::Command::new(&binary)
                .args(["audit", "verify", "--data"])
                .arg(&data)
                .arg("--keys")
                .arg(dir.path().join("keys"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let status_path = format!("/proc/{}/status", child.id());
            let mut peak = 0.0f64;
            let out = loop {
                let status = std::fs::read_to_string(&status_path).unwrap_or_default();
                peak = peak.max(support::peak_rss_gb(&status).1);
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            let secs = t.elapsed().as_secs_f64();
            let mut stdout = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
            println!(
                "offline `civic-vault audit verify`: ok={} over {} entries in {secs:.1} s = {:.0} entries/s; peak rss {peak:.2} GB (exit {out})",
                v["ok"],
                v["entries"],
                v["entries"].as_f64().unwrap_or(0.0) / secs,
            );
        } else {
            println!("offline verify: skipped ({binary} not built; `cargo build --release` first)");
        }
    });
}
