//! Measures sled's own cost for the writer's pattern: a batch of audit-sized
//! values, then `flush`. `cargo run --release --example sled_flush_probe`.
#![allow(clippy::unwrap_used, reason = "a probe fails loudly")]
use std::time::Instant;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let t = db.open_tree("audit").unwrap();
    let value = vec![7u8; 420];
    let mut seq = 0u64;
    for batch in [1usize, 10, 50, 100, 300] {
        let rounds = 200;
        let (mut apply, mut flush) = (0.0, 0.0);
        for _ in 0..rounds {
            let a = Instant::now();
            let mut b = sled::Batch::default();
            for _ in 0..batch {
                seq += 1;
                b.insert(&seq.to_be_bytes(), value.clone());
            }
            t.apply_batch(b).unwrap();
            let f = Instant::now();
            db.flush().unwrap();
            apply += (f - a).as_secs_f64();
            flush += f.elapsed().as_secs_f64();
        }
        println!(
            "batch {batch:>4}: apply {:>7.1} us  flush {:>7.1} us",
            apply / rounds as f64 * 1e6,
            flush / rounds as f64 * 1e6
        );
    }
}
