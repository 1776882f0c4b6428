-- The roles that may decide a request, one row each, so that "requests a
-- person may decide" is an exact match on the role (an index lookup)
-- rather than a LIKE over the space-separated list kept on the request.
-- escalation marks the roles that may decide only once the request's
-- escalation time has passed.
CREATE TABLE request_roles (
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    escalation INTEGER NOT NULL,
    PRIMARY KEY (request_id, escalation, role)
);
CREATE INDEX request_roles_role ON request_roles (role, request_id);

WITH RECURSIVE split (request_id, role, rest, escalation) AS (
    SELECT id, '', approver_roles || ' ', 0 FROM requests WHERE approver_roles <> ''
    UNION ALL
    SELECT id, '', escalate_roles || ' ', 1 FROM requests WHERE escalate_roles <> ''
    UNION ALL
    SELECT request_id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1), escalation
    FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO request_roles (request_id, role, escalation)
SELECT request_id, role, escalation FROM split WHERE role <> '';
