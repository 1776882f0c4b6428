// Package safeyaml reads YAML that comes from outside the process — the
// policy file, its test cases, the configuration — with goccy/go-yaml,
// turning a panic of the library into an error.
//
// The library is not guaranteed to return an error on every bad input:
// some inputs (the nine bytes "rules: ! " among them) make it dereference
// nil. A policy file is re-read by a watcher goroutine while the server
// runs, where an unrecovered panic ends the process; through this package
// such a file is refused like any other bad edit.
package safeyaml
