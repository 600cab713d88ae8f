//! Presented SD-JWT VCs and status list tokens, as a verifier (the
//! embeddable module, `civic-vault credential verify`) reads them from a
//! holder and from the network.
#![no_main]
use civic_vault::crypto::sdjwt;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
    let expect = sdjwt::verify::Expect {
        audience: "a",
        nonce: "n",
        vct: "urn:civic-vault:municipal-id:1",
        now: 1_000_000,
        max_age: 300,
    };
    let (presentation, list) = text.split_once('\n').unwrap_or((text, text));
    let _ = sdjwt::verify::verify(presentation, &jwks, |_| Some(list.to_owned()), &expect);
    let _ = sdjwt::verify::status_of(list, &jwks, "u", 7, 1_000_000);
    let _ = sdjwt::decode_list(text);
    let _ = sdjwt::verify::disclosure_name(text);
});
