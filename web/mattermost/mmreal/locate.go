package mmreal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// RequireEnv makes a missing server fail the test instead of skipping it.
const RequireEnv = "COUNTERSIGN_TEST_REQUIRE_MATTERMOST"

// PostgresAdminURL is the PostgreSQL server every test server gets a
// database of its own on (user postgres, trust authentication), as on the
// development machine and in CI.
const PostgresAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// required reports whether a missing server is a failure: the variable
// above, or CI=true.
func required() bool {
	return os.Getenv(RequireEnv) == "1" || os.Getenv("CI") == "true"
}

// unavailable skips t with why, or fails it when the server is required.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if required() {
		t.Fatalf("real Mattermost required (%s or CI=true) but unavailable: %s", RequireEnv, why)
	}
	t.Skipf("real Mattermost unavailable, skipping (set %s=1 to make this a failure): %s", RequireEnv, why)
}

// StartScript returns the path of ../shared/mattermost/start, found from
// the working directory: up to the directory holding go.mod (the
// repository root), then ../shared/mattermost.
func StartScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("mmreal: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
	script := filepath.Join(filepath.Dir(dir), "shared", "mattermost", "start")
	fi, err := os.Stat(script)
	if err != nil {
		return "", fmt.Errorf("no start script at %s", script)
	}
	if fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not executable", script)
	}
	return script, nil
}
