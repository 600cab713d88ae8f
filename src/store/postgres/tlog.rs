//! PostgreSQL's side of the transparency log (`domain::tlog`): the `tlog`
//! table's runs (`level`, `first` → hashes), inserted in the group's
//! transaction with their entries; and, when the writer starts, the tree
//! brought up to the chain (a database from before the tree).

use std::cell::RefCell;

use postgres::{Client, GenericClient};

use super::failed;
use crate::domain::store::StoreError;
use crate::domain::tlog::{collect_runs, leaf_hash, Frontier, Runs, StoredHashes, TreeError};

fn param(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The runs that hold level `level`'s hashes `from..to`, in order.
pub(super) fn runs(
    c: &mut impl GenericClient,
    level: u8,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, Vec<u8>)>, postgres::Error> {
    let rows = c.query(
        "SELECT first, hashes FROM tlog WHERE level = $1 AND first < $3 AND first >= \
         (SELECT coalesce(max(first), 0) FROM tlog WHERE level = $1 AND first <= $2) ORDER BY first",
        &[&i16::from(level), &param(from), &param(to)],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| (u64::try_from(r.get::<_, i64>(0)).unwrap_or(u64::MAX), r.get(1)))
        .collect())
}

/// Entries in the tree: the end of level 0's last run.
pub(super) fn size(c: &mut impl GenericClient) -> Result<u64, postgres::Error> {
    let row = c.query_opt(
        "SELECT first, length(hashes) FROM tlog WHERE level = 0 ORDER BY first DESC LIMIT 1",
        &[],
    )?;
    Ok(row.map_or(0, |r| {
        u64::try_from(r.get::<_, i64>(0)).unwrap_or(0) + u64::try_from(r.get::<_, i32>(1)).unwrap_or(0) / 32
    }))
}

/// Inserts a group's runs inside its transaction.
pub(super) fn insert(tx: &mut impl GenericClient, runs: &mut Runs) -> Result<(), postgres::Error> {
    let (mut levels, mut firsts, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for (level, first, bytes) in runs.take() {
        levels.push(i16::from(level));
        firsts.push(param(first));
        hashes.push(bytes);
    }
    if levels.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO tlog (level, first, hashes) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
        &[&levels, &firsts, &hashes],
    )?;
    Ok(())
}

struct OnClient<'a>(RefCell<&'a mut Client>);

impl StoredHashes for OnClient<'_> {
    fn stored(&self, level: u8, from: u64, to: u64) -> Result<Vec<[u8; 32]>, TreeError> {
        let found = runs(&mut **self.0.borrow_mut(), level, from, to).map_err(|e| TreeError::Store(e.to_string()))?;
        collect_runs(level, from, to, found.into_iter().map(Ok))
    }
}

/// Entries the catch-up reads per transaction.
const PAGE: i64 = 10_000;

/// The tree's right edge when the writer starts, brought up to the chain
/// (each page of entries added in a transaction of its own).
pub(super) fn open(client: &mut Client) -> Result<Frontier, StoreError> {
    let head: i64 = client
        .query_one("SELECT seq FROM audit_head WHERE id = 1", &[])
        .map_err(failed)?
        .get(0);
    let head = u64::try_from(head).map_err(failed)?;
    let at = size(client).map_err(failed)?;
    if at > head {
        return Err(StoreError::Failed(crate::domain::tlog::tree_past_chain(at, head)));
    }
    let mut frontier = Frontier::load(&OnClient(RefCell::new(client)), at)
        .map_err(|e| StoreError::Failed(format!("audit tree: {e}")))?;
    if at < head {
        tracing::info!(from = at, to = head, "adding audit entries to the Merkle tree");
    }
    while frontier.size() < head {
        let mut tx = client.transaction().map_err(failed)?;
        let rows = tx
            .query(
                "SELECT seq, stored FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&param(frontier.size()), &PAGE],
            )
            .map_err(failed)?;
        if rows.is_empty() {
            return Err(failed("the audit chain is shorter than its head"));
        }
        let mut runs = Runs::default();
        for r in rows {
            let seq = u64::try_from(r.get::<_, i64>(0)).map_err(failed)?;
            let stored: Vec<u8> = r.get(1);
            if seq != frontier.size() + 1 {
                return Err(failed("the audit chain has a gap"));
            }
            let canonical = stored.get(32..).ok_or_else(|| failed("bad audit entry"))?;
            frontier.push(leaf_hash(canonical), &mut runs);
        }
        insert(&mut tx, &mut runs).map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(frontier)
}
