//! The audit chain's index by subject: a legal request's access log comes
//! from it (no walk of the chain) and holds exactly the card's entries; the
//! index catches up after a restart, is checked against the chain by
//! `audit verify`, and is rebuilt when it was tampered with or lost.
//!
//! On sled whatever `CIVIC_VAULT_TEST_PG` says (`sled_config`): its index is sled's run files under data/ (PostgreSQL indexes the audit table).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use civic_vault::domain::store::Store as _;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn access_log(v: &TestVault, legal: &str, card: &str) -> Vec<Value> {
    let body = json!({
        "reference": "Index 7/2026",
        "requester": {"name": "Det. Example", "agency_kind": "state_agency"},
        "process": "court_order",
        "signed_by_judge": true,
        "subject": {"card_number": card},
        "items": ["access_log"],
        "notice_prohibited_by_court": true,
    });
    let (s, b) = v.post("/v1/legal/requests", legal, &body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["package"]["access_log"].as_array().unwrap().clone()
}

/// The index's run files under a data directory.
fn run_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut runs: Vec<_> = std::fs::read_dir(data.join("audit-index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    runs.sort();
    runs
}

fn actions(log: &[Value]) -> Vec<String> {
    log.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_comes_from_the_index_and_the_index_from_the_chain() {
    let v = TestVault::start_sled("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let library = v.system("nypl", "city_partner", &["library_services"]).await;
    let a = v.enroll_one(&clerk, "P-INDEX-A", "1980-01-01").await;
    let b = v.enroll_one(&clerk, "P-INDEX-B", "1981-02-02").await;
    for card in [&a, &a, &b] {
        let (s, body) = v
            .post(
                "/v1/facts",
                &library,
                &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }

    // A's log: its enrollment and its two fact queries, nothing about B.
    let log = access_log(&v, &legal, &a).await;
    assert_eq!(actions(&log), ["enroll", "query_fact", "query_fact"], "{log:?}");
    assert!(log
        .iter()
        .all(|e| e["principal"] != "nypl" || e["purpose"] == "library_services"));
    let log_b = access_log(&v, &legal, &b).await;
    assert_eq!(actions(&log_b), ["enroll", "query_fact"], "{log_b:?}");
    // A new query is in the very next answer (the index catches up first).
    let _ = v
        .post(
            "/v1/facts",
            &library,
            &json!({"card_number": b, "purpose": "library_services", "facts": ["card_valid"]}),
        )
        .await;
    assert_eq!(
        actions(&access_log(&v, &legal, &b).await),
        ["enroll", "query_fact", "query_fact"]
    );

    // Corrupt the index while the vault is stopped: one flipped bit in a run.
    let dir = v.stop().await;
    let data = dir.path().join("data");
    let runs = run_files(&data);
    assert!(
        !runs.is_empty(),
        "a clean stop writes the index's newest records as a run"
    );
    let mut bytes = std::fs::read(&runs[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&runs[0], &bytes).unwrap();
    let (store, _) = civic_vault::store::SledStore::open(&data, None).unwrap();
    let report = store.audit_verify(std::collections::BTreeMap::new()).unwrap();
    assert!(report.ok, "{report:?}");
    let index = report.index.clone().unwrap();
    assert!(!index.consistent && index.rebuilt, "{report:?}");
    let again = store.audit_verify(std::collections::BTreeMap::new()).unwrap();
    let index = again.index.unwrap();
    assert!(index.consistent && !index.rebuilt, "{index:?}");
    assert!(index.keys >= 6, "{index:?}");
    assert!(store
        .audit_about(Some("hmac-sha256:forged"))
        .unwrap()
        .entries
        .is_empty());
    drop(store);

    // Delete a run file: found when the index is read, rebuilt, and said so.
    for run in run_files(&data) {
        std::fs::remove_file(run).unwrap();
    }
    let (store, _) = civic_vault::store::SledStore::open(&data, None).unwrap();
    let index = store
        .audit_verify(std::collections::BTreeMap::new())
        .unwrap()
        .index
        .unwrap();
    assert!(!index.consistent && index.rebuilt, "{index:?}");
    drop(store);

    // Lose the index altogether: the restarted vault rebuilds it on first use.
    std::fs::remove_dir_all(data.join("audit-index")).unwrap();
    let config = sled_config(dir.path(), "idnyc");
    let v = TestVault::start_in(dir, config).await;
    let log = access_log(&v, &legal, &a).await;
    assert_eq!(actions(&log), ["enroll", "query_fact", "query_fact"], "{log:?}");
    let auditor = v.auditor().await;
    let (s, verified) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{verified}");
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["index"]["consistent"], true, "{verified}");
    v.stop().await;
}

mod store_level {
    //! The index against the store alone: answers equal a walk of the chain
    //! through runs written at stops, merges, crash leftovers, and an index
    //! that belongs to another state of the chain.

    use std::collections::BTreeMap;
    use std::path::Path;

    use civic_vault::domain::audit::{AuditDraft, Certificate, Decision};
    use civic_vault::domain::store::{Commit, Store as _};
    use civic_vault::store::SledStore;

    const SUBJECTS: u64 = 13;

    fn subject(i: u64) -> String {
        format!("hmac-sha256:{:064x}", i % SUBJECTS)
    }

    /// Appends `n` entries: most about one of a few subjects, some about
    /// none, every 97th with a destruction certificate.
    async fn append(store: &SledStore, n: u64, salt: &str) {
        let mut written = 0;
        while written < n {
            let audit: Vec<AuditDraft> = (written..n.min(written + 50))
                .map(|i| AuditDraft {
                    at: 1_780_000_000 + i64::try_from(i).unwrap(),
                    principal: Some(format!("system-{salt}")),
                    action: "query_fact".into(),
                    decision: Decision::Allow,
                    subject: (i % 11 != 0).then(|| subject(i * 7 + salt.len() as u64)),
                    certificate: (i % 97 == 0).then(|| Certificate {
                        data_class: "document_scans".into(),
                        records: 1,
                        key_id: "scan-60s-1".into(),
                        method: "key destruction".into(),
                        destroyed_at: "2026-12-02T00:00:00Z".into(),
                        sweep_id: format!("sweep-{i}"),
                    }),
                    outcome: "ok".into(),
                    ..AuditDraft::default()
                })
                .collect();
            written += u64::try_from(audit.len()).unwrap();
            store
                .commit(Commit {
                    changes: Vec::new(),
                    audit,
                })
                .await
                .unwrap();
        }
    }

    /// Every subject's answer (and the certificates) equals a walk of the chain.
    fn answers_match_the_chain(store: &SledStore) {
        let mut by_subject: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut certificates = Vec::new();
        let mut after = 0;
        loop {
            let page = store.audit_page(after, 1000).unwrap();
            let Some((last, _)) = page.last() else { break };
            after = last.seq;
            for (e, _) in page {
                if let Some(s) = &e.subject {
                    by_subject.entry(s.clone()).or_default().push(e.seq);
                }
                if e.certificate.is_some() {
                    certificates.push(e.seq);
                }
            }
        }
        assert!(by_subject.len() >= 2 && !certificates.is_empty());
        for (s, want) in &by_subject {
            let about = store.audit_about(Some(s)).unwrap();
            let got: Vec<u64> = about.entries.iter().map(|e| e.seq).collect();
            assert_eq!(&got, want, "subject {s}");
            assert!(about.entries.iter().all(|e| e.subject.as_ref() == Some(s)));
            let certs: Vec<u64> = about.certificates.iter().map(|e| e.seq).collect();
            assert_eq!(certs, certificates);
        }
        assert!(store.audit_about(Some("hmac-sha256:none")).unwrap().entries.is_empty());
    }

    fn verify_index(store: &SledStore) -> civic_vault::domain::audit::IndexStatus {
        let report = store.audit_verify(BTreeMap::new()).unwrap();
        assert!(report.ok, "{report:?}");
        report.index.unwrap()
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_equal_a_chain_walk_through_runs_crashes_and_other_chains() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let index = data.join("audit-index");
        let snapshot = dir.path().join("index-then");
        let earlier_data = dir.path().join("data-then");

        // Three stops, three runs (merged as they pile up), answers exact throughout.
        for (round, n) in [(0u64, 600u64), (1, 900), (2, 400)] {
            let (store, _) = SledStore::open(&data, None).unwrap();
            append(&store, n, &"x".repeat(usize::try_from(round).unwrap() + 1)).await;
            answers_match_the_chain(&store);
            drop(store);
            if round == 0 {
                copy_dir(&index, &snapshot);
                copy_dir(&data, &earlier_data);
            }
        }
        let (store, _) = SledStore::open(&data, None).unwrap();
        let status = verify_index(&store);
        assert!(status.consistent && !status.rebuilt, "{status:?}");
        assert_eq!(status.indexed_through, 1900);
        drop(store);

        // A crash part-way (after new runs were written, before the manifest
        // named them; or in the middle of a catch-up, whose records were only
        // in memory) leaves the last manifest with its runs and leftovers: the
        // index is behind, catches up, and is never wrong.
        let now = dir.path().join("index-now");
        copy_dir(&index, &now);
        std::fs::remove_dir_all(&index).unwrap();
        copy_dir(&snapshot, &index);
        for path in std::fs::read_dir(&now).unwrap().map(|e| e.unwrap().path()) {
            let name = path.file_name().unwrap();
            if !index.join(name).exists() {
                std::fs::copy(&path, index.join(name)).unwrap();
            }
        }
        std::fs::write(index.join("run-00000000000000ff.tmp"), b"torn").unwrap();
        let (store, _) = SledStore::open(&data, None).unwrap();
        answers_match_the_chain(&store);
        let status = verify_index(&store);
        assert!(status.consistent && !status.rebuilt, "behind is not wrong: {status:?}");
        assert!(
            !index.join("run-00000000000000ff.tmp").exists(),
            "leftovers are removed"
        );
        drop(store);

        // An index made for another state of the chain — data/ restored from
        // an earlier copy that then went its own way, the index left newer —
        // is never used: the chain's hash at its watermark differs.
        let newer_index = dir.path().join("index-newer");
        copy_dir(&index, &newer_index);
        {
            let (store, _) = SledStore::open(&earlier_data, None).unwrap();
            append(&store, 1500, "other").await;
            drop(store);
        }
        std::fs::remove_dir_all(earlier_data.join("audit-index")).unwrap();
        copy_dir(&newer_index, &earlier_data.join("audit-index"));
        let (store, _) = SledStore::open(&earlier_data, None).unwrap();
        answers_match_the_chain(&store);
        let status = verify_index(&store);
        assert!(!status.consistent && status.rebuilt, "{status:?}");
        let status = verify_index(&store);
        assert!(status.consistent && !status.rebuilt, "{status:?}");
        drop(store);

        // Records changed under a running store are caught by the next verify.
        let (store, _) = SledStore::open(&data, None).unwrap();
        answers_match_the_chain(&store);
        let run = std::fs::read_dir(&index)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
            .unwrap();
        let mut bytes = std::fs::read(&run).unwrap();
        let at = bytes.len() - 30;
        bytes[at] ^= 0x80;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&run)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
            .unwrap();
        let status = verify_index(&store);
        assert!(!status.consistent && status.rebuilt, "{status:?}");
        answers_match_the_chain(&store);
        let status = verify_index(&store);
        assert!(status.consistent && !status.rebuilt, "{status:?}");
    }
}
