//! Sign-up and the two-page sign-in: the emailed sign-up link, email,
//! password, and the code page with its "Didn't receive the code?" ways.

use super::*;
use nidan_core::model::Channel;

#[derive(Deserialize)]
pub(super) struct SignupForm {
    email: String,
    password: String,
}

pub(super) async fn signup_page(State(state): State<AppState>, t: Tr) -> Response {
    render!(SignupPage, Base::new(&state, t, false), None, None, { email: String::new() })
}

/// The same page whether the address is new or has an account (issue
/// 13): the email says which.
pub(super) async fn signup(
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
pub(super) async fn signup_confirm_page(
    State(state): State<AppState>,
    t: Tr,
    Path(token): Path<String>,
) -> Response {
    render!(SignupConfirmPage, Base::new(&state, t, false), None, None, { token: token })
}

pub(super) async fn signup_confirm(
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
pub(super) struct EmailForm {
    email: String,
}

pub(super) async fn signin_page(
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
    let base = Base::new(&state, t, false);
    let passwordless = base.passwordless_on;
    let page = render!(SigninEmailPage, base, None, None, { email: email });
    let page = if passwordless {
        scripted(&state, page)
    } else {
        page
    };
    (jar, page).into_response()
}

/// Passwordless sign-in's options (JSON, for `/static/passkey.js`).
pub(super) async fn passwordless_begin(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
) -> Response {
    ceremony_json(state.nidan.begin_passwordless(&origin).await)
}

/// Passwordless sign-in, posted by the email page's form once the browser
/// answered.
pub(super) async fn passwordless(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Response {
    match state
        .nidan
        .verify_passwordless(
            &form.ceremony,
            &form.credential,
            form.remember.is_some(),
            &origin,
        )
        .await
    {
        Ok(signed) => gate::after_sign_in(&state, jar, &signed, "/account"),
        Err(e) => {
            let page = render!(SigninEmailPage, Base::new(&state, t, false), Some(message(&e, t)), None, { email: String::new() });
            scripted(&state, page)
        }
    }
}

pub(super) async fn signin_email(
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

pub(super) async fn password_page(
    State(state): State<AppState>,
    t: Tr,
    jar: CookieJar,
) -> Response {
    match jar.get(EMAIL_COOKIE) {
        Some(c) => {
            render!(SigninPasswordPage, Base::new(&state, t, false), None, None, { email: c.value().to_owned() })
        }
        None => to("/signin"),
    }
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    password: String,
    #[serde(default)]
    keep: Option<String>,
}

pub(super) async fn signin_password(
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

pub(super) async fn code_page_with(
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
    let has_passkey = state.nidan.passkeys_off().is_none()
        && methods.iter().any(|m| m.kind == MethodKind::Passkey);
    let page = render!(CodePage, Base::new(state, t, false), error, notice, { prompt: prompt, phones: phones, app_lines: app_lines, open_other: open_other, locked: locked, has_passkey: has_passkey });
    if has_passkey {
        scripted(state, page)
    } else {
        page
    }
}

/// The passkey step's options for the attempt in the challenge cookie
/// (JSON, for `/static/passkey.js`).
pub(super) async fn signin_passkey_begin(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return ApiError(Error::ChallengeExpired).into_response();
    };
    ceremony_json(state.nidan.begin_passkey_sign_in(&token).await)
}

/// A ceremony's options for `/static/passkey.js`, or the error as the API
/// answers it.
fn ceremony_json(
    begun: Result<nidan_core::service::methods::passkey::PasskeyRequest, Error>,
) -> Response {
    match begun {
        Ok(r) => axum::Json(serde_json::json!({"ceremony": r.ceremony_id, "options": r.options}))
            .into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct PasskeyForm {
    ceremony: String,
    credential: String,
    #[serde(default)]
    remember: Option<String>,
}

/// The passkey step, posted by the code page's form once the browser
/// answered: like a typed code.
pub(super) async fn signin_passkey(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    let signed = state
        .nidan
        .verify_passkey(
            &token,
            &form.ceremony,
            &form.credential,
            form.remember.is_some(),
            &origin,
        )
        .await;
    code_step_answer(&state, t, jar, &token, signed).await
}

#[derive(Deserialize)]
pub(super) struct SendForm {
    method: String,
    channel: String,
}

pub(super) async fn signin_send_code(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Form(form): Form<SendForm>,
) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    // The buttons say which way; without one, the phone's usual way.
    let channel = match form.channel.as_str() {
        "sms" => Some(Channel::Sms),
        "voice" => Some(Channel::Voice),
        _ => None,
    };
    match state
        .nidan
        .send_sign_in_code(&token, &form.method, channel, &origin)
        .await
    {
        Ok(_) => {
            let method = state
                .nidan
                .pending_methods(&token)
                .await
                .ok()
                .and_then(|ms| ms.into_iter().find(|m| m.id == form.method));
            let voice = match channel {
                Some(channel) => channel == Channel::Voice,
                None => method.as_ref().is_some_and(|m| m.kind == MethodKind::Voice),
            };
            let last = method.and_then(|m| m.last_two).unwrap_or_default();
            let key = if voice {
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

pub(super) async fn code_page(State(state): State<AppState>, t: Tr, jar: CookieJar) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    code_page_with(&state, t, &token, None, None).await
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    code: String,
    #[serde(default)]
    remember: Option<String>,
}

pub(super) async fn signin_code(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    let signed = state
        .nidan
        .verify_code(&token, &form.code, form.remember.is_some(), &origin)
        .await;
    code_step_answer(&state, t, jar, &token, signed).await
}

/// What the code page's second step (a code or a passkey) answers: the
/// signed-in page, the email page again when the attempt is over, or the
/// code page with the error.
async fn code_step_answer(
    state: &AppState,
    t: Tr,
    jar: CookieJar,
    token: &str,
    signed: Result<SignedIn, Error>,
) -> Response {
    match signed {
        Ok(signed) => gate::after_sign_in(state, jar, &signed, "/account"),
        Err(e @ (Error::TooManyAttempts | Error::ChallengeExpired)) => {
            let jar = jar.remove(state.removal(CHALLENGE_COOKIE));
            let page = render!(SigninEmailPage, Base::new(state, t, false), Some(message(&e, t)), None, { email: String::new() });
            (jar, page).into_response()
        }
        Err(e) => code_page_with(state, t, token, Some(message(&e, t)), None).await,
    }
}
