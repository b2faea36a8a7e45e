//! The records nidan keeps. Times are Unix seconds; ids are random hex.

use serde::Serialize;

mod event_kind;
pub use event_kind::EventKind;

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
    /// Lockout and abuse state.
    pub guard: AccountGuard,
}

impl Account {
    /// Whether the account has the `admin` role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

/// The counters that protect an account (SPEC §4.5, §7.1), kept in the
/// database so every node sees the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccountGuard {
    /// Consecutive wrong codes across sign-in attempts; reset by a right one.
    pub code_failures: i64,
    /// No code is checked before this time (the slow-down).
    pub code_retry_at: Option<i64>,
    /// Since when codes are not sent because of repeated unfinished sign-ins.
    pub codes_paused_at: Option<i64>,
    /// When the owner was last alerted about unfinished sign-ins.
    pub abuse_alerted_at: Option<i64>,
    /// When the password was last changed or reset (0 if never).
    pub password_changed_at: i64,
}

/// The kind of a sign-in method, as stored and shown: the flat name of a
/// [`Factor`] (see [`Method::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// An authenticator app (TOTP).
    App,
    /// Text message to a phone.
    Sms,
    /// Voice call to a phone.
    Voice,
    /// A passkey or security key (WebAuthn).
    Passkey,
}

/// How a code reaches a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text message.
    Sms,
    /// A voice call that reads the code.
    Voice,
}

impl Channel {
    /// The method kind a phone with this channel has.
    pub fn kind(self) -> MethodKind {
        match self {
            Self::Sms => MethodKind::Sms,
            Self::Voice => MethodKind::Voice,
        }
    }
}

/// What a sign-in method is, with what that kind needs and nothing else.
/// A new kind of method is a new variant here, and the compiler then
/// points at every place that must handle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Factor {
    /// An authenticator app.
    App {
        /// The TOTP key sealed with the master key.
        secret_sealed: Vec<u8>,
        /// The last TOTP step accepted; codes at or before it are refused.
        last_step: Option<i64>,
    },
    /// A phone that is sent codes.
    Phone {
        /// The number in E.164.
        number: String,
        /// How codes are sent unless the person asks for the other way.
        channel: Channel,
    },
    /// A passkey or security key (WebAuthn): nothing secret is kept, only
    /// the public key the authenticator made for this site.
    Passkey {
        /// The credential as webauthn-rs keeps it (JSON: public key,
        /// counter, backup flags).
        credential: String,
        /// Its credential id, base64url: unique across all accounts.
        credential_id: String,
        /// The authenticator's signature counter as last seen (0 for
        /// authenticators that keep none).
        sign_count: i64,
        /// When it last signed someone in.
        last_used_at: Option<i64>,
    },
}

impl MethodKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::Passkey => "passkey",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "app" => Some(Self::App),
            "sms" => Some(Self::Sms),
            "voice" => Some(Self::Voice),
            "passkey" => Some(Self::Passkey),
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
    /// What it is: an app with its key, or a phone with its number.
    pub factor: Factor,
    /// Primary or backup.
    pub role: MethodRole,
    /// The name the user gave (an app) or a masked number (a phone).
    pub name: String,
    /// When added.
    pub created_at: i64,
    /// When its first code was verified.
    pub confirmed_at: Option<i64>,
    /// Whether it is in use for sign-in.
    pub active: bool,
}

impl Method {
    /// App, SMS or voice.
    pub fn kind(&self) -> MethodKind {
        match &self.factor {
            Factor::App { .. } => MethodKind::App,
            Factor::Phone { channel, .. } => channel.kind(),
            Factor::Passkey { .. } => MethodKind::Passkey,
        }
    }

    /// The phone number (E.164) and channel, for a phone.
    pub fn phone(&self) -> Option<(&str, Channel)> {
        match &self.factor {
            Factor::Phone { number, channel } => Some((number, *channel)),
            Factor::App { .. } | Factor::Passkey { .. } => None,
        }
    }

    /// Whether codes are sent to it (a phone), rather than made by the
    /// person's own device.
    pub fn is_phone(&self) -> bool {
        self.phone().is_some()
    }
}

/// What a WebAuthn ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Adding a passkey or security key (the wizard or settings).
    Register,
    /// The second step of a sign-in attempt.
    SignIn,
    /// Signing in with a discoverable passkey alone (no account yet).
    Discover,
}

impl CeremonyPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::Discover => "discover",
        }
    }
}

/// A WebAuthn ceremony under way, kept in the database so that any node
/// can finish it, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// Record id (handed to the browser with the options).
    pub id: String,
    /// Whose it is (`None` for [`CeremonyPurpose::Discover`]).
    pub account_id: Option<String>,
    /// The sign-in attempt it belongs to (sign-in ceremonies).
    pub challenge_id: Option<String>,
    /// What it is for.
    pub purpose: CeremonyPurpose,
    /// webauthn-rs's state (JSON): the challenge sent, what is allowed.
    pub state: String,
    /// When it can no longer be finished.
    pub expires_at: i64,
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
    /// When the session passed the second step (a code, a browser
    /// remembered after one, or turning 2SV on in it); `None` for a
    /// password-only session.
    pub two_step_at: Option<i64>,
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
    /// When the password was accepted.
    pub created_at: i64,
    /// From which IP.
    pub ip: String,
    /// From which browser ("Chrome on Linux").
    pub browser: String,
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
    /// What happened.
    pub kind: EventKind,
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

/// The identity documents accepted for recovery (SPEC §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Driver's licence.
    DriversLicence,
    /// Passport.
    Passport,
    /// Residence card.
    ResidenceCard,
    /// Health-insurance card.
    HealthInsuranceCard,
    /// Pension book.
    PensionBook,
    /// Anything else with the holder's name and photo.
    Other,
}

impl DocumentKind {
    /// Every kind, in the order the upload page lists them.
    pub const ALL: [Self; 6] = [
        Self::DriversLicence,
        Self::Passport,
        Self::ResidenceCard,
        Self::HealthInsuranceCard,
        Self::PensionBook,
        Self::Other,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DriversLicence => "drivers_licence",
            Self::Passport => "passport",
            Self::ResidenceCard => "residence_card",
            Self::HealthInsuranceCard => "health_insurance_card",
            Self::PensionBook => "pension_book",
            Self::Other => "other",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a recovery case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Waiting for review.
    Open,
    /// Approved: 2SV was turned off.
    Approved,
    /// Rejected with a reason.
    Rejected,
}

impl CaseStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// An identity-document recovery request. The document itself is fetched
/// separately (sealed) and only by staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryCase {
    /// Record id.
    pub id: String,
    /// Whose account.
    pub account_id: String,
    /// The account's email, for the review queue.
    pub email: String,
    /// What kind of document.
    pub document_kind: DocumentKind,
    /// `image/jpeg`, `image/png` or `application/pdf`, from the content.
    pub content_type: String,
    /// Size in bytes.
    pub document_size: i64,
    /// Open, approved or rejected.
    pub status: CaseStatus,
    /// Why it was rejected.
    pub reason: String,
    /// From which IP it was sent.
    pub ip: String,
    /// From which browser.
    pub browser: String,
    /// When it was sent.
    pub created_at: i64,
    /// When staff decided.
    pub decided_at: Option<i64>,
    /// Which staff account decided.
    pub decided_by: Option<String>,
    /// When the document was deleted (after the decision and retention).
    pub document_deleted_at: Option<i64>,
}

/// Which events to list in the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this account's.
    pub account_id: Option<String>,
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// Only at or after this time.
    pub since: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// What an emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Set a new password (the reset link).
    Reset,
    /// "This wasn't me" in a security notice: sign out everywhere.
    NotMe,
}

impl LinkPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::NotMe => "not_me",
        }
    }
}

/// A sign-up waiting for its address to be confirmed (the account is
/// created when the emailed link is opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignUp {
    /// Hash of the link's token.
    pub token_hash: String,
    /// The address, lowercased.
    pub email: String,
    /// The chosen password, hashed.
    pub password_hash: String,
    /// The language of the sign-up page.
    pub locale: String,
    /// When it was asked for.
    pub created_at: i64,
    /// When the link stops working.
    pub expires_at: i64,
}
