-- One row the readiness probe rewrites: a write that must commit for the
-- store to report ready (a read-only file or a full disk fails it).
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY,
    at_unix_us INTEGER NOT NULL
);
