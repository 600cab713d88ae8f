//! sled beside PostgreSQL in one run: the fact mode (vault only), the
//! enrollment mode and the legal mode on the embedded default, then all
//! three again with the vault on PostgreSQL (a fresh schema, one node, the
//! server on loopback), and one table of the six. The same binary, the same settings, the same
//! load; only `[store]` differs.

use super::{enroll, facts, legal, postgres_url, set_postgres_store, Measured};

pub fn run() {
    let url = postgres_url();
    let mut rows: Vec<(&str, [Measured; 3])> = Vec::new();
    for (name, store) in [("sled", None), ("PostgreSQL", Some(url))] {
        println!("\n=== store: {name}");
        set_postgres_store(store);
        rows.push((name, [facts::run(false), enroll::run(), legal::run()]));
    }
    set_postgres_store(None);
    println!("\n| store | load | req/s | p99 | CPU/req (vault + database) | data/ per request |");
    println!("|---|---|---|---|---|---|");
    for (name, runs) in &rows {
        for (load, m) in ["fact queries (3 facts)", "enrollments", "legal requests (access_log)"]
            .iter()
            .zip(runs)
        {
            let data = if *name == "sled" {
                format!("{:.0} B", m.data_bytes_per_request)
            } else {
                "(in PostgreSQL)".to_owned()
            };
            println!(
                "| {name} | {load} | {:.1} | {:.2} ms | {:.0} + {:.0} µs | {data} |",
                m.rate(),
                m.p99_us / 1000.0,
                m.cpu_us_per_request,
                m.db_cpu_us_per_request,
            );
        }
    }
}
