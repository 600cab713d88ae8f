//! `keys/cluster-ledger.json`: what is still to be sent to which node —
//! names of keys made or destroyed here, which nodes acknowledged each, and
//! for a destruction the certificate to write once every node has. No key
//! material: a name says which key, never what it is. Rewritten durably
//! (temporary file, fsync, rename, directory fsync) on every change, so a
//! restart resumes where the last one stopped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const LEDGER_FILE: &str = "cluster-ledger.json";

/// What an entry asks of every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Take this key (sent with what the file holds, read when sent).
    Key,
    /// Destroy this key.
    Destroyed,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: u64,
    pub op: Op,
    pub name: String,
    /// The nodes that acknowledged it.
    #[serde(default)]
    pub acked: BTreeSet<String>,
    /// For a destruction: what to record once every node has destroyed the
    /// key (opaque here; the vault writes it as a certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<serde_json::Value>,
    /// For `keyring.toml` (no secret in it): its content when queued, sent
    /// as it was then, not as the file is when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    next: u64,
    entries: Vec<Entry>,
    #[serde(skip)]
    path: PathBuf,
}

impl Ledger {
    /// Reads the ledger in `dir`, or starts an empty one.
    ///
    /// # Errors
    /// The file exists but does not read as a ledger.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join(LEDGER_FILE);
        let mut ledger = if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            Self::default()
        };
        ledger.path = path;
        Ok(ledger)
    }

    fn save(&self) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        crate::crypto::write_secret_file(&self.path, &text).map_err(|e| e.to_string())?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        Ok(())
    }

    /// Appends an entry, durably; returns its id.
    ///
    /// # Errors
    /// The ledger cannot be written.
    pub fn push(&mut self, op: Op, name: &str, then: Option<serde_json::Value>) -> Result<u64, String> {
        let id = self.next;
        self.next += 1;
        self.entries.push(Entry {
            id,
            op,
            name: name.to_owned(),
            acked: BTreeSet::new(),
            then,
            manifest: None,
        });
        self.save()?;
        Ok(id)
    }

    /// Queues `keyring.toml` as it is now (`content`).
    ///
    /// # Errors
    /// The ledger cannot be written.
    pub fn push_manifest(&mut self, name: &str, content: String) -> Result<u64, String> {
        let id = self.next;
        self.next += 1;
        self.entries.push(Entry {
            id,
            op: Op::Key,
            name: name.to_owned(),
            acked: BTreeSet::new(),
            then: None,
            manifest: Some(content),
        });
        self.save()?;
        Ok(id)
    }

    /// The entries `node` has not acknowledged, oldest first.
    #[must_use]
    pub fn unacked_by(&self, node: &str) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| !e.acked.contains(node))
            .cloned()
            .collect()
    }

    /// Records `node`'s acknowledgement of entry `id`, and drops the
    /// entries every node of `nodes` acknowledged that wait for nothing
    /// else (a destruction with a certificate stays until it is written).
    ///
    /// # Errors
    /// The ledger cannot be written.
    pub fn ack(&mut self, id: u64, node: &str, nodes: &[String]) -> Result<(), String> {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.acked.insert(node.to_owned());
        }
        self.drop_done(nodes);
        self.save()
    }

    /// Drops the entries every node acknowledged that wait for nothing
    /// else; whether there were any.
    fn drop_done(&mut self, nodes: &[String]) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|e| e.then.is_some() || !nodes.iter().all(|n| e.acked.contains(n)));
        self.entries.len() != before
    }

    /// Drops what every node of `nodes` acknowledged and waits for nothing
    /// else (at start: a node removed from the configuration is no longer
    /// waited for).
    ///
    /// # Errors
    /// The ledger cannot be written.
    pub fn prune(&mut self, nodes: &[String]) -> Result<(), String> {
        if self.drop_done(nodes) {
            self.save()
        } else {
            Ok(())
        }
    }

    /// Destructions every node acknowledged whose certificate is not yet
    /// written: `(id, certificate)`.
    #[must_use]
    pub fn complete(&self, nodes: &[String]) -> Vec<(u64, serde_json::Value)> {
        self.entries
            .iter()
            .filter(|e| nodes.iter().all(|n| e.acked.contains(n)))
            .filter_map(|e| e.then.clone().map(|t| (e.id, t)))
            .collect()
    }

    /// Drops entry `id` (its certificate written).
    ///
    /// # Errors
    /// The ledger cannot be written.
    pub fn remove(&mut self, id: u64) -> Result<(), String> {
        self.entries.retain(|e| e.id != id);
        self.save()
    }

    /// The key-file entry for `name` some node has not acknowledged.
    #[must_use]
    pub fn unacked_key(&self, name: &str) -> Option<u64> {
        self.entries
            .iter()
            .find(|e| e.op == Op::Key && e.name == name)
            .map(|e| e.id)
    }

    /// Whether entry `id` is still here.
    #[must_use]
    pub fn contains(&self, id: u64) -> bool {
        self.entries.iter().any(|e| e.id == id)
    }

    /// How many entries still wait (for a node, or for their certificate).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_wait_for_every_node_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = vec!["b".to_owned(), "c".to_owned()];
        let mut l = Ledger::load(dir.path()).unwrap();
        let key = l.push(Op::Key, "kek-1.key", None).unwrap();
        let gone = l
            .push(Op::Destroyed, "scan-1s-1.key", Some(serde_json::json!({"c": 1})))
            .unwrap();
        l.ack(key, "b", &nodes).unwrap();
        l.ack(gone, "b", &nodes).unwrap();
        let mut again = Ledger::load(dir.path()).unwrap();
        assert_eq!(again.pending(), 2);
        assert_eq!(again.unacked_by("b").len(), 0);
        assert_eq!(again.unacked_by("c").len(), 2);
        assert!(again.complete(&nodes).is_empty());
        again.ack(key, "c", &nodes).unwrap();
        again.ack(gone, "c", &nodes).unwrap();
        assert_eq!(
            again.pending(),
            1,
            "the key is done; the destruction waits for its certificate"
        );
        assert_eq!(again.complete(&nodes), vec![(gone, serde_json::json!({"c": 1}))]);
        again.remove(gone).unwrap();
        assert_eq!(Ledger::load(dir.path()).unwrap().pending(), 0);
        // A node taken out of the cluster is no longer waited for.
        let key = again.push(Op::Key, "kek-2.key", None).unwrap();
        again.ack(key, "b", &nodes).unwrap();
        assert_eq!(again.pending(), 1);
        again.prune(&["b".to_owned()]).unwrap();
        assert_eq!(Ledger::load(dir.path()).unwrap().pending(), 0);
    }
}
