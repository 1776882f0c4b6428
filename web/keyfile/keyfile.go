// Package keyfile loads a secret key given in configuration as hex, or
// keeps one in a file of the data directory, creating it at first start.
// Several processes sharing the directory end up with the same key: the
// first to create the file wins and the others read it.
package keyfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadOrCreate returns the key: configured (hex) when set, else the hex
// key in the file at path, else a new random key of size bytes written to
// path (mode 0600). Keys shorter than size are refused; what names the key
// in errors.
func LoadOrCreate(configured, path string, size int, what string) ([]byte, error) {
	if configured != "" {
		return decode(configured, size, what)
	}
	if b, err := os.ReadFile(path); err == nil {
		k, err := decode(string(b), size, what)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	k := make([]byte, size)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate %s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another process created it first: use theirs.
			return LoadOrCreate("", path, size, what)
		}
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	return k, nil
}

func decode(s string, size int, what string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) < size {
		return nil, fmt.Errorf("%s must be at least %d bytes of hex", what, size)
	}
	return k, nil
}
