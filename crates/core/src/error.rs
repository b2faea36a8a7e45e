//! What can go wrong, each variant something a person can be told in plain
//! words (the server maps each to a status, a stable machine code and a
//! localized message).

/// An operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Email or password wrong; never says which.
    #[error("the email or password is not correct")]
    BadCredentials,
    /// The email address is not an address.
    #[error("enter a valid email address")]
    InvalidEmail,
    /// Password shorter than 8 or longer than 128 characters.
    #[error("passwords are 8 to 128 characters")]
    PasswordLength,
    /// A sign-up link that expired, was used, or whose address got an
    /// account in the meantime.
    #[error("this sign-up link has expired or was already used; sign up again or sign in")]
    SignUpLinkInvalid,
    /// The code is wrong; this many tries remain in this sign-in.
    #[error("the code is not correct; {attempts_left} tries left")]
    WrongCode {
        /// Tries left before the attempt ends.
        attempts_left: i64,
    },
    /// The code cannot be a code (length, characters).
    #[error("{0}")]
    MalformedCode(String),
    /// The code was right but has already been used.
    #[error("this code has already been used; wait for the next one")]
    CodeAlreadyUsed,
    /// Too many wrong codes: this sign-in attempt is over.
    #[error("too many wrong codes; sign in again")]
    TooManyAttempts,
    /// The sign-in attempt expired or does not exist.
    #[error("this sign-in has expired; sign in again")]
    ChallengeExpired,
    /// Not signed in, or the session ended.
    #[error("sign in to continue")]
    NotSignedIn,
    /// Security settings need the password again.
    #[error("enter your password again to continue")]
    StepUpRequired,
    /// No such method for this account.
    #[error("that sign-in method does not exist")]
    NoSuchMethod,
    /// Passkeys need a relying-party id (a host name, not an IP address).
    #[error("passkeys are not available on this server: {0}")]
    PasskeysOff(&'static str),
    /// What the browser sent for a passkey is not a WebAuthn credential.
    #[error("that is not a passkey answer: {0}")]
    MalformedPasskey(String),
    /// The passkey ceremony is unknown, finished or expired.
    #[error("this passkey request has expired or was already used; start again")]
    CeremonyExpired,
    /// The passkey or security key is already registered.
    #[error("this passkey or security key is already registered")]
    PasskeyAlreadyRegistered,
    /// The key did not prove itself (wrong site, wrong key, bad signature).
    #[error("that passkey or security key was not accepted")]
    PasskeyRefused,
    /// The wizard step needs an earlier step first.
    #[error("{0}")]
    WizardOrder(&'static str),
    /// The backup must be a phone when the primary is an app (§3.2).
    #[error("with an authenticator app as the primary method, the backup must be a phone number")]
    BackupMustBePhone,
    /// Removing this method would leave no way to sign in.
    #[error("this is your last sign-in method; turn two-step verification off instead")]
    LastMethod,
    /// Two-step verification is already on.
    #[error("two-step verification is already on")]
    AlreadyOn,
    /// Two-step verification is off.
    #[error("two-step verification is off")]
    NotOn,
    /// A name that is empty or too long.
    #[error("names are 1 to 64 characters")]
    InvalidName,
    /// The phone number was not accepted.
    #[error("{0}")]
    Phone(#[from] crate::phone::PhoneError),
    /// Texts were asked for a number that cannot receive them (fixed line,
    /// 050 VoIP): a call is offered instead.
    #[error("this number can't receive text messages; choose a voice call instead")]
    CannotReceiveSms,
    /// A code was sent moments ago; wait before asking again.
    #[error("a code was just sent; you can ask again in {retry_after} seconds")]
    SendCooldown {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// A sending limit was reached.
    #[error(
        "too many codes were sent ({scope}); try again in {retry_after} seconds or use another method"
    )]
    SendCapReached {
        /// Which limit: `account`, `number`, `country` or `ip`.
        scope: &'static str,
        /// Seconds until the window ends.
        retry_after: i64,
    },
    /// The number's country is not on the operator's allow-list.
    #[error("codes can't be sent to numbers in this country; use another method")]
    CountryNotAllowed,
    /// The provider failed; the attempt is kept and other ways are offered.
    #[error("we couldn't {verb} the number ending in {last_two}; try another method")]
    DeliveryFailed {
        /// `text` or `call`.
        verb: &'static str,
        /// Last two digits of the number.
        last_two: String,
    },
    /// Too many wrong codes in a row: wait before the next try (§4.5).
    #[error("too many wrong codes; wait {retry_after} seconds before trying again")]
    SlowDown {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// Too many wrong passwords: wait before the next try.
    #[error("too many wrong passwords; try again in {retry_after} seconds")]
    PasswordSlowDown {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// Code entry is locked after too many wrong codes in a row, until a
    /// password reset or an admin unlock (§4.5).
    #[error("code entry is locked after too many wrong codes; reset your password to unlock it")]
    CodeEntryLocked,
    /// Codes are not sent: repeated unfinished sign-ins show that someone
    /// else knows the password (§7.1).
    #[error(
        "codes are not being sent because someone who knows your password keeps trying to sign in; use your app or a backup code, and change your password"
    )]
    CodesPaused,
    /// An uploaded document is empty.
    #[error("the file is empty; choose a photo or scan of your document")]
    DocumentEmpty,
    /// An uploaded document is over the size limit.
    #[error("the file is larger than {max_mb} MB; use a smaller photo or scan")]
    DocumentTooLarge {
        /// The limit in megabytes.
        max_mb: usize,
    },
    /// An uploaded document is not a JPEG, PNG or PDF by its content.
    #[error("the file is not a JPEG, PNG or PDF ({found})")]
    DocumentType {
        /// What it looks like instead, in a few words.
        found: &'static str,
    },
    /// The document type chosen is not one of the list.
    #[error("choose what kind of document this is")]
    DocumentKind,
    /// The account already has a recovery request under review.
    #[error("a recovery request for this account is already being reviewed")]
    RecoveryAlreadyOpen,
    /// No such recovery case.
    #[error("that recovery request does not exist")]
    NoSuchCase,
    /// The recovery case was already decided.
    #[error("that recovery request was already decided")]
    CaseDecided,
    /// A rejection needs a reason for the person.
    #[error("give a reason for the rejection; it is emailed to the person")]
    ReasonRequired,
    /// The signed-in account is not staff.
    #[error("this page is for administrators")]
    NotAdmin,
    /// No account with that email or id (staff tools only).
    #[error("no account with that email")]
    NoSuchAccount,
    /// A password-reset link that expired or was used.
    #[error("this password-reset link has expired or was already used; ask for a new one")]
    ResetLinkInvalid,
    /// A conditional change in a unit of work found nothing to change (a
    /// link already spent, a case already decided): nothing was changed.
    #[error("this was already done or has expired")]
    Conflict,
    /// The database cannot be reached (down, restarting, every connection
    /// busy past the wait): nothing was done; try again in a few seconds.
    #[error("the database can't be reached right now: {0}")]
    Unavailable(String),
    /// Storage failed; details are logged, not shown.
    #[error("storage error: {0}")]
    Store(String),
    /// Cryptography failed (bad master key, RNG failure).
    #[error("internal cryptographic error: {0}")]
    Crypto(String),
}

/// The result of a core operation.
pub type Result<T> = std::result::Result<T, Error>;
