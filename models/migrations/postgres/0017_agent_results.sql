-- What an agent reports about the run of its own request (PostgreSQL).
--
-- An agent may report its output as JSON (output) or, when the output is
-- large or sensitive, only its digest (output_digest, e.g. sha256:<hex>);
-- started_at and ended_at are the run's times as the agent states them.
-- Webhook executions leave them empty.
ALTER TABLE executions ADD COLUMN output_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN started_at TIMESTAMPTZ;
ALTER TABLE executions ADD COLUMN ended_at TIMESTAMPTZ;
