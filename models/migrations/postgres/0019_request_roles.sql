-- The roles that may decide a request, one row each, so that "requests a
-- person may decide" is an exact match on the role (an index lookup)
-- rather than a LIKE over the space-separated list kept on the request.
-- escalation marks the roles that may decide only once the request's
-- escalation time has passed.
CREATE TABLE request_roles (
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    escalation BOOLEAN NOT NULL,
    PRIMARY KEY (request_id, escalation, role)
);
CREATE INDEX request_roles_role ON request_roles (role, request_id);

INSERT INTO request_roles (request_id, role, escalation)
SELECT id, r, FALSE FROM requests, regexp_split_to_table(approver_roles, ' +') AS r WHERE r <> ''
UNION
SELECT id, r, TRUE FROM requests, regexp_split_to_table(escalate_roles, ' +') AS r WHERE r <> '';
