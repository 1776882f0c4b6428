-- Deep links from Mattermost (/mm/{post_id}) find requests by the root of
-- the thread they were captured from as well as by their trigger post.
CREATE INDEX requests_root_post ON requests (root_post_id);
