//! Recovery cases and their documents.

use std::future::Future;

use crate::error::Result;
use crate::model::{CaseStatus, RecoveryCase};

/// Recovery cases and their documents.
pub trait Recovery: Send + Sync + 'static {
    /// Opens a recovery case with its sealed document. `Ok(false)` if the
    /// account already has an open case.
    fn insert_recovery_case(
        &self,
        case: &RecoveryCase,
        sealed: &[u8],
    ) -> impl Future<Output = Result<bool>> + Send;
    /// One case.
    fn recovery_case(
        &self,
        case_id: &str,
    ) -> impl Future<Output = Result<Option<RecoveryCase>>> + Send;
    /// Cases with this status (all when `None`), oldest first for open
    /// cases, newest first otherwise.
    fn recovery_cases(
        &self,
        status: Option<CaseStatus>,
        account_id: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecoveryCase>>> + Send;
    /// A case's sealed document, if not deleted.
    fn recovery_document(
        &self,
        case_id: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    /// Atomically decides an open case. `Ok(false)` if it was not open.
    fn decide_recovery_case(
        &self,
        case_id: &str,
        status: CaseStatus,
        reason: &str,
        by: &str,
        at: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Deletes the documents of cases decided before `decided_before`;
    /// returns how many.
    fn purge_recovery_documents(
        &self,
        decided_before: i64,
        at: i64,
    ) -> impl Future<Output = Result<u64>> + Send;
}
