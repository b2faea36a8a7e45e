//! The web layer: one router with the pages (`pages`), the JSON API
//! (`api`, described at `/api/openapi.json`), health endpoints, security
//! headers and CSRF protection on every state-changing request.

pub mod api;
pub mod api_staff;
pub mod authz;
pub mod context;
pub mod error;
pub mod listener;
pub mod metrics;
pub mod outage;
pub mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERER, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use nidan_core::Nidan;
use nidan_store::SqlStore;
use tower_http::csrf::CsrfLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::forward_auth::ForwardAuth;
use context::{LANG_COOKIE, Tr};

/// Shared by every handler: a handle to [`Shared`], so the clone each
/// extractor and middleware takes per request is one reference count
/// (measured: the field-by-field clone and drop showed in the code step's
/// profile).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every handler reads.
pub struct Shared {
    /// The domain service.
    pub nidan: Arc<Nidan<SqlStore>>,
    /// Whether cookies are `Secure`.
    pub secure_cookies: bool,
    /// Whether `/dev/outbox` exists: enabled, listening on loopback, with
    /// no public URL other than a loopback one. Even then it answers only
    /// visitors on loopback (after `trusted_proxies`).
    pub outbox_page: bool,
    /// The rules reverse proxies are answered by (§9.2).
    pub forward_auth: Arc<ForwardAuth>,
    /// The address nidan's pages are reached at, without a trailing `/`.
    pub public_base: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Who may read `/metrics`.
    pub metrics_allow: Arc<Vec<ipnet::IpNet>>,
    /// The longest a request may take.
    pub request_timeout: std::time::Duration,
    /// No `public_url` and a loopback listener: pages visited by a
    /// loopback IP address are sent to `localhost` (see [`to_localhost`]).
    pub localhost_only_name: bool,
}

impl AppState {
    /// The state `config` describes, over `nidan`.
    pub fn new(nidan: Arc<Nidan<SqlStore>>, config: &Config) -> Self {
        Self(Arc::new(Shared {
            nidan,
            secure_cookies: config.secure_cookies(),
            outbox_page: config.outbox_page(),
            forward_auth: Arc::new(config.forward_auth.clone()),
            public_base: config.public_base().trim_end_matches('/').to_owned(),
            // Checked when the configuration was loaded.
            trusted_proxies: Arc::new(config.trusted_proxy_networks().unwrap_or_default()),
            metrics_allow: Arc::new(config.metrics_networks().unwrap_or_default()),
            request_timeout: std::time::Duration::from_secs(config.request_timeout_seconds),
            localhost_only_name: config.public_url.is_none() && config.listen.ip().is_loopback(),
        }))
    }

    /// This state with `/dev/outbox` on or off, before it is shared (for
    /// tests that serve it on a listener the configuration does not name).
    pub fn with_outbox_page(mut self, on: bool) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.0) {
            shared.outbox_page = on;
        }
        self
    }
}

impl Shared {
    /// A cookie with the flags every nidan cookie has: HttpOnly,
    /// SameSite=Lax, path /, Secure behind HTTPS. `max_age` in seconds;
    /// `None` makes a browser-session cookie.
    pub fn cookie(
        &self,
        name: &'static str,
        value: String,
        max_age: Option<i64>,
    ) -> Cookie<'static> {
        let mut c = Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.secure_cookies);
        // The session covers every protected sub-domain when forward
        // authentication names a cookie domain; the other cookies stay
        // with nidan's own host.
        if name == context::SESSION_COOKIE
            && let Some(domain) = &self.forward_auth.cookie_domain
        {
            c = c.domain(domain.trim_start_matches('.').to_owned());
        }
        if let Some(seconds) = max_age {
            c = c.max_age(time_seconds(seconds));
        }
        c.build()
    }

    /// A cookie that deletes `name`.
    pub fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut c = self.cookie(name, String::new(), Some(0));
        c.make_removal();
        c
    }
}

fn time_seconds(seconds: i64) -> time::Duration {
    time::Duration::seconds(seconds)
}

/// Content Security Policy: nothing but our own stylesheet and inline SVG;
/// no scripts at all, no framing; forms lead to nidan itself, and to the
/// hosts forward authentication protects (signing in or out from a
/// protected app ends with a redirect back to it).
pub(crate) fn csp(forward_auth: &ForwardAuth) -> HeaderValue {
    const BASE: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";
    let mut form_action = vec!["'self'".to_owned()];
    form_action.extend(forward_auth.form_action_sources());
    HeaderValue::from_str(&format!("{BASE}; form-action {}", form_action.join(" ")))
        .unwrap_or_else(|_| HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ))
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    // Record from the first request on.
    metrics::handle();
    let (api_router, doc) = openapi_router().split_for_parts();
    let doc = Arc::new(openapi_json(doc));
    let max_document = state.nidan.policy().recovery_max_bytes;
    Router::new()
        .merge(pages::routes())
        .merge(api_router)
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/static/nidan.css", get(stylesheet))
        .route("/static/passkey.js", get(passkey_script))
        .route("/lang", post(switch_language))
        // Forms and JSON bodies are small; identity documents have their
        // own limit on their own route.
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .merge(pages::upload_routes(max_document))
        .layer(CsrfLayer::new())
        // The proxy's questions carry the protected app's request headers
        // (its Origin, its Sec-Fetch-Site) and change nothing: no CSRF
        // check applies to them.
        .merge(authz::routes())
        .layer(SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            csp(&state.forward_auth),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Pages show keys, codes and account details: never cache them.
        .layer(SetResponseHeaderLayer::if_not_present(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn_with_state(
            outage::RequestLimit(state.request_timeout),
            outage::guard,
        ))
        .layer(axum::middleware::from_fn(error::with_language))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            to_localhost,
        ))
        .with_state(state)
}

/// With no `public_url`, nidan's pages live at `http://localhost:PORT`
/// (the passkeys' relying party; a relying party cannot be an IP address),
/// so a page visited as `127.0.0.1` or `[::1]` is sent there before
/// anything else happens — before a sign-in whose cookies would belong to
/// the other name, before any passkey ceremony. The API, health checks,
/// metrics, static files and the development outbox (read by tools)
/// answer under any name.
async fn to_localhost(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !state.localhost_only_name
        || !matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        )
    {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let any_name = [
        "/api/", "/healthz", "/readyz", "/metrics", "/static/", "/dev/",
    ]
    .iter()
    .any(|p| path.starts_with(p));
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return next.run(req).await;
    };
    let name = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback_ip = name
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if any_name || !loopback_ip {
        return next.run(req).await;
    }
    let port = authority
        .port_u16()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let rest = req
        .uri()
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    axum::response::Redirect::temporary(&format!("http://localhost{port}{rest}")).into_response()
}

/// The JSON API's routes with their OpenAPI entries: one router, one
/// document (`/api/openapi.json`), so a route cannot exist undocumented.
pub fn openapi_router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa::OpenApi;
    utoipa_axum::router::OpenApiRouter::with_openapi(api::ApiDoc::openapi())
        .merge(api::routes())
        .merge(api_staff::routes())
}

/// The whole OpenAPI document: the API's routes, and the forward-auth
/// endpoints (which answer any method, as proxies ask with the original
/// request's).
fn openapi_json(mut doc: utoipa::openapi::OpenApi) -> String {
    use utoipa::{Modify, OpenApi};
    error::CommonAnswers.modify(&mut doc);
    doc.merge(authz::AuthzDoc::openapi());
    doc.to_pretty_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not render the OpenAPI document");
        String::from("{}")
    })
}

/// Ready when the database answers, said within a second either way.
async fn readyz(State(state): State<AppState>) -> Response {
    let ping =
        tokio::time::timeout(std::time::Duration::from_millis(900), state.nidan.ready()).await;
    match ping {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "database not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database can't be reached",
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database did not answer within a second",
        )
            .into_response(),
    }
}

async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/nidan.css"),
    )
        .into_response()
}

async fn passkey_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/passkey.js"),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct LangForm {
    lang: String,
}

/// The language switch: remembers the choice for a year and returns to
/// the page it came from (same site only).
async fn switch_language(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<LangForm>,
) -> Response {
    let lang = Tr::from_code(&form.lang).lang;
    let back = headers
        .get(REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("://")
                .and_then(|i| r.get(i + 3..))
                .and_then(|rest| rest.find('/').and_then(|j| rest.get(j..)))
        })
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or("/")
        .to_owned();
    (
        jar.add(state.cookie(LANG_COOKIE, lang.to_owned(), Some(365 * 86_400))),
        Redirect::to(&back),
    )
        .into_response()
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let nidan = crate::build(&config).await?;
    let state = AppState::new(nidan.clone(), &config);
    if config.delivery.outbox_page == Some(true) && !config.loopback_only() {
        tracing::warn!(
            "delivery.outbox_page is ignored: nidan is not listening on loopback, or public_url is not a loopback address"
        );
    }
    // Data that would grow forever is deleted when it has run its course
    // (expired sessions, attempts, links, counters, old audit events,
    // recovery documents past retention): hourly, on every node — plain
    // conditional deletes, safe to run at once.
    let purger = nidan.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match purger.purge_expired().await {
                Ok(done) => {
                    let deleted: Vec<String> = done
                        .iter()
                        .filter(|(_, n)| *n > 0)
                        .map(|(what, n)| format!("{n} {what}"))
                        .collect();
                    if !deleted.is_empty() {
                        tracing::info!(deleted = %deleted.join(", "), "purged what has run its course");
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not purge expired data"),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("could not listen on {}: {e}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = %redact_url(&config.database_url()), "nidan is listening");
    if config.public_url.is_none() && address.ip().is_loopback() {
        println!(
            "nidan is running: open http://localhost:{}/ in your browser",
            address.port()
        );
    } else {
        println!("nidan is running: open http://{address}/ in your browser");
    }
    listener::serve(
        listener,
        app(state),
        listener::Limits {
            max_connections: config.max_connections,
            header_read_timeout: std::time::Duration::from_secs(config.header_read_timeout_seconds),
            idle_timeout: std::time::Duration::from_secs(config.idle_timeout_seconds),
        },
        shutdown(),
    )
    .await;
    Ok(())
}

/// A database URL without its password, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!(
            "{}://***@{}",
            url.get(..scheme).unwrap_or(""),
            url.get(at + 1..).unwrap_or("")
        ),
        _ => url.to_owned(),
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
