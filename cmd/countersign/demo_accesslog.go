package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// demoAccessLogFile is where the demo writes one line per HTTP request
// unless --log-requests: the terminal keeps the printed passwords and TOTP
// secrets in view instead of scrolling them away with every page load.
const demoAccessLogFile = "access.log"

// demoAccessLog returns the logger of the demo's per-request lines, the
// place they go (for the banner) and a function that closes what it
// opened. With toTerminal the lines go to log, as serve does; otherwise
// they are appended to DATA/access.log, readable by the owner only (the
// lines hold paths and addresses, never queries or credentials, but the
// directory is the demo's private data). Errors and warnings always stay
// on log, in the terminal.
func demoAccessLog(dataDir, level string, toTerminal bool, log *slog.Logger) (*slog.Logger, string, func() error, error) {
	if toTerminal {
		return log, "", func() error { return nil }, nil
	}
	path := filepath.Join(dataDir, demoAccessLogFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", nil, &startupError{err: fmt.Errorf("demo: access log: %w", err)}
	}
	return newLogger(io.Writer(f), level), path, f.Close, nil
}
