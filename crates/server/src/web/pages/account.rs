//! The account page, the password change, and step-up (the password
//! again before the security settings).

use super::*;

pub(super) async fn account_page(
    State(state): State<AppState>,
    t: Tr,
    me: MaybeSignedIn,
) -> Response {
    let Some((_, account)) = me.0 else {
        return to("/signin");
    };
    account_with(&state, t, &account, None)
}

/// The account page, or the wizard when mandatory 2SV is due (§8.1).
pub(super) fn account_with(
    state: &AppState,
    t: Tr,
    account: &Account,
    notice: Option<String>,
) -> Response {
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
pub(super) struct ChangePasswordForm {
    current: String,
    new: String,
}

pub(super) async fn change_password_page(
    State(state): State<AppState>,
    t: Tr,
    me: MaybeSignedIn,
) -> Response {
    let Some((_, account)) = me.0 else {
        return to("/signin");
    };
    render!(PasswordPage, Base::new(&state, t, true), None, None, { email: account.email })
}

pub(super) async fn change_password(
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

pub(super) async fn reauth_page(
    State(state): State<AppState>,
    t: Tr,
    me: MaybeSignedIn,
) -> Response {
    let Some((_, account)) = me.0 else {
        return to("/signin");
    };
    render!(ReauthPage, Base::new(&state, t, true), None, None, { email: account.email })
}

#[derive(Deserialize)]
pub(super) struct ReauthForm {
    password: String,
}

pub(super) async fn reauth(
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
