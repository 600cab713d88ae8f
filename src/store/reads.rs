//! The store interface's reads and its one write (`commit`, queued to the
//! writer thread), over the sled trees.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::records::decode_all;
use std::sync::atomic::Ordering;

use super::{audit_reads, decode, decode_principal, failed, keys, writer, SledStore, META_ERASED};
use crate::crypto::EpochId;
use crate::domain::audit::{AuditEntry, ChainReport};
use crate::domain::card::{CardId, CardRecord, PhotoRecord};
use crate::domain::principal::Principal;
use crate::domain::store::{Commit, CommitResult, Due, ScanRef, Store, StoreError};

impl Store for SledStore {
    fn commit(&self, commit: Commit) -> impl std::future::Future<Output = CommitResult> + Send {
        let (reply, rx) = oneshot::channel();
        let job = writer::Job { commit, reply };
        let sent = self.queue.lock().ok().and_then(|q| q.as_ref().map(|q| q.send(job)));
        if let Some(Err(mpsc::SendError(job))) = sent {
            let _ = job.reply.send(Err(StoreError::Failed("store is closed".into())));
        }
        // Without a queue (closing) the job was dropped: its receiver
        // resolves as an error, which callers treat as a failure (503).
        async move {
            rx.await
                .unwrap_or_else(|_| Err(StoreError::Failed("the writer stopped".into())))
        }
    }

    fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        self.inner
            .trees
            .principals
            .iter()
            .values()
            .map(|v| decode_principal(&v.map_err(failed)?))
            .collect()
    }

    fn card(&self, card_id: &CardId) -> Result<Option<CardRecord>, StoreError> {
        let v = self.inner.trees.cards.get(card_id).map_err(failed)?;
        v.map(|v| decode(&v)).transpose()
    }

    fn photo(&self, card_id: &CardId) -> Result<Option<PhotoRecord>, StoreError> {
        let v = self.inner.trees.photos.get(card_id).map_err(failed)?;
        v.map(|v| decode(&v)).transpose()
    }

    fn audit_page(&self, after: u64, limit: usize) -> Result<Vec<(AuditEntry, [u8; 32])>, StoreError> {
        audit_reads::page(&self.inner.trees.audit, after, limit)
    }

    fn audit_last_seq(&self) -> Result<u64, StoreError> {
        Ok(writer::chain_head(&self.inner.trees.audit)?.seq)
    }

    fn audit_verify(&self, checkpoints: std::collections::BTreeMap<u64, String>) -> Result<ChainReport, StoreError> {
        let mut report = audit_reads::verify(&self.inner.trees.audit, checkpoints)?;
        report.index = Some(self.inner.audit_index.check(&self.inner.trees.audit)?);
        Ok(report)
    }

    fn audit_about(&self, subject: Option<&str>) -> Result<crate::domain::audit::AuditAbout, StoreError> {
        self.inner.audit_index.about(&self.inner.trees.audit, subject)
    }

    fn tlog_stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, crate::domain::tlog::TreeError> {
        super::tlog::stored(&self.inner.trees.tlog, level, from, to)
    }

    fn tlog_size(&self) -> Result<u64, StoreError> {
        super::tlog::size(&self.inner.trees.tlog)
    }

    fn audit_head(&self) -> Result<(u64, String), StoreError> {
        let h = writer::chain_head(&self.inner.trees.audit)?;
        Ok((h.seq, crate::domain::audit::format_hash(&h.hash)))
    }

    fn scan_epochs(&self) -> Result<Vec<EpochId>, StoreError> {
        let tree = &self.inner.trees.scans;
        let mut out = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        while let Some(kv) = tree.range(from.clone()..).next() {
            let (k, _) = kv.map_err(failed)?;
            let Some(epoch) = EpochId::from_prefix(&k) else { break };
            out.push(epoch);
            // Jump past every key of this epoch.
            let next = EpochId {
                index: epoch.index.saturating_add(1),
                ..epoch
            };
            if next.index == epoch.index {
                break;
            }
            from = next.prefix().to_vec();
        }
        Ok(out)
    }

    fn scans_of(&self, epoch: EpochId) -> Result<Vec<ScanRef>, StoreError> {
        self.inner
            .trees
            .scans
            .scan_prefix(epoch.prefix())
            .keys()
            .map(|k| {
                let k = k.map_err(failed)?;
                keys::scan_ref(epoch, &k).ok_or_else(|| failed("bad scan key"))
            })
            .collect()
    }

    fn due_entries(&self, until: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
        let end = keys::due(Due {
            at: until,
            card_id: [0xFF; 32],
        });
        self.inner
            .trees
            .due
            .range(..=end)
            .keys()
            .take(limit)
            .map(|k| keys::due_of(&k.map_err(failed)?).ok_or_else(|| failed("bad due key")))
            .collect()
    }

    fn card_page(&self, after: Option<CardId>, limit: usize) -> Result<Vec<(CardId, CardRecord)>, StoreError> {
        let tree = &self.inner.trees.cards;
        let iter = match after {
            Some(a) => tree.range((std::ops::Bound::Excluded(a.to_vec()), std::ops::Bound::Unbounded)),
            None => tree.range::<Vec<u8>, _>(..),
        };
        iter.take(limit)
            .map(|kv| {
                let (k, v) = kv.map_err(failed)?;
                let id: CardId = k.as_ref().try_into().map_err(|_| failed("bad card key"))?;
                Ok((id, decode(&v)?))
            })
            .collect()
    }

    fn erased_count(&self) -> Result<u64, StoreError> {
        let v = self.inner.trees.meta.get(META_ERASED).map_err(failed)?;
        Ok(v.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes))
    }

    fn card_count(&self) -> Result<u64, StoreError> {
        Ok(self.inner.trees.cards.len() as u64)
    }

    fn card_scans(&self, card_id: &CardId, epochs: &[EpochId]) -> Result<Vec<(EpochId, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for epoch in epochs {
            let mut prefix = epoch.prefix().to_vec();
            prefix.extend_from_slice(card_id);
            for kv in self.inner.trees.scans.scan_prefix(prefix) {
                let (_, v) = kv.map_err(failed)?;
                out.push((*epoch, v.to_vec()));
            }
        }
        Ok(out)
    }

    fn held_scans(&self, hold_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner
            .trees
            .held_scans
            .scan_prefix(keys::held_prefix(hold_id))
            .values()
            .map(|v| v.map(|v| v.to_vec()).map_err(failed))
            .collect()
    }

    fn policy_versions(&self) -> Result<Vec<crate::domain::policy_version::PolicyVersion>, StoreError> {
        decode_all(&self.inner.trees.policies)
    }

    fn policy_tests(&self) -> Result<std::collections::BTreeMap<u64, Vec<u8>>, StoreError> {
        self.inner
            .trees
            .policy_tests
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(failed)?;
                let version = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| failed("bad version key"))?);
                Ok((version, v.to_vec()))
            })
            .collect()
    }

    fn staff_keys(&self, id: &str) -> Result<Option<crate::domain::staff::StaffKeys>, StoreError> {
        match self.inner.trees.staff_keys.get(id.as_bytes()).map_err(failed)? {
            Some(v) => decode(&v).map(Some),
            None => Ok(None),
        }
    }

    fn holds(&self) -> Result<Vec<crate::domain::holds::Hold>, StoreError> {
        decode_all(&self.inner.trees.holds)
    }

    fn card_for_commitment(&self, commitment: &crate::crypto::Commitment) -> Result<Option<CardId>, StoreError> {
        let v = self.inner.trees.commitments.get(commitment).map_err(failed)?;
        Ok(v.and_then(|v| v.as_ref().try_into().ok()))
    }

    fn legal_request(&self, id: &str) -> Result<Option<crate::domain::legal::LegalRecord>, StoreError> {
        let v = self.inner.trees.legal.get(id.as_bytes()).map_err(failed)?;
        v.map(|v| decode(&v)).transpose()
    }

    fn legal_summaries(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let records: Vec<crate::domain::legal::LegalRecord> = decode_all(&self.inner.trees.legal)?;
        let mut out: Vec<(i64, Vec<u8>)> = records.into_iter().map(|r| (r.at, r.summary)).collect();
        out.sort_by_key(|(at, _)| *at);
        Ok(out)
    }

    fn notices(&self) -> Result<Vec<crate::domain::legal::Notice>, StoreError> {
        decode_all(&self.inner.trees.notices)
    }

    fn counter_queue(&self, limit: usize) -> Result<Vec<CardId>, StoreError> {
        self.inner
            .trees
            .counter
            .iter()
            .keys()
            .take(limit)
            .map(|k| {
                let k = k.map_err(failed)?;
                k.as_ref().try_into().map_err(|_| failed("bad counter key"))
            })
            .collect()
    }

    fn honey_cards(&self) -> Result<Vec<crate::domain::honey::StoredHoneyCard>, StoreError> {
        self.inner
            .trees
            .honey
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(failed)?;
                Ok(crate::domain::honey::StoredHoneyCard {
                    key: k.to_vec(),
                    sealed: v.to_vec(),
                })
            })
            .collect()
    }

    fn scan_count(&self) -> Result<u64, StoreError> {
        Ok(self.inner.trees.scans.len() as u64)
    }

    fn status_list(&self, list: u32) -> Result<Option<crate::domain::credential::ListBits>, StoreError> {
        let tree = &self.inner.trees.credentials;
        super::credentials::read_list(|k| tree.get(k).map(|v| v.map(|v| v.to_vec())), list).map_err(failed)
    }

    fn legacy_credentials(&self) -> Result<Vec<CardId>, StoreError> {
        let tree = &self.inner.trees.credentials;
        let mut keys = Vec::new();
        for prefix in [b"c", b"r"] {
            for k in tree.scan_prefix(prefix).keys() {
                keys.push(k.map_err(failed)?.to_vec());
            }
        }
        Ok(super::credentials::legacy_cards(keys.into_iter()))
    }

    fn flush(&self) -> Result<(), StoreError> {
        if self.inner.failed.load(Ordering::SeqCst) {
            return Err(StoreError::Failed("an earlier write failed".into()));
        }
        self.inner.db.flush().map(|_| ()).map_err(failed)
    }
}
