-- Mentions of the bot seen on Mattermost's WebSocket. Every replica sees
-- every event, and a reconnect reads back what it may have missed: the
-- replica that inserts (or takes over an expired lease on) a mention's row
-- is the one that answers it, once. done marks a mention answered.
CREATE TABLE chat_mentions (
    post_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until_us BIGINT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    request_id TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
