//! Holder-held credentials inside the writer's transaction. In the
//! `credentials` tree, by the first byte of the key:
//!
//! ```text
//! c ‖ card id        → postcard Vec<u64>: the card's credentials' global status indices
//! r ‖ card id        → (empty): the card's credentials are revoked, and any issued later
//! l ‖ list (u32 BE)  → the list's status bits, entry 0 in the low bit of byte 0
//! a ‖ list (u32 BE)  → which of the list's entries are taken
//! ```
//!
//! A global index is `list * LIST_ENTRIES + entry`. The bits hold no card
//! id: a list says which entries are revoked, never whose.

use sled::transaction::ConflictableTransactionError;

use super::changes::{Abort, Tree, TxResult};
use super::{decode, encode};
use crate::domain::card::CardId;
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

fn indices(tree: Tree<'_>, card_id: &CardId) -> TxResult<Vec<u64>> {
    match tree.get(key(b'c', card_id))? {
        Some(v) => decode(&v).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string()))),
        None => Ok(Vec::new()),
    }
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

/// Takes `new` for `card_id`'s credentials.
pub(super) fn issue(cards: Tree<'_>, tree: Tree<'_>, card_id: &CardId, new: &[u64]) -> TxResult<()> {
    if cards.get(card_id)?.is_none() || tree.get(key(b'r', card_id))?.is_some() {
        return Err(ConflictableTransactionError::Abort(Abort::Conflict(Conflict::NotFound)));
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
    let mut all = indices(tree, card_id)?;
    all.extend_from_slice(new);
    let bytes = encode(&all).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string())))?;
    tree.insert(key(b'c', card_id), bytes)?;
    Ok(())
}

/// Revokes every credential of `card_id`, now and later.
pub(super) fn revoke(tree: Tree<'_>, card_id: &CardId) -> TxResult<()> {
    set_revoked(tree, &indices(tree, card_id)?)?;
    tree.insert(key(b'r', card_id), b"")?;
    Ok(())
}

/// The card's record is destroyed: its credentials' bits are set, and
/// nothing about the card stays in the tree (its entries stay taken).
pub(super) fn forget(tree: Tree<'_>, card_id: &CardId) -> TxResult<()> {
    set_revoked(tree, &indices(tree, card_id)?)?;
    tree.remove(key(b'c', card_id))?;
    tree.remove(key(b'r', card_id))?;
    Ok(())
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
