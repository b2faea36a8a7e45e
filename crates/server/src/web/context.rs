//! What every request carries: the language, where it came from, and the
//! signed-in session (from the `nidan_session` cookie or an
//! `Authorization: Bearer` token).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use nidan_core::model::{Account, Origin, Session};

use super::AppState;

/// Cookie names.
pub const SESSION_COOKIE: &str = "nidan_session";
/// The remembered-browser cookie.
pub const REMEMBER_COOKIE: &str = "nidan_rb";
/// The sign-in attempt waiting for a code.
pub const CHALLENGE_COOKIE: &str = "nidan_challenge";
/// The email typed on the first sign-in page.
pub const EMAIL_COOKIE: &str = "nidan_email";
/// The protected app's URL to return to after signing in (§9.2).
pub const RETURN_COOKIE: &str = "nidan_return";
/// The chosen language.
pub const LANG_COOKIE: &str = "nidan_lang";

/// The page language: `ja` or `en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    /// The locale code.
    pub lang: &'static str,
}

impl Tr {
    /// Picks the language from the cookie, then Accept-Language, else English.
    pub fn from_parts(parts: &Parts) -> Self {
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(c) = jar.get(LANG_COOKIE) {
            return Self::from_code(c.value());
        }
        let accept = parts
            .headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for tag in accept.split(',') {
            let tag = tag
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("ja") {
                return Self { lang: "ja" };
            }
            if tag.starts_with("en") {
                return Self { lang: "en" };
            }
        }
        Self { lang: "en" }
    }

    /// `ja` for "ja", English otherwise.
    pub fn from_code(code: &str) -> Self {
        Self {
            lang: if code == "ja" { "ja" } else { "en" },
        }
    }

    /// The translation of `key`.
    pub fn s(&self, key: &str) -> String {
        rust_i18n::t!(key, locale = self.lang).into_owned()
    }

    /// The translation of `key` with `%{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.s(key);
        for (name, value) in args {
            text = text.replace(&format!("%{{{name}}}"), value);
        }
        text
    }

    /// The other language, for the switch.
    pub fn other(&self) -> &'static str {
        if self.lang == "ja" { "en" } else { "ja" }
    }

    /// A Unix time as a date (UTC) for display.
    pub fn date(&self, unix: &i64) -> String {
        let (y, m, d) = nidan_core::calendar::date(*unix);
        if self.lang == "ja" {
            format!("{y}年{m}月{d}日")
        } else {
            format!("{y}-{m:02}-{d:02}")
        }
    }

    /// A Unix time as date and time (UTC).
    pub fn datetime(&self, unix: &i64) -> String {
        let secs = unix.rem_euclid(86_400);
        format!(
            "{} {:02}:{:02} UTC",
            self.date(unix),
            secs / 3600,
            secs % 3600 / 60
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// Where the request came from.
#[derive(Debug, Clone)]
pub struct RequestOrigin(pub Origin);

/// "Chrome on Linux" from a User-Agent.
pub fn browser_label(user_agent: &str) -> String {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(r) if r.name != "UNKNOWN" => {
            if r.os == "UNKNOWN" {
                r.name.to_owned()
            } else {
                format!("{} on {}", r.name, r.os)
            }
        }
        _ => "Unknown browser".to_owned(),
    }
}

/// The visitor's address: the connection's, or — when that is a trusted
/// proxy — the right-most address in `X-Forwarded-For` that is not a
/// trusted proxy (addresses to its left could be anything the visitor
/// sent). Unparsable entries end the walk at the last good address.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let mut ip = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&ip) {
        return Some(ip);
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(addr) => {
                ip = addr;
                if !is_trusted(&addr) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(ip)
}

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = client_ip(peer, &forwarded, &state.trusted_proxies)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let user_agent: String = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect();
        let browser_label = browser_label(&user_agent);
        Ok(Self(Origin {
            ip,
            user_agent,
            browser_label,
        }))
    }
}

/// The session token a request presents, if any.
pub fn session_token(parts: &Parts) -> Option<String> {
    if let Some(bearer) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// A signed-in request, or `None`.
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<(Session, Account)>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    /// The database out of reach: a 503 page, never "signed out".
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = session_token(parts) else {
            return Ok(Self(None));
        };
        match state.nidan.authenticate(&token).await {
            Ok(me) => Ok(Self(Some(me))),
            Err(e @ nidan_core::Error::Unavailable(_)) => {
                Err(super::pages::internal(state, Tr::from_parts(parts), &e))
            }
            Err(_) => Ok(Self(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        let en = Tr::from_code("en");
        assert_eq!(en.date(&0), "1970-01-01");
        assert_eq!(en.date(&1_782_777_600), "2026-06-30");
        assert_eq!(Tr::from_code("ja").date(&1_782_777_600), "2026年6月30日");
    }

    /// Every literal key the pages and handlers use, and every error code,
    /// is translated in both languages.
    #[test]
    fn every_key_is_translated_in_both_languages() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        let mut dirs = vec![root.join("templates"), root.join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut keys = std::collections::BTreeSet::new();
        for text in &sources {
            for start in ["t.s(\"", "t.f(\"", "tr.s(\"", "tr.f(\""] {
                for piece in text.split(start).skip(1) {
                    let key: String = piece.chars().take_while(|c| *c != '"').collect();
                    if key.chars().all(|c| {
                        c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit()
                    }) {
                        keys.insert(key);
                    }
                }
            }
        }
        // Each error's message is `error.<machine code>` (phone errors and
        // delivery failures have their own keys, read literally above).
        let errors = std::fs::read_to_string(root.join("src/web/error.rs")).unwrap();
        for line in errors.lines().filter(|l| l.contains("(StatusCode::")) {
            if let Some(code) = line.split('"').nth(1)
                && !matches!(code, "internal" | "delivery_failed" | "invalid_phone")
            {
                keys.insert(format!("error.{code}"));
            }
        }
        // Each event kind's sentence.
        for kind in nidan_core::model::EventKind::ALL {
            keys.insert(format!("event.{}", kind.as_str()));
        }
        assert!(keys.contains("error.slow_down"));
        assert!(keys.len() > 100, "{}", keys.len());
        // Read the files themselves: the runtime falls back to English.
        for lang in ["en", "ja"] {
            let file = std::fs::read_to_string(root.join(format!("locales/{lang}.yml"))).unwrap();
            let defined: std::collections::BTreeSet<&str> = file
                .lines()
                .filter_map(|l| l.split_once(':').map(|(k, _)| k))
                .collect();
            let missing: Vec<_> = keys
                .iter()
                .filter(|k| !defined.contains(k.as_str()))
                .collect();
            assert!(missing.is_empty(), "{lang}: {missing:?}");
        }
    }

    #[test]
    fn the_visitor_ip_comes_from_trusted_proxies_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let peer = Some(ip("127.0.0.1"));
        // No trust: the connection, whatever the header says.
        assert_eq!(client_ip(peer, &["203.0.113.9"], &[]), peer);
        // From a trusted proxy: the right-most untrusted address.
        assert_eq!(
            client_ip(peer, &["203.0.113.9"], &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client_ip(peer, &["1.2.3.4, 203.0.113.9, 10.1.2.3"], &trusted),
            Some(ip("203.0.113.9")),
            "a forged left part is ignored"
        );
        assert_eq!(
            client_ip(peer, &["1.2.3.4", "203.0.113.9"], &trusted),
            Some(ip("203.0.113.9"))
        );
        // A visitor connecting directly cannot choose their address.
        assert_eq!(
            client_ip(Some(ip("198.51.100.7")), &["1.2.3.4"], &trusted),
            Some(ip("198.51.100.7"))
        );
        // Garbage stops the walk at the last good hop; only proxies: the left-most.
        assert_eq!(
            client_ip(peer, &["nonsense, 203.0.113.9"], &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(client_ip(peer, &["nonsense"], &trusted), peer);
        assert_eq!(
            client_ip(peer, &["10.0.0.2, 10.0.0.1"], &trusted),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            client_ip(peer, &["2001:db8::1"], &trusted),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(client_ip(None, &["1.2.3.4"], &trusted), None);
    }

    #[test]
    fn browser_labels_read_naturally() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(browser_label(ua), "Chrome on Linux");
        assert_eq!(browser_label("curl/8"), "HTTP Library");
        assert_eq!(browser_label(""), "Unknown browser");
    }
}
