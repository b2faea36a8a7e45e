-- Lockout and abuse state on accounts, where sign-in attempts came from,
-- identity-document recovery cases, and password-reset links.

-- Consecutive wrong codes across sign-in attempts (SPEC §4.5), the
-- earliest time the next code may be checked (the slow-down), and the
-- abuse state of §7.1. password_changed_at starts the abuse count afresh.
ALTER TABLE accounts ADD COLUMN code_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN code_retry_at BIGINT;
ALTER TABLE accounts ADD COLUMN codes_paused_at BIGINT;
ALTER TABLE accounts ADD COLUMN abuse_alerted_at BIGINT;
ALTER TABLE accounts ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0;

ALTER TABLE challenges ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE challenges ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE challenges ADD COLUMN browser TEXT NOT NULL DEFAULT '';
CREATE INDEX challenges_account_created ON challenges(account_id, created_at);

-- The document is sealed with the master key (the case id as associated
-- data) and set to NULL once the retention after the decision is over.
CREATE TABLE recovery_cases (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    document_kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    document_size BIGINT NOT NULL,
    document_sealed BYTEA,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL,
    browser TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    document_deleted_at BIGINT
);
-- One open case per account, enforced by the database on every node.
CREATE UNIQUE INDEX recovery_cases_one_open ON recovery_cases(account_id) WHERE status = 'open';
CREATE INDEX recovery_cases_status ON recovery_cases(status, created_at);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE INDEX events_at ON events(at);
CREATE INDEX events_kind_at ON events(kind, at);
