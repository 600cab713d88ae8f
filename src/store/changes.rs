//! One change applied inside the writer's transaction: principals, cards
//! (enrollment with its duplicate check, status, deletion, due entries,
//! rewrapping), policy versions, holds, scans, legal answers and notices.
//! A conflict aborts the whole transaction; nothing is half-written.

use sled::transaction::ConflictableTransactionError;

use super::keys;
use super::{decode, encode, META_ERASED};
use crate::crypto::Commitment;
use crate::domain::card::{CardId, CardRecord};
use crate::domain::principal::Principal;
use crate::domain::store::{Change, Conflict, Due, NewCard, ScanRef};

pub(crate) use super::kv::{Abort, Kv, TreeName, TxResult};
pub(super) use super::kv::{SledKv, Tree};

fn abort<T>(c: Conflict) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::Conflict(c)))
}

fn tx_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> TxResult<T> {
    decode(bytes).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string())))
}

fn tx_encode<T: serde::Serialize>(v: &T) -> TxResult<Vec<u8>> {
    encode(v).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string())))
}

fn tx_principal(p: &Principal) -> TxResult<Vec<u8>> {
    super::encode_principal(p).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string())))
}

/// The trees of one transaction, by name.
struct Tx<'a> {
    principals: Tree<'a>,
    cards: Tree<'a>,
    photos: Tree<'a>,
    commitments: Tree<'a>,
    scans: Tree<'a>,
    due: Tree<'a>,
    meta: Tree<'a>,
    holds: Tree<'a>,
    held_scans: Tree<'a>,
    policies: Tree<'a>,
    legal: Tree<'a>,
    notices: Tree<'a>,
    counter: Tree<'a>,
    policy_tests: Tree<'a>,
    staff_keys: Tree<'a>,
    honey: Tree<'a>,
    credentials: Tree<'a>,
}

impl<'a> Tx<'a> {
    fn of(kv: &'a dyn Kv) -> Self {
        let tree = |name| Tree { kv, name };
        Self {
            principals: tree(TreeName::Principals),
            cards: tree(TreeName::Cards),
            photos: tree(TreeName::Photos),
            commitments: tree(TreeName::Commitments),
            scans: tree(TreeName::Scans),
            due: tree(TreeName::Due),
            meta: tree(TreeName::Meta),
            holds: tree(TreeName::Holds),
            held_scans: tree(TreeName::HeldScans),
            policies: tree(TreeName::Policies),
            legal: tree(TreeName::Legal),
            notices: tree(TreeName::Notices),
            counter: tree(TreeName::Counter),
            policy_tests: tree(TreeName::PolicyTests),
            staff_keys: tree(TreeName::StaffKeys),
            honey: tree(TreeName::Honey),
            credentials: tree(TreeName::Credentials),
        }
    }
}

pub(crate) fn apply_change(kv: &dyn Kv, change: &Change) -> TxResult<()> {
    let tx = Tx::of(kv);
    match change {
        Change::PutPrincipal(p) => {
            if tx.principals.get(p.id.as_bytes())?.is_some() {
                return abort(Conflict::PrincipalExists);
            }
            tx.principals.insert(p.id.as_bytes(), tx_principal(p)?)?;
        }
        Change::UpdatePrincipal(p) => {
            if tx.principals.get(p.id.as_bytes())?.is_none() {
                return abort(Conflict::NotFound);
            }
            tx.principals.insert(p.id.as_bytes(), tx_principal(p)?)?;
        }
        Change::DeletePrincipal { id } => {
            if tx.principals.remove(id.as_bytes())?.is_none() {
                return abort(Conflict::NotFound);
            }
            tx.staff_keys.remove(id.as_bytes())?;
        }
        Change::Enroll(new) => enroll(&tx, new)?,
        Change::UpdateCardMeta {
            card_id,
            expect,
            meta,
            due_at,
        } => update_meta(&tx, card_id, expect, meta, *due_at)?,
        Change::DeleteCard { card_id, due: entry } => delete_card(&tx, card_id, *entry)?,
        Change::IssueCredentials {
            card_id,
            expect,
            indices,
            key,
        } => super::credentials::issue(tx.cards, tx.credentials, card_id, expect, indices, key)?,
        Change::RevokeCredentials { card_id, key } => super::credentials::revoke(tx.credentials, card_id, key)?,
        Change::SealCredentials { card_id, key } => {
            super::credentials::seal_legacy(tx.credentials, card_id, key.as_ref())?
        }
        Change::MoveDue { from, to } => move_due(&tx, *from, *to)?,
        Change::UpdateCard {
            card_id,
            expect,
            record,
            identity,
            superseded,
        } => update_card(&tx, card_id, expect, record, identity, superseded)?,
        Change::Counter { card_id, queued } => {
            if *queued {
                tx.counter.insert(card_id, b"")?;
            } else {
                tx.counter.remove(card_id)?;
            }
        }
        Change::Rewrap {
            card_id,
            from_kek,
            wrapped,
        } => {
            if let Some(current) = tx.cards.get(card_id)? {
                let mut record: CardRecord = tx_decode(&current)?;
                if &record.dek.kek_id == from_kek {
                    record.dek = wrapped.clone();
                    tx.cards.insert(card_id, tx_encode(&record)?)?;
                }
            }
        }
        Change::ResetErasedCount => {
            tx.meta.insert(META_ERASED, 0u64.to_be_bytes())?;
        }
        other => apply_record_change(&tx, other)?,
    }
    Ok(())
}

/// Policy versions, holds and their scans, scans, legal answers and notices.
fn apply_record_change(tx: &Tx<'_>, change: &Change) -> TxResult<()> {
    match change {
        Change::PutPolicyVersion(v) => {
            let key = v.version.to_be_bytes();
            if tx.policies.get(key)?.is_some() {
                return abort(Conflict::VersionConflict);
            }
            tx.policies
                .insert(key, tx_encode::<crate::domain::policy_version::PolicyVersion>(v)?)?;
        }
        Change::PutPolicyTests { version, tests } => {
            tx.policy_tests.insert(version.to_be_bytes(), tests.as_slice())?;
        }
        Change::PutStaffKeys { id, keys: staff } => {
            if tx.principals.get(id.as_bytes())?.is_none() {
                return abort(Conflict::NotFound);
            }
            tx.staff_keys
                .insert(id.as_bytes(), tx_encode::<crate::domain::staff::StaffKeys>(staff)?)?;
        }
        Change::PutHold(hold) => {
            tx.holds
                .insert(hold.id.as_bytes(), tx_encode::<crate::domain::holds::Hold>(hold)?)?;
        }
        Change::PutHeldScans { hold_id, files } => {
            for (i, file) in files.iter().enumerate() {
                tx.held_scans.insert(keys::held(hold_id, i), file.as_slice())?;
            }
        }
        Change::RemoveHeldScans { hold_id, count } => {
            for i in 0..*count {
                tx.held_scans.remove(keys::held(hold_id, i))?;
            }
        }
        Change::RemoveScans { scans: refs } => {
            for r in refs {
                tx.scans.remove(keys::scan(r))?;
            }
        }
        Change::PutLegalRequest { record, notice } => {
            tx.legal.insert(
                record.id.as_bytes(),
                tx_encode::<crate::domain::legal::LegalRecord>(record)?,
            )?;
            if let Some(n) = notice {
                tx.notices
                    .insert(n.id.as_bytes(), tx_encode::<crate::domain::legal::Notice>(n)?)?;
            }
        }
        Change::PutHoneyCards { put, remove } => {
            for key in remove {
                tx.honey.remove(key.as_slice())?;
            }
            for card in put {
                tx.honey.insert(card.key.as_slice(), card.sealed.as_slice())?;
            }
        }
        Change::RemoveNotice { id } => {
            let removed = tx.notices.remove(id.as_bytes())?;
            if removed.is_none() {
                return abort(Conflict::NotFound);
            }
        }
        // The card and principal changes are `apply_change`'s own.
        _ => {}
    }
    Ok(())
}

/// A new cardholder: refused when an identity document already backs a
/// valid card; otherwise the record, photo, commitments, due entry and scans.
fn enroll(tx: &Tx<'_>, new: &NewCard) -> TxResult<()> {
    if tx.cards.get(new.card_id)?.is_some() {
        return abort(Conflict::CardIdTaken);
    }
    check_identity(tx, &new.card_id, &new.identity_commitments, &new.superseded)?;
    tx.cards.insert(new.card_id, tx_encode(&new.record)?)?;
    tx.photos.insert(new.card_id, tx_encode(&new.photo)?)?;
    for c in &new.record.index {
        tx.commitments.insert(c, new.card_id)?;
    }
    tx.counter.insert(new.card_id, b"")?;
    tx.due.insert(
        keys::due(Due {
            at: new.due_at,
            card_id: new.card_id,
        }),
        b"",
    )?;
    for (i, (epoch, file)) in new.scans.iter().enumerate() {
        let scan = ScanRef {
            epoch: *epoch,
            card_id: new.card_id,
            index: u8::try_from(i).unwrap_or(u8::MAX),
        };
        tx.scans.insert(keys::scan(&scan), file.as_slice())?;
    }
    Ok(())
}

/// A change of the sealed meta (revocation, erasure request, renewal, the
/// counter's state), re-indexed by when the record then falls due. Only if
/// the meta is still the one the change was made from: the vault decided
/// on that one (nothing brings an erased card back, say), and a change in
/// between makes this one a conflict, never a lost update.
fn update_meta(tx: &Tx<'_>, card_id: &CardId, expect: &[u8], meta: &[u8], due_at: i64) -> TxResult<()> {
    let Some(current) = tx.cards.get(card_id)? else {
        return abort(Conflict::NotFound);
    };
    let mut record: CardRecord = tx_decode(&current)?;
    if record.meta != expect {
        return abort(Conflict::VersionConflict);
    }
    meta.clone_into(&mut record.meta);
    tx.due.remove(keys::due(Due {
        at: record.due,
        card_id: *card_id,
    }))?;
    record.due = due_at;
    tx.cards.insert(card_id, tx_encode(&record)?)?;
    tx.due.insert(
        keys::due(Due {
            at: due_at,
            card_id: *card_id,
        }),
        b"",
    )?;
    Ok(())
}

/// Checked here, inside the transaction, so two cards with one identity
/// document cannot both pass: an index entry may be taken over only from a
/// card the vault found no longer valid (or is the card's own).
fn check_identity(tx: &Tx<'_>, card_id: &CardId, identity: &[Commitment], superseded: &[CardId]) -> TxResult<()> {
    for c in identity {
        if let Some(owner) = tx.commitments.get(c)? {
            let own = owner.as_slice() == card_id.as_slice();
            if !own && !superseded.iter().any(|s| s.as_slice() == owner.as_slice()) {
                return abort(Conflict::DuplicateEnrollment);
            }
        }
    }
    Ok(())
}

/// Replaces a card's record if its meta is still `expect`: the due entry
/// moves with it and the index is re-keyed (the old keys it owns removed,
/// the new ones checked and pointed at it).
fn update_card(
    tx: &Tx<'_>,
    card_id: &CardId,
    expect: &[u8],
    record: &CardRecord,
    identity: &[Commitment],
    superseded: &[CardId],
) -> TxResult<()> {
    let Some(current) = tx.cards.get(card_id)? else {
        return abort(Conflict::NotFound);
    };
    let old: CardRecord = tx_decode(&current)?;
    if old.meta != expect {
        return abort(Conflict::VersionConflict);
    }
    check_identity(tx, card_id, identity, superseded)?;
    for c in &old.index {
        if tx
            .commitments
            .get(c)?
            .is_some_and(|owner| owner.as_slice() == card_id.as_slice())
        {
            tx.commitments.remove(c.as_slice())?;
        }
    }
    for c in &record.index {
        tx.commitments.insert(c.as_slice(), card_id.as_slice())?;
    }
    tx.due.remove(keys::due(Due {
        at: old.due,
        card_id: *card_id,
    }))?;
    tx.due.insert(
        keys::due(Due {
            at: record.due,
            card_id: *card_id,
        }),
        b"",
    )?;
    tx.cards.insert(card_id, tx_encode(record)?)?;
    Ok(())
}

/// Moves a due entry that is not due yet, and the record's note of it. An
/// entry that is not the record's own (a second entry left by format v1)
/// is dropped instead: each record keeps exactly one.
fn move_due(tx: &Tx<'_>, from: Due, to: Due) -> TxResult<()> {
    tx.due.remove(keys::due(from))?;
    if let Some(current) = tx.cards.get(from.card_id)? {
        let mut record: CardRecord = tx_decode(&current)?;
        // 0: a record migrated from v1, whose entry is adopted here.
        if record.due == from.at || record.due == 0 {
            record.due = to.at;
            tx.cards.insert(from.card_id, tx_encode(&record)?)?;
            tx.due.insert(keys::due(to), b"")?;
        }
    }
    Ok(())
}

/// Deletes a cardholder record with its photo and the commitments it owns,
/// and counts it towards the next KEK destruction.
fn delete_card(tx: &Tx<'_>, card_id: &CardId, entry: Due) -> TxResult<()> {
    tx.due.remove(keys::due(entry))?;
    // Every credential issued for the card is revoked with it (an erasure,
    // the end of the retention window after expiry or revocation).
    super::credentials::forget(tx.credentials, card_id)?;
    if let Some(current) = tx.cards.remove(card_id)? {
        let record: CardRecord = tx_decode(&current)?;
        tx.photos.remove(card_id)?;
        tx.counter.remove(card_id)?;
        for c in &record.index {
            if tx
                .commitments
                .get(c)?
                .is_some_and(|owner| owner.as_slice() == card_id.as_slice())
            {
                tx.commitments.remove(c)?;
            }
        }
        let n = tx
            .meta
            .get(META_ERASED)?
            .and_then(|v| v.as_slice().try_into().ok())
            .map_or(0, u64::from_be_bytes);
        tx.meta.insert(META_ERASED, (n + 1).to_be_bytes())?;
    }
    Ok(())
}
