//! Sending to another node: one TLS connection per message (they are rare:
//! a key made or destroyed), HTTP/1 over it, a JSON body, a bounded answer.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use rustls::pki_types::ServerName;
use zeroize::Zeroizing;

/// How long connecting, the handshake and the answer may take together.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// A client that presents this node's certificate.
#[derive(Clone)]
pub struct PeerClient {
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient").finish_non_exhaustive()
    }
}

impl PeerClient {
    #[must_use]
    pub fn new(tls: tokio_rustls::TlsConnector) -> Self {
        Self { tls }
    }

    /// Posts `body` (JSON) to `path` on the node `node` listening at `url`
    /// (`https://host:port`); its certificate must be issued for `node`.
    /// Returns the status and the answer's body.
    ///
    /// # Errors
    /// The node cannot be reached, is not who it should be, or does not
    /// answer in time.
    pub async fn post(
        &self,
        url: &str,
        node: &str,
        path: &str,
        body: impl Into<Zeroizing<Vec<u8>>>,
    ) -> Result<(u16, Vec<u8>), String> {
        tokio::time::timeout(TIMEOUT, self.post_inner(url, node, path, body.into()))
            .await
            .map_err(|_| "timed out".to_owned())?
    }

    async fn post_inner(
        &self,
        url: &str,
        node: &str,
        path: &str,
        body: Zeroizing<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = parsed.host_str().ok_or("no host")?.to_owned();
        let port = parsed.port_or_known_default().ok_or("no port")?;
        let name = ServerName::try_from(node.to_owned()).map_err(|e| e.to_string())?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| e.to_string())?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, node)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            // The body holds key bytes: zeroed when hyper drops it.
            .body(Full::new(Bytes::from_owner(body)))
            .map_err(|e| e.to_string())?;
        let answer = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        let bytes = Limited::new(answer.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, bytes.to_vec()))
    }
}
