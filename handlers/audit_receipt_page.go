package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
	"github.com/countersign/countersign/templates/pages"
)

// ReceiptPage serves GET /audit/receipt/:seq/view: the receipt of one
// event for people — what it proves (the event, its request, the signed
// checkpoint and the inclusion proof), the JSON download and the exact
// command that checks the downloaded file offline. Who may see it is as
// for Receipt.
func (h *AuditLog) ReceiptPage(c echo.Context) error {
	seq, rc, err := h.receipt(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, pages.ReceiptPage(h.receiptView(seq, rc)))
}

// receiptView is the receipt page's view of rc.
func (h *AuditLog) receiptView(seq int64, rc *proof.Receipt) pages.ReceiptView {
	e := &rc.Event
	key := h.prover.VerifierKey()
	file := receiptFileName(seq)
	v := pages.ReceiptView{
		Seq: strconv.FormatInt(seq, 10), Type: e.Type, At: timeView(time.UnixMicro(e.AtUnixUS), h.now()),
		Actor: firstNonEmpty(e.ActorDisplay, e.ActorID), ActorID: e.ActorID, ActorType: string(e.ActorType),
		RequestID: e.RequestID, Purpose: e.Purpose, Action: e.Action, PolicyRef: e.PolicyRef,
		EventHash: e.Hash, PrevHash: e.PrevHash, Payload: indentJSON(e.Payload),
		LeafIndex: strconv.FormatInt(rc.LeafIndex, 10), TreeSize: strconv.FormatInt(rc.TreeSize, 10),
		Checkpoint: rc.Checkpoint, VerifierKey: key, KeyURL: AuditKeyPath,
		JSONURL: receiptPath(seq), FileName: file,
		VerifyCommand: "countersign audit verify-receipt --receipt " + file + " --key " + shellQuote(key),
	}
	if verdict, ok := strings.CutPrefix(e.Type, "decision."); ok && models.Verdict(verdict).Valid() {
		v.Verdict = verdict
	}
	if e.RequestID != "" {
		v.RequestURL = requestPath(e.RequestID)
	}
	if rc.Passkey != nil {
		v.PasskeyEnrollment = strconv.FormatInt(rc.Passkey.Enrollment.Event.Seq, 10)
	}
	for _, p := range rc.InclusionProof {
		v.Proof = append(v.Proof, base64.StdEncoding.EncodeToString(p))
	}
	// The note's body is origin, size and root, one per line (C2SP
	// tlog-checkpoint); the signature lines follow a blank line.
	if lines := strings.SplitN(rc.Checkpoint, "\n", 4); len(lines) >= 3 {
		v.Origin, v.Root = lines[0], lines[2]
	}
	// The same check the offline command makes, with the log's own key:
	// it shows the receipt is whole, not that the key is the right one —
	// that is why the key must also come from elsewhere.
	var problem *audit.Problem
	switch err := proof.VerifyReceipt(rc, key); {
	case errors.As(err, &problem):
		v.VerifyProblem = problem.Error()
	case err != nil:
		v.VerifyProblem = "the receipt could not be checked with the log's key"
	}
	return v
}

// indentJSON pretty-prints a JSON payload for reading; anything else is
// shown as stored.
func indentJSON(s string) string {
	var b bytes.Buffer
	if s == "" || json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// characters, so a copied command runs as shown.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=.-_:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
