//! Failing fast, in plain words, when the database is out of reach or a
//! request runs too long (issue 14): the answer is 503 with `Retry-After`
//! and a stable error code, on pages as in the API, within the bounds the
//! operator set (`database_acquire_timeout_seconds`,
//! `request_timeout_seconds`) — never a request held open for half a
//! minute. Nothing needs a restart when the database comes back: the next
//! request gets a fresh connection.

use std::cell::Cell;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What `Retry-After` says when the database is out of reach.
pub const RETRY_AFTER_SECONDS: i64 = 5;

tokio::task_local! {
    /// Set while a request is answered when its error was "database
    /// unavailable", so the page showing it gets the 503.
    static UNAVAILABLE: Cell<bool>;
}

/// Marks the current request as answered "database unavailable".
pub fn note() {
    let _ = UNAVAILABLE.try_with(|flag| flag.set(true));
}

/// The longest a request may take.
#[derive(Clone, Copy)]
pub struct RequestLimit(pub Duration);

/// Runs a request within its time limit; a request that showed "database
/// unavailable", or ran out of time, is answered 503 with `Retry-After`.
pub async fn guard(State(limit): State<RequestLimit>, request: Request, next: Next) -> Response {
    UNAVAILABLE
        .scope(Cell::new(false), async move {
            let mut response = match tokio::time::timeout(limit.0, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!(limit = ?limit.0, "request took longer than request_timeout_seconds");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "nidan took too long to answer; try again in a few seconds",
                    )
                        .into_response()
                }
            };
            let down = UNAVAILABLE.try_with(Cell::get).unwrap_or(false);
            if down {
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            if response.status() == StatusCode::SERVICE_UNAVAILABLE
                && !response.headers().contains_key(RETRY_AFTER)
            {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            response
        })
        .await
}
