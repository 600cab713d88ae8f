//! The vault's own types and rules. Nothing here knows HTTP, sled or Cedar.

pub mod access;
pub mod access_report;
pub mod action;
pub mod audit;
pub mod audit_seal;
pub mod audit_verify;
pub mod card;
pub mod credential;
pub mod duplicates;
pub mod enrollment;
pub mod error;
pub mod facts;
pub mod holds;
pub mod honey;
pub mod legal;
pub mod matching;
pub mod policy_version;
pub mod principal;
pub mod program;
pub mod retention;
pub mod staff;
pub mod store;
pub mod text;
pub mod tlog;
pub mod vocab;
