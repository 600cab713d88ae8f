//! Unit tests of the configuration.
use super::*;

fn key_of(text: &str) -> String {
    match Config::from_toml(text) {
        Err(ConfigError::Key { key, .. }) => key,
        other => panic!("expected a key error, got {other:?}"),
    }
}

#[test]
fn defaults_are_the_contracts() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8700");
    assert_eq!(c.program, "idnyc");
    assert!(c.retention.source_documents.is_zero());
    assert_eq!(c.facts.age_thresholds, vec![13, 18, 21, 62, 65]);
    assert!(!c.policies_dir_explicit);
}

#[test]
fn full_file_parses() {
    let c = Config::from_toml(
        r#"
        listen = "127.0.0.1:9000"
        data_dir = "d"
        keys_dir = "k"
        policies_dir = "p"
        program = "hartford"
        card_validity = "2y"
        [retention]
        source_documents = "7d"
        inactive_cardholders = "365d"
        sweep_interval = "1h"
        [facts]
        age_thresholds = [18, 21]
        attestation_ttl = "5m"
        "#,
    )
    .unwrap();
    assert_eq!(c.program, "hartford");
    assert!(c.policies_dir_explicit);
    assert_eq!(c.retention.source_documents.as_secs(), 7 * 86_400);
}

#[test]
fn errors_name_the_key() {
    assert_eq!(key_of("colour = 1"), "colour");
    assert_eq!(key_of("[retention]\nsweep = \"1h\""), "retention.sweep");
    assert_eq!(
        key_of("[retention]\nsweep_interval = \"hourly\""),
        "retention.sweep_interval"
    );
    assert_eq!(key_of("listen = \"not an address\""), "listen");
    assert_eq!(key_of("program = \"../etc\""), "program");
    assert_eq!(key_of("[facts]\nage_thresholds = [18, 18]"), "facts.age_thresholds");
    assert_eq!(key_of("[facts]\nage_thresholds = \"18\""), "facts.age_thresholds");
    assert_eq!(
        key_of("[facts]\nbulk_ceiling_per_hour = 0"),
        "facts.bulk_ceiling_per_hour"
    );
    assert_eq!(
        key_of("[governance]\nsecond_approval = \"no\""),
        "governance.second_approval"
    );
    assert_eq!(
        key_of("[retention]\nsweep_interval = \"0s\""),
        "retention.sweep_interval"
    );
    assert_eq!(
        key_of("[credentials]\nsigning_alg = \"RS256\""),
        "credentials.signing_alg"
    );
}

#[test]
fn credentials_are_signed_es256_unless_ed25519_is_asked_for() {
    use crate::crypto::jose::Alg;
    assert_eq!(Config::from_toml("").unwrap().credentials.signing_alg, Alg::Es256);
    for (name, alg) in [
        ("ES256", Alg::Es256),
        ("Ed25519", Alg::Ed25519),
        ("EdDSA", Alg::Ed25519),
    ] {
        let c = Config::from_toml(&format!("[credentials]\nsigning_alg = \"{name}\"")).unwrap();
        assert_eq!(c.credentials.signing_alg, alg);
    }
}

#[test]
fn the_witness_section_is_checked() {
    let key = crate::crypto::note::NoteKey::new("witness.example.gov", ed25519_dalek::SigningKey::from_bytes(&[1; 32]))
        .unwrap()
        .cosigner()
        .text();
    let other = crate::crypto::note::NoteKey::new("peer.example.gov", ed25519_dalek::SigningKey::from_bytes(&[2; 32]))
        .unwrap()
        .cosigner()
        .text();
    let c = Config::from_toml(&format!(
        "[witness]\nurl = \"http://witness.example.gov:8710\"\nkey = \"{key}\"\n"
    ))
    .unwrap();
    assert_eq!(c.witness.0.len(), 1);
    assert_eq!(c.witness.0[0].timeout.as_secs(), 5);
    assert_eq!(c.witness_threshold(), 1);
    let two = format!(
        "[audit]\nwitness_threshold = 2\n[[witness]]\nurl = \"http://a\"\nkey = \"{key}\"\n[[witness]]\nurl = \"http://b\"\nkey = \"{other}\"\n"
    );
    let c = Config::from_toml(&two).unwrap();
    assert_eq!((c.witness.0.len(), c.witness_threshold()), (2, 2));
    assert_eq!(key_of(&two.replace("= 2", "= 3")), "audit.witness_threshold");
    assert_eq!(key_of(&two.replace(&other, &key)), "witness.key");
    assert_eq!(key_of("[audit]\nwitness_threshold = 1\n"), "audit.witness_threshold");
    assert_eq!(
        key_of(&format!("[witness]\nurl = \"ftp://w\"\nkey = \"{key}\"\n")),
        "witness.url"
    );
    assert_eq!(
        key_of("[witness]\nurl = \"http://w\"\nkey = \"not a key\"\n"),
        "witness.key"
    );
    // A log's checkpoint key (0x01) is not a witness's cosignature key.
    let log_key = crate::crypto::note::NoteKey::new("w", ed25519_dalek::SigningKey::from_bytes(&[1; 32]))
        .unwrap()
        .verifier()
        .text();
    assert_eq!(
        key_of(&format!("[witness]\nurl = \"http://w\"\nkey = \"{log_key}\"\n")),
        "witness.key"
    );
    assert_eq!(
        key_of(&format!(
            "[witness]\nurl = \"http://w\"\nkey = \"{key}\"\ntimeout = \"0s\"\n"
        )),
        "witness.timeout"
    );
    // The old protocol's section says where witnesses went.
    assert_eq!(
        key_of("[audit.witness]\nurl = \"http://w\"\npublic_key = \"x\"\n"),
        "audit.witness"
    );
}

#[test]
fn the_cluster_section_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["a.crt", "a.key", "ca.crt"] {
        std::fs::write(dir.path().join(f), "pem").unwrap();
    }
    // The private key is owner-only, as every secret file.
    std::fs::set_permissions(
        dir.path().join("a.key"),
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )
    .unwrap();
    let d = dir.path().display();
    let section = |extra: &str, peers: &str| {
        format!(
            "[cluster]\nnode_id = \"vault-a\"\nlisten = \"127.0.0.1:8701\"\ncert = \"{d}/a.crt\"\nkey = \"{d}/a.key\"\n\
             ca = \"{d}/ca.crt\"\n{extra}peers = [{peers}]\n"
        )
    };
    let b = "{ id = \"vault-b\", url = \"https://10.0.0.2:8701\" }";
    let c = Config::from_toml(&section("", b)).unwrap().cluster.unwrap();
    assert_eq!(c.peers[0].id, "vault-b");
    assert_eq!(c.retry_interval.as_secs(), 5);
    assert!(Config::from_toml("").unwrap().cluster.is_none(), "absent: one node");
    assert_eq!(key_of(&section("color = \"red\"\n", b)), "cluster.color");
    assert_eq!(
        key_of(&section("", "{ id = \"vault-a\", url = \"https://10.0.0.2:8701\" }")),
        "cluster.peers[0].id"
    );
    assert_eq!(key_of(&section("", &format!("{b}, {b}"))), "cluster.peers[1].id");
    assert_eq!(
        key_of(&section("", "{ id = \"Vault B\", url = \"https://10.0.0.2:8701\" }")),
        "cluster.peers[0].id"
    );
    assert_eq!(
        key_of(&section("", "{ id = \"vault-b\", url = \"http://10.0.0.2:8701\" }")),
        "cluster.peers[0].url"
    );
    assert_eq!(
        key_of(&section(
            "",
            "{ id = \"vault-b\", url = \"https://10.0.0.2:8701\", x = 1 }"
        )),
        "cluster.peers[0].x"
    );
    assert_eq!(
        key_of(&section("retry_interval = \"0s\"\n", b)),
        "cluster.retry_interval"
    );
    std::fs::remove_file(dir.path().join("ca.crt")).unwrap();
    assert_eq!(key_of(&section("", b)), "cluster.ca");
}
