-- Deep links from Mattermost (/mm/{post_id}) find a request from any post
-- Countersign knows about it: the trigger and the root (indexed before),
-- the captured posts, later discussion, and its own messages (the request
-- message is indexed in request_chat_posts; replies, DMs and follow-ups
-- are outbox rows that record the post they created).
CREATE INDEX conversation_posts_post ON conversation_posts (post_id);
CREATE INDEX later_posts_post ON later_posts (post_id);
CREATE INDEX outbox_messages_post ON outbox_messages (post_id);
