//! Passkeys and security keys (WebAuthn): the two ceremonies, each in two
//! calls. `begin` answers the options to hand to the browser's
//! `navigator.credentials.create()` / `.get()` (the `publicKey` member is
//! the WebAuthn options, binary fields base64url) and a ceremony id;
//! `finish` takes the browser's credential as JSON (binary fields
//! base64url) with that id. A ceremony can be finished once, on any node,
//! within five minutes (and, at sign-in, while its attempt lasts).

use super::signin::{SessionResponse, session_response};
use super::*;

/// This area's routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_begin))
        .routes(routes!(register_finish))
        .routes(routes!(signin_begin))
        .routes(routes!(signin_finish))
        .routes(routes!(passwordless_begin))
        .routes(routes!(passwordless_finish))
}

/// Start adding a passkey or security key.
#[derive(Deserialize, ToSchema)]
pub struct RegisterBeginRequest {
    /// In the wizard: primary (page 1) or backup (page 2). With 2SV on
    /// the key is always added as a backup.
    pub role: RoleIn,
}

/// What the browser needs for a ceremony.
#[derive(Serialize, ToSchema)]
pub struct CeremonyResponse {
    /// Send it back with the browser's answer.
    pub ceremony: String,
    /// The WebAuthn options: `{"publicKey": {...}}`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// The browser's answer to a registration.
#[derive(Deserialize, ToSchema)]
pub struct RegisterFinishRequest {
    /// From `begin`.
    pub ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`,
    /// as JSON with binary fields base64url.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for the key (1 to 64 characters); empty: the browser and
    /// system it was added from.
    #[serde(default)]
    pub name: String,
}

/// The key added.
#[derive(Serialize, ToSchema)]
pub struct PasskeyAdded {
    /// Its method id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `primary` or `backup`.
    pub role: String,
    /// In use now (2SV on); in the wizard it is used once 2SV is turned on.
    pub active: bool,
}

/// Start adding a passkey or security key (the wizard, or settings with
/// 2SV on).
#[utoipa::path(post, path = "/api/v1/passkeys/register/begin", request_body = RegisterBeginRequest,
    responses((status = 200, body = CeremonyResponse),
        (status = 401, description = "not_signed_in", body = ErrorBody),
        (status = 409, description = "wizard_order, backup_must_be_phone", body = ErrorBody),
        (status = 404, description = "passkeys_off: the server has no host name to be a relying party for", body = ErrorBody)))]
async fn register_begin(
    State(state): State<AppState>,
    user: SecureUser,
    JsonBody(req): JsonBody<RegisterBeginRequest>,
) -> ApiResult<CeremonyResponse> {
    let request = state
        .nidan
        .begin_passkey(&user.account, MethodRole::from(req.role))
        .await?;
    Ok(Json(CeremonyResponse {
        ceremony: request.ceremony_id,
        options: request.options,
    }))
}

/// Finish adding a passkey or security key.
#[utoipa::path(post, path = "/api/v1/passkeys/register/finish", request_body = RegisterFinishRequest,
    responses((status = 200, body = PasskeyAdded),
        (status = 401, description = "not_signed_in, passkey_refused", body = ErrorBody),
        (status = 409, description = "passkey_already_registered", body = ErrorBody),
        (status = 410, description = "ceremony_expired", body = ErrorBody),
        (status = 422, description = "malformed_passkey, invalid_name", body = ErrorBody),
        (status = 404, description = "passkeys_off", body = ErrorBody)))]
async fn register_finish(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    JsonBody(req): JsonBody<RegisterFinishRequest>,
) -> ApiResult<PasskeyAdded> {
    let method = state
        .nidan
        .confirm_passkey(
            &user.account,
            &req.ceremony,
            &req.credential.to_string(),
            &req.name,
            &origin,
        )
        .await?;
    Ok(Json(PasskeyAdded {
        id: method.id,
        name: method.name,
        role: method.role.as_str().to_owned(),
        active: method.active,
    }))
}

/// Start the passkey step of a sign-in attempt.
#[derive(Deserialize, ToSchema)]
pub struct SigninPasskeyBeginRequest {
    /// From the `code_required` answer.
    pub challenge: String,
}

/// The passkey step: sign in with a passkey or security key instead of a
/// code.
#[utoipa::path(post, path = "/api/v1/signin/passkey/begin", request_body = SigninPasskeyBeginRequest,
    responses((status = 200, body = CeremonyResponse),
        (status = 404, description = "no_such_method: the account has no passkey; passkeys_off", body = ErrorBody),
        (status = 410, description = "challenge_expired", body = ErrorBody),
        (status = 429, description = "too_many_attempts", body = ErrorBody)))]
async fn signin_begin(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SigninPasskeyBeginRequest>,
) -> ApiResult<CeremonyResponse> {
    let request = state.nidan.begin_passkey_sign_in(&req.challenge).await?;
    Ok(Json(CeremonyResponse {
        ceremony: request.ceremony_id,
        options: request.options,
    }))
}

/// The browser's answer at sign-in.
#[derive(Deserialize, ToSchema)]
pub struct SigninPasskeyFinishRequest {
    /// From the `code_required` answer.
    pub challenge: String,
    /// From `begin`.
    pub ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as
    /// JSON with binary fields base64url.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// "Don't require codes on this browser".
    #[serde(default)]
    pub remember_browser: bool,
}

/// Finish the passkey step: counted like a code (a refused key is a
/// wrong try of the attempt and of the account's failure count).
#[utoipa::path(post, path = "/api/v1/signin/passkey/finish", request_body = SigninPasskeyFinishRequest,
    responses((status = 200, body = SessionResponse),
        (status = 401, description = "passkey_refused (another site's key, an unknown key, a copied key)", body = ErrorBody),
        (status = 410, description = "challenge_expired, ceremony_expired", body = ErrorBody),
        (status = 422, description = "malformed_passkey", body = ErrorBody),
        (status = 423, description = "code_entry_locked", body = ErrorBody),
        (status = 429, description = "too_many_attempts, slow_down", body = ErrorBody),
        (status = 404, description = "passkeys_off", body = ErrorBody)))]
async fn signin_finish(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(req): JsonBody<SigninPasskeyFinishRequest>,
) -> ApiResult<SessionResponse> {
    let signed = state
        .nidan
        .verify_passkey(
            &req.challenge,
            &req.ceremony,
            &req.credential.to_string(),
            req.remember_browser,
            &origin,
        )
        .await?;
    Ok(Json(session_response(&signed)))
}

/// Sign in with a discoverable passkey alone (`policy.passwordless`): the
/// options name no key, so the authenticator offers those it holds for
/// this site, with user verification required. Limited per address.
#[utoipa::path(post, path = "/api/v1/signin/passkey/discover/begin",
    responses((status = 200, body = CeremonyResponse),
        (status = 429, description = "too_many_attempts: too many from this address this hour", body = ErrorBody),
        (status = 404, description = "passkeys_off: passkeys, or passwordless sign-in, are off", body = ErrorBody)))]
async fn passwordless_begin(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
) -> ApiResult<CeremonyResponse> {
    let request = state.nidan.begin_passwordless(&origin).await?;
    Ok(Json(CeremonyResponse {
        ceremony: request.ceremony_id,
        options: request.options,
    }))
}

/// The browser's answer to a passwordless sign-in.
#[derive(Deserialize, ToSchema)]
pub struct PasswordlessFinishRequest {
    /// From `begin`.
    pub ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as
    /// JSON with binary fields base64url (its user handle names the
    /// account).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// "Don't require codes on this browser".
    #[serde(default)]
    pub remember_browser: bool,
}

/// Finish a passwordless sign-in: the session has passed both steps.
#[utoipa::path(post, path = "/api/v1/signin/passkey/discover/finish", request_body = PasswordlessFinishRequest,
    responses((status = 200, body = SessionResponse),
        (status = 401, description = "passkey_refused (an unknown key, a bad signature, no user verification, a copied key)", body = ErrorBody),
        (status = 410, description = "ceremony_expired", body = ErrorBody),
        (status = 422, description = "malformed_passkey", body = ErrorBody),
        (status = 423, description = "code_entry_locked", body = ErrorBody),
        (status = 429, description = "slow_down", body = ErrorBody),
        (status = 404, description = "passkeys_off", body = ErrorBody)))]
async fn passwordless_finish(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(req): JsonBody<PasswordlessFinishRequest>,
) -> ApiResult<SessionResponse> {
    let signed = state
        .nidan
        .verify_passwordless(
            &req.ceremony,
            &req.credential.to_string(),
            req.remember_browser,
            &origin,
        )
        .await?;
    Ok(Json(session_response(&signed)))
}
