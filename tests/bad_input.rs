//! The bad-input matrix: malformed and hostile requests across every route,
//! each answered with the documented 4xx and its error code, no panic, no
//! personal data echoed, and nothing written but the audit entries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use civic_vault::domain::store::Store;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One hostile request and what the contract says it gets.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    /// Which token: "admin", "clerk", "legal", "officer", "system", "deleted", "none", or a literal.
    token: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    token: &'static str,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        token,
        content_type: Some("application/json"),
        body: body.to_vec(),
        status,
        code,
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut s = "[".repeat(depth);
    s.push_str(&"]".repeat(depth));
    s.into_bytes()
}

/// What the data trees hold, to show that nothing was written.
fn counts(v: &TestVault) -> (u64, usize, usize, usize, usize) {
    let s = &v.vault.as_ref().unwrap().store;
    (
        s.card_count().unwrap(),
        s.principals().unwrap().len(),
        s.policy_versions().unwrap().len(),
        s.holds().unwrap().len(),
        s.notices().unwrap().len(),
    )
}

/// Sends raw bytes and returns the status line's code (0: the server closed
/// the connection without an answer).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap_or(Ok(0))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_and_more_hostile_requests_get_their_documented_answer_and_write_nothing() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let legal = v.staff("legal-1", &["legal"]).await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let system = v.system("parks-1", "city_agency", &["parks_recreation"]).await;
    let gone = v.staff("gone-1", &["clerk"]).await;
    let (s, _) = v
        .call(Method::DELETE, "/v1/principals/gone-1", Some(&v.admin.clone()), None)
        .await;
    assert_eq!(s.as_u16(), 204);
    let card = v.enroll_one(&clerk, "P-BAD-1", "1990-04-12").await;
    let good_app = application(
        "Quinn Holder",
        vec![proof("foreign_passport", "MEX", "P-BAD-2"), proof("lease", "L", "L-9")],
    );
    let app = |f: &dyn Fn(&mut Value)| {
        let mut a = good_app.clone();
        f(&mut a);
        serde_json::to_vec(&a).unwrap()
    };
    let facts = |body: Value| serde_json::to_vec(&body).unwrap();
    let legal_req = |f: &dyn Fn(&mut Value)| {
        let mut r = json!({"reference": "Case 1", "requester": {"name": "Court", "agency_kind": "state_agency"},
            "process": "court_order", "signed_by_judge": true, "subject": {"card_number": card}, "items": ["card_status"]});
        f(&mut r);
        serde_json::to_vec(&r).unwrap()
    };
    use Method as M;
    let mut cases = vec![
        // Authentication.
        case("no token", M::POST, "/v1/enrollments", "none", &app(&|_| {}), 401, "unauthenticated"),
        case("unknown token", M::POST, "/v1/enrollments", "cv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &app(&|_| {}), 401, "unauthenticated"),
        case("malformed token", M::POST, "/v1/facts", "not a token at all", b"{}", 401, "unauthenticated"),
        case("deleted principal's token", M::POST, "/v1/enrollments", "deleted", &app(&|_| {}), 401, "unauthenticated"),
        case("a token far too long", M::GET, "/v1/audit", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", b"", 401, "unauthenticated"),
        // Bodies that are not JSON, or not the declared kind.
        case("empty body", M::POST, "/v1/enrollments", "clerk", b"", 400, "invalid_request"),
        case("truncated JSON", M::POST, "/v1/enrollments", "clerk", b"{\"applicant\": {", 400, "invalid_request"),
        case("invalid UTF-8", M::POST, "/v1/enrollments", "clerk", b"{\"applicant\": \"\xff\xfe\xfd\"}", 400, "invalid_request"),
        case("JSON array instead of object", M::POST, "/v1/facts", "system", b"[1,2,3]", 400, "invalid_request"),
        case("a bare string", M::POST, "/v1/facts", "system", b"\"card_valid\"", 400, "invalid_request"),
        case("null", M::POST, "/v1/principals", "admin", b"null", 400, "invalid_request"),
        case("deeply nested JSON", M::POST, "/v1/facts", "system", &nested(10_000), 400, "invalid_request"),
        case("nested objects in a field", M::POST, "/v1/facts", "system", &facts(json!({"card_number": {"a": {"b": {"c": 1}}}, "purpose": "parks_recreation", "facts": ["card_valid"]})), 400, "invalid_request"),
        case("trailing garbage", M::POST, "/v1/facts", "system", b"{\"card_number\": \"x\", \"purpose\": \"parks_recreation\", \"facts\": [\"card_valid\"]} trailing", 400, "invalid_request"),
        case("NaN literal", M::POST, "/v1/policies/check", "officer", b"{\"policies\": NaN}", 400, "invalid_request"),
        // Wrong types and values.
        case("number for a name", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["full_name"] = json!(12345)), 400, "invalid_request"),
        case("bool for a date", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["date_of_birth"] = json!(true)), 400, "invalid_request"),
        case("impossible date", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["date_of_birth"] = json!("1990-02-30")), 400, "invalid_request"),
        case("birth in the future", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["date_of_birth"] = json!("2999-01-01")), 400, "invalid_request"),
        case("proofs as an object", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["proofs"] = json!({"a": 1})), 400, "invalid_request"),
        case("unknown field", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["nationality"] = json!("X")), 400, "invalid_request"),
        case("missing field", M::POST, "/v1/enrollments", "clerk", &app(&|a| { a["applicant"].as_object_mut().unwrap().remove("full_name"); }), 400, "invalid_request"),
        case("photo not base64", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["photo"]["data"] = json!("%%%not base64%%%")), 400, "invalid_request"),
        case("photo not an image", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["photo"]["data"] = json!(b64(b"#!/bin/sh\nrm -rf /"))), 400, "invalid_request"),
        case("control characters in a name", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["full_name"] = json!("Ana\u{0}\u{1b}[2J")), 400, "invalid_request"),
        case("a name of 100,000 characters", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["full_name"] = json!("A".repeat(100_000))), 400, "invalid_request"),
        case("thousands of proofs", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["proofs"] = json!(vec![proof("lease", "L", "1"); 5000])), 400, "invalid_request"),
        case("unknown address kind", M::POST, "/v1/enrollments", "clerk", &app(&|a| a["applicant"]["address"] = json!({"kind": "mars"})), 400, "invalid_request"),
        case("huge number for a version", M::PUT, "/v1/policies", "officer", b"{\"policies\": \"\", \"comment\": \"\", \"expected_version\": 1e400}", 400, "invalid_request"),
        case("negative version", M::PUT, "/v1/policies", "officer", b"{\"policies\": \"\", \"comment\": \"\", \"expected_version\": -1}", 400, "invalid_request"),
        case("version beyond u64", M::POST, "/v1/policies/rollback", "officer", b"{\"to_version\": 18446744073709551616, \"expected_version\": 1}", 400, "invalid_request"),
        case("duplicate keys", M::POST, "/v1/facts", "system", br#"{"card_number": "a", "card_number": "b", "purpose": "parks_recreation", "facts": ["card_valid"]}"#, 400, "invalid_request"),
        case("duplicate keys in a principal", M::POST, "/v1/principals", "admin", br#"{"id": "x1", "id": "x2", "kind": "staff", "roles": ["clerk"]}"#, 400, "invalid_request"),
        case("unknown purpose", M::POST, "/v1/facts", "system", &facts(json!({"card_number": card, "purpose": "curiosity", "facts": ["card_valid"]})), 400, "unknown_purpose"),
        case("unknown fact", M::POST, "/v1/facts", "system", &facts(json!({"card_number": card, "purpose": "parks_recreation", "facts": ["home_address"]})), 400, "unknown_fact"),
        case("age threshold not configured", M::POST, "/v1/facts", "system", &facts(json!({"card_number": card, "purpose": "parks_recreation", "facts": ["age_over_99999999999999999999"]})), 400, "unknown_fact"),
        case("facts not a list", M::POST, "/v1/facts", "system", &facts(json!({"card_number": card, "purpose": "parks_recreation", "facts": "card_valid"})), 400, "invalid_request"),
        case("ten thousand facts", M::POST, "/v1/facts", "system", &facts(json!({"card_number": card, "purpose": "parks_recreation", "facts": vec!["card_valid"; 10_000]})), 413, "payload_too_large"),
        case("unknown agency kind", M::POST, "/v1/principals", "admin", &facts(json!({"id": "x3", "kind": "system", "agency_kind": "ice_field_office", "purposes": []})), 400, "invalid_request"),
        case("unknown role", M::POST, "/v1/principals", "admin", &facts(json!({"id": "x4", "kind": "staff", "roles": ["root"]})), 400, "invalid_request"),
        case("principal id with a slash", M::POST, "/v1/principals", "admin", &facts(json!({"id": "../admin", "kind": "staff", "roles": ["clerk"]})), 400, "invalid_request"),
        case("principal id with newline", M::POST, "/v1/principals", "admin", &facts(json!({"id": "a\nb", "kind": "staff", "roles": ["clerk"]})), 400, "invalid_request"),
        case("an existing principal", M::POST, "/v1/principals", "admin", &facts(json!({"id": "clerk-ana", "kind": "staff", "roles": ["clerk"]})), 409, "principal_exists"),
        // Legal requests.
        case("unknown process", M::POST, "/v1/legal/requests", "legal", &legal_req(&|r| r["process"] = json!("letter_from_agency")), 400, "invalid_request"),
        case("unknown item", M::POST, "/v1/legal/requests", "legal", &legal_req(&|r| r["items"] = json!(["immigration_status"])), 400, "invalid_request"),
        case("an item twice", M::POST, "/v1/legal/requests", "legal", &legal_req(&|r| r["items"] = json!(["card_status", "card_status"])), 400, "invalid_request"),
        case("a category as subject", M::POST, "/v1/legal/requests", "legal", &legal_req(&|r| r["subject"] = json!({"document": {"issuer": "MEX"}})), 400, "invalid_request"),
        case("two subjects", M::POST, "/v1/legal/requests", "legal", &legal_req(&|r| r["subject"]["aggregate"] = json!("cards_issued_by_month")), 400, "invalid_request"),
        case("an unknown aggregate", M::POST, "/v1/legal/requests", "legal", &legal_req(&|r| { r["subject"] = json!({"aggregate": "everyone"}); r["items"] = json!([]); }), 400, "invalid_request"),
        case("empty reference", M::POST, "/v1/legal/requests", "legal", &legal_req(&|r| r["reference"] = json!("   ")), 400, "invalid_request"),
        case("a legal request from a clerk", M::POST, "/v1/legal/requests", "clerk", &legal_req(&|_| {}), 403, "forbidden_by_policy"),
        // Paths: traversal, odd ids, wrong methods.
        case("path traversal in a card id", M::DELETE, "/v1/cardholders/..%2F..%2Fkeys%2Fadmin.token", "clerk", b"", 404, "not_found"),
        case("dot segments", M::GET, "/v1/cardholders/../../keys/photo?purpose=card_printing", "clerk", b"", 404, "not_found"),
        case("a card number of the wrong shape", M::POST, "/v1/cardholders/not-a-card/revoke", "clerk", br#"{"reason": "lost"}"#, 404, "not_found"),
        case("traversal in a principal id", M::DELETE, "/v1/principals/..%2Fclerk-ana", "admin", b"", 404, "not_found"),
        case("traversal in a legal request id", M::GET, "/v1/legal/requests/..%2F..%2Fdata", "legal", b"", 404, "not_found"),
        case("traversal in a notice id", M::POST, "/v1/legal/notices/..%2Fx/sent", "clerk", b"{}", 404, "not_found"),
        case("an unknown hold", M::POST, "/v1/legal/holds/hold_ffffffffffffffff/approve", "officer", b"{}", 404, "not_found"),
        case("a policy version that is not a number", M::GET, "/v1/policies/versions/latest", "officer", b"", 400, "invalid_request"),
        case("an unknown route", M::GET, "/v1/secrets", "admin", b"", 404, "not_found"),
        case("a wrong method", M::PATCH, "/v1/facts", "system", b"{}", 405, "method_not_allowed"),
        case("audit limit beyond u64", M::GET, "/v1/audit?after=0&limit=99999999999999999999999", "officer", b"", 400, "invalid_request"),
        case("audit after negative", M::GET, "/v1/audit?after=-5", "officer", b"", 400, "invalid_request"),
    ];
    // Content types.
    for (name, ct) in [
        ("form content type", "application/x-www-form-urlencoded"),
        ("text content type", "text/plain"),
        ("XML content type", "application/xml"),
    ] {
        let mut c = case(
            name,
            M::POST,
            "/v1/enrollments",
            "clerk",
            &app(&|_| {}),
            400,
            "invalid_request",
        );
        c.content_type = Some(ct);
        cases.push(c);
    }
    let mut c = case(
        "no content type",
        M::POST,
        "/v1/facts",
        "system",
        b"{}",
        400,
        "invalid_request",
    );
    c.content_type = None;
    cases.push(c);
    cases.push(case(
        "a body over the limit",
        M::POST,
        "/v1/enrollments",
        "clerk",
        &vec![b' '; 40 * 1024 * 1024],
        413,
        "payload_too_large",
    ));

    let before = counts(&v);
    let tokens = |t: &str| -> Option<String> {
        match t {
            "none" => None,
            "admin" => Some(v.admin.clone()),
            "clerk" => Some(clerk.clone()),
            "legal" => Some(legal.clone()),
            "officer" => Some(officer.clone()),
            "system" => Some(system.clone()),
            "deleted" => Some(gone.clone()),
            other => Some(other.to_owned()),
        }
    };
    let mut n = 0;
    for c in &cases {
        let mut r = v.http.request(c.method.clone(), v.url(&c.path)).body(c.body.clone());
        if let Some(ct) = c.content_type {
            r = r.header("content-type", ct);
        }
        if let Some(t) = tokens(c.token) {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (c.status, Some(c.code)),
            "{}: {text}",
            c.name
        );
        // Messages never echo what was sent.
        for echo in [
            "Quinn Holder",
            "P-BAD-2",
            card.as_str(),
            "Ana\u{0}",
            "../admin",
            "home_address",
        ] {
            assert!(!text.contains(echo), "{} echoes {echo:?}: {text}", c.name);
        }
        n += 1;
    }

    // Below HTTP: header injection, oversized headers, garbage, a lying length.
    let a = v.addr;
    let raw_cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "CR LF in a header value",
            format!("GET /v1/audit HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {clerk}\rx-injected: 1\r\n\r\n")
                .into_bytes(),
            &[400],
        ),
        (
            "a header of 1 MiB",
            format!(
                "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
                "a".repeat(1 << 20)
            )
            .into_bytes(),
            &[431, 400, 0],
        ),
        (
            "ten thousand headers",
            format!(
                "GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n",
                "x-h: 1\r\n".repeat(10_000)
            )
            .into_bytes(),
            &[431, 400, 0],
        ),
        (
            "not HTTP at all",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
            &[400, 0],
        ),
        (
            "a request line of 100 KiB",
            format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(100 * 1024)).into_bytes(),
            &[414, 431, 400, 0],
        ),
        (
            "content-length and chunked together",
            b"POST /v1/facts HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            &[400, 401],
        ),
        (
            "a negative content-length",
            b"POST /v1/facts HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "two content-lengths",
            b"POST /v1/facts HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}".to_vec(),
            &[400],
        ),
    ];
    for (name, bytes, allowed) in raw_cases {
        let status = raw(a, &bytes).await;
        assert!(allowed.contains(&status), "{name}: got {status}");
        n += 1;
    }
    assert!(n >= 60, "{n} cases");

    // Nothing was written but audit entries, and the vault still serves.
    assert_eq!(counts(&v), before);
    let (s, _) = v.get("/healthz", &clerk).await;
    assert_eq!(s.as_u16(), 200);
    let auditor = v.auditor().await;
    let (_, verify) = v.get("/v1/audit/verify", &auditor).await;
    assert_eq!(verify["ok"], true);
    v.stop().await;
}
