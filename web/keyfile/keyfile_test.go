package keyfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/web/keyfile"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.key")
	a, err := keyfile.LoadOrCreate("", path, 32, "test key")
	if err != nil || len(a) != 32 {
		t.Fatalf("create: %x %v", a, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	b, err := keyfile.LoadOrCreate("", path, 32, "test key")
	if err != nil || string(a) != string(b) {
		t.Fatalf("second load gave another key: %v", err)
	}
	c, err := keyfile.LoadOrCreate(strings.Repeat("ab", 32), path, 32, "test key")
	if err != nil || c[0] != 0xab || len(c) != 32 {
		t.Fatalf("configured: %x %v", c, err)
	}
	for _, bad := range []string{"zz", strings.Repeat("ab", 16)} {
		if _, err := keyfile.LoadOrCreate(bad, path, 32, "test key"); err == nil || !strings.Contains(err.Error(), "test key must be at least 32 bytes of hex") {
			t.Errorf("configured %q: %v", bad, err)
		}
	}
	short := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(short, []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keyfile.LoadOrCreate("", short, 32, "test key"); err == nil || !strings.Contains(err.Error(), short) {
		t.Errorf("short file: %v", err)
	}
}
