package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/countersign/countersign/"

// layerRules say which of the module's top-level folders a package under
// each folder must not import (docs/ARCHITECTURE.md, "Layers"): imports go
// from the HTTP layer down to the adapters and the domain, never up.
var layerRules = map[string][]string{
	"models":    {"web", "handlers", "templates", "cmd"},
	"web":       {"handlers", "templates", "cmd"},
	"templates": {"models", "web", "handlers", "cmd"},
	"handlers":  {"cmd"},
}

// TestImportsGoDown lists every package of the module with its imports
// (go list -test, so the files of in-package tests count too) and fails
// on each import that goes up a layer.
func TestImportsGoDown(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH, so the imports cannot be listed")
	}
	cmd := exec.Command(goBin, "list", "-test", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	packages := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module)
		packages++
		if strings.HasSuffix(pkg, "_test") {
			// A black-box test package may drive the assembled stack
			// from any layer (a dispatcher test through the real HTTP
			// handlers, say): it ships nothing and no package imports it.
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			if bad := upwardImport(pkg, strings.TrimPrefix(imp, module)); bad != "" {
				t.Errorf("%s imports %s: %s", pkg, imp, bad)
			}
		}
	}
	if packages < 20 {
		t.Fatalf("go list named only %d packages; the check would prove nothing", packages)
	}
}

// upwardImport explains why pkg must not import imp, or returns "".
// Helper packages for tests (storetest, browsertest, …) follow the same
// rules as the rest.
func upwardImport(pkg, imp string) string {
	from, to := topFolder(pkg), topFolder(imp)
	for _, banned := range layerRules[from] {
		if to == banned {
			return from + " is below " + to + " (docs/ARCHITECTURE.md, Layers)"
		}
	}
	return ""
}

func topFolder(path string) string {
	top, _, _ := strings.Cut(path, "/")
	return top
}

// TestUpwardImportIsCaught keeps the rule table honest: the checker must
// refuse the imports the layers forbid and allow the ones they expect.
func TestUpwardImportIsCaught(t *testing.T) {
	for _, tc := range []struct {
		pkg, imp string
		bad      bool
	}{
		{"models/approval", "web/mattermost", true},
		{"models/audit/proof", "handlers", true},
		{"web/mattermost", "handlers", true},
		{"templates/pages", "models", true},
		{"handlers", "cmd/countersign", true},
		{"handlers", "models/approval", false},
		{"web/mattermost", "models", false},
		{"cmd/countersign", "handlers", false},
		{"models/audit/bundle", "models/audit/proof", false},
	} {
		if got := upwardImport(tc.pkg, tc.imp) != ""; got != tc.bad {
			t.Errorf("%s → %s: flagged %v, want %v", tc.pkg, tc.imp, got, tc.bad)
		}
	}
}
