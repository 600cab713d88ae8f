//! Holder-held credentials inside the writer's transaction. In the
//! `credentials` tree, by the first byte of the key:
//!
//! ```text
//! s ‖ card id        → the card's credentials' global status indices, sealed
//!                      under the card's index key (padded: 40 indices a class)
//! l ‖ list (u32 BE)  → the list's status bits, entry 0 in the low bit of byte 0
//! a ‖ list (u32 BE)  → which of the list's entries are taken
//! ```
//!
//! A global index is `list * LIST_ENTRIES + entry`. The bits hold no card
//! id: a list says which entries are revoked, never whose; and without the
//! keys a presented credential's index leads nowhere, neither to the card
//! nor to the other credentials of its batch. Whether a card's credentials
//! are revoked is its sealed meta's status (issuance is a compare-and-swap
//! on it), so a revoked card's entries are those of an active one.
//!
//! Older versions wrote `c ‖ card id → postcard Vec<u64>` (the indices in
//! the clear) and `r ‖ card id → ()` (revoked). The vault rewrites them at
//! open ([`seal_legacy`]), and every change here reads and drops them too.

use sled::transaction::ConflictableTransactionError;

use super::changes::{Abort, Tree, TxResult};
use super::decode;
use crate::crypto::IndexKey;
use crate::domain::card::{CardId, CardRecord};
use crate::domain::credential::{ListBits, LIST_BYTES, LIST_ENTRIES};
use crate::domain::store::Conflict;

fn key(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.len());
    k.push(tag);
    k.extend_from_slice(rest);
    k
}

fn list_key(tag: u8, list: u32) -> Vec<u8> {
    key(tag, &list.to_be_bytes())
}

fn corrupt<T>(what: &str) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::Corrupt(what.into())))
}

fn split(index: u64) -> TxResult<(u32, usize, u8)> {
    let Ok(list) = u32::try_from(index / LIST_ENTRIES) else {
        return corrupt("status index past the last list");
    };
    let entry = index % LIST_ENTRIES;
    let byte = usize::try_from(entry / 8).unwrap_or(0);
    Ok((list, byte, 1 << (entry % 8)))
}

fn bits(tree: Tree<'_>, k: &[u8]) -> TxResult<Vec<u8>> {
    Ok(tree.get(k)?.map_or_else(|| vec![0; LIST_BYTES], |v| v.to_vec()))
}

/// Each sealed list is padded to a multiple of this many indices (four
/// full batches), so its length says little about how often a card's
/// holder redeemed an offer.
const SEALED_CLASS: usize = 4 + 8 * 4 * crate::domain::credential::BATCH;
const LABEL: &str = "credential-indices";

fn tx_corrupt<E: ToString>(e: E) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string()))
}

/// The indices an older version wrote in the clear (`c ‖ card id`).
fn legacy(tree: Tree<'_>, card_id: &CardId) -> TxResult<Vec<u64>> {
    match tree.get(key(b'c', card_id))? {
        Some(v) => decode(&v).map_err(tx_corrupt),
        None => Ok(Vec::new()),
    }
}

/// The card's sealed indices, opened with `index_key`.
fn sealed(tree: Tree<'_>, card_id: &CardId, index_key: &IndexKey) -> TxResult<Vec<u64>> {
    let Some(v) = tree.get(key(b's', card_id))? else {
        return Ok(Vec::new());
    };
    let Ok(plain) = index_key.open_padded(card_id, LABEL, &v) else {
        return corrupt("a card's credential indices do not open under its key");
    };
    Ok(plain
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_be_bytes))
        .collect())
}

/// Seals `all` as the card's indices and drops an older version's entries.
fn put(tree: Tree<'_>, card_id: &CardId, index_key: &IndexKey, all: &[u64]) -> TxResult<()> {
    let plain = zeroize::Zeroizing::new(all.iter().flat_map(|i| i.to_be_bytes()).collect::<Vec<u8>>());
    tree.insert(
        key(b's', card_id),
        index_key.seal_padded(card_id, LABEL, &plain, &[SEALED_CLASS]),
    )?;
    drop_legacy(tree, card_id)
}

fn drop_legacy(tree: Tree<'_>, card_id: &CardId) -> TxResult<()> {
    tree.remove(key(b'c', card_id))?;
    tree.remove(key(b'r', card_id))?;
    Ok(())
}

fn set_revoked(tree: Tree<'_>, indices: &[u64]) -> TxResult<()> {
    for &i in indices {
        let (list, byte, mask) = split(i)?;
        let k = list_key(b'l', list);
        let mut b = bits(tree, &k)?;
        let Some(slot) = b.get_mut(byte) else {
            return corrupt("status list length");
        };
        *slot |= mask;
        tree.insert(k, b)?;
    }
    Ok(())
}

/// Takes `new` for `card_id`'s credentials, if the card's sealed meta is
/// still `expect` (the one the vault found valid).
pub(super) fn issue(
    cards: Tree<'_>,
    tree: Tree<'_>,
    card_id: &CardId,
    expect: &[u8],
    new: &[u64],
    index_key: &IndexKey,
) -> TxResult<()> {
    let Some(record) = cards.get(card_id)? else {
        return Err(ConflictableTransactionError::Abort(Abort::Conflict(Conflict::NotFound)));
    };
    let record: CardRecord = decode(&record).map_err(tx_corrupt)?;
    if record.meta != expect {
        return Err(ConflictableTransactionError::Abort(Abort::Conflict(
            Conflict::VersionConflict,
        )));
    }
    for &i in new {
        let (list, byte, mask) = split(i)?;
        let k = list_key(b'a', list);
        let mut taken = bits(tree, &k)?;
        let Some(slot) = taken.get_mut(byte) else {
            return corrupt("status list length");
        };
        if *slot & mask != 0 {
            return Err(ConflictableTransactionError::Abort(Abort::Conflict(
                Conflict::CardIdTaken,
            )));
        }
        *slot |= mask;
        tree.insert(k, taken)?;
        let lk = list_key(b'l', list);
        if tree.get(&lk)?.is_none() {
            tree.insert(lk, vec![0; LIST_BYTES])?;
        }
    }
    let mut all = sealed(tree, card_id, index_key)?;
    all.extend(legacy(tree, card_id)?);
    all.extend_from_slice(new);
    put(tree, card_id, index_key, &all)
}

/// Revokes every credential of `card_id`. The sealed list stays as it was
/// (a revoked card's entries look like an active one's), for the sweep.
pub(super) fn revoke(tree: Tree<'_>, card_id: &CardId, index_key: &IndexKey) -> TxResult<()> {
    let old = legacy(tree, card_id)?;
    let mut all = sealed(tree, card_id, index_key)?;
    set_revoked(tree, &all)?;
    set_revoked(tree, &old)?;
    if old.is_empty() {
        drop_legacy(tree, card_id)
    } else {
        all.extend(old);
        put(tree, card_id, index_key, &all)
    }
}

/// An older version's entries of `card_id` in today's form: sealed under
/// `index_key`, or, without one, revoked and dropped.
pub(super) fn seal_legacy(tree: Tree<'_>, card_id: &CardId, index_key: Option<&IndexKey>) -> TxResult<()> {
    let old = legacy(tree, card_id)?;
    match index_key {
        Some(k) if !old.is_empty() => {
            let mut all = sealed(tree, card_id, k)?;
            all.extend(old);
            put(tree, card_id, k, &all)
        }
        Some(_) => drop_legacy(tree, card_id),
        None => {
            set_revoked(tree, &old)?;
            drop_legacy(tree, card_id)
        }
    }
}

/// The card's record is destroyed: nothing about the card stays in the
/// tree (its entries stay taken). The sweep revokes its credentials first,
/// in the same commit, with the card's key; the clear list of an older
/// version is revoked here.
pub(super) fn forget(tree: Tree<'_>, card_id: &CardId) -> TxResult<()> {
    set_revoked(tree, &legacy(tree, card_id)?)?;
    tree.remove(key(b's', card_id))?;
    drop_legacy(tree, card_id)
}

/// The card ids an older version left entries for (`c` or `r`), outside a
/// transaction: what the vault rewrites at open.
pub(crate) fn legacy_cards(entries: impl Iterator<Item = Vec<u8>>) -> Vec<CardId> {
    let mut out: Vec<CardId> = entries
        .filter(|k| matches!(k.first(), Some(b'c' | b'r')))
        .filter_map(|k| k.get(1..).and_then(|id| CardId::try_from(id).ok()))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A list's bits and taken entries, outside a transaction.
pub(crate) fn read_list<E>(
    get: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, E>,
    list: u32,
) -> Result<Option<ListBits>, E> {
    let Some(bits) = get(&list_key(b'l', list))? else {
        return Ok(None);
    };
    let taken = get(&list_key(b'a', list))?.unwrap_or_else(|| vec![0; LIST_BYTES]);
    Ok(Some(ListBits { bits, taken }))
}
