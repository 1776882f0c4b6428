package search_test

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"testing"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/search"
	"github.com/countersign/countersign/models/audit/search/searchtest"
	"github.com/countersign/countersign/models/storetest"
)

// TestSearchPlansForItsOwnValues: on PostgreSQL a search is always planned
// for its own values, even on connections configured to use one generic
// plan for every run of a prepared statement (plan_cache_mode =
// force_generic_plan, which a server or role may set): run a dozen times
// on one connection, the cached search statements show only custom plans,
// and the searches find what they should.
func TestSearchPlansForItsOwnValues(t *testing.T) {
	b := storetest.Postgres(t)
	writer := b.Open(t)
	u, err := url.Parse(b.DSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("plan_cache_mode", "force_generic_plan")
	u.RawQuery = q.Encode()
	st := storetest.OpenDSN(t, u.String())
	db, err := st.SQL()
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one session: its prepared statements are the ones run
	ctx := context.Background()
	var mode string
	if err := st.DB(ctx).Raw(`SHOW plan_cache_mode`).Scan(&mode).Error; err != nil || mode != "force_generic_plan" {
		t.Fatalf("the connection's plan_cache_mode is %q (%v)", mode, err)
	}
	for i := 1; i <= 20; i++ {
		actor := models.Actor{Type: models.ActorHuman, ID: fmt.Sprintf("u-%d", i%4), Display: fmt.Sprintf("user %d", i%4)}
		purpose := "rotate ledger keys"
		if i%2 == 0 {
			purpose = "restart payments now"
		}
		if err := writer.WithTx(ctx, func(tx *gorm.DB) error {
			_, err := audit.Append(tx, searchtest.At(int64(i)), audit.Entry{Type: "note", Actor: actor, Purpose: purpose})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	s := search.NewSearcher(st)
	for run := 0; run < 12; run++ {
		who := fmt.Sprintf("u-%d", run%4)
		got := searchSeqs(t, s, url.Values{"actor": {who}, "purpose": {"restart payments"}}.Encode())
		var want []int64
		for i := 20; i >= 1; i-- {
			if i%4 == run%4 && i%2 == 0 {
				want = append(want, int64(i))
			}
		}
		if want == nil {
			want = []int64{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s with words: %v, want %v", who, got, want)
		}
		searchSeqs(t, s, url.Values{"purpose": {"rotate"}}.Encode())
	}
	var plans []struct {
		Statement                 string
		GenericPlans, CustomPlans int64
	}
	if err := st.DB(ctx).Raw(`SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%audit_events_words%' AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&plans).Error; err != nil {
		t.Fatal(err)
	}
	var generic, custom int64
	for _, p := range plans {
		generic, custom = generic+p.GenericPlans, custom+p.CustomPlans
	}
	if len(plans) == 0 || generic != 0 || custom < 24 {
		t.Fatalf("%d cached search statements, %d generic and %d custom plans: want only custom plans, at least 24", len(plans), generic, custom)
	}
}
