// Package executor is the outbound adapter to executors' webhooks: the
// worker that posts each approved person's action, with its single-use
// grant, to the executor the catalogue names, and records the answer
// through the execution service.
package executor

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

	"github.com/countersign/countersign/models/execution"
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

// Request is the body posted to an executor.
type Request struct {
	RequestID string          `json:"request_id"`
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params"`
	Grant     string          `json:"grant"`
}

// Response is what an executor answers with 2xx. Status is "succeeded"
// (the default) or "failed".
type Response struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Config configures a Dispatcher.
type Config struct {
	Executors map[string]Executor
	// Client makes the calls; nil means a client without redirects.
	Client *http.Client
	// Backoff is the wait before the second attempt, doubled after each
	// failure up to MaxBackoff; zero means 2s and 1m.
	Backoff, MaxBackoff time.Duration
	Logger              *slog.Logger
}

// Dispatcher is the worker that posts grants to executors. Several
// replicas may run one each: an execution is claimed with a lease
// (execution.Service.Claim) before it is posted.
type Dispatcher struct {
	svc   *execution.Service
	cfg   Config
	owner string
}

// NewDispatcher returns the worker.
func NewDispatcher(svc *execution.Service, cfg Config) *Dispatcher {
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
	due, err := d.svc.Due(ctx, 50)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range due {
		x := d.cfg.Executors[due[i].Executor]
		won, err := d.svc.Claim(ctx, &due[i], d.owner, x.timeout()+30*time.Second)
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
	return n, d.svc.Reconcile(ctx)
}

// outcome of one attempt.
type outcome struct {
	final bool
	res   execution.Result
}

// attempt posts e's grant once and records what came of it.
func (d *Dispatcher) attempt(ctx context.Context, e *execution.Execution) error {
	x, ok := d.cfg.Executors[e.Executor]
	var o outcome
	switch {
	case !ok:
		o = outcome{final: true, res: execution.Result{Error: fmt.Sprintf("executor %q is not configured", e.Executor)}}
	default:
		o = d.post(ctx, e, x)
	}
	if !o.final && e.Attempts >= x.maxAttempts() {
		o.final = true
		o.res.Error = fmt.Sprintf("gave up after %d attempts: %s", e.Attempts, o.res.Error)
	}
	if o.final {
		return d.svc.Finish(ctx, e, d.owner, o.res)
	}
	wait := d.cfg.Backoff << min(e.Attempts-1, 20)
	if wait > d.cfg.MaxBackoff || wait <= 0 {
		wait = d.cfg.MaxBackoff
	}
	return d.svc.Retry(ctx, e, d.owner, wait, o.res.Error)
}

// post makes the HTTP call. Transport errors, timeouts, 429 and 5xx are
// retried; other answers are final.
func (d *Dispatcher) post(ctx context.Context, e *execution.Execution, x Executor) outcome {
	job, err := d.svc.Job(ctx, e)
	var nd *execution.NotDispatchableError
	if errors.As(err, &nd) {
		return outcome{final: true, res: execution.Result{Error: nd.Reason}}
	}
	if err != nil {
		return outcome{res: execution.Result{Error: err.Error()}}
	}
	body, _ := json.Marshal(Request{RequestID: job.RequestID, Action: job.Action, Params: json.RawMessage(job.Params), Grant: job.Grant})
	cctx, cancel := context.WithTimeout(ctx, x.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, x.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{final: true, res: execution.Result{Error: "bad executor URL"}}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		if cctx.Err() != nil {
			return outcome{res: execution.Result{Error: fmt.Sprintf("no answer within %s", x.timeout())}}
		}
		return outcome{res: execution.Result{Error: "executor unreachable"}}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, execution.MaxOutputBytes+1024))
	var dr Response
	jsonErr := json.Unmarshal(raw, &dr)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return outcome{res: execution.Result{Error: fmt.Sprintf("executor answered %d", resp.StatusCode)}}
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if jsonErr != nil {
			return outcome{final: true, res: execution.Result{Error: "executor answered with something that is not JSON"}}
		}
		ok := dr.Status == "" || strings.EqualFold(dr.Status, "succeeded")
		return outcome{final: true, res: execution.Result{Succeeded: ok, Output: dr.Output, Error: dr.Error}}
	default:
		msg := fmt.Sprintf("executor refused with %d", resp.StatusCode)
		if jsonErr == nil && dr.Error != "" {
			msg += ": " + dr.Error
		}
		return outcome{final: true, res: execution.Result{Output: dr.Output, Error: msg}}
	}
}
