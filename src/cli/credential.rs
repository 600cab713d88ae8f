//! `civic-vault credential verify`: checks a presented holder-held
//! credential offline, as a city system would, with the issuer's JWKS and
//! the status list in files (fetched and cached however the system likes).
//! It never calls the vault. `civic-vault credential issuer-key`: the
//! ES256 issuer key of that JWKS as a PEM public key, for a city CA.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(super) enum CredentialCommand {
    /// Verify a presentation (`<sd-jwt>~<disclosures>~<kb-jwt>`, from the
    /// file or standard input): issuer signature, disclosures, key binding
    /// (audience, nonce, freshness) and status. Prints the disclosed claims
    /// as JSON; exits 1 when refused.
    Verify {
        /// The issuer's keys: a JWKS, or the vault's `/.well-known/jwt-vc-issuer` document.
        #[arg(long)]
        jwks: PathBuf,
        /// The status list token (`GET /v1/status-lists/{n}`) the credential names.
        #[arg(long)]
        status_list: PathBuf,
        /// This verifier's identifier: the key binding's `aud`.
        #[arg(long)]
        audience: String,
        /// The nonce this verifier gave the holder.
        #[arg(long)]
        nonce: String,
        /// How old the key binding may be, in seconds.
        #[arg(long, default_value_t = 300)]
        max_age: i64,
        /// The presentation file (standard input when absent).
        presentation: Option<PathBuf>,
    },
    /// Print an ES256 issuer key of a JWKS (the vault's
    /// `/.well-known/jwt-vc-issuer` document) as a PEM public key, for the
    /// city's CA to certify; the chain then goes in `[credentials]
    /// certificate_chain`.
    IssuerKey {
        /// The JWKS, or the vault's `/.well-known/jwt-vc-issuer` document.
        #[arg(long)]
        jwks: PathBuf,
        /// Which key, when the JWKS holds more than one ES256 key.
        #[arg(long)]
        kid: Option<String>,
    },
}

/// The ES256 key `kid` names (or the only one) of `jwks`, as PEM.
fn issuer_key(jwks: &Value, kid: Option<&str>) -> Result<String, String> {
    let es256: Vec<&Value> = jwks["keys"]
        .as_array()
        .ok_or("--jwks holds no keys")?
        .iter()
        .filter(|k| k["kty"] == "EC" && k["crv"] == "P-256")
        .filter(|k| kid.is_none_or(|id| k["kid"] == id))
        .collect();
    let [key] = es256.as_slice() else {
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["kty"] == "EC")
            .filter_map(|k| k["kid"].as_str())
            .collect();
        return Err(format!(
            "--jwks: {} ES256 keys match; name one with --kid (ES256 keys: {})",
            es256.len(),
            kids.join(", ")
        ));
    };
    let public = civic_vault::crypto::jose::PublicKey::from_jwk(key).map_err(|e| format!("--jwks: {e}"))?;
    civic_vault::crypto::x5c::public_key_pem(&public).ok_or_else(|| "--jwks: not a P-256 key".to_owned())
}

fn read(path: &PathBuf, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {}", path.display(), e.kind()))
}

pub(super) fn credential(command: CredentialCommand) -> Result<ExitCode, String> {
    let read_jwks = |path: &PathBuf| -> Result<Value, String> {
        let jwks: Value = serde_json::from_str(&read(path, "--jwks")?).map_err(|e| format!("--jwks: {e}"))?;
        Ok(if jwks.get("jwks").is_some() {
            jwks["jwks"].clone()
        } else {
            jwks
        })
    };
    let (jwks, status_list, audience, nonce, max_age, presentation) = match command {
        CredentialCommand::IssuerKey { jwks, kid } => {
            print!("{}", issuer_key(&read_jwks(&jwks)?, kid.as_deref())?);
            return Ok(ExitCode::SUCCESS);
        }
        CredentialCommand::Verify {
            jwks,
            status_list,
            audience,
            nonce,
            max_age,
            presentation,
        } => (read_jwks(&jwks)?, status_list, audience, nonce, max_age, presentation),
    };
    let list = read(&status_list, "--status-list")?.trim().to_owned();
    let presented = match presentation {
        Some(p) => read(&p, "presentation")?,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .take(1 << 20)
                .read_to_string(&mut s)
                .map_err(|e| format!("standard input: {e}"))?;
            s
        }
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expect = civic_vault::crypto::sdjwt::verify::Expect {
        audience: &audience,
        nonce: &nonce,
        vct: civic_vault::domain::credential::VCT,
        now,
        max_age,
    };
    match civic_vault::crypto::sdjwt::verify::verify(presented.trim(), &jwks, |_| Some(list), &expect) {
        Ok(v) => {
            println!(
                "{}",
                json!({"valid": true, "issuer": v.issuer, "kid": v.kid, "exp": v.exp, "claims": v.claims})
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}", json!({"valid": false, "reason": e.to_string()}));
            Ok(ExitCode::FAILURE)
        }
    }
}
