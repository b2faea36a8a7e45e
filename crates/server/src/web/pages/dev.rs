//! The development outbox page (loopback visitors only).

use super::*;

/// The development outbox, served only when enabled and listening on
/// loopback; otherwise it does not exist.
/// `/dev/outbox?to=ADDRESS`: only the messages to that recipient.
#[derive(Deserialize)]
pub(super) struct OutboxQuery {
    to: Option<String>,
}

pub(super) async fn outbox_page(
    State(state): State<AppState>,
    t: Tr,
    RequestOrigin(origin): RequestOrigin,
    headers: axum::http::HeaderMap,
    Query(query): Query<OutboxQuery>,
) -> Response {
    // Codes and links for every account: only for someone sitting at this
    // machine, never a visitor a proxy forwarded (issue 13, finding 5) —
    // whether or not the proxy is trusted.
    let forwarded = [
        "x-forwarded-for",
        "forwarded",
        "x-real-ip",
        "x-forwarded-host",
    ]
    .iter()
    .any(|h| headers.contains_key(*h));
    let local = !forwarded
        && origin
            .ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !state.outbox_page || !local {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let limit = if query.to.is_some() { 1000 } else { 50 };
    match state.nidan.outbox(limit).await {
        Ok(messages) => {
            let messages = messages
                .into_iter()
                .filter(|m| {
                    query
                        .to
                        .as_deref()
                        .is_none_or(|to| m.recipient.eq_ignore_ascii_case(to.trim()))
                })
                .map(|m| OutboxLine {
                    when: t.datetime(&m.created_at),
                    channel: m.channel,
                    recipient: m.recipient,
                    body: m
                        .body
                        .lines()
                        .enumerate()
                        .flat_map(|(i, line)| {
                            let mut parts = with_links(line);
                            if i > 0 {
                                parts.insert(0, ("\n".to_owned(), false));
                            }
                            parts
                        })
                        .collect(),
                })
                .collect();
            render!(OutboxPage, Base::new(&state, t, false), None, None, { messages: messages })
        }
        Err(e) => internal(&state, t, &e),
    }
}
