//! Cost of the Cedar part of one fact query (three decisions, evaluated and
//! remembered), and of the
//! other per-request crypto: `cargo run --release --example bench_decide`.
#![allow(clippy::unwrap_used, reason = "a probe fails loudly")]
use std::time::Instant;

use civic_vault::authz::{Action, PolicyEngine, PolicySources, RequestContext, Resource};
use civic_vault::crypto::{Attestor, Secret32};
use civic_vault::domain::vocab::Purpose;

mod support;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let engine = PolicyEngine::compile(&PolicySources::embedded(), 1).unwrap();
    let p = support::library_system();
    let resources: Vec<Resource> = ["card_valid", "resident", "age_over_18"]
        .iter()
        .map(|f| Resource::Fact((*f).into()))
        .collect();
    let cx = RequestContext {
        distinct_cards_last_hour: Some(10),
        ..RequestContext::purpose(Purpose::LibraryServices)
    };
    let n = 20_000;
    let t = Instant::now();
    for i in 0..n {
        // A context never seen before: Cedar evaluates (the memo misses).
        let fresh = RequestContext {
            distinct_cards_last_hour: Some(i64::from(i)),
            ..cx.clone()
        };
        let d = engine.decide_each(&p, Action::QueryFact, &resources, &fresh, "dec_x");
        std::hint::black_box(d);
    }
    println!(
        "cedar, 3 decisions evaluated: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
    let t = Instant::now();
    for _ in 0..n {
        let d = engine.decide_each(&p, Action::QueryFact, &resources, &cx, "dec_x");
        std::hint::black_box(d);
    }
    println!(
        "cedar, 3 decisions remembered (the policy engine's memo): {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
    let a = Attestor::new("k".into(), &Secret32::random());
    let claims = serde_json::json!({"iss": "civic-vault:idnyc", "aud": "library", "iat": 1, "exp": 2, "jti": "dec_x", "purpose": "library_services", "card_number": "XXXX-XXXX-XXXX-XXXX", "facts": {"card_valid": true}});
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(a.sign(&claims));
    }
    println!(
        "attestation signature: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
}
