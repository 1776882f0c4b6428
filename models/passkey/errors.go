package passkey

import (
	"fmt"

	"github.com/countersign/countersign/models"
)

// Reasons a passkey or a passkey-signed decision is refused. Each wraps a
// sentinel of package models, so the web layer maps them without knowing
// them, and each says in words what went wrong.
var (
	// ErrStatementInvalid: a statement field is empty or malformed.
	ErrStatementInvalid = fmt.Errorf("the decision statement is malformed: %w", models.ErrInvalid)
	// ErrAssertionMalformed: the assertion cannot be read.
	ErrAssertionMalformed = fmt.Errorf("the passkey assertion is malformed: %w", models.ErrInvalid)
	// ErrChallengeMismatch: the passkey signed another statement (another
	// request, content, verdict, approver or nonce).
	ErrChallengeMismatch = fmt.Errorf("the passkey signed a different decision statement: %w", models.ErrForbidden)
	// ErrWrongCeremony: the client data is not of an assertion.
	ErrWrongCeremony = fmt.Errorf("the passkey response is not a sign-in assertion: %w", models.ErrForbidden)
	// ErrWrongOrigin: the browser ran the ceremony on another site.
	ErrWrongOrigin = fmt.Errorf("the passkey was used from another origin: %w", models.ErrForbidden)
	// ErrWrongRPID: the authenticator signed for another relying party.
	ErrWrongRPID = fmt.Errorf("the passkey signed for another relying party: %w", models.ErrForbidden)
	// ErrNoUserVerification: the authenticator did not verify the person.
	ErrNoUserVerification = fmt.Errorf("the passkey did not verify the person (PIN or biometrics): %w", models.ErrForbidden)
	// ErrBadSignature: the signature does not verify with the key.
	ErrBadSignature = fmt.Errorf("the passkey signature does not verify with the enrolled key: %w", models.ErrForbidden)
	// ErrRegistration: the registration response does not verify
	// (challenge, origin, relying party or attestation).
	ErrRegistration = fmt.Errorf("the passkey registration did not verify: %w", models.ErrForbidden)
	// ErrUnknownCredential: no enrolled passkey has this credential id.
	ErrUnknownCredential = fmt.Errorf("this passkey is not enrolled: %w", models.ErrForbidden)
	// ErrNotOwner: the passkey belongs to someone else.
	ErrNotOwner = fmt.Errorf("this passkey belongs to someone else: %w", models.ErrForbidden)
	// ErrRevoked: the passkey was revoked.
	ErrRevoked = fmt.Errorf("this passkey was revoked: %w", models.ErrForbidden)
	// ErrCounterRegressed: the signature counter did not go up, a sign the
	// authenticator was cloned. Audited as passkey.clone_warning.
	ErrCounterRegressed = fmt.Errorf("the passkey's signature counter went backwards (possible clone): %w", models.ErrForbidden)
	// ErrChallengeUnknown: no such nonce was issued to this person.
	ErrChallengeUnknown = fmt.Errorf("the passkey challenge is unknown: %w", models.ErrForbidden)
	// ErrChallengeUsed: the nonce was already used.
	ErrChallengeUsed = fmt.Errorf("the passkey challenge was already used: %w", models.ErrConflict)
	// ErrChallengeExpired: the nonce is too old.
	ErrChallengeExpired = fmt.Errorf("the passkey challenge expired: %w", models.ErrConflict)
	// ErrChallengeOther: the nonce was issued for another decision
	// (request, content, verdict or person).
	ErrChallengeOther = fmt.Errorf("the passkey challenge was issued for another decision: %w", models.ErrForbidden)
	// ErrPasskeyRequired: the request's policy asks for a passkey.
	ErrPasskeyRequired = fmt.Errorf("this request must be decided with a passkey: %w", models.ErrForbidden)
	// ErrNotFresh: enrolment needs a fresh strong sign-in.
	ErrNotFresh = fmt.Errorf("enrolling a passkey needs a fresh strong sign-in: %w", models.ErrForbidden)
)
