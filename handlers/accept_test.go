package handlers

import (
	"net/http/httptest"
	"testing"
)

func TestWantsJSON(t *testing.T) {
	cases := []struct {
		path, accept string
		want         bool
	}{
		{"/api/v1/requests", "", true},
		{"/api", "text/html", true},
		{"/apiary", "", false},
		{"/", "", false},
		{"/", "*/*", false},
		{"/", "application/json", true},
		{"/", "application/json, text/plain, */*", true},
		{"/", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"/", "text/html;q=0.5, application/json", true},
		{"/", "application/json;q=0.1, text/html", false},
		{"/", "application/*", true},
		{"/", "text/*;q=1, application/json;q=0.2", false},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		if got := wantsJSON(req); got != tc.want {
			t.Errorf("wantsJSON(%s, Accept %q) = %v, want %v", tc.path, tc.accept, got, tc.want)
		}
	}
}
