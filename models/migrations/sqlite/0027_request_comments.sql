-- Comments on a request from the portal: a question or a remark that is
-- not a decision. Written with its audit event (request.comment) in one
-- transaction; shown on the request page in the order written.
CREATE TABLE request_comments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    author_type TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    created_at  DATETIME NOT NULL
);
CREATE INDEX request_comments_request ON request_comments (request_id, id);
