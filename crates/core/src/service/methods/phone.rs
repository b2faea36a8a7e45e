//! Phones as sign-in methods (SPEC §3.1 phone path, §4.1–§4.5, §5):
//! enrolling a number, verified by a code; sending codes by text or call
//! under the limits; and the plain-words errors when a limit is hit or a
//! provider fails. Codes are 6 digits from the OS CSPRNG, valid 10
//! minutes, stored only as a keyed hash, and the last three sent for an
//! attempt stay valid so a resend never invalidates what someone is typing.

use super::super::factor::Purpose;
use super::super::{Nidan, clean_name};
use crate::delivery::{DeliveryError, sms_text, voice_script};
use crate::error::{Error, Result};
use crate::model::{
    Account, Channel, EventKind, Factor, Method, MethodKind, MethodRole, Origin, SentCode,
};
use crate::phone::PhoneNumber;
use crate::secrets::{new_id, random_bytes};
use crate::store::Store;

/// A phone waiting for its first code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneEnrolment {
    /// The method's id, to confirm it.
    pub method_id: String,
    /// The number masked, for the page.
    pub masked: String,
    /// Text or voice.
    pub kind: MethodKind,
    /// The same number as another of the account's methods: losing the
    /// phone would lose both (seed 000), so the page warns.
    pub same_number_as_other: bool,
}

/// Fixed counting windows.
const QUARTER_HOUR: i64 = 15 * 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// A 6-digit code from the CSPRNG (bias below 2^-40).
fn new_code() -> Result<String> {
    let n = u64::from_le_bytes(random_bytes::<8>()?);
    Ok(format!("{:06}", n % 1_000_000))
}

impl<S: Store> Nidan<S> {
    /// The keyed hash a sent code is stored under.
    pub(crate) fn sent_code_hash(&self, account_id: &str, code: &str) -> String {
        self.key
            .mac("sent-code", format!("{account_id}:{code}").as_bytes())
    }

    /// Starts enrolling a phone: checks the number, refuses texts to lines
    /// that can't receive them, and sends the first code.
    pub async fn begin_phone(
        &self,
        account: &Account,
        role: MethodRole,
        typed: &str,
        channel: Channel,
        origin: &Origin,
    ) -> Result<PhoneEnrolment> {
        let number = PhoneNumber::parse(typed, &self.policy.default_region)?;
        if channel == Channel::Sms && !number.can_receive_sms() {
            return Err(Error::CannotReceiveSms);
        }
        self.check_country(&number)?;
        let on = account.two_sv_on_since.is_some();
        if !on && role == MethodRole::Primary {
            self.store.delete_inactive_methods(&account.id).await?;
        }
        let id = new_id()?;
        let method = Method {
            id: id.clone(),
            account_id: account.id.clone(),
            factor: Factor::Phone {
                number: number.e164().to_owned(),
                channel,
            },
            role: if on { MethodRole::Backup } else { role },
            name: clean_name(&number.masked())?,
            created_at: self.now(),
            confirmed_at: None,
            active: false,
        };
        self.store.insert_method(&method).await?;
        let same_number_as_other = self.number_in_use(account, &method).await?;
        self.send_code(account, &method, None, None, origin).await?;
        Ok(PhoneEnrolment {
            method_id: id,
            masked: number.masked(),
            kind: channel.kind(),
            same_number_as_other,
        })
    }

    /// Whether another (active, or verified in this wizard) method of the
    /// account has the same number.
    async fn number_in_use(&self, account: &Account, method: &Method) -> Result<bool> {
        Ok(self.store.methods(&account.id).await?.iter().any(|m| {
            m.id != method.id
                && m.phone().is_some()
                && m.phone().map(|(n, _)| n) == method.phone().map(|(n, _)| n)
                && (m.active || m.confirmed_at.is_some())
        }))
    }

    /// Verifies an enrolling phone with the code sent to it.
    pub async fn confirm_phone(
        &self,
        account: &Account,
        method_id: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<Method> {
        let method = self
            .method_where(&account.id, method_id, |m| {
                !m.active && m.confirmed_at.is_none() && m.phone().is_some()
            })
            .await?;
        self.confirm_new_method(
            account,
            &method,
            Purpose::ConfirmPhone(&method),
            code,
            origin,
        )
        .await?;
        Ok(method)
    }

    /// The enrolling phone `method_id`, to show its page again.
    pub async fn pending_phone(
        &self,
        account: &Account,
        method_id: &str,
    ) -> Result<PhoneEnrolment> {
        let method = self
            .method_where(&account.id, method_id, |m| {
                !m.active && m.confirmed_at.is_none() && m.phone().is_some()
            })
            .await?;
        let same_number_as_other = self.number_in_use(account, &method).await?;
        let kind = method.kind();
        Ok(PhoneEnrolment {
            method_id: method.id,
            masked: method.name,
            kind,
            same_number_as_other,
        })
    }

    /// Sends a code again to an enrolling phone.
    pub async fn resend_enrolment_code(
        &self,
        account: &Account,
        method_id: &str,
        origin: &Origin,
    ) -> Result<()> {
        let method = self
            .method_where(&account.id, method_id, |m| !m.active && m.phone().is_some())
            .await?;
        self.send_code(account, &method, None, None, origin).await
    }

    fn check_country(&self, number: &PhoneNumber) -> Result<()> {
        let allowed = &self.policy.allowed_country_codes;
        if allowed.is_empty()
            || allowed
                .iter()
                .any(|c| c.trim_start_matches('+') == number.country_code())
        {
            Ok(())
        } else {
            Err(Error::CountryNotAllowed)
        }
    }

    /// Counts one send against a limit; fails when it is exceeded.
    async fn take_send(
        &self,
        key: String,
        window: i64,
        cap: i64,
        scope: &'static str,
    ) -> Result<()> {
        let now = self.now();
        let start = now - now.rem_euclid(window);
        if self.store.bump_counter(&key, start).await? > cap {
            return Err(Error::SendCapReached {
                scope,
                retry_after: start + window - now,
            });
        }
        Ok(())
    }

    /// Sends a fresh code to a phone method, for a sign-in attempt
    /// (`challenge_id`) or for enrolment (`None`), within every limit.
    /// A provider failure is recorded and returned as
    /// [`Error::DeliveryFailed`]; the attempt itself is untouched.
    pub(crate) async fn send_code(
        &self,
        account: &Account,
        method: &Method,
        channel: Option<Channel>,
        challenge_id: Option<&str>,
        origin: &Origin,
    ) -> Result<()> {
        let Some((phone, usual)) = method.phone() else {
            return Err(Error::NoSuchMethod);
        };
        let channel = channel.unwrap_or(usual);
        let number = PhoneNumber::from_e164(phone)?;
        if channel == Channel::Sms && !number.can_receive_sms() {
            return Err(Error::CannotReceiveSms);
        }
        self.check_country(&number)?;
        let now = self.now();
        if let Some(last) = self.store.last_code_sent_at(&account.id).await? {
            let wait = last + self.policy.resend_cooldown_seconds - now;
            if wait > 0 {
                return Err(Error::SendCooldown { retry_after: wait });
            }
        }
        let p = &self.policy;
        self.take_send(
            format!("send:account:{}", account.id),
            QUARTER_HOUR,
            p.sends_per_account_15min,
            "account",
        )
        .await?;
        self.take_send(
            format!("send:number:{}", number.e164()),
            DAY,
            p.sends_per_number_day,
            "number",
        )
        .await?;
        self.take_send(
            format!("send:country:{}", number.country_code()),
            HOUR,
            p.sends_per_country_hour,
            "country",
        )
        .await?;
        if !origin.ip.is_empty() {
            self.take_send(
                format!("send:ip:{}", origin.ip),
                HOUR,
                p.sends_per_ip_hour,
                "ip",
            )
            .await?;
        }
        let code = new_code()?;
        self.store
            .insert_sent_code(&SentCode {
                id: new_id()?,
                account_id: account.id.clone(),
                challenge_id: challenge_id.map(str::to_owned),
                method_id: method.id.clone(),
                code_hash: self.sent_code_hash(&account.id, &code),
                sent_at: now,
                expires_at: now + p.sent_code_minutes * 60,
            })
            .await?;
        let (result, verb) = match channel {
            Channel::Voice => {
                let script = voice_script(&account.locale, &p.service_name, &code);
                (
                    self.senders.voice.call_boxed(&number, &script).await,
                    "call",
                )
            }
            Channel::Sms => {
                let text = sms_text(&account.locale, &p.service_name, &p.webotp_domain, &code);
                (
                    self.senders.sms.send_sms_boxed(&number, &text).await,
                    "text",
                )
            }
        };
        match result {
            Ok(_) => {
                self.record(
                    Some(&account.id),
                    EventKind::CodeSent,
                    origin,
                    &format!("{verb} {}", number.masked()),
                )
                .await
            }
            Err(e) => {
                let kind = match e {
                    DeliveryError::Rejected(_) => "rejected",
                    DeliveryError::Unavailable(_) => "unavailable",
                    DeliveryError::Timeout => "timeout",
                    DeliveryError::NotConfigured => "not configured",
                };
                self.record(
                    Some(&account.id),
                    EventKind::CodeSendFailed,
                    origin,
                    &format!("{verb} {}: {kind}", number.masked()),
                )
                .await?;
                Err(Error::DeliveryFailed {
                    verb,
                    last_two: number.last_two().to_owned(),
                })
            }
        }
    }

    /// Sends a code for a sign-in attempt to one of the account's phones:
    /// the code page's "Text the number ending in 78" and "Call ...".
    /// `channel` may switch a phone between text and call; a text to a
    /// number that cannot receive one is refused.
    pub async fn send_sign_in_code(
        &self,
        challenge_token: &str,
        method_id: &str,
        channel: Option<Channel>,
        origin: &Origin,
    ) -> Result<String> {
        let challenge = self.open_challenge(challenge_token).await?;
        let account = self
            .store
            .account_by_id(&challenge.account_id)
            .await?
            .ok_or(Error::ChallengeExpired)?;
        if account.guard.codes_paused_at.is_some() {
            return Err(Error::CodesPaused);
        }
        let method = self
            .method_where(&account.id, method_id, |m| m.active && m.phone().is_some())
            .await?;
        self.send_code(&account, &method, channel, Some(&challenge.id), origin)
            .await?;
        Ok(method.name)
    }
}
