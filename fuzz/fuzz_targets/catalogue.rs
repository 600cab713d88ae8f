//! A program profile: document catalogue and proof rules (policies/programs/*.toml).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = civic_vault::domain::program::Program::from_toml("idnyc", text);
    }
});
