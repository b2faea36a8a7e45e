//! The pages of the way back in: identity-document recovery from the code
//! page (SPEC §6.2), and password reset by an emailed link (which also
//! unlocks code entry after a lockout and restarts sending after an abuse
//! pause).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use nidan_core::Error;
use nidan_core::model::DocumentKind;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Base, SigninEmailPage, to};
use crate::web::AppState;
use crate::web::context::{CHALLENGE_COOKIE, REMEMBER_COOKIE, RequestOrigin, SESSION_COOKIE, Tr};
use crate::web::error::message;

page!(RecoverPage, "recovery/recover.html" { pending: Option<String>, kinds: Vec<(String, String)>, kind: String });
page!(RecoverSentPage, "recovery/recover_sent.html" { line: String });
page!(ForgotPage, "signin/forgot.html" { sent: bool, email: String });
page!(ResetPage, "signin/reset.html" { done: bool, token: String });
page!(NotMePage, "signin/not_me.html" { token: String });

/// The routes with small bodies.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset/{token}", get(reset_page).post(reset))
        .route("/not-me/{token}", get(not_me_page).post(not_me))
}

/// The upload route, with its own body limit: twice the largest document,
/// so a file just over the limit is read to its end and refused with a
/// clear message rather than a dropped connection.
pub fn upload_routes(max_document: usize) -> Router<AppState> {
    Router::new()
        .route("/signin/recover", get(recover_page).post(recover_upload))
        .layer(DefaultBodyLimit::max(
            max_document.saturating_mul(2).saturating_add(64 * 1024),
        ))
}

fn kinds(t: Tr) -> Vec<(String, String)> {
    DocumentKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_owned(),
                t.s(&format!("document.{}", k.as_str())),
            )
        })
        .collect()
}

/// `h•••@example.com`.
fn masked_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

fn expired(state: &AppState, t: Tr, jar: CookieJar, e: &Error) -> Response {
    let page = render!(SigninEmailPage, Base::new(state, t, false), Some(message(e, t)), None, { email: String::new() });
    (jar.remove(state.removal(CHALLENGE_COOKIE)), page).into_response()
}

async fn recover_form(
    state: &AppState,
    t: Tr,
    jar: CookieJar,
    token: &str,
    error: Option<String>,
    kind: String,
) -> Response {
    match state.nidan.pending_recovery(token).await {
        Ok(pending) => {
            let pending = pending.map(|case| {
                t.f(
                    "recover.pending",
                    &[("date", &t.datetime(&case.created_at))],
                )
            });
            render!(RecoverPage, Base::new(state, t, false), error, None, { pending: pending, kinds: kinds(t), kind: kind })
        }
        Err(e) => expired(state, t, jar, &e),
    }
}

async fn recover_page(State(state): State<AppState>, t: Tr, jar: CookieJar) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    recover_form(&state, t, jar, &token, None, String::new()).await
}

/// What came in the upload form.
#[derive(Default)]
struct Upload {
    kind: String,
    document: Zeroizing<Vec<u8>>,
    too_large: bool,
    broken: bool,
}

/// Reads the form, streaming: the document is kept only up to `max`
/// bytes; past that the rest is read and dropped.
async fn read_upload(multipart: &mut Multipart, max: usize) -> Upload {
    let mut upload = Upload::default();
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return upload,
            Err(_) => {
                upload.broken = true;
                return upload;
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        loop {
            match field.chunk().await {
                Ok(Some(bytes)) => match name.as_str() {
                    "document" if !upload.too_large => {
                        if upload.document.len() + bytes.len() > max {
                            upload.too_large = true;
                            upload.document = Zeroizing::new(Vec::new());
                        } else {
                            upload.document.extend_from_slice(&bytes);
                        }
                    }
                    "kind" if upload.kind.len() < 64 => {
                        upload.kind.push_str(&String::from_utf8_lossy(&bytes));
                    }
                    _ => {}
                },
                Ok(None) => break,
                Err(_) => {
                    upload.broken = true;
                    return upload;
                }
            }
        }
    }
}

async fn recover_upload(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    mut multipart: Multipart,
) -> Response {
    let Some(token) = jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return to("/signin");
    };
    let max = state.nidan.policy().recovery_max_bytes;
    let upload = read_upload(&mut multipart, max).await;
    let kind = upload.kind.trim().to_owned();
    let result = if upload.too_large {
        Err(Error::DocumentTooLarge {
            max_mb: max / (1024 * 1024),
        })
    } else if upload.broken {
        return recover_form(&state, t, jar, &token, Some(t.s("recover.broken")), kind).await;
    } else {
        state
            .nidan
            .request_recovery(&token, &kind, &upload.document, &origin)
            .await
    };
    match result {
        Ok(case) => {
            render!(RecoverSentPage, Base::new(&state, t, false), None, None, {
                line: t.f("recover.will_email", &[("email", &masked_email(&case.email))]),
            })
        }
        Err(e @ (Error::ChallengeExpired | Error::TooManyAttempts)) => expired(&state, t, jar, &e),
        Err(e) => {
            let status = crate::web::error::classify(&e).0;
            let page = recover_form(&state, t, jar, &token, Some(message(&e, t)), kind).await;
            (status, page).into_response()
        }
    }
}

async fn forgot_page(State(state): State<AppState>, t: Tr) -> Response {
    render!(ForgotPage, Base::new(&state, t, false), None, None, { sent: false, email: String::new() })
}

#[derive(Deserialize)]
struct ForgotForm {
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Form(form): Form<ForgotForm>,
) -> Response {
    match state
        .nidan
        .request_password_reset(&form.email, &origin)
        .await
    {
        Ok(()) => {
            render!(ForgotPage, Base::new(&state, t, false), None, None, { sent: true, email: String::new() })
        }
        Err(e) => {
            render!(ForgotPage, Base::new(&state, t, false), Some(message(&e, t)), None, { sent: false, email: form.email })
        }
    }
}

async fn reset_page(State(state): State<AppState>, t: Tr, Path(token): Path<String>) -> Response {
    render!(ResetPage, Base::new(&state, t, false), None, None, { done: false, token: token })
}

#[derive(Deserialize)]
struct ResetForm {
    new: String,
}

async fn reset(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Response {
    match state.nidan.reset_password(&token, &form.new, &origin).await {
        Ok(()) => {
            render!(ResetPage, Base::new(&state, t, false), None, None, { done: true, token: String::new() })
        }
        Err(e) => {
            render!(ResetPage, Base::new(&state, t, false), Some(message(&e, t)), None, { done: false, token: token })
        }
    }
}

/// "This wasn't me" from a security notice (§7.2). Opening the link
/// changes nothing (mail scanners open links too): the page asks once.
async fn not_me_page(State(state): State<AppState>, t: Tr, Path(token): Path<String>) -> Response {
    render!(NotMePage, Base::new(&state, t, false), None, None, { token: token })
}

/// Ends every session and forgets remembered browsers, then asks for a
/// new password on the spot (a fresh reset, 1 hour).
async fn not_me(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Response {
    match state.nidan.not_me(&token, &origin).await {
        Ok(reset) => {
            let page = render!(ResetPage, Base::new(&state, t, false), None, Some(t.s("not_me.done")), { done: false, token: reset.to_string() });
            (
                jar.remove(state.removal(SESSION_COOKIE))
                    .remove(state.removal(REMEMBER_COOKIE)),
                page,
            )
                .into_response()
        }
        Err(e) => {
            render!(NotMePage, Base::new(&state, t, false), Some(message(&e, t)), None, { token: token })
        }
    }
}
