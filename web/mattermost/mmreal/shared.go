package mmreal

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// sharedServer is the one server of a test binary. It is package state on
// purpose: tests of one binary share it because a start costs seconds and
// hundreds of megabytes, and Main stops it after the last test.
var sharedServer struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's server, starting it on first use.
// Call Main from TestMain so it is stopped and its database dropped after
// the last test; without Main a watchdog still stops it when the binary
// exits, but its database is left behind.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedServer.once.Do(func() {
		sharedServer.srv, sharedServer.err = start(os.TempDir())
	})
	if err := sharedServer.err; err != nil {
		var ue *unavailableError
		if errors.As(err, &ue) {
			unavailable(t, ue.why)
		}
		t.Fatalf("shared Mattermost did not start: %v", err)
	}
	return sharedServer.srv
}

// Main runs the tests and then stops the shared server if one started:
//
//	func TestMain(m *testing.M) { os.Exit(mmreal.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if s := sharedServer.srv; s != nil {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "mmreal: stopping the shared Mattermost:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}
