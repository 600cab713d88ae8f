//! Instructions per fact query, under `valgrind --tool=callgrind`: the one
//! figure that does not move with whatever else the machine runs, so each
//! change to the hot path can be attributed. Starts the release binary under
//! callgrind with instrumentation off, enrolls `BENCH_CARDS` cardholders
//! (default 100) and asks about each once (card cache warm), then switches
//! instrumentation on, sends `BENCH_REQUESTS` fact queries (default 1,000;
//! three facts each, random cards) one after another over one keep-alive
//! connection, dumps the counts and prints the server process's
//! instructions per request (every thread: tokio workers, the blocking pool,
//! the writer). The kernel's share (system calls, context switches, fsync)
//! is not counted: `facts` mode's CPU µs per request is the figure for that.
//! `BENCH_CALLGRIND_OUT=path` keeps the counts (`path.0`) for
//! `callgrind_annotate --inclusive=yes`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use super::{support, Vault, VaultSettings};

/// One request over a keep-alive connection; the status.
fn post(conn: &mut BufReader<TcpStream>, path: &str, token: &str, body: &str) -> u16 {
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).unwrap();
    status
}

fn callgrind_control(args: &[&str], pid: u32) {
    let ok = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "callgrind_control {args:?} failed");
}

/// The `summary:` (or `totals:`) event count of a callgrind output file.
fn total(path: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn run() {
    let cards: usize = support::env_or("BENCH_CARDS", 100);
    let requests: usize = support::env_or("BENCH_REQUESTS", 1_000);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("callgrind.out");
    let wrapper: Vec<String> = vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        "--instr-atstart=no".into(),
        format!("--callgrind-out-file={}", file.display()),
    ];
    let vault = Vault::start(
        VaultSettings {
            cheap_commitments: true,
            one_admin: false,
        },
        &wrapper,
    );
    let rt = support::runtime();
    let s = rt.block_on(super::facts::setup(&vault, cards));
    let addr = vault.base.trim_start_matches("http://").to_owned();
    let mut conn = BufReader::new(TcpStream::connect(&addr).unwrap());
    conn.get_ref().set_nodelay(true).unwrap();
    // A fixed sequence of cards (an LCG), the same on every run.
    let mut x: u64 = 12_345;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(x >> 33).unwrap() % s.pairs.len()
    };
    // A few requests on this connection before counting.
    for _ in 0..20 {
        let (body, token) = &s.pairs[next()];
        assert_eq!(post(&mut conn, "/v1/facts", token, body), 200);
    }
    callgrind_control(&["--zero"], vault.pid());
    callgrind_control(&["--instr=on"], vault.pid());
    for _ in 0..requests {
        let (body, token) = &s.pairs[next()];
        assert_eq!(post(&mut conn, "/v1/facts", token, body), 200);
    }
    callgrind_control(&["--dump"], vault.pid());
    // The dump is written by the process itself, after the command returns.
    let mut instructions = 0;
    for _ in 0..600 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let dumps: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        instructions = dumps.iter().map(|p| total(p)).sum();
        if instructions > 0 {
            // BENCH_CALLGRIND_OUT keeps the counts for callgrind_annotate.
            if let Ok(keep) = std::env::var("BENCH_CALLGRIND_OUT") {
                for (n, p) in dumps.iter().filter(|p| total(p) > 0).enumerate() {
                    std::fs::copy(p, format!("{keep}.{n}")).unwrap();
                }
            }
            break;
        }
    }
    drop(conn);
    vault.stop();
    println!(
        "civic-vault fact queries under callgrind: {requests} sequential requests (3 facts each) over one connection, {cards} cards (cache warm)"
    );
    println!(
        "  {instructions} instructions in the server process: {:.0} per request",
        instructions as f64 / requests as f64
    );
}
