//! Stored audit blocks and entries, as `audit verify` reads them from disk.
#![no_main]
use civic_vault::domain::audit::{self, ChainVerifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A stored block is its framed entries, or those compressed.
    let unpacked = civic_vault::store::unpack_audit_block(data);
    let data: &[u8] = match &unpacked {
        Ok(framed) => &framed[..],
        Err(_) => data,
    };
    let _ = audit::decode(data);
    let mut v = ChainVerifier::default();
    match audit::split_block(data) {
        Ok(entries) => {
            for (i, e) in entries.into_iter().enumerate() {
                v.feed(1 + i as u64, e);
            }
        }
        Err(_) => v.feed(1, data),
    }
    let _ = v.finish();
});
