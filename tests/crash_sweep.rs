//! Killing the vault (SIGKILL) in the middle of a sweep loses nothing,
//! destroys nothing early, and the next sweep finishes the job.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn spawn(dir: &Path, port: u16) -> Child {
    let config = dir.join("vault.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nkeys_dir = \"{}\"\npolicies_dir = \"{}\"\n\
             [retention]\nsource_documents = \"2s\"\nsweep_interval = \"365d\"\nkey_rotation = \"1s\"\n",
            dir.join("data").display(),
            dir.join("keys").display(),
            policies_dir().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("vault.log")).unwrap())
        .spawn()
        .unwrap();
    // Generous: a debug build on two busy cores can take seconds to start.
    for _ in 0..400 {
        if healthy(port) {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the vault exited ({status}): {}",
                std::fs::read_to_string(dir.join("vault.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    // No personal data is ever logged, so the log can be shown.
    panic!(
        "the vault did not start: {}",
        std::fs::read_to_string(dir.join("vault.log")).unwrap_or_default()
    );
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_sweeps_loses_nothing_and_destroys_nothing_early() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut child = spawn(dir.path(), port);
    let admin = std::fs::read_to_string(dir.path().join("keys/admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let issue = |id: &'static str| {
        let (http, url, admin) = (http.clone(), format!("{base}/v1/principals"), admin.clone());
        async move {
            let body = json!({"id": id, "kind": "staff", "roles": [id]});
            let (_, b) = call(&http, reqwest::Method::POST, url, &admin, Some(body)).await;
            b["token"].as_str().unwrap().to_owned()
        }
    };
    let clerk = issue("clerk").await;
    let auditor = issue("auditor").await;

    let mut kept = Vec::new();
    let mut erased = Vec::new();
    for i in 0..120 {
        let mut app = application(
            "Crash Holder",
            vec![
                json!({"document_type": "foreign_passport", "issuer": "MEX", "number": format!("C-{i}"),
                   "scan": {"content_type": "application/pdf", "data": b64(b"%PDF-1.7 scan")}}),
                proof("lease", "L", "L-1"),
            ],
        );
        app["applicant"]["address"] = json!({"kind": "none"});
        let (s, b) = call(
            &http,
            reqwest::Method::POST,
            format!("{base}/v1/enrollments"),
            &clerk,
            Some(app),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let card = b["card_number"].as_str().unwrap().to_owned();
        if i % 3 == 0 {
            let (s, _) = call(
                &http,
                reqwest::Method::DELETE,
                format!("{base}/v1/cardholders/{card}"),
                &clerk,
                None,
            )
            .await;
            assert_eq!(s, StatusCode::ACCEPTED);
            erased.push(card);
        } else {
            kept.push(card);
        }
    }
    // Let the scans fall due (2 s window, 1 s epochs).
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Kill the vault at different moments of a sweep, then restart it.
    let mut interrupted = 0;
    for delay_ms in [2u64, 15, 40] {
        let sweep = {
            let (http, url, admin) = (http.clone(), format!("{base}/v1/retention/sweep"), admin.clone());
            tokio::spawn(async move { http.post(url).bearer_auth(admin).json(&json!({})).send().await })
        };
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        // A sweep request that got no answer was killed in the middle.
        if sweep.await.unwrap().is_err() {
            interrupted += 1;
        }
        child = spawn(dir.path(), port);
        let (s, report) = call(
            &http,
            reqwest::Method::GET,
            format!("{base}/v1/audit/verify"),
            &auditor,
            None,
        )
        .await;
        assert_eq!(
            (s, report["ok"].as_bool()),
            (StatusCode::OK, Some(true)),
            "after a kill at {delay_ms} ms: {report}"
        );
        // Nothing that was not due is lost.
        for card in &kept {
            let r = http
                .get(format!("{base}/v1/cardholders/{card}/photo?purpose=card_printing"))
                .bearer_auth(&clerk)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::OK,
                "a kept card was lost after a kill at {delay_ms} ms"
            );
        }
    }

    // How many sweeps a kill cut off depends on the machine's speed (on a
    // fast run every sweep may finish first); the invariants above are what
    // must hold either way. The count is shown for the record.
    eprintln!("sweep requests cut off by SIGKILL: {interrupted} of 3");

    // A sweep after the last restart finishes everything that was due.
    let (s, _) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/v1/retention/sweep"),
        &admin,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, status) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/v1/retention"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status["classes"]["source_documents"]["held"], 0, "{status}");
    assert_eq!(
        status["classes"]["inactive_cardholders"]["held"],
        kept.len(),
        "{status}"
    );
    for card in &erased {
        let (s, _) = call(
            &http,
            reqwest::Method::GET,
            format!("{base}/v1/cardholders/{card}/photo?purpose=card_printing"),
            &clerk,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // Any file of a KEK counts: a key, a half-written `.tmp` of a rotation
    // killed mid-write (once left forever), a `.shred` of a destruction.
    let keks: Vec<String> = walk(&dir.path().join("keys"))
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("kek-"))
        .collect();
    assert_eq!(keks.len(), 1, "the rotation finished: one KEK left, not {keks:?}");
    let (_, report) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/v1/audit/verify"),
        &auditor,
        None,
    )
    .await;
    assert_eq!(report["ok"], true);
    child.kill().unwrap();
    child.wait().unwrap();
}
