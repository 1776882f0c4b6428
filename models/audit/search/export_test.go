package search_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/models/storetest"
)

// seedHostileCells adds events whose text a spreadsheet would run or a
// naive CSV writer would break.
func seedHostileCells(t *testing.T, st *models.Store) {
	t.Helper()
	err := st.WithTx(context.Background(), func(tx *gorm.DB) error {
		for i, p := range []string{`=HYPERLINK("http://evil.example","click")`, "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "'quoted already", "line one\nline two, \"quoted\"", "ünïcödé ✅"} {
			_, err := audit.Append(tx, searchtest.At(int64(20+i)), audit.Entry{Type: "note", Actor: models.Actor{Type: models.ActorHuman, ID: "=cmd|' /C calc'!A0", Display: "@admin"},
				RequestID: "REQ-R1", Purpose: p + " export", Action: "-restart"})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func exportHits(t *testing.T, s *search.Searcher, q search.Query) []search.Hit {
	t.Helper()
	var hits []search.Hit
	if err := s.Stream(context.Background(), q, func(h *search.Hit) error { hits = append(hits, *h); return nil }); err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestExportRoundTrips(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st *models.Store) {
		searchtest.Seed(t, st)
		seedHostileCells(t, st)
		s := search.NewSearcher(st)
		for _, q := range []search.Query{{}, {Purpose: "export"}, {Actor: "deploy-bot"}, {Verdict: models.VerdictApprove}, {Purpose: "nothing-matches-this"}} {
			want := exportHits(t, s, q)

			// JSON Lines: every line parses back into the same event,
			// which still hashes to its hash.
			var jl bytes.Buffer
			n, err := s.Export(context.Background(), &jl, search.ExportJSONL, q)
			if err != nil || n != int64(len(want)) {
				t.Fatalf("%+v: jsonl export: %d events, %v", q, n, err)
			}
			var got []audit.Event
			sc := bufio.NewScanner(&jl)
			for sc.Scan() {
				var e audit.Event
				if err := e.UnmarshalJSON(sc.Bytes()); err != nil {
					t.Fatalf("jsonl line %q: %v", sc.Text(), err)
				}
				if h := audit.NewHasher().Sum(e.Fields()); string(h) != e.Hash {
					t.Fatalf("exported event %d does not hash to its hash", e.Seq)
				}
				got = append(got, e)
			}
			if len(got) != len(want) {
				t.Fatalf("%+v: %d jsonl lines, want %d", q, len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i].Event) {
					t.Fatalf("jsonl line %d: %+v, want %+v", i, got[i], want[i].Event)
				}
			}

			// CSV: a standard reader gets the header and one row per
			// event; un-protecting the cells gives the values back.
			var cb bytes.Buffer
			if n, err := s.Export(context.Background(), &cb, search.ExportCSV, q); err != nil || n != int64(len(want)) {
				t.Fatalf("%+v: csv export: %d events, %v", q, n, err)
			}
			records, err := csv.NewReader(&cb).ReadAll()
			if err != nil {
				t.Fatalf("csv: %v", err)
			}
			if !reflect.DeepEqual(records[0], search.CSVHeader) || len(records) != len(want)+1 {
				t.Fatalf("csv: header %v, %d rows for %d events", records[0], len(records)-1, len(want))
			}
			for i, rec := range records[1:] {
				for _, c := range rec {
					if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
						t.Fatalf("csv row %d: cell %q would run as a formula", i, c)
					}
				}
				seq, _ := strconv.ParseInt(rec[0], 10, 64)
				at, _ := strconv.ParseInt(rec[1], 10, 64)
				u := func(j int) string { return search.UnCSVCell(rec[j]) }
				e := audit.Event{Seq: seq, AtUnixUS: at, Type: u(2), ActorType: models.ActorType(u(3)), ActorID: u(4), ActorDisplay: u(5), RequestID: u(6),
					Purpose: u(7), Action: u(8), PolicyRef: u(9), Payload: u(10), PrevHash: u(11), Hash: u(12)}
				if !reflect.DeepEqual(e, want[i].Event) {
					t.Fatalf("csv row %d: %+v, want %+v", i, e, want[i].Event)
				}
				if u(14) != string(want[i].Request.State) || u(15) != want[i].Request.ChannelName {
					t.Fatalf("csv row %d: request %q %q, want %+v", i, u(14), u(15), want[i].Request)
				}
			}
		}
	})
}

func TestCSVCellProtectsFormulas(t *testing.T) {
	for in, want := range map[string]string{"": "", "plain": "plain", "=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "\rx": "'\rx", "'x": "''x", "a=b": "a=b"} {
		if got := search.CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
		if back := search.UnCSVCell(search.CSVCell(in)); back != in {
			t.Errorf("round trip of %q gives %q", in, back)
		}
	}
}
