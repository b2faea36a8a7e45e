//! Prometheus `/metrics` (SPEC §9.6): requests by route and status with
//! their latency, every security event by kind (`nidan_events_total`, from
//! the domain), and forward-authentication decisions. Readable only from
//! the addresses in `metrics_allow` (loopback by default); anyone else gets
//! a 404, as if it did not exist.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::context::RequestOrigin;

/// Latency buckets in seconds: from a fast code check to a slow hash.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The process's recorder, installed on first use (one per process; the
/// tests start several servers in one).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("nidan_http_request_duration_seconds".into()),
                    BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are not recorded: another recorder is installed");
                    None
                }
            }
        })
        .as_ref()
}

/// Counts every request by its route (the pattern, not the path: ids and
/// tokens never become labels) and status, and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("nidan_http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("nidan_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// `GET /metrics`.
pub async fn scrape(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
) -> Response {
    let allowed = origin
        .ip
        .parse::<IpAddr>()
        .is_ok_and(|ip| state.metrics_allow.iter().any(|n| n.contains(&ip)));
    match handle() {
        Some(handle) if allowed => (
            [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            handle.render(),
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
