-- When a session passed the second step (a code, a browser remembered
-- after one, or turning 2SV on in it). Forward authentication lets a
-- session through a host that requires 2SV only when this is set and not
-- older than the account's 2SV. Sessions from before this migration stay
-- NULL: their owners sign in again, with the code, to reach such a host.
ALTER TABLE sessions ADD COLUMN two_step_at BIGINT;
