-- What a capture learned beyond the hashed content: the username of a bot
-- author's owner (shown instead of an id, not part of the content hash),
-- and the capture's warnings (a bot owner the bot may not read…), one per
-- line, shown on the request page.
ALTER TABLE conversation_posts ADD COLUMN bot_owner_name TEXT NOT NULL DEFAULT '';
ALTER TABLE later_posts ADD COLUMN bot_owner_name TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN capture_warnings TEXT NOT NULL DEFAULT '';
