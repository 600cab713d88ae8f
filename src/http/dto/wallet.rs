//! What the wallet-facing endpoints answer (OpenID4VCI 1.0, RFC 8414,
//! SD-JWT VC issuer metadata) and the OAuth error shape they refuse in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /.well-known/openid-credential-issuer` (OpenID4VCI 1.0 §12.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerMetadata {
    pub credential_issuer: String,
    pub credential_endpoint: String,
    pub nonce_endpoint: String,
    pub batch_credential_issuance: BatchIssuance,
    pub credential_configurations_supported: Configurations,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchIssuance {
    /// At most this many key proofs in one credential request.
    pub batch_size: usize,
}

/// The one configuration the vault issues.
#[derive(Debug, Serialize, ToSchema)]
pub struct Configurations {
    pub municipal_id: CredentialConfiguration,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialConfiguration {
    /// `dc+sd-jwt`.
    pub format: String,
    /// `urn:civic-vault:municipal-id:1`.
    pub vct: String,
    /// The scope a wallet names to ask for this credential.
    pub scope: String,
    /// `jwk`.
    pub cryptographic_binding_methods_supported: Vec<String>,
    /// The algorithm that signs credentials (`ES256` by default).
    pub credential_signing_alg_values_supported: Vec<String>,
    pub proof_types_supported: ProofTypes,
    /// What a wallet shows for it (OpenID4VCI 1.0 `credential_metadata`).
    pub credential_metadata: CredentialMetadata,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialMetadata {
    pub display: Vec<CredentialDisplay>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialDisplay {
    pub name: String,
    /// BCP 47.
    pub locale: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProofTypes {
    pub jwt: ProofType,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProofType {
    /// `ES256`, `Ed25519` and its older name `EdDSA`.
    pub proof_signing_alg_values_supported: Vec<String>,
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414; OpenID4VCI 1.0 §12.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    /// The page where the holder confirms with the clerk's code.
    pub authorization_endpoint: String,
    /// RFC 9126; required before the authorization endpoint.
    pub pushed_authorization_request_endpoint: String,
    pub require_pushed_authorization_requests: bool,
    /// `code`.
    pub response_types_supported: Vec<String>,
    /// `S256`.
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9449.
    pub dpop_signing_alg_values_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    /// A wallet needs no client id for the pre-authorized code.
    #[serde(rename = "pre-authorized_grant_anonymous_access_supported")]
    pub pre_authorized_grant_anonymous_access_supported: bool,
}

/// `GET /.well-known/jwt-vc-issuer` (SD-JWT VC issuer metadata).
#[derive(Debug, Serialize, ToSchema)]
pub struct JwtVcIssuer {
    pub issuer: String,
    pub jwks: IssuerJwks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerJwks {
    /// Every issuer key, ES256 and Ed25519, still verifying something.
    pub keys: Vec<IssuerJwk>,
}

/// An issuer's public key: `EC` `P-256` (`x`, `y`) or `OKP` `Ed25519` (`x`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuerJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    pub kid: String,
    /// `ES256` or `Ed25519`.
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// `POST /oid4vci/token`'s form: the fields of one grant or the other.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// `urn:ietf:params:oauth:grant-type:pre-authorized_code` or `authorization_code`.
    pub grant_type: String,
    /// Pre-authorized code grant: the code from the clerk's offer.
    #[serde(rename = "pre-authorized_code")]
    pub pre_authorized_code: Option<String>,
    /// Pre-authorized code grant: the six digits the clerk read to the holder.
    pub tx_code: Option<String>,
    /// Authorization code grant: the code from the authorization response.
    pub code: Option<String>,
    /// Authorization code grant: the PKCE verifier.
    pub code_verifier: Option<String>,
    /// Authorization code grant: as in the pushed request.
    pub redirect_uri: Option<String>,
    /// Authorization code grant: as in the pushed request.
    pub client_id: Option<String>,
}

/// `POST /oid4vci/par`'s form (RFC 9126, OpenID4VCI 1.0 §5.1).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ParForm {
    /// `code`.
    pub response_type: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// `municipal_id` (or `authorization_details`).
    pub scope: Option<String>,
    /// A JSON array with an `openid_credential` entry for `municipal_id`.
    pub authorization_details: Option<String>,
    /// base64url(SHA-256(code_verifier)).
    pub code_challenge: String,
    /// `S256`.
    pub code_challenge_method: String,
    /// From the clerk's offer.
    pub issuer_state: String,
    pub state: Option<String>,
    /// The credential issuer, if given.
    pub resource: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key to bind the code to.
    pub dpop_jkt: Option<String>,
}

/// `POST /oid4vci/par`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParAnswer {
    /// `urn:ietf:params:oauth:request_uri:…`, for the authorization page.
    pub request_uri: String,
    /// Seconds.
    pub expires_in: i64,
}

/// `POST /oid4vci/token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenAnswer {
    pub access_token: String,
    /// `Bearer`, or `DPoP` when the request carried a DPoP proof.
    pub token_type: String,
    /// Seconds.
    pub expires_in: i64,
}

/// `POST /oid4vci/nonce`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NonceAnswer {
    /// Serves every key proof of one credential request.
    pub c_nonce: String,
}

/// `POST /oid4vci/credential`'s body (OpenID4VCI 1.0 §8.2); parameters
/// not named here are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CredentialRequestBody {
    /// `municipal_id`.
    pub credential_configuration_id: String,
    pub proofs: ProofsBody,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProofsBody {
    /// 1 to 10 `openid4vci-proof+jwt` key proofs (ES256 or Ed25519).
    pub jwt: Vec<String>,
}

/// `POST /oid4vci/credential`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialAnswer {
    /// One per key proof.
    pub credentials: Vec<IssuedCredential>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedCredential {
    /// An SD-JWT VC (`<jws>~<disclosure>~…~`).
    pub credential: String,
}

/// A wallet endpoint's refusal (RFC 6749 §5.2, OpenID4VCI 1.0 §6.3 and
/// §8.3.1.2): nothing about the holder in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_grant`, `unsupported_grant_type`,
    /// `unsupported_response_type`, `invalid_scope`,
    /// `invalid_authorization_details`, `invalid_target`, `invalid_client`,
    /// `invalid_dpop_proof`, `invalid_token`, `invalid_credential_request`,
    /// `unknown_credential_configuration`, `unknown_credential_identifier`,
    /// `invalid_proof`, `invalid_nonce`, `invalid_encryption_parameters`,
    /// `temporarily_unavailable`.
    pub error: String,
    pub error_description: String,
}
