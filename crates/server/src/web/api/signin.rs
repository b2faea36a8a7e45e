//! Sign-up and sign-in: the emailed sign-up link, the password step, the
//! code step (or both in one field), and sending a code by text or call.

use super::*;
use nidan_core::model::Channel;

/// This area's routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(signup_confirm))
        .routes(routes!(signin))
        .routes(routes!(signin_code))
        .routes(routes!(signin_combined))
        .routes(routes!(signin_send))
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

pub(super) fn session_response(signed: &nidan_core::service::signin::SignedIn) -> SessionResponse {
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
    pub delivery_error: Option<crate::web::error::ErrorDetail>,
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
                Some(Err(e)) => Some(crate::web::error::detail(e, t)),
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

/// Ask for a code by text or call during sign-in.
#[derive(Deserialize, ToSchema)]
pub struct SendRequest {
    /// From the `code_required` answer.
    pub challenge: String,
    /// A phone method's id from that answer.
    pub method_id: String,
    /// `sms` or `voice`.
    pub channel: Channel,
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
        .send_sign_in_code(&req.challenge, &req.method_id, Some(req.channel), &origin)
        .await?;
    Ok(done())
}
