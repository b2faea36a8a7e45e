//! The enable wizard's pages: choose a method, a phone or an app verified
//! by its first code, page 3, and adding an app with 2SV on.

use super::*;
use nidan_core::model::Channel;

pub(super) async fn wizard_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
) -> Response {
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
                kind: if primary.kind() == MethodKind::App { "sms" } else { "app" }.to_owned(),
            })
        }
        (Some(primary), backup) => render!(WizardFinalPage, base, None, None, {
            step: t.f("wizard.step", &[("n", "3")]),
            primary_line: t.f("wizard.primary_done", &[("name", &primary.name)]),
            backup_line: backup.as_ref().map(|b| t.f("wizard.backup_done", &[("name", &b.name)])),
        }),
    }
}

pub(super) async fn add_app_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
) -> Response {
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
pub(super) struct PasskeyQuery {
    #[serde(default)]
    role: Option<String>,
}

/// Adding a passkey or security key: in the wizard (`?role=primary` or
/// `backup`) or, with 2SV on, from the settings. The ceremony itself runs
/// in `/static/passkey.js` against the JSON API.
pub(super) async fn passkey_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
    axum::extract::Query(q): axum::extract::Query<PasskeyQuery>,
) -> Response {
    let on = account.two_sv_on_since.is_some();
    let role = match q.role.as_deref() {
        Some("primary") if !on => "primary",
        _ if on => "backup",
        Some("backup") => "backup",
        _ => "primary",
    };
    let (next, back) = if on {
        ("/security", "/security")
    } else {
        ("/security/wizard", "/security/wizard")
    };
    let error = state
        .nidan
        .passkeys_off()
        .map(|_| message(&nidan_core::Error::PasskeysOff(""), t));
    let page = render!(PasskeyPage, Base::new(&state, t, true), error, None, {
        role: role.to_owned(),
        next: next.to_owned(),
        back: back.to_owned(),
    });
    scripted(&state, page)
}

#[derive(Deserialize)]
pub(super) struct BeginMethodForm {
    role: String,
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
}

pub(super) async fn wizard_begin_method(
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
        kind @ ("sms" | "voice") => {
            let channel = if kind == "voice" {
                Channel::Voice
            } else {
                Channel::Sms
            };
            state
                .nidan
                .begin_phone(&account, role, &form.phone, channel, &origin)
                .await
                .map(|p| format!("/security/wizard/phone/{}", p.method_id))
        }
        "passkey" => Ok(format!("/security/passkeys/new?role={}", role.as_str())),
        _ => Err(nidan_core::Error::NoSuchMethod),
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

pub(super) async fn phone_page_with(
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

pub(super) async fn wizard_phone_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    phone_page_with(&state, t, &account, &id, None, None).await
}

pub(super) async fn wizard_confirm_phone(
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

pub(super) async fn wizard_resend_phone(
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

pub(super) async fn app_page_with(
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

pub(super) async fn wizard_app_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    app_page_with(&state, t, &account, &id, None).await
}

#[derive(Deserialize)]
pub(super) struct CodeOnlyForm {
    pub(super) code: String,
}

pub(super) async fn wizard_confirm_app(
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
pub(super) struct FinishForm {
    #[serde(default)]
    remember: Option<String>,
}

pub(super) async fn wizard_finish(
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
