-- Audit search by person: who each event concerns, as index rows.
--
-- The search's actor filter matches the events someone performed and every
-- event of the requests they made or sponsor. Before, the request side was
-- found by probing audit_events_request once per request of the person
-- (about 950 probes for one person at 1,000,000 events) or by reading every
-- full-text candidate row; now one range of this table gives every event
-- number of a person in every capacity, and the search intersects it with
-- the full-text matches before reading any event row.
--
-- who is 'id:' || the id, or 'nm:' || LOWER(the name), so a search term is
-- looked up both as an id (exact) and as a name (case-insensitive), as
-- before. role: 1 performed the event, 2 made the request, 3 sponsors the
-- agent that made it. Rows are written by the trigger that fires in the
-- statement inserting the event, so an event and its rows commit or roll
-- back together; the request row is always written before its first event.
CREATE TABLE audit_events_people (
    who  TEXT NOT NULL,
    role INTEGER NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (who, role, seq)
) WITHOUT ROWID;

CREATE TRIGGER audit_events_people_insert AFTER INSERT ON audit_events BEGIN
    INSERT INTO audit_events_people (who, role, seq)
        SELECT 'id:' || new.actor_id, 1, new.seq WHERE new.actor_id <> ''
        UNION ALL SELECT 'nm:' || LOWER(new.actor_display), 1, new.seq WHERE new.actor_display <> ''
        UNION ALL SELECT 'id:' || requester_id, 2, new.seq FROM requests WHERE id = new.request_id AND requester_id <> ''
        UNION ALL SELECT 'nm:' || LOWER(requester_name), 2, new.seq FROM requests WHERE id = new.request_id AND requester_name <> ''
        UNION ALL SELECT 'id:' || sponsor_id, 3, new.seq FROM requests WHERE id = new.request_id AND sponsor_id <> ''
        UNION ALL SELECT 'nm:' || LOWER(sponsor_name), 3, new.seq FROM requests WHERE id = new.request_id AND sponsor_name <> '';
END;
-- Countersign never updates or deletes events; these keep the rows in step
-- if someone does it by hand (the chain verifier then reports it).
CREATE TRIGGER audit_events_people_delete AFTER DELETE ON audit_events BEGIN
    DELETE FROM audit_events_people WHERE seq = old.seq;
END;
CREATE TRIGGER audit_events_people_update AFTER UPDATE OF seq, actor_id, actor_display, request_id ON audit_events BEGIN
    DELETE FROM audit_events_people WHERE seq = old.seq;
    INSERT INTO audit_events_people (who, role, seq)
        SELECT 'id:' || new.actor_id, 1, new.seq WHERE new.actor_id <> ''
        UNION ALL SELECT 'nm:' || LOWER(new.actor_display), 1, new.seq WHERE new.actor_display <> ''
        UNION ALL SELECT 'id:' || requester_id, 2, new.seq FROM requests WHERE id = new.request_id AND requester_id <> ''
        UNION ALL SELECT 'nm:' || LOWER(requester_name), 2, new.seq FROM requests WHERE id = new.request_id AND requester_name <> ''
        UNION ALL SELECT 'id:' || sponsor_id, 3, new.seq FROM requests WHERE id = new.request_id AND sponsor_id <> ''
        UNION ALL SELECT 'nm:' || LOWER(sponsor_name), 3, new.seq FROM requests WHERE id = new.request_id AND sponsor_name <> '';
END;

-- The events already written.
INSERT INTO audit_events_people (who, role, seq)
    SELECT 'id:' || actor_id, 1, seq FROM audit_events WHERE actor_id <> ''
    UNION ALL SELECT 'nm:' || LOWER(actor_display), 1, seq FROM audit_events WHERE actor_display <> ''
    UNION ALL SELECT 'id:' || r.requester_id, 2, e.seq FROM audit_events e JOIN requests r ON r.id = e.request_id WHERE r.requester_id <> ''
    UNION ALL SELECT 'nm:' || LOWER(r.requester_name), 2, e.seq FROM audit_events e JOIN requests r ON r.id = e.request_id WHERE r.requester_name <> ''
    UNION ALL SELECT 'id:' || r.sponsor_id, 3, e.seq FROM audit_events e JOIN requests r ON r.id = e.request_id WHERE r.sponsor_id <> ''
    UNION ALL SELECT 'nm:' || LOWER(r.sponsor_name), 3, e.seq FROM audit_events e JOIN requests r ON r.id = e.request_id WHERE r.sponsor_name <> '';

-- The performer's side is in the new table; these served only the search.
DROP INDEX audit_events_actor;
DROP INDEX audit_events_actor_display;
