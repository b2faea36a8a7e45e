//! Identity-document recovery (SPEC §6.2–§6.3), seed 003's last resort:
//! someone who passed the password but can use no method sends a photo
//! or scan of an identity document. Its type is decided by its content,
//! never its name; it is sealed with the master key and waits in a review
//! queue, one open case per account (a unique index, so on every node).
//! Staff decide in [`super::admin`].

use super::Nidan;
use super::notices::Notice;
use crate::error::{Error, Result};
use crate::model::{CaseStatus, DocumentKind, EventKind, Origin, RecoveryCase};
use crate::secrets::new_id;
use crate::store::Store;

/// The content type of an identity document, from its first bytes:
/// JPEG, PNG or PDF. Anything else is refused with what it looks like.
pub fn sniff_document(bytes: &[u8]) -> Result<&'static str> {
    if bytes.is_empty() {
        return Err(Error::DocumentEmpty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok("image/jpeg");
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok("image/png");
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok("application/pdf");
    }
    let found = if bytes.starts_with(b"MZ") || bytes.starts_with(b"\x7fELF") {
        "it is a program"
    } else if bytes.starts_with(b"#!") {
        "it is a script"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "it is a ZIP archive or an Office document"
    } else if bytes.starts_with(b"GIF8") {
        "it is a GIF image"
    } else if bytes.get(4..12).is_some_and(|b| b.starts_with(b"ftyphei")) {
        "it is a HEIC photo; save it as JPEG"
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        "it is a WebP image"
    } else if looks_like_text(bytes) {
        "it is text"
    } else {
        "its content is not recognised"
    };
    Err(Error::DocumentType { found })
}

/// Whether the first 512 bytes are UTF-8 (a character cut at the end is fine).
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = bytes.get(..512).unwrap_or(bytes);
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The associated data a document is sealed under.
pub(crate) fn document_context(case_id: &str) -> String {
    format!("recovery-document:{case_id}")
}

impl<S: Store> Nidan<S> {
    /// Opens a recovery case for the sign-in attempt `challenge_token`
    /// with the document `bytes` of kind `kind` (a [`DocumentKind`] name).
    pub async fn request_recovery(
        &self,
        challenge_token: &str,
        kind: &str,
        bytes: &[u8],
        origin: &Origin,
    ) -> Result<RecoveryCase> {
        let challenge = self.open_challenge(challenge_token).await?;
        let document_kind = DocumentKind::parse(kind).ok_or(Error::DocumentKind)?;
        if bytes.len() > self.policy.recovery_max_bytes {
            return Err(Error::DocumentTooLarge {
                max_mb: self.policy.recovery_max_bytes / (1024 * 1024),
            });
        }
        let content_type = sniff_document(bytes)?;
        let account = self
            .store
            .account_by_id(&challenge.account_id)
            .await?
            .ok_or(Error::ChallengeExpired)?;
        let case = RecoveryCase {
            id: new_id()?,
            account_id: account.id.clone(),
            email: account.email.clone(),
            document_kind,
            content_type: content_type.to_owned(),
            document_size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            status: CaseStatus::Open,
            reason: String::new(),
            ip: origin.ip.clone(),
            browser: origin.browser_label.clone(),
            created_at: self.now(),
            decided_at: None,
            decided_by: None,
            document_deleted_at: None,
        };
        let sealed = self.key.seal(bytes, &document_context(&case.id))?;
        if !self.store.insert_recovery_case(&case, &sealed).await? {
            return Err(Error::RecoveryAlreadyOpen);
        }
        self.record(
            Some(&account.id),
            EventKind::RecoveryRequested,
            origin,
            document_kind.as_str(),
        )
        .await?;
        let action = if account.locale == "ja" {
            format!(
                "お心当たりがない場合は、パスワードを知っている第三者による申請です。今すぐパスワードを変更してください: {}",
                self.link("/password/forgot")
            )
        } else {
            format!(
                "If this wasn't you, someone knows your password: change it now: {}",
                self.link("/password/forgot")
            )
        };
        self.notify_with(
            &account,
            Notice::RecoveryRequested,
            "",
            Some(&action),
            origin,
        )
        .await;
        Ok(case)
    }

    /// The open recovery case of the account behind a sign-in attempt, if
    /// any (the code page says a review is under way).
    pub async fn pending_recovery(&self, challenge_token: &str) -> Result<Option<RecoveryCase>> {
        let challenge = self.open_challenge(challenge_token).await?;
        Ok(self
            .store
            .recovery_cases(Some(CaseStatus::Open), Some(&challenge.account_id), 1)
            .await?
            .into_iter()
            .next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_typed_by_content() {
        assert_eq!(
            sniff_document(b"\xFF\xD8\xFF\xE0rest").unwrap(),
            "image/jpeg"
        );
        assert_eq!(
            sniff_document(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap(),
            "image/png"
        );
        assert_eq!(sniff_document(b"%PDF-1.7\n").unwrap(), "application/pdf");
        let found = |b: &[u8]| match sniff_document(b) {
            Err(Error::DocumentType { found }) => found,
            other => panic!("{other:?}"),
        };
        assert_eq!(found(b"MZ\x90\0\x03"), "it is a program");
        assert_eq!(found(b"\x7fELF\x02\x01"), "it is a program");
        assert_eq!(
            found(b"PK\x03\x04"),
            "it is a ZIP archive or an Office document"
        );
        assert_eq!(
            found(b"\0\0\0\x18ftypheic"),
            "it is a HEIC photo; save it as JPEG"
        );
        assert_eq!(found(b"hello"), "it is text");
        assert_eq!(found(b"\x00\xff\xfe\x80"), "its content is not recognised");
        assert!(matches!(sniff_document(b""), Err(Error::DocumentEmpty)));
    }
}
