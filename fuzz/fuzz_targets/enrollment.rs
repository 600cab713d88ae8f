//! POST /v1/enrollments: the JSON body, then every check enrollment makes
//! (proof rules, dates, images) with real keys.
#![no_main]
use std::sync::OnceLock;

use civic_vault::crypto::Keyring;
use civic_vault::domain::enrollment::{prepare, EnrollContext, EnrollmentRequest};
use civic_vault::domain::program::Program;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: tempfile::TempDir,
    keys: Keyring,
    program: Program,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = Keyring::open_or_create(dir.path()).expect("keys");
        let sources = civic_vault::authz::PolicySources::embedded();
        let (_, text) = sources
            .programs
            .iter()
            .find(|(n, _)| *n == "idnyc")
            .expect("idnyc profile");
        let program = Program::from_toml("idnyc", text).expect("profile");
        Fixture {
            _dir: dir,
            keys,
            program,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = civic_vault::http::extract::parse_json::<EnrollmentRequest>(data) else {
        return;
    };
    let f = fixture();
    let cx = EnrollContext {
        program: &f.program,
        keys: &f.keys,
        clerk: "fuzz",
        now: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        validity: "5y".parse().expect("duration"),
        scans: None,
        inactive_window_secs: 86_400,
    };
    let _ = prepare(&req, &cx);
});
