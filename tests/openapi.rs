//! The OpenAPI document: public, unaudited, 3.1, and it names every
//! operation the router serves with the request types the handlers read.
//! (`.ci/schemathesis` drives a live vault from it.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use std::collections::BTreeSet;

use common::TestVault;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/attestation-keys"),
    ("get", "/v1/unseal"),
    ("post", "/v1/unseal"),
    ("post", "/v1/principals"),
    ("delete", "/v1/principals/{id}"),
    ("post", "/v1/principals/{id}/approve"),
    ("post", "/v1/principals/{id}/rotate"),
    ("get", "/v1/principals"),
    ("post", "/v1/enrollments"),
    ("get", "/v1/cardholders/{card}/photo"),
    ("post", "/v1/cardholders/{card}/revoke"),
    ("delete", "/v1/cardholders/{card}"),
    ("post", "/v1/facts"),
    ("post", "/v1/legal/holds"),
    ("get", "/v1/legal/holds"),
    ("post", "/v1/legal/holds/{id}/approve"),
    ("post", "/v1/legal/holds/{id}/release"),
    ("post", "/v1/legal/requests"),
    ("get", "/v1/legal/requests/{id}"),
    ("get", "/v1/legal/notices"),
    ("post", "/v1/legal/notices/{id}/sent"),
    ("get", "/v1/policies"),
    ("put", "/v1/policies"),
    ("post", "/v1/policies/check"),
    ("get", "/v1/policies/versions"),
    ("get", "/v1/policies/versions/{version}"),
    ("post", "/v1/policies/rollback"),
    ("get", "/v1/retention"),
    ("post", "/v1/retention/sweep"),
    ("get", "/v1/audit"),
    ("get", "/v1/audit/verify"),
    ("get", "/metrics"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_public_unaudited_and_names_every_operation() {
    let v = TestVault::start("idnyc").await;
    let auditor = v.auditor().await;
    let before = v.audit(&auditor).await.len();
    let resp = v.http.get(v.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.unwrap();
    // Fetching it wrote nothing (the listing itself adds one entry).
    assert_eq!(v.audit(&auditor).await.len(), before + 1);

    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let served: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, served);

    // Every documented operation is routed: none answers 404 or 405 for
    // its documented method (ids are made up, so a 404 can only come from
    // a handler, which says `not_found` after authorization).
    for (method, path) in OPERATIONS {
        let concrete = path
            .replace("{id}", "nope")
            .replace("{card}", "AAAA-AAAA-AAAA-AAAA")
            .replace("{version}", "1");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (s, _) = v.call(m, &concrete, None, None).await;
        assert!(
            s != StatusCode::METHOD_NOT_ALLOWED && (s != StatusCode::NOT_FOUND || path.contains('{')),
            "{method} {path}: {s}"
        );
    }

    // Request bodies are the handlers' own types; authenticated operations
    // name the bearer scheme; errors have one shape.
    let body_ref = |method: &str, path: &str| {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(
        body_ref("post", "/v1/enrollments").as_deref(),
        Some("#/components/schemas/EnrollmentRequest")
    );
    assert_eq!(
        body_ref("post", "/v1/facts").as_deref(),
        Some("#/components/schemas/FactRequest")
    );
    assert_eq!(
        body_ref("post", "/v1/legal/requests").as_deref(),
        Some("#/components/schemas/LegalRequest")
    );
    let schemas = &doc["components"]["schemas"];
    let required = |name: &str| -> BTreeSet<String> {
        schemas[name]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        required("FactRequest"),
        ["card_number", "facts", "purpose"].map(String::from).into()
    );
    assert_eq!(
        required("EnrollmentRequest"),
        ["applicant", "photo", "proofs"].map(String::from).into()
    );
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["paths"]["/v1/facts"]["post"]["security"].is_array());
    assert!(doc["paths"]["/healthz"]["get"]["security"].is_null());
    assert_eq!(
        doc["paths"]["/v1/facts"]["post"]["responses"]["403"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    v.stop().await;
}
