//! `[cluster]`: the other vault nodes this one replicates its keys with,
//! node to node over mutual TLS (see `src/cluster/`). Absent: one node.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Config, ConfigError};
use crate::duration::HumanDuration;

/// This node's place in the cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// This node's id: the DNS name its certificate is issued for.
    pub node_id: String,
    /// Where this node listens for the other nodes (a listener of its own,
    /// never the API's).
    pub listen: SocketAddr,
    /// Every other node; a destruction is certified only when each has
    /// destroyed the key too.
    #[serde(default)]
    pub peers: Vec<Peer>,
    /// PEM certificate of this node (issued for `node_id` by `ca`), used
    /// both to serve and to connect.
    pub cert: PathBuf,
    /// PEM private key of that certificate.
    pub key: PathBuf,
    /// PEM certificate of the cluster's own CA: every node's certificate
    /// must chain to it.
    pub ca: PathBuf,
    /// How long to wait before sending again to a node that did not answer.
    #[serde(default = "retry_interval")]
    pub retry_interval: HumanDuration,
}

/// Another node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its id: the DNS name its certificate is issued for.
    pub id: String,
    /// Its cluster listener, `https://host:port`.
    pub url: String,
}

impl Peer {
    /// The host and port of its URL (checked when the configuration was
    /// read): where messages go, and the address the cluster listener
    /// keeps room for.
    #[must_use]
    pub fn host_port(&self) -> Option<(String, u16)> {
        let u = url::Url::parse(&self.url).ok()?;
        let host = match u.host()? {
            // An IPv6 literal, without its brackets.
            url::Host::Ipv6(a) => a.to_string(),
            h => h.to_string(),
        };
        Some((host, u.port_or_known_default()?))
    }
}

const fn retry_interval() -> HumanDuration {
    HumanDuration {
        value: 5,
        unit: crate::duration::Unit::Seconds,
    }
}

/// A node id must be a DNS name (what its certificate names).
fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 253
        && id.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl Config {
    pub(super) fn validate_cluster(&self) -> Result<(), ConfigError> {
        let Some(c) = &self.cluster else { return Ok(()) };
        let id_message =
            "must be a lowercase DNS name (what the node's certificate is issued for), such as vault-a.city.internal";
        if !id_ok(&c.node_id) {
            return Err(ConfigError::key("cluster.node_id", id_message));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in c.peers.iter().enumerate() {
            if !id_ok(&p.id) {
                return Err(ConfigError::key(format!("cluster.peers[{i}].id"), id_message));
            }
            if p.id == c.node_id {
                return Err(ConfigError::key(
                    format!("cluster.peers[{i}].id"),
                    "is this node's own id (cluster.node_id); list only the other nodes",
                ));
            }
            if !seen.insert(p.id.as_str()) {
                return Err(ConfigError::key(format!("cluster.peers[{i}].id"), "is listed twice"));
            }
            let url_ok = url::Url::parse(&p.url).is_ok_and(|u| {
                u.scheme() == "https"
                    && u.host().is_some()
                    && u.port().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.username().is_empty()
            });
            if !url_ok {
                return Err(ConfigError::key(
                    format!("cluster.peers[{i}].url"),
                    "must be https://host:port, the node's cluster listener",
                ));
            }
        }
        for (key, path) in [
            ("cluster.cert", &c.cert),
            ("cluster.key", &c.key),
            ("cluster.ca", &c.ca),
        ] {
            if let Err(e) = std::fs::File::open(path) {
                return Err(ConfigError::key(
                    key,
                    format!("{}: cannot be read: {}", path.display(), e.kind()),
                ));
            }
        }
        // The private key is as sensitive as keys/: owner-only, like every
        // secret file the vault reads.
        if let Err(e) = crate::crypto::read_secret_bytes(&c.key) {
            return Err(ConfigError::key("cluster.key", e.to_string()));
        }
        if c.retry_interval.is_zero() {
            return Err(ConfigError::key("cluster.retry_interval", "must be longer than 0s"));
        }
        if c.listen == self.listen {
            return Err(ConfigError::key(
                "cluster.listen",
                "must differ from listen (the API's address)",
            ));
        }
        Ok(())
    }
}
