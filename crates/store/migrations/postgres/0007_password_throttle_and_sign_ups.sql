-- Password guessing is throttled per address tried and client IP (issue
-- 13): consecutive wrong passwords and when the next check may run. The
-- key is a hash of the address and the IP, so unknown addresses are
-- throttled exactly like known ones. A right password deletes the row.
CREATE TABLE password_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    retry_at BIGINT,
    updated_at BIGINT NOT NULL
);

-- Sign-ups waiting for their address to be confirmed by an emailed link:
-- the answer to a sign-up is the same whether the address has an account
-- or not, and the account exists only once the link is opened.
CREATE TABLE sign_ups (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    locale TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX sign_ups_expires ON sign_ups(expires_at);
