-- Policy-driven approval rules and change windows (postgres).
--
-- The rule that matched a request decides who may approve it and how
-- strong their step-up must be; those settings are stored on the request,
-- so a later policy reload does not change what an open request needs.
-- Empty lists and zero durations mean the configured defaults. Lists are
-- space-separated words; durations are nanoseconds (remind: Go durations).
ALTER TABLE requests ADD COLUMN approver_roles TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN step_up_max_age_ns BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN step_up_acr TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN grant_ttl_ns BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN escalate_roles TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN escalate_after_ns BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN remind TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN policy_window TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN policy_explanation TEXT NOT NULL DEFAULT '';

-- Change windows. A window is opened by approving a window request (kind
-- 'window'); it is open while closes_at is in the future and closed_at is
-- unset. One window per request: approving twice cannot open two.
CREATE TABLE windows (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    opened_by      TEXT NOT NULL,
    opened_by_name TEXT NOT NULL DEFAULT '',
    purpose        TEXT NOT NULL DEFAULT '',
    opened_at      TIMESTAMPTZ NOT NULL,
    closes_at      TIMESTAMPTZ NOT NULL,
    closed_at      TIMESTAMPTZ NULL,
    closed_by      TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX windows_request ON windows (request_id);
CREATE INDEX windows_name_closes ON windows (name, closes_at);
CREATE INDEX windows_closes ON windows (closes_at);
