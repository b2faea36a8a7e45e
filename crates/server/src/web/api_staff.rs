//! The JSON API of the way back in and of staff (SPEC §6, §7.3, §9.1):
//! the caller's own audit log, password reset, and the admin console's
//! operations (recovery review, users, unlock, 2SV off, audit log).
//! Admin endpoints need an `admin` account with a recent password entry.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use nidan_core::Error;
use nidan_core::model::{Account, CaseStatus, Event, EventKind, RecoveryCase};
use nidan_core::service::admin::Actor;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::{ApiUser, Done, SecureUser};
use super::context::RequestOrigin;
use super::error::{ApiError, ErrorBody, JsonBody, QueryParams};

/// The routes, each with its OpenAPI entry (see [`super::api::routes`]).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_events))
        .routes(routes!(forgot))
        .routes(routes!(reset))
        .routes(routes!(audit))
        .routes(routes!(users))
        .routes(routes!(unlock))
        .routes(routes!(disable_2sv))
        .routes(routes!(cases))
        .routes(routes!(approve))
        .routes(routes!(reject))
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// An admin with a recent password entry.
pub struct ApiStaff {
    actor: Actor,
}

impl FromRequestParts<AppState> for ApiStaff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = SecureUser::from_request_parts(parts, state).await?;
        let account = user.into_account();
        if !account.is_admin() {
            return Err(ApiError(Error::NotAdmin));
        }
        Ok(Self {
            actor: Actor::Admin(Box::new(account)),
        })
    }
}

/// One audit-log entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    /// Whose account (absent for events without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// What happened.
    pub kind: EventKind,
    /// When (Unix seconds).
    pub at: i64,
    /// From which IP.
    pub ip: String,
    /// With which User-Agent.
    pub user_agent: String,
    /// Details (never a code or secret).
    pub detail: String,
}

impl From<Event> for AuditEvent {
    fn from(e: Event) -> Self {
        Self {
            account_id: e.account_id,
            kind: e.kind,
            at: e.at,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
        }
    }
}

/// A list of audit-log entries, newest first.
#[derive(Serialize, ToSchema)]
pub struct Events {
    /// The entries.
    pub events: Vec<AuditEvent>,
}

/// How many entries.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// At most this many (1–1000, default 100).
    #[serde(default)]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<Limit>,
}

/// A page size from 1 to 1000; anything else is refused (400).
#[derive(Debug, Clone, Copy)]
pub struct Limit(i64);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if (1..=1000).contains(&n) {
            Ok(Self(n))
        } else {
            Err(serde::de::Error::custom("limit is 1 to 1000"))
        }
    }
}

/// The page size asked for, or 100.
fn limit_or_default(limit: Option<Limit>) -> i64 {
    limit.map_or(100, |l| l.0)
}

/// The caller's own audit log (§7.3).
#[utoipa::path(get, path = "/api/v1/events", params(LimitQuery),
    responses((status = 200, body = Events), (status = 401, body = ErrorBody)))]
async fn my_events(
    State(state): State<AppState>,
    user: ApiUser,
    QueryParams(q): QueryParams<LimitQuery>,
) -> ApiResult<Events> {
    let account = user.into_account();
    let events = state
        .nidan
        .my_events(&account, limit_or_default(q.limit))
        .await?;
    Ok(Json(Events {
        events: events.into_iter().map(AuditEvent::from).collect(),
    }))
}

/// Ask for a password-reset link.
#[derive(Deserialize, ToSchema)]
pub struct ForgotRequest {
    /// The account's email.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

/// Emails a reset link if an account has this address; the answer is the
/// same either way.
#[utoipa::path(post, path = "/api/v1/password/forgot", request_body = ForgotRequest,
    responses((status = 200, body = Done), (status = 422, body = ErrorBody)))]
async fn forgot(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ForgotRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .request_password_reset(&body.email, &origin)
        .await?;
    Ok(Json(Done { ok: true }))
}

/// Set a new password with the token from the emailed link.
#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The token (the last part of the link).
    pub token: String,
    /// The new password (8–128 characters).
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// Resets the password: every session ends, remembered browsers are
/// forgotten, the lockout and the abuse pause are cleared. 2SV stays on.
#[utoipa::path(post, path = "/api/v1/password/reset", request_body = ResetRequest,
    responses((status = 200, body = Done), (status = 410, description = "reset_link_invalid", body = ErrorBody)))]
async fn reset(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<ResetRequest>,
) -> ApiResult<Done> {
    state
        .nidan
        .reset_password(&body.token, &body.password, &origin)
        .await?;
    Ok(Json(Done { ok: true }))
}

/// Filters for the audit log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this account's events.
    #[serde(default)]
    pub email: Option<String>,
    /// Only this kind.
    #[serde(default)]
    pub kind: Option<EventKind>,
    /// At most this many (1–1000, default 100).
    #[serde(default)]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<Limit>,
}

/// Every account's audit log, filterable (admins).
#[utoipa::path(get, path = "/api/v1/admin/events", params(AuditQuery),
    responses((status = 200, body = Events), (status = 403, description = "not_admin or step_up_required", body = ErrorBody), (status = 404, description = "no_such_account: no account has that email", body = ErrorBody)))]
async fn audit(
    State(state): State<AppState>,
    staff: ApiStaff,
    QueryParams(q): QueryParams<AuditQuery>,
) -> ApiResult<Events> {
    let events = state
        .nidan
        .audit_log(
            &staff.actor,
            q.email.as_deref(),
            q.kind,
            limit_or_default(q.limit),
        )
        .await?;
    Ok(Json(Events {
        events: events.into_iter().map(AuditEvent::from).collect(),
    }))
}

/// An account as staff see it.
#[derive(Serialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Roles.
    pub roles: Vec<String>,
    /// When 2SV was turned on, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_step_on_since: Option<i64>,
    /// Wrong codes in a row.
    pub code_failures: i64,
    /// Whether code entry is locked.
    pub locked: bool,
    /// Since when sending codes is paused (§7.1), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes_paused_at: Option<i64>,
}

/// Accounts found.
#[derive(Serialize, ToSchema)]
pub struct Users {
    /// The accounts, newest first.
    pub users: Vec<UserOut>,
}

/// A search.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the email address (all when empty).
    #[serde(default)]
    pub q: String,
}

/// Accounts whose email contains `q` (admins).
#[utoipa::path(get, path = "/api/v1/admin/users", params(UserQuery),
    responses((status = 200, body = Users), (status = 403, body = ErrorBody)))]
async fn users(
    State(state): State<AppState>,
    staff: ApiStaff,
    QueryParams(q): QueryParams<UserQuery>,
) -> ApiResult<Users> {
    let locked_after = state.nidan.policy().lockout_after_failures;
    let found = state.nidan.find_users(&staff.actor, &q.q).await?;
    Ok(Json(Users {
        users: found
            .into_iter()
            .map(|a: Account| UserOut {
                locked: a.guard.code_failures >= locked_after,
                code_failures: a.guard.code_failures,
                codes_paused_at: a.guard.codes_paused_at,
                id: a.id,
                email: a.email,
                roles: a.roles,
                two_step_on_since: a.two_sv_on_since,
            })
            .collect(),
    }))
}

/// Clears an account's lockout and sending pause (admins; recorded).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/unlock", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn unlock(
    State(state): State<AppState>,
    staff: ApiStaff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state.nidan.unlock(&staff.actor, &id, &origin).await?;
    Ok(Json(Done { ok: true }))
}

/// Turns 2SV off for an account (admins; recorded, owner emailed).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/disable-2sv", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 409, description = "not_on", body = ErrorBody)))]
async fn disable_2sv(
    State(state): State<AppState>,
    staff: ApiStaff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> ApiResult<Done> {
    state
        .nidan
        .force_two_sv_off(&staff.actor, &id, &origin)
        .await?;
    Ok(Json(Done { ok: true }))
}

/// A recovery request.
#[derive(Serialize, ToSchema)]
pub struct CaseOut {
    /// Id.
    pub id: String,
    /// The account's id.
    pub account_id: String,
    /// The account's email.
    pub email: String,
    /// `drivers_licence`, `passport`, `residence_card`,
    /// `health_insurance_card`, `pension_book` or `other`.
    pub document_kind: String,
    /// `image/jpeg`, `image/png` or `application/pdf`.
    pub content_type: String,
    /// Bytes.
    pub document_size: i64,
    /// `open`, `approved` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When sent.
    pub created_at: i64,
    /// When decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// Whether the document is still kept.
    pub document_kept: bool,
}

impl From<RecoveryCase> for CaseOut {
    fn from(c: RecoveryCase) -> Self {
        Self {
            document_kept: c.document_deleted_at.is_none(),
            id: c.id,
            account_id: c.account_id,
            email: c.email,
            document_kind: c.document_kind.as_str().into(),
            content_type: c.content_type,
            document_size: c.document_size,
            status: c.status.as_str().into(),
            reason: c.reason,
            created_at: c.created_at,
            decided_at: c.decided_at,
        }
    }
}

/// Recovery requests.
#[derive(Serialize, ToSchema)]
pub struct Cases {
    /// The requests.
    pub cases: Vec<CaseOut>,
}

/// Which requests.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// `open` (default), `approved`, `rejected` or `all`.
    #[serde(default)]
    pub status: Option<CaseFilter>,
}

/// Which recovery requests to list (anything else is refused, 400).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaseFilter {
    /// Waiting for review (the default).
    Open,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
    /// Every request.
    All,
}

/// The recovery review queue (admins). The document itself is at
/// `/admin/recovery/{id}/document` in the console.
#[utoipa::path(get, path = "/api/v1/admin/recovery", params(CaseQuery),
    responses((status = 200, body = Cases), (status = 403, body = ErrorBody)))]
async fn cases(
    State(state): State<AppState>,
    staff: ApiStaff,
    QueryParams(q): QueryParams<CaseQuery>,
) -> ApiResult<Cases> {
    let status = match q.status.unwrap_or(CaseFilter::Open) {
        CaseFilter::Open => Some(CaseStatus::Open),
        CaseFilter::Approved => Some(CaseStatus::Approved),
        CaseFilter::Rejected => Some(CaseStatus::Rejected),
        CaseFilter::All => None,
    };
    let found = state.nidan.recovery_queue(&staff.actor, status).await?;
    Ok(Json(Cases {
        cases: found.into_iter().map(CaseOut::from).collect(),
    }))
}

/// Approves a recovery request: 2SV off, sessions ended, owner emailed.
#[utoipa::path(post, path = "/api/v1/admin/recovery/{id}/approve", params(("id" = String, Path)),
    responses((status = 200, body = CaseOut), (status = 409, description = "case_decided", body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    staff: ApiStaff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> ApiResult<CaseOut> {
    state
        .nidan
        .approve_recovery(&staff.actor, &id, &origin)
        .await
        .map(|c| Json(c.into()))
        .map_err(ApiError)
}

/// A rejection.
#[derive(Deserialize, ToSchema)]
pub struct RejectRequest {
    /// Why (emailed to the owner), 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Rejects a recovery request with a reason.
#[utoipa::path(post, path = "/api/v1/admin/recovery/{id}/reject", params(("id" = String, Path)),
    request_body = RejectRequest,
    responses((status = 200, body = CaseOut), (status = 422, description = "reason_required", body = ErrorBody)))]
async fn reject(
    State(state): State<AppState>,
    staff: ApiStaff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RejectRequest>,
) -> ApiResult<CaseOut> {
    state
        .nidan
        .reject_recovery(&staff.actor, &id, &body.reason, &origin)
        .await
        .map(|c| Json(c.into()))
        .map_err(ApiError)
}
