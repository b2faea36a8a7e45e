//! The kinds of security event, each with a stored name.

use serde::Serialize;

macro_rules! event_kinds {
    ($($variant:ident => $name:literal,)*) => {
        /// What a security event records. Each has a stored name and one
        /// sentence per language (`event.<name>` in the server's locales),
        /// used by the settings page, the admin console and the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum EventKind {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl EventKind {
            /// Every kind, in the order of the sign-in journey.
            pub const ALL: &'static [EventKind] = &[$(Self::$variant,)*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// Parses a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_kinds! {
    SignedUp => "signed_up",
    SignUpAttempted => "sign_up_attempted",
    PasswordAccepted => "password_accepted",
    PasswordRefused => "password_refused",
    PasswordGuessingAlert => "password_guessing_alert",
    CodeSent => "code_sent",
    CodeSendFailed => "code_send_failed",
    CodeAccepted => "code_accepted",
    BackupCodeUsed => "backup_code_used",
    CodeRefused => "code_refused",
    CodeReplayed => "code_replayed",
    PasskeyAccepted => "passkey_accepted",
    PasskeyRefused => "passkey_refused",
    PasskeyCloneSuspected => "passkey_clone_suspected",
    CodeEntryLocked => "code_entry_locked",
    CodesPaused => "codes_paused",
    AbuseAlertSent => "abuse_alert_sent",
    SignInAttemptEnded => "sign_in_attempt_ended",
    SignedIn => "signed_in",
    SignedOut => "signed_out",
    StepUp => "step_up",
    RememberedBrowserUsed => "remembered_browser_used",
    BrowserRemembered => "browser_remembered",
    BrowserForgotten => "browser_forgotten",
    BrowsersForgotten => "browsers_forgotten",
    TwoSvOn => "two_sv_on",
    TwoSvOff => "two_sv_off",
    MethodAdded => "method_added",
    MethodRemoved => "method_removed",
    MethodRenamed => "method_renamed",
    PrimaryChanged => "primary_changed",
    BackupCodesRegenerated => "backup_codes_regenerated",
    PasswordChanged => "password_changed",
    PasswordResetRequested => "password_reset_requested",
    PasswordResetLimited => "password_reset_limited",
    PasswordReset => "password_reset",
    NotMe => "not_me",
    NoticeFailed => "notice_failed",
    RecoveryRequested => "recovery_requested",
    RecoveryDocumentViewed => "recovery_document_viewed",
    RecoveryApproved => "recovery_approved",
    RecoveryRejected => "recovery_rejected",
    Unlocked => "unlocked",
    TwoSvOffByStaff => "two_sv_off_by_staff",
    RolesChanged => "roles_changed",
    StaffRecoveryDocumentViewed => "staff_recovery_document_viewed",
    StaffRecoveryApproved => "staff_recovery_approved",
    StaffRecoveryRejected => "staff_recovery_rejected",
    StaffUnlocked => "staff_unlocked",
    StaffTwoSvOffByStaff => "staff_two_sv_off_by_staff",
    StaffRolesChanged => "staff_roles_changed",
    Other => "other",
}

impl EventKind {
    /// The record a staff action also leaves on the acting admin's own
    /// log, for the kinds staff take; `None` for the others.
    pub fn on_staff_log(self) -> Option<Self> {
        Some(match self {
            Self::RecoveryDocumentViewed => Self::StaffRecoveryDocumentViewed,
            Self::RecoveryApproved => Self::StaffRecoveryApproved,
            Self::RecoveryRejected => Self::StaffRecoveryRejected,
            Self::Unlocked => Self::StaffUnlocked,
            Self::TwoSvOffByStaff => Self::StaffTwoSvOffByStaff,
            Self::RolesChanged => Self::StaffRolesChanged,
            _ => return None,
        })
    }

    /// A stored name read back: a kind this version does not know (written
    /// by a newer node sharing the database) reads as [`EventKind::Other`].
    pub fn read(s: &str) -> Self {
        Self::parse(s).unwrap_or(Self::Other)
    }
}
