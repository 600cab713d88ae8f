//! What a city IT team runs the vault with: `/readyz` for the load
//! balancer, request-latency and commit histograms in `/metrics` (checked by
//! Prometheus's own `promtool` where it is installed, and always under CI),
//! and log lines as JSON objects (`--log-format json`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_vault_is_ready_and_active() {
    let v = TestVault::start("idnyc").await;
    let (s, b) = v.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"ready": true, "role": "active"})));
    // Not audited: a load balancer polling it must not fill the chain.
    let auditor = v.auditor().await;
    let before = v.audit(&auditor).await.len();
    for _ in 0..5 {
        v.call(Method::GET, "/readyz", None, None).await;
    }
    let after = v.audit(&auditor).await;
    assert_eq!(after.len(), before + 1, "only the audit read itself is new");
    v.stop().await;
}

/// The series of one histogram, by its labels without `le`: the cumulative
/// buckets in order, then the sum and the count.
#[derive(Default, Debug)]
struct Series {
    buckets: Vec<(String, u64)>,
    sum: Option<f64>,
    count: Option<u64>,
}

fn histograms(text: &str, name: &str) -> BTreeMap<String, Series> {
    let mut out: BTreeMap<String, Series> = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with(name)) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (metric, labels) = match series.split_once('{') {
            Some((m, l)) => (m, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut le = None;
        let rest: Vec<&str> = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .filter(|l| match l.strip_prefix("le=") {
                Some(v) => {
                    le = Some(v.trim_matches('"').to_owned());
                    false
                }
                None => true,
            })
            .collect();
        let entry = out.entry(rest.join(",")).or_default();
        match metric.strip_prefix(name).unwrap() {
            "_bucket" => entry.buckets.push((le.unwrap(), value.parse().unwrap())),
            "_sum" => entry.sum = Some(value.parse().unwrap()),
            "_count" => entry.count = Some(value.parse().unwrap()),
            other => panic!("unexpected series {other} in {line}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_carry_latency_histograms_by_route_template_never_by_path() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let library = v.system("nypl-branch-12", "city_partner", &["library_services"]).await;
    let card = v.enroll_one(&clerk, "P-OPS-1", "1990-04-12").await;
    for _ in 0..3 {
        let (s, _) = v
            .post(
                "/v1/facts",
                &library,
                &json!({"card_number": card, "purpose": "library_services", "facts": ["card_valid"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let lookup = format!("/v1/cardholders/{card}?purpose=card_administration");
    let (s, _) = v.get(&lookup, &clerk).await;
    assert_eq!(s, StatusCode::OK);
    let auditor = v.auditor().await;
    let resp = v
        .http
        .get(v.url("/metrics"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(&card), "a card number reached /metrics");

    let latency = histograms(&text, "civic_vault_request_duration_seconds");
    let facts = &latency[r#"method="POST",route="/v1/facts""#];
    assert_eq!(facts.count, Some(3), "{facts:?}");
    assert!(facts.sum.unwrap() > 0.0);
    assert!(
        latency.contains_key(r#"method="GET",route="/v1/cardholders/{card}""#),
        "the route template, not the path: {:?}",
        latency.keys().collect::<Vec<_>>()
    );
    for (labels, series) in &latency {
        let counts: Vec<u64> = series.buckets.iter().map(|(_, n)| *n).collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{labels}: not cumulative");
        assert_eq!(series.buckets.last().unwrap().0, "+Inf", "{labels}");
        assert_eq!(counts.last().copied(), series.count, "{labels}: +Inf is the count");
    }
    let flush = histograms(&text, "civic_vault_commit_flush_seconds");
    assert!(flush[""].count.unwrap() >= 1, "the enrollment's group was flushed");
    assert!(text.contains("civic_vault_store_failed 0\n"));

    // Prometheus's own checker, where it is installed (always under CI).
    common::promtool_check(&text);
    v.stop().await;
}

/// `GET /readyz` over a plain socket: whether it answered 200.
fn ready(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[test]
fn json_logs_are_one_object_per_line_with_the_text_lines_fields() {
    let dir = tempfile::tempdir().unwrap();
    let port = loopback_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_civic-vault"))
        .args(["--log-format", "json", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--keys-dir")
        .arg(dir.path().join("keys"))
        .arg("--policies-dir")
        .arg(policies_dir())
        .env("CVC5", solver())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Ready: /readyz answers 200 over plain HTTP.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if ready(port) {
            break;
        }
        assert!(Instant::now() < deadline, "the vault did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    let lines: Vec<String> = lines_rx.try_iter().collect();
    assert!(lines.len() >= 2, "{lines:?}");
    let mut messages = Vec::new();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(v.get(field).is_some(), "{field} missing: {line}");
        }
        messages.push(v["message"].as_str().unwrap_or_default().to_owned());
    }
    let starting = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("civic-vault ") && m.ends_with(" starting"))
        })
        .unwrap_or_else(|| panic!("{messages:?}"));
    // The event's own fields sit beside the message, as in the text format.
    assert_eq!(starting["listen"], format!("127.0.0.1:{port}"));
    assert_eq!(starting["program"], "idnyc");
    assert!(
        messages.iter().any(|m| m.starts_with("shutdown requested")),
        "{messages:?}"
    );
}
