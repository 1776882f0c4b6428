-- Countersign schema v1 (SQLite).
CREATE TABLE requests (
    id                 TEXT PRIMARY KEY,
    kind               TEXT NOT NULL,
    action             TEXT NOT NULL,
    params             TEXT NOT NULL DEFAULT '{}',
    purpose            TEXT NOT NULL DEFAULT '',
    requester_type     TEXT NOT NULL,
    requester_id       TEXT NOT NULL,
    requester_name     TEXT NOT NULL DEFAULT '',
    sponsor_id         TEXT NOT NULL DEFAULT '',
    sponsor_name       TEXT NOT NULL DEFAULT '',
    team_id            TEXT NOT NULL DEFAULT '',
    team_name          TEXT NOT NULL DEFAULT '',
    channel_id         TEXT NOT NULL DEFAULT '',
    channel_name       TEXT NOT NULL DEFAULT '',
    root_post_id       TEXT NOT NULL DEFAULT '',
    trigger_post_id    TEXT NOT NULL DEFAULT '',
    content_hash       TEXT NOT NULL,
    state              TEXT NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1,
    policy_ref         TEXT NOT NULL DEFAULT '',
    required_approvals INTEGER NOT NULL DEFAULT 1,
    created_at         DATETIME NOT NULL,
    updated_at         DATETIME NOT NULL,
    expires_at         DATETIME NOT NULL
);
CREATE INDEX requests_state_created ON requests (state, created_at DESC, id DESC);
CREATE INDEX requests_requester ON requests (requester_id, created_at DESC);
CREATE INDEX requests_channel ON requests (channel_id, created_at DESC);
CREATE INDEX requests_trigger_post ON requests (trigger_post_id);

CREATE TABLE conversation_posts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id        TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,
    post_id           TEXT NOT NULL,
    root_id           TEXT NOT NULL DEFAULT '',
    author_id         TEXT NOT NULL,
    author_name       TEXT NOT NULL DEFAULT '',
    author_kind       TEXT NOT NULL,
    bot_owner_id      TEXT NOT NULL DEFAULT '',
    from_webhook      BOOLEAN NOT NULL DEFAULT 0,
    override_username TEXT NOT NULL DEFAULT '',
    channel_member    BOOLEAN NOT NULL DEFAULT 1,
    message           TEXT NOT NULL DEFAULT '',
    create_at         INTEGER NOT NULL DEFAULT 0,
    edit_at           INTEGER NOT NULL DEFAULT 0,
    delete_at         INTEGER NOT NULL DEFAULT 0,
    hash              TEXT NOT NULL,
    UNIQUE (request_id, position)
);

CREATE TABLE tool_calls (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id    TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    call_id       TEXT NOT NULL,
    parent_id     TEXT NOT NULL DEFAULT '',
    tool          TEXT NOT NULL,
    input         TEXT NOT NULL DEFAULT '{}',
    output        TEXT NOT NULL DEFAULT '',
    output_digest TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    started_at    DATETIME NOT NULL,
    ended_at      DATETIME NOT NULL,
    UNIQUE (request_id, position)
);

CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id    TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    approver_id   TEXT NOT NULL,
    approver_name TEXT NOT NULL DEFAULT '',
    verdict       TEXT NOT NULL,
    comment       TEXT NOT NULL DEFAULT '',
    content_hash  TEXT NOT NULL,
    auth_time     DATETIME NOT NULL,
    acr           TEXT NOT NULL DEFAULT '',
    amr           TEXT NOT NULL DEFAULT '',
    id_token_hash TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL,
    UNIQUE (request_id, approver_id, content_hash)
);

CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY,
    at_unix_us    INTEGER NOT NULL,
    type          TEXT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_display TEXT NOT NULL DEFAULT '',
    request_id    TEXT NOT NULL DEFAULT '',
    purpose       TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL DEFAULT '',
    policy_ref    TEXT NOT NULL DEFAULT '',
    payload       TEXT NOT NULL DEFAULT '{}',
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_events_request ON audit_events (request_id, seq);

-- The chain head: one row, locked by every append so the chain stays linear.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
