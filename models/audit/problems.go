package audit

// Problem kinds found by offline checks (receipts, checkpoints, bundles), in
// addition to the chain kinds of verify.go. They reuse ProblemKind so a
// caller maps every finding the same way.
const (
	// ProblemSignature: a checkpoint's signature by a trusted key does not
	// verify (the note was altered or the signature forged).
	ProblemSignature ProblemKind = "signature"
	// ProblemUnknownKey: a checkpoint is signed only by keys the verifier
	// does not trust, or by a trusted key named for another log.
	ProblemUnknownKey ProblemKind = "unknown-key"
	// ProblemRoot: the events do not hash to the root a checkpoint signs.
	ProblemRoot ProblemKind = "root"
	// ProblemConsistency: a newer checkpoint does not extend an older one
	// (the log was rewritten between them).
	ProblemConsistency ProblemKind = "consistency"
	// ProblemProof: an inclusion proof does not lead to the signed root.
	ProblemProof ProblemKind = "proof"
	// ProblemTruncated: a bundle ends before its end line.
	ProblemTruncated ProblemKind = "truncated"
	// ProblemUncovered: events that no signed checkpoint covers, so nothing
	// vouches for them beyond the chain itself.
	ProblemUncovered ProblemKind = "uncovered"
	// ProblemMalformed: a line, note or receipt that cannot be read.
	ProblemMalformed ProblemKind = "malformed"
	// ProblemPasskey: a passkey-signed decision does not verify against
	// the key its enrolment recorded (another statement, another key, a
	// credential revoked before the decision).
	ProblemPasskey ProblemKind = "passkey"
)

// Label returns the kind in words, for reports read by people.
func (k ProblemKind) Label() string {
	switch k {
	case ProblemSequence:
		return "gap or reordering"
	case ProblemLink:
		return "chain link broken"
	case ProblemHash:
		return "hash mismatch"
	case ProblemHead:
		return "chain head mismatch"
	case ProblemSignature:
		return "bad signature"
	case ProblemUnknownKey:
		return "unknown key"
	case ProblemRoot:
		return "root mismatch"
	case ProblemConsistency:
		return "inconsistent checkpoints"
	case ProblemProof:
		return "inclusion proof fails"
	case ProblemTruncated:
		return "truncated bundle"
	case ProblemUncovered:
		return "not covered by a checkpoint"
	case ProblemMalformed:
		return "malformed"
	case ProblemPasskey:
		return "passkey signature fails"
	}
	return string(k)
}
