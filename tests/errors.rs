//! Bad input and bad callers get the contract's errors: nothing written,
//! nothing echoed, no panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Sends headers declaring `length` bytes of JSON but only a little of it,
/// then reads the answer: what a client streaming a huge body sees first.
async fn declared_length(v: &TestVault, token: &str, length: usize) -> (StatusCode, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(v.addr).await.unwrap();
    let head = format!(
        "POST /v1/enrollments HTTP/1.1\r\nhost: vault\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{{\"applicant\": "
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let json = body.find('{').map_or(Value::Null, |i| {
        serde_json::from_str(body[i..].trim_end_matches(|c| c != '}')).unwrap_or(Value::Null)
    });
    (StatusCode::from_u16(status).unwrap(), json)
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("(none)")
}

async fn raw(v: &TestVault, token: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = v
        .http
        .post(v.url("/v1/enrollments"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_enrollments_are_400_naming_the_field_and_write_nothing() {
    let v = TestVault::start("idnyc").await;
    let clerk = v.clerk().await;
    let good = application(
        "Zebulon Quartermaine",
        vec![proof("foreign_passport", "MEX", "G-1"), proof("lease", "L", "L-1")],
    );

    let (s, b) = raw(&v, &clerk, "application/json", b"{\"applicant\": ".to_vec()).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_request"));

    let (s, b) = raw(&v, &clerk, "text/plain", serde_json::to_vec(&good).unwrap()).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_request"));

    let mut unknown = good.clone();
    unknown["applicant"]["nationality"] = json!("MEX");
    let (s, b) = v.post("/v1/enrollments", &clerk, &unknown).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("applicant.nationality"),
        "{b}"
    );

    let mut missing = good.clone();
    missing["applicant"].as_object_mut().unwrap().remove("date_of_birth");
    let (s, b) = v.post("/v1/enrollments", &clerk, &missing).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"]["message"].as_str().unwrap().contains("date_of_birth"), "{b}");

    let mut wrong_type = good.clone();
    wrong_type["applicant"]["full_name"] = json!(["Zebulon", "Quartermaine"]);
    let (s, b) = v.post("/v1/enrollments", &clerk, &wrong_type).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("applicant.full_name") && !msg.contains("Quartermaine"),
        "{b}"
    );

    let mut bad_date = good.clone();
    bad_date["applicant"]["date_of_birth"] = json!("12/04/1990");
    let (s, b) = v.post("/v1/enrollments", &clerk, &bad_date).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(!b.to_string().contains("12/04/1990"));

    let mut bad_b64 = good.clone();
    bad_b64["photo"]["data"] = json!("***not base64***");
    let (s, b) = v.post("/v1/enrollments", &clerk, &bad_b64).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"]["message"].as_str().unwrap().contains("photo.data"), "{b}");

    let mut not_image = good.clone();
    not_image["photo"]["data"] = json!(b64(b"GIF89a pretending"));
    let (s, b) = v.post("/v1/enrollments", &clerk, &not_image).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_request"));

    let mut lying = good.clone();
    lying["photo"]["content_type"] = json!("image/jpeg");
    let (s, _) = v.post("/v1/enrollments", &clerk, &lying).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let mut unknown_doc = good.clone();
    unknown_doc["proofs"][0]["document_type"] = json!("library_card");
    let (s, b) = v.post("/v1/enrollments", &clerk, &unknown_doc).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("proofs[0].document_type"),
        "{b}"
    );

    let mut big_photo = good.clone();
    let mut bytes = PNG.to_vec();
    bytes.resize(5 * 1024 * 1024 + 1, 0);
    big_photo["photo"]["data"] = json!(b64(&bytes));
    let (s, b) = v.post("/v1/enrollments", &clerk, &big_photo).await;
    assert_eq!((s, code(&b)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));

    // A declared 17 MiB body is refused from its headers, before it is read.
    let (s, b) = declared_length(&v, &clerk, 17 * 1024 * 1024).await;
    assert_eq!((s, code(&b)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));

    // Other routes take at most 64 KiB.
    let admin = v.admin.clone();
    let resp = v
        .http
        .post(v.url("/v1/principals"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(vec![b' '; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // None of it wrote a card: the good application still enrolls, once.
    let (s, b) = v.post("/v1/enrollments", &clerk, &good).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let dir = v.stop().await;
    assert!(dir_contains(&dir.path().join("data"), b"Quartermaine").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_no_token_unknown_token_deleted_principal() {
    let v = TestVault::start("idnyc").await;
    let app = application(
        "A",
        vec![proof("foreign_passport", "MEX", "G-1"), proof("lease", "L", "L-1")],
    );
    let (s, b) = v.call(Method::POST, "/v1/enrollments", None, Some(&app)).await;
    assert_eq!((s, code(&b)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (s, _) = v
        .post(
            "/v1/enrollments",
            "cv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &app,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = v.post("/v1/enrollments", "garbage", &app).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let clerk = v.clerk().await;
    assert!(
        clerk.starts_with("cv_") && clerk.len() >= 46,
        "tokens carry at least 256 bits"
    );
    let (s, _) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = v
        .call(Method::DELETE, "/v1/principals/clerk-ana", Some(&v.admin.clone()), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = v.post("/v1/enrollments", &clerk, &app).await;
    assert_eq!((s, code(&b)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (s, _) = v
        .call(Method::DELETE, "/v1/principals/clerk-ana", Some(&v.admin.clone()), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_are_checked() {
    let v = TestVault::start("idnyc").await;
    let admin = v.admin.clone();
    for (body, expect) in [
        (
            json!({"id": "x", "kind": "system", "agency_kind": "city_partner", "purposes": ["gossip"]}),
            "unknown_purpose",
        ),
        (
            json!({"id": "x", "kind": "system", "purposes": ["library_services"]}),
            "invalid_request",
        ),
        (json!({"id": "x", "kind": "staff", "roles": []}), "invalid_request"),
        (
            json!({"id": "x", "kind": "staff", "roles": ["janitor"]}),
            "invalid_request",
        ),
        (
            json!({"id": "../etc", "kind": "staff", "roles": ["clerk"]}),
            "invalid_request",
        ),
        (
            json!({"id": "x", "kind": "robot", "roles": ["clerk"]}),
            "invalid_request",
        ),
    ] {
        let (s, b) = v.post("/v1/principals", &admin, &body).await;
        assert_eq!(code(&b), expect, "{body} -> {b}");
        assert_eq!(s.as_u16(), 400);
    }
    let clerk = v.clerk().await;
    let (s, b) = v
        .post(
            "/v1/principals",
            &admin,
            &json!({"id": "clerk-ana", "kind": "staff", "roles": ["clerk"]}),
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "principal_exists"));
    // A clerk cannot issue principals.
    let (s, b) = v
        .post(
            "/v1/principals",
            &clerk,
            &json!({"id": "mine", "kind": "staff", "roles": ["admin"]}),
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden_by_policy"));
    v.stop().await;
}
