//! What staff do (SPEC §6.3, §7.3): review recovery cases, look up users,
//! unlock code entry, turn 2SV off for someone, read the audit log. Every
//! operation takes the [`Actor`] doing it, checks it may, and is recorded
//! both on the user's account and with the actor's name.

use zeroize::Zeroizing;

use super::Nidan;
use super::notices::Notice;
use super::recovery::document_context;
use crate::error::{Error, Result};
use crate::model::{
    Account, CaseStatus, Event, EventFilter, EventKind, Method, Origin, RecoveryCase,
};
use crate::store::{Store, Write};

/// Who is acting.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in account; it must have the `admin` role.
    Admin(Box<Account>),
    /// The `nidan admin` command line (whoever can run it owns the server).
    Cli,
}

impl Actor {
    /// The name recorded for the actor.
    pub fn name(&self) -> String {
        match self {
            Self::Admin(a) => a.email.clone(),
            Self::Cli => "nidan admin (command line)".into(),
        }
    }

    fn authorize(&self) -> Result<()> {
        match self {
            Self::Admin(a) if !a.is_admin() => Err(Error::NotAdmin),
            _ => Ok(()),
        }
    }

    fn account_id(&self) -> Option<&str> {
        match self {
            Self::Admin(a) => Some(&a.id),
            Self::Cli => None,
        }
    }
}

/// One user as staff see them.
#[derive(Debug)]
pub struct UserFile {
    /// The account.
    pub account: Account,
    /// Every method, active or not.
    pub methods: Vec<Method>,
    /// Unused backup codes.
    pub backup_codes_left: i64,
    /// The most recent events.
    pub events: Vec<Event>,
    /// Recovery cases, newest first.
    pub cases: Vec<RecoveryCase>,
}

/// Longest rejection reason.
const MAX_REASON: usize = 500;

impl<S: Store> Nidan<S> {
    /// Records an event on the user's account and, for a signed-in admin,
    /// on the admin's.
    async fn record_staff(
        &self,
        actor: &Actor,
        account_id: &str,
        kind: EventKind,
        origin: &Origin,
        detail: &str,
    ) -> Result<()> {
        let writes = self.staff_events(actor, account_id, kind, origin, detail)?;
        self.store.apply(writes).await
    }

    /// A staff action's events: on the account's log and on the admin's.
    fn staff_events(
        &self,
        actor: &Actor,
        account_id: &str,
        kind: EventKind,
        origin: &Origin,
        detail: &str,
    ) -> Result<Vec<Write>> {
        let detail = if detail.is_empty() {
            format!("by {}", actor.name())
        } else {
            format!("{detail} (by {})", actor.name())
        };
        let mut writes = vec![self.event(Some(account_id), kind, origin, &detail)?];
        if let Some(admin) = actor.account_id()
            && admin != account_id
            && let Some(staff_kind) = kind.on_staff_log()
        {
            writes.push(self.event(Some(admin), staff_kind, origin, &detail)?);
        }
        Ok(writes)
    }

    /// Recovery cases with this status, open ones oldest first.
    pub async fn recovery_queue(
        &self,
        actor: &Actor,
        status: Option<CaseStatus>,
    ) -> Result<Vec<RecoveryCase>> {
        actor.authorize()?;
        self.store.recovery_cases(status, None, 200).await
    }

    /// One case.
    pub async fn recovery_case(&self, actor: &Actor, case_id: &str) -> Result<RecoveryCase> {
        actor.authorize()?;
        self.store
            .recovery_case(case_id)
            .await?
            .ok_or(Error::NoSuchCase)
    }

    /// A case's document, unsealed, with its content type. Viewing is
    /// recorded.
    pub async fn recovery_document(
        &self,
        actor: &Actor,
        case_id: &str,
        origin: &Origin,
    ) -> Result<(String, Zeroizing<Vec<u8>>)> {
        let case = self.recovery_case(actor, case_id).await?;
        let sealed = self
            .store
            .recovery_document(case_id)
            .await?
            .ok_or(Error::NoSuchCase)?;
        let bytes = self.key.open(&sealed, &document_context(case_id))?;
        self.record_staff(
            actor,
            &case.account_id,
            EventKind::RecoveryDocumentViewed,
            origin,
            "",
        )
        .await?;
        Ok((case.content_type, bytes))
    }

    /// Approves a case: 2SV off, every method, backup code, remembered
    /// browser and session gone, lockout cleared, the owner emailed.
    pub async fn approve_recovery(
        &self,
        actor: &Actor,
        case_id: &str,
        origin: &Origin,
    ) -> Result<RecoveryCase> {
        let case = self.recovery_case(actor, case_id).await?;
        let mut writes = vec![Write::DecideRecoveryCase {
            case_id: case_id.to_owned(),
            status: CaseStatus::Approved,
            reason: String::new(),
            by: actor.name(),
            at: self.now(),
        }];
        writes.extend(self.stripped(&case.account_id));
        writes.extend(self.staff_events(
            actor,
            &case.account_id,
            EventKind::RecoveryApproved,
            origin,
            "",
        )?);
        match self.store.apply(writes).await {
            Err(Error::Conflict) => return Err(Error::CaseDecided),
            other => other?,
        }
        let account = self
            .store
            .account_by_id(&case.account_id)
            .await?
            .ok_or(Error::NoSuchAccount)?;
        self.notify(&account, Notice::RecoveryApproved, "", origin)
            .await;
        self.purge_recovery_documents().await?;
        self.recovery_case(actor, case_id).await
    }

    /// Rejects a case with a reason that is emailed to the owner.
    pub async fn reject_recovery(
        &self,
        actor: &Actor,
        case_id: &str,
        reason: &str,
        origin: &Origin,
    ) -> Result<RecoveryCase> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(Error::ReasonRequired);
        }
        let case = self.recovery_case(actor, case_id).await?;
        let account = self
            .store
            .account_by_id(&case.account_id)
            .await?
            .ok_or(Error::NoSuchAccount)?;
        let mut writes = vec![Write::DecideRecoveryCase {
            case_id: case_id.to_owned(),
            status: CaseStatus::Rejected,
            reason: reason.to_owned(),
            by: actor.name(),
            at: self.now(),
        }];
        writes.extend(self.staff_events(
            actor,
            &account.id,
            EventKind::RecoveryRejected,
            origin,
            reason,
        )?);
        match self.store.apply(writes).await {
            Err(Error::Conflict) => return Err(Error::CaseDecided),
            other => other?,
        }
        self.notify(&account, Notice::RecoveryRejected, reason, origin)
            .await;
        self.purge_recovery_documents().await?;
        self.recovery_case(actor, case_id).await
    }

    /// Deletes what has run its course: expired sessions, remembered
    /// browsers, sign-up and emailed links; sign-in attempts and their sent
    /// codes a week after they ended (the settings page lists a week of
    /// unfinished sign-ins); rate counters and password throttles after two
    /// days (the longest window is one); audit events older than
    /// `policy.audit_retention_days`; development outbox messages after a
    /// week; and recovery documents past their retention. Run hourly by
    /// every node (safe at once); how many rows of each kind.
    pub async fn purge_expired(&self) -> Result<Vec<(&'static str, u64)>> {
        const DAY: i64 = 86_400;
        let now = self.now();
        let mut done = self
            .store
            .purge(&crate::store::Purge {
                now,
                attempts_before: now - 7 * DAY,
                counters_before: now - 2 * DAY,
                events_before: now - self.policy.audit_retention_days.max(1) * DAY,
                outbox_before: now - 7 * DAY,
            })
            .await?;
        done.push(("recovery documents", self.purge_recovery_documents().await?));
        Ok(done)
    }

    /// Deletes the documents whose retention after the decision is over;
    /// how many. Run after each decision and periodically by the server.
    pub async fn purge_recovery_documents(&self) -> Result<u64> {
        let now = self.now();
        self.store
            .purge_recovery_documents(now - self.policy.recovery_retention_days * 86_400, now)
            .await
    }

    /// The writes that turn 2SV off with everything that belongs to it,
    /// end every session and clear the lockout.
    fn stripped(&self, account_id: &str) -> Vec<Write> {
        let mut writes = self.second_steps_removed(account_id);
        writes.push(Write::DeleteSessionsExcept {
            account_id: account_id.to_owned(),
            keep: None,
        });
        writes.push(Write::ResetGuard {
            account_id: account_id.to_owned(),
            password_changed: None,
        });
        writes
    }

    /// Accounts whose email contains `query`.
    pub async fn find_users(&self, actor: &Actor, query: &str) -> Result<Vec<Account>> {
        actor.authorize()?;
        self.store.search_accounts(query, 100).await
    }

    /// The account with this exact email.
    pub async fn user_by_email(&self, actor: &Actor, email: &str) -> Result<Account> {
        actor.authorize()?;
        let email = super::signin::normalize_email(email)?;
        self.store
            .account_by_email(&email)
            .await?
            .ok_or(Error::NoSuchAccount)
    }

    /// Everything staff see about one user.
    pub async fn user_file(&self, actor: &Actor, account_id: &str) -> Result<UserFile> {
        actor.authorize()?;
        let account = self
            .store
            .account_by_id(account_id)
            .await?
            .ok_or(Error::NoSuchAccount)?;
        Ok(UserFile {
            methods: self.store.methods(account_id).await?,
            backup_codes_left: self.store.backup_codes_left(account_id).await?,
            events: self.store.events(account_id, 50).await?,
            cases: self
                .store
                .recovery_cases(None, Some(account_id), 20)
                .await?,
            account,
        })
    }

    /// Clears the lockout and the abuse pause of an account.
    pub async fn unlock(&self, actor: &Actor, account_id: &str, origin: &Origin) -> Result<()> {
        let file = self.user_file(actor, account_id).await?;
        let mut writes = vec![Write::ResetGuard {
            account_id: account_id.to_owned(),
            password_changed: None,
        }];
        writes.extend(self.staff_events(actor, account_id, EventKind::Unlocked, origin, "")?);
        self.store.apply(writes).await?;
        self.notify(
            &file.account,
            Notice::StaffChange,
            "code entry unlocked",
            origin,
        )
        .await;
        Ok(())
    }

    /// Turns 2SV off for someone (as an approved recovery does).
    pub async fn force_two_sv_off(
        &self,
        actor: &Actor,
        account_id: &str,
        origin: &Origin,
    ) -> Result<()> {
        let file = self.user_file(actor, account_id).await?;
        if file.account.two_sv_on_since.is_none() {
            return Err(Error::NotOn);
        }
        let mut writes = self.stripped(account_id);
        writes.extend(self.staff_events(
            actor,
            account_id,
            EventKind::TwoSvOffByStaff,
            origin,
            "",
        )?);
        self.store.apply(writes).await?;
        let account = self
            .store
            .account_by_id(account_id)
            .await?
            .ok_or(Error::NoSuchAccount)?;
        self.notify(
            &account,
            Notice::StaffChange,
            "two-step verification turned off",
            origin,
        )
        .await;
        Ok(())
    }

    /// Replaces an account's roles (`admin`, or a role named by
    /// `policy.require_2sv.role`). Roles are lowercase words.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        account_id: &str,
        roles: &[String],
        origin: &Origin,
    ) -> Result<Vec<String>> {
        self.user_file(actor, account_id).await?;
        let mut clean: Vec<String> = roles
            .iter()
            .map(|r| r.trim().to_lowercase())
            .filter(|r| !r.is_empty())
            .collect();
        if clean.iter().any(|r| {
            r.len() > 32
                || !r
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            return Err(Error::InvalidName);
        }
        clean.sort();
        clean.dedup();
        let mut writes = vec![Write::SetRoles {
            account_id: account_id.to_owned(),
            roles: clean.clone(),
        }];
        writes.extend(self.staff_events(
            actor,
            account_id,
            EventKind::RolesChanged,
            origin,
            &clean.join(","),
        )?);
        self.store.apply(writes).await?;
        Ok(clean)
    }

    /// The audit log: every account's events, or one account's by email,
    /// optionally of one kind, newest first.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        email: Option<&str>,
        kind: Option<EventKind>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        self.events_for_staff(actor, email, kind, limit.clamp(1, 1000))
            .await
    }

    /// [`Self::audit_log`] with each event's account email, for the admin
    /// console (one query).
    pub async fn audit_log_with_emails(
        &self,
        actor: &Actor,
        email: Option<&str>,
        kind: Option<EventKind>,
        limit: i64,
    ) -> Result<Vec<(Event, Option<String>)>> {
        let filter = self
            .staff_filter(actor, email, kind, limit.clamp(1, 1000))
            .await?;
        self.store.filtered_events_with_emails(&filter).await
    }

    /// The whole audit log (or one account's, or one kind), newest first,
    /// for an export before `policy.audit_retention_days` deletes it.
    pub async fn export_audit_log(
        &self,
        actor: &Actor,
        email: Option<&str>,
        kind: Option<EventKind>,
    ) -> Result<Vec<Event>> {
        self.events_for_staff(actor, email, kind, i64::MAX).await
    }

    async fn events_for_staff(
        &self,
        actor: &Actor,
        email: Option<&str>,
        kind: Option<EventKind>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let filter = self.staff_filter(actor, email, kind, limit).await?;
        self.store.filtered_events(&filter).await
    }

    /// The audit-log filter staff asked for: an account by email (if
    /// given) and a kind (if given).
    async fn staff_filter(
        &self,
        actor: &Actor,
        email: Option<&str>,
        kind: Option<EventKind>,
        limit: i64,
    ) -> Result<EventFilter> {
        actor.authorize()?;
        let account_id = match email.map(str::trim).filter(|e| !e.is_empty()) {
            // Not an address at all: no account has it.
            Some(email) => match self.user_by_email(actor, email).await {
                Ok(account) => Some(account.id),
                Err(Error::InvalidEmail) => return Err(Error::NoSuchAccount),
                Err(e) => return Err(e),
            },
            None => None,
        };
        Ok(EventFilter {
            account_id,
            kind,
            since: None,
            limit,
        })
    }

    /// The signed-in person's own audit log (SPEC §7.3), newest first.
    pub async fn my_events(&self, account: &Account, limit: i64) -> Result<Vec<Event>> {
        self.store.events(&account.id, limit.clamp(1, 1000)).await
    }
}
