#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use super::*;

/// RFC 6962 §2.1's MTH, by its recursive definition.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => EMPTY_HASH.0,
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - (n - 1).leading_zeros() - 1);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn grow(n: u64) -> (Frontier, MemoryHashes, Vec<[u8; 32]>, Vec<[u8; 32]>) {
    let mut f = Frontier::default();
    let mut mem = MemoryHashes::default();
    let mut leaves = Vec::new();
    let mut roots = Vec::new();
    for i in 0..n {
        let leaf = leaf_hash(format!("{{\"seq\":{}}}", i + 1).as_bytes());
        let mut runs = Runs::default();
        f.push(leaf, &mut runs);
        mem.apply(runs.take());
        leaves.push(leaf);
        roots.push(f.root());
    }
    (f, mem, leaves, roots)
}

#[test]
fn the_frontier_root_is_rfc6962s_merkle_tree_hash_at_every_size() {
    let (_, mem, leaves, roots) = grow(700);
    for n in 1..=700usize {
        assert_eq!(roots[n - 1], mth(&leaves[..n]), "size {n}");
        if n % 37 == 0 || n == 256 || n == 257 || n == 512 {
            assert_eq!(root_at(&mem, n as u64).unwrap(), roots[n - 1], "stored, size {n}");
            let loaded = Frontier::load(&mem, n as u64).unwrap();
            assert_eq!(loaded.root(), roots[n - 1], "reloaded, size {n}");
        }
    }
}

#[test]
fn only_tile_levels_are_stored_and_tiles_hold_them() {
    let (_, mem, leaves, _) = grow(600);
    assert_eq!(mem.levels.keys().copied().collect::<Vec<_>>(), vec![0, 8]);
    assert_eq!(mem.levels[&8].len(), 2);
    assert_eq!(mem.levels[&8][1], mth(&leaves[256..512]));
    let t = tile(&mem, 0, 1, 256).unwrap();
    assert_eq!(t.len(), 256 * 32);
    assert_eq!(&t[..32], &leaves[256]);
    // 600 leaves: tile 2 of level 0 holds 600 - 512 = 88 so far.
    assert!(tile(&mem, 0, 2, 88).is_ok());
    assert!(matches!(tile(&mem, 0, 2, 89), Err(TreeError::Missing { .. })));
    assert_eq!(tile(&mem, 1, 0, 2).unwrap().len(), 64);
    assert_eq!(node(&mem, 3, 5).unwrap(), mth(&leaves[40..48]));
}

#[test]
fn proofs_verify_and_a_changed_hash_does_not() {
    let (_, mem, leaves, roots) = grow(300);
    for (index, size) in [(0u64, 1u64), (5, 6), (17, 300), (255, 256), (256, 300), (299, 300)] {
        let p = inclusion_proof(&mem, index, size).unwrap();
        let root = roots[size as usize - 1];
        check_inclusion(&p, size, &root, index, &leaves[index as usize]).unwrap();
        let other = leaves[(index as usize + 1) % leaves.len()];
        assert!(check_inclusion(&p, size, &root, index, &other).is_err());
    }
    for (from, to) in [(1u64, 1u64), (1, 2), (3, 7), (256, 300), (100, 300), (299, 300)] {
        let p = consistency_proof(&mem, from, to).unwrap();
        let (old, new) = (roots[from as usize - 1], roots[to as usize - 1]);
        check_consistency(&p, from, &old, to, &new).unwrap();
        if from != to {
            assert!(check_consistency(&p, from, &[0xab; 32], to, &new).is_err());
        }
    }
    assert!(inclusion_proof(&mem, 300, 300).is_err());
    assert!(consistency_proof(&mem, 0, 3).is_err());
    assert!(consistency_proof(&mem, 4, 3).is_err());
    assert!(inclusion_proof(&mem, 1, 301).is_err());
}

#[test]
fn runs_are_read_back_across_their_boundaries() {
    let h = |i: u8| [i; 32];
    let runs = vec![Ok((0u64, [h(0), h(1)].concat())), Ok((2, [h(2), h(3), h(4)].concat()))];
    assert_eq!(collect_runs(0, 1, 4, runs.clone()).unwrap(), vec![h(1), h(2), h(3)]);
    assert!(collect_runs(0, 1, 6, runs).is_err());
    let gap = vec![Ok((0u64, h(0).to_vec())), Ok((2, h(2).to_vec()))];
    assert!(collect_runs(0, 0, 3, gap).is_err());
    assert_eq!(split_run_key(&run_key(8, 77)), Some((8, 77)));
}
