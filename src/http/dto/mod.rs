//! The JSON bodies the handlers answer with: each handler builds one of
//! these and returns it, and the OpenAPI document describes the very same
//! types, so the document cannot drift from the answers.
//!
//! Where a body embeds a domain report (an audit entry, a chain or sweep
//! report, a policy check report) the domain type is used as it is (it
//! derives `ToSchema`). A field that is absent from some answers is an
//! `Option` skipped when `None`; a field that is `null` in some answers is
//! an `Option` that is always serialized.

mod cards;
mod counter;
mod legal;
mod ops;
mod oversight;
mod policies;
mod principals;
mod wallet;

pub use cards::{Enrolled, ErasureRequested, FactsAnswer, Revoked, SourceDocuments};
pub use counter::{
    AccessReportAnswer, CardLookup, CounterStep, PrintQueue, QueuedCard, Renewal, Renewed, Replaced, Updated,
};
pub use legal::{HoldList, HoldView, LegalAnswer, LegalRequestList, Notice, NoticeCardholder, NoticeList, NoticeSent};
pub use ops::{Health, Jwk, Jwks, OpenApiDocument, Readiness, UnsealStatus};
pub use oversight::{AuditEntryView, AuditPage, HoneyAlert, HoneyAlerts, HoneyCardMade, HoneyCardsCreated};
pub use policies::{Activated, ActivePolicies, CheckAnswer, PolicyVersionList, PolicyVersionRow, PolicyVersionText};
pub use principals::{
    IssuedPrincipal, ListedPrincipal, PrincipalApproved, PrincipalGrants, PrincipalList, TokenRotated,
};

/// A Unix time as RFC 3339, or `None` when it is out of range.
pub(crate) fn rfc3339(unix: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
}
pub use wallet::{
    AuthorizationServerMetadata, BatchIssuance, Configurations, CredentialAnswer, CredentialConfiguration,
    CredentialDisplay, CredentialMetadata, CredentialRequestBody, IssuedCredential, IssuerJwk, IssuerJwks,
    IssuerMetadata, JwtVcIssuer, NonceAnswer, OAuthError, ParAnswer, ParForm, ProofType, ProofTypes, ProofsBody,
    TokenAnswer, TokenForm,
};
