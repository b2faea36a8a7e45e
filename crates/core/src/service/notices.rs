//! Security notices by email (SPEC §7.2): 2SV turned on or off, a method
//! added or removed, a new remembered browser, a backup code used, the
//! password changed. Each says what happened, when, from which IP and
//! browser, and what to do if it wasn't the owner. Sending is best effort:
//! a failed notice is recorded, never fails the change itself.

use super::Nidan;
use crate::model::{Account, Origin};
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
    }
}

/// The notice's subject and body.
pub fn compose(
    notice: Notice,
    account: &Account,
    service: &str,
    detail: &str,
    at: &str,
    origin: &Origin,
) -> (String, String) {
    let ja = account.locale == "ja";
    let (subject, first) = words(notice, ja);
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    let body = if ja {
        format!(
            "{first}{detail}\n\n日時: {at}\nIPアドレス: {}\nブラウザ: {}\n\nお心当たりがない場合は、すぐにパスワードを変更し、高度なセキュリティ設定を確認してください。パスワードを知っている第三者が操作している可能性があります。\n\n{service}",
            origin.ip, origin.browser_label
        )
    } else {
        format!(
            "{first}{detail}\n\nWhen: {at}\nIP address: {}\nBrowser: {}\n\nIf this wasn't you, change your password now and check your Advanced Security Settings: someone who knows your password may be using it.\n\n{service}",
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
        let (subject, body) = compose(
            notice,
            account,
            &self.policy.service_name,
            detail,
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
                    "notice_failed",
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
    }
}
