//go:build faults

package faults

import (
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/web/exampleexecutor"
)

// TestChecksCatchBrokenPromises feeds the checks a database snapshot and
// a ledger in which every promise is broken once, and requires each check
// to say so: a check that cannot fail proves nothing about the server.
func TestChecksCatchBrokenPromises(t *testing.T) {
	w := newWorld(t)
	x, err := exampleexecutor.New(exampleexecutor.Config{Name: executorName, Issuer: "http://127.0.0.1:1", Token: executorToken})
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{t: t, w: w, executor: x}
	led := newLedger()
	key := func(k, purpose string) *keyRecord {
		r := &keyRecord{key: k, purpose: purpose, acked: map[string]int{}}
		led.addKey(r)
		return r
	}
	// REQ-LOST was acknowledged and is not stored.
	key("k-lost", "p-lost")
	led.ackCreate(created{id: "REQ-LOST", via: "agent", state: "pending", key: "k-lost", purpose: "p-lost"})
	// k-twice made two requests, one without its record.
	key("k-twice", "p-twice")
	led.ackCreate(created{id: "REQ-TWICE1", via: "agent", state: "approved", key: "k-twice", purpose: "p-twice"})
	// k-norec's request has no idempotency record, and a racer of that
	// key was told 500.
	key("k-norec", "p-norec")
	led.failedWith("k-norec", outcome{kind: opAgentSameKey, status: 500, class: classError, why: "http-500"})
	// REQ-MOVED left pending twice; REQ-CANCEL's cancel was acknowledged
	// but it is approved (and it has no request.created); REQ-SPENT was
	// redeemed by two callers.
	led.ackCreate(created{id: "REQ-MOVED", via: "slash", state: "pending", purpose: "p-moved"})
	led.ackCreate(created{id: "REQ-CANCEL", via: "slash", state: "pending", purpose: "p-cancel"})
	led.ackCancel("REQ-CANCEL")
	led.cancelFailedWith("REQ-MOVED", outcome{kind: opSlashCancel, class: classError, why: "slash: could not cancel"})
	led.ackRedeem("REQ-SPENT", "jti-1")
	led.ackRedeem("REQ-SPENT", "jti-1")
	led.ackResult("REQ-MOVED", "executed")

	snap := &snapshot{
		requests: map[string]reqRow{
			"REQ-TWICE1": {ID: "REQ-TWICE1", State: "pending", Purpose: "p-twice"},
			"REQ-TWICE2": {ID: "REQ-TWICE2", State: "approved", Purpose: "p-twice"},
			"REQ-NOREC":  {ID: "REQ-NOREC", State: "pending", Purpose: "p-norec"},
			"REQ-MOVED":  {ID: "REQ-MOVED", State: "cancelled", Purpose: "p-moved"},
			"REQ-CANCEL": {ID: "REQ-CANCEL", State: "approved", Purpose: "p-cancel"},
		},
		byPurpose: map[string][]string{"p-twice": {"REQ-TWICE1", "REQ-TWICE2"}, "p-moved": {"REQ-MOVED"}, "p-cancel": {"REQ-CANCEL"}, "p-norec": {"REQ-NOREC"}},
		events: []eventRow{
			{Seq: 1, Type: "request.created", RequestID: "REQ-TWICE1", Payload: `{}`},
			{Seq: 2, Type: "request.created", RequestID: "REQ-MOVED", Payload: `{}`},
			{Seq: 3, Type: "request.approved", RequestID: "REQ-MOVED", Payload: `{"from":"pending","to":"approved"}`},
			{Seq: 4, Type: "request.cancelled", RequestID: "REQ-MOVED", Payload: `{"from":"pending","to":"cancelled"}`},
			{Seq: 5, Type: "request.created", RequestID: "REQ-NOREC", Payload: `{}`},
			{Seq: 6, Type: "request.approved", RequestID: "REQ-CANCEL", Payload: `{"from":"pending","to":"approved"}`},
		},
		idem:       map[string]idemRow{"k-twice": {IdemKey: "k-twice", RequestID: "REQ-TWICE2"}},
		grants:     map[string]grantRow{"REQ-SPENT": {JTI: "jti-1", RequestID: "REQ-SPENT", Redeemed: 1}},
		outbox:     []outboxRow{{ID: 1, RequestID: "REQ-MOVED", Kind: "request_post", State: string(outbox.StateFailed), LastError: "403"}},
		chatPosts:  map[string]chatPostRow{"REQ-MOVED": {RequestID: "REQ-MOVED", PostID: "nosuchpostnosuchpostnosuch"}},
		executions: map[string]string{},
		// Event 4 has no search rows; a search row is left of event 9.
		unsearchable: []int64{4},
		strays:       []int64{9},
	}
	for i := 0; i < 2; i++ {
		w.fake.AddPost(&model.Post{ChannelId: w.channel.Id, UserId: w.alice.Id, Message: "dup", Props: model.StringInterface{outbox.PropKey: "same-key"}})
	}

	p := checkAll(snap, led, w, d, nil)
	for _, want := range []string{
		"acknowledged request missing",
		"idempotency key with more than one request",
		"agent request stored without its idempotency record",
		"same Idempotency-Key and body answered 5xx although the key's request was stored (the replay is the answer)",
		"client told a request id other than the key's record",
		"acknowledged request without exactly one request.created event",
		"stored state differs from the audited path",
		"request with two transitions out of the same state",
		"transition that does not start where the last ended",
		"acknowledged cancel not stored",
		"cancel answered \"could not cancel, try again\" although the request was cancelled (the loser should be told who cancelled it)",
		"grant redeemed twice (two 200 answers)",
		"grant.redeemed events do not match the grant",
		"acknowledged result not recorded",
		"request without its chat message in the outbox",
		"chat message posted more than once",
		"outbox message failed (lost)",
		"request message recorded but not in Mattermost",
		"audit event missing from the search tables",
		"search row without its audit event",
	} {
		if len(p.byCat[want]) == 0 {
			t.Errorf("check %q did not fire; fired: %s", want, strings.Join(p.order, "; "))
		}
	}
}
