//! The store interface over PostgreSQL: reads on pooled connections, and
//! `commit`, queued to the writer.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use postgres::types::{ToSql, Type};
use postgres::Client;
use tokio::sync::oneshot;

use super::{failed, PgStore};
use crate::crypto::EpochId;
use crate::domain::audit::{self, AuditAbout, AuditEntry, ChainReport, ChainVerifier, IndexStatus};
use crate::domain::card::{CardId, CardRecord, PhotoRecord};
use crate::domain::principal::Principal;
use crate::domain::store::{Commit, CommitResult, Due, ScanRef, Store, StoreError};
use crate::domain::tlog::{collect_runs, TreeError};
use crate::store::changes::TreeName;
use crate::store::{decode, decode_principal, keys, writer, META_ERASED};

/// Entries read per page when walking the chain.
const PAGE: i64 = 10_000;

/// The first key after every key that starts with `prefix` (none when the
/// prefix is all 0xFF).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Keys and values, in key order.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Which keys of a tree a scan reads.
struct Range<'a> {
    tree: TreeName,
    /// Keys at or after (or, with `after`, strictly after) this one.
    from: &'a [u8],
    after: bool,
    /// Keys before this one (none: to the end).
    to: Option<Vec<u8>>,
    limit: Option<i64>,
}

impl<'a> Range<'a> {
    fn all(tree: TreeName) -> Self {
        Self {
            tree,
            from: &[],
            after: false,
            to: None,
            limit: None,
        }
    }

    fn prefix(tree: TreeName, prefix: &'a [u8]) -> Self {
        Self {
            tree,
            from: prefix,
            after: false,
            to: prefix_end(prefix),
            limit: None,
        }
    }
}

/// Keys and values in key order (bytea compares bytewise, as sled does).
fn scan(c: &mut Client, r: &Range<'_>) -> Result<Pairs, postgres::Error> {
    let op = if r.after { ">" } else { ">=" };
    let upper = if r.to.is_some() {
        "AND key < $3"
    } else {
        "AND $3::bytea IS NULL"
    };
    let sql = format!("SELECT key, value FROM kv WHERE tree = $1 AND key {op} $2 {upper} ORDER BY key LIMIT $4");
    let params: [&(dyn ToSql + Sync); 4] = [&r.tree.name(), &r.from, &r.to, &r.limit];
    Ok(c.query(&sql, &params)?
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

/// One value: one round trip (typed parameters, no statement to prepare).
fn get(c: &mut Client, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, postgres::Error> {
    Ok(c.query_typed_opt(
        "SELECT value FROM kv WHERE tree = $1 AND key = $2",
        &[(&tree.name(), Type::TEXT), (&key, Type::BYTEA)],
    )?
    .map(|r| r.get(0)))
}

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn entries(rows: Vec<postgres::Row>) -> Result<Vec<(AuditEntry, [u8; 32])>, StoreError> {
    rows.into_iter()
        .map(|row| {
            let stored: Vec<u8> = row.get(0);
            audit::decode(&stored).map(|(h, e)| (e, h)).map_err(failed)
        })
        .collect()
}

impl PgStore {
    fn get(&self, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| get(c, tree, key))
    }

    fn scan(&self, range: &Range<'_>) -> Result<Pairs, StoreError> {
        self.read(|c| scan(c, range))
    }

    fn values<T: serde::de::DeserializeOwned>(&self, tree: TreeName) -> Result<Vec<T>, StoreError> {
        self.scan(&Range::all(tree))?.iter().map(|(_, v)| decode(v)).collect()
    }

    fn count(&self, tree: TreeName) -> Result<u64, StoreError> {
        let n: i64 = self.read(|c| {
            c.query_one("SELECT count(*) FROM kv WHERE tree = $1", &[&tree.name()])
                .map(|r| r.get(0))
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Entries whose rows match `condition` (a clause over `subject` and
    /// `certificate`), oldest first.
    fn audit_where(&self, condition: &str, subject: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!("SELECT stored FROM audit WHERE {condition} ORDER BY seq");
        let rows = self.read(|c| match subject {
            Some(s) => c.query(&sql, &[&s]),
            None => c.query(&sql, &[]),
        })?;
        Ok(entries(rows)?.into_iter().map(|(e, _)| e).collect())
    }
}

impl Store for PgStore {
    fn commit(&self, commit: Commit) -> impl std::future::Future<Output = CommitResult> + Send {
        let (reply, rx) = oneshot::channel();
        let job = writer::Job { commit, reply };
        let sent = self.queue.lock().ok().and_then(|q| q.as_ref().map(|q| q.send(job)));
        if let Some(Err(mpsc::SendError(job))) = sent {
            let _ = job.reply.send(Err(StoreError::Failed("store is closed".into())));
        }
        async move {
            rx.await
                .unwrap_or_else(|_| Err(StoreError::Failed("the writer stopped".into())))
        }
    }

    fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        self.scan(&Range::all(TreeName::Principals))?
            .iter()
            .map(|(_, v)| decode_principal(v))
            .collect()
    }

    fn card(&self, card_id: &CardId) -> Result<Option<CardRecord>, StoreError> {
        self.get(TreeName::Cards, card_id)?.map(|v| decode(&v)).transpose()
    }

    fn photo(&self, card_id: &CardId) -> Result<Option<PhotoRecord>, StoreError> {
        self.get(TreeName::Photos, card_id)?.map(|v| decode(&v)).transpose()
    }

    fn audit_page(&self, after: u64, limit: usize) -> Result<Vec<(AuditEntry, [u8; 32])>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.read(|c| {
            c.query(
                "SELECT stored FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&seq_param(after), &limit],
            )
        })?;
        entries(rows)
    }

    fn audit_about(&self, subject: Option<&str>) -> Result<AuditAbout, StoreError> {
        let entries = match subject {
            Some(s) => self.audit_where("subject = $1", Some(s))?,
            None => Vec::new(),
        };
        Ok(AuditAbout {
            entries,
            certificates: self.audit_where("certificate", None)?,
        })
    }

    fn audit_last_seq(&self) -> Result<u64, StoreError> {
        Ok(self.audit_head()?.0)
    }

    fn audit_verify(&self, checkpoints: std::collections::BTreeMap<u64, String>) -> Result<ChainReport, StoreError> {
        let mut v = ChainVerifier::with_checkpoints(checkpoints);
        let (mut after, mut keys, mut consistent) = (0i64, 0u64, true);
        loop {
            let rows = self.read(|c| {
                c.query(
                    "SELECT seq, subject, certificate, stored FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &PAGE],
                )
            })?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            for row in &rows {
                let seq: i64 = row.get(0);
                let subject: Option<String> = row.get(1);
                let certificate: bool = row.get(2);
                let stored: Vec<u8> = row.get(3);
                // The index columns must say what the entry says.
                match audit::decode(&stored) {
                    Ok((_, e)) => consistent &= e.subject == subject && e.certificate.is_some() == certificate,
                    Err(_) => consistent = false,
                }
                keys += u64::from(subject.is_some()) + u64::from(certificate);
                v.feed(u64::try_from(seq).unwrap_or(0), &stored);
            }
        }
        let mut report = v.finish();
        if !consistent {
            tracing::warn!("the audit table's subject or certificate columns disagree with its entries");
        }
        report.index = Some(IndexStatus {
            consistent,
            rebuilt: false,
            indexed_through: u64::try_from(after).unwrap_or(0),
            keys,
        });
        Ok(report)
    }

    fn tlog_stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, TreeError> {
        let runs = self
            .read(|c| super::tlog::runs(c, level, from, to))
            .map_err(|e| TreeError::Store(e.to_string()))?;
        collect_runs(level, from, to, runs.into_iter().map(Ok))
    }

    fn tlog_size(&self) -> Result<u64, StoreError> {
        self.read(super::tlog::size)
    }

    fn audit_head(&self) -> Result<(u64, String), StoreError> {
        let (seq, hash): (i64, Vec<u8>) = self.read(|c| {
            c.query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])
                .map(|r| (r.get(0), r.get(1)))
        })?;
        let hash: [u8; 32] = hash.try_into().map_err(|_| failed("bad chain head"))?;
        Ok((u64::try_from(seq).unwrap_or(0), audit::format_hash(&hash)))
    }

    fn scan_epochs(&self) -> Result<Vec<EpochId>, StoreError> {
        let mut out = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        loop {
            let first = self.scan(&Range {
                limit: Some(1),
                from: &from,
                ..Range::all(TreeName::Scans)
            })?;
            let Some((k, _)) = first.first() else { break };
            let Some(epoch) = EpochId::from_prefix(k) else { break };
            out.push(epoch);
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
        let prefix = epoch.prefix();
        self.scan(&Range::prefix(TreeName::Scans, &prefix))?
            .iter()
            .map(|(k, _)| keys::scan_ref(epoch, k).ok_or_else(|| failed("bad scan key")))
            .collect()
    }

    fn due_entries(&self, until: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
        let end = keys::due(Due {
            at: until,
            card_id: [0xFF; 32],
        });
        self.scan(&Range {
            to: prefix_end(&end),
            limit: Some(i64::try_from(limit).unwrap_or(i64::MAX)),
            ..Range::all(TreeName::Due)
        })?
        .iter()
        .map(|(k, _)| keys::due_of(k).ok_or_else(|| failed("bad due key")))
        .collect()
    }

    fn card_page(&self, after: Option<CardId>, limit: usize) -> Result<Vec<(CardId, CardRecord)>, StoreError> {
        let from = after.map(|a| a.to_vec()).unwrap_or_default();
        self.scan(&Range {
            from: &from,
            after: after.is_some(),
            limit: Some(i64::try_from(limit).unwrap_or(i64::MAX)),
            ..Range::all(TreeName::Cards)
        })?
        .iter()
        .map(|(k, v)| {
            let id: CardId = k.as_slice().try_into().map_err(|_| failed("bad card key"))?;
            Ok((id, decode(v)?))
        })
        .collect()
    }

    fn erased_count(&self) -> Result<u64, StoreError> {
        let v = self.get(TreeName::Meta, META_ERASED)?;
        Ok(v.and_then(|v| v.as_slice().try_into().ok())
            .map_or(0, u64::from_be_bytes))
    }

    fn card_count(&self) -> Result<u64, StoreError> {
        self.count(TreeName::Cards)
    }

    fn card_scans(&self, card_id: &CardId, epochs: &[EpochId]) -> Result<Vec<(EpochId, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for epoch in epochs {
            let mut prefix = epoch.prefix().to_vec();
            prefix.extend_from_slice(card_id);
            for (_, v) in self.scan(&Range::prefix(TreeName::Scans, &prefix))? {
                out.push((*epoch, v));
            }
        }
        Ok(out)
    }

    fn held_scans(&self, hold_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let prefix = keys::held_prefix(hold_id);
        Ok(self
            .scan(&Range::prefix(TreeName::HeldScans, &prefix))?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    fn policy_versions(&self) -> Result<Vec<crate::domain::policy_version::PolicyVersion>, StoreError> {
        self.values(TreeName::Policies)
    }

    fn policy_tests(&self) -> Result<std::collections::BTreeMap<u64, Vec<u8>>, StoreError> {
        self.scan(&Range::all(TreeName::PolicyTests))?
            .into_iter()
            .map(|(k, v)| {
                let version = u64::from_be_bytes(k.as_slice().try_into().map_err(|_| failed("bad version key"))?);
                Ok((version, v))
            })
            .collect()
    }

    fn staff_keys(&self, id: &str) -> Result<Option<crate::domain::staff::StaffKeys>, StoreError> {
        self.get(TreeName::StaffKeys, id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn holds(&self) -> Result<Vec<crate::domain::holds::Hold>, StoreError> {
        self.values(TreeName::Holds)
    }

    fn card_for_commitment(&self, commitment: &crate::crypto::Commitment) -> Result<Option<CardId>, StoreError> {
        let v = self.get(TreeName::Commitments, commitment)?;
        Ok(v.and_then(|v| v.as_slice().try_into().ok()))
    }

    fn legal_request(&self, id: &str) -> Result<Option<crate::domain::legal::LegalRecord>, StoreError> {
        self.get(TreeName::Legal, id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn legal_summaries(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let records: Vec<crate::domain::legal::LegalRecord> = self.values(TreeName::Legal)?;
        let mut out: Vec<(i64, Vec<u8>)> = records.into_iter().map(|r| (r.at, r.summary)).collect();
        out.sort_by_key(|(at, _)| *at);
        Ok(out)
    }

    fn notices(&self) -> Result<Vec<crate::domain::legal::Notice>, StoreError> {
        self.values(TreeName::Notices)
    }

    fn counter_queue(&self, limit: usize) -> Result<Vec<CardId>, StoreError> {
        self.scan(&Range {
            limit: Some(i64::try_from(limit).unwrap_or(i64::MAX)),
            ..Range::all(TreeName::Counter)
        })?
        .iter()
        .map(|(k, _)| k.as_slice().try_into().map_err(|_| failed("bad counter key")))
        .collect()
    }

    fn honey_cards(&self) -> Result<Vec<crate::domain::honey::StoredHoneyCard>, StoreError> {
        Ok(self
            .scan(&Range::all(TreeName::Honey))?
            .into_iter()
            .map(|(key, sealed)| crate::domain::honey::StoredHoneyCard { key, sealed })
            .collect())
    }

    fn scan_count(&self) -> Result<u64, StoreError> {
        self.count(TreeName::Scans)
    }

    fn status_list(&self, list: u32) -> Result<Option<crate::domain::credential::ListBits>, StoreError> {
        crate::store::credentials::read_list(|k| self.get(TreeName::Credentials, k), list)
    }

    fn legacy_credentials(&self) -> Result<Vec<CardId>, StoreError> {
        let mut keys = Vec::new();
        for prefix in [b"c", b"r"] {
            keys.extend(
                self.scan(&Range::prefix(TreeName::Credentials, prefix))?
                    .into_iter()
                    .map(|(k, _)| k),
            );
        }
        Ok(crate::store::credentials::legacy_cards(keys.into_iter()))
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every acknowledged group was committed (and its WAL flushed) by PostgreSQL.
        if self.shared.failed.load(Ordering::SeqCst) {
            return Err(StoreError::Failed("an earlier write failed".into()));
        }
        Ok(())
    }
}
