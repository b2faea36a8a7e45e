//! The JSON API under `/api/v1`: every step of the browser journey for
//! scripts and relying services. Sessions by `Authorization: Bearer` token
//! (or the session cookie). Errors are `{"error": {"code", "message"}}`
//! with a stable `code`. Described by the OpenAPI document at
//! `/api/openapi.json`, generated from these handlers.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;

use axum::Json;
use axum_extra::extract::CookieJar;
use nidan_core::Error;
use nidan_core::model::{Account, MethodKind, MethodRole, Session};
use nidan_core::service::signin::PasswordStep;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::context::{REMEMBER_COOKIE, RequestOrigin, Tr, session_token};
use super::error::{ApiError, ErrorBody, JsonBody};

/// The API routes, each with its OpenAPI entry (utoipa-axum's
/// `routes!` takes both from the handler's `#[utoipa::path]`: a route
/// cannot exist without its documentation).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(signup_confirm))
        .routes(routes!(signin))
        .routes(routes!(signin_code))
        .routes(routes!(signin_combined))
        .routes(routes!(signout))
        .routes(routes!(me))
        .routes(routes!(reauth))
        .routes(routes!(change_password))
        .routes(routes!(security))
        .routes(routes!(wizard))
        .routes(routes!(begin_app))
        .routes(routes!(confirm_app))
        .routes(routes!(enable))
        .routes(routes!(begin_phone))
        .routes(routes!(confirm_phone))
        .routes(routes!(resend_phone))
        .routes(routes!(signin_send))
        .routes(routes!(remove_method, rename_method))
        .routes(routes!(make_primary))
        .routes(routes!(regenerate_codes))
        .routes(routes!(turn_off))
        .routes(routes!(forget_all_browsers))
        .routes(routes!(forget_browser))
}

/// The OpenAPI description of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "nidan API",
        description = "Self-hosted two-step verification: every step of sign-up, sign-in and the security settings."
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// A signed-in API caller.
pub struct ApiUser {
    session: Session,
    account: Account,
}

impl ApiUser {
    /// The account.
    pub fn into_account(self) -> Account {
        self.account
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(parts).ok_or(ApiError(Error::NotSignedIn))?;
        let (session, account) = state.nidan.authenticate(&token).await?;
        Ok(Self { session, account })
    }
}

/// A signed-in API caller whose password entry is recent enough for the
/// security settings (step-up); otherwise `403 step_up_required`.
pub struct SecureUser {
    session: Session,
    account: Account,
}

impl SecureUser {
    /// The account.
    pub fn into_account(self) -> Account {
        self.account
    }
}

impl FromRequestParts<AppState> for SecureUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiUser { session, account } = ApiUser::from_request_parts(parts, state).await?;
        state.nidan.require_recent_password(&session)?;
        Ok(Self { session, account })
    }
}

/// Credentials.
#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Email address.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// Always `signed_in`.
    pub status: String,
    /// Bearer token for `Authorization: Bearer ...`.
    pub token: String,
    /// When the session ends (Unix seconds).
    pub expires_at: i64,
    /// Present when the browser/client asked to be remembered: send it
    /// back as `remember_token` at the next sign-in to skip the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_token: Option<String>,
}

fn session_response(signed: &nidan_core::service::signin::SignedIn) -> SessionResponse {
    SessionResponse {
        status: "signed_in".into(),
        token: signed.session_token.to_string(),
        expires_at: signed.session.expires_at,
        remember_token: signed.remember_token.as_ref().map(|t| t.to_string()),
    }
}

/// What a sign-up answers, whether or not the address has an account.
#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    /// Always `check_email`: a new address was sent a link that creates
    /// the account; an address with an account was told someone tried.
    pub status: String,
}

/// Start a sign-up: the answer is the same whether or not the address has
/// an account; the link emailed to a new address creates it.
#[utoipa::path(post, path = "/api/v1/signup", request_body = SignupRequest,
    responses((status = 202, body = SignupResponse), (status = 422, description = "invalid_email, password_length", body = ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(req): JsonBody<SignupRequest>,
) -> Result<(StatusCode, Json<SignupResponse>), ApiError> {
    state
        .nidan
        .sign_up(&req.email, &req.password, t.lang, &origin)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SignupResponse {
            status: "check_email".into(),
        }),
    ))
}

/// The token from the emailed sign-up link.
#[derive(Deserialize, ToSchema)]
pub struct SignupConfirmRequest {
    /// The last part of the link (`/signup/confirm/{token}`).
    pub token: String,
}

/// Finish a sign-up with the emailed link's token: creates the account and
/// signs in.
#[utoipa::path(post, path = "/api/v1/signup/confirm", request_body = SignupConfirmRequest,
    responses((status = 200, body = SessionResponse), (status = 410, description = "sign_up_link_invalid", body = ErrorBody)))]
async fn signup_confirm(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(req): JsonBody<SignupConfirmRequest>,
) -> ApiResult<SessionResponse> {
    let signed = state.nidan.confirm_sign_up(&req.token, &origin).await?;
    Ok(Json(session_response(&signed)))
}

/// The password step.
#[derive(Deserialize, ToSchema)]
pub struct SigninRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// A long session (30 days by default) instead of 12 hours.
    #[serde(default)]
    pub keep_signed_in: bool,
    /// A token from an earlier "don't require codes" sign-in.
    #[serde(default)]
    pub remember_token: Option<String>,
}

/// The outcome of the password step.
#[derive(Serialize, ToSchema)]
pub struct SigninResponse {
    /// `signed_in` or `code_required`.
    pub status: String,
    /// Session token when signed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The sign-in attempt to send with the code, when a code is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// What the primary method is (`app`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// The other ways in, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<MethodOut>,
    /// When the primary is a phone and texting or calling it failed or was
    /// limited: why, in plain words (the attempt stays open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_error: Option<super::error::ErrorDetail>,
}

/// A sign-in method.
#[derive(Serialize, ToSchema)]
pub struct MethodOut {
    /// Id (empty at sign-in, where only names are shown).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `app`, `sms` or `voice`.
    pub kind: String,
    /// `primary` or `backup`.
    pub role: String,
    /// The name the user gave.
    pub name: String,
    /// When added (Unix seconds); 0 at sign-in.
    #[serde(skip_serializing_if = "is_zero")]
    pub created_at: i64,
    /// For phones at sign-in: the last two digits ("ending in 78").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_two: Option<String>,
    /// For phones at sign-in: whether a text can be asked for.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub can_text: bool,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn kind_str(kind: MethodKind) -> String {
    kind.as_str().to_owned()
}

/// Email and password; answers with a session or a code requirement.
#[utoipa::path(post, path = "/api/v1/signin", request_body = SigninRequest,
    responses((status = 200, body = SigninResponse), (status = 401, description = "bad_credentials", body = ErrorBody)))]
async fn signin(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    JsonBody(req): JsonBody<SigninRequest>,
) -> ApiResult<SigninResponse> {
    let remembered = req
        .remember_token
        .clone()
        .or_else(|| jar.get(REMEMBER_COOKIE).map(|c| c.value().to_owned()));
    let step = state
        .nidan
        .sign_in(
            &req.email,
            &req.password,
            req.keep_signed_in,
            remembered.as_deref(),
            &origin,
        )
        .await?;
    Ok(Json(match step {
        PasswordStep::SignedIn(signed) => SigninResponse {
            status: "signed_in".into(),
            token: Some(signed.session_token.to_string()),
            challenge: None,
            primary: None,
            methods: Vec::new(),
            delivery_error: None,
        },
        PasswordStep::CodeRequired(required) => SigninResponse {
            delivery_error: match &required.delivery {
                Some(Err(e)) => Some(super::error::detail(e, t)),
                _ => None,
            },
            status: "code_required".into(),
            token: None,
            challenge: Some(required.challenge_token.to_string()),
            primary: Some(kind_str(required.primary)),
            methods: required
                .methods
                .into_iter()
                .map(|m| MethodOut {
                    id: m.id,
                    kind: kind_str(m.kind),
                    role: m.role.as_str().into(),
                    name: m.name,
                    created_at: 0,
                    last_two: m.last_two,
                    can_text: m.can_text,
                })
                .collect(),
        },
    }))
}

/// The code step.
#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// From the `code_required` answer.
    pub challenge: String,
    /// An authenticator code or a backup code.
    pub code: String,
    /// "Don't require codes on this browser".
    #[serde(default)]
    pub remember_browser: bool,
}

/// Send the code for a sign-in attempt.
#[utoipa::path(post, path = "/api/v1/signin/code", request_body = CodeRequest,
    responses((status = 200, body = SessionResponse),
        (status = 401, description = "wrong_code (with attempts_left), code_already_used", body = ErrorBody),
        (status = 410, description = "challenge_expired", body = ErrorBody),
        (status = 429, description = "too_many_attempts", body = ErrorBody)))]
async fn signin_code(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(req): JsonBody<CodeRequest>,
) -> ApiResult<SessionResponse> {
    let signed = state
        .nidan
        .verify_code(&req.challenge, &req.code, req.remember_browser, &origin)
        .await?;
    Ok(Json(session_response(&signed)))
}

/// Password with the code appended, for clients without a code step.
#[derive(Deserialize, ToSchema)]
pub struct CombinedRequest {
    /// Email address.
    pub email: String,
    /// The password, followed by the current 6-digit code when 2SV is on.
    pub password: String,
}

/// Sign in with the password and the code in one field (SPEC §1.5).
#[utoipa::path(post, path = "/api/v1/signin/combined", request_body = CombinedRequest,
    responses((status = 200, body = SessionResponse), (status = 401, body = ErrorBody)))]
async fn signin_combined(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(req): JsonBody<CombinedRequest>,
) -> ApiResult<SessionResponse> {
    let signed = state
        .nidan
        .sign_in_combined(&req.email, &req.password, false, &origin)
        .await?;
    Ok(Json(session_response(&signed)))
}

/// A plain acknowledgement.
#[derive(Serialize, ToSchema)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

fn done() -> Json<Done> {
    Json(Done { ok: true })
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/signout", responses((status = 200, body = Done), (status = 401, body = ErrorBody)))]
async fn signout(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: ApiUser,
) -> ApiResult<Done> {
    state.nidan.sign_out(&user.session, &origin).await?;
    Ok(done())
}

/// The signed-in account.
#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    /// Email address.
    pub email: String,
    /// Whether two-step verification is on.
    pub two_step_on: bool,
    /// Since when (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_step_on_since: Option<i64>,
    /// When the session ends.
    pub session_expires_at: i64,
}

/// Who am I.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
async fn me(user: ApiUser) -> ApiResult<MeResponse> {
    Ok(Json(MeResponse {
        email: user.account.email,
        two_step_on: user.account.two_sv_on_since.is_some(),
        two_step_on_since: user.account.two_sv_on_since,
        session_expires_at: user.session.expires_at,
    }))
}

/// A password, for step-up.
#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// The current password.
    pub password: String,
}

/// Re-enter the password (needed for security settings after 10 minutes).
#[utoipa::path(post, path = "/api/v1/reauth", request_body = PasswordRequest, responses((status = 200, body = Done), (status = 401, body = ErrorBody)))]
async fn reauth(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: ApiUser,
    JsonBody(req): JsonBody<PasswordRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .step_up(&user.session, &user.account, &req.password, &origin)
        .await?;
    Ok(done())
}

/// A password change.
#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub current: String,
    /// The new password (8 to 128 characters).
    pub new: String,
}

/// Change the password; ends every other session and forgets remembered browsers.
#[utoipa::path(post, path = "/api/v1/password", request_body = ChangePasswordRequest, responses((status = 200, body = Done), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: ApiUser,
    JsonBody(req): JsonBody<ChangePasswordRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .change_password(
            &user.session,
            &user.account,
            &req.current,
            &req.new,
            &origin,
        )
        .await?;
    Ok(done())
}

/// A remembered browser.
#[derive(Serialize, ToSchema)]
pub struct BrowserOut {
    /// Id, to forget it.
    pub id: String,
    /// Browser and OS.
    pub label: String,
    /// When remembered.
    pub created_at: i64,
    /// When last used.
    pub last_used_at: i64,
    /// When it must enter a code again.
    pub expires_at: i64,
}

/// An audit event.
#[derive(Serialize, ToSchema)]
pub struct EventOut {
    /// What happened.
    pub kind: String,
    /// When.
    pub at: i64,
    /// From which IP.
    pub ip: String,
    /// With which User-Agent.
    pub user_agent: String,
    /// Details.
    pub detail: String,
}

/// Advanced Security Settings.
#[derive(Serialize, ToSchema)]
pub struct SecurityResponse {
    /// Whether 2SV is on.
    pub two_step_on: bool,
    /// Since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_step_on_since: Option<i64>,
    /// Active methods, primary first.
    pub methods: Vec<MethodOut>,
    /// Browsers that skip the code.
    pub browsers: Vec<BrowserOut>,
    /// Unused backup codes.
    pub backup_codes_left: i64,
    /// Recent security events.
    pub events: Vec<EventOut>,
}

/// The security settings overview (needs a recent password).
#[utoipa::path(get, path = "/api/v1/security", responses((status = 200, body = SecurityResponse), (status = 403, description = "step_up_required", body = ErrorBody)))]
async fn security(State(state): State<AppState>, user: SecureUser) -> ApiResult<SecurityResponse> {
    let o = state.nidan.overview(&user.account).await?;
    Ok(Json(SecurityResponse {
        two_step_on: o.two_sv_on_since.is_some(),
        two_step_on_since: o.two_sv_on_since,
        methods: o
            .methods
            .into_iter()
            .map(|m| MethodOut {
                id: m.id,
                kind: kind_str(m.kind),
                role: m.role.as_str().into(),
                name: m.name,
                created_at: m.created_at,
                last_two: None,
                can_text: false,
            })
            .collect(),
        browsers: o
            .browsers
            .into_iter()
            .map(|b| BrowserOut {
                id: b.id,
                label: b.label,
                created_at: b.created_at,
                last_used_at: b.last_used_at,
                expires_at: b.expires_at,
            })
            .collect(),
        backup_codes_left: o.backup_codes_left,
        events: o
            .events
            .into_iter()
            .map(|e| EventOut {
                kind: e.kind,
                at: e.at,
                ip: e.ip,
                user_agent: e.user_agent,
                detail: e.detail,
            })
            .collect(),
    }))
}

/// Where the enable wizard stands.
#[derive(Serialize, ToSchema)]
pub struct WizardResponse {
    /// 1 (primary), 2 (backup) or 3 (confirm).
    pub page: u8,
    /// The verified primary's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// The verified backup's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

/// The wizard's progress.
#[utoipa::path(get, path = "/api/v1/wizard", responses((status = 200, body = WizardResponse)))]
async fn wizard(State(state): State<AppState>, user: SecureUser) -> ApiResult<WizardResponse> {
    let w = state.nidan.wizard_state(&user.account).await?;
    let page = match (&w.primary, &w.backup) {
        (None, _) => 1,
        (Some(_), None) if !w.backup_optional => 2,
        _ => 3,
    };
    Ok(Json(WizardResponse {
        page,
        primary: w.primary.map(|m| m.name),
        backup: w.backup.map(|m| m.name),
    }))
}

/// A new authenticator app.
#[derive(Deserialize, ToSchema)]
pub struct BeginAppRequest {
    /// `primary` (wizard page 1) or `backup` (page 2, or adding an app when 2SV is on).
    pub role: String,
    /// A name to tell apps apart.
    pub name: String,
}

/// The key of a new app.
#[derive(Serialize, ToSchema)]
pub struct BeginAppResponse {
    /// Id, to confirm it.
    pub method_id: String,
    /// The key in Base32, in groups of four.
    pub secret: String,
    /// The otpauth:// URI (the QR code's content).
    pub uri: String,
    /// The QR code as SVG.
    pub qr_svg: String,
}

/// Start adding an authenticator app: returns its key and QR code.
#[utoipa::path(post, path = "/api/v1/wizard/apps", request_body = BeginAppRequest, responses((status = 200, body = BeginAppResponse), (status = 409, body = ErrorBody)))]
async fn begin_app(
    State(state): State<AppState>,
    user: SecureUser,
    JsonBody(req): JsonBody<BeginAppRequest>,
) -> ApiResult<BeginAppResponse> {
    let role = if req.role == "backup" {
        MethodRole::Backup
    } else {
        MethodRole::Primary
    };
    let app = state
        .nidan
        .begin_app(&user.account, role, &req.name)
        .await?;
    let svg = nidan_otp::qr::render_svg(&app.uri).unwrap_or_default();
    Ok(Json(BeginAppResponse {
        method_id: app.method_id,
        secret: app.secret.to_base32_grouped().to_string(),
        uri: app.uri.to_string(),
        qr_svg: svg,
    }))
}

/// A code.
#[derive(Deserialize, ToSchema)]
pub struct CodeOnlyRequest {
    /// An authenticator code (or, to turn 2SV off, a backup code).
    pub code: String,
}

/// Verify a new app with its first code.
#[utoipa::path(post, path = "/api/v1/wizard/apps/{id}/confirm", request_body = CodeOnlyRequest, params(("id" = String, Path, description = "method id")),
    responses((status = 200, body = Done), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn confirm_app(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<CodeOnlyRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .confirm_app(&user.account, &id, &req.code, &origin)
        .await?;
    Ok(done())
}

/// Page 3.
#[derive(Deserialize, ToSchema)]
pub struct EnableRequest {
    /// "Don't require codes on this browser".
    #[serde(default)]
    pub remember_browser: bool,
}

/// 2SV is on.
#[derive(Serialize, ToSchema)]
pub struct EnableResponse {
    /// The backup codes, shown once.
    pub backup_codes: Vec<String>,
    /// A remembered-browser token when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remember_token: Option<String>,
}

/// Turn two-step verification on (wizard page 3).
#[utoipa::path(post, path = "/api/v1/wizard/enable", request_body = EnableRequest, responses((status = 200, body = EnableResponse), (status = 409, body = ErrorBody)))]
async fn enable(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    JsonBody(req): JsonBody<EnableRequest>,
) -> ApiResult<EnableResponse> {
    let enabled = state
        .nidan
        .enable(
            &user.account,
            Some(&user.session),
            req.remember_browser,
            &origin,
        )
        .await?;
    Ok(Json(EnableResponse {
        backup_codes: enabled.backup_codes.iter().map(|c| c.to_string()).collect(),
        remember_token: enabled.remember_token.map(|t| t.to_string()),
    }))
}

/// Remove a method (not the last one).
#[utoipa::path(delete, path = "/api/v1/methods/{id}", params(("id" = String, Path, description = "method id")), responses((status = 200, body = Done), (status = 409, description = "last_method", body = ErrorBody)))]
async fn remove_method(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state
        .nidan
        .remove_method(&user.account, &id, &origin)
        .await?;
    Ok(done())
}

/// A new name.
#[derive(Deserialize, ToSchema)]
pub struct RenameRequest {
    /// 1 to 64 characters.
    pub name: String,
}

/// Rename a method.
#[utoipa::path(patch, path = "/api/v1/methods/{id}", request_body = RenameRequest, params(("id" = String, Path, description = "method id")), responses((status = 200, body = Done), (status = 422, body = ErrorBody)))]
async fn rename_method(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RenameRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .rename_method(&user.account, &id, &req.name, &origin)
        .await?;
    Ok(done())
}

/// Make a backup the primary method.
#[utoipa::path(post, path = "/api/v1/methods/{id}/primary", params(("id" = String, Path, description = "method id")), responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn make_primary(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state
        .nidan
        .make_primary(&user.account, &id, &origin)
        .await?;
    Ok(done())
}

/// New backup codes.
#[derive(Serialize, ToSchema)]
pub struct CodesResponse {
    /// Shown once.
    pub backup_codes: Vec<String>,
}

/// Replace the backup codes.
#[utoipa::path(post, path = "/api/v1/backup-codes", responses((status = 200, body = CodesResponse), (status = 409, body = ErrorBody)))]
async fn regenerate_codes(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
) -> ApiResult<CodesResponse> {
    let codes = state
        .nidan
        .regenerate_backup_codes(&user.account, &origin)
        .await?;
    Ok(Json(CodesResponse {
        backup_codes: codes.iter().map(|c| c.to_string()).collect(),
    }))
}

/// Turn two-step verification off (needs a code).
#[utoipa::path(post, path = "/api/v1/two-step/off", request_body = CodeOnlyRequest, responses((status = 200, body = Done), (status = 401, body = ErrorBody)))]
async fn turn_off(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    JsonBody(req): JsonBody<CodeOnlyRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .turn_off(&user.account, &req.code, &origin)
        .await?;
    Ok(done())
}

/// Require codes on all browsers.
#[utoipa::path(delete, path = "/api/v1/browsers", responses((status = 200, body = Done)))]
async fn forget_all_browsers(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
) -> ApiResult<Done> {
    state
        .nidan
        .forget_all_browsers(&user.account, &origin)
        .await?;
    Ok(done())
}

/// Forget one remembered browser.
#[utoipa::path(delete, path = "/api/v1/browsers/{id}", params(("id" = String, Path, description = "browser id")), responses((status = 200, body = Done)))]
async fn forget_browser(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state
        .nidan
        .forget_browser(&user.account, &id, &origin)
        .await?;
    Ok(done())
}

/// A phone to enrol.
#[derive(Deserialize, ToSchema)]
pub struct BeginPhoneRequest {
    /// `primary` or `backup`.
    pub role: String,
    /// The number as typed: `090-1234-5678`, `+81 90 1234 5678`.
    pub phone: String,
    /// `sms` or `voice`.
    pub channel: String,
}

/// A phone waiting for its code.
#[derive(Serialize, ToSchema)]
pub struct BeginPhoneResponse {
    /// Id, to confirm it.
    pub method_id: String,
    /// The number masked.
    pub masked: String,
    /// `sms` or `voice`.
    pub channel: String,
    /// Same number as another method: warn the user.
    pub same_number_as_other: bool,
}

fn channel(text: &str) -> MethodKind {
    if text == "voice" {
        MethodKind::Voice
    } else {
        MethodKind::Sms
    }
}

/// Start enrolling a phone: a code is texted or spoken to it.
#[utoipa::path(post, path = "/api/v1/wizard/phones", request_body = BeginPhoneRequest,
    responses((status = 200, body = BeginPhoneResponse),
        (status = 422, description = "invalid_phone, cannot_receive_sms, country_not_allowed", body = ErrorBody),
        (status = 429, description = "send_cooldown, send_cap_reached", body = ErrorBody),
        (status = 503, description = "delivery_failed", body = ErrorBody)))]
async fn begin_phone(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    JsonBody(req): JsonBody<BeginPhoneRequest>,
) -> ApiResult<BeginPhoneResponse> {
    let role = if req.role == "backup" {
        MethodRole::Backup
    } else {
        MethodRole::Primary
    };
    let p = state
        .nidan
        .begin_phone(
            &user.account,
            role,
            &req.phone,
            channel(&req.channel),
            &origin,
        )
        .await?;
    Ok(Json(BeginPhoneResponse {
        method_id: p.method_id,
        masked: p.masked,
        channel: kind_str(p.kind),
        same_number_as_other: p.same_number_as_other,
    }))
}

/// Verify an enrolling phone with the code it received.
#[utoipa::path(post, path = "/api/v1/wizard/phones/{id}/confirm", request_body = CodeOnlyRequest, params(("id" = String, Path, description = "method id")),
    responses((status = 200, body = Done), (status = 401, body = ErrorBody)))]
async fn confirm_phone(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<CodeOnlyRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .confirm_phone(&user.account, &id, &req.code, &origin)
        .await?;
    Ok(done())
}

/// Send the enrolment code again.
#[utoipa::path(post, path = "/api/v1/wizard/phones/{id}/resend", params(("id" = String, Path, description = "method id")),
    responses((status = 200, body = Done), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn resend_phone(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    user: SecureUser,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state
        .nidan
        .resend_enrolment_code(&user.account, &id, &origin)
        .await?;
    Ok(done())
}

/// Ask for a code by text or call during sign-in.
#[derive(Deserialize, ToSchema)]
pub struct SendRequest {
    /// From the `code_required` answer.
    pub challenge: String,
    /// A phone method's id from that answer.
    pub method_id: String,
    /// `sms` or `voice`.
    pub channel: String,
}

/// "Text the number ending in 78" / "Call the number ending in 78".
#[utoipa::path(post, path = "/api/v1/signin/send", request_body = SendRequest,
    responses((status = 200, body = Done), (status = 410, description = "challenge_expired: the sign-in attempt ended or does not exist", body = ErrorBody), (status = 429, description = "send_cooldown, send_cap_reached", body = ErrorBody), (status = 503, description = "delivery_failed", body = ErrorBody)))]
async fn signin_send(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(req): JsonBody<SendRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .send_sign_in_code(
            &req.challenge,
            &req.method_id,
            Some(channel(&req.channel)),
            &origin,
        )
        .await?;
    Ok(done())
}
