//! The actions of the authorization schema, one per kind of request. They
//! are the vault's vocabulary of what can be asked of it; the Cedar engine
//! (the `authz` module) decides them, and the functions that open cardholder
//! data check that a [`super::access::Permit`] is for theirs.

/// The actions of the schema, one per kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Enroll,
    ReadPhoto,
    RevokeCard,
    EraseCard,
    IssuePrincipal,
    DeletePrincipal,
    ApprovePrincipal,
    RotatePrincipal,
    ListPrincipals,
    ReadAudit,
    VerifyAudit,
    ReadMetrics,
    QueryFact,
    ReadRetention,
    RunSweep,
    RotateKeys,
    RequestHold,
    ApproveHold,
    ReleaseHold,
    ListHolds,
    ReadPolicies,
    CheckPolicies,
    UpdatePolicies,
    LegalRequest,
    ReadLegalRequest,
    ListNotices,
    Disclose,
    LookupCard,
    RenewCard,
    ReplaceCard,
    UpdateCard,
    ReadPrintQueue,
    MarkPrinted,
    MarkPickedUp,
    ReadReports,
    AccessReport,
    CreateHoneyCards,
    ReadHoneyAlerts,
    OfferCredential,
    PrintCard,
}

impl Action {
    pub const ALL: [Self; 40] = [
        Self::Enroll,
        Self::ReadPhoto,
        Self::RevokeCard,
        Self::EraseCard,
        Self::IssuePrincipal,
        Self::DeletePrincipal,
        Self::ApprovePrincipal,
        Self::RotatePrincipal,
        Self::ListPrincipals,
        Self::ReadAudit,
        Self::VerifyAudit,
        Self::ReadMetrics,
        Self::QueryFact,
        Self::ReadRetention,
        Self::RunSweep,
        Self::RotateKeys,
        Self::RequestHold,
        Self::ApproveHold,
        Self::ReleaseHold,
        Self::ListHolds,
        Self::ReadPolicies,
        Self::CheckPolicies,
        Self::UpdatePolicies,
        Self::LegalRequest,
        Self::ReadLegalRequest,
        Self::ListNotices,
        Self::Disclose,
        Self::LookupCard,
        Self::RenewCard,
        Self::ReplaceCard,
        Self::UpdateCard,
        Self::ReadPrintQueue,
        Self::MarkPrinted,
        Self::MarkPickedUp,
        Self::ReadReports,
        Self::AccessReport,
        Self::CreateHoneyCards,
        Self::ReadHoneyAlerts,
        Self::OfferCredential,
        Self::PrintCard,
    ];

    /// The schema's resource type for this action.
    #[must_use]
    pub fn resource_kind(self) -> &'static str {
        match self {
            Self::ReadPhoto
            | Self::RevokeCard
            | Self::EraseCard
            | Self::RequestHold
            | Self::ApproveHold
            | Self::ReleaseHold
            | Self::LookupCard
            | Self::RenewCard
            | Self::ReplaceCard
            | Self::UpdateCard
            | Self::MarkPrinted
            | Self::MarkPickedUp
            | Self::AccessReport
            | Self::OfferCredential
            | Self::PrintCard => "Card",
            Self::QueryFact => "Fact",
            Self::Disclose => "LegalItem",
            _ => "Vault",
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enroll => "enroll",
            Self::ReadPhoto => "read_photo",
            Self::RevokeCard => "revoke_card",
            Self::EraseCard => "erase_card",
            Self::IssuePrincipal => "issue_principal",
            Self::DeletePrincipal => "delete_principal",
            Self::ApprovePrincipal => "approve_principal",
            Self::RotatePrincipal => "rotate_principal",
            Self::ListPrincipals => "list_principals",
            Self::ReadAudit => "read_audit",
            Self::VerifyAudit => "verify_audit",
            Self::ReadMetrics => "read_metrics",
            Self::QueryFact => "query_fact",
            Self::ReadRetention => "read_retention",
            Self::RunSweep => "run_sweep",
            Self::RotateKeys => "rotate_keys",
            Self::RequestHold => "request_hold",
            Self::ApproveHold => "approve_hold",
            Self::ReleaseHold => "release_hold",
            Self::ListHolds => "list_holds",
            Self::ReadPolicies => "read_policies",
            Self::CheckPolicies => "check_policies",
            Self::UpdatePolicies => "update_policies",
            Self::LegalRequest => "legal_request",
            Self::ReadLegalRequest => "read_legal_request",
            Self::ListNotices => "list_notices",
            Self::Disclose => "disclose",
            Self::LookupCard => "lookup_card",
            Self::RenewCard => "renew_card",
            Self::ReplaceCard => "replace_card",
            Self::UpdateCard => "update_card",
            Self::ReadPrintQueue => "read_print_queue",
            Self::MarkPrinted => "mark_printed",
            Self::MarkPickedUp => "mark_picked_up",
            Self::ReadReports => "read_reports",
            Self::AccessReport => "access_report",
            Self::CreateHoneyCards => "create_honey_cards",
            Self::ReadHoneyAlerts => "read_honey_alerts",
            Self::OfferCredential => "offer_credential",
            Self::PrintCard => "print_card",
        }
    }
}
