//! Changing what signs in: remove, rename or promote a method, new
//! backup codes, forget remembered browsers, turn 2SV off.

use super::*;

/// This area's routes.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(remove_method, rename_method))
        .routes(routes!(make_primary))
        .routes(routes!(regenerate_codes))
        .routes(routes!(turn_off))
        .routes(routes!(forget_all_browsers))
        .routes(routes!(forget_browser))
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
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
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
