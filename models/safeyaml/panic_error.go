package safeyaml

import "fmt"

// PanicError reports that the YAML library failed on an input instead of
// returning an error. It says where, as far as that can be told, and never
// carries the panic value or stack: those describe the library, not the
// input, and are no business of whoever reads the message.
type PanicError struct {
	// File names the input in the message ("" for none).
	File string
	// Line is the last line of the shortest leading part of the input on
	// which the library already fails (1-based), or 0 when that could not
	// be told.
	Line int
}

// failed starts every message; the closing parenthesis follows the line.
const failed = "the YAML could not be read (the parser failed on this input"

// Error says the input could not be read and near which line:
// "policy.yaml: the YAML could not be read (the parser failed on this
// input near line 3)".
func (e *PanicError) Error() string {
	msg := failed
	if e.Line > 0 {
		msg += fmt.Sprintf(" near line %d", e.Line)
	}
	msg += ")"
	if e.File == "" {
		return msg
	}
	return e.File + ": " + msg
}

// Reason is the message without the file and line, for reports that print
// those themselves ("FILE:LINE: reason").
func (e *PanicError) Reason() string { return failed + ")" }
