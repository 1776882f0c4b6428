-- Messages back into Mattermost and conversation re-checks (PostgreSQL).
--
-- outbox_messages is the queue of chat work written in the same transaction
-- as the change that caused it, and drained after commit by workers (any
-- number of replicas): a worker claims a row by compare-and-swap on its
-- lease, so one row is handled by one worker at a time. Rows of one lane
-- (a request's thread, or one person's DMs about a request) are delivered
-- in id order: a row is due only when no earlier row of its lane is still
-- pending. Times are microseconds since the epoch so both databases
-- compare them the same way.
CREATE TABLE outbox_messages (
    id              BIGSERIAL PRIMARY KEY,
    request_id      TEXT NOT NULL,
    lane            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL DEFAULT '{}',
    -- idem_key is generated when the row is written; it is the post's
    -- pending_post_id and a prop on the post, so a create retried after a
    -- crash finds the post it already made instead of posting twice.
    idem_key        TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_us BIGINT NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until_us  BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    post_id         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX outbox_messages_due ON outbox_messages (state, next_attempt_us, id);
CREATE INDEX outbox_messages_lane ON outbox_messages (lane, state, id);
CREATE INDEX outbox_messages_request ON outbox_messages (request_id, id);

-- The one message Countersign keeps per request in chat, updated in place.
-- post_id is empty until the post exists. Button clicks must name this
-- post; captures and re-checks leave Countersign's posts out.
CREATE TABLE request_chat_posts (
    request_id TEXT PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    post_id    TEXT NOT NULL DEFAULT '',
    channel_id TEXT NOT NULL DEFAULT '',
    root_id    TEXT NOT NULL DEFAULT '',
    idem_key   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX request_chat_posts_post ON request_chat_posts (post_id);

-- Captured posts found edited or deleted when the conversation was read
-- again at decision time: the text and hash as approved before, and as it
-- reads now (empty and deleted = 1 when the post is gone).
CREATE TABLE post_revisions (
    id           BIGSERIAL PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    post_id      TEXT NOT NULL,
    old_message  TEXT NOT NULL DEFAULT '',
    old_hash     TEXT NOT NULL,
    new_message  TEXT NOT NULL DEFAULT '',
    new_hash     TEXT NOT NULL DEFAULT '',
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,
    old_content_hash TEXT NOT NULL,
    new_content_hash TEXT NOT NULL,
    detected_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX post_revisions_request ON post_revisions (request_id, id);

-- Posts written in the conversation after it was captured: shown as later
-- discussion, outside the approved content (not hashed into it).
CREATE TABLE later_posts (
    id                BIGSERIAL PRIMARY KEY,
    request_id        TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    post_id           TEXT NOT NULL,
    root_id           TEXT NOT NULL DEFAULT '',
    author_id         TEXT NOT NULL,
    author_name       TEXT NOT NULL DEFAULT '',
    author_kind       TEXT NOT NULL,
    bot_owner_id      TEXT NOT NULL DEFAULT '',
    from_webhook      BOOLEAN NOT NULL DEFAULT FALSE,
    override_username TEXT NOT NULL DEFAULT '',
    channel_member    BOOLEAN NOT NULL DEFAULT TRUE,
    message           TEXT NOT NULL DEFAULT '',
    create_at         BIGINT NOT NULL DEFAULT 0,
    edit_at           BIGINT NOT NULL DEFAULT 0,
    hash              TEXT NOT NULL,
    recorded_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (request_id, post_id)
);
