package main

import (
	"errors"
	"flag"
	"io"
)

// errHelpShown means --help printed the flags; the command did nothing.
var errHelpShown = errors.New("help shown")

// newFlagSet returns a FlagSet that prints its help to w and reports parse
// errors as usage errors instead of exiting.
func newFlagSet(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		_, _ = io.WriteString(w, "Usage: countersign "+name+" "+synopsis+"\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and refuses stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelpShown
		}
		return &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{msg: "unexpected argument " + fs.Arg(0)}
	}
	return nil
}

// wantsHelp reports whether args ask for help anywhere (--help, -h, or
// help as the first word), so every command answers it with exit 0,
// whatever else is missing.
func wantsHelp(args []string) bool {
	for i, a := range args {
		if a == "--help" || a == "-h" || a == "-help" || (i == 0 && a == "help") {
			return true
		}
	}
	return false
}
