//! The HTML pages. Each handler reads a form, calls one core operation and
//! renders a template or redirects; errors are shown on the same page in
//! the visitor's language. No page needs JavaScript.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use nidan_core::Error;
use nidan_core::model::{Account, MethodKind, MethodRole, Session};
use nidan_core::service::signin::{PasswordStep, SignedIn};
use serde::Deserialize;

use super::AppState;
use super::context::{
    CHALLENGE_COOKIE, EMAIL_COOKIE, MaybeSignedIn, REMEMBER_COOKIE, RequestOrigin, SESSION_COOKIE,
    Tr,
};
use super::error::message;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/signup", get(signup_page).post(signup))
        .route(
            "/signup/confirm/{token}",
            get(signup_confirm_page).post(signup_confirm),
        )
        .route("/signin", get(signin_page).post(signin_email))
        .route("/signin/password", get(password_page).post(signin_password))
        .route("/signin/code", get(code_page).post(signin_code))
        .route("/signout", get(gate::signout_page).post(gate::signout))
        .route("/account", get(account_page))
        .route("/password", get(change_password_page).post(change_password))
        .route("/security", get(security_page))
        .route("/security/reauth", get(reauth_page).post(reauth))
        .route("/security/wizard", get(wizard_page))
        .route("/security/wizard/method", post(wizard_begin_method))
        .route(
            "/security/wizard/phone/{id}",
            get(wizard_phone_page).post(wizard_confirm_phone),
        )
        .route(
            "/security/wizard/phone/{id}/resend",
            post(wizard_resend_phone),
        )
        .route("/signin/code/send", post(signin_send_code))
        .route("/dev/outbox", get(outbox_page))
        .route(
            "/security/wizard/app/{id}",
            get(wizard_app_page).post(wizard_confirm_app),
        )
        .route("/security/wizard/finish", post(wizard_finish))
        .route("/security/apps/new", get(add_app_page))
        .route("/security/methods/{id}/remove", post(remove_method))
        .route("/security/methods/{id}/rename", post(rename_method))
        .route("/security/methods/{id}/primary", post(make_primary))
        .route("/security/backup-codes", post(regenerate_codes))
        .route("/security/turn-off", post(turn_off))
        .route("/security/browsers/{id}/forget", post(forget_browser))
        .route("/security/browsers/forget-all", post(forget_all_browsers))
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
            error: Option<String>,
            notice: Option<String>,
            $($field: $ty),*
        }
    };
}

page!(SignupPage, "signup.html" { email: String });
page!(SignupConfirmPage, "signup_confirm.html" { token: String });
page!(SigninEmailPage, "signin_email.html" { email: String });
page!(SigninPasswordPage, "signin_password.html" { email: String });
page!(CodePage, "code.html" { prompt: String, phones: Vec<PhoneLine>, app_lines: Vec<String>, open_other: bool, locked: bool });
page!(WizardPhonePage, "wizard_phone.html" { heading: String, step: Option<String>, sent_line: String, same_number: bool, method_id: String });
page!(AccountPage, "account.html" { email: String, two_sv_on: bool, admin: bool, reminder: Option<String> });
page!(ReauthPage, "reauth.html" { email: String });
page!(PasswordPage, "password.html" { email: String });
page!(SecurityPage, "security.html" {
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
page!(WizardChoosePage, "wizard_choose.html" { heading: String, step: Option<String>, primary_line: Option<String>, backup: bool, default_name: String, phone: String, kind: String });
page!(WizardAppPage, "wizard_app.html" { heading: String, step: Option<String>, qr_svg: String, secret_grouped: String, method_id: String });
page!(WizardFinalPage, "wizard_final.html" { step: String, primary_line: String, backup_line: Option<String> });
page!(CodesPage, "codes.html" { heading: String, codes: Vec<String>, continue_to: Option<(String, String)> });
page!(OutboxPage, "outbox.html" { messages: Vec<OutboxLine> });

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
            kind: e.kind.clone(),
            detail: e.detail.clone(),
            ip: e.ip.clone(),
        }
    }
}

/// "Authenticator app", "Text message (SMS)", "Voice call" in the page's language.
fn kind_label(t: Tr, kind: MethodKind) -> String {
    t.s(match kind {
        MethodKind::App => "security.app",
        MethodKind::Sms => "security.sms",
        MethodKind::Voice => "security.voice",
    })
}

/// Builds the shared fields.
struct Base {
    t: Tr,
    service: String,
    signed_in: bool,
}

impl Base {
    fn new(state: &AppState, t: Tr, signed_in: bool) -> Self {
        Self {
            t,
            service: state.nidan.policy().service_name.clone(),
            signed_in,
        }
    }
}

macro_rules! render {
    ($page:ident, $base:expr, $error:expr, $notice:expr, { $($field:ident : $value:expr),* $(,)? }) => {{
        let base = $base;
        $page { t: base.t, service: base.service, signed_in: base.signed_in, error: $error, notice: $notice, $($field: $value),* }.into_response()
    }};
}

fn to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

// After the macros, which they use.
mod admin;
mod gate;

mod recovery;

pub use recovery::upload_routes;

async fn index(me: MaybeSignedIn) -> Response {
    if me.0.is_some() {
        to("/account")
    } else {
        to("/signin")
    }
}

#[derive(Deserialize)]
struct SignupForm {
    email: String,
    password: String,
}

async fn signup_page(State(state): State<AppState>, t: Tr) -> Response {
    render!(SignupPage, Base::new(&state, t, false), None, None, { email: String::new() })
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

/// The same page whether the address is new or has an account (issue
/// 13): the email says which.
async fn signup(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Form(form): Form<SignupForm>,
) -> Response {
    match state
        .nidan
        .sign_up(&form.email, &form.password, t.lang, &origin)
        .await
    {
        Ok(()) => {
            let email =
                nidan_core::service::signin::normalize_email(&form.email).unwrap_or(form.email);
            // Development (email kept in the outbox): say where it is.
            let outbox = state.outbox_page.then(|| {
                let to: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
                (format!("/dev/outbox?to={to}"), t.s("signup.outbox"))
            });
            gate::message_page(
                &state,
                t,
                None,
                t.s("signup.sent_title"),
                t.f("signup.sent", &[("email", &email)]),
                outbox,
            )
        }
        Err(e) => {
            render!(SignupPage, Base::new(&state, t, false), Some(message(&e, t)), None, { email: form.email })
        }
    }
}

/// Opening the emailed link changes nothing (mail scanners open links):
/// the button does.
async fn signup_confirm_page(
    State(state): State<AppState>,
    t: Tr,
    Path(token): Path<String>,
) -> Response {
    render!(SignupConfirmPage, Base::new(&state, t, false), None, None, { token: token })
}

async fn signup_confirm(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Response {
    match state.nidan.confirm_sign_up(&token, &origin).await {
        Ok(signed) => (with_session(&state, jar, &signed), to("/security")).into_response(),
        Err(e) => gate::message_page(
            &state,
            t,
            Some(message(&e, t)),
            t.s("signup.confirm_title"),
            String::new(),
            Some(("/signup".to_owned(), t.s("signup.title"))),
        ),
    }
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
}

async fn signin_page(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    me: MaybeSignedIn,
    jar: CookieJar,
    Query(back): Query<gate::ReturnQuery>,
) -> Response {
    let mut jar = jar;
    // Sent here by a protected app (forward authentication): return there
    // afterwards — only to a host the rules name, never anywhere else.
    if let Some(url) = back.allowed(&state) {
        let (next, page) = gate::arriving(&state, t, jar, &url, me.0, &origin).await;
        jar = next;
        if let Some(page) = page {
            return (jar, page).into_response();
        }
    }
    let email = jar
        .get(EMAIL_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    (
        jar,
        render!(SigninEmailPage, Base::new(&state, t, false), None, None, { email: email }),
    )
        .into_response()
}

async fn signin_email(
    State(state): State<AppState>,
    t: Tr,
    jar: CookieJar,
    Form(form): Form<EmailForm>,
) -> Response {
    match nidan_core::service::signin::normalize_email(&form.email) {
        // The page never says whether the account exists (§1.3).
        Ok(email) => (
            jar.add(state.cookie(EMAIL_COOKIE, email, Some(3600))),
            to("/signin/password"),
        )
            .into_response(),
        Err(e) => {
            render!(SigninEmailPage, Base::new(&state, t, false), Some(message(&e, t)), None, { email: form.email })
        }
    }
}

async fn password_page(State(state): State<AppState>, t: Tr, jar: CookieJar) -> Response {
    match jar.get(EMAIL_COOKIE) {
        Some(c) => {
            render!(SigninPasswordPage, Base::new(&state, t, false), None, None, { email: c.value().to_owned() })
        }
        None => to("/signin"),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
    #[serde(default)]
    keep: Option<String>,
}

async fn signin_password(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(email) = jar.get(EMAIL_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    let remembered = jar.get(REMEMBER_COOKIE).map(|c| c.value().to_owned());
    match state
        .nidan
        .sign_in(
            &email,
            &form.password,
            form.keep.is_some(),
            remembered.as_deref(),
            &origin,
        )
        .await
    {
        Ok(PasswordStep::SignedIn(signed)) => gate::after_sign_in(&state, jar, &signed, "/account"),
        Ok(PasswordStep::CodeRequired(required)) => {
            let minutes = state.nidan.policy().challenge_minutes;
            let token = required.challenge_token.to_string();
            let jar = jar.add(state.cookie(CHALLENGE_COOKIE, token.clone(), Some(minutes * 60)));
            match required.delivery {
                // The text or call to the primary phone failed or was
                // limited: say so on the code page, with the other ways open.
                Some(Err(e)) => {
                    let page = code_page_with(&state, t, &token, Some(message(&e, t)), None).await;
                    (jar, page).into_response()
                }
                _ => (jar, to("/signin/code")).into_response(),
            }
        }
        Err(e) => {
            render!(SigninPasswordPage, Base::new(&state, t, false), Some(message(&e, t)), None, { email: email })
        }
    }
}

async fn code_page_with(
    state: &AppState,
    t: Tr,
    token: &str,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let methods = match state.nidan.pending_methods(token).await {
        Ok(m) => m,
        Err(_) => return to("/signin"),
    };
    let app_lines = methods
        .iter()
        .filter(|m| m.kind == MethodKind::App)
        .map(|m| t.f("code.use_app", &[("name", &m.name)]))
        .collect();
    let phones = methods
        .iter()
        .filter_map(|m| {
            let last = m.last_two.as_deref()?;
            Some(PhoneLine {
                id: m.id.clone(),
                can_text: m.can_text,
                text_line: t.f("code.text_to", &[("last", last)]),
                call_line: t.f("code.call_to", &[("last", last)]),
            })
        })
        .collect();
    let prompt = match methods.first() {
        Some(m) if m.kind == MethodKind::Sms => t.f(
            "code.sent_text",
            &[("last", m.last_two.as_deref().unwrap_or(""))],
        ),
        Some(m) if m.kind == MethodKind::Voice => t.f(
            "code.sent_call",
            &[("last", m.last_two.as_deref().unwrap_or(""))],
        ),
        _ => t.s("code.app_prompt"),
    };
    let open_other = error.is_some();
    let locked = error.as_deref() == Some(message(&Error::CodeEntryLocked, t).as_str());
    render!(CodePage, Base::new(state, t, false), error, notice, { prompt: prompt, phones: phones, app_lines: app_lines, open_other: open_other, locked: locked })
}

#[derive(Deserialize)]
struct SendForm {
    method: String,
    channel: String,
}

async fn signin_send_code(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Form(form): Form<SendForm>,
) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    let channel = if form.channel == "voice" {
        MethodKind::Voice
    } else {
        MethodKind::Sms
    };
    match state
        .nidan
        .send_sign_in_code(&token, &form.method, Some(channel), &origin)
        .await
    {
        Ok(_) => {
            let last = state
                .nidan
                .pending_methods(&token)
                .await
                .ok()
                .and_then(|ms| ms.into_iter().find(|m| m.id == form.method))
                .and_then(|m| m.last_two)
                .unwrap_or_default();
            let key = if channel == MethodKind::Voice {
                "code.sent_call"
            } else {
                "code.sent_text"
            };
            code_page_with(&state, t, &token, None, Some(t.f(key, &[("last", &last)]))).await
        }
        Err(e @ (Error::ChallengeExpired | Error::TooManyAttempts)) => {
            let page = render!(SigninEmailPage, Base::new(&state, t, false), Some(message(&e, t)), None, { email: String::new() });
            (jar.remove(state.removal(CHALLENGE_COOKIE)), page).into_response()
        }
        Err(e) => code_page_with(&state, t, &token, Some(message(&e, t)), None).await,
    }
}

async fn code_page(State(state): State<AppState>, t: Tr, jar: CookieJar) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    code_page_with(&state, t, &token, None, None).await
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
    #[serde(default)]
    remember: Option<String>,
}

async fn signin_code(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    match state
        .nidan
        .verify_code(&token, &form.code, form.remember.is_some(), &origin)
        .await
    {
        Ok(signed) => gate::after_sign_in(&state, jar, &signed, "/account"),
        Err(e @ (Error::TooManyAttempts | Error::ChallengeExpired)) => {
            let jar = jar.remove(state.removal(CHALLENGE_COOKIE));
            let page = render!(SigninEmailPage, Base::new(&state, t, false), Some(message(&e, t)), None, { email: String::new() });
            (jar, page).into_response()
        }
        Err(e) => code_page_with(&state, t, &token, Some(message(&e, t)), None).await,
    }
}

async fn account_page(State(state): State<AppState>, t: Tr, me: MaybeSignedIn) -> Response {
    let Some((_, account)) = me.0 else {
        return to("/signin");
    };
    account_with(&state, t, &account, None)
}

/// The account page, or the wizard when mandatory 2SV is due (§8.1).
fn account_with(state: &AppState, t: Tr, account: &Account, notice: Option<String>) -> Response {
    use nidan_core::service::mandate::Mandate;
    let reminder = match state.nidan.mandate(account) {
        Mandate::Required => return to("/security/wizard"),
        Mandate::Before(deadline) => Some(t.f("mandate.reminder", &[("date", &t.date(&deadline))])),
        Mandate::None => None,
    };
    render!(AccountPage, Base::new(state, t, true), None, notice, {
        email: account.email.clone(),
        two_sv_on: account.two_sv_on_since.is_some(),
        admin: account.is_admin(),
        reminder: reminder,
    })
}

#[derive(Deserialize)]
struct ChangePasswordForm {
    current: String,
    new: String,
}

async fn change_password_page(State(state): State<AppState>, t: Tr, me: MaybeSignedIn) -> Response {
    let Some((_, account)) = me.0 else {
        return to("/signin");
    };
    render!(PasswordPage, Base::new(&state, t, true), None, None, { email: account.email })
}

async fn change_password(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    me: MaybeSignedIn,
    jar: CookieJar,
    Form(form): Form<ChangePasswordForm>,
) -> Response {
    let Some((session, account)) = me.0 else {
        return to("/signin");
    };
    match state
        .nidan
        .change_password(&session, &account, &form.current, &form.new, &origin)
        .await
    {
        Ok(()) => {
            let page = account_with(&state, t, &account, Some(t.s("password.changed")));
            (jar.remove(state.removal(REMEMBER_COOKIE)), page).into_response()
        }
        Err(e) => {
            render!(PasswordPage, Base::new(&state, t, true), Some(message(&e, t)), None, { email: account.email })
        }
    }
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

async fn reauth_page(State(state): State<AppState>, t: Tr, me: MaybeSignedIn) -> Response {
    let Some((_, account)) = me.0 else {
        return to("/signin");
    };
    render!(ReauthPage, Base::new(&state, t, true), None, None, { email: account.email })
}

#[derive(Deserialize)]
struct ReauthForm {
    password: String,
}

async fn reauth(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    me: MaybeSignedIn,
    Form(form): Form<ReauthForm>,
) -> Response {
    let Some((session, account)) = me.0 else {
        return to("/signin");
    };
    match state
        .nidan
        .step_up(&session, &account, &form.password, &origin)
        .await
    {
        Ok(()) => to("/security"),
        Err(e) => {
            render!(ReauthPage, Base::new(&state, t, true), Some(message(&e, t)), None, { email: account.email })
        }
    }
}

async fn security_with(
    state: &AppState,
    t: Tr,
    account: &Account,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let overview = match state.nidan.overview(account).await {
        Ok(o) => o,
        Err(e) => return internal(state, t, &e),
    };
    let methods = overview
        .methods
        .iter()
        .map(|m| MethodLine {
            id: m.id.clone(),
            name: m.name.clone(),
            kind_label: kind_label(t, m.kind),
            primary: m.role == MethodRole::Primary,
            added: t.f("security.added", &[("date", &t.date(&m.created_at))]),
        })
        .collect();
    let browsers: Vec<BrowserLine> = overview
        .browsers
        .iter()
        .map(|b| BrowserLine {
            id: b.id.clone(),
            line: t.f(
                "security.browser_line",
                &[
                    ("label", &b.label),
                    ("first", &t.date(&b.created_at)),
                    ("last", &t.datetime(&b.last_used_at)),
                ],
            ),
        })
        .collect();
    let events = overview
        .events
        .iter()
        .map(|e| EventLine::of(t, e))
        .collect();
    let unfinished = match state.nidan.unfinished_sign_ins(account).await {
        Ok(list) => list
            .iter()
            .map(|c| AttemptLine {
                when: t.datetime(&c.created_at),
                ip: c.ip.clone(),
                browser: c.browser.clone(),
            })
            .collect(),
        Err(e) => return internal(state, t, &e),
    };
    let warning = if account.guard.codes_paused_at.is_some() {
        Some(t.s("security.paused"))
    } else if account.guard.code_failures >= state.nidan.policy().lockout_after_failures {
        Some(t.s("security.locked"))
    } else {
        None
    };
    let status_on = overview
        .two_sv_on_since
        .map(|s| t.f("security.status_on", &[("date", &t.date(&s))]))
        .unwrap_or_default();
    render!(SecurityPage, Base::new(state, t, true), error, notice, {
        on_since: overview.two_sv_on_since,
        status_on: status_on,
        methods: methods,
        browsers_title: t.f("security.browsers", &[("count", &browsers.len().to_string())]),
        browsers: browsers,
        backup_title: t.f("security.backup_codes", &[("count", &overview.backup_codes_left.to_string())]),
        events: events,
        unfinished: unfinished,
        warning: warning,
    })
}

/// A page for an error nothing else explains (500, or 503 when the
/// database is out of reach: see [`super::outage`]).
pub(crate) fn internal(state: &AppState, t: Tr, e: &Error) -> Response {
    let text = message(e, t);
    let page = render!(SigninEmailPage, Base::new(state, t, false), Some(text), None, { email: String::new() });
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, page).into_response()
}

async fn security_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
) -> Response {
    security_with(&state, t, &account, None, None).await
}

async fn wizard_page(State(state): State<AppState>, t: Tr, Guarded(account): Guarded) -> Response {
    if account.two_sv_on_since.is_some() {
        return to("/security");
    }
    let wizard = match state.nidan.wizard_state(&account).await {
        Ok(w) => w,
        Err(e) => return internal(&state, t, &e),
    };
    let base = Base::new(&state, t, true);
    match (&wizard.primary, &wizard.backup) {
        (None, _) => render!(WizardChoosePage, base, None, None, {
            heading: t.s("wizard.primary_title"),
            step: Some(t.f("wizard.step", &[("n", "1")])),
            primary_line: None,
            backup: false,
            default_name: t.s("security.app"),
            phone: String::new(),
            kind: "sms".to_owned(),
        }),
        (Some(primary), None) if !wizard.backup_optional => {
            render!(WizardChoosePage, base, None, None, {
                heading: t.s("wizard.backup_title"),
                step: Some(t.f("wizard.step", &[("n", "2")])),
                primary_line: Some(t.f("wizard.primary_done", &[("name", &primary.name)])),
                backup: true,
                default_name: "kagi".to_owned(),
                phone: String::new(),
                kind: if primary.kind == MethodKind::App { "sms" } else { "app" }.to_owned(),
            })
        }
        (Some(primary), backup) => render!(WizardFinalPage, base, None, None, {
            step: t.f("wizard.step", &[("n", "3")]),
            primary_line: t.f("wizard.primary_done", &[("name", &primary.name)]),
            backup_line: backup.as_ref().map(|b| t.f("wizard.backup_done", &[("name", &b.name)])),
        }),
    }
}

async fn add_app_page(State(state): State<AppState>, t: Tr, Guarded(account): Guarded) -> Response {
    if account.two_sv_on_since.is_none() {
        return to("/security/wizard");
    }
    render!(WizardChoosePage, Base::new(&state, t, true), None, None, {
        heading: t.s("security.add_app"),
        step: None,
        primary_line: None,
        backup: true,
        default_name: t.s("security.app"),
        phone: String::new(),
        kind: "app".to_owned(),
    })
}

#[derive(Deserialize)]
struct BeginMethodForm {
    role: String,
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
}

async fn wizard_begin_method(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Form(form): Form<BeginMethodForm>,
) -> Response {
    let role = if form.role == "backup" {
        MethodRole::Backup
    } else {
        MethodRole::Primary
    };
    let result = match form.kind.as_str() {
        "app" => state
            .nidan
            .begin_app(&account, role, &form.name)
            .await
            .map(|app| format!("/security/wizard/app/{}", app.method_id)),
        kind => {
            let kind = if kind == "voice" {
                MethodKind::Voice
            } else {
                MethodKind::Sms
            };
            state
                .nidan
                .begin_phone(&account, role, &form.phone, kind, &origin)
                .await
                .map(|p| format!("/security/wizard/phone/{}", p.method_id))
        }
    };
    match result {
        Ok(path) => to(&path),
        Err(e) => {
            render!(WizardChoosePage, Base::new(&state, t, true), Some(message(&e, t)), None, {
                heading: t.s(if role == MethodRole::Backup { "wizard.backup_title" } else { "wizard.primary_title" }),
                step: None,
                primary_line: None,
                backup: role == MethodRole::Backup,
                default_name: form.name,
                phone: form.phone,
                kind: form.kind,
            })
        }
    }
}

async fn phone_page_with(
    state: &AppState,
    t: Tr,
    account: &Account,
    method_id: &str,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let phone = match state.nidan.pending_phone(account, method_id).await {
        Ok(p) => p,
        Err(Error::NoSuchMethod) => return to("/security/wizard"),
        Err(e) => return internal(state, t, &e),
    };
    let sent_line = match phone.kind {
        MethodKind::Voice => t.f("phone.sent_voice", &[("masked", &phone.masked)]),
        _ => t.f("phone.sent_sms", &[("masked", &phone.masked)]),
    };
    let heading = t.s(if phone.kind == MethodKind::Voice {
        "wizard.voice"
    } else {
        "wizard.sms"
    });
    render!(WizardPhonePage, Base::new(state, t, true), error, notice, {
        heading: heading,
        step: None,
        sent_line: sent_line,
        same_number: phone.same_number_as_other,
        method_id: phone.method_id,
    })
}

async fn wizard_phone_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    phone_page_with(&state, t, &account, &id, None, None).await
}

async fn wizard_confirm_phone(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
    Form(form): Form<CodeOnlyForm>,
) -> Response {
    match state
        .nidan
        .confirm_phone(&account, &id, &form.code, &origin)
        .await
    {
        Ok(_) if account.two_sv_on_since.is_some() => to("/security"),
        Ok(_) => to("/security/wizard"),
        Err(Error::WrongCode { .. }) => {
            phone_page_with(
                &state,
                t,
                &account,
                &id,
                Some(t.s("error.wrong_enrol_phone_code")),
                None,
            )
            .await
        }
        Err(e) => phone_page_with(&state, t, &account, &id, Some(message(&e, t)), None).await,
    }
}

async fn wizard_resend_phone(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    match state
        .nidan
        .resend_enrolment_code(&account, &id, &origin)
        .await
    {
        Ok(()) => phone_page_with(&state, t, &account, &id, None, None).await,
        Err(e) => phone_page_with(&state, t, &account, &id, Some(message(&e, t)), None).await,
    }
}

async fn app_page_with(
    state: &AppState,
    t: Tr,
    account: &Account,
    method_id: &str,
    error: Option<String>,
) -> Response {
    let app = match state.nidan.pending_app(account, method_id).await {
        Ok(app) => app,
        Err(Error::NoSuchMethod) => return to("/security/wizard"),
        Err(e) => return internal(state, t, &e),
    };
    let svg = nidan_otp::qr::render_svg(&app.uri).unwrap_or_default();
    let svg = svg
        .find("<svg")
        .and_then(|i| svg.get(i..))
        .unwrap_or("")
        .to_owned();
    let pending_role_is_backup = match state.nidan.wizard_state(account).await {
        Ok(w) => w.primary.is_some() || account.two_sv_on_since.is_some(),
        Err(_) => false,
    };
    let step = if account.two_sv_on_since.is_some() {
        None
    } else {
        Some(t.f(
            "wizard.step",
            &[("n", if pending_role_is_backup { "2" } else { "1" })],
        ))
    };
    render!(WizardAppPage, Base::new(state, t, true), error, None, {
        heading: t.s("wizard.app_choice"),
        step: step,
        qr_svg: svg,
        secret_grouped: app.secret.to_base32_grouped().to_string(),
        method_id: app.method_id,
    })
}

async fn wizard_app_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    app_page_with(&state, t, &account, &id, None).await
}

#[derive(Deserialize)]
struct CodeOnlyForm {
    code: String,
}

async fn wizard_confirm_app(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
    Form(form): Form<CodeOnlyForm>,
) -> Response {
    match state
        .nidan
        .confirm_app(&account, &id, &form.code, &origin)
        .await
    {
        Ok(_) if account.two_sv_on_since.is_some() => to("/security"),
        Ok(_) => to("/security/wizard"),
        Err(e) => {
            // A wrong code during enrolment has no attempt budget of its
            // own: say it is wrong without a count.
            let text = match e {
                Error::WrongCode { .. } => t.s("error.wrong_enrol_code"),
                other => message(&other, t),
            };
            app_page_with(&state, t, &account, &id, Some(text)).await
        }
    }
}

#[derive(Deserialize)]
struct FinishForm {
    #[serde(default)]
    remember: Option<String>,
}

async fn wizard_finish(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    me: MaybeSignedIn,
    jar: CookieJar,
    Form(form): Form<FinishForm>,
) -> Response {
    let (session, account) = match guarded(&state, me) {
        Ok(pair) => pair,
        Err(path) => return to(path),
    };
    match state
        .nidan
        .enable(&account, Some(&session), form.remember.is_some(), &origin)
        .await
    {
        Ok(enabled) => {
            // A new session token for the session 2SV was turned on in: it
            // now counts as signed in with two steps (a code was just
            // confirmed), and the token from before stops working.
            let mut jar = match state.nidan.renew_session(&session, &account).await {
                Ok(renewed) => with_session(&state, jar, &renewed),
                Err(e) => {
                    tracing::error!(error = %e, "could not renew the session after turning 2SV on");
                    jar
                }
            };
            let continue_to;
            (jar, continue_to) = gate::continue_to(&state, t, jar);
            if let Some(token) = &enabled.remember_token {
                let days = state.nidan.policy().remember_browser_days;
                jar =
                    jar.add(state.cookie(REMEMBER_COOKIE, token.to_string(), Some(days * 86_400)));
            }
            let codes = enabled.backup_codes.iter().map(|c| c.to_string()).collect();
            (jar, render!(CodesPage, Base::new(&state, t, true), None, None, { heading: t.s("done.title"), codes: codes, continue_to: continue_to })).into_response()
        }
        Err(e) => security_with(&state, t, &account, Some(message(&e, t)), None).await,
    }
}

async fn settings_result(
    state: &AppState,
    t: Tr,
    account: &Account,
    result: Result<(), Error>,
) -> Response {
    match result {
        Ok(()) => to("/security"),
        Err(e) => security_with(state, t, account, Some(message(&e, t)), None).await,
    }
}

async fn remove_method(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    let result = state.nidan.remove_method(&account, &id, &origin).await;
    settings_result(&state, t, &account, result).await
}

#[derive(Deserialize)]
struct RenameForm {
    name: String,
}

async fn rename_method(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
    Form(form): Form<RenameForm>,
) -> Response {
    let result = state
        .nidan
        .rename_method(&account, &id, &form.name, &origin)
        .await;
    settings_result(&state, t, &account, result).await
}

async fn make_primary(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    let result = state.nidan.make_primary(&account, &id, &origin).await;
    settings_result(&state, t, &account, result).await
}

async fn regenerate_codes(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
) -> Response {
    match state.nidan.regenerate_backup_codes(&account, &origin).await {
        Ok(codes) => {
            render!(CodesPage, Base::new(&state, t, true), None, None, { heading: t.s("codes.title"), codes: codes.iter().map(|c| c.to_string()).collect(), continue_to: None })
        }
        Err(e) => security_with(&state, t, &account, Some(message(&e, t)), None).await,
    }
}

async fn turn_off(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    jar: CookieJar,
    Form(form): Form<CodeOnlyForm>,
) -> Response {
    let result = state.nidan.turn_off(&account, &form.code, &origin).await;
    let ok = result.is_ok();
    let page = settings_result(&state, t, &account, result).await;
    if ok {
        (jar.remove(state.removal(REMEMBER_COOKIE)), page).into_response()
    } else {
        page
    }
}

async fn forget_browser(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    let result = state.nidan.forget_browser(&account, &id, &origin).await;
    settings_result(&state, t, &account, result).await
}

async fn forget_all_browsers(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
) -> Response {
    let result = state.nidan.forget_all_browsers(&account, &origin).await;
    settings_result(&state, t, &account, result).await
}

/// The development outbox, served only when enabled and listening on
/// loopback; otherwise it does not exist.
/// `/dev/outbox?to=ADDRESS`: only the messages to that recipient.
#[derive(Deserialize)]
struct OutboxQuery {
    to: Option<String>,
}

async fn outbox_page(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    headers: axum::http::HeaderMap,
    Query(query): Query<OutboxQuery>,
) -> Response {
    // Codes and links for every account: only for someone sitting at this
    // machine, never a visitor a proxy forwarded (issue 13, finding 5) —
    // whether or not the proxy is trusted.
    let forwarded = [
        "x-forwarded-for",
        "forwarded",
        "x-real-ip",
        "x-forwarded-host",
    ]
    .iter()
    .any(|h| headers.contains_key(*h));
    let local = !forwarded
        && origin
            .ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !state.outbox_page || !local {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let limit = if query.to.is_some() { 1000 } else { 50 };
    match state.nidan.outbox(limit).await {
        Ok(messages) => {
            let messages = messages
                .into_iter()
                .filter(|m| {
                    query
                        .to
                        .as_deref()
                        .is_none_or(|to| m.recipient.eq_ignore_ascii_case(to.trim()))
                })
                .map(|m| OutboxLine {
                    when: t.datetime(&m.created_at),
                    channel: m.channel,
                    recipient: m.recipient,
                    body: m
                        .body
                        .lines()
                        .flat_map(|line| {
                            let mut parts = with_links(line);
                            parts.push(("\n".to_owned(), false));
                            parts
                        })
                        .collect(),
                })
                .collect();
            render!(OutboxPage, Base::new(&state, t, false), None, None, { messages: messages })
        }
        Err(e) => internal(&state, t, &e),
    }
}
