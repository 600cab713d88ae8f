//! civic-vault: a records vault for municipal ID programs.
//!
//! It enrolls applicants against the program's proof rules and keeps only
//! keyed-hash attestations of their documents, sealed applicant fields and
//! age-encrypted photos; it decides every access with Cedar policies over a
//! floor of forbid rules that no edit removes; and it records every request
//! in a hash-chained audit log that holds no personal data.
//!
//! # Map
//!
//! The modules are layered: each uses only those below it.
//!
//! - Basics: [`config`] (embedded defaults, the TOML file, validation naming
//!   the key), [`duration`] (the contract's `7d` / `5y`), [`clock`] (injected time).
//! - [`crypto`] — the keyring on disk (sealed or plain), sealed fields, age
//!   files, keyed hashes, tokens, attestation signatures.
//! - [`domain`] — the vault's own types and rules: principals, cards,
//!   programs, enrollment, facts, legal requests, holds, the audit chain,
//!   the actions and the permit capability, the store interface and
//!   [`domain::error::Error`]. It knows no HTTP, sled, tokio or Cedar.
//! - [`store`] — the sled implementation of the store interface, with one
//!   group-committing writer thread.
//! - [`authz`] — Cedar: schema, floor, editable policies, decisions that hand
//!   out permits, policy checks, the symbolic proof, replay.
//! - [`witness`] — the off-box witness that cosigns audit checkpoints (its
//!   protocol and its server); it knows the chain's hash, not the store.
//! - [`cluster`] — keys replicated node to node over mutual TLS (never
//!   through the database): the cluster listener, the ledger of what each
//!   node has yet to acknowledge, the messages.
//! - [`vault`] — the running vault's state and its services: opening at
//!   start, the card cache, the token index, rate limits, metrics, counted
//!   unauthenticated requests, audit checkpoints, retention sweeps, legal answers.
//! - [`http`] — the axum skin: the error mapping, the gate every handler
//!   passes (authenticate → authorize → commit), the audit middleware,
//!   extractors, handlers, the OpenAPI document.
//! - [`server`] — serving: the listener (caps, slow-client clocks, TLS),
//!   background tasks, the sealed vault's unseal gate, `run` and `serve`.
//! - [`ops`] — operator tooling for the command line: backups, the API
//!   client, policy commands.
//!
//! # A request's path
//!
//! [`server::listener`] accepts the connection and marks the request in
//! progress → the [`http`] router checks the source address's rate → the
//! audit middleware opens an [`http::audit_layer::AuditSlot`] → the handler
//! asks [`http::gate::Gate`] to authenticate the bearer token
//! ([`vault::token_index`]) and to authorize with
//! [`authz::PolicyEngine::decide`] (a [`domain::access::Permit`] on allow,
//! 403 on deny), each recorded in the slot → parses and checks the body →
//! calls the domain or a [`vault`] service → commits a
//! [`domain::store::Commit`] of changes plus the audit entry through the
//! gate, which the writer applies in one sled transaction and flushes before
//! answering. Requests that change nothing have their entry written by the
//! middleware before the response leaves; if that fails the caller gets 503.

pub mod authz;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod console;
pub mod crypto;
pub mod domain;
pub mod duration;
pub mod histogram;
pub mod http;
pub mod ops;
pub mod print;
pub mod server;
pub mod store;
pub mod texts;
pub mod vault;
pub mod witness;

pub use config::Config;
pub use server::{run, serve};
pub use vault::{StartError, Vault};
