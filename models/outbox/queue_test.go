package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/storetest"
)

// queueRows writes rows (request, lane, kind) in order and returns their
// ids.
func queueRows(t *testing.T, s *models.Store, now time.Time, rows ...[3]string) []int64 {
	t.Helper()
	var ms []outbox.Message
	for i, r := range rows {
		ms = append(ms, outbox.Message{
			RequestID: r[0], Lane: r[1], Kind: outbox.Kind(r[2]), Payload: "{}", IdemKey: fmt.Sprintf("key%023d", i),
			State: outbox.StatePending, NextAttemptUS: now.UnixMicro(), CreatedAt: now, UpdatedAt: now,
		})
	}
	err := s.WithTx(context.Background(), func(tx *gorm.DB) error {
		for i := range ms {
			if err := tx.Create(&ms[i]).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// eachQueue runs test on an empty queue over each test database
// (storetest.Each), with its store and a time "now" both databases keep
// to the microsecond.
func eachQueue(t *testing.T, test func(t *testing.T, s *models.Store, q *outbox.Queue, now time.Time)) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		test(t, s, outbox.NewQueue(s), time.Now().UTC().Truncate(time.Microsecond))
	})
}

// claim claims up to limit rows for owner at at, with a one-minute lease,
// failing the test unless it gets want rows.
func claim(t *testing.T, q *outbox.Queue, owner string, at time.Time, limit, want int) []outbox.Message {
	t.Helper()
	got, err := q.Claim(context.Background(), owner, at, time.Minute, limit)
	if err != nil || len(got) != want {
		t.Fatalf("%s claimed %d rows (%+v), %v; want %d", owner, len(got), got, err, want)
	}
	return got
}

func rowByID(t *testing.T, q *outbox.Queue, requestID string, id int64) outbox.Message {
	t.Helper()
	rows, err := q.ForRequest(context.Background(), requestID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rows {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("row %d of %s not found", id, requestID)
	return outbox.Message{}
}

// A claimed request-message row supersedes the later request-message rows
// of its request seen at the claim, and only those: Done marks them done
// in its transaction; rows of other kinds between them, rows of other
// requests, and rows queued after the claim stay pending, in lane order.
func TestRequestPostSupersedesLaterUpdatesSeenAtClaim(t *testing.T) {
	eachQueue(t, func(t *testing.T, s *models.Store, q *outbox.Queue, now time.Time) {
		ctx := context.Background()
		rp, dr := string(outbox.KindRequestPost), string(outbox.KindDecisionReply)
		ids := queueRows(t, s, now,
			[3]string{"REQ-A", "REQ-A", rp}, // 0: claimed
			[3]string{"REQ-A", "REQ-A", dr}, // 1
			[3]string{"REQ-A", "REQ-A", rp}, // 2: superseded
			[3]string{"REQ-B", "REQ-B", rp}, // 3: other request, claimed
			[3]string{"REQ-A", "REQ-A", dr}, // 4
			[3]string{"REQ-A", "REQ-A", rp}, // 5: superseded
		)
		got := claim(t, q, "w1", now, 10, 2)
		if got[0].ID != ids[0] || got[1].ID != ids[3] {
			t.Fatalf("claimed %+v, want the heads of lanes A and B", got)
		}
		if fmt.Sprint(got[0].Supersedes) != fmt.Sprint([]int64{ids[2], ids[5]}) || len(got[1].Supersedes) != 0 {
			t.Fatalf("supersedes A %v, B %v; want A [%d %d], B none", got[0].Supersedes, got[1].Supersedes, ids[2], ids[5])
		}
		// A change committed after the claim brings a row the claimed one
		// did not render: it must stay.
		late := queueRows(t, s, now, [3]string{"REQ-A", "REQ-A", rp})[0]
		if err := q.Done(ctx, &got[0], "w1", "post1", now); err != nil {
			t.Fatal(err)
		}
		want := map[int64]outbox.State{ids[0]: outbox.StateDone, ids[1]: outbox.StatePending, ids[2]: outbox.StateDone,
			ids[3]: outbox.StatePending, ids[4]: outbox.StatePending, ids[5]: outbox.StateDone, late: outbox.StatePending}
		for id, st := range want {
			req := "REQ-A"
			if id == ids[3] {
				req = "REQ-B"
			}
			m := rowByID(t, q, req, id)
			if m.State != st {
				t.Errorf("row %d is %s, want %s", id, m.State, st)
			}
			if st == outbox.StateDone && m.PostID != "post1" {
				t.Errorf("row %d done with post %q, want post1", id, m.PostID)
			}
		}
		// The lane goes on in order: the first decision reply is next.
		if next := claim(t, q, "w1", now, 10, 1); next[0].ID != ids[1] {
			t.Fatalf("next claim %+v, want row %d", next, ids[1])
		}
	})
}

// A superseded row is not marked when the claimed row's result is not
// recorded (lease lost): the whole Done rolls back.
func TestSupersedingRollsBackWithALostLease(t *testing.T) {
	eachQueue(t, func(t *testing.T, s *models.Store, q *outbox.Queue, now time.Time) {
		ctx := context.Background()
		rp := string(outbox.KindRequestPost)
		ids := queueRows(t, s, now, [3]string{"REQ-A", "REQ-A", rp}, [3]string{"REQ-A", "REQ-A", rp})
		got := claim(t, q, "w1", now, 10, 1)
		// w2 takes the row over after the lease ran out, and finishes it.
		later := now.Add(2 * time.Minute)
		if taken := claim(t, q, "w2", later, 10, 1); taken[0].ID != ids[0] {
			t.Fatalf("takeover %v", taken)
		}
		if err := q.Done(ctx, &got[0], "w1", "p", later); err == nil {
			t.Fatal("w1 recorded a result for a row it no longer leases")
		}
		if m := rowByID(t, q, "REQ-A", ids[1]); m.State != outbox.StatePending {
			t.Fatalf("row %d superseded by a lost lease: %s", ids[1], m.State)
		}
	})
}

// Hold gives the attempt back, makes the row due at once, and keeps the
// reason, so the next attempt knows an earlier one may have been sent.
func TestHoldReturnsTheAttempt(t *testing.T) {
	eachQueue(t, func(t *testing.T, s *models.Store, q *outbox.Queue, now time.Time) {
		ctx := context.Background()
		id := queueRows(t, s, now, [3]string{"REQ-A", "REQ-A", string(outbox.KindDecisionReply)})[0]
		for round := range 5 {
			at := now.Add(time.Duration(round) * time.Hour)
			got := claim(t, q, "w1", at, 1, 1) // a held row must be due at once
			if got[0].Attempts != 1 {
				t.Fatalf("round %d: attempt %d, want 1: holds must not count", round, got[0].Attempts)
			}
			if round > 0 && !got[0].MayHaveBeenSent() {
				t.Fatalf("round %d: a held row must be treated as possibly sent", round)
			}
			if err := q.Hold(ctx, &got[0], "w1", "held: down", at); err != nil {
				t.Fatal(err)
			}
		}
		m := rowByID(t, q, "REQ-A", id)
		if m.State != outbox.StatePending || m.Attempts != 0 || m.LastError != "held: down" || m.LeaseOwner != "" {
			t.Fatalf("held row %+v", m)
		}
	})
}

// Many claimers on two stores (two processes on one database) never hold
// one row twice, never hold two rows of one lane at once, and see each
// lane's rows in id order.
func TestConcurrentClaimersKeepLanes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		stores := []*models.Store{b.Open(t), b.Open(t)}
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		const lanes, perLane = 12, 5
		var rows [][3]string
		for i := range perLane {
			for l := range lanes {
				kind := outbox.KindDecisionReply
				if i == 0 {
					kind = outbox.KindRequestPost
				}
				rows = append(rows, [3]string{fmt.Sprintf("REQ-%d", l), fmt.Sprintf("REQ-%d", l), string(kind)})
			}
		}
		queueRows(t, stores[0], now, rows...)
		var mu sync.Mutex
		busy := map[string]int64{}
		last := map[string]int64{}
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for si, s := range stores {
			q := outbox.NewQueue(s)
			for g := range 4 {
				owner := fmt.Sprintf("s%d-g%d", si, g)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for idle := 0; idle < 3; {
						got, err := q.Claim(ctx, owner, now, time.Hour, 3)
						if err != nil {
							t.Error(err)
							return
						}
						if len(got) == 0 {
							idle++
							continue
						}
						idle = 0
						mu.Lock()
						for _, m := range got {
							seen[m.ID]++
							if other, ok := busy[m.Lane]; ok {
								t.Errorf("rows %d and %d of lane %s held at once", other, m.ID, m.Lane)
							}
							if m.ID < last[m.Lane] {
								t.Errorf("lane %s: row %d after row %d", m.Lane, m.ID, last[m.Lane])
							}
							busy[m.Lane], last[m.Lane] = m.ID, m.ID
						}
						mu.Unlock()
						for i := range got {
							mu.Lock()
							delete(busy, got[i].Lane)
							mu.Unlock()
							if err := q.Done(ctx, &got[i], owner, "", now); err != nil {
								t.Error(err)
							}
						}
					}
				}()
			}
		}
		wg.Wait()
		if len(seen) != lanes*perLane {
			t.Fatalf("%d rows handled, want %d", len(seen), lanes*perLane)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("row %d claimed %d times", id, n)
			}
		}
	})
}

// Release gives claimed rows back as if never claimed: no lease, the
// attempt returned, due at once; a row another owner holds is left alone.
func TestReleaseGivesBackUnstartedRows(t *testing.T) {
	eachQueue(t, func(t *testing.T, s *models.Store, q *outbox.Queue, now time.Time) {
		ctx := context.Background()
		dr := string(outbox.KindDecisionReply)
		queueRows(t, s, now, [3]string{"REQ-A", "REQ-A", dr}, [3]string{"REQ-B", "REQ-B", dr})
		mine, theirs := claim(t, q, "w1", now, 1, 1), claim(t, q, "w2", now, 1, 1)
		if err := q.Release(ctx, append(mine, theirs...), "w1", now); err != nil {
			t.Fatal(err)
		}
		if m := rowByID(t, q, mine[0].RequestID, mine[0].ID); m.Attempts != 0 || m.LeaseOwner != "" || m.LeaseUntilUS != 0 {
			t.Fatalf("released row %+v", m)
		}
		if m := rowByID(t, q, theirs[0].RequestID, theirs[0].ID); m.Attempts != 1 || m.LeaseOwner != "w2" {
			t.Fatalf("w2's row was released by w1: %+v", m)
		}
		if again := claim(t, q, "w3", now, 5, 1); again[0].ID != mine[0].ID || again[0].Attempts != 1 {
			t.Fatalf("released row not due at once: %+v", again)
		}
	})
}

// One Record call writes every kind of outcome at once, each as its own
// method would, and tells a row whose lease was lost from the others.
func TestRecordWritesMixedOutcomesInOneBatch(t *testing.T) {
	eachQueue(t, func(t *testing.T, s *models.Store, q *outbox.Queue, now time.Time) {
		ctx := context.Background()
		rp, dr, na := string(outbox.KindRequestPost), string(outbox.KindDecisionReply), string(outbox.KindNotifyApprovers)
		ids := queueRows(t, s, now,
			[3]string{"REQ-A", "REQ-A", rp}, // 0 delivered
			[3]string{"REQ-B", "REQ-B", na}, // 1 expanded
			[3]string{"REQ-C", "REQ-C", dr}, // 2 retried
			[3]string{"REQ-D", "REQ-D", dr}, // 3 held
			[3]string{"REQ-E", "REQ-E", dr}, // 4 failed
			[3]string{"REQ-F", "REQ-F", dr}, // 5 taken over
			[3]string{"REQ-A", "REQ-A", rp}, // 6 superseded by 0
		)
		got := claim(t, q, "w1", now, 10, 6)
		later := now.Add(2 * time.Minute)
		// w2 takes F over after w1's lease ran out (A–E are finished by
		// w1 below with their own results, which still count: w1 is
		// their owner).
		if err := s.WithTx(ctx, func(tx *gorm.DB) error {
			return tx.Exec("UPDATE outbox_messages SET lease_owner = 'w2' WHERE id = ?", ids[5]).Error
		}); err != nil {
			t.Fatal(err)
		}
		next := later.Add(time.Hour)
		errs := q.Record(ctx, "w1", []outbox.Result{
			{Message: &got[0], Outcome: outbox.Delivered, PostID: "postA"},
			{Message: &got[1], Outcome: outbox.Expanded, Children: []outbox.Message{{Lane: "REQ-B/dm/x", Kind: outbox.KindApproverDM, Recipient: "x"}}},
			{Message: &got[2], Outcome: outbox.Retried, Next: next, Reason: "503"},
			{Message: &got[3], Outcome: outbox.Held, Reason: "held: down"},
			{Message: &got[4], Outcome: outbox.Failed, Reason: "403"},
			{Message: &got[5], Outcome: outbox.Delivered, PostID: "postF"},
		}, later)
		for i, err := range errs {
			if i == 5 {
				if !errors.Is(err, outbox.ErrLeaseLost) {
					t.Errorf("taken-over row: %v, want ErrLeaseLost", err)
				}
			} else if err != nil {
				t.Errorf("result %d: %v", i, err)
			}
		}
		check := func(req string, id int64, st outbox.State, attempts int, post, lastErr string, nextUS int64) {
			t.Helper()
			m := rowByID(t, q, req, id)
			if m.State != st || m.Attempts != attempts || m.PostID != post || m.LastError != lastErr || (nextUS != 0 && m.NextAttemptUS != nextUS) {
				t.Errorf("row %d: %s attempts %d post %q error %q next %d; want %s %d %q %q %d", id, m.State, m.Attempts, m.PostID, m.LastError, m.NextAttemptUS, st, attempts, post, lastErr, nextUS)
			}
			if m.LeaseOwner != "" && m.LeaseOwner != "w2" {
				t.Errorf("row %d still leased by %s", id, m.LeaseOwner)
			}
		}
		check("REQ-A", ids[0], outbox.StateDone, 1, "postA", "", 0)
		check("REQ-A", ids[6], outbox.StateDone, 0, "postA", "", 0)
		check("REQ-B", ids[1], outbox.StateDone, 1, "", "", 0)
		check("REQ-C", ids[2], outbox.StatePending, 1, "", "503", next.UnixMicro())
		check("REQ-D", ids[3], outbox.StatePending, 0, "", "held: down", later.UnixMicro())
		check("REQ-E", ids[4], outbox.StateFailed, 1, "", "403", 0)
		check("REQ-F", ids[5], outbox.StatePending, 1, "", "", 0)
		kids, _ := q.ForRequest(ctx, "REQ-B")
		if len(kids) != 2 || kids[1].Kind != outbox.KindApproverDM || kids[1].State != outbox.StatePending || kids[1].IdemKey == "" || kids[1].Payload != "{}" {
			t.Fatalf("expanded rows %+v", kids)
		}
	})
}
