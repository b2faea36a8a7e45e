//! What the core tests share: senders that record what they were asked
//! to send, and a world over a real SQLite file with a controlled clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    dead_code
)]

use std::sync::{Arc, Mutex};

use nidan_core::delivery::{
    DeliveryError, EmailSender, Receipt, Senders, SmsSender, VoiceScript, VoiceSender,
};
use nidan_core::model::{MethodRole, Origin};
use nidan_core::phone::PhoneNumber;
use nidan_core::{ManualClock, Nidan, Policy, secrets::MasterKey};
use nidan_store::SqlStore;

#[derive(Clone, Default)]
pub struct Recorder {
    pub sent: Arc<Mutex<Vec<(String, String)>>>,
    /// Email bodies, in the order sent.
    pub bodies: Arc<Mutex<Vec<String>>>,
    pub fail: bool,
}

impl Recorder {
    pub fn last_code(&self) -> String {
        let sent = self.sent.lock().unwrap();
        let (_, text) = sent.last().expect("something was sent");
        text.chars().filter(char::is_ascii_digit).take(6).collect()
    }
    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
    /// How many emails had this subject.
    pub fn subjects(&self, subject: &str) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| s == subject)
            .count()
    }
    /// The last URL in the last email's body.
    pub fn last_link(&self) -> String {
        let bodies = self.bodies.lock().unwrap();
        let body = bodies.last().expect("an email was sent");
        body.split_whitespace()
            .rfind(|w| w.starts_with("http"))
            .expect("a link")
            .to_owned()
    }
}

impl SmsSender for Recorder {
    async fn send_sms(&self, to: &PhoneNumber, body: &str) -> Result<Receipt, DeliveryError> {
        if self.fail {
            return Err(DeliveryError::Unavailable("test outage".into()));
        }
        self.sent
            .lock()
            .unwrap()
            .push((to.e164().to_owned(), body.to_owned()));
        Ok(Receipt::default())
    }
}

impl EmailSender for Recorder {
    async fn send_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<Receipt, DeliveryError> {
        self.bodies.lock().unwrap().push(body.to_owned());
        self.sent
            .lock()
            .unwrap()
            .push((to.to_owned(), subject.to_owned()));
        Ok(Receipt::default())
    }
}

impl VoiceSender for Recorder {
    async fn call(&self, to: &PhoneNumber, script: &VoiceScript) -> Result<Receipt, DeliveryError> {
        if self.fail {
            return Err(DeliveryError::Timeout);
        }
        let spoken: String = script.digits.iter().collect();
        self.sent.lock().unwrap().push((
            to.e164().to_owned(),
            format!("{spoken} ({})", script.language),
        ));
        Ok(Receipt::default())
    }
}

pub const T0: i64 = 1_800_000_000;

pub struct World {
    pub nidan: Nidan<SqlStore>,
    /// The same store the service uses (for fault tests and checks that
    /// look at rows directly).
    pub store: SqlStore,
    pub clock: ManualClock,
    pub texts: Recorder,
    pub calls: Recorder,
    pub mails: Recorder,
    pub _dir: tempfile::TempDir,
}

pub fn origin() -> Origin {
    Origin {
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        browser_label: "Test".into(),
    }
}

pub async fn world_with(policy: Policy, fail: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = nidan_store::testing::store(dir.path()).await.unwrap();
    let kept = store.clone();
    let clock = ManualClock::new(T0);
    let texts = Recorder {
        fail,
        ..Recorder::default()
    };
    let calls = Recorder {
        fail,
        ..Recorder::default()
    };
    let mails = Recorder::default();
    let nidan = Nidan::new(
        store,
        Arc::new(clock.clone()),
        MasterKey::generate().unwrap(),
        policy,
        2,
    )
    .unwrap()
    .with_senders(Senders {
        sms: Arc::new(texts.clone()),
        voice: Arc::new(calls.clone()),
        email: Arc::new(mails.clone()),
    });
    World {
        nidan,
        store: kept,
        clock,
        texts,
        calls,
        mails,
        _dir: dir,
    }
}

pub async fn world() -> World {
    world_with(
        Policy {
            webotp_domain: "login.example".into(),
            ..Policy::default()
        },
        false,
    )
    .await
}

/// Signs up through the emailed link, as a person does: `mails` is the
/// email sender the link went to.
pub async fn signed_up(
    nidan: &Nidan<SqlStore>,
    mails: &Recorder,
    email: &str,
    password: &str,
    locale: &str,
) -> nidan_core::service::signin::SignedIn {
    nidan
        .sign_up(email, password, locale, &origin())
        .await
        .unwrap();
    let link = mails.last_link();
    let token = link.rsplit('/').next().unwrap();
    nidan.confirm_sign_up(token, &origin()).await.unwrap()
}

pub async fn account(w: &World) -> nidan_core::model::Account {
    let signed = signed_up(
        &w.nidan,
        &w.mails,
        "hanako@example.com",
        "tsuki to hoshi",
        "ja",
    )
    .await;
    w.nidan.authenticate(&signed.session_token).await.unwrap().1
}

/// SMS primary on a mobile, voice backup on a landline; 2SV on.
pub async fn enabled(w: &World) -> nidan_core::model::Account {
    let a = account(w).await;
    let sms = w
        .nidan
        .begin_phone(
            &a,
            MethodRole::Primary,
            "090-1234-5678",
            nidan_core::model::Channel::Sms,
            &origin(),
        )
        .await
        .unwrap();
    assert_eq!(sms.masked, "•••-••••-5678");
    w.nidan
        .confirm_phone(&a, &sms.method_id, &w.texts.last_code(), &origin())
        .await
        .unwrap();
    w.clock.advance(31);
    let voice = w
        .nidan
        .begin_phone(
            &a,
            MethodRole::Backup,
            "03-1234-5678",
            nidan_core::model::Channel::Voice,
            &origin(),
        )
        .await
        .unwrap();
    w.nidan
        .confirm_phone(&a, &voice.method_id, &w.calls.last_code(), &origin())
        .await
        .unwrap();
    w.nidan.enable(&a, None, false, &origin()).await.unwrap();
    w.clock.advance(31);
    a
}

/// The password step for hanako with `password`, from a browser that is
/// not remembered.
pub async fn sign_in_as(w: &World, password: &str) -> nidan_core::service::signin::PasswordStep {
    w.nidan
        .sign_in("hanako@example.com", password, false, None, &origin())
        .await
        .unwrap()
}
