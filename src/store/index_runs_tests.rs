use super::*;

fn rec(k: u8, seq: u64) -> Record {
    Record { key: [k; KEY], seq }
}

fn write(dir: &Path, id: u64, from: u64, to: u64, records: &[Record]) -> Run {
    let mut w = RunWriter::create(dir, id).unwrap();
    for r in records {
        w.push(*r).unwrap();
    }
    w.finish(from, to).unwrap()
}

#[test]
fn runs_are_written_looked_up_merged_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    // Many records under a few keys, so lookups cross fence blocks.
    let mut a: Vec<Record> = (1..=2000).map(|s| rec(u8::try_from(s % 7).unwrap(), s)).collect();
    a.sort();
    let mut b: Vec<Record> = (2001..=2600).map(|s| rec(u8::try_from(s % 5).unwrap(), s)).collect();
    b.sort();
    let ra = write(dir.path(), 1, 0, 2000, &a);
    let rb = write(dir.path(), 2, 2000, 2600, &b);
    let m = merge(dir.path(), 3, &ra, &rb).unwrap();
    assert_eq!((m.meta.from, m.meta.to, m.meta.count), (0, 2600, 2600));
    for k in 0..8u8 {
        let want: Vec<u64> = (1..=2600)
            .filter(|s| u8::try_from(if *s <= 2000 { s % 7 } else { s % 5 }).unwrap() == k)
            .collect();
        let mut got = Vec::new();
        m.lookup(&[k; KEY], &mut got).unwrap();
        assert_eq!(got, want, "key {k}");
        let mut split = Vec::new();
        ra.lookup(&[k; KEY], &mut split).unwrap();
        rb.lookup(&[k; KEY], &mut split).unwrap();
        assert_eq!(split, want, "key {k}");
    }
    let manifest = Manifest {
        upto: 2600,
        head: [9; 32],
        next_id: 4,
        runs: vec![m.meta],
    };
    manifest.write(dir.path()).unwrap();
    assert_eq!(Manifest::read(dir.path()).unwrap(), Some(manifest));
    remove_others(dir.path(), &[3], false).unwrap();
    assert!(Run::open(dir.path(), ra.meta).is_err(), "removed");
    assert!(Run::open(dir.path(), m.meta).is_ok());
    // One flipped byte in the records is caught when the run is opened.
    let path = run_path(dir.path(), 3);
    let mut bytes = fs::read(&path).unwrap();
    bytes[HEADER + 5] ^= 1;
    fs::write(&path, &bytes).unwrap();
    assert!(Run::open(dir.path(), m.meta).is_err());
    // A torn manifest is unreadable, not taken for an empty one.
    let bytes = fs::read(dir.path().join(MANIFEST)).unwrap();
    fs::write(dir.path().join(MANIFEST), &bytes[..bytes.len() - 1]).unwrap();
    assert!(Manifest::read(dir.path()).is_err());
}
