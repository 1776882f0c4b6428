package mcpgateway

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/contenthash"
)

// chains keeps, per MCP session, the calls the gateway observed: the
// tool chain stored with any request the session opens. Only the newest
// models.MaxToolCalls are kept. Calls are kept as they came and put in
// canonical form only when a request needs them, so a call that passes
// through pays for nothing but the append.
type chains struct {
	mu  sync.Mutex
	per map[string][]observed
	seq map[string]int
}

func newChains() *chains {
	return &chains{per: map[string][]observed{}, seq: map[string]int{}}
}

// observed is one finished call as the gateway saw it.
type observed struct {
	n       int
	tool    string
	args    json.RawMessage
	result  any
	failed  bool
	started time.Time
	ended   time.Time
}

// add records a finished call of session sid.
func (c *chains) add(sid string, o observed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq[sid]++
	o.n = c.seq[sid]
	list := append(c.per[sid], o)
	if len(list) > models.MaxToolCalls {
		list = list[len(list)-models.MaxToolCalls:]
	}
	c.per[sid] = list
}

// get returns session sid's chain as tool calls marked observed.
func (c *chains) get(sid string) []models.ToolCall {
	c.mu.Lock()
	list := append([]observed(nil), c.per[sid]...)
	c.mu.Unlock()
	out := make([]models.ToolCall, len(list))
	for i := range list {
		out[i] = list[i].toolCall()
	}
	return out
}

// toolCall is the stored form: canonical arguments and a digest of the
// canonical result.
func (o *observed) toolCall() models.ToolCall {
	in, err := contenthash.CanonicalizeJSON(o.args)
	if err != nil || len(o.args) == 0 {
		in = []byte("{}")
	}
	digest := ""
	if o.result != nil {
		if b, err := json.Marshal(o.result); err == nil {
			if canon, err := contenthash.CanonicalizeJSON(b); err == nil {
				digest = "sha256:" + contenthash.Sum(canon)
			}
		}
	}
	status := models.ToolCallOK
	if o.failed {
		status = models.ToolCallError
	}
	return models.ToolCall{
		CallID: fmt.Sprintf("mcp-%d", o.n), Tool: o.tool, Input: string(in), OutputDigest: digest,
		Status: status, StartedAt: o.started.UTC(), EndedAt: o.ended.UTC(), ObservedBy: models.ToolCallObserved,
	}
}

func (c *chains) drop(sid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.per, sid)
	delete(c.seq, sid)
}
