//! One mapping from core errors to HTTP: status, a stable machine code,
//! and a localized message. Internal errors are logged with their detail;
//! clients get a generic sentence.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nidan_core::Error;
use serde::Serialize;

use super::context::Tr;

/// Status and machine code for each error.
pub fn classify(e: &Error) -> (StatusCode, &'static str) {
    match e {
        Error::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
        Error::InvalidEmail => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
        Error::PasswordLength => (StatusCode::UNPROCESSABLE_ENTITY, "password_length"),
        Error::SignUpLinkInvalid => (StatusCode::GONE, "sign_up_link_invalid"),
        Error::WrongCode { .. } => (StatusCode::UNAUTHORIZED, "wrong_code"),
        Error::MalformedCode(_) => (StatusCode::UNPROCESSABLE_ENTITY, "malformed_code"),
        Error::CodeAlreadyUsed => (StatusCode::UNAUTHORIZED, "code_already_used"),
        Error::TooManyAttempts => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        Error::ChallengeExpired => (StatusCode::GONE, "challenge_expired"),
        Error::NotSignedIn => (StatusCode::UNAUTHORIZED, "not_signed_in"),
        Error::StepUpRequired => (StatusCode::FORBIDDEN, "step_up_required"),
        Error::NoSuchMethod => (StatusCode::NOT_FOUND, "no_such_method"),
        Error::PasskeysOff(_) => (StatusCode::NOT_FOUND, "passkeys_off"),
        Error::MalformedPasskey(_) => (StatusCode::UNPROCESSABLE_ENTITY, "malformed_passkey"),
        Error::CeremonyExpired => (StatusCode::GONE, "ceremony_expired"),
        Error::PasskeyAlreadyRegistered => (StatusCode::CONFLICT, "passkey_already_registered"),
        Error::PasskeyRefused => (StatusCode::UNAUTHORIZED, "passkey_refused"),
        Error::WizardOrder(_) => (StatusCode::CONFLICT, "wizard_order"),
        Error::LastMethod => (StatusCode::CONFLICT, "last_method"),
        Error::BackupMustBePhone => (StatusCode::CONFLICT, "backup_must_be_phone"),
        Error::AlreadyOn => (StatusCode::CONFLICT, "already_on"),
        Error::NotOn => (StatusCode::CONFLICT, "not_on"),
        Error::InvalidName => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
        Error::Phone(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
        Error::CannotReceiveSms => (StatusCode::UNPROCESSABLE_ENTITY, "cannot_receive_sms"),
        Error::SendCooldown { .. } => (StatusCode::TOO_MANY_REQUESTS, "send_cooldown"),
        Error::SendCapReached { .. } => (StatusCode::TOO_MANY_REQUESTS, "send_cap_reached"),
        Error::CountryNotAllowed => (StatusCode::UNPROCESSABLE_ENTITY, "country_not_allowed"),
        Error::DeliveryFailed { .. } => (StatusCode::SERVICE_UNAVAILABLE, "delivery_failed"),
        Error::SlowDown { .. } => (StatusCode::TOO_MANY_REQUESTS, "slow_down"),
        Error::PasswordSlowDown { .. } => (StatusCode::TOO_MANY_REQUESTS, "password_slow_down"),
        Error::CodeEntryLocked => (StatusCode::LOCKED, "code_entry_locked"),
        Error::CodesPaused => (StatusCode::TOO_MANY_REQUESTS, "codes_paused"),
        Error::DocumentEmpty => (StatusCode::UNPROCESSABLE_ENTITY, "document_empty"),
        Error::DocumentTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "document_too_large"),
        Error::DocumentType { .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "document_type"),
        Error::DocumentKind => (StatusCode::UNPROCESSABLE_ENTITY, "document_kind"),
        Error::RecoveryAlreadyOpen => (StatusCode::CONFLICT, "recovery_already_open"),
        Error::NoSuchCase => (StatusCode::NOT_FOUND, "no_such_case"),
        Error::CaseDecided => (StatusCode::CONFLICT, "case_decided"),
        Error::ReasonRequired => (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"),
        Error::NotAdmin => (StatusCode::FORBIDDEN, "not_admin"),
        Error::NoSuchAccount => (StatusCode::NOT_FOUND, "no_such_account"),
        Error::ResetLinkInvalid => (StatusCode::GONE, "reset_link_invalid"),
        Error::Conflict => (StatusCode::CONFLICT, "conflict"),
        Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
        Error::Store(_) | Error::Crypto(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// The message a person reads.
pub fn message(e: &Error, tr: Tr) -> String {
    let (status, code) = classify(e);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "internal error");
    }
    if let Error::Unavailable(why) = e {
        tracing::warn!(error = %why, "database unavailable");
        // Whatever page shows this message is answered 503 + Retry-After.
        super::outage::note();
    }
    match e {
        Error::WrongCode { attempts_left } => {
            tr.f("error.wrong_code", &[("left", &attempts_left.to_string())])
        }
        Error::Phone(p) => tr.s(&format!("error.phone.{}", phone_key(p))),
        Error::SendCooldown { retry_after }
        | Error::SendCapReached { retry_after, .. }
        | Error::SlowDown { retry_after }
        | Error::PasswordSlowDown { retry_after } => tr.f(
            &format!("error.{code}"),
            &[("wait", &wait_words(*retry_after, tr))],
        ),
        Error::DeliveryFailed { verb, last_two } => tr.f(
            &format!("error.delivery_failed_{verb}"),
            &[("last", last_two)],
        ),
        Error::DocumentTooLarge { max_mb } => {
            tr.f("error.document_too_large", &[("mb", &max_mb.to_string())])
        }
        Error::DocumentType { found } => tr.f(
            "error.document_type",
            &[(
                "found",
                &tr.s(&format!("document.found.{}", found_key(found))),
            )],
        ),
        _ => tr.s(&format!("error.{code}")),
    }
}

/// The locale key for what a refused document looks like.
fn found_key(found: &str) -> &'static str {
    match found {
        "it is a program" => "program",
        "it is a script" => "script",
        "it is a ZIP archive or an Office document" => "zip",
        "it is a GIF image" => "gif",
        "it is a HEIC photo; save it as JPEG" => "heic",
        "it is a WebP image" => "webp",
        "it is text" => "text",
        _ => "unknown",
    }
}

fn phone_key(e: &nidan_core::phone::PhoneError) -> &'static str {
    use nidan_core::phone::PhoneError;
    match e {
        PhoneError::Empty => "empty",
        PhoneError::NotANumber => "not_a_number",
        PhoneError::Invalid => "invalid",
        PhoneError::ServiceNumber => "service_number",
        PhoneError::UnknownRegion(_) => "invalid",
    }
}

/// "2 minutes" / "40 seconds" in the page's language.
fn wait_words(seconds: i64, tr: Tr) -> String {
    let seconds = seconds.max(1);
    if seconds >= 120 {
        tr.f(
            "time.minutes",
            &[("n", &seconds.div_euclid(60).to_string())],
        )
    } else {
        tr.f("time.seconds", &[("n", &seconds.to_string())])
    }
}

/// The JSON body of an API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `wrong_code`.
    pub code: String,
    /// Human message in the request's language.
    pub message: String,
    /// For `wrong_code`: tries left in this sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<i64>,
    /// For limits: seconds to wait before trying again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<i64>,
}

/// The JSON detail of an error.
pub fn detail(e: &Error, tr: Tr) -> ErrorDetail {
    let (_, code) = classify(e);
    ErrorDetail {
        code: code.to_owned(),
        message: message(e, tr),
        attempts_left: match e {
            Error::WrongCode { attempts_left } => Some(*attempts_left),
            _ => None,
        },
        retry_after: match e {
            Error::SendCooldown { retry_after }
            | Error::SendCapReached { retry_after, .. }
            | Error::SlowDown { retry_after }
            | Error::PasswordSlowDown { retry_after } => Some(*retry_after),
            Error::Unavailable(_) => Some(super::outage::RETRY_AFTER_SECONDS),
            _ => None,
        },
    }
}

tokio::task_local! {
    /// The language of the request being answered (see [`with_language`]).
    static LANGUAGE: Tr;
}

/// Answers every request in its language: errors turned into responses
/// (handlers just use `?`) read it here instead of each handler passing it.
pub async fn with_language(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let t = Tr::from_parts(&parts);
    LANGUAGE
        .scope(t, next.run(axum::extract::Request::from_parts(parts, body)))
        .await
}

/// The language of the request being answered; English outside one.
pub fn language() -> Tr {
    LANGUAGE
        .try_with(|t| *t)
        .unwrap_or_else(|_| Tr::from_code("en"))
}

/// A core error answered as JSON, in the request's language.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = classify(&self.0);
        let body = ErrorBody {
            error: detail(&self.0, language()),
        };
        let retry_after = body.error.retry_after;
        let mut res = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.max(1).to_string())
        {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        res
    }
}

/// A JSON request body whose rejections (not JSON, the wrong content
/// type, missing or mistyped fields, too large) are answered like every
/// other API error — `ErrorBody` JSON with a stable code — instead of
/// axum's plain-text ones.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        let (parts, body) = req.into_parts();
        let t = Tr::from_parts(&parts);
        let req = axum::extract::Request::from_parts(parts, body);
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let (status, code) = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                    }
                    JsonRejection::JsonSyntaxError(_) => {
                        (StatusCode::BAD_REQUEST, "malformed_json")
                    }
                    JsonRejection::JsonDataError(_) => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
                    }
                    _ => (rejection.status(), "invalid_body"),
                };
                let body = ErrorBody {
                    error: ErrorDetail {
                        code: code.to_owned(),
                        message: format!(
                            "{} ({})",
                            t.s(&format!("error.{code}")),
                            rejection.body_text()
                        ),
                        attempts_left: None,
                        retry_after: None,
                    },
                };
                Err((status, Json(body)).into_response())
            }
        }
    }
}

/// Query parameters whose rejections are answered in JSON like every other
/// API error (`invalid_query`, 400).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for QueryParams<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let t = Tr::from_parts(parts);
                let body = ErrorBody {
                    error: ErrorDetail {
                        code: "invalid_query".to_owned(),
                        message: format!(
                            "{} ({})",
                            t.s("error.invalid_query"),
                            rejection.body_text()
                        ),
                        attempts_left: None,
                        retry_after: None,
                    },
                };
                Err((StatusCode::BAD_REQUEST, Json(body)).into_response())
            }
        }
    }
}

/// Adds the answers every API operation can give to each one's entry in
/// the OpenAPI document, with their `ErrorBody`: the request body refused
/// (400, 413, 415, 422), not signed in or not allowed (401, 403), too many
/// tries (429), the database out of reach (503), a server error (500).
pub struct CommonAnswers;

impl utoipa::Modify for CommonAnswers {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let answers = [
            ("400", "malformed_json: the body is not JSON"),
            (
                "401",
                "not_signed_in, bad_credentials, wrong_code: sign in, or the code was not right",
            ),
            ("403", "step_up_required or not_admin"),
            ("413", "the body is too large"),
            (
                "415",
                "unsupported_media_type: send Content-Type: application/json",
            ),
            (
                "422",
                "invalid_body or a value that is not valid (the message says which)",
            ),
            ("429", "a limit: wait retry_after seconds (Retry-After)"),
            ("500", "internal: the server failed; details are in its log"),
            (
                "503",
                "database_unavailable: try again in a few seconds (Retry-After)",
            ),
        ];
        for (path, item) in doc.paths.paths.iter_mut() {
            // A path with an id can name nothing (404); a change can find
            // the account in a state that does not allow it (409).
            let by_id = path.contains('{');
            let changes = [
                (
                    "404",
                    "no_such_method, no_such_case, no_such_account: nothing has this id",
                ),
                (
                    "409",
                    "conflict, not_on, already_on, last_method, wizard_order: not in this state",
                ),
            ];
            for (operation, change) in [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ]
            .into_iter()
            .filter_map(|(op, change)| op.as_mut().map(|op| (op, change)))
            {
                let extra = changes.iter().filter(|(status, _)| {
                    (*status == "404" && by_id) || (*status == "409" && change)
                });
                for &(status, description) in answers.iter().chain(extra) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}
