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
//! - [`config`] — embedded defaults, the TOML file, validation naming the key.
//! - [`duration`] — the contract's `7d` / `5y` durations.
//! - [`clock`] — injected time.
//! - [`crypto`] — the keyring on disk, sealed fields, age photos, keyed hashes, tokens.
//! - [`domain`] — principals, cards, program rules, enrollment, the audit
//!   chain, and the store interface the domain owns. No HTTP, sled or Cedar.
//! - [`store`] — the sled implementation of that interface, with one
//!   group-committing writer thread.
//! - [`authz`] — Cedar: schema, floor, editable policies, decisions, permits.
//! - [`http`] — the axum skin: extractors, the audit middleware, handlers.
//! - [`audit_tally`] — unauthenticated requests counted per source and second, not logged one by one.
//! - [`limits`], [`listener`] — rate limits; the listener's connection caps and slow-client clocks.
//! - [`server`] — opening the vault, serving it, shutting it down.
//! - [`error`] — the one error type and its mapping to HTTP.
//!
//! # A request's path
//!
//! `http` router → audit middleware opens an [`http::audit_layer::AuditSlot`]
//! → handler authenticates the bearer token ([`principals`]) → asks
//! [`authz::PolicyEngine::decide`] (a [`authz::Permit`] on allow, 403 on deny)
//! → parses and checks the body → calls the domain → submits a
//! [`domain::store::Commit`] of changes plus the audit entry to the writer,
//! which applies both in one sled transaction and flushes before answering.
//! Requests that change nothing have their entry written by the middleware
//! before the response leaves; if that fails the caller gets 503.

pub mod audit_tally;
pub mod authz;
pub mod backup;
pub mod cards;
pub mod checkpoints;
pub mod client;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod duration;
pub mod error;
pub mod http;
pub mod legal;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod operator;
pub mod principals;
pub mod retention;
pub mod server;
pub mod store;
pub mod unseal;

pub use config::Config;
pub use server::{run, serve, StartError, Vault};
