package listen_test

import (
	"os"
	"testing"

	"github.com/countersign/countersign/web/mattermost/mmreal"
)

// TestMain stops the real Mattermost the listener tests share.
func TestMain(m *testing.M) { os.Exit(mmreal.Main(m)) }
