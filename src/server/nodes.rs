//! The node among its cluster: the listener that takes keys from the other
//! nodes and the sender that gives them this node's, started before the
//! vault opens (a standby receives keys too), then joined to the vault.

use std::sync::Arc;

use crate::config::Config;
use crate::vault::{StartError, Vault};

/// Opens the cluster listener and starts sending keys made through
/// `files` to the other nodes, when `[cluster]` is configured.
///
/// # Errors
/// A certificate or the ledger cannot be read, or the listener cannot open.
pub(crate) async fn start_cluster(
    config: &Config,
    files: &crate::crypto::KeyFiles,
) -> Result<Option<Arc<crate::cluster::Cluster>>, StartError> {
    let Some(c) = &config.cluster else { return Ok(None) };
    crate::cluster::Cluster::start(c, files.clone())
        .await
        .map(Some)
        .map_err(StartError::Config)
}

/// Makes the running vault the one received keys are loaded into, and the
/// one whose destructions wait for the cluster. Before `Background::start`,
/// which then writes the certificates the cluster completes.
pub(crate) fn join_cluster(vault: &Arc<Vault>, cluster: Option<&Arc<crate::cluster::Cluster>>) {
    let Some(cluster) = cluster else { return };
    let weak: std::sync::Weak<dyn crate::cluster::LiveKeys> = Arc::downgrade(vault) as _;
    cluster.attach(weak);
    let _ = vault.cluster.set(Arc::clone(cluster));
}
