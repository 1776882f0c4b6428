//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/web/mattermost/mmfake"
)

// Operation kinds.
const (
	opAgentCreate  = "agent.create"
	opAgentSameKey = "agent.create.same-key"
	opSlashCreate  = "slash.create"
	opSlashCancel  = "slash.cancel"
	opAgentShow    = "agent.show"
	opAgentRedeem  = "agent.redeem"
	opAgentResult  = "agent.result"
)

// newHTTPClient is the load's client: keep-alive connections for every
// client, a bound on each call.
func newHTTPClient(clients int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 4 * clients
	tr.MaxIdleConnsPerHost = 4 * clients
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// call is one HTTP exchange, timed.
type call struct {
	status  int
	body    []byte
	latency time.Duration
	at      time.Time
	err     error
}

func do(ctx context.Context, c *http.Client, req *http.Request) call {
	at := time.Now()
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return call{at: at, latency: time.Since(at), err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return call{status: resp.StatusCode, body: b, latency: time.Since(at), at: at, err: err}
}

// noAnswerKind names why no answer came.
func noAnswerKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "transport error"
}

// outcomeOf fills the common fields of an outcome from a call.
func outcomeOf(kind string, replica int, c call) outcome {
	o := outcome{kind: kind, replica: replica, at: c.at, latency: c.latency, status: c.status}
	if c.err != nil {
		o.class, o.why = classNoAnswer, noAnswerKind(c.err)
	}
	return o
}

// apiAnswer is the agent API's JSON answer (request view, error or
// redemption).
type apiAnswer struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Grant  string `json:"grant"`
	Error  string `json:"error"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
	Status string `json:"status"`
	JTI    string `json:"jti"`
}

func parseAnswer(b []byte) apiAnswer {
	var a apiAnswer
	_ = json.Unmarshal(b, &a)
	return a
}

// httpError classifies an unexpected status. Every agent call carries a
// valid credential (API key, command token), so a 401 is a wrong answer, not just a failure: an
// agent told its credential is bad stops instead of retrying.
func (l *load) httpError(o *outcome, c call) {
	o.class = classError
	a := parseAnswer(c.body)
	o.why = fmt.Sprintf("http-%d", c.status)
	if a.Error != "" {
		o.why += ": " + a.Error
	}
	if c.status == http.StatusUnauthorized {
		o.why = "wrong-answer: 401 for a valid credential"
		l.led.wrongAnswer("401 for a valid credential", "%s at %s: 401 %q for a valid credential", o.kind, c.at.Format("15:04:05.000"), a.Error)
	}
}

// newAgentKey makes a key, its proposal post and the one body sent with it.
func (l *load) newAgentKey(env string) *keyRecord {
	n := l.seq.Add(1)
	key := fmt.Sprintf("run-%d/step-%d", l.runID, n)
	post := l.d.w.fake.Post(l.d.w.channel.Id, l.d.w.agent.Id, fmt.Sprintf("I propose rotating secret s-%d in %s (step %d).", n, env, n))
	params := map[string]string{"secret": fmt.Sprintf("s-%d", n), "env": env}
	purpose := "fault run " + key
	started := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	body, err := json.Marshal(map[string]any{
		"action": "rotate", "params": params, "purpose": purpose, "proposal_post_id": post.Id,
		"tool_calls": []map[string]any{{
			"call_id": "c1", "tool": "vault.inspect", "input": map[string]any{"secret": params["secret"]},
			"output": map[string]any{"age_days": 400}, "status": "ok", "started_at": started,
		}},
	})
	if err != nil {
		panic(err)
	}
	k := &keyRecord{key: key, body: body, purpose: purpose, params: params, acked: map[string]int{}}
	l.led.addKey(k)
	return k
}

// agentCreate sends POST /api/v1/requests with k once.
func (l *load) agentCreate(ctx context.Context, kind string, replica int, k *keyRecord) outcome {
	req, _ := http.NewRequest(http.MethodPost, l.d.procs[replica].base+"/api/v1/requests", bytes.NewReader(k.body))
	req.Header.Set("Authorization", "Bearer "+l.d.apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", k.key)
	l.led.sentWith(k.key)
	c := do(ctx, l.http, req)
	o := outcomeOf(kind, replica, c)
	if c.err != nil {
		return o
	}
	a := parseAnswer(c.body)
	switch {
	case (c.status == http.StatusCreated || c.status == http.StatusOK) && a.ID != "":
		o.class = classAck
		l.led.ackCreate(created{id: a.ID, via: "agent", state: a.State, canceller: "dave", key: k.key, purpose: k.purpose, params: k.params})
	case c.status == http.StatusConflict:
		// The same bytes were sent every time: a conflict is wrong.
		o.class, o.why = classError, "wrong-answer: 409 for the same key and body"
		l.led.wrongAnswer("409 for the same Idempotency-Key and body", "key %s: 409 %q for the same body", k.key, a.Error)
	default:
		l.httpError(&o, c)
		if c.status >= 500 {
			l.led.failedWith(k.key, o)
		}
	}
	return o
}

// agentCreateRetrying sends k until it is answered, as an agent would:
// again after no answer (the server was killed) and after a 503
// (Mattermost did not answer), with the same key and body.
func (l *load) agentCreateRetrying(ctx context.Context, kind string, replica int, k *keyRecord) {
	for attempt := 0; attempt < 60 && ctx.Err() == nil; attempt++ {
		o := l.agentCreate(ctx, kind, replica, k)
		l.rec.add(o)
		if o.class != classNoAnswer && o.status != http.StatusServiceUnavailable {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	slashCreated   = regexp.MustCompile(`^\*\*(REQ-[0-9A-Z]+)\*\*`)
	slashCancelled = regexp.MustCompile(`^(REQ-[0-9A-Z]+) is cancelled\.`)
	slashNoCancel  = regexp.MustCompile(`^(REQ-[0-9A-Z]+) is (\w+), so it can no longer be cancelled`)
	// slashAlready is the answer of a cancel that lost a race: "REQ-… was
	// already cancelled by carol at 10:00:01 UTC; nothing changed."
	slashAlready = regexp.MustCompile(`^(REQ-[0-9A-Z]+) (?:was already (\w+)|is no longer pending)`)
)

// slashText classifies a slash-command reply that is neither the
// expected yes nor the expected no.
func slashText(o *outcome, text string) {
	o.class = classError
	switch {
	case strings.Contains(text, "could not store"):
		o.why = "slash: could not store"
	case strings.Contains(text, "could not read the conversation"):
		o.why = "slash: could not read the conversation"
	case strings.Contains(text, "could not look up your Mattermost account"):
		o.why = "slash: could not look up the account"
	case strings.Contains(text, "could not cancel"):
		o.why = "slash: could not cancel"
	default:
		o.why = "slash: " + firstLine(text, 60)
	}
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// slash sends one slash command as Mattermost does.
func (l *load) slash(ctx context.Context, kind string, replica int, user *model.User, text, rootID string) (outcome, string) {
	req, err := mmfake.NewSlashCommandRequest(ctx, l.d.procs[replica].base+"/hooks/mattermost/command", commandToken, mmfake.CommandFields{
		TeamID: l.d.w.team.Id, TeamDomain: l.d.w.team.Name, ChannelID: l.d.w.channel.Id, ChannelName: l.d.w.channel.Name,
		UserID: user.Id, UserName: user.Username, Command: "/countersign", Text: text,
		TriggerID: model.NewId(), RootID: rootID,
	})
	if err != nil {
		panic(err)
	}
	c := do(ctx, l.http, req)
	o := outcomeOf(kind, replica, c)
	if c.err != nil {
		return o, ""
	}
	if c.status != http.StatusOK {
		l.httpError(&o, c)
		return o, ""
	}
	var cr model.CommandResponse
	if err := json.Unmarshal(c.body, &cr); err != nil {
		o.class, o.why = classError, "slash: reply is not JSON"
		return o, ""
	}
	return o, cr.Text
}

// slashCreate opens a restart request in a new thread of user's.
func (l *load) slashCreate(ctx context.Context, replica int, user *model.User, env string) {
	n := l.seq.Add(1)
	root := l.d.w.fake.Post(l.d.w.channel.Id, user.Id, fmt.Sprintf("svc-%d in %s is flapping, restarting it", n, env))
	purpose := fmt.Sprintf("fault run %d slash %d", l.runID, n)
	text := fmt.Sprintf("restart svc-%d %s -- %s", n, env, purpose)
	o, reply := l.slash(ctx, opSlashCreate, replica, user, text, root.Id)
	if o.class == "" {
		if m := slashCreated.FindStringSubmatch(reply); m != nil {
			o.class = classAck
			state := "approved"
			if env == "prod" {
				state = "pending"
			}
			l.led.ackCreate(created{id: m[1], via: "slash", state: state, canceller: user.Username, purpose: purpose,
				params: map[string]string{"service": fmt.Sprintf("svc-%d", n), "env": env}})
		} else {
			slashText(&o, reply)
		}
	}
	l.rec.add(o)
}

// slashCancel cancels r as the person who may; the answer must match what
// happened.
func (l *load) slashCancel(ctx context.Context, replica int, r *created) {
	user := l.user(r.canceller)
	o, reply := l.slash(ctx, opSlashCancel, replica, user, "cancel "+r.id, "")
	if o.class == "" {
		m, already := slashNoCancel.FindStringSubmatch(reply), slashAlready.FindStringSubmatch(reply)
		switch {
		case slashCancelled.MatchString(reply):
			o.class = classAck
			l.led.ackCancel(r.id)
		case (m != nil && m[2] == "pending") || (already != nil && already[2] == "pending"):
			// "REQ-… is pending, so it can no longer be cancelled" is
			// never true: a pending request can be cancelled.
			o.class, o.why = classError, "wrong-answer: cancel says \"is pending, so it can no longer be cancelled\""
			l.led.wrongAnswer("cancel answered \"is pending, so it can no longer be cancelled\"", "cancel %s: %q", r.id, firstLine(reply, 120))
		case m != nil, already != nil:
			o.class = classRefused
		default:
			slashText(&o, reply)
			if strings.Contains(reply, "could not cancel") {
				l.led.cancelFailedWith(r.id, o)
			}
		}
	}
	l.rec.add(o)
}

func (l *load) user(name string) *model.User {
	switch name {
	case "alice":
		return l.d.w.alice
	case "carol":
		return l.d.w.carol
	}
	return l.d.w.dave
}

// agentShow reads the request as the agent; it returns the answer when
// there was one.
func (l *load) agentShow(ctx context.Context, replica int, id string) (apiAnswer, bool) {
	req, _ := http.NewRequest(http.MethodGet, l.d.procs[replica].base+"/api/v1/requests/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+l.d.apiKey)
	c := do(ctx, l.http, req)
	o := outcomeOf(opAgentShow, replica, c)
	var a apiAnswer
	if c.err == nil {
		if c.status == http.StatusOK {
			o.class = classAck
			a = parseAnswer(c.body)
		} else {
			l.httpError(&o, c)
		}
	}
	l.rec.add(o)
	return a, o.class == classAck
}

// agentRedeem spends the grant; racers of one grant call it at once.
func (l *load) agentRedeem(ctx context.Context, replica int, r *created, grant string) bool {
	body, _ := json.Marshal(map[string]any{"grant": grant, "params": r.params})
	req, _ := http.NewRequest(http.MethodPost, l.d.procs[replica].base+"/api/v1/requests/"+r.id+"/grant/redeem", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+l.d.apiKey)
	req.Header.Set("Content-Type", "application/json")
	c := do(ctx, l.http, req)
	o := outcomeOf(opAgentRedeem, replica, c)
	if c.err != nil {
		l.rec.add(o)
		return false
	}
	a := parseAnswer(c.body)
	switch {
	case c.status == http.StatusOK && a.Status == "redeemed":
		o.class = classAck
		l.led.ackRedeem(r.id, a.JTI)
	case c.status == http.StatusConflict && a.Reason == "replayed",
		c.status == http.StatusForbidden && (a.Reason == "expired" || a.Reason == "request_not_approved"):
		o.class = classRefused
	default:
		l.httpError(&o, c)
		if a.Reason != "" {
			o.why += " (" + a.Reason + ")"
		}
	}
	l.rec.add(o)
	return o.class == classAck
}

// agentResult reports a successful run of r.
func (l *load) agentResult(ctx context.Context, replica int, r *created) {
	now := time.Now().UTC()
	body, _ := json.Marshal(map[string]any{
		"status": "ok", "output": map[string]any{"rotated": r.params["secret"]},
		"started_at": now.Add(-time.Second).Format(time.RFC3339), "ended_at": now.Format(time.RFC3339),
	})
	req, _ := http.NewRequest(http.MethodPost, l.d.procs[replica].base+"/api/v1/requests/"+r.id+"/result", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+l.d.apiKey)
	req.Header.Set("Content-Type", "application/json")
	c := do(ctx, l.http, req)
	o := outcomeOf(opAgentResult, replica, c)
	if c.err == nil {
		a := parseAnswer(c.body)
		switch {
		case c.status == http.StatusOK:
			o.class = classAck
			l.led.ackResult(r.id, a.State)
		case c.status == http.StatusConflict:
			// already_reported after a retry, result_timed_out: a no.
			o.class = classRefused
		default:
			l.httpError(&o, c)
		}
	}
	l.rec.add(o)
}
