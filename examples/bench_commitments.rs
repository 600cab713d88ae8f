//! What a document commitment costs: `cargo run --release --example bench_commitments`.
//!
//! Measures the memory-hard commitment (Argon2id with the blind-index key as
//! its secret) at the shipped cost and at the test cost, one at a time on
//! one core, and what a whole enrollment with two proofs costs (checks,
//! commitments, sealing, the photo's age file). Prints the cost of
//! enumerating 10^9 numbers of one (type, issuer) with keys/ in hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::time::Instant;

use base64::Engine;
use civic_vault::crypto::{CommitmentCost, Keyring};
use civic_vault::domain::enrollment::{prepare, EnrollContext, EnrollmentRequest};
use civic_vault::domain::program::Program;

mod support;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let rounds: u32 = support::env_or("COMMITMENT_ROUNDS", 20);
    let dir = tempfile::tempdir().unwrap();
    let keys = Keyring::open_or_create(&dir.path().join("keys")).unwrap();
    let shipped = CommitmentCost {
        memory_kib: civic_vault::config::Commitments::default().memory_kib,
        iterations: civic_vault::config::Commitments::default().iterations,
    };
    println!(
        "civic-vault commitment benchmark: {} cores, {rounds} rounds each, one at a time",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for (name, cost) in [("shipped", shipped), ("tests", CommitmentCost::MINIMAL)] {
        let key = keys.blind.document_key("foreign_passport", "MEX", "G12345678");
        let start = Instant::now();
        for i in 0..rounds {
            let mut k = key;
            k[0] ^= u8::try_from(i % 256).unwrap();
            std::hint::black_box(keys.blind.commit(&k, cost));
        }
        let per = start.elapsed().as_secs_f64() / f64::from(rounds);
        let core_years = per * 1e9 / (365.25 * 86_400.0);
        println!(
            "{name:8} {} KiB x {} passes: {:>8.2} ms a commitment; 10^9 guesses at one issuer: {core_years:.2} core-years",
            cost.memory_kib,
            cost.iterations,
            per * 1000.0
        );
    }

    let text =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/programs/idnyc.toml"))
            .unwrap();
    let program = Program::from_toml("idnyc", &text).unwrap();
    let photo = base64::engine::general_purpose::STANDARD.encode(support::PNG);
    for (name, cost) in [("shipped", shipped), ("tests", CommitmentCost::MINIMAL)] {
        let cx = EnrollContext {
            program: &program,
            keys: &keys,
            clerk: "clerk-bench",
            now: time::OffsetDateTime::now_utc(),
            validity: None,
            scans: None,
            inactive_window_secs: 365 * 86_400,
            commitment_cost: cost,
        };
        let start = Instant::now();
        for i in 0..rounds {
            let req: EnrollmentRequest = serde_json::from_value(serde_json::json!({
                "applicant": {"full_name": "Bench Holder", "date_of_birth": "1980-05-05", "address": {"kind": "none"}},
                "photo": {"content_type": "image/png", "data": photo},
                "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": format!("B-{i}")},
                           {"document_type": "lease", "issuer": "L", "number": "L-1"}]}))
            .unwrap();
            std::hint::black_box(prepare(&req, &cx).unwrap());
        }
        println!(
            "{name:8} enrollment with two proofs (checks, 2 commitments, sealing, photo): {:>8.2} ms",
            start.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
        );
    }

    // What the fact path pays on a card-cache miss since status and dates
    // are sealed: unwrap the data key, open the padded meta, decode it.
    let cx = EnrollContext {
        program: &program,
        keys: &keys,
        clerk: "clerk-bench",
        now: time::OffsetDateTime::now_utc(),
        validity: None,
        scans: None,
        inactive_window_secs: 365 * 86_400,
        commitment_cost: CommitmentCost::MINIMAL,
    };
    let req: EnrollmentRequest = serde_json::from_value(serde_json::json!({
        "applicant": {"full_name": "Bench Holder", "date_of_birth": "1980-05-05", "address": {"kind": "none"}},
        "photo": {"content_type": "image/png", "data": photo},
        "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": "M-1"},
                   {"document_type": "lease", "issuer": "L", "number": "L-1"}]}))
    .unwrap();
    let prepared = prepare(&req, &cx).unwrap();
    let (id, record) = (prepared.new_card.card_id, prepared.new_card.record);
    let n = 100_000;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(civic_vault::domain::access::open_card(&keys, &id, record.clone()).unwrap());
    }
    println!(
        "opening a card's sealed meta (fact path, card-cache miss): {:.2} us",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
}
