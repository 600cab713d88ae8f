//! `civic-vault migrate`: a stopped vault's data directory from record
//! format v1 (status, dates, per-proof attestations readable without keys;
//! keyed-HMAC commitments) to v2: meta and fields sealed and padded, only a
//! memory-hard commitment per proof, identity index keys padded with decoys.
//!
//! A v1 commitment is the keyed hash v2 hashes again (Argon2id with the
//! blind-index key as its secret), so no document is needed. The migration
//! runs in resumable batches; the vault refuses to start on a v1 store until
//! it is done.

use crate::config::Config;
use crate::crypto::{CommitmentCost, DataKey, Keyring};
use crate::domain::access::{seal_meta_with, FIELD_CLASSES};
use crate::domain::card::{CardId, CardMeta, CardRecord, Counter, Delivery};
use crate::domain::enrollment::with_decoys;
use crate::store::{CardRecordV1, SledStore, SCHEMA_VERSION};
use crate::vault::KeyAccess;

/// What a migration did.
#[derive(Debug, serde::Serialize)]
pub struct Migrated {
    /// Records rewritten by this run (0: the store was already v2).
    pub cards: u64,
    pub schema: u32,
    pub commitment_cost: CommitmentCost,
}

/// Migrates the store at `config.data_dir` with the keys at `config.keys_dir`
/// (plain, or sealed and opened by `[seal] passphrase_file`).
///
/// # Errors
/// The keys or store do not open, or a record does not convert.
pub fn migrate(config: &Config) -> Result<Migrated, String> {
    let files = match KeyAccess::at_start(config).map_err(|e| e.to_string())? {
        KeyAccess::Open(files) => files,
        KeyAccess::Sealed(_) => {
            return Err("the keys are sealed: give a config with [seal] passphrase_file so they can open".into())
        }
    };
    let _lock = crate::crypto::seal::KeysLock::acquire(files.dir()).map_err(|e| e.to_string())?;
    let keys = Keyring::open_files(files).map_err(|e| e.to_string())?;
    let (store, opened) = SledStore::open(&config.data_dir, Some(&keys.fingerprint())).map_err(|e| e.to_string())?;
    let configured = CommitmentCost {
        memory_kib: config.commitments.memory_kib,
        iterations: config.commitments.iterations,
    };
    let cost = store.commitment_cost(configured).map_err(|e| e.to_string())?;
    let cards = if opened.schema == SCHEMA_VERSION {
        0
    } else {
        store
            .migrate_v1(&|id, old| Ok(convert(&keys, id, old, cost)))
            .map_err(|e| e.to_string())?
    };
    store.close().map_err(|e| e.to_string())?;
    Ok(Migrated {
        cards,
        schema: SCHEMA_VERSION,
        commitment_cost: cost,
    })
}

/// One v1 record as v2. A record whose KEK is already destroyed cannot be
/// read by anyone: it keeps its wrapped key and gets no meta, so the next
/// sweep, finding it unopenable, deletes it.
fn convert(keys: &Keyring, id: &CardId, old: CardRecordV1, cost: CommitmentCost) -> CardRecord {
    let commit = |c: &[u8; 32]| keys.blind.commit(c, cost);
    let index = with_decoys(old.identity().map(commit).collect());
    let opened = keys
        .kek(&old.dek.kek_id)
        .and_then(|kek| DataKey::unwrap_with(&old.dek, &kek, id).ok());
    let Some(dek) = opened else {
        return CardRecord {
            dek: old.dek,
            meta: Vec::new(),
            fields: old.fields,
            birth: old.birth,
            photo_key: old.photo_key,
            index,
            due: 0,
        };
    };
    let fields = dek
        .open_field(id, "fields", &old.fields)
        .map(zeroize::Zeroizing::new)
        .map_or_else(
            |_| old.fields.clone(),
            |plain| dek.seal_padded(id, "fields", &plain, FIELD_CLASSES),
        );
    let meta = CardMeta {
        program: old.program.clone(),
        rules: "v1: issued before rules versions were recorded".into(),
        status: old.status.clone(),
        issued_on: old.issued_on,
        expires_on: Some(old.expires_on),
        enrolled_at: old.enrolled_at,
        clerk: old.attestations.first().map(|a| a.clerk.clone()).unwrap_or_default(),
        proofs: old.attestations.iter().map(|a| commit(&a.commitment)).collect(),
        identity: old.identity().map(commit).collect(),
        // v1 kept nothing of these; the counter treats such a card as
        // printed and handed over.
        delivery: Delivery::Mail,
        counter: Counter {
            printed_at: Some(old.enrolled_at),
            picked_up_at: None,
        },
        fee_waiver: None,
        languages: Vec::new(),
        caretaker: false,
        replaces: None,
        replaced_by: None,
        renewed_at: Vec::new(),
    };
    CardRecord {
        meta: seal_meta_with(&dek, id, &meta),
        fields,
        birth: old.birth,
        photo_key: old.photo_key,
        index,
        dek: old.dek,
        // v1 due entries stay as they are; the sweep moves each to its
        // capped time the first time it looks.
        due: 0,
    }
}
