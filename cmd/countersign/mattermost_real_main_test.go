package main

import (
	"os"
	"testing"

	"github.com/countersign/countersign/web/mattermost/mmreal"
)

// TestMain stops the real Mattermost the tests of this package share
// (mattermost_real_*_test.go) after the last test.
func TestMain(m *testing.M) { os.Exit(mmreal.Main(m)) }
