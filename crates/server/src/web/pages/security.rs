//! Advanced Security Settings and the changes made on it.

use super::*;

pub(super) async fn security_with(
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
            kind_label: kind_label(t, m.kind()),
            primary: m.role == MethodRole::Primary,
            added: {
                let mut line = t.f("security.added", &[("date", &t.date(&m.created_at))]);
                if let Some(facts) = nidan_core::service::methods::passkey::passkey_facts(m) {
                    if let Some(at) = facts.last_used_at {
                        line.push_str(" · ");
                        line.push_str(&t.f("security.last_used", &[("when", &t.datetime(&at))]));
                    }
                    if facts.backed_up {
                        line.push_str(" · ");
                        line.push_str(&t.s("security.synced"));
                    }
                }
                line
            },
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

pub(super) async fn security_page(
    State(state): State<AppState>,
    t: Tr,
    Guarded(account): Guarded,
) -> Response {
    security_with(&state, t, &account, None, None).await
}

pub(super) async fn settings_result(
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

pub(super) async fn remove_method(
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
pub(super) struct RenameForm {
    name: String,
}

pub(super) async fn rename_method(
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

pub(super) async fn make_primary(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    let result = state.nidan.make_primary(&account, &id, &origin).await;
    settings_result(&state, t, &account, result).await
}

pub(super) async fn regenerate_codes(
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

pub(super) async fn turn_off(
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

pub(super) async fn forget_browser(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
    Path(id): Path<String>,
) -> Response {
    let result = state.nidan.forget_browser(&account, &id, &origin).await;
    settings_result(&state, t, &account, result).await
}

pub(super) async fn forget_all_browsers(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Guarded(account): Guarded,
) -> Response {
    let result = state.nidan.forget_all_browsers(&account, &origin).await;
    settings_result(&state, t, &account, result).await
}
