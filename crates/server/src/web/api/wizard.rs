//! The enable wizard: its progress, new authenticator apps and phones
//! verified by their first code, and page 3 (2SV on).

use super::*;
use nidan_core::model::Channel;

/// This area's routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(wizard))
        .routes(routes!(begin_app))
        .routes(routes!(confirm_app))
        .routes(routes!(enable))
        .routes(routes!(begin_phone))
        .routes(routes!(confirm_phone))
        .routes(routes!(resend_phone))
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
    pub role: RoleIn,
    /// A name to tell apps apart (1 to 64 characters).
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
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
    let role = MethodRole::from(req.role);
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

/// A phone to enrol.
#[derive(Deserialize, ToSchema)]
pub struct BeginPhoneRequest {
    /// `primary` or `backup`.
    pub role: RoleIn,
    /// The number as typed: `090-1234-5678`, `+81 90 1234 5678`.
    #[schema(min_length = 1, max_length = 64)]
    pub phone: String,
    /// `sms` or `voice`.
    pub channel: Channel,
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
    let role = MethodRole::from(req.role);
    let p = state
        .nidan
        .begin_phone(&user.account, role, &req.phone, req.channel, &origin)
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
