//! The reverse proxy's questions (§9.2): "may this request through?".
//!
//! - `/api/v1/authz/auth-request` for nginx `auth_request`: 200 with the
//!   `Remote-*` headers, 401 with a `Location` to the sign-in page (the
//!   nginx snippet turns it into a redirect), 403 when signed in but not
//!   allowed.
//! - `/api/v1/authz/forward-auth` for Traefik `forwardAuth` and Caddy
//!   `forward_auth`: the same, but a visitor who must sign in gets the
//!   redirect itself (302, or 303 for a request that is not GET/HEAD).
//!
//! The original URL comes from `X-Original-URL` (the nginx snippet sets
//! it) or `X-Forwarded-Proto`/`-Host`/`-Uri` (Traefik and Caddy set
//! these). Only the `nidan_session` cookie counts: the app's own
//! `Authorization` header belongs to the app.

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum_extra::extract::CookieJar;
use nidan_core::model::{Account, Session};
use nidan_core::service::mandate::Mandate;

use super::AppState;
use super::context::SESSION_COOKIE;
use crate::forward_auth::{PathError, Rule, Target, UrlError};

/// The two endpoints.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/authz/auth-request", any(auth_request))
        .route("/api/v1/authz/forward-auth", any(forward_auth))
}

/// What a signed-in (or not) visitor may do with a protected URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Through, as this account (`None`: an anonymous rule).
    Allowed(Option<Box<Account>>),
    /// Must sign in (again, with the code) first.
    SignIn,
    /// Signed in, but the account must turn 2SV on first.
    TurnOnTwoStep,
    /// Signed in and not allowed, or a URL no rule covers.
    Denied,
    /// A path the app behind the proxy could read under another rule
    /// than the one that would decide (see [`crate::forward_auth::path`]).
    Ambiguous(PathError),
}

impl super::Shared {
    /// The decision for `target`, given the visitor's session (if any).
    pub fn access(&self, target: &Target, me: Option<(Session, Account)>) -> Access {
        let rule = match self.forward_auth.rule_for(target) {
            Ok(Some(rule)) => rule,
            Ok(None) => return Access::Denied,
            Err(why) => return Access::Ambiguous(why),
        };
        if rule.anonymous {
            return Access::Allowed(me.map(|(_, a)| Box::new(a)));
        }
        let Some((session, account)) = me else {
            return Access::SignIn;
        };
        self.access_for(rule, &session, account)
    }

    fn access_for(&self, rule: &Rule, session: &Session, account: Account) -> Access {
        let mandated = matches!(self.nidan.mandate(&account), Mandate::Required);
        if (rule.require_2sv || mandated) && !self.nidan.passed_two_steps(session, &account) {
            return if account.two_sv_on_since.is_some() {
                // A session from before 2SV was turned on.
                Access::SignIn
            } else {
                Access::TurnOnTwoStep
            };
        }
        if !rule.roles.is_empty() && !account.roles.iter().any(|r| rule.roles.contains(r)) {
            return Access::Denied;
        }
        Access::Allowed(Some(Box::new(account)))
    }

    /// The sign-in page that returns to `target` afterwards.
    pub fn sign_in_url(&self, target: &Target) -> String {
        let rd: String =
            url::form_urlencoded::byte_serialize(target.url.as_str().as_bytes()).collect();
        format!("{}/signin?rd={rd}", self.public_base)
    }
}

/// Which proxy is asking: they differ in how a sign-in is asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// nginx: 401 with a Location; the snippet redirects.
    Nginx,
    /// Traefik, Caddy: the redirect itself.
    Redirecting,
}

/// The OpenAPI description of the two endpoints (merged into the main one).
#[derive(utoipa::OpenApi)]
#[openapi(paths(auth_request, forward_auth))]
pub struct AuthzDoc;

/// nginx `auth_request`: any method (the proxy's subrequest); the answer is
/// in the status and the `Remote-*` headers.
#[utoipa::path(get, path = "/api/v1/authz/auth-request",
    params(
        ("X-Original-URL" = String, Header, description = "the URL asked for (or X-Forwarded-Proto, -Host, -Uri)"),
        ("Cookie" = String, Header, description = "the visitor's cookies: nidan_session counts"),
    ),
    responses(
        (status = 200, description = "let through; Remote-User, Remote-Email, Remote-Groups set (none on an anonymous rule without a session)"),
        (status = 401, description = "sign in first: Location holds nidan's sign-in page returning to the URL"),
        (status = 403, description = "signed in but not allowed, or no rule covers the URL"),
        (status = 400, description = "the proxy sent no URL, or a path with no single meaning (an encoded / or \\, ..;, control characters, a double encoding) or one the app could read under another rule"),
        (status = 404, description = "forward authentication is not configured")))]
async fn auth_request(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    answer(&state, Asker::Nginx, &method, &headers).await
}

/// Traefik `forwardAuth`, Caddy `forward_auth`: as `auth-request`, but a
/// visitor who must sign in gets the redirect itself.
#[utoipa::path(get, path = "/api/v1/authz/forward-auth",
    params(
        ("X-Forwarded-Proto" = String, Header, description = "http or https"),
        ("X-Forwarded-Host" = String, Header, description = "the host asked for"),
        ("X-Forwarded-Uri" = String, Header, description = "the path and query asked for"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "the original method: 303 instead of 302 when not GET/HEAD"),
        ("Cookie" = String, Header, description = "the visitor's cookies: nidan_session counts"),
    ),
    responses(
        (status = 200, description = "let through; Remote-User, Remote-Email, Remote-Groups set"),
        (status = 302, description = "sign in first (GET/HEAD): to nidan's sign-in page, which returns to the URL"),
        (status = 303, description = "sign in first (other methods)"),
        (status = 403, description = "signed in but not allowed, or no rule covers the URL"),
        (status = 400, description = "the proxy sent no URL, or a path with no single meaning (an encoded / or \\, ..;, control characters, a double encoding) or one the app could read under another rule"),
        (status = 404, description = "forward authentication is not configured")))]
async fn forward_auth(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    answer(&state, Asker::Redirecting, &method, &headers).await
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The original request's URL, from the proxy's headers: `None` when
/// they name none.
fn target(headers: &HeaderMap) -> Option<Result<Target, UrlError>> {
    if let Some(original) = header(headers, "x-original-url") {
        return Some(Target::parse(original));
    }
    Some(Target::from_forwarded(
        header(headers, "x-forwarded-proto")?,
        header(headers, "x-forwarded-host")?,
        header(headers, "x-forwarded-uri").unwrap_or("/"),
    ))
}

/// 400 for a request whose path has no single meaning.
fn refused_path(why: PathError) -> Response {
    metrics::counter!("nidan_forward_auth_total", "decision" => "refused_path").increment(1);
    tracing::info!(reason = %why, "forward-auth: path refused");
    (
        StatusCode::BAD_REQUEST,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        format!("this path is refused: {why}"),
    )
        .into_response()
}

async fn answer(state: &AppState, asker: Asker, method: &Method, headers: &HeaderMap) -> Response {
    let no_store = [(CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    if !state.forward_auth.enabled() {
        return (
            StatusCode::NOT_FOUND,
            no_store,
            "forward authentication is not configured: add [[forward_auth.rules]] to nidan's config",
        )
            .into_response();
    }
    let target = match target(headers) {
        Some(Ok(target)) => Some(target),
        Some(Err(UrlError::Path(why))) => return refused_path(why),
        Some(Err(_)) | None => None,
    };
    let Some(target) = target else {
        tracing::warn!(
            "forward-auth request without a usable X-Original-URL or X-Forwarded-Proto/-Host/-Uri: check the proxy configuration"
        );
        return (
            StatusCode::BAD_REQUEST,
            no_store,
            "the proxy did not say which URL it asks about: send X-Original-URL, or X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri",
        )
            .into_response();
    };
    let me = match CookieJar::from_headers(headers).get(SESSION_COOKIE) {
        Some(cookie) => state.nidan.authenticate(cookie.value()).await.ok(),
        None => None,
    };
    let access = state.access(&target, me);
    let decision = match &access {
        Access::Allowed(_) => "allowed",
        Access::SignIn => "sign_in",
        Access::TurnOnTwoStep => "two_step_needed",
        Access::Denied => "denied",
        Access::Ambiguous(why) => return refused_path(*why),
    };
    metrics::counter!("nidan_forward_auth_total", "decision" => decision).increment(1);
    match access {
        Access::Allowed(account) => {
            let mut res = (StatusCode::OK, no_store).into_response();
            if let Some(account) = account {
                let h = res.headers_mut();
                let value = |s: &str| HeaderValue::from_bytes(s.as_bytes()).ok();
                for (name, v) in [
                    ("remote-user", value(&account.email)),
                    ("remote-email", value(&account.email)),
                    ("remote-groups", value(&account.roles.join(","))),
                ] {
                    if let Some(v) = v {
                        h.insert(HeaderName::from_static(name), v);
                    }
                }
            }
            res
        }
        Access::Ambiguous(why) => refused_path(why),
        Access::Denied => {
            tracing::debug!(host = %target.host, path = %target.path, "forward-auth: denied");
            (
                StatusCode::FORBIDDEN,
                no_store,
                "this account may not open this page",
            )
                .into_response()
        }
        Access::SignIn | Access::TurnOnTwoStep => {
            let location = state.sign_in_url(&target);
            let original = header(headers, "x-original-method")
                .or_else(|| header(headers, "x-forwarded-method"))
                .unwrap_or(method.as_str());
            let status = match asker {
                Asker::Nginx => StatusCode::UNAUTHORIZED,
                Asker::Redirecting if matches!(original, "GET" | "HEAD") => StatusCode::FOUND,
                Asker::Redirecting => StatusCode::SEE_OTHER,
            };
            match HeaderValue::from_str(&location) {
                Ok(location) => {
                    (status, [(LOCATION, location)], no_store, "sign in first").into_response()
                }
                Err(_) => (StatusCode::UNAUTHORIZED, no_store, "sign in first").into_response(),
            }
        }
    }
}
