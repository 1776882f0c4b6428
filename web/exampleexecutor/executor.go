// Package exampleexecutor is a small executor written the way operators
// should write theirs: it trusts nothing in the request it receives until
// the grant verifies against Countersign's published keys
// (/.well-known/jwks.json), names this executor as its audience, is within
// its lifetime, and binds exactly the parameters it is asked to act on.
// Only then does it redeem the grant at Countersign — which succeeds once —
// and "run" the action (it records it and answers a result). A retry of a
// grant it already ran gets the recorded answer again instead of a second
// run. The demo mounts it at /example-executor; tests use it end to end.
package exampleexecutor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/gowebpki/jcs"
)

// DefaultName is the executor name the demo's actions use.
const DefaultName = "example"

// Config configures an Executor.
type Config struct {
	// Name is this executor's name: grants must name it as audience, and
	// Countersign knows its Token under it.
	Name string
	// Issuer is Countersign's public URL (the grants' iss).
	Issuer string
	// JWKSURL and RedeemURL default to Issuer + /.well-known/jwks.json and
	// Issuer + /api/v1/grants/redeem.
	JWKSURL, RedeemURL string
	// Token is this executor's credential at Countersign.
	Token string
	// Client reaches Countersign; nil means http.DefaultClient.
	Client *http.Client
	// Now is the clock for exp/nbf; nil means time.Now.
	Now func() time.Time
}

// Run is one action this executor ran.
type Run struct {
	JTI       string
	RequestID string
	Action    string
	Params    json.RawMessage
	At        time.Time
}

// Executor is the example executor (an http.Handler).
type Executor struct {
	cfg  Config
	keys *oidc.RemoteKeySet

	mu      sync.Mutex
	runs    []Run
	answers map[string][]byte // by jti: what was answered, for retries
}

// New returns an executor. The key set is fetched lazily (and again when
// a grant names a key it has not seen).
func New(cfg Config) (*Executor, error) {
	if cfg.Name == "" || cfg.Issuer == "" || cfg.Token == "" {
		return nil, errors.New("exampleexecutor: name, issuer and token are required")
	}
	base := strings.TrimRight(cfg.Issuer, "/")
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = base + "/.well-known/jwks.json"
	}
	if cfg.RedeemURL == "" {
		cfg.RedeemURL = base + "/api/v1/grants/redeem"
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx := oidc.ClientContext(context.Background(), cfg.Client)
	return &Executor{cfg: cfg, keys: oidc.NewRemoteKeySet(ctx, cfg.JWKSURL), answers: map[string][]byte{}}, nil
}

// Runs returns what the executor ran, in order.
func (x *Executor) Runs() []Run {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Run(nil), x.runs...)
}

// job is what Countersign posts.
type job struct {
	RequestID string          `json:"request_id"`
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params"`
	Grant     string          `json:"grant"`
}

// claims are the grant claims this executor checks.
type claims struct {
	jwt.Claims
	Action       string   `json:"action"`
	ParamsSHA256 string   `json:"params_sha256"`
	Approvers    []string `json:"approvers"`
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func refuse(w http.ResponseWriter, status int, msg string) {
	answer(w, status, map[string]string{"status": "failed", "error": msg})
}

// ServeHTTP verifies, redeems, runs and answers.
func (x *Executor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		refuse(w, http.StatusMethodNotAllowed, "POST a job")
		return
	}
	var j job
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&j); err != nil || j.Grant == "" {
		refuse(w, http.StatusBadRequest, "want {request_id, action, params, grant}")
		return
	}
	c, err := x.verify(r.Context(), &j)
	if err != nil {
		refuse(w, http.StatusForbidden, "grant rejected: "+err.Error())
		return
	}
	x.mu.Lock()
	prev, done := x.answers[c.ID]
	x.mu.Unlock()
	if done {
		// A retry of a job already run: answer again, run nothing.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(prev)
		return
	}
	if status, err := x.redeem(r.Context(), j.Grant, c.ParamsSHA256); err != nil {
		refuse(w, status, "Countersign refused the grant: "+err.Error())
		return
	}
	// Only now, with the grant spent, run the action.
	run := Run{JTI: c.ID, RequestID: j.RequestID, Action: j.Action, Params: j.Params, At: x.cfg.Now().UTC()}
	out, _ := json.Marshal(map[string]any{
		"status": "succeeded",
		"output": map[string]any{"executor": x.cfg.Name, "ran": j.Action, "params": j.Params, "at": run.At.Format(time.RFC3339)},
	})
	x.mu.Lock()
	x.runs = append(x.runs, run)
	x.answers[c.ID] = out
	x.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// verify checks the grant against the published keys and the job.
func (x *Executor) verify(ctx context.Context, j *job) (*claims, error) {
	payload, err := x.keys.VerifySignature(ctx, j.Grant)
	if err != nil {
		return nil, errors.New("signature does not verify against the published keys")
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("claims are not JSON")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: x.cfg.Issuer, AnyAudience: jwt.Audience{x.cfg.Name}, Time: x.cfg.Now()}, 30*time.Second); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if c.ID == "" || c.Subject != j.RequestID || c.Action != j.Action {
		return nil, errors.New("the grant is for another request or action")
	}
	canon, err := jcs.Transform(j.Params)
	if err != nil {
		return nil, errors.New("params are not JSON")
	}
	sum := sha256.Sum256(canon)
	if hex.EncodeToString(sum[:]) != c.ParamsSHA256 {
		return nil, errors.New("params differ from the approved ones")
	}
	return &c, nil
}

// redeem spends the grant at Countersign.
func (x *Executor) redeem(ctx context.Context, grant, paramsHash string) (int, error) {
	body, _ := json.Marshal(map[string]string{"grant": grant, "params_sha256": paramsHash})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.cfg.RedeemURL, bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+x.cfg.Token)
	resp, err := x.cfg.Client.Do(req)
	if err != nil {
		// Countersign unreachable: let the dispatcher retry.
		return http.StatusBadGateway, errors.New("unreachable")
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return 0, nil
	}
	var refusal struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&refusal)
	status := http.StatusForbidden
	switch {
	case resp.StatusCode == http.StatusConflict:
		status = http.StatusConflict
	case resp.StatusCode >= 500:
		status = http.StatusBadGateway
	}
	return status, fmt.Errorf("%s (%s)", refusal.Error, refusal.Reason)
}
