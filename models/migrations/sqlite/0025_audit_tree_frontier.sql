-- The Merkle tree's state, kept as the log grows, so the integrity page and
-- a restart read one row instead of every event (SQLite).
--
-- One row: the compact range [0, size) of the RFC 6962 tree over the audit
-- events (the roots of the perfect subtrees on the right edge, one per set
-- bit of size; hex hashes left to right, concatenated, as in
-- audit_checkpoints.compact). Writers move it forward with a compare-and-swap
-- on size, so replicas extending it at once never step back or interleave.
-- Checks that must not trust it (audit verify, the integrity page's
-- background pass) recompute it from the events and compare.
CREATE TABLE audit_tree_frontier (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    size    INTEGER NOT NULL,
    compact TEXT NOT NULL
);
INSERT INTO audit_tree_frontier (id, size, compact) VALUES (1, 0, '');

-- An existing log starts from its latest checkpoint's compact range, which
-- the checkpointer verified against the signed root before storing it, so
-- the upgrade reads no events.
UPDATE audit_tree_frontier
   SET size = (SELECT size FROM audit_checkpoints WHERE compact <> '' ORDER BY size DESC LIMIT 1),
       compact = (SELECT compact FROM audit_checkpoints WHERE compact <> '' ORDER BY size DESC LIMIT 1)
 WHERE id = 1 AND EXISTS (SELECT 1 FROM audit_checkpoints WHERE compact <> '');
