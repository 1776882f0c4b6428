package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/token"

	"github.com/countersign/countersign/models/safeyaml"
)

// Problem is one thing wrong with a policy file, at a line of it.
type Problem struct {
	File string
	// Line and Column are 1-based; Column is 0 when unknown.
	Line, Column int
	Message      string
}

// String renders the problem as "FILE:LINE: message" (with the column when
// known), the form editors and CI logs link to.
func (p Problem) String() string {
	if p.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
}

// LoadError lists every problem found in a policy file. The file is refused
// as a whole: nothing of it is put in force.
type LoadError struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// AsLoadError returns err's problems when it is a *LoadError.
func AsLoadError(err error) (*LoadError, bool) {
	var le *LoadError
	ok := errors.As(err, &le)
	return le, ok
}

// yamlProblem turns a goccy/go-yaml error into a Problem at its token.
func yamlProblem(file string, err error) Problem {
	var pe *safeyaml.PanicError
	if errors.As(err, &pe) {
		return Problem{File: file, Line: max(pe.Line, 1), Message: pe.Reason()}
	}
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return Problem{File: file, Line: p.Line, Column: p.Column, Message: ye.GetMessage()}
	}
	return Problem{File: file, Line: 1, Message: strings.SplitN(err.Error(), "\n", 2)[0]}
}
