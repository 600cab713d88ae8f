//! The items of a legal answer about one card: each allowed item opened
//! with its permit (status, name, address, birth date, card number, photo,
//! attestations, access log), or why the vault holds none to give.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};

use super::records::{self, AuditFacts};
use super::Resolved;
use crate::authz::{Decision, Permit};
use crate::domain::access;
use crate::domain::card::CardStatus;
use crate::domain::error::Error;
use crate::domain::legal::{withheld_reason, Item, LegalRequest};
use crate::domain::store::Store;
use crate::vault::Vault;

pub(super) fn no_permit() -> Error {
    Error::internal("an allowed decision came without its permit")
}

/// The answer as it is assembled.
#[derive(Default)]
pub(super) struct Draft {
    pub(super) package: serde_json::Map<String, Value>,
    pub(super) withheld: BTreeMap<String, String>,
    pub(super) disclosed: Vec<String>,
    /// The audit walk, once an access log has needed one.
    pub(super) facts: Option<AuditFacts>,
}

/// Fills the package with each allowed item about the resolved card.
pub(super) async fn disclose_items(
    v: &Arc<Vault>,
    req: &LegalRequest,
    decisions: &[(Item, Decision)],
    card: Option<&Resolved>,
    draft: &mut Draft,
) -> Result<(), Error> {
    for (item, d) in decisions {
        let name = item.as_str();
        if !d.allowed {
            draft.withheld.insert(
                name.into(),
                withheld_reason(&d.policies, req.process, req.signed_by_judge),
            );
            continue;
        }
        let Some(card) = card else { continue };
        let permit = d.permit.as_ref().ok_or_else(no_permit)?;
        match item_value(v, *item, permit, card, &mut draft.facts).await? {
            Ok(value) => {
                draft.package.insert(name.into(), value);
                draft.disclosed.push(name.into());
            }
            Err(not_held) => {
                draft.withheld.insert(name.into(), not_held);
            }
        }
    }
    Ok(())
}

/// One item's value, or why the vault has none to give.
async fn item_value(
    v: &Arc<Vault>,
    item: Item,
    permit: &Permit,
    card: &Resolved,
    facts: &mut Option<AuditFacts>,
) -> Result<Result<Value, String>, Error> {
    let open = &card.card;
    let r = &open.record;
    let fields = || access::open_fields(permit, &v.keys, &card.card_id, r);
    Ok(match item {
        Item::CardStatus => {
            let today = v.clock.now().date();
            let (status, reason) = match &open.status {
                CardStatus::Active if open.expires_on.is_some_and(|e| today > e) => ("expired", None),
                CardStatus::Active => ("active", None),
                CardStatus::Revoked { reason, .. } => ("revoked", Some(*reason)),
                CardStatus::ErasureRequested { .. } => ("erasure_requested", None),
                CardStatus::Replaced { .. } => ("replaced", None),
            };
            let mut s = json!({
                "status": status,
                "issued_on": open.issued_on.to_string(),
                "expires_on": open.expires_on.map(|e| e.to_string()),
            });
            if let Some(reason) = reason {
                s["revocation_reason"] = serde_json::to_value(reason).unwrap_or_default();
            }
            Ok(s)
        }
        Item::FullName => Ok(Value::String(fields()?.full_name.clone())),
        Item::Address => match fields()?.address.clone() {
            Some(a) => Ok(serde_json::to_value(a).unwrap_or_default()),
            None => Err("not held: this program does not keep cardholders' addresses".into()),
        },
        Item::DateOfBirth => {
            let d = access::open_birth_date(permit, &v.keys, &card.card_id, r)?;
            Ok(Value::String(d.to_string()))
        }
        Item::CardNumber => match &card.number {
            Some(n) => Ok(Value::String(n.clone())),
            None => Err("not held: this record predates keeping the card number".into()),
        },
        Item::Photo => {
            let card_id = card.card_id;
            let Some(photo) = v.read(move |v| v.store.photo(&card_id)).await? else {
                return Ok(Err("not held: no photo is stored for this card".into()));
            };
            let photo = access::open_photo(permit, &v.keys, &card.card_id, r, &photo)?;
            Ok(json!({
                "content_type": photo.content_type,
                "data": base64::engine::general_purpose::STANDARD.encode(&*photo.bytes),
            }))
        }
        Item::Attestations => Ok(json!({
            "program": open.program,
            "rules_version": open.rules,
            "verified_by": open.clerk,
            "verified_at": rfc3339(open.enrolled_at),
            "document_commitments": open
                .proofs
                .iter()
                .map(|c| format!("argon2id:{}", hex::encode(c)))
                .collect::<Vec<_>>(),
            "note": "the program's rules were met on these documents; their types, issuers, numbers and what each \
                     proved are not held, only a keyed, memory-hard commitment to each",
        })),
        Item::AccessLog => {
            let Some(n) = card.number.clone() else {
                return Ok(Err("not held: this record predates keeping the card number".into()));
            };
            // One walk of the chain gives the access log and the
            // certificates "not held" dates come from.
            let subject = v.keys.subjects.subject("card", &n);
            let found = v.read(move |v| records::scan(v, Some(&subject))).await?;
            let log = Value::Array(found.log.clone());
            *facts = Some(found);
            Ok(log)
        }
    })
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
