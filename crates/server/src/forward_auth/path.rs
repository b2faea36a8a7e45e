//! How a protected path is read, so that no spelling reaches a prefix the
//! rule did not anticipate (finding 1 of the security probe: `/%61dmin`,
//! `//admin`, `/admin;x`, `/public/..;/admin` passed rules written for
//! `/admin`).
//!
//! The apps behind a proxy do not agree on what a path means. Most decode
//! percent-escapes and remove dot segments (RFC 3986 §5.2.4); Tomcat and
//! Jetty drop `;parameters` from each segment before that; nginx and
//! Tomcat merge repeated slashes; Windows servers ignore case and trailing
//! dots; Express and friends match on the path still encoded. nidan does
//! not guess which one is behind a host: it reads the path every one of
//! those ways ([`Readings`]) and the rules must give the same answer for
//! all of them. When they do, that rule applies; when they do not, the
//! request is refused (400) — some backend could route it under a rule
//! the decision did not use.
//!
//! Some spellings have no single meaning at all and are refused outright:
//! an encoded `/` or any `\` (a segment separator to some backends and not
//! to others), control characters, escapes that are not UTF-8, doubly
//! encoded escapes (`%2561`), malformed escapes and dot segments with
//! parameters (`..;`, which Tomcat reads as `..`).

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path does not start with /")]
    NotAbsolute,
    /// A `%` not followed by two hexadecimal digits.
    #[error("a % that is not followed by two hexadecimal digits")]
    BadEscape,
    /// `%2F`, `%5C` or `\`: a separator to some backends, not to others.
    #[error("an encoded / (%2F) or a \\ in the path")]
    AmbiguousSeparator,
    /// A control character, literal or encoded.
    #[error("a control character in the path")]
    Control,
    /// Percent-encoded bytes that are not UTF-8.
    #[error("percent-encoded bytes that are not UTF-8")]
    InvalidUtf8,
    /// `%25` followed by hexadecimal digits: decoded twice by some.
    #[error("a doubly percent-encoded character (%25 and two hexadecimal digits)")]
    DoubleEncoded,
    /// `..;x` or `.;x`: a dot segment to Tomcat, a name to others.
    #[error("a dot segment with parameters (..; or .;)")]
    DotParameters,
    /// The path's readings fall under different rules.
    #[error("backends could read this path under different rules")]
    Ambiguous,
}

/// One way of reading a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The path as that backend would route it (decoded, dot segments
    /// removed; starts with `/`).
    pub path: String,
    /// Whether that backend ignores case (and trailing dots and spaces of
    /// segments, as Windows does).
    pub fold: bool,
}

/// Every reading of one path, without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readings(Vec<Reading>);

impl Readings {
    /// Reads the path part of a request target (everything before `?` or
    /// `#`, still percent-encoded as the client sent it).
    pub fn of(raw: &str) -> Result<Self, PathError> {
        let raw = raw.split(['?', '#']).next().unwrap_or_default();
        let raw = if raw.is_empty() { "/" } else { raw };
        if !raw.starts_with('/') {
            return Err(PathError::NotAbsolute);
        }
        let decoded = decode(raw, false)?;
        // `..;x` means `..` to Tomcat and a name elsewhere: no guessing.
        if decoded.split('/').any(|segment| {
            segment
                .split_once(';')
                .is_some_and(|(base, _)| base == "." || base == "..")
        }) {
            return Err(PathError::DotParameters);
        }
        let encoded = decode(raw, true)?;
        let mut readings: Vec<Reading> = Vec::with_capacity(4);
        for text in [&decoded, &encoded] {
            for strip_parameters in [false, true] {
                for merge_slashes in [false, true] {
                    let path = normalize(text, strip_parameters, merge_slashes);
                    for fold in [false, true] {
                        let path = if fold { windows(&path) } else { path.clone() };
                        let reading = Reading { path, fold };
                        if !readings.contains(&reading) {
                            readings.push(reading);
                        }
                    }
                }
            }
        }
        Ok(Self(readings))
    }

    /// The readings.
    pub fn all(&self) -> &[Reading] {
        &self.0
    }

    /// The most common reading (decoded, dot segments removed), for logs.
    pub fn canonical(&self) -> &str {
        self.0.first().map_or("/", |r| r.path.as_str())
    }
}

/// Percent-decodes `raw`, refusing what has no single meaning. With
/// `keep_unreserved`, escapes of unreserved characters (letters, digits,
/// `-._~`) stay as they are: the reading of a backend that routes on the
/// encoded path, for which `%61dmin` is not `admin` and `%2e%2e` not `..`.
fn decode(raw: &str, keep_unreserved: bool) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            match b {
                b'\\' => return Err(PathError::AmbiguousSeparator),
                0..=0x1f | 0x7f => return Err(PathError::Control),
                _ => out.push(b),
            }
            i += 1;
            continue;
        }
        let hex = |at: usize| bytes.get(at).and_then(|h| (*h as char).to_digit(16));
        let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) else {
            return Err(PathError::BadEscape);
        };
        let value = u8::try_from(high * 16 + low).map_err(|_| PathError::BadEscape)?;
        match value {
            b'/' | b'\\' => return Err(PathError::AmbiguousSeparator),
            0..=0x1f | 0x7f => return Err(PathError::Control),
            b'%' if hex(i + 3).is_some() && hex(i + 4).is_some() => {
                return Err(PathError::DoubleEncoded);
            }
            v if keep_unreserved && (v.is_ascii_alphanumeric() || b"-._~".contains(&v)) => {
                out.extend_from_slice(bytes.get(i..i + 3).unwrap_or_default());
            }
            v => out.push(v),
        }
        i += 3;
    }
    let text = String::from_utf8(out).map_err(|_| PathError::InvalidUtf8)?;
    // `%25` then an escape written as escapes (`%25%36%31`) is `%61` once
    // decoded: a second decoding would make it `a`.
    if !keep_unreserved && has_escape(&text) {
        return Err(PathError::DoubleEncoded);
    }
    Ok(text)
}

/// Whether `text` holds `%` followed by two hexadecimal digits.
fn has_escape(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| match w {
        [b'%', a, b] => a.is_ascii_hexdigit() && b.is_ascii_hexdigit(),
        _ => false,
    })
}

/// Removes dot segments (RFC 3986 §5.2.4), after dropping `;parameters`
/// from each segment and merging repeated slashes when asked.
fn normalize(decoded: &str, strip_parameters: bool, merge_slashes: bool) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.into_iter().enumerate() {
        let segment = if strip_parameters {
            segment.split(';').next().unwrap_or_default()
        } else {
            segment
        };
        match segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            "" if merge_slashes && i != last => {}
            s => out.push(s),
        }
    }
    let mut path = String::with_capacity(decoded.len());
    for s in out {
        path.push('/');
        path.push_str(s);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// The reading of a Windows server: case ignored, trailing dots and
/// spaces of each segment dropped (`/ADMIN./` is `/admin/`).
fn windows(path: &str) -> String {
    path.split('/')
        .map(|s| s.trim_end_matches(['.', ' ']).to_lowercase())
        .collect::<Vec<_>>()
        .join("/")
}

/// `prefix` (as configured: canonical, see [`check_prefix`]) covers
/// `path` on a segment boundary. `/admin` covers `/admin`, `/admin/x` and
/// `/admin;x` (parameters belong to the segment), not `/administrator`.
pub fn covers(prefix: &str, path: &str, ignore_case: bool) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return true;
    }
    let Some(head) = path.get(..prefix.len()) else {
        return false;
    };
    let same = if ignore_case {
        head.to_lowercase() == prefix.to_lowercase()
    } else {
        head == prefix
    };
    same && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/' | b';'))
}

/// Refuses a configured prefix that is not already in the form requests
/// are read into: it must start with `/` and hold no escapes, `;`, `\`,
/// repeated slashes, dot segments or control characters.
pub fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if !prefix.starts_with('/') {
        return Err("must start with /");
    }
    if prefix.contains(['%', ';', '\\', '?', '#']) || prefix.chars().any(char::is_control) {
        return Err("must be a plain path: no %, ;, \\, ?, # or control characters");
    }
    let inner = prefix.trim_end_matches('/');
    if inner.contains("//") || inner.split('/').any(|s| s == "." || s == "..") {
        return Err("must not hold // or . and .. segments");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(raw: &str) -> Vec<String> {
        let mut paths: Vec<String> = Readings::of(raw)
            .unwrap()
            .all()
            .iter()
            .filter(|r| !r.fold)
            .map(|r| r.path.clone())
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    #[test]
    fn plain_paths_have_one_reading() {
        assert_eq!(paths("/wiki/Main_Page"), ["/wiki/Main_Page"]);
        assert_eq!(paths("/a/b/"), ["/a/b/"]);
        assert_eq!(paths(""), ["/"]);
        assert_eq!(paths("/?q=/admin"), ["/"]);
        assert_eq!(paths("/%E6%97%A5%E6%9C%AC"), ["/日本"]);
        assert_eq!(paths("/a%20b"), ["/a b"]);
    }

    #[test]
    fn each_backend_reading_is_there() {
        assert_eq!(paths("/%61dmin"), ["/%61dmin", "/admin"]);
        assert_eq!(paths("//admin"), ["//admin", "/admin"]);
        assert_eq!(paths("/admin;x/y"), ["/admin/y", "/admin;x/y"]);
        assert_eq!(paths("/public/../admin"), ["/admin"]);
        assert_eq!(
            paths("/public/%2e%2e/admin"),
            ["/admin", "/public/%2e%2e/admin"]
        );
        assert_eq!(paths("/a/./b/."), ["/a/b/"]);
        let folded: Vec<String> = Readings::of("/ADMIN./x")
            .unwrap()
            .all()
            .iter()
            .filter(|r| r.fold)
            .map(|r| r.path.clone())
            .collect();
        assert_eq!(folded, ["/admin/x"]);
    }

    #[test]
    fn spellings_without_one_meaning_are_refused() {
        for (raw, why) in [
            ("/admin%2f", PathError::AmbiguousSeparator),
            ("/admin%2Fx", PathError::AmbiguousSeparator),
            ("/public/..%2fadmin", PathError::AmbiguousSeparator),
            ("/public\\..\\admin", PathError::AmbiguousSeparator),
            ("/a%5cb", PathError::AmbiguousSeparator),
            ("/public/..;/admin", PathError::DotParameters),
            ("/public/.;x/admin", PathError::DotParameters),
            ("/public/%2e%2e;/admin", PathError::DotParameters),
            ("/a%00b", PathError::Control),
            ("/a%0d%0aX: y", PathError::Control),
            ("/a%zz", PathError::BadEscape),
            ("/a%4", PathError::BadEscape),
            ("/%ff%fe", PathError::InvalidUtf8),
            ("/%2561dmin", PathError::DoubleEncoded),
            ("/%25%36%31dmin", PathError::DoubleEncoded),
            ("admin", PathError::NotAbsolute),
        ] {
            assert_eq!(Readings::of(raw), Err(why), "{raw}");
        }
        // A literal percent sign that is not an escape of anything is fine.
        assert_eq!(paths("/100%25"), ["/100%"]);
    }

    #[test]
    fn prefixes_cover_on_segment_boundaries() {
        assert!(covers("/admin", "/admin", false));
        assert!(covers("/admin/", "/admin/x", false));
        assert!(covers("/admin", "/admin;jsessionid=1", false));
        assert!(!covers("/admin", "/administrator", false));
        assert!(!covers("/admin", "/ADMIN", false));
        assert!(covers("/admin", "/ADMIN/x", true));
        assert!(covers("/", "/anything", false));
        assert!(!covers("/日本", "/日", false));
    }

    #[test]
    fn configured_prefixes_must_be_plain() {
        assert_eq!(check_prefix("/admin/"), Ok(()));
        for bad in [
            "admin", "/a%2fb", "/a;b", "//a", "/a/../b", "/a\\b", "/a/./b",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
