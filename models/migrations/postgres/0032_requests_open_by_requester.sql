-- The MCP gateway finds the request a repeated tool call resumes: the
-- agent's newest waiting or approved request for the same action. Only
-- open requests are indexed, so the index stays small.
CREATE INDEX requests_open_by_requester ON requests (requester_id, action, created_at DESC)
    WHERE state IN ('pending', 'approved');
