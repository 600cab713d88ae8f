//! `POST /v1/enrollments` at the shipped memory-hard commitment cost (the
//! embedded default: Argon2id, 32 MiB, 2 passes per document commitment):
//! a vault on its embedded defaults (rate limits off), a clerk, then wrk
//! posts enrollments over `BENCH_CONNECTIONS` connections (default 8), each
//! with a passport number never used before (so none is a duplicate) and a
//! lease, a photo and an applicant. Each answer is the card number, after the
//! record, the photo, the commitments and the audit entry are durable.

use serde_json::json;

use super::{header, lua_script, support, wrk, Ledger, Vault, VaultSettings};

pub fn run() -> super::Measured {
    let seconds: u64 = support::env_or("BENCH_SECONDS", 10);
    let connections: usize = support::env_or("BENCH_CONNECTIONS", 8);
    header(
        "civic-vault enrollments (shipped commitment cost)",
        connections,
        seconds,
    );
    let vault = Vault::start(
        VaultSettings {
            cheap_commitments: false,
            one_admin: false,
        },
        &[],
    );
    let rt = support::runtime();
    let clerk = rt.block_on(vault.issue(json!({"id": "clerk", "kind": "staff", "roles": ["clerk"]})));
    let auditor = rt.block_on(vault.issue(json!({"id": "auditor", "kind": "staff", "roles": ["auditor"]})));
    let photo = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, support::PNG);
    let template = json!({
        "applicant": {"full_name": "Bench Applicant", "date_of_birth": "1984-03-17", "address": {"kind": "none"}},
        "photo": {"content_type": "image/png", "data": photo},
        "proofs": [{"document_type": "foreign_passport", "issuer": "MEX", "number": "NUMBER"},
                   {"document_type": "lease", "issuer": "L", "number": "L-1"}]})
    .to_string();
    let (before, after) = template.split_once("NUMBER").unwrap();
    // Each wrk thread numbers its own passports: E<thread>-<n>.
    let lua = format!(
        r#"local before = {before:?}
local after = {after:?}
local token = {clerk:?}
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  local body = before .. string.format("E%d-%d", tid, n) .. after
  return wrk.format("POST", nil, {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}}, body)
end
"#
    );
    let lua = lua_script(vault.dir.path(), "enroll.lua", &lua);
    let ledger = rt.block_on(Ledger::open(&vault, &auditor));
    let mut run = wrk(
        &format!("{}/v1/enrollments", vault.base),
        &lua,
        vault.pid(),
        connections,
        seconds,
    );
    println!("{}", run.line("vault POST /v1/enrollments"));
    rt.block_on(ledger.close(&vault, &auditor, &mut run));
    vault.stop();
    run
}
