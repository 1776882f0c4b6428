package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/goccy/go-yaml"

	"github.com/countersign/countersign/models/safeyaml"
)

// FileVersion is the policy file format this build reads.
const FileVersion = 1

// ActionWindowOpen is the built-in action of change-window requests. It is
// not in the catalogue; its parameters are checked by CheckWindowParams.
const ActionWindowOpen = "window.open"

// MaxFileSize bounds a policy file.
const MaxFileSize = 4 << 20

var (
	namePattern   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	actionPattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// Load reads and validates the policy file at path. Problems are reported
// as a *LoadError whose lines start with "path:LINE:".
func Load(path string) (*Policy, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, &LoadError{Problems: []Problem{{File: path, Line: 1, Message: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(path, data)
}

// Ref names a policy version: the file's base name and the first 12 hex
// digits of the SHA-256 of its bytes, e.g. "policy.yaml@3f2a9c1b0d4e".
func Ref(file string, data []byte) string {
	sum := sha256.Sum256(data)
	return filepath.Base(file) + "@" + hex.EncodeToString(sum[:])[:12]
}

// Parse validates data as a policy file named file (used in problem
// lines and the Ref). Every condition is compiled and type-checked; the
// programs are kept for evaluation.
func Parse(file string, data []byte) (*Policy, error) {
	if len(data) > MaxFileSize {
		return nil, &LoadError{Problems: []Problem{{File: file, Line: 1, Message: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}}
	}
	f, err := safeyaml.ParseBytes(file, data, 0)
	if err != nil {
		return nil, &LoadError{Problems: []Problem{yamlProblem(file, err)}}
	}
	var doc fileDoc
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &LoadError{Problems: []Problem{{File: file, Line: 1, Message: "the policy file is empty"}}}
	}
	if err := safeyaml.Decode(file, data, &doc, yaml.DisallowUnknownField()); err != nil {
		return nil, &LoadError{Problems: []Problem{yamlProblem(file, err)}}
	}
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("policy: CEL environment: %w", err)
	}
	b := &builder{positions: positions{file: file, ast: f}, env: env}
	p := b.build(&doc)
	if len(b.problems) > 0 {
		sort.SliceStable(b.problems, func(i, j int) bool { return b.problems[i].Line < b.problems[j].Line })
		return nil, &LoadError{Problems: b.problems}
	}
	p.Ref = Ref(file, data)
	return p, nil
}

// builder turns the decoded file into a Policy, collecting problems.
type builder struct {
	positions
	env *cel.Env
}

func (b *builder) build(doc *fileDoc) *Policy {
	p := &Policy{
		byName:  map[string]*Action{},
		byTool:  map[string]string{},
		windows: map[string]Window{},
		roles:   roleMap{idpGroups: map[string][]string{}, mattermostUsers: map[string][]string{}, names: map[string]bool{}},
	}
	if doc.Version != FileVersion {
		b.addf("$.version", "version must be %d (this file says %d)", FileVersion, doc.Version)
	}
	b.roles(p, doc)
	b.windows(p, doc)
	b.actions(p, doc)
	b.rules(p, doc)
	return p
}

func (b *builder) roles(p *Policy, doc *fileDoc) {
	names := make([]string, 0, len(doc.Roles))
	for n := range doc.Roles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		path := "$.roles." + name
		if !namePattern.MatchString(name) {
			b.addf(path, "role name %q must be lower-case letters, digits, '-' or '_', starting with a letter", name)
			continue
		}
		r := doc.Roles[name]
		p.roles.names[name] = true
		for i, g := range r.IdPGroups {
			if strings.TrimSpace(g) == "" {
				b.addf(fmt.Sprintf("%s.idp_groups[%d]", path, i), "empty IdP group")
				continue
			}
			p.roles.idpGroups[g] = appendUnique(p.roles.idpGroups[g], name)
		}
		for i, u := range r.MattermostUsers {
			u = normUser(u)
			if u == "" {
				b.addf(fmt.Sprintf("%s.mattermost_users[%d]", path, i), "empty Mattermost username")
				continue
			}
			p.roles.mattermostUsers[u] = appendUnique(p.roles.mattermostUsers[u], name)
		}
	}
}

func (b *builder) windows(p *Policy, doc *fileDoc) {
	for i, w := range doc.Windows {
		path := fmt.Sprintf("$.windows[%d]", i)
		if !namePattern.MatchString(w.Name) {
			b.addf(path+".name", "window name %q must be lower-case letters, digits, '-' or '_', starting with a letter", w.Name)
			continue
		}
		if _, dup := p.windows[w.Name]; dup {
			b.addf(path+".name", "window %s is declared twice", w.Name)
			continue
		}
		maxD := DefaultWindowMaxDuration
		if w.MaxDuration != "" {
			maxD = b.duration(path+".max_duration", w.MaxDuration, time.Minute, 7*24*time.Hour)
		}
		p.windows[w.Name] = Window{Name: w.Name, Description: w.Description, MaxDuration: maxD}
		p.windowOrder = append(p.windowOrder, w.Name)
	}
}

func (b *builder) actions(p *Policy, doc *fileDoc) {
	for i, fa := range doc.Actions {
		path := fmt.Sprintf("$.actions[%d]", i)
		switch {
		case !actionPattern.MatchString(fa.Name):
			b.addf(path+".name", "action name %q must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter", fa.Name)
			continue
		case fa.Name == ActionWindowOpen:
			b.addf(path+".name", "%s is built in (declare windows under windows:)", ActionWindowOpen)
			continue
		case p.byName[fa.Name] != nil:
			b.addf(path+".name", "action %s is declared twice", fa.Name)
			continue
		}
		a := &Action{
			Name: fa.Name, Description: fa.Description, PurposeRequired: fa.PurposeRequired,
			Executor: fa.Executor, Requesters: slices.Clone(fa.Requesters), MCPTool: fa.MCPTool,
		}
		if fa.MCPTool != "" && p.byTool[fa.MCPTool] != "" {
			b.addf(path+".mcp_tool", "MCP tool %s is already the tool of action %s", fa.MCPTool, p.byTool[fa.MCPTool])
			continue
		}
		for j, r := range fa.Requesters {
			b.knownRole(p, fmt.Sprintf("%s.requesters[%d]", path, j), r)
		}
		for _, fp := range fa.Params {
			a.Params = append(a.Params, Param{
				Name: fp.Name, Type: ParamType(fp.Type), Description: fp.Description, Required: fp.Required,
				Allowed: slices.Clone(fp.Allowed), Pattern: fp.Pattern,
			})
		}
		if err := a.Compile(); err != nil {
			b.addf(b.paramPath(path, a, err), "%v", err)
			continue
		}
		p.actions = append(p.actions, a)
		p.byName[a.Name] = a
		if a.MCPTool != "" {
			p.byTool[a.MCPTool] = a.Name
		}
	}
}

// paramPath points a catalogue error at the parameter it names.
func (b *builder) paramPath(actionPath string, a *Action, err error) string {
	msg := err.Error()
	for j, prm := range a.Params {
		if strings.Contains(msg, "parameter "+prm.Name+":") || strings.Contains(msg, "parameter "+prm.Name+" ") {
			return fmt.Sprintf("%s.params[%d]", actionPath, j)
		}
	}
	return actionPath + ".params"
}

func (b *builder) knownRole(p *Policy, path, role string) {
	if !p.roles.names[role] {
		b.addf(path, "unknown role %q (declare it under roles:)", role)
	}
}

func (b *builder) knownWindow(p *Policy, path, w string) {
	if _, ok := p.windows[w]; !ok {
		b.addf(path, "unknown change window %q (declare it under windows:)", w)
	}
}

func (b *builder) knownAction(p *Policy, path, a string) {
	if a != ActionWindowOpen && p.byName[a] == nil {
		b.addf(path, "unknown action %q (not in the actions catalogue)", a)
	}
}

// duration parses a Go duration within [lo, hi], recording a problem and
// returning 0 when it is not.
func (b *builder) duration(path, s string, lo, hi time.Duration) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		b.addf(path, "%q is not a duration (use e.g. 30s, 5m, 2h)", s)
		return 0
	}
	if d < lo || d > hi {
		b.addf(path, "%s must be between %s and %s", s, lo, hi)
		return 0
	}
	return d
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// normUser is the canonical form of a Mattermost username.
func normUser(u string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(u), "@"))
}
