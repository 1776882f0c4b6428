package listen_test

import (
	"testing"

	"github.com/countersign/countersign/web/mattermost/listen"
)

func TestMentionText(t *testing.T) {
	for _, tc := range []struct {
		msg, want string
		ok        bool
	}{
		{"@countersign restart api env=prod -- OOM", "restart api env=prod -- OOM", true},
		{"  @Countersign: help", "help", true},
		{"@countersign, status REQ-0000000001", "status REQ-0000000001", true},
		{"@countersign\nrestart api", "restart api", true},
		{"@countersign", "", true},
		{"@countersign-dev restart api", "", false},
		{"@countersign_bot restart", "", false},
		{"@countersign.old restart", "", false},
		{"@countersignx restart", "", false},
		{"please ask @countersign restart api", "", false},
		{"countersign restart api", "", false},
		{"@counter restart", "", false},
		{"", "", false},
		{"@countersignü", "", false},
	} {
		got, ok := listen.MentionText(tc.msg, "countersign")
		if got != tc.want || ok != tc.ok {
			t.Errorf("MentionText(%q) = %q, %v; want %q, %v", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := listen.MentionText("@ restart", ""); ok {
		t.Error("an empty bot name matched")
	}
}
