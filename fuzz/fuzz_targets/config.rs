//! The TOML configuration: parse and validate; errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = civic_vault::Config::from_toml(text) {
            let _ = c.validate();
        }
    }
});
