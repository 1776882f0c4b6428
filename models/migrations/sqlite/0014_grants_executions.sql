-- Execution grants, their signing keys, executions and follow-ups (SQLite).

-- Ed25519 keys that sign grants. The newest unretired key signs; every
-- unretired key is published at /.well-known/jwks.json. Keys live in the
-- database (not a file) so that every replica signs with, publishes and can
-- re-derive tokens from the same keys, and rotation needs no coordination.
CREATE TABLE grant_keys (
    kid        TEXT PRIMARY KEY,
    seed       TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    retired_at DATETIME
);

-- One grant per approved action request. No bearer token is stored: the
-- token is re-derived from this row and its key (Ed25519 is deterministic).
-- redeemed_at is set exactly once by a compare-and-swap.
CREATE TABLE grants (
    jti                  TEXT PRIMARY KEY,
    request_id           TEXT NOT NULL UNIQUE REFERENCES requests (id) ON DELETE CASCADE,
    issuer               TEXT NOT NULL,
    audience             TEXT NOT NULL,
    action               TEXT NOT NULL,
    params_sha256        TEXT NOT NULL,
    content_hash         TEXT NOT NULL,
    approvers            TEXT NOT NULL DEFAULT '[]',
    kid                  TEXT NOT NULL REFERENCES grant_keys (kid),
    issued_at            DATETIME NOT NULL,
    expires_at           DATETIME NOT NULL,
    state                TEXT NOT NULL,
    redeemed_at          DATETIME,
    redeemed_by          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX grants_state_expires ON grants (state, expires_at);

-- What the policy said about a request when it was opened (executor, grant
-- lifetime, reminders, escalation), frozen so a policy reload does not
-- change requests in flight, plus the follow-up progress.
CREATE TABLE request_terms (
    request_id        TEXT PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    executor          TEXT NOT NULL DEFAULT '',
    grant_ttl_ms      INTEGER NOT NULL DEFAULT 0,
    roles             TEXT NOT NULL DEFAULT '[]',
    remind_ms         TEXT NOT NULL DEFAULT '[]',
    escalate_to       TEXT NOT NULL DEFAULT '[]',
    escalate_after_ms INTEGER NOT NULL DEFAULT 0,
    reminders_sent    INTEGER NOT NULL DEFAULT 0,
    escalated_at      DATETIME
);

-- The execution of an approved request: by an executor webhook (claimed by
-- one worker at a time through the lease) or reported by the agent. Kept
-- apart from tool_calls so the approved content hash never changes.
CREATE TABLE executions (
    request_id      TEXT PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    executor        TEXT NOT NULL,
    mode            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     DATETIME,
    output          TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    reported_by     TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    finished_at     DATETIME
);
CREATE INDEX executions_due ON executions (state, next_attempt_at);
