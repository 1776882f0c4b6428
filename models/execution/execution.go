// Package execution runs approved requests: a worker hands each approved
// human request's grant to its executor's webhook (with a lease so that
// several replicas never dispatch the same request at once, a timeout and
// backoff retries — retries cannot execute twice because the grant is
// single-use), and agents report the result of their own requests. The
// outcome is recorded in its own table — never in the request's tool chain,
// so the approved content hash stays what the approvers saw — audited, and
// the request ends executed or failed.
package execution

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/contenthash"
	"github.com/countersign/countersign/models/grant"
)

// State is where an execution stands.
type State string

// The execution states.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
)

// Final reports whether s is an outcome.
func (s State) Final() bool { return s == StateSucceeded || s == StateFailed }

// Mode says who runs the action.
type Mode string

// The modes.
const (
	// ModeWebhook: Countersign posts the grant to the executor.
	ModeWebhook Mode = "webhook"
	// ModeAgent: the requesting agent ran it and reported the result.
	ModeAgent Mode = "agent"
	// ModeGateway: Countersign's MCP gateway forwarded the agent's approved
	// tool call itself and recorded the upstream server's answer.
	ModeGateway Mode = "mcp_gateway"
)

// Execution is the stored execution of one request.
type Execution struct {
	RequestID     string `gorm:"primaryKey"`
	Executor      string
	Mode          Mode
	State         State
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	// Output is canonical JSON text of what the executor answered (empty
	// when nothing usable came back).
	Output string
	// OutputDigest is the digest an agent reported instead of its output
	// (e.g. sha256:<hex>); empty otherwise.
	OutputDigest string
	Error        string
	ReportedBy   string
	// StartedAt and EndedAt are the run's times as the agent reported
	// them; nil for webhook executions.
	StartedAt  *time.Time
	EndedAt    *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// TableName pins the table name.
func (Execution) TableName() string { return "executions" }

// MaxOutputBytes bounds a stored output.
const MaxOutputBytes = 64 << 10

// MaxErrorBytes bounds a stored error text.
const MaxErrorBytes = 2 << 10

// Result is what an execution produced.
type Result struct {
	// Succeeded is true when the action ran to completion.
	Succeeded bool
	// Output is any JSON value (nil for none).
	Output json.RawMessage
	// OutputDigest stands for an output the reporter keeps to itself
	// ("<algorithm>:<hex>", e.g. sha256:…); at most one of Output and
	// OutputDigest is given.
	OutputDigest string
	// Error explains a failure in words.
	Error string
	// StartedAt and EndedAt are when the run started and ended, as the
	// reporter says (agents report them; zero for none).
	StartedAt, EndedAt time.Time
	// Mode is who ran it: ModeAgent (the default) or ModeGateway.
	Mode Mode
}

// MaxClockSkew is how far in the future a reported time may lie (the
// reporter's clock may run ahead of ours).
const MaxClockSkew = 5 * time.Minute

// checkReport validates what only agents report: the digest form and
// the run's times, which must be given, in order, and not in the future.
func (r Result) checkReport(now time.Time) error {
	if len(r.Output) > 0 && string(r.Output) != "null" && r.OutputDigest != "" {
		return models.Invalid("output_digest", "give either output or output_digest, not both")
	}
	if r.OutputDigest != "" && !models.ValidOutputDigest(r.OutputDigest) {
		return models.Invalid("output_digest", "must look like sha256:<hex>")
	}
	switch {
	case r.StartedAt.IsZero():
		return models.Invalid("started_at", "is required (RFC 3339)")
	case r.EndedAt.IsZero():
		return models.Invalid("ended_at", "is required (RFC 3339)")
	case r.EndedAt.Before(r.StartedAt):
		return models.Invalid("ended_at", "must not be before started_at")
	case r.EndedAt.After(now.Add(MaxClockSkew)):
		return models.Invalid("ended_at", "lies in the future")
	}
	return nil
}

// normalize validates r and returns its canonical output text.
func (r Result) normalize() (string, string, error) {
	out := ""
	if len(r.Output) > 0 && string(r.Output) != "null" {
		c, err := contenthash.CanonicalizeJSON(r.Output)
		if err != nil {
			return "", "", models.Invalid("output", "must be JSON")
		}
		if len(c) > MaxOutputBytes {
			return "", "", models.Invalid("output", fmt.Sprintf("at most %d bytes", MaxOutputBytes))
		}
		out = string(c)
	}
	msg := r.Error
	if !utf8.ValidString(msg) {
		return "", "", models.Invalid("error", "must be text")
	}
	if len(msg) > MaxErrorBytes {
		msg = msg[:MaxErrorBytes]
	}
	return out, msg, nil
}

// Service records executions and moves requests to their end state.
type Service struct {
	store     *models.Store
	approvals *approval.Service
	grants    *grant.Service
	now       func() time.Time
}

// New returns a Service. now nil means time.Now.
func New(store *models.Store, approvals *approval.Service, grants *grant.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, approvals: approvals, grants: grants, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Hook queues the webhook execution of every approved action request made
// by a person, in the approving transaction (it is approval.Effects.
// Execution, which runs after Effects.Grant, whose grant names the
// executor). Agents' requests are not queued: the agent
// redeems its grant and reports the result. When the sweeper ends a
// request whose result never came (TimeoutActor), Hook records the failed
// execution that says so, or vetoes the move when a result won the race.
func Hook() approval.Hook {
	return approval.HookFunc(func(tx *gorm.DB, ch approval.Change) error {
		r := ch.Request
		if isTimeout(ch) {
			return recordTimeout(tx, ch)
		}
		if ch.Moved() && ch.From == models.StateApproved {
			// The request ended some other way (expiry, an operator):
			// an execution nobody has attempted yet is dropped.
			if err := tx.Where("request_id = ? AND state = ? AND attempts = 0", r.ID, StateQueued).Delete(&Execution{}).Error; err != nil {
				return fmt.Errorf("execution: drop queued %s: %w", r.ID, err)
			}
			return nil
		}
		if !ch.Moved() || ch.To != models.StateApproved || r.Kind != models.KindAction || r.RequesterType == models.ActorAgent {
			return nil
		}
		var g grant.Grant
		if err := tx.Take(&g, "request_id = ?", r.ID).Error; err != nil {
			return fmt.Errorf("execution: grant of %s: %w", r.ID, err)
		}
		e := &Execution{
			RequestID: r.ID, Executor: g.Audience, Mode: ModeWebhook, State: StateQueued,
			NextAttemptAt: ch.At, CreatedAt: ch.At, UpdatedAt: ch.At,
		}
		if err := tx.Create(e).Error; err != nil {
			return fmt.Errorf("execution: queue %s: %w", r.ID, err)
		}
		return nil
	})
}

// Get returns the execution of request id (models.ErrNotFound when none).
func (s *Service) Get(ctx context.Context, requestID string) (*Execution, error) {
	var e Execution
	err := s.store.DB(ctx).Take(&e, "request_id = ?", requestID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("execution: none for %s: %w", requestID, models.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("execution: load %s: %w", requestID, err)
	}
	return &e, nil
}

func stateOf(ok bool) State {
	if ok {
		return StateSucceeded
	}
	return StateFailed
}

// conclude moves the request to executed or failed after its execution
// was recorded. A request that already left approved (another process
// concluded it) is fine.
func (s *Service) conclude(ctx context.Context, e *Execution) error {
	to, reason := models.StateExecuted, "executed by "+e.Executor
	if e.State == StateFailed {
		to, reason = models.StateFailed, "execution failed: "+e.Error
	}
	_, err := s.approvals.Move(ctx, approval.Transition{ID: e.RequestID, From: models.StateApproved, To: to, Actor: models.SystemActor("execution"), Reason: reason})
	if err != nil && !errors.Is(err, models.ErrConflict) {
		return fmt.Errorf("execution: conclude %s: %w", e.RequestID, err)
	}
	return nil
}

// Credentials holds executors' bearer tokens as SHA-256 digests only.
type Credentials struct {
	names  []string
	hashes [][32]byte
}

// NewCredentials hashes each executor's token. Empty tokens are skipped
// (such an executor cannot redeem).
func NewCredentials(tokens map[string]string) *Credentials {
	c := &Credentials{}
	for name, tok := range tokens {
		if tok == "" {
			continue
		}
		c.names = append(c.names, name)
		c.hashes = append(c.hashes, sha256.Sum256([]byte(tok)))
	}
	return c
}

// Authenticate returns the executor whose token is bearer. Every stored
// digest is compared in constant time, so timing reveals nothing.
func (c *Credentials) Authenticate(bearer string) (string, bool) {
	if c == nil || bearer == "" {
		return "", false
	}
	h := sha256.Sum256([]byte(bearer))
	found := -1
	for i := range c.hashes {
		if subtle.ConstantTimeCompare(h[:], c.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return c.names[found], true
}
