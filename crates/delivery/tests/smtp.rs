//! The SMTP sender in a real SMTP conversation with a server running in
//! the test (mailin-embedded on 127.0.0.1), and its failure paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{INTERNAL_ERROR, NO_MAILBOX, OK};
use mailin_embedded::{Handler, Response, Server};
use nidan_core::delivery::{DeliveryError, EmailSender};
use nidan_delivery::smtp::{Security, SmtpConfig, SmtpSender};
use zeroize::Zeroizing;

/// A received mail: envelope sender, recipients, and the raw data.
type Mail = (String, Vec<String>, String);
/// The mail being received: sender, recipients so far, data so far.
type Receiving = (String, Vec<String>, Vec<u8>);

#[derive(Clone, Default)]
struct Inbox {
    mails: Arc<Mutex<Vec<Mail>>>,
    current: Arc<Mutex<Receiving>>,
}

impl Handler for Inbox {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        *self.current.lock().unwrap() = (from.to_owned(), Vec::new(), Vec::new());
        OK
    }
    fn rcpt(&mut self, to: &str) -> Response {
        if to.contains("nobody") {
            return NO_MAILBOX;
        }
        if to.contains("broken") {
            return INTERNAL_ERROR;
        }
        self.current.lock().unwrap().1.push(to.to_owned());
        OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.lock().unwrap().2.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let (from, to, data) = self.current.lock().unwrap().clone();
        self.mails
            .lock()
            .unwrap()
            .push((from, to, String::from_utf8_lossy(&data).into_owned()));
        OK
    }
}

fn start() -> (Inbox, u16) {
    let inbox = Inbox::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler = inbox.clone();
    std::thread::spawn(move || {
        let mut server = Server::new(handler);
        server.with_name("mail.test").with_tcp_listener(listener);
        let _ = server.serve();
    });
    (inbox, port)
}

fn sender(port: u16) -> SmtpSender {
    SmtpSender::new(&SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: Zeroizing::new(String::new()),
        from: "nidan <no-reply@login.example>".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

#[tokio::test]
async fn a_notice_travels_through_a_real_smtp_conversation() {
    let (inbox, port) = start();
    sender(port)
        .send_email(
            "hanako@example.com",
            "二段階認証が有効になりました",
            "Two-step verification was turned on.\nThis wasn't me: https://login.example/",
        )
        .await
        .unwrap();
    let mails = inbox.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let (from, to, data) = &mails[0];
    assert_eq!(from, "no-reply@login.example");
    assert_eq!(to, &vec!["hanako@example.com".to_owned()]);
    assert!(
        data.contains("From: nidan <no-reply@login.example>"),
        "{data}"
    );
    assert!(data.contains("To: hanako@example.com"), "{data}");
    assert!(
        data.contains("Subject: =?utf-8?"),
        "a Japanese subject is encoded: {data}"
    );
    assert!(
        data.contains("Content-Type: text/plain; charset=utf-8"),
        "{data}"
    );
}

#[tokio::test]
async fn refused_recipients_and_dead_servers_are_told_apart() {
    let (_, port) = start();
    let s = sender(port);
    assert!(matches!(
        s.send_email("nobody@example.com", "s", "b").await,
        Err(DeliveryError::Rejected(_))
    ));
    assert!(matches!(
        s.send_email("broken@example.com", "s", "b").await,
        Err(DeliveryError::Unavailable(_))
    ));
    assert!(matches!(
        s.send_email("not an address", "s", "b").await,
        Err(DeliveryError::Rejected(_))
    ));
    // Nothing listens on this port any more.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(matches!(
        sender(closed).send_email("a@example.com", "s", "b").await,
        Err(DeliveryError::Unavailable(_) | DeliveryError::Timeout)
    ));
}
