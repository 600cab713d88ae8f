//! The necessary work of one fact query, each part measured alone in this
//! process, to set beside the vault's CPU per query: one Ed25519 signature
//! of an attestation, the Cedar evaluation of three facts (fresh, never
//! from the memo: each request's context differs), hashing one audit entry
//! into the log (its chain hash and its RFC 6962 leaf hash), and an HTTP
//! round trip (the bare axum handler's CPU per request in the same run).

use std::time::Instant;

use civic_vault::authz::{Action, PolicyEngine, PolicySources, RequestContext, Resource};
use civic_vault::crypto::{Attestor, Secret32};
use civic_vault::domain::vocab::Purpose;
use sha2::{Digest, Sha256};

/// Each part's cost, µs (CPU of this one thread).
pub struct Floor {
    pub sign_us: f64,
    pub cedar_us: f64,
    pub hash_us: f64,
}

fn per_op(n: u32, mut f: impl FnMut(u32)) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

pub fn measure() -> Floor {
    let n = 20_000;
    let a = Attestor::new("attest-k".into(), &Secret32::random());
    let claims = serde_json::json!({"iss": "civic-vault:idnyc", "aud": "nypl-1", "iat": 1_780_000_000,
        "exp": 1_780_000_300, "jti": "dec_0123456789abcdef0123456789abcdef", "purpose": "library_services",
        "card_number": "1000-4417-2290-0315", "facts": {"card_valid": true, "resident": true, "age_over_18": true}});
    let sign_us = per_op(n, |_| {
        std::hint::black_box(a.sign(&claims));
    });
    let engine = PolicyEngine::compile(&PolicySources::embedded(), 1).unwrap();
    let p = super::support::library_system();
    let resources: Vec<Resource> = ["card_valid", "resident", "age_over_18"]
        .iter()
        .map(|f| Resource::Fact((*f).into()))
        .collect();
    let cedar_us = per_op(n, |i| {
        // A context never seen before: a fresh evaluation, as a first ask.
        let cx = RequestContext {
            distinct_cards_last_hour: Some(i64::from(i)),
            bulk_ceiling_per_hour: Some(i64::MAX),
            ..RequestContext::purpose(Purpose::LibraryServices)
        };
        std::hint::black_box(engine.decide_each(&p, Action::QueryFact, &resources, &cx, "dec_x"));
    });
    // A fact query's entry as stored is about 600 bytes of canonical JSON.
    let entry = vec![b'x'; 600];
    let mut prev = [0u8; 32];
    let hash_us = per_op(n, |_| {
        let mut chain = Sha256::new();
        chain.update(prev);
        chain.update(&entry);
        prev = chain.finalize().into();
        let mut leaf = Sha256::new();
        leaf.update([0u8]);
        leaf.update(&entry);
        std::hint::black_box(leaf.finalize());
    });
    Floor {
        sign_us,
        cedar_us,
        hash_us,
    }
}
