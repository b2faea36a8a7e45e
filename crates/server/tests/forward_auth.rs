//! Forward authentication through a real nginx (SPEC §9.2): Debian's
//! nginx on loopback, configured with the snippets in `deploy/nginx/`
//! (the same ones the README shows), in front of a tiny app (an nginx
//! server block that echoes the `Remote-*` headers it receives), asking a
//! real `nidan serve` process on every request.
//!
//! Caddy (Debian's) runs the README's Caddyfile the same way.
//!
//! Host names `auth.nidan.test`, `app.nidan.test` and `wiki.nidan.test`
//! resolve to nginx's loopback port in the client, so the session cookie's
//! `Domain=nidan.test` is exercised for real across sub-domains.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{enable_two_apps, now, sign_in_with_code, sign_up};
use nidan_otp::{Secret, Totp};
use reqwest::header::{HeaderMap, LOCATION};

/// The repository's nginx snippets.
fn snippet(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/nginx")
        .join(name)
        .canonicalize()
        .unwrap()
}

/// A proxy process, stopped when dropped.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx with nidan's auth host, the protected app host, and the app.
fn nginx(dir: &Path, port: u16, nidan: &str) -> Option<Proxy> {
    let app_port = free_port();
    let nidan = nidan.trim_start_matches("http://");
    let (authz, protect) = (snippet("nidan-authz.conf"), snippet("nidan-protect.conf"));
    let template =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nginx.conf.in"))
            .unwrap();
    let conf = template
        .replace("@DIR@", &dir.display().to_string())
        .replace("@NIDAN@", nidan)
        .replace("@APP_PORT@", &app_port.to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@AUTHZ@", &authz.display().to_string())
        .replace("@PROTECT@", &protect.display().to_string());
    let file = dir.join("nginx.conf");
    std::fs::write(&file, conf).unwrap();
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("nginx is not installed: `apt-get install nginx` (.ci/run does it)")
        });
    let check = Command::new(bin)
        .args(["-t", "-e", "stderr", "-p"])
        .arg(dir)
        .arg("-c")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(bin)
        .args(["-e", "stderr", "-p"])
        .arg(dir)
        .arg("-c")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    ready(Proxy(child), port)
}

/// Waits until `proxy` answers on `port` as nidan's auth host would
/// (`/healthz` through it says "ok"): a free port picked earlier may have
/// been taken by another test meanwhile, and then the proxy cannot bind
/// it. `None` if it did not start.
fn ready(mut proxy: Proxy, port: u16) -> Option<Proxy> {
    use std::io::{Read, Write};
    for _ in 0..200 {
        if proxy.0.try_wait().ok().flatten().is_some() {
            return None;
        }
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut answer = String::new();
            let asked = conn.write_all(
                format!("GET /healthz HTTP/1.1\r\nHost: auth.nidan.test:{port}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            if asked.is_ok()
                && conn.read_to_string(&mut answer).is_ok()
                && answer.ends_with("\r\n\r\nok")
            {
                return Some(proxy);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

/// The README's Caddyfile, word for word, with the example hosts and
/// ports replaced by the test's (plain HTTP on loopback), and a tiny app.
fn caddy(dir: &Path, port: u16, nidan: &str) -> Option<Proxy> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let block = readme
        .split("```caddyfile\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a caddyfile block");
    let app_port = free_port();
    let site = block
        .replace(
            "auth.example.com {",
            &format!("http://auth.nidan.test:{port} {{"),
        )
        .replace(
            "wiki.example.com {",
            &format!("http://app.nidan.test:{port} {{"),
        )
        .replace("127.0.0.1:8080", nidan.trim_start_matches("http://"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{app_port}"));
    assert!(site.contains(&format!("app.nidan.test:{port}")), "{site}");
    let conf = format!(
        "{{\n\tadmin off\n\tauto_https off\n}}\n{site}\n\
         http://:{app_port} {{\n\trespond \"app page {{uri}} user=[{{http.request.header.Remote-User}}] email=[{{http.request.header.Remote-Email}}]\"\n}}\n"
    );
    let file = dir.join("Caddyfile");
    std::fs::write(&file, conf).unwrap();
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("caddy could not start ({e}): `apt-get install caddy` (.ci/run does it)")
        });
    ready(Proxy(child), port)
}

#[derive(Clone, Copy)]
enum Kind {
    Nginx,
    Caddy,
}

struct Setup {
    _proxy: Proxy,
    nidan: common::Node,
    _dir: tempfile::TempDir,
    port: u16,
    /// nidan directly (not through nginx), for the JSON API.
    direct: String,
}

impl Setup {
    fn auth(&self, path: &str) -> String {
        format!("http://auth.nidan.test:{}{path}", self.port)
    }
    fn app(&self, path: &str) -> String {
        format!("http://app.nidan.test:{}{path}", self.port)
    }
    /// A browser: cookies kept, redirects not followed, the test names
    /// resolving to nginx.
    fn browser(&self) -> reqwest::Client {
        let at = SocketAddr::from(([127, 0, 0, 1], self.port));
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("auth.nidan.test", at)
            .resolve("app.nidan.test", at)
            .resolve("wiki.nidan.test", at)
            .build()
            .unwrap()
    }
}

/// nidan and the proxy on free ports; tried again on new ports if another
/// test took the proxy's port in between.
async fn setup(kind: Kind) -> Setup {
    for _ in 0..5 {
        if let Some(s) = try_setup(kind) {
            return s;
        }
    }
    panic!("the proxy did not start on any of five free ports");
}

fn try_setup(kind: Kind) -> Option<Setup> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("nidan.toml");
    std::fs::write(
        &config,
        format!(
            r#"
public_url = "http://auth.nidan.test:{port}"

[forward_auth]
cookie_domain = "nidan.test"

[[forward_auth.rules]]
host = "app.nidan.test"
path = "/public"
anonymous = true

[[forward_auth.rules]]
host = "app.nidan.test"
path = "/staff"
roles = ["staff"]

[[forward_auth.rules]]
host = "app.nidan.test"

[[forward_auth.rules]]
host = "wiki.nidan.test"
require_2sv = false
"#
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let nidan = common::node(
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
        &data,
    );
    let proxy_dir = dir.path().join("proxy");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    let proxy = match kind {
        Kind::Nginx => nginx(&proxy_dir, port, &nidan.base),
        Kind::Caddy => caddy(&proxy_dir, port, &nidan.base),
    }?;
    Some(Setup {
        direct: nidan.base.clone(),
        _proxy: proxy,
        nidan,
        _dir: dir,
        port,
    })
}

fn location(h: &HeaderMap) -> String {
    h.get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// GETs `url`; status, Location and body.
async fn get(c: &reqwest::Client, url: &str) -> (u16, String, String) {
    let res = c.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let loc = location(res.headers());
    (status, loc, res.text().await.unwrap())
}

/// GETs `url` claiming to be an admin in `Remote-User`, as an attacker
/// would; status, Location and body.
async fn get_forged(c: &reqwest::Client, url: &str) -> (u16, String, String) {
    let res = c
        .get(url)
        .header("remote-user", "admin@example.com")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let loc = location(res.headers());
    (status, loc, res.text().await.unwrap())
}

/// POSTs a form to nidan's page `path` as the browser would (same origin).
async fn form(
    s: &Setup,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let res = c
        .post(s.auth(path))
        .header("origin", s.auth(""))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let loc = location(res.headers());
    (status, loc, res.text().await.unwrap())
}

fn encoded(url: &str) -> String {
    url::form_urlencoded::byte_serialize(url.as_bytes()).collect()
}

/// Email, then password, through nidan's pages behind nginx.
async fn password_step(s: &Setup, c: &reqwest::Client, email: &str) -> (u16, String) {
    let (status, loc, _) = form(s, c, "/signin", &[("email", email)]).await;
    assert_eq!((status, loc.as_str()), (303, "/signin/password"));
    let (status, loc, body) =
        form(s, c, "/signin/password", &[("password", "correct horse")]).await;
    assert!(matches!(status, 302 | 303), "{status} {body}");
    (status, loc)
}

/// The proxy, an account with 2SV on (two apps), the apps' keys and a
/// browser that has not signed in.
async fn with_account(kind: Kind, email: &str) -> (Setup, Vec<Secret>, reqwest::Client) {
    let s = setup(kind).await;
    let api = reqwest::Client::new();
    let token = sign_up(&api, &s.nidan, email).await;
    let secrets = enable_two_apps(&api, &s.direct, &s.direct, &token).await;
    let c = s.browser();
    (s, secrets, c)
}

/// Before signing in: `page` sends the visitor to nidan's sign-in page
/// with the original URL (returned), a public path lets anyone through,
/// and an identity header the visitor forges never reaches the app.
async fn anonymous(s: &Setup, c: &reqwest::Client, page: &str) -> String {
    let (status, loc, _) = get_forged(c, page).await;
    assert_eq!(status, 302);
    assert_eq!(loc, s.auth(&format!("/signin?rd={}", encoded(page))));
    let (status, _, body) = get_forged(c, &s.app("/public/x")).await;
    assert_eq!(status, 200);
    assert!(body.contains("app page /public/x user=["), "{body}");
    assert!(!body.contains("admin@example.com"), "{body}");
    loc
}

#[tokio::test]
async fn nginx_auth_request_lets_through_only_two_step_sessions() {
    let (s, secrets, c) = with_account(Kind::Nginx, "ann@example.com").await;
    let page = s.app("/docs/page?x=1");
    let loc = anonymous(&s, &c, &page).await;

    // Follow the redirect: the sign-in page remembers where to return.
    let (status, _, body) = get(&c, &loc).await;
    assert_eq!(status, 200, "{body}");
    // Password right, code not yet typed: still refused.
    let (_, next) = password_step(&s, &c, "ann@example.com").await;
    assert_eq!(next, "/signin/code");
    let (status, _, _) = get(&c, &page).await;
    assert_eq!(status, 302, "no code, no entry");

    // The code: back to the app page, with nidan's headers reaching the app.
    let code = Totp::default().generate(&secrets[0], now() + 30);
    let (status, loc, body) = form(&s, &c, "/signin/code", &[("code", &code)]).await;
    assert_eq!((status, loc.as_str()), (303, page.as_str()), "{body}");
    let (status, _, body) = get(&c, &page).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "<!doctype html><title>app</title><p id=app>app page /docs/page?x=1 user=[ann@example.com] email=[ann@example.com] groups=[]</p>"
    );
    // The same session covers the other protected host (cookie domain).
    let (status, _, body) = get(&c, &format!("http://wiki.nidan.test:{}/", s.port)).await;
    assert_eq!(
        (status, body.contains("user=[ann@example.com]")),
        (200, true),
        "{body}"
    );
    // A path for another role: 403, and nginx does not redirect it.
    let (status, loc, _) = get(&c, &s.app("/staff/")).await;
    assert_eq!((status, loc.as_str()), (403, ""));

    // Signed in already, the sign-in page with a return URL goes straight back.
    let (status, loc, _) = get(&c, &s.auth(&format!("/signin?rd={}", encoded(&page)))).await;
    assert_eq!((status, loc.as_str()), (303, page.as_str()));

    // A crafted return URL to a foreign host is never followed.
    for evil in [
        "http://evil.test/",
        "//evil.test/",
        "http://app.nidan.test.evil.test/",
        "http://app.nidan.test@evil.test/",
        "javascript:alert(1)",
    ] {
        let (status, loc, _) = get(&c, &s.auth(&format!("/signin?rd={}", encoded(evil)))).await;
        assert_eq!((status, loc.as_str()), (200, ""), "{evil}");
    }

    // Sign-out from the app: a link to nidan's sign-out, one confirmation.
    let (status, _, body) = get(&c, &s.auth(&format!("/signout?rd={}", encoded(&page)))).await;
    assert_eq!(status, 200);
    assert!(body.contains("name=\"rd\""), "{body}");
    let (status, loc, _) = form(&s, &c, "/signout", &[("rd", &page)]).await;
    assert_eq!((status, loc.as_str()), (303, page.as_str()));
    // Refused again, on every protected host.
    let (status, _, _) = get(&c, &page).await;
    assert_eq!(status, 302);
    let (status, _, _) = get(&c, &format!("http://wiki.nidan.test:{}/", s.port)).await;
    assert_eq!(status, 302);

    // Signing in with a foreign return URL ends on nidan's own page.
    let (status, _, _) = get(
        &c,
        &s.auth(&format!("/signin?rd={}", encoded("http://evil.test/"))),
    )
    .await;
    assert_eq!(status, 200);
    password_step(&s, &c, "ann@example.com").await;
    let code = Totp::default().generate(&secrets[1], now() + 30);
    let (status, loc, _) = form(&s, &c, "/signin/code", &[("code", &code)]).await;
    assert_eq!((status, loc.as_str()), (303, "/account"));
}

#[tokio::test]
async fn password_only_accounts_reach_only_hosts_that_allow_them() {
    let s = setup(Kind::Nginx).await;
    let c = s.browser();
    let (status, _, body) = form(
        &s,
        &c,
        "/signup",
        &[("email", "bo@example.com"), ("password", "correct horse")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let link = format!("/signup/confirm/{}", s.nidan.sign_up_link("bo@example.com"));
    let (status, loc, _) = form(&s, &c, &link, &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/security"));
    // wiki allows password-only sessions; app wants 2SV.
    let (status, _, body) = get(&c, &format!("http://wiki.nidan.test:{}/w", s.port)).await;
    assert_eq!(
        (status, body.contains("user=[bo@example.com]")),
        (200, true),
        "{body}"
    );
    let page = s.app("/");
    let (status, loc, _) = get(&c, &page).await;
    assert_eq!(status, 302);
    // Signed in, but 2SV is off: the sign-in page says to turn it on.
    let (status, _, body) = get(&c, &loc).await;
    assert_eq!(status, 200);
    assert!(body.contains("href=\"/security/wizard\""), "{body}");
    assert!(body.contains("app.nidan.test"), "{body}");
}

#[tokio::test]
async fn traefik_and_caddy_style_questions_get_redirects() {
    let s = setup(Kind::Nginx).await;
    let api = reqwest::Client::new();
    let token = sign_up(&api, &s.nidan, "cy@example.com").await;
    let secrets = enable_two_apps(&api, &s.direct, &s.direct, &token).await;
    let ask = |method: &str, cookie: Option<&str>| {
        let mut req = api
            .get(format!("{}/api/v1/authz/forward-auth", s.direct))
            .header("x-forwarded-method", method)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "app.nidan.test")
            .header("x-forwarded-uri", "/reports?q=1");
        if let Some(c) = cookie {
            req = req.header("cookie", format!("nidan_session={c}"));
        }
        req
    };
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .execute(ask("GET", None).build().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(
        location(res.headers()),
        s.auth(&format!(
            "/signin?rd={}",
            encoded("https://app.nidan.test/reports?q=1")
        ))
    );
    let res = no_redirects
        .execute(ask("POST", None).build().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // The JSON API's session (made before 2SV was on) does not count ...
    let res = no_redirects
        .execute(ask("GET", Some(&token)).build().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302, "a session from before 2SV");
    // ... one signed in with the code does.
    let signed = sign_in_with_code(&api, &s.direct, "cy@example.com", &secrets[0]).await;
    let res = no_redirects
        .execute(ask("GET", Some(&signed)).build().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["remote-user"], "cy@example.com");
    assert_eq!(res.headers()["remote-email"], "cy@example.com");
    // A host no rule names is refused, signed in or not.
    let res = no_redirects
        .get(format!("{}/api/v1/authz/forward-auth", s.direct))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "other.test")
        .header("cookie", format!("nidan_session={signed}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    // Without the headers the proxy should send: a clear 400.
    let res = no_redirects
        .get(format!("{}/api/v1/authz/forward-auth", s.direct))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert!(res.text().await.unwrap().contains("X-Forwarded-Host"));
    // Each decision is counted for Prometheus.
    let metrics = api
        .get(format!("{}/metrics", s.direct))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for decision in ["allowed", "sign_in", "denied"] {
        assert!(
            metrics.contains(&format!(
                "nidan_forward_auth_total{{decision=\"{decision}\"}}"
            )),
            "{metrics}"
        );
    }
}

/// The probe's bypasses of a path rule (finding 1), asked the way nginx
/// (`X-Original-URL`) and Traefik/Caddy (`X-Forwarded-Uri`) ask: a signed-in
/// account without `staff` never gets a `/staff` spelling through, and a
/// visitor without a session never reaches a protected page by way of the
/// anonymous `/public` rule.
#[tokio::test]
async fn path_rules_cannot_be_bypassed_by_spelling() {
    let s = setup(Kind::Nginx).await;
    let api = reqwest::Client::new();
    let token = sign_up(&api, &s.nidan, "eve@example.com").await;
    let secrets = enable_two_apps(&api, &s.direct, &s.direct, &token).await;
    let session = sign_in_with_code(&api, &s.direct, "eve@example.com", &secrets[0]).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ask = |nginx: bool, path: &str, session: Option<&str>| {
        let mut req = if nginx {
            c.get(format!("{}/api/v1/authz/auth-request", s.direct))
                .header("x-original-url", format!("https://app.nidan.test{path}"))
        } else {
            c.get(format!("{}/api/v1/authz/forward-auth", s.direct))
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "app.nidan.test")
                .header("x-forwarded-uri", path)
        };
        if let Some(t) = session {
            req = req.header("cookie", format!("nidan_session={t}"));
        }
        req.send()
    };
    // The rule applies as written, and the account may use the rest.
    for nginx in [true, false] {
        let status = ask(nginx, "/staff", Some(&session)).await.unwrap().status();
        assert_eq!(status, 403);
        let status = ask(nginx, "/reports", Some(&session))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let staff_spellings = [
        "/%73taff",
        "/%73%74%61%66%66/list",
        "/STAFF",
        "/Staff/",
        "/STAFF./",
        "//staff",
        "///staff/x",
        "/staff;x",
        "/staff;jsessionid=1/list",
        "/staff%2f",
        "/staff%2Flist",
        "/./staff",
        "/x/../staff",
        "/%2e/staff",
        "/x/%2e%2e/staff",
        "/x/%2E%2E/staff",
        "/public/../staff",
        "/public/%2e%2e/staff",
        "/public/..;/staff",
        "/public/..%2fstaff",
        "/public/..%5cstaff",
        "/public\\..\\staff",
        "/%2573taff",
        "/staff%00",
        "/sta%ff",
        "/public;/../staff",
        "/x//../staff",
    ];
    for nginx in [true, false] {
        for path in staff_spellings {
            let res = ask(nginx, path, Some(&session)).await.unwrap();
            let status = res.status().as_u16();
            assert!(
                matches!(status, 400 | 403),
                "{path} (nginx-style: {nginx}) answered {status}"
            );
            if status == 400 {
                assert!(res.text().await.unwrap().contains("refused"));
            }
        }
    }
    // No session: the anonymous rule opens /public and nothing past it.
    for nginx in [true, false] {
        let status = ask(nginx, "/public/x", None).await.unwrap().status();
        assert_eq!(status, 200);
        for path in [
            "/public/..;/staff",
            "/public/..%2fstaff",
            "/public/..%2Freports",
            "/public/%2e%2e/reports",
            "/public/../reports",
            "/public;x/../reports",
            "/public/.%2e/reports",
            "/public//../reports",
            "/%70ublic/x",
            "/PUBLIC/x",
        ] {
            let status = ask(nginx, path, None).await.unwrap().status().as_u16();
            assert!(
                matches!(status, 400 | 401 | 302),
                "{path} (nginx-style: {nginx}) let an anonymous visitor through: {status}"
            );
        }
    }
}

#[tokio::test]
async fn caddy_with_the_readme_caddyfile() {
    let (s, secrets, c) = with_account(Kind::Caddy, "dee@example.com").await;
    let page = s.app("/docs?x=1");
    let loc = anonymous(&s, &c, &page).await;
    // Sign in through Caddy with the code: back to the page, as this account.
    get(&c, &loc).await;
    let (_, next) = password_step(&s, &c, "dee@example.com").await;
    assert_eq!(next, "/signin/code");
    let code = Totp::default().generate(&secrets[0], now() + 30);
    let (status, loc, _) = form(&s, &c, "/signin/code", &[("code", &code)]).await;
    assert_eq!((status, loc.as_str()), (303, page.as_str()));
    let (status, _, body) = get_forged(&c, &page).await;
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            "app page /docs?x=1 user=[dee@example.com] email=[dee@example.com]"
        )
    );
    let (status, _, _) = get(&c, &s.app("/staff/")).await;
    assert_eq!(status, 403);
    // Sign out: refused again.
    let (status, loc, _) = form(&s, &c, "/signout", &[("rd", &page)]).await;
    assert_eq!((status, loc.as_str()), (303, page.as_str()));
    let (status, _, _) = get(&c, &page).await;
    assert_eq!(status, 302);
}

/// The README shows the snippets the test above uses, word for word.
#[test]
fn the_readme_shows_these_nginx_snippets() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    for name in ["nidan-authz.conf", "nidan-protect.conf"] {
        let text = std::fs::read_to_string(snippet(name)).unwrap();
        assert!(
            readme.contains(text.trim()),
            "README lacks deploy/nginx/{name}"
        );
    }
}
