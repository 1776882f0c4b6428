package demoidptest

import (
	"testing"

	"github.com/countersign/countersign/web/demoidp"
)

// NewProvider makes a demo provider of cfg for a test, with freshly
// generated demo users in place of cfg.Users, and returns it with those
// users by username; it fails t if either cannot be made.
func NewProvider(t testing.TB, cfg demoidp.Config) (*demoidp.Provider, map[string]demoidp.User) {
	t.Helper()
	users, err := demoidp.GenerateUsers()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Users = users
	p, err := demoidp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := make(map[string]demoidp.User, len(users))
	for _, u := range users {
		byName[u.Username] = u
	}
	return p, byName
}
