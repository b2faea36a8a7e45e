//! Forward-auth path rules against generated spellings (issue 13, finding
//! 1): percent-encoding in either case, letter case, dot segments spelled
//! plainly or encoded, `;parameters`, repeated slashes, trailing dots, and
//! now and then a token with no single meaning (`%2f`, `\`, `..;`, `%00`).
//!
//! The apps behind a proxy are modelled here, independently of nidan's
//! code, the way common servers route a path: an RFC 3986 server (decode,
//! remove dot segments), Tomcat (drop `;parameters`, decode, merge
//! slashes, remove dot segments), nginx with `merge_slashes`, an Express-
//! style router (no decoding), and IIS (decode, ignore case and trailing
//! dots). Whenever one of them would route a spelling under the protected
//! prefix, nidan must apply that prefix's rule or refuse the path; and
//! nidan may apply the anonymous rule only when every one of them routes
//! the spelling under the public prefix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use nidan_server::forward_auth::{ForwardAuth, Rule, Target};
use proptest::prelude::*;

fn rules(staff_ignores_case: bool) -> ForwardAuth {
    let rule = |path: &str| Rule {
        host: "app.example.test".into(),
        path: path.into(),
        ..Rule::default()
    };
    ForwardAuth {
        cookie_domain: Some("example.test".into()),
        rules: vec![
            Rule {
                anonymous: true,
                ..rule("/public")
            },
            Rule {
                roles: vec!["staff".into()],
                ignore_case: staff_ignores_case,
                ..rule("/staff")
            },
            rule("/"),
        ],
    }
}

/// Percent-decodes; `None` for what the model cannot decode.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// RFC 3986 §5.2.4 on `/`-separated segments.
fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let n = segments.len();
    for (i, s) in segments.into_iter().enumerate() {
        match s {
            "." | ".." => {
                if s == ".." {
                    out.pop();
                }
                if i + 1 == n {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// How each modelled backend routes a raw path; `None` when it would
/// reject the request itself.
fn backends(raw: &str) -> Vec<(&'static str, Option<String>, bool)> {
    let rfc = percent_decode(raw).map(|p| remove_dots(&p));
    let tomcat = {
        let stripped: Vec<&str> = raw
            .split('/')
            .map(|s| s.split(';').next().unwrap_or(""))
            .collect();
        percent_decode(&stripped.join("/")).map(|p| remove_dots(&merge_slashes(&p)))
    };
    let nginx = percent_decode(raw).map(|p| remove_dots(&merge_slashes(&p)));
    let express = Some(remove_dots(raw));
    let iis = percent_decode(raw).map(|p| {
        remove_dots(&p)
            .split('/')
            .map(|s| s.trim_end_matches(['.', ' ']).to_lowercase())
            .collect::<Vec<_>>()
            .join("/")
    });
    vec![
        ("rfc3986", rfc, false),
        ("tomcat", tomcat, false),
        ("nginx", nginx, false),
        ("express", express, false),
        ("iis", iis, true),
    ]
}

/// Whether `prefix` covers `path` on a segment boundary, as a router would.
fn under(prefix: &str, path: &str, fold: bool) -> bool {
    let (prefix, path) = if fold {
        (prefix.to_lowercase(), path.to_lowercase())
    } else {
        (prefix.to_owned(), path.to_owned())
    };
    path == prefix
        || path
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with('/') || rest.starts_with(';'))
}

/// One segment, spelled with random encodings and case.
fn spell(word: &'static str) -> impl Strategy<Value = String> {
    let n = word.chars().count();
    (
        proptest::collection::vec(0u8..8, n),
        prop_oneof![
            6 => Just(String::new()),
            1 => Just(";jsessionid=1".to_owned()),
            1 => Just(".".to_owned()),
            1 => Just(";".to_owned()),
        ],
    )
        .prop_map(move |(choices, tail)| {
            let mut out = String::new();
            for (c, choice) in word.chars().zip(choices) {
                let mut buf = [0u8; 4];
                let bytes = c.encode_utf8(&mut buf).as_bytes().to_vec();
                match choice {
                    0 => bytes
                        .iter()
                        .for_each(|b| out.push_str(&format!("%{b:02x}"))),
                    1 => bytes
                        .iter()
                        .for_each(|b| out.push_str(&format!("%{b:02X}"))),
                    2 => out.extend(c.to_uppercase()),
                    _ => out.push(c),
                }
            }
            out + &tail
        })
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => spell("staff"),
        4 => spell("public"),
        2 => spell("reports"),
        1 => spell("a.b"),
        1 => spell("日本"),
        2 => prop_oneof![Just("."), Just("%2e"), Just("%2E")].prop_map(str::to_owned),
        3 => prop_oneof![Just(".."), Just("%2e%2e"), Just(".%2e"), Just("%2E.")]
            .prop_map(str::to_owned),
        1 => Just(String::new()),
        1 => prop_oneof![
            Just("..;"),
            Just("x%2fy"),
            Just("x\\y"),
            Just("%00"),
            Just("%252e"),
            Just("x%5c"),
        ]
        .prop_map(str::to_owned),
    ]
}

fn raw_path() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(segment(), 1..6),
        any::<bool>(),
        0u8..4,
    )
        .prop_map(|(segments, trailing, query)| {
            let mut path = format!("/{}", segments.join("/"));
            if trailing {
                path.push('/');
            }
            match query {
                1 => path.push_str("?next=/staff"),
                2 => path.push_str("?a=%2f..%2f"),
                _ => {}
            }
            path
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn no_spelling_reaches_a_prefix_without_its_rule(
        raw in raw_path(),
        staff_ignores_case in any::<bool>(),
        nginx_style in any::<bool>(),
    ) {
        let fa = rules(staff_ignores_case);
        let target = if nginx_style {
            Target::parse(&format!("https://app.example.test{raw}"))
        } else {
            Target::from_forwarded("https", "app.example.test", &raw)
        };
        // `None`: refused (400).
        let decision = target
            .ok()
            .and_then(|t| fa.rule_for(&t).ok())
            .map(|rule| rule.map(|r| r.path.clone()));
        let Some(decision) = decision else {
            return Ok(());
        };
        let decision = decision.unwrap_or_default();
        let path_only = raw.split('?').next().unwrap_or("/");
        for (name, routed, fold) in backends(path_only) {
            let Some(routed) = routed else { continue };
            let fold_staff = fold || staff_ignores_case;
            prop_assert!(
                !under("/staff", &routed, fold_staff) || decision == "/staff",
                "{} routes {:?} to {:?} (under /staff) but nidan applied the rule for {:?}",
                name, raw, routed, decision
            );
            if decision == "/public" {
                prop_assert!(
                    under("/public", &routed, false),
                    "nidan let {:?} through as public, but {} routes it to {:?}",
                    raw, name, routed
                );
            }
        }
    }
}

#[test]
fn the_generator_reaches_every_outcome() {
    // Guards the property above against a generator that only ever makes
    // refused paths: plain spellings decide, odd ones are refused.
    let fa = rules(false);
    let decide = |raw: &str| {
        Target::from_forwarded("https", "app.example.test", raw)
            .ok()
            .and_then(|t| fa.rule_for(&t).ok())
            .map(|r| r.map(|r| r.path.clone()).unwrap_or_default())
    };
    assert_eq!(decide("/staff/x").as_deref(), Some("/staff"));
    assert_eq!(decide("/st%61ff/x;jsessionid=1").as_deref(), None);
    assert_eq!(decide("/x/../staff").as_deref(), Some("/staff"));
    assert_eq!(decide("/public/a.b").as_deref(), Some("/public"));
    assert_eq!(decide("/reports").as_deref(), Some("/"));
    assert_eq!(decide("/public/..;/staff"), None);
}
