//! Sealed keys benchmark: `cargo run --release --example bench_seal`.
//!
//! What sealing costs: opening a keyring (every key file read) plain and
//! sealed, rebuilding the seal key from 3 of 5 shares, opening a passphrase
//! seal (one age scrypt run), writing a key sealed (a destruction epoch's
//! key), and sealing or rotating a keyring. Then the whole vault start, in
//! process: on plain keys, and on a passphrase seal with the passphrase
//! file configured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "a benchmark runs start to end and fails loudly"
)]

use std::time::{Duration, Instant};

use civic_vault::crypto::seal::{self, NewSeal, Unlock};
use civic_vault::crypto::{EpochId, KeyFiles, Keyring};
use zeroize::Zeroizing;

mod support;

fn ms(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let runs: usize = support::env_or("BENCH_RUNS", 20);
    let plain = tempfile::tempdir().unwrap();
    Keyring::open_or_create(plain.path()).unwrap();
    let shares_dir = tempfile::tempdir().unwrap();
    let sealed = seal::seal(
        shares_dir.path(),
        &NewSeal::Shares {
            threshold: 3,
            shares: 5,
        },
    )
    .unwrap();
    let info = seal::state(shares_dir.path()).unwrap().unwrap();
    let three = Unlock::Shares(sealed.shares[..3].to_vec());
    let pass_dir = tempfile::tempdir().unwrap();
    let passphrase = Zeroizing::new("a benchmark passphrase".to_owned());
    seal::seal(pass_dir.path(), &NewSeal::Passphrase(passphrase.clone())).unwrap();
    let pass_info = seal::state(pass_dir.path()).unwrap().unwrap();
    let by_pass = Unlock::Passphrase(passphrase.clone());

    println!("best of {runs} runs:");
    println!(
        "  open keyring, plain:                 {}",
        ms(best(runs, || Keyring::open_files(KeyFiles::plain(plain.path())).unwrap()))
    );
    let files = seal::open(shares_dir.path(), &info, &three).unwrap();
    println!(
        "  open keyring, sealed (key in hand):  {}",
        ms(best(runs, || Keyring::open_files(files.clone()).unwrap()))
    );
    println!(
        "  rebuild seal key, 3 of 5 shares:     {}",
        ms(best(runs, || seal::open(shares_dir.path(), &info, &three).unwrap()))
    );
    println!(
        "  open passphrase seal (age scrypt):   {}",
        ms(best(runs.min(5), || seal::open(pass_dir.path(), &pass_info, &by_pass)
            .unwrap()))
    );
    let ring = Keyring::open_files(files).unwrap();
    let mut epoch = 1_000_000i64;
    println!(
        "  write a scan epoch key, sealed:      {}",
        ms(best(runs, || {
            epoch += 10;
            ring.scans.recipient(EpochId::containing(epoch, 10)).unwrap()
        }))
    );
    drop(ring);
    let fresh = tempfile::tempdir().unwrap();
    let t = Instant::now();
    seal::seal(
        fresh.path(),
        &NewSeal::Shares {
            threshold: 3,
            shares: 5,
        },
    )
    .unwrap();
    println!("  seal a new keyring (3 of 5):         {}", ms(t.elapsed()));
    let t = Instant::now();
    seal::rotate(
        shares_dir.path(),
        &three,
        &NewSeal::Shares {
            threshold: 3,
            shares: 5,
        },
    )
    .unwrap();
    println!(
        "  rotate a seal ({} key files):        {}",
        seal::status(shares_dir.path()).unwrap()["secret_files"],
        ms(t.elapsed())
    );

    // The whole vault start (keys, store, checkpoints, canaries, floor proof
    // when a solver is configured), plain and with a passphrase seal.
    let rt = support::runtime();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut config = support::config_in(dir.path());
        let clock: std::sync::Arc<dyn civic_vault::clock::Clock> = std::sync::Arc::new(civic_vault::clock::SystemClock);
        let start = |config: civic_vault::Config| {
            let clock = std::sync::Arc::clone(&clock);
            async move {
                let t = Instant::now();
                let vault = civic_vault::Vault::open(config, clock).await.unwrap();
                let took = t.elapsed();
                tokio::task::spawn_blocking(move || vault.store.close().unwrap())
                    .await
                    .unwrap();
                took
            }
        };
        start(config.clone()).await; // first start: creates keys and data
        println!(
            "  vault start, plain keys:             {}",
            ms(start(config.clone()).await)
        );
        let pass_file = dir.path().join("passphrase");
        std::fs::write(&pass_file, format!("{}\n", passphrase.as_str())).unwrap();
        std::fs::set_permissions(&pass_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        seal::seal(&config.keys_dir, &NewSeal::Passphrase(passphrase.clone())).unwrap();
        config.seal.passphrase_file = Some(pass_file);
        println!("  vault start, passphrase seal:        {}", ms(start(config).await));
    });
}
