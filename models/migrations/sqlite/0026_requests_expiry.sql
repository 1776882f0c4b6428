-- The dashboard lists pending requests soonest-expiring first; this index
-- lets it read the first page in order instead of sorting every pending row.
CREATE INDEX requests_state_expires ON requests (state, expires_at, id);
