//! The pages of forward authentication (§9.2): the sign-in page's return
//! to the protected app, what a signed-in visitor sees when the app is not
//! (yet) open to them, and signing out of every protected app at once.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use nidan_core::model::{Account, Origin, Session};
use nidan_core::service::signin::SignedIn;
use serde::Deserialize;
use url::Url;

use super::{Base, SigninEmailPage, to, with_session};
use crate::forward_auth::Target;
use crate::web::AppState;
use crate::web::authz::Access;
use crate::web::context::{MaybeSignedIn, RETURN_COOKIE, RequestOrigin, SESSION_COOKIE, Tr};

page!(GatePage, "signin/gate.html" { heading: String, text: String, action: Option<(String, String)> });

/// A page that says one thing, with an optional link onward (and an
/// error above it, if any).
pub(super) fn message_page(
    state: &AppState,
    t: Tr,
    error: Option<String>,
    heading: String,
    text: String,
    action: Option<(String, String)>,
) -> Response {
    render!(GatePage, Base::new(state, t, false), error, None, {
        heading: heading,
        text: text,
        action: action,
    })
}
page!(SignoutPage, "signin/signout.html" { rd: Option<String> });

/// `?rd=` on the sign-in and sign-out pages.
#[derive(Deserialize, Default)]
pub(super) struct ReturnQuery {
    #[serde(default)]
    rd: Option<String>,
}

impl ReturnQuery {
    /// The return URL, if it is one the rules allow.
    pub(super) fn allowed(&self, state: &AppState) -> Option<Url> {
        let raw = self.rd.as_deref()?;
        let url = state.forward_auth.return_url(raw);
        if url.is_none() {
            tracing::info!("return URL refused: its host is not protected by forward_auth");
        }
        url
    }
}

/// The sign-in page asked to return to `url` afterwards: remembers it for
/// after the sign-in, or — for a visitor who is signed in already — goes
/// there, explains why not, or asks to sign in again with the code.
pub(super) async fn arriving(
    state: &AppState,
    t: Tr,
    jar: CookieJar,
    url: &Url,
    me: Option<(Session, Account)>,
    origin: &Origin,
) -> (CookieJar, Option<Response>) {
    let jar = jar.add(state.cookie(RETURN_COOKIE, url.to_string(), Some(3600)));
    let Some((session, account)) = me else {
        return (jar, None);
    };
    let Ok(target) = Target::parse(url.as_str()) else {
        return (jar, None);
    };
    let host = target.host.clone();
    match state.access(&target, Some((session.clone(), account.clone()))) {
        Access::Allowed(_) => (
            jar.remove(state.removal(RETURN_COOKIE)),
            Some(Redirect::to(url.as_str()).into_response()),
        ),
        Access::SignIn => {
            // The session is from before 2SV was turned on: it ends here
            // and the visitor signs in again, this time with the code.
            if let Err(e) = state.nidan.sign_out(&session, origin).await {
                tracing::error!(error = %e, "could not end a session from before 2SV");
            }
            let notice = t.f("gate.again_with_code", &[("host", &host)]);
            let page = render!(SigninEmailPage, Base::new(state, t, false), None, Some(notice), { email: account.email });
            (jar.remove(state.removal(SESSION_COOKIE)), Some(page))
        }
        Access::TurnOnTwoStep => {
            let page = render!(GatePage, Base::new(state, t, true), None, None, {
                heading: t.s("gate.two_sv_title"),
                text: t.f("gate.two_sv_needed", &[("host", &host)]),
                action: Some(("/security/wizard".to_owned(), t.s("security.get_started"))),
            });
            (jar, Some(page))
        }
        Access::Denied | Access::Ambiguous(_) => {
            let page = render!(GatePage, Base::new(state, t, true), None, None, {
                heading: t.s("gate.denied_title"),
                text: t.f("gate.denied", &[("host", &host)]),
                action: Some(("/account".to_owned(), t.s("nav.account"))),
            });
            (
                jar.remove(state.removal(RETURN_COOKIE)),
                Some((StatusCode::FORBIDDEN, page).into_response()),
            )
        }
    }
}

/// Where a new session goes: the wizard when 2SV is required now, else
/// the protected app the visitor came from (if the rules still allow that
/// URL), else `default`.
pub(super) fn after_sign_in(
    state: &AppState,
    jar: CookieJar,
    signed: &SignedIn,
    default: &'static str,
) -> Response {
    let jar = with_session(state, jar, signed);
    if matches!(
        signed.mandate,
        nidan_core::service::mandate::Mandate::Required
    ) {
        return (jar, to("/security/wizard")).into_response();
    }
    match take_return(state, jar) {
        (jar, Some(url)) => (jar, Redirect::to(url.as_str())).into_response(),
        (jar, None) => (jar, to(default)).into_response(),
    }
}

/// The return URL from the cookie, if the rules still allow it (the
/// cookie is then spent).
fn take_return(state: &AppState, jar: CookieJar) -> (CookieJar, Option<Url>) {
    let url = jar
        .get(RETURN_COOKIE)
        .and_then(|c| state.forward_auth.return_url(c.value()));
    match url {
        Some(url) => (jar.remove(state.removal(RETURN_COOKIE)), Some(url)),
        None => (jar, None),
    }
}

/// The link back to the app on the page that ends the wizard, taken from
/// the return cookie (which is spent).
pub(super) fn continue_to(
    state: &AppState,
    t: Tr,
    jar: CookieJar,
) -> (CookieJar, Option<(String, String)>) {
    let (jar, url) = take_return(state, jar);
    let link = url.map(|url| {
        let host = url.host_str().unwrap_or_default().to_owned();
        (url.to_string(), t.f("gate.continue_to", &[("host", &host)]))
    });
    (jar, link)
}

/// `GET /signout`: the link a protected app puts in its menu. Signing out
/// changes state, so it asks once, with a form.
pub(super) async fn signout_page(
    State(state): State<AppState>,
    t: Tr,
    me: MaybeSignedIn,
    Query(q): Query<ReturnQuery>,
) -> Response {
    let rd = q.allowed(&state).map(|u| u.to_string());
    if me.0.is_none() {
        return match rd {
            Some(rd) => Redirect::to(&rd).into_response(),
            None => to("/signin"),
        };
    }
    render!(SignoutPage, Base::new(&state, t, true), None, None, { rd: rd })
}

/// `POST /signout`: ends the session — for nidan and every app it
/// protects, as they all ask nidan on each request — and returns to the
/// app's page if one is given and allowed.
pub(super) async fn signout(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    me: MaybeSignedIn,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    if let Some((session, _)) = me.0
        && let Err(e) = state.nidan.sign_out(&session, &origin).await
    {
        tracing::error!(error = %e, "sign-out failed");
    }
    let rd = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "rd")
        .and_then(|(_, v)| state.forward_auth.return_url(&v));
    let jar = jar
        .remove(state.removal(SESSION_COOKIE))
        .remove(state.removal(RETURN_COOKIE));
    match rd {
        Some(url) => (jar, Redirect::to(url.as_str())).into_response(),
        None => (jar, to("/signin")).into_response(),
    }
}
