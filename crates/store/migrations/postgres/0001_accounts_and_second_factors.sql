-- Accounts, sign-in methods, sessions, sign-in attempts, remembered
-- browsers, backup codes and the audit log. Times are Unix seconds.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '',
    locale TEXT NOT NULL DEFAULT 'en',
    two_sv_on_since BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE methods (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sealed BYTEA,
    last_step BIGINT,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    active BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX methods_account ON methods(account_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    password_at BIGINT NOT NULL,
    keep_signed_in BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    attempts_left BIGINT NOT NULL,
    keep_signed_in BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX challenges_account ON challenges(account_id);

CREATE TABLE remembered_browsers (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX remembered_browsers_account ON remembered_browsers(account_id);

CREATE TABLE backup_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX events_account_at ON events(account_id, at);
