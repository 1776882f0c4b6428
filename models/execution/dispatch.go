package execution

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
)

// Executor is where an executor listens.
type Executor struct {
	// URL receives the POST.
	URL string
	// Timeout bounds one attempt; zero means 30s.
	Timeout time.Duration
	// MaxAttempts bounds the attempts; zero means 5.
	MaxAttempts int
}

// DispatchRequest is the body posted to an executor.
type DispatchRequest struct {
	RequestID string          `json:"request_id"`
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params"`
	Grant     string          `json:"grant"`
}

// DispatchResponse is what an executor answers with 2xx. Status is
// "succeeded" (the default) or "failed".
type DispatchResponse struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	Executors map[string]Executor
	// Client makes the calls; nil means a client without redirects.
	Client *http.Client
	// Backoff is the wait before the second attempt, doubled after each
	// failure up to MaxBackoff; zero means 2s and 1m.
	Backoff, MaxBackoff time.Duration
	Logger              *slog.Logger
}

// Dispatcher is the worker that posts grants to executors. Several
// replicas may run one each: a request is claimed with a lease
// (compare-and-swap on the execution row) before it is posted.
type Dispatcher struct {
	svc   *Service
	cfg   DispatcherConfig
	owner string
}

// NewDispatcher returns the worker.
func NewDispatcher(svc *Service, cfg DispatcherConfig) *Dispatcher {
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Dispatcher{svc: svc, cfg: cfg, owner: hex.EncodeToString(b[:])}
}

func (x Executor) timeout() time.Duration {
	if x.Timeout <= 0 {
		return 30 * time.Second
	}
	return x.Timeout
}

func (x Executor) maxAttempts() int {
	if x.MaxAttempts <= 0 {
		return 5
	}
	return x.MaxAttempts
}

// Run dispatches every interval until ctx ends.
func (d *Dispatcher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("execution dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims and posts every execution due now, then concludes
// requests whose execution finished but whose move did not happen (a crash
// between the two). It returns how many attempts it made.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	now := d.svc.clock()
	var due []Execution
	if err := d.svc.store.DB(ctx).
		Where("state IN ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)", []State{StateQueued, StateRunning}, now, now).
		Order("next_attempt_at").Limit(50).Find(&due).Error; err != nil {
		return 0, fmt.Errorf("execution: due executions: %w", err)
	}
	n := 0
	for i := range due {
		won, err := d.claim(ctx, &due[i], now)
		if err != nil {
			return n, err
		}
		if !won {
			continue
		}
		n++
		if err := d.attempt(ctx, &due[i]); err != nil {
			return n, err
		}
	}
	return n, d.reconcile(ctx)
}

// claim takes the lease on e; false when another worker got it first.
func (d *Dispatcher) claim(ctx context.Context, e *Execution, now time.Time) (bool, error) {
	x := d.cfg.Executors[e.Executor]
	until := now.Add(x.timeout() + 30*time.Second)
	won := false
	err := d.svc.store.WithTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Execution{}).
			Where("request_id = ? AND attempts = ? AND state IN ? AND (lease_until IS NULL OR lease_until < ?)", e.RequestID, e.Attempts, []State{StateQueued, StateRunning}, now).
			Updates(map[string]any{"state": StateRunning, "lease_owner": d.owner, "lease_until": until, "attempts": e.Attempts + 1, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("claim %s: %w", e.RequestID, res.Error)
		}
		won = res.RowsAffected == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("execution: %w", err)
	}
	if won {
		e.Attempts++
		e.State, e.LeaseOwner, e.LeaseUntil = StateRunning, d.owner, &until
	}
	return won, nil
}

// outcome of one attempt.
type outcome struct {
	final bool
	res   Result
}

// attempt posts e's grant once and records what came of it.
func (d *Dispatcher) attempt(ctx context.Context, e *Execution) error {
	x, ok := d.cfg.Executors[e.Executor]
	var o outcome
	switch {
	case !ok:
		o = outcome{final: true, res: Result{Error: fmt.Sprintf("executor %q is not configured", e.Executor)}}
	default:
		o = d.post(ctx, e, x)
	}
	if !o.final && e.Attempts >= x.maxAttempts() {
		o.final = true
		o.res.Error = fmt.Sprintf("gave up after %d attempts: %s", e.Attempts, o.res.Error)
	}
	if o.final {
		return d.finish(ctx, e, o.res)
	}
	return d.retry(ctx, e, o.res.Error)
}

// post makes the HTTP call. Transport errors, timeouts, 429 and 5xx are
// retried; other answers are final.
func (d *Dispatcher) post(ctx context.Context, e *Execution, x Executor) outcome {
	r, err := d.svc.approvals.Get(ctx, e.RequestID)
	if err != nil {
		return outcome{res: Result{Error: "load request: " + err.Error()}}
	}
	if r.State != models.StateApproved {
		return outcome{final: true, res: Result{Error: fmt.Sprintf("the request is %s, no longer approved", r.State)}}
	}
	tok, err := d.svc.grants.Token(ctx, e.RequestID)
	if errors.Is(err, models.ErrConflict) {
		return outcome{final: true, res: Result{Error: "the grant is no longer usable (expired or its key retired)"}}
	}
	if err != nil {
		return outcome{res: Result{Error: "derive grant: " + err.Error()}}
	}
	body, _ := json.Marshal(DispatchRequest{RequestID: r.ID, Action: r.Action, Params: json.RawMessage(r.Params), Grant: tok})
	cctx, cancel := context.WithTimeout(ctx, x.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, x.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{final: true, res: Result{Error: "bad executor URL"}}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		if cctx.Err() != nil {
			return outcome{res: Result{Error: fmt.Sprintf("no answer within %s", x.timeout())}}
		}
		return outcome{res: Result{Error: "executor unreachable"}}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxOutputBytes+1024))
	var dr DispatchResponse
	jsonErr := json.Unmarshal(raw, &dr)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return outcome{res: Result{Error: fmt.Sprintf("executor answered %d", resp.StatusCode)}}
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if jsonErr != nil {
			return outcome{final: true, res: Result{Error: "executor answered with something that is not JSON"}}
		}
		ok := dr.Status == "" || strings.EqualFold(dr.Status, "succeeded")
		return outcome{final: true, res: Result{Succeeded: ok, Output: dr.Output, Error: dr.Error}}
	default:
		msg := fmt.Sprintf("executor refused with %d", resp.StatusCode)
		if jsonErr == nil && dr.Error != "" {
			msg += ": " + dr.Error
		}
		return outcome{final: true, res: Result{Output: dr.Output, Error: msg}}
	}
}

// retry releases the lease and schedules the next attempt.
func (d *Dispatcher) retry(ctx context.Context, e *Execution, msg string) error {
	now := d.svc.clock()
	wait := d.cfg.Backoff << min(e.Attempts-1, 20)
	if wait > d.cfg.MaxBackoff || wait <= 0 {
		wait = d.cfg.MaxBackoff
	}
	err := d.svc.store.WithTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Execution{}).Where("request_id = ? AND lease_owner = ? AND attempts = ? AND state = ?", e.RequestID, d.owner, e.Attempts, StateRunning).
			Updates(map[string]any{"state": StateQueued, "lease_until": nil, "next_attempt_at": now.Add(wait), "error": clipErr(msg), "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("schedule retry of %s: %w", e.RequestID, res.Error)
		}
		if res.RowsAffected != 1 {
			return nil // lease lost (another worker owns it) or the result timeout ended it
		}
		r := models.Request{}
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", e.RequestID).Error; err != nil {
			return fmt.Errorf("load request %s: %w", e.RequestID, err)
		}
		_, err := audit.Append(tx, now, audit.Entry{
			Type: "execution.retry", Actor: models.SystemActor("execution"), RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
			Payload: map[string]any{"executor": e.Executor, "attempt": e.Attempts, "error": clipErr(msg), "next_attempt_in_ms": wait.Milliseconds()},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("execution: %w", err)
	}
	return nil
}

func clipErr(s string) string {
	if len(s) > MaxErrorBytes {
		return s[:MaxErrorBytes]
	}
	return s
}

// finish records the final result under the lease, audits it and ends
// the request.
func (d *Dispatcher) finish(ctx context.Context, e *Execution, res Result) error {
	out, msg, err := res.normalize()
	if err != nil {
		out, msg, res.Succeeded = "", "executor answered with unusable output", false
	}
	now := d.svc.clock()
	e.State, e.Output, e.Error, e.FinishedAt = stateOf(res.Succeeded), out, msg, &now
	done := false
	err = d.svc.store.WithTx(ctx, func(tx *gorm.DB) error {
		upd := tx.Model(&Execution{}).Where("request_id = ? AND lease_owner = ? AND attempts = ? AND state = ?", e.RequestID, d.owner, e.Attempts, StateRunning).
			Updates(map[string]any{"state": e.State, "output": out, "error": msg, "lease_until": nil, "finished_at": now, "updated_at": now, "reported_by": "executor:" + e.Executor})
		if upd.Error != nil {
			return fmt.Errorf("record result of %s: %w", e.RequestID, upd.Error)
		}
		if upd.RowsAffected != 1 {
			return d.lateAnswer(tx, e, now)
		}
		var r models.Request
		if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", e.RequestID).Error; err != nil {
			return fmt.Errorf("load request %s: %w", e.RequestID, err)
		}
		done = true
		return auditResult(tx, &r, e, models.Actor{Type: models.ActorSystem, ID: "executor:" + e.Executor, Display: e.Executor}, now)
	})
	if err != nil {
		return fmt.Errorf("execution: %w", err)
	}
	if !done {
		return nil
	}
	return d.svc.conclude(ctx, e)
}

// reconcile concludes requests still approved although their execution
// finished.
func (d *Dispatcher) reconcile(ctx context.Context) error {
	var rows []Execution
	err := d.svc.store.DB(ctx).Model(&Execution{}).
		Joins("JOIN requests ON requests.id = executions.request_id").
		Where("executions.state IN ? AND requests.state = ?", []State{StateSucceeded, StateFailed}, models.StateApproved).
		Limit(50).Find(&rows).Error
	if err != nil {
		return fmt.Errorf("execution: reconcile: %w", err)
	}
	for i := range rows {
		if err := d.svc.conclude(ctx, &rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// lateAnswer audits an executor's answer that came after the result
// timeout had ended the request failed: it is not recorded, but the audit
// log shows that it came and what it said.
func (d *Dispatcher) lateAnswer(tx *gorm.DB, e *Execution, now time.Time) error {
	var cur Execution
	if err := tx.Take(&cur, "request_id = ?", e.RequestID).Error; err != nil || cur.ReportedBy != TimedOutBy {
		return nil
	}
	var r models.Request
	if err := tx.Omit("Posts", "ToolCalls", "Decisions").Take(&r, "id = ?", e.RequestID).Error; err != nil {
		return fmt.Errorf("load request %s: %w", e.RequestID, err)
	}
	_, err := audit.Append(tx, now, audit.Entry{
		Type: "execution.refused", Actor: models.Actor{Type: models.ActorSystem, ID: "executor:" + e.Executor, Display: e.Executor},
		RequestID: r.ID, Purpose: r.Purpose, Action: r.Action, PolicyRef: r.PolicyRef,
		Payload: map[string]any{"reason": string(RefusedTimedOut), "request_state": string(r.State), "answered": string(e.State), "error": e.Error},
	})
	return err
}
