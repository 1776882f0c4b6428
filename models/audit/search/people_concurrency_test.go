package search_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

// TestPeopleRowsStayInStepUnderConcurrentAppends: two stores on one
// database (two replicas) append events from several goroutines each,
// some in transactions that then fail; afterwards audit_events_people
// holds exactly the rows a plain reading of every event and its request
// says it should — none missing, none left from a rolled-back event, none
// doubled — and the chain is one chain. On PostgreSQL audit_events_words
// holds one row per committed event, with its purpose's word and exactly
// the tokens of the people it concerns.
func TestPeopleRowsStayInStepUnderConcurrentAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		stores := []*models.Store{b.Open(t), b.Open(t)}
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		// Requests by people and by sponsored agents.
		err := stores[0].WithTx(ctx, func(tx *gorm.DB) error {
			for i := range 6 {
				r := &models.Request{ID: fmt.Sprintf("REQ-C%d", i), Kind: models.KindAction, Action: "restart", Params: "{}", Purpose: "p",
					RequesterType: models.ActorHuman, RequesterID: fmt.Sprintf("u-%d", i), RequesterName: fmt.Sprintf("Person%d", i),
					ContentHash: "sha256:x", State: models.StatePending, Version: 1, RequiredApprovals: 1, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
				if i%2 == 1 {
					r.RequesterType, r.RequesterID, r.RequesterName = models.ActorAgent, fmt.Sprintf("bot-%d", i), fmt.Sprintf("Bot%d", i)
					r.SponsorID, r.SponsorName = "u-sponsor", "Sponsor"
				}
				if err := tx.Create(r).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		errPlanned := errors.New("the change failed after its audit event")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		for s, st := range stores {
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 40 {
						n := (s*4+g)*1000 + i
						err := st.WithTx(ctx, func(tx *gorm.DB) error {
							e := audit.Entry{Type: "note", Actor: models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("a-%d", n%5), Display: fmt.Sprintf("Actor%d", n%5)}, Purpose: "p"}
							if n%3 != 0 {
								e.RequestID = fmt.Sprintf("REQ-C%d", n%6)
							}
							if _, err := audit.Append(tx, t0.Add(time.Duration(n)*time.Second), e); err != nil {
								return err
							}
							if n%7 == 0 {
								return errPlanned
							}
							return nil
						})
						if err != nil && !errors.Is(err, errPlanned) {
							mu.Lock()
							failures = append(failures, err.Error())
							mu.Unlock()
						}
					}
				}()
			}
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("%d appends failed, first: %s", len(failures), failures[0])
		}

		db := stores[0].DB(ctx)
		type ev struct {
			seq                                                        int64
			actorID, actorName, reqID, reqName, sponsorID, sponsorName string
		}
		rows, err := db.Raw(`SELECT e.seq, e.actor_id, e.actor_display, COALESCE(r.requester_id, ''), COALESCE(r.requester_name, ''), COALESCE(r.sponsor_id, ''), COALESCE(r.sponsor_name, '')
			FROM audit_events e LEFT JOIN requests r ON r.id = e.request_id`).Rows()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		events := 0
		for rows.Next() {
			var e ev
			if err := rows.Scan(&e.seq, &e.actorID, &e.actorName, &e.reqID, &e.reqName, &e.sponsorID, &e.sponsorName); err != nil {
				t.Fatal(err)
			}
			events++
			for _, p := range []struct {
				role     int
				id, name string
			}{{1, e.actorID, e.actorName}, {2, e.reqID, e.reqName}, {3, e.sponsorID, e.sponsorName}} {
				if p.id != "" {
					want = append(want, fmt.Sprintf("id:%s|%d|%d", p.id, p.role, e.seq))
				}
				if p.name != "" {
					want = append(want, fmt.Sprintf("nm:%s|%d|%d", strings.ToLower(p.name), p.role, e.seq)) // ASCII names: LOWER agrees
				}
			}
		}
		_ = rows.Close()
		if wantEvents := 2*4*40 - (2*4*40+6)/7; events < wantEvents-8 || events > wantEvents+8 {
			t.Fatalf("%d events committed, want about %d (every 7th rolled back)", events, wantEvents)
		}
		var got []string
		if err := db.Raw(`SELECT who || '|' || CAST(role AS TEXT) || '|' || CAST(seq AS TEXT) FROM audit_events_people`).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("audit_events_people out of step: %d rows, want %d\nfirst got %v\nfirst want %v", len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
		}
		if stores[0].Dialect() == models.DialectPostgres {
			checkWordsInStep(t, db, want)
		}
		sqlDB, err := stores[0].SQL()
		if err != nil {
			t.Fatal(err)
		}
		if v, err := audit.Verify(ctx, sqlDB); err != nil || v.Problem != nil || v.Events != int64(events) {
			t.Fatalf("chain after concurrent appends: %+v %v (%d events)", v, err, events)
		}
	})
}

// checkWordsInStep compares audit_events_words (PostgreSQL, migration
// 0034) with people, the "who|role|seq" rows every committed event should
// have: one words row per event, holding the purpose word "p" and exactly
// the token '~' + role + 32 hex digits of SHA-256(who) of each of its
// people.
func checkWordsInStep(t *testing.T, db *gorm.DB, people []string) {
	t.Helper()
	want := map[string][]string{}
	for _, row := range people {
		parts := strings.Split(row, "|")
		who, role, seq := strings.Join(parts[:len(parts)-2], "|"), parts[len(parts)-2], parts[len(parts)-1]
		sum := sha256.Sum256([]byte(who))
		want[seq] = append(want[seq], "~"+role+hex.EncodeToString(sum[:])[:32])
	}
	var rows []struct {
		Seq     int64
		Lexemes string
	}
	if err := db.Raw(`SELECT w.seq, array_to_string(tsvector_to_array(w.words), ' ') AS lexemes FROM audit_events_words w`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	var events int64
	if err := db.Raw(`SELECT COUNT(*) FROM audit_events`).Scan(&events).Error; err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != events {
		t.Fatalf("audit_events_words has %d rows for %d events", len(rows), events)
	}
	for _, r := range rows {
		var tokens []string
		word := false
		for _, l := range strings.Fields(r.Lexemes) {
			if strings.HasPrefix(l, "~") {
				tokens = append(tokens, l)
			} else {
				word = word || l == "p"
			}
		}
		seq := fmt.Sprint(r.Seq)
		exp := append([]string(nil), want[seq]...)
		sort.Strings(exp)
		exp = slices.Compact(exp)
		sort.Strings(tokens)
		if !word || strings.Join(tokens, " ") != strings.Join(exp, " ") {
			t.Fatalf("words of event %s: %q, want the word p and tokens %v", seq, r.Lexemes, exp)
		}
	}
}
