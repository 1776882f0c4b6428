-- Countersign schema v2 (SQLite): server-side browser sessions.
--
-- The browser's cookie holds a random 32-byte id; only its SHA-256 is kept
-- here, so a copy of this table cannot be replayed as cookies. Everything
-- else a session needs (who signed in, the CSRF token, a sign-in or step-up
-- in progress) lives in the row, never in the cookie.
CREATE TABLE sessions (
    id_hash             TEXT PRIMARY KEY,
    csrf_token          TEXT NOT NULL,
    -- The signed-in user as JSON; '' before sign-in.
    user_data           TEXT NOT NULL DEFAULT '',
    -- The user's IdP subject, so every session of one person can be found.
    subject             TEXT NOT NULL DEFAULT '',
    -- The raw ID token of the latest sign-in, only for id_token_hint at logout.
    id_token            TEXT NOT NULL DEFAULT '',
    -- A sign-in in progress (state, nonce, PKCE verifier) and a decision
    -- waiting for its step-up, as JSON; both are taken exactly once.
    login_pending       TEXT NOT NULL DEFAULT '',
    decision_pending    TEXT NOT NULL DEFAULT '',
    created_at          DATETIME NOT NULL,
    last_seen_at        DATETIME NOT NULL,
    -- expires_at is the earlier of the idle and the absolute deadline.
    expires_at          DATETIME NOT NULL,
    absolute_expires_at DATETIME NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_subject ON sessions (subject);
