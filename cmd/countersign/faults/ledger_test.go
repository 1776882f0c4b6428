//go:build faults

package faults

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// keyRecord is one Idempotency-Key and the one body sent with it (every
// retry and every racer sends exactly these bytes).
type keyRecord struct {
	key     string
	body    []byte
	purpose string
	params  map[string]string
	// acked are the request ids the server answered with (2xx), counted.
	acked map[string]int
	// sent counts the calls made with this key.
	sent int
	// failed are the calls answered with a 5xx.
	failed []outcome
}

// created is a request the server acknowledged.
type created struct {
	id  string
	via string // "agent" or "slash"
	// state is the state the acknowledgement reported (for slash commands,
	// what the policy makes of the env).
	state string
	// canceller is the Mattermost user who may cancel it.
	canceller string
	key       string
	purpose   string
	params    map[string]string
}

// ledger is what the clients were told: every acknowledged request,
// cancel, redemption and result, and answers that contradicted the
// stored state as the load went on. The checks compare it with the
// database afterwards.
type ledger struct {
	mu       sync.Mutex
	keys     map[string]*keyRecord
	requests map[string]*created
	// pending are acknowledged pending requests not yet picked for a cancel.
	pending []string
	// approved are acknowledged approved agent requests not yet picked
	// for a redemption.
	approved []string
	// cancelAcks counts "is cancelled" answers per request.
	cancelAcks map[string]int
	// cancelFailed are cancels answered "could not cancel", by request.
	cancelFailed map[string][]outcome
	// redeemAcks counts 200 redemptions per request; redeemJTI is the jti.
	redeemAcks map[string]int
	redeemJTI  map[string]string
	// resultAcks records the state a result report ended in per request.
	resultAcks map[string]string
	// slashPurposes are the purposes of acknowledged slash requests.
	slashPurposes map[string]string
	// wrong are answers that contradicted the stored state, as seen,
	// with their category.
	wrong [][2]string
}

func newLedger() *ledger {
	return &ledger{
		keys: map[string]*keyRecord{}, requests: map[string]*created{},
		cancelAcks: map[string]int{}, cancelFailed: map[string][]outcome{}, redeemAcks: map[string]int{}, redeemJTI: map[string]string{},
		resultAcks: map[string]string{}, slashPurposes: map[string]string{},
	}
}

func (l *ledger) addKey(k *keyRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys[k.key] = k
}

// ackCreate notes an acknowledged create. Two different ids for one key
// are wrong at once: the promise is one request per key.
func (l *ledger) ackCreate(c created) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.key != "" {
		k := l.keys[c.key]
		k.acked[c.id]++
		if len(k.acked) == 2 && k.acked[c.id] == 1 {
			l.wrong = append(l.wrong, [2]string{"one idempotency key answered with different request ids", fmt.Sprintf("key %s: %v", c.key, k.acked)})
		}
	}
	if _, seen := l.requests[c.id]; seen {
		return
	}
	cc := c
	l.requests[c.id] = &cc
	if c.via == "slash" {
		l.slashPurposes[c.id] = c.purpose
	}
	switch c.state {
	case "pending":
		l.pending = append(l.pending, c.id)
	case "approved":
		if c.via == "agent" {
			l.approved = append(l.approved, c.id)
		}
	}
}

// failedWith notes a 5xx answer to a call with key.
func (l *ledger) failedWith(key string, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys[key].failed = append(l.keys[key].failed, o)
}

func (l *ledger) sentWith(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys[key].sent++
}

// takeFrom removes a random id from list (one of l's, guarded by l.mu)
// and returns its request, or nil when list is empty.
func (l *ledger) takeFrom(list *[]string, rng *rand.Rand) *created {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(*list) == 0 {
		return nil
	}
	i := rng.IntN(len(*list))
	id := (*list)[i]
	(*list)[i] = (*list)[len(*list)-1]
	*list = (*list)[:len(*list)-1]
	return l.requests[id]
}

// takePending picks an acknowledged pending request for a cancel.
func (l *ledger) takePending(rng *rand.Rand) *created { return l.takeFrom(&l.pending, rng) }

// takeApproved picks an acknowledged approved agent request to redeem.
func (l *ledger) takeApproved(rng *rand.Rand) *created { return l.takeFrom(&l.approved, rng) }

func (l *ledger) ackCancel(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancelAcks[id]++
}

func (l *ledger) cancelFailedWith(id string, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancelFailed[id] = append(l.cancelFailed[id], o)
}

func (l *ledger) ackRedeem(id, jti string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.redeemAcks[id]++
	l.redeemJTI[id] = jti
}

func (l *ledger) ackResult(id, state string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resultAcks[id] = state
}

func (l *ledger) wrongAnswer(category, format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wrong = append(l.wrong, [2]string{category, fmt.Sprintf(format, a...)})
}
