//! The body of POST /v1/legal/requests, as the handler parses it.
#![no_main]
use civic_vault::domain::legal::LegalRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = civic_vault::http::extract::parse_json::<LegalRequest>(data);
});
