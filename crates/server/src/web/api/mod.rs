//! The JSON API under `/api/v1`: every step of the browser journey for
//! scripts and relying services. Sessions by `Authorization: Bearer` token
//! (or the session cookie). Errors are `{"error": {"code", "message"}}`
//! with a stable `code`. Described by the OpenAPI document at
//! `/api/openapi.json`, generated from these handlers.
//!
//! One module per area: [`signin`] (sign-up, the password and code steps,
//! sending codes), [`account`] (session, password, the settings
//! overview), [`wizard`] (the enable wizard, new apps and phones),
//! [`methods`] (changing methods, backup codes, browsers, 2SV off),
//! [`passkeys`] (adding a passkey, and the passkey step of a sign-in).

mod account;
mod methods;
mod passkeys;
mod signin;
mod wizard;

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
/// cannot exist without its documentation), by area.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(signin::routes())
        .merge(account::routes())
        .merge(wizard::routes())
        .merge(methods::routes())
        .merge(passkeys::routes())
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

/// A method's role, as requests name it (anything else is a 422).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleIn {
    /// Wizard page 1.
    Primary,
    /// Wizard page 2, or a method added with 2SV on.
    Backup,
}

impl From<RoleIn> for MethodRole {
    fn from(role: RoleIn) -> Self {
        match role {
            RoleIn::Primary => Self::Primary,
            RoleIn::Backup => Self::Backup,
        }
    }
}

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

/// A plain acknowledgement.
#[derive(Serialize, ToSchema)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

fn done() -> Json<Done> {
    Json(Done { ok: true })
}

/// A code.
#[derive(Deserialize, ToSchema)]
pub struct CodeOnlyRequest {
    /// An authenticator code (or, to turn 2SV off, a backup code).
    pub code: String,
}
