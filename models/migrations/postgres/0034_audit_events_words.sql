-- Audit search by person and purpose words in one index lookup (PostgreSQL).
--
-- A search for a person and purpose words used to intersect the person's
-- event numbers (audit_events_people) with every event whose purpose has
-- the words, and reading those numbers meant visiting each candidate's
-- audit_events row (about 2,000 rows on 600 pages for two common words at
-- 1,000,000 events). audit_events_words holds, per event, the purpose's
-- words and one token per person the event concerns, in one tsvector with
-- one GIN index: the index intersects the words and the person by itself,
-- and only the events in both are read.
--
-- A person token is '~' || role || the first 32 hex digits of the SHA-256
-- of audit_events_people.who ('id:…' or 'nm:' || LOWER(name)): fixed size
-- whatever the name, and never equal to or a prefix-match of a purpose
-- word, which holds letters and digits only.
-- No event may be written while this runs: a replica still serving would
-- write events through the old trigger (no words row) after the backfill
-- has read the table. Appends wait for the migration instead.
LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE;

CREATE OR REPLACE FUNCTION audit_who_token(role SMALLINT, who TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT '~' || role::text || left(encode(sha256(convert_to(who, 'UTF8')), 'hex'), 32) $$;

-- audit_people_query is the tsquery matching the events of the person
-- named actor (an id, or a name in any case) in role (1 performed, 2 made
-- the request, 3 sponsors the agent; 0 any of them).
CREATE OR REPLACE FUNCTION audit_people_query(actor TEXT, role SMALLINT) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT string_agg(quote_literal(audit_who_token(r::smallint, w)), ' | ')::tsquery
    FROM (VALUES (1), (2), (3)) AS roles(r)
        CROSS JOIN (VALUES ('id:' || actor), ('nm:' || LOWER(actor))) AS whos(w)
    WHERE role = 0 OR r = role
    $$;

-- audit_purpose_words are the words of a purpose as the search matches
-- them (as audit_events.purpose_tsv of 0011 had them).
CREATE OR REPLACE FUNCTION audit_purpose_words(purpose TEXT) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_tsvector('simple'::regconfig, regexp_replace(purpose, '[^[:alnum:]]+', ' ', 'g')) $$;

CREATE TABLE audit_events_words (
    seq   BIGINT PRIMARY KEY,
    words tsvector NOT NULL
);

-- The statement trigger of 0033 now writes both tables from one reading
-- of the new events and their requests.
CREATE OR REPLACE FUNCTION audit_events_people_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH people AS (
        SELECT v.who, v.role::smallint AS role, n.seq FROM new_rows n
            CROSS JOIN LATERAL (VALUES ('id:' || n.actor_id, 1, n.actor_id), ('nm:' || LOWER(n.actor_display), 1, n.actor_display)) AS v(who, role, src)
        WHERE v.src <> ''
        UNION ALL
        SELECT v.who, v.role::smallint, n.seq FROM new_rows n JOIN requests r ON r.id = n.request_id
            CROSS JOIN LATERAL (VALUES ('id:' || r.requester_id, 2, r.requester_id), ('nm:' || LOWER(r.requester_name), 2, r.requester_name),
                                       ('id:' || r.sponsor_id, 3, r.sponsor_id), ('nm:' || LOWER(r.sponsor_name), 3, r.sponsor_name)) AS v(who, role, src)
        WHERE v.src <> ''
    ), added AS (
        INSERT INTO audit_events_people (who, role, seq) SELECT who, role, seq FROM people
    )
    INSERT INTO audit_events_words (seq, words)
        SELECT n.seq, audit_purpose_words(n.purpose) || COALESCE(array_to_tsvector(t.tokens), ''::tsvector)
        FROM new_rows n
            LEFT JOIN (SELECT seq, array_agg(DISTINCT audit_who_token(role, who)) AS tokens FROM people GROUP BY seq) t ON t.seq = n.seq;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audit_events_people_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM audit_events_people p USING old_rows o WHERE p.seq = o.seq;
    DELETE FROM audit_events_words w USING old_rows o WHERE w.seq = o.seq;
    RETURN NULL;
END $$;

-- The events already written.
INSERT INTO audit_events_words (seq, words)
    SELECT e.seq, audit_purpose_words(e.purpose) || COALESCE(array_to_tsvector(t.tokens), ''::tsvector)
    FROM audit_events e
        LEFT JOIN (SELECT seq, array_agg(DISTINCT audit_who_token(role, who)) AS tokens FROM audit_events_people GROUP BY seq) t ON t.seq = e.seq;

CREATE INDEX audit_events_words_gin ON audit_events_words USING GIN (words);

-- Searches by words alone use the new index too: the generated column of
-- 0011 and its index are no longer read (dropping the column drops both,
-- and an event insert no longer computes it).
ALTER TABLE audit_events DROP COLUMN IF EXISTS purpose_tsv;
