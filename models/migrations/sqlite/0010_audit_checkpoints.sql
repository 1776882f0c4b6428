-- Signed checkpoints of the audit log (SQLite).
--
-- Each row is a signed note (C2SP tlog-checkpoint: origin, size, base64 RFC
-- 6962 root) plus what the next checkpoint needs to continue without
-- rereading the log: the chain head hash at that size and the compact range
-- [0, size) (hex hashes left to right, concatenated). One checkpoint per
-- size: processes racing to sign the same head insert with ON CONFLICT DO
-- NOTHING and all return the stored row.
CREATE TABLE audit_checkpoints (
    size       INTEGER PRIMARY KEY,
    root_hash  TEXT NOT NULL,
    head_hash  TEXT NOT NULL,
    compact    TEXT NOT NULL DEFAULT '',
    note       TEXT NOT NULL,
    created_at DATETIME NOT NULL
);

-- Perfect Merkle subtrees of 256 leaves and more (level >= 8), written by
-- the checkpointer, so inclusion and consistency proofs read a few rows
-- instead of the whole log. A node never changes once complete; proofs are
-- checked against signed roots, so a wrong row makes a proof fail, never
-- pass.
CREATE TABLE audit_tree_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);
