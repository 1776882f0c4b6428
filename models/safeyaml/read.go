package safeyaml

import (
	"bytes"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ParseBytes is parser.ParseBytes(data, mode); a panic of the parser is
// returned as a *PanicError naming file.
func ParseBytes(file string, data []byte, mode parser.Mode) (*ast.File, error) {
	var f *ast.File
	err := guard(file, data, func(src []byte) error {
		var err error
		f, err = parser.ParseBytes(src, mode)
		return err
	})
	return f, err
}

// Decode decodes the first document of data into v, as
// yaml.NewDecoder(bytes.NewReader(data), opts...).Decode(v) does; a panic
// of the decoder is returned as a *PanicError naming file.
func Decode(file string, data []byte, v any, opts ...yaml.DecodeOption) error {
	return guard(file, data, func(src []byte) error {
		return yaml.NewDecoder(bytes.NewReader(src), opts...).Decode(fresh(v, src, data))
	})
}

// Unmarshal is yaml.UnmarshalWithOptions(data, v, opts...); a panic of the
// decoder is returned as a *PanicError naming file.
func Unmarshal(file string, data []byte, v any, opts ...yaml.DecodeOption) error {
	return guard(file, data, func(src []byte) error {
		return yaml.UnmarshalWithOptions(src, fresh(v, src, data), opts...)
	})
}

// fresh returns v when src is the whole input, and a new value of v's type
// otherwise, so that looking for the failing line leaves v alone.
func fresh(v any, src, data []byte) any {
	if len(src) == len(data) {
		return v
	}
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return v
	}
	return reflect.New(t.Elem()).Interface()
}

// guard runs read on data and turns a panic into a *PanicError. To say
// where, it then looks for the fewest leading lines of data on which read
// still panics.
func guard(file string, data []byte, read func(src []byte) error) error {
	panicked, err := try(read, data)
	if !panicked {
		return err
	}
	return &PanicError{File: file, Line: failingLine(data, read)}
}

// try runs read on src and reports whether it panicked.
func try(read func(src []byte) error, src []byte) (panicked bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
		}
	}()
	return false, read(src)
}

// failingLine returns n such that read panics on the first n lines of
// data, found by bisection (a prefix that fails usually fails when
// longer, but nothing guarantees it, so the answer is only ever a line
// checked to fail). 0 means no prefix was seen to fail, not even the
// whole input on a second try.
func failingLine(data []byte, read func(src []byte) error) int {
	ends := lineEnds(data)
	lo, hi := 1, len(ends)
	if hi == 0 {
		return 0
	}
	if p, _ := try(read, data[:ends[hi-1]]); !p {
		return 0
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if p, _ := try(read, data[:ends[mid-1]]); p {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// lineEnds returns, for each line of data, the offset just after it (after
// its newline, or the end of data for a last line without one).
func lineEnds(data []byte) []int {
	var ends []int
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			ends = append(ends, len(data))
			break
		}
		i += j + 1
		ends = append(ends, i)
	}
	return ends
}

// Find returns the node at path (a YAML path such as "$.rules[2].when") in
// f, as yaml.PathString and Path.FilterFile do; a panic of either is
// returned as a *PanicError without a line.
func Find(f *ast.File, path string) (node ast.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			node, err = nil, &PanicError{}
		}
	}()
	p, err := yaml.PathString(path)
	if err != nil {
		return nil, err
	}
	return p.FilterFile(f)
}
