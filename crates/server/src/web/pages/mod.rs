//! The HTML pages. Each handler reads a form, calls one core operation and
//! renders a template or redirects; errors are shown on the same page in
//! the visitor's language. No page needs JavaScript.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use nidan_core::Error;
use nidan_core::model::{Account, EventKind, MethodKind, MethodRole, Session};
use nidan_core::service::signin::{PasswordStep, SignedIn};
use serde::Deserialize;

use super::AppState;
use super::context::{
    CHALLENGE_COOKIE, EMAIL_COOKIE, MaybeSignedIn, REMEMBER_COOKIE, RequestOrigin, SESSION_COOKIE,
    Tr,
};
use super::error::{ApiError, message};

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/signup", get(signin::signup_page).post(signin::signup))
        .route(
            "/signup/confirm/{token}",
            get(signin::signup_confirm_page).post(signin::signup_confirm),
        )
        .route(
            "/signin",
            get(signin::signin_page).post(signin::signin_email),
        )
        .route(
            "/signin/password",
            get(signin::password_page).post(signin::signin_password),
        )
        .route(
            "/signin/code",
            get(signin::code_page).post(signin::signin_code),
        )
        .route("/signout", get(gate::signout_page).post(gate::signout))
        .route("/account", get(account::account_page))
        .route(
            "/password",
            get(account::change_password_page).post(account::change_password),
        )
        .route("/security", get(security::security_page))
        .route(
            "/security/reauth",
            get(account::reauth_page).post(account::reauth),
        )
        .route("/security/wizard", get(wizard::wizard_page))
        .route("/security/wizard/method", post(wizard::wizard_begin_method))
        .route(
            "/security/wizard/phone/{id}",
            get(wizard::wizard_phone_page).post(wizard::wizard_confirm_phone),
        )
        .route(
            "/security/wizard/phone/{id}/resend",
            post(wizard::wizard_resend_phone),
        )
        .route("/signin/code/send", post(signin::signin_send_code))
        .route("/dev/outbox", get(dev::outbox_page))
        .route(
            "/security/wizard/app/{id}",
            get(wizard::wizard_app_page).post(wizard::wizard_confirm_app),
        )
        .route("/security/wizard/finish", post(wizard::wizard_finish))
        .route("/security/apps/new", get(wizard::add_app_page))
        .route("/security/passkeys/new", get(wizard::passkey_page))
        .route("/signin/passkey/begin", post(signin::signin_passkey_begin))
        .route("/signin/passkey", post(signin::signin_passkey))
        .route(
            "/signin/passkey/discover/begin",
            post(signin::passwordless_begin),
        )
        .route("/signin/passkey/discover", post(signin::passwordless))
        .route(
            "/security/methods/{id}/remove",
            post(security::remove_method),
        )
        .route(
            "/security/methods/{id}/rename",
            post(security::rename_method),
        )
        .route(
            "/security/methods/{id}/primary",
            post(security::make_primary),
        )
        .route("/security/backup-codes", post(security::regenerate_codes))
        .route("/security/turn-off", post(security::turn_off))
        .route(
            "/security/browsers/{id}/forget",
            post(security::forget_browser),
        )
        .route(
            "/security/browsers/forget-all",
            post(security::forget_all_browsers),
        )
        .merge(recovery::routes())
        .merge(admin::routes())
}

/// The fields every page shares, flattened into each template.
macro_rules! page {
    ($name:ident, $path:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(askama::Template, askama_web::WebTemplate)]
        #[template(path = $path)]
        struct $name {
            t: Tr,
            service: String,
            signed_in: bool,
            /// Passkeys can be used on this server (read by the pages that
            /// offer them).
            #[allow(dead_code)]
            passkeys_on: bool,
            /// Passwordless sign-in is on (the email page offers it).
            #[allow(dead_code)]
            passwordless_on: bool,
            error: Option<String>,
            notice: Option<String>,
            $($field: $ty),*
        }
    };
}

page!(SignupPage, "signin/signup.html" { email: String });
page!(SignupConfirmPage, "signin/signup_confirm.html" { token: String });
page!(SigninEmailPage, "signin/signin_email.html" { email: String });
page!(SigninPasswordPage, "signin/signin_password.html" { email: String });
page!(CodePage, "signin/code.html" { prompt: String, phones: Vec<PhoneLine>, app_lines: Vec<String>, open_other: bool, locked: bool, has_passkey: bool });
page!(PasskeyPage, "wizard/wizard_passkey.html" { role: String, next: String, back: String });
page!(WizardPhonePage, "wizard/wizard_phone.html" { heading: String, step: Option<String>, sent_line: String, same_number: bool, method_id: String });
page!(AccountPage, "account/account.html" { email: String, two_sv_on: bool, admin: bool, reminder: Option<String> });
page!(ReauthPage, "signin/reauth.html" { email: String });
page!(PasswordPage, "signin/password.html" { email: String });
page!(SecurityPage, "account/security.html" {
    on_since: Option<i64>,
    status_on: String,
    methods: Vec<MethodLine>,
    browsers_title: String,
    browsers: Vec<BrowserLine>,
    backup_title: String,
    events: Vec<EventLine>,
    unfinished: Vec<AttemptLine>,
    warning: Option<String>,
});
page!(WizardChoosePage, "wizard/wizard_choose.html" { heading: String, step: Option<String>, primary_line: Option<String>, backup: bool, default_name: String, phone: String, kind: String });
page!(WizardAppPage, "wizard/wizard_app.html" { heading: String, step: Option<String>, qr_svg: String, secret_grouped: String, method_id: String });
page!(WizardFinalPage, "wizard/wizard_final.html" { step: String, primary_line: String, backup_line: Option<String> });
page!(CodesPage, "account/codes.html" { heading: String, codes: Vec<String>, continue_to: Option<(String, String)> });
page!(OutboxPage, "dev/outbox.html" { messages: Vec<OutboxLine> });

struct OutboxLine {
    when: String,
    channel: String,
    recipient: String,
    /// The text, with its links marked (`true`) so the page can make them
    /// clickable: a sign-up or reset link opens with one click.
    body: Vec<(String, bool)>,
}

/// `text` split into plain runs and the `http(s)://` links in it.
fn with_links(text: &str) -> Vec<(String, bool)> {
    let mut parts: Vec<(String, bool)> = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        let link = word.starts_with("http://") || word.starts_with("https://");
        let sep = if i == 0 { "" } else { " " };
        match parts.last_mut() {
            Some((run, false)) if !link => {
                run.push_str(sep);
                run.push_str(word);
            }
            _ if link => {
                if !sep.is_empty() {
                    parts.push((sep.to_owned(), false));
                }
                parts.push((word.to_owned(), true));
            }
            _ => parts.push((format!("{sep}{word}"), false)),
        }
    }
    parts
}

struct PhoneLine {
    id: String,
    can_text: bool,
    text_line: String,
    call_line: String,
}

struct MethodLine {
    id: String,
    name: String,
    kind_label: String,
    primary: bool,
    added: String,
}

struct AttemptLine {
    when: String,
    ip: String,
    browser: String,
}

struct BrowserLine {
    id: String,
    line: String,
}

struct EventLine {
    when: String,
    kind: String,
    detail: String,
    ip: String,
}

impl EventLine {
    fn of(t: Tr, e: &nidan_core::model::Event) -> Self {
        Self {
            when: t.datetime(&e.at),
            kind: event_sentence(t, e.kind),
            detail: e.detail.clone(),
            ip: e.ip.clone(),
        }
    }
}

/// What an event records, as one sentence in the page's language.
fn event_sentence(t: Tr, kind: EventKind) -> String {
    t.s(&format!("event.{}", kind.as_str()))
}

/// "Authenticator app", "Text message (SMS)", "Voice call" in the page's language.
fn kind_label(t: Tr, kind: MethodKind) -> String {
    t.s(match kind {
        MethodKind::App => "security.app",
        MethodKind::Sms => "security.sms",
        MethodKind::Voice => "security.voice",
        MethodKind::Passkey => "security.passkey",
    })
}

/// Builds the shared fields.
struct Base {
    t: Tr,
    service: String,
    signed_in: bool,
    passkeys_on: bool,
    passwordless_on: bool,
}

impl Base {
    fn new(state: &AppState, t: Tr, signed_in: bool) -> Self {
        Self {
            t,
            service: state.nidan.policy().service_name.clone(),
            signed_in,
            passkeys_on: state.nidan.passkeys_off().is_none(),
            passwordless_on: state.nidan.passkeys_off().is_none()
                && state.nidan.policy().passwordless,
        }
    }
}

macro_rules! render {
    ($page:ident, $base:expr, $error:expr, $notice:expr, { $($field:ident : $value:expr),* $(,)? }) => {{
        let base = $base;
        $page { t: base.t, service: base.service, signed_in: base.signed_in, passkeys_on: base.passkeys_on, passwordless_on: base.passwordless_on, error: $error, notice: $notice, $($field: $value),* }.into_response()
    }};
}

/// A page that loads `/static/passkey.js`: the one kind allowed a script,
/// and only first-party (`script-src 'self'`, no inline script), with
/// `connect-src 'self'` for its calls to nidan's own API.
fn scripted(state: &AppState, mut page: Response) -> Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
        "{}; script-src 'self'; connect-src 'self'",
        super::csp(&state.forward_auth).to_str().unwrap_or_default()
    )) {
        page.headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
    }
    page
}

fn to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

// After the macros, which they use.
mod account;
mod admin;
mod dev;
mod gate;
mod security;
mod signin;
mod wizard;
use security::security_with;
use wizard::CodeOnlyForm;

mod recovery;

pub use recovery::upload_routes;

async fn index(me: MaybeSignedIn) -> Response {
    if me.0.is_some() {
        to("/account")
    } else {
        to("/signin")
    }
}

fn with_session(state: &AppState, jar: CookieJar, signed: &SignedIn) -> CookieJar {
    let max_age = signed
        .session
        .keep_signed_in
        .then(|| signed.session.expires_at - signed.session.created_at);
    let mut jar = jar
        .add(state.cookie(SESSION_COOKIE, signed.session_token.to_string(), max_age))
        .remove(state.removal(CHALLENGE_COOKIE));
    if let Some(remember) = &signed.remember_token {
        let days = state.nidan.policy().remember_browser_days;
        jar = jar.add(state.cookie(REMEMBER_COOKIE, remember.to_string(), Some(days * 86_400)));
    }
    jar
}

/// A signed-in visitor whose password entry is recent enough for the
/// security settings; otherwise the request is sent to sign in or to
/// re-enter the password.
struct Guarded(Account);

impl axum::extract::FromRequestParts<AppState> for Guarded {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let me = MaybeSignedIn::from_request_parts(parts, state).await?;
        guarded(state, me)
            .map(|(_, account)| Guarded(account))
            .map_err(|to| Redirect::to(to).into_response())
    }
}

fn guarded(state: &AppState, me: MaybeSignedIn) -> Result<(Session, Account), &'static str> {
    let Some((session, account)) = me.0 else {
        return Err("/signin");
    };
    if state.nidan.require_recent_password(&session).is_err() {
        return Err("/security/reauth");
    }
    Ok((session, account))
}

/// A page for an error nothing else explains (500, or 503 when the
/// database is out of reach: see [`super::outage`]).
pub(crate) fn internal(state: &AppState, t: Tr, e: &Error) -> Response {
    let page = gate::message_page(
        state,
        t,
        Some(message(e, t)),
        t.s("error.page_title"),
        t.s("error.page_text"),
        Some(("/".to_owned(), t.s("error.page_home"))),
    );
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, page).into_response()
}
