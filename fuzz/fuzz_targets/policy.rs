//! A policy upload (PUT /v1/policies, POST /v1/policies/check): parse,
//! validate strictly against the shipped schema with the shipped floor.
#![no_main]
use civic_vault::authz::{PolicyEngine, PolicySources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let sources = PolicySources {
            editable: text.to_owned(),
            ..PolicySources::embedded()
        };
        let _ = PolicyEngine::compile(&sources, 1);
    }
});
