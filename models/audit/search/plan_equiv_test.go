package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/models/storetest"
)

// TestPlanMatchesPlainStatement generates a log of the benchmark's kind
// (requests by people and agents with sponsors, decisions by approvers,
// purposes from the benchmark's vocabulary) and runs many random searches
// with the planned statement and with the plain one (plan_plain_test.go),
// following every page: the pages, their hits (event and request fields)
// and cursors must be identical, on SQLite and on PostgreSQL.
func TestPlanMatchesPlainStatement(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st *models.Store) {
		const events = 3000
		searchtest.Generate(t, st, events)
		s := NewSearcher(st)
		pg := st.Dialect() == models.DialectPostgres
		samples := sampleEvents(t, st)
		rng := rand.New(rand.NewPCG(16, 3))
		nonEmpty, pages := 0, 0
		for i := 0; i < 400; i++ {
			q := randomQuery(rng, events, samples[rng.IntN(len(samples))])
			if err := q.Normalize(); err != nil {
				continue
			}
			planned := pagesOf(t, s, q, func(q Query, limit int) (string, []any) { return searchSQL(pg, q, limit) })
			plain := pagesOf(t, s, q, func(q Query, limit int) (string, []any) { return plainSQL(pg, q, limit) })
			if !reflect.DeepEqual(planned, plain) {
				t.Fatalf("query %+v:\n planned %s\n plain   %s", q, describe(planned), describe(plain))
			}
			if len(planned[0].Hits) > 0 {
				nonEmpty++
			}
			pages += len(planned)
		}
		// Comparing empty results with empty results proves nothing: most
		// searches must find something.
		if nonEmpty < 120 {
			t.Fatalf("only %d of 400 searches found anything, want at least 120", nonEmpty)
		}
		t.Logf("%d searches found events, %d pages compared", nonEmpty, pages)
	})
}

// pagesOf follows q's pages with the statement build makes.
func pagesOf(t *testing.T, s *Searcher, q Query, build func(Query, int) (string, []any)) []Page {
	t.Helper()
	var out []Page
	for {
		page := Page{}
		n := 0
		query, args := build(q, q.Limit+1)
		err := s.run(context.Background(), query, args, func(h *Hit) error {
			n++
			if n > q.Limit {
				page.Next = page.Hits[len(page.Hits)-1].Event.Seq
				return errStop
			}
			page.Hits = append(page.Hits, *h)
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			t.Fatalf("query %+v: %v", q, err)
		}
		out = append(out, page)
		if page.Next == 0 || len(out) > 40 {
			return out
		}
		q.Before = page.Next
	}
}

func describe(pages []Page) string {
	var b strings.Builder
	for _, p := range pages {
		b.WriteString("[")
		for _, h := range p.Hits {
			fmt.Fprintf(&b, " %d", h.Event.Seq)
		}
		fmt.Fprintf(&b, " | next %d]", p.Next)
	}
	return b.String()
}

// sample is what one generated event offers a random search: who acted,
// asked and sponsored, by id and by name, and its purpose's words.
type sample struct {
	actors []string
	words  []string
}

// sampleEvents reads every event's actors and purpose words, so random
// searches can ask for what is there (and mostly find something).
func sampleEvents(t *testing.T, st *models.Store) []sample {
	t.Helper()
	rows, err := st.DB(context.Background()).Raw(`SELECT e.actor_id, e.actor_display, COALESCE(r.requester_id, ''), COALESCE(r.requester_name, ''),
		COALESCE(r.sponsor_id, ''), COALESCE(r.sponsor_name, ''), e.purpose FROM audit_events e LEFT JOIN requests r ON r.id = e.request_id`).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []sample
	for rows.Next() {
		v := make([]string, 7)
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]); err != nil {
			t.Fatal(err)
		}
		var s sample
		for _, a := range v[:6] {
			if a != "" {
				s.actors = append(s.actors, a)
			}
		}
		s.words = textWords(v[6])
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// randomQuery draws a search over the generated log, mostly for what ev
// holds: its actors by id or name (in other letter case too, or an unknown
// one), in every role; its purpose words, phrases and prefixes, or other
// words of the vocabulary; the other filters now and then; small page
// sizes so that searches have several pages.
func randomQuery(rng *rand.Rand, events int, ev sample) Query {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	var q Query
	switch rng.IntN(8) {
	case 0:
	case 1:
		q.Actor = strings.ToUpper(pick(ev.actors))
	case 2:
		q.Actor = pick([]string{"nobody", fmt.Sprintf("u-%04d", rng.IntN(300))})
	default:
		q.Actor = pick(ev.actors)
	}
	if q.Actor != "" && rng.IntN(3) == 0 {
		q.Role = []ActorRole{RoleActed, RoleRequester, RoleSponsor}[rng.IntN(3)]
	}
	w := ev.words
	switch rng.IntN(7) {
	case 0:
	case 1:
		q.Purpose = pick(searchtest.Verbs) + " " + pick(searchtest.Services)
	case 2:
		// A phrase of two neighbouring words.
		if i := rng.IntN(len(w) - 1); true {
			q.Purpose = `"` + w[i] + " " + w[i+1] + `"`
		}
	case 3:
		q.Purpose = pick(w[1:])[:2] + "*"
	default:
		q.Purpose = pick(w[1:]) + " " + pick(w[1:])
	}
	if rng.IntN(10) == 0 {
		q.Action = pick(searchtest.Verbs)
	}
	if rng.IntN(10) == 0 {
		q.Channel = pick([]string{"ops", "~sre", "ch-data", "Security", "none"})
	}
	if rng.IntN(10) == 0 {
		q.States = []models.State{[]models.State{models.StatePending, models.StateApproved, models.StateDenied, models.StateExecuted}[rng.IntN(4)]}
	}
	if rng.IntN(10) == 0 {
		q.Verdict = []models.Verdict{models.VerdictApprove, models.VerdictDeny}[rng.IntN(2)]
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if rng.IntN(10) == 0 {
		q.From = base.Add(time.Duration(rng.IntN(events)) * 30 * time.Second)
	}
	if rng.IntN(10) == 0 {
		q.To = base.Add(time.Duration(rng.IntN(events)+1) * 30 * time.Second)
	}
	if rng.IntN(8) == 0 {
		q.Before = int64(rng.IntN(events) + 1)
	}
	q.Limit = []int{1, 3, 7, 50}[rng.IntN(4)]
	return q
}
