-- A tool call Countersign's MCP gateway observed itself is marked
-- 'countersign'; calls the agent reported keep ''. Part of the content
-- hash, so approvers are bound to which calls were observed.
ALTER TABLE tool_calls ADD COLUMN observed_by TEXT NOT NULL DEFAULT '';
