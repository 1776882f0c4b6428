-- Audit search (SQLite).
--
-- Full text over event purposes: an FTS5 index whose content is
-- audit_events itself (external content, so the text is stored once),
-- kept in step by triggers. A trigger runs inside the statement that fires
-- it, so an event and its index entry commit or roll back together. Events
-- are never updated or deleted by Countersign; the update and delete
-- triggers keep the index consistent even if someone does it by hand (the
-- chain verifier then reports the tampering).
CREATE VIRTUAL TABLE audit_search USING fts5(
    purpose,
    content = 'audit_events',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER audit_events_search_insert AFTER INSERT ON audit_events BEGIN
    INSERT INTO audit_search (rowid, purpose) VALUES (new.seq, new.purpose);
END;
CREATE TRIGGER audit_events_search_delete AFTER DELETE ON audit_events BEGIN
    INSERT INTO audit_search (audit_search, rowid, purpose) VALUES ('delete', old.seq, old.purpose);
END;
CREATE TRIGGER audit_events_search_update AFTER UPDATE ON audit_events BEGIN
    INSERT INTO audit_search (audit_search, rowid, purpose) VALUES ('delete', old.seq, old.purpose);
    INSERT INTO audit_search (rowid, purpose) VALUES (new.seq, new.purpose);
END;
-- Backfill the events written before this migration.
INSERT INTO audit_search (audit_search) VALUES ('rebuild');

-- Filters, each ending in seq so "newest first" walks the index backwards.
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);
CREATE INDEX audit_events_actor_display ON audit_events (LOWER(actor_display), seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_type ON audit_events (type, seq);
CREATE INDEX audit_events_at ON audit_events (at_unix_us);
CREATE INDEX requests_sponsor ON requests (sponsor_id);
CREATE INDEX requests_channel_name_lower ON requests (LOWER(channel_name));
