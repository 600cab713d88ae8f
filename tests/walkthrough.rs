//! The README's walk-through, run as written (issue 27, deliverable 5): the
//! way documentation tests keep examples honest, for shell.
//!
//! What runs: every ```` ```sh ```` block that follows a `<!-- walkthrough -->`
//! line, first in README.md, then in docs/src/walkthrough.md (the
//! walk-through, continued: the same shell, the same variables), in order,
//! in one `bash` with `set -euo pipefail`. Every `sh` block of README's
//! "Walk-through" section and of that chapter must carry the marker, so a
//! block cannot drop out of the test unnoticed.
//!
//! Against what: the real binary (`CARGO_BIN_EXE_civic-vault serve`) on a
//! free port, started in a fresh temporary directory that is also the
//! shell's working directory (so `keys/admin.token` is where the README
//! says, relative to where the vault runs). The shell gets `V` (the vault's
//! URL; the blocks say `V=${V:-http://127.0.0.1:8700}`), `CV` (the binary;
//! blocks that run it say `CV=${CV:-./target/release/civic-vault}`) and its
//! own `TMPDIR`, so `mktemp` files are cleaned up with the test.
//!
//! The convention (README says it in one sentence):
//! - A *step* is a run of consecutive command lines (neither blank nor
//!   comments). Its standard output is captured; it must exit 0.
//! - The comment lines directly under a step's last line, up to a blank
//!   line or the next command line, are its *expected output*: each line
//!   without its leading `#` and one space. Comments anywhere else (after a
//!   blank line, or opening a block) are prose and not checked.
//! - Whitespace is not compared (an answer may be wrapped over several
//!   comment lines) and `…` stands for any text, possibly empty. Nothing
//!   else is special: the rest must appear exactly, in order, and the whole
//!   output must be matched.
//! - A step without expected output is only required to succeed.
//!
//! Afterwards, the directory the shell ran in must hold nothing but the
//! vault's own `keys/` and `data/`: the walk-through leaves no files in the
//! repository root.
//!
//! Needs `bash`, `curl` and `jq` (Debian's `curl` and `jq`): without them
//! the test fails saying so, unless `CIVIC_VAULT_SKIP` names `walkthrough`.
//! On failure it prints the step (file and line), what was expected and
//! what came; the data is the README's own made-up applicant, never more.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One step of the walk-through: command lines and the output they must print.
#[derive(Debug)]
struct Step {
    /// `README.md:42`, where the step's first line is.
    at: String,
    code: Vec<String>,
    /// `None`: only success is checked.
    expected: Option<String>,
}

/// The `sh` blocks of `text` marked `<!-- walkthrough -->`. `section`
/// names a `## ` heading (by prefix) whose every `sh` block must be marked;
/// `None`: every block of the file must be.
fn marked_blocks(file: &str, text: &str, section: Option<&str>) -> Vec<(usize, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut in_section = section.is_none();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(name) = section {
            if let Some(heading) = line.strip_prefix("## ") {
                in_section = heading.starts_with(name);
            }
        }
        if line.trim_end() == "```sh" {
            let marked = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim() == "<!-- walkthrough -->");
            assert!(
                marked || !in_section,
                "{file}:{}: a sh block of the walk-through without the `<!-- walkthrough -->` marker",
                i + 1
            );
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && lines[end].trim_end() != "```" {
                end += 1;
            }
            assert!(end < lines.len(), "{file}:{}: an unclosed sh block", i + 1);
            if marked {
                blocks.push((start + 1, lines[start..end].iter().map(|l| (*l).to_owned()).collect()));
            }
            i = end;
        }
        i += 1;
    }
    blocks
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Cuts blocks into steps (the convention in the header).
fn steps(file: &str, blocks: &[(usize, Vec<String>)]) -> Vec<Step> {
    let mut out = Vec::new();
    for (first_line, block) in blocks {
        let mut i = 0;
        while i < block.len() {
            let line = &block[i];
            if line.trim().is_empty() {
                i += 1;
                continue;
            }
            if is_comment(line) {
                // Prose: skip the whole comment paragraph.
                while i < block.len() && is_comment(&block[i]) {
                    i += 1;
                }
                continue;
            }
            let at = format!("{file}:{}", first_line + i);
            let mut code = Vec::new();
            while i < block.len() && !block[i].trim().is_empty() && !is_comment(&block[i]) {
                code.push(block[i].clone());
                i += 1;
            }
            let mut expected = Vec::new();
            while i < block.len() && is_comment(&block[i]) {
                let l = block[i].trim_start().strip_prefix('#').unwrap_or_default();
                expected.push(l.strip_prefix(' ').unwrap_or(l).to_owned());
                i += 1;
            }
            out.push(Step {
                at,
                code,
                expected: (!expected.is_empty()).then(|| expected.join("\n")),
            });
        }
    }
    out
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether `actual` matches `pattern` whole, `…` standing for any text.
fn matches(pattern: &str, actual: &str) -> bool {
    let (pattern, actual) = (squeeze(pattern), squeeze(actual));
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() || !actual.ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The vault process, killed whatever happens to the test.
struct Vault(Child);

impl Drop for Vault {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool_missing(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
}

fn shown(text: &str) -> String {
    const MAX: usize = 4000;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let skip = std::env::var("CIVIC_VAULT_SKIP").unwrap_or_default();
    if skip.split(',').any(|s| s.trim() == "walkthrough") {
        eprintln!("walkthrough: skipped (CIVIC_VAULT_SKIP names it)");
        return;
    }
    let missing: Vec<&str> = ["bash", "curl", "jq"].into_iter().filter(|t| tool_missing(t)).collect();
    assert!(
        missing.is_empty(),
        "the walk-through needs {}: `sudo apt-get install {}` (or skip it: CIVIC_VAULT_SKIP=walkthrough)",
        missing.join(", "),
        missing.join(" ")
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    let mut count = Vec::new();
    for (file, section) in [("README.md", Some("Walk-through")), ("docs/src/walkthrough.md", None)] {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let blocks = marked_blocks(file, &text, section);
        assert!(!blocks.is_empty(), "{file}: no `<!-- walkthrough -->` sh block");
        let s = steps(file, &blocks);
        count.push(format!("{file}: {} steps", s.len()));
        all.extend(s);
    }
    let checked = all.iter().filter(|s| s.expected.is_some()).count();
    assert!(
        checked >= 10,
        "only {checked} steps show their output: the walk-through lost its checks"
    );

    // The vault, as the README starts it, in a directory of its own.
    let cwd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let port = common::loopback_port();
    let log = scratch.path().join("vault.log");
    let exe = env!("CARGO_BIN_EXE_civic-vault");
    let mut vault = Vault(
        Command::new(exe)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(cwd.path())
            .env("CIVIC_VAULT_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while !common::healthy(port) {
        if let Ok(Some(status)) = vault.0.try_wait() {
            panic!(
                "the vault exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        // Generous: a debug build on two busy cores can take a while.
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the vault did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // One shell for every step; each step's output in a file of its own.
    let outputs = scratch.path().join("out");
    std::fs::create_dir(&outputs).unwrap();
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let at_file = scratch.path().join("step");
    let mut script = String::from("set -euo pipefail\n");
    for (n, step) in all.iter().enumerate() {
        writeln!(script, "echo {n} > '{}'", at_file.display()).unwrap();
        writeln!(script, "{{\n{}\n}} > '{}/{n}'", step.code.join("\n"), outputs.display()).unwrap();
    }
    writeln!(script, "echo done > '{}'", at_file.display()).unwrap();
    let run = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(cwd.path())
        .env("V", format!("http://127.0.0.1:{port}"))
        .env("CV", exe)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let reached = std::fs::read_to_string(&at_file).unwrap_or_default();
    let output_of = |n: usize| std::fs::read_to_string(outputs.join(n.to_string())).unwrap_or_default();

    // The first step whose output differs from what the document shows.
    let mut failures = String::new();
    for (n, step) in all.iter().enumerate() {
        let Ok(actual) = std::fs::read_to_string(outputs.join(n.to_string())) else {
            break;
        };
        if reached.trim() == n.to_string() {
            break; // the step the shell stopped in: reported below
        }
        if let Some(expected) = &step.expected {
            if !matches(expected, &actual) {
                writeln!(
                    failures,
                    "{}: the output is not what the document shows\n--- the command\n{}\n--- expected\n{}\n--- printed\n{}",
                    step.at,
                    step.code.join("\n"),
                    expected,
                    shown(&actual)
                )
                .unwrap();
                break;
            }
        }
    }
    if !run.status.success() {
        let n: usize = reached.trim().parse().unwrap_or(usize::MAX);
        let step = all.get(n);
        writeln!(
            failures,
            "{}: the step failed ({})\n--- the command\n{}\n--- printed\n{}\n--- standard error\n{}",
            step.map_or("?", |s| s.at.as_str()),
            run.status,
            step.map(|s| s.code.join("\n")).unwrap_or_default(),
            shown(&output_of(n)),
            shown(&String::from_utf8_lossy(&run.stderr))
        )
        .unwrap();
    }
    assert!(
        failures.is_empty(),
        "the walk-through does not run as written ({})\n{failures}",
        count.join(", ")
    );
    assert_eq!(reached.trim(), "done");

    // Nothing left where the walk-through ran but the vault's own directories.
    let mut left: Vec<String> = std::fs::read_dir(cwd.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "keys" && n != "data")
        .collect();
    left.sort();
    assert!(
        left.is_empty(),
        "the walk-through left files where it runs (the repository root, for a reader): {left:?}"
    );
    drop(vault);
    eprintln!(
        "walkthrough: {} steps run, {checked} outputs checked ({})",
        all.len(),
        count.join(", ")
    );
}

#[test]
fn the_matching_convention() {
    assert!(matches("{\"a\":…,\"b\":2}", "{\"a\": 1, \"b\": 2}"));
    assert!(matches("…", ""));
    assert!(matches("x…y…z", "x1y2z"));
    assert!(!matches("x…y…z", "x1z"));
    assert!(!matches("{\"ok\":true}", "{\"ok\":false}"));
    assert!(!matches("ab…ba", "aba"));
    let blocks = vec![(
        10,
        vec![
            "# prose".to_owned(),
            "A=1".to_owned(),
            "echo $A".to_owned(),
            "# 1".to_owned(),
            String::new(),
            "# more prose".to_owned(),
            "true".to_owned(),
        ],
    )];
    let s = steps("X", &blocks);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].at, "X:11");
    assert_eq!(s[0].expected.as_deref(), Some("1"));
    assert!(s[1].expected.is_none());
}
