//! The records nidan keeps. Times are Unix seconds; ids are random hex.

use serde::Serialize;

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Record id.
    pub id: String,
    /// Lowercased email address, unique.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Roles, such as `admin`.
    pub roles: Vec<String>,
    /// `ja` or `en`.
    pub locale: String,
    /// When two-step verification was turned on; `None` while off.
    pub two_sv_on_since: Option<i64>,
    /// When the account was created.
    pub created_at: i64,
}

/// The kind of a sign-in method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// An authenticator app (TOTP).
    App,
    /// Text message to a phone (coming with phones).
    Sms,
    /// Voice call to a phone (coming with phones).
    Voice,
}

impl MethodKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Sms => "sms",
            Self::Voice => "voice",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "app" => Some(Self::App),
            "sms" => Some(Self::Sms),
            "voice" => Some(Self::Voice),
            _ => None,
        }
    }
}

/// Primary (used first at sign-in) or backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodRole {
    /// The method the code page starts with.
    Primary,
    /// Another way in.
    Backup,
}

impl MethodRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Backup => "backup",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "primary" => Some(Self::Primary),
            "backup" => Some(Self::Backup),
            _ => None,
        }
    }
}

/// A sign-in method. Until `active`, it belongs to an unfinished wizard
/// and is never used to sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// Record id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// App, SMS or voice.
    pub kind: MethodKind,
    /// Primary or backup.
    pub role: MethodRole,
    /// The name the user gave (an app) or a masked number (a phone).
    pub name: String,
    /// The TOTP key sealed with the master key (apps only).
    pub secret_sealed: Option<Vec<u8>>,
    /// The phone number in E.164 (SMS and voice only).
    pub phone: Option<String>,
    /// The last TOTP step accepted; codes at or before it are refused.
    pub last_step: Option<i64>,
    /// When added.
    pub created_at: i64,
    /// When its first code was verified.
    pub confirmed_at: Option<i64>,
    /// Whether it is in use for sign-in.
    pub active: bool,
}

/// A signed-in browser or API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Record id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// When it began.
    pub created_at: i64,
    /// When it ends.
    pub expires_at: i64,
    /// When the password was last entered in it (for step-up).
    pub password_at: i64,
    /// Whether the user asked to stay signed in.
    pub keep_signed_in: bool,
}

/// What a sign-in attempt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// The code step of signing in.
    SignIn,
}

/// One sign-in attempt after a correct password, waiting for a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Record id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// When it stops accepting codes.
    pub expires_at: i64,
    /// Wrong codes still allowed.
    pub attempts_left: i64,
    /// Whether the user asked to stay signed in (carried to the session).
    pub keep_signed_in: bool,
    /// When a code was accepted; a completed challenge accepts no more.
    pub completed_at: Option<i64>,
}

/// A browser that may skip the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RememberedBrowser {
    /// Record id.
    pub id: String,
    /// Owner.
    #[serde(skip)]
    pub account_id: String,
    /// Browser and OS, from the User-Agent.
    pub label: String,
    /// When remembered.
    pub created_at: i64,
    /// When last used to skip a code.
    pub last_used_at: i64,
    /// When it must enter a code again.
    pub expires_at: i64,
}

/// A security event for the audit log. Never holds a code or secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Record id.
    pub id: String,
    /// Whose account, when known.
    pub account_id: Option<String>,
    /// What happened (`sign_in`, `code_accepted`, `code_replayed`, ...).
    pub kind: String,
    /// When.
    pub at: i64,
    /// From which IP.
    pub ip: String,
    /// With which User-Agent.
    pub user_agent: String,
    /// Details safe to show (method name, browser label).
    pub detail: String,
}

/// Where a request came from, for events and remembered-browser labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// Client IP.
    pub ip: String,
    /// Raw User-Agent.
    pub user_agent: String,
    /// A readable "Browser on OS" made from the User-Agent by the server.
    pub browser_label: String,
}

/// A one-time code sent by text or call. Only a keyed hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCode {
    /// Record id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// The sign-in attempt it belongs to; `None` for a phone being enrolled.
    pub challenge_id: Option<String>,
    /// The phone method it went to.
    pub method_id: String,
    /// Keyed hash of the code.
    pub code_hash: String,
    /// When sent.
    pub sent_at: i64,
    /// When it stops working.
    pub expires_at: i64,
}

/// A message kept by the development `outbox` provider instead of sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    /// Record id.
    pub id: String,
    /// `sms`, `voice` or `email`.
    pub channel: String,
    /// Number or address.
    pub recipient: String,
    /// What would have been sent.
    pub body: String,
    /// When.
    pub created_at: i64,
}
