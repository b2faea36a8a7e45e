//! Backup codes: ten one-time codes shown once when two-step
//! verification is turned on, and made anew on request. Only keyed hashes
//! are stored; a code is spent on the counted path in
//! [`super::super::factor`].

use zeroize::Zeroizing;

use super::super::Nidan;
use crate::error::{Error, Result};
use crate::model::{Account, EventKind, Origin};
use crate::secrets::{new_backup_code, normalize_backup_code};
use crate::store::{Store, Write};

impl<S: Store> Nidan<S> {
    /// Keys the backup-code hashes stored before they were keyed (see
    /// [`crate::secrets::MasterKey::backup_code_hash`]); run at start, on
    /// every node (each row is rewritten once, by whichever gets there).
    /// How many were rewritten.
    pub async fn key_stored_backup_codes(&self) -> Result<usize> {
        let mut done = 0;
        loop {
            let legacy = self.store.legacy_backup_code_hashes(500).await?;
            if legacy.is_empty() {
                return Ok(done);
            }
            for (account_id, old) in legacy {
                let new = self.key.keyed_backup_code_hash(&old);
                self.store
                    .rehash_backup_code(&account_id, &old, &new)
                    .await?;
                done += 1;
            }
        }
    }

    /// A fresh set of backup codes: the codes to show once, and the hashes
    /// to store.
    pub(crate) fn new_backup_codes(
        &self,
        account: &Account,
    ) -> Result<(Vec<Zeroizing<String>>, Vec<String>)> {
        let mut codes = Vec::with_capacity(self.policy.backup_code_count);
        let mut hashes = Vec::with_capacity(self.policy.backup_code_count);
        for _ in 0..self.policy.backup_code_count {
            let code = new_backup_code()?;
            let normalized = normalize_backup_code(&code)
                .ok_or_else(|| Error::Crypto("backup code alphabet".into()))?;
            hashes.push(self.key.backup_code_hash(&account.id, &normalized));
            codes.push(code);
        }
        Ok((codes, hashes))
    }

    /// New backup codes, shown once; the old ones stop working.
    pub async fn regenerate_backup_codes(
        &self,
        account: &Account,
        origin: &Origin,
    ) -> Result<Vec<Zeroizing<String>>> {
        if account.two_sv_on_since.is_none() {
            return Err(Error::NotOn);
        }
        let (codes, hashes) = self.new_backup_codes(account)?;
        self.store
            .apply(vec![
                Write::ReplaceBackupCodes {
                    account_id: account.id.clone(),
                    hashes,
                    at: self.now(),
                },
                self.event(
                    Some(&account.id),
                    EventKind::BackupCodesRegenerated,
                    origin,
                    "",
                )?,
            ])
            .await?;
        Ok(codes)
    }
}
