-- Passkeys (WebAuthn credentials) of approvers, the single-use challenges
-- the portal hands out to enroll one or to sign a decision statement, and
-- the assertion a passkey-signed decision carries. Enrollment, naming and
-- revocation are audited with the change (passkey.* events, whose payload
-- holds the public key, so a signature can be checked against the log).
CREATE TABLE passkeys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    credential_id  TEXT NOT NULL UNIQUE,
    owner_id       TEXT NOT NULL,
    owner_name     TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL,
    public_key     TEXT NOT NULL,
    aaguid         TEXT NOT NULL DEFAULT '',
    sign_count     INTEGER NOT NULL DEFAULT 0,
    created_at     DATETIME NOT NULL,
    last_used_at   DATETIME,
    revoked_at     DATETIME
);
CREATE INDEX passkeys_owner ON passkeys (owner_id, id);

CREATE TABLE passkey_challenges (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    owner_id     TEXT NOT NULL,
    request_id   TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '',
    verdict      TEXT NOT NULL DEFAULT '',
    session      TEXT NOT NULL DEFAULT '',
    issued_at    DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    used_at      DATETIME
);
CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at);

ALTER TABLE decisions ADD COLUMN passkey_credential_id TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN passkey_statement TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN passkey_authenticator_data TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN passkey_client_data_json TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN passkey_signature TEXT NOT NULL DEFAULT '';
