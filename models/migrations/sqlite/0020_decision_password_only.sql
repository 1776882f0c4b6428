-- A decision whose step-up rule asked for no authentication class (acr)
-- and no method (amr) proves only that the person re-entered a password:
-- the portal runs so only when step_up.password_only says it may, and
-- every such decision says so wherever it is shown.
ALTER TABLE decisions ADD COLUMN password_only INTEGER NOT NULL DEFAULT 0;
