//! Security notices by email (SPEC §7.2): 2SV turned on or off, a method
//! added or removed, a new remembered browser, a backup code used, the
//! password changed. Each says what happened, when, from which IP and
//! browser, and what to do if it wasn't the owner. Sending is best effort:
//! a failed notice is recorded, never fails the change itself.

use super::Nidan;
use crate::model::{Account, EventKind, Origin};
use crate::store::Store;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// 2SV was turned on.
    TwoStepOn,
    /// 2SV was turned off.
    TwoStepOff,
    /// A sign-in method was added.
    MethodAdded,
    /// A sign-in method was removed.
    MethodRemoved,
    /// A browser will no longer be asked for codes.
    BrowserRemembered,
    /// A backup code was used to sign in.
    BackupCodeUsed,
    /// The password was changed.
    PasswordChanged,
    /// Repeated unfinished sign-ins: someone knows the password (§7.1).
    AbuseAlert,
    /// An identity-document recovery was requested.
    RecoveryRequested,
    /// Recovery approved: 2SV is off.
    RecoveryApproved,
    /// Recovery rejected, with the reason.
    RecoveryRejected,
    /// A password-reset link was asked for.
    PasswordResetLink,
    /// The password was reset with a link.
    PasswordReset,
    /// Staff unlocked code entry or turned 2SV off.
    StaffChange,
    /// A code that was just used was typed again: someone saw it (ASVS
    /// V2.8.5).
    CodeReplayed,
    /// Many wrong passwords for the account: someone is guessing.
    PasswordGuessing,
    /// Someone tried to sign up with the owner's address.
    SignUpAttempt,
    /// The link that finishes a sign-up.
    ConfirmSignUp,
}

/// Subject and first line, in Japanese or English.
fn words(notice: Notice, ja: bool) -> (&'static str, &'static str) {
    match (notice, ja) {
        (Notice::TwoStepOn, false) => (
            "Two-step verification is on",
            "Two-step verification was turned on for your account.",
        ),
        (Notice::TwoStepOn, true) => (
            "2段階認証が有効になりました",
            "お客様のアカウントで2段階認証が有効になりました。",
        ),
        (Notice::TwoStepOff, false) => (
            "Two-step verification is off",
            "Two-step verification was turned off for your account.",
        ),
        (Notice::TwoStepOff, true) => (
            "2段階認証が無効になりました",
            "お客様のアカウントで2段階認証が無効になりました。",
        ),
        (Notice::MethodAdded, false) => (
            "A sign-in method was added",
            "A new sign-in method was added to your account",
        ),
        (Notice::MethodAdded, true) => (
            "認証方法が追加されました",
            "お客様のアカウントに新しい認証方法が追加されました",
        ),
        (Notice::MethodRemoved, false) => (
            "A sign-in method was removed",
            "A sign-in method was removed from your account",
        ),
        (Notice::MethodRemoved, true) => (
            "認証方法が削除されました",
            "お客様のアカウントから認証方法が削除されました",
        ),
        (Notice::BrowserRemembered, false) => (
            "A browser no longer asks for codes",
            "A browser was set to skip the code when you sign in",
        ),
        (Notice::BrowserRemembered, true) => (
            "コードを要求しないブラウザが追加されました",
            "ログイン時にコードを要求しないブラウザが設定されました",
        ),
        (Notice::BackupCodeUsed, false) => (
            "A backup code was used",
            "A backup code was used to sign in to your account",
        ),
        (Notice::BackupCodeUsed, true) => (
            "バックアップコードが使用されました",
            "お客様のアカウントへのログインにバックアップコードが使用されました",
        ),
        (Notice::PasswordChanged, false) => (
            "Your password was changed",
            "The password of your account was changed.",
        ),
        (Notice::PasswordChanged, true) => (
            "パスワードが変更されました",
            "お客様のアカウントのパスワードが変更されました。",
        ),
        (Notice::AbuseAlert, false) => (
            "Someone who knows your password is trying to sign in",
            "Someone entered the right password for your account but did not finish signing in",
        ),
        (Notice::AbuseAlert, true) => (
            "パスワードを知っている第三者がログインを試みています",
            "お客様のアカウントで正しいパスワードが入力されましたが、ログインは完了していません",
        ),
        (Notice::RecoveryRequested, false) => (
            "Account recovery was requested",
            "An identity document was sent to recover your account. Reviews usually take 1–2 days",
        ),
        (Notice::RecoveryRequested, true) => (
            "アカウントの復旧が申請されました",
            "アカウント復旧のため本人確認書類が送信されました。審査には通常1～2日かかります",
        ),
        (Notice::RecoveryApproved, false) => (
            "Your account recovery was approved",
            "Two-step verification is now off. Sign in with your password and set up two-step verification again.",
        ),
        (Notice::RecoveryApproved, true) => (
            "アカウントの復旧が承認されました",
            "2段階認証を無効にしました。パスワードでログインし、もう一度2段階認証を設定してください。",
        ),
        (Notice::RecoveryRejected, false) => (
            "Your account recovery was not approved",
            "We could not approve your recovery request",
        ),
        (Notice::RecoveryRejected, true) => (
            "アカウントの復旧は承認されませんでした",
            "復旧の申請を承認できませんでした",
        ),
        (Notice::PasswordResetLink, false) => (
            "Reset your password",
            "Someone asked to reset the password of your account. If it was you, open the link below within the hour. If not, ignore this email: your password stays the same.",
        ),
        (Notice::PasswordResetLink, true) => (
            "パスワードの再設定",
            "お客様のアカウントのパスワード再設定が申請されました。ご自身による申請の場合は、1時間以内に下のリンクを開いてください。お心当たりがない場合はこのメールを無視してください。パスワードは変更されません。",
        ),
        (Notice::PasswordReset, false) => (
            "Your password was reset",
            "The password of your account was reset with an emailed link. Every session was signed out.",
        ),
        (Notice::PasswordReset, true) => (
            "パスワードが再設定されました",
            "メールのリンクからパスワードが再設定されました。すべてのセッションからログアウトしました。",
        ),
        (Notice::StaffChange, false) => (
            "Support changed your account",
            "Our support staff changed the security of your account",
        ),
        (Notice::StaffChange, true) => (
            "サポートがアカウントを変更しました",
            "サポート担当者がお客様のアカウントのセキュリティ設定を変更しました",
        ),
        (Notice::CodeReplayed, false) => (
            "A code you used was typed again",
            "A security code that was already used to sign in to your account was entered again, so someone may have seen it. It was refused",
        ),
        (Notice::CodeReplayed, true) => (
            "使用済みのコードが再入力されました",
            "お客様のアカウントで使用済みのセキュリティコードがもう一度入力されました。第三者がコードを見た可能性があります。このコードは拒否されました",
        ),
        (Notice::PasswordGuessing, false) => (
            "Someone is guessing your password",
            "Wrong passwords were entered for your account",
        ),
        (Notice::PasswordGuessing, true) => (
            "パスワードを推測する試みがあります",
            "お客様のアカウントで誤ったパスワードが入力されています",
        ),
        (Notice::SignUpAttempt, false) => (
            "Someone tried to sign up with your address",
            "Someone tried to create an account with this email address, which already has one. If it was you, sign in, or reset your password if you forgot it. If not, you can ignore this email: nothing was changed.",
        ),
        (Notice::SignUpAttempt, true) => (
            "このアドレスで新規登録が試みられました",
            "このメールアドレスで新しいアカウントの作成が試みられましたが、このアドレスのアカウントはすでにあります。ご自身による操作の場合はログインしてください。パスワードを忘れた場合は再設定できます。お心当たりがない場合はこのメールを無視してください。何も変更されていません。",
        ),
        (Notice::ConfirmSignUp, false) => (
            "Finish creating your account",
            "Open the link below within 24 hours to confirm this address and finish creating your account. If you did not sign up, ignore this email: no account is created.",
        ),
        (Notice::ConfirmSignUp, true) => (
            "アカウント作成を完了してください",
            "24時間以内に下のリンクを開いてメールアドレスを確認し、アカウントの作成を完了してください。お心当たりがない場合はこのメールを無視してください。アカウントは作成されません。",
        ),
    }
}

/// The links a notice carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Links<'a> {
    /// What to do next (a reset link, say), after the first line.
    pub action: Option<&'a str>,
    /// "This wasn't me", at the end.
    pub not_me: Option<&'a str>,
}

/// The notice's subject and body.
pub fn compose(
    notice: Notice,
    account: &Account,
    service: &str,
    detail: &str,
    links: Links<'_>,
    at: &str,
    origin: &Origin,
) -> (String, String) {
    let Links { action, not_me } = links;
    let ja = account.locale == "ja";
    let (subject, first) = words(notice, ja);
    let mut detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    if let Some(action) = action {
        detail.push_str("\n\n");
        detail.push_str(action);
    }
    // Notices that already say what to do if it wasn't the owner (a link
    // that does nothing unless used) end without the warning.
    let says_ignore = matches!(
        notice,
        Notice::ConfirmSignUp | Notice::SignUpAttempt | Notice::PasswordResetLink
    );
    let if_not_you = match (not_me, ja) {
        _ if says_ignore => String::new(),
        (Some(link), true) => format!(
            "お心当たりがない場合は、次のリンクを開いてください。すべての端末からログアウトし、記憶したブラウザを解除して、新しいパスワードを設定できます。パスワードを知っている第三者が操作している可能性があります。\n{link}"
        ),
        (Some(link), false) => format!(
            "This wasn't you? Open this link: it signs you out everywhere, forgets remembered browsers and lets you choose a new password. Someone who knows your password may be using it.\n{link}"
        ),
        (None, true) => "お心当たりがない場合は、すぐにパスワードを変更し、高度なセキュリティ設定を確認してください。パスワードを知っている第三者が操作している可能性があります。".to_owned(),
        (None, false) => "If this wasn't you, change your password now and check your Advanced Security Settings: someone who knows your password may be using it.".to_owned(),
    };
    let if_not_you = if if_not_you.is_empty() {
        if_not_you
    } else {
        format!("{if_not_you}\n\n")
    };
    let body = if ja {
        format!(
            "{first}{detail}\n\n日時: {at}\nIPアドレス: {}\nブラウザ: {}\n\n{if_not_you}{service}",
            origin.ip, origin.browser_label
        )
    } else {
        format!(
            "{first}{detail}\n\nWhen: {at}\nIP address: {}\nBrowser: {}\n\n{if_not_you}{service}",
            origin.ip, origin.browser_label
        )
    };
    (format!("[{service}] {subject}"), body)
}

impl<S: Store> Nidan<S> {
    /// Emails a notice to the account's owner; a failure is recorded as a
    /// `notice_failed` event and otherwise ignored.
    pub(crate) async fn notify(
        &self,
        account: &Account,
        notice: Notice,
        detail: &str,
        origin: &Origin,
    ) {
        self.notify_with(account, notice, detail, None, origin)
            .await;
    }

    /// [`Self::notify`] with an action line (a link) after the first line.
    pub(crate) async fn notify_with(
        &self,
        account: &Account,
        notice: Notice,
        detail: &str,
        action: Option<&str>,
        origin: &Origin,
    ) {
        // Changes someone who knows the password could make get a "This
        // wasn't me" link (§7.2); answers to the owner's own requests and
        // the abuse alert (which links to a password reset) do not.
        let not_me = match notice {
            Notice::TwoStepOn
            | Notice::TwoStepOff
            | Notice::MethodAdded
            | Notice::MethodRemoved
            | Notice::BrowserRemembered
            | Notice::BackupCodeUsed
            | Notice::PasswordChanged
            | Notice::CodeReplayed
            | Notice::RecoveryRequested => self.not_me_link(account).await,
            Notice::AbuseAlert
            | Notice::RecoveryApproved
            | Notice::RecoveryRejected
            | Notice::PasswordResetLink
            | Notice::PasswordReset
            | Notice::PasswordGuessing
            | Notice::SignUpAttempt
            | Notice::ConfirmSignUp
            | Notice::StaffChange => None,
        };
        let (subject, body) = compose(
            notice,
            account,
            &self.policy.service_name,
            detail,
            Links {
                action,
                not_me: not_me.as_deref(),
            },
            &crate::calendar::utc_datetime(self.now()),
            origin,
        );
        if let Err(e) = self
            .senders
            .email
            .send_email_boxed(&account.email, &subject, &body)
            .await
        {
            let _ = self
                .record(
                    Some(&account.id),
                    EventKind::NoticeFailed,
                    origin,
                    &format!("{subject}: {e}"),
                )
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_say_what_when_where_and_what_to_do() {
        let account = Account {
            id: "a".into(),
            email: "a@example.com".into(),
            password_hash: String::new(),
            roles: Vec::new(),
            locale: "en".into(),
            two_sv_on_since: None,
            created_at: 0,
            guard: Default::default(),
        };
        let origin = Origin {
            ip: "203.0.113.7".into(),
            user_agent: String::new(),
            browser_label: "Firefox on Linux".into(),
        };
        let (subject, body) = compose(
            Notice::MethodAdded,
            &account,
            "Shop",
            "•••-••••-5678",
            Links::default(),
            &crate::calendar::utc_datetime(1_782_777_600),
            &origin,
        );
        assert_eq!(subject, "[Shop] A sign-in method was added");
        assert!(
            body.starts_with("A new sign-in method was added to your account: •••-••••-5678\n")
        );
        assert!(body.contains("When: 2026-06-30 00:00 UTC"));
        assert!(
            body.contains("IP address: 203.0.113.7") && body.contains("Browser: Firefox on Linux")
        );
        assert!(body.contains("If this wasn't you, change your password"));
        let (_, body) = compose(
            Notice::MethodAdded,
            &account,
            "Shop",
            "Phone app",
            Links {
                action: None,
                not_me: Some("https://login.example/not-me/abc"),
            },
            "2026-06-30 00:00 UTC",
            &origin,
        );
        assert!(body.contains(
            "This wasn't you? Open this link: it signs you out everywhere, forgets remembered browsers and lets you choose a new password."
        ));
        assert!(body.contains("\nhttps://login.example/not-me/abc\n"));
    }
}
