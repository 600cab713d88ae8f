//! What unsealing parses from outside: a posted share (`cvs1-<id>-<data>`)
//! and the body around it, and `keys/seal.toml`; a share that parses is
//! combined with a real share of a real seal, which must refuse, never
//! panic.
#![no_main]
use std::collections::BTreeMap;
use std::sync::OnceLock;

use civic_vault::crypto::seal::{self, NewSeal, SealInfo};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

struct Fixture {
    _dir: tempfile::TempDir,
    info: SealInfo,
    share: Zeroizing<String>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let sealed = seal::seal(dir.path(), &NewSeal::Shares { threshold: 2, shares: 3 }).expect("seal");
        let info = seal::state(dir.path()).expect("state").expect("sealed");
        Fixture {
            share: sealed.shares[0].clone(),
            info,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = toml::from_str::<SealInfo>(text);
    // As posted: the raw text, and the text under this seal's prefix.
    for candidate in [text.to_owned(), format!("cvs1-{}-{text}", f.info.id)] {
        if let Ok((x, bytes)) = seal::parse_share(&f.info, &candidate) {
            let mut shares = BTreeMap::new();
            let (x0, b0) = seal::parse_share(&f.info, &f.share).expect("own share");
            shares.insert(x0, b0);
            shares.insert(x, bytes);
            let _ = seal::combine(&f.info, &shares);
        }
    }
});
