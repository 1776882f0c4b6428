package policy

import (
	"slices"
	"testing"
)

func TestMattermostUsersInRoles(t *testing.T) {
	p := mustLoad(t, "testdata/good.yaml")
	for _, c := range []struct {
		roles []string
		want  []string
	}{
		{[]string{"sre"}, []string{"alice", "bob"}},
		{[]string{"dev", "sre"}, []string{"alice", "bob", "carol"}},
		{[]string{"sre-leads"}, nil}, // a role held only through IdP groups
		{[]string{"nobody"}, nil},
		{nil, nil},
	} {
		if got := p.MattermostUsersInRoles(c.roles); !slices.Equal(got, c.want) {
			t.Errorf("MattermostUsersInRoles(%v) = %v, want %v", c.roles, got, c.want)
		}
	}
	var none *Policy
	if got := none.MattermostUsersInRoles([]string{"sre"}); got != nil {
		t.Errorf("no policy: %v", got)
	}
}
