//! The admin console (`/admin`, SPEC §6.3, §7.3): the recovery review
//! queue with the document shown inline, approve / reject, user search, a
//! user's methods and events, unlock, turning 2SV off, roles, and the
//! audit log. Only accounts with the `admin` role, with a recent password
//! entry, get in; every change is recorded by the core with the admin's
//! name.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use nidan_core::Error;
use nidan_core::model::{Account, CaseStatus, EventKind, RecoveryCase};
use nidan_core::service::admin::Actor;
use serde::Deserialize;

use super::{Base, EventLine, event_sentence, guarded, kind_label};
use crate::web::AppState;
use crate::web::context::{MaybeSignedIn, RequestOrigin, Tr};
use crate::web::error::{classify, message};

page!(AdminPage, "admin/admin.html" { cases: Vec<CaseLine>, query: String, users: Vec<UserLine> });
page!(AdminCasePage, "admin/admin_case.html" {
    id: String, account_id: String, email: String, kind: String, sent: String, status: String,
    has_document: bool, is_pdf: bool, open: bool,
});
page!(AdminUserPage, "admin/admin_user.html" {
    id: String, email: String, two_sv: String, two_sv_on: bool, roles: String, guard: String,
    backup_codes_left: i64, methods: Vec<String>, cases: Vec<CaseLine>, events: Vec<EventLine>,
});
page!(AdminEventsPage, "admin/admin_events.html" { email: String, kinds: Vec<KindOption>, events: Vec<AuditLine> });

/// One choice of the event-kind filter.
struct KindOption {
    value: &'static str,
    label: String,
    selected: bool,
}

/// Every event kind as a choice, `chosen` selected.
fn kind_options(t: Tr, chosen: Option<EventKind>) -> Vec<KindOption> {
    EventKind::ALL
        .iter()
        .map(|&k| KindOption {
            value: k.as_str(),
            label: event_sentence(t, k),
            selected: chosen == Some(k),
        })
        .collect()
}

struct CaseLine {
    id: String,
    email: String,
    kind: String,
    when: String,
}

struct UserLine {
    id: String,
    email: String,
    status: String,
    when: String,
}

struct AuditLine {
    when: String,
    who: String,
    kind: String,
    detail: String,
    ip: String,
    agent: String,
}

/// The console's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/recovery/{id}", get(case_page))
        .route("/admin/recovery/{id}/document", get(document))
        .route("/admin/recovery/{id}/approve", post(approve))
        .route("/admin/recovery/{id}/reject", post(reject))
        .route("/admin/users/{id}", get(user_page))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/users/{id}/disable-2sv", post(disable_2sv))
        .route("/admin/users/{id}/roles", post(roles))
        .route("/admin/events", get(events))
}

/// A signed-in admin with a recent password entry.
struct Staff(Actor);

impl axum::extract::FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let me = MaybeSignedIn::from_request_parts(parts, state).await?;
        let (_, account) = guarded(state, me).map_err(|to| Redirect::to(to).into_response())?;
        if !account.is_admin() {
            let t = Tr::from_parts(parts);
            return Err(failure(state, t, &Error::NotAdmin));
        }
        Ok(Self(Actor::Admin(Box::new(account))))
    }
}

/// An error page with the error's status.
fn failure(state: &AppState, t: Tr, e: &Error) -> Response {
    let (status, _) = classify(e);
    let page = render!(AdminPage, Base::new(state, t, true), Some(message(e, t)), None, {
        cases: Vec::new(), query: String::new(), users: Vec::new(),
    });
    (status, page).into_response()
}

fn case_line(t: Tr, c: &RecoveryCase) -> CaseLine {
    CaseLine {
        id: c.id.clone(),
        email: c.email.clone(),
        kind: t.s(&format!("document.{}", c.document_kind.as_str())),
        when: t.datetime(&c.created_at),
    }
}

fn status_words(t: Tr, a: &Account, locked_after: i64) -> String {
    let mut words = vec![if a.two_sv_on_since.is_some() {
        t.s("admin.two_sv_on")
    } else {
        t.s("admin.two_sv_off")
    }];
    if a.guard.code_failures >= locked_after {
        words.push(t.s("admin.locked"));
    }
    if a.guard.codes_paused_at.is_some() {
        words.push(t.s("admin.paused"));
    }
    words.join(" · ")
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn dashboard(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    Query(query): Query<SearchQuery>,
) -> Response {
    let result = async {
        let cases = state
            .nidan
            .recovery_queue(&actor, Some(CaseStatus::Open))
            .await?;
        let users = state.nidan.find_users(&actor, &query.q).await?;
        Ok::<_, Error>((cases, users))
    }
    .await;
    let (cases, users) = match result {
        Ok(r) => r,
        Err(e) => return failure(&state, t, &e),
    };
    let locked_after = state.nidan.policy().lockout_after_failures;
    render!(AdminPage, Base::new(&state, t, true), None, None, {
        cases: cases.iter().map(|c| case_line(t, c)).collect(),
        query: query.q,
        users: users
            .iter()
            .map(|a| UserLine {
                id: a.id.clone(),
                email: a.email.clone(),
                status: status_words(t, a, locked_after),
                when: t.date(&a.created_at),
            })
            .collect(),
    })
}

async fn case_with(
    state: &AppState,
    t: Tr,
    actor: &Actor,
    id: &str,
    notice: Option<String>,
) -> Response {
    let case = match state.nidan.recovery_case(actor, id).await {
        Ok(c) => c,
        Err(e) => return failure(state, t, &e),
    };
    let status = match case.status {
        CaseStatus::Open => t.s("admin.status_open"),
        CaseStatus::Approved => t.f(
            "admin.status_approved",
            &[
                ("by", case.decided_by.as_deref().unwrap_or("")),
                ("date", &t.datetime(&case.decided_at.unwrap_or(0))),
            ],
        ),
        CaseStatus::Rejected => t.f(
            "admin.status_rejected",
            &[
                ("by", case.decided_by.as_deref().unwrap_or("")),
                ("reason", &case.reason),
            ],
        ),
    };
    render!(AdminCasePage, Base::new(state, t, true), None, notice, {
        id: case.id.clone(),
        account_id: case.account_id.clone(),
        email: case.email.clone(),
        kind: t.s(&format!("document.{}", case.document_kind.as_str())),
        sent: t.f("admin.sent_line", &[
            ("date", &t.datetime(&case.created_at)),
            ("ip", &case.ip),
            ("browser", &case.browser),
            ("kb", &(case.document_size.div_euclid(1024).max(1)).to_string()),
        ]),
        status: status,
        has_document: case.document_deleted_at.is_none(),
        is_pdf: case.content_type == "application/pdf",
        open: case.status == CaseStatus::Open,
    })
}

async fn case_page(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Response {
    case_with(&state, t, &actor, &id, None).await
}

/// The document itself, shown inline by the case page. Sandboxed, never
/// cached, and its type is the one checked at upload.
async fn document(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    match state.nidan.recovery_document(&actor, &id, &origin).await {
        Ok((content_type, bytes)) => (
            [
                (CONTENT_TYPE, content_type),
                (CONTENT_DISPOSITION, "inline".to_owned()),
                (
                    CONTENT_SECURITY_POLICY,
                    "sandbox; default-src 'none'; img-src 'self'; object-src 'self'".to_owned(),
                ),
                (CACHE_CONTROL, "no-store".to_owned()),
            ],
            bytes.to_vec(),
        )
            .into_response(),
        Err(e) => {
            let (status, _) = classify(&e);
            (status, message(&e, t)).into_response()
        }
    }
}

async fn approve(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    match state.nidan.approve_recovery(&actor, &id, &origin).await {
        Ok(_) => case_with(&state, t, &actor, &id, Some(t.s("admin.approved"))).await,
        Err(e) => failure(&state, t, &e),
    }
}

#[derive(Deserialize)]
struct RejectForm {
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    Form(form): Form<RejectForm>,
) -> Response {
    match state
        .nidan
        .reject_recovery(&actor, &id, &form.reason, &origin)
        .await
    {
        Ok(_) => case_with(&state, t, &actor, &id, Some(t.s("admin.rejected"))).await,
        Err(e) => failure(&state, t, &e),
    }
}

async fn user_with(
    state: &AppState,
    t: Tr,
    actor: &Actor,
    id: &str,
    notice: Option<String>,
) -> Response {
    let file = match state.nidan.user_file(actor, id).await {
        Ok(f) => f,
        Err(e) => return failure(state, t, &e),
    };
    let a = &file.account;
    let policy = state.nidan.policy();
    let guard = if a.guard.code_failures >= policy.lockout_after_failures {
        t.s("admin.locked")
    } else {
        t.f(
            "admin.failures",
            &[("n", &a.guard.code_failures.to_string())],
        )
    };
    let guard = match a.guard.codes_paused_at {
        Some(at) => format!("{guard} · {} ({})", t.s("admin.paused"), t.datetime(&at)),
        None => guard,
    };
    render!(AdminUserPage, Base::new(state, t, true), None, notice, {
        id: a.id.clone(),
        email: a.email.clone(),
        two_sv: status_words(t, a, policy.lockout_after_failures),
        two_sv_on: a.two_sv_on_since.is_some(),
        roles: a.roles.join(", "),
        guard: guard,
        backup_codes_left: file.backup_codes_left,
        methods: file
            .methods
            .iter()
            .map(|m| {
                let kind = kind_label(t, m.kind());
                let state_word = if m.active { "" } else { " (unfinished)" };
                format!("{} · {kind} · {}{state_word}", m.name, m.role.as_str())
            })
            .collect(),
        cases: file.cases.iter().map(|c| case_line(t, c)).collect(),
        events: file.events.iter().map(|e| EventLine::of(t, e)).collect(),
    })
}

async fn user_page(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Response {
    user_with(&state, t, &actor, &id, None).await
}

async fn unlock(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    match state.nidan.unlock(&actor, &id, &origin).await {
        Ok(()) => user_with(&state, t, &actor, &id, Some(t.s("admin.unlocked"))).await,
        Err(e) => failure(&state, t, &e),
    }
}

async fn disable_2sv(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Response {
    match state.nidan.force_two_sv_off(&actor, &id, &origin).await {
        Ok(()) => user_with(&state, t, &actor, &id, Some(t.s("admin.turned_off"))).await,
        Err(e) => failure(&state, t, &e),
    }
}

#[derive(Deserialize)]
struct RolesForm {
    roles: String,
}

async fn roles(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
    Form(form): Form<RolesForm>,
) -> Response {
    let roles: Vec<String> = form.roles.split([',', ' ']).map(str::to_owned).collect();
    match state.nidan.set_roles(&actor, &id, &roles, &origin).await {
        Ok(_) => user_with(&state, t, &actor, &id, Some(t.s("admin.roles_saved"))).await,
        Err(e) => failure(&state, t, &e),
    }
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    kind: String,
}

async fn events(
    State(state): State<AppState>,
    t: Tr,
    Staff(actor): Staff,
    Query(q): Query<AuditQuery>,
) -> Response {
    // An empty or unknown kind filters nothing (the choice list offers
    // only known kinds).
    let kind = EventKind::parse(q.kind.trim());
    let events = match state
        .nidan
        .audit_log_with_emails(&actor, Some(&q.email), kind, 200)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let (status, _) = classify(&e);
            let page = render!(AdminEventsPage, Base::new(&state, t, true), Some(message(&e, t)), None, {
                email: q.email, kinds: kind_options(t, kind), events: Vec::new(),
            });
            return (status, page).into_response();
        }
    };
    let lines = events
        .into_iter()
        .map(|(e, email)| AuditLine {
            when: t.datetime(&e.at),
            who: email.or(e.account_id).unwrap_or_default(),
            kind: event_sentence(t, e.kind),
            detail: e.detail,
            ip: e.ip,
            agent: e.user_agent.chars().take(80).collect(),
        })
        .collect();
    render!(AdminEventsPage, Base::new(&state, t, true), None, None, {
        email: q.email, kinds: kind_options(t, kind), events: lines,
    })
}
