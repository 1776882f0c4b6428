-- Countersign schema v12 (SQLite): agent API keys and idempotency records.
--
-- An agent key is shown once as cs_<id>_<secret>; only the SHA-256 of the
-- secret is kept. The secret is 256 random bits, so a fast hash is enough:
-- nobody can guess a preimage, and checking a key costs microseconds.
CREATE TABLE agent_keys (
    id          TEXT PRIMARY KEY,
    agent       TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    expires_at  DATETIME NOT NULL,
    revoked_at  DATETIME,
    revoked_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX agent_keys_agent ON agent_keys (agent);

-- One row per (agent, Idempotency-Key): the request the first call made and
-- the SHA-256 of its body. Written in the transaction that creates the
-- request, so a replay finds either both or neither.
CREATE TABLE agent_idempotency (
    agent      TEXT NOT NULL,
    idem_key   TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id),
    created_at DATETIME NOT NULL,
    PRIMARY KEY (agent, idem_key)
);
