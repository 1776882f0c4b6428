package contenthash

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
)

// A call the gateway observed hashes differently from the same call
// reported by the agent, and a reported call hashes as before the mark
// existed (stored approvals keep counting).
func TestObservedMarkIsBoundAndOptional(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	call := models.ToolCall{CallID: "c1", Tool: "service_status", Input: `{"service":"api"}`, Status: models.ToolCallOK, StartedAt: at, EndedAt: at}
	r := &models.Request{Kind: models.KindAction, Action: "restart", Params: `{}`}
	reported, err := Hash(OfRequest(r, nil, []models.ToolCall{call}))
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := Canonical(OfRequest(r, nil, []models.ToolCall{call}))
	if strings.Contains(string(canon), "observed_by") {
		t.Fatalf("a reported call names observed_by: %s", canon)
	}
	call.ObservedBy = models.ToolCallObserved
	observed, err := Hash(OfRequest(r, nil, []models.ToolCall{call}))
	if err != nil {
		t.Fatal(err)
	}
	if observed == reported {
		t.Fatal("marking a call observed did not change the content hash")
	}
	canon, _ = Canonical(OfRequest(r, nil, []models.ToolCall{call}))
	if !strings.Contains(string(canon), `"observed_by":"countersign"`) {
		t.Fatalf("observed mark missing from the canonical content: %s", canon)
	}
}
