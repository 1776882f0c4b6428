package policy

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/countersign/countersign/models/safeyaml"
)

// positions finds where in the file a value sits, so problems found after
// decoding (an unknown role, a CEL type error) still name their line.
type positions struct {
	file string
	ast  *ast.File
	// problems collects what the build finds.
	problems []Problem
}

// node returns the AST node at path ("$.rules[2].require.roles[0]"), or
// the nearest ancestor that exists.
func (ps *positions) node(path string) ast.Node {
	for path != "" && path != "$" {
		if n, err := safeyaml.Find(ps.ast, path); err == nil && n != nil {
			return n
		}
		path = parentPath(path)
	}
	return nil
}

// parentPath drops the last ".key" or "[i]" of a path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i <= 0 {
		return ""
	}
	return path[:i]
}

// line returns the 1-based line and column of the value at path (1, 0
// when nothing is found).
func (ps *positions) line(path string) (int, int) {
	n := ps.node(path)
	if n == nil || n.GetToken() == nil {
		return 1, 0
	}
	p := n.GetToken().Position
	return p.Line, p.Column
}

// addf records a problem at the value at path.
func (ps *positions) addf(path, format string, a ...any) {
	line, col := ps.line(path)
	ps.problems = append(ps.problems, Problem{File: ps.file, Line: line, Column: col, Message: fmt.Sprintf(format, a...)})
}

// addAt records a problem at an explicit line and column.
func (ps *positions) addAt(line, col int, format string, a ...any) {
	ps.problems = append(ps.problems, Problem{File: ps.file, Line: line, Column: col, Message: fmt.Sprintf(format, a...)})
}

// exprStart returns the line of the first character of the expression at
// path: block scalars (| or >) start on the line after their indicator.
func (ps *positions) exprStart(path string) (line, col int) {
	n := ps.node(path)
	if n == nil || n.GetToken() == nil {
		return 1, 0
	}
	p := n.GetToken().Position
	if _, ok := n.(*ast.LiteralNode); ok {
		return p.Line + 1, 0
	}
	return p.Line, p.Column
}
