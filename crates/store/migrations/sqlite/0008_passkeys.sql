-- Passkeys and security keys (WebAuthn) as sign-in methods. `credential`
-- is the credential as webauthn-rs keeps it (public key, signature
-- counter, backup flags: nothing secret); `credential_id` (base64url) is
-- unique across all accounts; `sign_count` is the authenticator's counter,
-- compared and advanced in one conditional UPDATE, so a cloned key whose
-- counter went backwards is refused on every node.
ALTER TABLE methods ADD COLUMN credential TEXT;
ALTER TABLE methods ADD COLUMN credential_id TEXT;
ALTER TABLE methods ADD COLUMN sign_count BIGINT;
ALTER TABLE methods ADD COLUMN last_used_at BIGINT;
CREATE UNIQUE INDEX methods_credential_id ON methods(credential_id);

-- A WebAuthn ceremony under way: the state webauthn-rs needs to finish it
-- (the challenge it sent), taken once by a conditional UPDATE so any node
-- can finish what another began and nobody can finish it twice. A sign-in
-- ceremony belongs to its sign-in attempt and ends with it; a passwordless
-- one (`discover`) belongs to no account until the key says whose it is.
CREATE TABLE passkey_ceremonies (
    id TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    challenge_id TEXT REFERENCES challenges(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies(expires_at);
