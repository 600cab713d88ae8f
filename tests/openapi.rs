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
    ("get", "/readyz"),
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
    ("get", "/v1/cardholders/{card}/print"),
    ("post", "/v1/cardholders/{card}/revoke"),
    ("delete", "/v1/cardholders/{card}"),
    ("post", "/v1/facts"),
    ("post", "/v1/legal/holds"),
    ("get", "/v1/legal/holds"),
    ("post", "/v1/legal/holds/{id}/approve"),
    ("post", "/v1/legal/holds/{id}/release"),
    ("post", "/v1/legal/requests"),
    ("get", "/v1/legal/requests"),
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
    ("post", "/v1/keys/attestation/rotate"),
    ("get", "/v1/audit"),
    ("get", "/v1/audit/verify"),
    ("get", "/v1/audit/checkpoint"),
    ("get", "/v1/audit/tile/{path}"),
    ("get", "/v1/audit/proof/inclusion"),
    ("get", "/v1/audit/proof/consistency"),
    ("get", "/metrics"),
    ("get", "/v1/status"),
    ("get", "/v1/cardholders/{card}"),
    ("post", "/v1/cardholders/{card}/renew"),
    ("post", "/v1/cardholders/{card}/replace"),
    ("post", "/v1/cardholders/{card}/update"),
    ("post", "/v1/cardholders/{card}/printed"),
    ("post", "/v1/cardholders/{card}/picked-up"),
    ("post", "/v1/cardholders/{card}/access-report"),
    ("post", "/v1/cardholders/{card}/credential-offer"),
    ("get", "/v1/print-queue"),
    ("get", "/v1/reports/quarterly"),
    ("post", "/v1/honey-cards"),
    ("get", "/v1/honey-cards/alerts"),
    ("get", "/.well-known/openid-credential-issuer"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("get", "/.well-known/jwt-vc-issuer"),
    ("post", "/oid4vci/token"),
    ("post", "/oid4vci/par"),
    ("post", "/oid4vci/nonce"),
    ("post", "/oid4vci/credential"),
    ("get", "/v1/status-lists/{n}"),
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
            .replace("{version}", "1")
            .replace("{n}", "0");
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

/// No success answer is documented as "any object": every 2xx JSON body
/// has a schema that names its fields (the handlers' own response types),
/// and every 2xx answer other than 204 documents its content, so the
/// document cannot regress to free-form bodies.
#[test]
fn no_success_body_is_a_free_form_object() {
    let doc: Value = serde_json::from_str(civic_vault::http::openapi::document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let mut checked = 0;
    let mut free_form = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                let content = response["content"].as_object();
                if status == "204" {
                    assert!(content.is_none(), "{method} {path} {status} has content");
                    continue;
                }
                let content = content.unwrap_or_else(|| panic!("{method} {path} {status}: no content documented"));
                for (media, body) in content {
                    // The photo's bytes have no schema; everything else has one.
                    if media.starts_with("image/") {
                        continue;
                    }
                    let schema = &body["schema"];
                    assert!(!schema.is_null(), "{method} {path} {status} {media}: no schema");
                    checked += 1;
                    if is_free_form(schema, schemas) {
                        free_form.push(format!("{method} {path} {status} {media}"));
                    }
                }
            }
        }
    }
    assert!(checked >= OPERATIONS.len() - 2, "only {checked} bodies checked");
    assert!(free_form.is_empty(), "free-form success bodies: {free_form:#?}");

    // Every schema a body names is in the document.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for r in refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(!schemas[name].is_null(), "dangling $ref {r}");
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v.as_str()) {
                    ("$ref", Some(r)) => out.push(r.to_owned()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Whether `schema` (after `$ref`s) says no more than "an object" or "any
/// value": no properties, no typed map or array, no enum, and no
/// composition with a part that says more.
fn is_free_form(schema: &Value, schemas: &Value) -> bool {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        assert!(!schemas[name].is_null(), "dangling $ref {name}");
        return is_free_form(&schemas[name], schemas);
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = schema[combinator].as_array() {
            return parts.iter().all(|p| is_free_form(p, schemas));
        }
    }
    let says_more = ["properties", "items", "enum", "const"]
        .iter()
        .any(|k| schema.get(*k).is_some())
        || schema["additionalProperties"]
            .as_object()
            .is_some_and(|a| !a.is_empty());
    let object_or_anything = match &schema["type"] {
        Value::Null => true,
        Value::String(t) => t == "object",
        Value::Array(ts) => ts.iter().any(|t| t == "object"),
        _ => false,
    };
    object_or_anything && !says_more
}
