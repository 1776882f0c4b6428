package search_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/storetest"
)

// appendOne writes event i in a transaction of its own, as the server does.
func appendOne(t *testing.T, st *models.Store, i int) {
	t.Helper()
	err := st.WithTx(context.Background(), func(tx *gorm.DB) error {
		_, err := audit.Append(tx, time.Now(), audit.Entry{Type: "note", Actor: models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("u-%d", i%7), Display: fmt.Sprintf("person %d", i%7)},
			Purpose: fmt.Sprintf("INC-%d %s service%d", i, []string{"restart", "rotate", "drain"}[i%3], i%11)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTidierMergesIndexKeepingResults: a log written one event per
// transaction has a many-segment index; Tidy merges it into one, searches
// answer the same before and after, appends made while it runs are all
// found, and FTS5's own integrity check passes.
func TestTidierMergesIndexKeepingResults(t *testing.T) {
	st := storetest.SQLite(t).Open(t)
	for i := range 600 {
		appendOne(t, st, i)
	}
	tidier := search.NewTidier(st, search.TidierConfig{Pages: 4, Pause: time.Millisecond})
	ctx := context.Background()
	before, err := tidier.Segments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before < 3 {
		t.Fatalf("600 single-event transactions left %d index segments; the test needs several", before)
	}
	queries := []string{"purpose=restart+service3", "purpose=drain", "purpose=INC-42", "actor=person+3&purpose=rotate", "purpose=serv*"}
	s := search.NewSearcher(st)
	want := map[string][]int64{}
	for _, q := range queries {
		want[q] = searchSeqs(t, s, q)
		if len(want[q]) == 0 {
			t.Fatalf("%s finds nothing before the merge", q)
		}
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // appends while the merge runs
		defer wg.Done()
		for i := 600; i < 660; i++ {
			appendOne(t, st, i)
		}
	}()
	rep, err := tidier.Tidy(ctx)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d segments, merged in %d steps", rep.Before, rep.Steps)
	if rep.Before != before || rep.Steps == 0 {
		t.Fatalf("report %+v, want Before %d and some steps", rep, before)
	}
	// The appends may have added segments after the last step; another
	// call finishes.
	if rep, err = tidier.Tidy(ctx); err != nil {
		t.Fatal(err)
	}
	if after, _ := tidier.Segments(ctx); after != 1 || rep.After != 1 {
		t.Fatalf("after tidying: %d segments (report %+v), want 1", after, rep)
	}
	for _, q := range queries {
		got := searchSeqs(t, s, q)
		var old []int64
		for _, seq := range got {
			if seq <= 600 {
				old = append(old, seq)
			}
		}
		if !reflect.DeepEqual(old, want[q]) {
			t.Fatalf("%s: after the merge %v, before %v", q, old, want[q])
		}
	}
	if got := searchSeqs(t, s, "purpose=INC-650"); !reflect.DeepEqual(got, []int64{651}) {
		t.Fatalf("event appended during the merge: %v", got)
	}
	if err := st.DB(ctx).Exec(`INSERT INTO audit_search (audit_search, rank) VALUES ('integrity-check', 1)`).Error; err != nil {
		t.Fatalf("FTS integrity check after the merge: %v", err)
	}
	// A tidy index is left alone.
	if rep, err := tidier.Tidy(ctx); err != nil || rep.Steps != 0 {
		t.Fatalf("tidying a one-segment index: %+v %v", rep, err)
	}
}

// TestTidierLeavesPostgreSQLAlone: there is no FTS5 index to merge.
func TestTidierLeavesPostgreSQLAlone(t *testing.T) {
	st := storetest.Postgres(t).Open(t)
	appendOne(t, st, 1)
	rep, err := search.NewTidier(st, search.TidierConfig{}).Tidy(context.Background())
	if err != nil || rep != (search.TidyReport{}) {
		t.Fatalf("tidy on PostgreSQL: %+v %v", rep, err)
	}
}
