//! `POST /v1/legal/requests` with `access_log`: the fact mode's setup
//! (`BENCH_CARDS` cardholders, each asked about once, so every card has its
//! enrollment entry and its fact query's entry in the chain), a legal officer,
//! then wrk posts court orders for `access_log` about random cards over
//! `BENCH_CONNECTIONS` connections (default 8). Each answer reads the card's
//! entries from the audit index, opens them into the package, records the
//! request (a write, durable before the answer) and its audit entry. One
//! answer is checked afterwards to hold the card's own entries.

use serde_json::json;

use super::{header, lua_script, lua_strings, support, wrk, Ledger, Vault, VaultSettings};

pub fn run() -> super::Measured {
    let cards: usize = support::env_or("BENCH_CARDS", 10_000);
    let seconds: u64 = support::env_or("BENCH_SECONDS", 10);
    let connections: usize = support::env_or("BENCH_CONNECTIONS", 8);
    header("civic-vault legal requests (access_log)", connections, seconds);
    let vault = Vault::start(
        VaultSettings {
            cheap_commitments: true,
            // The legal officer is a privileged principal: without a second
            // admin to approve it, the benchmark issues it with one.
            one_admin: true,
        },
        &[],
    );
    let rt = support::runtime();
    let s = rt.block_on(super::facts::setup(&vault, cards));
    let legal = rt.block_on(vault.issue(json!({"id": "legal", "kind": "staff", "roles": ["legal"]})));
    let body = |card: &str, reference: &str| {
        json!({
            "reference": reference,
            "requester": {"name": "Bench", "agency_kind": "state_agency"},
            "process": "court_order", "signed_by_judge": true,
            "subject": {"card_number": card}, "items": ["access_log"],
            "notice_prohibited_by_court": true,
        })
    };
    let mut lua = lua_strings("cards", s.numbers.iter().cloned());
    let template = body("CARD", "Bench").to_string();
    let (before, after) = template.split_once("CARD").unwrap();
    lua.push_str(&format!(
        r#"local before = {before:?}
local after = {after:?}
local token = {legal:?}
math.randomseed(os.time())
request = function()
  local card = cards[math.random(#cards)]
  return wrk.format("POST", nil, {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}}, before .. card .. after)
end
"#
    ));
    let lua = lua_script(vault.dir.path(), "legal.lua", &lua);
    let ledger = rt.block_on(Ledger::open(&vault, &s.auditor));
    let mut run = wrk(
        &format!("{}/v1/legal/requests", vault.base),
        &lua,
        vault.pid(),
        connections,
        seconds,
    );
    println!("{}", run.line("vault POST /v1/legal/requests"));
    rt.block_on(ledger.close(&vault, &s.auditor, &mut run));
    // One answer, checked: the card's own entries are in its access log.
    let answer = rt.block_on(support::call(
        &reqwest::Client::new(),
        reqwest::Method::POST,
        format!("{}/v1/legal/requests", vault.base),
        &legal,
        Some(&body(&s.numbers[0], "Bench check")),
    ));
    let log = answer["package"]["access_log"].as_array().map_or(0, Vec::len);
    assert!(log >= 2, "the card's enrollment and fact query entries: {answer}");
    println!("  checked: one answer's access log holds the card's {log} entries");
    vault.stop();
    run
}
