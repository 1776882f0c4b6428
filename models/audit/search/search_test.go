package search_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/models/storetest"
)

// searchSeqs runs the search given as a query string and returns the
// event numbers found (all pages).
func searchSeqs(t *testing.T, s *search.Searcher, query string) []int64 {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.ParseQuery(v)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	out := []int64{}
	for {
		page, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		for _, h := range page.Hits {
			out = append(out, h.Event.Seq)
		}
		if page.Next == 0 {
			return out
		}
		q.Before = page.Next
	}
}

func TestSearchFilters(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st *models.Store) {
		searchtest.Seed(t, st)
		s := search.NewSearcher(st)
		at := func(seq int64, d time.Duration) string {
			return url.QueryEscape(searchtest.At(seq).Add(d).Format(time.RFC3339))
		}
		cases := []struct {
			query string
			want  []int64
		}{
			{"", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			// Actor: by id or name, in any capacity by default.
			{"actor=alice", []int64{4, 3, 1}},
			{"actor=ALICE", []int64{4, 3, 1}},
			{"actor=u-alice", []int64{4, 3, 1}},
			{"actor=alice&role=acted", []int64{1}},
			{"actor=alice&role=requester", []int64{4, 3, 1}},
			{"actor=deploy-bot", []int64{9, 8, 6, 5, 2}},
			{"actor=bot-deploy&role=acted", []int64{8, 2}},
			{"actor=bob", []int64{9, 8, 6, 5, 2}},
			{"actor=u-bob&role=sponsor", []int64{9, 8, 6, 5, 2}},
			{"actor=bob&role=requester", []int64{}},
			{"actor=bob&role=acted", []int64{}},
			{"actor=Dave+Approver", []int64{6, 5, 4, 3}},
			{"actor=sub-dave&role=acted", []int64{6, 5, 4, 3}},
			{"purpose=%22database+sec*%22", []int64{6, 5, 2}},
			{"purpose=%22database+sec%22", []int64{}},
			{"actor=erin+%C3%9Cnal", []int64{9}}, // case folds for ASCII on both engines
			{"actor=Erin+%C3%9Cnal", []int64{9}},
			{"actor=countersign&role=acted", []int64{10}},
			{"actor=nobody", []int64{}},
			// Purpose: words, phrases, prefixes.
			{"purpose=INC-4211", []int64{6, 5, 4, 3, 2, 1}},
			{"purpose=inc+4211", []int64{6, 5, 4, 3, 2, 1}},
			{"purpose=restart+api", []int64{4, 3, 1}},
			{"purpose=api+restart", []int64{4, 3, 1}},
			{"purpose=%22restart+api%22", []int64{4, 3, 1}},
			{"purpose=%22api+restart%22", []int64{}},
			{"purpose=rot*", []int64{6, 5, 2}},
			{"purpose=ROTA*+secret", []int64{6, 5, 2}},
			{"purpose=%22database+sec*", []int64{6, 5, 2}},
			{"purpose=rollback", []int64{}},
			{"purpose=caf%C3%A9", []int64{7}},
			{"purpose=na%C3%AFve+%C3%BCn%C3%AFc%C3%B6d%C3%A9", []int64{7}},
			// Action, channel, state, verdict.
			{"action=restart", []int64{7, 4, 3, 1}},
			{"action=RESTART", []int64{}},
			{"channel=ops", []int64{9, 8, 7, 4, 3, 1}},
			{"channel=~OPS", []int64{9, 8, 7, 4, 3, 1}},
			{"channel=ch-sec", []int64{6, 5, 2}},
			{"state=pending", []int64{9, 8, 7}},
			{"state=approved,denied", []int64{6, 5, 4, 3, 2, 1}},
			{"state=approved&state=denied", []int64{6, 5, 4, 3, 2, 1}},
			{"verdict=approve", []int64{9, 3}},
			{"verdict=deny", []int64{5}},
			// Time range: from inclusive, to exclusive; a bare date is a whole day.
			{"from=" + at(3, 0) + "&to=" + at(5, 0), []int64{4, 3}},
			{"from=" + at(9, time.Second), []int64{10}},
			{"to=" + at(2, time.Second), []int64{2, 1}},
			{"from=2026-03-01&to=2026-03-01", []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"from=2026-03-02", []int64{}},
			{"to=2026-02-28", []int64{}},
			{"from=2026-03-01T12:00&to=2026-03-01T13:00", []int64{3}},
			{"from=2026-03-01T13:00:00%2B01:00&to=2026-03-01T13:00", []int64{3}},
			// Combinations.
			{"actor=deploy-bot&purpose=INC-4211", []int64{6, 5, 2}},
			{"actor=deploy-bot&verdict=deny", []int64{5}},
			{"actor=deploy-bot&channel=ops&state=pending", []int64{9, 8}},
			{"actor=dave&purpose=restart", []int64{}},
			{"actor=Dave+Approver&role=acted&purpose=restart&verdict=approve", []int64{3}},
			{"purpose=INC-4211&action=rotate-secret&channel=security&state=denied&verdict=deny&from=" + at(5, 0), []int64{5}},
			{"action=restart&state=pending&channel=ops", []int64{7}},
			// Hostile text is text.
			{"purpose=NEAR(", []int64{9, 8}},
			{"purpose=NEAR(x+y)", []int64{9, 8}},
			{"purpose=OR", []int64{9, 8}},
			{"purpose=a+OR+b", []int64{}},
			{"purpose=%27%3B+DROP+TABLE", []int64{9, 8}},
			{"purpose=audit_events", []int64{9, 8}},
			{"purpose=100%25", []int64{6, 5, 2}},
			{"purpose=%22urgent%22", []int64{6, 5, 2}},
			{"purpose=_done_", []int64{6, 5, 2}},
			{"purpose=%22%22%22urgent", []int64{6, 5, 2}},
			{"purpose=workers*+-+scale:*", []int64{9, 8}},
			{"purpose=%7Bpurpose%7D:+scale", []int64{}},
			{"purpose=scale+%7Bpurpose%7D", []int64{}},
			{"purpose=scale+NOT+workers", []int64{}},
			{"actor=%27+OR+1%3D1+--", []int64{}},
			{"actor=%25", []int64{}},
			{"actor=_", []int64{}},
			{"channel=%25", []int64{}},
			{"action=%27%3B+DROP+TABLE+audit_events%3B+--", []int64{}},
		}
		for _, c := range cases {
			got := searchSeqs(t, s, c.query)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: got %v, want %v", c.query, got, c.want)
			}
		}
		// The hostile strings left the schema alone.
		if got := searchSeqs(t, s, ""); len(got) != 10 {
			t.Fatalf("after hostile searches: %d events", len(got))
		}
	})
}

func TestSearchResultsCarryRequestContext(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st *models.Store) {
		searchtest.Seed(t, st)
		q, _ := search.ParseQuery(url.Values{"actor": {"alice"}, "verdict": {"approve"}})
		page, err := search.NewSearcher(st).Search(context.Background(), q)
		if err != nil || len(page.Hits) != 1 {
			t.Fatalf("search: %v %+v", err, page)
		}
		h := page.Hits[0]
		want := search.HitRequest{State: models.StateApproved, TeamName: "acme", ChannelID: "ch-ops", ChannelName: "ops", RootPostID: "post-r1", TriggerPostID: "trig-REQ-R1"}
		if h.Request != want || h.Request.ThreadPostID() != "post-r1" {
			t.Fatalf("request context %+v", h.Request)
		}
		if h.Event.Type != "decision.approve" || h.Event.ActorID != "sub-dave" || h.Event.RequestID != "REQ-R1" || h.Event.AtUnixUS != searchtest.At(3).UnixMicro() {
			t.Fatalf("event %+v", h.Event)
		}
		// The event is the stored one, hash and all.
		if got := audit.NewHasher().Sum(h.Event.Fields()); string(got) != h.Event.Hash {
			t.Fatal("search result does not hash to its stored hash")
		}
	})
}

func TestSearchRefusesMalformedFilters(t *testing.T) {
	cases := map[string]string{
		"from=yesterday":                            "from",
		"from=2026-13-01":                           "from",
		"to=2026-02-30":                             "to",
		"to=03/01/2026":                             "to",
		"from=2026-03-02&to=2026-03-01":             "to",
		"from=2026-03-01T10:00&to=2026-03-01T10:00": "to",
		"from=0001-01-01":                           "from",
		"state=pending,open":                        "state",
		"verdict=maybe":                             "verdict",
		"role=owner&actor=x":                        "role",
		"role=acted":                                "role",
		"before=abc":                                "before",
		"before=-3":                                 "before",
		"limit=0":                                   "limit",
		"limit=100000":                              "limit",
		"purpose=%22":                               "purpose",
		"purpose=*":                                 "purpose",
		"purpose=%25":                               "purpose",
		"purpose=_":                                 "purpose",
		"purpose=a*":                                "purpose",
		"purpose=" + strings.Repeat("x+", 20):       "purpose",
		"purpose=" + strings.Repeat("y", 201):       "purpose",
		"purpose=%FF%FE":                            "purpose",
		"actor=" + strings.Repeat("z", 201):         "actor",
	}
	for query, field := range cases {
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = search.ParseQuery(v)
		var ve *models.ValidationError
		if !errors.As(err, &ve) || ve.Field != field || !errors.Is(err, models.ErrInvalid) {
			t.Errorf("%s: want a validation error on %s, got %v", query, field, err)
			continue
		}
		if ve.Reason == "" {
			t.Errorf("%s: empty reason", query)
		}
	}
	// Search itself refuses an unchecked Query the same way.
	st := storetest.SQLite(t).Open(t)
	if _, err := search.NewSearcher(st).Search(context.Background(), search.Query{Verdict: "maybe"}); !errors.Is(err, models.ErrInvalid) {
		t.Fatalf("Search with a bad verdict: %v", err)
	}
}

func TestSearchQueryValuesRoundTrip(t *testing.T) {
	v := url.Values{"actor": {"deploy-bot"}, "role": {"acted"}, "purpose": {`"db secret" rot*`}, "action": {"rotate-secret"},
		"channel": {"security"}, "state": {"denied", "pending"}, "verdict": {"deny"}, "from": {"2026-03-01T10:00:00Z"}, "to": {"2026-03-02T00:00:00Z"}}
	q, err := search.ParseQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Values(); !reflect.DeepEqual(got, v) {
		t.Fatalf("values %v, want %v", got, v)
	}
}

// TestSearchPaging walks every page of a search while events are appended
// between pages: each event is seen exactly once, in order, none is missed.
func TestSearchPaging(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st *models.Store) {
		audittest.Seed(t, st, 53, "page")
		s := search.NewSearcher(st)
		q := search.Query{Purpose: "rollout", Limit: 7}
		var got []int64
		for pages := 0; ; pages++ {
			page, err := s.Search(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Hits) == 0 || len(page.Hits) > 7 {
				t.Fatalf("page %d has %d hits", pages, len(page.Hits))
			}
			for _, h := range page.Hits {
				got = append(got, h.Event.Seq)
			}
			audittest.Seed(t, st, 3, "more") // newer events must not shift later pages
			if page.Next == 0 {
				break
			}
			if page.Next != page.Hits[len(page.Hits)-1].Event.Seq {
				t.Fatalf("cursor %d is not the last hit", page.Next)
			}
			q.Before = page.Next
		}
		if len(got) != 53 {
			t.Fatalf("%d events over the pages, want 53: %v", len(got), got)
		}
		for i, seq := range got {
			if seq != int64(53-i) {
				t.Fatalf("position %d: event %d, want %d (duplicates or gaps): %v", i, seq, 53-i, got)
			}
		}
	})
}

// TestSearchIndexFollowsTransactions: an event's index entry commits and
// rolls back with it.
func TestSearchIndexFollowsTransactions(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st *models.Store) {
		s := search.NewSearcher(st)
		appendPurpose := func(purpose string, fail bool) error {
			return st.WithTx(context.Background(), func(tx *gorm.DB) error {
				if _, err := audit.Append(tx, time.Now(), audit.Entry{Type: "note", Actor: searchtest.Alice, Purpose: purpose}); err != nil {
					return err
				}
				if fail {
					return errors.New("the change failed after its audit event")
				}
				return nil
			})
		}
		if err := appendPurpose("zebracorn committed", false); err != nil {
			t.Fatal(err)
		}
		if err := appendPurpose("quokkafish rolled back", true); err == nil {
			t.Fatal("want the failing transaction's error")
		}
		if got := searchSeqs(t, s, "purpose=zebracorn"); !reflect.DeepEqual(got, []int64{1}) {
			t.Fatalf("committed event: %v", got)
		}
		if got := searchSeqs(t, s, "purpose=quokkafish"); len(got) != 0 {
			t.Fatalf("rolled-back event found: %v", got)
		}
		// The next event takes the rolled-back number; the index must not
		// still hold the rolled-back text under it.
		if err := appendPurpose("platypoodle", false); err != nil {
			t.Fatal(err)
		}
		if got := searchSeqs(t, s, "purpose=platypoodle"); !reflect.DeepEqual(got, []int64{2}) {
			t.Fatalf("next event: %v", got)
		}
		if got := searchSeqs(t, s, "purpose=quokkafish"); len(got) != 0 {
			t.Fatalf("rolled-back text indexed: %v", got)
		}
		if st.Dialect() == models.DialectSQLite {
			var n int64
			if err := st.DB(context.Background()).Raw(`SELECT COUNT(*) FROM audit_search`).Scan(&n).Error; err != nil || n != 2 {
				t.Fatalf("index rows %d (%v), want 2", n, err)
			}
			if err := st.DB(context.Background()).Exec(`INSERT INTO audit_search (audit_search, rank) VALUES ('integrity-check', 1)`).Error; err != nil {
				t.Fatalf("FTS integrity check: %v", err)
			}
		}
	})
}

// undoWords undoes migrations 0034 and most of 0033 on PostgreSQL (0034
// changed 0033's trigger to write its rows too): the functions, triggers
// and tables go; undoPeople's statements finish undoing 0033, and the next
// start runs both again.
var undoWords = []string{
	`DROP FUNCTION audit_events_people_add CASCADE`, `DROP FUNCTION audit_events_people_drop CASCADE`,
	`DROP TABLE audit_events_people`, `DROP TABLE audit_events_words`, `DROP FUNCTION audit_people_query`, `DROP FUNCTION audit_who_token`, `DROP FUNCTION audit_purpose_words`,
	`DELETE FROM schema_migrations WHERE version = 34`,
}

// undoPeople finishes undoing migration 0033 (after its table and
// triggers are gone): the indexes it dropped come back.
var undoPeople = []string{
	`CREATE INDEX audit_events_actor ON audit_events (actor_id, seq)`,
	`CREATE INDEX audit_events_actor_display ON audit_events (LOWER(actor_display), seq)`,
	`DELETE FROM schema_migrations WHERE version = 33`,
}

// TestMigrationBackfillsSearchIndex: events written before the search
// migration (0011; on PostgreSQL also 0034, which now holds the words) are
// found after it.
func TestMigrationBackfillsSearchIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := b.Open(t)
		searchtest.Seed(t, st)
		undo := []string{
			`DROP TRIGGER audit_events_search_insert`, `DROP TRIGGER audit_events_search_delete`, `DROP TRIGGER audit_events_search_update`,
			`DROP TABLE audit_search`,
		}
		if st.Dialect() == models.DialectPostgres {
			// On PostgreSQL the words are in audit_events_words since
			// 0034 (0011's column is gone): that migration is undone.
			undo = append(undoWords, undoPeople...)
		}
		// (audit_events_actor and audit_events_actor_display, which this
		// migration also made, are gone since 0033; running it again makes
		// them again, harmlessly.)
		if st.Dialect() == models.DialectSQLite {
			undo = append(undo, `DROP INDEX audit_events_action`,
				`DROP INDEX audit_events_type`, `DROP INDEX audit_events_at`, `DROP INDEX requests_sponsor`, `DROP INDEX requests_channel_name_lower`,
				`DELETE FROM schema_migrations WHERE version = 11`)
		}
		for _, stmt := range undo {
			if err := st.DB(context.Background()).Exec(stmt).Error; err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		// An event written while the index does not exist.
		if err := st.WithTx(context.Background(), func(tx *gorm.DB) error {
			_, err := audit.Append(tx, searchtest.At(11), audit.Entry{Type: "note", Actor: searchtest.Carol, Purpose: "written before the index"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		st = b.Open(t) // migrates again
		s := search.NewSearcher(st)
		if got := searchSeqs(t, s, "purpose=INC-4211"); !reflect.DeepEqual(got, []int64{6, 5, 4, 3, 2, 1}) {
			t.Fatalf("after backfill: %v", got)
		}
		if got := searchSeqs(t, s, fmt.Sprintf("purpose=%s", url.QueryEscape(`"before the index"`))); !reflect.DeepEqual(got, []int64{11}) {
			t.Fatalf("after backfill: %v", got)
		}
	})
}

// TestMigrationBackfillsPeople: events written before migration 0033 are
// found by actor, in every capacity, after it; and the table stays in step
// with hand edits of events.
func TestMigrationBackfillsPeople(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := b.Open(t)
		ctx := context.Background()
		undo := []string{
			`DROP TRIGGER audit_events_people_insert`, `DROP TRIGGER audit_events_people_delete`, `DROP TRIGGER audit_events_people_update`,
			`DROP TABLE audit_events_people`,
		}
		if st.Dialect() == models.DialectPostgres {
			undo = undoWords
		}
		undo = append(undo, undoPeople...)
		for _, stmt := range undo {
			if err := st.DB(ctx).Exec(stmt).Error; err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		searchtest.Seed(t, st) // written while the table does not exist
		_ = st.Close()
		st = b.Open(t) // migrates again
		s := search.NewSearcher(st)
		checkPeople := func(when string) {
			t.Helper()
			for _, c := range []struct {
				query string
				want  []int64
			}{
				{"actor=u-alice", []int64{4, 3, 1}},
				{"actor=ALICE", []int64{4, 3, 1}},
				{"actor=bob", []int64{9, 8, 6, 5, 2}},
				{"actor=bob&role=acted", []int64{}},
				{"actor=bob&role=sponsor", []int64{9, 8, 6, 5, 2}},
				{"actor=deploy-bot&role=acted", []int64{8, 2}},
				{"actor=bot-deploy&role=requester", []int64{9, 8, 6, 5, 2}},
				{"actor=Dave+Approver&role=acted", []int64{6, 5, 4, 3}},
				{"actor=dave+approver&role=requester", []int64{}},
				{"actor=ERIN+%C3%9Cnal", []int64{9}}, // case folds for ASCII on both engines
				{"actor=key+rotation", []int64{10}},
				{"actor=sub-dave&purpose=INC-4211", []int64{6, 5, 4, 3}},
			} {
				if got := searchSeqs(t, s, c.query); !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s: %s: got %v, want %v", when, c.query, got, c.want)
				}
			}
		}
		checkPeople("after backfill")
		var rows int64
		if err := st.DB(ctx).Raw(`SELECT COUNT(*) FROM audit_events_people`).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		// Each event: id and name of whoever performed it (the system
		// actor has both too); each event of a request: the requester's id
		// and name, and for deploy-bot's requests the sponsor's.
		if want := int64(10*2 + 9*2 + 5*2); rows != want {
			t.Fatalf("audit_events_people has %d rows, want %d", rows, want)
		}

		// Hand edits: a performer renamed, an event removed. Rows follow.
		if err := st.DB(ctx).Exec(`UPDATE audit_events SET actor_display = 'Mallory', actor_id = 'u-mallory' WHERE seq = 3`).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB(ctx).Exec(`DELETE FROM audit_events WHERE seq = 10`).Error; err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			query string
			want  []int64
		}{
			{"actor=mallory", []int64{3}},
			{"actor=dave+approver", []int64{6, 5, 4}},
			{"actor=alice", []int64{4, 3, 1}}, // still alice's request
			{"actor=key+rotation", []int64{}},
		} {
			if got := searchSeqs(t, s, c.query); !reflect.DeepEqual(got, c.want) {
				t.Errorf("after edits: %s: got %v, want %v", c.query, got, c.want)
			}
		}
	})
}

// TestPeopleFollowTransactions: an event's people rows commit and roll
// back with it, and a new event appended through the service is found by
// its request's sponsor at once.
func TestPeopleFollowTransactions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := b.Open(t)
		searchtest.Seed(t, st)
		s := search.NewSearcher(st)
		ctx := context.Background()
		err := st.WithTx(ctx, func(tx *gorm.DB) error {
			if _, err := audit.Append(tx, searchtest.At(11), audit.Entry{Type: "decision.approve", Actor: searchtest.Carol, RequestID: "REQ-R4", Purpose: "p"}); err != nil {
				return err
			}
			return errors.New("the change failed after its audit event")
		})
		if err == nil {
			t.Fatal("want the failing transaction's error")
		}
		if got := searchSeqs(t, s, "actor=carol&role=acted"); !reflect.DeepEqual(got, []int64{7}) {
			t.Fatalf("rolled-back event found: %v", got)
		}
		if err := st.WithTx(ctx, func(tx *gorm.DB) error {
			_, err := audit.Append(tx, searchtest.At(11), audit.Entry{Type: "decision.approve", Actor: searchtest.Carol, RequestID: "REQ-R4", Purpose: "p"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := searchSeqs(t, s, "actor=carol&role=acted"); !reflect.DeepEqual(got, []int64{11, 7}) {
			t.Fatalf("carol acted: %v", got)
		}
		if got := searchSeqs(t, s, "actor=u-bob&role=sponsor"); !reflect.DeepEqual(got, []int64{11, 9, 8, 6, 5, 2}) {
			t.Fatalf("bob sponsors: %v", got)
		}
	})
}

// TestActorSearchAgreesWithBruteForce: on a generated log, actor searches
// (each capacity, with and without words) paged a few hits at a time, and
// streamed whole, return exactly the events a plain reading of every event
// and its request says they should, newest first.
func TestActorSearchAgreesWithBruteForce(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st *models.Store) {
		searchtest.Generate(t, st, 3000)
		type row struct {
			seq                                                        int64
			actorID, actorName, reqID, reqName, sponsorID, sponsorName string
			purpose                                                    string
		}
		var all []row
		rows, err := st.DB(context.Background()).Raw(`SELECT e.seq, e.actor_id, e.actor_display, COALESCE(r.requester_id, ''), COALESCE(r.requester_name, ''),
			COALESCE(r.sponsor_id, ''), COALESCE(r.sponsor_name, ''), e.purpose FROM audit_events e LEFT JOIN requests r ON r.id = e.request_id ORDER BY e.seq DESC`).Rows()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.seq, &r.actorID, &r.actorName, &r.reqID, &r.reqName, &r.sponsorID, &r.sponsorName, &r.purpose); err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		}
		_ = rows.Close()
		is := func(who, id, name string) bool { return who == id || strings.EqualFold(who, name) }
		hasWords := func(purpose string, words []string) bool {
			fields := strings.Fields(strings.ToLower(purpose))
			for _, w := range words {
				found := false
				for _, f := range fields {
					found = found || f == w
				}
				if !found {
					return false
				}
			}
			return true
		}
		actors := searchtest.LargeActors()
		cases := 0
		for i, who := range []string{actors[0], actors[5], "deploy-bot-03", "bot-07", "u-0042", strings.ToUpper(actors[9])} {
			for _, role := range []search.ActorRole{search.RoleAny, search.RoleActed, search.RoleRequester, search.RoleSponsor} {
				for _, words := range [][]string{nil, {searchtest.Verbs[i%len(searchtest.Verbs)]}} {
					var want []int64
					for _, r := range all {
						match := false
						switch role {
						case search.RoleActed:
							match = is(who, r.actorID, r.actorName)
						case search.RoleRequester:
							match = is(who, r.reqID, r.reqName)
						case search.RoleSponsor:
							match = is(who, r.sponsorID, r.sponsorName)
						default:
							match = is(who, r.actorID, r.actorName) || is(who, r.reqID, r.reqName) || is(who, r.sponsorID, r.sponsorName)
						}
						if match && hasWords(r.purpose, words) {
							want = append(want, r.seq)
						}
					}
					q := search.Query{Actor: who, Role: role, Purpose: strings.Join(words, " "), Limit: 7}
					var paged []int64
					for {
						page, err := search.NewSearcher(st).Search(context.Background(), q)
						if err != nil {
							t.Fatal(err)
						}
						for _, h := range page.Hits {
							paged = append(paged, h.Event.Seq)
						}
						if page.Next == 0 {
							break
						}
						q.Before = page.Next
					}
					var streamed []int64
					q.Before = 0
					if err := search.NewSearcher(st).Stream(context.Background(), q, func(h *search.Hit) error {
						streamed = append(streamed, h.Event.Seq)
						return nil
					}); err != nil {
						t.Fatal(err)
					}
					if len(want) > 0 {
						cases++
					}
					if !slices.Equal(paged, want) || !slices.Equal(streamed, want) {
						t.Errorf("actor %q role %q words %v: paged %d %v…, streamed %d, want %d %v…", who, role, words, len(paged), head(paged), len(streamed), len(want), head(want))
					}
				}
			}
		}
		if cases < 20 {
			t.Fatalf("only %d of the cases matched anything; the generated log no longer exercises the search", cases)
		}
	})
}

func head(s []int64) []int64 { return s[:min(len(s), 5)] }

// TestActorAndWordsWithAnyName: a person and purpose words are found
// together whatever the person's name holds — quotes, backslashes, colons,
// a tilde, non-ASCII letters; thousands of characters in a name are stored
// and the events found by the person's id (on PostgreSQL the
// person is a fixed-size token beside the words, migration 0034) — and no
// purpose word, whole or as a prefix, matches a person's token.
func TestActorAndWordsWithAnyName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		st := b.Open(t)
		long := strings.Repeat("very-long-name ", 300)
		names := []string{`O'Brien \ the "second"`, "id:~1 colon:name", "Zoë Ünal", long}
		for i, name := range names {
			actor := models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("u-%d", i), Display: name}
			for j, purpose := range []string{"restart payments now", "rotate ledger keys"} {
				if err := st.WithTx(context.Background(), func(tx *gorm.DB) error {
					_, err := audit.Append(tx, searchtest.At(int64(2*i+j+1)), audit.Entry{Type: "note", Actor: actor, Purpose: purpose})
					return err
				}); err != nil {
					t.Fatalf("append for %q: %v", name[:min(len(name), 20)], err)
				}
			}
		}
		s := search.NewSearcher(st)
		for i, name := range names {
			want := []int64{int64(2*i + 1)}
			whos := []string{fmt.Sprintf("u-%d", i)}
			if len(name) <= 200 { // the longest actor a search takes
				whos = append(whos, name)
			}
			for _, who := range whos {
				q := url.Values{"actor": {who}, "purpose": {"restart payments"}}.Encode()
				if got := searchSeqs(t, s, q); !reflect.DeepEqual(got, want) {
					t.Errorf("actor %.20q with words: got %v, want %v", who, got, want)
				}
				q = url.Values{"actor": {who}, "purpose": {"restart payments"}, "role": {"requester"}}.Encode()
				if got := searchSeqs(t, s, q); len(got) != 0 {
					t.Errorf("actor %.20q as requester with words: got %v, want none", who, got)
				}
			}
		}
		// A word one engine does not index (PostgreSQL drops "½") finds
		// nothing, with or without a person: never the person's every event.
		for _, q := range []url.Values{{"purpose": {"½"}}, {"purpose": {"½"}, "actor": {"u-0"}}, {"purpose": {"½"}, "actor": {names[0]}, "role": {"acted"}}} {
			if got := searchSeqs(t, s, q.Encode()); len(got) != 0 {
				t.Errorf("%s: got %v, want none", q.Encode(), got)
			}
		}
		for _, words := range []string{"1a*", "2b*", "3c*", "10*", "id*", "nm*", "ob*", "zo*", "ve*"} {
			if got := searchSeqs(t, s, url.Values{"purpose": {words}}.Encode()); len(got) != 0 {
				t.Errorf("purpose %q matches %v: a person's token or name is taken for a purpose word", words, got)
			}
		}
		if got := searchSeqs(t, s, url.Values{"purpose": {"re*"}}.Encode()); len(got) != len(names) {
			t.Errorf("purpose re*: %d events, want %d", len(got), len(names))
		}
	})
}
