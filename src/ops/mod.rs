//! Operator tooling behind the command line: backups and restores of a
//! stopped vault, and the API client and commands that act on a running
//! vault through its API (so what they change is decided and audited like
//! any request).

pub mod backup;
pub mod client;
pub mod migrate;
pub mod operator;
