//! Forward authentication (SPEC §9.2): which requests a reverse proxy may
//! let through to the apps behind it, and where a visitor may be sent back
//! to after signing in.
//!
//! The proxy (nginx `auth_request`, Traefik `forwardAuth`, Caddy
//! `forward_auth`) asks nidan about every request with the original URL in
//! a header. Rules from the `[forward_auth]` section decide: the first rule
//! whose host and path prefix match the URL applies; a URL no rule matches
//! is refused (deny by default). The same rules are the allow-list of
//! return URLs, so the sign-in page never redirects to a host nobody
//! configured.
//!
//! A rule's path is matched against every way the app behind the proxy
//! could read the request's path (see [`path`]): when the readings fall
//! under different rules, or the path has no single meaning, the request
//! is refused instead of guessed.

pub mod path;

use serde::{Deserialize, Serialize};
use url::Url;

pub use path::{PathError, Readings};

/// The `[forward_auth]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardAuth {
    /// The `Domain` of the session cookie, so one sign-in covers the
    /// sub-domains (`example.com` covers `wiki.example.com`). Unset: the
    /// cookie belongs to nidan's own host only.
    pub cookie_domain: Option<String>,
    /// The protected hosts and paths, first match wins.
    pub rules: Vec<Rule>,
}

/// One protected host (and path prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// `wiki.example.com`, or `*.example.com` for every sub-domain (not
    /// `example.com` itself). A port, if any, is not part of the match.
    pub host: String,
    /// A path prefix on segment boundaries: `/admin` matches `/admin`,
    /// `/admin/users` and `/admin;x`, not `/administrator`. Matched after
    /// decoding and dot-segment removal, in every reading of [`path`].
    /// Default `/`.
    pub path: String,
    /// The app behind this prefix ignores case (Windows, IIS, some
    /// frameworks): `/ADMIN` is `/admin`. Without it, a path that only
    /// another case puts under this rule is refused as ambiguous.
    pub ignore_case: bool,
    /// Roles of which an account needs one; empty lets every account in.
    pub roles: Vec<String>,
    /// Whether the session must have passed two-step verification.
    /// Default true; false lets password-only accounts in.
    pub require_2sv: bool,
    /// Let everyone through without signing in (a public page).
    pub anonymous: bool,
}

impl Default for Rule {
    fn default() -> Self {
        Self {
            host: String::new(),
            path: "/".into(),
            ignore_case: false,
            roles: Vec::new(),
            require_2sv: true,
            anonymous: false,
        }
    }
}

/// Why a URL or the configuration is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// Not an absolute http(s) URL.
    #[error("not an absolute http or https URL")]
    NotHttp,
    /// Carries a user name or password.
    #[error("URL with a user name or password")]
    Credentials,
    /// A path with no single meaning (see [`path`]).
    #[error("{0}")]
    Path(#[from] PathError),
}

/// A request the proxy asks about, as nidan understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The full URL (for returning the visitor to it).
    pub url: Url,
    /// Lowercased host without port.
    pub host: String,
    /// The path, decoded and normalized (for logs).
    pub path: String,
    /// Every way a backend could read the path.
    pub readings: Readings,
}

impl Target {
    /// Parses an absolute URL the proxy sent.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let url = Url::parse(raw.trim()).map_err(|_| UrlError::NotHttp)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        let host = url
            .host_str()
            .ok_or(UrlError::NotHttp)?
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let readings = Readings::of(raw_path(raw.trim()))?;
        Ok(Self {
            path: readings.canonical().to_owned(),
            url,
            host,
            readings,
        })
    }

    /// Builds the URL from `X-Forwarded-Proto`, `-Host` and `-Uri`.
    pub fn from_forwarded(proto: &str, host: &str, uri: &str) -> Result<Self, UrlError> {
        if !matches!(proto, "http" | "https") || host.is_empty() || host.contains(['/', '@', '\\'])
        {
            return Err(UrlError::NotHttp);
        }
        let uri = if uri.is_empty() { "/" } else { uri };
        if !uri.starts_with('/') {
            return Err(UrlError::Path(PathError::NotAbsolute));
        }
        Self::parse(&format!("{proto}://{host}{uri}"))
    }
}

impl ForwardAuth {
    /// Whether any host is protected (the endpoints answer only then).
    pub fn enabled(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The rule for `target`, if any: the first rule covering it, which
    /// must be the same in every reading of its path, or
    /// [`PathError::Ambiguous`].
    pub fn rule_for(&self, target: &Target) -> Result<Option<&Rule>, PathError> {
        let mut chosen: Option<Option<&Rule>> = None;
        for reading in target.readings.all() {
            let rule = self.rules.iter().find(|r| {
                host_matches(&r.host, &target.host)
                    && path::covers(&r.path, &reading.path, r.ignore_case || reading.fold)
            });
            match chosen {
                None => chosen = Some(rule),
                Some(first) if first.map(std::ptr::from_ref) == rule.map(std::ptr::from_ref) => {}
                Some(_) => return Err(PathError::Ambiguous),
            }
        }
        Ok(chosen.flatten())
    }

    /// `raw` as a URL the visitor may be sent to after signing in: an
    /// absolute http(s) URL on a host some rule names. Anything else
    /// (another site, `javascript:`, a user-info trick) is `None`.
    pub fn return_url(&self, raw: &str) -> Option<Url> {
        let target = Target::parse(raw).ok()?;
        self.rules
            .iter()
            .any(|r| host_matches(&r.host, &target.host))
            .then_some(target.url)
    }

    /// The hosts forms may lead to after nidan's own (the sign-in and
    /// sign-out forms end with a redirect to the protected app, which a
    /// Content-Security-Policy `form-action` must allow): CSP sources, any
    /// port, either scheme of the page's.
    pub fn form_action_sources(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .rules
            .iter()
            .map(|r| format!("{}:*", r.host.to_ascii_lowercase()))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Refuses rules that would never work: a host the session cookie
    /// cannot reach (the visitor would go round in circles between the
    /// app and the sign-in page), a path that is not a path.
    pub fn check(&self, nidan_host: &str) -> Result<(), String> {
        let domain = self
            .cookie_domain
            .as_deref()
            .map(|d| d.trim_start_matches('.').to_ascii_lowercase());
        if let Some(d) = &domain
            && !(d.contains('.') && host_matches(&format!("*.{d}"), nidan_host) || d == nidan_host)
        {
            return Err(format!(
                "forward_auth.cookie_domain {d:?} must be nidan's own host ({nidan_host}) or a parent domain of it with a dot in it"
            ));
        }
        for rule in &self.rules {
            let host = rule.host.to_ascii_lowercase();
            let bare = host.strip_prefix("*.").unwrap_or(&host);
            let host_chars = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
            if bare.is_empty() || !bare.chars().all(host_chars) {
                return Err(format!(
                    "forward_auth rule host {:?} must be a host name such as wiki.example.com or *.example.com (no scheme, port or path)",
                    rule.host
                ));
            }
            if let Err(why) = path::check_prefix(&rule.path) {
                return Err(format!(
                    "forward_auth rule path {:?} for {} {why}",
                    rule.path, rule.host
                ));
            }
            let reached = match &domain {
                Some(d) => bare == d || bare.ends_with(&format!(".{d}")),
                None => host == nidan_host,
            };
            if !reached {
                return Err(format!(
                    "forward_auth rule host {} is outside the session cookie's reach: set forward_auth.cookie_domain to a domain that contains both it and {nidan_host}",
                    rule.host
                ));
            }
        }
        Ok(())
    }
}

/// `pattern` is a host or `*.` and a domain (sub-domains only).
fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == host,
    }
}

/// The path of an absolute URL exactly as written (still encoded; no
/// query or fragment): what the app behind the proxy receives, before any
/// URL parser has normalized it.
fn raw_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find(['/', '?', '#', '\\']) {
        Some(at) => rest.get(at..).unwrap_or_default(),
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ForwardAuth {
        ForwardAuth {
            cookie_domain: Some("example.com".into()),
            rules: vec![
                Rule {
                    host: "wiki.example.com".into(),
                    path: "/public".into(),
                    anonymous: true,
                    ..Rule::default()
                },
                Rule {
                    host: "wiki.example.com".into(),
                    ..Rule::default()
                },
                Rule {
                    host: "*.apps.example.com".into(),
                    roles: vec!["staff".into()],
                    require_2sv: false,
                    ..Rule::default()
                },
            ],
        }
    }

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    #[test]
    fn first_matching_rule_wins_on_segment_boundaries() {
        let fa = rules();
        let rule = |u: &str| {
            fa.rule_for(&target(u))
                .unwrap()
                .map(|r| (r.anonymous, r.roles.len()))
        };
        assert_eq!(rule("https://wiki.example.com/public"), Some((true, 0)));
        assert_eq!(
            rule("https://wiki.example.com/public/a.png"),
            Some((true, 0))
        );
        assert_eq!(rule("https://wiki.example.com/publicity"), Some((false, 0)));
        assert_eq!(rule("https://WIKI.example.com./x?y=1"), Some((false, 0)));
        assert_eq!(rule("https://a.apps.example.com:8443/"), Some((false, 1)));
        assert_eq!(rule("https://apps.example.com/"), None);
        assert_eq!(rule("https://evilapps.example.com/"), None);
        assert_eq!(rule("https://example.com/"), None);
    }

    #[test]
    fn return_urls_only_to_configured_hosts() {
        let fa = rules();
        assert!(
            fa.return_url("https://wiki.example.com/page?a=1#x")
                .is_some()
        );
        assert!(fa.return_url("http://b.apps.example.com:8080/").is_some());
        for bad in [
            "https://evil.test/",
            "//evil.test/",
            "/relative",
            "javascript:alert(1)",
            "https://wiki.example.com@evil.test/",
            "https://user:pw@wiki.example.com/",
            "https://wiki.example.com.evil.test/",
            "https://evil.test\\@wiki.example.com/",
            "data:text/html,hi",
            "",
        ] {
            assert_eq!(fa.return_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_make_a_url() {
        let t = Target::from_forwarded("https", "wiki.example.com", "/a/b?c=d").unwrap();
        assert_eq!(t.url.as_str(), "https://wiki.example.com/a/b?c=d");
        assert_eq!(
            Target::from_forwarded("ftp", "wiki.example.com", "/"),
            Err(UrlError::NotHttp)
        );
        assert_eq!(
            Target::from_forwarded("https", "evil.test/x", "/"),
            Err(UrlError::NotHttp)
        );
        assert_eq!(
            Target::from_forwarded("https", "a@wiki.example.com", "/"),
            Err(UrlError::NotHttp)
        );
    }

    #[test]
    fn configuration_that_cannot_work_is_refused() {
        let fa = rules();
        assert_eq!(fa.check("auth.example.com"), Ok(()));
        let err = fa.check("auth.other.test").unwrap_err();
        assert!(err.contains("cookie_domain"), "{err}");
        let mut outside = rules();
        outside.rules.push(Rule {
            host: "wiki.other.test".into(),
            ..Rule::default()
        });
        let err = outside.check("auth.example.com").unwrap_err();
        assert!(err.contains("outside the session cookie's reach"), "{err}");
        let mut bad_host = rules();
        bad_host.rules[0].host = "https://wiki.example.com".into();
        assert!(
            bad_host
                .check("auth.example.com")
                .unwrap_err()
                .contains("host name")
        );
        let mut bad_path = rules();
        bad_path.rules[0].path = "public".into();
        assert!(
            bad_path
                .check("auth.example.com")
                .unwrap_err()
                .contains("start with /")
        );
        // Without a cookie domain only nidan's own host can be protected.
        let same_host = ForwardAuth {
            cookie_domain: None,
            rules: vec![Rule {
                host: "auth.example.com".into(),
                path: "/app".into(),
                ..Rule::default()
            }],
        };
        assert_eq!(same_host.check("auth.example.com"), Ok(()));
        assert!(same_host.check("other.example.com").is_err());
    }
}
