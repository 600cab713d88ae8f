//! Separation of duties (issue 11, contract v1.1): privileged staff take two
//! admins, forbidden role pairs are refused, the bootstrap admin retires
//! once two other admins are active, and principal changes are audited with
//! kind, roles, issuer and approver — never a token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use common::{test_config, TestVault};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn governed() -> TestVault {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "idnyc");
    config.governance.second_approval = true;
    TestVault::start_in(dir, config).await
}

async fn issue(v: &TestVault, by: &str, id: &str, roles: &[&str]) -> (StatusCode, Value) {
    v.post(
        "/v1/principals",
        by,
        &json!({"id": id, "kind": "staff", "roles": roles}),
    )
    .await
}

async fn approve(v: &TestVault, by: &str, id: &str) -> (StatusCode, Value) {
    v.post(&format!("/v1/principals/{id}/approve"), by, &json!({})).await
}

/// Two admins issued by the bootstrap admin, active at once; the bootstrap
/// admin is retired after the second.
async fn two_admins(v: &TestVault) -> (String, String) {
    let (s, a) = issue(v, &v.admin, "admin-ana", &["admin"]).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["status"], "active");
    let (s, b) = issue(v, &v.admin, "admin-bo", &["admin"]).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "active");
    (
        a["token"].as_str().unwrap().to_owned(),
        b["token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privileged_principal_is_pending_and_refused_until_another_admin_approves() {
    let v = governed().await;
    let (ana, bo) = two_admins(&v).await;
    for roles in [&["privacy_officer"][..], &["legal"], &["admin"]] {
        let id = format!("new-{}", roles[0].replace('_', "-"));
        let (s, p) = issue(&v, &ana, &id, roles).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        assert_eq!(p["status"], "pending_approval");
        let token = p["token"].as_str().unwrap().to_owned();
        let (s, _) = v.get("/v1/policies", &token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{id} pending must not authenticate");
        // The issuer cannot approve its own principal.
        let (s, e) = approve(&v, &ana, &id).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        let (s, ok) = approve(&v, &bo, &id).await;
        assert_eq!(s, StatusCode::OK, "{ok}");
        assert_eq!(ok, json!({"id": id, "status": "active"}));
        let (s, _) = v.get("/v1/audit/verify", &token).await;
        assert_ne!(s, StatusCode::UNAUTHORIZED, "{id} approved must authenticate");
    }
    // Clerks and auditors are active at once.
    let (s, c) = issue(&v, &ana, "clerk-cy", &["clerk"]).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(c["status"], "active");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_forbidden_role_pair_is_refused_naming_roles() {
    let v = governed().await;
    let pairs = [
        ["legal", "privacy_officer"],
        ["admin", "clerk"],
        ["admin", "legal"],
        ["admin", "privacy_officer"],
    ];
    for (i, pair) in pairs.iter().enumerate() {
        let (s, e) = issue(&v, &v.admin, &format!("combo-{i}"), pair).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{pair:?}: {e}");
        assert_eq!(e["error"]["code"], "invalid_request");
        assert!(e["error"]["message"].as_str().unwrap().contains("`roles`"), "{e}");
    }
    // All five roles at once, as the insider tried.
    let (s, _) = issue(
        &v,
        &v.admin,
        "everything",
        &["clerk", "privacy_officer", "legal", "auditor", "admin"],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_admin_retires_once_two_other_admins_are_active() {
    let v = governed().await;
    let (s, _) = v.get("/v1/principals", &v.admin).await;
    assert_eq!(s, StatusCode::OK);
    let (ana, _bo) = two_admins(&v).await;
    let (s, _) = v.get("/v1/principals", &v.admin).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the bootstrap token is retired");
    let (s, list) = v.get("/v1/principals", &ana).await;
    assert_eq!(s, StatusCode::OK);
    let boot = list["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "admin")
        .unwrap();
    assert_eq!(boot["status"], "disabled");
    let entries = v.audit(&ana_auditor(&v, &ana).await).await;
    assert!(entries
        .iter()
        .any(|e| e["action"] == "retire_bootstrap_admin" && e["principal_change"]["change"] == "retire_bootstrap"));
    v.stop().await;
}

async fn ana_auditor(v: &TestVault, admin: &str) -> String {
    let (s, a) = issue(v, admin, "auditor-al", &["auditor"]).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    a["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_stops_the_old_token_at_once() {
    let v = governed().await;
    let (ana, _bo) = two_admins(&v).await;
    let (s, c) = issue(&v, &ana, "clerk-cy", &["clerk"]).await;
    assert_eq!(s, StatusCode::CREATED);
    let old = c["token"].as_str().unwrap().to_owned();
    let (s, r) = v.post("/v1/principals/clerk-cy/rotate", &ana, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["id"], "clerk-cy");
    let new = r["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let (s, _) = v.get("/v1/legal/notices", &old).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = v.get("/v1/legal/notices", &new).await;
    assert_eq!(s, StatusCode::OK);
    // A clerk cannot rotate anyone.
    let (s, _) = v.post("/v1/principals/admin-ana/rotate", &new, &json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_who_issued_and_approved_and_never_a_token() {
    let v = governed().await;
    let (ana, bo) = two_admins(&v).await;
    let (_, p) = issue(&v, &ana, "privacy-pat", &["privacy_officer"]).await;
    let token = p["token"].as_str().unwrap().to_owned();
    approve(&v, &bo, "privacy-pat").await;
    v.post(
        "/v1/principals",
        &ana,
        &json!({"id": "nypl-12", "kind": "system", "agency_kind": "city_partner", "purposes": ["library_services"]}),
    )
    .await;
    let auditor = ana_auditor(&v, &ana).await;
    let (s, list) = v.get("/v1/principals", &auditor).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let text = list.to_string();
    assert!(!text.contains(&token) && !text.contains("token"), "{text}");
    let all = list["principals"].as_array().unwrap();
    let pat = all.iter().find(|p| p["id"] == "privacy-pat").unwrap();
    assert_eq!(pat["kind"], "staff");
    assert_eq!(pat["roles"], json!(["privacy_officer"]));
    assert_eq!(pat["status"], "active");
    assert_eq!(pat["issued_by"], "admin-ana");
    assert_eq!(pat["approved_by"], "admin-bo");
    assert!(pat["created_at"].is_string());
    let sys = all.iter().find(|p| p["id"] == "nypl-12").unwrap();
    assert_eq!(sys["agency_kind"], "city_partner");
    assert_eq!(sys["purposes"], json!(["library_services"]));
    // A clerk may not list.
    let (_, c) = issue(&v, &ana, "clerk-cy", &["clerk"]).await;
    let (s, _) = v.get("/v1/principals", c["token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principal_changes_are_audited_with_roles_issuer_and_approver_and_no_token() {
    let v = governed().await;
    let (ana, bo) = two_admins(&v).await;
    let (_, p) = issue(&v, &ana, "legal-lee", &["legal"]).await;
    let token = p["token"].as_str().unwrap().to_owned();
    approve(&v, &bo, "legal-lee").await;
    let (_, r) = v.post("/v1/principals/legal-lee/rotate", &bo, &json!({})).await;
    let rotated = r["token"].as_str().unwrap().to_owned();
    let auditor = ana_auditor(&v, &ana).await;
    let entries = v.audit(&auditor).await;
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(&token) && !text.contains(&rotated));
    let change = |c: &str| {
        entries
            .iter()
            .find(|e| e["principal_change"]["change"] == c && e["principal_change"]["id"] == "legal-lee")
            .unwrap_or_else(|| panic!("no {c} entry"))["principal_change"]
            .clone()
    };
    let issued = change("issue");
    assert_eq!(issued["kind"], "staff");
    assert_eq!(issued["roles"], json!(["legal"]));
    assert_eq!(issued["issued_by"], "admin-ana");
    assert_eq!(issued["status"], "pending_approval");
    let approved = change("approve");
    assert_eq!(approved["approved_by"], "admin-bo");
    assert_eq!(approved["issued_by"], "admin-ana");
    assert_eq!(change("rotate")["roles"], json!(["legal"]));
    v.stop().await;
}

/// The insider of issue 11: one admin alone can no longer get a second
/// privacy officer active, nor approve its own legal hold through one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_admin_alone_cannot_raise_a_sock_puppet() {
    let v = governed().await;
    let (ana, _bo) = two_admins(&v).await;
    // Itself with every role: refused outright.
    let (s, _) = issue(
        &v,
        &ana,
        "ana-all",
        &["clerk", "privacy_officer", "legal", "auditor", "admin"],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A legal principal and a privacy officer: both pending, unusable.
    let (_, legal) = issue(&v, &ana, "ana-legal", &["legal"]).await;
    let (_, puppet) = issue(&v, &ana, "ana-privacy", &["privacy_officer"]).await;
    for p in [&legal, &puppet] {
        assert_eq!(p["status"], "pending_approval");
    }
    // Approving its own issues: refused by the floor.
    for id in ["ana-legal", "ana-privacy"] {
        let (s, e) = approve(&v, &ana, id).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    }
    // A puppet admin it issues is pending too, so it cannot approve either.
    let (_, puppet_admin) = issue(&v, &ana, "ana-admin-2", &["admin"]).await;
    assert_eq!(puppet_admin["status"], "pending_approval");
    let (s, _) = approve(&v, puppet_admin["token"].as_str().unwrap(), "ana-privacy").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // So the legal principal cannot even ask for a hold, let alone have it approved.
    let (s, _) = v
        .post(
            "/v1/legal/holds",
            legal["token"].as_str().unwrap(),
            &json!({"reference": "Case 24-CV-118", "card_number": "0000000000000"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    v.stop().await;
}
