//! Operator commands that act on a running vault through its API:
//! `policy diff|apply|history|rollback|export`. Each returns the process
//! exit code: 0 done, 1 refused (the report or error is printed), 2 the
//! command could not run.

use std::path::Path;

use reqwest::Method;
use serde_json::json;

use crate::domain::policy_version::unified_diff;
use crate::ops::client::{CallError, Client};

pub const OK: u8 = 0;
pub const REFUSED: u8 = 1;

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {}", path.display(), e.kind()))
}

/// A refusal prints the vault's error body (a rejected change carries its
/// whole check report) and is exit code 1; no answer at all is an error.
fn refused(e: CallError) -> Result<u8, String> {
    if e.status == 0 {
        return Err(e.message);
    }
    eprintln!("refused: {}", e.message);
    println!("{}", serde_json::to_string_pretty(&e.body).unwrap_or_default());
    Ok(REFUSED)
}

async fn version_text(client: &Client, version: Option<u64>) -> Result<(u64, String), CallError> {
    let body = match version {
        Some(v) => client.get(&format!("/v1/policies/versions/{v}")).await?,
        None => client.get("/v1/policies").await?,
    };
    Ok((
        body["version"].as_u64().unwrap_or(0),
        body["policies"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// `policy diff`: a file (or version `to`) against the active set (or version `from`).
///
/// # Errors
/// The file cannot be read or the vault cannot be reached.
pub async fn diff(client: &Client, file: Option<&Path>, from: Option<u64>, to: Option<u64>) -> Result<u8, String> {
    let (from_v, old) = match version_text(client, from).await {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let (label, new) = match (file, to) {
        (Some(f), _) => (f.display().to_string(), read(f)?),
        (None, Some(v)) => match version_text(client, Some(v)).await {
            Ok((v, text)) => (format!("version {v}"), text),
            Err(e) => return refused(e),
        },
        (None, None) => return Err("give --file FILE or --to VERSION".into()),
    };
    print!("{}", unified_diff(&old, &new, &format!("version {from_v}"), &label));
    Ok(OK)
}

async fn current_version(client: &Client, expected: Option<u64>) -> Result<u64, CallError> {
    match expected {
        Some(v) => Ok(v),
        None => Ok(client.get("/v1/policies").await?["version"].as_u64().unwrap_or(0)),
    }
}

/// `policy apply`: check and activate a file as the next version.
///
/// # Errors
/// The file cannot be read or the vault cannot be reached.
pub async fn apply(client: &Client, file: &Path, comment: &str, expected: Option<u64>) -> Result<u8, String> {
    let text = read(file)?;
    let expected = match current_version(client, expected).await {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let body = json!({"policies": text, "comment": comment, "expected_version": expected});
    match client.call(Method::PUT, "/v1/policies", Some(&body)).await {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(OK)
        }
        Err(e) => refused(e),
    }
}

/// `policy rollback`: an earlier version's text, activated as a new version.
///
/// # Errors
/// The vault cannot be reached.
pub async fn rollback(client: &Client, to: u64, comment: &str, expected: Option<u64>) -> Result<u8, String> {
    let expected = match current_version(client, expected).await {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let body = json!({"to_version": to, "expected_version": expected, "comment": comment});
    match client.call(Method::POST, "/v1/policies/rollback", Some(&body)).await {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(OK)
        }
        Err(e) => refused(e),
    }
}

/// `policy history`: one line per version, newest last.
///
/// # Errors
/// The vault cannot be reached.
pub async fn history(client: &Client) -> Result<u8, String> {
    let body = match client.get("/v1/policies/versions").await {
        Ok(b) => b,
        Err(e) => return refused(e),
    };
    let rows = body["versions"].as_array().cloned().unwrap_or_default();
    for r in rows {
        println!(
            "{:>4}  {}  {}  {}  {}",
            r["version"].as_u64().unwrap_or(0),
            r["when"].as_str().unwrap_or("-"),
            r["digest"].as_str().unwrap_or("-"),
            r["who"].as_str().unwrap_or("-"),
            r["comment"].as_str().unwrap_or("")
        );
    }
    Ok(OK)
}

/// `policy export`: the active (or a given) version written back as files a
/// policies directory can hold: editable.cedar, floor.cedar, schema.cedarschema.
///
/// # Errors
/// The vault cannot be reached or a file cannot be written.
pub async fn export(client: &Client, out: &Path, version: Option<u64>) -> Result<u8, String> {
    let active = match client.get("/v1/policies").await {
        Ok(b) => b,
        Err(e) => return refused(e),
    };
    let (number, editable) = match version {
        None => (
            active["version"].as_u64().unwrap_or(0),
            active["policies"].as_str().unwrap_or_default().to_owned(),
        ),
        Some(v) => match version_text(client, Some(v)).await {
            Ok(x) => x,
            Err(e) => return refused(e),
        },
    };
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {}", out.display(), e.kind()))?;
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {}", path.display(), e.kind()))
    };
    write("editable.cedar", &editable)?;
    write("floor.cedar", active["floor"].as_str().unwrap_or_default())?;
    if let Some(schema) = active["schema"].as_str() {
        write("schema.cedarschema", schema)?;
    }
    println!("exported version {number} to {}", out.display());
    Ok(OK)
}

/// `legal respond`: posts a legal request file to the running vault, prints
/// the JSON answer and writes the response letter where asked.
///
/// # Errors
/// The file cannot be read or written, or the vault cannot be reached.
pub async fn legal_respond(client: &Client, request: &Path, letter: Option<&Path>) -> Result<u8, String> {
    let text = read(request)?;
    let body: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", request.display()))?;
    match client.call(Method::POST, "/v1/legal/requests", Some(&body)).await {
        Ok(answer) => {
            if let Some(path) = letter {
                let text = answer["letter"].as_str().unwrap_or_default();
                std::fs::write(path, text).map_err(|e| format!("{}: {}", path.display(), e.kind()))?;
            }
            println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
            Ok(OK)
        }
        Err(e) => refused(e),
    }
}

/// `report quarterly`: the quarter's counts, as the vault answers them (JSON).
///
/// # Errors
/// The answer cannot be printed.
pub async fn quarterly_report(client: &Client, year: i32, quarter: u8) -> Result<u8, String> {
    match client
        .get(&format!("/v1/reports/quarterly?year={year}&quarter={quarter}"))
        .await
    {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
            Ok(OK)
        }
        Err(e) => refused(e),
    }
}

/// `counter queue`: the cards waiting to be printed or picked up, one a line.
///
/// # Errors
/// Never; a refusal is printed and answered with its exit code.
pub async fn print_queue(client: &Client) -> Result<u8, String> {
    let body = match client.get("/v1/print-queue").await {
        Ok(b) => b,
        Err(e) => return refused(e),
    };
    for c in body["cards"].as_array().cloned().unwrap_or_default() {
        println!(
            "{}  {:<10}  {:<6}  {}{}",
            c["card_number"].as_str().unwrap_or("-"),
            c["state"].as_str().unwrap_or("-"),
            c["delivery"].as_str().unwrap_or("-"),
            c["full_name"].as_str().unwrap_or("-"),
            if c["flagged"] == true {
                "  (waiting too long)"
            } else {
                ""
            }
        );
    }
    Ok(OK)
}

/// `civic-vault console invite`: issues staff principal `id` with `roles`
/// as the caller (the bootstrap admin, with keys/admin.token) and prints
/// its one-time console registration link at `origin`. The issuance is the
/// API's own: the same approval rules, audited.
///
/// # Errors
/// The vault could not be reached.
pub async fn console_invite(client: &Client, id: &str, roles: &[String], origin: &str) -> Result<u8, String> {
    let body = json!({"id": id, "kind": "staff", "roles": roles});
    let issued = match client.call(Method::POST, "/v1/principals", Some(&body)).await {
        Ok(b) => b,
        Err(e) if e.status == 401 => {
            eprintln!(
                "refused: the bootstrap admin token was not accepted (it is disabled once two other admins are active, and a sealed vault's token is the one `keys seal` printed); an admin issues new staff in the console (Principals)"
            );
            return Ok(REFUSED);
        }
        Err(e) => return refused(e),
    };
    let Some(link) = issued["registration_url"].as_str() else {
        return Err("the vault answered without a registration link".into());
    };
    // The vault's own word for its console origin (the credential issuer
    // is that origin), over the configuration's guess.
    let origin = match client.get("/.well-known/openid-credential-issuer").await {
        Ok(m) => m["credential_issuer"].as_str().unwrap_or(origin).to_owned(),
        Err(_) => origin.to_owned(),
    };
    println!("{origin}{link}");
    eprintln!(
        "A one-time link for {id} ({}): open it in a browser at {origin} within 24 hours and register a passkey; it works once.",
        roles.join(", ")
    );
    if issued["status"] == "pending_approval" {
        eprintln!("{id} waits for a second admin's approval (console: Principals); the link works once approved.");
    }
    if let Some(notice) = issued["notice"].as_str() {
        eprintln!("Note: {notice}.");
    }
    Ok(OK)
}

/// `civic-vault keys rotate-attestation`: a new attestation key signs from
/// now on; prints the vault's answer (the new and the retired key ids, and
/// until when the retired one stays published).
///
/// # Errors
/// No answer from the vault.
pub async fn rotate_attestation(client: &Client) -> Result<u8, String> {
    match client.call(Method::POST, "/v1/keys/attestation/rotate", None).await {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
            Ok(OK)
        }
        Err(e) => refused(e),
    }
}

/// `civic-vault keys rotate-kek`: a sweep that replaces the KEK now (new
/// KEK, live data keys rewrapped, the old KEK destroyed and certified).
/// Prints the sweep report; exit 1 when the vault refused or the old KEK
/// could not be destroyed yet (the report says why).
///
/// # Errors
/// No answer from the vault.
pub async fn rotate_kek(client: &Client) -> Result<u8, String> {
    let body = json!({"rotate_kek": true});
    let report = match client.call(Method::POST, "/v1/retention/sweep", Some(&body)).await {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    let kek_destroyed = report["destroyed"]
        .as_array()
        .is_some_and(|d| d.iter().any(|c| c["data_class"] == "key_encryption_key"));
    if kek_destroyed {
        eprintln!("the KEK is replaced and the old one destroyed: take a fresh backup (older ones open no record now)");
        Ok(OK)
    } else {
        eprintln!("the old KEK is not destroyed yet: see the report's skipped and errors");
        Ok(REFUSED)
    }
}
