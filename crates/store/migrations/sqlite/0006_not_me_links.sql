-- Emailed links share one table: `reset` sets a new password (1 hour);
-- `not_me` is the "This wasn't me" link in security notices (14 days),
-- which signs out everywhere and forgets remembered browsers. One kind of
-- link never works as the other.
ALTER TABLE password_resets ADD COLUMN purpose TEXT NOT NULL DEFAULT 'reset';
