//! The signed-in account: sign-out, who am I, step-up, password change,
//! and the Advanced Security Settings overview.

use super::*;
use nidan_core::model::EventKind;

/// This area's routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signout))
        .routes(routes!(me))
        .routes(routes!(reauth))
        .routes(routes!(change_password))
        .routes(routes!(security))
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
    #[schema(min_length = 8, max_length = 128)]
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
    pub kind: EventKind,
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
                kind: kind_str(m.kind()),
                id: m.id,
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
