-- Audit search (PostgreSQL).
--
-- Full text over event purposes: a stored generated tsvector column, so it
-- is computed by the INSERT that writes the event (same transaction, no
-- trigger) and for existing rows when this migration adds it. The 'simple'
-- configuration (no stemming, no stop words) and the normalisation of
-- everything but letters and digits to spaces make PostgreSQL split text
-- into the same words as the SQLite index and the query builder.
ALTER TABLE audit_events ADD COLUMN purpose_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, regexp_replace(purpose, '[^[:alnum:]]+', ' ', 'g'))) STORED;
CREATE INDEX audit_events_purpose_tsv ON audit_events USING GIN (purpose_tsv);

-- Filters, each ending in seq so "newest first" walks the index backwards.
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);
CREATE INDEX audit_events_actor_display ON audit_events (LOWER(actor_display), seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_type ON audit_events (type, seq);
CREATE INDEX audit_events_at ON audit_events (at_unix_us);
CREATE INDEX requests_sponsor ON requests (sponsor_id);
CREATE INDEX requests_channel_name_lower ON requests (LOWER(channel_name));
