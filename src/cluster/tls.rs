//! The cluster's mutual TLS (rustls, ring): every node serves and connects
//! with its own certificate, and accepts only certificates that chain to the
//! cluster's CA. Which node a certificate is, is the DNS name it is issued
//! for; a server is checked to be the node it was dialled as, a client to be
//! one of the configured nodes.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// This node's certificate and key, and the cluster's CA.
pub struct Identity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Arc<rustls::RootCertStore>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Identity {
    /// Reads the PEM files.
    ///
    /// # Errors
    /// A file cannot be read or holds no usable certificate or key.
    pub fn load(cert: &Path, key: &Path, ca: &Path) -> Result<Self, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(Iterator::collect)
            .map_err(|e| format!("cluster.cert {}: {e}", cert.display()))?;
        if certs.is_empty() {
            return Err(format!("cluster.cert {}: no certificate in it", cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("cluster.key {}: {e}", key.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_file_iter(ca).map_err(|e| format!("cluster.ca {}: {e}", ca.display()))? {
            let der = der.map_err(|e| format!("cluster.ca {}: {e}", ca.display()))?;
            roots
                .add(der)
                .map_err(|e| format!("cluster.ca {}: {e}", ca.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("cluster.ca {}: no certificate in it", ca.display()));
        }
        Ok(Self {
            certs,
            key,
            roots: Arc::new(roots),
        })
    }

    /// The listener's side: a client certificate chaining to the CA is required.
    ///
    /// # Errors
    /// The certificate and key do not go together.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, String> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::clone(&self.roots), provider())
            .build()
            .map_err(|e| format!("cluster.ca: {e}"))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| format!("cluster.cert: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// The sending side: presents this node's certificate, trusts only the CA.
    ///
    /// # Errors
    /// The certificate and key do not go together.
    pub fn connector(&self) -> Result<tokio_rustls::TlsConnector, String> {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(Arc::clone(&self.roots))
            .with_client_auth_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| format!("cluster.cert: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }
}

/// Which of `ids` the (already verified) certificate is issued for, if any.
#[must_use]
pub fn node_of(cert: &CertificateDer<'_>, ids: &[String]) -> Option<String> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    ids.iter()
        .find(|id| {
            ServerName::try_from(id.as_str()).is_ok_and(|name| parsed.verify_is_valid_for_subject_name(&name).is_ok())
        })
        .cloned()
}
