package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/passkey"
)

// IncludedEvent is another event of the receipt's log with its inclusion
// proof in the receipt's checkpoint.
type IncludedEvent struct {
	Event          audit.Event `json:"event"`
	LeafIndex      int64       `json:"leaf_index"`
	InclusionProof [][]byte    `json:"inclusion_proof"`
}

// PasskeyProof is what a receipt of a passkey-signed decision carries so
// the signature can be checked offline: the passkey.enrolled event (its
// public key) and the credential's passkey.revoked events, if any.
type PasskeyProof struct {
	Enrollment  IncludedEvent   `json:"enrollment"`
	Revocations []IncludedEvent `json:"revocations,omitempty"`
}

// decisionPasskey is the passkey evidence in a decision event's payload.
type decisionPasskey struct {
	ContentHash string `json:"content_hash"`
	StepUp      struct {
		Passkey *struct {
			CredentialID      string `json:"credential_id"`
			Statement         string `json:"statement"`
			AuthenticatorData string `json:"authenticator_data"`
			ClientDataJSON    string `json:"client_data_json"`
			Signature         string `json:"signature"`
		} `json:"passkey"`
	} `json:"step_up"`
}

// passkeyPayload is a passkey.* event's payload.
type passkeyPayload struct {
	CredentialID string `json:"credential_id"`
	PublicKey    string `json:"public_key"`
	RPID         string `json:"rp_id"`
}

// decisionPasskeyOf reads a decision event's passkey evidence; nil when
// the event is not a decision signed with a passkey.
func decisionPasskeyOf(ev *audit.Event) *decisionPasskey {
	if !strings.HasPrefix(ev.Type, "decision.") {
		return nil
	}
	var p decisionPasskey
	if json.Unmarshal([]byte(ev.Payload), &p) != nil || p.StepUp.Passkey == nil {
		return nil
	}
	return &p
}

// passkeyProof finds, for a decision signed with a passkey, the events
// that recorded its key (enrolment, revocations) up to size, with their
// inclusion proofs; nil for any other event.
func (c *Checkpointer) passkeyProof(ctx context.Context, ev *audit.Event, size int64) (*PasskeyProof, error) {
	dp := decisionPasskeyOf(ev)
	if dp == nil {
		return nil, nil
	}
	cred := dp.StepUp.Passkey.CredentialID
	var evs []models.AuditEvent
	if err := c.store.DB(ctx).Where("type IN ? AND actor_id = ? AND seq <= ?", []string{"passkey.enrolled", "passkey.revoked"}, ev.ActorID, size).
		Order("seq").Find(&evs).Error; err != nil {
		return nil, fmt.Errorf("passkey events: %w", err)
	}
	var out PasskeyProof
	found := false
	for i := range evs {
		var p passkeyPayload
		if json.Unmarshal([]byte(evs[i].Payload), &p) != nil || p.CredentialID != cred {
			continue
		}
		inc, err := c.tree.InclusionProof(ctx, evs[i].Seq-1, size)
		if err != nil {
			return nil, err
		}
		ie := IncludedEvent{Event: audit.EventOf(&evs[i]), LeafIndex: evs[i].Seq - 1, InclusionProof: inc}
		switch {
		case evs[i].Type == "passkey.enrolled" && !found:
			out.Enrollment, found = ie, true
		case evs[i].Type == "passkey.revoked":
			out.Revocations = append(out.Revocations, ie)
		}
	}
	if !found {
		return nil, fmt.Errorf("no enrolment event for passkey %s: %w", cred, models.ErrNotFound)
	}
	return &out, nil
}

// verifyPasskey checks a receipt's passkey evidence against its verified
// checkpoint: every included event is in the log, and the decision's
// signature holds (CheckPasskeyDecision).
func verifyPasskey(r *Receipt, cp *Checkpoint) error {
	ev := &r.Event
	dp := decisionPasskeyOf(ev)
	switch {
	case dp == nil && r.Passkey == nil:
		return nil
	case dp == nil:
		return passkeyProblem(ev, "the receipt carries passkey evidence for an event not signed with a passkey")
	case r.Passkey == nil:
		return passkeyProblem(ev, "the decision was signed with a passkey, but the receipt lacks the passkey's enrolment event")
	}
	included := append([]IncludedEvent{r.Passkey.Enrollment}, r.Passkey.Revocations...)
	revoked := make([]audit.Event, 0, len(r.Passkey.Revocations))
	for i, ie := range included {
		e := ie.Event
		if err := checkLeaf(&e, ie.LeafIndex); err != nil {
			return err
		}
		if err := VerifyInclusion(cp, ie.LeafIndex, e.Hash, ie.InclusionProof); err != nil {
			return err
		}
		if i > 0 {
			revoked = append(revoked, e)
		}
	}
	return CheckPasskeyDecision(ev, &r.Passkey.Enrollment.Event, revoked)
}

// CheckPasskeyDecision checks a passkey-signed decision event against the
// events of its key, all taken as recorded (their inclusion is checked by
// the caller): the enrolment is this approver's, of this credential, and
// earlier; the signed statement names this request, content, verdict and
// approver; the assertion verifies with the enrolled public key for the
// enrolled relying party; and no revocation of the credential precedes
// the decision. A failure is a *audit.Problem of kind ProblemPasskey
// saying which.
func CheckPasskeyDecision(dec, enrolled *audit.Event, revoked []audit.Event) error {
	dp := decisionPasskeyOf(dec)
	if dp == nil {
		return passkeyProblem(dec, "the event is not a decision signed with a passkey")
	}
	pk := dp.StepUp.Passkey
	var en passkeyPayload
	if enrolled.Type != "passkey.enrolled" || json.Unmarshal([]byte(enrolled.Payload), &en) != nil {
		return passkeyProblem(dec, fmt.Sprintf("event %d is not a passkey enrolment", enrolled.Seq))
	}
	switch {
	case en.CredentialID != pk.CredentialID:
		return passkeyProblem(dec, fmt.Sprintf("the decision was signed by credential %s, the enrolment (event %d) is of credential %s", pk.CredentialID, enrolled.Seq, en.CredentialID))
	case enrolled.ActorID != dec.ActorID:
		return passkeyProblem(dec, fmt.Sprintf("credential %s was enrolled by %s, not by the approver %s", en.CredentialID, enrolled.ActorID, dec.ActorID))
	case enrolled.Seq >= dec.Seq:
		return passkeyProblem(dec, fmt.Sprintf("credential %s was enrolled at event %d, after the decision", en.CredentialID, enrolled.Seq))
	}
	for _, rv := range revoked {
		var p passkeyPayload
		if rv.Type == "passkey.revoked" && json.Unmarshal([]byte(rv.Payload), &p) == nil && p.CredentialID == pk.CredentialID && rv.Seq < dec.Seq {
			return passkeyProblem(dec, fmt.Sprintf("credential %s was revoked at event %d, before the decision", pk.CredentialID, rv.Seq))
		}
	}
	st, err := passkey.ParseStatement(pk.Statement)
	if err != nil {
		return passkeyProblem(dec, "the signed statement is malformed")
	}
	verdict := strings.TrimPrefix(dec.Type, "decision.")
	switch {
	case st.RequestID != dec.RequestID:
		return passkeyProblem(dec, fmt.Sprintf("the signed statement is for request %s, the decision is on %s", st.RequestID, dec.RequestID))
	case st.ContentHash != dp.ContentHash:
		return passkeyProblem(dec, fmt.Sprintf("the signed statement is for content %s, the decision is on %s", st.ContentHash, dp.ContentHash))
	case st.Verdict != verdict:
		return passkeyProblem(dec, fmt.Sprintf("the signed statement says %s, the decision is %s", st.Verdict, verdict))
	case st.Approver != dec.ActorID:
		return passkeyProblem(dec, fmt.Sprintf("the signed statement names approver %s, the decision is by %s", st.Approver, dec.ActorID))
	}
	as := passkey.Assertion{CredentialID: pk.CredentialID, AuthenticatorData: pk.AuthenticatorData, ClientDataJSON: pk.ClientDataJSON, Signature: pk.Signature}
	origin, err := originOf(as.ClientDataJSON, en.RPID)
	if err != nil {
		return passkeyProblem(dec, err.Error())
	}
	if _, err := passkey.Verify(st, as, en.PublicKey, passkey.RP{ID: en.RPID, Origins: []string{origin}}); err != nil {
		reason, _, _ := strings.Cut(err.Error(), ": ")
		return passkeyProblem(dec, fmt.Sprintf("%s (key enrolled at event %d)", reason, enrolled.Seq))
	}
	return nil
}

// originOf is the origin in the client data, when it belongs to the
// relying party rpID (its host, or a subdomain of it): the only origins a
// browser lets a page of that relying party use.
func originOf(clientDataJSON, rpID string) (string, error) {
	raw, err := passkey.Decode(clientDataJSON)
	var cd struct {
		Origin string `json:"origin"`
	}
	if err != nil || json.Unmarshal(raw, &cd) != nil {
		return "", fmt.Errorf("the client data is malformed")
	}
	u, err := url.Parse(cd.Origin)
	if err != nil || rpID == "" || (u.Hostname() != rpID && !strings.HasSuffix(u.Hostname(), "."+rpID)) {
		return "", fmt.Errorf("the passkey was used at %q, not a site of relying party %q", cd.Origin, rpID)
	}
	return cd.Origin, nil
}

func passkeyProblem(ev *audit.Event, detail string) error {
	return &audit.Problem{Seq: ev.Seq, Kind: audit.ProblemPasskey, Detail: detail}
}
