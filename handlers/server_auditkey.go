package handlers

// AuditKeyPath is where the verifier key of the signed audit checkpoints is
// published. Auditors should still compare it with a copy they got out of
// band: a server that rewrote its log could also swap this key.
const AuditKeyPath = "/.well-known/countersign-audit-key"
