//! Deeply nested Cedar cannot abort the vault: a policy text with a few
//! hundred `(` once overflowed the stack in Cedar's parser and killed the
//! process, leaving no audit entry. Every depth from 10 to 100,000 of every
//! nesting construct is now a clear answer, the vault stays up, and each
//! request is audited.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a test tells one story from start to end and fails loudly"
)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// An expression nesting `construct` `n` times.
fn nested(construct: &str, n: usize) -> String {
    match construct {
        "(" => format!("{}true{}", "(".repeat(n), ")".repeat(n)),
        "[" => format!("{}true{}.contains(true)", "[".repeat(n), "]".repeat(n)),
        "{" => format!("{}true{} == {{}}", "{a: ".repeat(n), "}".repeat(n)),
        "if" => format!("{}true{}", "if true then ".repeat(n), " else false".repeat(n)),
        "!" => format!("{}true", "!".repeat(n)),
        "-" => format!("{}1 == 1", "-".repeat(n)),
        "." => format!("context{} == 1", ".a".repeat(n)),
        "has" => format!("context{}", " has a".repeat(n)),
        "like" => format!("context.x{}", " like \"a*\"".repeat(n)),
        _ => unreachable!(),
    }
}

const CONSTRUCTS: [&str; 9] = ["(", "[", "{", "if", "!", "-", ".", "has", "like"];
const DEPTHS: [usize; 6] = [10, 100, 160, 1_000, 10_000, 100_000];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_depth_of_any_construct_aborts_the_vault() {
    let v = TestVault::start("idnyc").await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let auditor = v.auditor().await;
    let (mut checks, mut puts) = (0, 0);
    for construct in CONSTRUCTS {
        for depth in DEPTHS {
            let text = format!(
                "@id(\"deep\")\npermit(principal, action, resource) when {{ {} }};\n",
                nested(construct, depth)
            );
            let (s, r) = v.post("/v1/policies/check", &officer, &json!({"policies": text})).await;
            checks += 1;
            match s {
                StatusCode::OK => {
                    assert_eq!(
                        r["valid"], false,
                        "{construct} x{depth}: a lone permit fails the policy tests"
                    );
                    assert!(
                        !r["errors"].as_array().unwrap().is_empty() || depth == 10,
                        "{construct} x{depth}"
                    );
                    if depth >= 10_000 || (depth >= 100 && ["(", "[", "{", "if"].contains(&construct)) {
                        // Named by the nesting bound, or by Cedar's own limit (`!`, `-`).
                        let errors = r["errors"].to_string();
                        assert!(
                            ["nest", "operators", "`if`", "too many occurrences"]
                                .iter()
                                .any(|w| errors.contains(w)),
                            "{construct} x{depth}: the report names the nesting: {errors:.300}"
                        );
                    }
                }
                StatusCode::PAYLOAD_TOO_LARGE => assert_eq!(r["error"]["code"], "payload_too_large"),
                other => panic!("{construct} x{depth}: check answered {other}: {r:.300}"),
            }
            if depth >= 160 {
                let (s, r) = v
                    .call(
                        Method::PUT,
                        "/v1/policies",
                        Some(&officer),
                        Some(&json!({"policies": text, "comment": "deep", "expected_version": 1})),
                    )
                    .await;
                puts += 1;
                assert!(
                    (s == StatusCode::UNPROCESSABLE_ENTITY && r["error"]["code"] == "policy_rejected")
                        || s == StatusCode::PAYLOAD_TOO_LARGE,
                    "{construct} x{depth}: PUT answered {s}: {r:.300}"
                );
            }
        }
    }
    // Alive, and still on version 1.
    assert!(healthy(v.addr.port()));
    let (s, current) = v.get("/v1/policies", &officer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(current["version"], 1);

    let audit = v.audit(&auditor).await;
    let count = |action: &str| audit.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("check_policies"), checks, "every check is audited");
    assert_eq!(count("update_policies"), puts, "every PUT is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_just_inside_the_bound_is_parsed_validated_and_proved() {
    let v = TestVault::start("idnyc").await;
    let officer = v.staff("privacy-1", &["privacy_officer"]).await;
    let (_, current) = v.get("/v1/policies", &officer).await;
    let shipped = current["policies"].as_str().unwrap();
    // The shipped set plus one forbid nested to the limit: valid, and the proof runs over it.
    let deep = format!(
        "{shipped}\n@id(\"deep_forbid\")\nforbid(principal, action, resource) when {{ {} && ({}) && context has a{} }};\n",
        nested("(", 60),
        nested("if", 12),
        " && context has a".repeat(400)
    );
    let (s, r) = v.post("/v1/policies/check", &officer, &json!({"policies": deep})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["valid"], true, "{:.500}", r["errors"]);
    assert_eq!(r["proof"]["status"], "proved", "{:.500}", r["proof"]);
    assert!(healthy(v.addr.port()));
}
