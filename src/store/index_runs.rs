//! The audit index's files under `data/audit-index/`: sorted, immutable runs
//! of fixed-size records (a subject's 16-byte digest ‖ a sequence number) and
//! the manifest that names them.
//!
//! A run is written to a temporary name, synced and renamed before the
//! manifest that lists it is written (the same way: temporary, sync, rename,
//! sync the directory). Files the manifest does not list are leftovers of a
//! crash and are deleted when the index is loaded. Every run carries the
//! SHA-256 of its records, checked when it is loaded and by `audit verify`.
//!
//! Run file: `CVAIRUN1` ‖ from ‖ to ‖ count (u64 BE each) ‖ SHA-256 of the
//! records ‖ the records sorted by (digest, seq), covering entries
//! `from < seq ≤ to`. Manifest: `CVAIMAN1` ‖ watermark ‖ the chain's hash at
//! the watermark ‖ next run id ‖ run count ‖ (id, from, to, count, SHA-256)
//! per run ‖ SHA-256 of everything before it.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::failed;
use crate::domain::store::StoreError;

pub(crate) const KEY: usize = 16;
pub(crate) const RECORD: usize = KEY + 8;
const HEADER: usize = 8 + 24 + 32;
const RUN_MAGIC: &[u8; 8] = b"CVAIRUN1";
const MANIFEST_MAGIC: &[u8; 8] = b"CVAIMAN1";
const MANIFEST: &str = "manifest";
/// Records per fence: a lookup reads one block of this many records per run.
const FENCE: usize = 256;
/// Bytes read at a time when streaming a run.
const CHUNK: usize = 4096 * RECORD;

/// A subject's digest in the index.
pub(crate) type Key = [u8; KEY];

/// One index record: an entry with sequence number `seq` is about `key`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Record {
    pub key: Key,
    pub seq: u64,
}

impl Record {
    pub(crate) fn encode(self) -> [u8; RECORD] {
        let mut out = [0u8; RECORD];
        out[..KEY].copy_from_slice(&self.key);
        out[KEY..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(Self {
            key: bytes.get(..KEY)?.try_into().ok()?,
            seq: u64::from_be_bytes(bytes.get(KEY..RECORD)?.try_into().ok()?),
        })
    }
}

/// What the manifest says about one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunMeta {
    pub id: u64,
    pub from: u64,
    pub to: u64,
    pub count: u64,
    pub sha: [u8; 32],
}

/// An open run: its file and the first key of every `FENCE` records.
pub(crate) struct Run {
    pub meta: RunMeta,
    file: File,
    fences: Vec<Key>,
}

fn run_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("run-{id:016x}.idx"))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn record_offset(i: u64) -> u64 {
    HEADER as u64 + i * RECORD as u64
}

/// Creates (or empties) a file only the owner can read.
fn create_private(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)
}

/// Creates the index's directory, owner-only, if it is not there.
pub(crate) fn create_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(failed)
}

/// Makes renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(failed)
}

impl Run {
    /// Opens a run the manifest lists, checking its header, size and records.
    pub(crate) fn open(dir: &Path, meta: RunMeta) -> Result<Self, String> {
        let name = format!("run {:016x}", meta.id);
        let file = File::open(run_path(dir, meta.id)).map_err(|e| format!("{name}: {e}"))?;
        let len = file.metadata().map_err(|e| format!("{name}: {e}"))?.len();
        if len != record_offset(meta.count) {
            return Err(format!("{name}: {len} bytes, expected {}", record_offset(meta.count)));
        }
        let mut header = [0u8; HEADER];
        file.read_exact_at(&mut header, 0).map_err(|e| format!("{name}: {e}"))?;
        let said = (u64_at(&header, 8), u64_at(&header, 16), u64_at(&header, 24));
        if &header[..8] != RUN_MAGIC
            || said != (Some(meta.from), Some(meta.to), Some(meta.count))
            || header[32..] != meta.sha
        {
            return Err(format!("{name}: its header disagrees with the manifest"));
        }
        let mut run = Self {
            meta,
            file,
            fences: Vec::new(),
        };
        let (mut sha, mut fences, mut prev) = (Sha256::new(), Vec::new(), None);
        let mut i = 0usize;
        run.each_chunk(|chunk| {
            sha.update(chunk);
            for r in chunk.chunks_exact(RECORD).filter_map(Record::decode) {
                if prev.is_some_and(|p| p >= r) || r.seq <= meta.from || r.seq > meta.to {
                    return Err(StoreError::Failed("out of order".into()));
                }
                if i.is_multiple_of(FENCE) {
                    fences.push(r.key);
                }
                prev = Some(r);
                i += 1;
            }
            Ok(())
        })
        .map_err(|e| format!("{name}: {e}"))?;
        if <[u8; 32]>::from(sha.finalize()) != meta.sha {
            return Err(format!("{name}: its records do not match their checksum"));
        }
        run.fences = fences;
        Ok(run)
    }

    /// Calls `f` with the run's records, a chunk (whole records) at a time.
    pub(crate) fn each_chunk(&self, mut f: impl FnMut(&[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let end = record_offset(self.meta.count);
        let mut at = HEADER as u64;
        let mut buf = vec![0u8; CHUNK];
        while at < end {
            let n = usize::try_from((end - at).min(CHUNK as u64)).map_err(failed)?;
            self.file.read_exact_at(&mut buf[..n], at).map_err(failed)?;
            f(&buf[..n])?;
            at += n as u64;
        }
        Ok(())
    }

    /// The seqs recorded under `key`, ascending, appended to `out`.
    pub(crate) fn lookup(&self, key: &Key, out: &mut Vec<u64>) -> Result<(), StoreError> {
        // Fence `b` is the first key of block `b`; the key's first record is
        // in the last block whose fence is below it (or the first block).
        let mut block = self.fences.partition_point(|f| f < key).saturating_sub(1);
        let mut buf = vec![0u8; FENCE * RECORD];
        loop {
            let first = (block * FENCE) as u64;
            if first >= self.meta.count {
                return Ok(());
            }
            let n = usize::try_from((self.meta.count - first).min(FENCE as u64)).map_err(failed)?;
            let bytes = &mut buf[..n * RECORD];
            self.file.read_exact_at(bytes, record_offset(first)).map_err(failed)?;
            for r in bytes.chunks_exact(RECORD).filter_map(Record::decode) {
                if &r.key > key {
                    return Ok(());
                }
                if &r.key == key {
                    out.push(r.seq);
                }
            }
            block += 1;
        }
    }
}

/// Writes a run from records given in order; nothing is visible under the
/// run's name until it is complete and synced.
pub(crate) struct RunWriter {
    dir: PathBuf,
    id: u64,
    tmp: PathBuf,
    out: BufWriter<File>,
    sha: Sha256,
    count: u64,
    prev: Option<Record>,
}

impl RunWriter {
    pub(crate) fn create(dir: &Path, id: u64) -> Result<Self, StoreError> {
        let tmp = dir.join(format!("run-{id:016x}.tmp"));
        let mut out = BufWriter::with_capacity(CHUNK, create_private(&tmp)?);
        out.write_all(&[0u8; HEADER]).map_err(failed)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            id,
            tmp,
            out,
            sha: Sha256::new(),
            count: 0,
            prev: None,
        })
    }

    pub(crate) fn push(&mut self, r: Record) -> Result<(), StoreError> {
        if self.prev.is_some_and(|p| p >= r) {
            return Err(StoreError::Failed("audit index records out of order".into()));
        }
        let bytes = r.encode();
        self.sha.update(bytes);
        self.out.write_all(&bytes).map_err(failed)?;
        self.count += 1;
        self.prev = Some(r);
        Ok(())
    }

    /// Completes the run covering `from < seq ≤ to` and opens it.
    pub(crate) fn finish(self, from: u64, to: u64) -> Result<Run, StoreError> {
        let file = self.out.into_inner().map_err(|e| failed(e.error()))?;
        let meta = RunMeta {
            id: self.id,
            from,
            to,
            count: self.count,
            sha: self.sha.finalize().into(),
        };
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(RUN_MAGIC);
        header[8..16].copy_from_slice(&from.to_be_bytes());
        header[16..24].copy_from_slice(&to.to_be_bytes());
        header[24..32].copy_from_slice(&self.count.to_be_bytes());
        header[32..].copy_from_slice(&meta.sha);
        file.write_all_at(&header, 0).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        drop(file);
        fs::rename(&self.tmp, run_path(&self.dir, self.id)).map_err(failed)?;
        sync_dir(&self.dir)?;
        Run::open(&self.dir, meta).map_err(StoreError::Failed)
    }
}

/// Merges two adjacent runs (`a` then `b`) into a new one with id `id`.
pub(crate) fn merge(dir: &Path, id: u64, a: &Run, b: &Run) -> Result<Run, StoreError> {
    let read_all = |run: &Run| -> Result<Vec<Record>, StoreError> {
        let mut v = Vec::with_capacity(usize::try_from(run.meta.count).unwrap_or(0));
        run.each_chunk(|c| {
            v.extend(c.chunks_exact(RECORD).filter_map(Record::decode));
            Ok(())
        })?;
        Ok(v)
    };
    // Both are sorted; the smaller is read whole, the larger streamed.
    let (small, large) = if a.meta.count <= b.meta.count { (a, b) } else { (b, a) };
    let small = read_all(small)?;
    let mut w = RunWriter::create(dir, id)?;
    let mut s = small.into_iter().peekable();
    large.each_chunk(|chunk| {
        for r in chunk.chunks_exact(RECORD).filter_map(Record::decode) {
            while let Some(x) = s.next_if(|x| *x < r) {
                w.push(x)?;
            }
            w.push(r)?;
        }
        Ok(())
    })?;
    for x in s {
        w.push(x)?;
    }
    w.finish(a.meta.from, b.meta.to)
}

/// The manifest: the runs in seq order and the watermark they reach.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub upto: u64,
    /// The chain's hash at `upto`: an index made for another chain (data/
    /// restored from a copy, say) is never taken for this one's.
    pub head: [u8; 32],
    pub next_id: u64,
    pub runs: Vec<RunMeta>,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.runs.len() * 64);
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&self.upto.to_be_bytes());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(&self.next_id.to_be_bytes());
        out.extend_from_slice(&(self.runs.len() as u64).to_be_bytes());
        for r in &self.runs {
            for n in [r.id, r.from, r.to, r.count] {
                out.extend_from_slice(&n.to_be_bytes());
            }
            out.extend_from_slice(&r.sha);
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (body, sum) = bytes.split_at(bytes.len().checked_sub(32)?);
        if body.get(..8)? != MANIFEST_MAGIC || Sha256::digest(body).as_slice() != sum {
            return None;
        }
        let n = usize::try_from(u64_at(body, 56)?).ok()?;
        if body.len() != 64 + n.checked_mul(64)? {
            return None;
        }
        let runs = (0..n)
            .map(|i| {
                let at = 64 + i * 64;
                Some(RunMeta {
                    id: u64_at(body, at)?,
                    from: u64_at(body, at + 8)?,
                    to: u64_at(body, at + 16)?,
                    count: u64_at(body, at + 24)?,
                    sha: body.get(at + 32..at + 64)?.try_into().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            upto: u64_at(body, 8)?,
            head: body.get(16..48)?.try_into().ok()?,
            next_id: u64_at(body, 48)?,
            runs,
        })
    }

    /// The manifest in `dir`: `Ok(None)` when there is none, `Err` when it is
    /// unreadable.
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>, String> {
        match fs::read(dir.join(MANIFEST)) {
            Ok(bytes) => Self::decode(&bytes)
                .map(Some)
                .ok_or_else(|| "the manifest is unreadable".to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("the manifest: {e}")),
        }
    }

    /// Replaces the manifest in `dir` atomically and durably.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let tmp = dir.join("manifest.tmp");
        let mut f = create_private(&tmp)?;
        f.write_all(&self.encode()).map_err(failed)?;
        f.sync_all().map_err(failed)?;
        drop(f);
        fs::rename(&tmp, dir.join(MANIFEST)).map_err(failed)?;
        sync_dir(dir)
    }
}

/// Removes every file in `dir` but the runs in `keep` and the manifest
/// (`keep` empty and `manifest_too`: everything).
pub(crate) fn remove_others(dir: &Path, keep: &[u64], manifest_too: bool) -> Result<(), StoreError> {
    let keep: Vec<PathBuf> = keep.iter().map(|id| run_path(dir, *id)).collect();
    for e in fs::read_dir(dir).map_err(failed)? {
        let path = e.map_err(failed)?.path();
        let is_manifest = path.file_name().is_some_and(|n| n == MANIFEST);
        if keep.contains(&path) || (is_manifest && !manifest_too) || !path.is_file() {
            continue;
        }
        fs::remove_file(&path).map_err(failed)?;
    }
    sync_dir(dir)
}

/// Removes the files of the runs `ids` (after a manifest no longer lists them).
pub(crate) fn remove_runs(dir: &Path, ids: &[u64]) -> Result<(), StoreError> {
    for id in ids {
        match fs::remove_file(run_path(dir, *id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
            _ => {}
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
#[path = "index_runs_tests.rs"]
mod tests;
