-- Phones as sign-in methods, one-time codes sent by text or call, rate
-- counters, and the development outbox.

ALTER TABLE methods ADD COLUMN phone TEXT;

-- seq orders sends made within the same second ("the last three sent").
CREATE TABLE sent_codes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    challenge_id TEXT,
    method_id TEXT NOT NULL REFERENCES methods(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX sent_codes_challenge ON sent_codes(challenge_id, sent_at);
CREATE INDEX sent_codes_method ON sent_codes(method_id, sent_at);
CREATE INDEX sent_codes_account ON sent_codes(account_id, sent_at);

CREATE TABLE counters (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);

CREATE TABLE outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
