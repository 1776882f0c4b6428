package search_test

import (
	"testing"

	"github.com/countersign/countersign/models/audit/search"
)

func TestHighlightMarksWhatTheIndexMatches(t *testing.T) {
	cases := []struct {
		name, query, text string
		want              string // matches in [brackets]
	}{
		{"word", "restart", "Restart the API", "[Restart] the API"},
		{"whole words only", "art", "restart art", "restart [art]"},
		{"prefix", "deplo*", "deploy after deployment", "[deploy] after [deployment]"},
		{"phrase in order", `"restart api"`, "api restart; restart  API now", "api restart; [restart  API] now"},
		{"phrase not in order is not marked", `"api restart"`, "restart api", "restart api"},
		{"dashed id is one phrase", "INC-4211", "see INC-4211, not INC 42", "see [INC-4211], not INC 42"},
		{"several terms", "flaky pod", "flaky pod after deploy", "[flaky] [pod] after deploy"},
		{"unicode", "ärger", "Großer Ärger", "Großer [Ärger]"},
		{"no match", "zebra", "flaky pod", "flaky pod"},
		{"markup is text", "script", "<script>x</script>", "<[script]>x</[script]>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			terms, err := search.ParseText(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, s := range search.Highlight(tc.text, terms) {
				if s.Match {
					got += "[" + s.Text + "]"
				} else {
					got += s.Text
				}
			}
			if got != tc.want {
				t.Fatalf("Highlight(%q, %q) = %q, want %q", tc.text, tc.query, got, tc.want)
			}
		})
	}
	if got := search.Highlight("", nil); got != nil {
		t.Fatalf("empty text: %v", got)
	}
	if got := search.Highlight("plain", nil); len(got) != 1 || got[0].Match {
		t.Fatalf("no terms: %v", got)
	}
}
