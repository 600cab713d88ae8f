//! Which TCP connections the cluster listener takes, decided at accept,
//! before a byte of TLS: who a connection is can only be known after its
//! handshake, and a handshake is what a slow client holds open.
//!
//! - at most [`PER_ADDRESS`] connections from one source address, so one
//!   host cannot take every slot with idle sockets (a slowloris);
//! - at most [`GENERAL`] from all addresses that are no configured peer's;
//! - the addresses the configured peers' URLs resolve to have room of their
//!   own ([`PER_ADDRESS`] each, outside [`GENERAL`]), so no flood from
//!   other addresses, however many, keeps a node with a valid certificate
//!   out. A node that connects from an address other than the one its URL
//!   names shares the general room; one on the same address as an attacker
//!   shares that address's.
//!
//! Past a cap the connection is closed at once; a held one is bounded by
//! the handshake and header-read clocks (`server.rs`).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Connections open at once from one source address (a node sends one
/// message per connection, and a handful at a time at most).
pub const PER_ADDRESS: usize = 8;
/// Connections open at once from every address that is no peer's.
pub const GENERAL: usize = 64;

#[derive(Debug, Default)]
struct State {
    per_address: HashMap<IpAddr, usize>,
    general: usize,
    peers: HashSet<IpAddr>,
}

/// The listener's connection counts.
#[derive(Debug, Default)]
pub struct Admission {
    state: Mutex<State>,
}

/// One admitted connection; its place is given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    address: IpAddr,
    general: bool,
}

/// Why a connection was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// Its address holds [`PER_ADDRESS`] already.
    Address,
    /// Addresses that are no peer's hold [`GENERAL`] already.
    General,
}

impl Admission {
    /// Replaces the peers' addresses (resolved from their URLs).
    pub fn set_peers(&self, peers: HashSet<IpAddr>) {
        self.lock().peers = peers;
    }

    /// Takes a connection from `address`, or says which cap it is over.
    ///
    /// # Errors
    /// [`Full`] when a cap is reached.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Full> {
        let address = canonical(address);
        let mut s = self.lock();
        let general = !s.peers.contains(&address);
        if s.per_address.get(&address).copied().unwrap_or(0) >= PER_ADDRESS {
            return Err(Full::Address);
        }
        if general && s.general >= GENERAL {
            return Err(Full::General);
        }
        *s.per_address.entry(address).or_insert(0) += 1;
        if general {
            s.general += 1;
        }
        Ok(Ticket {
            admission: Arc::clone(self),
            address,
            general,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The counts stay consistent under a panic elsewhere: each change is
        // one statement.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.admission.lock();
        if let Some(n) = s.per_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.per_address.remove(&self.address);
            }
        }
        if self.general {
            s.general = s.general.saturating_sub(1);
        }
    }
}

/// An IPv4 peer seen through an IPv6 socket (`::ffff:a.b.c.d`) is that
/// IPv4 address, so a dual-stack listener counts it once.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

/// The addresses `peers`' URLs name, resolved now (a name that does not
/// resolve adds nothing, and is tried again at the next refresh).
pub async fn resolve(peers: &[crate::config::Peer]) -> HashSet<IpAddr> {
    let mut out = HashSet::new();
    for p in peers {
        let Some((host, port)) = p.host_port() else { continue };
        if let Ok(found) = tokio::net::lookup_host((host.as_str(), port)).await {
            out.extend(found.map(|a| canonical(a.ip())));
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_is_capped_and_peers_keep_their_room() {
        let a = Arc::new(Admission::default());
        a.set_peers(HashSet::from([ip("10.0.0.2")]));
        let held: Vec<_> = (0..PER_ADDRESS).map(|_| a.admit(ip("10.9.9.9"))).collect();
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(a.admit(ip("10.9.9.9")).err(), Some(Full::Address));
        // Many addresses fill the general room, never the peer's.
        let mut more = Vec::new();
        for i in 0..GENERAL {
            more.push(a.admit(ip(&format!("10.1.{}.{}", i / 200, i % 200 + 1))));
        }
        assert_eq!(a.admit(ip("10.2.0.1")).err(), Some(Full::General));
        let peer = a.admit(ip("10.0.0.2"));
        assert!(peer.is_ok());
        // The v4-mapped form is the same address.
        assert_eq!(a.admit(ip("::ffff:10.9.9.9")).err(), Some(Full::Address));
        drop(held);
        drop(more);
        let again = a.admit(ip("10.9.9.9"));
        assert!(again.is_ok());
        assert_eq!(a.lock().general, 1);
        drop((peer, again));
        assert!(a.lock().per_address.is_empty());
    }
}
