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
// models.MaxToolCalls are kept.
type chains struct {
	mu  sync.Mutex
	per map[string][]models.ToolCall
	seq map[string]int
}

func newChains() *chains {
	return &chains{per: map[string][]models.ToolCall{}, seq: map[string]int{}}
}

// observed is one finished call as the gateway saw it.
type observed struct {
	tool    string
	args    json.RawMessage
	result  any
	failed  bool
	started time.Time
	ended   time.Time
}

// add records a finished call of session sid.
func (c *chains) add(sid string, o observed) {
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
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq[sid]++
	call := models.ToolCall{
		CallID: fmt.Sprintf("mcp-%d", c.seq[sid]), Tool: o.tool, Input: string(in), OutputDigest: digest,
		Status: status, StartedAt: o.started.UTC(), EndedAt: o.ended.UTC(), ObservedBy: models.ToolCallObserved,
	}
	list := append(c.per[sid], call)
	if len(list) > models.MaxToolCalls {
		list = list[len(list)-models.MaxToolCalls:]
	}
	c.per[sid] = list
}

// get returns a copy of session sid's chain.
func (c *chains) get(sid string) []models.ToolCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]models.ToolCall(nil), c.per[sid]...)
}

func (c *chains) drop(sid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.per, sid)
	delete(c.seq, sid)
}
