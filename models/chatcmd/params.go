package chatcmd

import (
	"fmt"
	"strings"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
)

// Params turns the command's arguments into the action's typed parameters:
// bare arguments fill the action's required parameters in declaration
// order, key=value arguments name any parameter. A parameter given both
// ways, too many bare arguments, or anything ParseArgs refuses is a
// *models.ValidationError.
func (c *Command) Params(a *policy.Action) (map[string]any, error) {
	args := make(map[string]string, len(c.Args)+len(c.Positional))
	for k, v := range c.Args {
		args[k] = v
	}
	var required []string
	for _, p := range a.Params {
		if p.Required {
			required = append(required, p.Name)
		}
	}
	if len(c.Positional) > len(required) {
		return nil, models.Invalid("params", fmt.Sprintf("%s takes %d bare argument(s) (%s); name the others as key=value: %s",
			a.Name, len(required), strings.Join(required, ", "), a.Usage()))
	}
	for i, v := range c.Positional {
		name := required[i]
		if _, dup := args[name]; dup {
			return nil, models.Invalid("params."+name, "is given twice (bare and as "+name+"=…)")
		}
		args[name] = v
	}
	return a.ParseArgs(args)
}
