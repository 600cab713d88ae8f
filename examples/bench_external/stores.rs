//! sled beside PostgreSQL in one run: the fact mode (vault only) and the
//! enrollment mode on the embedded default, then both again with the vault
//! on PostgreSQL (a fresh schema, one node, the server on loopback), and a
//! table of the four figures. The same binary, the same settings, the same
//! load; only `[store]` differs.

use super::{enroll, facts, postgres_url, set_postgres_store, Measured};

pub fn run() {
    let url = postgres_url();
    let mut rows: Vec<(&str, Measured, Measured)> = Vec::new();
    for (name, store) in [("sled", None), ("PostgreSQL", Some(url))] {
        println!("\n=== store: {name}");
        set_postgres_store(store);
        let f = facts::run(false);
        let e = enroll::run();
        rows.push((name, f, e));
    }
    set_postgres_store(None);
    println!("\n| store | facts req/s | facts p99 | facts CPU/req (vault + database) | enrollments/s | enrollment p99 | enrollment CPU/req (vault + database) |");
    println!("|---|---|---|---|---|---|---|");
    for (name, f, e) in &rows {
        println!(
            "| {name} | {:.0} | {:.2} ms | {:.0} + {:.0} µs | {:.1} | {:.0} ms | {:.0} + {:.0} µs |",
            f.rate(),
            f.p99_us / 1000.0,
            f.cpu_us_per_request,
            f.db_cpu_us_per_request,
            e.rate(),
            e.p99_us / 1000.0,
            e.cpu_us_per_request,
            e.db_cpu_us_per_request,
        );
    }
}
