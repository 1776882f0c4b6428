-- A policy rule can require that each decision on a request be signed
-- with a passkey (step_up.method: passkey) instead of an IdP step-up.
-- Stored on the request like the rule's other step-up settings, so a
-- later policy reload does not change what an open request needs.
ALTER TABLE requests ADD COLUMN step_up_passkey INTEGER NOT NULL DEFAULT 0;
