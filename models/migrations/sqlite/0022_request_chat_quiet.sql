-- A request recorded without a word in chat: the demo's seeded requests,
-- which name people and channels that may exist on a real Mattermost the
-- demo is connected to. No change of such a request queues a message.
ALTER TABLE requests ADD COLUMN chat_quiet INTEGER NOT NULL DEFAULT 0;
