-- Audit search by person: who each event concerns, as index rows.
--
-- The search's actor filter matches the events someone performed and every
-- event of the requests they made or sponsor. Before, the request side was
-- found by probing audit_events_request once per request of the person
-- (about 950 probes for one person at 1,000,000 events); now one range of
-- this table gives every event number of a person in every capacity, and
-- the search intersects it with the full-text matches before reading any
-- event row.
--
-- who is 'id:' || the id, or 'nm:' || LOWER(the name), so a search term is
-- looked up both as an id (exact) and as a name (case-insensitive), as
-- before. role: 1 performed the event, 2 made the request, 3 sponsors the
-- agent that made it. Rows are written by a statement trigger in the
-- statement inserting the events (one INSERT for a whole multi-row append),
-- so events and their rows commit or roll back together; the request row
-- is always written before its first event.
CREATE TABLE audit_events_people (
    who  TEXT NOT NULL,
    role SMALLINT NOT NULL,
    seq  BIGINT NOT NULL,
    PRIMARY KEY (who, role, seq)
);

CREATE FUNCTION audit_events_people_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_events_people (who, role, seq)
        SELECT v.who, v.role, n.seq FROM new_rows n
            CROSS JOIN LATERAL (VALUES ('id:' || n.actor_id, 1, n.actor_id), ('nm:' || LOWER(n.actor_display), 1, n.actor_display)) AS v(who, role, src)
        WHERE v.src <> ''
        UNION ALL
        SELECT v.who, v.role, n.seq FROM new_rows n JOIN requests r ON r.id = n.request_id
            CROSS JOIN LATERAL (VALUES ('id:' || r.requester_id, 2, r.requester_id), ('nm:' || LOWER(r.requester_name), 2, r.requester_name),
                                       ('id:' || r.sponsor_id, 3, r.sponsor_id), ('nm:' || LOWER(r.sponsor_name), 3, r.sponsor_name)) AS v(who, role, src)
        WHERE v.src <> '';
    RETURN NULL;
END $$;

-- Countersign never updates or deletes events; this keeps the rows in step
-- if someone does it by hand (the chain verifier then reports it).
CREATE FUNCTION audit_events_people_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM audit_events_people p USING old_rows o WHERE p.seq = o.seq;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_events_people_insert AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_events_people_add();
CREATE TRIGGER audit_events_people_delete AFTER DELETE ON audit_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_events_people_drop();
CREATE TRIGGER audit_events_people_update_1_drop AFTER UPDATE ON audit_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_events_people_drop();
CREATE TRIGGER audit_events_people_update_2_add AFTER UPDATE ON audit_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_events_people_add();

-- The events already written.
INSERT INTO audit_events_people (who, role, seq)
    SELECT v.who, v.role, e.seq FROM audit_events e
        CROSS JOIN LATERAL (VALUES ('id:' || e.actor_id, 1, e.actor_id), ('nm:' || LOWER(e.actor_display), 1, e.actor_display)) AS v(who, role, src)
    WHERE v.src <> ''
    UNION ALL
    SELECT v.who, v.role, e.seq FROM audit_events e JOIN requests r ON r.id = e.request_id
        CROSS JOIN LATERAL (VALUES ('id:' || r.requester_id, 2, r.requester_id), ('nm:' || LOWER(r.requester_name), 2, r.requester_name),
                                   ('id:' || r.sponsor_id, 3, r.sponsor_id), ('nm:' || LOWER(r.sponsor_name), 3, r.sponsor_name)) AS v(who, role, src)
    WHERE v.src <> '';

-- The performer's side is in the new table; these served only the search.
DROP INDEX audit_events_actor;
DROP INDEX audit_events_actor_display;
